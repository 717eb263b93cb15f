// Refusals of the VOD / STS RPC API and of the object store towards upload credentials, each
// with the code and HTTP status the real services use (reference/vod-sts.md §0, §1, §5, §6, §8;
// reference/oss.md §1.2). The RPC requests go through the official @alicloud/pop-core 1.8.0
// where it can produce them, and are signed by hand (StringToSign =
// METHOD&%2F&percentEncode(sorted canonical query), HMAC-SHA1 with secret + "&") where the
// test needs a request pop-core would never send (a replay, a stale Timestamp, a forgery).

import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import crypto from 'node:crypto';
import http from 'node:http';
import { Readable } from 'node:stream';
import {
  startVodupd, withLogs, SLOW, randomBuf, randomHex, vodupdPath, sleep, signedRequest, assertOssError, forgeOneChar,
} from '../compat/lib/vodupd.mjs';
import { stopServer, vodClient, stsClient, uploadClient, rootOss, cli } from '../compat/lib/vod.mjs';

const KiB = 1024;
const T = { timeout: 60000 * SLOW };
const UUID_UP = /^[0-9A-F]{8}-[0-9A-F]{4}-[0-9A-F]{4}-[0-9A-F]{4}-[0-9A-F]{12}$/;

// ---------------------------------------------------------------------------
// RPC helpers


/** Asserts the error JSON shape {RequestId, HostId, Code, Message}. */
function assertRpcErrorBody(body, code, ctx) {
  assert.ok(body && typeof body === 'object', `${ctx}: error body is not JSON`);
  assert.equal(body.Code, code, `${ctx}: ${JSON.stringify(body)}`);
  assert.match(String(body.RequestId), UUID_UP, `${ctx}: RequestId ${body.RequestId}`);
  assert.equal(typeof body.HostId, 'string', `${ctx}: no HostId in ${JSON.stringify(body)}`);
  assert.ok(typeof body.Message === 'string' && body.Message.length > 0, `${ctx}: no Message in ${JSON.stringify(body)}`);
}

/** Asserts that a pop-core call rejects with this HTTP status and error Code; returns the body. */
async function rpcRejects(promise, status, code) {
  let caught;
  await assert.rejects(promise, err => { caught = err; return true; }, `expected ${status} ${code}, the call succeeded`);
  const got = caught.entry?.response?.statusCode;
  assert.equal(caught.code, code, `expected ${status} ${code}, got ${got} ${caught.code}: ${caught.message}`);
  if (status !== undefined) assert.equal(got, status, `expected ${status} ${code}, got ${got} ${caught.code}`);
  assertRpcErrorBody(caught.data, code, code);
  return caught.data;
}

