// Headless Chromium for the web SDK tests: Debian's /usr/bin/chromium driven by npm's
// playwright-core, started and stopped by the test, on a fresh profile, loopback only.
// Also a small "application server" for the pages: it serves a page and answers
// /api/create, /api/refresh (VOD CreateUploadVideo / RefreshUploadVideo with the account's
// key) and /api/sts (AssumeRole), as an application's own server would.
import fs from 'node:fs';
import http from 'node:http';
import path from 'node:path';
import { chromium } from 'playwright-core';
import { makeTmpDir, SLOW } from '../../compat/lib/vodupd.mjs';
import { cli, stsClient, vodClient } from '../../compat/lib/vod.mjs';

export const CHROMIUM = process.env.VODUP_CHROMIUM || '/usr/bin/chromium';
export const haveChromium = () => fs.existsSync(CHROMIUM);

/** Launches Chromium; hostRules maps extra names (e.g. 'app.test') to 127.0.0.1. */
export async function launch({ hostRules = [] } = {}) {
  const profile = makeTmpDir('chromium-');
  const rules = [...hostRules.map(h => `MAP ${h} 127.0.0.1`), 'MAP * ~NOTFOUND', 'EXCLUDE 127.0.0.1'].join(', ');
  const context = await chromium.launchPersistentContext(profile, {
    executablePath: CHROMIUM,
    headless: true,
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
           '--disable-background-networking', '--disable-component-update', '--disable-sync',
           '--disable-dev-shm-usage', `--host-resolver-rules=${rules}`],
    timeout: 60000 * SLOW,
  });
  return context;
}

/** Uploads through the page's network slower (bytes/s), so credentials expire mid-upload. */
export async function throttle(context, page, uploadBytesPerSec) {
  const cdp = await context.newCDPSession(page);
  await cdp.send('Network.enable');
  await cdp.send('Network.emulateNetworkConditions', {
    offline: false, latency: 0, downloadThroughput: -1, uploadThroughput: uploadBytesPerSec,
  });
  return cdp;
}

function readJson(req) {
  return new Promise((resolve, reject) => {
    let b = '';
    req.setEncoding('utf8');
    req.on('data', d => { b += d; });
    req.on('end', () => { try { resolve(b ? JSON.parse(b) : {}); } catch (e) { reject(e); } });
    req.on('error', reject);
  });
}

/**
 * Starts the application server for srv (a started vodupd). pages: { '/path': html }.
 * Returns { port, origin, close, calls } where calls counts the /api/ requests.
 */
export async function startAppServer(srv, { pages = {}, host = '127.0.0.1', stsDuration = 900 } = {}) {
  const user = cli(srv.dataDir, 'user', 'create', `web-${Date.now()}`, '--policy', 'AliyunSTSAssumeRoleAccess');
  const role = cli(srv.dataDir, 'role', 'create', `uploader-${Date.now()}`, '--policy', 'AliyunVODFullAccess');
  const vod = vodClient(srv);
  const sts = stsClient(srv, user);
  const calls = { create: 0, refresh: 0, sts: 0 };
  const server = http.createServer(async (req, res) => {
    const send = (status, body, type = 'application/json') => {
      res.writeHead(status, { 'content-type': type, 'cache-control': 'no-store' });
      res.end(typeof body === 'string' ? body : JSON.stringify(body));
    };
    try {
      const url = new URL(req.url, 'http://x');
      if (url.pathname === '/favicon.ico') return send(204, '');
      if (req.method === 'GET' && pages[url.pathname] !== undefined) return send(200, pages[url.pathname], 'text/html; charset=utf-8');
      if (req.method === 'POST' && url.pathname === '/api/create') {
        calls.create++;
        const b = await readJson(req);
        return send(200, await vod.request('CreateUploadVideo', { Title: b.Title, FileName: b.FileName }, { method: 'POST' }));
      }
      if (req.method === 'POST' && url.pathname === '/api/refresh') {
        calls.refresh++;
        const b = await readJson(req);
        return send(200, await vod.request('RefreshUploadVideo', { VideoId: b.VideoId }, { method: 'POST' }));
      }
      if (req.method === 'POST' && url.pathname === '/api/sts') {
        calls.sts++;
        const r = await sts.request('AssumeRole', { RoleArn: role.Arn, RoleSessionName: 'page', DurationSeconds: stsDuration }, { method: 'POST' });
        return send(200, r.Credentials);
      }
      send(404, { Code: 'NotFound' });
    } catch (e) {
      send(502, { Code: e.code || 'Error', Message: e.message });
    }
  });
  await new Promise(resolve => server.listen(0, host, resolve));
  const port = server.address().port;
  return {
    port,
    origin: `http://127.0.0.1:${port}`,
    calls,
    close: () => new Promise(resolve => { server.closeAllConnections?.(); server.close(() => resolve()); }),
  };
}

/** Fills a page template's {{NAME}} placeholders. */
export function page(file, vars) {
  let html = fs.readFileSync(path.resolve('tests/browser/pages', file), 'utf8');
  for (const [k, v] of Object.entries(vars)) html = html.split(`{{${k}}}`).join(v);
  return html;
}
