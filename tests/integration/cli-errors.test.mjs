// The vodup CLI's failures as a new user meets them: each prints a sentence on stderr that
// names the real cause, and with --json a row on stdout with an ErrorCode and an Error.
// Bad --upload-address/--upload-auth, refused upload credentials (no AccessKey hint), an
// endpoint that is not a VOD service, emoji in default and given titles, a video named
// .png, an endpoint with nothing listening (fails fast), a full server (one retry line,
// with a count), unknown --status, secrets kept off the command line, and vodupd's
// data-dir errors.
//
// Environment (CTest): VODUPD, VODUP_BUILD_DIR, VODUP_TEST_TMP, VODUP_SANITIZE.

import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import crypto from 'node:crypto';
import fs from 'node:fs';
import http from 'node:http';
import net from 'node:net';
import path from 'node:path';
import RPCClient from '@alicloud/pop-core';
import { startVodupd, withLogs, makeTmpDir, SLOW, randomFile, vodupdPath, initDataDir } from '../compat/lib/vodupd.mjs';
import { cliPath, cliEnv, runCli, runCliAsync, show, jsonLines } from './cli-lib.mjs';

const T = { timeout: 120000 * SLOW };
const b64 = o => Buffer.from(JSON.stringify(o)).toString('base64');

/** An HTTP server on loopback answering every request with handler(req, body). */
async function mockServer(handler) {
  const srv = http.createServer((req, res) => {
    const chunks = [];
    req.on('data', d => chunks.push(d));
    req.on('end', () => handler(req, res, Buffer.concat(chunks)));
  });
  await new Promise(r => srv.listen(0, '127.0.0.1', r));
  const url = `http://127.0.0.1:${srv.address().port}`;
  return { url, close: () => new Promise(r => { srv.closeAllConnections?.(); srv.close(r); }) };
}

async function closedPort() {
  const s = net.createServer();
  await new Promise(r => s.listen(0, '127.0.0.1', r));
  const { port } = s.address();
  await new Promise(r => s.close(r));
  return port;
}

