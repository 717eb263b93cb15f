// contrib/vodup.bash completes vodup's commands, subcommands, each command's options (read
// from its --help, so it cannot fall behind) and --status values, in a real bash.
//
// Environment (CTest): VODUP_BUILD_DIR.

import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import path from 'node:path';
import { cliPath, shq } from './cli-lib.mjs';

/** The completions bash offers for the words (the last one being completed). */
function complete(...words) {
  const script = `source ${shq(path.resolve('contrib/vodup.bash'))}
COMP_WORDS=(${[cliPath(), ...words].map(shq).join(' ')}); COMP_CWORD=${words.length}; COMPREPLY=(); _vodup
printf '%s\\n' "\${COMPREPLY[@]}"`;
  const r = spawnSync('bash', ['--norc', '-c', script], { encoding: 'utf8', timeout: 30000 });
  assert.equal(r.status, 0, r.stderr);
  return r.stdout.split('\n').filter(Boolean);
}

describe('bash completion', () => {
  it('completes commands, subcommands, options and statuses', () => {
    assert.deepEqual(complete(''), ['upload', 'image', 'video', 'sts', 's3', 'help']);
    assert.deepEqual(complete('s3', ''), ['cp']);
    assert.deepEqual(complete('video', ''), ['info', 'list', 'delete']);
    assert.deepEqual(complete('image', ''), ['upload', 'url']);
    assert.deepEqual(complete('upload', '--li'), ['--limit-rate']);
    assert.ok(complete('upload', '--').includes('--access-key-secret-file'));
    assert.deepEqual(complete('image', 'upload', '--rec'), ['--record-dir', '--recursive']);
    assert.deepEqual(complete('video', 'list', '--status', 'Upload'), ['Uploading', 'UploadFail', 'UploadSucc']);
    assert.deepEqual(complete('--endpoint', 'http://x', 'video', 'l'), ['list']);
    assert.deepEqual(complete('sts', 'assume-role', '--du'), ['--duration']);
  });
});
