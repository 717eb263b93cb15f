// Test harness for the end-to-end tests: starts and stops vodupd, signs raw OSS
// requests by hand (V1, reference/oss.md §5.1-5.3), and small file/digest helpers.
//
// Environment (set by CTest, see tests/tests.cmake):
//   VODUPD          path to the vodupd binary
//   VODUP_TEST_TMP  scratch directory (created when missing)
//   VODUP_SANITIZE  "1" when the binary is built with ASan+UBSan (slower)

import { spawn, spawnSync } from 'node:child_process';
import crypto from 'node:crypto';
import fs from 'node:fs';
import fsp from 'node:fs/promises';
import http from 'node:http';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import assert from 'node:assert/strict';
import OSS from 'ali-oss';

// ---------------------------------------------------------------------------
// Environment

export const SANITIZE = ['1', 'ON', 'on', 'true', 'TRUE', 'yes'].includes(process.env.VODUP_SANITIZE ?? '');
/** Multiply every timeout by this. */
export const SLOW = SANITIZE ? 4 : 1;

export function vodupdPath() {
  const p = process.env.VODUPD || path.resolve('build/vodupd');
  if (!fs.existsSync(p)) {
    throw new Error(`vodupd binary not found at ${p}; set VODUPD=/path/to/vodupd`);
  }
  return p;
}

export function testTmpRoot() {
  const root = path.resolve(process.env.VODUP_TEST_TMP || path.join(os.tmpdir(), 'vodup-test-tmp'));
  fs.mkdirSync(root, { recursive: true });
  return root;
}

const createdDirs = [];
let sawFailure = false;

/** A fresh, empty directory under VODUP_TEST_TMP. */
export function makeTmpDir(prefix = 't-') {
  const d = fs.mkdtempSync(path.join(testTmpRoot(), prefix));
  createdDirs.push(d);
  return d;
}

/**
 * Removes the directories made by makeTmpDir (data dirs, logs, scratch files) unless a test
 * wrapped in withLogs failed: then they stay, for a post-mortem. Call it last in after().
 */
export function cleanupTmpDirs() {
  if (sawFailure || process.env.VODUP_KEEP_TMP) return false;
  for (const d of createdDirs.splice(0)) fs.rmSync(d, { recursive: true, force: true });
  return true;
}

export const sleep = ms => new Promise(r => setTimeout(r, ms));

export async function waitFor(cond, { timeout = 5000 * SLOW, interval = 50, what = 'condition' } = {}) {
  const end = Date.now() + timeout;
  let last;
  for (;;) {
    last = await cond();
    if (last) return last;
    if (Date.now() > end) throw new Error(`timed out after ${timeout} ms waiting for ${what}`);
    await sleep(interval);
  }
}

// ---------------------------------------------------------------------------
// Server lifecycle

const liveServers = new Set(); // every server started by this process (for logs and cleanup)
let serverSeq = 0;

process.on('exit', () => {
  for (const s of liveServers) {
    if (s._child && s._child.exitCode === null && s._child.signalCode === null) {
      try { s._child.kill('SIGKILL'); } catch { /* already gone */ }
    }
  }
});

/** Runs `vodupd init --data-dir D` and returns the parsed credentials. */
export function initDataDir(dataDir) {
  const r = spawnSync(vodupdPath(), ['init', '--data-dir', dataDir], {
    encoding: 'utf8',
    timeout: 60000 * SLOW,
  });
  if (r.error) throw r.error;
  if (r.status !== 0) {
    throw new Error(`vodupd init exited with ${r.status} (signal ${r.signal})\nstdout: ${r.stdout}\nstderr: ${r.stderr}`);
  }
  const lines = r.stdout.split('\n').filter(l => l.trim() !== '');
  assert.equal(lines.length, 1, `vodupd init must print exactly one line on stdout, got:\n${r.stdout}`);
  let creds;
  try {
    creds = JSON.parse(lines[0]);
  } catch (e) {
    throw new Error(`vodupd init printed non-JSON: ${lines[0]}`);
  }
  for (const k of ['AccountId', 'AccessKeyId', 'AccessKeySecret']) {
    assert.equal(typeof creds[k], 'string', `init output lacks ${k}: ${lines[0]}`);
    assert.ok(creds[k].length > 0, `init output has empty ${k}`);
  }
  return { AccountId: creds.AccountId, AccessKeyId: creds.AccessKeyId, AccessKeySecret: creds.AccessKeySecret };
}

