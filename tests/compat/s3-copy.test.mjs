// CopyObject and UploadPartCopy in the S3 dialect (issue 14), through the AWS CLI against
// a vodupd the test starts: `s3 cp s3://a s3://b` (small: CopyObject; large: awscli's
// multipart copy of UploadPartCopy ranges), `s3api copy-object` with metadata COPY and
// REPLACE, the copy onto itself, the x-amz-copy-source-if-* conditions, refusals in S3's
// codes, `s3api upload-part-copy` with ranges, the storage quota, and the source read
// with the caller's own rights: temporary keys whose policy reaches one source are
// AccessDenied on every other, UploadAuth keys on any; boto3's copy_object and managed
// (multipart) copy. Bytes compared each time.
// Before the copy work these all failed: CopyObject and UploadPartCopy answered 501.

import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import {
  startVodupd, cleanupTmpDirs, withLogs, makeTmpDir, SLOW, randomHex, randomFile, md5File,
} from './lib/vodupd.mjs';
import { vodClient, stsClient, cli } from './lib/vod.mjs';
import { awsSession, haveAws } from './lib/awscli.mjs';

const MiB = 1024 * 1024;
const T = { timeout: 300000 * SLOW };

// boto3 from Debian's python3-boto3 (the interpreter s3-tools.test.mjs uses first)
const python = ['/usr/bin/python3', 'python3'].find(p => spawnSync(p, ['-c', 'import boto3']).status === 0);
const BOTO_COPY = `
import os, sys, boto3
from boto3.s3.transfer import TransferConfig
from botocore.config import Config
endpoint, bucket = sys.argv[1:3]
s3 = boto3.client('s3', endpoint_url=endpoint, region_name='us-east-1',
                  config=Config(signature_version='s3v4', s3={'addressing_style': 'path'}))
data = os.urandom(11 * 1024 * 1024 + 5)
s3.put_object(Bucket=bucket, Key='boto/src.bin', Body=data)
r = s3.copy_object(Bucket=bucket, Key='boto/one.bin', CopySource={'Bucket': bucket, 'Key': 'boto/src.bin'})
assert s3.get_object(Bucket=bucket, Key='boto/one.bin')['Body'].read() == data, 'copy_object bytes'
print('ok copy_object', r['CopyObjectResult']['ETag'], flush=True)
mib5 = 5 * 1024 * 1024
s3.copy({'Bucket': bucket, 'Key': 'boto/src.bin'}, bucket, 'boto/managed.bin',
        Config=TransferConfig(multipart_threshold=mib5, multipart_chunksize=mib5))
got = s3.get_object(Bucket=bucket, Key='boto/managed.bin')
assert got['ETag'].endswith('-3"'), 'a multipart copy: ' + got['ETag']
assert got['Body'].read() == data, 'managed copy bytes'
print('ok managed copy', got['ETag'], flush=True)
`;

let srv, work, aws, awsFails, tool, endpoint;
const json = async (args, env) => JSON.parse((await aws(args, env)).stdout);

before(withLogs(async () => {
  srv = await startVodupd();
  work = makeTmpDir('s3-copy-');
  ({ aws, awsFails, tool, endpoint } = awsSession(srv, work));
}));

after(async () => {
  if (srv) await srv.stop();
  cleanupTmpDirs();
});

