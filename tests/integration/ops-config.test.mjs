// vodupd.conf (docs/vodupd.conf.md): every key documented with its default in the doc and
// the annotated example; `vodupd config check` prints the effective configuration and
// refuses a bad file naming its line; the file, VODUPD_* variables and flags override each
// other in that order, in `config check` and in a serving vodupd; `--listen :PORT` means
// every IPv4 address.

import { describe, it, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { startVodupd, cleanupTmpDirs, makeTmpDir, initDataDir, vodupdPath, plainRequest, waitFor, SLOW } from '../compat/lib/vodupd.mjs';

const repo = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const tmp = makeTmpDir('conf-');
let seq = 0;

/** Writes text to a fresh .conf file and returns its path. */
function confFile(text) {
  const f = path.join(tmp, `t${++seq}.conf`);
  fs.writeFileSync(f, text);
  return f;
}

/** Runs vodupd with args and an environment without any VODUPD_* of the caller's. */
function vodupd(args, env = {}) {
  const clean = Object.fromEntries(Object.entries(process.env).filter(([k]) => !k.startsWith('VODUPD_')));
  const r = spawnSync(vodupdPath(), args, { encoding: 'utf8', env: { ...clean, ...env }, timeout: 30000 * SLOW });
  return { status: r.status, out: r.stdout, err: r.stderr };
}

/** The effective value lines of `config check` output: key -> [{value, origin}]. */
function effective(out) {
  const m = new Map();
  for (const line of out.split('\n')) {
    const x = /^([a-z-]+) = (.*?)  ; (.*)$/.exec(line);
    if (x) m.set(x[1], [...(m.get(x[1]) ?? []), { value: x[2], origin: x[3] }]);
  }
  return m;
}

after(() => cleanupTmpDirs());

describe('vodupd.conf', { timeout: 120000 * SLOW }, () => {
  it('every key is documented with its default in docs/vodupd.conf.md and dist/vodupd.conf', () => {
    const r = vodupd(['config', 'check']);
    assert.equal(r.status, 0, r.err);
    // keys with a default are printed "key = value  ; default", computed ones "# key = (...)"
    const keys = [...r.out.matchAll(/^(?:# )?([a-z][a-z-]+) = /gm)].map(m => m[1]);
    assert.ok(keys.length >= 25, `only ${keys.length} keys in:\n${r.out}`);
    const doc = fs.readFileSync(path.join(repo, 'docs/vodupd.conf.md'), 'utf8');
    const example = fs.readFileSync(path.join(repo, 'dist/vodupd.conf'), 'utf8');
    for (const k of keys) {
      const row = doc.split('\n').find(l => l.startsWith(`| \`${k}\` |`));
      assert.ok(row, `docs/vodupd.conf.md has no table row for ${k}`);
      const def = effective(r.out).get(k)?.[0]?.value;
      if (def !== undefined) assert.ok(row.includes(`\`${def}\``), `the doc's default for ${k} is not ${def}: ${row}`);
      assert.match(example, new RegExp(`^;?${k} = `, 'm'), `dist/vodupd.conf does not show ${k}`);
    }
    // and the section each key is in, as the doc's headings say
    for (const m of r.out.matchAll(/^\[([a-z]+)\]$/gm)) assert.ok(doc.includes(`### [${m[1]}]`), m[1]);
  });

  it('the annotated example is valid as installed', () => {
    const r = vodupd(['--config', path.join(repo, 'dist/vodupd.conf'), 'config', 'check']);
    assert.equal(r.status, 0, r.err);
    const e = effective(r.out);
    assert.equal(e.get('data-dir')[0].value, '/var/lib/vodup');
    assert.match(e.get('data-dir')[0].origin, /dist\/vodupd\.conf:\d+$/);
  });

  it('config check rejects a bad file naming the line', () => {
    const cases = [
      ['[server]\nlisten = 127.0.0.1:9000\nthreads = 0\n', 3, /--threads wants 1\.\.256, got 0/],
      ['[server]\n\n# comment\nthreads = four\n', 4, /'four' is not a number/],
      ['[server]\nlisten = 127.0.0.1:9000\nlisen = 1\n', 3, /unknown key 'lisen'/],
      ['[limits]\nlisten = 127.0.0.1:9000\n', 2, /'listen' belongs in \[server\], not \[limits\]/],
      ['listen = 127.0.0.1:9000\n', 1, /must be inside its section \[server\]/],
      ['[server]\nregion = a\nregion = b\n', 3, /'region' is set twice \(first at .*:2\)/],
      ['[server]\nthis is not ini\n', 2, /not 'key = value'/],
      ['[uploads]\nserve-active-content = maybe\n', 2, /wants true or false/],
      ['[uploads]\ndisk-reserve = 90%\n', 2, /--disk-reserve wants/],
      ['[limits]\ntrusted-proxy = 10.0.0.0/8\ntrusted-proxy = not-an-address\n', 3, /--trusted-proxy wants/],
    ];
    for (const [text, line, why] of cases) {
      const f = confFile(text);
      const r = vodupd(['config', 'check', '--config', f]);
      assert.equal(r.status, 2, `${text} -> ${r.status} ${r.err}`);
      assert.match(r.err, new RegExp(`${f.replace(/[.]/g, '\\.')}:${line}: `), `${text}: ${r.err}`);
      assert.match(r.err, why, r.err);
      assert.equal(r.out, '', 'nothing printed for a bad file');
      // serve refuses it the same way, before doing anything
      const s = vodupd(['--config', f, 'serve', '--data-dir', path.join(tmp, 'none')]);
      assert.equal(s.status, 2);
      assert.match(s.err, new RegExp(`:${line}: `));
    }
    // the combinations, once every value is known
    const r = vodupd(['config', 'check', '--config', confFile('[tls]\ntls-listen = 127.0.0.1:0\n')]);
    assert.equal(r.status, 2);
    assert.match(r.err, /HTTPS needs all three/);
    const missing = vodupd(['config', 'check', '--config', path.join(tmp, 'absent.conf')]);
    assert.equal(missing.status, 2);
    assert.match(missing.err, /cannot read .*absent\.conf: No such file/);
  });

  it('the environment overrides the file, and config check says where each value came from', () => {
    const f = confFile('[server]\nregion = from-file ; a comment\nworkers = 3\n[limits]\ntrusted-proxy = 10.0.0.0/8\ntrusted-proxy = 10.2.0.0/16\n');
    let e = effective(vodupd(['--config', f, 'config', 'check']).out);
    assert.deepEqual(e.get('region'), [{ value: 'from-file', origin: `${f}:2` }]);
    assert.deepEqual(e.get('trusted-proxy').map(x => x.value), ['10.0.0.0/8', '10.2.0.0/16']);
    assert.deepEqual(e.get('threads'), [{ value: '4', origin: 'default' }]);
    e = effective(vodupd(['config', 'check'], { VODUPD_CONFIG: f, VODUPD_REGION: 'from-env', VODUPD_TRUSTED_PROXY: '192.0.2.1, 192.0.2.2' }).out);
    assert.deepEqual(e.get('region'), [{ value: 'from-env', origin: '$VODUPD_REGION' }]);
    assert.deepEqual(e.get('workers'), [{ value: '3', origin: `${f}:3` }]);
    // a list comes whole from the highest source
    assert.deepEqual(e.get('trusted-proxy').map(x => x.value), ['192.0.2.1', '192.0.2.2']);
    const bad = vodupd(['config', 'check'], { VODUPD_WORKERS: '0' });
    assert.equal(bad.status, 2);
    assert.match(bad.err, /\$VODUPD_WORKERS: --workers wants 1\.\.256, got 0/);
  });

  it('a serving vodupd takes the file, then the environment, then its flags', async () => {
    const dataDir = path.join(makeTmpDir('conf-srv-'), 'data');
    const creds = initDataDir(dataDir);
    const f = confFile(`[server]\ndata-dir = ${path.join(tmp, 'not-this-one')}\npublic-url = http://from-file.example\n[admin]\nadmin-listen = 127.0.0.1:0\n`);
    const line = srv => /public url (\S+)\)/.exec(srv.stderr())[1];
    // the file's public-url and admin listener; the command line's data dir wins over the file's
    let srv = await startVodupd({ dataDir, creds, env: { VODUPD_CONFIG: f } });
    assert.equal(line(srv), 'http://from-file.example');
    assert.match(srv.stderr(), /admin \(\/healthz, \/metrics\) on http:\/\/127\.0\.0\.1:\d+/);
    assert.match(srv.stderr(), new RegExp(`data dir ${dataDir.replace(/[.]/g, '\\.')},`));
    await srv.stop();
    srv = await startVodupd({ dataDir, creds, env: { VODUPD_CONFIG: f, VODUPD_PUBLIC_URL: 'http://from-env.example' } });
    assert.equal(line(srv), 'http://from-env.example');
    await srv.stop();
    srv = await startVodupd({ dataDir, creds, env: { VODUPD_CONFIG: f, VODUPD_PUBLIC_URL: 'http://from-env.example' }, extraArgs: ['--public-url', 'http://from-flag.example'] });
    assert.equal(line(srv), 'http://from-flag.example');
    await srv.stop();
    // the admin commands take data-dir from the file: here a directory that is not initialised
    const u = vodupd(['--config', f, 'user', 'list']);
    assert.equal(u.status, 1);
    assert.match(u.err, /not-this-one is not a vodupd data directory/);
  });

  it('--listen :PORT listens on every IPv4 address', async () => {
    const dataDir = path.join(makeTmpDir('conf-any-'), 'data');
    initDataDir(dataDir);
    const child = spawn(vodupdPath(), ['serve', '--data-dir', dataDir, '--listen', ':0'], { stdio: ['ignore', 'ignore', 'pipe'] });
    let err = '';
    child.stderr.on('data', d => { err += d; });
    try {
      await waitFor(() => /listening on http:\/\/0\.0\.0\.0:(\d+)/.test(err), { what: `listening line in ${err}` });
      assert.match(err, /warning: listening on every address.*set --public-url/);
      const port = Number(/listening on http:\/\/0\.0\.0\.0:(\d+)/.exec(err)[1]);
      const r = await plainRequest({ port, path: '/' });
      assert.ok(r.status >= 200 && r.status < 500, `answered ${r.status}`);
    } finally {
      child.kill('SIGTERM');
      await new Promise(r => child.on('exit', r));
    }
  });
});
