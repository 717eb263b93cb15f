// The vodup CLI's progress bars as a person sees them: the CLI runs in a pseudo-terminal of
// 80 and of 60 columns (util-linux `script`) uploading two throttled files, one with a CJK
// name and one whose name holds a newline and an escape sequence; a small VT100 screen
// replays what it drew. No line may be wider than the terminal (no auto-wrap), each file's
// row is on the final screen once, the total row once, no raw control character from a
// name reaches the terminal, and the speed shown never exceeds --limit-rate. Ctrl-C leaves
// the total row saying "paused", not "finished".
//
// Environment (CTest): VODUPD, VODUP_BUILD_DIR, VODUP_TEST_TMP, VODUP_SANITIZE.

import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { startVodupd, withLogs, makeTmpDir, SLOW, randomFile } from '../compat/lib/vodupd.mjs';
import { cliPath, cliEnv, runInPty, shq, Screen, displayWidth, jsonLines } from './cli-lib.mjs';

const KiB = 1024, MiB = 1024 * 1024;
const T = { timeout: 180000 * SLOW };
const CJK = '映画クリップ-東京タワーの夜景-2024年.mp4';
const EVIL = 'evil\nname\x1b[2J\x07.mp4';
const LIMIT = 768 * KiB;

/** Every "N.N KiB/s" (or MiB/s, B/s) the raw stream shows, in bytes per second. */
function speeds(raw) {
  const unit = { B: 1, KiB: KiB, MiB: MiB, GiB: 1024 * MiB };
  return [...raw.matchAll(/([0-9]+(?:\.[0-9]+)?) ?(B|KiB|MiB|GiB)\/s/g)].map(m => Number(m[1]) * unit[m[2]]);
}

