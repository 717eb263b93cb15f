// Event callbacks against hostile or broken receivers (project issue 8):
//  - callback URLs are chosen by clients (UserData) and tenants (SetMessageCallback), so by
//    default vodupd connects only to public unicast addresses: loopback, private, link-local
//    (cloud metadata) and IPv4-in-IPv6 spellings of them are refused before any connection,
//    and the event records why;
//  - a redirect is a failed delivery, never followed;
//  - one stalled receiver does not hold up the events of the others;
//  - the AuthKey is not stored in plain text, and signatures still verify.

import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import http from 'node:http';
import net from 'node:net';
import { spawnSync } from 'node:child_process';
import path from 'node:path';
import { startVodupd, withLogs, SLOW, randomBuf, waitFor, listFilesRecursive, vodupdPath, makeTmpDir } from '../compat/lib/vodupd.mjs';
import { stopServer, vodClient, uploadClient, cli } from '../compat/lib/vod.mjs';
import { startReceiver, vodSignature } from '../compat/lib/receiver.mjs';

const T = { timeout: 120000 * SLOW };

function decodeUpload(resp) {
  const j = s => JSON.parse(Buffer.from(s, 'base64').toString('utf8'));
  return { addr: j(resp.UploadAddress), auth: j(resp.UploadAuth) };
}

/** CreateUploadVideo (with a per-video callback URL when given) and the upload; the VideoId. */
async function uploadVideo(srv, title, callbackUrl) {
  const params = { Title: title, FileName: `${title}.mp4` };
  if (callbackUrl) params.UserData = JSON.stringify({ MessageCallback: { CallbackURL: callbackUrl } });
  const cr = await vodClient(srv).request('CreateUploadVideo', params, { method: 'POST' });
  const up = decodeUpload(cr);
  await uploadClient(up).put(up.addr.FileName, randomBuf(2048));
  return cr.VideoId;
}

async function setCallback(srv, url, { authSwitch = 'off', authKey } = {}) {
  const p = { CallbackType: 'HTTP', CallbackURL: url, EventTypeList: 'ALL', AuthSwitch: authSwitch };
  if (authKey) p.AuthKey = authKey;
  await vodClient(srv).request('SetMessageCallback', p, { method: 'POST' });
}

/**
 * A TCP listener on 127.0.0.1 that counts connections and never answers (a stalled
 * receiver; also a witness that nobody connected). open: connections open now; maxOpen.
 */
async function startStaller() {
  const sockets = new Set();
  const st = { connections: 0, open: 0, maxOpen: 0 };
  const server = net.createServer(sock => {
    st.connections++;
    st.open++;
    st.maxOpen = Math.max(st.maxOpen, st.open);
    sockets.add(sock);
    sock.on('data', () => {});
    sock.on('error', () => {});
    sock.on('close', () => { st.open--; sockets.delete(sock); });
  });
  await new Promise(resolve => server.listen(0, '127.0.0.1', resolve));
  st.port = server.address().port;
  st.close = async () => {
    for (const s of sockets) s.destroy();
    await new Promise(resolve => server.close(() => resolve()));
  };
  return st;
}

/** The outbox entries (vodupd events list) of these media, keyed by media id. */
function pendingOf(srv, ids) {
  const all = cli(srv.dataDir, 'events', 'list');
  return Object.fromEntries(all.filter(e => ids.includes(e.MediaId)).map(e => [e.MediaId, e]));
}