describe('S3 CopyObject and UploadPartCopy', { skip: !haveAws && 'aws (awscli) is not installed' }, () => {
  const A = `s3cp-a-${randomHex(4)}`, B = `s3cp-b-${randomHex(4)}`;
  let small, big;

  before(async () => {
    await aws(['s3', 'mb', `s3://${A}`]);
    await aws(['s3', 'mb', `s3://${B}`]);
    small = await randomFile(work, 100 * 1024 + 7);
    big = await randomFile(work, 17 * MiB + 3);
    await aws(['s3api', 'put-object', '--bucket', A, '--key', 'src/small.bin', '--body', small,
      '--content-type', 'video/mp4', '--metadata', 'who=alice,take=1']);
    await aws(['s3', 'cp', big, `s3://${A}/src/big.bin`]); // 8 MiB parts: a multipart object
  });

  it('s3 cp s3://a s3://b: a small object by CopyObject, a large one by UploadPartCopy ranges; the bytes are the same', T, withLogs(async () => {
    await aws(['s3', 'cp', `s3://${A}/src/small.bin`, `s3://${B}/copies/small.bin`]);
    await aws(['s3', 'cp', `s3://${A}/src/big.bin`, `s3://${B}/copies/big.bin`, '--debug'])
      .then(({ stderr }) => assert.match(stderr, /UploadPartCopy|x-amz-copy-source-range/i, 'a multipart copy'));
    for (const [key, file] of [['copies/small.bin', small], ['copies/big.bin', big]]) {
      const back = path.join(work, 'back');
      await aws(['s3', 'cp', `s3://${B}/${key}`, back]);
      assert.equal(await md5File(back), await md5File(file), key);
    }
    // the multipart copy is a multipart object of three parts, as S3 makes it
    const head = await json(['s3api', 'head-object', '--bucket', B, '--key', 'copies/big.bin']);
    assert.match(head.ETag, /^"[0-9a-f]{32}-3"$/);
    assert.equal(head.ContentLength, 17 * MiB + 3);
    // the source is untouched, and deleting it leaves the copy whole
    await aws(['s3', 'cp', `s3://${A}/src/big.bin`, `s3://${A}/tmp/big.bin`]);
    await aws(['s3', 'rm', `s3://${A}/tmp/big.bin`]);
    const back = path.join(work, 'back2');
    await aws(['s3', 'cp', `s3://${B}/copies/big.bin`, back]);
    assert.equal(await md5File(back), await md5File(big));
  }));

  it('copy-object keeps the metadata (COPY) or takes the request\'s (REPLACE); the result names ETag and LastModified', T, withLogs(async () => {
    const src = await json(['s3api', 'head-object', '--bucket', A, '--key', 'src/small.bin']);
    const r = await json(['s3api', 'copy-object', '--bucket', B, '--key', 'meta/copy.bin', '--copy-source', `${A}/src/small.bin`]);
    assert.equal(r.CopyObjectResult.ETag, src.ETag, 'a plain object keeps its MD5 ETag');
    const h = await json(['s3api', 'head-object', '--bucket', B, '--key', 'meta/copy.bin']);
    assert.equal(h.ContentType, 'video/mp4');
    assert.deepEqual(h.Metadata, { who: 'alice', take: '1' });
    assert.equal(new Date(h.LastModified).getTime(), new Date(r.CopyObjectResult.LastModified).getTime());
    await aws(['s3api', 'copy-object', '--bucket', B, '--key', 'meta/replace.bin', '--copy-source', `${A}/src/small.bin`,
      '--metadata-directive', 'REPLACE', '--content-type', 'text/plain', '--metadata', 'who=bob']);
    const h2 = await json(['s3api', 'head-object', '--bucket', B, '--key', 'meta/replace.bin']);
    assert.equal(h2.ContentType, 'text/plain');
    assert.deepEqual(h2.Metadata, { who: 'bob' });
    assert.equal(h2.ETag, src.ETag);
    // a key that must be URL-encoded in x-amz-copy-source (awscli encodes it)
    const odd = 'odd key/ü+%?&=#.bin';
    await aws(['s3api', 'copy-object', '--bucket', A, '--key', odd, '--copy-source', `${A}/src/small.bin`]);
    await aws(['s3', 'cp', `s3://${A}/${odd}`, `s3://${B}/from-odd.bin`]);
    const back = path.join(work, 'odd.back');
    await aws(['s3', 'cp', `s3://${B}/from-odd.bin`, back]);
    assert.equal(await md5File(back), await md5File(small));
  }));

  it('an object copied onto itself: InvalidRequest unless REPLACE, which updates the metadata and keeps the bytes', T, withLogs(async () => {
    await aws(['s3api', 'copy-object', '--bucket', A, '--key', 'self.bin', '--copy-source', `${A}/src/big.bin`]);
    const before = await json(['s3api', 'head-object', '--bucket', A, '--key', 'self.bin']);
    await awsFails(['s3api', 'copy-object', '--bucket', A, '--key', 'self.bin', '--copy-source', `${A}/self.bin`], {}, 'InvalidRequest');
    await aws(['s3api', 'copy-object', '--bucket', A, '--key', 'self.bin', '--copy-source', `${A}/self.bin`,
      '--metadata-directive', 'REPLACE', '--content-type', 'video/webm', '--metadata', 'state=renamed']);
    const after = await json(['s3api', 'head-object', '--bucket', A, '--key', 'self.bin']);
    assert.equal(after.ContentType, 'video/webm');
    assert.deepEqual(after.Metadata, { state: 'renamed' });
    assert.equal(after.ETag, before.ETag);
    const back = path.join(work, 'self.back');
    await aws(['s3', 'cp', `s3://${A}/self.bin`, back]);
    assert.equal(await md5File(back), await md5File(big));
  }));

  it('x-amz-copy-source-if-* conditions: any that fails is PreconditionFailed and copies nothing', T, withLogs(async () => {
    const src = await json(['s3api', 'head-object', '--bucket', A, '--key', 'src/small.bin']);
    const t = new Date(src.LastModified).getTime();
    const earlier = new Date(t - 3600e3).toISOString(), later = new Date(t + 3600e3).toISOString();
    const cp = (key, ...extra) => ['s3api', 'copy-object', '--bucket', B, '--key', key, '--copy-source', `${A}/src/small.bin`, ...extra];
    await awsFails(cp('cond/1', '--copy-source-if-match', '"00112233445566778899aabbccddeeff"'), {}, 'PreconditionFailed');
    await awsFails(cp('cond/2', '--copy-source-if-none-match', src.ETag), {}, 'PreconditionFailed');
    await awsFails(cp('cond/3', '--copy-source-if-unmodified-since', earlier), {}, 'PreconditionFailed');
    await awsFails(cp('cond/4', '--copy-source-if-modified-since', later), {}, 'PreconditionFailed');
    const ls = (await aws(['s3', 'ls', `s3://${B}/cond/`]).catch(e => e)).stdout ?? '';
    assert.equal(ls.trim(), '', 'a refused copy wrote nothing');
    await aws(cp('cond/ok1', '--copy-source-if-match', src.ETag));
    await aws(cp('cond/ok2', '--copy-source-if-none-match', '"00112233445566778899aabbccddeeff"', '--copy-source-if-modified-since', earlier));
    // If-Match that holds wins over a failing If-Unmodified-Since (S3's documented rule)
    await aws(cp('cond/ok3', '--copy-source-if-match', src.ETag, '--copy-source-if-unmodified-since', earlier));
  }));

  it('refusals in S3\'s codes: no such source key or bucket, a versionId, a bad metadata directive', T, withLogs(async () => {
    await awsFails(['s3api', 'copy-object', '--bucket', B, '--key', 'x', '--copy-source', `${A}/nope.bin`], {}, 'NoSuchKey');
    await awsFails(['s3api', 'copy-object', '--bucket', B, '--key', 'x', '--copy-source', `nx-${randomHex(4)}/a`], {}, 'NoSuchBucket');
    await awsFails(['s3api', 'copy-object', '--bucket', B, '--key', 'x', '--copy-source', `${A}/src/small.bin?versionId=3`], {}, 'NotImplemented');
    await awsFails(['s3api', 'copy-object', '--bucket', B, '--key', 'x', '--copy-source', `${A}/src/small.bin`,
      '--metadata-directive', 'MOVE'], {}, '(InvalidArgument|ParamValidation|Invalid)');
    await awsFails(['s3api', 'copy-object', '--bucket', `nx-${randomHex(4)}`, '--key', 'x', '--copy-source', `${A}/src/small.bin`], {}, 'NoSuchBucket');
  }));

  it('upload-part-copy with byte ranges makes parts that complete into the source\'s bytes', T, withLogs(async () => {
    const key = 'parts/whole.bin';
    const { UploadId } = await json(['s3api', 'create-multipart-upload', '--bucket', B, '--key', key]);
    const size = 17 * MiB + 3, cut = 6 * MiB;
    const ranges = [`bytes=0-${cut - 1}`, `bytes=${cut}-${size - 1}`];
    const parts = [];
    for (const [i, range] of ranges.entries()) {
      const r = await json(['s3api', 'upload-part-copy', '--bucket', B, '--key', key, '--upload-id', UploadId,
        '--part-number', String(i + 1), '--copy-source', `${A}/src/big.bin`, '--copy-source-range', range]);
      assert.match(r.CopyPartResult.ETag, /^"[0-9a-f]{32}"$/);
      assert.ok(r.CopyPartResult.LastModified);
      parts.push({ PartNumber: i + 1, ETag: r.CopyPartResult.ETag });
    }
    const listed = await json(['s3api', 'list-parts', '--bucket', B, '--key', key, '--upload-id', UploadId]);
    assert.deepEqual(listed.Parts.map(p => p.Size), [cut, size - cut]);
    // a range that does not lie within the source, or has another form
    await awsFails(['s3api', 'upload-part-copy', '--bucket', B, '--key', key, '--upload-id', UploadId, '--part-number', '3',
      '--copy-source', `${A}/src/big.bin`, '--copy-source-range', `bytes=0-${size}`], {}, 'InvalidArgument');
    await awsFails(['s3api', 'upload-part-copy', '--bucket', B, '--key', key, '--upload-id', UploadId, '--part-number', '3',
      '--copy-source', `${A}/src/big.bin`, '--copy-source-range', 'bytes=5-'], {}, 'InvalidArgument');
    await awsFails(['s3api', 'upload-part-copy', '--bucket', B, '--key', key, '--upload-id', '0123456789ABCDEF0123456789ABCDEF',
      '--part-number', '3', '--copy-source', `${A}/src/big.bin`], {}, 'NoSuchUpload');
    const mp = path.join(work, 'mp.json');
    fs.writeFileSync(mp, JSON.stringify({ Parts: parts }));
    await aws(['s3api', 'complete-multipart-upload', '--bucket', B, '--key', key, '--upload-id', UploadId, '--multipart-upload', `file://${mp}`]);
    const back = path.join(work, 'parts.back');
    await aws(['s3', 'cp', `s3://${B}/${key}`, back]);
    assert.equal(await md5File(back), await md5File(big));
  }));

  it('a copy the storage quota cannot hold is QuotaExceeded and leaves nothing', T, withLogs(async () => {
    const used = cli(srv.dataDir, 'quota', 'show').UsedBytes;
    cli(srv.dataDir, 'quota', 'set', srv.creds.AccountId, String(used + 1 * MiB));
    try {
      await awsFails(['s3api', 'copy-object', '--bucket', B, '--key', 'quota.bin', '--copy-source', `${A}/src/big.bin`], {}, 'QuotaExceeded');
      await awsFails(['s3api', 'head-object', '--bucket', B, '--key', 'quota.bin'], {}, '404');
      await aws(['s3api', 'copy-object', '--bucket', B, '--key', 'quota-small.bin', '--copy-source', `${A}/src/small.bin`]);
    } finally {
      cli(srv.dataDir, 'quota', 'set', srv.creds.AccountId, 'default');
    }
  }));

  it('the source is read with the caller\'s rights: a policy that reaches one source is AccessDenied on another', T, withLogs(async () => {
    await aws(['s3api', 'put-object', '--bucket', A, '--key', 'secret/s.bin', '--body', small]);
    const user = cli(srv.dataDir, 'user', 'create', 'copier', '--policy', 'AliyunSTSAssumeRoleAccess');
    const role = cli(srv.dataDir, 'role', 'create', 'copy-role', '--policy', 'AliyunOSSFullAccess');
    // the session may write under B/in/ and read A/src/ only
    const Policy = JSON.stringify({ Version: '1', Statement: [
      { Effect: 'Allow', Action: ['oss:CopyObject', 'oss:PutObject', 'oss:GetObject'], Resource: [`acs:oss:*:*:${B}/in/*`] },
      { Effect: 'Allow', Action: ['oss:GetObject'], Resource: [`acs:oss:*:*:${A}/src/*`] },
    ] });
    const { Credentials: c } = await stsClient(srv, user).request('AssumeRole',
      { RoleArn: role.Arn, RoleSessionName: 'copy', DurationSeconds: 900, Policy }, { method: 'POST' });
    const as = { AWS_ACCESS_KEY_ID: c.AccessKeyId, AWS_SECRET_ACCESS_KEY: c.AccessKeySecret, AWS_SESSION_TOKEN: c.SecurityToken };
    await aws(['s3api', 'copy-object', '--bucket', B, '--key', 'in/ok.bin', '--copy-source', `${A}/src/small.bin`], as);
    await awsFails(['s3api', 'copy-object', '--bucket', B, '--key', 'in/stolen.bin', '--copy-source', `${A}/secret/s.bin`], as, 'AccessDenied');
    await awsFails(['s3api', 'copy-object', '--bucket', B, '--key', 'out/x.bin', '--copy-source', `${A}/src/small.bin`], as, 'AccessDenied');
    const { UploadId } = await json(['s3api', 'create-multipart-upload', '--bucket', B, '--key', 'in/mp.bin']);
    await awsFails(['s3api', 'upload-part-copy', '--bucket', B, '--key', 'in/mp.bin', '--upload-id', UploadId, '--part-number', '1',
      '--copy-source', `${A}/secret/s.bin`], as, 'AccessDenied');
    await awsFails(['s3api', 'head-object', '--bucket', B, '--key', 'in/stolen.bin'], {}, '404');
    const back = path.join(work, 'ok.back');
    await aws(['s3', 'cp', `s3://${B}/in/ok.bin`, back]);
    assert.equal(await md5File(back), await md5File(small));
  }));

  it('UploadAuth keys copy nothing: not another object into their own, not their own anywhere', T, withLogs(async () => {
    const cr = await vodClient(srv).request('CreateUploadVideo', { Title: 'copy scope', FileName: 'scope.mp4' }, { method: 'POST' });
    const addr = JSON.parse(Buffer.from(cr.UploadAddress, 'base64').toString());
    const auth = JSON.parse(Buffer.from(cr.UploadAuth, 'base64').toString());
    const as = { AWS_ACCESS_KEY_ID: auth.AccessKeyId, AWS_SECRET_ACCESS_KEY: auth.AccessKeySecret, AWS_SESSION_TOKEN: auth.SecurityToken };
    const own = addr.FileName, other = own.replace(/\.mp4$/, '.other.mp4');
    await aws(['s3', 'cp', small, `s3://${addr.Bucket}/${other}`]);
    await aws(['s3', 'cp', small, `s3://${addr.Bucket}/${own}`], as);
    await awsFails(['s3api', 'copy-object', '--bucket', addr.Bucket, '--key', own, '--copy-source', `${addr.Bucket}/${other}`], as, 'AccessDenied');
    await awsFails(['s3api', 'copy-object', '--bucket', addr.Bucket, '--key', own, '--copy-source', `${A}/src/small.bin`], as, 'AccessDenied');
    await awsFails(['s3api', 'copy-object', '--bucket', addr.Bucket, '--key', other, '--copy-source', `${addr.Bucket}/${own}`], as, 'AccessDenied');
  }));
});

describe('boto3 copies', { skip: (!python || !haveAws) && 'python3-boto3 or awscli is not installed' }, () => {
  it('copy_object, and the managed copy in 5 MiB UploadPartCopy parts, keep the bytes', T, withLogs(async () => {
    const bucket = `s3cp-boto-${randomHex(4)}`;
    await aws(['s3', 'mb', `s3://${bucket}`]);
    const { stdout } = await tool(python, ['-c', BOTO_COPY, endpoint, bucket]);
    assert.match(stdout, /^ok copy_object "[0-9a-f]{32}"$/m, stdout);
    assert.match(stdout, /^ok managed copy "[0-9a-f]{32}-3"$/m, stdout);
  }));
});
