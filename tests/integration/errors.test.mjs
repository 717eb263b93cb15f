// Bad input gets the protocol's error, and stores nothing.
// Requests are built and V1-signed by hand (tests/compat/lib/vodupd.mjs) and sent path-style.

import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import {
  startVodupd, cleanupTmpDirs, withLogs, SLOW, randomBuf, randomHex, md5, md5b64, etagOf, crc64, v1StringToSign, hmacSha1B64,
  assertOssError, xmlTag, xmlTags, xmlUnescape, presignV1, plainRequest, forgeOneChar, openRawSignedRequest,
  listFilesRecursive, testTmpRoot, waitFor, sleep, errorXml, buildSignedRequest, vodupdPath, makeTmpDir,
} from '../compat/lib/vodupd.mjs';
import { spawnSync } from 'node:child_process';
import crypto from 'node:crypto';
import net from 'node:net';

const KiB = 1024;
const T = { timeout: 60000 * SLOW };

let srv;
const bucket = `vt-err-${randomHex(5)}`;

before(withLogs(async () => {
  srv = await startVodupd();
  const r = await srv.client().putBucket(bucket);
  assert.equal(r.res.status, 200);
}));

after(async () => {
  if (srv) await srv.stop(); // asserts exit status 0 after SIGTERM
  cleanupTmpDirs();
});

// --- helpers ---------------------------------------------------------------

const req = opts => srv.request({ bucket, ...opts });

async function head(key) {
  return req({ method: 'HEAD', key });
}

/** Asserts that key does not exist (HEAD 404 NoSuchKey and absent from a listing). */
async function assertAbsent(key, what = '') {
  const h = await head(key);
  assert.equal(h.status, 404, `${what}: HEAD ${key} must be 404, got ${h.status}`);
  assert.equal(h.body.length, 0, 'HEAD error must have no body');
  const keys = await listKeys(key);
  assert.ok(!keys.includes(key), `${what}: ${key} is listed`);
}

/** Raw ListObjects (v1) of a prefix; returns the decoded keys. */
async function listKeys(prefix) {
  const r = await req({ method: 'GET', query: { prefix } });
  assert.equal(r.status, 200, `ListObjects: ${r.status} ${r.text}`);
  return xmlTags(r.text, 'Key').map(xmlUnescape);
}

async function getBytes(key) {
  const r = await req({ method: 'GET', key });
  assert.equal(r.status, 200, `GET ${key}: ${r.status} ${r.text}`);
  return r.body;
}

async function initUpload(key) {
  const r = await req({ method: 'POST', key, query: { uploads: '' } });
  assert.equal(r.status, 200, `InitiateMultipartUpload: ${r.status} ${r.text}`);
  const id = xmlTag(r.text, 'UploadId');
  assert.ok(id, `no UploadId in ${r.text}`);
  return id;
}

async function uploadPart(key, uploadId, n, body, headers = {}) {
  return req({ method: 'PUT', key, query: [['partNumber', String(n)], ['uploadId', uploadId]], body, headers });
}

async function listParts(key, uploadId) {
  const r = await req({ method: 'GET', key, query: { uploadId } });
  assert.equal(r.status, 200, `ListParts: ${r.status} ${r.text}`);
  return xmlTags(r.text, 'Part').map(p => ({
    number: Number(xmlTag(p, 'PartNumber')),
    etag: xmlUnescape(xmlTag(p, 'ETag')),
    size: Number(xmlTag(p, 'Size')),
  }));
}

function completeXml(parts) {
  return '<?xml version="1.0" encoding="UTF-8"?>\n<CompleteMultipartUpload>\n' +
    parts.map(p => `<Part>\n<PartNumber>${p.number}</PartNumber>\n<ETag>${p.etag}</ETag>\n</Part>\n`).join('') +
    '</CompleteMultipartUpload>';
}

async function complete(key, uploadId, bodyText) {
  const body = Buffer.from(bodyText);
  return req({
    method: 'POST', key, query: { uploadId }, body,
    headers: { 'content-type': 'application/xml', 'content-md5': md5b64(body) },
  });
}

const put = (key, body, headers = {}) => req({ method: 'PUT', key, body, headers });

