// Authorization across credentials (issue 8's review): per-media resources in policies, the
// AssumeRole session policy, revocation of temporary credentials when their role or user is
// deleted (also by `vodupd` admin commands run while the server serves), and StorageLocation
// limited to the buckets vodupd created for VOD. Peers: @alicloud/pop-core and ali-oss.
//
// Environment (CTest): VODUPD, VODUP_TEST_TMP, VODUP_SANITIZE.

import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { startVodupd, withLogs, SLOW, randomBuf, randomHex } from '../compat/lib/vodupd.mjs';
import { stopServer, vodClient, stsClient, uploadClient, rootOss, cli } from '../compat/lib/vod.mjs';

const T = { timeout: 60000 * SLOW };

const decodeUpload = resp => {
  const j = s => JSON.parse(Buffer.from(s, 'base64').toString('utf8'));
  return { addr: j(resp.UploadAddress), auth: j(resp.UploadAuth) };
};

/** Asserts that a pop-core call rejects with this HTTP status and error Code. */
async function rpcRejects(promise, status, code) {
  let caught;
  await assert.rejects(promise, err => { caught = err; return true; }, `expected ${status} ${code}, the call succeeded`);
  const got = caught.entry?.response?.statusCode;
  assert.equal(caught.code, code, `expected ${status} ${code}, got ${got} ${caught.code}: ${caught.message}`);
  assert.equal(got, status, `expected ${status} ${code}, got ${got} ${caught.code}`);
  return caught.data;
}

async function ossRejects(promise, status, code) {
  let caught;
  await assert.rejects(promise, err => { caught = err; return true; }, `expected ${status} ${code}, the request succeeded`);
  assert.equal(caught.code, code, `expected ${status} ${code}, got ${caught.status} ${caught.code}: ${caught.message}`);
  assert.equal(caught.status, status);
}

const post = { method: 'POST' };
const policyDoc = statements => JSON.stringify({ Version: '1', Statement: statements });

let srv;
let assumer;        // RAM user with AliyunSTSAssumeRoleAccess
let acct;

/** AssumeRole as `user` (default: assumer) on role `name`, optionally with a session policy. */
async function assume(name, { user = assumer, session = `s-${randomHex(4)}`, policy } = {}) {
  const params = { RoleArn: `acs:ram::${acct}:role/${name}`, RoleSessionName: session };
  if (policy) params.Policy = policy;
  const r = await stsClient(srv, user).request('AssumeRole', params, post);
  return r.Credentials;
}
const asSession = c => vodClient(srv, c, c.SecurityToken);

async function rootVideo(title = 'v') {
  const r = await vodClient(srv).request('CreateUploadVideo', { Title: title, FileName: `${title}.mp4` }, post);
  return r.VideoId;
}

before(withLogs(async () => {
  srv = await startVodupd();
  acct = srv.creds.AccountId;
  assumer = cli(srv.dataDir, 'user', 'create', 'authz-assumer', '--policy', 'AliyunSTSAssumeRoleAccess');
  cli(srv.dataDir, 'role', 'create', 'full', '--policy', 'AliyunVODFullAccess');
}));

after(async () => {
  if (srv) await stopServer(srv);
});

