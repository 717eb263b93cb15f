// `make install DESTDIR=...` (cmake --install of the build tree under test): the hardened
// systemd unit, the sysusers.d user, the default configuration, the man pages of vodupd, vodup
// and vodupd.conf, bash completion; `systemd-analyze verify` accepts the unit without a warning;
// `make uninstall` (the uninstall target) removes it all but the configuration file.

import { describe, it, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { cleanupTmpDirs, makeTmpDir, vodupdPath, SLOW } from '../compat/lib/vodupd.mjs';

const build = path.dirname(vodupdPath());
const destdir = makeTmpDir('install-');
const cache = fs.readFileSync(path.join(build, 'CMakeCache.txt'), 'utf8');
const prefix = /^CMAKE_INSTALL_PREFIX:PATH=(.*)$/m.exec(cache)[1];
const has = cmd => spawnSync('sh', ['-c', `command -v ${cmd}`]).status === 0;

function run(cmd, args, opts = {}) {
  const r = spawnSync(cmd, args, { encoding: 'utf8', timeout: 120000 * SLOW, ...opts });
  return { status: r.status, out: r.stdout ?? '', err: r.stderr ?? '' };
}

const install = () => run('cmake', ['--install', build], { env: { ...process.env, DESTDIR: destdir } });
const staged = p => path.join(destdir, p);
// GNUInstallDirs: a /usr prefix puts the configuration in /etc, any other in PREFIX/etc
const sysconf = prefix === '/usr' ? '/etc' : `${prefix}/etc`;
const unitPath = staged(`${prefix}/lib/systemd/system/vodupd.service`);
const confPath = staged(`${sysconf}/vodup/vodupd.conf`);

after(() => cleanupTmpDirs());

describe('make install', { timeout: 300000 * SLOW }, () => {
  it('installs the unit, the user, the configuration, manuals and completion under DESTDIR', () => {
    const r = install();
    assert.equal(r.status, 0, r.err);
    for (const f of [`${prefix}/bin/vodupd`, `${prefix}/bin/vodup`, `${prefix}/lib/sysusers.d/vodup.conf`,
      `${prefix}/share/man/man8/vodupd.8`, `${prefix}/share/man/man1/vodup.1`, `${prefix}/share/man/man5/vodupd.conf.5`,
      `${prefix}/share/bash-completion/completions/vodup`]) {
      assert.ok(fs.existsSync(staged(f)), `${f} not installed`);
    }
    assert.ok(fs.existsSync(unitPath), 'no unit');
    assert.equal(fs.statSync(confPath).mode & 0o777, 0o640, 'the configuration is not world-readable');
    // the sysusers.d line makes the user the unit runs as
    assert.match(fs.readFileSync(staged(`${prefix}/lib/sysusers.d/vodup.conf`), 'utf8'), /^u vodup - .* \/var\/lib\/vodup$/m);
  });

  it('the unit is hardened and runs the installed binary with the installed configuration', () => {
    const unit = fs.readFileSync(unitPath, 'utf8');
    for (const line of ['User=vodup', 'ProtectSystem=strict', 'NoNewPrivileges=yes', 'ReadWritePaths=/var/lib/vodup',
      'StateDirectory=vodup', 'ProtectHome=yes', 'PrivateTmp=yes', 'CapabilityBoundingSet=CAP_NET_BIND_SERVICE',
      'SystemCallFilter=@system-service', 'UMask=0077']) {
      assert.ok(unit.split('\n').includes(line), `unit lacks ${line}`);
    }
    const exec = /^ExecStart=(\S+) --config (\S+) serve$/m.exec(unit);
    assert.ok(exec, 'ExecStart');
    assert.equal(exec[1], `${prefix}/bin/vodupd`);
    assert.equal(staged(exec[2]), confPath);
    // the configuration as installed is valid and points at the unit's data directory
    const c = run(staged(exec[1]), ['--config', confPath, 'config', 'check']);
    assert.equal(c.status, 0, c.err);
    assert.match(c.out, /^data-dir = \/var\/lib\/vodup {2}; /m);
  });

  it('the man pages format without a warning', t => {
    if (!has('groff')) return t.skip('groff is not installed: the man pages were not checked');
    for (const m of ['man8/vodupd.8', 'man1/vodup.1', 'man5/vodupd.conf.5']) {
      const r = run('groff', ['-man', '-ww', '-z', staged(`${prefix}/share/man/${m}`)]);
      assert.equal(r.status, 0, r.err);
      assert.equal(r.err, '', `${m}: ${r.err}`);
    }
  });

  it('systemd-analyze verify accepts the unit, and rates its exposure low', t => {
    if (!has('systemd-analyze')) {
      return t.skip('systemd-analyze is MISSING (apt-get install systemd): the unit was NOT verified');
    }
    // The unit names its binary at the real prefix; verify checks that the binary exists, so
    // the copy verified here points ExecStart at the staged binary, and man: at the staged
    // man pages (Documentation= is checked through MANPATH). Nothing else is changed.
    const dir = makeTmpDir('unit-');
    const copy = path.join(dir, 'vodupd.service');
    fs.writeFileSync(copy, fs.readFileSync(unitPath, 'utf8').replace(/^ExecStart=(\S+)/m, (_, b) => `ExecStart=${staged(b)}`));
    const env = { ...process.env, MANPATH: staged(`${prefix}/share/man`), SYSTEMD_LOG_COLOR: '0' };
    const v = run('systemd-analyze', ['verify', copy], { env });
    assert.equal(v.status, 0, v.err);
    assert.equal(v.err.trim(), '', `systemd-analyze verify warned:\n${v.err}`);
    // and a broken copy is refused, so the check above can fail
    const broken = path.join(dir, 'broken.service');
    fs.writeFileSync(broken, fs.readFileSync(copy, 'utf8').replace(/^ExecStart=\S+/m, 'ExecStart=/nonexistent/vodupd'));
    assert.notEqual(run('systemd-analyze', ['verify', broken], { env }).status, 0);
    const s = run('systemd-analyze', ['security', '--offline=yes', copy], { env });
    const level = /Overall exposure level for vodupd\.service: ([\d.]+)/.exec(s.out + s.err);
    assert.ok(level, s.out + s.err);
    assert.ok(Number(level[1]) < 3, `exposure ${level[1]}:\n${s.out}`);
  });

  it('a second install keeps an edited configuration; uninstall removes the rest', () => {
    fs.appendFileSync(confPath, '# edited by the operator\n');
    const r = install();
    assert.equal(r.status, 0, r.err);
    assert.match(fs.readFileSync(confPath, 'utf8'), /edited by the operator/);
    const u = run('cmake', ['--build', build, '--target', 'uninstall'], { env: { ...process.env, DESTDIR: destdir } });
    assert.equal(u.status, 0, u.err);
    assert.ok(!fs.existsSync(unitPath), 'unit left behind');
    assert.ok(!fs.existsSync(staged(`${prefix}/bin/vodupd`)), 'vodupd left behind');
    assert.ok(!fs.existsSync(staged(`${prefix}/share/man/man8/vodupd.8`)), 'man page left behind');
    assert.ok(fs.existsSync(confPath), 'the configuration was removed');
  });
});
