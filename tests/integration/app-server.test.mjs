// The example app server (examples/app-server, build/vodup-app-server) in front of a vodupd
// it starts: bearer-token authentication, the upload credentials it hands out (used by the
// CLI's upload-auth mode, i.e. libvodup), refresh ownership, STS, the static folder, CORS for
// configured origins (preflights answered without a token), /healthz, and its log.
//
// Environment (CTest): VODUPD, VODUP_BUILD_DIR, VODUP_TEST_TMP, VODUP_SANITIZE.

import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import http from 'node:http';
import path from 'node:path';
import {
  startVodupd, withLogs, makeTmpDir, SLOW, randomFile, md5File, md5, vodupdPath, sleep,
} from '../compat/lib/vodupd.mjs';
import { vodClient, uploadClient } from '../compat/lib/vod.mjs';

const T = { timeout: 120000 * SLOW };
const ALICE = 'alice-token-0123456789abcdef';
const BOB = 'bob-token-0123456789abcdef0123';

const buildDir = () => process.env.VODUP_BUILD_DIR || path.resolve('build');
function binary(name) {
  const p = path.join(buildDir(), name);
  if (!fs.existsSync(p)) throw new Error(`${name} not found at ${p}; set VODUP_BUILD_DIR`);
  return p;
}

function admin(dataDir, ...args) {
  const r = spawnSync(vodupdPath(), [...args, '--data-dir', dataDir], { encoding: 'utf8', timeout: 60000 * SLOW });
  assert.equal(r.status, 0, `vodupd ${args.join(' ')}: ${r.stderr}`);
  return JSON.parse(r.stdout);
}

async function startApp(dir, config) {
  const file = path.join(dir, `app-${Math.random().toString(16).slice(2)}.json`);
  fs.writeFileSync(file, JSON.stringify({ listen: '127.0.0.1:0', ...config }));
  const child = spawn(binary('vodup-app-server'), [file], { stdio: ['ignore', 'pipe', 'pipe'] });
  let err = '';
  child.stderr.setEncoding('utf8');
  child.stderr.on('data', d => { err += d; });
  const exited = new Promise(r => child.on('exit', (code, signal) => r({ code, signal })));
  let exit = null;
  exited.then(e => { exit = e; });
  const deadline = Date.now() + 20000 * SLOW;
  let port;
  for (;;) {
    const m = /listening on http:\/\/127\.0\.0\.1:(\d+)/.exec(err);
    if (m) { port = Number(m[1]); break; }
    if (exit) throw new Error(`app server exited (${JSON.stringify(exit)}):\n${err}`);
    if (Date.now() > deadline) { child.kill('SIGKILL'); throw new Error(`app server not ready:\n${err}`); }
    await sleep(20);
  }
  return {
    port,
    log: () => err,
    async stop() {
      if (!exit) child.kill('SIGTERM');
      const e = await exited;
      assert.deepEqual(e, { code: 0, signal: null }, `app server did not stop cleanly:\n${err}`);
    },
  };
}

function request(port, { method = 'GET', path: p, token, body, headers = {} }) {
  return new Promise((resolve, reject) => {
    const h = { ...headers };
    if (token) h.authorization = `Bearer ${token}`;
    let data;
    if (body !== undefined) {
      data = typeof body === 'string' ? body : JSON.stringify(body);
      h['content-type'] = 'application/json';
      h['content-length'] = Buffer.byteLength(data);
    }
    const req = http.request({ host: '127.0.0.1', port, method, path: p, headers: h, agent: false }, res => {
      const chunks = [];
      res.on('data', c => chunks.push(c));
      res.on('end', () => {
        const text = Buffer.concat(chunks).toString('utf8');
        let json;
        try { json = JSON.parse(text); } catch { /* not JSON */ }
        resolve({ status: res.statusCode, headers: res.headers, text, json });
      });
    });
    req.on('error', reject);
    req.end(data);
  });
}

function cli(args, env = {}) {
  const base = { ...process.env };
  for (const k of Object.keys(base)) if (k.startsWith('VODUP_') && k !== 'VODUP_SANITIZE') delete base[k];
  const r = spawnSync(binary('vodup'), args, { env: { ...base, ...env }, encoding: 'utf8', timeout: 120000 * SLOW });
  if (r.error) throw r.error;
  return r;
}

