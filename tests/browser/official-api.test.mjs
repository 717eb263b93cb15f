// A page written only against the official aliyun-upload-sdk 1.5 API, with its script tag
// pointed at vodupd's /sdk/vodup-upload.js, uploads in headless Chromium: in upload-address
// mode (UploadAuth/UploadAddress from the application server), with credentials that expire
// mid-upload (onUploadTokenExpired -> RefreshUploadVideo -> resumeUploadWithAuth), and in
// STS mode (setSTSToken: the SDK calls CreateUploadVideo itself, at the `endpoint` option).
// Every media ends UploadSucc with the file's size and MD5.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import path from 'node:path';
import { cleanupTmpDirs, makeTmpDir, md5File, randomFile, startVodupd, withLogs, SLOW } from '../compat/lib/vodupd.mjs';
import { rootOss, vodClient } from '../compat/lib/vod.mjs';
import { haveChromium, launch, page, startAppServer, throttle } from './lib/browser.mjs';
import { md5 } from '../compat/lib/vodupd.mjs';

const KiB = 1024, MiB = 1024 * KiB;
const T = { timeout: 240000 * SLOW };
const skip = haveChromium() ? false : 'no /usr/bin/chromium (scripts/install-deps installs it)';
const AUTH_TTL = 5; /* seconds: vodupd's --upload-auth-ttl floor, so credentials expire mid-upload */