/**
 * Starts vodupd. With no dataDir, a fresh one is created under VODUP_TEST_TMP and initialised.
 * With a dataDir and creds, the directory is reused as is (a restart). With a dataDir and no
 * creds, `init` is run on it.
 */
export async function startVodupd({ dataDir, creds, readyTimeout = 20000 * SLOW, extraArgs = [], env = {},
                                    strictCallbacks = false } = {}) {
  if (!dataDir) dataDir = path.join(makeTmpDir('srv-'), 'data');
  if (!creds) creds = initDataDir(dataDir);
  // Tests' callback receivers listen on 127.0.0.1, which vodupd refuses by default; let them
  // through unless the test sets a --callback-* policy itself or wants the default (strictCallbacks).
  if (!strictCallbacks && !extraArgs.some(a => String(a).startsWith('--callback-'))) {
    extraArgs = ['--callback-allow', '127.0.0.1/32', ...extraArgs];
  }

  const id = ++serverSeq;
  const logFile = path.join(path.dirname(dataDir), `vodupd-${process.pid}-${id}.stderr.log`);
  const logStream = fs.createWriteStream(logFile, { flags: 'a' });
  const child = spawn(vodupdPath(), ['serve', '--data-dir', dataDir, '--listen', '127.0.0.1:0', ...extraArgs], {
    stdio: ['ignore', 'pipe', 'pipe'],
    env: { ...process.env, ...env },
  });
  let errText = '';
  let outText = '';
  child.stderr.setEncoding('utf8');
  child.stdout.setEncoding('utf8');
  child.stderr.on('data', d => { errText += d; logStream.write(d); });
  // The log ends with stderr, not with 'exit': the last lines can arrive after the exit event.
  child.stderr.on('end', () => logStream.end());
  child.stdout.on('data', d => { outText += d; });
  const exited = new Promise(resolve => {
    child.on('exit', (code, signal) => resolve({ code, signal }));
  });
  let exitInfo = null;
  exited.then(info => { exitInfo = info; });

  const server = {
    id,
    dataDir,
    creds,
    logFile,
    port: 0,
    endpoint: '',
    _child: child,
    pid: child.pid,
    stderr: () => errText,
    stdout: () => outText,
    exited,
    get exitInfo() { return exitInfo; },
    get running() { return exitInfo === null; },
    /** SIGTERM, wait, assert a clean exit (status 0). Returns the exit code. */
    async stop({ timeout = 30000 * SLOW } = {}) {
      if (exitInfo) {
        liveServers.delete(server);
        assert.equal(exitInfo.code, 0, `vodupd had already exited (code ${exitInfo.code}, signal ${exitInfo.signal})\n${tail(errText)}`);
        return exitInfo.code;
      }
      child.kill('SIGTERM');
      const t0 = Date.now();
      let timer;
      const timedOut = new Promise(resolve => { timer = setTimeout(() => resolve('timeout'), timeout); });
      const r = await Promise.race([exited, timedOut]);
      clearTimeout(timer);
      const took = Date.now() - t0;
      if (took > 3000 * SLOW) process.stderr.write(`note: vodupd #${id} took ${took} ms to exit after SIGTERM\n`);
      if (r === 'timeout') {
        child.kill('SIGKILL');
        await exited;
        liveServers.delete(server);
        throw new Error(`vodupd did not exit within ${timeout} ms of SIGTERM\n${tail(errText)}`);
      }
      liveServers.delete(server);
      assert.equal(r.signal, null, `vodupd died of signal ${r.signal} after SIGTERM\n${tail(errText)}`);
      assert.equal(r.code, 0, `vodupd exited with status ${r.code} after SIGTERM (leak or crash?)\n${tail(errText, 120)}`);
      return r.code;
    },
    /** SIGKILL and wait for the process to be gone. */
    async kill() {
      if (!exitInfo) {
        child.kill('SIGKILL');
        await exited;
      }
      liveServers.delete(server);
      return exitInfo;
    },
    /** Stops (SIGTERM, asserting status 0) and starts again on the same data dir. */
    async restart(opts = {}) {
      await server.stop();
      return startVodupd({ dataDir, creds, ...opts });
    },
    /** signedRequest() against this server with its root credentials. */
    request: opts => signedRequest({ port: server.port, creds, ...opts }),
    /** An ali-oss client for this server (V1, or V4 with {v4: true}). */
    client: (opts = {}) => makeClient(server, opts),
  };
  liveServers.add(server);

  // Wait for "listening on http://127.0.0.1:PORT"
  const re = /listening on http:\/\/127\.0\.0\.1:(\d+)/;
  const deadline = Date.now() + readyTimeout;
  for (;;) {
    const m = re.exec(errText);
    if (m) {
      server.port = Number(m[1]);
      break;
    }
    if (exitInfo) {
      liveServers.delete(server);
      throw new Error(`vodupd serve exited before it was ready (code ${exitInfo.code}, signal ${exitInfo.signal})\nstderr:\n${errText}\nstdout:\n${outText}`);
    }
    if (Date.now() > deadline) {
      child.kill('SIGKILL');
      await exited;
      liveServers.delete(server);
      throw new Error(`vodupd serve printed no "listening on" line within ${readyTimeout} ms\nstderr:\n${errText}`);
    }
    await sleep(20);
  }
  assert.ok(server.port > 0 && server.port < 65536, `bad port in listening line: ${server.port}`);
  server.endpoint = `http://127.0.0.1:${server.port}`;
  return server;
}

