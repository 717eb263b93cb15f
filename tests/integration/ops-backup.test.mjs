// `vodupd backup --data-dir D --to DIR` while vodupd serves D under a stream of uploads,
// overwrites and deletes (so that blobs are freed and collected while the backup runs): the
// backup checks clean (`vodupd check`), and restored (served) it has every object
// acknowledged before the backup began, each with the content of one of its acknowledged
// versions. docs/operating.md, "Back up and restore".

import { describe, it, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import {
  startVodupd, cleanupTmpDirs, makeTmpDir, withLogs, SLOW, randomBuf, md5, vodupdPath, xmlTag, xmlTags, etagOf, md5b64,
} from '../compat/lib/vodupd.mjs';

const KiB = 1024;
const bucket = 'backup';

after(() => cleanupTmpDirs());

/** `vodupd args...` asynchronously (the server keeps serving meanwhile). */
function vodupdAsync(args) {
  return new Promise(resolve => {
    const c = spawn(vodupdPath(), args, { stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '', err = '';
    c.stdout.on('data', d => { out += d; });
    c.stderr.on('data', d => { err += d; });
    c.on('exit', status => resolve({ status, out, err }));
  });
}

describe('vodupd backup', { timeout: 300000 * SLOW }, () => {
  it('taken during uploads, it checks clean and restores every acknowledged object', withLogs(async () => {
    const srv = await startVodupd();
    const req = opts => srv.request({ bucket, ...opts });
    assert.equal((await req({ method: 'PUT' })).status, 200);
    const versions = new Map(); // key -> Set of md5 of every acknowledged version
    const ack = (key, buf) => { if (!versions.has(key)) versions.set(key, new Set()); versions.get(key).add(md5(buf)); };

    async function put(key, size) {
      const body = randomBuf(size);
      const r = await req({ method: 'PUT', key, body });
      assert.equal(r.status, 200, r.text);
      ack(key, body);
    }
    async function multipart(key) {
      const parts = [randomBuf(100 * KiB), randomBuf(7 * KiB)];
      const init = await req({ method: 'POST', key, query: { uploads: '' } });
      const uploadId = xmlTag(init.text, 'UploadId');
      for (let i = 0; i < parts.length; i++) {
        const p = await req({ method: 'PUT', key, query: [['partNumber', String(i + 1)], ['uploadId', uploadId]], body: parts[i], headers: { 'content-md5': md5b64(parts[i]) } });
        assert.equal(p.status, 200, p.text);
      }
      const xml = `<CompleteMultipartUpload>${parts.map((p, i) => `<Part><PartNumber>${i + 1}</PartNumber><ETag>${etagOf(p)}</ETag></Part>`).join('')}</CompleteMultipartUpload>`;
      const c = await req({ method: 'POST', key, query: { uploadId }, body: Buffer.from(xml) });
      assert.equal(c.status, 200, c.text);
      ack(key, Buffer.concat(parts));
    }

    // what exists before the backup starts
    for (let i = 0; i < 20; i++) await put(`before/${i}`, 3 * KiB + i);
    await multipart('before/mp');
    const before = new Map([...versions].map(([k, v]) => [k, new Set(v)]));

    // and a stream of writes, overwrites and deletes during it
    let stop = false, n = 0;
    const churn = (async () => {
      while (!stop) {
        const i = n++;
        await put(`during/${i % 15}`, 2 * KiB + (i % 7));          // overwrites free blobs
        await put(`before/${i % 20}`, 3 * KiB + (i % 5));          // so do these
        if (i % 4 === 0) await multipart(`during/mp${i % 3}`);
        if (i % 5 === 0) {
          const d = await req({ method: 'DELETE', key: `during/${(i + 7) % 15}` });
          assert.equal(d.status, 204);
          // The key may or may not be in the backup, with any version acknowledged before
          // (so its history stays in versions).
        }
      }
    })();
    await new Promise(r => setTimeout(r, 300));
    const to = path.join(makeTmpDir('backup-'), 'copy');
    const b = await vodupdAsync(['backup', '--data-dir', srv.dataDir, '--to', to]);
    await new Promise(r => setTimeout(r, 300));
    stop = true;
    await churn;
    assert.equal(b.status, 0, b.err);
    const report = JSON.parse(b.out);
    assert.equal(report.Backup, to);
    assert.ok(report.Blobs >= 21, JSON.stringify(report));
    assert.ok(n > 3, `only ${n} rounds of writes ran during the backup`);

    // the backup is a clean data directory, also checked deeply (content against metadata)
    const ck = spawnSync(vodupdPath(), ['check', '--deep', '--data-dir', to], { encoding: 'utf8', timeout: 120000 * SLOW });
    assert.equal(ck.status, 0, `${ck.stdout}${ck.stderr}`);
    assert.match(ck.stdout + ck.stderr, /0 problem\(s\)/);
    await srv.stop();

    // restore: serve the backup with the same root key
    const restored = await startVodupd({ dataDir: to, creds: srv.creds });
    try {
      const list = await restored.request({ bucket, query: { 'max-keys': '1000' } });
      assert.equal(list.status, 200);
      const keys = xmlTags(list.text, 'Key');
      for (const k of before.keys()) assert.ok(keys.includes(k), `${k} was acknowledged before the backup and is missing`);
      for (const k of keys) {
        const g = await restored.request({ bucket, key: k });
        assert.equal(g.status, 200, k);
        const seen = versions.get(k) ?? new Set();
        assert.ok(seen.has(md5(g.body)), `${k}: restored content is none of its acknowledged versions`);
      }
    } finally {
      await restored.stop(); // also when an assertion failed: a running child would keep the test alive
    }
    // the backup directory refuses a second backup into it
    const again = spawnSync(vodupdPath(), ['backup', '--data-dir', to, '--to', to], { encoding: 'utf8' });
    assert.equal(again.status, 1);
    assert.match(again.stderr, /exists/);
  }));
});
