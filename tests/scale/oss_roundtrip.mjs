// tests/scale/oss_roundtrip.mjs PORT CREDS_JSON BUCKET - ali-oss against one vodupd: creates
// BUCKET, PutObject of a small object and a parallel multipart upload of a 13 MiB one,
// reads both back (whole and a range) and compares the bytes; lists the bucket. Prints
// "ok" and exits 0, or throws. Used by vodupd_pg.sh (vodupd on PostgreSQL).
import OSS from 'ali-oss';
import crypto from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import assert from 'node:assert/strict';

const [port, credsFile, bucket] = process.argv.slice(2);
const creds = JSON.parse(fs.readFileSync(credsFile, 'utf8'));
const oss = new OSS({
  endpoint: `http://127.0.0.1:${port}`, region: 'oss-cn-hangzhou', secure: false,
  accessKeyId: creds.AccessKeyId, accessKeySecret: creds.AccessKeySecret, bucket, timeout: 120000,
});
await oss.putBucket(bucket);
const small = crypto.randomBytes(1000);
await oss.put('small.bin', small);
const big = crypto.randomBytes(13 * 1024 * 1024 + 17);
const file = path.join(fs.mkdtempSync(path.join(os.tmpdir(), 'vodup-pg-')), 'big.bin');
fs.writeFileSync(file, big);
await oss.multipartUpload('dir/big.bin', file, { parallel: 4, partSize: 1024 * 1024 });
fs.rmSync(path.dirname(file), { recursive: true });
assert.ok((await oss.get('small.bin')).content.equals(small), 'small object bytes differ');
const got = (await oss.get('dir/big.bin')).content;
assert.equal(got.length, big.length);
assert.ok(got.equals(big), 'multipart object bytes differ');
const part = (await oss.get('dir/big.bin', null, { headers: { Range: 'bytes=1048570-1048585' } })).content;
assert.ok(part.equals(big.subarray(1048570, 1048586)), 'ranged read differs');
const list = await oss.list({ 'max-keys': 10 });
assert.deepEqual(list.objects.map(o => o.name), ['dir/big.bin', 'small.bin']);
console.log('ok');
