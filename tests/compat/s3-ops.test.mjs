// The S3 operations issue 14 added after the first slice, through the AWS CLI and ali-oss
// against one vodupd: conditional GET/HEAD (If-Match, If-None-Match, If-Modified-Since,
// If-Unmodified-Since: 304 and 412 in both dialects, one rule in core/cond.c) and
// GetBucketLocation (docs/s3.md).

import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import OSS from 'ali-oss';
import {
  startVodupd, cleanupTmpDirs, withLogs, makeTmpDir, SLOW, randomHex, randomFile, md5File,
} from './lib/vodupd.mjs';
import { awsSession, haveAws } from './lib/awscli.mjs';

const MiB = 1024 * 1024;
const T = { timeout: 300000 * SLOW };

let srv, work, env, endpoint, aws, awsFails;

before(withLogs(async () => {
  srv = await startVodupd();
  work = makeTmpDir('s3-ops-');
  ({ endpoint, env, aws, awsFails } = awsSession(srv, work, { partMiB: 0 }));
}));

after(async () => {
  if (srv) await srv.stop();
  cleanupTmpDirs();
});

describe('S3 operations beyond the first slice', { skip: !haveAws && 'aws (awscli) is not installed' }, () => {
  const bucket = `s3o-${randomHex(4)}`;
  let file, etag, lastModified;

  before(async () => {
    await aws(['s3api', 'create-bucket', '--bucket', bucket]);
    file = await randomFile(work, 100 * 1024 + 3);
    const { stdout } = await aws(['s3api', 'put-object', '--bucket', bucket, '--key', 'c.bin', '--body', file]);
    etag = JSON.parse(stdout).ETag;
    const head = JSON.parse((await aws(['s3api', 'head-object', '--bucket', bucket, '--key', 'c.bin'])).stdout);
    lastModified = new Date(head.LastModified);
  });

  it('S3 GET and HEAD honour If-Match and If-Unmodified-Since (412) and If-None-Match and If-Modified-Since (304)', T, withLogs(async () => {
    const out = path.join(work, 'c.back');
    const get = extra => aws(['s3api', 'get-object', '--bucket', bucket, '--key', 'c.bin', ...extra, out]);
    await get(['--if-match', etag]);
    assert.equal(await md5File(out), await md5File(file));
    await awsFails(['s3api', 'get-object', '--bucket', bucket, '--key', 'c.bin', '--if-match', '"0123"', out], {}, 'PreconditionFailed');
    const before = new Date(lastModified.getTime() - 3600e3).toISOString();
    const later = new Date(lastModified.getTime() + 3600e3).toISOString();
    await awsFails(['s3api', 'get-object', '--bucket', bucket, '--key', 'c.bin', '--if-unmodified-since', before, out], {}, 'PreconditionFailed');
    await get(['--if-unmodified-since', later]);
    // If-Match that holds wins over a failing If-Unmodified-Since (S3's documented rule)
    await get(['--if-match', etag, '--if-unmodified-since', before]);
    await awsFails(['s3api', 'get-object', '--bucket', bucket, '--key', 'c.bin', '--if-none-match', etag, out], {}, '304');
    await awsFails(['s3api', 'get-object', '--bucket', bucket, '--key', 'c.bin', '--if-modified-since', later, out], {}, '304');
    await get(['--if-none-match', '"0123"']);
    await get(['--if-modified-since', before]);
    await assert.rejects(aws(['s3api', 'head-object', '--bucket', bucket, '--key', 'c.bin', '--if-match', '"0123"']),
      err => /412|Precondition/.test(err.stderr));
    await assert.rejects(aws(['s3api', 'head-object', '--bucket', bucket, '--key', 'c.bin', '--if-none-match', etag]),
      err => /304|Not Modified/.test(err.stderr));
  }));

  it('get-bucket-location answers the server region (empty for us-east-1); a LocationConstraint body is accepted', T, withLogs(async () => {
    const loc = JSON.parse((await aws(['s3api', 'get-bucket-location', '--bucket', bucket])).stdout);
    // startVodupd's server has no --region of S3's default: the name, or null for us-east-1
    const head = await aws(['s3api', 'head-bucket', '--bucket', bucket, '--debug']);
    const region = /x-amz-bucket-region': '([^']+)'/.exec(head.stderr)?.[1];
    assert.ok(region, 'head-bucket names a region');
    assert.equal(loc.LocationConstraint ?? 'us-east-1', region);
    const other = `s3o-${randomHex(4)}`;
    await aws(['s3api', 'create-bucket', '--bucket', other, '--create-bucket-configuration', `LocationConstraint=${region === 'us-east-1' ? 'eu-west-1' : region}`]);
    await aws(['s3api', 'head-bucket', '--bucket', other]);
    await awsFails(['s3api', 'get-bucket-location', '--bucket', `nx-${randomHex(4)}`], {}, 'NoSuchBucket');
  }));

  it('the same conditions through OSS give the same outcomes', T, withLogs(async () => {
    const oss = new OSS({ endpoint, region: 'oss-cn-hangzhou', secure: false, bucket, cname: false,
      accessKeyId: srv.creds.AccessKeyId, accessKeySecret: srv.creds.AccessKeySecret });
    const ok = await oss.get('c.bin', { headers: { 'If-Match': etag } });
    assert.equal(ok.res.status, 200);
    await assert.rejects(oss.get('c.bin', { headers: { 'If-Match': '"0123"' } }), err => err.status === 412);
    const r = await oss.get('c.bin', { headers: { 'If-None-Match': etag } }).catch(e => e);
    assert.equal(r.status ?? r.res?.status, 304);
    const ok2 = await oss.get('c.bin', { headers: { 'If-Match': etag,
      'If-Unmodified-Since': new Date(lastModified.getTime() - 3600e3).toUTCString() } });
    assert.equal(ok2.res.status, 200);
  }));
});
