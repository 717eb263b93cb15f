// Uploads a file to vodupd with ali-oss's resumable multipart upload, showing progress,
// then prints what HeadObject says about it. Used by `make demo`.
import OSS from 'ali-oss';
import crypto from 'node:crypto';
import fs from 'node:fs';

const [endpoint, file] = process.argv.slice(2);
const creds = JSON.parse(process.env.VODUP_DEMO_CREDS);
const oss = new OSS({
  endpoint, region: 'oss-cn-hangzhou', secure: false, bucket: 'vod-media',
  accessKeyId: creds.AccessKeyId, accessKeySecret: creds.AccessKeySecret,
});
await oss.putBucket('vod-media');
const key = `videos/${new Date().toISOString().slice(0, 10)}/sample.mp4`;
const size = fs.statSync(file).size;
const t0 = Date.now();
await oss.multipartUpload(key, file, {
  partSize: 1024 * 1024, parallel: 4, mime: 'video/mp4', meta: { title: 'vodup demo' },
  progress: (p) => {
    const w = 40, done = Math.round(p * w);
    process.stdout.write(`\r== uploading [${'#'.repeat(done)}${'.'.repeat(w - done)}] ${(p * 100).toFixed(0)}%`);
  },
});
const secs = (Date.now() - t0) / 1000;
console.log(`\n== uploaded ${size} bytes in ${secs.toFixed(2)} s (${(size / secs / 1e6).toFixed(1)} MB/s)`);
const head = await oss.head(key);
const md5 = crypto.createHash('md5').update(fs.readFileSync(file)).digest('hex');
const got = await oss.get(key);
const back = crypto.createHash('md5').update(got.content).digest('hex');
const h = head.res.headers;
console.log('== media info');
console.log(JSON.stringify({
  Bucket: 'vod-media', Key: key, Size: Number(h['content-length']), ContentType: h['content-type'],
  ETag: h.etag, CRC64: h['x-oss-hash-crc64ecma'], ObjectType: h['x-oss-object-type'],
  Title: head.meta.title, LastModified: h['last-modified'], MD5Verified: md5 === back,
}, null, 2));
if (md5 !== back) process.exit(1);
