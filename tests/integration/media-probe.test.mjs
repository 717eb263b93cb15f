// The media probe (src/server/media): vodupd-probe, the child that runs FFmpeg's libraries
// on an uploaded object, and vodup_probe_run(), vodupd's side that spawns, limits and
// parses it (driven here through build/tests/probe-run-tool). Samples are made with the
// ffmpeg CLI in the test's tmp dir; every probed field is checked against ffprobe's.
// Hostile inputs: huge claimed frame sizes, a header claiming ~268M samples, a child that
// hangs (VODUP_PROBE_TEST_SLEEP_MS), random bytes, cut files.
//
// Environment (CTest): VODUP_BUILD_DIR, VODUP_TEST_TMP, VODUP_SANITIZE.

import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { makeTmpDir, cleanupTmpDirs, withLogs, SLOW, SANITIZE } from '../compat/lib/vodupd.mjs';
import { SKIP, ffmpeg, ffprobe, rate, lavfiVideo, lavfiAudio } from './media-lib.mjs';

const buildDir = () => process.env.VODUP_BUILD_DIR || path.resolve('build');
const PROBE = path.join(buildDir(), 'vodupd-probe');
const RUN_TOOL = path.join(buildDir(), 'tests', 'probe-run-tool');
const T = { timeout: 120000 * SLOW, skip: SKIP };
const COVER_MAX_WIDTH = 1280;   // VODUP_PROBE_COVER_MAX_WIDTH

let dir;

// vodup_probe_run() on file: the parsed struct, and the cover's path when there is one.
function probeRun(file, { timeoutMs = 20000 * SLOW, env = {}, cpuSeconds = 0 } = {}) {
  const cover = `${file}.cover.jpg`;
  fs.rmSync(cover, { force: true });
  const t0 = Date.now();
  const r = spawnSync(RUN_TOOL, [PROBE, file, String(timeoutMs), cover, String(cpuSeconds)],
    { encoding: 'utf8', env: { ...process.env, ...env }, timeout: timeoutMs + 30000 * SLOW });
  assert.equal(r.status, 0, `probe-run-tool ${file}: ${r.stderr}`);
  const info = JSON.parse(r.stdout);
  info.elapsedMs = Date.now() - t0;
  info.coverPath = fs.existsSync(cover) ? cover : null;
  return info;
}


function checkAgainstFfprobe(file, info) {
  const p = ffprobe(file);
  const v = p.streams.find(s => s.codec_type === 'video' && !(s.disposition?.attached_pic));
  const a = p.streams.find(s => s.codec_type === 'audio');
  assert.equal(info.status, 'ok', info.message);
  assert.equal(info.format, p.format.format_name);
  assert.ok(Math.abs(info.duration - Number(p.format.duration)) < 0.05,
    `duration ${info.duration} vs ffprobe ${p.format.duration}`);
  assert.ok(Math.abs(info.bitrate - Number(p.format.bit_rate)) <= Number(p.format.bit_rate) * 0.02,
    `bitrate ${info.bitrate} vs ffprobe ${p.format.bit_rate}`);
  if (v) {
    assert.equal(info.width, v.width);
    assert.equal(info.height, v.height);
    assert.equal(info.video_codec, v.codec_name);
    assert.ok(Math.abs(info.fps - rate(v.avg_frame_rate || v.r_frame_rate)) < 0.01,
      `fps ${info.fps} vs ffprobe ${v.avg_frame_rate}`);
  } else {
    assert.equal(info.width, 0);
    assert.equal(info.video_codec, '');
  }
  if (a) {
    assert.equal(info.audio_codec, a.codec_name);
    assert.equal(info.audio_channels, a.channels);
    assert.equal(info.sample_rate, Number(a.sample_rate));
  } else {
    assert.equal(info.audio_codec, '');
  }
  return { v, a, p };
}

// The cover is a JPEG ffprobe decodes, of the expected size, from near 10% of the media.
function checkCover(info, v, { firstFrame = false } = {}) {
  assert.ok(info.coverPath, `no cover: ${info.message}`);
  assert.equal(fs.statSync(info.coverPath).size, info.cover_size);
  const c = ffprobe(info.coverPath).streams[0];
  assert.equal(c.codec_name, 'mjpeg');
  const w = Math.min(v.width, COVER_MAX_WIDTH);
  const h = v.height * w / v.width;
  assert.ok(Math.abs(c.width - w) <= 1 && Math.abs(c.height - h) <= 1,
    `cover ${c.width}x${c.height}, want ~${w}x${h}`);
  assert.equal(c.width, info.cover_width);
  assert.equal(c.height, info.cover_height);
  // It decodes: one frame comes out as raw pixels.
  const d = spawnSync('ffmpeg', ['-v', 'error', '-i', info.coverPath, '-f', 'rawvideo', '-pix_fmt', 'gray', '-'],
    { maxBuffer: 64 << 20 });
  assert.equal(d.status, 0, String(d.stderr));
  assert.equal(d.stdout.length, c.width * c.height);
  const target = info.duration * 0.10;
  if (firstFrame) return;
  assert.ok(info.cover_time >= target - 0.001 && info.cover_time < target + 0.25,
    `cover from ${info.cover_time} s, want near ${target} s`);
}

