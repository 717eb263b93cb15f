// Key management beside a serving vodupd: `vodupd key create|list|disable|enable|delete` for
// the root account and RAM users (two keys each, as in RAM; a disabled or deleted key is
// refused by the very next request), `vodupd keys rotate` taken up without a restart, and
// `vodupd events retry|drop ID`.

import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { startVodupd, withLogs, SLOW, randomBuf, waitFor, vodupdPath } from '../compat/lib/vodupd.mjs';
import { stopServer, vodClient, uploadClient, cli } from '../compat/lib/vod.mjs';
import { startReceiver } from '../compat/lib/receiver.mjs';

const post = { method: 'POST' };
let srv;

/** `vodupd args... --data-dir` expected to fail: its status and stderr. */
function cliFails(...args) {
  const r = spawnSync(vodupdPath(), [...args, '--data-dir', srv.dataDir], { encoding: 'utf8', timeout: 60000 * SLOW });
  assert.notEqual(r.status, 0, `vodupd ${args.join(' ')} succeeded: ${r.stdout}`);
  return { status: r.status, err: r.stderr };
}

async function rpcRejects(promise, status, code) {
  let caught;
  await assert.rejects(promise, err => { caught = err; return true; }, `expected ${status} ${code}, the call succeeded`);
  assert.equal(caught.code, code, `expected ${code}, got ${caught.code}: ${caught.message}`);
  assert.equal(caught.entry?.response?.statusCode, status);
}

const creds = k => ({ AccessKeyId: k.AccessKeyId, AccessKeySecret: k.AccessKeySecret });
const works = k => vodClient(srv, creds(k)).request('GetVideoList', {}, post);

function decodeUpload(resp) {
  const j = s => JSON.parse(Buffer.from(s, 'base64').toString('utf8'));
  return { addr: j(resp.UploadAddress), auth: j(resp.UploadAuth) };
}
/** The server key id a SecurityToken was sealed with (auth/token.h: version, key id, ...). */
const tokenKid = token => Buffer.from(token, 'base64')[1];

before(async () => { srv = await startVodupd(); });
after(async () => { if (srv) await stopServer(srv); });

describe('vodupd key', { timeout: 120000 * SLOW }, () => {
  it('the root account gets a second key, not a third; disable, enable and delete act on the next request', withLogs(async () => {
    const second = cli(srv.dataDir, 'key', 'create', '--root');
    assert.equal(second.Principal, 'root');
    assert.match(second.AccessKeyId, /^LTAI\w{20}$/);
    await works(second);
    const third = cliFails('key', 'create', '--root');
    assert.match(third.err, /has 2 AccessKeys already/);
    const list = cli(srv.dataDir, 'key', 'list', '--root');
    assert.deepEqual(list.map(k => k.AccessKeyId).sort(), [srv.creds.AccessKeyId, second.AccessKeyId].sort());

    assert.deepEqual(cli(srv.dataDir, 'key', 'disable', second.AccessKeyId), { AccessKeyId: second.AccessKeyId, Status: 'Inactive' });
    await rpcRejects(works(second), 400, 'InvalidAccessKeyId.Inactive');
    await works(srv.creds); // the other key is untouched
    cli(srv.dataDir, 'key', 'enable', second.AccessKeyId);
    await works(second);
    cli(srv.dataDir, 'key', 'delete', second.AccessKeyId);
    await rpcRejects(works(second), 404, 'InvalidAccessKeyId.NotFound');
    assert.match(cliFails('key', 'delete', second.AccessKeyId).err, /no AccessKey/);
    // room again for a second key
    cli(srv.dataDir, 'key', 'delete', cli(srv.dataDir, 'key', 'create', '--root').AccessKeyId);
  }));

  it('a RAM user rotates its key: two at most, the disabled one refused, the other working', withLogs(async () => {
    const u = cli(srv.dataDir, 'user', 'create', 'rotator', '--policy', 'AliyunVODFullAccess');
    const second = cli(srv.dataDir, 'key', 'create', '--user', 'rotator');
    assert.equal(second.Principal, 'rotator');
    assert.match(cliFails('key', 'create', '--user', 'rotator').err, /has 2 AccessKeys already/);
    await works(u);
    await works(second);
    cli(srv.dataDir, 'key', 'disable', u.AccessKeyId);
    await rpcRejects(works(u), 400, 'InvalidAccessKeyId.Inactive');
    await works(second);
    const keys = cli(srv.dataDir, 'key', 'list', '--user', 'rotator');
    assert.deepEqual(Object.fromEntries(keys.map(k => [k.AccessKeyId, k.Status])),
      { [u.AccessKeyId]: 'Inactive', [second.AccessKeyId]: 'Active' });
    assert.match(cliFails('key', 'create', '--user', 'nobody').err, /no user named 'nobody'/);
    assert.match(cliFails('key', 'create').err, /--root or --user NAME/);
  }));

  it('keys rotate is taken up by the serving vodupd without a restart', withLogs(async () => {
    const issue = async () => decodeUpload(await vodClient(srv).request('CreateUploadVideo', { Title: 'rot', FileName: 'rot.mp4' }, post));
    const before = await issue();
    const oldKid = tokenKid(before.auth.SecurityToken);
    const { TokenKeyId } = cli(srv.dataDir, 'keys', 'rotate');
    assert.equal(TokenKeyId, oldKid + 1);
    let after;
    await waitFor(async () => {
      after = await issue();
      return tokenKid(after.auth.SecurityToken) === TokenKeyId;
    }, { timeout: 15000 * SLOW, interval: 500, what: `credentials sealed with token key ${TokenKeyId}` });
    // both verify: the new key's credentials and those sealed before the rotation
    await uploadClient(after).put(after.addr.FileName, randomBuf(1000));
    await uploadClient(before).put(before.addr.FileName, randomBuf(1000));
    assert.match(srv.stderr(), /a new token key \(vodupd keys rotate\) now seals temporary credentials/);
  }));
});

