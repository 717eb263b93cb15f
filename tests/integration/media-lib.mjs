// Helpers of the media tests (media-probe, media-jobs): FFmpeg-made samples and ffprobe's view.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';

export const HAVE_FFMPEG = spawnSync('ffmpeg', ['-version']).status === 0 && spawnSync('ffprobe', ['-version']).status === 0;
export const SKIP = HAVE_FFMPEG ? false : 'ffmpeg/ffprobe not installed (scripts/install-deps installs them)';

export function ffmpeg(...args) {
  const r = spawnSync('ffmpeg', ['-hide_banner', '-loglevel', 'error', '-y', ...args], { encoding: 'utf8' });
  assert.equal(r.status, 0, `ffmpeg ${args.join(' ')}: ${r.stderr}`);
}

export function ffprobe(file) {
  const r = spawnSync('ffprobe', ['-v', 'error', '-print_format', 'json', '-show_format', '-show_streams', file],
    { encoding: 'utf8' });
  assert.equal(r.status, 0, `ffprobe ${file}: ${r.stderr}`);
  return JSON.parse(r.stdout);
}

export const rate = s => { const [n, d] = String(s).split('/').map(Number); return d ? n / d : 0; };

export const lavfiVideo = (size, secs) => ['-f', 'lavfi', '-i', `testsrc=size=${size}:rate=25:duration=${secs}`];
export const lavfiAudio = (secs, sr = 44100) => ['-f', 'lavfi', '-i', `sine=frequency=440:duration=${secs}:sample_rate=${sr}`];
