// `vodupd gc --older-than AGE`: an abandoned multipart upload is aborted after its expiry
// (a fresh one is left alone), media stuck in Uploading become UploadFail (their upload
// credentials are refused; RefreshUploadVideo starts them again); beside a serving vodupd it
// leaves the files to the server, on a stopped data directory it removes them itself.

import { describe, it, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import path from 'node:path';
import {
  startVodupd, cleanupTmpDirs, withLogs, SLOW, randomBuf, md5b64, xmlTag, xmlTags, listFilesRecursive, vodupdPath, sleep,
} from '../compat/lib/vodupd.mjs';
import { vodClient, uploadClient } from '../compat/lib/vod.mjs';

const post = { method: 'POST' };
after(() => cleanupTmpDirs());

function gc(dataDir, ...args) {
  const r = spawnSync(vodupdPath(), ['gc', '--data-dir', dataDir, ...args], { encoding: 'utf8', timeout: 60000 * SLOW });
  assert.equal(r.status, 0, r.stderr);
  return JSON.parse(r.stdout);
}

function decodeUpload(resp) {
  const j = s => JSON.parse(Buffer.from(s, 'base64').toString('utf8'));
  return { addr: j(resp.UploadAddress), auth: j(resp.UploadAuth) };
}

describe('vodupd gc', { timeout: 120000 * SLOW }, () => {
  it('expires abandoned uploads and media stuck in Uploading', withLogs(async () => {
    const srv = await startVodupd();
    const bucket = 'gc-test';
    const req = opts => srv.request({ bucket, ...opts });
    assert.equal((await req({ method: 'PUT' })).status, 200);
    const openUpload = async key => {
      const init = await req({ method: 'POST', key, query: { uploads: '' } });
      const uploadId = xmlTag(init.text, 'UploadId');
      const part = randomBuf(4096);
      const p = await req({ method: 'PUT', key, query: [['partNumber', '1'], ['uploadId', uploadId]], body: part, headers: { 'content-md5': md5b64(part) } });
      assert.equal(p.status, 200, p.text);
      return uploadId;
    };
    const uploads = async () => xmlTags((await req({ query: { uploads: '' } })).text, 'Key');
    const blobs = () => listFilesRecursive(path.join(srv.dataDir, 'objects')).length;

    await openUpload('old.bin');
    const cr = await vodClient(srv).request('CreateUploadVideo', { Title: 'stuck', FileName: 'stuck.mp4' }, post);
    const stuck = decodeUpload(cr);
    await sleep(2100);
    await openUpload('new.bin');
    const fresh = await vodClient(srv).request('CreateUploadVideo', { Title: 'fresh', FileName: 'fresh.mp4' }, post);
    assert.deepEqual((await uploads()).sort(), ['new.bin', 'old.bin']);
    const blobsBefore = blobs();

    // beside the serving vodupd: metadata now, files left to the server
    let r = gc(srv.dataDir, '--older-than', '2s');
    assert.deepEqual(r, { UploadsAborted: 1, MediaExpired: 1, FilesRemoved: false });
    assert.deepEqual(await uploads(), ['new.bin']);
    const info = id => vodClient(srv).request('GetVideoInfo', { VideoId: id }, post);
    assert.equal((await info(cr.VideoId)).Video.Status, 'UploadFail');
    assert.equal((await info(fresh.VideoId)).Video.Status, 'Uploading');
    // the expired video's credentials may no longer write it
    await assert.rejects(uploadClient(stuck).put(stuck.addr.FileName, randomBuf(100)), e => e.status === 403);
    assert.equal(blobs(), blobsBefore, 'gc removed files beside a serving vodupd');
    // RefreshUploadVideo starts it again (credentials count from the second after the expiry)
    await sleep(1100);
    const again = decodeUpload(await vodClient(srv).request('RefreshUploadVideo', { VideoId: cr.VideoId }, post));
    await uploadClient(again).put(again.addr.FileName, randomBuf(100));
    assert.equal((await info(cr.VideoId)).Video.Status, 'UploadSucc');

    // a stopped data directory (killed: no shutdown collection): gc removes the files too
    await openUpload('old2.bin');
    await sleep(2100);
    await srv.kill();
    const withPart = blobs();
    r = gc(srv.dataDir, '--older-than', '2s');
    assert.equal(r.UploadsAborted, 1);
    assert.equal(r.FilesRemoved, true);
    assert.ok(blobs() < withPart, `blob files ${withPart} -> ${blobs()}`);
    const ck = spawnSync(vodupdPath(), ['check', '--data-dir', srv.dataDir], { encoding: 'utf8' });
    assert.equal(ck.status, 0, ck.stdout + ck.stderr);

    const bad = spawnSync(vodupdPath(), ['gc', '--data-dir', srv.dataDir, '--older-than', 'soon'], { encoding: 'utf8' });
    assert.equal(bad.status, 2);
    assert.match(bad.stderr, /--older-than wants/);
  }));
});