describe('vodupd events retry|drop', { timeout: 180000 * SLOW }, () => {
  it('drop removes an undelivered event; retry sends one at once instead of after its backoff', withLogs(async () => {
    const rx = await startReceiver({ defaultStatus: 500 });
    try {
      await vodClient(srv).request('SetMessageCallback', { CallbackType: 'HTTP', CallbackURL: rx.url, EventTypeList: 'ALL', AuthSwitch: 'off' }, post);
      const ids = [];
      for (const t of ['drop-me', 'retry-me']) {
        const cr = await vodClient(srv).request('CreateUploadVideo', { Title: t, FileName: `${t}.mp4` }, post);
        const up = decodeUpload(cr);
        await uploadClient(up).put(up.addr.FileName, randomBuf(2048));
        ids.push(cr.VideoId);
      }
      const pending = () => Object.fromEntries(cli(srv.dataDir, 'events', 'list').filter(e => ids.includes(e.MediaId)).map(e => [e.MediaId, e]));
      // four failed tries each: the next one is 8..10 s away (backoff 1, 2, 4, 8 s)
      await waitFor(() => { const p = pending(); return ids.every(id => p[id]?.Attempts >= 4); },
        { timeout: 60000 * SLOW, interval: 500, what: 'four failed attempts of each event' });
      rx.setDefault(200);
      const p = pending();
      const [dropId, retryId] = [p[ids[0]].Id, p[ids[1]].Id];
      const dueBefore = Date.parse(p[ids[1]].NextAttempt);
      const seen = () => rx.matching(r => r.status === 200 && r.body?.VideoId === ids[1]).length;
      assert.deepEqual(cli(srv.dataDir, 'events', 'drop', String(dropId)), { Id: dropId, Dropped: true });
      assert.deepEqual(cli(srv.dataDir, 'events', 'retry', String(retryId)), { Id: retryId, Retrying: true });
      const t0 = Date.now();
      await waitFor(() => seen() >= 1, { timeout: 15000 * SLOW, interval: 100, what: 'the retried event delivered' });
      if (dueBefore - Date.now() > 1000) {
        // delivered before its backoff was over: the retry, not the schedule, sent it
        assert.ok(Date.now() < dueBefore, `delivered at ${Date.now() - t0} ms, its backoff ended at ${dueBefore - t0} ms`);
      }
      await waitFor(() => !pending()[ids[1]], { what: 'the delivered event leaving the outbox' });
      assert.equal(pending()[ids[0]], undefined, 'the dropped event is still pending');
      assert.equal(rx.matching(r => r.status === 200 && r.body?.VideoId === ids[0]).length, 0, 'the dropped event was delivered');
      assert.match(cliFails('events', 'drop', String(dropId)).err, /no pending event/);
      assert.match(cliFails('events', 'retry', 'abc').err, /a number/);
    } finally {
      await rx.close?.();
    }
  }));
});
