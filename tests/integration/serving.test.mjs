// Serving objects: a download that stalls holds back only the blobs it reads (the
// collector removes every other freed blob meanwhile), and GetObject answers user
// content so that a browser never runs it as the service's own page.

import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import http from 'node:http';
import path from 'node:path';
import { Readable } from 'node:stream';
import {
  startVodupd, withLogs, SLOW, randomBuf, cleanupTmpDirs, buildSignedRequest, listFilesRecursive, waitFor,
  md5, assertOssError,
} from '../compat/lib/vodupd.mjs';

const MiB = 1024 * 1024;
const T = { timeout: 120000 * SLOW };
const BUCKET = 'serve';

let srv;

before(withLogs(async () => {
  srv = await startVodupd();
  const r = await srv.request({ method: 'PUT', bucket: BUCKET });
  assert.equal(r.status, 200, r.text);
}));

after(async () => {
  if (srv) await srv.stop();
  cleanupTmpDirs();
}, T);

const blobFiles = () => new Set(listFilesRecursive(path.join(srv.dataDir, 'objects')));

/** Stores a multipart object of `parts` random parts of `size` bytes; returns its bytes. */
async function putMultipart(key, parts, size) {
  const oss = srv.client({ bucket: BUCKET });
  const init = await oss.initMultipartUpload(key);
  const bufs = [], done = [];
  for (let i = 1; i <= parts; i++) {
    const b = randomBuf(size);
    bufs.push(b);
    const p = await oss._uploadPart(key, init.uploadId, i, { stream: Readable.from([b]), size: b.length });
    done.push({ number: i, etag: p.etag });
  }
  await oss.completeMultipartUpload(key, init.uploadId, done);
  return Buffer.concat(bufs);
}

/** A GetObject whose body is not read until resume() is called. */
function stalledGet(key) {
  const r = buildSignedRequest({ method: 'GET', bucket: BUCKET, key, creds: srv.creds });
  return new Promise((resolve, reject) => {
    const req = http.request({ host: '127.0.0.1', port: srv.port, method: 'GET', path: r.path,
      headers: { host: `127.0.0.1:${srv.port}`, ...r.headers }, agent: false }, res => {
      res.pause();
      resolve({
        status: res.statusCode,
        headers: res.headers,
        resume: () => new Promise((ok, bad) => {
          const chunks = [];
          res.on('data', c => chunks.push(c));
          res.on('end', () => ok(Buffer.concat(chunks)));
          res.on('error', bad);
          res.resume();
        }),
      });
    });
    req.on('error', reject);
    req.end();
  });
}

describe('a stalled download and the collector', () => {
  it('a GetObject stalled mid-stream does not keep another object\'s freed blob on disk', T, withLogs(async () => {
    const big = await putMultipart('stalled/big.bin', 3, 8 * MiB);
    const g = await stalledGet('stalled/big.bin');
    assert.equal(g.status, 200);

    const before = blobFiles();
    const put = await srv.request({ method: 'PUT', bucket: BUCKET, key: 'victim.bin', body: randomBuf(4096) });
    assert.equal(put.status, 200);
    const added = [...blobFiles()].filter(f => !before.has(f));
    assert.equal(added.length, 1, `one new blob file for victim.bin: ${added}`);
    const del = await srv.request({ method: 'DELETE', bucket: BUCKET, key: 'victim.bin' });
    assert.equal(del.status, 204);
    await waitFor(() => !blobFiles().has(added[0]), { what: `the deleted object's blob ${added[0]} to be removed` });

    // The stalled object itself is deleted too: its part blobs stay until the reader is done.
    const partsBefore = [...blobFiles()];
    assert.equal((await srv.request({ method: 'DELETE', bucket: BUCKET, key: 'stalled/big.bin' })).status, 204);
    const body = await g.resume();
    assert.equal(body.length, big.length);
    assert.equal(md5(body), md5(big), 'the stalled reader gets the bytes it started to read');
    await waitFor(() => blobFiles().size <= partsBefore.length - 3,
      { what: 'the deleted multipart object\'s part blobs to be removed once its reader finished' });
  }));
});

