// vod.mjs - clients for the VOD/STS flow tests: pop-core and ali-oss clients per server,
// the admin CLI. Shared by tests/compat/vod-flow.test.mjs and tests/integration/vod-errors.test.mjs.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import http from 'node:http';
import OSS from 'ali-oss';
import RPCClient from '@alicloud/pop-core';
import { SLOW, vodupdPath } from './vodupd.mjs';

// Keep-alive connections, one agent per server (endpoint), so that a test can close its
// clients' idle connections before it stops that server without touching the others'.
// (vodupd waits ~10 s on SIGTERM for idle keep-alive connections: see the report.)
const agents = new Map();
export function agentFor(endpoint) {
  let a = agents.get(endpoint);
  if (!a) {
    a = new http.Agent({ keepAlive: true });
    agents.set(endpoint, a);
  }
  return a;
}
/** Closes this server's idle client connections, then stops it (SIGTERM, exit status 0). */
export async function stopServer(s) {
  agents.get(s.endpoint)?.destroy();
  agents.delete(s.endpoint);
  await s.stop();
}

export function vodClient(srv, creds = srv.creds, securityToken) {
  return new RPCClient({
    accessKeyId: creds.AccessKeyId,
    accessKeySecret: creds.AccessKeySecret,
    securityToken,
    endpoint: srv.endpoint,
    apiVersion: '2017-03-21',
    opts: { timeout: 30000 * SLOW, agent: agentFor(srv.endpoint) },
  });
}

export function stsClient(srv, creds, securityToken) {
  return new RPCClient({
    accessKeyId: creds.AccessKeyId,
    accessKeySecret: creds.AccessKeySecret,
    securityToken,
    endpoint: srv.endpoint,
    apiVersion: '2015-04-01',
    opts: { timeout: 30000 * SLOW, agent: agentFor(srv.endpoint) },
  });
}

/** ali-oss client that uploads with the UploadAuth credentials, as a client SDK would. */
export function uploadClient({ addr, auth }, extra = {}) {
  return new OSS({
    endpoint: addr.Endpoint,
    region: 'oss-cn-hangzhou',
    accessKeyId: auth.AccessKeyId,
    accessKeySecret: auth.AccessKeySecret,
    stsToken: auth.SecurityToken,
    bucket: addr.Bucket,
    secure: false,
    timeout: 60000 * SLOW,
    agent: agentFor(addr.Endpoint),
    ...extra,
  });
}

/** ali-oss client with the account's root key on a bucket. */
export function rootOss(srv, bucket) {
  return new OSS({
    endpoint: srv.endpoint,
    region: 'oss-cn-hangzhou',
    accessKeyId: srv.creds.AccessKeyId,
    accessKeySecret: srv.creds.AccessKeySecret,
    bucket,
    secure: false,
    timeout: 60000 * SLOW,
    agent: agentFor(srv.endpoint),
  });
}

/** `vodupd <args> --data-dir <dir>`; returns the parsed JSON it prints. */
export function cli(dataDir, ...args) {
  const r = spawnSync(vodupdPath(), [...args, '--data-dir', dataDir], { encoding: 'utf8', timeout: 60000 * SLOW });
  if (r.error) throw r.error;
  assert.equal(r.status, 0, `vodupd ${args.join(' ')} exited ${r.status}\nstdout: ${r.stdout}\nstderr: ${r.stderr}`);
  try {
    return JSON.parse(r.stdout);
  } catch {
    assert.fail(`vodupd ${args.join(' ')} printed non-JSON: ${r.stdout}`);
  }
}
