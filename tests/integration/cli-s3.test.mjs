// `vodup s3 cp` (libvodup's S3 dialect) against a vodupd it starts, which speaks S3 (docs/s3.md):
// a multipart-size file copied and read back byte for byte; a copy killed with SIGKILL midway
// and run again goes on from its resume journal, sending less than the whole file (counted
// from vodupd's log: the in= of its UploadPart lines), and the object is the file; the same
// run without the journal (record dir removed) sends the whole file again, which shows that
// the count tells a resumed run from one that is not; temporary keys (an UploadAuth) go
// through AWS_SESSION_TOKEN and write only their object; bad usage exits 2.
//
// Environment (CTest): VODUPD, VODUP_BUILD_DIR, VODUP_TEST_TMP, VODUP_SANITIZE.

import { describe, it, before, after } from 'node:test';
import RPCClient from '@alicloud/pop-core';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import path from 'node:path';
import fs from 'node:fs';
import { startVodupd, withLogs, makeTmpDir, SLOW, randomFile, md5File, md5, waitFor } from '../compat/lib/vodupd.mjs';
import { cliPath, cliEnv, runCli, runCliAsync, show, jsonLines } from './cli-lib.mjs';

const MiB = 1024 * 1024;
const T = { timeout: 300000 * SLOW };
const BUCKET = 's3cli';

/** The CLI's environment for S3: no VODUP_* keys, the root key as the AWS tools take it. */
function s3Env(srv, home) {
  return cliEnv(null, home, {
    AWS_ACCESS_KEY_ID: srv.creds.AccessKeyId,
    AWS_SECRET_ACCESS_KEY: srv.creds.AccessKeySecret,
    AWS_SESSION_TOKEN: '',
  });
}

/** UploadPart lines vodupd logged from byte offset `from` of its stderr: count and bytes in. */
function partsLogged(srv, from) {
  let n = 0, bytes = 0;
  for (const l of srv.stderr().slice(from).split('\n')) {
    const m = / 200 UploadPart in=(\d+) /.exec(l);
    if (m) { n++; bytes += Number(m[1]); }
  }
  return { n, bytes };
}

/** Runs a copy that should succeed; resolves once vodupd logged its Complete (the log is read
 * while the CLI runs, so nothing of it is missed). */
async function copy(srv, args, env) {
  const from = srv.stderr().length;
  const r = await runCliAsync(args, env);
  assert.equal(r.code, 0, show(r));
  await waitFor(() => / 200 CompleteMultipartUpload /.test(srv.stderr().slice(from)),
    { timeout: 10000 * SLOW, what: 'the Complete in the log' });
  return { r, sent: partsLogged(srv, from) };
}

async function stored(srv, key) {
  const got = await srv.client({ bucket: BUCKET }).get(key);
  return md5(got.content);
}

/** Starts a copy, waits until vodupd stored `parts` of its parts, kills it with SIGKILL. */
async function copyAndKill(srv, args, env, parts) {
  const from = srv.stderr().length;
  const child = spawn(cliPath(), args, { env, stdio: ['ignore', 'ignore', 'pipe'] });
  let err = '';
  child.stderr.on('data', d => { err += d; });
  const done = new Promise(r => child.on('close', (code, signal) => r({ code, signal })));
  await waitFor(() => partsLogged(srv, from).n >= parts, { timeout: 60000 * SLOW, what: `${parts} parts stored` });
  child.kill('SIGKILL');
  const r = await done;
  assert.equal(r.signal, 'SIGKILL', `the copy ended before the kill (exit ${r.code}): ${err}`);
}