describe('media probe', { skip: SKIP }, () => {
  const f = {};
  before(() => {
    if (SKIP) return;
    assert.ok(fs.existsSync(PROBE), `vodupd-probe not found at ${PROBE}`);
    dir = makeTmpDir('media-');
    f.mp4 = path.join(dir, 'h264-aac.mp4');
    ffmpeg(...lavfiVideo('320x240', 2), ...lavfiAudio(2), '-c:v', 'libx264', '-preset', 'ultrafast',
      '-pix_fmt', 'yuv420p', '-c:a', 'aac', '-shortest', f.mp4);
    f.webm = path.join(dir, 'vp9-opus.webm');
    ffmpeg(...lavfiVideo('320x180', 2), ...lavfiAudio(2, 48000), '-c:v', 'libvpx-vp9', '-deadline', 'realtime',
      '-cpu-used', '8', '-c:a', 'libopus', '-shortest', f.webm);
    f.mov = path.join(dir, 'stereo.mov');
    ffmpeg(...lavfiVideo('176x144', 1.5), '-f', 'lavfi', '-i', 'sine=duration=1.5', '-ac', '2',
      '-c:v', 'libx264', '-preset', 'ultrafast', '-c:a', 'aac', '-shortest', f.mov);
    f.mp3 = path.join(dir, 'tone.mp3');
    ffmpeg(...lavfiAudio(2), '-c:a', 'libmp3lame', f.mp3);
    f.wide = path.join(dir, 'wide.mp4');   // over the cover cap: scaled to 1280 wide
    ffmpeg(...lavfiVideo('1600x900', 1), '-c:v', 'libx264', '-preset', 'ultrafast', '-pix_fmt', 'yuv420p', f.wide);
    // MPEG-2 in MPEG-TS with a single keyframe: the seek to 10% lands past it (TS seeks by
    // timestamp search) and so does a seek to the start time; the cover is the first frame.
    f.ts = path.join(dir, 'one-gop.ts');
    ffmpeg(...lavfiVideo('160x120', 0.5), '-r', '10', '-c:v', 'mpeg2video', '-g', '50', '-f', 'mpegts', f.ts);
    f.png = path.join(dir, 'still.png');
    ffmpeg(...lavfiVideo('64x48', 1), '-frames:v', '1', f.png);
    // Cut in half: with the index (moov) last it is gone; with it first (faststart) the
    // index points past the end.
    const mp4 = fs.readFileSync(f.mp4);
    f.cut = path.join(dir, 'cut.mp4');
    fs.writeFileSync(f.cut, mp4.subarray(0, mp4.length >> 1));
    f.faststart = path.join(dir, 'faststart.mp4');
    ffmpeg('-i', f.mp4, '-c', 'copy', '-movflags', '+faststart', f.faststart);
    const fst = fs.readFileSync(f.faststart);
    f.cutFaststart = path.join(dir, 'cut-faststart.mp4');
    fs.writeFileSync(f.cutFaststart, fst.subarray(0, fst.length >> 1));
    // Random bytes from a fixed-seed generator: the same every run.
    let x = 0x2545f491;
    const rnd = Buffer.alloc(64 * 1024);
    for (let i = 0; i < rnd.length; i++) { x ^= x << 13; x ^= x >>> 17; x ^= x << 5; rnd[i] = x & 0xff; }
    f.random = path.join(dir, 'random.bin');
    fs.writeFileSync(f.random, rnd);
    f.empty = path.join(dir, 'empty.bin');
    fs.writeFileSync(f.empty, '');
  });
  after(() => cleanupTmpDirs());

  for (const [name, key] of [['MP4 H.264 + AAC', 'mp4'], ['WebM VP9 + Opus', 'webm'], ['MOV, stereo', 'mov'],
    ['1600x900 MP4 (cover capped at 1280 wide)', 'wide']]) {
    it(`${name}: fields as ffprobe says, a JPEG cover from near 10%`, T, withLogs(() => {
      const info = probeRun(f[key]);
      const { v } = checkAgainstFfprobe(f[key], info);
      assert.ok(v, 'the sample has video');
      checkCover(info, v);
      assert.equal(info.fd_offset, 0, "the parent's fd offset is untouched (the child preads)");
    }));
  }

  it('MPEG-TS with one keyframe: the cover falls back to the first frame', T, withLogs(() => {
    const info = probeRun(f.ts);
    const { v } = checkAgainstFfprobe(f.ts, info);
    checkCover(info, v, { firstFrame: true });
  }));

  it('MP3: audio only is OK, without a cover', T, withLogs(() => {
    const info = probeRun(f.mp3);
    checkAgainstFfprobe(f.mp3, info);
    assert.equal(info.cover_size, 0);
    assert.equal(info.coverPath, null);
  }));

  it('a PNG is a still image: not_media (ffprobe agrees it is png)', T, withLogs(() => {
    assert.equal(ffprobe(f.png).streams[0].codec_name, 'png');
    const info = probeRun(f.png);
    assert.equal(info.status, 'not_media');
    assert.match(info.message, /still image/);
    assert.equal(info.cover_size, 0);
  }));

  it('random bytes and an empty file: not_media', T, withLogs(() => {
    for (const file of [f.random, f.empty]) {
      const info = probeRun(file);
      assert.equal(info.status, 'not_media', `${file}: ${info.message}`);
      assert.equal(info.rc, -1);
    }
  }));

  it('a truncated MP4 (index last, or index first): corrupt, with a message', T, withLogs(() => {
    const a = probeRun(f.cut);
    assert.equal(a.status, 'corrupt', a.message);
    assert.match(a.message, /mp4/);
    const b = probeRun(f.cutFaststart);
    assert.equal(b.status, 'corrupt', b.message);
    assert.match(b.message, /cut short/);
    // The uncut faststart file is fine: it is the cut that is detected.
    assert.equal(probeRun(f.faststart).status, 'ok');
  }));

  it('vodupd-probe speaks its protocol: a JSON line, then exactly cover_size JPEG bytes', T, withLogs(() => {
    const r = spawnSync(PROBE, [f.mp4]);
    assert.equal(r.status, 0, String(r.stderr));
    const nl = r.stdout.indexOf(10);
    const j = JSON.parse(r.stdout.subarray(0, nl).toString('utf8'));
    assert.equal(j.status, 'ok');
    const jpeg = r.stdout.subarray(nl + 1);
    assert.equal(jpeg.length, j.cover_size);
    assert.deepEqual([...jpeg.subarray(0, 2)], [0xff, 0xd8], 'a JPEG SOI marker');
    // Reading from a file descriptor (what vodup_probe_run gives it) is the same answer.
    const fd = fs.openSync(f.mp4, 'r');
    const r2 = spawnSync(PROBE, ['--fd', '3'], { stdio: ['ignore', 'pipe', 'pipe', fd] });
    fs.closeSync(fd);
    assert.equal(r2.status, 0, String(r2.stderr));
    assert.ok(r2.stdout.equals(r.stdout));
    // Bad usage: exit 2 and words; a missing file: exit 1.
    assert.equal(spawnSync(PROBE, ['--deadline-ms', 'soon']).status, 2);
    assert.equal(spawnSync(PROBE, ['--bogus']).status, 2);
    assert.equal(spawnSync(PROBE, [path.join(dir, 'missing')]).status, 1);
  }));

  describe('hostile inputs: a status, never a hang or a crash', () => {
    it('a header claiming a 16000x16000 frame: too_large, nothing allocated for it', T, withLogs(() => {
      const y4m = path.join(dir, 'huge.y4m');
      fs.writeFileSync(y4m, Buffer.concat([Buffer.from('YUV4MPEG2 W16000 H16000 F25:1 C420jpeg\nFRAME\n'),
        Buffer.alloc(4096, 0x80)]));
      const info = probeRun(y4m);
      assert.equal(info.status, 'too_large', info.message);
      assert.match(info.message, /16000x16000/);
    }));

    it('an MP4 whose sample entry claims 65535x65535: too_large', T, withLogs(() => {
      const d = Buffer.from(fs.readFileSync(f.mp4));
      const stsd = d.indexOf('stsd');
      const avc1 = d.indexOf('avc1', stsd);
      assert.ok(stsd > 0 && avc1 > stsd);
      d.writeUInt16BE(0xffff, avc1 + 28);   // VisualSampleEntry width, then height
      d.writeUInt16BE(0xffff, avc1 + 30);
      const file = path.join(dir, 'huge-dims.mp4');
      fs.writeFileSync(file, d);
      const info = probeRun(file);
      assert.equal(info.status, 'too_large', info.message);
      assert.match(info.message, /65535x65535/);
    }));

    it('an MP4 whose header claims 268 million samples (a bomb of an index): corrupt, fast', T, withLogs(() => {
      const d = Buffer.from(fs.readFileSync(f.faststart));
      const stsz = d.indexOf('stsz');
      d.writeUInt32BE(1000, stsz + 8);         // a constant sample size ...
      d.writeUInt32BE(0x0fffffff, stsz + 12);  // ... for 2^28 - 1 samples: ~6 GiB of index entries
      const file = path.join(dir, 'bomb.mp4');
      fs.writeFileSync(file, d);
      const info = probeRun(file);
      assert.ok(['corrupt', 'too_large'].includes(info.status), `${info.status}: ${info.message}`);
      assert.ok(info.elapsedMs < 15000 * SLOW, `took ${info.elapsedMs} ms`);
    }));

    it('a probe that hangs is killed at the wall-clock limit and reported as timeout', T, withLogs(() => {
      const info = probeRun(f.mp4, { timeoutMs: 1500, env: { VODUP_PROBE_TEST_SLEEP_MS: '60000' } });
      assert.equal(info.status, 'timeout', info.message);
      assert.match(info.message, /killed/);
      assert.ok(info.elapsedMs >= 1400 && info.elapsedMs < 10000 * SLOW, `took ${info.elapsedMs} ms`);
      // A short sleep inside the limit changes nothing.
      assert.equal(probeRun(f.mp3, { timeoutMs: 20000 * SLOW, env: { VODUP_PROBE_TEST_SLEEP_MS: '100' } }).status, 'ok');
    }));

    it('a probe spinning on the CPU is ended by its RLIMIT_CPU: timeout', T, withLogs(() => {
      const info = probeRun(f.mp4, { timeoutMs: 30000 * SLOW, cpuSeconds: 1, env: { VODUP_PROBE_TEST_SPIN: '1' } });
      assert.equal(info.status, 'timeout', info.message);
      assert.match(info.message, /CPU time/);
      assert.ok(info.elapsedMs < 25000 * SLOW, `took ${info.elapsedMs} ms: the wall clock, not the CPU limit`);
    }));

    it('a probe out of address space (RLIMIT_AS) answers too_large or dies, and is reported', { ...T,
      skip: SKIP || (SANITIZE && 'ASan needs its address space: vodupd-probe skips RLIMIT_AS under it') },
    withLogs(() => {
      const r = spawnSync(PROBE, ['--as-mib', '40', f.wide]);
      if (r.signal === null) {
        assert.equal(r.status, 0, String(r.stderr));
        const j = JSON.parse(r.stdout.subarray(0, r.stdout.indexOf(10)).toString('utf8'));
        assert.equal(j.status, 'too_large', j.message);
      }
    }));

    it("the child gets none of the parent's other fds and none of its environment", T, withLogs(async () => {
      // probe-run-tool (vodupd's side) with an extra fd open and a marker in its environment;
      // its child sleeps, so /proc shows what it was given.
      const extra = fs.openSync(f.mp3, 'r');
      const tool = spawn(RUN_TOOL, [PROBE, f.mp4, String(30000 * SLOW), ''], {
        stdio: ['ignore', 'pipe', 'inherit', extra],
        env: { ...process.env, VODUP_PROBE_TEST_SLEEP_MS: String(20000 * SLOW), VODUP_SECRET_MARKER: 'x' },
      });
      fs.closeSync(extra);
      const exited = new Promise(r => tool.on('exit', r));
      let child;
      try {
        const deadline = Date.now() + 10000 * SLOW;
        for (;;) {
          const kids = fs.readdirSync(`/proc/${tool.pid}/task`).flatMap(t =>
            fs.readFileSync(`/proc/${tool.pid}/task/${t}/children`, 'utf8').trim().split(/\s+/).filter(Boolean));
          // The child has closed what it does not need once it sleeps: wait for its fds to settle.
          if (kids.length) {
            const fds = fs.readdirSync(`/proc/${kids[0]}/fd`).map(Number).sort((a, b) => a - b);
            if (!fds.includes(3)) { child = { pid: kids[0], fds }; break; }
          }
          assert.ok(Date.now() < deadline, 'the probe child did not show up with its fds closed');
          await new Promise(r => setTimeout(r, 20));
        }
        assert.deepEqual(child.fds, [0, 1, 2]);
        const env = fs.readFileSync(`/proc/${child.pid}/environ`, 'utf8').split('\0').filter(Boolean);
        assert.deepEqual(env, [`VODUP_PROBE_TEST_SLEEP_MS=${20000 * SLOW}`]);
      } finally {
        // Ending the child ends the tool (its vodup_probe_run sees the child killed).
        if (child) process.kill(Number(child.pid), 'SIGKILL');
        else tool.kill('SIGKILL');
        await exited;
      }
    }));

    it('a probe that is not there: internal, not a crash of the parent', T, withLogs(() => {
      const r = spawnSync(RUN_TOOL, [path.join(dir, 'no-such-probe'), f.mp4, '5000'], { encoding: 'utf8' });
      assert.equal(r.status, 0, r.stderr);
      const info = JSON.parse(r.stdout);
      assert.equal(info.status, 'internal');
      assert.match(info.message, /could not start/);
    }));
  });
});
