// The vodup command line against a vodupd it starts: uploads with --json (the bytes read
// back with the root key), resume after SIGKILL and after Ctrl-C, and the failure messages
// (wrong credentials, missing file, unreachable endpoint, no configuration).
//
// Environment (CTest): VODUPD, VODUP_BUILD_DIR (the CLI is $VODUP_BUILD_DIR/vodup),
// VODUP_TEST_TMP, VODUP_SANITIZE.

import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import RPCClient from '@alicloud/pop-core';
import {
  startVodupd, withLogs, makeTmpDir, SLOW, randomFile, randomBuf, md5File, md5, vodupdPath, waitFor, sleep,
} from '../compat/lib/vodupd.mjs';

const KiB = 1024, MiB = 1024 * 1024;
const T = { timeout: 180000 * SLOW };

function cliPath() {
  const dir = process.env.VODUP_BUILD_DIR || path.resolve('build');
  const p = path.join(dir, 'vodup');
  if (!fs.existsSync(p)) throw new Error(`vodup CLI not found at ${p}; set VODUP_BUILD_DIR`);
  return p;
}

/** The CLI's environment: an empty HOME (no config file, records under it) and the keys. */
function cliEnv(srv, home, extra = {}) {
  const env = { ...process.env, HOME: home, XDG_CONFIG_HOME: '', XDG_CACHE_HOME: '' };
  for (const k of Object.keys(env)) if (k.startsWith('VODUP_') && k !== 'VODUP_SANITIZE') delete env[k];
  if (srv) {
    env.VODUP_ENDPOINT = srv.endpoint;
    env.VODUP_ACCESS_KEY_ID = srv.creds.AccessKeyId;
    env.VODUP_ACCESS_KEY_SECRET = srv.creds.AccessKeySecret;
  }
  return { ...env, ...extra };
}

/** Starts the CLI; returns {child, done: Promise<{code, signal, stdout, stderr}>}. */
function startCli(args, env) {
  const child = spawn(cliPath(), args, { env, stdio: ['ignore', 'pipe', 'pipe'] });
  let stdout = '', stderr = '';
  child.stdout.setEncoding('utf8');
  child.stderr.setEncoding('utf8');
  child.stdout.on('data', d => { stdout += d; });
  child.stderr.on('data', d => { stderr += d; });
  const done = new Promise((resolve, reject) => {
    child.on('error', reject);
    child.on('close', (code, signal) => resolve({ code, signal, stdout, stderr }));
  });
  return { child, done, out: () => stdout, err: () => stderr };
}

function runCli(args, env, timeout = 120000 * SLOW) {
  const r = spawnSync(cliPath(), args, { env, encoding: 'utf8', timeout });
  if (r.error) throw r.error;
  return { code: r.status, signal: r.signal, stdout: r.stdout, stderr: r.stderr };
}

function jsonLines(text) {
  return text.split('\n').filter(l => l.trim() !== '').map(l => {
    try { return JSON.parse(l); } catch { assert.fail(`not a JSON line: ${l}\nfull stdout:\n${text}`); }
  });
}

function show(r) {
  return `exit ${r.code} signal ${r.signal}\nstdout:\n${r.stdout}\nstderr:\n${r.stderr}`;
}

/** The object's bytes read back with the root key (ali-oss), as an MD5. */
async function md5Stored(srv, bucket, key) {
  const got = await srv.client({ bucket }).get(key);
  return md5(got.content);
}

function admin(dataDir, ...args) {
  const r = spawnSync(vodupdPath(), [...args, '--data-dir', dataDir], { encoding: 'utf8', timeout: 60000 * SLOW });
  assert.equal(r.status, 0, `vodupd ${args.join(' ')}: ${r.stderr}`);
  return JSON.parse(r.stdout);
}

/** A port nothing listens on. */
async function closedPort() {
  const s = net.createServer();
  await new Promise(r => s.listen(0, '127.0.0.1', r));
  const { port } = s.address();
  await new Promise(r => s.close(r));
  return port;
}

/** Files in a record dir, recursively (the resume records). */
function records(dir) {
  const out = [];
  const walk = d => {
    let ents = [];
    try { ents = fs.readdirSync(d, { withFileTypes: true }); } catch { return; }
    for (const e of ents) {
      const p = path.join(d, e.name);
      if (e.isDirectory()) walk(p); else if (!e.name.startsWith('.probe-')) out.push(p);
    }
  };
  walk(dir);
  return out;
}