describe('official 1.5 API page in Chromium', { skip }, () => {
  let srv, app, browser, dir;
  before(async () => {
    srv = await startVodupd({ extraArgs: ['--upload-auth-ttl', String(AUTH_TTL)] });
    dir = makeTmpDir('files-');
    const sdk = `${srv.endpoint}/sdk/vodup-upload.js`;
    app = await startAppServer(srv, {
      pages: {
        '/auth.html': page('official-1.5.html', { SDK_URL: sdk, MODE: 'auth', EXTRA_OPTIONS: '' }),
        '/sts.html': page('official-1.5.html', { SDK_URL: sdk, MODE: 'sts', EXTRA_OPTIONS: `endpoint: '${srv.endpoint}/',` }),
        '/auth-v4.html': page('official-1.5.html', { SDK_URL: sdk, MODE: 'auth', EXTRA_OPTIONS: "signatureVersion: 'v4'," }),
      },
    });
    browser = await launch();
  });
  after(async () => {
    await browser?.close();
    await app?.close();
    await srv?.stop();
    cleanupTmpDirs();
  });

  /** Runs the page on files; returns its event log once onUploadEnd fired. */
  async function run(pagePath, files, { uploadBytesPerSec, drive, onRequest } = {}) {
    const p = await browser.newPage();
    if (onRequest) p.on('request', onRequest);
    const errors = [];
    p.on('pageerror', e => errors.push(String(e)));
    // A request that met expired credentials is sent again by the SDK (the page hears
    // nothing), but Chromium still logs its 403: only other errors count here.
    p.on('console', m => { if (m.type() === 'error' && !/status of 403/.test(m.text())) errors.push(m.text()); });
    if (uploadBytesPerSec) await throttle(browser, p, uploadBytesPerSec);
    await p.goto(`${app.origin}${pagePath}`);
    await p.setInputFiles('#files', files);
    if (drive) await drive(p);
    await p.waitForFunction(() => window.done === true, null, { timeout: 100000 * SLOW, polling: 100 });
    const events = await p.evaluate(() => window.events);
    await p.close();
    assert.deepEqual(errors, [], 'the page logged errors');
    return events;
  }

  run.srv = () => srv;
  /** Each file: onUploadSucceed once, no failure, UploadSucc with its size and MD5. */
  async function checkUploaded(events, files) {
    const failed = events.filter(e => e.type === 'onUploadFailed');
    assert.deepEqual(failed, [], 'no upload failed');
    const vod = vodClient(srv);
    for (const f of files) {
      const name = path.basename(f);
      const ok = events.filter(e => e.type === 'onUploadSucceed' && e.name === name);
      assert.equal(ok.length, 1, `${name}: one onUploadSucceed`);
      const { videoId, bucket, object } = ok[0];
      assert.match(videoId, /^[0-9a-f]{32}$/);
      const info = await vod.request('GetVideoInfo', { VideoId: videoId });
      assert.equal(info.Video.Status, 'UploadSucc', name);
      const size = (await import('node:fs')).statSync(f).size;
      assert.equal(Number(info.Video.Size), size, `${name}: size`);
      const got = await rootOss(srv, bucket).get(object);
      assert.equal(md5(got.content), await md5File(f), `${name}: MD5`);

      // Progress: fractions that only grow, and 1 (100%) only once Complete answered.
      const prog = events.filter(e => e.type === 'progress' && e.name === name);
      assert.ok(prog.length >= 2, `${name}: progress reported`);
      for (let i = 1; i < prog.length; i++) {
        assert.ok(prog[i].loaded >= 0 && prog[i].loaded <= 1);
        assert.equal(prog[i].total, size);
      }
      const okAt = events.indexOf(ok[0]);
      const full = events.findIndex(e => e.type === 'progress' && e.name === name && e.loaded === 1);
      assert.ok(full >= 0 && full < okAt, `${name}: 100% reported right before success`);
      assert.equal(prog.filter(e => e.loaded === 1).length, 1, `${name}: 100% exactly once`);
    }
    assert.equal(events.at(-1).type, 'onUploadEnd');
  }

  it('upload-address mode: a multipart file and a small one', T, withLogs(async () => {
    const files = [await randomFile(dir, 3 * MiB + 12345, 'clip-a.mp4'), await randomFile(dir, 60 * KiB, 'small.mov')];
    const events = await run('/auth.html', files);
    await checkUploaded(events, files);
    assert.equal(events.filter(e => e.type === 'onUploadstarted').length, 2);
  }));

  it('credentials expire mid-upload: onUploadTokenExpired -> RefreshUploadVideo -> resumeUploadWithAuth', T, withLogs(async () => {
    const before = app.calls.refresh;
    // ~9 s at 1 MiB/s against 5 s credentials: at least one renewal, and no part may fail.
    const files = [await randomFile(dir, 9 * MiB, 'long.mp4')];
    const events = await run('/auth.html', files, { uploadBytesPerSec: 1 * MiB });
    await checkUploaded(events, files);
    const expired = events.filter(e => e.type === 'onUploadTokenExpired');
    assert.ok(expired.length >= 1, 'credentials were renewed at least once');
    assert.ok(app.calls.refresh - before >= expired.length, 'each renewal went through RefreshUploadVideo');
  }));

  it('STS mode: setSTSToken; the SDK calls the VOD API itself, at the endpoint option', T, withLogs(async () => {
    const before = app.calls.sts, creates = app.calls.create, logFrom = srv.stderr().length;
    const files = [await randomFile(dir, 2 * MiB + 1, 'sts-clip.mp4'), await randomFile(dir, 30 * KiB, 'sts-small.mp4')];
    const events = await run('/sts.html', files);
    await checkUploaded(events, files);
    assert.ok(app.calls.sts - before >= 2, 'the page handed an STS token per file');
    assert.equal(app.calls.create, creates, 'no CreateUploadVideo through the app server');
    const byPage = srv.stderr().slice(logFrom).split('\n').filter(l => / CreateUploadVideo /.test(l) && / 200 /.test(l) && /ak=STS\./.test(l));
    assert.equal(byPage.length, 2, 'the SDK called CreateUploadVideo with the STS key, once per file');
  }));

  it('STS mode renews the upload credentials itself (RefreshUploadVideo with the STS token)', T, withLogs(async () => {
    const logFrom = srv.stderr().length;
    const files = [await randomFile(dir, 7 * MiB, 'sts-long.mp4')];
    const events = await run('/sts.html', files, { uploadBytesPerSec: 1 * MiB });
    await checkUploaded(events, files);
    assert.deepEqual(events.filter(e => e.type === 'onUploadTokenExpired'), [], 'the page was not bothered');
    const refreshed = srv.stderr().slice(logFrom).split('\n').filter(l => / RefreshUploadVideo /.test(l) && / 200 /.test(l) && /ak=STS\./.test(l));
    assert.ok(refreshed.length >= 1, 'the SDK called RefreshUploadVideo with the STS key');
  }));

  it('signatureVersion v4: every OSS request signed OSS4-HMAC-SHA256', T, withLogs(async () => {
    const auths = [];
    const files = [await randomFile(dir, 2 * MiB + 3, 'v4.mp4'), await randomFile(dir, 20 * KiB, 'v4-small.mp4')];
    const events = await run('/auth-v4.html', files, {
      onRequest: r => { if (['PUT', 'POST'].includes(r.method()) && !r.url().startsWith(app.origin)) auths.push(r.headers().authorization || ''); },
    });
    await checkUploaded(events, files);
    assert.ok(auths.length >= 5, `${auths.length} OSS requests seen`);
    for (const a of auths) assert.match(a, /^OSS4-HMAC-SHA256 Credential=/);
  }));

  it('a reload mid-upload: the record gives uploadInfo.videoId, the page refreshes, only the rest is sent', T, withLogs(async () => {
    const file = await randomFile(dir, 8 * MiB, 'reload-15.mp4');
    const p = await browser.newPage();
    await throttle(browser, p, 2 * MiB);
    await p.goto(`${app.origin}/auth.html`);
    await p.setInputFiles('#files', [file]);
    // Reload once the SDK's checkpoint (official getCheckpoint) has parts stored, not just in flight.
    await p.waitForFunction(() => {
      const cp = uploader.getCheckpoint(uploader.listFiles()[0].file);
      return cp && cp.checkpoint.doneParts.length >= 3;
    }, null, { timeout: 30000 * SLOW, polling: 50 });
    const first = await p.evaluate(() => window.events.find(e => e.type === 'onUploadSucceed' || e.videoId)?.videoId);
    await p.reload();
    const logFrom = srv.stderr().length;
    const refreshes = app.calls.refresh;
    await p.setInputFiles('#files', [file]);
    await p.waitForFunction(() => window.done === true, null, { timeout: 60000 * SLOW, polling: 100 });
    const events = await p.evaluate(() => window.events);
    await p.close();
    await checkUploaded(events, [file]);
    const started = events.find(e => e.type === 'onUploadstarted');
    assert.equal(started.videoId, first, 'onUploadstarted saw the recorded videoId');
    assert.ok(app.calls.refresh > refreshes, 'the page called RefreshUploadVideo');
    let sent = 0;
    for (const m of srv.stderr().slice(logFrom).matchAll(/ UploadPart in=(\d+)/g)) sent += Number(m[1]);
    assert.ok(sent <= 5 * MiB, `sent ${sent} bytes after the reload for 8 MiB`);
  }));

  it('cancelFile keeps the multipart upload: resumeFile goes on from where it was (the official SDK aborts it)', T, withLogs(async () => {
    const file = await randomFile(dir, 8 * MiB, 'cancel-resume.mp4');
    const logFrom = srv.stderr().length;
    const events = await run('/auth.html', [file], {
      uploadBytesPerSec: 2 * MiB,
      drive: async p => {
        await p.waitForFunction(() => window.events.some(e => e.type === 'progress' && e.loaded > 0.3), null, { timeout: 30000 * SLOW, polling: 50 });
        const st = await p.evaluate(() => { uploader.cancelFile(0); return uploader.listFiles()[0].state; });
        assert.equal(st, 'Canceled');
        // The list ended with the cancel (onUploadEnd, as the official SDK does); resumeFile
        // starts it again (the official one only flips the state) and it ends anew.
        assert.equal(await p.evaluate(() => window.done), true);
        await p.evaluate(() => { window.done = false; uploader.resumeFile(0); });
      },
    });
    await checkUploaded(events, [file]);
    assert.equal(events.filter(e => e.type === 'onUploadCanceled').length, 1);
    const log = srv.stderr().slice(logFrom);
    assert.doesNotMatch(log, /AbortMultipartUpload/, 'cancel did not abort');
    assert.equal((log.match(/ InitiateMultipartUpload /g) || []).length, 1, 'one multipart upload, continued');
    let sent = 0;
    for (const m of log.matchAll(/ UploadPart in=(\d+)/g)) sent += Number(m[1]);
    assert.ok(sent < 8 * MiB + 3 * MiB, `sent ${sent} bytes for 8 MiB`);
  }));

  it('stopUpload stops the traffic at once; startUpload goes on', T, withLogs(async () => {
    const file = await randomFile(dir, 6 * MiB, 'stop-start.mp4');
    const events = await run('/auth.html', [file], {
      uploadBytesPerSec: 2 * MiB,
      drive: async p => {
        await p.waitForFunction(() => window.events.some(e => e.type === 'progress' && e.loaded > 0.2), null, { timeout: 30000 * SLOW, polling: 50 });
        const st = await p.evaluate(() => { uploader.stopUpload(); return uploader.listFiles()[0].state; });
        assert.equal(st, 'Stoped');
        const n = await p.evaluate(() => window.events.length);
        await new Promise(r => setTimeout(r, 1000)); // nothing may happen while stopped
        assert.equal(await p.evaluate(() => window.events.length), n, 'no event while stopped');
        await p.evaluate(() => uploader.startUpload());
      },
    });
    await checkUploaded(events, [file]);
  }));
});

