// Races between writes that commit at the same time: many concurrent PutObjects on a
// server with many worker threads must all succeed (writes queue inside vodupd instead
// of timing out on SQLite's write lock), while an operator's admin command from another
// process still gets through.

import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import {
  startVodupd, withLogs, SLOW, randomBuf, vodupdPath, cleanupTmpDirs,
} from '../compat/lib/vodupd.mjs';

const T = { timeout: 180000 * SLOW };
const CLIENTS = 200;
const PER_CLIENT = Number(process.env.PER_CLIENT ?? 5); // sequential PutObjects per client: a sustained load, not one burst

let srv;

before(withLogs(async () => {
  srv = await startVodupd({ extraArgs: ['--workers', '64', '--threads', '8'] });
  const r = await srv.request({ method: 'PUT', bucket: 'race' });
  assert.equal(r.status, 200, r.text);
}));

after(async () => {
  if (srv) await srv.stop();
  cleanupTmpDirs();
}, T);

const pct = (sorted, p) => sorted[Math.min(sorted.length - 1, Math.floor(sorted.length * p))];

describe('concurrent commits', () => {
  it(`${CLIENTS} concurrent PutObjects on 64 workers: no 5xx, admin CLI still works`, T, withLogs(async () => {
    const bodies = Array.from({ length: CLIENTS }, () => randomBuf(512));
    const times = [];
    const failed = [];
    // An operator command from another process while the writes run.
    const admin = new Promise(resolve => setTimeout(() => {
      const r = spawnSync(vodupdPath(), ['user', 'create', 'racer', '--policy', 'AliyunVODFullAccess',
        '--data-dir', srv.dataDir], { encoding: 'utf8', timeout: 60000 * SLOW });
      resolve(r);
    }, 200));
    await Promise.all(bodies.map(async (body, i) => {
      for (let j = 0; j < PER_CLIENT; j++) {
        const t0 = process.hrtime.bigint();
        const r = await srv.request({ method: 'PUT', bucket: 'race', key: `o/${i}`, body });
        times.push(Number(process.hrtime.bigint() - t0) / 1e6);
        if (r.status !== 200) failed.push(`${i}/${j}: ${r.status} ${r.text.slice(0, 200)}`);
      }
    }));
    times.sort((a, b) => a - b);
    process.stderr.write(`PutObject x${times.length} (${CLIENTS} clients): p50 ${pct(times, 0.5).toFixed(1)} ms, ` +
      `p99 ${pct(times, 0.99).toFixed(1)} ms, max ${times[times.length - 1].toFixed(1)} ms\n`);
    assert.deepEqual(failed, []);
    const a = await admin;
    assert.equal(a.status, 0, `vodupd user create failed while serving: ${a.stderr}`);
    // Every object reads back as written.
    for (let i = 0; i < CLIENTS; i += 17) {
      const g = await srv.request({ method: 'GET', bucket: 'race', key: `o/${i}` });
      assert.equal(g.status, 200);
      assert.ok(g.body.equals(bodies[i]), `o/${i} reads back different bytes`);
    }
  }));
});
