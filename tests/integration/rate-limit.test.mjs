// Requests per second per AccessKeyId (--rate-per-key): one credential over its rate is
// refused in its own protocol (OSS 429 QpsLimitExceeded, RPC 400 Throttling.User) while
// another key goes on; only requests whose signature verified are charged, so nobody can
// spend another key's budget in its name; the budget comes back with time.

import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import {
  startVodupd, withLogs, SLOW, cleanupTmpDirs, signedRequest, forgeOneChar, xmlTag, waitFor,
} from '../compat/lib/vodupd.mjs';
import { vodClient, cli, stopServer } from '../compat/lib/vod.mjs';

const T = { timeout: 60000 * SLOW };
const RATE = 5; // requests per second; bursts of 2 * RATE

let srv, other;

before(withLogs(async () => {
  srv = await startVodupd({ extraArgs: ['--rate-per-key', String(RATE)] });
  const u = cli(srv.dataDir, 'user', 'create', 'rate-other', '--policy', 'AliyunVODFullAccess');
  other = { AccessKeyId: u.AccessKeyId, AccessKeySecret: u.AccessKeySecret };
}));

after(async () => {
  if (srv) await stopServer(srv);
  cleanupTmpDirs();
}, T);

// GET of a missing object: a signed request that touches nothing.
const probe = (creds, extra = {}) => signedRequest({ port: srv.port, method: 'GET', bucket: 'nobucket', key: 'k', creds, ...extra });

describe('rate per key', () => {
  it('refuses a key over its rate with 429 QpsLimitExceeded, and not another key', T, withLogs(async () => {
    const codes = [];
    let r = null; // the first refusal, read below (the next probe could already find a refilled token)
    for (let i = 0; i < 4 * RATE; i++) {
      const a = await probe(srv.creds);
      codes.push(a.status);
      if (a.status === 429 && !r) r = a;
    }
    const limited = codes.filter(c => c === 429).length;
    assert.ok(limited >= RATE, `expected refusals after a burst of ${2 * RATE}, got statuses ${codes}`);
    assert.ok(codes.slice(0, 2 * RATE - 2).every(c => c !== 429), `the burst must pass: ${codes}`);
    assert.equal(xmlTag(r.text, 'Code'), 'QpsLimitExceeded');
    assert.match(xmlTag(r.text, 'Message'), /reduce your request rate/);
    // Another key has its own budget.
    const o = await probe(other);
    assert.notEqual(o.status, 429, o.text);
    // The budget comes back: one token every 1/RATE s.
    await waitFor(async () => (await probe(srv.creds)).status !== 429, { timeout: 5000 * SLOW, interval: 250, what: 'the rate to refill' });
  }));

  it('charges only verified requests: forged ones in a key\'s name cost it nothing', T, withLogs(async () => {
    // Let the other key's bucket fill (it is at most 2 * RATE tokens, refilled at RATE/s).
    await new Promise(r => setTimeout(r, (2 * 1000 * 2 * RATE) / RATE));
    for (let i = 0; i < 6 * RATE; i++) {
      const f = await probe(other, { forge: forgeOneChar });
      assert.equal(f.status, 403, f.text);
      assert.equal(xmlTag(f.text, 'Code'), 'SignatureDoesNotMatch');
    }
    const ok = await probe(other);
    assert.notEqual(ok.status, 429, 'forged requests spent the key\'s budget');
  }));

  it('refuses RPC calls over the rate with 400 Throttling.User', T, withLogs(async () => {
    const vod = vodClient(srv, other);
    let throttled;
    for (let i = 0; i < 6 * RATE && !throttled; i++) {
      try {
        await vod.request('GetVideoList', {}, { method: 'POST' });
      } catch (e) {
        if (e.data?.Code === 'Throttling.User' || /Throttling\.User/.test(e.message)) throttled = e;
        else throw e;
      }
    }
    assert.ok(throttled, 'no Throttling.User after a burst');
    assert.match(throttled.message, /flow control/);
    assert.equal(throttled.data?.httpCode ?? throttled.statusCode ?? 400, 400);
  }));
});
