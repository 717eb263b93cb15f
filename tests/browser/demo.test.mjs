// The app-server example's demo page (examples/app-server/public/index.html, the SDK's
// createUploader API) in headless Chromium, in front of a vodupd whose upload credentials
// live 10 s:
// - three files at once, one of 50 MiB; one paused and resumed (traffic stops while
//   paused), one cancelled and resumed; credentials renewed ahead of expiry with no part
//   failing; every media UploadSucc with the right size and MD5, as the page's list shows
//   (from the app server's GET /api/media); screenshots kept;
// - the same page from a non-localhost http origin (no crypto.subtle: the JavaScript HMAC),
//   reloaded mid-upload: the upload goes on from its IndexedDB record, sending fewer bytes
//   after the reload than the file's size.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import {
  cleanupTmpDirs, makeTmpDir, md5, md5File, randomFile, sleep, startVodupd, withLogs, SLOW,
} from '../compat/lib/vodupd.mjs';
import { rootOss, vodClient } from '../compat/lib/vod.mjs';
import { haveChromium, launch, throttle } from './lib/browser.mjs';

const MiB = 1024 * 1024;
const T = { timeout: 300000 * SLOW };
const TOKEN = 'demo-token-0123456789abcdef';
const AUTH_TTL = 10;
const skip = haveChromium() ? false : 'no /usr/bin/chromium (scripts/install-deps installs it)';
const SHOTS = path.join(process.env.VODUP_BUILD_DIR || 'build', 'tests', 'screenshots');

async function startApp(dir, config) {
  const bin = path.join(process.env.VODUP_BUILD_DIR || path.resolve('build'), 'vodup-app-server');
  const file = path.join(dir, 'app.json');
  fs.writeFileSync(file, JSON.stringify({ listen: '127.0.0.1:0', ...config }));
  const child = spawn(bin, [file], { stdio: ['ignore', 'ignore', 'pipe'] });
  let log = '';
  child.stderr.setEncoding('utf8');
  child.stderr.on('data', d => { log += d; });
  const exited = new Promise(r => child.on('exit', (code, signal) => r({ code, signal })));
  const deadline = Date.now() + 20000 * SLOW;
  for (;;) {
    const m = /listening on http:\/\/127\.0\.0\.1:(\d+)/.exec(log);
    if (m) return { port: Number(m[1]), log: () => log, stop: async () => { child.kill('SIGTERM'); return exited; } };
    if (child.exitCode !== null || Date.now() > deadline) {
      child.kill('SIGKILL');
      throw new Error(`app server did not start:\n${log}`);
    }
    await sleep(20);
  }
}

/** Sum of the bytes vodupd received in UploadPart/PutObject requests in log text. */
function uploadedBytes(logText) {
  let n = 0;
  for (const m of logText.matchAll(/ (?:UploadPart|PutObject) in=(\d+)/g)) n += Number(m[1]);
  return n;
}

