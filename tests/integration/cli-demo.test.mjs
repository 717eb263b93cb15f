// `make demo` installs only what the demo needs: the build's Debian packages, no node, no
// npm, no sanitizer toolchain (scripts/install-deps --demo); `make check` still gets all.

import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';

const run = (cmd, args) => {
  const r = spawnSync(cmd, args, { encoding: 'utf8', timeout: 60000 });
  assert.equal(r.status, 0, `${cmd} ${args.join(' ')}: ${r.stderr}`);
  return r.stdout;
};

describe('make demo dependencies', () => {
  it('installs the build only', () => {
    const recipe = run('make', ['-n', '--no-print-directory', 'demo']);
    assert.match(recipe, /install-deps --demo/, recipe);
    assert.doesNotMatch(recipe, /npm|make[^\n]* deps\b/, recipe);
    const demo = run('scripts/install-deps', ['--demo', '--list']).split(/\s+/);
    for (const p of ['build-essential', 'cmake', 'libmicrohttpd-dev', 'libcurl4-openssl-dev']) assert.ok(demo.includes(p), p);
    for (const p of ['nodejs', 'npm', 'clang', 'ci']) assert.ok(!demo.includes(p), `${p} installed for the demo`);
    const all = run('scripts/install-deps', ['--list']).split(/\s+/);
    for (const p of ['nodejs', 'npm', 'clang', 'ci']) assert.ok(all.includes(p), `${p} missing from the full install`);
  });
});