describe('user content is never run as a page of the service', () => {
  const put = (key, type) => srv.request({
    method: 'PUT', bucket: BUCKET, key, body: Buffer.from('<script>alert(1)</script>'), headers: { 'content-type': type },
  });
  const get = (key, query, s = srv) => s.request({ method: 'GET', bucket: BUCKET, key, query });

  it('active types (HTML, SVG, XML, JavaScript) are answered as attachments, with nosniff', T, withLogs(async () => {
    for (const [key, type] of [['a.html', 'text/html; charset=utf-8'], ['a.svg', 'image/svg+xml'], ['a.xhtml', 'application/xhtml+xml'],
      ['a.xml', 'text/xml'], ['a.js', 'application/javascript'], ['a.rss', 'application/rss+xml'], ['b.html', ' TEXT/HTML ']]) {
      assert.equal((await put(key, type)).status, 200);
      for (const method of ['GET', 'HEAD']) {
        const r = await srv.request({ method, bucket: BUCKET, key });
        assert.equal(r.status, 200);
        assert.equal(r.headers['x-content-type-options'], 'nosniff', `${method} ${key}`);
        assert.equal(r.headers['content-disposition'], 'attachment', `${method} ${key} (${type})`);
      }
    }
  }));

  it('passive types are served inline, with nosniff', T, withLogs(async () => {
    for (const [key, type] of [['v.mp4', 'video/mp4'], ['p.png', 'image/png'], ['t.txt', 'text/plain'], ['o.bin', undefined]]) {
      assert.equal((await srv.request({ method: 'PUT', bucket: BUCKET, key, body: randomBuf(10),
        headers: type ? { 'content-type': type } : {} })).status, 200);
      const r = await get(key);
      assert.equal(r.status, 200);
      assert.equal(r.headers['x-content-type-options'], 'nosniff', key);
      assert.equal(r.headers['content-disposition'], undefined, key);
    }
  }));

  it('a signed response-content-disposition is honoured; a response-content-type override is judged too', T, withLogs(async () => {
    assert.equal((await put('c.html', 'text/html')).status, 200);
    const inline = await get('c.html', { 'response-content-disposition': 'inline' });
    assert.equal(inline.headers['content-disposition'], 'inline');
    assert.equal((await put('c.mp4', 'video/mp4')).status, 200);
    const asHtml = await get('c.mp4', { 'response-content-type': 'text/html' });
    assert.equal(asHtml.headers['content-type'], 'text/html');
    assert.equal(asHtml.headers['content-disposition'], 'attachment');
  }));

  it('response-* values with CR, LF or other control characters are refused with 400 InvalidArgument', T, withLogs(async () => {
    assert.equal((await put('d.txt', 'text/plain')).status, 200);
    for (const [name, value] of [['response-content-type', 'text/plain\r\nX-Evil: 1'], ['response-content-disposition', 'inline\n'],
      ['response-cache-control', 'no-cache\u0000'], ['response-expires', 'x\u007f']]) {
      const r = await get('d.txt', { [name]: value });
      assertOssError(r, 400, 'InvalidArgument', `${name}=${JSON.stringify(value)}`);
      assert.equal(r.headers['x-evil'], undefined);
    }
  }));

  it('--serve-active-content serves active types inline', T, withLogs(async () => {
    const s2 = await startVodupd({ extraArgs: ['--serve-active-content'] });
    try {
      assert.equal((await s2.request({ method: 'PUT', bucket: BUCKET })).status, 200);
      assert.equal((await s2.request({ method: 'PUT', bucket: BUCKET, key: 'e.html', body: Buffer.from('<p>'),
        headers: { 'content-type': 'text/html' } })).status, 200);
      const r = await get('e.html', undefined, s2);
      assert.equal(r.headers['content-disposition'], undefined);
      assert.equal(r.headers['x-content-type-options'], 'nosniff');
    } finally {
      await s2.stop();
    }
  }));
});
