// Faults under load: UPLOADERS concurrent ali-oss clients upload for SOAK_S seconds through a
// fault-injecting TCP proxy (connections reset half-way through a request, stalled for
// seconds, or read slowly on the way back), retrying what fails as an application would.
// Every upload that was acknowledged reads back (directly, not through the proxy) with its
// MD5; vodupd's open file descriptors and resident memory after the load are bounded by
// what they were before it; nothing is left in D/tmp and `vodupd check --deep` is clean.
//
// VODUP_SOAK_SECONDS (default 60) and VODUP_SOAK_UPLOADERS (default 200) tune the run.

import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import http from 'node:http';
import net from 'node:net';
import path from 'node:path';
import OSS from 'ali-oss';
import {
  startVodupd, cleanupTmpDirs, withLogs, SLOW, SANITIZE, randomBuf, randomHex, md5, signedRequest, listFilesRecursive,
  sleep, waitFor, vodupdPath, xmlTag, xmlTags, xmlUnescape,
} from '../compat/lib/vodupd.mjs';

const KiB = 1024;
const SOAK_S = Number(process.env.VODUP_SOAK_SECONDS || 60);
const UPLOADERS = Number(process.env.VODUP_SOAK_UPLOADERS || 200);
const MAX_ATTEMPTS = 20;             // an upload that fails this often fails the test
const FAULTS = { reset: 0.08, stall: 0.05, slow: 0.1 }; // share of proxied connections
const STALL_MS = [500, 3000];
const SLOW_CHUNK_DELAY_MS = 20;      // a slow reader takes one chunk per this
const FD_SLACK = 8;                  // pool connections and the log coming and going
// allocator caches of the connection buffers, SQLite's page cache; under ASan its quarantine
// of freed memory (256 MiB by default) comes on top
const RSS_SLACK = (SANITIZE ? 512 : 96) * 1024 * 1024;

let srv;
let proxy;
let statsSeen = null;
const bucket = `soak-${randomHex(4)}`;
const rnd = n => Math.floor(Math.random() * n);

/** A TCP proxy in front of vodupd that hurts some connections. */
function startProxy(targetPort) {
  const stats = { conns: 0, reset: 0, stall: 0, slow: 0 };
  const sockets = new Set();
  const server = net.createServer(client => {
    stats.conns++;
    const upstream = net.connect(targetPort, '127.0.0.1');
    sockets.add(client);
    sockets.add(upstream);
    // a fault is drawn for every request: one starts when the client sends after an answer
    let fault, faultAt, up, fired, answered = true;
    const draw = () => {
      const roll = Math.random();
      fault = roll < FAULTS.reset ? 'reset' : roll < FAULTS.reset + FAULTS.stall ? 'stall'
        : roll < FAULTS.reset + FAULTS.stall + FAULTS.slow ? 'slow' : 'none';
      faultAt = 1 + rnd(200 * KiB); // bytes into the request
      up = 0;
      fired = false;
      answered = false;
    };
    const kill = () => { client.resetAndDestroy?.() ?? client.destroy(); upstream.resetAndDestroy?.() ?? upstream.destroy(); };
    client.on('error', () => upstream.destroy());
    upstream.on('error', () => client.destroy());
    client.on('close', () => { sockets.delete(client); upstream.destroy(); });
    upstream.on('close', () => { sockets.delete(upstream); client.destroy(); });
    client.on('data', d => {
      if (answered) draw();
      up += d.length;
      if (!fired && up >= faultAt && fault === 'reset') {
        fired = true;
        stats.reset++;
        upstream.write(d.subarray(0, d.length >> 1), kill);
        return;
      }
      if (!upstream.write(d)) { client.pause(); upstream.once('drain', () => client.resume()); }
      if (!fired && up >= faultAt && fault === 'stall') {
        fired = true;
        stats.stall++;
        client.pause();
        setTimeout(() => client.resume(), STALL_MS[0] + rnd(STALL_MS[1] - STALL_MS[0]));
      }
    });
    upstream.on('data', d => {
      answered = true;
      if (fault === 'slow') {
        if (!fired) { fired = true; stats.slow++; }
        upstream.pause();
        client.write(d);
        setTimeout(() => upstream.resume(), SLOW_CHUNK_DELAY_MS);
        return;
      }
      if (!client.write(d)) { upstream.pause(); client.once('drain', () => upstream.resume()); }
    });
    client.on('end', () => upstream.end());
    upstream.on('end', () => client.end());
  });
  return new Promise(resolve => server.listen(0, '127.0.0.1', () => resolve({
    port: server.address().port, stats,
    close: () => new Promise(r => { for (const s of sockets) s.destroy(); server.close(() => r()); }),
  })));
}