describe('app server', () => {
  let srv, dir, app, appSts, user, role;
  before(async () => {
    srv = await startVodupd();
    dir = makeTmpDir('app-');
    fs.mkdirSync(path.join(dir, 'public', 'sub'), { recursive: true });
    fs.writeFileSync(path.join(dir, 'public', 'index.html'), '<!doctype html><title>vodup demo</title>');
    fs.writeFileSync(path.join(dir, 'public', 'app.js'), 'export const x = 1;\n');
    fs.writeFileSync(path.join(dir, 'secret.txt'), 'outside the static dir');
    fs.symlinkSync(path.join(dir, 'secret.txt'), path.join(dir, 'public', 'escape.txt'));
    app = await startApp(dir, {
      vod_endpoint: srv.endpoint, access_key_id: srv.creds.AccessKeyId, access_key_secret: srv.creds.AccessKeySecret,
      tokens: { [ALICE]: 'alice', [BOB]: 'bob' }, static_dir: path.join(dir, 'public'),
      cors_origins: ['https://app.example.com', 'http://localhost:3000'],
    });
    user = admin(srv.dataDir, 'user', 'create', 'app-server', '--policy', 'AliyunSTSAssumeRoleAccess',
      '--policy', 'AliyunVODFullAccess');
    role = admin(srv.dataDir, 'role', 'create', 'web-uploader', '--policy', 'AliyunVODFullAccess');
    appSts = await startApp(dir, {
      vod_endpoint: srv.endpoint, access_key_id: user.AccessKeyId, access_key_secret: user.AccessKeySecret,
      tokens: { [ALICE]: 'alice@example.com' }, role_arn: role.Arn,
    });
  });
  after(async () => {
    if (app) await app.stop();
    if (appSts) await appSts.stop();
    if (srv) await srv.stop();
  });

  it('refuses requests without a valid bearer token (401, JSON)', T, async () => {
    for (const token of [undefined, 'wrong-token-0123456789', ALICE.slice(0, -1)]) {
      const r = await request(app.port, { method: 'POST', path: '/api/upload-auth', token, body: { Title: 't', FileName: 'a.mp4' } });
      assert.equal(r.status, 401, r.text);
      assert.equal(r.json.Code, 'Unauthorized');
      assert.match(r.headers['www-authenticate'], /^Bearer/);
    }
    const r = await request(app.port, { method: 'POST', path: '/api/sts', headers: { authorization: `Basic ${ALICE}` } });
    assert.equal(r.status, 401);
  });

  it('hands out UploadAuth that libvodup uploads with; the video ends UploadSucc', T, withLogs(async () => {
    const f = await randomFile(dir, 3 * 1024 * 1024 + 17, 'via-app.mp4');
    const r = await request(app.port, {
      method: 'POST', path: '/api/upload-auth', token: ALICE,
      body: { Title: 'via app server', FileName: 'via-app.mp4', FileSize: fs.statSync(f).size },
    });
    assert.equal(r.status, 200, r.text);
    for (const k of ['VideoId', 'UploadAddress', 'UploadAuth']) assert.equal(typeof r.json[k], 'string', k);
    assert.ok(!r.text.includes(srv.creds.AccessKeySecret), 'the account secret leaked');

    const up = cli(['upload', '--json', '--record-dir', path.join(dir, 'rec'), '--upload-address', r.json.UploadAddress,
      '--upload-auth', r.json.UploadAuth, '--video-id', r.json.VideoId, f], { HOME: dir });
    assert.equal(up.status, 0, `${up.stdout}\n${up.stderr}`);
    const o = JSON.parse(up.stdout.trim());
    assert.equal(o.Status, 'UploadSucc');
    assert.equal(o.VideoId, r.json.VideoId);
    const got = await srv.client({ bucket: o.Bucket }).get(o.Object);
    assert.equal(md5(got.content), await md5File(f));

    const info = cli(['video', 'info', '--json', r.json.VideoId], {
      HOME: dir, VODUP_ENDPOINT: srv.endpoint, VODUP_ACCESS_KEY_ID: srv.creds.AccessKeyId,
      VODUP_ACCESS_KEY_SECRET: srv.creds.AccessKeySecret,
    });
    assert.equal(info.status, 0, info.stderr);
    assert.equal(JSON.parse(info.stdout).Video.Status, 'UploadSucc');
    assert.equal(JSON.parse(info.stdout).Video.Title, 'via app server');
  }));

  it('refreshes credentials only for the user who started the upload', T, withLogs(async () => {
    const c = await request(app.port, { method: 'POST', path: '/api/upload-auth', token: ALICE, body: { Title: 'r', FileName: 'r.mp4' } });
    assert.equal(c.status, 200, c.text);
    const ok = await request(app.port, { method: 'POST', path: '/api/refresh-auth', token: ALICE, body: { VideoId: c.json.VideoId } });
    assert.equal(ok.status, 200, ok.text);
    assert.equal(ok.json.VideoId, c.json.VideoId);
    assert.equal(typeof ok.json.UploadAuth, 'string');
    const no = await request(app.port, { method: 'POST', path: '/api/refresh-auth', token: BOB, body: { VideoId: c.json.VideoId } });
    assert.equal(no.status, 403, no.text);
    const bad = await request(app.port, { method: 'POST', path: '/api/refresh-auth', token: ALICE, body: '{not json' });
    assert.equal(bad.status, 400);
    const get = await request(app.port, { method: 'GET', path: '/api/upload-auth', token: ALICE });
    assert.equal(get.status, 405);
    const missing = await request(app.port, { method: 'POST', path: '/api/upload-auth', token: ALICE, body: { Title: 'x' } });
    assert.equal(missing.status, 400);
  }));

  it('hands out image upload credentials', T, withLogs(async () => {
    const r = await request(app.port, { method: 'POST', path: '/api/image-upload-auth', token: BOB, body: { ImageType: 'default', ImageExt: 'png' } });
    assert.equal(r.status, 200, r.text);
    for (const k of ['ImageId', 'UploadAddress', 'UploadAuth']) assert.equal(typeof r.json[k], 'string', k);
    const f = path.join(dir, 'img.png');
    // A PNG signature first: the CLI checks an image's bytes against its extension.
    fs.writeFileSync(f, Buffer.concat([Buffer.from('89504e470d0a1a0a', 'hex'), Buffer.alloc(4992, 7)]));
    const up = cli(['image', 'upload', '--json', '--record-dir', path.join(dir, 'rec'), '--upload-address',
      r.json.UploadAddress, '--upload-auth', r.json.UploadAuth, '--video-id', r.json.ImageId, f], { HOME: dir });
    assert.equal(up.status, 0, `${up.stdout}\n${up.stderr}`);
    assert.equal(JSON.parse(up.stdout.trim()).Status, 'Normal'); // as GetImageInfo says
  }));

  it('GET /api/media: the owner gets VOD\'s Status and Size; another user and unknown ids 404; no token 401', T, withLogs(async () => {
    const c = await request(app.port, { method: 'POST', path: '/api/upload-auth', token: ALICE, body: { Title: 'mine', FileName: 'mine.mp4' } });
    assert.equal(c.status, 200, c.text);
    const id = c.json.VideoId;
    const q = `/api/media?id=${encodeURIComponent(id)}`;
    let r = await request(app.port, { path: q, token: ALICE });
    assert.equal(r.status, 200, r.text);
    assert.equal(r.json.VideoId, id);
    assert.equal(r.json.Status, 'Uploading'); // created, no byte stored yet
    assert.equal(r.json.Title, 'mine');
    const up = { addr: JSON.parse(Buffer.from(c.json.UploadAddress, 'base64')), auth: JSON.parse(Buffer.from(c.json.UploadAuth, 'base64')) };
    await uploadClient(up).put(up.addr.FileName, Buffer.alloc(4321, 3));
    r = await request(app.port, { path: q, token: ALICE });
    assert.equal(r.status, 200, r.text);
    assert.equal(r.json.Status, 'UploadSucc');
    assert.equal(Number(r.json.Size), 4321);
    assert.ok(!r.text.includes(srv.creds.AccessKeySecret));
    // Bob gets what an unknown id gets: nothing tells him that Alice's id exists.
    const bob = await request(app.port, { path: q, token: BOB });
    assert.equal(bob.status, 404, bob.text);
    const unknown = await request(app.port, { path: '/api/media?id=0123456789abcdef0123456789abcdef', token: BOB });
    assert.equal(unknown.status, 404, unknown.text);
    assert.deepEqual(bob.json, unknown.json);
    r = await request(app.port, { path: q });
    assert.equal(r.status, 401, r.text);
    r = await request(app.port, { path: '/api/media', token: ALICE });
    assert.equal(r.status, 400, r.text);
    r = await request(app.port, { method: 'POST', path: q, token: ALICE, body: {} });
    assert.equal(r.status, 405, r.text);
    // An image: its size comes from GetImageInfo's Mezzanine.
    const img = await request(app.port, { method: 'POST', path: '/api/image-upload-auth', token: BOB, body: { ImageExt: 'png' } });
    assert.equal(img.status, 200, img.text);
    const iup = { addr: JSON.parse(Buffer.from(img.json.UploadAddress, 'base64')), auth: JSON.parse(Buffer.from(img.json.UploadAuth, 'base64')) };
    await uploadClient(iup).put(iup.addr.FileName, Buffer.concat([Buffer.from('89504e470d0a1a0a', 'hex'), Buffer.alloc(992, 7)]));
    r = await request(app.port, { path: `/api/media?id=${img.json.ImageId}`, token: BOB });
    assert.equal(r.status, 200, r.text);
    assert.equal(r.json.ImageId, img.json.ImageId);
    assert.equal(r.json.Status, 'Normal'); // as GetImageInfo says of a stored image
    assert.equal(Number(r.json.Size), 1000);
    assert.equal((await request(app.port, { path: `/api/media?id=${img.json.ImageId}`, token: ALICE })).status, 404);
  }));

  it('answers 501 for /api/sts without a role, and STS credentials with one', T, withLogs(async () => {
    const no = await request(app.port, { method: 'POST', path: '/api/sts', token: ALICE, body: {} });
    assert.equal(no.status, 501, no.text);
    const r = await request(appSts.port, { method: 'POST', path: '/api/sts', token: ALICE, body: { DurationSeconds: 900 } });
    assert.equal(r.status, 200, r.text);
    assert.match(r.json.AccessKeyId, /^STS\./);
    assert.equal(r.json.Endpoint, srv.endpoint);
    const f = await randomFile(dir, 200 * 1024, 'sts.mp4');
    const up = cli(['upload', '--json', f], {
      HOME: dir, VODUP_ENDPOINT: r.json.Endpoint, VODUP_ACCESS_KEY_ID: r.json.AccessKeyId,
      VODUP_ACCESS_KEY_SECRET: r.json.AccessKeySecret, VODUP_SECURITY_TOKEN: r.json.SecurityToken,
    });
    assert.equal(up.status, 0, `${up.stdout}\n${up.stderr}`);
    assert.equal(JSON.parse(up.stdout.trim()).Status, 'UploadSucc');
  }));

  it('STS credentials carry a session policy: create and upload only, nothing on other media or the account', T, withLogs(async () => {
    // Bob's video, started through the app server with the account key.
    const bob = await request(app.port, { method: 'POST', path: '/api/upload-auth', token: BOB, body: { Title: 'bob', FileName: 'bob.mp4' } });
    assert.equal(bob.status, 200, bob.text);
    const r = await request(appSts.port, { method: 'POST', path: '/api/sts', token: ALICE, body: {} });
    assert.equal(r.status, 200, r.text);
    const vod = vodClient(srv, r.json, r.json.SecurityToken);
    const refused = async (action, params) => {
      await assert.rejects(vod.request(action, params, { method: 'POST' }), e => {
        assert.equal(e.code, 'Forbidden.RAM', `${action}: ${e.code} ${e.message}`);
        assert.equal(e.entry?.response?.statusCode, 403, action);
        return true;
      }, `${action} was allowed with a user's STS credentials`);
    };
    await refused('RefreshUploadVideo', { VideoId: bob.json.VideoId });
    await refused('GetVideoInfo', { VideoId: bob.json.VideoId });
    await refused('DeleteVideo', { VideoIds: bob.json.VideoId });
    await refused('GetVideoList', {});
    await refused('GetMessageCallback', {});
    await refused('SetMessageCallback', { CallbackURL: 'http://127.0.0.1:9/steal' });
    // Bob's video is untouched (the account key still sees it).
    const info = await vodClient(srv).request('GetVideoInfo', { VideoId: bob.json.VideoId }, { method: 'POST' });
    assert.equal(info.Video.Title, 'bob');
    // What the credentials are for still works: create, upload.
    const cr = await vod.request('CreateUploadVideo', { Title: 'alice sts', FileName: 'a.mp4' }, { method: 'POST' });
    const j = s => JSON.parse(Buffer.from(s, 'base64').toString('utf8'));
    const up = { addr: j(cr.UploadAddress), auth: j(cr.UploadAuth) };
    await uploadClient(up).put(up.addr.FileName, Buffer.alloc(4096, 1));
    const done = await vodClient(srv).request('GetVideoInfo', { VideoId: cr.VideoId }, { method: 'POST' });
    assert.equal(done.Video.Status, 'UploadSucc');
    const img = await vod.request('CreateUploadImage', { ImageType: 'default', ImageExt: 'png' }, { method: 'POST' });
    assert.match(img.ImageId, /^[0-9a-f]{32}$/);
  }));

  it('serves the static folder and nothing outside it', T, async () => {
    let r = await request(app.port, { path: '/' });
    assert.equal(r.status, 200);
    assert.match(r.headers['content-type'], /text\/html/);
    assert.match(r.text, /vodup demo/);
    r = await request(app.port, { path: '/app.js' });
    assert.equal(r.status, 200);
    assert.match(r.headers['content-type'], /javascript/);
    for (const p of ['/../secret.txt', '/%2e%2e/secret.txt', '/sub/../../secret.txt']) {
      r = await request(app.port, { path: p });
      assert.ok(r.status === 400 || r.status === 404, `${p}: ${r.status}`);
      assert.ok(!r.text.includes('outside the static dir'), `${p} escaped`);
    }
    for (const p of ['/escape.txt', '/sub', '/nope.html']) {
      r = await request(app.port, { path: p });
      assert.equal(r.status, 404, p);
    }
  });

  it('answers a CORS preflight of a configured origin (no token), and refuses other origins', T, async () => {
    const pre = origin => request(app.port, { method: 'OPTIONS', path: '/api/upload-auth', headers: {
      ...(origin ? { origin } : {}), 'access-control-request-method': 'POST', 'access-control-request-headers': 'authorization, content-type' } });
    let r = await pre('https://app.example.com');
    assert.equal(r.status, 204, r.text);
    assert.equal(r.headers['access-control-allow-origin'], 'https://app.example.com');
    assert.match(r.headers['access-control-allow-methods'], /POST/);
    assert.match(r.headers['access-control-allow-headers'], /Authorization/i);
    assert.match(r.headers['access-control-allow-headers'], /Content-Type/i);
    assert.match(r.headers.vary, /Origin/);
    r = await pre('http://localhost:3000');
    assert.equal(r.status, 204);
    for (const origin of ['https://evil.example', 'https://app.example.com.evil.example', undefined]) {
      r = await pre(origin);
      assert.equal(r.status, 403, `${origin}: ${r.status}`);
      assert.equal(r.json.Code, 'CorsOriginNotAllowed');
      assert.equal(r.headers['access-control-allow-origin'], undefined);
    }
    // the real request from that origin: its answer is readable by the page, errors too
    r = await request(app.port, { method: 'POST', path: '/api/upload-auth', token: ALICE, body: { Title: 'c', FileName: 'c.mp4' }, headers: { origin: 'https://app.example.com' } });
    assert.equal(r.status, 200, r.text);
    assert.equal(r.headers['access-control-allow-origin'], 'https://app.example.com');
    r = await request(app.port, { method: 'POST', path: '/api/upload-auth', body: {}, headers: { origin: 'https://app.example.com' } });
    assert.equal(r.status, 401);
    assert.equal(r.headers['access-control-allow-origin'], 'https://app.example.com');
    r = await request(app.port, { method: 'POST', path: '/api/upload-auth', token: ALICE, body: { Title: 'c', FileName: 'c.mp4' }, headers: { origin: 'https://evil.example' } });
    assert.equal(r.headers['access-control-allow-origin'], undefined);
    // without cors_origins (appSts) every preflight is refused, never 401
    r = await request(appSts.port, { method: 'OPTIONS', path: '/api/sts', headers: { origin: 'https://app.example.com' } });
    assert.equal(r.status, 403);
  });

  it('GET /healthz answers 200 without a token', T, async () => {
    const r = await request(app.port, { path: '/healthz' });
    assert.equal(r.status, 200);
    assert.deepEqual(r.json, { status: 'ok' });
    assert.equal((await request(app.port, { method: 'POST', path: '/healthz', body: {} })).status, 405);
  });

  it('logs one line per request, with its time, without secrets', T, async () => {
    await request(app.port, { method: 'POST', path: '/api/upload-auth', token: ALICE, body: { Title: 'l', FileName: 'l.mp4' } });
    await sleep(100);
    const log = app.log();
    const line = log.split('\n').find(l => / POST \/api\/upload-auth 200 user=alice /.test(l));
    assert.ok(line, log);
    const stamp = /^(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z) /.exec(line);
    assert.ok(stamp, `no timestamp: ${line}`);
    assert.ok(Math.abs(Date.parse(stamp[1]) - Date.now()) < 60000 * SLOW, stamp[1]);
    for (const s of [ALICE, BOB, srv.creds.AccessKeySecret]) assert.ok(!log.includes(s), 'a secret is in the log');
  });
});
