// A full disk (finding 14): vodupd keeps a free-space floor (--disk-reserve) below which
// uploads are refused before a byte is written, with 507 InsufficientStorage (OSS and RPC),
// and a headroom file it releases when the file system is full, so that deletes can always
// be recorded and the disk emptied through the API, before and after a restart.
//
// Runs on a 64 MiB tmpfs that the test mounts (it runs as root); skipped, saying why, where
// mount is not permitted.

import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import http from 'node:http';
import path from 'node:path';
import {
  startVodupd, initDataDir, makeTmpDir, cleanupTmpDirs, withLogs, SLOW, randomBuf, randomHex, md5, md5b64,
  signedRequest, buildSignedRequest, assertOssError, xmlTag, listFilesRecursive, waitFor, vodupdPath,
} from '../compat/lib/vodupd.mjs';
import { vodClient, stopServer } from '../compat/lib/vod.mjs';

const MiB = 1024 * 1024;
const FS_SIZE = 64 * MiB;
const RESERVE = 8 * MiB;      // --disk-reserve
const HEADROOM = RESERVE / 2; // the headroom file: min(8 MiB, reserve / 2) (store/blob.h)
const OBJ = 4 * MiB;

let mnt;
let mountError = null;
let srv;
let dataDir;
let creds;
const bucket = `full-${randomHex(4)}`;
const stored = new Map(); // key -> md5 of what was acknowledged

// The tmpfs is the data directory itself, so that the logs the harness writes beside the data
// directory stay off it; the fillers that play "someone else" are on it, beside vodup.db.
function tryMount() {
  mnt = path.join(makeTmpDir('fulldisk-'), 'data');
  fs.mkdirSync(mnt);
  const r = spawnSync('mount', ['-t', 'tmpfs', '-o', `size=${FS_SIZE},mode=0700`, 'tmpfs', mnt], { encoding: 'utf8' });
  if (r.error || r.status !== 0) {
    mountError = `cannot mount a tmpfs (${r.error ? r.error.message : r.stderr.trim()}); these tests need root and mount`;
    return false;
  }
  return true;
}

const avail = () => { const s = fs.statfsSync(mnt); return s.bavail * s.bsize; };
const req = opts => signedRequest({ port: srv.port, creds, bucket, ...opts });
const headroomFile = () => path.join(dataDir, 'space.reserve');
const tmpFiles = () => listFilesRecursive(path.join(dataDir, 'tmp'));

function check() {
  const r = spawnSync(vodupdPath(), ['check', '--data-dir', dataDir, '--deep'], { encoding: 'utf8', timeout: 60000 * SLOW });
  return { status: r.status, out: `${r.stdout}${r.stderr}` };
}

/**
 * PutObject as curl and libvodup send bodies over 1 MiB: with Expect: 100-continue, so that a
 * refusal arrives before the body is sent (vodupd answers a refused body over 1 MiB without
 * reading it, and closes: a client that sends it anyway gets a reset, not the answer).
 */
function put(key, body) {
  const r = buildSignedRequest({
    method: 'PUT', bucket, key, creds, body,
    headers: { 'content-md5': md5b64(body), expect: '100-continue' },
  });
  return new Promise((resolve, reject) => {
    const q = http.request({ host: '127.0.0.1', port: srv.port, method: r.method, path: r.path, headers: { host: `127.0.0.1:${srv.port}`, ...r.headers }, agent: false, timeout: 60000 * SLOW }, res => {
      const chunks = [];
      res.on('data', c => chunks.push(c));
      res.on('end', () => {
        const b = Buffer.concat(chunks);
        if (res.statusCode === 200) stored.set(key, md5(body));
        resolve({ status: res.statusCode, headers: res.headers, body: b, text: b.toString('utf8') });
        q.destroy();
      });
    });
    q.on('continue', () => q.end(body));
    q.on('error', reject);
    q.flushHeaders();
  });
}

