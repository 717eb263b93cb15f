// HTTPS in vodupd (project issue 12): --tls-listen beside --listen, with a certificate the
// test issues from its own CA (openssl CLI).
//  - ali-oss uploads over HTTPS, verifying the certificate against the test CA;
//  - UploadAddress.Endpoint follows the scheme: the VOD flow hands clients the https URL;
//  - SIGHUP loads a new certificate while an upload is in flight: that upload completes on
//    its connection, the next handshake presents the new certificate; a broken file on
//    SIGHUP keeps the previous certificate;
//  - TLS 1.0 and 1.1 are refused, 1.2 and 1.3 accepted;
//  - a key that does not match the certificate stops the start, with the reason;
//  - libvodup (the vodup CLI) follows the https UploadAddress and verifies the certificate
//    (it has no option for a private CA: see docs/operating.md).

import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import https from 'node:https';
import path from 'node:path';
import tls from 'node:tls';
import OSS from 'ali-oss';
import {
  startVodupd, withLogs, SLOW, cleanupTmpDirs, makeTmpDir, randomBuf, md5, waitFor, buildSignedRequest, vodupdPath,
  initDataDir,
} from '../compat/lib/vodupd.mjs';
import { stopServer, vodClient } from '../compat/lib/vod.mjs';
import { cliEnv, runCliAsync } from './cli-lib.mjs';

const T = { timeout: 120000 * SLOW };

function openssl(args, cwd) {
  const r = spawnSync('openssl', args, { cwd, encoding: 'utf8' });
  if (r.error) throw r.error;
  assert.equal(r.status, 0, `openssl ${args.join(' ')}: ${r.stderr}`);
  return r.stdout;
}

/** A test CA in dir (ca.pem, ca.key). */
function makeCa(dir) {
  openssl(['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes', '-keyout', 'ca.key',
           '-out', 'ca.pem', '-days', '2', '-subj', '/CN=vodup test CA'], dir);
  return fs.readFileSync(path.join(dir, 'ca.pem'));
}

/** A server certificate signed by the CA, as <name>.pem/.key: for 127.0.0.1 and localhost,
 * and for the virtual-hosted names ali-oss puts in Host (and checks the certificate
 * against) when its endpoint is an IP: <bucket>.oss-cn-hangzhou.aliyuncs.com. A deployment
 * needs the same shape: its host and *.its host. */
function issue(dir, name, cn) {
  fs.writeFileSync(path.join(dir, 'ext'),
                   'subjectAltName=IP:127.0.0.1,DNS:localhost,DNS:*.oss-cn-hangzhou.aliyuncs.com\n');
  openssl(['req', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes', '-keyout', `${name}.key`,
           '-out', `${name}.csr`, '-subj', `/CN=${cn}`], dir);
  openssl(['x509', '-req', '-in', `${name}.csr`, '-CA', 'ca.pem', '-CAkey', 'ca.key', '-CAcreateserial',
           '-out', `${name}.pem`, '-days', '2', '-extfile', 'ext'], dir);
  return { cert: path.join(dir, `${name}.pem`), key: path.join(dir, `${name}.key`) };
}

/** The CN of the certificate a fresh TLS handshake gets, and the protocol. */
function handshake(port, ca, opts = {}) {
  return new Promise((resolve, reject) => {
    const s = tls.connect({ host: '127.0.0.1', port, ca, servername: 'localhost', ...opts }, () => {
      const r = { cn: s.getPeerCertificate().subject.CN, protocol: s.getProtocol() };
      s.end();
      resolve(r);
    });
    s.on('error', reject);
  });
}

let dir, ca, srv, tlsPort, agent, files;

before(withLogs(async () => {
  dir = makeTmpDir('tls-');
  ca = makeCa(dir);
  const first = issue(dir, 'first', 'vodupd-first');
  issue(dir, 'second', 'vodupd-second');
  // The server reads its certificate from these two paths; the test replaces their content.
  files = { cert: path.join(dir, 'server.pem'), key: path.join(dir, 'server.key') };
  fs.copyFileSync(first.cert, files.cert);
  fs.copyFileSync(first.key, files.key);
  srv = await startVodupd({ extraArgs: ['--tls-listen', '127.0.0.1:0', '--tls-cert', files.cert, '--tls-key', files.key] });
  const m = /listening on https:\/\/127\.0\.0\.1:(\d+)/.exec(srv.stderr());
  assert.ok(m, `no HTTPS listening line:\n${srv.stderr()}`);
  tlsPort = Number(m[1]);
  agent = new https.Agent({ keepAlive: true, ca });
}));

