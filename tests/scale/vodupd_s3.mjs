// tests/scale/vodupd_s3.mjs put|check|delete PORT CREDS_JSON DIR [VIDEO_ID CLIP] - the client
// side of vodupd_s3.sh (vodupd with --bytes s3://...), over ali-oss and pop-core:
//   put     creates the bucket `keep`, puts keep/small.bin (4321 bytes), keep/large.bin
//           (20 MiB + 5 in one PutObject: longer than the byte store's 8 MiB part, so its
//           parts leave for the cluster while the body streams in) and a parallel multipart
//           keep/big.bin (7 MiB + 3 in 1 MiB parts); their bytes go to DIR, so that `check`
//           can compare them after a restart.
//   check   reads both back whole and in ranges (within a part, across a part boundary,
//           the last bytes) and compares them with DIR's copies (small.bin missing from DIR:
//           it must be gone, 404 NoSuchKey); with VIDEO_ID and CLIP, also
//           the video the CLI uploaded, through GetMezzanineInfo's signed FileURL (whole, and
//           a Range across its parts).
//   delete  deletes keep/small.bin (the test then watches its blob leave the cluster).
// Prints "ok: ..." and exits 0, or throws.
import OSS from 'ali-oss';
import RPCClient from '@alicloud/pop-core';
import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import assert from 'node:assert/strict';

const [mode, port, credsFile, dir, videoId, clip] = process.argv.slice(2);
const creds = JSON.parse(fs.readFileSync(credsFile, 'utf8'));
const endpoint = `http://127.0.0.1:${port}`;
const oss = new OSS({
  endpoint, region: 'oss-cn-hangzhou', secure: false, accessKeyId: creds.AccessKeyId,
  accessKeySecret: creds.AccessKeySecret, bucket: 'keep', timeout: 120000,
});
const PART = 1024 * 1024;

async function ranged(name, from, to) {
  const r = await oss.get(name, null, { headers: { Range: `bytes=${from}-${to}` } });
  assert.equal(r.res.status, 206, `${name} ${from}-${to}: status ${r.res.status}`);
  return r.content;
}

if (mode === 'put') {
  await oss.putBucket('keep');
  const small = crypto.randomBytes(4321), big = crypto.randomBytes(7 * PART + 3);
  const large = crypto.randomBytes(20 * PART + 5);
  fs.writeFileSync(path.join(dir, 'small.bin'), small);
  fs.writeFileSync(path.join(dir, 'big.bin'), big);
  fs.writeFileSync(path.join(dir, 'large.bin'), large);
  await oss.put('small.bin', small);
  await oss.put('large.bin', large);
  await oss.multipartUpload('big.bin', path.join(dir, 'big.bin'), { parallel: 4, partSize: PART });
  console.log('ok: put keep/small.bin, keep/large.bin and keep/big.bin (8 parts)');
} else if (mode === 'check') {
  const big = fs.readFileSync(path.join(dir, 'big.bin')), large = fs.readFileSync(path.join(dir, 'large.bin'));
  assert.ok((await oss.get('large.bin')).content.equals(large), 'large.bin differs');
  for (const [a, b] of [[8 * PART - 2, 8 * PART + 1], [16 * PART - 1, 16 * PART], [large.length - 3, large.length - 1]])
    assert.ok((await ranged('large.bin', a, b)).equals(large.subarray(a, b + 1)), `large.bin bytes ${a}-${b} differ`);
  // DIR without small.bin: it was deleted, and must stay so
  const small = fs.existsSync(path.join(dir, 'small.bin')) ? fs.readFileSync(path.join(dir, 'small.bin')) : null;
  if (small) {
    assert.ok((await oss.get('small.bin')).content.equals(small), 'small.bin differs');
    assert.ok((await ranged('small.bin', 100, 199)).equals(small.subarray(100, 200)), 'small.bin range differs');
  } else {
    await assert.rejects(oss.get('small.bin'), e => e.status === 404 && e.code === 'NoSuchKey');
  }
  assert.ok((await oss.get('big.bin')).content.equals(big), 'big.bin differs');
  for (const [a, b] of [[10, 99], [PART - 5, PART + 4], [3 * PART - 1, 5 * PART + 1], [big.length - 7, big.length - 1]])
    assert.ok((await ranged('big.bin', a, b)).equals(big.subarray(a, b + 1)), `big.bin bytes ${a}-${b} differ`);
  if (videoId) {
    const vod = new RPCClient({ accessKeyId: creds.AccessKeyId, accessKeySecret: creds.AccessKeySecret,
                                endpoint, apiVersion: '2017-03-21', opts: { timeout: 60000 } });
    const mz = (await vod.request('GetMezzanineInfo', { VideoId: videoId }, { method: 'POST' })).Mezzanine;
    const want = fs.readFileSync(clip);
    const whole = await fetch(mz.FileURL);
    assert.equal(whole.status, 200);
    assert.ok(Buffer.from(await whole.arrayBuffer()).equals(want), 'the CLI upload differs');
    const r = await fetch(mz.FileURL, { headers: { Range: `bytes=${PART - 100}-${2 * PART + 99}` } });
    assert.equal(r.status, 206);
    assert.ok(Buffer.from(await r.arrayBuffer()).equals(want.subarray(PART - 100, 2 * PART + 100)),
              'a range of the CLI upload differs');
  }
  console.log(`ok: keep/small.bin ${small ? 'read' : 'gone'}, keep/large.bin, keep/big.bin${videoId ? ' and the CLI video' : ''} whole and in ranges`);
} else if (mode === 'delete') {
  await oss.delete('small.bin');
  console.log('ok: deleted keep/small.bin');
} else {
  throw new Error(`unknown mode ${mode}`);
}
