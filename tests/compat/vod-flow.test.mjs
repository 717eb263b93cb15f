// The VOD upload flow end to end, with the official SDKs as the application and the client:
// @alicloud/pop-core 1.8.0 for the VOD (2017-03-21) and STS (2015-04-01) RPC APIs, ali-oss
// 6.23.0 for the upload, and an HTTP receiver for the event callbacks.
// See ../shared/DESIGN.md "The flow" and reference/vod-sts.md §1-§8.

import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import {
  startVodupd, withLogs, makeTmpDir, SLOW, randomBuf, randomFile, md5, md5File, vodupdPath, waitFor, sleep,
  signedRequest, encodeKey,
} from './lib/vodupd.mjs';
import { stopServer, vodClient, stsClient, uploadClient, rootOss, cli } from './lib/vod.mjs';
import { startReceiver, vodSignature } from './lib/receiver.mjs';

const KiB = 1024;
const T = { timeout: 90000 * SLOW };
const EVENT_WAIT = 20000 * SLOW; // first try + a 1 s and a 2 s backoff, with room to spare
const AUTH_KEY = 'VodupTest2024Key';

// ---------------------------------------------------------------------------
// helpers (UploadAuth decoding, callbacks; the clients and the admin CLI are in lib/vod.mjs)

/** Strict standard base64 of compact JSON (no line breaks, padded): decodes and re-encodes. */
function decodeB64Json(s, what) {
  assert.equal(typeof s, 'string', `${what} must be a string`);
  assert.match(s, /^[A-Za-z0-9+/]+={0,2}$/, `${what} is not single-line standard base64: ${s}`);
  assert.equal(s.length % 4, 0, `${what} is not padded base64`);
  const text = Buffer.from(s, 'base64').toString('utf8');
  assert.equal(Buffer.from(text, 'utf8').toString('base64'), s, `${what} does not round-trip`);
  let j;
  try { j = JSON.parse(text); } catch { assert.fail(`${what} is not base64 of JSON: ${text}`); }
  return j;
}

function decodeUpload(resp) {
  return {
    addr: decodeB64Json(resp.UploadAddress, 'UploadAddress'),
    auth: decodeB64Json(resp.UploadAuth, 'UploadAuth'),
  };
}



const ISO_S = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}Z$/;
const UUID_UP = /^[0-9A-F]{8}-[0-9A-F]{4}-[0-9A-F]{4}-[0-9A-F]{4}-[0-9A-F]{12}$/;
const HEX32 = /^[0-9a-f]{32}$/;

async function setCallback(srv, url, { authSwitch = 'on', events = 'ALL' } = {}) {
  const vod = vodClient(srv);
  const r = await vod.request('SetMessageCallback', {
    CallbackType: 'HTTP', CallbackURL: url, EventTypeList: events, AuthSwitch: authSwitch, AuthKey: AUTH_KEY,
  }, { method: 'POST' });
  assert.match(r.RequestId, UUID_UP);
  const g = await vod.request('GetMessageCallback', {}, { method: 'POST' });
  assert.equal(g.MessageCallback.CallbackURL, url, JSON.stringify(g));
  assert.equal(g.MessageCallback.CallbackType, 'HTTP', JSON.stringify(g));
  assert.equal(g.MessageCallback.EventTypeList, events, JSON.stringify(g));
  assert.equal(g.MessageCallback.AuthSwitch, authSwitch, JSON.stringify(g));
}

/** Asserts a callback request: method, JSON, the X-VOD-* headers and their signature. */
function assertSignedCallback(rec, url) {
  assert.equal(rec.method, 'POST');
  assert.equal(rec.path, new URL(url).pathname);
  assert.match(String(rec.headers['content-type']), /^application\/json/);
  assert.ok(rec.body && typeof rec.body === 'object', `callback body is not JSON: ${rec.rawBody}`);
  const ts = rec.headers['x-vod-timestamp'];
  const sig = rec.headers['x-vod-signature'];
  assert.match(String(ts), /^\d{10}$/, `X-VOD-TIMESTAMP: ${ts}`);
  assert.ok(Math.abs(Number(ts) - rec.time / 1000) < 60, `X-VOD-TIMESTAMP ${ts} is not the sending time`);
  assert.match(String(sig), /^[0-9a-f]{32}$/, `X-VOD-SIGNATURE: ${sig}`);
  assert.equal(sig, vodSignature(url, ts, AUTH_KEY), 'X-VOD-SIGNATURE is not md5(url|ts|AuthKey)');
}

