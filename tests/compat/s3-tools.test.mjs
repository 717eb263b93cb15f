// The S3 tool suite against a vodupd the test starts (issue 14): awscli's sync, recursive
// rm and the s3api multipart calls end to end; boto3 (tests/compat/py/s3_boto3.py: default
// checksums, ChecksumAlgorithm, upload_file multipart, presigned GET); s3cmd; rclone; and
// temporary keys through AWS_SESSION_TOKEN: STS AssumeRole keys work, UploadAuth keys write
// their one object and are AccessDenied for everything else. Bytes compared each time.
// Each tool's part says SKIP when the tool is missing (scripts/install-deps installs them).

import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import {
  startVodupd, cleanupTmpDirs, withLogs, makeTmpDir, SLOW, randomHex, randomFile, md5File, listFilesRecursive,
} from './lib/vodupd.mjs';
import { vodClient, stsClient, cli } from './lib/vod.mjs';
import { awsSession, haveAws } from './lib/awscli.mjs';

const MiB = 1024 * 1024;
const T = { timeout: 300000 * SLOW };
const has = (cmd, args) => { const r = spawnSync(cmd, args); return !r.error && r.status === 0; };
const haveS3cmd = has('s3cmd', ['--version']);
const haveRclone = has('rclone', ['version']);
// Debian's python3-boto3 lives in /usr/bin/python3's path; a python3 first on PATH may hold
// another botocore (newer ones send checksums differently): each one found runs the script.
const botoVersion = p => spawnSync(p, ['-c', 'import botocore; print(botocore.__version__)'], { encoding: 'utf8' });
const pythons = ['/usr/bin/python3', 'python3'].filter(p => botoVersion(p).status === 0)
  .filter((p, i, all) => all.findIndex(q => botoVersion(q).stdout === botoVersion(p).stdout) === i);
const python = pythons[0];
const BOTO = path.join(path.dirname(fileURLToPath(import.meta.url)), 'py', 's3_boto3.py');

let srv, work, env, endpoint, tool, aws, awsFails;
/** {relative path: md5} of every file under dir. */
async function tree(dir) {
  const out = {};
  for (const f of listFilesRecursive(dir).sort()) out[path.relative(dir, f)] = await md5File(f);
  return out;
}
/** A directory of a few files, one in a subdirectory, one big enough for multipart. */
async function makeTree(dir) {
  fs.mkdirSync(path.join(dir, 'sub'), { recursive: true });
  await randomFile(dir, 1000, 'a.bin');
  await randomFile(dir, 200000, 'b.bin');
  await randomFile(path.join(dir, 'sub'), 12 * MiB + 1, 'c.bin');
  return dir;
}

before(withLogs(async () => {
  srv = await startVodupd();
  work = makeTmpDir('s3-tools-');
  ({ endpoint, env, tool, aws, awsFails } = awsSession(srv, work));
}));

after(async () => {
  if (srv) await srv.stop();
  cleanupTmpDirs();
});