// Faults between the page and the object store (a proxy that vodupd names as its public
// URL): a reset connection and 5xx answers are retried with backoff, invisibly to the page.
describe('official 1.5 API page through a faulty network', { skip }, () => {
  let srv, app, browser, dir, proxy;
  const faults = { reset: 0, s503: 0, s500: 0 };
  const corrupt = { armed: false, done: false };
  before(async () => {
    const http = await import('node:http');
    let target = 0, parts = 0, completes = 0, corruptNext = false;
    proxy = http.createServer((req, res) => {
      const u = new URL(req.url, 'http://x');
      const isPart = req.method === 'PUT' && u.searchParams.has('partNumber');
      const isComplete = req.method === 'POST' && u.searchParams.has('uploadId');
      const cors = { 'access-control-allow-origin': req.headers.origin || '*', 'content-type': 'application/xml' };
      const err = code => `<?xml version="1.0" encoding="UTF-8"?><Error><Code>${code}</Code><Message>injected</Message></Error>`;
      if (isPart && ++parts % 4 === 2) { faults.reset++; req.socket.destroy(); return; }
      if (isPart && parts % 4 === 3) { faults.s503++; req.resume(); req.on('end', () => { res.writeHead(503, cors); res.end(err('ServiceUnavailable')); }); return; }
      // With crc.html: one part's bytes are changed on the way, once (the store cannot tell).
      if (isPart && corrupt.armed && !corrupt.done && parts % 4 === 0) {
        corrupt.done = true;
        const chunks = [];
        req.on('data', c => chunks.push(c));
        req.on('end', () => {
          const body = Buffer.concat(chunks);
          body[body.length >> 1] ^= 0xff;
          const up = http.request({ host: '127.0.0.1', port: target, method: req.method, path: req.url, headers: req.headers }, r => {
            res.writeHead(r.statusCode, r.headers);
            r.pipe(res);
          });
          up.on('error', () => res.destroy());
          up.end(body);
        });
        return;
      }
      if (isComplete && ++completes === 1) { faults.s500++; req.resume(); req.on('end', () => { res.writeHead(500, cors); res.end(err('InternalError')); }); return; }
      const up = http.request({ host: '127.0.0.1', port: target, method: req.method, path: req.url, headers: req.headers }, r => {
        res.writeHead(r.statusCode, r.headers);
        r.pipe(res);
      });
      up.on('error', () => res.destroy());
      req.pipe(up);
    });
    await new Promise(r => proxy.listen(0, '127.0.0.1', r));
    const pport = proxy.address().port;
    srv = await startVodupd({ extraArgs: ['--public-url', `http://127.0.0.1:${pport}`] });
    target = srv.port;
    dir = makeTmpDir('files-');
    app = await startAppServer(srv, {
      pages: {
        '/auth.html': page('official-1.5.html', { SDK_URL: `${srv.endpoint}/sdk/vodup-upload.js`, MODE: 'auth', EXTRA_OPTIONS: 'retryDuration: 0.2,' }),
        '/crc.html': page('official-1.5.html', { SDK_URL: `${srv.endpoint}/sdk/vodup-upload.js`, MODE: 'auth', EXTRA_OPTIONS: 'retryDuration: 0.2, crc64: true,' }),
      },
    });
    browser = await launch();
  });
  after(async () => {
    await browser?.close();
    await app?.close();
    proxy?.closeAllConnections?.();
    await new Promise(r => (proxy ? proxy.close(() => r()) : r()));
    await srv?.stop();
    cleanupTmpDirs();
  });

  it('resets and 5xx are retried: the upload succeeds, no failure reaches the page', T, withLogs(async () => {
    const file = await randomFile(dir, 6 * MiB + 7, 'faulty.mp4');
    const p = await browser.newPage();
    await p.goto(`${app.origin}/auth.html`);
    await p.setInputFiles('#files', [file]);
    await p.waitForFunction(() => window.done === true, null, { timeout: 100000 * SLOW, polling: 100 });
    const events = await p.evaluate(() => window.events);
    await p.close();
    assert.deepEqual(events.filter(e => e.type === 'onUploadFailed'), []);
    const ok = events.find(e => e.type === 'onUploadSucceed');
    assert.ok(ok, 'succeeded');
    assert.ok(faults.reset >= 1 && faults.s503 >= 1 && faults.s500 === 1, JSON.stringify(faults));
    const info = await vodClient(srv).request('GetVideoInfo', { VideoId: ok.videoId });
    assert.equal(info.Video.Status, 'UploadSucc');
    assert.equal(Number(info.Video.Size), 6 * MiB + 7);
    const got = await rootOss(srv, ok.bucket).get(ok.object);
    assert.equal(md5(got.content), await md5File(file));
  }));

  it('crc64: a part changed on the way is noticed (CRC-64 of the stored part) and sent again', T, withLogs(async () => {
    corrupt.armed = true;
    const file = await randomFile(dir, 5 * MiB + 11, 'corrupted.mp4');
    const p = await browser.newPage();
    await p.goto(`${app.origin}/crc.html`);
    await p.setInputFiles('#files', [file]);
    await p.waitForFunction(() => window.done === true, null, { timeout: 100000 * SLOW, polling: 100 });
    const events = await p.evaluate(() => window.events);
    const checked = await p.evaluate(() => uploader.listFiles()[0]._vodup.transfer.crcChecked);
    // How fast the page computes CRC-64 (docs/web-sdk.md quotes it).
    const rate = await p.evaluate(() => {
      const b = new Uint8Array(32 << 20);
      for (let i = 0; i < b.length; i += 4096) b[i] = i & 255;
      let best = Infinity;
      for (let k = 0; k < 3; k++) {
        const t0 = performance.now();
        VodupUpload._internal.crc64(b);
        best = Math.min(best, performance.now() - t0);
      }
      return 32 / (best / 1000);
    });
    process.stdout.write(`# CRC-64 in Chromium: ${rate.toFixed(0)} MiB/s\n`);
    await p.close();
    assert.ok(corrupt.done, 'the proxy changed a part');
    assert.deepEqual(events.filter(e => e.type === 'onUploadFailed'), []);
    const ok = events.find(e => e.type === 'onUploadSucceed');
    const got = await rootOss(srv, ok.bucket).get(ok.object);
    assert.equal(md5(got.content), await md5File(file), 'the stored object is the file');
    assert.ok(checked >= 6, `CRC-64 checked on ${checked} parts`);
  }));
  // Here the credentials live long (vodupd's default): deleteFile can abort only while the
  // file's credentials are valid (later the store's upload expiry removes the parts).
  it('deleteFile aborts the multipart upload and removes the file', T, withLogs(async () => {
    const file = await randomFile(dir, 8 * MiB, 'deleted.mp4');
    const logFrom = srv.stderr().length;
    const p = await browser.newPage();
    await throttle(browser, p, 2 * MiB);
    await p.goto(`${app.origin}/auth.html`);
    await p.setInputFiles('#files', [file]);
    await p.waitForFunction(() => window.events.some(e => e.type === 'progress' && e.loaded > 0.2), null, { timeout: 30000 * SLOW, polling: 50 });
    assert.equal(await p.evaluate(() => { uploader.deleteFile(0); return uploader.listFiles().length; }), 0);
    const deadline = Date.now() + 10000 * SLOW;
    while (!/AbortMultipartUpload/.test(srv.stderr().slice(logFrom))) {
      assert.ok(Date.now() < deadline, 'no AbortMultipartUpload reached vodupd');
      await new Promise(r => setTimeout(r, 50));
    }
    assert.match(srv.stderr().slice(logFrom), / 204 AbortMultipartUpload /);
    await p.close();
  }));

});