describe('vodup CLI failures', () => {
  let srv, dir, vod;
  before(async () => {
    srv = await startVodupd();
    dir = makeTmpDir('cli-err-');
    vod = new RPCClient({ endpoint: srv.endpoint, apiVersion: '2017-03-21', accessKeyId: srv.creds.AccessKeyId,
      accessKeySecret: srv.creds.AccessKeySecret });
  });
  after(async () => { if (srv) await srv.stop(); });

  it('says why undecodable --upload-address/--upload-auth fail, on stderr and in a --json row', T, async () => {
    const f = await randomFile(dir, 1000, 'auth-bad.mp4');
    const args = ['upload', '--upload-address', 'xx', '--upload-auth', 'yy', '--video-id', 'zz', f];
    let r = runCli(args, cliEnv(null, dir));
    assert.equal(r.code, 1, show(r));
    assert.match(r.stderr, /upload failed: .*--upload-address\/--upload-auth/, show(r));
    r = runCli(['upload', '--json', ...args.slice(1)], cliEnv(null, dir));
    assert.equal(r.code, 1, show(r));
    const [o] = jsonLines(r.stdout);
    assert.equal(o.File, f);
    assert.equal(o.Status, 'Fail');
    assert.equal(o.ErrorCode, 'InvalidUploadAuth');
    assert.match(o.Error, /base64/);
  });

  it('hints at the upload credentials, not an AccessKey, when --upload-auth is refused', T, withLogs(async () => {
    const f = await randomFile(dir, 1000, 'auth-refused.mp4');
    const created = await vod.request('CreateUploadVideo', { Title: 't', FileName: 'x.mp4' }, { method: 'POST' });
    const auth = JSON.parse(Buffer.from(created.UploadAuth, 'base64'));
    auth.AccessKeySecret = 'not-the-secret';
    const r = runCli(['upload', '--json', '--upload-address', created.UploadAddress, '--upload-auth', b64(auth),
      '--video-id', created.VideoId, f], cliEnv(null, dir));
    assert.equal(r.code, 1, show(r));
    assert.doesNotMatch(r.stderr, /AccessKey \(VODUP_ACCESS_KEY_ID/, show(r));
    assert.match(r.stderr, /--upload-auth/, show(r));
    const [o] = jsonLines(r.stdout);
    assert.ok(o.ErrorCode && o.Error, JSON.stringify(o));
  }));

  it('says the endpoint does not look like a VOD service when a web server answers 404', T, async () => {
    const web = await mockServer((req, res) => { res.writeHead(404, { 'content-type': 'text/html' }); res.end('<h1>Not Found</h1>'); });
    try {
      const f = await randomFile(dir, 1000, 'notvod.mp4');
      for (const args of [['video', 'list'], ['video', 'info', 'abc'], ['upload', f]]) {
        const r = await runCliAsync([...args, '--endpoint', web.url], cliEnv(srv, dir));
        assert.equal(r.code, 1, show(r));
        assert.match(r.stderr, /does not look like a VOD service/, `${args.join(' ')}: ${show(r)}`);
        assert.ok(r.stderr.includes(web.url), show(r));
      }
    } finally { await web.close(); }
  });

  it('strips emoji from a default title, and hints at --title when a given one is refused', T, withLogs(async () => {
    const f = await randomFile(dir, 1000, 'holiday 🎬 clip.mp4');
    let r = runCli(['upload', '--json', f], cliEnv(srv, dir));
    assert.equal(r.code, 0, show(r));
    const [o] = jsonLines(r.stdout);
    const info = await vod.request('GetVideoInfo', { VideoId: o.VideoId }, { method: 'POST' });
    assert.equal(info.Video.Title, 'holiday clip.mp4');
    r = runCli(['upload', '--json', '--title', 'party 🎉', f], cliEnv(srv, dir));
    assert.equal(r.code, 1, show(r));
    assert.match(r.stderr, /IllegalCharacters/, show(r));
    assert.match(r.stderr, /--title/, show(r));
    assert.equal(jsonLines(r.stdout)[0].ErrorCode, 'IllegalCharacters');
  }));

  it('refuses a video named .png before creating an image', T, withLogs(async () => {
    const f = path.join(dir, 'cover.png');
    const mp4 = Buffer.alloc(64 * 1024);
    Buffer.from('000000206674797069736f6d0000020069736f6d69736f32617663316d703431', 'hex').copy(mp4);
    fs.writeFileSync(f, mp4);
    const mark = srv.stderr().length;
    const r = runCli(['image', 'upload', '--json', f], cliEnv(srv, dir));
    assert.equal(r.code, 1, show(r));
    assert.match(r.stderr, /MP4/, show(r));
    assert.match(r.stderr, /PNG/, show(r));
    assert.equal(jsonLines(r.stdout)[0].ErrorCode, 'NotAnImage');
    assert.doesNotMatch(srv.stderr().slice(mark), /CreateUploadImage/, 'an image was created for it');
  }));

  it('fails at once when nothing listens at the endpoint', T, async () => {
    const port = await closedPort();
    const f = await randomFile(dir, 1000, 'refused.mp4');
    const t0 = Date.now();
    const r = runCli(['upload', '--json', '--endpoint', `http://127.0.0.1:${port}`, f], cliEnv(srv, dir));
    const secs = (Date.now() - t0) / 1000;
    assert.equal(r.code, 1, show(r));
    assert.match(r.stderr, /cannot reach/, show(r));
    assert.ok(secs < 3 * SLOW, `took ${secs} s to say the endpoint is down`);
    assert.equal(jsonLines(r.stdout)[0].ErrorCode, 'EndpointUnreachable');
  });

  it('says a full server\'s retry once, with a count', T, async () => {
    let puts = 0;
    const full = await mockServer((req, res) => {
      puts++;
      res.writeHead(507, { 'content-type': 'application/xml' });
      res.end(`<?xml version="1.0" encoding="UTF-8"?><Error><Code>InternalError</Code><Message>The server's storage is full; nothing was stored.</Message><RequestId>${puts}</RequestId></Error>`);
    });
    try {
      const f = await randomFile(dir, 1000, 'full.mp4');
      const addr = b64({ Endpoint: full.url, Bucket: 'b', FileName: 'k.mp4' });
      const auth = b64({ AccessKeyId: 'STS.x', AccessKeySecret: 'y', SecurityToken: 'z', Expiration: '2099-01-01T00:00:00Z' });
      const r = await runCliAsync(['upload', '--upload-address', addr, '--upload-auth', auth, '--video-id', 'v', f], cliEnv(null, dir));
      assert.equal(r.code, 1, show(r));
      assert.ok(puts > 2, `the server saw ${puts} requests: not retried`);
      const retries = r.stderr.split('\n').filter(l => /retrying/.test(l));
      assert.equal(retries.length, 1, show(r));
      assert.match(r.stderr, new RegExp(`repeated ${puts - 2} more time`), show(r));
      assert.match(r.stderr, /storage is full/, show(r));
    } finally { await full.close(); }
  });

  it('uploads a directory with --recursive --include; -q prints results only', T, withLogs(async () => {
    const tree = path.join(dir, 'tree');
    fs.mkdirSync(path.join(tree, 'a', 'b'), { recursive: true });
    await randomFile(path.join(tree, 'a'), 1500, 'one.mp4');
    await randomFile(path.join(tree, 'a', 'b'), 1500, 'two.mp4');
    fs.writeFileSync(path.join(tree, 'a', 'notes.txt'), 'not a video');
    let r = runCli(['upload', tree], cliEnv(srv, dir));
    assert.equal(r.code, 1, show(r));
    assert.match(r.stderr, /is a directory.*--recursive/, show(r));
    r = runCli(['upload', '--json', '-r', '--include', '*.mp4', tree], cliEnv(srv, dir));
    assert.equal(r.code, 0, show(r));
    assert.deepEqual(jsonLines(r.stdout).map(o => [path.relative(tree, o.File), o.Status]),
      [['a/b/two.mp4', 'UploadSucc'], ['a/one.mp4', 'UploadSucc']]);
    r = runCli(['upload', '-q', '--recursive', '--include', '*.mp4', tree], cliEnv(srv, dir));
    assert.equal(r.code, 0, show(r));
    assert.equal(r.stderr, '', show(r));
    assert.equal(r.stdout.split('\n').filter(l => /uploaded, VideoId/.test(l)).length, 2, show(r));
  }));

  it('uploads standard input (-) with --size and --stdin-name, and refuses a short one', T, withLogs(async () => {
    const data = crypto.randomBytes(300 * 1024 + 17);
    let r = runCli(['upload', '--json', '-', '--size', String(data.length), '--stdin-name', 'piped.mp4'],
      cliEnv(srv, dir), { input: data });
    assert.equal(r.code, 0, show(r));
    const [o] = jsonLines(r.stdout);
    assert.equal(o.File, '-');
    assert.equal(o.Size, data.length);
    const got = await srv.client({ bucket: o.Bucket }).get(o.Object);
    assert.ok(Buffer.compare(got.content, data) === 0, 'stored bytes differ from standard input');
    const info = await vod.request('GetVideoInfo', { VideoId: o.VideoId }, { method: 'POST' });
    assert.equal(info.Video.Title, 'piped.mp4');
    r = runCli(['upload', '--json', '-', '--size', String(data.length + 1)], cliEnv(srv, dir), { input: data });
    assert.equal(r.code, 1, show(r));
    assert.match(r.stderr, /--size said/, show(r));
  }));

  it('prints an error row on stdout when an API call of a --json command fails', T, () => {
    let r = runCli(['video', 'info', '--json', 'nosuchvideo'], cliEnv(srv, dir));
    assert.equal(r.code, 1, show(r));
    const [o] = jsonLines(r.stdout);
    assert.equal(o.ErrorCode, 'InvalidVideo.NotFound', show(r));
    assert.ok(o.Error, show(r));
    r = runCli(['video', 'list', '--json'], cliEnv(srv, dir, { VODUP_ACCESS_KEY_SECRET: 'wrong' }));
    assert.equal(r.code, 1, show(r));
    assert.equal(jsonLines(r.stdout)[0].ErrorCode, 'SignatureDoesNotMatch', show(r));
  });

  it('refuses an unknown --status, listing the valid ones', T, () => {
    const r = runCli(['video', 'list', '--status', 'Bogus'], cliEnv(srv, dir));
    assert.equal(r.code, 2, show(r));
    assert.match(r.stderr, /Bogus/, show(r));
    assert.match(r.stderr, /UploadSucc/, show(r));
    const ok = runCli(['video', 'list', '--status', 'UploadSucc,Uploading'], cliEnv(srv, dir));
    assert.equal(ok.code, 0, show(ok));
  });

  it('reads the secret from --access-key-secret-file or stdin, and blanks a secret flag in the process list', T, withLogs(async () => {
    const env = cliEnv(null, dir, { VODUP_ENDPOINT: srv.endpoint });
    const secretFile = path.join(dir, 'secret');
    fs.writeFileSync(secretFile, `${srv.creds.AccessKeySecret}\n`, { mode: 0o600 });
    let r = runCli(['video', 'list', '--access-key-id', srv.creds.AccessKeyId, '--access-key-secret-file', secretFile], env);
    assert.equal(r.code, 0, show(r));
    r = runCli(['video', 'list', '--access-key-id', srv.creds.AccessKeyId, '--access-key-secret', '-'], env,
      { input: `${srv.creds.AccessKeySecret}\n` });
    assert.equal(r.code, 0, show(r));
    assert.doesNotMatch(r.stderr, /warning/, show(r));
    fs.chmodSync(secretFile, 0o644);
    r = runCli(['video', 'list', '--access-key-id', srv.creds.AccessKeyId, '--access-key-secret-file', secretFile], env);
    assert.equal(r.code, 0, show(r));
    assert.match(r.stderr, /can be read by other users \(mode 644\): chmod 600/, show(r));
    r = runCli(['video', 'list', '--access-key-id', srv.creds.AccessKeyId, '--access-key-secret-file', path.join(dir, 'none')], env);
    assert.equal(r.code, 2, show(r));
    assert.match(r.stderr, /access-key-secret-file/, show(r));

    // A slow upload with the secret as a flag: its command line, as `ps` shows it, no longer holds it.
    const f = await randomFile(dir, 2 * 1024 * 1024, 'ps.mp4');
    const child = spawn(cliPath(), ['upload', '--limit-rate', '256k', '--access-key-id', srv.creds.AccessKeyId,
      '--access-key-secret', srv.creds.AccessKeySecret, f], { env, stdio: ['ignore', 'pipe', 'pipe'] });
    let err = '';
    child.stderr.on('data', d => { err += d; });
    const done = new Promise(res => child.on('close', res));
    try {
      for (let i = 0; i < 100 && !/uploading/.test(err); i++) await new Promise(res => setTimeout(res, 50));
      const cmdline = fs.readFileSync(`/proc/${child.pid}/cmdline`, 'utf8');
      assert.ok(cmdline.includes(srv.creds.AccessKeyId), cmdline);
      assert.ok(!cmdline.includes(srv.creds.AccessKeySecret), 'the secret is visible in /proc/PID/cmdline');
    } finally { child.kill('SIGKILL'); await done; }
  }));

  it('vodupd names what is wrong with a data directory', T, () => {
    const base = makeTmpDir('cli-dd-');
    const run = dd => spawnSync(vodupdPath(), ['serve', '--data-dir', dd, '--listen', '127.0.0.1:0'],
      { encoding: 'utf8', timeout: 30000 * SLOW });
    let r = run(path.join(base, 'missing'));
    assert.equal(r.status, 1, r.stderr);
    assert.match(r.stderr, /No such file or directory.*vodupd init/, r.stderr);
    const dd = path.join(base, 'data');
    initDataDir(dd);
    fs.rmSync(path.join(dd, 'vodupd.lock'), { force: true });
    fs.mkdirSync(path.join(dd, 'vodupd.lock'));
    r = run(dd);
    assert.equal(r.status, 1, r.stderr);
    assert.doesNotMatch(r.stderr, /in use by another vodupd/, r.stderr);
    assert.match(r.stderr, /lock file .*Is a directory/, r.stderr);
    fs.rmdirSync(path.join(dd, 'vodupd.lock'));
    fs.truncateSync(path.join(dd, 'keys', 'master.key'), 10);
    r = run(dd);
    assert.equal(r.status, 1, r.stderr);
    assert.doesNotMatch(r.stderr, /not a vodupd data directory/, r.stderr);
    assert.match(r.stderr, /master\.key is damaged: 10 bytes/, r.stderr);
  });
});
