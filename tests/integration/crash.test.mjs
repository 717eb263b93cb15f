// SIGKILL of vodupd in the middle of uploads: acknowledged parts and objects survive, the
// part (and object) in flight leaves nothing behind, and the upload can be finished after a restart.

import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import path from 'node:path';
import {
  startVodupd, cleanupTmpDirs, restart, withLogs, SLOW, randomBuf, randomHex, md5, md5b64, etagOf, crc64,
  assertOssError, xmlTag, xmlTags, xmlUnescape, openRawSignedRequest, signedRequest, listFilesRecursive,
  waitFor, sleep,
} from '../compat/lib/vodupd.mjs';

const KiB = 1024;
const PART = 256 * KiB;

let srv; // the current server (replaced by the restart)
const bucket = `vt-crash-${randomHex(5)}`;

before(withLogs(async () => {
  srv = await startVodupd();
  const r = await srv.request({ method: 'PUT', bucket });
  assert.equal(r.status, 200, `PutBucket (path style): ${r.status} ${r.text}`);
}));

after(async () => {
  if (srv && srv.running) await srv.stop(); // asserts exit status 0 after SIGTERM
  cleanupTmpDirs();
});

const req = opts => signedRequest({ port: srv.port, creds: srv.creds, bucket, ...opts });

async function listParts(key, uploadId) {
  const r = await req({ method: 'GET', key, query: { uploadId } });
  assert.equal(r.status, 200, `ListParts: ${r.status} ${r.text}`);
  return xmlTags(r.text, 'Part').map(p => ({
    number: Number(xmlTag(p, 'PartNumber')),
    etag: xmlUnescape(xmlTag(p, 'ETag') ?? ''),
    size: Number(xmlTag(p, 'Size')),
    crc: xmlTag(p, 'HashCrc64ecma'),
  }));
}

async function uploadPart(key, uploadId, n, body) {
  const r = await req({
    method: 'PUT', key, query: [['partNumber', String(n)], ['uploadId', uploadId]], body,
    headers: { 'content-md5': md5b64(body) },
  });
  assert.equal(r.status, 200, `UploadPart ${n}: ${r.status} ${r.text}`);
  assert.equal(r.headers.etag, etagOf(body), `ETag of part ${n}`);
  assert.equal(r.headers['x-oss-hash-crc64ecma'], crc64(body), `CRC-64 of part ${n}`);
  return r.headers.etag;
}