const fileUrl = (srv, bucket, key) => `${srv.endpoint}/${bucket}/${key.split('/').map(encodeURIComponent).join('/')}`;

// ---------------------------------------------------------------------------

let srv;
let rcv;
let work;

before(withLogs(async () => {
  srv = await startVodupd();
  rcv = await startReceiver();
  work = makeTmpDir('vod-flow-');
  await setCallback(srv, rcv.url);
}));

after(async () => {
  if (rcv) await rcv.close();
  if (srv) await stopServer(srv);
});

// The cases are independent (each filters the receiver by its own media id, (c) and (g) run
// their own vodupd), so they run concurrently.
describe('VOD upload flow', { concurrency: true }, () => {
  it('(a) CreateUploadVideo → multipart upload with UploadAuth → UploadSucc, signed FileUploadComplete, same bytes', T, withLogs(async () => {
    const vod = vodClient(srv);
    const size = 1536 * KiB;
    const file = await randomFile(work, size, 'clip-a.bin');
    const before = Date.now();
    const cr = await vod.request('CreateUploadVideo', {
      Title: 'flow (a) ünïcode', FileName: 'D:\\videos\\clip-a.MP4', FileSize: size, Description: 'the whole flow',
    }, { method: 'POST' });
    const after = Date.now();

    // The answer: four strings (reference/vod-sts.md §0, §1).
    assert.deepEqual(Object.keys(cr).sort(), ['RequestId', 'UploadAddress', 'UploadAuth', 'VideoId']);
    assert.match(cr.RequestId, UUID_UP);
    assert.match(cr.VideoId, HEX32);
    const { addr, auth } = decodeUpload(cr);

    // UploadAddress {Endpoint (with scheme), Bucket, FileName}
    assert.deepEqual(Object.keys(addr).sort(), ['Bucket', 'Endpoint', 'FileName']);
    assert.equal(addr.Endpoint, srv.endpoint);
    assert.match(addr.Bucket, /^outin-[0-9a-f]{32}$/);
    const m = /^sv\/([0-9a-f]{8}-([0-9a-f]+))\/\1\.mp4$/.exec(addr.FileName);
    assert.ok(m, `FileName ${addr.FileName} is not sv/<8hex>-<hex ms>/<same>.mp4`);
    const keyMs = parseInt(m[2], 16);
    assert.ok(keyMs >= Math.floor(before / 1000) * 1000 - 1000 && keyMs <= after + 1000, `creation ms ${keyMs} not near now`);

    // UploadAuth {SecurityToken, AccessKeyId, ExpireUTCTime, AccessKeySecret, Expiration, Region}
    assert.deepEqual(Object.keys(auth).sort(),
      ['AccessKeyId', 'AccessKeySecret', 'Expiration', 'ExpireUTCTime', 'Region', 'SecurityToken']);
    assert.match(auth.AccessKeyId, /^STS\.[A-Za-z0-9]{8,}$/);
    assert.notEqual(auth.AccessKeyId, srv.creds.AccessKeyId);
    assert.ok(typeof auth.AccessKeySecret === 'string' && auth.AccessKeySecret.length >= 20, 'AccessKeySecret too short');
    assert.notEqual(auth.AccessKeySecret, srv.creds.AccessKeySecret);
    assert.ok(typeof auth.SecurityToken === 'string' && auth.SecurityToken.length >= 32, 'SecurityToken too short');
    assert.equal(auth.Expiration, '3000', 'Expiration is the lifetime in seconds, as a string');
    assert.match(auth.ExpireUTCTime, ISO_S);
    const exp = Date.parse(auth.ExpireUTCTime);
    assert.ok(exp >= before + 3000e3 - 2000 && exp <= after + 3000e3 + 2000, `ExpireUTCTime ${auth.ExpireUTCTime} is not now + 3000 s`);
    assert.equal(auth.Region, 'cn-hangzhou');

    const info0 = await vod.request('GetVideoInfo', { VideoId: cr.VideoId });
    assert.equal(info0.Video.Status, 'Uploading');
    assert.equal(info0.Video.VideoId, cr.VideoId);

    // The client uploads with ali-oss: multipart, 256 KiB parts, 3 in parallel.
    const up = uploadClient({ addr, auth });
    const progress = [];
    const res = await up.multipartUpload(addr.FileName, file, {
      partSize: 256 * KiB, parallel: 3, progress: p => { progress.push(p); },
    });
    assert.equal(res.res.status, 200);
    assert.equal(res.name, addr.FileName);
    assert.equal(progress.at(-1), 1);

    const info = await vod.request('GetVideoInfo', { VideoId: cr.VideoId });
    assert.match(info.RequestId, UUID_UP);
    assert.equal(info.Video.VideoId, cr.VideoId);
    assert.equal(info.Video.Title, 'flow (a) ünïcode');
    assert.equal(info.Video.Status, 'UploadSucc');
    assert.equal(Number(info.Video.Size), size);

    // The event: FileUploadComplete, signed with the AuthKey.
    const [ev] = await rcv.waitFor(1, EVENT_WAIT, r => r.body?.VideoId === cr.VideoId);
    assertSignedCallback(ev, rcv.url);
    assert.equal(ev.body.EventType, 'FileUploadComplete');
    assert.equal(ev.body.VideoId, cr.VideoId);
    assert.equal(ev.body.Status, 'success');
    assert.equal(ev.body.Size, size);
    assert.equal(ev.body.FileUrl, fileUrl(srv, addr.Bucket, addr.FileName));
    assert.equal(ev.body.FileURL, undefined, 'FileUploadComplete spells it FileUrl');
    assert.match(ev.body.EventTime, ISO_S);
    assert.ok(Math.abs(Date.parse(ev.body.EventTime) - Date.now()) < 120e3, `EventTime ${ev.body.EventTime}`);
    assert.equal(ev.status, 200);
    await sleep(1500); // a delivered event is not sent again
    assert.equal(rcv.matching(r => r.body?.VideoId === cr.VideoId).length, 1, 'an acknowledged event came again');

    // The object holds exactly the file's bytes (read with the root key).
    const got = await rootOss(srv, addr.Bucket).get(addr.FileName);
    assert.equal(got.res.status, 200);
    assert.equal(got.content.length, size);
    assert.equal(md5(got.content), await md5File(file));

    // GetVideoList shows it.
    const list = await vod.request('GetVideoList', { Status: 'UploadSucc', PageSize: 100 });
    const ids = (list.VideoList?.Video ?? []).map(v => v.VideoId);
    assert.ok(ids.includes(cr.VideoId), `GetVideoList lacks ${cr.VideoId}: ${JSON.stringify(list)}`);
  }));

  it('(b) the receiver answers 500, then 200: the event comes twice with the same body', T, withLogs(async () => {
    const vod = vodClient(srv);
    const cr = await vod.request('CreateUploadVideo', { Title: 'flow (b)', FileName: 'b.mov' }, { method: 'POST' });
    const { addr, auth } = decodeUpload(cr);
    const mine = r => r.body?.VideoId === cr.VideoId;
    let n = 0;
    rcv.setResponder(r => (mine(r) ? (++n === 1 ? 500 : 200) : undefined));
    try {
      const body = randomBuf(200 * KiB);
      const put = await uploadClient({ addr, auth }).put(addr.FileName, body);
      assert.equal(put.res.status, 200);
      const evs = await rcv.waitFor(2, EVENT_WAIT, mine);
      assert.deepEqual(evs.map(e => e.status), [500, 200]);
      assert.equal(evs[1].rawBody, evs[0].rawBody, 'a retry must send the same body');
      for (const e of evs) assertSignedCallback(e, rcv.url);
      assert.equal(evs[0].body.EventType, 'FileUploadComplete');
      assert.equal(evs[0].body.Size, body.length);
      assert.equal(evs[0].body.Status, 'success');
      assert.ok(evs[1].time - evs[0].time >= 900, `the retry came after ${evs[1].time - evs[0].time} ms, before the 1 s backoff`);
      await sleep(2500);
      assert.equal(rcv.matching(mine).length, 2, 'the event came again after its 200');
    } finally {
      rcv.setResponder(null);
    }
  }));

  it('(e) CreateUploadImage → put → GetImageInfo Normal, ImageUploadComplete with FileURL', T, withLogs(async () => {
    const vod = vodClient(srv);
    const cr = await vod.request('CreateUploadImage', { ImageType: 'default', ImageExt: 'png', Title: 'poster' }, { method: 'POST' });
    assert.match(cr.RequestId, UUID_UP);
    assert.match(cr.ImageId, HEX32);
    const { addr, auth } = decodeUpload(cr);
    assert.equal(addr.Endpoint, srv.endpoint);
    assert.match(addr.Bucket, /^outin-[0-9a-f]{32}$/);
    assert.equal(addr.FileName, `image/default/${cr.ImageId.toUpperCase()}.png`);
    assert.equal(cr.FileURL, fileUrl(srv, addr.Bucket, addr.FileName));
    assert.ok(typeof cr.ImageURL === 'string' && cr.ImageURL.startsWith('http'), `ImageURL ${cr.ImageURL}`);
    assert.match(auth.AccessKeyId, /^STS\./);
    assert.equal(auth.Expiration, '3000');

    const before = await vod.request('GetImageInfo', { ImageId: cr.ImageId });
    assert.equal(before.ImageInfo.ImageId, cr.ImageId);
    assert.equal(before.ImageInfo.Status, 'Uploading');

    // A PNG signature, an IHDR-looking chunk and noise.
    const png = Buffer.concat([Buffer.from('89504e470d0a1a0a0000000d49484452', 'hex'), randomBuf(3000)]);
    const put = await uploadClient({ addr, auth }).put(addr.FileName, png, { mime: 'image/png' });
    assert.equal(put.res.status, 200);

    const info = await vod.request('GetImageInfo', { ImageId: cr.ImageId });
    assert.equal(info.ImageInfo.Status, 'Normal');
    assert.equal(info.ImageInfo.ImageId, cr.ImageId);
    if (info.ImageInfo.Mezzanine?.FileSize !== undefined) assert.equal(Number(info.ImageInfo.Mezzanine.FileSize), png.length);

    const [ev] = await rcv.waitFor(1, EVENT_WAIT, r => r.body?.ImageId === cr.ImageId);
    assertSignedCallback(ev, rcv.url);
    assert.equal(ev.body.EventType, 'ImageUploadComplete');
    assert.equal(ev.body.ImageId, cr.ImageId);
    assert.equal(ev.body.Status, 'success');
    assert.equal(ev.body.Size, png.length);
    assert.equal(ev.body.FileURL, cr.FileURL);
    assert.equal(ev.body.FileUrl, undefined, 'ImageUploadComplete spells it FileURL');
    assert.equal(ev.body.VideoId, undefined);

    const got = await rootOss(srv, addr.Bucket).get(addr.FileName);
    assert.equal(md5(got.content), md5(png));
  }));

  it('(e2) CreateUploadAttachedMedia → put → AttachedMediaUploadComplete', T, withLogs(async () => {
    const vod = vodClient(srv);
    const cr = await vod.request('CreateUploadAttachedMedia', { BusinessType: 'subtitle', MediaExt: 'vtt', Title: 'subs' }, { method: 'POST' });
    assert.match(cr.MediaId, HEX32);
    const { addr, auth } = decodeUpload(cr);
    assert.match(addr.FileName, /^subtitle\/.+\.vtt$/);
    assert.equal(cr.FileURL, fileUrl(srv, addr.Bucket, addr.FileName));
    const vtt = Buffer.from('WEBVTT\n\n00:00.000 --> 00:01.000\nhello\n');
    const put = await uploadClient({ addr, auth }).put(addr.FileName, vtt);
    assert.equal(put.res.status, 200);
    const [ev] = await rcv.waitFor(1, EVENT_WAIT, r => r.body?.AttachedMediaId === cr.MediaId);
    assertSignedCallback(ev, rcv.url);
    assert.equal(ev.body.EventType, 'AttachedMediaUploadComplete');
    assert.equal(ev.body.Status, 'success');
    assert.equal(ev.body.Size, vtt.length);
    assert.equal(ev.body.FileURL, cr.FileURL);
  }));

  it('(f) RefreshUploadVideo: new credentials, same address; the multipart upload goes on from its parts', T, withLogs(async () => {
    const vod = vodClient(srv);
    const cr = await vod.request('CreateUploadVideo', { Title: 'flow (f)', FileName: 'f.mp4' }, { method: 'POST' });
    const first = decodeUpload(cr);
    const size = 700 * KiB;
    const file = await randomFile(work, size, 'clip-f.bin');
    const PART = 256 * KiB;
    const key = first.addr.FileName;

    // Two parts with the first credentials.
    const c1 = uploadClient(first);
    const init = await c1.initMultipartUpload(key);
    const uploadId = init.uploadId;
    assert.ok(uploadId);
    const p1 = await c1.uploadPart(key, uploadId, 1, file, 0, PART);
    const p2 = await c1.uploadPart(key, uploadId, 2, file, PART, 2 * PART);

    // Refresh.
    const rr = await vod.request('RefreshUploadVideo', { VideoId: cr.VideoId }, { method: 'POST' });
    assert.match(rr.RequestId, UUID_UP);
    assert.equal(rr.VideoId, cr.VideoId);
    const second = decodeUpload(rr);
    assert.deepEqual(second.addr, first.addr, 'RefreshUploadVideo keeps the address');
    assert.match(second.auth.AccessKeyId, /^STS\./);
    assert.notEqual(second.auth.AccessKeyId, first.auth.AccessKeyId);
    assert.notEqual(second.auth.AccessKeySecret, first.auth.AccessKeySecret);
    assert.notEqual(second.auth.SecurityToken, first.auth.SecurityToken);
    assert.equal(second.auth.Expiration, '3000');
    assert.ok(Date.parse(second.auth.ExpireUTCTime) >= Date.parse(first.auth.ExpireUTCTime));

    // The new credentials see the parts uploaded with the old ones, and finish the upload.
    const c2 = uploadClient(second);
    const lp = await c2.listParts(key, uploadId);
    assert.equal(lp.res.status, 200);
    const parts = (Array.isArray(lp.parts) ? lp.parts : [lp.parts]).map(p => ({ n: Number(p.PartNumber), etag: p.ETag, size: Number(p.Size) }));
    assert.deepEqual(parts.map(p => p.n), [1, 2]);
    assert.deepEqual(parts.map(p => p.size), [PART, PART]);
    assert.equal(parts[0].etag.replace(/"/g, ''), p1.etag.replace(/"/g, ''));
    assert.equal(parts[1].etag.replace(/"/g, ''), p2.etag.replace(/"/g, ''));
    const p3 = await c2.uploadPart(key, uploadId, 3, file, 2 * PART, size);
    const done = await c2.completeMultipartUpload(key, uploadId, [
      { number: 1, etag: p1.etag }, { number: 2, etag: p2.etag }, { number: 3, etag: p3.etag },
    ]);
    assert.equal(done.res.status, 200);

    const info = await vod.request('GetVideoInfo', { VideoId: cr.VideoId });
    assert.equal(info.Video.Status, 'UploadSucc');
    assert.equal(Number(info.Video.Size), size);
    const got = await rootOss(srv, first.addr.Bucket).get(key);
    assert.equal(md5(got.content), await md5File(file));
    const [ev] = await rcv.waitFor(1, EVENT_WAIT, r => r.body?.VideoId === cr.VideoId);
    assert.equal(ev.body.Size, size);
  }));

  it('(d) a RAM user assumes a VOD role; the temporary keys create the video and the upload completes', T, withLogs(async () => {
    const user = cli(srv.dataDir, 'user', 'create', 'uploader', '--policy', 'AliyunSTSAssumeRoleAccess');
    assert.equal(user.UserName, 'uploader');
    assert.ok(user.AccessKeyId && user.AccessKeySecret);
    const role = cli(srv.dataDir, 'role', 'create', 'vod-uploader', '--policy', 'AliyunVODFullAccess');
    assert.equal(role.RoleName, 'vod-uploader');
    assert.equal(role.Arn, `acs:ram::${srv.creds.AccountId}:role/vod-uploader`);

    const before = Date.now();
    const ar = await stsClient(srv, user).request('AssumeRole', {
      RoleArn: role.Arn, RoleSessionName: 'web-client-1', DurationSeconds: 900,
    }, { method: 'POST' });
    assert.match(ar.RequestId, UUID_UP);
    const c = ar.Credentials;
    assert.match(c.AccessKeyId, /^STS\.[A-Za-z0-9]+$/);
    assert.ok(c.AccessKeySecret && c.SecurityToken, JSON.stringify(ar));
    assert.match(c.Expiration, ISO_S);
    const exp = Date.parse(c.Expiration);
    assert.ok(exp >= before + 900e3 - 2000 && exp <= Date.now() + 900e3 + 2000, `Expiration ${c.Expiration} is not now + 900 s`);
    assert.equal(ar.AssumedRoleUser.Arn, `${role.Arn}/web-client-1`);
    assert.match(ar.AssumedRoleUser.AssumedRoleId, /:web-client-1$/);

    // The client SDK, holding only the temporary keys, calls CreateUploadVideo itself.
    const vod = vodClient(srv, c, c.SecurityToken);
    const cr = await vod.request('CreateUploadVideo', { Title: 'sts upload', FileName: 'phone.mov' }, { method: 'POST' });
    assert.match(cr.VideoId, HEX32);
    const { addr, auth } = decodeUpload(cr);
    assert.notEqual(auth.AccessKeyId, c.AccessKeyId, 'the UploadAuth is its own credential');
    const body = randomBuf(150 * KiB);
    const put = await uploadClient({ addr, auth }).put(addr.FileName, body);
    assert.equal(put.res.status, 200);

    const info = await vod.request('GetVideoInfo', { VideoId: cr.VideoId });
    assert.equal(info.Video.Status, 'UploadSucc');
    assert.equal(Number(info.Video.Size), body.length);
    // The root key sees the same video (it belongs to the account).
    const rinfo = await vodClient(srv).request('GetVideoInfo', { VideoId: cr.VideoId });
    assert.equal(rinfo.Video.Status, 'UploadSucc');
    const [ev] = await rcv.waitFor(1, EVENT_WAIT, r => r.body?.VideoId === cr.VideoId);
    assert.equal(ev.body.EventType, 'FileUploadComplete');
    assert.equal(ev.body.Size, body.length);
  }));

  it('(c) an undelivered event survives a restart of vodupd and is delivered after it', T, withLogs(async () => {
    const rcv2 = await startReceiver({ defaultStatus: 500 });
    let s1 = await startVodupd();
    let s2;
    try {
      await setCallback(s1, rcv2.url);
      const vod = vodClient(s1);
      const cr = await vod.request('CreateUploadVideo', { Title: 'flow (c)', FileName: 'c.mkv' }, { method: 'POST' });
      const { addr, auth } = decodeUpload(cr);
      const body = randomBuf(120 * KiB);
      await uploadClient({ addr, auth }).put(addr.FileName, body);
      const mine = r => r.body?.VideoId === cr.VideoId;

      // Refused once (500), then vodupd stops with the event still in its outbox.
      const [refused] = await rcv2.waitFor(1, EVENT_WAIT, mine);
      assert.equal(refused.status, 500);
      await stopServer(s1); // SIGTERM, exit status 0
      const triesBefore = rcv2.matching(mine).length;

      const pending = cli(s1.dataDir, 'events', 'list');
      assert.ok(Array.isArray(pending), JSON.stringify(pending));
      const e = pending.find(x => x.MediaId === cr.VideoId);
      assert.ok(e, `events list lacks the undelivered event: ${JSON.stringify(pending)}`);
      assert.equal(e.EventType, 'FileUploadComplete');
      assert.equal(e.AccountId, s1.creds.AccountId);
      assert.ok(e.Attempts >= 1, `Attempts ${e.Attempts}`);
      assert.equal(e.Url, rcv2.url);
      assert.match(String(e.LastError), /500/);

      // Nothing is sent while vodupd is down.
      await sleep(1500);
      assert.equal(rcv2.matching(mine).length, triesBefore);

      rcv2.setDefault(200);
      s2 = await startVodupd({ dataDir: s1.dataDir, creds: s1.creds });
      await waitFor(() => rcv2.matching(r => mine(r) && r.status === 200).length === 1,
        { timeout: EVENT_WAIT, what: 'the event after the restart' });
      const ok = rcv2.matching(r => mine(r) && r.status === 200)[0];
      assertSignedCallback(ok, rcv2.url);
      assert.equal(ok.rawBody, refused.rawBody, 'the event sent after the restart is the one queued before it');
      assert.equal(ok.body.EventType, 'FileUploadComplete');
      assert.equal(ok.body.Size, body.length);

      // Delivered: the outbox forgets it.
      await waitFor(() => !cli(s1.dataDir, 'events', 'list').some(x => x.MediaId === cr.VideoId),
        { timeout: 10000 * SLOW, what: 'the outbox to drop the delivered event' });
      const info = await vodClient(s2).request('GetVideoInfo', { VideoId: cr.VideoId });
      assert.equal(info.Video.Status, 'UploadSucc');
    } finally {
      if (s2) await stopServer(s2);
      else if (s1.running) await stopServer(s1);
      await rcv2.close();
    }
  }));

  it('(i) with --callback-deny-private, callbacks to loopback are refused, not sent', T, async () => {
    const rcv5 = await startReceiver();
    const s5 = await startVodupd({ extraArgs: ['--callback-deny-private'] });
    try {
      await setCallback(s5, rcv5.url);
      const cr = await vodClient(s5).request('CreateUploadVideo', { Title: 'flow (i)', FileName: 'i.mp4' }, { method: 'POST' });
      const up = decodeUpload(cr);
      await uploadClient(up).put(up.addr.FileName, randomBuf(110 * KiB));
      let e;
      for (let i = 0; i < 40 && !(e && e.Attempts >= 1); i++) {
        await sleep(250);
        e = cli(s5.dataDir, 'events', 'list').find(x => x.MediaId === cr.VideoId);
      }
      assert.ok(e && e.Attempts >= 1, `the event was not tried: ${JSON.stringify(e)}`);
      assert.ok(e.LastError, 'a refused callback records why');
      assert.equal(rcv5.requests.length, 0, 'nothing may reach the loopback receiver');
    } finally {
      await stopServer(s5);
      await rcv5.close();
    }
  });

  it('(g) the event is sent as soon as the upload completes, not at the sender\'s next idle re-check', T, async () => {
    const rcv3 = await startReceiver();
    const s3 = await startVodupd();
    try {
      await setCallback(s3, rcv3.url); // kicks the sender: it finds nothing and goes back to sleep
      await sleep(1000);
      const cr = await vodClient(s3).request('CreateUploadVideo', { Title: 'flow (g)', FileName: 'g.mp4' }, { method: 'POST' });
      const up = decodeUpload(cr);
      await uploadClient(up).put(up.addr.FileName, randomBuf(110 * KiB));
      const done = Date.now();
      const [ev] = await rcv3.waitFor(1, EVENT_WAIT, r => r.body?.VideoId === cr.VideoId);
      const latency = ev.time - done;
      assert.ok(latency < 2000 + 1000 * SLOW, `the first try came ${latency} ms after the upload completed`);
    } finally {
      await stopServer(s3);
      await rcv3.close();
    }
  });

  // A browser cannot set Host: ali-oss's browser build with an IP endpoint reaches vodupd's own
  // address with a bucket-less path, signed over /<bucket>/<key>; a credential scoped to one
  // object names the bucket (reference/README.md item 1). Its own vodupd: the ASan build dies on it.
  it('(h) a browser-style upload (bucket-less path on vodupd\'s own address) with UploadAuth is accepted', T, async () => {
    const s4 = await startVodupd();
    try {
      const cr = await vodClient(s4).request('CreateUploadVideo', { Title: 'browser', FileName: 'web.webm' }, { method: 'POST' });
      const { addr, auth } = decodeUpload(cr);
      const body = randomBuf(5 * KiB);
      const r = await signedRequest({
        port: s4.port, method: 'PUT', bucket: addr.Bucket, key: addr.FileName, rawPath: `/${encodeKey(addr.FileName)}`,
        body, creds: auth, headers: { 'x-oss-security-token': auth.SecurityToken, 'content-type': 'video/webm' },
      });
      assert.equal(r.status, 200, r.text);
      const info = await vodClient(s4).request('GetVideoInfo', { VideoId: cr.VideoId });
      assert.equal(info.Video.Status, 'UploadSucc');
      assert.equal(Number(info.Video.Size), body.length);
    } finally {
      await s4.kill();
    }
  });
});
