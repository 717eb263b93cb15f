// The AWS CLI (and curl for presigned URLs) against vodupd's S3 dialect, path style,
// with vodupd init's root key: buckets, objects up and down with bytes compared, listings,
// head-object, presigned GETs; the same objects through ali-oss (one namespace); and the
// refusals: a one-byte change in a signed request, an unknown key, an expired URL, a body
// that does not match its signed payload hash (docs/s3.md).

import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import crypto from 'node:crypto';
import fs from 'node:fs';
import http from 'node:http';
import path from 'node:path';
import zlib from 'node:zlib';
import {
  startVodupd, cleanupTmpDirs, withLogs, makeTmpDir, SLOW, randomHex, randomFile, md5File, xmlTag,
} from './lib/vodupd.mjs';
import { vodClient } from './lib/vod.mjs';
import { awsSession, haveAws } from './lib/awscli.mjs';
import { signV4, signedChunks } from './lib/sigv4.mjs';

const MiB = 1024 * 1024;
const T = { timeout: 300000 * SLOW };

let srv, work, env, endpoint, aws, awsFails;

/** A plain HTTP request: {status, headers, body (Buffer)}. */
function request(url, { method = 'GET', headers = {}, body } = {}) {
  return new Promise((resolve, reject) => {
    const req = http.request(url, { method, headers }, res => {
      const chunks = [];
      res.on('data', c => chunks.push(c));
      res.on('end', () => resolve({ status: res.statusCode, headers: res.headers, body: Buffer.concat(chunks) }));
    });
    req.on('error', reject);
    req.end(body);
  });
}

/** An aws-chunked body of plain chunks and a trailing checksum (STREAMING-UNSIGNED-PAYLOAD-TRAILER). */
function unsignedTrailerChunks(data, chunkSize, trailerValue) {
  const parts = [];
  for (let off = 0; off < data.length; off += chunkSize) {
    const c = data.subarray(off, off + chunkSize);
    parts.push(Buffer.from(`${c.length.toString(16)}\r\n`), c, Buffer.from('\r\n'));
  }
  parts.push(Buffer.from(`0\r\nx-amz-checksum-crc32:${trailerValue}\r\n\r\n`));
  return Buffer.concat(parts);
}

const crc32b64 = buf => { const b = Buffer.alloc(4); b.writeUInt32BE(zlib.crc32(buf)); return b.toString('base64'); };

before(withLogs(async () => {
  srv = await startVodupd();
  work = makeTmpDir('s3-awscli-');
  ({ endpoint, env, aws, awsFails } = awsSession(srv, work));
}));

after(async () => {
  if (srv) await srv.stop();
  cleanupTmpDirs();
});

