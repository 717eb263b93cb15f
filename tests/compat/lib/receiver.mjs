// An HTTP receiver for VOD event callbacks (reference/vod-sts.md §7), on 127.0.0.1:0.
//
// It records every request (method, path, headers, raw body, parsed JSON body, the status it
// answered, when) and answers with a programmable status:
//   - a sequence consumed one per request: rcv.queue(500, 200) (then the default),
//   - or a responder function req => status|undefined, consulted first (for per-media rules
//     that do not depend on what other events arrive meanwhile),
//   - otherwise the default status (200 unless setDefault() changed it).
//
//   const rcv = await startReceiver();
//   ... SetMessageCallback CallbackURL = rcv.url ...
//   const [ev] = await rcv.waitFor(1, 10000, r => r.body?.VideoId === id);
//   assert.equal(vodSignature(rcv.url, ev.headers['x-vod-timestamp'], KEY), ev.headers['x-vod-signature']);
//   await rcv.close();

import crypto from 'node:crypto';
import http from 'node:http';

/** X-VOD-SIGNATURE: lower-case hex md5 of "<CallbackURL>|<X-VOD-TIMESTAMP>|<AuthKey>". */
export function vodSignature(url, timestamp, authKey) {
  return crypto.createHash('md5').update(`${url}|${timestamp}|${authKey}`, 'utf8').digest('hex');
}

// Self-check against the documented vector (reference/vod-sts.md §7, "HTTP callback authentication").
if (vodSignature('https://www.example.com/your/callback', '1519375990', 'test123') !== 'c72b60894140fa98920f1279219b7ed4') {
  throw new Error('receiver.mjs: vodSignature does not reproduce the documented vector');
}

/**
 * Starts a receiver. Options:
 *   statuses: initial status sequence (array), consumed one per request
 *   defaultStatus: answer once the sequence is empty (200)
 *   path: the path of rcv.url ('/vod/callback')
 *   delayMs: wait this long before answering (0)
 */
export async function startReceiver({ statuses = [], defaultStatus = 200, path = '/vod/callback', delayMs = 0 } = {}) {
  const requests = [];
  const pending = [...statuses];
  let dflt = defaultStatus;
  let responder = null;
  let waiters = [];

  const notify = () => {
    const still = [];
    for (const w of waiters) {
      const got = requests.filter(w.filter);
      if (got.length >= w.n) {
        clearTimeout(w.timer);
        w.resolve(got.slice(0, w.n));
      } else {
        still.push(w);
      }
    }
    waiters = still;
  };

  const server = http.createServer((req, res) => {
    const chunks = [];
    req.on('data', c => chunks.push(c));
    req.on('end', async () => {
      const raw = Buffer.concat(chunks).toString('utf8');
      let body;
      try { body = raw ? JSON.parse(raw) : undefined; } catch { body = undefined; }
      const rec = {
        seq: requests.length + 1,
        time: Date.now(),
        method: req.method,
        path: req.url,
        headers: { ...req.headers },
        rawBody: raw,
        body,
        status: 0,
      };
      let status;
      if (responder) {
        try { status = responder(rec); } catch { status = 500; }
      }
      if (status === undefined) status = pending.length ? pending.shift() : dflt;
      rec.status = status;
      if (delayMs) await new Promise(r => setTimeout(r, delayMs));
      res.writeHead(status, { 'content-type': 'text/plain', connection: 'close' });
      res.end(status === 200 ? 'ok' : `status ${status}`);
      requests.push(rec);
      notify();
    });
  });
  await new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', resolve);
  });
  const port = server.address().port;

  return {
    port,
    url: `http://127.0.0.1:${port}${path}`,
    /** Every request so far, in arrival order. */
    requests,
    /** Appends statuses to the sequence. */
    queue(...s) { pending.push(...s.flat()); },
    /** Replaces the sequence. */
    setStatuses(s) { pending.length = 0; pending.push(...s); },
    setDefault(s) { dflt = s; },
    /** fn(rec) => status, or undefined to fall through to the sequence/default; null to remove. */
    setResponder(fn) { responder = fn; },
    /** Requests matching filter (all by default). */
    matching(filter = () => true) { return requests.filter(filter); },
    /**
     * Resolves with the first n requests matching filter once they have arrived; rejects after
     * timeoutMs with what did arrive.
     */
    waitFor(n, timeoutMs = 10000, filter = () => true) {
      const got = requests.filter(filter);
      if (got.length >= n) return Promise.resolve(got.slice(0, n));
      return new Promise((resolve, reject) => {
        const w = { n, filter, resolve };
        w.timer = setTimeout(() => {
          waiters = waiters.filter(x => x !== w);
          const now = requests.filter(filter);
          reject(new Error(`receiver: ${now.length} of ${n} expected requests within ${timeoutMs} ms; ` +
            `all ${requests.length} received: ${JSON.stringify(requests.map(r => ({ status: r.status, body: r.rawBody })))}`));
        }, timeoutMs);
        waiters.push(w);
      });
    },
    /** Stops listening and drops open connections. */
    async close() {
      for (const w of waiters) { clearTimeout(w.timer); }
      waiters = [];
      server.closeAllConnections?.();
      await new Promise(resolve => server.close(() => resolve()));
    },
  };
}