after(async () => {
  agent?.destroy();
  if (srv) await stopServer(srv);
  cleanupTmpDirs();
}, T);

function ossHttps(extra = {}) {
  return new OSS({
    endpoint: `https://127.0.0.1:${tlsPort}`,
    region: 'oss-cn-hangzhou',
    accessKeyId: srv.creds.AccessKeyId,
    accessKeySecret: srv.creds.AccessKeySecret,
    secure: true,
    httpsAgent: agent,
    timeout: 60000 * SLOW,
    ...extra,
  });
}

describe('HTTPS listener', () => {
  it('ali-oss puts, uploads in parts and reads back over HTTPS, verifying the test CA', T, withLogs(async () => {
    const oss = ossHttps();
    await oss.putBucket('tls-media');
    oss.useBucket('tls-media');
    const small = randomBuf(5000);
    await oss.put('small.bin', small);
    const file = path.join(dir, 'big.bin');
    const big = randomBuf(3 * 1024 * 1024 + 17);
    fs.writeFileSync(file, big);
    await oss.multipartUpload('big.bin', file, { partSize: 1024 * 1024, parallel: 2 });
    assert.equal(md5((await oss.get('small.bin')).content), md5(small));
    assert.equal(md5((await oss.get('big.bin')).content), md5(big));
    // The plain listener serves the same store, side by side.
    const plain = srv.client({ bucket: 'tls-media' });
    assert.equal(md5((await plain.get('big.bin')).content), md5(big));
    // Without the CA the certificate is not trusted: verification really happens.
    await assert.rejects(handshake(tlsPort, undefined), /self[- ]signed|unable to (get|verify)/i);
  }));

  it('the VOD flow hands out the https endpoint (UploadAddress.Endpoint follows the scheme)', T, withLogs(async () => {
    const cr = await vodClient(srv).request('CreateUploadVideo', { Title: 't', FileName: 't.mp4' }, { method: 'POST' });
    const addr = JSON.parse(Buffer.from(cr.UploadAddress, 'base64').toString('utf8'));
    const auth = JSON.parse(Buffer.from(cr.UploadAuth, 'base64').toString('utf8'));
    assert.equal(addr.Endpoint, `https://127.0.0.1:${tlsPort}`);
    const up = ossHttps({ accessKeyId: auth.AccessKeyId, accessKeySecret: auth.AccessKeySecret,
                          stsToken: auth.SecurityToken, bucket: addr.Bucket, endpoint: addr.Endpoint });
    await up.put(addr.FileName, randomBuf(4096));
    const info = await vodClient(srv).request('GetVideoInfo', { VideoId: cr.VideoId }, { method: 'POST' });
    assert.equal(info.Video.Status, 'UploadSucc');
  }));

  it('refuses TLS 1.0 and 1.1, accepts 1.2 and 1.3', T, withLogs(async () => {
    for (const v of ['TLSv1', 'TLSv1.1']) {
      // SECLEVEL=0: the client itself would not offer these versions otherwise, and the
      // refusal must come from the server.
      await assert.rejects(handshake(tlsPort, ca, { minVersion: v, maxVersion: v, ciphers: 'DEFAULT@SECLEVEL=0' }),
                           e => e.code !== 'ERR_SSL_NO_PROTOCOLS_AVAILABLE', `${v} must be refused by the server`);
    }
    for (const v of ['TLSv1.2', 'TLSv1.3']) {
      const r = await handshake(tlsPort, ca, { minVersion: v, maxVersion: v });
      assert.equal(r.protocol, v);
    }
  }));

  it('SIGHUP swaps the certificate while an upload is in flight; the upload completes', T, withLogs(async () => {
    assert.equal((await handshake(tlsPort, ca)).cn, 'vodupd-first');
    const body = randomBuf(2 * 1024 * 1024);
    const r = buildSignedRequest({ method: 'PUT', bucket: 'tls-media', key: 'inflight.bin', creds: srv.creds,
                                   headers: { 'content-length': String(body.length) } });
    let peerCn, reloaded;
    const reloadedP = new Promise(res => { reloaded = res; });
    const done = new Promise((resolve, reject) => {
      const req = https.request({ host: '127.0.0.1', port: tlsPort, method: r.method, path: r.path, ca,
                                  servername: 'localhost', agent: false,
                                  headers: { host: `127.0.0.1:${tlsPort}`, ...r.headers } }, res => {
        const chunks = [];
        res.on('data', c => chunks.push(c));
        res.on('end', () => resolve({ status: res.statusCode, text: Buffer.concat(chunks).toString() }));
      });
      req.on('error', reject);
      req.on('socket', s => s.on('secureConnect', () => { peerCn = s.getPeerCertificate().subject.CN; }));
      req.write(body.subarray(0, body.length / 2));
      // The second half goes only after the reload, on the same connection.
      reloadedP.then(() => req.end(body.subarray(body.length / 2)), reject);
    });
    await waitFor(() => peerCn, { what: 'the upload connection handshake' });
    const second = path.join(dir, 'second');
    fs.copyFileSync(`${second}.pem`, files.cert);
    fs.copyFileSync(`${second}.key`, files.key);
    const before = (srv.stderr().match(/reloaded the TLS certificate/g) || []).length;
    srv._child.kill('SIGHUP');
    await waitFor(() => (srv.stderr().match(/reloaded the TLS certificate/g) || []).length > before,
                  { what: 'the reload log line' });
    assert.equal((await handshake(tlsPort, ca)).cn, 'vodupd-second', 'a new handshake sees the new certificate');
    reloaded();
    const res = await done;
    assert.equal(res.status, 200, res.text);
    assert.equal(peerCn, 'vodupd-first', 'the upload ran on a connection made before the reload');
    const got = await ossHttps({ bucket: 'tls-media' }).get('inflight.bin');
    assert.equal(md5(got.content), md5(body));

    // A broken file on SIGHUP: the previous certificate stays, and the log says why.
    fs.writeFileSync(files.key, 'not a key\n');
    srv._child.kill('SIGHUP');
    await waitFor(() => /kept the previous TLS certificate/.test(srv.stderr()), { what: 'the refusal log line' });
    assert.equal((await handshake(tlsPort, ca)).cn, 'vodupd-second');
    fs.copyFileSync(`${second}.key`, files.key);
  }));

  it('a key that does not match the certificate stops the start, naming the files', T, withLogs(async () => {
    const d = path.join(makeTmpDir('tls-bad-'), 'data');
    initDataDir(d);
    const r = spawnSync(vodupdPath(), ['serve', '--data-dir', d, '--listen', '127.0.0.1:0', '--tls-listen', '127.0.0.1:0',
                                       '--tls-cert', path.join(dir, 'first.pem'), '--tls-key', path.join(dir, 'second.key')],
                        { encoding: 'utf8', timeout: 30000 * SLOW });
    assert.equal(r.status, 1, r.stderr);
    assert.match(r.stderr, /first\.pem.*second\.key|second\.key.*first\.pem/);
    const half = spawnSync(vodupdPath(), ['serve', '--data-dir', d, '--tls-listen', '127.0.0.1:0'], { encoding: 'utf8' });
    assert.equal(half.status, 2);
    assert.match(half.stderr, /--tls-cert/);
  }));

  it('libvodup (vodup upload) follows the https UploadAddress, verifies the certificate, and trusts --ca-file', T, withLogs(async () => {
    // The CLI calls the VOD API on the plain listener; the upload goes where UploadAddress
    // says: https. Without the test CA it must refuse the certificate rather than upload
    // unverified; with --ca-file (libvodup's ca_file option) it uploads.
    const home = makeTmpDir('tls-cli-');
    const f = path.join(home, 'clip.mp4');
    fs.writeFileSync(f, randomBuf(300 * 1024));
    const r = await runCliAsync(['upload', f, '--title', 'tls', '--record-dir', path.join(home, 'rec')], cliEnv(srv, home));
    assert.notEqual(r.code, 0, `the upload must not succeed with an unverifiable certificate:\n${r.stdout}\n${r.stderr}`);
    assert.match(r.stderr + r.stdout, /certificate|SSL|TLS/i);
    const ok = await runCliAsync(['upload', '--json', f, '--title', 'tls', '--record-dir', path.join(home, 'rec2'),
      '--ca-file', path.join(dir, 'ca.pem')], cliEnv(srv, home));
    assert.equal(ok.code, 0, `${ok.stdout}\n${ok.stderr}`);
    const row = JSON.parse(ok.stdout.trim().split('\n').pop());
    assert.equal(row.Status, 'UploadSucc', ok.stdout);
    const got = await srv.request({ method: 'GET', bucket: row.Bucket, key: row.Object });
    assert.equal(got.status, 200);
    assert.equal(md5(got.body), md5(fs.readFileSync(f)));
    // The same through the environment.
    const env = await runCliAsync(['upload', '--json', f, '--title', 'tls', '--record-dir', path.join(home, 'rec3')],
      cliEnv(srv, home, { VODUP_CA_FILE: path.join(dir, 'ca.pem') }));
    assert.equal(env.code, 0, `${env.stdout}\n${env.stderr}`);
  }));
});