/** Waits (briefly) for a new file to appear under tmp; true when one did. */
async function stagedIn(tmp, before) {
  try {
    await waitFor(() => listFilesRecursive(tmp).some(f => !before.has(f)), { timeout: 2000 * SLOW, what: 'a staged file' });
    return true;
  } catch {
    return false;
  }
}

// --- tests -----------------------------------------------------------------

describe('harness', () => {
  it('the hand-written V1 signer reproduces the signatures of the ali-oss request vectors', withLogs(async () => {
    const vecDir = path.resolve('tests/vectors');
    const creds = JSON.parse(fs.readFileSync(path.join(vecDir, 'credentials.json'), 'utf8')).oss;
    const lines = fs.readFileSync(path.join(vecDir, 'oss-v1.requests.jsonl'), 'utf8').split('\n').filter(Boolean);
    assert.ok(lines.length > 0, 'no V1 vectors');
    for (const line of lines) {
      const v = JSON.parse(line);
      const h = Object.fromEntries(v.headers.map(([k, x]) => [k.toLowerCase(), x]));
      const u = new URL(v.target, 'http://x');
      const [, akid, sig] = /^OSS ([^:]+):(.*)$/.exec(h.authorization);
      const c = creds.find(x => x.access_key_id === akid);
      const sts = v1StringToSign({
        method: v.method, bucket: h.host.split('.')[0], key: decodeURIComponent(u.pathname.slice(1)),
        query: [...u.searchParams.entries()], headers: h,
      });
      assert.equal(hmacSha1B64(c.access_key_secret, sts), sig, `${v.method} ${v.target}`);
    }
  }));
});

