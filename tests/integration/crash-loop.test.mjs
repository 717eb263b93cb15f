// Crash consistency under load: vodupd is SIGKILLed at random moments while workers run
// PutObject, DeleteObject and whole multipart uploads (Initiate, UploadPart, Complete, Abort)
// concurrently, then restarted on the same data directory, ROUNDS times. After every restart:
//  - every acknowledged write reads back with its MD5, every acknowledged delete stays deleted,
//    and a request cut by the kill left either the state before it or the state after it;
//  - every unfinished multipart upload lists exactly its acknowledged parts (a part in flight:
//    there whole and right, or absent);
//  - no other object or upload exists, D/tmp is empty, and `vodupd check --deep` (run beside
//    the serving vodupd) finds no problem and nothing unreferenced.
// Each worker owns its own keys and runs one request at a time, so at most one request per
// worker is uncertain at a kill.

import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import path from 'node:path';
import {
  startVodupd, cleanupTmpDirs, restart, withLogs, SLOW, randomBuf, randomHex, md5, md5b64, etagOf,
  signedRequest, xmlTag, xmlTags, xmlUnescape, listFilesRecursive, sleep, vodupdPath,
} from '../compat/lib/vodupd.mjs';

const KiB = 1024;
const ROUNDS = Number(process.env.VODUP_CRASH_ROUNDS || 24);
const WORKERS = 8;
const KEYS_PER_WORKER = 5;
const KILL_AFTER_MS = [30, 450]; // the kill comes at a random moment in this window of load

let srv;
const bucket = `crash-loop-${randomHex(4)}`;
const rnd = n => Math.floor(Math.random() * n);
const pick = a => a[rnd(a.length)];

const req = opts => signedRequest({ port: srv.port, creds: srv.creds, bucket, timeout: 20000 * SLOW, ...opts });

function expectStatus(r, status, what) {
  if (r.status !== status) throw new Error(`${what}: expected ${status}, got ${r.status} ${r.text.slice(0, 400)}`);
}

/** One worker's view of the world: what was acknowledged, and the one request in flight. */
class Worker {
  constructor(i) {
    this.prefix = `w${i}/`;
    this.keys = Array.from({ length: KEYS_PER_WORKER }, (_, k) => `${this.prefix}obj-${k}`);
    this.objects = new Map(); // key -> md5 of the acknowledged content
    this.upload = null;       // {id, key, parts: Map(number -> body)}
    this.inflight = null;     // the request a kill may have cut
    this.ops = 0;
  }

  async step() {
    const u = this.upload;
    const roll = Math.random();
    if (u && roll < 0.35) {
      const n = (Math.max(0, ...u.parts.keys())) + 1;
      const body = randomBuf(100 * KiB + rnd(160 * KiB));
      this.inflight = { op: 'part', n, body };
      const r = await req({ method: 'PUT', key: u.key, query: [['partNumber', String(n)], ['uploadId', u.id]], body, headers: { 'content-md5': md5b64(body) } });
      expectStatus(r, 200, `UploadPart ${n}`);
      assert.equal(r.headers.etag, etagOf(body));
      u.parts.set(n, body);
    } else if (u && u.parts.size > 0 && roll < 0.45) {
      const nums = [...u.parts.keys()].sort((a, b) => a - b);
      const xml = '<CompleteMultipartUpload>' + nums.map(n => `<Part><PartNumber>${n}</PartNumber><ETag>${etagOf(u.parts.get(n))}</ETag></Part>`).join('') + '</CompleteMultipartUpload>';
      const sum = md5(Buffer.concat(nums.map(n => u.parts.get(n))));
      this.inflight = { op: 'complete', key: u.key, sum, before: this.objects.get(u.key) };
      const r = await req({ method: 'POST', key: u.key, query: { uploadId: u.id }, body: Buffer.from(xml), headers: { 'content-type': 'application/xml' } });
      expectStatus(r, 200, 'CompleteMultipartUpload');
      this.objects.set(u.key, sum);
      this.upload = null;
    } else if (u && roll < 0.5) {
      this.inflight = { op: 'abort' };
      const r = await req({ method: 'DELETE', key: u.key, query: { uploadId: u.id } });
      expectStatus(r, 204, 'AbortMultipartUpload');
      this.upload = null;
    } else if (!u && roll < 0.15) {
      const key = pick(this.keys);
      this.inflight = { op: 'initiate', key };
      const r = await req({ method: 'POST', key, query: { uploads: '' } });
      expectStatus(r, 200, 'InitiateMultipartUpload');
      this.upload = { id: xmlTag(r.text, 'UploadId'), key, parts: new Map() };
    } else if (roll < 0.65 && this.objects.size > 0) {
      const key = pick([...this.objects.keys()]);
      this.inflight = { op: 'delete', key, before: this.objects.get(key) };
      const r = await req({ method: 'DELETE', key });
      expectStatus(r, 204, 'DeleteObject');
      this.objects.delete(key);
    } else {
      const key = pick(this.keys);
      const body = randomBuf(rnd(5) === 0 ? 0 : rnd(300 * KiB));
      this.inflight = { op: 'put', key, sum: md5(body), before: this.objects.get(key) };
      const r = await req({ method: 'PUT', key, body, headers: { 'content-md5': md5b64(body) } });
      expectStatus(r, 200, 'PutObject');
      this.objects.set(key, md5(body));
    }
    this.inflight = null;
    this.ops++;
  }