const percentEncode = s => encodeURIComponent(String(s)).replace(/[!'()*]/g, c => '%' + c.charCodeAt(0).toString(16).toUpperCase());
const isoSeconds = d => d.toISOString().replace(/\.\d{3}Z$/, 'Z');

/**
 * A hand-signed RPC query string. params: the action's own; opts: creds, timestamp (Date),
 * nonce, version, method (signed method), token.
 */
function signRpcQuery(action, params, { creds, timestamp = new Date(), nonce = crypto.randomUUID(), version = '2017-03-21', method = 'GET', token } = {}) {
  const all = {
    Action: action, Format: 'JSON', Version: version, AccessKeyId: creds.AccessKeyId, SignatureMethod: 'HMAC-SHA1',
    SignatureVersion: '1.0', SignatureNonce: nonce, Timestamp: isoSeconds(timestamp), ...params,
  };
  if (token) all.SecurityToken = token;
  const canon = Object.keys(all).sort().map(k => `${percentEncode(k)}=${percentEncode(all[k])}`).join('&');
  const stringToSign = `${method}&${percentEncode('/')}&${percentEncode(canon)}`;
  const sig = crypto.createHmac('sha1', `${creds.AccessKeySecret}&`).update(stringToSign, 'utf8').digest('base64');
  return `${canon}&Signature=${percentEncode(sig)}`;
}

/** GET /?query on the server; returns {status, body (parsed JSON), text}. */
function rawRpcGet(srv, query) {
  return new Promise((resolve, reject) => {
    const req = http.request({ host: '127.0.0.1', port: srv.port, method: 'GET', path: `/?${query}`, agent: false }, res => {
      const chunks = [];
      res.on('data', c => chunks.push(c));
      res.on('end', () => {
        const text = Buffer.concat(chunks).toString('utf8');
        let body;
        try { body = JSON.parse(text); } catch { body = undefined; }
        resolve({ status: res.statusCode, body, text, headers: res.headers });
      });
    });
    req.on('error', reject);
    req.end();
  });
}

function assertRawRpcError(r, status, code) {
  assert.equal(r.status, status, `expected ${status} ${code}, got ${r.status}: ${r.text}`);
  assertRpcErrorBody(r.body, code, code);
}

// ---------------------------------------------------------------------------
// Upload helpers

function decodeUpload(resp) {
  const j = s => JSON.parse(Buffer.from(s, 'base64').toString('utf8'));
  return { addr: j(resp.UploadAddress), auth: j(resp.UploadAuth) };
}

/** Asserts that an ali-oss call rejects with this status and OSS error code. */
async function ossRejects(promise, status, code) {
  let caught;
  await assert.rejects(promise, err => { caught = err; return true; }, `expected ${status} ${code}, the request succeeded`);
  assert.equal(caught.code, code, `expected ${status} ${code}, got ${caught.status} ${caught.code}: ${caught.message}`);
  assert.equal(caught.status, status, `expected ${status} ${code}, got ${caught.status} ${caught.code}`);
  return caught;
}


/** A part body for ali-oss's _uploadPart in node (a stream with its size). */
const partData = buf => ({ stream: Readable.from([buf]), size: buf.length });

async function createVideo(srv, title = 'v', fileName = 'v.mp4') {
  const cr = await vodClient(srv).request('CreateUploadVideo', { Title: title, FileName: fileName }, { method: 'POST' });
  return { id: cr.VideoId, ...decodeUpload(cr) };
}

// ---------------------------------------------------------------------------

let srv;      // default --upload-auth-ttl (3000 s)
let short;    // --upload-auth-ttl 10
let shortVideo; // created on `short` first thing, for the wall-clock expiry test

before(withLogs(async () => {
  short = await startVodupd({ extraArgs: ['--upload-auth-ttl', '10'] });
  shortVideo = await createVideo(short, 'expires soon', 'soon.mp4');
  srv = await startVodupd();
}));

after(async () => {
  await Promise.all([srv && stopServer(srv), short && stopServer(short)]);
}, { timeout: 60000 * SLOW });

describe('VOD errors', { concurrency: true }, () => {
  // ---- the object store refuses upload credentials outside their one object ----------

  describe('UploadAuth credentials on the object store', () => {
    let a;  // a video whose object is uploaded
    let b;  // another video of the same account

    before(withLogs(async () => {
      a = await createVideo(srv, 'a', 'a.mp4');
      b = await createVideo(srv, 'b', 'b.mp4');
      assert.equal(a.addr.Bucket, b.addr.Bucket, 'both videos live in the account VOD bucket');
      const put = await uploadClient(a).put(a.addr.FileName, randomBuf(4 * KiB));
      assert.equal(put.res.status, 200);
    }));

    // Authenticated, but the request is outside the credential's scope: OSS answers 403
    // AccessDenied (reference/oss.md §1.2), as it does for an STS policy that does not allow it.
    it('may not write another key (another video\'s object, or a sibling key)', T, withLogs(async () => {
      await ossRejects(uploadClient(a).put(b.addr.FileName, randomBuf(KiB)), 403, 'AccessDenied');
      await ossRejects(uploadClient(a).put(`${a.addr.FileName}.extra`, randomBuf(KiB)), 403, 'AccessDenied');
      await ossRejects(uploadClient(a).put('elsewhere/x.mp4', randomBuf(KiB)), 403, 'AccessDenied');
      await ossRejects(uploadClient(a).initMultipartUpload(b.addr.FileName), 403, 'AccessDenied');
      // b's own credentials still can: the refusal above was about scope, not the key.
      const ok = await uploadClient(b).put(b.addr.FileName, randomBuf(KiB));
      assert.equal(ok.res.status, 200);
      // Nothing was written where a was refused.
      await ossRejects(rootOss(srv, a.addr.Bucket).head(`${a.addr.FileName}.extra`), 404, 'NoSuchKey');
    }));

    // Its own vodupd: on the server it names, the request below reads freed memory (ASan
    // build: heap-use-after-free, the process dies), which must not take the others down.
    it('may not write into another bucket of the account', T, async () => {
      const own = await startVodupd();
      try {
        const v = await createVideo(own, 'other bucket', 'o.mp4');
        const other = `vt-other-${randomHex(4)}`;
        await rootOss(own).putBucket(other);
        await ossRejects(uploadClient(v, { bucket: other }).put(v.addr.FileName, randomBuf(KiB)), 403, 'AccessDenied');
        await ossRejects(rootOss(own, other).head(v.addr.FileName), 404, 'NoSuchKey');
        assert.ok(own.running, 'vodupd died');
      } finally {
        await own.kill();
      }
    });

    it('may not read (GET, HEAD) or delete their own object', T, withLogs(async () => {
      await ossRejects(uploadClient(a).get(a.addr.FileName), 403, 'AccessDenied');
      await ossRejects(uploadClient(a).head(a.addr.FileName), 403, 'AccessDenied');
      await ossRejects(uploadClient(a).delete(a.addr.FileName), 403, 'AccessDenied');
      // The object is there (the root key reads it).
      const h = await rootOss(srv, a.addr.Bucket).head(a.addr.FileName);
      assert.equal(h.res.status, 200);
    }));

    it('may not list the bucket or its multipart uploads', T, withLogs(async () => {
      await ossRejects(uploadClient(a).list({ 'max-keys': 10 }), 403, 'AccessDenied');
      await ossRejects(uploadClient(a).listV2({ 'max-keys': 10 }), 403, 'AccessDenied');
      await ossRejects(uploadClient(a).listUploads({}), 403, 'AccessDenied');
    }));

    // Without x-oss-security-token an STS.* key id is not a key the store knows:
    // 403 InvalidAccessKeyId (reference/oss.md §1.2, "unknown AccessKeyId"); the official upload
    // SDKs treat it as "refresh the credential" (reference/vod-sts.md §1, side channels).
    it('are refused without their SecurityToken (InvalidAccessKeyId)', T, withLogs(async () => {
      const noToken = uploadClient(a, { stsToken: undefined });
      await ossRejects(noToken.put(a.addr.FileName, randomBuf(KiB)), 403, 'InvalidAccessKeyId');
    }));

    // reference/oss.md §1.2: AccessKeyIdAndSecurityTokenNotMatch 403, InvalidSecurityToken 403.
    it('are refused with another credential\'s token, or a tampered token', T, withLogs(async () => {
      const swapped = uploadClient({ addr: a.addr, auth: { ...a.auth, SecurityToken: b.auth.SecurityToken } });
      await ossRejects(swapped.put(a.addr.FileName, randomBuf(KiB)), 403, 'AccessKeyIdAndSecurityTokenNotMatch');
      const t = a.auth.SecurityToken;
      const mid = Math.floor(t.length / 2);
      const tampered = t.slice(0, mid) + (t[mid] === 'A' ? 'B' : 'A') + t.slice(mid + 1);
      const bad = uploadClient({ addr: a.addr, auth: { ...a.auth, SecurityToken: tampered } });
      await ossRejects(bad.put(a.addr.FileName, randomBuf(KiB)), 403, 'InvalidSecurityToken');
    }));

    it('are refused with a forged signature (SignatureDoesNotMatch)', T, withLogs(async () => {
      const r = await signedRequest({
        port: srv.port, method: 'PUT', bucket: a.addr.Bucket, key: a.addr.FileName, body: randomBuf(KiB),
        creds: a.auth, headers: { 'x-oss-security-token': a.auth.SecurityToken }, forge: forgeOneChar,
      });
      assertOssError(r, 403, 'SignatureDoesNotMatch', 'forged UploadAuth signature');
    }));

    // They are scoped to one object: no RAM action is allowed to them (403 Forbidden.RAM).
    it('cannot call the VOD API (Forbidden.RAM)', T, withLogs(async () => {
      const asUpload = vodClient(srv, a.auth, a.auth.SecurityToken);
      await rpcRejects(asUpload.request('CreateUploadVideo', { Title: 'x', FileName: 'x.mp4' }, { method: 'POST' }), 403, 'Forbidden.RAM');
      await rpcRejects(asUpload.request('RefreshUploadVideo', { VideoId: a.id }, { method: 'POST' }), 403, 'Forbidden.RAM');
      await rpcRejects(asUpload.request('DeleteVideo', { VideoIds: b.id }, { method: 'POST' }), 403, 'Forbidden.RAM');
      assert.equal((await vodClient(srv).request('GetVideoInfo', { VideoId: b.id })).Video.VideoId, b.id);
    }));
  });

  // ---- expiry ------------------------------------------------------------------------

  // vodupd checks a token's expiry against the request's own signed time as well as its
  // clock (DESIGN.md, "Authorization model"). With --upload-auth-ttl 10 a request signed two
  // minutes ahead (inside the 15 min skew allowance) is past the credential's life.
  it('UploadAuth is refused when the request is signed after its ExpireUTCTime (SecurityTokenExpired)', T, withLogs(async () => {
    const v = await createVideo(short, 'signed late', 'late.mp4');
    assert.equal(v.auth.Expiration, '10');
    const exp = Date.parse(v.auth.ExpireUTCTime);
    const put = date => signedRequest({
      port: short.port, method: 'PUT', bucket: v.addr.Bucket, key: v.addr.FileName, body: randomBuf(KiB), date,
      creds: v.auth, headers: { 'x-oss-security-token': v.auth.SecurityToken },
    });
    const late = await put(new Date(exp + 60e3));
    assertOssError(late, 403, 'SecurityTokenExpired', 'request signed a minute after ExpireUTCTime');
    const early = await put(new Date()); // the same request, signed now: accepted
    assert.equal(early.status, 200, early.text);
  }));

  it('UploadAuth is refused once its lifetime has passed (--upload-auth-ttl 10, waits for it)', { timeout: 120000 * SLOW }, withLogs(async () => {
    const exp = Date.parse(shortVideo.auth.ExpireUTCTime);
    assert.equal(shortVideo.auth.Expiration, '10');
    const cl = uploadClient(shortVideo);
    // Before: the credential works (multipart started now, finished after expiry).
    const init = await cl.initMultipartUpload(shortVideo.addr.FileName);
    const wait = exp + 1500 - Date.now();
    assert.ok(wait < 12000, `ExpireUTCTime ${shortVideo.auth.ExpireUTCTime} is more than 10 s away`);
    if (wait > 0) await sleep(wait);
    await ossRejects(cl.put(shortVideo.addr.FileName, randomBuf(KiB)), 403, 'SecurityTokenExpired');
    await ossRejects(cl.listParts(shortVideo.addr.FileName, init.uploadId), 403, 'SecurityTokenExpired');
    // RefreshUploadVideo gives working credentials again.
    const rr = await vodClient(short).request('RefreshUploadVideo', { VideoId: shortVideo.id }, { method: 'POST' });
    const fresh = decodeUpload(rr);
    const lp = await uploadClient(fresh).listParts(shortVideo.addr.FileName, init.uploadId);
    assert.equal(lp.res.status, 200);
  }));

  // ---- completion closes the upload --------------------------------------------------

  it('after UploadSucc the UploadAuth writes nothing more; credentials from a later RefreshUploadVideo may upload again', T, withLogs(async () => {
    const vod = vodClient(srv);
    const v = await createVideo(srv, 'done once', 'once.mp4');
    const cl = uploadClient(v);
    const first = randomBuf(2 * KiB);
    assert.equal((await cl.put(v.addr.FileName, first)).res.status, 200);
    let info = await vod.request('GetVideoInfo', { VideoId: v.id }, { method: 'POST' });
    assert.equal(info.Video.Status, 'UploadSucc');
    // a client that lost the answer may send the very same bytes again: same answer, no change
    const retry = await cl.put(v.addr.FileName, first);
    assert.equal(retry.res.status, 200);
    assert.equal(retry.res.headers.etag, `"${crypto.createHash('md5').update(first).digest('hex').toUpperCase()}"`);
    // the same credentials cannot replace the content, nor start a multipart upload
    await ossRejects(cl.put(v.addr.FileName, randomBuf(3 * KiB)), 403, 'AccessDenied');
    await ossRejects(cl.initMultipartUpload(v.addr.FileName), 403, 'AccessDenied');
    // a retried Complete of an upload that no longer exists still learns NoSuchUpload
    await ossRejects(cl.completeMultipartUpload(v.addr.FileName, 'F'.repeat(32), [{ number: 1, etag: '"00"' }]),
      404, 'NoSuchUpload');
    const got = await rootOss(srv, v.addr.Bucket).get(v.addr.FileName);
    assert.ok(got.content.equals(first), 'the first upload\'s bytes are still there');
    info = await vod.request('GetVideoInfo', { VideoId: v.id }, { method: 'POST' });
    assert.equal(info.Video.Size, first.length);
    // the application decides to re-upload: credentials issued after the completion work
    // (the completion is recorded to the second: wait for the next one)
    await sleep(1100);
    const again = decodeUpload(await vod.request('RefreshUploadVideo', { VideoId: v.id }, { method: 'POST' }));
    info = await vod.request('GetVideoInfo', { VideoId: v.id }, { method: 'POST' });
    assert.equal(info.Video.Status, 'UploadSucc', 'a refresh alone changes nothing');
    await ossRejects(cl.put(v.addr.FileName, randomBuf(3 * KiB)), 403, 'AccessDenied'); // the old ones still not
    const second = randomBuf(3 * KiB);
    assert.equal((await uploadClient(again).put(v.addr.FileName, second)).res.status, 200);
    info = await vod.request('GetVideoInfo', { VideoId: v.id }, { method: 'POST' });
    assert.equal(info.Video.Status, 'UploadSucc');
    assert.equal(info.Video.Size, second.length);
  }));

  it('a per-media callback URL in UserData gets the same checks as SetMessageCallback (InvalidParameter)', T, withLogs(async () => {
    const vod = vodClient(srv);
    for (const url of ['ftp://example.com/x', 'http://a b', `http://x/${'a'.repeat(300)}`]) {
      await rpcRejects(vod.request('CreateUploadVideo', {
        Title: 't', FileName: 'a.mp4', UserData: JSON.stringify({ MessageCallback: { CallbackURL: url } }),
      }, { method: 'POST' }), 400, 'InvalidParameter');
    }
    const ok = await vod.request('CreateUploadVideo', {
      Title: 't', FileName: 'a.mp4', UserData: JSON.stringify({ MessageCallback: { CallbackURL: 'http://127.0.0.1:9/cb' } }),
    }, { method: 'POST' });
    assert.match(ok.VideoId, /^[0-9a-f]{32}$/);
  }));

  // ---- DeleteVideo revokes ---------------------------------------------------------

  it('DeleteVideo: the object is gone and the old UploadAuth cannot upload any more (AccessDenied)', T, withLogs(async () => {
    const vod = vodClient(srv);
    const v = await createVideo(srv, 'to delete', 'del.mp4');
    const first = uploadClient(v);
    await first.put(v.addr.FileName, randomBuf(8 * KiB));
    // The application re-opens the upload; a multipart upload is in flight on the same object.
    await sleep(1100);
    const cl = uploadClient({ addr: v.addr, auth: decodeUpload(await vod.request('RefreshUploadVideo', { VideoId: v.id }, { method: 'POST' })).auth });
    const init = await cl.initMultipartUpload(v.addr.FileName);
    const p1 = await cl._uploadPart(v.addr.FileName, init.uploadId, 1, partData(randomBuf(120 * KiB)));
    assert.ok(p1.etag);
    const root = rootOss(srv, v.addr.Bucket);
    assert.equal((await root.head(v.addr.FileName)).res.status, 200);

    const bogus = randomHex(16);
    const del = await vod.request('DeleteVideo', { VideoIds: `${v.id},${bogus}` }, { method: 'POST' });
    assert.match(del.RequestId, UUID_UP);
    assert.deepEqual(del.NonExistVideoIds, [bogus]);
    assert.deepEqual(del.ForbiddenVideoIds, []);

    await rpcRejects(vod.request('GetVideoInfo', { VideoId: v.id }), 404, 'InvalidVideo.NotFound');
    await rpcRejects(vod.request('RefreshUploadVideo', { VideoId: v.id }, { method: 'POST' }), 404, 'InvalidVideo.NotFound');
    await ossRejects(root.head(v.addr.FileName), 404, 'NoSuchKey');
    await ossRejects(cl.put(v.addr.FileName, randomBuf(KiB)), 403, 'AccessDenied');
    await ossRejects(first.put(v.addr.FileName, randomBuf(KiB)), 403, 'AccessDenied');
    await ossRejects(cl._uploadPart(v.addr.FileName, init.uploadId, 2, partData(randomBuf(KiB))), 403, 'AccessDenied');
    await ossRejects(cl.completeMultipartUpload(v.addr.FileName, init.uploadId, [{ number: 1, etag: p1.etag }]), 403, 'AccessDenied');
    await ossRejects(root.head(v.addr.FileName), 404, 'NoSuchKey');
    // Deleting it again: none of the ids exist → 404 (reference/vod-sts.md §5 DeleteVideo).
    await rpcRejects(vod.request('DeleteVideo', { VideoIds: v.id }, { method: 'POST' }), 404, 'InvalidVideo.NotFound');
  }));

  // ---- RPC authentication ------------------------------------------------------------

  it('a replayed request (same SignatureNonce) is refused: SignatureNonceUsed', T, withLogs(async () => {
    const q = signRpcQuery('GetMessageCallback', {}, { creds: srv.creds });
    const first = await rawRpcGet(srv, q);
    assert.equal(first.status, 200, first.text);
    assert.match(first.body.RequestId, UUID_UP);
    const again = await rawRpcGet(srv, q);
    assertRawRpcError(again, 400, 'SignatureNonceUsed');
    // The same call with a fresh nonce is fine.
    const fresh = await rawRpcGet(srv, signRpcQuery('GetMessageCallback', {}, { creds: srv.creds }));
    assert.equal(fresh.status, 200, fresh.text);
  }));

  it('a Timestamp 20 minutes off (correctly signed) is refused: InvalidTimeStamp.Expired', T, withLogs(async () => {
    const old = await rawRpcGet(srv, signRpcQuery('GetMessageCallback', {}, { creds: srv.creds, timestamp: new Date(Date.now() - 20 * 60e3) }));
    assertRawRpcError(old, 400, 'InvalidTimeStamp.Expired');
    const future = await rawRpcGet(srv, signRpcQuery('GetMessageCallback', {}, { creds: srv.creds, timestamp: new Date(Date.now() + 20 * 60e3) }));
    assertRawRpcError(future, 400, 'InvalidTimeStamp.Expired');
    const recent = await rawRpcGet(srv, signRpcQuery('GetMessageCallback', {}, { creds: srv.creds, timestamp: new Date(Date.now() - 5 * 60e3) }));
    assert.equal(recent.status, 200, recent.text);
  }));

  it('a forged signature is refused: SignatureDoesNotMatch', T, withLogs(async () => {
    const q = signRpcQuery('GetMessageCallback', {}, { creds: srv.creds });
    const forged = q.replace(/Signature=([^&]+)$/, (_, s) => `Signature=${s[0] === 'A' ? 'B' : 'A'}${s.slice(1)}`);
    assert.notEqual(forged, q);
    assertRawRpcError(await rawRpcGet(srv, forged), 400, 'SignatureDoesNotMatch');
    // A parameter changed after signing.
    const changed = signRpcQuery('GetVideoInfo', { VideoId: 'aaaa' }, { creds: srv.creds }).replace('VideoId=aaaa', 'VideoId=bbbb');
    assertRawRpcError(await rawRpcGet(srv, changed), 400, 'SignatureDoesNotMatch');
    // pop-core with the wrong secret.
    const wrong = vodClient(srv, { AccessKeyId: srv.creds.AccessKeyId, AccessKeySecret: `${srv.creds.AccessKeySecret}x` });
    await rpcRejects(wrong.request('GetMessageCallback', {}), 400, 'SignatureDoesNotMatch');
  }));

  it('an unknown AccessKeyId is refused: InvalidAccessKeyId.NotFound', T, withLogs(async () => {
    const ghost = vodClient(srv, { AccessKeyId: `LTAI${randomHex(10)}`, AccessKeySecret: randomHex(15) });
    await rpcRejects(ghost.request('CreateUploadVideo', { Title: 't', FileName: 'f.mp4' }, { method: 'POST' }), 404, 'InvalidAccessKeyId.NotFound');
  }));

  // ---- RAM authorization -------------------------------------------------------------

  it('a RAM user without a VOD policy gets Forbidden.RAM', T, withLogs(async () => {
    const nobody = cli(srv.dataDir, 'user', 'create', 'nobody');
    assert.equal(nobody.UserName, 'nobody');
    const vod = vodClient(srv, nobody);
    await rpcRejects(vod.request('CreateUploadVideo', { Title: 't', FileName: 'f.mp4' }, { method: 'POST' }), 403, 'Forbidden.RAM');
    await rpcRejects(vod.request('GetMessageCallback', {}), 403, 'Forbidden.RAM');
  }));

  it('a RAM user with AliyunVODReadOnlyAccess can GetVideoInfo but not CreateUploadVideo or DeleteVideo', T, withLogs(async () => {
    const v = await createVideo(srv, 'readable', 'r.mp4');
    const reader = cli(srv.dataDir, 'user', 'create', 'reader', '--policy', 'AliyunVODReadOnlyAccess');
    const vod = vodClient(srv, reader);
    const info = await vod.request('GetVideoInfo', { VideoId: v.id });
    assert.equal(info.Video.VideoId, v.id);
    assert.equal(info.Video.Status, 'Uploading');
    await rpcRejects(vod.request('CreateUploadVideo', { Title: 't', FileName: 'f.mp4' }, { method: 'POST' }), 403, 'Forbidden.RAM');
    await rpcRejects(vod.request('DeleteVideo', { VideoIds: v.id }, { method: 'POST' }), 403, 'Forbidden.RAM');
    await rpcRejects(vod.request('RefreshUploadVideo', { VideoId: v.id }, { method: 'POST' }), 403, 'Forbidden.RAM');
    // Still there after the refused delete.
    assert.equal((await vodClient(srv).request('GetVideoInfo', { VideoId: v.id })).Video.VideoId, v.id);
  }));

  // ---- STS ---------------------------------------------------------------------------

  it('AssumeRole refusals: root (NoPermission), no STS policy (NoPermission), unknown role, bad duration', T, withLogs(async () => {
    const role = cli(srv.dataDir, 'role', 'create', 'err-role', '--policy', 'AliyunVODFullAccess');
    await rpcRejects(stsClient(srv, srv.creds).request('AssumeRole', { RoleArn: role.Arn, RoleSessionName: 'root-try' }, { method: 'POST' }),
      403, 'NoPermission');
    const plain = cli(srv.dataDir, 'user', 'create', 'no-sts', '--policy', 'AliyunVODFullAccess');
    await rpcRejects(stsClient(srv, plain).request('AssumeRole', { RoleArn: role.Arn, RoleSessionName: 'user-try' }, { method: 'POST' }),
      403, 'NoPermission');
    const assumer = cli(srv.dataDir, 'user', 'create', 'err-assumer', '--policy', 'AliyunSTSAssumeRoleAccess');
    const sts = stsClient(srv, assumer);
    await rpcRejects(sts.request('AssumeRole', { RoleArn: `acs:ram::${srv.creds.AccountId}:role/no-such-role`, RoleSessionName: 's1' }, { method: 'POST' }),
      404, 'EntityNotExist.Role');
    await rpcRejects(sts.request('AssumeRole', { RoleArn: role.Arn, RoleSessionName: 's1', DurationSeconds: 600 }, { method: 'POST' }),
      400, 'InvalidParameter.DurationSeconds');
    await rpcRejects(sts.request('AssumeRole', { RoleArn: 'not-an-arn', RoleSessionName: 's1' }, { method: 'POST' }),
      400, 'InvalidParameter.RoleArn');

    // The assumer's own keys carry no VOD permission.
    await rpcRejects(vodClient(srv, assumer).request('CreateUploadVideo', { Title: 't', FileName: 'f.mp4' }, { method: 'POST' }),
      403, 'Forbidden.RAM');
    // Temporary keys without their SecurityToken (reference/vod-sts.md §8: MissingSecurityToken).
    const ar = await sts.request('AssumeRole', { RoleArn: role.Arn, RoleSessionName: 'tmp' }, { method: 'POST' });
    const tmp = ar.Credentials;
    await rpcRejects(vodClient(srv, tmp).request('GetMessageCallback', {}), undefined, 'MissingSecurityToken');
    // With it they work; a forged token is refused.
    const ok = await vodClient(srv, tmp, tmp.SecurityToken).request('GetMessageCallback', {});
    assert.match(ok.RequestId, UUID_UP);
    const t = tmp.SecurityToken;
    const mid = Math.floor(t.length / 2);
    const tampered = t.slice(0, mid) + (t[mid] === 'A' ? 'B' : 'A') + t.slice(mid + 1);
    await rpcRejects(vodClient(srv, tmp, tampered).request('GetMessageCallback', {}), 400, 'InvalidSecurityToken.Malformed');
  }));

  // ---- VOD parameters and missing media ---------------------------------------------

  it('unknown media: InvalidVideo.NotFound (GetVideoInfo, RefreshUploadVideo), NoSuchResource (GetImageInfo)', T, withLogs(async () => {
    const vod = vodClient(srv);
    const ghost = randomHex(16);
    await rpcRejects(vod.request('GetVideoInfo', { VideoId: ghost }), 404, 'InvalidVideo.NotFound');
    await rpcRejects(vod.request('RefreshUploadVideo', { VideoId: ghost }, { method: 'POST' }), 404, 'InvalidVideo.NotFound');
    await rpcRejects(vod.request('GetImageInfo', { ImageId: ghost }), 404, 'NoSuchResource');
    // An image id is not a video, nor a video id an image.
    const img = await vod.request('CreateUploadImage', { ImageType: 'cover' }, { method: 'POST' });
    await rpcRejects(vod.request('GetVideoInfo', { VideoId: img.ImageId }), 404, 'InvalidVideo.NotFound');
    const v = await createVideo(srv, 'not an image', 'x.mp4');
    await rpcRejects(vod.request('GetImageInfo', { ImageId: v.id }), 404, 'NoSuchResource');
  }));

  it('CreateUploadVideo: no Title → MissingParameter, FileName a.exe → InvalidFileName.Extension', T, withLogs(async () => {
    const vod = vodClient(srv);
    const e1 = await rpcRejects(vod.request('CreateUploadVideo', { FileName: 'a.mp4' }, { method: 'POST' }), 400, 'MissingParameter');
    assert.match(e1.Message, /Title/);
    const e2 = await rpcRejects(vod.request('CreateUploadVideo', { Title: 't' }, { method: 'POST' }), 400, 'MissingParameter');
    assert.match(e2.Message, /FileName/);
    await rpcRejects(vod.request('CreateUploadVideo', { Title: 't', FileName: 'a.exe' }, { method: 'POST' }), 400, 'InvalidFileName.Extension');
    await rpcRejects(vod.request('CreateUploadVideo', { Title: 't', FileName: 'movie' }, { method: 'POST' }), 400, 'InvalidFileName.Extension');
    await rpcRejects(vod.request('CreateUploadVideo', { Title: 't', FileName: 'mp4.d/clip' }, { method: 'POST' }), 400, 'InvalidFileName.Extension');
    // GET works as well as POST, and the extension is case-insensitive.
    const ok = await vod.request('CreateUploadVideo', { Title: 't', FileName: 'CLIP.MOV' }, { method: 'GET' });
    assert.match(ok.VideoId, /^[0-9a-f]{32}$/);
  }));

  it('SetMessageCallback refuses an AuthKey without upper, lower case and digits (InvalidParameter)', T, withLogs(async () => {
    const vod = vodClient(srv);
    for (const key of ['alllowercase1', 'ALLUPPER1', 'NoDigitsHere', 'Aa1' + 'x'.repeat(30)]) {
      await rpcRejects(vod.request('SetMessageCallback', {
        CallbackType: 'HTTP', CallbackURL: 'http://127.0.0.1:9/cb', EventTypeList: 'ALL', AuthSwitch: 'on', AuthKey: key,
      }, { method: 'POST' }), 400, 'InvalidParameter');
    }
  }));
});
