// The media probe after uploads (issue 16): vodupd's probe workers take each completed
// video from the durable job queue, probe it, store a cover and set its fields and status.
// Samples made by the ffmpeg CLI are uploaded through vodupd with the official SDKs
// (pop-core, ali-oss: PutObject and multipart, so one object of several parts), then
// GetVideoInfo, GetVideoList, GetPlayInfo and GetMezzanineInfo are checked against ffprobe;
// the cover and the play URL are fetched with their signed URLs; broken files get
// TranscodeFail with a message; a probe interrupted by a SIGKILL of vodupd completes after
// the restart; VideoAnalysisComplete and SnapshotComplete reach the callback.
//
// Environment (CTest): VODUPD, VODUP_BUILD_DIR, VODUP_TEST_TMP, VODUP_SANITIZE. The suite's
// other tests run vodupd with VODUPD_PROBE_WORKERS=0; these pass --probe-workers.

import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import crypto from 'node:crypto';
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import http from 'node:http';
import path from 'node:path';
import { startVodupd, makeTmpDir, cleanupTmpDirs, withLogs, waitFor, SLOW, restart } from '../compat/lib/vodupd.mjs';
import { stopServer, vodClient, uploadClient } from '../compat/lib/vod.mjs';
import { startReceiver } from '../compat/lib/receiver.mjs';
import { SKIP, ffmpeg, ffprobe, rate, lavfiVideo, lavfiAudio } from './media-lib.mjs';

const T = { timeout: 180000 * SLOW };

function decodeUpload(resp) {
  const j = s => JSON.parse(Buffer.from(s, 'base64').toString('utf8'));
  return { addr: j(resp.UploadAddress), auth: j(resp.UploadAuth) };
}

/** Uploads file as a video (multipart with parts of partSize when given); its VideoId. */
async function upload(srv, file, { partSize, userData, name = path.basename(file) } = {}) {
  const params = { Title: name, FileName: name };
  if (userData) params.UserData = JSON.stringify(userData);
  const cr = await vodClient(srv).request('CreateUploadVideo', params, { method: 'POST' });
  const up = decodeUpload(cr);
  const oss = uploadClient(up);
  if (partSize) await oss.multipartUpload(up.addr.FileName, file, { partSize, parallel: 2 });
  else await oss.put(up.addr.FileName, file);
  return cr.VideoId;
}

async function videoInfo(srv, id) {
  return (await vodClient(srv).request('GetVideoInfo', { VideoId: id }, { method: 'POST' })).Video;
}

/** Waits until the probe has decided (the status leaves UploadSucc). */
async function probed(srv, id, timeout = 60000 * SLOW) {
  let v;
  await waitFor(async () => { v = await videoInfo(srv, id); return v.Status !== 'UploadSucc'; },
    { timeout, interval: 100, what: `video ${id} probed` });
  return v;
}

function get(url) {
  return new Promise((resolve, reject) => {
    http.get(url, res => {
      const chunks = [];
      res.on('data', d => chunks.push(d));
      res.on('end', () => resolve({ status: res.statusCode, body: Buffer.concat(chunks) }));
    }).on('error', reject);
  });
}

const md5 = b => crypto.createHash('md5').update(b).digest('hex');