/** Restart helper usable after kill(): starts a new server on the same data dir and creds. */
export async function restart(server, opts = {}) {
  if (server.running) await server.stop();
  return startVodupd({ dataDir: server.dataDir, creds: server.creds, ...opts });
}

export function tail(text, n = 60) {
  const lines = text.split('\n');
  return lines.slice(Math.max(0, lines.length - n - 1)).join('\n');
}

/**
 * Wraps a test function: when it throws, the stderr that every vodupd of this process logged
 * while the test ran is printed (to help debugging), then the error is rethrown.
 */
export function withLogs(fn) {
  return async function wrapped(t) {
    const marks = new Map();
    for (const s of liveServers) marks.set(s, s.stderr().length);
    try {
      return await fn(t);
    } catch (err) {
      sawFailure = true;
      const all = new Set([...liveServers, ...marks.keys()]);
      for (const s of all) {
        const from = marks.get(s) ?? 0;
        const text = s.stderr().slice(from);
        const lines = text.split('\n');
        const shown = lines.length > 200 ? ['[... ' + (lines.length - 200) + ' lines cut ...]', ...lines.slice(-200)] : lines;
        process.stderr.write(`\n----- vodupd #${s.id} stderr during failed test (${s.dataDir}; full log ${s.logFile}) -----\n${shown.join('\n')}\n----- end vodupd #${s.id} -----\n`);
      }
      throw err;
    }
  };
}

/**
 * An ali-oss client pointed at the server by IP, so ali-oss sends
 * `Host: <bucket>.oss-cn-hangzhou.aliyuncs.com` and a bucket-less path (reference/oss.md 0.9).
 */
export function makeClient(server, { bucket, v4 = false, ...rest } = {}) {
  return new OSS({
    endpoint: `http://127.0.0.1:${server.port}`,
    region: 'oss-cn-hangzhou',
    accessKeyId: server.creds.AccessKeyId,
    accessKeySecret: server.creds.AccessKeySecret,
    bucket,
    secure: false,
    authorizationV4: v4,
    timeout: 60000 * SLOW,
    ...rest,
  });
}