/** Fills every last byte of the file system with a file outside vodupd's data directory. */
function fill(file) {
  const fd = fs.openSync(file, 'w');
  const block = Buffer.alloc(MiB, 1);
  try {
    for (;;) fs.writeSync(fd, block);
  } catch (e) {
    assert.equal(e.code, 'ENOSPC', `filling: ${e}`);
  }
  try {
    for (;;) fs.writeSync(fd, block.subarray(0, 4096));
  } catch (e) {
    assert.equal(e.code, 'ENOSPC');
  }
  fs.closeSync(fd);
  assert.ok(avail() < 64 * 1024, `the file system should be full, ${avail()} bytes free`);
}

async function assertAllIntact() {
  for (const [key, sum] of stored) {
    const g = await req({ method: 'GET', key });
    assert.equal(g.status, 200, `GET ${key}: ${g.status} ${g.text.slice(0, 300)}`);
    assert.equal(md5(g.body), sum, `${key} changed`);
  }
}

function assertStorageFull(r, what) {
  const xml = assertOssError(r, 507, 'InsufficientStorage', what);
  assert.match(xmlTag(xml, 'Message'), /storage is full/i, `${what}: a human message\n${xml}`);
}

/** PutObject without Content-Length (chunked), so the server learns the size only as it writes. */
function putChunked(key, body) {
  const r = buildSignedRequest({ method: 'PUT', bucket, key, creds, headers: { 'transfer-encoding': 'chunked' } });
  return new Promise((resolve, reject) => {
    const q = http.request({ host: '127.0.0.1', port: srv.port, method: r.method, path: r.path, headers: { host: `127.0.0.1:${srv.port}`, ...r.headers }, agent: false }, res => {
      const chunks = [];
      res.on('data', c => chunks.push(c));
      res.on('end', () => { const b = Buffer.concat(chunks); resolve({ status: res.statusCode, headers: res.headers, body: b, text: b.toString('utf8') }); });
    });
    q.on('error', e => resolve({ status: -1, error: e, headers: {}, text: String(e) }));
    let off = 0;
    const step = () => {
      while (off < body.length) {
        const part = body.subarray(off, off + 256 * 1024);
        off += part.length;
        if (!q.write(part)) { q.once('drain', step); return; }
      }
      q.end();
    };
    step();
  });
}