describe('media probe jobs', { skip: SKIP }, () => {
  let srv, dir;
  const f = {};
  before(async () => {
    if (SKIP) return;
    dir = makeTmpDir('media-jobs-');
    f.mp4 = path.join(dir, 'h264-aac.mp4');
    ffmpeg(...lavfiVideo('640x360', 4), ...lavfiAudio(4), '-c:v', 'libx264', '-preset', 'ultrafast',
      '-b:v', '1M', '-pix_fmt', 'yuv420p', '-c:a', 'aac', '-shortest', f.mp4);
    f.webm = path.join(dir, 'vp9-opus.webm');
    ffmpeg(...lavfiVideo('320x240', 2), ...lavfiAudio(2, 48000), '-c:v', 'libvpx-vp9', '-deadline', 'realtime',
      '-cpu-used', '8', '-c:a', 'libopus', '-shortest', f.webm);
    f.mov = path.join(dir, 'clip.mov');
    ffmpeg(...lavfiVideo('320x240', 2), '-c:v', 'mpeg4', f.mov);
    f.mp3 = path.join(dir, 'tone.mp3');
    ffmpeg(...lavfiAudio(2), '-c:a', 'libmp3lame', f.mp3);
    f.png = path.join(dir, 'still.png');
    ffmpeg(...lavfiVideo('64x64', 1), '-frames:v', '1', f.png);
    f.cut = path.join(dir, 'cut.mp4');
    const whole = fs.readFileSync(f.mp4);
    fs.writeFileSync(f.cut, whole.subarray(0, Math.floor(whole.length / 3)));
    f.rand = path.join(dir, 'random.mp4');
    // Fixed bytes, so a failure reproduces.
    fs.writeFileSync(f.rand, crypto.createHash('sha512').update('vodup').digest().toString('hex').repeat(400));
    srv = await startVodupd({ extraArgs: ['--probe-workers', '2'] });
  });
  after(async () => {
    if (srv) await stopServer(srv);
    cleanupTmpDirs();
  });

  // Every field against ffprobe's view of the same file.
  async function checkMedia(file, id) {
    const v = await probed(srv, id);
    const p = ffprobe(file);
    const vs = p.streams.find(s => s.codec_type === 'video');
    const as = p.streams.find(s => s.codec_type === 'audio');
    assert.equal(v.Status, 'Normal', JSON.stringify(v));
    assert.equal(v.Size, fs.statSync(file).size);
    assert.ok(Math.abs(v.Duration - Number(p.format.duration)) < 0.05, `Duration ${v.Duration} vs ${p.format.duration}`);

    const play = await vodClient(srv).request('GetPlayInfo', { VideoId: id }, { method: 'POST' });
    const pi = play.PlayInfoList.PlayInfo[0];
    assert.equal(play.PlayInfoList.PlayInfo.length, 1);
    assert.equal(play.VideoBase.VideoId, id);
    assert.equal(play.VideoBase.Status, 'Normal');
    assert.ok(Math.abs(Number(pi.Duration) - Number(p.format.duration)) < 0.05);
    assert.ok(Math.abs(Number(pi.Bitrate) * 1000 - Number(p.format.bit_rate)) <= Number(p.format.bit_rate) * 0.02,
      `Bitrate ${pi.Bitrate} kbps vs ${p.format.bit_rate} bps`);
    assert.equal(pi.Size, fs.statSync(file).size);
    assert.equal(pi.Width, vs ? vs.width : 0);
    assert.equal(pi.Height, vs ? vs.height : 0);
    if (vs) assert.ok(Math.abs(Number(pi.Fps) - rate(vs.avg_frame_rate)) < 0.01, `Fps ${pi.Fps}`);
    // The play URL is the stored file, signed: the same bytes come back.
    const got = await get(pi.PlayURL);
    assert.equal(got.status, 200, String(got.body));
    assert.equal(md5(got.body), md5(fs.readFileSync(file)));
    assert.match(pi.PlayURL, /[?&]Expires=\d+/);
    assert.match(pi.PlayURL, /[?&]Signature=/);

    const mz = (await vodClient(srv).request('GetMezzanineInfo', { VideoId: id }, { method: 'POST' })).Mezzanine;
    assert.equal(mz.VideoId, id);
    assert.equal(mz.Size, fs.statSync(file).size);
    const vlist = mz.VideoStreamList.VideoStream, alist = mz.AudioStreamList.AudioStream;
    assert.equal(vlist.length, vs ? 1 : 0);
    assert.equal(alist.length, as ? 1 : 0);
    if (vs) assert.equal(vlist[0].CodecName, vs.codec_name);
    if (as) {
      assert.equal(alist[0].CodecName, as.codec_name);
      assert.equal(Number(alist[0].Channels), as.channels);
      assert.equal(Number(alist[0].SampleRate), Number(as.sample_rate));
    }
    assert.equal(md5((await get(mz.FileURL)).body), md5(fs.readFileSync(file)));

    if (vs) {
      // The cover: a JPEG of the video's size (up to 1280 wide), fetched with its signed URL.
      assert.ok(v.CoverURL, 'no CoverURL');
      const c = await get(v.CoverURL);
      assert.equal(c.status, 200);
      const cf = path.join(dir, `${id}.jpg`);
      fs.writeFileSync(cf, c.body);
      const cs = ffprobe(cf).streams[0];
      assert.equal(cs.codec_name, 'mjpeg');
      assert.equal(cs.width, vs.width);
      assert.equal(cs.height, vs.height);
      ffmpeg('-i', cf, '-f', 'null', '-');   // decodes
    } else {
      assert.equal(v.CoverURL, undefined);
    }
    return v;
  }

  it('MP4 H.264 + AAC uploaded in parts: fields, cover, play URL', { ...T, skip: SKIP }, withLogs(async () => {
    const id = await upload(srv, f.mp4, { partSize: 100 * 1024 });
    assert.ok(fs.statSync(f.mp4).size > 200 * 1024, 'the sample spans several parts');
    await checkMedia(f.mp4, id);
    // GetVideoList shows the same fields.
    const list = await vodClient(srv).request('GetVideoList', { PageSize: 100 }, { method: 'POST' });
    const row = list.VideoList.Video.find(x => x.VideoId === id);
    assert.equal(row.Status, 'Normal');
    assert.ok(row.Duration > 3.9 && row.Duration < 4.1, `Duration ${row.Duration}`);
    assert.ok(row.CoverURL);
  }));

  it('WebM VP9 + Opus, MOV, MP3', { ...T, skip: SKIP }, withLogs(async () => {
    for (const file of [f.webm, f.mov, f.mp3]) await checkMedia(file, await upload(srv, file));
  }));

  it('a PNG, a cut MP4 and random bytes get TranscodeFail with a message', { ...T, skip: SKIP }, withLogs(async () => {
    // A still image uploaded as a video (VOD takes the file name's word for it).
    for (const file of [f.png, f.cut, f.rand]) {
      const id = await upload(srv, file, { name: path.basename(file).replace(/\.png$/, '.mp4') });
      const v = await probed(srv, id);
      assert.equal(v.Status, 'TranscodeFail', `${path.basename(file)}: ${JSON.stringify(v)}`);
      assert.equal(v.Duration, undefined);
      await assert.rejects(vodClient(srv).request('GetPlayInfo', { VideoId: id }, { method: 'POST' }),
        e => e.code === 'InvalidVideo.NoneStream');
    }
    assert.match(srv.stderr(), /probed video \w+: TranscodeFail: .*cut short|probed video \w+: TranscodeFail: .+/);
  }));

  it('VideoAnalysisComplete and SnapshotComplete reach the callback', { ...T, skip: SKIP }, withLogs(async () => {
    const rcv = await startReceiver();
    try {
      await vodClient(srv).request('SetMessageCallback', { CallbackType: 'HTTP', CallbackURL: rcv.url,
        EventTypeList: 'FileUploadComplete,VideoAnalysisComplete,SnapshotComplete', AuthSwitch: 'off' }, { method: 'POST' });
      const ok = await upload(srv, f.webm), bad = await upload(srv, f.rand);
      const v = await probed(srv, ok);
      const evs = await rcv.waitFor(5, 30000 * SLOW, r => r.body?.VideoId === ok || r.body?.VideoId === bad);
      const of = (id, type) => evs.filter(r => r.body.VideoId === id && r.body.EventType === type).map(r => r.body);
      const [analysis] = of(ok, 'VideoAnalysisComplete'), [snap] = of(ok, 'SnapshotComplete');
      assert.equal(analysis.Status, 'success');
      assert.match(analysis.EventTime, /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$/);
      assert.equal(snap.Status, 'success');
      assert.equal(snap.CoverUrl.split('?')[0], v.CoverURL.split('?')[0]);
      assert.equal(of(ok, 'FileUploadComplete').length, 1);
      // The file that is not media: analysis failed, no snapshot.
      assert.equal(of(bad, 'VideoAnalysisComplete')[0].Status, 'fail');
      assert.equal(of(bad, 'SnapshotComplete').length, 0);
      await vodClient(srv).request('SetMessageCallback', { CallbackType: 'HTTP', CallbackURL: rcv.url,
        EventTypeList: 'FileUploadComplete', AuthSwitch: 'off' }, { method: 'POST' });
    } finally {
      await rcv.close();
    }
  }));

  it('uploaded again: one cover, the new one; DeleteVideo takes the cover with it', { ...T, skip: SKIP }, withLogs(async () => {
    // The cover records of a video, read from the store itself (what no API lists).
    const covers = id => {
      const r = spawnSync('sqlite3', ['-readonly', path.join(srv.dataDir, 'vodup.db'),
        `SELECT id FROM media WHERE kind = 'image' AND image_type = 'cover' AND CAST(object_key AS TEXT) LIKE '${id}/%'`],
        { encoding: 'utf8' });
      assert.equal(r.status, 0, r.stderr);
      return r.stdout.split('\n').filter(Boolean);
    };
    const id = await upload(srv, f.webm, { name: 'again.webm' });
    const first = await probed(srv, id);
    assert.equal(first.Status, 'Normal');
    assert.equal(covers(id).length, 1);
    // The same video uploaded again (a 640x360 file this time): probed again, one cover.
    // Credentials write a complete media only when issued in a later second than its last
    // change (core/scope.c keeps whole seconds), and the probe just changed it.
    await new Promise(r => setTimeout(r, 1100));
    const rr = await vodClient(srv).request('RefreshUploadVideo', { VideoId: id }, { method: 'POST' });
    const up = decodeUpload(rr);
    await uploadClient(up).put(up.addr.FileName, f.mp4);
    let v;
    await waitFor(async () => { v = await videoInfo(srv, id); return v.Status === 'Normal' && v.Duration > 3.9; },
      { timeout: 60000 * SLOW, interval: 100, what: `video ${id} probed again` });
    assert.deepEqual(covers(id).length, 1, 'a second probe added a cover record instead of replacing it');
    const c = await get(v.CoverURL);
    assert.equal(c.status, 200);
    const cf = path.join(dir, `${id}-again.jpg`);
    fs.writeFileSync(cf, c.body);
    assert.equal(ffprobe(cf).streams[0].width, 640, 'the cover is not the new file\'s');
    // Deleted: the cover's record and object go too (its signed URL, still valid, finds nothing).
    await vodClient(srv).request('DeleteVideo', { VideoIds: id }, { method: 'POST' });
    assert.deepEqual(covers(id), [], 'the cover record outlived its video');
    assert.equal((await get(v.CoverURL)).status, 404, 'the cover object outlived its video');
  }));

  it('a signed URL expires', { ...T, skip: SKIP }, withLogs(async () => {
    const id = await upload(srv, f.mp3);
    await probed(srv, id);
    const play = await vodClient(srv).request('GetPlayInfo', { VideoId: id, AuthTimeout: 1 }, { method: 'POST' });
    const url = play.PlayInfoList.PlayInfo[0].PlayURL;
    assert.equal((await get(url)).status, 200);
    await new Promise(r => setTimeout(r, 2200));
    assert.equal((await get(url)).status, 403);
  }));
});