describe('awscli: sync, rm --recursive, the s3api multipart calls', { skip: !haveAws && 'aws (awscli) is not installed' }, () => {
  const bucket = `s3s-${randomHex(4)}`;

  it('s3 sync up and down keeps the bytes; a second sync copies nothing; rm --recursive empties', T, withLogs(async () => {
    await aws(['s3', 'mb', `s3://${bucket}`]);
    const src = await makeTree(makeTmpDir('sync-src-'));
    const up = (await aws(['s3', 'sync', src, `s3://${bucket}/t/`])).stdout;
    assert.equal((up.match(/^upload:/mg) ?? []).length, 3, up);
    const ls = (await aws(['s3', 'ls', '--recursive', `s3://${bucket}/t/`])).stdout;
    assert.match(ls, /\s12582913 t\/sub\/c\.bin$/m);
    assert.equal((await aws(['s3', 'sync', src, `s3://${bucket}/t/`])).stdout.trim(), '', 'second sync up copied');
    const dst = makeTmpDir('sync-dst-');
    await aws(['s3', 'sync', `s3://${bucket}/t/`, dst]);
    assert.deepEqual(await tree(dst), await tree(src));
    assert.equal((await aws(['s3', 'sync', `s3://${bucket}/t/`, dst])).stdout.trim(), '', 'second sync down copied');
    const rm = (await aws(['s3', 'rm', '--recursive', `s3://${bucket}/t/`])).stdout;
    assert.equal((rm.match(/^delete:/mg) ?? []).length, 3, rm);
    assert.equal((await aws(['s3', 'ls', '--recursive', `s3://${bucket}/`])).stdout.trim(), '');
  }));

  it('s3api create/upload-part/list-parts/complete makes the object; bytes and ETag as S3', T, withLogs(async () => {
    const key = 'mp/whole.bin';
    const file = await randomFile(work, 11 * MiB + 5);
    const buf = fs.readFileSync(file);
    const p1 = path.join(work, 'p1'), p2 = path.join(work, 'p2');
    fs.writeFileSync(p1, buf.subarray(0, 6 * MiB));
    fs.writeFileSync(p2, buf.subarray(6 * MiB));
    const { UploadId } = JSON.parse((await aws(['s3api', 'create-multipart-upload', '--bucket', bucket, '--key', key])).stdout);
    const etags = [];
    for (const [n, f] of [[1, p1], [2, p2]]) {
      etags.push(JSON.parse((await aws(['s3api', 'upload-part', '--bucket', bucket, '--key', key, '--upload-id', UploadId,
        '--part-number', String(n), '--body', f])).stdout).ETag);
    }
    const parts = JSON.parse((await aws(['s3api', 'list-parts', '--bucket', bucket, '--key', key, '--upload-id', UploadId])).stdout);
    assert.deepEqual(parts.Parts.map(p => [p.PartNumber, p.ETag, p.Size]), [[1, etags[0], 6 * MiB], [2, etags[1], 5 * MiB + 5]]);
    const mp = path.join(work, 'mp.json');
    fs.writeFileSync(mp, JSON.stringify({ Parts: etags.map((ETag, i) => ({ PartNumber: i + 1, ETag })) }));
    const done = JSON.parse((await aws(['s3api', 'complete-multipart-upload', '--bucket', bucket, '--key', key,
      '--upload-id', UploadId, '--multipart-upload', `file://${mp}`])).stdout);
    assert.match(done.ETag, /^"[0-9a-f]{32}-2"$/);
    const back = path.join(work, 'whole.back');
    await aws(['s3', 'cp', `s3://${bucket}/${key}`, back]);
    assert.equal(await md5File(back), await md5File(file));
    await awsFails(['s3api', 'list-parts', '--bucket', bucket, '--key', key, '--upload-id', UploadId], {}, 'NoSuchUpload');
  }));
});

describe('boto3', { skip: !python && 'python3 with boto3 (python3-boto3) is not installed' }, () => {
  it('put/get/head/delete, ChecksumAlgorithm CRC32 and SHA256, upload_file multipart, presigned GET', T, withLogs(async () => {
    for (const py of pythons) {
      const { stdout } = await tool(py, [BOTO, endpoint, `s3b-${randomHex(4)}`, work]);
      console.log(stdout); // which botocore, and what it did
      for (const step of ['put-get-head', 'checksum CRC32', 'checksum SHA256', 'multipart default', 'multipart crc32', 'presign', 'delete']) {
        assert.match(stdout, new RegExp(`^ok ${step}$`, 'm'), stdout);
      }
    }
  }));
});

describe('s3cmd', { skip: !haveS3cmd && 's3cmd is not installed' }, () => {
  it('mb, put (5 MiB parts), get, ls, sync, del', T, withLogs(async () => {
    const cfg = path.join(work, 's3cfg');
    const host = `127.0.0.1:${srv.port}`;
    fs.writeFileSync(cfg, `[default]\naccess_key = ${srv.creds.AccessKeyId}\nsecret_key = ${srv.creds.AccessKeySecret}\n` +
      `host_base = ${host}\nhost_bucket = ${host}\nuse_https = False\nsignature_v2 = False\nbucket_location = us-east-1\n`);
    const s3cmd = (...a) => tool('s3cmd', ['-c', cfg, ...a]);
    const bucket = `s3c-${randomHex(4)}`;
    await s3cmd('mb', `s3://${bucket}`);
    const file = await randomFile(work, 12 * MiB + 7);
    await s3cmd('put', '--multipart-chunk-size-mb=5', file, `s3://${bucket}/big.bin`);
    // s3cmd keeps the file's MD5 in x-amz-meta-s3cmd-attrs: the metadata came back whole
    const md5s = (await s3cmd('ls', '--list-md5', `s3://${bucket}/big.bin`)).stdout;
    assert.match(md5s, new RegExp(`\\s${await md5File(file)}\\s`), md5s);
    if (haveAws) { // it went in three 5 MiB parts: S3's multipart ETag, "-3"
      const head = JSON.parse((await aws(['s3api', 'head-object', '--bucket', bucket, '--key', 'big.bin'])).stdout);
      assert.match(head.ETag, /^"[0-9a-f]{32}-3"$/);
    }
    const back = path.join(work, 's3cmd.back');
    await s3cmd('get', `s3://${bucket}/big.bin`, back);
    assert.equal(await md5File(back), await md5File(file));
    assert.match((await s3cmd('ls', `s3://${bucket}/`)).stdout, /12582919\s+s3:\/\/.*\/big\.bin$/m);
    const src = await makeTree(makeTmpDir('s3cmd-src-'));
    await s3cmd('sync', '--multipart-chunk-size-mb=5', `${src}/`, `s3://${bucket}/t/`);
    const dst = makeTmpDir('s3cmd-dst-');
    await s3cmd('sync', `s3://${bucket}/t/`, `${dst}/`);
    assert.deepEqual(await tree(dst), await tree(src));
    await s3cmd('del', `s3://${bucket}/big.bin`);
    assert.doesNotMatch((await s3cmd('ls', `s3://${bucket}/`)).stdout, /big\.bin/);
  }));
});