describe('authorization', { concurrency: true }, () => {
  it('per-media resources: a policy naming one video allows that video only (Get, Refresh, Delete)', T, withLogs(async () => {
    const mine = await rootVideo('mine');
    const other = await rootVideo('other');
    const role = `one-video-${randomHex(3)}`;
    cli(srv.dataDir, 'role', 'create', role, '--policy', policyDoc([{
      Effect: 'Allow', Action: ['vod:GetVideoInfo', 'vod:RefreshUploadVideo', 'vod:DeleteVideo'],
      Resource: `acs:vod:*:*:video/${mine}`,
    }]));
    const vod = asSession(await assume(role));
    assert.equal((await vod.request('GetVideoInfo', { VideoId: mine }, post)).Video.VideoId, mine);
    assert.equal((await vod.request('RefreshUploadVideo', { VideoId: mine }, post)).VideoId, mine);
    await rpcRejects(vod.request('GetVideoInfo', { VideoId: other }, post), 403, 'Forbidden.RAM');
    await rpcRejects(vod.request('RefreshUploadVideo', { VideoId: other }, post), 403, 'Forbidden.RAM');
    // Existence is not revealed to a caller without the right: an unknown id is refused the same way.
    await rpcRejects(vod.request('GetVideoInfo', { VideoId: 'f'.repeat(32) }, post), 403, 'Forbidden.RAM');
    await rpcRejects(vod.request('DeleteVideo', { VideoIds: other }, post), 403, 'Forbidden.RAM');
    await rpcRejects(vod.request('GetVideoList', {}, post), 403, 'Forbidden.RAM');
    await rpcRejects(vod.request('CreateUploadVideo', { Title: 'x', FileName: 'x.mp4' }, post), 403, 'Forbidden.RAM');
    // Both ids at once: the allowed one is deleted, the other listed as forbidden and kept.
    const d = await vod.request('DeleteVideo', { VideoIds: `${other},${mine}` }, post);
    assert.deepEqual(d.ForbiddenVideoIds, [other]);
    assert.deepEqual(d.NonExistVideoIds, []);
    await rpcRejects(vodClient(srv).request('GetVideoInfo', { VideoId: mine }, post), 404, 'InvalidVideo.NotFound');
    assert.equal((await vodClient(srv).request('GetVideoInfo', { VideoId: other }, post)).Video.VideoId, other);
  }));

  it('per-media resources for images; account-level actions need the account resource', T, withLogs(async () => {
    const img = await vodClient(srv).request('CreateUploadImage', { ImageType: 'default', ImageExt: 'png' }, post);
    const img2 = await vodClient(srv).request('CreateUploadImage', { ImageType: 'default', ImageExt: 'png' }, post);
    const role = `img-${randomHex(3)}`;
    cli(srv.dataDir, 'role', 'create', role, '--policy', policyDoc([
      { Effect: 'Allow', Action: 'vod:GetImageInfo', Resource: `acs:vod:*:${acct}:image/${img.ImageId}` },
      { Effect: 'Allow', Action: 'vod:GetVideoList', Resource: `acs:vod:*:${acct}:*` },
    ]));
    const vod = asSession(await assume(role));
    assert.equal((await vod.request('GetImageInfo', { ImageId: img.ImageId }, post)).ImageInfo.ImageId, img.ImageId);
    await rpcRejects(vod.request('GetImageInfo', { ImageId: img2.ImageId }, post), 403, 'Forbidden.RAM');
    assert.equal(typeof (await vod.request('GetVideoList', {}, post)).Total, 'number');
  }));

  it('a session policy narrows the role: only what both allow', T, withLogs(async () => {
    const v = await rootVideo('sp');
    const c = await assume('full', {
      policy: policyDoc([{ Effect: 'Allow', Action: ['vod:CreateUploadVideo', 'vod:CreateUploadImage'], Resource: '*' }]),
    });
    const vod = asSession(c);
    const cr = await vod.request('CreateUploadVideo', { Title: 'ok', FileName: 'ok.mp4' }, post);
    assert.match(cr.VideoId, /^[0-9a-f]{32}$/);
    // Upload with the UploadAuth works.
    const up = decodeUpload(cr);
    await uploadClient(up).put(up.addr.FileName, randomBuf(1000));
    for (const [action, params] of [
      ['RefreshUploadVideo', { VideoId: v }], ['GetVideoInfo', { VideoId: v }], ['DeleteVideo', { VideoIds: v }],
      ['GetVideoList', {}], ['GetMessageCallback', {}], ['SetMessageCallback', { CallbackURL: 'http://127.0.0.1:9/x' }],
      // even its own video: the session policy does not allow refreshing
      ['RefreshUploadVideo', { VideoId: cr.VideoId }],
    ]) await rpcRejects(vod.request(action, params, post), 403, 'Forbidden.RAM');
    // The session policy cannot widen the role: a role without GetVideoList stays without it.
    const narrow = `narrow-${randomHex(3)}`;
    cli(srv.dataDir, 'role', 'create', narrow, '--policy', policyDoc([{ Effect: 'Allow', Action: 'vod:CreateUploadVideo', Resource: '*' }]));
    const wide = asSession(await assume(narrow, { policy: policyDoc([{ Effect: 'Allow', Action: 'vod:*', Resource: '*' }]) }));
    await rpcRejects(wide.request('GetVideoList', {}, post), 403, 'Forbidden.RAM');
    // A bad session policy is refused with the STS grammar code.
    await rpcRejects(stsClient(srv, assumer).request('AssumeRole', {
      RoleArn: `acs:ram::${acct}:role/full`, RoleSessionName: 'bad', Policy: '{"Version":"1","Statement":[{"Effect":"Allow","Effect":"Deny","Action":"*","Resource":"*"}]}',
    }, post), 400, 'InvalidParameter.PolicyGrammar');
  }));

  it('deleting a role revokes its sessions and their upload credentials at once; a new role of that name starts fresh', T, withLogs(async () => {
    const role = `revoke-role-${randomHex(3)}`;
    cli(srv.dataDir, 'role', 'create', role, '--policy', 'AliyunVODFullAccess');
    const c = await assume(role);
    const vod = asSession(c);
    const cr = await vod.request('CreateUploadVideo', { Title: 'r', FileName: 'r.mp4' }, post);
    const up = decodeUpload(cr);
    await vod.request('GetVideoInfo', { VideoId: cr.VideoId }, post);
    cli(srv.dataDir, 'role', 'delete', role); // another process, while vodupd serves
    await rpcRejects(vod.request('GetVideoInfo', { VideoId: cr.VideoId }, post), 404, 'InvalidAccessKeyId.NotFound');
    await ossRejects(uploadClient(up).put(up.addr.FileName, randomBuf(100)), 403, 'InvalidAccessKeyId');
    // The same name again: the old session stays revoked, a new one works.
    cli(srv.dataDir, 'role', 'create', role, '--policy', 'AliyunVODFullAccess');
    await rpcRejects(vod.request('GetVideoInfo', { VideoId: cr.VideoId }, post), 404, 'InvalidAccessKeyId.NotFound');
    const fresh = asSession(await assume(role));
    assert.equal((await fresh.request('GetVideoInfo', { VideoId: cr.VideoId }, post)).Video.VideoId, cr.VideoId);
  }));

  it('deleting a RAM user revokes the role sessions it assumed and the upload credentials it was given', T, withLogs(async () => {
    const name = `revoke-user-${randomHex(3)}`;
    const u = cli(srv.dataDir, 'user', 'create', name, '--policy', 'AliyunSTSAssumeRoleAccess', '--policy', 'AliyunVODFullAccess');
    const other = await assume('full'); // another user's session: unaffected
    const c = await assume('full', { user: u });
    const direct = await vodClient(srv, u).request('CreateUploadVideo', { Title: 'u', FileName: 'u.mp4' }, post);
    const up = decodeUpload(direct);
    cli(srv.dataDir, 'user', 'delete', name);
    await rpcRejects(asSession(c).request('GetVideoList', {}, post), 404, 'InvalidAccessKeyId.NotFound');
    await rpcRejects(vodClient(srv, u).request('GetVideoList', {}, post), 404, 'InvalidAccessKeyId.NotFound');
    await ossRejects(uploadClient(up).put(up.addr.FileName, randomBuf(100)), 403, 'InvalidAccessKeyId');
    assert.equal(typeof (await asSession(other).request('GetVideoList', {}, post)).Total, 'number');
  }));

  it('StorageLocation must be a bucket vodupd created for VOD, not any bucket of the account', T, withLogs(async () => {
    const vod = vodClient(srv);
    const first = decodeUpload(await vod.request('CreateUploadVideo', { Title: 's', FileName: 's.mp4' }, post));
    const vodBucket = first.addr.Bucket;
    const site = `site-${randomHex(4)}`;
    await rootOss(srv, site).putBucket(site);
    await rpcRejects(vod.request('CreateUploadVideo', { Title: 's', FileName: 's.mp4', StorageLocation: site }, post),
      404, 'InvalidStorage.NotFound');
    await rpcRejects(vod.request('CreateUploadImage', { ImageType: 'default', StorageLocation: `${site}.127.0.0.1` }, post),
      404, 'InvalidStorage.NotFound');
    const ok = decodeUpload(await vod.request('CreateUploadVideo', { Title: 's', FileName: 's.mp4', StorageLocation: vodBucket }, post));
    assert.equal(ok.addr.Bucket, vodBucket);
  }));
});