// ---------------------------------------------------------------------------
// Digests and files

export const md5 = buf => crypto.createHash('md5').update(buf).digest('hex');
export const md5b64 = buf => crypto.createHash('md5').update(buf).digest('base64');
/** The ETag OSS gives PutObject and UploadPart: quoted upper-case MD5 hex. */
export const etagOf = buf => `"${md5(buf).toUpperCase()}"`;

export function md5File(file) {
  return new Promise((resolve, reject) => {
    const h = crypto.createHash('md5');
    fs.createReadStream(file).on('error', reject).on('data', d => h.update(d)).on('end', () => resolve(h.digest('hex')));
  });
}

export const randomBuf = n => crypto.randomBytes(n);
export const randomHex = (n = 8) => crypto.randomBytes(n).toString('hex');

/** Writes `size` random bytes to a new file in dir; returns its path. */
export async function randomFile(dir, size, name = `rand-${randomHex(6)}.bin`) {
  const file = path.join(dir, name);
  const fh = await fsp.open(file, 'w');
  try {
    let left = size;
    while (left > 0) {
      const n = Math.min(left, 1 << 20);
      await fh.write(crypto.randomBytes(n));
      left -= n;
    }
  } finally {
    await fh.close();
  }
  return file;
}

// CRC-64/XZ (what OSS calls crc64ecma), table driven on two 32-bit halves.
const CRC_TABLE_HI = new Uint32Array(256);
const CRC_TABLE_LO = new Uint32Array(256);
(() => {
  const POLY_HI = 0xc96c5795, POLY_LO = 0xd7870f42;
  for (let i = 0; i < 256; i++) {
    let hi = 0, lo = i;
    for (let k = 0; k < 8; k++) {
      const bit = lo & 1;
      lo = ((lo >>> 1) | ((hi & 1) << 31)) >>> 0;
      hi = hi >>> 1;
      if (bit) { hi = (hi ^ POLY_HI) >>> 0; lo = (lo ^ POLY_LO) >>> 0; }
    }
    CRC_TABLE_HI[i] = hi;
    CRC_TABLE_LO[i] = lo;
  }
})();

export class Crc64 {
  constructor() { this.hi = 0xffffffff; this.lo = 0xffffffff; }
  update(buf) {
    let hi = this.hi, lo = this.lo;
    for (let i = 0; i < buf.length; i++) {
      const idx = (lo ^ buf[i]) & 0xff;
      lo = ((lo >>> 8) | ((hi & 0xff) << 24)) ^ CRC_TABLE_LO[idx];
      hi = (hi >>> 8) ^ CRC_TABLE_HI[idx];
    }
    this.hi = hi >>> 0; this.lo = lo >>> 0;
    return this;
  }
  /** Decimal string, as in x-oss-hash-crc64ecma. */
  digest() {
    return ((BigInt((~this.hi) >>> 0) << 32n) | BigInt((~this.lo) >>> 0)).toString(10);
  }
}
export const crc64 = buf => new Crc64().update(buf).digest();
export function crc64File(file) {
  return new Promise((resolve, reject) => {
    const c = new Crc64();
    fs.createReadStream(file).on('error', reject).on('data', d => c.update(d)).on('end', () => resolve(c.digest()));
  });
}
// Self-check of the CRC implementation against the catalogued check value (reference/oss.md §4).
assert.equal(crc64(Buffer.from('123456789')), '11051210869376104954');
assert.equal(crc64(Buffer.alloc(0)), '0');

/** Every regular file under dir (recursive), as absolute paths. Missing dir → []. */
export function listFilesRecursive(dir) {
  const out = [];
  const walk = d => {
    let ents;
    try { ents = fs.readdirSync(d, { withFileTypes: true }); } catch { return; }
    for (const e of ents) {
      const p = path.join(d, e.name);
      if (e.isDirectory()) walk(p);
      else out.push(p);
    }
  };
  walk(dir);
  return out;
}