describe('rclone', { skip: !haveRclone && 'rclone is not installed' }, () => {
  it('copy, check and sync through an S3 remote from RCLONE_CONFIG_* variables', T, withLogs(async () => {
    const remote = {
      RCLONE_CONFIG_VU_TYPE: 's3', RCLONE_CONFIG_VU_PROVIDER: 'Other', RCLONE_CONFIG_VU_ENDPOINT: endpoint,
      RCLONE_CONFIG_VU_ACCESS_KEY_ID: srv.creds.AccessKeyId, RCLONE_CONFIG_VU_SECRET_ACCESS_KEY: srv.creds.AccessKeySecret,
      RCLONE_CONFIG_VU_REGION: 'us-east-1', RCLONE_CONFIG_VU_FORCE_PATH_STYLE: 'true', RCLONE_CONFIG_VU_CHUNK_SIZE: '5M',
      RCLONE_CONFIG_VU_UPLOAD_CUTOFF: '5M', RCLONE_CONFIG: path.join(work, 'rclone-none.conf'),
    };
    const rclone = (...a) => tool('rclone', a, remote);
    const bucket = `s3r-${randomHex(4)}`;
    const src = await makeTree(makeTmpDir('rclone-src-'));
    await rclone('copy', src, `vu:${bucket}/t`);
    await rclone('check', src, `vu:${bucket}/t`); // sizes and MD5s (the multipart ETag too)
    const dst = makeTmpDir('rclone-dst-');
    await rclone('sync', `vu:${bucket}/t`, dst);
    assert.deepEqual(await tree(dst), await tree(src));
    // sync deletes on the far side what the near side no longer has
    fs.rmSync(path.join(src, 'a.bin'));
    await rclone('sync', src, `vu:${bucket}/t`);
    await rclone('check', src, `vu:${bucket}/t`);
    const { stdout } = await rclone('lsf', '-R', `vu:${bucket}/t`);
    assert.deepEqual(stdout.trim().split('\n').sort(), ['b.bin', 'sub/', 'sub/c.bin']);
  }));
});

