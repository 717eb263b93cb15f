// `vodupd check`: finds what makes the metadata and the blob files disagree (a missing,
// resized or extra blob, a leftover temporary file, with --deep changed content), exits
// non-zero on any, 0 on a healthy data directory, and reads only: it runs beside a serving
// vodupd and leaves a stopped one's directory as it found it.

import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import {
  startVodupd, restart, cleanupTmpDirs, withLogs, SLOW, randomBuf, randomHex, md5b64, etagOf, signedRequest,
  xmlTag, listFilesRecursive, vodupdPath,
} from '../compat/lib/vodupd.mjs';

const KiB = 1024;
let srv;
let dataDir;
const bucket = `check-${randomHex(4)}`;
const blobOf = {}; // key -> path of its (first) blob file

const req = opts => signedRequest({ port: srv.port, creds: srv.creds, bucket, ...opts });
const blobs = () => listFilesRecursive(path.join(dataDir, 'objects'));

function check(...args) {
  const r = spawnSync(vodupdPath(), ['check', '--data-dir', dataDir, ...args], { encoding: 'utf8', timeout: 60000 * SLOW });
  return { status: r.status, out: `${r.stdout}${r.stderr}` };
}

/** Runs fn and returns the one blob file it created. */
async function newBlob(fn) {
  const before = new Set(blobs());
  await fn();
  const added = blobs().filter(f => !before.has(f));
  assert.equal(added.length, 1, `expected one new blob file, got ${added}`);
  return added[0];
}

