// The vodup CLI's help agrees with docs/cli.md: every option a `vodup ... --help` lists is
// documented in that command's section of docs/cli.md (or, for the connection options, in
// its Configuration section), and every option a command's section documents is in its
// help; so are the --json fields and the --duration range. `vodup help CMD` is `vodup CMD
// --help`, `vodup image upload --help` is the image usage, and an unknown option is
// reported once.
//
// Environment (CTest): VODUP_BUILD_DIR, VODUP_TEST_TMP.

import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { makeTmpDir } from '../compat/lib/vodupd.mjs';
import { cliEnv, runCli, show } from './cli-lib.mjs';

const DOC = fs.readFileSync(path.resolve('docs/cli.md'), 'utf8');

/** docs/cli.md's `## ` sections by heading. */
function sections() {
  const out = new Map();
  const parts = DOC.split(/^## /m).slice(1);
  for (const p of parts) {
    const nl = p.indexOf('\n');
    out.set(p.slice(0, nl).trim(), p);
  }
  return out;
}

/** The section whose heading starts with `vodup WORDS` (as code). */
function section(words) {
  for (const [h, body] of sections()) {
    if (h.startsWith('`vodup ' + words.join(' ') + ' ') || h === '`vodup ' + words.join(' ') + '`') return body;
  }
  return null;
}

const options = text => new Set([...text.matchAll(/(?<![\w-])--[a-z][a-z0-9-]*/g)].map(m => m[0]));

// Each command's help, and where docs/cli.md documents it. `vodup image upload` takes the
// options of `vodup upload`, whose table the image section refers to.
const COMMANDS = [
  { args: ['upload'], doc: [['upload']] },
  { args: ['image', 'upload'], doc: [['image', 'upload'], ['upload']] },
  { args: ['image', 'url'], doc: [['image', 'url']] },
  { args: ['video', 'info'], doc: [['video', 'info']] },
  { args: ['video', 'list'], doc: [['video', 'list']] },
  { args: ['video', 'delete'], doc: [['video', 'delete']] },
  { args: ['sts', 'assume-role'], doc: [['sts', 'assume-role']] },
  { args: ['s3', 'cp'], doc: [['s3', 'cp']] },
];

describe('vodup help and docs/cli.md', () => {
  const env = cliEnv(null, makeTmpDir('cli-help-'));
  const config = sections().get('Configuration');
  const common = options(config);

  it('documents the connection options of `vodup --help` in Configuration', () => {
    const r = runCli(['--help'], env);
    assert.equal(r.code, 0, show(r));
    const listed = options(r.stdout.slice(r.stdout.indexOf('connection')));
    assert.ok(listed.has('--access-key-secret-file'), r.stdout);
    for (const o of listed) assert.ok(common.has(o), `${o} (vodup --help) is not in docs/cli.md's Configuration`);
    for (const o of common) {
      if (o === '--access-key-secret' || listed.has(o)) continue;
      assert.fail(`${o} (docs/cli.md Configuration) is not in vodup --help`);
    }
  });

  for (const { args, doc } of COMMANDS) {
    it(`vodup ${args.join(' ')} --help lists the options docs/cli.md documents for it`, () => {
      const r = runCli([...args, '--help'], env);
      assert.equal(r.code, 0, show(r));
      assert.ok(r.stdout.startsWith(`usage: vodup ${args.join(' ')}`), `wrong usage text:\n${r.stdout}`);
      const help = options(r.stdout);
      const docText = doc.map(d => {
        const s = section(d);
        assert.ok(s !== null, `docs/cli.md has no section for vodup ${d.join(' ')}`);
        return s;
      });
      const documented = options(docText.join('\n'));
      for (const o of help) {
        assert.ok(documented.has(o) || common.has(o) || o === '--help',
          `${o} (vodup ${args.join(' ')} --help) is not documented in its docs/cli.md section`);
      }
      // Options named in the command's own section (not links to other commands).
      for (const o of options(docText[0])) {
        assert.ok(help.has(o), `${o} (docs/cli.md, vodup ${args.join(' ')}) is not in its --help`);
      }
      // The --json fields.
      const fields = /\{("[A-Za-z]+"\??(?:,\s*"[A-Za-z]+"\??)*)/.exec(r.stdout.replace(/\n\s*/g, ''));
      if (fields && /--json/.test(r.stdout)) {
        for (const [, f] of fields[1].matchAll(/"([A-Za-z]+)"/g)) {
          assert.ok(docText.some(t => t.includes(`\`${f}\``) || t.includes(`"${f}"`)),
            `--json field ${f} (vodup ${args.join(' ')} --help) is not in docs/cli.md`);
        }
      }
      // ... and the other way: the fields docs/cli.md lists for the command are in its help.
      const docFields = /The fields are ((?:`[A-Za-z]+`[^`.]*)+)\./.exec(docText[0]);
      if (docFields) {
        for (const [, f] of docFields[1].matchAll(/`([A-Za-z]+)`/g)) {
          if (f === 'ImageId' || f === 'VideoId') continue; // one or the other, per command
          assert.ok(fields && fields[1].includes(`"${f}"`), `--json field ${f} (docs/cli.md) is not in vodup ${args.join(' ')} --help`);
        }
      }
      // Numeric ranges of options agree (e.g. --duration 900..43200, --parallel 1..32).
      for (const o of help) {
        const inHelp = new RegExp(`${o}\\b[^\\n]*?(\\d+)\\.\\.(\\d+)`).exec(r.stdout);
        const inDoc = new RegExp(`${o}\\b[^\\n]*?(\\d+)\\.\\.(\\d+)`).exec(docText.join('\n'));
        if (inHelp && inDoc) assert.deepEqual(inDoc.slice(1), inHelp.slice(1), `${o}: help and docs give other ranges`);
      }
      // `vodup help CMD` is the same text.
      const h = runCli(['help', ...args], env);
      assert.equal(h.code, 0, show(h));
      assert.equal(h.stdout, r.stdout, `vodup help ${args.join(' ')} differs from vodup ${args.join(' ')} --help`);
    });
  }

  it('reports an unknown option once, and a missing value as such', () => {
    for (const args of [['upload', '--bogus', 'f.mp4'], ['video', 'list', '--bogus'], ['sts', 'assume-role', '--bogus'],
      ['image', 'upload', '--bogus', 'x.png']]) {
      const r = runCli(args, env);
      assert.equal(r.code, 2, show(r));
      assert.equal(r.stderr.split('\n').filter(l => l.includes('--bogus')).length, 1, show(r));
    }
    const r = runCli(['upload', 'f.mp4', '--title'], env);
    assert.equal(r.code, 2, show(r));
    assert.match(r.stderr, /'--title' needs a value/, show(r));
  });
});
