// DeleteObjects and ListMultipartUploads, both dialects over the one core
// (core/delete.c, core/list.c): awscli `s3api delete-objects`, `s3 rm --recursive`,
// `s3api list-multipart-uploads` and ali-oss `deleteMulti`, `listUploads`; the refusals
// each dialect gives (malformed XML, more than 1000 keys, no Content-MD5 / checksum, a
// body that does not match it) through requests signed by curl (--aws-sigv4) and by the
// test's own OSS V1 signer; upload credentials refused per key (docs/s3.md, docs/oss.md).

import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import {
  startVodupd, cleanupTmpDirs, withLogs, makeTmpDir, SLOW, randomHex, makeClient, signedRequest, md5b64,
  xmlTag, xmlTags,
} from './lib/vodupd.mjs';
import { vodClient } from './lib/vod.mjs';
import { awsSession, haveAws } from './lib/awscli.mjs';

const T = { timeout: 300000 * SLOW };

let srv, work, aws, awsFails, endpoint;

before(withLogs(async () => {
  srv = await startVodupd();
  work = makeTmpDir('s3-dl-');
  ({ endpoint, aws, awsFails } = awsSession(srv, work, { partMiB: 0 }));
}));

after(async () => {
  if (srv) await srv.stop();
  cleanupTmpDirs();
});

/** The keys of bucket (all of them, root key). */
async function keysOf(bucket) {
  const oss = makeClient(srv, { bucket });
  const r = await oss.listV2({ 'max-keys': 1000 });
  return (r.objects || []).map(o => o.name).sort();
}

/** A SigV4 request signed by curl (an independent signer), its payload hash the body's
 * unless headers say otherwise: {status, body}. */
function curlS3({ method = 'POST', pathname, body, headers = {}, creds = srv.creds, host }) {
  headers = { 'x-amz-content-sha256': crypto.createHash('sha256').update(body).digest('hex'), ...headers };
  const bodyFile = path.join(work, `body-${randomHex(4)}`);
  fs.writeFileSync(bodyFile, body);
  const args = ['-sS', '-o', '-', '-w', '\n%{http_code}', '-X', method, '--aws-sigv4', 'aws:amz:us-east-1:s3',
    '--user', `${creds.AccessKeyId}:${creds.AccessKeySecret}`, '--data-binary', `@${bodyFile}`,
    '-H', 'Content-Type: application/xml'];
  for (const [k, v] of Object.entries(headers)) args.push('-H', `${k}: ${v}`);
  // host: virtual-host style, the name resolved to the server by curl itself (*.localhost
  // and made-up names do not resolve on every machine)
  if (host) args.push('--resolve', `${host}:${srv.port}:127.0.0.1`);
  const url = host ? `http://${host}:${srv.port}${pathname}` : `${endpoint}${pathname}`;
  const c = spawnSync('curl', [...args, url], { encoding: 'utf8', timeout: 60000 * SLOW });
  assert.equal(c.status, 0, c.stderr);
  const nl = c.stdout.lastIndexOf('\n');
  return { status: Number(c.stdout.slice(nl + 1)), body: c.stdout.slice(0, nl) };
}

const deleteXml = (keys, quiet = false) =>
  `<?xml version="1.0" encoding="UTF-8"?><Delete><Quiet>${quiet}</Quiet>` +
  keys.map(k => `<Object><Key>${k}</Key></Object>`).join('') + '</Delete>';

async function putKeys(bucket, keys) {
  const oss = makeClient(srv, { bucket });
  for (const k of keys) await oss.put(k, Buffer.from(`body of ${k}`));
}