describe('vodup CLI on a terminal', () => {
  let srv, dir, files;
  before(async () => {
    srv = await startVodupd();
    dir = makeTmpDir('cli-tty-');
    files = [await randomFile(dir, 1536 * KiB, CJK), await randomFile(dir, 1536 * KiB, EVIL)];
  });
  after(async () => { if (srv) await srv.stop(); });

  for (const cols of [80, 60]) {
    it(`draws progress bars that fit ${cols} columns, with CJK and control characters in names`, T, withLogs(async () => {
      const rec = path.join(dir, `rec-${cols}`);
      const out = path.join(dir, `out-${cols}.json`);
      const cmd = `exec ${shq(cliPath())} upload --json --limit-rate ${LIMIT} --part-size 256k --parallel 2 ` +
        `--record-dir ${shq(rec)} ${files.map(shq).join(' ')} > ${shq(out)}`;
      const rows = 24;
      const r = await runInPty(cmd, { cols, rows, env: cliEnv(srv, dir, { LC_ALL: 'C.UTF-8' }) });
      const raw = r.raw.toString('utf8');
      const screen = new Screen(cols, rows).feed(r.raw);
      const shown = `exit ${r.code}\nscreen:\n${screen.lines().join('\n')}\nraw:\n${JSON.stringify(raw).slice(0, 4000)}`;
      assert.equal(r.code, 0, shown);
      const results = jsonLines(fs.readFileSync(out, 'utf8'));
      assert.deepEqual(results.map(o => o.Status), ['UploadSucc', 'UploadSucc'], shown);
      assert.ok((raw.match(/\r/g) || []).length > 6, `the bars were drawn only a few times\n${shown}`);

      assert.deepEqual(screen.wraps, [], `lines wider than ${cols} columns wrapped\n${shown}`);
      assert.deepEqual(screen.unknown, [], `raw control characters reached the terminal\n${shown}`);
      assert.ok(!raw.includes('\x1b[2J') && !raw.includes('\x07'), `a file name's escape sequence reached the terminal\n${shown}`);
      assert.deepEqual(screen.scrolled, [], `the display scrolled: rows piled up\n${shown}`);
      const lines = screen.lines();
      for (const l of lines) assert.ok(displayWidth(l) <= cols, `row wider than ${cols}: ${l}`);
      const cjkRows = lines.filter(l => l.startsWith('映画クリップ'));
      assert.equal(cjkRows.length, 1, `the CJK file's row is not on the screen exactly once\n${shown}`);
      assert.match(cjkRows[0], /\.mp4|2024|done|100%/, shown);
      const evilRows = lines.filter(l => l.startsWith('evil\\nname'));
      assert.equal(evilRows.length, 1, `the escaped name's row is not on the screen exactly once\n${shown}`);
      const totals = lines.filter(l => l.startsWith('total'));
      assert.equal(totals.length, 1, shown);
      assert.match(totals[0], /finished/, shown);
      for (const l of [...cjkRows, ...evilRows]) assert.match(l, /100%|done/, shown);
      for (const s of speeds(raw)) assert.ok(s <= LIMIT * 1.02, `speed ${s} B/s shown, above --limit-rate ${LIMIT}\n${shown}`);
    }));
  }

  it('redraws cleanly when the terminal shrinks from 80 to 50 columns mid-upload (SIGWINCH)', T, withLogs(async () => {
    const rec = path.join(dir, 'rec-winch');
    // The CLI in the background of the pty's shell; once it draws, the shell narrows the
    // terminal (the kernel sends SIGWINCH) and writes CSI 8;24;50t, which tells the test's
    // screen to reflow its lines as most terminals do, at that point of the stream.
    const cmd = `${shq(cliPath())} upload --json --limit-rate ${LIMIT} --part-size 256k --record-dir ${shq(rec)} ` +
      `${files.map(shq).join(' ')} > /dev/null & pid=$!; ` +
      `for i in $(seq 100); do [ -n "$(ls -A ${shq(rec)} 2>/dev/null | grep -v '^\\.probe')" ] && break; sleep 0.1; done; ` +
      `sleep 1.5; stty cols 50; printf '\\033[8;24;50t'; wait $pid`;
    const r = await runInPty(cmd, { cols: 80, rows: 24, env: cliEnv(srv, dir, { LC_ALL: 'C.UTF-8' }) });
    const screen = new Screen(80, 24).feed(r.raw);
    const shown = `exit ${r.code}\nscreen:\n${screen.lines().join('\n')}\nraw:\n${JSON.stringify(r.raw.toString('utf8')).slice(-3000)}`;
    assert.equal(r.code, 0, shown);
    assert.equal(screen.cols, 50, `the resize marker was not seen\n${shown}`);
    assert.deepEqual(screen.wraps, [], shown);
    const lines = screen.lines();
    assert.equal(lines.filter(l => l.startsWith('映画')).length, 1, shown);
    assert.equal(lines.filter(l => l.startsWith('evil')).length, 1, shown);
    assert.equal(lines.filter(l => l.startsWith('total')).length, 1, shown);
    // Nothing but the rows (and the summary line) is left: no halves of reflowed rows.
    for (const l of lines) assert.match(l, /^(映画|evil|total|vodup upload:)/, `leftover row: ${l}\n${shown}`);
  }));

  it('says "paused" in the total row after Ctrl-C', T, withLogs(async () => {
    const rec = path.join(dir, 'rec-int');
    const big = await randomFile(dir, 8 * MiB, 'paused.mp4');
    // The CLI in the background of the pty's shell, so that the shell can send it SIGINT
    // once it has drawn (its stderr is still the terminal).
    const cmd = `${shq(cliPath())} upload --json --limit-rate 1M --part-size 256k --record-dir ${shq(rec)} ` +
      `${shq(big)} ${shq(files[0])} > /dev/null & pid=$!; ` +
      `for i in $(seq 100); do [ -n "$(ls -A ${shq(rec)} 2>/dev/null | grep -v '^\\.probe')" ] && break; sleep 0.1; done; ` +
      `sleep 1; kill -INT $pid; wait $pid`;
    const r = await runInPty(cmd, { cols: 80, rows: 24, env: cliEnv(srv, dir, { LC_ALL: 'C.UTF-8' }) });
    const screen = new Screen(80, 24).feed(r.raw);
    const shown = `exit ${r.code}\nscreen:\n${screen.lines().join('\n')}`;
    assert.equal(r.code, 130, shown);
    const totals = screen.lines().filter(l => l.startsWith('total'));
    assert.equal(totals.length, 1, shown);
    assert.match(totals[0], /paused/, shown);
    assert.doesNotMatch(totals[0], /finished/, shown);
  }));
});
