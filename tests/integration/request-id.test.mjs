// One id per request: the RequestId an RPC answer carries in its body is the one in its
// x-acs-request-id and x-oss-request-id headers and in vodupd's log line, so that an id
// a user reports finds its line. OSS answers alike (error XML, header, log).
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import crypto from 'node:crypto';
import http from 'node:http';
import { cleanupTmpDirs, startVodupd, waitFor, withLogs, SLOW } from '../compat/lib/vodupd.mjs';

const T = { timeout: 60000 * SLOW };
const UUID_UP = /^[0-9A-F]{8}-[0-9A-F]{4}-[0-9A-F]{4}-[0-9A-F]{4}-[0-9A-F]{12}$/;

// pop-core's signature (RPC, HMAC-SHA1 1.0), by hand: the answer's headers are wanted too.
const enc = s => encodeURIComponent(s).replace(/[!'()*]/g, c => '%' + c.charCodeAt(0).toString(16).toUpperCase());
function rpc(srv, params) {
  const p = {
    Format: 'JSON', Version: '2017-03-21', AccessKeyId: srv.creds.AccessKeyId, SignatureMethod: 'HMAC-SHA1',
    SignatureVersion: '1.0', SignatureNonce: crypto.randomUUID(),
    Timestamp: new Date().toISOString().replace(/\.\d+Z$/, 'Z'), ...params,
  };
  const canon = Object.keys(p).sort().map(k => `${enc(k)}=${enc(p[k])}`).join('&');
  p.Signature = crypto.createHmac('sha1', srv.creds.AccessKeySecret + '&')
    .update(`GET&${enc('/')}&${enc(canon)}`).digest('base64');
  const qs = Object.entries(p).map(([k, v]) => `${enc(k)}=${enc(v)}`).join('&');
  return get(srv, `/?${qs}`);
}

function get(srv, path) {
  return new Promise((resolve, reject) => {
    http.get({ host: '127.0.0.1', port: srv.port, path, agent: false }, res => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', d => { body += d; });
      res.on('end', () => resolve({ status: res.statusCode, headers: res.headers, body }));
    }).on('error', reject);
  });
}

// The request's log line: the one that names id (a line ends in a newline once written).
async function logLine(srv, id) {
  const find = () => srv.stderr().split('\n').slice(0, -1).find(l => l.includes(id));
  await waitFor(() => find(), { what: `the log line of ${id}` });
  return find();
}

describe('one request id', () => {
  let srv;
  before(async () => { srv = await startVodupd(); });
  after(async () => {
    await srv?.stop();
    cleanupTmpDirs();
  });

  it('an RPC answer: RequestId, x-acs-request-id, x-oss-request-id and the log line agree', T, withLogs(async () => {
    const ok = await rpc(srv, { Action: 'GetVideoList' });
    assert.equal(ok.status, 200, ok.body);
    const id = JSON.parse(ok.body).RequestId;
    assert.match(id, UUID_UP);
    assert.equal(ok.headers['x-acs-request-id'], id);
    assert.equal(ok.headers['x-oss-request-id'], id);
    const line = await logLine(srv, id);
    assert.match(line, / 200 GetVideoList .* rid=([0-9A-F-]{36})( |$)/);
    assert.equal(line.match(/ rid=(\S+)/)[1], id);
  }));

  it('an RPC error, the action\'s and the front\'s, carries the same id as its log line', T, withLogs(async () => {
    const bad = await rpc(srv, { Action: 'NoSuchAction' });
    assert.equal(bad.status, 404, bad.body);
    const id = JSON.parse(bad.body).RequestId;
    assert.equal(JSON.parse(bad.body).Code, 'InvalidAction.NotFound');
    assert.equal(bad.headers['x-acs-request-id'], id);
    assert.match(await logLine(srv, id), / 404 .* err=InvalidAction\.NotFound/);
  }));

  it('an OSS error: the XML RequestId is the header\'s and the log line\'s id', T, withLogs(async () => {
    const r = await get(srv, '/no-such-bucket/key');
    assert.equal(r.status, 403, r.body); // unsigned: anonymous access is refused
    const id = r.body.match(/<RequestId>([^<]+)<\/RequestId>/)[1];
    assert.match(id, /^[0-9A-F]{24}$/);
    assert.equal(r.headers['x-oss-request-id'], id);
    assert.match(await logLine(srv, id), new RegExp(` id=${id}( |$)`));
  }));
});