describe('awscli against the S3 dialect', { skip: !haveAws && 'aws (awscli) is not installed' }, () => {
  const bucket = `s3t-${randomHex(4)}`;

  it('s3 mb makes a bucket that s3 ls lists; a second mb is BucketAlreadyOwnedByYou', T, withLogs(async () => {
    await aws(['s3', 'mb', `s3://${bucket}`]);
    const { stdout } = await aws(['s3', 'ls']);
    assert.match(stdout, new RegExp(`\\s${bucket}$`, 'm'));
    await awsFails(['s3', 'mb', `s3://${bucket}`], {}, 'BucketAlreadyOwnedByYou');
    await aws(['s3api', 'head-bucket', '--bucket', bucket]);
    await awsFails(['s3api', 'head-bucket', '--bucket', `nx-${randomHex(4)}`], {}, '404');
  }));

  it('s3 cp up and down keeps the bytes; head-object answers size and ETag', T, withLogs(async () => {
    const file = await randomFile(work, 3 * MiB + 17);
    await aws(['s3', 'cp', file, `s3://${bucket}/dir/one.bin`]);
    const back = path.join(work, 'one.back');
    await aws(['s3', 'cp', `s3://${bucket}/dir/one.bin`, back]);
    assert.equal(await md5File(back), await md5File(file));
    const head = JSON.parse((await aws(['s3api', 'head-object', '--bucket', bucket, '--key', 'dir/one.bin'])).stdout);
    assert.equal(head.ContentLength, 3 * MiB + 17);
    assert.equal(head.ETag, `"${await md5File(file)}"`);
    const range = path.join(work, 'range.back');
    await aws(['s3api', 'get-object', '--bucket', bucket, '--key', 'dir/one.bin', '--range', 'bytes=100-199', range]);
    assert.deepEqual(fs.readFileSync(range), fs.readFileSync(file).subarray(100, 200));
  }));

  it('s3 cp of 20 MiB goes in 8 MiB parts: bytes kept, ETag md5-of-md5s-3', T, withLogs(async () => {
    const file = await randomFile(work, 20 * MiB + 1);
    await aws(['s3', 'cp', file, `s3://${bucket}/big.bin`]);
    const back = path.join(work, 'big.back');
    await aws(['s3', 'cp', `s3://${bucket}/big.bin`, back]);
    assert.equal(await md5File(back), await md5File(file));
    const buf = fs.readFileSync(file);
    const partMd5s = [0, 1, 2].map(i => crypto.createHash('md5').update(buf.subarray(i * 8 * MiB, (i + 1) * 8 * MiB)).digest());
    // S3's rule: the MD5 of the parts' binary MD5s, "-N" (what S3 tools recompute)
    const want = `"${crypto.createHash('md5').update(Buffer.concat(partMd5s)).digest('hex')}-3"`;
    const head = JSON.parse((await aws(['s3api', 'head-object', '--bucket', bucket, '--key', 'big.bin'])).stdout);
    assert.equal(head.ETag, want);
    assert.equal(head.ContentLength, 20 * MiB + 1);
    // a range across the first part boundary reads through both blobs
    const range = path.join(work, 'big.range');
    await aws(['s3api', 'get-object', '--bucket', bucket, '--key', 'big.bin', '--range', `bytes=${8 * MiB - 5}-${8 * MiB + 4}`, range]);
    assert.deepEqual(fs.readFileSync(range), buf.subarray(8 * MiB - 5, 8 * MiB + 5));
    await aws(['s3', 'rm', `s3://${bucket}/big.bin`]);
  }));

  it('s3api multipart: list-parts, a part below 5 MiB is EntityTooSmall, abort ends the upload', T, withLogs(async () => {
    const key = 'mp/small-parts.bin';
    const { UploadId } = JSON.parse((await aws(['s3api', 'create-multipart-upload', '--bucket', bucket, '--key', key])).stdout);
    assert.match(UploadId, /^[0-9A-F]{32}$/);
    const p1 = await randomFile(work, 1 * MiB);
    const p2 = await randomFile(work, 1000);
    const e1 = JSON.parse((await aws(['s3api', 'upload-part', '--bucket', bucket, '--key', key, '--upload-id', UploadId,
      '--part-number', '1', '--body', p1])).stdout).ETag;
    const e2 = JSON.parse((await aws(['s3api', 'upload-part', '--bucket', bucket, '--key', key, '--upload-id', UploadId,
      '--part-number', '2', '--body', p2])).stdout).ETag;
    assert.equal(e1, `"${await md5File(p1)}"`);
    const parts = JSON.parse((await aws(['s3api', 'list-parts', '--bucket', bucket, '--key', key, '--upload-id', UploadId])).stdout);
    assert.deepEqual(parts.Parts.map(p => [p.PartNumber, p.ETag, p.Size]), [[1, e1, 1 * MiB], [2, e2, 1000]]);
    const mp = path.join(work, 'mp.json');
    fs.writeFileSync(mp, JSON.stringify({ Parts: [{ PartNumber: 1, ETag: e1 }, { PartNumber: 2, ETag: e2 }] }));
    await awsFails(['s3api', 'complete-multipart-upload', '--bucket', bucket, '--key', key, '--upload-id', UploadId,
      '--multipart-upload', `file://${mp}`], {}, 'EntityTooSmall');
    await aws(['s3api', 'abort-multipart-upload', '--bucket', bucket, '--key', key, '--upload-id', UploadId]);
    await awsFails(['s3api', 'list-parts', '--bucket', bucket, '--key', key, '--upload-id', UploadId], {}, 'NoSuchUpload');
  }));

  it('s3 ls lists with prefixes and delimiters, across pages; s3 rm deletes', T, withLogs(async () => {
    const small = path.join(work, 'small.txt');
    fs.writeFileSync(small, 'hello');
    for (const k of ['p/a', 'p/b', 'p/q/c', 'z']) await aws(['s3', 'cp', small, `s3://${bucket}/${k}`]);
    const top = (await aws(['s3', 'ls', `s3://${bucket}/p/`])).stdout;
    assert.match(top, /PRE q\//);
    assert.match(top, /\s5 a$/m);
    assert.match(top, /\s5 b$/m);
    // pages of 2: continuation tokens carry the listing on
    const all = JSON.parse((await aws(['s3api', 'list-objects-v2', '--bucket', bucket, '--page-size', '2'])).stdout);
    assert.deepEqual(all.Contents.map(o => o.Key), ['dir/one.bin', 'p/a', 'p/b', 'p/q/c', 'z']);
    const after = JSON.parse((await aws(['s3api', 'list-objects-v2', '--bucket', bucket, '--start-after', 'p/b'])).stdout);
    assert.deepEqual(after.Contents.map(o => o.Key), ['p/q/c', 'z']);
    await aws(['s3', 'rm', `s3://${bucket}/z`]);
    await awsFails(['s3api', 'head-object', '--bucket', bucket, '--key', 'z'], {}, '404');
    await awsFails(['s3api', 'get-object', '--bucket', bucket, '--key', 'z', path.join(work, 'nx')], {}, 'NoSuchKey');
  }));

  it('s3 presign gives a URL curl fetches; a one-byte change is SignatureDoesNotMatch; an expired one AccessDenied', T,
    withLogs(async () => {
      const file = await randomFile(work, 100000);
      await aws(['s3', 'cp', file, `s3://${bucket}/pre.bin`]);
      const url = (await aws(['s3', 'presign', `s3://${bucket}/pre.bin`, '--expires-in', '300'])).stdout.trim();
      const out = path.join(work, 'pre.back');
      const c = spawnSync('curl', ['-sS', '-f', '-o', out, url]);
      assert.equal(c.status, 0, String(c.stderr));
      assert.equal(await md5File(out), await md5File(file));
      const forged = url.replace('pre.bin', 'pre.bim');
      const r = await request(forged);
      assert.equal(r.status, 403);
      assert.equal(xmlTag(r.body.toString(), 'Code'), 'SignatureDoesNotMatch');
      const short = (await aws(['s3', 'presign', `s3://${bucket}/pre.bin`, '--expires-in', '1'])).stdout.trim();
      await new Promise(res => setTimeout(res, 2500));
      const e = await request(short);
      assert.equal(e.status, 403);
      assert.equal(xmlTag(e.body.toString(), 'Code'), 'AccessDenied');
      assert.match(xmlTag(e.body.toString(), 'Message'), /expired/);
    }));

  it('an unknown key is InvalidAccessKeyId; a wrong secret SignatureDoesNotMatch', T, withLogs(async () => {
    await awsFails(['s3', 'ls'], { AWS_ACCESS_KEY_ID: 'AKIANOSUCHKEY0000000' }, 'InvalidAccessKeyId');
    await awsFails(['s3', 'ls'], { AWS_SECRET_ACCESS_KEY: srv.creds.AccessKeySecret.replace(/.$/, c => c === 'a' ? 'b' : 'a') },
      'SignatureDoesNotMatch');
  }));

  it('header-signed requests: a changed signed header is refused, a body not matching its hash stores nothing', T,
    withLogs(async () => {
      const body = Buffer.from('signed payload');
      const pathname = `/${bucket}/signed.txt`;
      let h = signV4({ port: srv.port, method: 'PUT', pathname, headers: { 'x-amz-meta-note': 'one' }, body, creds: srv.creds });
      let r = await request(`${endpoint}${pathname}`, { method: 'PUT', headers: h, body });
      assert.equal(r.status, 200, r.body.toString());
      assert.equal(r.headers.etag, `"${crypto.createHash('md5').update(body).digest('hex')}"`);
      // one byte of a signed header changed after signing
      h = signV4({ port: srv.port, method: 'PUT', pathname, headers: { 'x-amz-meta-note': 'one' }, body, creds: srv.creds });
      r = await request(`${endpoint}${pathname}`, { method: 'PUT', headers: { ...h, 'x-amz-meta-note': 'onf' }, body });
      assert.equal(r.status, 403);
      assert.equal(xmlTag(r.body.toString(), 'Code'), 'SignatureDoesNotMatch');
      assert.equal(xmlTag(r.body.toString(), 'Resource'), pathname);
      assert.ok(xmlTag(r.body.toString(), 'RequestId'));
      // one byte of the body changed: the signature holds, the payload hash does not
      h = signV4({ port: srv.port, method: 'PUT', pathname, body: Buffer.from('other payload!'), creds: srv.creds });
      r = await request(`${endpoint}${pathname}`, { method: 'PUT', headers: h, body: Buffer.from('other payload?') });
      assert.equal(r.status, 400);
      assert.equal(xmlTag(r.body.toString(), 'Code'), 'XAmzContentSHA256Mismatch');
      h = signV4({ port: srv.port, method: 'GET', pathname, creds: srv.creds });
      r = await request(`${endpoint}${pathname}`, { headers: h });
      assert.equal(r.body.toString(), 'signed payload', 'the refused body replaced nothing');
      assert.equal(r.headers['x-amz-meta-note'], 'one');
      // an operation vodupd does not offer
      h = signV4({ port: srv.port, method: 'GET', pathname: `/${bucket}`, creds: srv.creds });
      r = await request(`${endpoint}/${bucket}?acl`, { headers: h });
      assert.equal(r.status, 501);
      assert.equal(xmlTag(r.body.toString(), 'Code'), 'NotImplemented');
    }));

  it('aws-chunked bodies: signed chunks and unsigned chunks with a CRC-32 trailer; a bad chunk or trailer stores nothing', T,
    withLogs(async () => {
      const data = crypto.randomBytes(200000);
      const pathname = `/${bucket}/chunked.bin`;
      const get = async () => {
        const h = signV4({ port: srv.port, method: 'GET', pathname, creds: srv.creds });
        return request(`${endpoint}${pathname}`, { headers: h });
      };
      const put = async (body, headers, payload, out = {}) => {
        const h = signV4({ port: srv.port, method: 'PUT', pathname, payload, creds: srv.creds, out,
          headers: { 'content-encoding': 'aws-chunked', 'x-amz-decoded-content-length': String(data.length), ...headers } });
        return { h, out };
      };
      // signed chunks of 64 KiB
      let { h, out } = await put(null, {}, 'STREAMING-AWS4-HMAC-SHA256-PAYLOAD');
      let body = signedChunks(data, 65536, out);
      let r = await request(`${endpoint}${pathname}`, { method: 'PUT', headers: h, body });
      assert.equal(r.status, 200, r.body.toString());
      assert.deepEqual((await get()).body, data);
      // one byte of one chunk changed: its signature fails, the object stays as it was
      ({ h, out } = await put(null, {}, 'STREAMING-AWS4-HMAC-SHA256-PAYLOAD'));
      const other = Buffer.from(data); other[0] ^= 1;
      body = signedChunks(other, 65536, out);
      body[body.indexOf('\r\n') + 2 + 70000] ^= 1;
      r = await request(`${endpoint}${pathname}`, { method: 'PUT', headers: h, body });
      assert.equal(r.status, 403, r.body.toString());
      assert.equal(xmlTag(r.body.toString(), 'Code'), 'SignatureDoesNotMatch');
      assert.deepEqual((await get()).body, data);
      // unsigned chunks with a trailing checksum, as current SDKs send over TLS
      const data2 = crypto.randomBytes(200000);
      const trailer = { 'x-amz-trailer': 'x-amz-checksum-crc32', 'x-amz-decoded-content-length': String(data2.length) };
      ({ h } = await put(null, trailer, 'STREAMING-UNSIGNED-PAYLOAD-TRAILER'));
      r = await request(`${endpoint}${pathname}`, { method: 'PUT', headers: h, body: unsignedTrailerChunks(data2, 8192, crc32b64(data2)) });
      assert.equal(r.status, 200, r.body.toString());
      assert.equal(r.headers['x-amz-checksum-crc32'], crc32b64(data2));
      assert.deepEqual((await get()).body, data2);
      // a trailer that does not match the bytes: BadDigest, nothing replaced
      ({ h } = await put(null, trailer, 'STREAMING-UNSIGNED-PAYLOAD-TRAILER'));
      r = await request(`${endpoint}${pathname}`, { method: 'PUT', headers: h, body: unsignedTrailerChunks(data, 8192, crc32b64(data2)) });
      assert.equal(r.status, 400, r.body.toString());
      assert.equal(xmlTag(r.body.toString(), 'Code'), 'BadDigest');
      assert.deepEqual((await get()).body, data2);
    }));

  it('UploadAuth through AWS_SESSION_TOKEN writes its one object and nothing else', T, withLogs(async () => {
    const vod = vodClient(srv);
    const cr = await vod.request('CreateUploadVideo', { Title: 's3 upload', FileName: 'clip.mp4' }, { method: 'POST' });
    const addr = JSON.parse(Buffer.from(cr.UploadAddress, 'base64').toString());
    const auth = JSON.parse(Buffer.from(cr.UploadAuth, 'base64').toString());
    const as = { AWS_ACCESS_KEY_ID: auth.AccessKeyId, AWS_SECRET_ACCESS_KEY: auth.AccessKeySecret, AWS_SESSION_TOKEN: auth.SecurityToken };
    const file = await randomFile(work, 300000);
    const other = addr.FileName.replace(/\.mp4$/, '.other.mp4');
    await awsFails(['s3', 'cp', file, `s3://${addr.Bucket}/${other}`], as, 'AccessDenied');
    await awsFails(['s3', 'ls', `s3://${addr.Bucket}/`], as, 'AccessDenied');
    await awsFails(['s3api', 'get-object', '--bucket', addr.Bucket, '--key', addr.FileName, path.join(work, 'x')], as, 'AccessDenied');
    await awsFails(['s3', 'ls'], { ...as, AWS_SESSION_TOKEN: auth.SecurityToken.slice(0, -4) + 'AAAA' }, 'InvalidToken');
    await aws(['s3', 'cp', file, `s3://${addr.Bucket}/${addr.FileName}`], as);
    const back = path.join(work, 'clip.back');
    await aws(['s3', 'cp', `s3://${addr.Bucket}/${addr.FileName}`, back]); // the root key reads it
    assert.equal(await md5File(back), await md5File(file));
    const info = await vod.request('GetVideoInfo', { VideoId: cr.VideoId }, { method: 'POST' });
    assert.equal(info.Video.Status, 'UploadSucc');
  }));

  it('one namespace: ali-oss reads what S3 wrote, S3 reads what ali-oss wrote', T, withLogs(async () => {
    const oss = srv.client({ bucket });
    const a = await randomFile(work, 2 * MiB + 5);
    await aws(['s3', 'cp', a, `s3://${bucket}/x/from-s3.bin`]);
    const got = await oss.get('x/from-s3.bin');
    assert.equal(crypto.createHash('md5').update(got.content).digest('hex'), await md5File(a));
    const b = await randomFile(work, 1 * MiB + 3);
    await oss.put('x/from-oss.bin', b);
    const back = path.join(work, 'from-oss.back');
    await aws(['s3', 'cp', `s3://${bucket}/x/from-oss.bin`, back]);
    assert.equal(await md5File(back), await md5File(b));
  }));

  it('s3 rb refuses a bucket with objects (BucketNotEmpty), removes an empty one', T, withLogs(async () => {
    const b2 = `s3e-${randomHex(4)}`;
    await aws(['s3', 'mb', `s3://${b2}`]);
    const small = path.join(work, 'small2.txt');
    fs.writeFileSync(small, 'x');
    await aws(['s3', 'cp', small, `s3://${b2}/k`]);
    await awsFails(['s3', 'rb', `s3://${b2}`], {}, 'BucketNotEmpty');
    await aws(['s3', 'rm', `s3://${b2}/k`]);
    await aws(['s3', 'rb', `s3://${b2}`]);
    const { stdout } = await aws(['s3', 'ls']);
    assert.doesNotMatch(stdout, new RegExp(b2));
  }));
});