// ---------------------------------------------------------------------------
// OSS V1 signatures (reference/oss.md §5.1, §5.2, §5.3)

/** Query keys that belong in the V1 canonical resource (§5.2: doc list + what ali-oss signs). */
export const V1_SUBRESOURCES = new Set([
  'acl', 'uploads', 'location', 'cors', 'logging', 'website', 'referer', 'lifecycle', 'delete', 'append',
  'tagging', 'objectMeta', 'uploadId', 'partNumber', 'security-token', 'position', 'img', 'style', 'styleName',
  'replication', 'replicationProgress', 'replicationLocation', 'cname', 'bucketInfo', 'comp', 'qos', 'live',
  'status', 'vod', 'startTime', 'endTime', 'symlink', 'x-oss-process', 'response-content-type',
  'response-content-language', 'response-expires', 'response-cache-control', 'response-content-disposition',
  'response-content-encoding', 'restore', 'versionId', 'versions', 'continuation-token', 'asyncFetch',
  'inventory', 'inventoryId', 'stat', 'policy', 'encryption', 'requestPayment', 'versioning', 'worm', 'wormId',
  'wormExtend', 'x-oss-traffic-limit', 'callback', 'callback-var',
]);

/** Normalises {k: v} or [[k, v]] to [[k, v]] with string values ('' when null/undefined). */
function queryPairs(query) {
  if (!query) return [];
  const pairs = Array.isArray(query) ? query : Object.entries(query);
  return pairs.map(([k, v]) => [String(k), v === null || v === undefined ? '' : String(v)]);
}

/** The V1 CanonicalizedResource: `/bucket/key?sorted sub-resources` (raw, decoded values). */
export function v1CanonicalResource({ bucket, key, query }) {
  let res = '/';
  if (bucket) res += `${bucket}/`;
  if (bucket && key) res += key;
  const sub = queryPairs(query)
    .filter(([k]) => V1_SUBRESOURCES.has(k))
    .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))
    .map(([k, v]) => (v === '' ? k : `${k}=${v}`));
  if (sub.length) res += `?${sub.join('&')}`;
  return res;
}

/**
 * The V1 StringToSign. headers: object of lower-case or any-case names. dateLine overrides the
 * Date line (presigned URLs put Expires there).
 */
export function v1StringToSign({ method, bucket, key, query, headers = {}, dateLine }) {
  const h = {};
  for (const [k, v] of Object.entries(headers)) {
    const lk = k.toLowerCase();
    const val = Array.isArray(v) ? v.map(x => String(x).trim()).join(',') : String(v).trim();
    h[lk] = lk in h ? `${h[lk]},${val}` : val;
  }
  const date = dateLine !== undefined ? String(dateLine) : (h['x-oss-date'] ?? h['date'] ?? '');
  const ossHeaders = Object.keys(h)
    .filter(k => k.startsWith('x-oss-'))
    .sort()
    .map(k => `${k}:${h[k]}\n`)
    .join('');
  return [method.toUpperCase(), h['content-md5'] ?? '', h['content-type'] ?? '', date].join('\n') + '\n' +
    ossHeaders + v1CanonicalResource({ bucket, key, query });
}

export const hmacSha1B64 = (secret, s) => crypto.createHmac('sha1', secret).update(s, 'utf8').digest('base64');

/** Percent-encodes a key for the request path, keeping '/'. */
export function encodeKey(key) {
  return key.split('/').map(s => encodeURIComponent(s)).join('/');
}

export function buildQueryString(query) {
  const pairs = queryPairs(query);
  if (!pairs.length) return '';
  return '?' + pairs.map(([k, v]) => (v === '' ? encodeURIComponent(k) : `${encodeURIComponent(k)}=${encodeURIComponent(v)}`)).join('&');
}

/**
 * Builds a path-style request signed with OSS V1.
 * opts: method, bucket, key, query ({k:v} or [[k,v]]), headers, date (Date | string | null to omit),
 *   creds {AccessKeyId, AccessKeySecret}, accessKeyId/accessKeySecret overrides,
 *   unsigned (no Authorization), forge(auth) => auth (tamper with the header),
 *   rawPath (send this path instead of the encoded one; still signs bucket/key),
 *   contentLength (Content-Length to declare when it differs from body length).
 * Returns {path, headers} ready for http.request or a raw socket.
 */
