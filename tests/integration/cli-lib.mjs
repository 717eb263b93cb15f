// Helpers of the vodup CLI tests (cli-*.test.mjs): where the CLI is, its environment, running
// it (also inside a pseudo-terminal of a chosen size, through util-linux `script`), and a small
// VT100 screen that replays what it drew.
//
// Environment (CTest): VODUPD, VODUP_BUILD_DIR (the CLI is $VODUP_BUILD_DIR/vodup), VODUP_TEST_TMP.

import { spawn, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import assert from 'node:assert/strict';
import { SLOW } from '../compat/lib/vodupd.mjs';

export function cliPath() {
  const dir = process.env.VODUP_BUILD_DIR || path.resolve('build');
  const p = path.join(dir, 'vodup');
  if (!fs.existsSync(p)) throw new Error(`vodup CLI not found at ${p}; set VODUP_BUILD_DIR`);
  return p;
}

/** The CLI's environment: an empty HOME (no config file, records under it) and the keys. */
export function cliEnv(srv, home, extra = {}) {
  const env = { ...process.env, HOME: home, XDG_CONFIG_HOME: '', XDG_CACHE_HOME: '' };
  for (const k of Object.keys(env)) if (k.startsWith('VODUP_') && k !== 'VODUP_SANITIZE') delete env[k];
  if (srv) {
    env.VODUP_ENDPOINT = srv.endpoint;
    env.VODUP_ACCESS_KEY_ID = srv.creds.AccessKeyId;
    env.VODUP_ACCESS_KEY_SECRET = srv.creds.AccessKeySecret;
  }
  return { ...env, ...extra };
}

export function runCli(args, env, { timeout = 120000 * SLOW, input } = {}) {
  const r = spawnSync(cliPath(), args, { env, encoding: 'utf8', timeout, input });
  if (r.error) throw r.error;
  return { code: r.status, signal: r.signal, stdout: r.stdout, stderr: r.stderr };
}

/** As runCli, without blocking the event loop (for tests that serve the CLI themselves). */
export function runCliAsync(args, env, { timeout = 120000 * SLOW } = {}) {
  return new Promise((resolve, reject) => {
    const child = spawn(cliPath(), args, { env, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '', stderr = '';
    child.stdout.setEncoding('utf8');
    child.stderr.setEncoding('utf8');
    child.stdout.on('data', d => { stdout += d; });
    child.stderr.on('data', d => { stderr += d; });
    const timer = setTimeout(() => child.kill('SIGKILL'), timeout);
    child.on('error', reject);
    child.on('close', (code, signal) => { clearTimeout(timer); resolve({ code, signal, stdout, stderr }); });
  });
}

export function show(r) {
  return `exit ${r.code} signal ${r.signal}\nstdout:\n${r.stdout}\nstderr:\n${r.stderr}`;
}

export function jsonLines(text) {
  return text.split('\n').filter(l => l.trim() !== '').map(l => {
    try { return JSON.parse(l); } catch { assert.fail(`not a JSON line: ${l}\nfull stdout:\n${text}`); }
  });
}

/** Single-quotes s for sh. */
export const shq = s => `'${String(s).replace(/'/g, `'\\''`)}'`;

/**
 * Runs the shell command `cmd` inside a pseudo-terminal of cols x rows (util-linux `script`),
 * and resolves with the raw bytes the terminal received (a Buffer) and the exit code.
 */
export function runInPty(cmd, { cols, rows = 24, env, timeout = 120000 * SLOW }) {
  const inner = `stty cols ${cols} rows ${rows}; ${cmd}`;
  return new Promise((resolve, reject) => {
    const child = spawn('script', ['-q', '-e', '-c', inner, '/dev/null'], { env, stdio: ['ignore', 'pipe', 'pipe'] });
    const chunks = [];
    let err = '';
    child.stdout.on('data', d => chunks.push(d));
    child.stderr.on('data', d => { err += d; });
    const timer = setTimeout(() => child.kill('SIGKILL'), timeout);
    child.on('error', reject);
    child.on('close', code => { clearTimeout(timer); resolve({ code, raw: Buffer.concat(chunks), stderr: err }); });
  });
}

/** Columns a code point takes on a terminal (East Asian wide and emoji: 2; combining: 0). */
export function charWidth(cp) {
  if (cp === 0) return 0;
  if ((cp >= 0x300 && cp <= 0x36f) || cp === 0x200b || (cp >= 0xfe00 && cp <= 0xfe0f)) return 0;
  if ((cp >= 0x1100 && cp <= 0x115f) || (cp >= 0x2e80 && cp <= 0x303e) || (cp >= 0x3041 && cp <= 0x33ff) ||
      (cp >= 0x3400 && cp <= 0x4dbf) || (cp >= 0x4e00 && cp <= 0x9fff) || (cp >= 0xa000 && cp <= 0xa4cf) ||
      (cp >= 0xac00 && cp <= 0xd7a3) || (cp >= 0xf900 && cp <= 0xfaff) || (cp >= 0xfe30 && cp <= 0xfe4f) ||
      (cp >= 0xff00 && cp <= 0xff60) || (cp >= 0xffe0 && cp <= 0xffe6) || (cp >= 0x1f300 && cp <= 0x1f64f) ||
      (cp >= 0x1f900 && cp <= 0x1f9ff) || (cp >= 0x20000 && cp <= 0x3fffd)) return 2;
  return 1;
}

/**
 * A VT100 screen of cols x rows with auto-wrap: enough of the control sequences for a
 * progress display (CR, LF, BS, CSI A/B/C/D/G/H/J/K/m, ?25h/l). Records every auto-wrap,
 * i.e. every time a program wrote past the last column, in `wraps`, and any control
 * character or escape sequence it does not know in `unknown`.
 */
export class Screen {
  constructor(cols, rows) {
    this.cols = cols; this.rows = rows;
    this.grid = Array.from({ length: rows }, () => Array(cols).fill(' '));
    this.r = 0; this.c = 0; this.wraps = []; this.unknown = []; this.scrolled = [];
    this.wrapped = Array(rows).fill(false); // row r continues on row r + 1 (auto-wrap)
  }

  /**
   * Resizes to cols columns the way reflowing terminals (VTE, kitty, tmux, iTerm2, ...) do:
   * every logical line (rows joined where they auto-wrapped) is wrapped again at the new
   * width, trailing blanks dropped, and the cursor keeps its place in its line.
   */
  resize(cols) {
    const lines = [];
    let cur = null, curLine = 0, curOff = 0;
    for (let r = 0; r < this.rows; r++) {
      if (!cur) { cur = []; lines.push(cur); }
      if (r === this.r) { curLine = lines.length - 1; curOff = cur.length + this.c; }
      cur.push(...this.grid[r]);
      if (!this.wrapped[r]) cur = null;
    }
    const rows = [], wrapped = [];
    let newR = 0, newC = 0;
    lines.forEach((cells, i) => {
      let end = cells.length;
      while (end > 0 && (cells[end - 1] === ' ')) end--;
      if (i === curLine && curOff > end) end = curOff;
      const start = rows.length;
      for (let k = 0; k < Math.max(end, 1); k += cols) {
        const part = cells.slice(k, Math.min(k + cols, end));
        while (part.length < cols) part.push(' ');
        rows.push(part);
        wrapped.push(k + cols < end);
      }
      if (i === curLine) { newR = start + Math.floor(curOff / cols); newC = curOff % cols; }
    });
    // Blank rows at the bottom go first; then the top scrolls away.
    while (rows.length > this.rows && rows.length - 1 > newR && rows[rows.length - 1].every(ch => ch === ' ')) {
      rows.pop(); wrapped.pop();
    }
    while (rows.length > this.rows) { this.scrolled.push(rows.shift().join('')); wrapped.shift(); newR--; }
    while (rows.length < this.rows) { rows.push(Array(cols).fill(' ')); wrapped.push(false); }
    this.grid = rows; this.wrapped = wrapped; this.cols = cols; this.r = Math.max(0, newR); this.c = newC;
  }

  lineFeed() {
    if (this.r === this.rows - 1) {
      this.scrolled.push(this.grid.shift().join(''));
      this.grid.push(Array(this.cols).fill(' '));
      this.wrapped.shift();
      this.wrapped.push(false);
    } else {
      this.r++;
    }
  }

  put(ch, w) {
    if (this.c + w > this.cols) {
      this.wraps.push(this.text(this.r));
      this.wrapped[this.r] = true;
      this.c = 0;
      this.lineFeed();
    }
    this.grid[this.r][this.c] = ch;
    if (w === 2) this.grid[this.r][this.c + 1] = '';
    this.c += w;
  }

  csi(params, final) {
    const ps = params.replace(/^\?/, '').split(';').map(x => (x === '' ? NaN : Number(x)));
    const n = Number.isNaN(ps[0]) ? 1 : Math.max(ps[0], 1);
    const row = this.grid[this.r];
    switch (final) {
      case 'A': this.r = Math.max(0, this.r - n); break;
      case 'B': this.r = Math.min(this.rows - 1, this.r + n); break;
      case 'C': this.c = Math.min(this.cols - 1, this.c + n); break;
      case 'D': this.c = Math.max(0, this.c - n); break;
      case 'G': this.c = Math.min(this.cols - 1, n - 1); break;
      case 'H': case 'f':
        this.r = Math.min(this.rows - 1, n - 1);
        this.c = Math.min(this.cols - 1, (Number.isNaN(ps[1]) ? 1 : ps[1]) - 1);
        break;
      case 'K': {
        const mode = Number.isNaN(ps[0]) ? 0 : ps[0];
        for (let k = 0; k < this.cols; k++) {
          if ((mode === 0 && k >= this.c) || (mode === 1 && k <= this.c) || mode === 2) row[k] = ' ';
        }
        if (mode !== 1) this.wrapped[this.r] = false;
        break;
      }
      case 'J': {
        const mode = Number.isNaN(ps[0]) ? 0 : ps[0];
        for (let r = 0; r < this.rows; r++) {
          for (let k = 0; k < this.cols; k++) {
            const after = r > this.r || (r === this.r && k >= this.c);
            if (mode === 2 || (mode === 0 && after) || (mode === 1 && !after)) this.grid[r][k] = ' ';
          }
          if (mode === 2 || (mode === 0 && r >= this.r)) this.wrapped[r] = false;
        }
        break;
      }
      case 'm': case 'h': case 'l': break;
      case 't': // CSI 8;rows;cols t: the size changed (the tests send it where they resize)
        if (ps[0] === 8 && !Number.isNaN(ps[2])) this.resize(ps[2]);
        else this.unknown.push(`CSI ${params}${final}`);
        break;
      default: this.unknown.push(`CSI ${params}${final}`);
    }
  }

  /** Feeds raw bytes (UTF-8). */
  feed(buf) {
    const s = buf.toString('utf8');
    for (let i = 0; i < s.length; i++) {
      const cp = s.codePointAt(i);
      if (cp > 0xffff) i++;
      if (cp === 0x1b) {
        const m = /^\x1b\[([0-9;?]*)([@-~])/.exec(s.slice(i, i + 32));
        if (m) { this.csi(m[1], m[2]); i += m[0].length - 1; } else this.unknown.push(JSON.stringify(s.slice(i, i + 8)));
      } else if (cp === 0x0d) {
        this.c = 0;
      } else if (cp === 0x0a) {
        this.lineFeed();
      } else if (cp === 0x08) {
        this.c = Math.max(0, this.c - 1);
      } else if (cp < 0x20 || cp === 0x7f || (cp >= 0x80 && cp < 0xa0)) {
        this.unknown.push(`control 0x${cp.toString(16)}`);
      } else {
        const w = charWidth(cp);
        if (w === 0) continue;
        this.put(String.fromCodePoint(cp), w);
      }
    }
    return this;
  }

  text(r) { return this.grid[r].join('').replace(/\s+$/, ''); }
  lines() { return this.grid.map((_, r) => this.text(r)).filter(l => l !== ''); }
}

/** Display width of a string as the Screen counts it. */
export function displayWidth(s) {
  let w = 0;
  for (const ch of s) w += charWidth(ch.codePointAt(0));
  return w;
}