describe('authentication', () => {
  it('a correctly signed path-style PUT/GET works (control for the tests below)', T, withLogs(async () => {
    const key = `ok/${randomHex(4)}.bin`;
    const buf = randomBuf(1000);
    const r = await put(key, buf, { 'content-md5': md5b64(buf), 'content-type': 'application/octet-stream' });
    assert.equal(r.status, 200, r.text);
    assert.equal(r.headers.etag, etagOf(buf));
    assert.equal(r.headers['x-oss-hash-crc64ecma'], crc64(buf));
    assert.ok(r.headers['x-oss-request-id']);
    assert.ok((await getBytes(key)).equals(buf));
  }));

  it('a forged signature (one character changed) → 403 SignatureDoesNotMatch, nothing stored', T, withLogs(async () => {
    const key = `forged/${randomHex(4)}.bin`;
    const r = await req({ method: 'PUT', key, body: randomBuf(500), forge: forgeOneChar });
    const xml = assertOssError(r, 403, 'SignatureDoesNotMatch');
    assert.ok(xml.includes('<HostId>'), 'error lacks HostId');
    await assertAbsent(key, 'forged PUT');

    // and a forged GET of an existing object reveals nothing
    const okKey = `forged/existing-${randomHex(4)}`;
    const secret = randomBuf(300);
    assert.equal((await put(okKey, secret)).status, 200);
    const g = await req({ method: 'GET', key: okKey, forge: forgeOneChar });
    assertOssError(g, 403, 'SignatureDoesNotMatch');
    assert.ok(!g.body.includes(secret.subarray(0, 32)), 'forged GET leaked object bytes');

    // signing with the wrong secret is the same failure
    const w = await req({ method: 'PUT', key, body: randomBuf(10), accessKeySecret: 'not-the-secret' });
    assertOssError(w, 403, 'SignatureDoesNotMatch');
    await assertAbsent(key, 'PUT with a wrong secret');
  }));

  it('an unknown AccessKeyId → 403 InvalidAccessKeyId, nothing stored', T, withLogs(async () => {
    const key = `badkey/${randomHex(4)}.bin`;
    const r = await req({ method: 'PUT', key, body: randomBuf(500), accessKeyId: `LTAINoSuch${randomHex(6)}` });
    assertOssError(r, 403, 'InvalidAccessKeyId');
    await assertAbsent(key, 'PUT with an unknown key id');
  }));

  it('x-oss-date 20 minutes off (correctly signed) → 403 RequestTimeTooSkewed, nothing stored', T, withLogs(async () => {
    for (const offMin of [-20, 20]) {
      const key = `skew/${offMin}-${randomHex(4)}.bin`;
      const r = await req({ method: 'PUT', key, body: randomBuf(500), date: new Date(Date.now() + offMin * 60000) });
      const xml = assertOssError(r, 403, 'RequestTimeTooSkewed', `date ${offMin} min`);
      assert.match(xmlTag(xml, 'ServerTime') || '', /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?Z$/, 'RequestTimeTooSkewed needs <ServerTime> (ali-oss browser reads it)');
      await assertAbsent(key, `skewed PUT (${offMin} min)`);
    }
    // 10 minutes off is inside the 15-minute window
    const key = `skew/ok-${randomHex(4)}.bin`;
    const r = await req({ method: 'PUT', key, body: randomBuf(10), date: new Date(Date.now() - 10 * 60000) });
    assert.equal(r.status, 200, `a date 10 minutes old must be accepted: ${r.text}`);
  }));

  it('a signed request without any date → 403 AccessDenied, nothing stored', T, withLogs(async () => {
    const key = `nodate/${randomHex(4)}.bin`;
    const r = await req({ method: 'PUT', key, body: randomBuf(100), date: null });
    assertOssError(r, 403, 'AccessDenied');
    await assertAbsent(key, 'PUT without a date');
  }));

  it('an unsigned request to a bucket → 403 AccessDenied, nothing stored or revealed', T, withLogs(async () => {
    const key = `unsigned/${randomHex(4)}.bin`;
    const r = await req({ method: 'PUT', key, body: randomBuf(100), unsigned: true });
    assertOssError(r, 403, 'AccessDenied');
    await assertAbsent(key, 'unsigned PUT');

    const okKey = `unsigned/existing-${randomHex(4)}`;
    const secret = randomBuf(300);
    assert.equal((await put(okKey, secret)).status, 200);
    const g = await req({ method: 'GET', key: okKey, unsigned: true });
    assertOssError(g, 403, 'AccessDenied');
    assert.ok(!g.body.includes(secret.subarray(0, 32)), 'unsigned GET leaked object bytes');
    const l = await req({ method: 'GET', query: { prefix: 'unsigned/' }, unsigned: true });
    assertOssError(l, 403, 'AccessDenied');
    assert.ok(!l.text.includes(okKey), 'unsigned listing leaked a key');
  }));

  it('a presigned V1 URL works before Expires and gives AccessDenied after', T, withLogs(async () => {
    const key = `presign/${randomHex(4)} a+b.bin`;
    const buf = randomBuf(2000);
    assert.equal((await put(key, buf)).status, 200);
    const now = Math.floor(Date.now() / 1000);

    const good = presignV1({ method: 'GET', bucket, key, expires: now + 300, creds: srv.creds });
    const r = await plainRequest({ port: srv.port, path: good });
    assert.equal(r.status, 200, `presigned GET: ${r.status} ${r.text}`);
    assert.ok(r.body.equals(buf), 'presigned GET bytes differ');

    const expired = presignV1({ method: 'GET', bucket, key, expires: now - 60, creds: srv.creds });
    const e = await plainRequest({ port: srv.port, path: expired });
    assertOssError(e, 403, 'AccessDenied', 'expired presigned URL');
    assert.ok(!e.body.includes(buf.subarray(0, 32)), 'expired URL leaked bytes');

    const tampered = good.replace(/Signature=([^&])/, (m, c) => `Signature=${c === 'A' ? 'B' : 'A'}`);
    assert.notEqual(tampered, good);
    const t = await plainRequest({ port: srv.port, path: tampered });
    assertOssError(t, 403, 'SignatureDoesNotMatch', 'tampered presigned URL');

    // a presigned PUT stores, an expired one does not
    const putKey = `presign/put-${randomHex(4)}`;
    const body = randomBuf(700);
    const pp = presignV1({ method: 'PUT', bucket, key: putKey, expires: now + 300, creds: srv.creds });
    const pr = await plainRequest({ port: srv.port, method: 'PUT', path: pp, body, headers: { 'content-length': body.length } });
    assert.equal(pr.status, 200, `presigned PUT: ${pr.status} ${pr.text}`);
    assert.ok((await getBytes(putKey)).equals(body));
    const putKey2 = `presign/put-expired-${randomHex(4)}`;
    const pe = presignV1({ method: 'PUT', bucket, key: putKey2, expires: now - 60, creds: srv.creds });
    const per = await plainRequest({ port: srv.port, method: 'PUT', path: pe, body, headers: { 'content-length': body.length } });
    assertOssError(per, 403, 'AccessDenied', 'expired presigned PUT');
    await assertAbsent(putKey2, 'expired presigned PUT');
  }));
});

