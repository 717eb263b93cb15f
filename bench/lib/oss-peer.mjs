// bench/lib/oss-peer.mjs - the JavaScript peers of `make bench`, run as a child process so that
// their CPU time is theirs (the parent reads it with bash's `times`). One JSON argument:
//   {mode:"multipart", endpoint, creds, bucket, files:[{file,key}], parallel, partSize,
//    checkpoint?: path}   ali-oss multipartUpload of every file at once; with `checkpoint` the
//                         progress checkpoint is written there (fsynced) after every part and,
//                         if the file exists at start, the upload resumes from it.
//   {mode:"images", endpoint, creds, files:[...], concurrency}
//                         per file CreateUploadImage (pop-core) then PutObject (ali-oss) with the
//                         returned UploadAddress/UploadAuth, `concurrency` files at once.
// Prints one JSON line: {ok, objects:[{bucket,key,file}], error?}.
import fs from 'node:fs';
import http from 'node:http';
import OSS from 'ali-oss';
import RPCClient from '@alicloud/pop-core';

const a = JSON.parse(process.argv[2]);
const agent = new http.Agent({ keepAlive: true, maxSockets: 64 });

function writeCheckpoint(file, cpt) {
  const tmp = `${file}.tmp`;
  const fd = fs.openSync(tmp, 'w');
  fs.writeSync(fd, JSON.stringify(cpt));
  fs.fdatasyncSync(fd);
  fs.closeSync(fd);
  fs.renameSync(tmp, file);
}

async function multipart() {
  const oss = new OSS({ endpoint: a.endpoint, region: 'oss-cn-hangzhou', secure: false, bucket: a.bucket,
                        accessKeyId: a.creds.AccessKeyId, accessKeySecret: a.creds.AccessKeySecret,
                        timeout: 600000, agent });
  const objects = [];
  await Promise.all(a.files.map(async ({ file, key }) => {
    const opts = { parallel: a.parallel, partSize: a.partSize };
    if (a.checkpoint) {
      if (fs.existsSync(a.checkpoint)) opts.checkpoint = JSON.parse(fs.readFileSync(a.checkpoint, 'utf8'));
      opts.progress = async (_p, cpt) => { if (cpt) writeCheckpoint(a.checkpoint, cpt); };
    }
    await oss.multipartUpload(key, file, opts);
    objects.push({ bucket: a.bucket, key, file });
  }));
  return objects;
}

async function images() {
  const vod = new RPCClient({ endpoint: a.endpoint, apiVersion: '2017-03-21', accessKeyId: a.creds.AccessKeyId,
                              accessKeySecret: a.creds.AccessKeySecret, opts: { timeout: 60000, agent } });
  const objects = [];
  let next = 0;
  const worker = async () => {
    while (next < a.files.length) {
      const file = a.files[next++];
      const cr = await vod.request('CreateUploadImage', { ImageType: 'default', ImageExt: 'png', Title: 'bench' },
                                   { method: 'POST' });
      const addr = JSON.parse(Buffer.from(cr.UploadAddress, 'base64').toString('utf8'));
      const auth = JSON.parse(Buffer.from(cr.UploadAuth, 'base64').toString('utf8'));
      const oss = new OSS({ endpoint: addr.Endpoint, region: 'oss-cn-hangzhou', secure: false, bucket: addr.Bucket,
                            accessKeyId: auth.AccessKeyId, accessKeySecret: auth.AccessKeySecret,
                            stsToken: auth.SecurityToken, timeout: 60000, agent });
      await oss.put(addr.FileName, file);
      objects.push({ bucket: addr.Bucket, key: addr.FileName, file });
    }
  };
  await Promise.all(Array.from({ length: a.concurrency }, worker));
  return objects;
}

try {
  const objects = a.mode === 'multipart' ? await multipart() : await images();
  process.stdout.write(JSON.stringify({ ok: true, objects }) + '\n');
  agent.destroy();
} catch (e) {
  process.stdout.write(JSON.stringify({ ok: false, error: String(e && (e.stack || e.message || e)) }) + '\n');
  agent.destroy();
  process.exitCode = 1;
}