describe('demo page in Chromium', { skip }, () => {
  let srv, app, browser, dir;
  before(async () => {
    srv = await startVodupd({ extraArgs: ['--upload-auth-ttl', String(AUTH_TTL)] });
    dir = makeTmpDir('demo-');
    app = await startApp(dir, {
      vod_endpoint: srv.endpoint,
      access_key_id: srv.creds.AccessKeyId,
      access_key_secret: srv.creds.AccessKeySecret,
      tokens: { [TOKEN]: 'alice' },
      static_dir: path.resolve('examples/app-server/public'),
    });
    browser = await launch({ hostRules: ['app.test'] });
    await browser.addInitScript(t => localStorage.setItem('vodup-demo-token', t), TOKEN);
    fs.mkdirSync(SHOTS, { recursive: true });
  });
  after(async () => {
    await browser?.close();
    await app?.stop();
    await srv?.stop();
    cleanupTmpDirs();
  });

  async function open(origin, { uploadBytesPerSec } = {}) {
    const p = await browser.newPage();
    p.errors = [];
    p.on('pageerror', e => p.errors.push(String(e)));
    if (uploadBytesPerSec) await throttle(browser, p, uploadBytesPerSec);
    await p.goto(`${origin}/`);
    await p.waitForFunction(() => window.demo && window.demo.ready, null, { timeout: 20000 * SLOW });
    return p;
  }
  // A DOM click: the bars re-render many times a second, which can keep Playwright's
  // "stable" check waiting on a loaded machine; the button must still be enabled.
  const clickButton = (p, sel) => p.$eval(sel, b => { if (b.disabled) throw new Error(`${b.dataset.act} is disabled: ${b.closest('li').dataset.status} ${b.closest('li').textContent.replace(/\s+/g, ' ')}`); b.click(); });
  const row = name => `li.file[data-name="${name}"]`;
  const loaded = (p, name) => p.$eval(row(name), li => Number(li.dataset.loaded));
  const status = (p, name) => p.$eval(row(name), li => li.dataset.status);
  const waitFor = (p, name, fn, arg, timeout = 120000) =>
    p.waitForFunction(([sel, src, a]) => { const li = document.querySelector(sel); return li && new Function('li', 'a', src)(li, a); },
      [row(name), fn, arg], { timeout: timeout * SLOW, polling: 50 }).catch(async e => {
      // What the page and the app server were doing: the rows and the SDK's transfer state.
      const rows = await p.evaluate(() => window.demo.rows.map(r => ({ name: r.file.name, status: r.status, loaded: r.loaded,
        text: r.li && r.li.textContent.replace(/\s+/g, ' '), sdk: window.demo.uploader?._state?.(r.file) })))
        .catch(err => `(page not readable: ${err.message})`);
      const events = await p.evaluate(() => window.demo.events.join('\n')).catch(() => '');
      throw new Error(`${e.message}\nwaiting for ${name}: ${fn}\nrows: ${JSON.stringify(rows, null, 1)}\npage events:\n${events}\n` +
        `app server log (tail):\n${app.log().slice(-4000)}`, { cause: e });
    });

  /** The media of these files: UploadSucc, the file's size, and the stored bytes' MD5. */
  async function checkMedia(p, files) {
    // The page lists what the app server's GET /api/media says (VOD's Status and Size).
    await p.waitForFunction(() => [...document.querySelectorAll('#media tr[data-media-id]')].every(tr => tr.dataset.vodStatus !== undefined),
      null, { timeout: 20000 * SLOW, polling: 50 });
    const ids = await p.$$eval('#media tr[data-media-id]', trs => trs.map(tr => [tr.cells[0].textContent, tr.dataset.mediaId,
      tr.cells[1].textContent, tr.dataset.vodSize, tr.querySelector('a')?.getAttribute('href')]));
    const vod = vodClient(srv);
    for (const f of files) {
      const name = path.basename(f);
      const hit = ids.filter(([n]) => n === name);
      assert.equal(hit.length, 1, `${name} listed once among the uploaded media`);
      assert.equal(hit[0][2], 'UploadSucc', `${name}: the list shows VOD's status`);
      assert.equal(Number(hit[0][3]), fs.statSync(f).size, `${name}: the list shows VOD's size`);
      assert.equal(hit[0][4], `/api/media?id=${hit[0][1]}`, `${name}: links to its media info`);
      const info = await vod.request('GetVideoInfo', { VideoId: hit[0][1] });
      assert.equal(info.Video.Status, 'UploadSucc', name);
      assert.equal(Number(info.Video.Size), fs.statSync(f).size, `${name}: size`);
      const oss = rootOss(srv, info.Video.StorageLocation.split('.')[0]); // "<bucket>.<endpoint host>"
      // Object keys do not name the file ("sv/<id>/<id>.mp4"): one of the bucket's objects
      // of this size must hold exactly the file's bytes.
      const list = await oss.list({ 'max-keys': 1000 });
      const want = await md5File(f);
      let found = false;
      for (const o of list.objects.filter(o => Number(o.size) === fs.statSync(f).size)) {
        if (md5((await oss.get(o.name)).content) === want) found = true;
      }
      assert.ok(found, `${name}: an object with its MD5 is stored`);
    }
  }

  it('three files at once (one 50 MiB); pause/resume one, cancel/resume another; 10 s credentials renewed ahead', T, withLogs(async () => {
    const files = [await randomFile(dir, 50 * MiB, 'big-50MiB.mp4'), await randomFile(dir, 12 * MiB, 'clip-12MiB.mp4'),
                   await randomFile(dir, 20 * MiB, 'clip-20MiB.mp4')];
    const logFrom = srv.stderr().length;
    const p = await open(`http://127.0.0.1:${app.port}`, { uploadBytesPerSec: 4 * MiB });
    assert.equal(await p.evaluate(() => !!(window.isSecureContext && crypto.subtle)), true, 'loopback origin: WebCrypto');
    await p.setInputFiles('#pick', files);

    // Once two files are uploading at the same time, well before their end, pause one and
    // cancel the other (which ones depends on how the browser schedules their requests).
    const busy = await p.waitForFunction(min => {
      const rows = [...document.querySelectorAll('li.file')].filter(li => li.dataset.status === 'uploading' &&
        Number(li.dataset.loaded) > min && Number(li.dataset.loaded) < window.demo.rows.find(r => r.li === li).file.size - 8 * min);
      if (rows.length < 2) return null;
      // Exactly two: when all three qualify, the third must go on untouched (a third click
      // used to cancel it too, and nothing resumed it: the test hung on a row left cancelled).
      const [pauseLi, cancelLi] = rows;
      pauseLi.querySelector('[data-act=pause]').click();
      cancelLi.querySelector('[data-act=cancel]').click();
      return [pauseLi.dataset.name, cancelLi.dataset.name];
    }, 256 * 1024, { timeout: 120000 * SLOW, polling: 20 });
    const [pausedName, cancelledName] = await busy.jsonValue();
    assert.equal(await status(p, pausedName), 'paused');
    await waitFor(p, cancelledName, 'return li.dataset.status === "cancelled"');
    const atPause = await loaded(p, pausedName);
    const atCancel = await loaded(p, cancelledName);
    await p.screenshot({ path: path.join(SHOTS, 'demo-mid-upload.png') });
    await sleep(1500); // nothing may move while stopped
    assert.equal(await loaded(p, pausedName), atPause, 'no progress while paused');
    assert.equal(await loaded(p, cancelledName), atCancel, 'no progress while cancelled');
    // Resume goes on; Retry of the cancelled file goes on from its multipart upload.
    await clickButton(p, `${row(pausedName)} [data-act=resume]`);
    await clickButton(p, `${row(cancelledName)} [data-act=retry]`);

    for (const f of files) await waitFor(p, path.basename(f), 'return li.dataset.status === "done"', null, 100000);
    await p.screenshot({ path: path.join(SHOTS, 'demo-done.png'), fullPage: true });
    await p.setViewportSize({ width: 390, height: 844 });
    await p.screenshot({ path: path.join(SHOTS, 'demo-phone.png'), fullPage: true });
    assert.deepEqual(p.errors, []);
    await checkMedia(p, files);

    const log = srv.stderr().slice(logFrom);
    assert.ok((log.match(/RefreshUploadVideo/g) || []).length >= 2, 'credentials were renewed during the upload');
    const refused = log.split('\n').filter(l => / (UploadPart|PutObject|CompleteMultipartUpload|InitiateMultipartUpload) /.test(l) && / 4\d\d /.test(l));
    assert.deepEqual(refused, [], 'no request was refused (renewed ahead of expiry)');
    // The cancelled file resumed: everything was sent about once, not twice.
    const total = files.reduce((n, f) => n + fs.statSync(f).size, 0);
    assert.ok(uploadedBytes(log) < total + 8 * MiB, `sent ${uploadedBytes(log)} bytes for ${total}`);
    await p.close();
  }));

  it('from a non-localhost http origin (JavaScript HMAC), reloaded mid-upload: resumes from the IndexedDB record', T, withLogs(async () => {
    const file = await randomFile(dir, 24 * MiB, 'reload.mp4');
    const p = await open(`http://app.test:${app.port}`, { uploadBytesPerSec: 6 * MiB });
    assert.equal(await p.evaluate(() => !!(window.crypto && crypto.subtle)), false, 'plain-http origin has no crypto.subtle');
    await p.setInputFiles('#pick', [file]);
    // With 4 parts of 1 MiB in flight, 12 MiB shown means at least 8 MiB stored.
    await waitFor(p, 'reload.mp4', 'return Number(li.dataset.loaded) > a', 12 * MiB);
    await p.reload();
    const logFrom = srv.stderr().length;
    await p.waitForFunction(() => window.demo && window.demo.ready, null, { timeout: 20000 * SLOW });
    await p.setInputFiles('#pick', [file]);
    await waitFor(p, 'reload.mp4', 'return li.dataset.status === "done"', null, 240000);
    assert.deepEqual(p.errors, []);
    await checkMedia(p, [file]);
    const after = uploadedBytes(srv.stderr().slice(logFrom));
    const size = fs.statSync(file).size;
    assert.ok(after > 0 && after < size - 4 * MiB, `after the reload ${after} bytes were sent for a ${size}-byte file`);
    await p.close();
  }));
});
