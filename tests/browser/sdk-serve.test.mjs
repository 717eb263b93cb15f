// vodupd serves the web SDK it was built with at /sdk/vodup-upload.js (and the ES-module
// variant at /sdk/vodup-upload.mjs): byte-identical to web/vodup-upload.js, an ETag, 304 on
// If-None-Match, a long immutable lifetime under ?v=<version>; a signed request for a
// bucket named "sdk" still reaches the object store.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import { cleanupTmpDirs, plainRequest, startVodupd, withLogs } from '../compat/lib/vodupd.mjs';
import { SDK_FILE } from './lib/sdk.mjs';

describe('vodupd serves the web SDK', () => {
  let srv;
  const file = fs.readFileSync(SDK_FILE);
  before(async () => { srv = await startVodupd(); });
  after(async () => { await srv?.stop(); cleanupTmpDirs(); });

  it('GET /sdk/vodup-upload.js: the file, as JavaScript, with an ETag; 304 when it matches', withLogs(async () => {
    const r = await plainRequest({ port: srv.port, path: '/sdk/vodup-upload.js', headers: { origin: 'http://app.example' } });
    assert.equal(r.status, 200);
    assert.ok(r.body.equals(file), 'served bytes differ from web/vodup-upload.js (rebuild?)');
    assert.match(r.headers['content-type'], /^text\/javascript/);
    assert.match(r.headers.etag, /^"[0-9a-f]{16}"$/);
    assert.equal(r.headers['x-content-type-options'], 'nosniff');
    assert.equal(r.headers['access-control-allow-origin'], 'http://app.example', 'integrity= needs CORS');
    assert.match(r.headers['cache-control'], /max-age=\d+/);
    for (const inm of [r.headers.etag, `W/${r.headers.etag}`, `"nope", ${r.headers.etag}`, '*']) {
      const c = await plainRequest({ port: srv.port, path: '/sdk/vodup-upload.js', headers: { 'if-none-match': inm } });
      assert.equal(c.status, 304, inm);
      assert.equal(c.body.length, 0);
      assert.equal(c.headers.etag, r.headers.etag);
    }
    const other = await plainRequest({ port: srv.port, path: '/sdk/vodup-upload.js', headers: { 'if-none-match': '"0000"' } });
    assert.equal(other.status, 200);
    const head = await plainRequest({ port: srv.port, method: 'HEAD', path: '/sdk/vodup-upload.js' });
    assert.equal(head.status, 200);
    assert.equal(Number(head.headers['content-length']), file.length);
  }));

  it('?v=<version> is served as immutable for a year; another v is not', withLogs(async () => {
    const r = await plainRequest({ port: srv.port, path: '/sdk/vodup-upload.js' });
    const v = r.headers.etag.replace(/"/g, '');
    const pinned = await plainRequest({ port: srv.port, path: `/sdk/vodup-upload.js?v=${v}` });
    assert.equal(pinned.headers['cache-control'], 'public, max-age=31536000, immutable');
    const stale = await plainRequest({ port: srv.port, path: '/sdk/vodup-upload.js?v=0123456789abcdef' });
    assert.doesNotMatch(stale.headers['cache-control'], /immutable/);
  }));

  it('GET /sdk/vodup-upload.mjs: the same code with ES-module exports', withLogs(async () => {
    const r = await plainRequest({ port: srv.port, path: '/sdk/vodup-upload.mjs' });
    assert.equal(r.status, 200);
    assert.ok(r.body.subarray(0, file.length).equals(file));
    const tail = r.body.subarray(file.length).toString();
    assert.match(tail, /export const \{ Vod, createUploader/);
    assert.match(tail, /export default VodupUpload/);
    assert.notEqual(r.headers.etag, (await plainRequest({ port: srv.port, path: '/sdk/vodup-upload.js' })).headers.etag);
    const mod = await import('data:text/javascript;base64,' + r.body.toString('base64'));
    assert.equal(typeof mod.Vod, 'function');
    assert.equal(typeof mod.createUploader, 'function');
    assert.equal(mod.default.Vod, mod.Vod);
  }));

  it('a signed request on /sdk/... is an object-store request (bucket "sdk")', withLogs(async () => {
    await srv.request({ method: 'PUT', bucket: 'sdk' });
    const put = await srv.request({ method: 'PUT', bucket: 'sdk', key: 'vodup-upload.js', body: 'mine' });
    assert.equal(put.status, 200, put.text);
    const got = await srv.request({ method: 'GET', bucket: 'sdk', key: 'vodup-upload.js' });
    assert.equal(got.status, 200);
    assert.equal(got.text, 'mine');
    const other = await plainRequest({ port: srv.port, path: '/sdk/other.js' });
    assert.equal(other.status, 403, 'anything else under /sdk/ is an anonymous OSS request');
  }));

  it('docs/web-sdk.md shows this build\'s version and SRI hash', async () => {
    const crypto = await import('node:crypto');
    const doc = fs.readFileSync('docs/web-sdk.md', 'utf8');
    const sri = 'sha384-' + crypto.createHash('sha384').update(file).digest('base64');
    const v = crypto.createHash('sha256').update(file).digest('hex').slice(0, 16);
    assert.ok(doc.includes(sri), `docs/web-sdk.md must show ${sri}`);
    assert.ok(doc.includes(v), `docs/web-sdk.md must show version ${v}`);
    for (const m of doc.matchAll(/sha384-[A-Za-z0-9+/=]+/g)) assert.equal(m[0], sri, 'a stale SRI hash in docs/web-sdk.md');
    for (const m of doc.matchAll(/v=([0-9a-f]{16})\b/g)) assert.equal(m[1], v, 'a stale version in docs/web-sdk.md');
    const r = await plainRequest({ port: srv.port, path: '/sdk/vodup-upload.js' });
    assert.equal(r.headers.etag, `"${v}"`);
  });
});
