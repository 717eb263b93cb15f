// Store work runs off the HTTP event loop: authentication, the begin step of every
// operation (GET/HEAD metadata reads, listings, bucket operations, RPC actions) and the
// finish step run on the worker pool while the connection is suspended
// (docs/internals/server-pipeline.md). In debug builds the front marks its event-loop
// threads and every store wrapper aborts when called on a marked thread
// (src/server/store/loop_guard.h): so each request below, answered with the process
// alive, had its store work off the loop. In release builds the check is compiled out
// and the test only runs the requests.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { cleanupTmpDirs, randomBuf, startVodupd, withLogs, SLOW } from '../compat/lib/vodupd.mjs';
import { vodClient } from '../compat/lib/vod.mjs';

const T = { timeout: 120000 * SLOW };

// The guard is compiled in when NDEBUG is not defined: CMake's Debug build type.
function guardActive() {
  const dir = process.env.VODUP_BUILD_DIR;
  if (!dir) return false;
  try {
    const cache = fs.readFileSync(path.join(dir, 'CMakeCache.txt'), 'utf8');
    const m = /^CMAKE_BUILD_TYPE:STRING=(.*)$/m.exec(cache);
    return !!m && !['Release', 'RelWithDebInfo', 'MinSizeRel'].includes(m[1]);
  } catch {
    return false;
  }
}

describe('store work off the event loop', () => {
  let srv;
  before(async () => { srv = await startVodupd(); });
  after(async () => {
    await srv?.stop();
    cleanupTmpDirs();
  });

  const alive = () => {
    assert.ok(srv.running, `vodupd died: ${JSON.stringify(srv.exitInfo)}`);
    assert.doesNotMatch(srv.stderr(), /event-loop thread/);
  };

  it('GET, HEAD and listings (and the writes before them) with the guard ' +
     (guardActive() ? 'active' : 'compiled out'), T, withLogs(async () => {
    const oss = srv.client({ bucket: 'offloop' });
    await oss.putBucket('offloop');
    const small = randomBuf(1000);
    await oss.put('a/small.bin', small);
    const big = randomBuf(250 * 1024); // multipart: its GET streams across part blobs
    await oss.multipartUpload('a/big.bin', big, { partSize: 100 * 1024 });

    const g = await oss.get('a/small.bin');
    assert.deepEqual(g.content, small);
    const gb = await oss.get('a/big.bin', { headers: { Range: 'bytes=100000-150000' } });
    assert.deepEqual(gb.content, big.subarray(100000, 150001));
    const h = await oss.head('a/big.bin');
    assert.equal(Number(h.res.headers['content-length']), big.length);
    const l1 = await oss.list({ prefix: 'a/' });
    assert.deepEqual(l1.objects.map(o => o.name).sort(), ['a/big.bin', 'a/small.bin']);
    const l2 = await oss.listV2({ prefix: 'a/', delimiter: '/' });
    assert.equal(l2.keyCount, 2);
    const lb = await oss.listBuckets();
    assert.ok(lb.buckets.some(b => b.name === 'offloop'));
    await oss.getBucketInfo('offloop');
    await oss.delete('a/small.bin');
    alive();
  }));

  it('RPC actions and refused requests (authentication is store work too)', T, withLogs(async () => {
    const vod = vodClient(srv);
    const list = await vod.request('GetVideoList', {}, { method: 'POST' });
    assert.ok(list.RequestId);
    const bad = srv.client({ bucket: 'offloop', accessKeySecret: 'wrong' });
    await assert.rejects(bad.get('a/big.bin'), e => e.status === 403);
    alive();
  }));
});