describe('temporary keys through AWS_SESSION_TOKEN', { skip: !haveAws && 'aws (awscli) is not installed' }, () => {
  it('STS AssumeRole keys put, list and get', T, withLogs(async () => {
    const user = cli(srv.dataDir, 'user', 'create', 's3-assumer', '--policy', 'AliyunSTSAssumeRoleAccess');
    const role = cli(srv.dataDir, 'role', 'create', 's3-role', '--policy', 'AliyunOSSFullAccess');
    const { Credentials: c } = await stsClient(srv, user).request('AssumeRole',
      { RoleArn: role.Arn, RoleSessionName: 's3-tools', DurationSeconds: 900 }, { method: 'POST' });
    const as = { AWS_ACCESS_KEY_ID: c.AccessKeyId, AWS_SECRET_ACCESS_KEY: c.AccessKeySecret, AWS_SESSION_TOKEN: c.SecurityToken };
    const bucket = `s3k-${randomHex(4)}`;
    await aws(['s3', 'mb', `s3://${bucket}`], as);
    const file = await randomFile(work, 9 * MiB + 1);
    await aws(['s3', 'cp', file, `s3://${bucket}/sts.bin`], as);
    assert.match((await aws(['s3', 'ls', `s3://${bucket}/`], as)).stdout, /\s9437185 sts\.bin$/m);
    const back = path.join(work, 'sts.back');
    await aws(['s3', 'cp', `s3://${bucket}/sts.bin`, back], as);
    assert.equal(await md5File(back), await md5File(file));
    // the same keys without their token are not a key at all
    await awsFails(['s3', 'ls'], { ...as, AWS_SESSION_TOKEN: '' }, 'InvalidAccessKeyId');
  }));

  it('UploadAuth keys: their one object (multipart too); every other key and operation is AccessDenied', T, withLogs(async () => {
    const vod = vodClient(srv);
    const cr = await vod.request('CreateUploadVideo', { Title: 's3 scope', FileName: 'scope.mp4' }, { method: 'POST' });
    const addr = JSON.parse(Buffer.from(cr.UploadAddress, 'base64').toString());
    const auth = JSON.parse(Buffer.from(cr.UploadAuth, 'base64').toString());
    const as = { AWS_ACCESS_KEY_ID: auth.AccessKeyId, AWS_SECRET_ACCESS_KEY: auth.AccessKeySecret, AWS_SESSION_TOKEN: auth.SecurityToken };
    const B = addr.Bucket, own = addr.FileName, other = own.replace(/\.mp4$/, '.other.mp4');
    // an object the root key put there, that the upload keys must not read
    const small = path.join(work, 'scope-small');
    fs.writeFileSync(small, 'not yours');
    await aws(['s3', 'cp', small, `s3://${B}/${other}`]);
    const x = path.join(work, 'x');
    await awsFails(['s3api', 'put-object', '--bucket', B, '--key', `${other}.2`, '--body', small], as, 'AccessDenied');
    await awsFails(['s3api', 'get-object', '--bucket', B, '--key', other, x], as, 'AccessDenied');
    await awsFails(['s3api', 'head-object', '--bucket', B, '--key', other], as, '403');
    await awsFails(['s3api', 'list-objects-v2', '--bucket', B], as, 'AccessDenied');
    await awsFails(['s3api', 'list-objects', '--bucket', B], as, 'AccessDenied');
    await awsFails(['s3api', 'list-buckets'], as, 'AccessDenied');
    await awsFails(['s3api', 'delete-object', '--bucket', B, '--key', other], as, 'AccessDenied');
    await awsFails(['s3api', 'delete-bucket', '--bucket', B], as, 'AccessDenied');
    await awsFails(['s3api', 'create-bucket', '--bucket', `s3u-${randomHex(4)}`], as, 'AccessDenied');
    await awsFails(['s3api', 'create-multipart-upload', '--bucket', B, '--key', other], as, 'AccessDenied');
    // a part into an upload the root key started on another key
    const { UploadId } = JSON.parse((await aws(['s3api', 'create-multipart-upload', '--bucket', B, '--key', other])).stdout);
    await awsFails(['s3api', 'upload-part', '--bucket', B, '--key', other, '--upload-id', UploadId, '--part-number', '1',
      '--body', small], as, 'AccessDenied');
    await awsFails(['s3api', 'abort-multipart-upload', '--bucket', B, '--key', other, '--upload-id', UploadId], as, 'AccessDenied');
    await aws(['s3api', 'abort-multipart-upload', '--bucket', B, '--key', other, '--upload-id', UploadId]);
    // its own object, in 8 MiB parts
    const file = await randomFile(work, 17 * MiB + 3);
    await aws(['s3', 'cp', file, `s3://${B}/${own}`], as);
    const back = path.join(work, 'scope.back');
    await aws(['s3', 'cp', `s3://${B}/${own}`, back]); // read back with the root key
    assert.equal(await md5File(back), await md5File(file));
    await aws(['s3', 'cp', `s3://${B}/${other}`, x]); // the other object is untouched
    assert.equal(fs.readFileSync(x, 'utf8'), 'not yours');
    const info = await vod.request('GetVideoInfo', { VideoId: cr.VideoId }, { method: 'POST' });
    assert.equal(info.Video.Status, 'UploadSucc');
  }));

  // CopyObject reads its source with the caller's rights (core_copy_source_open): upload
  // keys may read no object, so a copy of another object into their own key is refused.
  it('UploadAuth keys: a copy of another object into their own key is AccessDenied', T, withLogs(async () => {
    const cr = await vodClient(srv).request('CreateUploadVideo', { Title: 's3 copy', FileName: 'copy.mp4' }, { method: 'POST' });
    const addr = JSON.parse(Buffer.from(cr.UploadAddress, 'base64').toString());
    const auth = JSON.parse(Buffer.from(cr.UploadAuth, 'base64').toString());
    const as = { AWS_ACCESS_KEY_ID: auth.AccessKeyId, AWS_SECRET_ACCESS_KEY: auth.AccessKeySecret, AWS_SESSION_TOKEN: auth.SecurityToken };
    const other = addr.FileName.replace(/\.mp4$/, '.other.mp4');
    const small = path.join(work, 'copy-small');
    fs.writeFileSync(small, 'not yours');
    await aws(['s3', 'cp', small, `s3://${addr.Bucket}/${other}`]);
    await awsFails(['s3api', 'copy-object', '--bucket', addr.Bucket, '--key', addr.FileName,
      '--copy-source', `${addr.Bucket}/${other}`], as, 'AccessDenied');
  }));
});