  /** Runs requests until the kill; an error before the kill fails the test. */
  async run(state) {
    while (!state.killed) {
      try {
        await this.step();
      } catch (e) {
        if (!state.killed) throw e;
        return; // cut by the kill: this.inflight says what is uncertain
      }
    }
  }

  async head(key) {
    const g = await req({ method: 'GET', key });
    if (g.status === 404) return undefined;
    expectStatus(g, 200, `GET ${key}`);
    return md5(g.body);
  }

  async listParts(u) {
    const r = await req({ method: 'GET', key: u.key, query: { uploadId: u.id } });
    if (r.status === 404) return null;
    expectStatus(r, 200, `ListParts ${u.key}`);
    return xmlTags(r.text, 'Part').map(p => ({ n: Number(xmlTag(p, 'PartNumber')), etag: xmlUnescape(xmlTag(p, 'ETag')), size: Number(xmlTag(p, 'Size')) }));
  }

  async uploadsListed() {
    const r = await req({ method: 'GET', query: { uploads: '', prefix: this.prefix } });
    expectStatus(r, 200, 'ListMultipartUploads');
    return xmlTags(r.text, 'Upload').map(x => ({ key: xmlUnescape(xmlTag(x, 'Key')), id: xmlTag(x, 'UploadId') }));
  }