describe('a full disk', { timeout: 300000 * SLOW }, () => {
  before(async () => {
    if (!tryMount()) return;
    dataDir = mnt;
    creds = initDataDir(dataDir);
    srv = await startVodupd({ dataDir, creds, extraArgs: ['--disk-reserve', `${RESERVE / MiB}M`] });
    const b = await req({ method: 'PUT' });
    assert.equal(b.status, 200, b.text);
  });

  after(async () => {
    if (srv && srv.running) await stopServer(srv);
    if (mnt && !mountError) spawnSync('umount', ['-l', mnt]);
    cleanupTmpDirs();
  });

  it('keeps a headroom file while there is room', withLogs(async t => {
    if (mountError) return t.skip(mountError);
    const st = fs.statSync(headroomFile());
    assert.equal(st.size, HEADROOM);
    assert.ok(st.blocks * 512 >= HEADROOM, `the headroom must be allocated, not sparse (${st.blocks} blocks)`);
  }));

  it('refuses uploads at the reserve with 507 InsufficientStorage, before writing; earlier objects stay intact', withLogs(async t => {
    if (mountError) return t.skip(mountError);
    // a multipart upload started while there is room, for the UploadPart check below
    const init = await req({ method: 'POST', key: 'mp/early.bin', query: { uploads: '' } });
    assert.equal(init.status, 200, init.text);
    const uploadId = xmlTag(init.text, 'UploadId');

    let refused = null;
    for (let i = 0; i < FS_SIZE / OBJ + 2 && !refused; i++) {
      const r = await put(`fill/${i}.bin`, randomBuf(OBJ));
      if (r.status !== 200) refused = r;
    }
    assert.ok(refused, 'uploads never stopped on a 64 MiB file system');
    assertStorageFull(refused, 'PutObject at the reserve');
    assert.ok(stored.size >= 8, `only ${stored.size} objects of 4 MiB fit on 64 MiB`);
    // the floor held: the reserve is still free (less the headroom file, which is part of it)
    assert.ok(avail() >= RESERVE - OBJ, `free space fell to ${avail()} bytes, far below the ${RESERVE}-byte reserve`);
    assert.deepEqual(tmpFiles(), [], 'a refused upload must leave nothing in tmp/');

    // top up with ever smaller objects until not even 1000 bytes fit above the floor
    let last = null;
    for (let size = OBJ / 2, i = 0; size >= 1000 && i < 200; i++) {
      last = await put(`top/${i}.bin`, randomBuf(size));
      if (last.status !== 200) size = size > 1000 && size < 2000 ? 1000 : Math.floor(size / 2);
    }
    assertStorageFull(last, 'a 1000-byte PutObject below the reserve');
    assert.ok(avail() >= RESERVE - 64 * 1024, `free space fell to ${avail()} bytes, below the ${RESERVE}-byte reserve`);
    assert.ok(avail() < RESERVE + OBJ, `the file system was not filled up to the reserve (${avail()} bytes free)`);
    assertStorageFull(await req({ method: 'POST', key: 'mp/late.bin', query: { uploads: '' } }), 'InitiateMultipartUpload');
    assertStorageFull(await req({ method: 'PUT', key: 'mp/early.bin', query: [['partNumber', '1'], ['uploadId', uploadId]], body: randomBuf(200 * 1024) }), 'UploadPart');
    assertStorageFull(await signedRequest({ port: srv.port, creds, method: 'PUT', bucket: `${bucket}-2` }), 'PutBucket');
    await assert.rejects(vodClient(srv).request('CreateUploadVideo', { Title: 't', FileName: 'f.mp4' }, { method: 'POST' }), err => {
      assert.equal(err.code, 'InsufficientStorage', `CreateUploadVideo: ${err.code} ${err.message}`);
      assert.equal(err.entry?.response?.statusCode, 507);
      assert.match(err.data?.Message ?? '', /storage is full/i);
      return true;
    });
    // reads, listings and aborts still work
    const abort = await req({ method: 'DELETE', key: 'mp/early.bin', query: { uploadId } });
    assert.equal(abort.status, 204, `AbortMultipartUpload at full: ${abort.status} ${abort.text}`);
    assert.deepEqual(tmpFiles(), []);
    await assertAllIntact();
    const c = check();
    assert.equal(c.status, 0, `vodupd check after refusals:\n${c.out}`);
  }));

  it('an upload of unknown length that crosses the reserve fails half-way with 507 and leaves nothing', withLogs(async t => {
    if (mountError) return t.skip(mountError);
    // free one object, so that the next upload starts above the floor and must stop on the way
    const [victim] = stored.keys();
    const d = await req({ method: 'DELETE', key: victim });
    assert.equal(d.status, 204, d.text);
    stored.delete(victim);
    await waitFor(() => avail() >= RESERVE + OBJ / 2, { what: 'the deleted object\'s space to come back' });
    const r = await putChunked('chunked.bin', randomBuf(4 * OBJ));
    assert.equal(r.status, 507, `chunked PutObject across the reserve: ${r.status} ${r.text}`);
    assert.equal(xmlTag(r.text, 'Code'), 'InsufficientStorage', r.text);
    assert.deepEqual(tmpFiles(), [], 'the half-written upload must be gone from tmp/');
    assert.equal((await req({ method: 'HEAD', key: 'chunked.bin' })).status, 404);
    await assertAllIntact();
  }));

  it('deletes work at the reserve, and uploads succeed again once space is freed', withLogs(async t => {
    if (mountError) return t.skip(mountError);
    const keys = [...stored.keys()].slice(0, 4);
    const before = avail();
    for (const key of keys) {
      const d = await req({ method: 'DELETE', key });
      assert.equal(d.status, 204, `DeleteObject ${key}: ${d.status} ${d.text}`);
      stored.delete(key);
    }
    await waitFor(() => avail() >= before + 3 * OBJ, { what: 'the deleted blobs to be removed' });
    const again = await put('again.bin', randomBuf(OBJ));
    assert.equal(again.status, 200, `PutObject after freeing space: ${again.status} ${again.text}`);
    await assertAllIntact();
  }));

  it('when the disk is filled by someone else, deletes still work (the database gets the headroom), also after a restart', withLogs(async t => {
    if (mountError) return t.skip(mountError);
    assert.ok(fs.existsSync(headroomFile()), 'the headroom file is there before the disk fills');
    // fill every last byte from outside vodupd
    const filler = path.join(mnt, 'filler');
    fill(filler);

    assertStorageFull(await put('refused.bin', randomBuf(1000)), 'PutObject on a full disk');
    const [k1, k2, k3] = stored.keys();
    const d1 = await req({ method: 'DELETE', key: k1 });
    assert.equal(d1.status, 204, `DeleteObject on a full disk: ${d1.status} ${d1.text}`);
    stored.delete(k1);
    assert.ok(!fs.existsSync(headroomFile()), 'the headroom file was released');
    assert.equal((await req({ method: 'HEAD', key: k1 })).status, 404);

    // a restart on the full disk: the server comes up, deletes still work
    await stopServer(srv);
    const cs = check();
    assert.equal(cs.status, 0, `vodupd check on the full disk, server stopped:\n${cs.out}`);
    srv = await startVodupd({ dataDir, creds, extraArgs: ['--disk-reserve', `${RESERVE / MiB}M`] });
    const d2 = await req({ method: 'DELETE', key: k2 });
    assert.equal(d2.status, 204, `DeleteObject after a restart on a full disk: ${d2.status} ${d2.text}`);
    stored.delete(k2);
    const vd = await vodClient(srv).request('GetVideoList', {}, { method: 'POST' });
    assert.ok(vd.RequestId, 'RPC calls that do not grow the store still work on a full disk');
    await assertAllIntact();
    assert.ok(stored.has(k3));

    // space back: uploads work again, the headroom is taken again
    fs.rmSync(filler);
    const again = await put('after-filler.bin', randomBuf(OBJ));
    assert.equal(again.status, 200, `PutObject once the filler is gone: ${again.status} ${again.text}`);
    assert.ok(fs.existsSync(headroomFile()), 'the headroom file is back once there is room');
    assert.deepEqual(tmpFiles(), []);
    await assertAllIntact();
    const c = check();
    assert.equal(c.status, 0, `vodupd check at the end:\n${c.out}`);
  }));

  it('starts on a disk that filled up while it was stopped, and deletes work', withLogs(async t => {
    if (mountError) return t.skip(mountError);
    await stopServer(srv);
    assert.ok(fs.existsSync(headroomFile()), 'the headroom file is held while vodupd is stopped');
    const filler = path.join(mnt, 'filler-2');
    fill(filler);
    srv = await startVodupd({ dataDir, creds, extraArgs: ['--disk-reserve', `${RESERVE / MiB}M`] });
    assert.ok(!fs.existsSync(headroomFile()), 'released at start-up, before the database opened');
    const [key] = stored.keys();
    const d = await req({ method: 'DELETE', key });
    assert.equal(d.status, 204, `DeleteObject right after starting on a full disk: ${d.status} ${d.text}`);
    stored.delete(key);
    assertStorageFull(await put('refused-2.bin', randomBuf(1000)), 'PutObject on a full disk after a start');
    await assertAllIntact();
    fs.rmSync(filler);
    const again = await put('after-filler-2.bin', randomBuf(1000));
    assert.equal(again.status, 200, `PutObject once the filler is gone: ${again.status} ${again.text}`);
  }));
});

describe('--disk-reserve', () => {
  it('takes a size or a percentage, and refuses anything else before starting', () => {
    for (const bad of ['-1', ' 5M', 'lots', '5X', '0%', '51%', '99999999999T']) {
      const r = spawnSync(vodupdPath(), ['serve', '--data-dir', '/nonexistent', '--disk-reserve', bad], { encoding: 'utf8', timeout: 10000 });
      assert.equal(r.status, 2, `--disk-reserve '${bad}': ${r.stderr}`);
      assert.match(r.stderr, /--disk-reserve wants a size/, bad);
    }
    const help = spawnSync(vodupdPath(), ['serve', '--help'], { encoding: 'utf8' });
    assert.match(help.stdout, /--disk-reserve SIZE/);
  });
});