describe('not found', () => {
  it('NoSuchBucket, NoSuchKey (HEAD: no body, x-oss-err header), NoSuchUpload', T, withLogs(async () => {
    const nb = await srv.request({ method: 'GET', bucket: `vt-none-${randomHex(4)}`, key: 'x' });
    assertOssError(nb, 404, 'NoSuchBucket');
    const nk = await req({ method: 'GET', key: `missing-${randomHex(4)}` });
    assertOssError(nk, 404, 'NoSuchKey');
    const hk = await head(`missing-${randomHex(4)}`);
    assert.equal(hk.status, 404);
    assert.equal(hk.body.length, 0);
    assert.ok(hk.headers['x-oss-err'], 'HEAD error lacks x-oss-err');
    assert.equal(xmlTag(errorXml(hk), 'Code'), 'NoSuchKey');
    const key = `nsu/${randomHex(4)}`;
    const up = await uploadPart(key, 'F00DF00DF00DF00DF00DF00DF00DF00D', 1, randomBuf(1000));
    assertOssError(up, 404, 'NoSuchUpload');
    const lp = await req({ method: 'GET', key, query: { uploadId: 'F00DF00DF00DF00DF00DF00DF00DF00D' } });
    assertOssError(lp, 404, 'NoSuchUpload');
  }));
});

describe('integrity', () => {
  it('a wrong Content-MD5 → 400 InvalidDigest; new key absent, existing key keeps its bytes', T, withLogs(async () => {
    const key = `md5/${randomHex(4)}.bin`;
    const buf = randomBuf(5000);
    const r = await put(key, buf, { 'content-md5': md5b64(randomBuf(10)) });
    assertOssError(r, 400, 'InvalidDigest');
    await assertAbsent(key, 'PUT with a wrong Content-MD5');

    const old = randomBuf(4000);
    assert.equal((await put(key, old, { 'content-md5': md5b64(old) })).status, 200);
    const r2 = await put(key, buf, { 'content-md5': md5b64(old) });
    assertOssError(r2, 400, 'InvalidDigest');
    const got = await getBytes(key);
    assert.equal(md5(got), md5(old), 'a rejected overwrite changed the object');
    const h = await head(key);
    assert.equal(h.headers.etag, etagOf(old));

    const r3 = await put(key, buf, { 'content-md5': 'not-an-md5' });
    assertOssError(r3, 400, 'InvalidDigest', 'malformed Content-MD5');
    assert.equal(md5(await getBytes(key)), md5(old));
  }));

  it('UploadPart with a wrong Content-MD5 → 400 InvalidDigest, part not stored', T, withLogs(async () => {
    const key = `md5part/${randomHex(4)}.bin`;
    const id = await initUpload(key);
    const buf = randomBuf(120 * KiB);
    const r = await uploadPart(key, id, 1, buf, { 'content-md5': md5b64(randomBuf(5)) });
    assertOssError(r, 400, 'InvalidDigest');
    assert.deepEqual(await listParts(key, id), []);
    const ok = await uploadPart(key, id, 1, buf, { 'content-md5': md5b64(buf) });
    assert.equal(ok.status, 200, ok.text);
    assert.equal(ok.headers.etag, etagOf(buf));
    assert.deepEqual(await listParts(key, id), [{ number: 1, etag: etagOf(buf), size: buf.length }]);
    assert.equal((await req({ method: 'DELETE', key, query: { uploadId: id } })).status, 204);
  }));
});