describe('DeleteObjects and ListMultipartUploads', { skip: !haveAws && 'aws (awscli) is not installed' }, () => {
  const bucket = `dl-${randomHex(4)}`;

  before(async () => {
    await aws(['s3api', 'create-bucket', '--bucket', bucket]);
  });

  it('s3api delete-objects deletes the keys it names (a missing one counts as deleted); Quiet lists none', T, withLogs(async () => {
    await putKeys(bucket, ['d/a', 'd/b', 'd/c', 'keep']);
    const del = { Objects: [{ Key: 'd/a' }, { Key: 'd/b' }, { Key: 'd/none' }] };
    const out = JSON.parse((await aws(['s3api', 'delete-objects', '--bucket', bucket, '--delete', JSON.stringify(del)])).stdout);
    assert.deepEqual(out.Deleted.map(d => d.Key).sort(), ['d/a', 'd/b', 'd/none']);
    assert.equal(out.Errors, undefined);
    assert.deepEqual(await keysOf(bucket), ['d/c', 'keep']);
    const quiet = (await aws(['s3api', 'delete-objects', '--bucket', bucket, '--delete',
      JSON.stringify({ Objects: [{ Key: 'd/c' }], Quiet: true })])).stdout.trim();
    assert.equal(quiet === '' ? undefined : JSON.parse(quiet).Deleted, undefined);
    assert.deepEqual(await keysOf(bucket), ['keep']);
  }));

  // awscli 1.x deletes key by key here (DeleteObject); DeleteObjects is what s3api and the
  // SDKs' batch deletes use (above, and ali-oss below)
  it('s3 rm --recursive empties a prefix', T, withLogs(async () => {
    const keys = Array.from({ length: 12 }, (_, i) => `rm/${i}.txt`);
    await putKeys(bucket, keys);
    await aws(['s3', 'rm', '--recursive', `s3://${bucket}/rm/`]);
    assert.deepEqual((await keysOf(bucket)).filter(k => k.startsWith('rm/')), []);
    assert.ok((await keysOf(bucket)).includes('keep'));
  }));

  it('S3 refuses a DeleteObjects without Content-MD5 or checksum, with a wrong one, malformed, or over 1000 keys', T, withLogs(async () => {
    await putKeys(bucket, ['r/1']);
    const p = `/${bucket}?delete=`; // curl signs a bare "delete" unlike S3 ("delete=")
    const body = deleteXml(['r/1']);
    let r = curlS3({ pathname: p, body });
    assert.equal(r.status, 400, r.body);
    assert.equal(xmlTag(r.body, 'Code'), 'InvalidRequest');
    r = curlS3({ pathname: p, body, headers: { 'Content-MD5': md5b64(Buffer.from('other')) } });
    assert.equal(r.status, 400, r.body);
    assert.equal(xmlTag(r.body, 'Code'), 'BadDigest');
    r = curlS3({ pathname: p, body, headers: { 'x-amz-checksum-crc32': 'AAAAAA==' } });
    assert.equal(r.status, 400, r.body);
    assert.equal(xmlTag(r.body, 'Code'), 'BadDigest');
    // a signed payload hash that is not the body's
    r = curlS3({ pathname: p, body, headers: { 'Content-MD5': md5b64(Buffer.from(body)),
      'x-amz-content-sha256': crypto.createHash('sha256').update('other').digest('hex') } });
    assert.equal(r.status, 400, r.body);
    assert.equal(xmlTag(r.body, 'Code'), 'XAmzContentSHA256Mismatch');
    assert.deepEqual((await keysOf(bucket)).filter(k => k.startsWith('r/')), ['r/1'], 'nothing deleted');
    const bad = '<Delete><Object><Key>r/1</Key></Object>';
    r = curlS3({ pathname: p, body: bad, headers: { 'Content-MD5': md5b64(Buffer.from(bad)) } });
    assert.equal(r.status, 400, r.body);
    assert.equal(xmlTag(r.body, 'Code'), 'MalformedXML');
    const many = deleteXml(Array.from({ length: 1001 }, (_, i) => `r/${i}`));
    r = curlS3({ pathname: p, body: many, headers: { 'Content-MD5': md5b64(Buffer.from(many)) } });
    assert.equal(r.status, 400, r.body);
    assert.equal(xmlTag(r.body, 'Code'), 'MalformedXML');
    assert.deepEqual((await keysOf(bucket)).filter(k => k.startsWith('r/')), ['r/1'], 'nothing deleted');
    // 1000 keys are allowed, with a right Content-MD5
    const most = deleteXml(Array.from({ length: 1000 }, (_, i) => `r/${i}`), true);
    r = curlS3({ pathname: p, body: most, headers: { 'Content-MD5': md5b64(Buffer.from(most)) } });
    assert.equal(r.status, 200, r.body);
    assert.deepEqual(xmlTags(r.body, 'Error'), []);
    assert.deepEqual((await keysOf(bucket)).filter(k => k.startsWith('r/')), []);
  }));

  it('ali-oss deleteMulti deletes (quiet too); OSS refuses no Content-MD5, malformed XML, over 1000 keys', T, withLogs(async () => {
    await putKeys(bucket, ['o/a', 'o/b', 'o/c d', 'o/e']);
    const oss = makeClient(srv, { bucket });
    const r = await oss.deleteMulti(['o/a', 'o/b', 'o/none']);
    assert.deepEqual(r.deleted.map(d => d.Key ?? d).sort(), ['o/a', 'o/b', 'o/none']);
    const q = await oss.deleteMulti(['o/e'], { quiet: true });
    assert.deepEqual(q.deleted ?? [], []);
    const send = (body, headers = {}, query = {}) => signedRequest({ port: srv.port, method: 'POST', bucket,
      query: { delete: '', ...query }, headers: { 'Content-Type': 'application/xml', ...headers }, body, creds: srv.creds });
    // encoding-type=url encodes the keys of the answer
    const encBody = deleteXml(['o/c d']);
    const enc = await send(encBody, { 'Content-MD5': md5b64(Buffer.from(encBody)) }, { 'encoding-type': 'url' });
    assert.equal(enc.status, 200, enc.text);
    assert.equal(xmlTag(enc.text, 'EncodingType'), 'url');
    assert.deepEqual(xmlTags(enc.text, 'Key'), ['o/c%20d']);
    assert.deepEqual((await keysOf(bucket)).filter(k => k.startsWith('o/')), []);

    await putKeys(bucket, ['o/1']);
    const body = deleteXml(['o/1']);
    let x = await send(body);
    assert.equal(x.status, 400, x.text);
    assert.equal(xmlTag(x.text, 'Code'), 'MissingArgument');
    x = await send(body, { 'Content-MD5': md5b64(Buffer.from('other')) });
    assert.equal(x.status, 400, x.text);
    assert.equal(xmlTag(x.text, 'Code'), 'InvalidDigest');
    const bad = '<Delete><Object><Key>o/1</Key></Object>';
    x = await send(bad, { 'Content-MD5': md5b64(Buffer.from(bad)) });
    assert.equal(x.status, 400, x.text);
    assert.equal(xmlTag(x.text, 'Code'), 'MalformedXML');
    const many = deleteXml(Array.from({ length: 1001 }, (_, i) => `o/${i}`));
    x = await send(many, { 'Content-MD5': md5b64(Buffer.from(many)) });
    assert.equal(x.status, 400, x.text);
    assert.equal(xmlTag(x.text, 'Code'), 'MalformedXML');
    assert.deepEqual((await keysOf(bucket)).filter(k => k.startsWith('o/')), ['o/1'], 'nothing deleted');
  }));

  it('upload credentials get AccessDenied for each key outside their scope; the other keys are untouched', T, withLogs(async () => {
    const vod = vodClient(srv);
    const cr = await vod.request('CreateUploadVideo', { Title: 'dl scope', FileName: 'dl.mp4' }, { method: 'POST' });
    const addr = JSON.parse(Buffer.from(cr.UploadAddress, 'base64').toString());
    const auth = JSON.parse(Buffer.from(cr.UploadAuth, 'base64').toString());
    const B = addr.Bucket, own = addr.FileName;
    const others = [own.replace(/\.mp4$/, '.x1'), own.replace(/\.mp4$/, '.x2')];
    await putKeys(B, others);
    const as = { AWS_ACCESS_KEY_ID: auth.AccessKeyId, AWS_SECRET_ACCESS_KEY: auth.AccessKeySecret, AWS_SESSION_TOKEN: auth.SecurityToken };
    const del = { Objects: others.map(Key => ({ Key })) };
    const out = JSON.parse((await aws(['s3api', 'delete-objects', '--bucket', B, '--delete', JSON.stringify(del)], as)).stdout);
    assert.equal(out.Deleted, undefined);
    assert.deepEqual(out.Errors.map(e => [e.Key, e.Code]).sort(), others.map(k => [k, 'AccessDenied']).sort());
    const oss = makeClient(srv, { bucket: B, accessKeyId: auth.AccessKeyId, accessKeySecret: auth.AccessKeySecret,
      stsToken: auth.SecurityToken });
    const r = await oss.deleteMulti(others);
    assert.deepEqual(r.deleted ?? [], []);
    for (const k of others) assert.ok((await keysOf(B)).includes(k), `${k} is still there`);
    // the root key deletes them in one request
    await aws(['s3api', 'delete-objects', '--bucket', B, '--delete', JSON.stringify(del)]);
    for (const k of others) assert.ok(!(await keysOf(B)).includes(k), `${k} is gone`);
  }));

  it('virtual-host addressing (Host: <bucket>.<any name>): put, get, DeleteObjects, ListMultipartUploads', T, withLogs(async () => {
    const host = `${bucket}.s3.vodup.test`;
    const data = `virtual host ${randomHex(8)}`;
    let r = curlS3({ method: 'PUT', pathname: '/vh/a.txt', body: data, host });
    assert.equal(r.status, 200, r.body);
    assert.ok((await keysOf(bucket)).includes('vh/a.txt'), 'stored in the bucket the Host names');
    r = curlS3({ method: 'GET', pathname: '/vh/a.txt', body: '', host });
    assert.equal(r.status, 200, r.body);
    assert.equal(r.body, data);
    const { UploadId } = JSON.parse((await aws(['s3api', 'create-multipart-upload', '--bucket', bucket, '--key', 'vh/up'])).stdout);
    r = curlS3({ method: 'GET', pathname: '/?prefix=vh&uploads=', body: '', host }); // curl 7.88 mis-signs %2F
    assert.equal(r.status, 200, r.body);
    assert.equal(xmlTag(r.body, 'Bucket'), bucket);
    assert.deepEqual(xmlTags(r.body, 'UploadId'), [UploadId]);
    const del = deleteXml(['vh/a.txt']);
    r = curlS3({ pathname: '/?delete=', body: del, headers: { 'Content-MD5': md5b64(Buffer.from(del)) }, host });
    assert.equal(r.status, 200, r.body);
    assert.deepEqual(xmlTags(r.body, 'Key'), ['vh/a.txt']);
    assert.ok(!(await keysOf(bucket)).includes('vh/a.txt'));
    await aws(['s3api', 'abort-multipart-upload', '--bucket', bucket, '--key', 'vh/up', '--upload-id', UploadId]);
  }));

  it('s3api list-multipart-uploads: prefix, delimiter, pages by key and upload id, encoding-type=url', T, withLogs(async () => {
    const b = `mu-${randomHex(4)}`;
    await aws(['s3api', 'create-bucket', '--bucket', b]);
    const create = async key => JSON.parse((await aws(['s3api', 'create-multipart-upload', '--bucket', b, '--key', key])).stdout).UploadId;
    const ids = {};
    for (const k of ['a/1', 'a/2', 'b/x y', 'top']) ids[k] = await create(k);
    ids['a/1#2'] = await create('a/1'); // two uploads of one key
    const list = async (...extra) => JSON.parse((await aws(['s3api', 'list-multipart-uploads', '--bucket', b, ...extra])).stdout || '{}');
    let r = await list();
    assert.equal(r.Uploads.length, 5);
    assert.deepEqual(r.Uploads.map(u => u.Key), ['a/1', 'a/1', 'a/2', 'b/x y', 'top']);
    assert.deepEqual(new Set(r.Uploads.filter(u => u.Key === 'a/1').map(u => u.UploadId)), new Set([ids['a/1'], ids['a/1#2']]));
    r = await list('--delimiter', '/');
    assert.deepEqual(r.CommonPrefixes.map(p => p.Prefix), ['a/', 'b/']);
    assert.deepEqual(r.Uploads.map(u => u.Key), ['top']);
    r = await list('--prefix', 'a/');
    assert.deepEqual(r.Uploads.map(u => u.Key), ['a/1', 'a/1', 'a/2']);
    // one upload a page, following NextKeyMarker and NextUploadIdMarker
    const seen = [];
    let km, im;
    for (let i = 0; i < 10; i++) {
      const page = await list('--max-uploads', '1', '--no-paginate',
        ...(km ? ['--key-marker', km] : []), ...(im ? ['--upload-id-marker', im] : []));
      for (const u of page.Uploads ?? []) seen.push(`${u.Key} ${u.UploadId}`);
      if (!page.IsTruncated) break;
      assert.equal(page.MaxUploads, 1);
      km = page.NextKeyMarker;
      im = page.NextUploadIdMarker;
    }
    assert.deepEqual(seen, (await list()).Uploads.map(u => `${u.Key} ${u.UploadId}`));
    // encoding-type=url: the keys come encoded (botocore decodes only the object listings)
    r = await list('--prefix', 'b/', '--encoding-type', 'url', '--no-paginate');
    assert.equal(r.EncodingType, 'url');
    assert.deepEqual(r.Uploads.map(u => u.Key), ['b/x%20y']);
    await awsFails(['s3api', 'list-multipart-uploads', '--bucket', b, '--max-uploads', '-1'], {}, 'InvalidArgument');
    // ali-oss lists the same uploads (one namespace), with its own listing
    const oss = makeClient(srv, { bucket: b });
    const ol = await oss.listUploads({ 'max-uploads': 1000 });
    assert.deepEqual(ol.uploads.map(u => `${u.name} ${u.uploadId}`), seen);
    const od = await oss.listUploads({ delimiter: '/' });
    assert.deepEqual(od.uploads.map(u => u.name), ['top']);
    const op = await oss.listUploads({ 'max-uploads': 2 });
    assert.equal(op.isTruncated, true);
    assert.equal(op.uploads.length, 2);
    const op2 = await oss.listUploads({ 'max-uploads': 1000, 'key-marker': op.nextKeyMarker, 'upload-id-marker': op.nextUploadIdMarker });
    assert.deepEqual([...op.uploads, ...op2.uploads].map(u => `${u.name} ${u.uploadId}`), seen);
  }));
});