describe('crash during uploads', { timeout: 180000 * SLOW }, () => {
  const key = `crash/${randomHex(4)}.mp4`;
  const putKey = `crash/durable-${randomHex(4)}.bin`;
  const inflightPutKey = `crash/inflight-put-${randomHex(4)}.bin`;
  const parts = [1, 2, 3, 4, 5].map(n => randomBuf(n === 5 ? 70 * KiB : PART)); // the last part may be small
  const etags = {};
  let uploadId;
  const durable = randomBuf(123 * KiB + 5);
  let dataDir;
  let stagedWhileInFlight = null;

  it('uploads parts 1..3, starts part 4 (and a PutObject) that stall half-way, then SIGKILLs vodupd', withLogs(async () => {
    dataDir = srv.dataDir;
    const init = await req({ method: 'POST', key, query: { uploads: '' }, headers: { 'content-type': 'video/mp4' } });
    assert.equal(init.status, 200, init.text);
    uploadId = xmlTag(init.text, 'UploadId');
    assert.ok(uploadId, init.text);
    for (const n of [1, 2, 3]) etags[n] = await uploadPart(key, uploadId, n, parts[n - 1]);

    // an acknowledged PutObject just before the crash must survive it
    const p = await req({ method: 'PUT', key: putKey, body: durable });
    assert.equal(p.status, 200, p.text);

    const tmp = path.join(dataDir, 'tmp');
    const before = new Set(listFilesRecursive(tmp));
    const part4 = openRawSignedRequest({
      port: srv.port, creds: srv.creds, method: 'PUT', bucket, key,
      query: [['partNumber', '4'], ['uploadId', uploadId]], contentLength: PART, bodyPrefix: parts[3].subarray(0, PART / 2),
    });
    const put2 = openRawSignedRequest({
      port: srv.port, creds: srv.creds, method: 'PUT', bucket, key: inflightPutKey,
      contentLength: PART, bodyPrefix: randomBuf(PART / 2),
    });
    await part4.connected;
    await put2.connected;
    // give the server time to read the half bodies; note whether they are staged in D/tmp
    try {
      await waitFor(() => listFilesRecursive(tmp).filter(f => !before.has(f)).length >= 2, { timeout: 3000 * SLOW, what: 'staged files in D/tmp' });
      stagedWhileInFlight = true;
    } catch {
      stagedWhileInFlight = false;
    }
    await sleep(200 * SLOW);
    assert.ok(srv.running, 'vodupd died before the kill');

    const info = await srv.kill();
    assert.equal(info.signal, 'SIGKILL');
    part4.socket.destroy();
    put2.socket.destroy();
    const got4 = await part4.response;
    assert.ok(!/^HTTP\/1\.1 200/.test(got4.toString('latin1')), 'part 4 must not have been acknowledged');
  }));

  it('the in-flight bodies were being staged in D/tmp (so the cleanup check below means something)', withLogs(async () => {
    assert.equal(stagedWhileInFlight, true, 'no new file appeared in D/tmp while part 4 and a PutObject were half sent');
  }));

  it('restarts on the same data dir: D/tmp is empty, ListParts shows exactly parts 1..3', withLogs(async () => {
    srv = await restart(srv);
    assert.equal(srv.dataDir, dataDir);
    const tmpFiles = listFilesRecursive(path.join(dataDir, 'tmp'));
    assert.deepEqual(tmpFiles, [], 'D/tmp must be emptied at startup');

    const listed = await listParts(key, uploadId);
    assert.deepEqual(listed.map(p => p.number), [1, 2, 3], `parts after restart: ${JSON.stringify(listed)}`);
    for (const p of listed) {
      assert.equal(p.etag, etags[p.number], `ETag of part ${p.number}`);
      assert.equal(p.size, PART, `size of part ${p.number}`);
      if (p.crc !== undefined) assert.equal(p.crc, crc64(parts[p.number - 1]), `HashCrc64ecma of part ${p.number}`);
    }
  }));

  it('the PutObject acknowledged before the crash survived; the one in flight left nothing', withLogs(async () => {
    const g = await req({ method: 'GET', key: putKey });
    assert.equal(g.status, 200, g.text);
    assert.equal(md5(g.body), md5(durable));
    const h = await req({ method: 'HEAD', key: inflightPutKey });
    assert.equal(h.status, 404, 'a PutObject killed half-way must not exist');
    const l = await req({ method: 'GET', query: { prefix: 'crash/' } });
    assert.equal(l.status, 200);
    const keys = xmlTags(l.text, 'Key').map(xmlUnescape);
    assert.deepEqual(keys.sort(), [putKey].sort(), `listing after restart: ${keys}`);
  }));

  it('uploads parts 4..5, completes, and GET returns the source bytes', withLogs(async () => {
    for (const n of [4, 5]) etags[n] = await uploadPart(key, uploadId, n, parts[n - 1]);
    const xml = '<?xml version="1.0" encoding="UTF-8"?>\n<CompleteMultipartUpload>\n' +
      [1, 2, 3, 4, 5].map(n => `<Part>\n<PartNumber>${n}</PartNumber>\n<ETag>${etags[n]}</ETag>\n</Part>\n`).join('') +
      '</CompleteMultipartUpload>';
    const body = Buffer.from(xml);
    const c = await req({
      method: 'POST', key, query: { uploadId }, body,
      headers: { 'content-type': 'application/xml', 'content-md5': md5b64(body) },
    });
    assert.equal(c.status, 200, `Complete: ${c.status} ${c.text}`);
    assert.match(c.headers.etag || '', /^"[0-9A-F]{32}-5"$/);

    const all = Buffer.concat(parts);
    const g = await req({ method: 'GET', key });
    assert.equal(g.status, 200);
    assert.equal(g.body.length, all.length);
    assert.equal(md5(g.body), md5(all), 'object bytes differ from the source');
    assert.equal(g.headers['x-oss-hash-crc64ecma'], crc64(all));
    assert.equal(g.headers['content-type'], 'video/mp4', 'Content-Type from InitiateMultipartUpload');
    const lp = await req({ method: 'GET', key, query: { uploadId } });
    assertOssError(lp, 404, 'NoSuchUpload', 'ListParts after Complete');
  }));

  it('a second crash right after Complete loses nothing', withLogs(async () => {
    await srv.kill();
    srv = await restart(srv);
    const g = await req({ method: 'GET', key });
    assert.equal(g.status, 200);
    assert.equal(md5(g.body), md5(Buffer.concat(parts)));
    assert.deepEqual(listFilesRecursive(path.join(srv.dataDir, 'tmp')), []);
  }));
});