function procStats(pid) {
  const status = fs.readFileSync(`/proc/${pid}/status`, 'utf8');
  const rss = Number(/VmRSS:\s+(\d+) kB/.exec(status)[1]) * 1024;
  const fds = fs.readdirSync(`/proc/${pid}/fd`).length;
  return { rss, fds };
}

describe('uploads through a faulty network', { timeout: (SOAK_S + 240) * 1000 * SLOW }, () => {
  before(async () => {
    srv = await startVodupd({ extraArgs: ['--threads', '4', '--workers', '8'] });
    const b = await signedRequest({ port: srv.port, creds: srv.creds, method: 'PUT', bucket });
    assert.equal(b.status, 200, b.text);
    proxy = await startProxy(srv.port);
  });

  after(async () => {
    if (proxy) await proxy.close();
    if (srv && srv.running) await srv.stop();
    cleanupTmpDirs();
  });

  it(`${UPLOADERS} concurrent uploaders for ${SOAK_S} s: all bytes right, fds and memory bounded`, withLogs(async () => {
    const agent = new http.Agent({ keepAlive: true, maxSockets: UPLOADERS + 16 });
    const client = new OSS({
      endpoint: `http://127.0.0.1:${proxy.port}`, region: 'oss-cn-hangzhou', secure: false, bucket,
      accessKeyId: srv.creds.AccessKeyId, accessKeySecret: srv.creds.AccessKeySecret,
      timeout: 30000 * SLOW, agent,
    });
    // warm-up through the proxy-free path, then the baseline
    for (let i = 0; i < 20; i++) {
      const r = await signedRequest({ port: srv.port, creds: srv.creds, method: 'PUT', bucket, key: `warm/${i}`, body: randomBuf(64 * KiB) });
      assert.equal(r.status, 200);
    }
    await sleep(500);
    const base = procStats(srv.pid);

    const acked = new Map(); // key -> {sum (MD5 hex), size, multi}
    let attempts = 0, failures = 0, multiparts = 0;
    const deadline = Date.now() + SOAK_S * 1000;
    const uploader = async u => {
      for (let n = 0; Date.now() < deadline; n++) {
        const key = `u${u}/${n}`;
        const multi = rnd(10) === 0;
        const body = randomBuf(multi ? 250 * KiB + rnd(200 * KiB) : rnd(5) === 0 ? rnd(1024) : rnd(192 * KiB));
        for (let a = 1; ; a++) {
          attempts++;
          try {
            if (multi) {
              await client.multipartUpload(key, body, { partSize: 100 * KiB, parallel: 2 });
              multiparts++;
            } else {
              await client.put(key, body);
            }
            acked.set(key, { sum: md5(body), size: body.length, multi });
            break;
          } catch (e) {
            failures++;
            if (a >= MAX_ATTEMPTS) throw new Error(`${key}: ${a} attempts failed, last: ${e.code || ''} ${e.status || ''} ${e.message}`);
            await sleep(50 + rnd(200));
          }
        }
      }
    };
    await Promise.all(Array.from({ length: UPLOADERS }, (_, u) => uploader(u)));
    const tLoad = Date.now() - deadline;
    agent.destroy();
    statsSeen = proxy.stats;
    await proxy.close();
    proxy = null;

    // every acknowledged upload, read directly: the listing's ETag (a PutObject's is its MD5)
    // and size for all, the bytes of every multipart object and of a sample of the rest; the
    // check --deep at the end compares every stored blob with those recorded digests
    const listed = new Map();
    for (let marker = ''; ;) {
      const l = await signedRequest({ port: srv.port, creds: srv.creds, method: 'GET', bucket, query: { 'max-keys': '1000', marker } });
      assert.equal(l.status, 200, l.text);
      for (const c of xmlTags(l.text, 'Contents')) {
        listed.set(xmlUnescape(xmlTag(c, 'Key')), { etag: xmlUnescape(xmlTag(c, 'ETag')), size: Number(xmlTag(c, 'Size')) });
      }
      if (xmlTag(l.text, 'IsTruncated') !== 'true') break;
      marker = xmlUnescape(xmlTag(l.text, 'NextMarker'));
    }
    const toRead = [];
    for (const [key, a] of acked) {
      const l = listed.get(key);
      assert.ok(l, `${key} was acknowledged but is not listed`);
      assert.equal(l.size, a.size, `${key}: size`);
      if (!a.multi) assert.equal(l.etag, `"${a.sum.toUpperCase()}"`, `${key}: ETag (MD5)`);
      if (a.multi || rnd(20) === 0) toRead.push(key);
    }
    for (let i = 0; i < toRead.length; i += 32) {
      await Promise.all(toRead.slice(i, i + 32).map(async key => {
        const g = await signedRequest({ port: srv.port, creds: srv.creds, method: 'GET', bucket, key });
        assert.equal(g.status, 200, `GET ${key}: ${g.status}`);
        assert.equal(md5(g.body), acked.get(key).sum, `${key}: bytes differ`);
      }));
    }
    const tVerify = Date.now() - deadline;
    // abandoned multipart uploads (a retry started a new one) are the client's to abort
    const lu = await signedRequest({ port: srv.port, creds: srv.creds, method: 'GET', bucket, query: { uploads: '', 'max-uploads': '1000' } });
    const open = xmlTags(lu.text, 'Upload').length;

    // connections gone: vodupd is back to its baseline of descriptors, and memory is bounded
    const after = await waitFor(() => { const s = procStats(srv.pid); return s.fds <= base.fds + FD_SLACK ? s : null; },
      { timeout: 15000 * SLOW, what: 'vodupd\'s descriptors to come back to the baseline' }).catch(() => procStats(srv.pid));
    process.stderr.write(`soak: ${UPLOADERS} uploaders, ${SOAK_S} s, ${acked.size} uploads (${multiparts} multipart), ${attempts} attempts, ` +
      `${failures} failed and retried, ${open} multipart uploads left open; proxy ${JSON.stringify(statsSeen)}; ` +
      `last upload done ${tLoad} ms after the deadline, verified at ${tVerify} ms; fds ${base.fds} -> ${after.fds}, RSS ${(base.rss / 1048576).toFixed(1)} -> ${(after.rss / 1048576).toFixed(1)} MiB\n`);
    assert.ok(acked.size >= UPLOADERS, `only ${acked.size} uploads completed`);
    assert.ok(statsSeen.reset > 0 && statsSeen.stall > 0 && statsSeen.slow > 0, `faults injected: ${JSON.stringify(statsSeen)}`);
    assert.ok(after.fds <= base.fds + FD_SLACK, `vodupd holds ${after.fds} descriptors after the load, ${base.fds} before`);
    assert.ok(after.rss <= base.rss + RSS_SLACK, `vodupd's RSS grew from ${base.rss} to ${after.rss} bytes`);
    await waitFor(() => listFilesRecursive(path.join(srv.dataDir, 'tmp')).length === 0, { timeout: 10000 * SLOW, what: 'D/tmp to empty' });

    await srv.stop();
    const c = spawnSync(vodupdPath(), ['check', '--data-dir', srv.dataDir, '--deep'], { encoding: 'utf8', timeout: 120000 * SLOW });
    assert.equal(c.status, 0, `vodupd check after the soak:\n${c.stdout}${c.stderr}`);
  }));
});