export function buildSignedRequest(opts) {
  const { method = 'GET', bucket, key, query, creds = {}, unsigned = false, forge, rawPath } = opts;
  const headers = {};
  for (const [k, v] of Object.entries(opts.headers || {})) headers[k.toLowerCase()] = v;
  if (opts.date !== null && !('x-oss-date' in headers) && !('date' in headers)) {
    const d = opts.date === undefined ? new Date() : opts.date;
    headers['x-oss-date'] = d instanceof Date ? d.toUTCString() : String(d);
  }
  if (opts.body !== undefined && opts.body !== null && !('content-length' in headers)) {
    headers['content-length'] = String(Buffer.byteLength(opts.body));
  }
  if (opts.contentLength !== undefined) headers['content-length'] = String(opts.contentLength);
  if (!unsigned) {
    const akid = opts.accessKeyId ?? creds.AccessKeyId;
    const secret = opts.accessKeySecret ?? creds.AccessKeySecret;
    const sts = v1StringToSign({ method, bucket, key, query, headers });
    let auth = `OSS ${akid}:${hmacSha1B64(secret, sts)}`;
    if (forge) auth = forge(auth);
    headers.authorization = auth;
  }
  let p = rawPath;
  if (p === undefined) {
    p = '/';
    if (bucket) p += `${bucket}/`;
    if (bucket && key) p += encodeKey(key);
    p += buildQueryString(query);
  }
  return { method: method.toUpperCase(), path: p, headers };
}

/** Flips one character of the signature in an `OSS id:sig` header. */
export function forgeOneChar(auth) {
  const i = auth.lastIndexOf(':') + 3; // a character inside the base64 signature
  const c = auth[i];
  const repl = c === 'A' ? 'B' : 'A';
  return auth.slice(0, i) + repl + auth.slice(i + 1);
}

/**
 * Sends a request (signed with V1 unless opts.unsigned) path-style to 127.0.0.1:port.
 * Returns {status, headers, body (Buffer), text}.
 */
export function signedRequest(opts) {
  const { port, body, timeout = 60000 * SLOW } = opts;
  const r = buildSignedRequest(opts);
  return new Promise((resolve, reject) => {
    const req = http.request({
      host: '127.0.0.1',
      port,
      method: r.method,
      path: r.path,
      headers: { host: opts.host ?? `127.0.0.1:${port}`, ...r.headers },
      agent: false,
      timeout,
    }, res => {
      const chunks = [];
      res.on('data', c => chunks.push(c));
      res.on('end', () => {
        const b = Buffer.concat(chunks);
        resolve({ status: res.statusCode, headers: res.headers, body: b, text: b.toString('utf8') });
      });
      res.on('error', reject);
    });
    req.on('timeout', () => req.destroy(new Error(`request timed out after ${timeout} ms: ${r.method} ${r.path}`)));
    req.on('error', reject);
    if (body !== undefined && body !== null) req.end(body);
    else req.end();
  });
}

/** Builds a presigned V1 URL path (?OSSAccessKeyId=&Expires=&Signature=). */
export function presignV1({ method = 'GET', bucket, key, expires, creds, query = {}, headers = {} }) {
  const sts = v1StringToSign({ method, bucket, key, query, headers, dateLine: String(expires) });
  const sig = hmacSha1B64(creds.AccessKeySecret, sts);
  const q = [...queryPairs(query), ['OSSAccessKeyId', creds.AccessKeyId], ['Expires', String(expires)], ['Signature', sig]];
  return `/${bucket}/${encodeKey(key)}${buildQueryString(q)}`;
}

