// What one upload credential (UploadAuth, scoped to one object) can hold on the server:
// a few open multipart uploads on its object, no file per empty part, and nothing once
// the credentials have expired (their abandoned uploads are aborted).

import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import path from 'node:path';
import { Readable } from 'node:stream';
import {
  startVodupd, withLogs, SLOW, randomBuf, cleanupTmpDirs, listFilesRecursive, waitFor, xmlTags,
} from '../compat/lib/vodupd.mjs';
import { vodClient, uploadClient, stopServer } from '../compat/lib/vod.mjs';

const T = { timeout: 120000 * SLOW };
const MAX_PER_KEY = 4; // VODUPD_MAX_UPLOADS_PER_CREDENTIAL_KEY
const TTL = 5;         // --upload-auth-ttl of `short`

let srv, short;

before(withLogs(async () => {
  [srv, short] = await Promise.all([startVodupd(), startVodupd({ extraArgs: ['--upload-auth-ttl', String(TTL), '--upload-cred-grace', String(TTL)] })]);
}));

after(async () => {
  await Promise.all([srv && stopServer(srv), short && stopServer(short)]);
  cleanupTmpDirs();
}, T);

function decodeUpload(resp) {
  const j = x => JSON.parse(Buffer.from(x, 'base64').toString('utf8'));
  return { addr: j(resp.UploadAddress), auth: j(resp.UploadAuth) };
}

async function newVideo(s) {
  const cr = await vodClient(s).request('CreateUploadVideo', { Title: 'lim', FileName: 'lim.mp4' }, { method: 'POST' });
  return { id: cr.VideoId, ...decodeUpload(cr) };
}

const blobFiles = s => listFilesRecursive(path.join(s.dataDir, 'objects'));
const partData = buf => ({ stream: Readable.from([buf]), size: buf.length });

async function openUploads(s, bucket) {
  const r = await s.request({ method: 'GET', bucket, query: { uploads: '' } });
  assert.equal(r.status, 200, r.text);
  return xmlTags(r.text, 'UploadId');
}

describe('upload credential limits', () => {
  it(`upload credentials keep at most ${MAX_PER_KEY} multipart uploads open on their object: one more aborts the least recently written`, T, withLogs(async () => {
    const v = await newVideo(srv);
    const oss = uploadClient(v);
    const ids = [];
    for (let i = 0; i < MAX_PER_KEY; i++) ids.push((await oss.initMultipartUpload(v.addr.FileName)).uploadId);
    // The first one is written to last: the second becomes the least recently written.
    await oss._uploadPart(v.addr.FileName, ids[0], 1, partData(randomBuf(1000)));
    const root = await srv.request({ method: 'POST', bucket: v.addr.Bucket, key: v.addr.FileName, query: { uploads: '' } });
    assert.equal(root.status, 200, root.text);
    const before = blobFiles(srv).length;
    await oss._uploadPart(v.addr.FileName, ids[1], 1, partData(randomBuf(1000)));
    await oss._uploadPart(v.addr.FileName, ids[0], 2, partData(randomBuf(1000)));
    // Three more: the three least recently written (ids 2, 3, then 1) make room.
    for (let i = 0; i < 3; i++) ids.push((await oss.initMultipartUpload(v.addr.FileName)).uploadId);
    const open = await openUploads(srv, v.addr.Bucket);
    const mine = ids.filter(id => open.includes(id));
    assert.equal(mine.length, MAX_PER_KEY, `open uploads of the credential: ${mine}`);
    assert.deepEqual(mine.sort(), [ids[0], ...ids.slice(-(MAX_PER_KEY - 1))].sort(), 'the most recently written stay');
    assert.ok(open.includes(xmlTags(root.text, 'UploadId')[0]), 'the account key\'s own upload is not counted');
    // The evicted upload's part file is removed; the survivor's stays.
    await waitFor(() => blobFiles(srv).length === before + 1, { what: 'the evicted upload\'s part file to be removed' });
    const lp = await oss.listParts(v.addr.FileName, ids[0]);
    assert.equal(lp.parts.length, 2);
  }));

  it('empty parts and empty objects cost no file and read back empty', T, withLogs(async () => {
    const v = await newVideo(srv);
    const oss = uploadClient(v);
    const { uploadId } = await oss.initMultipartUpload(v.addr.FileName);
    const before = blobFiles(srv).length;
    for (let n = 1; n <= 20; n++) {
      const p = await oss._uploadPart(v.addr.FileName, uploadId, n, partData(Buffer.alloc(0)));
      assert.equal(p.etag, '"D41D8CD98F00B204E9800998ECF8427E"');
    }
    const empty = await srv.request({ method: 'PUT', bucket: v.addr.Bucket, key: 'empty.bin', body: Buffer.alloc(0) });
    assert.equal(empty.status, 200);
    assert.equal(blobFiles(srv).length, before, 'no blob file for empty bodies');
    const got = await srv.request({ method: 'GET', bucket: v.addr.Bucket, key: 'empty.bin' });
    assert.equal(got.status, 200);
    assert.equal(got.body.length, 0);
    // A multipart object whose last part is empty reads back as the other parts.
    const data = randomBuf(150 * 1024);
    const p1 = await oss._uploadPart(v.addr.FileName, uploadId, 1, partData(data));
    await oss.completeMultipartUpload(v.addr.FileName, uploadId,
      [{ number: 1, etag: p1.etag }, { number: 2, etag: '"D41D8CD98F00B204E9800998ECF8427E"' }]);
    const obj = await srv.request({ method: 'GET', bucket: v.addr.Bucket, key: v.addr.FileName });
    assert.equal(obj.status, 200);
    assert.ok(obj.body.equals(data));
    const ranged = await srv.request({ method: 'GET', bucket: v.addr.Bucket, key: v.addr.FileName, headers: { range: 'bytes=100-' } });
    assert.equal(ranged.status, 206);
    assert.ok(ranged.body.equals(data.subarray(100)));
  }));

  it('multipart uploads of upload credentials are aborted once the credentials expired', T, withLogs(async () => {
    const v = await newVideo(short);
    const oss = uploadClient(v);
    const before = blobFiles(short).length;
    const { uploadId } = await oss.initMultipartUpload(v.addr.FileName);
    await oss._uploadPart(v.addr.FileName, uploadId, 1, partData(randomBuf(1000)));
    assert.equal(blobFiles(short).length, before + 1);
    // An upload of the account's own key on another object is not touched.
    const rootUp = await short.request({ method: 'POST', bucket: v.addr.Bucket, key: 'mine.bin', query: { uploads: '' } });
    assert.equal(rootUp.status, 200);
    assert.ok((await openUploads(short, v.addr.Bucket)).includes(uploadId));
    // Expiry (TTL) plus one more lifetime of grace; each poll kicks the collector.
    await waitFor(async () => {
      await short.request({ method: 'DELETE', bucket: v.addr.Bucket, key: 'no-such-key' });
      return !(await openUploads(short, v.addr.Bucket)).includes(uploadId);
    }, { timeout: (4 * TTL + 20) * 1000 * SLOW, interval: 500, what: 'the expired credential\'s upload to be aborted' });
    assert.equal((await openUploads(short, v.addr.Bucket)).length, 1, 'the root key\'s upload stays');
    await waitFor(() => blobFiles(short).length === before, { what: 'the aborted upload\'s part file to be removed' });
  }));
});