describe('event callbacks', { concurrency: true }, () => {
  it('by default refuse loopback, private, link-local and IPv4-mapped addresses: no connection, the reason recorded', T, withLogs(async () => {
    const witness = await startStaller();
    const srv = await startVodupd({ strictCallbacks: true });
    try {
      const p = witness.port;
      await setCallback(srv, `http://127.0.0.1:${p}/account-hook`);
      const cases = [
        [null, /callback address 127\.0\.0\.1 refused: loopback/],   // SetMessageCallback's URL
        [`http://10.0.0.1:${p}/cb`, /callback address 10\.0\.0\.1 refused: private \(10\.0\.0\.0\/8\)/],
        [`http://[::ffff:127.0.0.1]:${p}/cb`, /callback address ::ffff:127\.0\.0\.1 refused: IPv4-mapped .*loopback/],
        ['http://169.254.169.254/latest/meta-data/', /callback address 169\.254\.169\.254 refused: link-local/],
        [`http://localhost:${p}/cb`, /callback address (127\.0\.0\.1|::1) refused: loopback/],   // a name, checked after DNS
        [`http://[::1]:${p}/cb`, /callback address ::1 refused: loopback/],
        [`http://0.0.0.0:${p}/cb`, /callback address 0\.0\.0\.0 refused/],
      ];
      const ids = [];
      for (const [i, [url]] of cases.entries()) ids.push(await uploadVideo(srv, `refused-${i}`, url));
      let pend;
      await waitFor(() => {
        pend = pendingOf(srv, ids);
        return ids.every(id => pend[id]?.Attempts >= 1);
      }, { timeout: 15000 * SLOW, what: 'every refused event to be tried once' });
      for (const [i, [url, why]] of cases.entries()) {
        const e = pend[ids[i]];
        assert.match(String(e.LastError), why, `${url ?? 'account URL'}: ${JSON.stringify(e)}`);
      }
      assert.equal(witness.connections, 0, 'a refused callback connected to the loopback listener');
    } finally {
      await stopServer(srv);
      await witness.close();
    }
  }));

  it('--callback-allow takes addresses and CIDR ranges only; --callback-deny-private is still accepted', T, withLogs(async () => {
    const dir = makeTmpDir('cb-opts-');
    for (const bad of ['bogus', '10.0.0.0/33', '10.0.0.0/', 'fe80::/129', 'example.com']) {
      const r = spawnSync(vodupdPath(), ['serve', '--data-dir', dir, '--callback-allow', bad], { encoding: 'utf8' });
      assert.equal(r.status, 2, `--callback-allow ${bad}: ${r.stderr}`);
      assert.match(r.stderr, /--callback-allow wants an address or CIDR range/);
    }
    const srv = await startVodupd({ extraArgs: ['--callback-deny-private', '--callback-allow', '192.0.2.0/24',
      '--callback-allow', '2001:db8::/32'] });
    await stopServer(srv);
  }));

  it('a 302 from an allowed receiver is a failed delivery, not followed', T, withLogs(async () => {
    const target = await startReceiver();
    let redirects = 0;
    const redirector = http.createServer((req, res) => {
      req.resume();
      req.on('end', () => {
        redirects++;
        res.writeHead(302, { location: target.url, connection: 'close' });
        res.end();
      });
    });
    await new Promise(resolve => redirector.listen(0, '127.0.0.1', resolve));
    const srv = await startVodupd();   // the test helper allows 127.0.0.1/32
    try {
      await setCallback(srv, target.url);   // events on; the video's UserData names the redirector
      const id = await uploadVideo(srv, 'redirected', `http://127.0.0.1:${redirector.address().port}/hook`);
      let e;
      await waitFor(() => (e = pendingOf(srv, [id])[id])?.Attempts >= 1,
        { timeout: 15000 * SLOW, what: 'the redirected event to be tried' });
      assert.match(String(e.LastError), /HTTP 302/);
      assert.ok(redirects >= 1);
      assert.equal(target.requests.length, 0, 'the redirect was followed');
    } finally {
      await stopServer(srv);
      redirector.closeAllConnections?.();
      await new Promise(resolve => redirector.close(() => resolve()));
      await target.close();
    }
  }));

  it('fifty events to a stalled receiver do not delay an event to a healthy one', T, withLogs(async () => {
    const stalled = await startStaller();
    const healthy = await startReceiver();
    const srv = await startVodupd();
    try {
      await setCallback(srv, healthy.url);   // the stalled videos name their own URL in UserData
      const slowIds = [];
      for (let i = 0; i < 50; i += 10) {
        slowIds.push(...await Promise.all(Array.from({ length: 10 }, (_, k) =>
          uploadVideo(srv, `stalled-${i + k}`, `http://127.0.0.1:${stalled.port}/hook`))));
      }
      await waitFor(() => stalled.connections >= 1, { timeout: 10000 * SLOW, what: 'the stalled receiver to be tried' });
      const id = await uploadVideo(srv, 'healthy');
      const done = Date.now();
      const [ev] = await healthy.waitFor(1, 30000 * SLOW, r => r.body?.VideoId === id);
      const latency = ev.time - done;
      assert.ok(latency < 2000 * SLOW, `the healthy receiver got its event ${latency} ms after the upload`);
      // The stalled destination is held to a few connections at a time, and its events stay pending.
      assert.ok(stalled.maxOpen <= 4, `${stalled.maxOpen} connections at once to one destination`);
      const pend = pendingOf(srv, slowIds);
      assert.equal(Object.keys(pend).length, 50, 'events list lost stalled events');
    } finally {
      await stopServer(srv);
      await stalled.close();
      await healthy.close();
    }
  }));

  it('the AuthKey is not stored in plain text, and the signature still verifies', T, withLogs(async () => {
    const KEY = 'SealedAuthKey42xyz';
    const rcv = await startReceiver();
    const srv = await startVodupd();
    let stopped = false;
    try {
      await setCallback(srv, rcv.url, { authSwitch: 'on', authKey: KEY });
      const g = await vodClient(srv).request('GetMessageCallback', {}, { method: 'POST' });
      assert.equal(g.MessageCallback.AuthKey, KEY, JSON.stringify(g));
      const id = await uploadVideo(srv, 'signed');
      const [ev] = await rcv.waitFor(1, 15000 * SLOW, r => r.body?.VideoId === id);
      const ts = ev.headers['x-vod-timestamp'];
      assert.equal(ev.headers['x-vod-signature'], vodSignature(rcv.url, ts, KEY));
      await stopServer(srv);
      stopped = true;
      const needle = Buffer.from(KEY);
      const files = listFilesRecursive(srv.dataDir);
      assert.ok(files.some(f => path.basename(f) === 'vodup.db'), `no database among ${files}`);
      for (const f of files) {
        const full = path.isAbsolute(f) ? f : path.join(srv.dataDir, f);
        assert.equal(fs.readFileSync(full).indexOf(needle), -1, `${f} holds the AuthKey in plain text`);
      }
      assert.ok(!fs.readFileSync(srv.logFile, 'utf8').includes(KEY), 'the log shows the AuthKey');
    } finally {
      if (!stopped) await stopServer(srv);
      await rcv.close();
    }
  }));
});
