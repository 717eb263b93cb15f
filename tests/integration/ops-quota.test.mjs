// Per-account storage quotas beside a serving vodupd (issue 12): --storage-quota as the
// default, a write that would pass it refused with 403 QuotaExceeded through OSS and S3
// without leaving the object behind, `vodupd quota show` reporting the bytes in use,
// DeleteObject giving the space back, and `vodupd quota set` changing the account's own
// limit (a number, none, default) for the very next write.

import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import http from 'node:http';
import { startVodupd, withLogs, SLOW, randomBuf, randomHex, cleanupTmpDirs, vodupdPath } from '../compat/lib/vodupd.mjs';
import { stopServer, cli } from '../compat/lib/vod.mjs';
import { signV4 } from '../compat/lib/sigv4.mjs';

const KiB = 1024;
const LIMIT = 1024 * KiB; // --storage-quota 1M
const SIZE = 600 * KiB;
let srv, oss, bucket;

/** A path-style S3 PUT signed with SigV4 by the tests' own signer: {status, body}. */
function s3Put(key, body) {
  const pathname = `/${bucket}/${key}`;
  const h = signV4({ port: srv.port, method: 'PUT', pathname, headers: { 'content-length': String(body.length) }, body,
    creds: srv.creds });
  return new Promise((resolve, reject) => {
    const req = http.request({ host: '127.0.0.1', port: srv.port, method: 'PUT', path: pathname, headers: h, agent: false },
      res => {
        const chunks = [];
        res.on('data', c => chunks.push(c));
        res.on('end', () => resolve({ status: res.statusCode, body: Buffer.concat(chunks).toString('utf8') }));
      });
    req.on('error', reject);
    req.end(body);
  });
}

async function ossRefused(key) {
  await assert.rejects(oss.put(key, randomBuf(SIZE)), err => {
    assert.equal(err.status, 403, `expected 403, got ${err.status} ${err.code}`);
    assert.equal(err.code, 'QuotaExceeded');
    return true;
  }, 'the PUT over the quota succeeded');
}

async function absent(key) {
  await assert.rejects(oss.head(key), err => { assert.equal(err.status, 404); return true; }, `${key} exists`);
}

/** `vodupd quota args...` expected to fail: its status and stderr. */
function quotaFails(...args) {
  const r = spawnSync(vodupdPath(), ['quota', ...args, '--data-dir', srv.dataDir], { encoding: 'utf8', timeout: 60000 * SLOW });
  assert.notEqual(r.status, 0, `vodupd quota ${args.join(' ')} succeeded: ${r.stdout}`);
  return { status: r.status, err: r.stderr };
}

const show = (...extra) => cli(srv.dataDir, 'quota', 'show', ...extra);

before(async () => {
  srv = await startVodupd({ extraArgs: ['--storage-quota', '1M'] });
  bucket = `quota-${randomHex(4)}`;
  await srv.client().putBucket(bucket);
  oss = srv.client({ bucket });
});
after(async () => {
  if (srv) await stopServer(srv);
  cleanupTmpDirs();
});

describe('vodupd quota', { timeout: 120000 * SLOW }, () => {
  it('refuses a write over the default quota through OSS and S3, gives space back on delete, and follows quota set', withLogs(async () => {
    const before = show('--storage-quota', '1M');
    assert.equal(before.UsedBytes, 0);
    assert.equal(before.Quota, `default (${LIMIT})`);
    const account = before.AccountId;

    await oss.put('first', randomBuf(SIZE));
    assert.equal(show().UsedBytes, SIZE);

    await ossRefused('second');
    await absent('second');
    const s3 = await s3Put('second', randomBuf(SIZE));
    assert.equal(s3.status, 403, s3.body);
    assert.match(s3.body, /<Code>QuotaExceeded<\/Code>/);
    await absent('second');
    assert.equal(show().UsedBytes, SIZE, 'a refused write counted');

    // deleting gives the space back
    await oss.delete('first');
    assert.equal(show().UsedBytes, 0);
    assert.equal((await s3Put('second', randomBuf(SIZE))).status, 200);
    assert.equal(show(account).UsedBytes, SIZE);
    await ossRefused('third');

    // the account's own limit wins over the default, from the next write on
    const raised = cli(srv.dataDir, 'quota', 'set', account, '1500K');
    assert.deepEqual(raised, { AccountId: account, UsedBytes: SIZE, Quota: 1500 * KiB });
    await oss.put('third', randomBuf(SIZE));
    await ossRefused('fourth');
    await absent('fourth');

    // none lifts the limit whatever the default is; default brings the default back
    assert.equal(cli(srv.dataDir, 'quota', 'set', account, 'none').Quota, 'none');
    await oss.put('fourth', randomBuf(SIZE));
    assert.equal(show().UsedBytes, 3 * SIZE);
    assert.equal(cli(srv.dataDir, 'quota', 'set', account, 'default').Quota, 'default (none)');
    await ossRefused('fifth');
    await absent('fifth');
  }));

  it('quota show names the default from the environment (as from the configuration), the flag winning', () => {
    const run = (...args) => spawnSync(vodupdPath(), ['quota', 'show', ...args, '--data-dir', srv.dataDir],
      { encoding: 'utf8', timeout: 60000 * SLOW, env: { ...process.env, VODUPD_STORAGE_QUOTA: '3M' } });
    assert.equal(JSON.parse(run().stdout).Quota, `default (${3 * LIMIT})`);
    assert.equal(JSON.parse(run('--storage-quota', '4M').stdout).Quota, `default (${4 * LIMIT})`);
  });

  it('says what is wrong with a bad account or limit', () => {
    assert.match(quotaFails('set', 'nosuchaccount', '1G').err, /no account 'nosuchaccount'/);
    assert.match(quotaFails('set', show().AccountId, 'lots').err, /BYTES, a SIZE/);
    assert.match(quotaFails('frob').err, /unknown verb 'frob'/);
  });
});
