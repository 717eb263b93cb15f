// SIGTERM (project issue 12): vodupd stops taking requests at once, also on connections a
// client keeps alive (answered 503 with Connection: close, never served), while a request
// already in flight finishes and is stored; then it exits 0.

import { describe, it, after } from 'node:test';
import assert from 'node:assert/strict';
import net from 'node:net';
import {
  startVodupd, cleanupTmpDirs, withLogs, waitFor, SLOW, randomBuf, md5, buildSignedRequest, openRawSignedRequest,
} from '../compat/lib/vodupd.mjs';

after(() => cleanupTmpDirs());

const KiB = 1024;
const bucket = 'drain';

/** The head of a signed request for a raw socket (keep-alive: HTTP/1.1's default). */
function rawHead(port, opts) {
  const r = buildSignedRequest(opts);
  const lines = [`${r.method} ${r.path} HTTP/1.1`, `host: 127.0.0.1:${port}`];
  for (const [k, v] of Object.entries(r.headers)) lines.push(`${k}: ${v}`);
  return lines.join('\r\n') + '\r\n\r\n';
}

/** A kept-alive connection that reads one whole response at a time. */
async function keepAlive(port) {
  const socket = net.connect({ host: '127.0.0.1', port });
  await new Promise((resolve, reject) => { socket.once('connect', resolve); socket.once('error', reject); });
  let buf = Buffer.alloc(0);
  let closed = false;
  const waiters = [];
  const poke = () => { while (waiters.length) waiters.shift()(); };
  socket.on('data', d => { buf = Buffer.concat([buf, d]); poke(); });
  socket.on('close', () => { closed = true; poke(); });
  socket.on('error', () => {});
  async function response() {
    for (;;) {
      const end = buf.indexOf('\r\n\r\n');
      if (end >= 0) {
        const head = buf.subarray(0, end).toString('latin1');
        const cl = Number(/\r\ncontent-length: *(\d+)/i.exec(head)?.[1] ?? 0);
        if (buf.length >= end + 4 + cl) {
          const body = buf.subarray(end + 4, end + 4 + cl).toString('utf8');
          buf = buf.subarray(end + 4 + cl);
          return { status: Number(head.split(' ')[1]), head, body };
        }
      }
      if (closed) return null;
      await new Promise(resolve => waiters.push(resolve));
    }
  }
  return { socket, response, get closed() { return closed; }, waitClosed: () => waitFor(() => closed, { what: 'the server to close the kept-alive connection' }) };
}

describe('SIGTERM', { timeout: 120000 * SLOW }, () => {
  it('refuses new requests on kept-alive connections at once and finishes the one in flight', withLogs(async () => {
    const srv = await startVodupd();
    assert.equal((await srv.request({ method: 'PUT', bucket })).status, 200);
    const list = { method: 'GET', bucket, creds: srv.creds };

    // a kept-alive connection that has been used
    const ka = await keepAlive(srv.port);
    ka.socket.write(rawHead(srv.port, list));
    const before = await ka.response();
    assert.equal(before.status, 200, before.head);
    assert.doesNotMatch(before.head, /\r\nconnection: close/i);

    // a PutObject in flight: accepted (100 Continue), half its body sent
    const body = randomBuf(256 * KiB);
    const put = openRawSignedRequest({ port: srv.port, method: 'PUT', bucket, key: 'in-flight', creds: srv.creds,
      contentLength: body.length, headers: { expect: '100-continue' } });
    let seen = '';
    put.socket.on('data', d => { seen += d.toString('latin1'); });
    await put.connected;
    await waitFor(() => /^HTTP\/1\.1 100 /.test(seen), { what: 'the upload to be accepted (100 Continue)' });
    put.socket.write(body.subarray(0, 128 * KiB));

    srv._child.kill('SIGTERM');
    await waitFor(() => /SIGTERM received/.test(srv.stderr()), { what: 'vodupd to take the SIGTERM' });

    // a new request on the kept-alive connection: refused, and the connection closed
    ka.socket.write(rawHead(srv.port, list));
    const after = await ka.response();
    assert.ok(after, 'the kept-alive connection was dropped without an answer');
    assert.equal(after.status, 503, after.head + after.body);
    assert.match(after.head, /\r\nconnection: close/i);
    assert.match(after.body, /shutting down/);
    await ka.waitClosed();

    // the request in flight finishes and is answered
    put.socket.write(body.subarray(128 * KiB));
    const raw = (await put.response).toString('latin1');
    assert.match(raw, /HTTP\/1\.1 200 /, raw.slice(0, 400)); // after the 100 Continue
    const exit = await srv.exited;
    assert.deepEqual(exit, { code: 0, signal: null });

    // and it was stored
    const again = await startVodupd({ dataDir: srv.dataDir, creds: srv.creds });
    try {
      const g = await again.request({ bucket, key: 'in-flight' });
      assert.equal(g.status, 200);
      assert.equal(md5(g.body), md5(body));
    } finally {
      await again.stop();
    }
  }));
});