describe('vodup CLI', () => {
  let srv, dir;
  before(async () => {
    srv = await startVodupd();
    dir = makeTmpDir('cli-');
  });
  after(async () => { if (srv) await srv.stop(); });

  it('prints --help for every command, --version, and exits 2 on usage errors', T, () => {
    const env = cliEnv(null, dir);
    for (const args of [['--help'], ['upload', '--help'], ['image', 'upload', '--help'], ['video', '--help'],
      ['video', 'info', '--help'], ['video', 'list', '--help'], ['video', 'delete', '--help'],
      ['sts', 'assume-role', '--help']]) {
      const r = runCli(args, env);
      assert.equal(r.code, 0, `${args.join(' ')}: ${show(r)}`);
      assert.match(r.stdout, /usage: vodup/, args.join(' '));
    }
    const v = runCli(['--version'], env);
    assert.equal(v.code, 0);
    assert.match(v.stdout, /^vodup \d+\.\d+\.\d+/);
    for (const args of [[], ['frobnicate'], ['upload'], ['upload', '--parallel', 'x', 'f'], ['video', 'info'],
      ['sts', 'assume-role'], ['upload', '--part-size', '12Q', 'f']]) {
      const r = runCli(args, env);
      assert.equal(r.code, 2, `${args.join(' ')}: ${show(r)}`);
      assert.ok(r.stderr.length > 0, `${args.join(' ')} printed no message`);
    }
  });

  it('says how to configure when no endpoint or key is set', T, async () => {
    const f = await randomFile(dir, 1000, `v-${Math.random().toString(16).slice(2)}.mp4`);
    let r = runCli(['upload', f], cliEnv(null, dir));
    assert.equal(r.code, 2, show(r));
    assert.match(r.stderr, /no endpoint configured/);
    assert.match(r.stderr, /VODUP_ENDPOINT/);
    r = runCli(['video', 'list'], cliEnv(null, dir, { VODUP_ENDPOINT: srv.endpoint }));
    assert.equal(r.code, 2, show(r));
    assert.match(r.stderr, /no AccessKey configured/);
    assert.match(r.stderr, /VODUP_ACCESS_KEY_ID/);
  });

  it('uploads several files with --json; the stored bytes equal the sources', T, withLogs(async () => {
    const files = [
      await randomFile(dir, 1000, 'small.mp4'),
      await randomFile(dir, 2 * MiB + 12345, 'medium.mp4'),
      await randomFile(dir, 5 * MiB + 7, 'large.mp4'),
    ];
    const r = runCli(['upload', '--json', '--part-size', '1M', '--parallel', '3', '--title', 'cli-multi', ...files],
      cliEnv(srv, dir));
    assert.equal(r.code, 0, show(r));
    const lines = jsonLines(r.stdout);
    assert.equal(lines.length, files.length, show(r));
    for (const f of files) {
      const o = lines.find(l => l.File === f);
      assert.ok(o, `no line for ${f}\n${show(r)}`);
      assert.equal(o.Status, 'UploadSucc', JSON.stringify(o));
      assert.match(o.VideoId, /^[0-9a-zA-Z]+$/);
      assert.equal(o.Size, fs.statSync(f).size);
      assert.equal(o.BytesSent, o.Size, 'a fresh upload sends every byte once');
      assert.equal(typeof o.Seconds, 'number');
      assert.equal(o.Error, undefined);
      assert.equal(await md5Stored(srv, o.Bucket, o.Object), await md5File(f), `${f}: stored bytes differ`);
      const info = runCli(['video', 'info', o.VideoId], cliEnv(srv, dir));
      assert.equal(info.code, 0, show(info));
      assert.match(info.stdout, /Status\s+UploadSucc\n$/, 'the human output ends with the status');
      const ij = runCli(['video', 'info', '--json', o.VideoId], cliEnv(srv, dir));
      assert.equal(JSON.parse(ij.stdout).Video.Status, 'UploadSucc');
      assert.equal(JSON.parse(ij.stdout).Video.Title, 'cli-multi');
    }
    const list = runCli(['video', 'list', '--json'], cliEnv(srv, dir));
    assert.equal(list.code, 0, show(list));
    const ids = JSON.parse(list.stdout).VideoList.map(v => v.VideoId);
    for (const o of lines) assert.ok(ids.includes(o.VideoId), `${o.VideoId} not listed`);
  }));

  it('uploads a file named twice (two paths, one file) once, and says so', T, withLogs(async () => {
    const f = path.join(dir, 'twice.mp4');
    fs.writeFileSync(f, randomBuf(150 * 1024));
    const r = runCli(['upload', '--json', f, path.join(dir, '.', 'twice.mp4')], cliEnv(srv, dir));
    assert.equal(r.code, 0, show(r));
    const rows = jsonLines(r.stdout);
    assert.equal(rows.length, 1, show(r));
    assert.equal(rows[0].Status, 'UploadSucc', show(r));
    assert.match(r.stderr, /is the same file as .*twice\.mp4: uploading it once/, show(r));
    assert.equal(await md5Stored(srv, rows[0].Bucket, rows[0].Object), await md5File(f));
  }));

  it('uploads an image', T, withLogs(async () => {
    const f = path.join(dir, 'pixel.png');
    fs.writeFileSync(f, Buffer.from('89504e470d0a1a0a0000000d4948445200000001000000010806000000' +
      '1f15c4890000000d49444154789c6360000002000154a24f5d0000000049454e44ae426082', 'hex'));
    const r = runCli(['image', 'upload', '--json', f], cliEnv(srv, dir));
    assert.equal(r.code, 0, show(r));
    const [o] = jsonLines(r.stdout);
    // An image's id and status under the names GetImageInfo uses.
    assert.equal(o.Status, 'Normal', JSON.stringify(o));
    assert.match(o.ImageId, /^[0-9a-zA-Z]+$/, JSON.stringify(o));
    assert.equal(o.VideoId, undefined, JSON.stringify(o));
    assert.equal(await md5Stored(srv, o.Bucket, o.Object), await md5File(f));
    const info = await new RPCClient({ endpoint: srv.endpoint, apiVersion: '2017-03-21',
      accessKeyId: srv.creds.AccessKeyId, accessKeySecret: srv.creds.AccessKeySecret })
      .request('GetImageInfo', { ImageId: o.ImageId }, { method: 'POST' });
    assert.equal(info.ImageInfo.Status, o.Status);
    const human = runCli(['image', 'upload', f], cliEnv(srv, dir));
    assert.equal(human.code, 0, show(human));
    assert.match(human.stdout, /uploaded, ImageId [0-9a-zA-Z]+ /, show(human));
    // The plain ImageURL is private (403); `vodup image url` presigns it (docs/cli.md).
    const plain = await fetch(info.ImageInfo.URL);
    assert.equal(plain.status, 403);
    const u = runCli(['image', 'url', o.ImageId, '--expires', '600'], cliEnv(srv, dir));
    assert.equal(u.code, 0, show(u));
    const signed = await fetch(u.stdout.trim());
    assert.equal(signed.status, 200, u.stdout);
    assert.equal(md5(Buffer.from(await signed.arrayBuffer())), await md5File(f));
  }));

  it('resumes after SIGKILL: the re-run sends under 80% of the file', T, withLogs(async () => {
    const size = 6 * MiB;
    const f = await randomFile(dir, size, 'killed.mp4');
    const rec = path.join(dir, 'rec-kill');
    const args = ['upload', '--json', '--title', 'cli-kill', '--limit-rate', '1M', '--part-size', '256k',
      '--parallel', '2', '--record-dir', rec, f];
    const first = startCli(args, cliEnv(srv, dir));
    await waitFor(() => records(rec).length > 0, { timeout: 30000 * SLOW, what: 'a resume record' });
    await sleep(2500);
    first.child.kill('SIGKILL');
    const r1 = await first.done;
    assert.equal(r1.signal, 'SIGKILL', `the first run ended before the kill: ${show(r1)}`);

    const r = runCli(args, cliEnv(srv, dir));
    assert.equal(r.code, 0, show(r));
    const [o] = jsonLines(r.stdout);
    assert.equal(o.Status, 'UploadSucc', JSON.stringify(o));
    assert.ok(o.BytesSent < 0.8 * size, `the re-run sent ${o.BytesSent} of ${size} bytes: it did not resume`);
    assert.equal(await md5Stored(srv, o.Bucket, o.Object), await md5File(f));
    const list = JSON.parse(runCli(['video', 'list', '--json'], cliEnv(srv, dir)).stdout);
    assert.equal(list.VideoList.filter(v => v.Title === 'cli-kill').length, 1, 'the re-run made a second video');
  }));

  it('pauses on SIGINT (non-zero exit, record kept) and a re-run resumes', T, withLogs(async () => {
    const size = 5 * MiB;
    const f = await randomFile(dir, size, 'interrupted.mp4');
    const rec = path.join(dir, 'rec-int');
    const args = ['upload', '--json', '--limit-rate', '1M', '--part-size', '256k', '--record-dir', rec, f];
    const first = startCli(args, cliEnv(srv, dir));
    await waitFor(() => records(rec).length > 0, { timeout: 30000 * SLOW, what: 'a resume record' });
    await sleep(2000);
    first.child.kill('SIGINT');
    const r1 = await first.done;
    assert.notEqual(r1.code, 0, show(r1));
    assert.equal(r1.signal, null, `the CLI died of ${r1.signal} instead of pausing`);
    assert.match(r1.stderr, /run the same command again to resume/, show(r1));
    const [p] = jsonLines(r1.stdout);
    assert.equal(p.Status, 'Paused', JSON.stringify(p));
    assert.ok(records(rec).length > 0, 'the record was removed');

    const r = runCli(args, cliEnv(srv, dir));
    assert.equal(r.code, 0, show(r));
    const [o] = jsonLines(r.stdout);
    assert.equal(o.Status, 'UploadSucc');
    assert.ok(o.BytesSent < size, `the re-run sent all ${size} bytes again`);
    assert.equal(await md5Stored(srv, o.Bucket, o.Object), await md5File(f));
  }));

  it('names refused credentials with the server\'s Code', T, withLogs(async () => {
    const f = await randomFile(dir, 2000, `v-${Math.random().toString(16).slice(2)}.mp4`);
    let r = runCli(['upload', f], cliEnv(srv, dir, { VODUP_ACCESS_KEY_SECRET: 'not-the-secret' }));
    assert.equal(r.code, 1, show(r));
    assert.match(r.stderr, /SignatureDoesNotMatch/, show(r));
    assert.match(r.stderr, /credentials refused/, show(r));
    r = runCli(['video', 'list'], cliEnv(srv, dir, { VODUP_ACCESS_KEY_ID: 'LTAInosuchkey000000' }));
    assert.equal(r.code, 1, show(r));
    assert.match(r.stderr, /InvalidAccessKeyId/, show(r));
    assert.match(r.stderr, /credentials refused/, show(r));
  }));

  it('names a missing file and uploads nothing', T, withLogs(async () => {
    const good = await randomFile(dir, 1000, `v-${Math.random().toString(16).slice(2)}.mp4`);
    const missing = path.join(dir, 'no-such-file.mp4');
    const before = JSON.parse(runCli(['video', 'list', '--json'], cliEnv(srv, dir)).stdout).Total;
    const r = runCli(['upload', good, missing], cliEnv(srv, dir));
    assert.equal(r.code, 1, show(r));
    assert.ok(r.stderr.includes(missing), show(r));
    assert.match(r.stderr, /no such file/);
    const afterTotal = JSON.parse(runCli(['video', 'list', '--json'], cliEnv(srv, dir)).stdout).Total;
    assert.equal(afterTotal, before, 'a video was created although a file was missing');
  }));

  it('names an unreachable endpoint', T, withLogs(async () => {
    const port = await closedPort();
    const url = `http://127.0.0.1:${port}`;
    const f = await randomFile(dir, 1000, `v-${Math.random().toString(16).slice(2)}.mp4`);
    let r = runCli(['video', 'info', 'abc'], cliEnv(srv, dir, { VODUP_ENDPOINT: url }));
    assert.equal(r.code, 1, show(r));
    assert.match(r.stderr, /cannot reach/);
    assert.ok(r.stderr.includes(url), show(r));
    r = runCli(['upload', '--endpoint', url, f], cliEnv(srv, dir));
    assert.equal(r.code, 1, show(r));
    assert.match(r.stderr, /cannot reach/);
    assert.ok(r.stderr.includes(`127.0.0.1:${port}`), show(r));
  }));

  it('names a record dir that is not writable', T, async () => {
    const f = await randomFile(dir, 1000, `v-${Math.random().toString(16).slice(2)}.mp4`);
    const notDir = path.join(dir, 'a-file');
    fs.writeFileSync(notDir, 'x');
    const r = runCli(['upload', '--record-dir', notDir, f], cliEnv(srv, dir));
    assert.equal(r.code, 1, show(r));
    assert.ok(r.stderr.includes(notDir), show(r));
    assert.match(r.stderr, /record dir/);
  });

  it('reads the config file; flags override the environment', T, withLogs(async () => {
    const home = makeTmpDir('cli-home-');
    fs.mkdirSync(path.join(home, '.config', 'vodup'), { recursive: true });
    fs.writeFileSync(path.join(home, '.config', 'vodup', 'config'),
      `# vodup\nendpoint = ${srv.endpoint}\naccess_key_id = ${srv.creds.AccessKeyId}\n` +
      `access_key_secret = "${srv.creds.AccessKeySecret}"\n`);
    let r = runCli(['video', 'list'], cliEnv(null, home));
    assert.equal(r.code, 0, show(r));
    assert.match(r.stdout, /videos?\n$/);
    r = runCli(['video', 'list', '--access-key-secret', 'wrong', '--access-key-id', srv.creds.AccessKeyId],
      cliEnv(null, home));
    assert.equal(r.code, 1, show(r));
    fs.writeFileSync(path.join(home, '.config', 'vodup', 'config'), 'endpoint http://x\n');
    r = runCli(['video', 'list'], cliEnv(null, home));
    assert.equal(r.code, 2, show(r));
    assert.match(r.stderr, /config:1/);
  }));

  it('deletes videos, and says which did not exist', T, withLogs(async () => {
    const f = await randomFile(dir, 1000, `v-${Math.random().toString(16).slice(2)}.mp4`);
    const up = jsonLines(runCli(['upload', '--json', f], cliEnv(srv, dir)).stdout)[0];
    let r = runCli(['video', 'delete', up.VideoId], cliEnv(srv, dir));
    assert.equal(r.code, 0, show(r));
    r = runCli(['video', 'delete', up.VideoId], cliEnv(srv, dir));
    assert.equal(r.code, 1, show(r));
    assert.ok(r.stderr.includes(up.VideoId));
  }));

  it('gets STS credentials that upload', T, withLogs(async () => {
    const user = admin(srv.dataDir, 'user', 'create', 'cli-user', '--policy', 'AliyunSTSAssumeRoleAccess');
    const role = admin(srv.dataDir, 'role', 'create', 'cli-uploader', '--policy', 'AliyunVODFullAccess');
    const env = cliEnv(srv, dir, { VODUP_ACCESS_KEY_ID: user.AccessKeyId, VODUP_ACCESS_KEY_SECRET: user.AccessKeySecret });
    const j = runCli(['sts', 'assume-role', '--role-arn', role.Arn, '--duration', '900', '--json'], env);
    assert.equal(j.code, 0, show(j));
    const cred = JSON.parse(j.stdout);
    assert.match(cred.AccessKeyId, /^STS\./);
    const sh = runCli(['sts', 'assume-role', '--role-arn', role.Arn, '--session-name', 'x-1'], env);
    assert.equal(sh.code, 0, show(sh));
    assert.match(sh.stdout, /^export VODUP_SECURITY_TOKEN='/m);
    const f = await randomFile(dir, 300 * KiB, `v-${Math.random().toString(16).slice(2)}.mp4`);
    const r = runCli(['upload', '--json', f], cliEnv(srv, dir, {
      VODUP_ACCESS_KEY_ID: cred.AccessKeyId, VODUP_ACCESS_KEY_SECRET: cred.AccessKeySecret,
      VODUP_SECURITY_TOKEN: cred.SecurityToken,
    }));
    assert.equal(r.code, 0, show(r));
    assert.equal(jsonLines(r.stdout)[0].Status, 'UploadSucc');
  }));
});
