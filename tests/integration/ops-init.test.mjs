// `vodupd init` is atomic: a data directory appears complete or not at all, so an init that
// fails (a full disk, here a file-size limit; or a kill) leaves nothing that stops the next
// one, and the retry serves. `init > root.json` leaves the root secret private whatever the
// umask. An existing empty directory (systemd's StateDirectory) is accepted.

import { describe, it, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { startVodupd, cleanupTmpDirs, makeTmpDir, vodupdPath, SLOW } from '../compat/lib/vodupd.mjs';

/** Runs `vodupd init --data-dir dir` in sh with a prelude (ulimit, trap, umask, redirection). */
function init(dir, { prelude = '', redirect = '' } = {}) {
  const r = spawnSync('sh', ['-c', `${prelude} exec "$0" init --data-dir "$1" ${redirect}`, vodupdPath(), dir], {
    encoding: 'utf8', timeout: 60000 * SLOW,
  });
  return { status: r.status, signal: r.signal, out: r.stdout, err: r.stderr };
}

const creds = out => JSON.parse(out.trim());

after(() => cleanupTmpDirs());

describe('vodupd init', { timeout: 120000 * SLOW }, () => {
  it('a failed init (file-size limit: the database cannot be written) leaves nothing behind', async () => {
    const parent = makeTmpDir('init-');
    const dir = path.join(parent, 'data');
    // SIGXFSZ ignored: writes past the limit fail with EFBIG, as on a full disk
    const r = init(dir, { prelude: "trap '' XFSZ; ulimit -f 1;" });
    assert.equal(r.status, 1, r.err);
    assert.match(r.err, /cannot create the database/);
    assert.equal(r.out, '', 'no secret printed for a directory that does not exist');
    assert.deepEqual(fs.readdirSync(parent), [], 'the failed init left files');
    const ok = init(dir);
    assert.equal(ok.status, 0, ok.err);
    const srv = await startVodupd({ dataDir: dir, creds: creds(ok.out) });
    assert.equal((await srv.request({ method: 'GET' })).status, 200); // ListBuckets with the new root key
    await srv.stop();
  });

  it('an init killed half way does not stop the retry', () => {
    const parent = makeTmpDir('init-kill-');
    const dir = path.join(parent, 'data');
    // SIGXFSZ's default action kills vodupd at its first write past the limit
    const r = init(dir, { prelude: 'ulimit -f 1;' });
    assert.equal(r.signal, 'SIGXFSZ', `exit ${r.status}: ${r.err}`);
    assert.ok(!fs.existsSync(dir), 'the half-made data directory exists under its real name');
    // what is left is a temporary directory beside it, never the directory itself
    for (const f of fs.readdirSync(parent)) assert.match(f, /^data\.init-/);
    const ok = init(dir);
    assert.equal(ok.status, 0, ok.err);
    assert.ok(fs.existsSync(path.join(dir, 'vodup.db')));
  });

  it('init > root.json writes the secret 0600 under a permissive umask', () => {
    const parent = makeTmpDir('init-mode-');
    const out = path.join(parent, 'root.json');
    const r = init(path.join(parent, 'data'), { prelude: 'umask 022;', redirect: `> "${out}"` });
    assert.equal(r.status, 0, r.err);
    assert.equal(fs.statSync(out).mode & 0o777, 0o600);
    assert.equal(typeof creds(fs.readFileSync(out, 'utf8')).AccessKeySecret, 'string');
    assert.match(r.err, /made the output file private/);
    assert.equal(fs.statSync(path.join(parent, 'data')).mode & 0o777, 0o700);
  });

  it('an existing empty directory is initialised; a non-empty or initialised one is refused', () => {
    const parent = makeTmpDir('init-exist-');
    const empty = path.join(parent, 'empty');
    fs.mkdirSync(empty);
    const r = init(`${empty}/`);
    assert.equal(r.status, 0, r.err);
    assert.ok(fs.existsSync(path.join(empty, 'keys/master.key')));
    const again = init(empty);
    assert.equal(again.status, 1);
    assert.match(again.err, /already initialised/);
    const full = path.join(parent, 'full');
    fs.mkdirSync(full);
    fs.writeFileSync(path.join(full, 'something'), 'x');
    const refused = init(full);
    assert.equal(refused.status, 1);
    assert.match(refused.err, /exists and is not an empty directory/);
    assert.deepEqual(fs.readdirSync(full), ['something']);
  });

  it('an existing directory is filled in place (a mount point cannot be renamed over): a failed init leaves only its temporary dir, which the retry clears', async () => {
    const parent = makeTmpDir('init-inplace-');
    const dir = path.join(parent, 'mnt');
    fs.mkdirSync(dir);
    fs.mkdirSync(path.join(dir, 'lost+found')); // what a fresh file system holds
    const failed = init(dir, { prelude: "trap '' XFSZ; ulimit -f 1;" });
    assert.equal(failed.status, 1, failed.err);
    const left = fs.readdirSync(dir).filter(n => n !== 'lost+found');
    assert.ok(left.every(n => n.startsWith('.init-')), `a failed init left ${left}`);
    assert.ok(!fs.existsSync(path.join(dir, 'vodup.db')));
    // what a killed init (no chance to clean up) leaves inside
    fs.mkdirSync(path.join(dir, '.init-Xk2Pq9', 'keys'), { recursive: true });
    fs.writeFileSync(path.join(dir, '.init-Xk2Pq9', 'keys', 'master.key'), 'half');
    const ok = init(dir);
    assert.equal(ok.status, 0, ok.err);
    assert.deepEqual(fs.readdirSync(dir).filter(n => n.startsWith('.init-')), [], 'the retry left temporary dirs');
    assert.ok(fs.existsSync(path.join(dir, 'vodup.db')));
    const srv = await startVodupd({ dataDir: dir, creds: creds(ok.out) });
    assert.equal((await srv.request({ method: 'GET' })).status, 200);
    await srv.stop();
  });
});