describe('media probe jobs survive a crash', { skip: SKIP }, () => {
  after(() => cleanupTmpDirs());
  it('a probe interrupted by SIGKILL completes after the restart', { ...T, skip: SKIP }, withLogs(async () => {
    const dir = makeTmpDir('media-crash-');
    const mp4 = path.join(dir, 'a.mp4');
    ffmpeg(...lavfiVideo('320x240', 2), '-c:v', 'libx264', '-preset', 'ultrafast', '-pix_fmt', 'yuv420p', mp4);
    // The child sleeps first: the probe is surely in flight when vodupd dies.
    let srv = await startVodupd({ extraArgs: ['--probe-workers', '1'], env: { VODUP_PROBE_TEST_SLEEP_MS: '4000' } });
    const id = await upload(srv, mp4);
    await new Promise(r => setTimeout(r, 1000));
    assert.equal((await videoInfo(srv, id)).Status, 'UploadSucc');
    await srv.kill();
    srv = await restart(srv, { extraArgs: ['--probe-workers', '1'], env: { VODUP_PROBE_TEST_SLEEP_MS: '' } });
    try {
      const v = await probed(srv, id, 30000 * SLOW);
      assert.equal(v.Status, 'Normal');
      assert.ok(Math.abs(v.Duration - 2) < 0.05, `Duration ${v.Duration}`);
      assert.match(srv.stderr(), /1 media probe\(s\) interrupted by the last stop queued again/);
    } finally {
      await stopServer(srv);
    }
  }));
});

describe('make demo', { skip: SKIP }, () => {
  it('uploads an ffmpeg video and shows its duration, streams and status Normal', { ...T, skip: SKIP }, async () => {
    const build = process.env.VODUP_BUILD_DIR || path.resolve('build');
    const r = spawnSync('scripts/demo', [build], { encoding: 'utf8', timeout: 120000 * SLOW });
    assert.equal(r.status, 0, r.stderr + r.stdout);
    assert.match(r.stdout, /generated a 10 s test video with ffmpeg/);
    assert.match(r.stdout, /^Duration +10\.0\d\d$/m, r.stdout);
    assert.match(r.stdout, /^Video +1280x720, 30 fps$/m);
    assert.match(r.stdout, /^VideoCodec +h264$/m);
    assert.match(r.stdout, /^CoverURL +http:\/\/127\.0\.0\.1:\d+\/.*snapshots\/cover-00001\.jpg\?/m);
    assert.match(r.stdout, /^Status +Normal$/m);
  });
});