  /** After a restart: the observed state must be the acknowledged one, give or take the request in flight. */
  async verify(round) {
    const ctx = `round ${round}, ${this.prefix}`;
    const f = this.inflight;
    this.inflight = null;

    // the request cut by the kill: before or after, never anything else
    if (f && (f.op === 'put' || f.op === 'delete')) {
      const got = await this.head(f.key);
      const after = f.op === 'put' ? f.sum : undefined;
      assert.ok(got === f.before || got === after, `${ctx}: ${f.op} of ${f.key} cut by the kill left ${got}, expected ${f.before} or ${after}`);
      if (got === undefined) this.objects.delete(f.key); else this.objects.set(f.key, got);
    }
    if (f && f.op === 'complete') {
      const parts = await this.listParts(this.upload);
      const got = await this.head(f.key);
      if (parts === null) {
        assert.equal(got, f.sum, `${ctx}: Complete cut by the kill removed the upload, so ${f.key} must be the completed object`);
        this.objects.set(f.key, got);
        this.upload = null;
      } else {
        assert.equal(got, f.before, `${ctx}: Complete cut by the kill left the upload, so ${f.key} must be unchanged`);
      }
    }
    if (f && f.op === 'abort') {
      if ((await this.listParts(this.upload)) === null) this.upload = null;
    }
    const listed = await this.uploadsListed();
    if (f && f.op === 'initiate') {
      // an upload the client never learnt of may exist: adopt it (it must be empty)
      const extra = listed.filter(x => !this.upload || x.id !== this.upload.id);
      assert.ok(extra.length <= 1, `${ctx}: one Initiate cut by the kill made ${extra.length} uploads`);
      if (extra.length === 1) {
        assert.equal(extra[0].key, f.key, ctx);
        this.upload = { id: extra[0].id, key: f.key, parts: new Map() };
      }
    }
    if (f && f.op === 'part') {
      const parts = await this.listParts(this.upload);
      assert.ok(parts, `${ctx}: the upload vanished`);
      const p = parts.find(x => x.n === f.n);
      if (p) {
        assert.equal(p.etag, etagOf(f.body), `${ctx}: part ${f.n} cut by the kill is there with other bytes`);
        assert.equal(p.size, f.body.length, `${ctx}: part ${f.n} cut by the kill is there with another size`);
        this.upload.parts.set(f.n, f.body);
      }
    }

    // everything acknowledged, exactly
    for (const key of this.keys) {
      assert.equal(await this.head(key), this.objects.get(key), `${ctx}: ${key}`);
    }
    const l = await req({ method: 'GET', query: { prefix: this.prefix, 'max-keys': '1000' } });
    expectStatus(l, 200, 'ListObjects');
    assert.deepEqual(xmlTags(l.text, 'Key').map(xmlUnescape).sort(), [...this.objects.keys()].sort(), `${ctx}: the objects listed`);
    const uploads = await this.uploadsListed();
    assert.deepEqual(uploads.map(x => x.id), this.upload ? [this.upload.id] : [], `${ctx}: the multipart uploads listed`);
    if (this.upload) {
      const parts = await this.listParts(this.upload);
      const want = [...this.upload.parts.entries()].sort((a, b) => a[0] - b[0]);
      assert.deepEqual(parts.map(p => [p.n, p.etag, p.size]), want.map(([n, b]) => [n, etagOf(b), b.length]), `${ctx}: the parts of ${this.upload.key}`);
    }
  }
}

function check(dataDir) {
  const r = spawnSync(vodupdPath(), ['check', '--data-dir', dataDir, '--deep'], { encoding: 'utf8', timeout: 60000 * SLOW });
  return { status: r.status, out: `${r.stdout}${r.stderr}` };
}

describe('SIGKILL at random moments under concurrent uploads', { timeout: 300000 * SLOW }, () => {
  before(async () => {
    srv = await startVodupd();
    const b = await req({ method: 'PUT' });
    assert.equal(b.status, 200, b.text);
  });

  after(async () => {
    if (srv && srv.running) await srv.stop();
    cleanupTmpDirs();
  });

  it(`${ROUNDS} rounds: acknowledged writes survive, cut ones are all or nothing, nothing is left over`, withLogs(async () => {
    const workers = Array.from({ length: WORKERS }, (_, i) => new Worker(i));
    const t0 = Date.now();
    let cut = 0;
    for (let round = 1; round <= ROUNDS; round++) {
      const state = { killed: false };
      const running = workers.map(w => w.run(state));
      await sleep((KILL_AFTER_MS[0] + rnd(KILL_AFTER_MS[1] - KILL_AFTER_MS[0])) * SLOW);
      state.killed = true;
      const info = await srv.kill();
      assert.equal(info.signal, 'SIGKILL', `round ${round}: vodupd had already exited: ${JSON.stringify(info)}`);
      await Promise.all(running);
      cut += workers.filter(w => w.inflight).length;

      srv = await restart(srv);
      assert.deepEqual(listFilesRecursive(path.join(srv.dataDir, 'tmp')), [], `round ${round}: D/tmp after the restart`);
      for (const w of workers) await w.verify(round);
      const c = check(srv.dataDir);
      assert.equal(c.status, 0, `round ${round}: vodupd check found problems:\n${c.out}`);
      assert.match(c.out, / 0 problem\(s\), 0 note\(s\)/, `round ${round}: vodupd check:\n${c.out}`);
    }
    const ops = workers.reduce((a, w) => a + w.ops, 0);
    process.stderr.write(`crash loop: ${ROUNDS} kills, ${ops} acknowledged requests, ${cut} cut by a kill, ${Date.now() - t0} ms\n`);
    assert.ok(cut >= ROUNDS / 2, `only ${cut} requests were in flight at ${ROUNDS} kills: the kills missed the load`);
  }));
});