describe('vodup s3 cp', () => {
  let srv, dir;
  before(async () => {
    srv = await startVodupd();
    dir = makeTmpDir('cli-s3-');
    await srv.client().putBucket(BUCKET);
  });
  after(async () => { if (srv) await srv.stop(); });

  it('copies a multipart-size file; the bytes read back are the file', T, withLogs(async () => {
    const size = 12 * MiB + 12345;
    const f = await randomFile(dir, size, 'clip.mp4');
    const { r, sent } = await copy(srv, ['s3', 'cp', f, `s3://${BUCKET}/videos/`, '--endpoint', srv.endpoint,
      '--json', '--record-dir', path.join(dir, 'rec-a')], s3Env(srv, dir));
    const [o] = jsonLines(r.stdout);
    assert.equal(o.Status, 'UploadSucc', JSON.stringify(o));
    assert.equal(o.Object, 'videos/clip.mp4');
    assert.equal(o.Bucket, BUCKET);
    // S3 parts: 5 MiB at least, so three here (5, 5, 2 MiB and a bit), each signed with SigV4.
    assert.equal(sent.n, 3, JSON.stringify(sent));
    assert.equal(sent.bytes, size);
    assert.equal(await stored(srv, 'videos/clip.mp4'), await md5File(f));
  }));

  it('resumes after SIGKILL from its journal, sending less than the file; without it, all of it', T,
    withLogs(async () => {
      const size = 40 * MiB;
      const f = await randomFile(dir, size, 'killed.mp4');
      const rec = path.join(dir, 'rec-kill');
      const args = ['s3', 'cp', f, `s3://${BUCKET}/killed.mp4`, '--endpoint', srv.endpoint, '--json',
        '--record-dir', rec, '--parallel', '2', '--limit-rate', '8M'];
      const env = s3Env(srv, dir);

      await copyAndKill(srv, args, env, 3);
      const unthrottled = a => a.filter(x => x !== '--limit-rate' && x !== '8M');
      const { r, sent: resumed } = await copy(srv, unthrottled(args), env);
      const [o] = jsonLines(r.stdout);
      assert.equal(o.Status, 'UploadSucc', JSON.stringify(o));
      assert.ok(resumed.bytes > 0 && resumed.bytes <= size - 3 * 5 * MiB,
        `the re-run sent ${resumed.bytes} of ${size} bytes: it did not resume from the journal`);
      assert.equal(await stored(srv, 'killed.mp4'), await md5File(f));

      // The control: the same kill, then the record dir gone, so nothing to resume from.
      const args2 = args.map(a => (a === `s3://${BUCKET}/killed.mp4` ? `s3://${BUCKET}/killed-2.mp4` : a));
      await copyAndKill(srv, args2, env, 3);
      fs.rmSync(rec, { recursive: true, force: true });
      const again = await copy(srv, unthrottled(args2), env);
      assert.equal(again.sent.bytes, size, 'without its journal the re-run sends the whole file');
      assert.equal(await stored(srv, 'killed-2.mp4'), await md5File(f));
    }));

  it('uploads with temporary keys (an UploadAuth through AWS_SESSION_TOKEN), to their one object only', T,
    withLogs(async () => {
      const vod = new RPCClient({ endpoint: srv.endpoint, apiVersion: '2017-03-21',
        accessKeyId: srv.creds.AccessKeyId, accessKeySecret: srv.creds.AccessKeySecret });
      const c = await vod.request('CreateUploadVideo', { Title: 's3-token', FileName: 'token.mp4' }, { method: 'POST' });
      const addr = JSON.parse(Buffer.from(c.UploadAddress, 'base64').toString());
      const auth = JSON.parse(Buffer.from(c.UploadAuth, 'base64').toString());
      assert.ok(auth.SecurityToken, 'an UploadAuth carries a token');
      const env = cliEnv(null, dir, {
        AWS_ACCESS_KEY_ID: auth.AccessKeyId, AWS_SECRET_ACCESS_KEY: auth.AccessKeySecret,
        AWS_SESSION_TOKEN: auth.SecurityToken,
      });
      const f = await randomFile(dir, 6 * MiB + 1, 'token.mp4');
      const rec = path.join(dir, 'rec-token');
      const ok = await runCliAsync(['s3', 'cp', f, `s3://${addr.Bucket}/${addr.FileName}`, '--endpoint', srv.endpoint,
        '--json', '--record-dir', rec], env);
      assert.equal(ok.code, 0, show(ok));
      assert.equal(jsonLines(ok.stdout)[0].Status, 'UploadSucc', ok.stdout);
      const got = await srv.client({ bucket: addr.Bucket }).get(addr.FileName);
      assert.equal(md5(got.content), await md5File(f));
      // Another key with the same keys: refused (403), and the CLI says so (exit 1).
      const bad = await runCliAsync(['s3', 'cp', f, `s3://${addr.Bucket}/other.mp4`, '--endpoint', srv.endpoint,
        '--json', '--record-dir', rec], env);
      assert.equal(bad.code, 1, show(bad));
      assert.match(jsonLines(bad.stdout)[0].Error, /403/, bad.stdout);
    }));

  it('says what is missing: exit 2 without --endpoint, keys or a destination', T, () => {
    const f = path.join(dir, 'clip.mp4');
    let r = runCli(['s3', 'cp', f, `s3://${BUCKET}/k`], s3Env(srv, dir));
    assert.equal(r.code, 2, show(r));
    assert.match(r.stderr, /--endpoint/);
    r = runCli(['s3', 'cp', f, `s3://${BUCKET}/k`, '--endpoint', srv.endpoint], cliEnv(null, dir));
    assert.equal(r.code, 2, show(r));
    assert.match(r.stderr, /AWS_ACCESS_KEY_ID/);
    r = runCli(['s3', 'cp', f, '--endpoint', srv.endpoint], s3Env(srv, dir));
    assert.equal(r.code, 2, show(r));
    assert.match(r.stderr, /s3:\/\/BUCKET\/KEY/);
    r = runCli(['s3', 'cp', '--help'], cliEnv(null, dir));
    assert.equal(r.code, 0, show(r));
    assert.match(r.stdout, /AWS_SESSION_TOKEN/);
  });
});
