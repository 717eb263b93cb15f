// CopyObject and UploadPartCopy in the OSS dialect (x-oss-copy-source, issue 14), through
// ali-oss against a vodupd the test starts: copy within and across buckets, metadata COPY
// and REPLACE (ali-oss sends REPLACE with `meta`), an object copied onto itself, the
// x-oss-copy-source-if-* conditions (304 for a CopyObject, as OSS answers and ali-oss
// accepts), uploadPartCopy through multipartUploadCopy, and the source read with the
// caller's own rights: a temporary key whose policy reaches one source is AccessDenied on
// another, UploadAuth keys on any. Bytes compared each time. Before the copy work every
// copy here answered 501 NotImplemented.

import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import {
  startVodupd, cleanupTmpDirs, withLogs, SLOW, randomBuf, randomHex, md5,
} from './lib/vodupd.mjs';
import { vodClient, stsClient, uploadClient, cli } from './lib/vod.mjs';

const KiB = 1024;
const T = { timeout: 120000 * SLOW };

let srv;

before(withLogs(async () => {
  srv = await startVodupd();
}));

after(async () => {
  if (srv) await srv.stop();
  cleanupTmpDirs();
});

async function rejectsWith(promise, status, code) {
  await assert.rejects(promise, err => {
    assert.equal(err.status, status, `expected ${status} ${code}, got ${err.status} ${err.code}: ${err.message}`);
    assert.equal(err.code, code, `expected ${code}, got ${err.code}: ${err.message}`);
    return true;
  });
}

