// RPC requests signed without a Timestamp, as the official web SDK (1.5.x, STS mode) and
// the iOS SDK send their CreateUploadVideo / RefreshUploadVideo / CreateUploadImage calls:
// accepted when the signature and the SignatureNonce are (the nonce once only), and only
// with short-lived temporary credentials; a Timestamp that is present is still checked.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import crypto from 'node:crypto';
import http from 'node:http';
import { cleanupTmpDirs, startVodupd, withLogs, SLOW } from '../compat/lib/vodupd.mjs';
import { cli, stsClient } from '../compat/lib/vod.mjs';

const T = { timeout: 60000 * SLOW };

// pop-core's signature (RPC, HMAC-SHA1, SignatureVersion 1.0), built by hand so that the
// parameter set (here: without Timestamp) is ours to choose.
const enc = s => encodeURIComponent(s).replace(/[!'()*]/g, c => '%' + c.charCodeAt(0).toString(16).toUpperCase());
function sign(method, params, secret) {
  const canon = Object.keys(params).sort().map(k => `${enc(k)}=${enc(params[k])}`).join('&');
  const sts = `${method}&${enc('/')}&${enc(canon)}`;
  return crypto.createHmac('sha1', secret + '&').update(sts).digest('base64');
}

function rpc(srv, { _secret, ...params }, { method = 'GET' } = {}) {
  const all = { ...params, Signature: sign(method, params, _secret) };
  const qs = Object.entries(all).map(([k, v]) => `${enc(k)}=${enc(v)}`).join('&');
  return new Promise((resolve, reject) => {
    const req = http.request({
      host: '127.0.0.1', port: srv.port, method,
      path: method === 'GET' ? `/?${qs}` : '/',
      headers: method === 'POST' ? { 'content-type': 'application/x-www-form-urlencoded' } : {},
      agent: false,
    }, res => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', d => { body += d; });
      res.on('end', () => {
        let json;
        try { json = JSON.parse(body); } catch { json = undefined; }
        resolve({ status: res.statusCode, body, json });
      });
    });
    req.on('error', reject);
    req.end(method === 'POST' ? qs : undefined);
  });
}

/** The parameters the web SDK 1.5.3 sends for CreateUploadVideo in STS mode (no Timestamp). */
function webSdkParams(cred, extra = {}) {
  return {
    AccessKeyId: cred.AccessKeyId,
    SecurityToken: cred.SecurityToken,
    Action: 'CreateUploadVideo',
    Title: 'from the web SDK',
    FileName: 'clip.mp4',
    Version: '2017-03-21',
    Format: 'JSON',
    SignatureMethod: 'HMAC-SHA1',
    SignatureVersion: '1.0',
    SignatureNonce: crypto.randomUUID(),
    RequestId: crypto.randomUUID(),
    ...extra,
  };
}

function signed(params, secret) {
  return { ...params, _secret: secret };
}

describe('RPC without Timestamp', () => {
  let srv, role, user;
  before(async () => {
    srv = await startVodupd();
    user = cli(srv.dataDir, 'user', 'create', 'web', '--policy', 'AliyunSTSAssumeRoleAccess');
    role = cli(srv.dataDir, 'role', 'create', 'web-uploader', '--policy', 'AliyunVODFullAccess');
  });
  after(async () => {
    await srv?.stop();
    cleanupTmpDirs();
  });

  async function sts(duration = 900) {
    const ar = await stsClient(srv, user).request('AssumeRole',
      { RoleArn: role.Arn, RoleSessionName: 'browser', DurationSeconds: duration }, { method: 'POST' });
    return ar.Credentials;
  }

  it('accepts a web-SDK-style CreateUploadVideo signed with STS credentials and no Timestamp', T, withLogs(async () => {
    const c = await sts();
    for (const method of ['GET', 'POST']) {
      const p = webSdkParams(c);
      const r = await rpc(srv, signed(p, c.AccessKeySecret), { method });
      assert.equal(r.status, 200, `${method}: ${r.body}`);
      assert.match(r.json.VideoId, /^[0-9a-f]{32}$/);
      const auth = JSON.parse(Buffer.from(r.json.UploadAuth, 'base64').toString());
      assert.ok(auth.AccessKeyId && auth.SecurityToken);
      // RefreshUploadVideo, the same way (the SDK's resume path).
      const rp = webSdkParams(c, { Action: 'RefreshUploadVideo', VideoId: r.json.VideoId });
      delete rp.Title;
      delete rp.FileName;
      const rr = await rpc(srv, signed(rp, c.AccessKeySecret), { method });
      assert.equal(rr.status, 200, rr.body);
      assert.equal(rr.json.VideoId, r.json.VideoId);
    }
  }));

  it('refuses the same request replayed (its nonce was used)', T, withLogs(async () => {
    const c = await sts();
    const p = webSdkParams(c);
    const first = await rpc(srv, signed(p, c.AccessKeySecret));
    assert.equal(first.status, 200, first.body);
    const again = await rpc(srv, signed(p, c.AccessKeySecret));
    assert.equal(again.status, 400, again.body);
    assert.equal(again.json.Code, 'SignatureNonceUsed');
  }));

  it('refuses a bad signature without Timestamp', T, withLogs(async () => {
    const c = await sts();
    const r = await rpc(srv, signed(webSdkParams(c), c.AccessKeySecret + 'x'));
    assert.equal(r.status, 400, r.body);
    assert.equal(r.json.Code, 'SignatureDoesNotMatch');
  }));

  it('still checks a Timestamp that is present: malformed, or outside the window', T, withLogs(async () => {
    const c = await sts();
    const bad = await rpc(srv, signed(webSdkParams(c, { Timestamp: 'yesterday' }), c.AccessKeySecret));
    assert.equal(bad.status, 400, bad.body);
    assert.equal(bad.json.Code, 'InvalidTimeStamp.Format');
    const old = new Date(Date.now() - 3600e3).toISOString().replace(/\.\d+Z$/, 'Z');
    const late = await rpc(srv, signed(webSdkParams(c, { Timestamp: old }), c.AccessKeySecret));
    assert.equal(late.status, 400, late.body);
    assert.equal(late.json.Code, 'InvalidTimeStamp.Expired');
    const empty = await rpc(srv, signed(webSdkParams(c, { Timestamp: '' }), c.AccessKeySecret));
    assert.equal(empty.status, 400, empty.body);
    assert.equal(empty.json.Code, 'InvalidTimeStamp.Format');
    const now = new Date().toISOString().replace(/\.\d+Z$/, 'Z');
    const ok = await rpc(srv, signed(webSdkParams(c, { Timestamp: now }), c.AccessKeySecret));
    assert.equal(ok.status, 200, ok.body);
  }));

  it('refuses a long-term AccessKey without Timestamp (nothing would bound a replay)', T, withLogs(async () => {
    const p = webSdkParams({ AccessKeyId: srv.creds.AccessKeyId });
    delete p.SecurityToken;
    const r = await rpc(srv, signed(p, srv.creds.AccessKeySecret));
    assert.equal(r.status, 400, r.body);
    assert.equal(r.json.Code, 'MissingParameter');
    assert.match(r.json.Message, /Timestamp/);
    const now = new Date().toISOString().replace(/\.\d+Z$/, 'Z');
    const ok = await rpc(srv, signed({ ...p, SignatureNonce: crypto.randomUUID(), Timestamp: now }, srv.creds.AccessKeySecret));
    assert.equal(ok.status, 200, ok.body);
  }));
});
