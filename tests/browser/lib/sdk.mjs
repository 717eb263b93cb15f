// Loads web/vodup-upload.js into a fresh context, as a classic <script> would run it, and
// returns that context's VodupUpload. The SDK has no node code path: this gives it only
// the globals a browser has (crypto, URL, TextEncoder, timers).
import fs from 'node:fs';
import path from 'node:path';
import vm from 'node:vm';
import { webcrypto } from 'node:crypto';

export const SDK_FILE = path.resolve(import.meta.dirname ?? path.dirname(new URL(import.meta.url).pathname), '../../../web/vodup-upload.js');

export function loadSdk({ withCrypto = true } = {}) {
  const ctx = { console, URL, TextEncoder, TextDecoder, setTimeout, clearTimeout };
  if (withCrypto) ctx.crypto = webcrypto;
  ctx.globalThis = ctx;
  vm.createContext(ctx);
  vm.runInContext(fs.readFileSync(SDK_FILE, 'utf8'), ctx, { filename: SDK_FILE });
  return ctx;
}