describe('ali-oss copy and uploadPartCopy', () => {
  const A = `ocp-a-${randomHex(4)}`, B = `ocp-b-${randomHex(4)}`;
  const small = randomBuf(70 * KiB + 5), big = randomBuf(700 * KiB + 11);
  let a, b;

  before(async () => {
    a = srv.client({ bucket: A });
    b = srv.client({ bucket: B, v4: true });
    await a.putBucket(A);
    await a.putBucket(B);
    await a.put('src/small.bin', small, { mime: 'video/mp4', meta: { who: 'alice' } });
    await a.put('src/big.bin', big);
  });

  it('copy within a bucket and across buckets keeps bytes, ETag and metadata (COPY)', T, withLogs(async () => {
    const src = await a.head('src/small.bin');
    const r = await a.copy('copies/small.bin', 'src/small.bin');
    assert.equal(r.res.status, 200);
    assert.equal(r.data.etag, src.res.headers.etag);
    assert.ok(!Number.isNaN(new Date(r.data.lastModified).getTime()), r.data.lastModified);
    const got = await a.get('copies/small.bin');
    assert.equal(md5(got.content), md5(small));
    assert.equal(got.res.headers['content-type'], 'video/mp4');
    assert.equal(got.res.headers['x-oss-meta-who'], 'alice');
    // across buckets, V4-signed, with the source bucket named
    await b.copy('from-a.bin', 'src/big.bin', A);
    assert.equal(md5((await b.get('from-a.bin')).content), md5(big));
    // the copy owns its bytes: the source's deletion leaves it whole
    await a.put('tmp/x.bin', small);
    await b.copy('from-tmp.bin', 'tmp/x.bin', A);
    await a.delete('tmp/x.bin');
    assert.equal(md5((await b.get('from-tmp.bin')).content), md5(small));
  }));

  it('meta makes ali-oss send REPLACE: the copy takes the request\'s metadata; onto itself it updates the metadata only', T, withLogs(async () => {
    await a.copy('copies/replaced.bin', 'src/small.bin', { meta: { who: 'bob' }, headers: { 'Content-Type': 'text/plain' } });
    const h = await a.head('copies/replaced.bin');
    assert.equal(h.res.headers['x-oss-meta-who'], 'bob');
    assert.equal(h.res.headers['content-type'], 'text/plain');
    // OSS copies an object onto itself with REPLACE (a metadata update) and with COPY
    await a.put('self.bin', big);
    const before = await a.head('self.bin');
    await a.copy('self.bin', 'self.bin', { meta: { state: 'renamed' } });
    const after = await a.head('self.bin');
    assert.equal(after.res.headers['x-oss-meta-state'], 'renamed');
    assert.equal(after.res.headers.etag, before.res.headers.etag);
    assert.equal(md5((await a.get('self.bin')).content), md5(big));
    const again = await a.copy('self.bin', 'self.bin');
    assert.equal(again.res.status, 200);
    assert.equal((await a.head('self.bin')).res.headers['x-oss-meta-state'], 'renamed');
  }));

  it('x-oss-copy-source-if-*: If-Match and If-Unmodified-Since fail 412, If-None-Match and If-Modified-Since 304; nothing is copied', T, withLogs(async () => {
    const src = await a.head('src/small.bin');
    const etag = src.res.headers.etag, t = new Date(src.res.headers['last-modified']).getTime();
    await rejectsWith(a.copy('cond/1', 'src/small.bin', { headers: { 'If-Match': '"0123"' } }), 412, 'PreconditionFailed');
    await rejectsWith(a.copy('cond/2', 'src/small.bin', { headers: { 'If-Unmodified-Since': new Date(t - 3600e3).toUTCString() } }),
      412, 'PreconditionFailed');
    const nm = await a.copy('cond/3', 'src/small.bin', { headers: { 'If-None-Match': etag } });
    assert.equal(nm.res.status, 304);
    const ms = await a.copy('cond/4', 'src/small.bin', { headers: { 'If-Modified-Since': new Date(t + 3600e3).toUTCString() } });
    assert.equal(ms.res.status, 304);
    const list = await a.list({ prefix: 'cond/' });
    assert.equal((list.objects ?? []).length, 0, 'a stopped copy wrote nothing');
    const ok = await a.copy('cond/ok', 'src/small.bin', { headers: { 'If-Match': etag } });
    assert.equal(ok.res.status, 200);
  }));

  it('refusals in OSS\'s codes: no such source, a bad directive, a versionId', T, withLogs(async () => {
    await rejectsWith(a.copy('x', 'nope.bin'), 404, 'NoSuchKey');
    await rejectsWith(a.copy('x', 'a', `nx-${randomHex(4)}`), 404, 'NoSuchBucket');
    await rejectsWith(a.copy('x', 'src/small.bin', { headers: { 'x-oss-metadata-directive': 'MOVE' } }), 400, 'InvalidArgument');
    await rejectsWith(a.copy('x', 'src/small.bin', { versionId: 'v1' }), 501, 'NotImplemented');
  }));

  it('uploadPartCopy: multipartUploadCopy in 200 KiB ranges, and one part by hand with a range', T, withLogs(async () => {
    const r = await b.multipartUploadCopy('mp/big.bin', { sourceKey: 'src/big.bin', sourceBucketName: A }, { partSize: 200 * KiB });
    assert.equal(r.res.status, 200);
    const got = await b.get('mp/big.bin');
    assert.equal(md5(got.content), md5(big));
    assert.match(got.res.headers.etag, /-4"$/, 'four parts');
    const { uploadId } = await a.initMultipartUpload('mp/hand.bin');
    const p1 = await a.uploadPartCopy('mp/hand.bin', uploadId, 1, `0-${100 * KiB - 1}`, { sourceKey: 'src/big.bin', sourceBucketName: A });
    assert.match(p1.etag, /^"[0-9A-F]{32}"$/);
    const p2 = await a.uploadPartCopy('mp/hand.bin', uploadId, 2, `${100 * KiB}-${big.length - 1}`, { sourceKey: 'src/big.bin', sourceBucketName: A });
    await rejectsWith(a.uploadPartCopy('mp/hand.bin', uploadId, 3, `0-${big.length}`, { sourceKey: 'src/big.bin', sourceBucketName: A }),
      400, 'InvalidArgument');
    await a.completeMultipartUpload('mp/hand.bin', uploadId, [{ number: 1, etag: p1.etag }, { number: 2, etag: p2.etag }]);
    assert.equal(md5((await a.get('mp/hand.bin')).content), md5(big));
  }));

  it('the source is read with the caller\'s rights: STS keys reach one source only; UploadAuth keys none', T, withLogs(async () => {
    await a.put('secret/s.bin', small);
    const user = cli(srv.dataDir, 'user', 'create', 'oss-copier', '--policy', 'AliyunSTSAssumeRoleAccess');
    const role = cli(srv.dataDir, 'role', 'create', 'oss-copy-role', '--policy', 'AliyunOSSFullAccess');
    const Policy = JSON.stringify({ Version: '1', Statement: [
      { Effect: 'Allow', Action: ['oss:CopyObject', 'oss:GetObject'], Resource: [`acs:oss:*:*:${B}/in/*`] },
      { Effect: 'Allow', Action: ['oss:GetObject'], Resource: [`acs:oss:*:*:${A}/src/*`] },
    ] });
    const { Credentials: c } = await stsClient(srv, user).request('AssumeRole',
      { RoleArn: role.Arn, RoleSessionName: 'oss-copy', DurationSeconds: 900, Policy }, { method: 'POST' });
    const sts = srv.client({ bucket: B, accessKeyId: c.AccessKeyId, accessKeySecret: c.AccessKeySecret, stsToken: c.SecurityToken });
    await sts.copy('in/ok.bin', 'src/small.bin', A);
    assert.equal(md5((await sts.get('in/ok.bin')).content), md5(small));
    await rejectsWith(sts.copy('in/stolen.bin', 'secret/s.bin', A), 403, 'AccessDenied');
    await rejectsWith(b.head('in/stolen.bin'), 404, 'NoSuchKey');

    const cr = await vodClient(srv).request('CreateUploadVideo', { Title: 'oss copy scope', FileName: 'c.mp4' }, { method: 'POST' });
    const addr = JSON.parse(Buffer.from(cr.UploadAddress, 'base64').toString());
    const auth = JSON.parse(Buffer.from(cr.UploadAuth, 'base64').toString());
    const up = uploadClient({ addr, auth });
    const other = addr.FileName.replace(/\.mp4$/, '.other.mp4');
    const root = srv.client({ bucket: addr.Bucket });
    await root.put(other, small);
    await rejectsWith(up.copy(addr.FileName, other), 403, 'AccessDenied');
    await rejectsWith(up.copy(addr.FileName, 'src/small.bin', A), 403, 'AccessDenied');
    const { uploadId } = await up.initMultipartUpload(addr.FileName);
    await rejectsWith(up.uploadPartCopy(addr.FileName, uploadId, 1, '0-99', { sourceKey: other, sourceBucketName: addr.Bucket }),
      403, 'AccessDenied');
  }));
});