/** Sends an arbitrary path unsigned; returns {status, headers, body, text}. */
export function plainRequest({ port, method = 'GET', path: p, headers = {}, body, timeout = 60000 * SLOW }) {
  return new Promise((resolve, reject) => {
    const req = http.request({ host: '127.0.0.1', port, method, path: p, headers: { host: `127.0.0.1:${port}`, ...headers }, agent: false, timeout }, res => {
      const chunks = [];
      res.on('data', c => chunks.push(c));
      res.on('end', () => {
        const b = Buffer.concat(chunks);
        resolve({ status: res.statusCode, headers: res.headers, body: b, text: b.toString('utf8') });
      });
      res.on('error', reject);
    });
    req.on('timeout', () => req.destroy(new Error('request timed out')));
    req.on('error', reject);
    if (body !== undefined) req.end(body); else req.end();
  });
}

/**
 * Opens a raw TCP connection and writes the head of a signed request (plus `bodyPrefix`),
 * leaving the rest to the caller. Returns {socket, response} where response resolves with the
 * raw bytes the server sent before the socket closed (or rejects on error).
 */
export function openRawSignedRequest(opts) {
  const { port } = opts;
  const r = buildSignedRequest(opts);
  const lines = [`${r.method} ${r.path} HTTP/1.1`, `host: 127.0.0.1:${port}`];
  for (const [k, v] of Object.entries(r.headers)) lines.push(`${k}: ${v}`);
  const head = lines.join('\r\n') + '\r\n\r\n';
  const socket = net.connect({ host: '127.0.0.1', port });
  const chunks = [];
  const response = new Promise(resolve => {
    socket.on('data', d => chunks.push(d));
    socket.on('close', () => resolve(Buffer.concat(chunks)));
    socket.on('error', () => { /* closed by a kill: resolve on close */ });
  });
  const connected = new Promise((resolve, reject) => {
    socket.once('connect', resolve);
    socket.once('error', reject);
  });
  socket.write(head);
  if (opts.bodyPrefix) socket.write(opts.bodyPrefix);
  return { socket, response, connected, head };
}

// ---------------------------------------------------------------------------
// Responses

export function xmlTag(text, tag) {
  const m = new RegExp(`<${tag}>([\\s\\S]*?)</${tag}>`).exec(text);
  return m ? m[1] : undefined;
}
export function xmlTags(text, tag) {
  const re = new RegExp(`<${tag}>([\\s\\S]*?)</${tag}>`, 'g');
  const out = [];
  let m;
  while ((m = re.exec(text))) out.push(m[1]);
  return out;
}
export function xmlUnescape(s) {
  return s.replace(/&lt;/g, '<').replace(/&gt;/g, '>').replace(/&quot;/g, '"').replace(/&apos;/g, "'")
    .replace(/&#x([0-9a-fA-F]+);/g, (_, h) => String.fromCodePoint(parseInt(h, 16)))
    .replace(/&#(\d+);/g, (_, d) => String.fromCodePoint(Number(d)))
    .replace(/&amp;/g, '&');
}

/** The error XML of a response: the body, or for HEAD the base64 x-oss-err header. */
export function errorXml(res) {
  if (res.text && res.text.includes('<Error>')) return res.text;
  const h = res.headers['x-oss-err'];
  if (h) return Buffer.from(h, 'base64').toString('utf8');
  return res.text || '';
}

/** Asserts an OSS error response: status, XML shape, Code; returns the error XML. */
export function assertOssError(res, status, code, what = '') {
  const xml = errorXml(res);
  const ctx = `${what ? what + ': ' : ''}expected ${status} ${code}, got ${res.status}\n${xml}`;
  assert.equal(res.status, status, ctx);
  assert.match(xml, /<Error>/, ctx);
  assert.equal(xmlTag(xml, 'Code'), code, ctx);
  assert.ok(xmlTag(xml, 'RequestId') !== undefined, `error lacks <RequestId>\n${xml}`);
  return xml;
}

/** Every entry in a directory (names), [] when missing. */
export function dirEntries(dir) {
  try { return fs.readdirSync(dir); } catch (e) { if (e.code === 'ENOENT') return []; throw e; }
}