describe('multipart rules', () => {
  it('UploadPart partNumber 0 and 10001 → 400 InvalidArgument (PartNumber), nothing stored', T, withLogs(async () => {
    const key = `pn/${randomHex(4)}.bin`;
    const id = await initUpload(key);
    for (const n of [0, 10001]) {
      const r = await uploadPart(key, id, n, randomBuf(1000));
      const xml = assertOssError(r, 400, 'InvalidArgument', `partNumber=${n}`);
      assert.equal(xmlTag(xml, 'ArgumentName'), 'PartNumber', xml);
    }
    assert.deepEqual(await listParts(key, id), []);
    // the bounds themselves are fine
    for (const n of [1, 10000]) {
      const r = await uploadPart(key, id, n, randomBuf(1000));
      assert.equal(r.status, 200, `partNumber=${n}: ${r.text}`);
    }
    assert.deepEqual((await listParts(key, id)).map(p => p.number), [1, 10000]);
    assert.equal((await req({ method: 'DELETE', key, query: { uploadId: id } })).status, 204);
  }));

  it('bad CompleteMultipartUpload requests fail with the right code and complete nothing', T, withLogs(async () => {
    const key = `cmp/${randomHex(4)}.bin`;
    const id = await initUpload(key);
    const p1 = randomBuf(150 * KiB);
    const p2 = randomBuf(50 * KiB); // the last part may be small
    assert.equal((await uploadPart(key, id, 1, p1)).status, 200);
    assert.equal((await uploadPart(key, id, 2, p2)).status, 200);
    const good = [{ number: 1, etag: etagOf(p1) }, { number: 2, etag: etagOf(p2) }];

    const cases = [
      ['wrong ETag', completeXml([{ number: 1, etag: etagOf(randomBuf(10)) }, good[1]]), 400, 'InvalidPart'],
      ['a part never uploaded', completeXml([...good, { number: 3, etag: etagOf(p2) }]), 400, 'InvalidPart'],
      ['parts out of order', completeXml([good[1], good[0]]), 400, 'InvalidPartOrder'],
      ['malformed XML', '<?xml version="1.0" encoding="UTF-8"?>\n<CompleteMultipartUpload><Part><PartNumber>1</PartNumber>', 400, 'MalformedXML'],
      ['not XML at all', 'this is not xml', 400, 'MalformedXML'],
    ];
    for (const [what, body, status, code] of cases) {
      const r = await complete(key, id, body);
      assertOssError(r, status, code, what);
      const h = await head(key);
      assert.equal(h.status, 404, `${what}: the object must not exist after a failed Complete`);
    }
    // the upload survived every failed Complete and still completes
    assert.deepEqual((await listParts(key, id)).map(p => p.number), [1, 2]);
    const ok = await complete(key, id, completeXml(good));
    assert.equal(ok.status, 200, `good Complete: ${ok.text}`);
    assert.match(ok.headers.etag || '', /^"[0-9A-F]{32}-2"$/, 'multipart ETag header');
    assert.equal(xmlTag(ok.text, 'ETag') && xmlUnescape(xmlTag(ok.text, 'ETag')), ok.headers.etag, 'ETag in XML equals the header');
    const all = Buffer.concat([p1, p2]);
    assert.equal(md5(await getBytes(key)), md5(all));
    assert.equal(ok.headers['x-oss-hash-crc64ecma'], crc64(all), 'CRC-64 of the completed object');
    // and the upload id is finished
    const again = await complete(key, id, completeXml(good));
    assertOssError(again, 404, 'NoSuchUpload', 'Complete of a completed upload');
  }));

  it('re-uploading a part number replaces it; Complete takes gaps and unquoted ETags', T, withLogs(async () => {
    const key = `reup/${randomHex(4)}.bin`;
    const id = await initUpload(key);
    const first = randomBuf(120 * KiB);
    const second = randomBuf(130 * KiB);
    const p3 = randomBuf(10 * KiB);
    assert.equal((await uploadPart(key, id, 1, first)).status, 200);
    assert.equal((await uploadPart(key, id, 1, second)).status, 200);
    assert.equal((await uploadPart(key, id, 3, p3)).status, 200);
    assert.deepEqual(await listParts(key, id), [
      { number: 1, etag: etagOf(second), size: second.length },
      { number: 3, etag: etagOf(p3), size: p3.length },
    ]);
    const stale = await complete(key, id, completeXml([{ number: 1, etag: etagOf(first) }, { number: 3, etag: etagOf(p3) }]));
    assertOssError(stale, 400, 'InvalidPart', 'Complete with the replaced part\'s ETag');
    // part numbers need not be consecutive; ETags compare without their quotes (reference/oss.md 0.6)
    const ok = await complete(key, id, completeXml([{ number: 1, etag: etagOf(second).replace(/"/g, '') }, { number: 3, etag: etagOf(p3) }]));
    assert.equal(ok.status, 200, `Complete: ${ok.text}`);
    assert.equal(md5(await getBytes(key)), md5(Buffer.concat([second, p3])));
  }));

  it('Complete where a non-last part is 50 KiB → 400 EntityTooSmall, nothing stored', T, withLogs(async () => {
    const key = `small/${randomHex(4)}.bin`;
    const id = await initUpload(key);
    const p1 = randomBuf(50 * KiB);
    const p2 = randomBuf(150 * KiB);
    assert.equal((await uploadPart(key, id, 1, p1)).status, 200, 'a small part is accepted at UploadPart time');
    assert.equal((await uploadPart(key, id, 2, p2)).status, 200);
    const r = await complete(key, id, completeXml([{ number: 1, etag: etagOf(p1) }, { number: 2, etag: etagOf(p2) }]));
    assertOssError(r, 400, 'EntityTooSmall');
    await assertAbsent(key, 'EntityTooSmall');
    assert.equal((await req({ method: 'DELETE', key, query: { uploadId: id } })).status, 204);
  }));
});

describe('keys are names, never paths', () => {
  it('keys with ../ round-trip as keys and create no file outside (or named after them inside) the data dir', T, withLogs(async () => {
    const tok = randomHex(6);
    const D = srv.dataDir;
    const keys = [
      `../../../escape-${tok}-a.txt`,
      `../../../../../../../../../../tmp/escape-${tok}-b.txt`,
      `a/../../b`,
      `a/../../b-${tok}-c`,
      `./x/./../escape-${tok}-d`,
      `..`,
    ];
    const bodies = new Map();
    const started = Date.now();
    // path with literal dots (the helper does not encode '.')
    for (const key of keys) {
      const b = randomBuf(100 + bodies.size);
      bodies.set(key, b);
      const r = await put(key, b);
      assert.equal(r.status, 200, `PUT ${JSON.stringify(key)}: ${r.status} ${r.text}`);
    }
    // the same kind of key with percent-encoded dots and slashes
    const encKey = `../../escape-${tok}-e.txt`;
    const encBody = randomBuf(321);
    const enc = await req({
      method: 'PUT', key: encKey, body: encBody,
      rawPath: `/${bucket}/%2E%2E%2F%2E%2E/escape-${tok}-e.txt`,
    });
    assert.equal(enc.status, 200, `PUT with %2E%2E: ${enc.text}`);
    bodies.set(encKey, encBody);
    // (Not through ali-oss: its HTTP client normalises dot-segments in the URL but signs the
    // raw key, so such a key can never be used through ali-oss in node.)

    for (const [key, b] of bodies) {
      const g = await req({ method: 'GET', key });
      assert.equal(g.status, 200, `GET ${JSON.stringify(key)}: ${g.status} ${g.text}`);
      assert.ok(g.body.equals(b), `GET ${JSON.stringify(key)} returned other bytes`);
    }
    const listed = [...await listKeys('..'), ...await listKeys('a/'), ...await listKeys('./')];
    for (const key of bodies.keys()) assert.ok(listed.includes(key), `listing lacks the exact key ${JSON.stringify(key)}: ${JSON.stringify(listed)}`);
    assert.ok(!listed.includes('b') && !listed.includes(`escape-${tok}-a.txt`), 'a key was normalised');

    // nothing appeared outside the data dir: where each key would land if used as a path...
    const bases = [D, path.join(D, 'objects'), path.join(D, 'tmp'), process.cwd(), testTmpRoot()];
    for (const key of bodies.keys()) {
      for (const base of bases) {
        const p = path.resolve(base, key);
        if (key === '..' || key === 'a/../../b') continue; // resolve to existing dirs / too generic; checked below
        assert.ok(!fs.existsSync(p), `${p} exists: key ${JSON.stringify(key)} was used as a path`);
      }
    }
    // ...in every ancestor of the data dir...
    for (let d = path.dirname(D); ; d = path.dirname(d)) {
      let names = [];
      try { names = fs.readdirSync(d); } catch { /* unreadable: skip */ }
      for (const name of names) {
        if (name.includes(tok)) assert.fail(`${path.join(d, name)} appeared outside the data dir`);
        if (name === 'b') {
          const st = fs.statSync(path.join(d, name));
          assert.ok(st.mtimeMs < started - 1000, `${path.join(d, name)} was created during the test`);
        }
      }
      if (d === path.dirname(d)) break;
    }
    // ...anywhere under VODUP_TEST_TMP...
    for (const f of listFilesRecursive(testTmpRoot())) {
      assert.ok(!path.basename(f).includes(tok), `${f} is named after a key`);
    }
    // ...and no file under the data dir is named after a key
    for (const f of listFilesRecursive(D)) {
      const base = path.basename(f);
      assert.ok(!base.includes('escape') && base !== 'b' && !base.includes(tok), `${f} in the data dir is named after a key`);
    }
  }));
});

describe('Expect: 100-continue', () => {
  // Sends the head of a PUT with Expect: 100-continue, and the body only after "100
  // Continue": returns the status lines seen, in order.
  async function expectPut({ key, body, forge }) {
    const r = buildSignedRequest({
      port: srv.port, creds: srv.creds, method: 'PUT', bucket, key, body, forge, headers: { expect: '100-continue' },
    });
    const lines = [`${r.method} ${r.path} HTTP/1.1`, `host: 127.0.0.1:${srv.port}`];
    for (const [k, v] of Object.entries(r.headers)) lines.push(`${k}: ${v}`);
    const sock = net.connect({ host: '127.0.0.1', port: srv.port });
    sock.write(lines.join('\r\n') + '\r\n\r\n');
    const statuses = [];
    let buf = '';
    let sentBody = false;
    await new Promise((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`no final answer; saw ${JSON.stringify(statuses)}`)), 10000 * SLOW);
      sock.on('data', d => {
        buf += d.toString('latin1');
        // one response head at a time: status line, headers, blank line
        for (let m; (m = /^HTTP\/1\.1 (\d{3})[^\r]*\r\n(?:[^\r]+\r\n)*\r\n/.exec(buf));) {
          statuses.push(Number(m[1]));
          buf = buf.slice(m[0].length);
          if (m[1] === '100') {
            sentBody = true;
            sock.write(body);
          } else {
            clearTimeout(timer);
            resolve();
            return;
          }
        }
      });
      sock.on('error', reject);
    });
    sock.destroy();
    return { statuses, sentBody };
  }

  it('a refused request is answered before the client sends its body; an accepted one gets 100 Continue first', T, withLogs(async () => {
    const key = `expect/${randomHex(4)}.bin`;
    const bad = await expectPut({ key, body: randomBuf(4000), forge: forgeOneChar });
    assert.deepEqual(bad.statuses, [403], 'a forged request must get its 403 without a 100 Continue');
    assert.equal(bad.sentBody, false);
    await assertAbsent(key, 'refused Expect PUT');
    const body = randomBuf(4000);
    const good = await expectPut({ key, body });
    assert.deepEqual(good.statuses, [100, 200]);
    assert.ok((await getBytes(key)).equals(body), 'the body sent after 100 Continue was stored');
  }));
});

describe('readers and writers', () => {
  it('a GET streaming a multipart object gets all its bytes although the object is deleted meanwhile', T, withLogs(async () => {
    const key = `stream/${randomHex(4)}.bin`;
    const data = randomBuf(24 * 1024 * KiB);
    const file = path.join(makeTmpDir('stream-'), 'src.bin');
    fs.writeFileSync(file, data);
    const c = srv.client({ bucket });
    await c.multipartUpload(key, file, { partSize: 512 * KiB, parallel: 4 });
    const { stream } = await c.getStream(key);
    const chunks = [];
    let got = 0;
    await new Promise(resolve => stream.once('data', d => { chunks.push(d); got += d.length; stream.pause(); resolve(); }));
    // The reader holds its first bytes; the object goes away (and the collector runs).
    assert.equal((await req({ method: 'DELETE', key })).status, 204);
    await head(key).then(h => assert.equal(h.status, 404));
    await sleep(1500);
    const all = await new Promise((resolve, reject) => {
      stream.on('data', d => { chunks.push(d); got += d.length; });
      stream.on('end', () => resolve(Buffer.concat(chunks)));
      stream.on('error', reject);
      stream.resume();
    });
    assert.equal(all.length, data.length, `the stream ended after ${got} of ${data.length} bytes`);
    assert.equal(crypto.createHash('md5').update(all).digest('hex'), md5(data));
    // and once the reader is done, the deleted object's files go
    await waitFor(() => listFilesRecursive(path.join(srv.dataDir, 'objects')).length < 48,
      { timeout: 10000 * SLOW, what: 'the deleted parts to be removed' });
  }));

  it('a second vodupd on the same data dir refuses to start, leaving the first one\'s writes alone', T, withLogs(async () => {
    // An upload in flight on the first server: its body is being staged in D/tmp.
    const tmp = path.join(srv.dataDir, 'tmp');
    const before = new Set(listFilesRecursive(tmp));
    const key = `locked/${randomHex(4)}.bin`;
    const { socket, connected } = openRawSignedRequest({
      port: srv.port, creds: srv.creds, method: 'PUT', bucket, key, contentLength: 200 * KiB, bodyPrefix: randomBuf(1000),
    });
    await connected;
    await waitFor(() => listFilesRecursive(tmp).some(f => !before.has(f)), { what: 'the upload to be staged' });
    const staged = listFilesRecursive(tmp).filter(f => !before.has(f));
    const r = spawnSync(vodupdPath(), ['serve', '--data-dir', srv.dataDir, '--listen', '127.0.0.1:0'],
      { encoding: 'utf8', timeout: 20000 * SLOW });
    assert.equal(r.status, 1, r.stderr);
    assert.match(r.stderr, /in use by another vodupd/);
    for (const f of staged) assert.ok(fs.existsSync(f), `${f} was removed by the second server`);
    socket.destroy();
  }));
});

describe('interrupted uploads', () => {
  it('a truncated PUT body (Content-Length 100000, 1000 bytes sent, socket destroyed) stores nothing', T, withLogs(async t => {
    const key = `trunc/${randomHex(4)}.bin`;
    const tmp = path.join(srv.dataDir, 'tmp');
    const before = new Set(listFilesRecursive(tmp));
    const { socket, connected } = openRawSignedRequest({
      port: srv.port, creds: srv.creds, method: 'PUT', bucket, key, contentLength: 100000, bodyPrefix: randomBuf(1000),
    });
    await connected;
    const staged = await stagedIn(tmp, before);
    socket.destroy();
    await waitFor(() => listFilesRecursive(tmp).length === 0, { timeout: 10000 * SLOW, what: `${tmp} to be empty` })
      .catch(() => assert.fail(`files left in D/tmp: ${listFilesRecursive(tmp)}`));
    await assertAbsent(key, 'truncated PUT');
    t.diagnostic(staged ? 'the partial body had been staged in D/tmp and was removed' : 'no staged file was seen in D/tmp (tmp check is weak)');
    // the server is still healthy
    const b = randomBuf(100);
    assert.equal((await put(key, b)).status, 200);
    assert.ok((await getBytes(key)).equals(b));
  }));

  it('a truncated UploadPart body stores no part', T, withLogs(async () => {
    const key = `truncpart/${randomHex(4)}.bin`;
    const id = await initUpload(key);
    const tmp = path.join(srv.dataDir, 'tmp');
    const before = new Set(listFilesRecursive(tmp));
    const { socket, connected } = openRawSignedRequest({
      port: srv.port, creds: srv.creds, method: 'PUT', bucket, key,
      query: [['partNumber', '1'], ['uploadId', id]], contentLength: 200 * KiB, bodyPrefix: randomBuf(50 * KiB),
    });
    await connected;
    const staged = await stagedIn(tmp, before);
    socket.destroy();
    await waitFor(() => listFilesRecursive(tmp).length === 0, { timeout: 10000 * SLOW, what: `${tmp} to be empty` })
      .catch(() => assert.fail(`files left in D/tmp: ${listFilesRecursive(tmp)}`));
    assert.deepEqual(await listParts(key, id), []);
    assert.ok(staged, 'the 50 KiB half part never appeared in D/tmp, so its cleanup was not observed');
    assert.equal((await req({ method: 'DELETE', key, query: { uploadId: id } })).status, 204);
  }));
});