describe('vodupd check', { timeout: 120000 * SLOW }, () => {
  before(async () => {
    srv = await startVodupd();
    dataDir = srv.dataDir;
    assert.equal((await req({ method: 'PUT' })).status, 200);
    for (const key of ['a.bin', 'b.bin', 'dir/c d.bin']) {
      const body = randomBuf(10 * KiB + key.length);
      blobOf[key] = await newBlob(async () => assert.equal((await req({ method: 'PUT', key, body })).status, 200));
    }
    // a finished multipart object and an unfinished upload with one part
    const parts = [randomBuf(100 * KiB), randomBuf(3 * KiB)];
    for (const [key, complete] of [['mp.bin', true], ['open.bin', false]]) {
      const init = await req({ method: 'POST', key, query: { uploads: '' } });
      const uploadId = xmlTag(init.text, 'UploadId');
      const n = complete ? 2 : 1;
      for (let i = 1; i <= n; i++) {
        const p = await req({ method: 'PUT', key, query: [['partNumber', String(i)], ['uploadId', uploadId]], body: parts[i - 1], headers: { 'content-md5': md5b64(parts[i - 1]) } });
        assert.equal(p.status, 200, p.text);
      }
      if (complete) {
        const xml = `<CompleteMultipartUpload>${[1, 2].map(i => `<Part><PartNumber>${i}</PartNumber><ETag>${etagOf(parts[i - 1])}</ETag></Part>`).join('')}</CompleteMultipartUpload>`;
        const c = await req({ method: 'POST', key, query: { uploadId }, body: Buffer.from(xml) });
        assert.equal(c.status, 200, c.text);
      }
    }
  });

  after(async () => {
    if (srv && srv.running) await srv.stop();
    cleanupTmpDirs();
  });

  it('passes a healthy data directory, while vodupd serves and after it stopped, and reads only', withLogs(async () => {
    let c = check('--deep');
    assert.equal(c.status, 0, c.out);
    assert.match(c.out, /\(vodupd is serving\) 4 object\(s\), 1 upload part\(s\), 6 blob file\(s\): 0 problem\(s\)/, c.out);
    await srv.stop();
    const listing = () => fs.readdirSync(dataDir).sort().map(n => `${n}:${fs.statSync(path.join(dataDir, n)).mtimeMs}`);
    const before = listing();
    c = check('--deep');
    assert.equal(c.status, 0, c.out);
    assert.match(c.out, /4 object\(s\), 1 upload part\(s\), 6 blob file\(s\): 0 problem\(s\), 0 note\(s\)/, c.out);
    assert.deepEqual(listing(), before, 'check must not create or touch files in the data directory');
    srv = await restart(srv);
  }));

  it('finds a deleted blob file, naming its object (while vodupd serves)', withLogs(async () => {
    const f = blobOf['dir/c d.bin'];
    const saved = fs.readFileSync(f);
    fs.unlinkSync(f);
    try {
      const c = check();
      assert.equal(c.status, 1, c.out);
      assert.match(c.out, new RegExp(`problem: blob ${path.basename(f)} of ${bucket}/dir/c d\\.bin is missing`), c.out);
      assert.match(c.out, /: 1 problem\(s\)/, c.out);
    } finally {
      fs.writeFileSync(f, saved);
    }
    assert.equal(check().status, 0);
  }));

  it('finds an extra blob file and a leftover temporary file (vodupd stopped)', withLogs(async () => {
    await srv.stop();
    const id = `ab${randomHex(15)}`;
    const extra = path.join(dataDir, 'objects', 'ab', id);
    fs.mkdirSync(path.dirname(extra), { recursive: true });
    fs.writeFileSync(extra, 'stray bytes');
    const tmp = path.join(dataDir, 'tmp', randomHex(16));
    fs.writeFileSync(tmp, 'half an upload');
    const c = check();
    assert.equal(c.status, 1, c.out);
    assert.match(c.out, new RegExp(`problem: blob file objects/ab/${id} \\(11 bytes\\) is not referenced`), c.out);
    assert.match(c.out, new RegExp(`problem: tmp/${path.basename(tmp)} is a leftover temporary file`), c.out);
    assert.match(c.out, /: 2 problem\(s\)/, c.out);
    // vodupd's own start-up recovery removes both; then the check passes again
    srv = await restart(srv);
    assert.ok(!fs.existsSync(extra) && !fs.existsSync(tmp));
    assert.equal(check().status, 0);
  }));

  it('finds a blob of another size, and with --deep one whose bytes changed', withLogs(async () => {
    const f = blobOf['a.bin'];
    const saved = fs.readFileSync(f);
    try {
      const flipped = Buffer.from(saved);
      flipped[100] ^= 0xff;
      fs.writeFileSync(f, flipped);
      let c = check();
      assert.equal(c.status, 0, `same size: only --deep can tell\n${c.out}`);
      c = check('--deep');
      assert.equal(c.status, 1, c.out);
      assert.match(c.out, new RegExp(`problem: object ${bucket}/a\\.bin: its content's CRC-64 is \\d+, the recorded one \\d+`), c.out);
      assert.match(c.out, new RegExp(`problem: object ${bucket}/a\\.bin: its content's MD5 is [0-9A-F]{32}, the recorded one [0-9A-F]{32}`), c.out);

      fs.writeFileSync(f, saved.subarray(1));
      c = check();
      assert.equal(c.status, 1, c.out);
      assert.match(c.out, new RegExp(`problem: blob ${path.basename(f)} of ${bucket}/a\\.bin has ${saved.length - 1} bytes, the metadata says ${saved.length}`), c.out);
    } finally {
      fs.writeFileSync(f, saved);
    }
    assert.equal(check('--deep').status, 0);
  }));

  it('says how it is used, and refuses a directory that is not vodupd\'s', () => {
    const h = spawnSync(vodupdPath(), ['check', '--help'], { encoding: 'utf8' });
    assert.equal(h.status, 0);
    assert.match(h.stdout, /--deep/);
    const bad = spawnSync(vodupdPath(), ['check', '--data-dir', path.join(dataDir, 'objects')], { encoding: 'utf8' });
    assert.equal(bad.status, 2, bad.stderr);
    assert.match(bad.stderr, /not a vodupd data directory/);
  });
});
