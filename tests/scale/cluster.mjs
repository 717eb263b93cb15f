// tests/scale/cluster.mjs - several vodupd nodes behind a load balancer (run by cluster.sh,
// which loads the `scale` fixture's endpoints: PG_URL, S3_*, SCALE_DIR).
//
// 1. One database on the fixture's PostgreSQL; `vodupd init` on node 1; nodes 2 and 3 get a
//    copy of node 1's keys/ (master.key and the token keys: docs/scale-out.md, "Running N
//    nodes"), each its own data dir; all three keep bytes in the fixture's radosgw bucket
//    (--bytes, under a prefix of this run).
// 2. An HAProxy of the test's own (config generated here, free ports): frontend `three`
//    round-robins over the nodes, health-checked on each node's admin /healthz; frontend
//    `one` has node 1 alone (for the uploads-per-second comparison).
// 3. Temporary credentials: an UploadAuth issued by each node is used on each other node;
//    a token key rotation in the worst order (node 1 seals with the new key before the others
//    have its file) and a credential of the previous key.
// 4. Uploads per second: the same workload (CreateUploadVideo, then a PutObject with the
//    UploadAuth) by 8 concurrent clients, through `one` and then through `three`, with the
//    CPU seconds each process tree spent.
// 5. ali-oss multipart uploads (UploadAuth credentials, parallel parts) and `vodup upload`
//    (libvodup, parallel parts) through `three`; node 2 is SIGKILLed once it has taken part
//    of them (HAProxy's counters show requests it had in flight cut); they complete through
//    nodes 1 and 3 (the clients re-send cut parts; ali-oss is resumed from its checkpoint if
//    a part fails for good, as an app does); every object's bytes are read back and compared.
//    Node 2 is started again on its data dir and takes an upload.
// 6. Events: every upload's FileUploadComplete reaches the receiver exactly once (a second
//    delivery of one event, by any node, fails the test).
// Every process is started here and stopped by its PID (also registered in SCALE_DIR/pids/,
// so that the fixture's scale.down stops it if this process dies first).
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import crypto from 'node:crypto';
import fs from 'node:fs';
import http from 'node:http';
import net from 'node:net';
import path from 'node:path';
import OSS from 'ali-oss';
import RPCClient from '@alicloud/pop-core';
import { startVodupd, SLOW, sleep, waitFor, md5, tail } from '../compat/lib/vodupd.mjs';
import { startReceiver } from '../compat/lib/receiver.mjs';

const env = process.env;
for (const k of ['VODUPD', 'VODUP', 'PG_URL', 'SCALE_DIR']) assert.ok(env[k], `${k} is not set (run through cluster.sh)`);
const NODES = 3;
const CLIENTS = 8;                              // concurrent clients of the throughput runs
const RATE_UPLOADS = Number(env.CLUSTER_RATE_UPLOADS || 96); // uploads per throughput run
const RATE_SIZE = 64 * 1024;                    // bytes per throughput upload

if (!env.S3_ENDPOINT) {
  console.log('SKIP: the scale fixture has no radosgw (S3_ENDPOINT): the nodes need one byte store');
  process.exit(77);
}
// --- processes, by PID --------------------------------------------------------------------
const work = fs.mkdtempSync(path.join(env.SCALE_DIR, 'cluster-'));
const tag = path.basename(work);
const pidDir = path.join(env.SCALE_DIR, 'pids');
const registered = new Set();
function register(name, pid) {
  // scripts/scale/stop kills a registered PID only if its command line names SCALE_DIR: every
  // vodupd here has a data dir under it, and HAProxy its config.
  fs.writeFileSync(path.join(pidDir, `${tag}-${name}`), `${pid}\n`);
  registered.add(name);
}
function unregister(name) {
  fs.rmSync(path.join(pidDir, `${tag}-${name}`), { force: true });
  registered.delete(name);
}
let haproxy = null;
let nodes = [];
process.on('exit', () => {
  // Normal ends stop everything first; this is for a throw: by PID, never by name.
  for (const n of nodes) if (n.srv?.running) try { process.kill(n.srv.pid, 'SIGKILL'); } catch { /* gone */ }
  if (haproxy && haproxy.exitCode === null) try { process.kill(haproxy.pid, 'SIGKILL'); } catch { /* gone */ }
  for (const name of [...registered]) unregister(name);
});

function run(cmd, args, opts = {}) {
  const r = spawnSync(cmd, args, { encoding: 'utf8', timeout: 120000 * SLOW, ...opts });
  if (r.error) throw r.error;
  assert.equal(r.status, 0, `${cmd} ${args.join(' ')} exited ${r.status}\n${r.stdout}\n${r.stderr}`);
  return r.stdout;
}

function freePorts(n) {
  // Bound together, then released: no two of ours collide (as scripts/scale/start does).
  return Promise.all(Array.from({ length: n }, () => new Promise((resolve, reject) => {
    const s = net.createServer();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => resolve(s));
  }))).then(servers => Promise.all(servers.map(s => new Promise(resolve => {
    const p = s.address().port;
    s.close(() => resolve(p));
  }))));
}

// The bytes in the fixture's radosgw bucket, under a prefix of this run; init records it, and
// every node names the same.
function bytesArgs() {
  const q = new URLSearchParams({ endpoint: env.S3_ENDPOINT, region: env.S3_REGION || 'us-east-1' });
  return ['--bytes', `s3://${env.S3_BUCKET}/${tag}?${q}`];
}
const bytesEnv = { AWS_ACCESS_KEY_ID: env.S3_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY: env.S3_SECRET_ACCESS_KEY };

// --- the database and the data dirs ------------------------------------------------------
const db = `vodup_cluster_${process.pid}`;
const pgAdmin = env.PG_URL;
const dbUrl = pgAdmin.replace(/\/[^/]*$/, `/${db}`);
const psqlEnv = { ...env, PGOPTIONS: '-c client_min_messages=warning' };
run('psql', ['-q', pgAdmin, '-c', `DROP DATABASE IF EXISTS ${db}`, '-c', `CREATE DATABASE ${db}`], { env: psqlEnv });

const dataDir = i => path.join(work, `node${i}`, 'data');
fs.mkdirSync(path.dirname(dataDir(1)));
const creds = JSON.parse(run(env.VODUPD, ['init', '--data-dir', dataDir(1), '--metadata', dbUrl, ...bytesArgs()],
                             { env: { ...env, ...bytesEnv } }));
for (let i = 2; i <= NODES; i++) {
  // The supported way to share the key set: every node's keys/ is a copy of the first's,
  // made before the node first starts (a node that found no token key would make its own).
  fs.mkdirSync(dataDir(i), { recursive: true, mode: 0o700 });
  run('cp', ['-a', path.join(dataDir(1), 'keys'), path.join(dataDir(i), 'keys')]);
}


// --- the nodes and HAProxy ------------------------------------------------------------------
const [haThree, haOne, haStats] = await freePorts(3);
const haUrl = `http://127.0.0.1:${haThree}`;
nodes = Array.from({ length: NODES }, (_, k) => ({ i: k + 1, srv: null, admin: 0, last: null }));

async function startNode(n) {
  n.srv = await startVodupd({
    dataDir: dataDir(n.i), creds,
    // Clients are handed the balancer's address (UploadAddress.Endpoint), not a node's.
    extraArgs: ['--metadata', dbUrl, '--admin-listen', '127.0.0.1:0', '--public-url', haUrl,
                '--callback-allow', '127.0.0.1/32', ...bytesArgs()],
    env: bytesEnv,
  });
  register(`node${n.i}`, n.srv.pid);
  const m = await waitFor(() => /admin \(\/healthz, \/metrics\) on http:\/\/127\.0\.0\.1:(\d+)/.exec(n.srv.stderr()),
                          { what: `node ${n.i}'s admin listener` });
  n.admin = Number(m[1]);
}
for (const n of nodes) await startNode(n);

const haCfg = path.join(work, 'haproxy.cfg');
function writeHaproxyConfig() {
  const server = n => `    server node${n.i} 127.0.0.1:${n.srv.port} check port ${n.admin} inter 500ms fall 2 rise 1`;
  fs.writeFileSync(haCfg, [
    'global', '    maxconn 4096',
    'defaults', '    mode http', '    timeout connect 2s', '    timeout client 120s', '    timeout server 120s',
    // One server connection per request, so that each request is balanced on its own (a
    // client's keep-alive connection is not pinned to one node); a connection refused by a
    // dead node is retried on another one.
    '    option http-server-close', '    option forwardfor', '    retries 3', '    option redispatch 1',
    `frontend three`, `    bind 127.0.0.1:${haThree}`, '    default_backend three',
    `frontend one`, `    bind 127.0.0.1:${haOne}`, '    default_backend one',
    // HAProxy's own counters (CSV): what the clients saw of node 2's death.
    `frontend stats`, `    bind 127.0.0.1:${haStats}`, '    stats enable', '    stats uri /stats',
    'backend three', '    balance roundrobin', '    option httpchk GET /healthz', ...nodes.map(server),
    'backend one', '    option httpchk GET /healthz', server(nodes[0]),
    '',
  ].join('\n'));
}
writeHaproxyConfig();
run('haproxy', ['-c', '-q', '-f', haCfg]);
{
  const log = fs.openSync(path.join(work, 'haproxy.log'), 'a');
  haproxy = spawn('haproxy', ['-db', '-f', haCfg], { stdio: ['ignore', log, log] });
  fs.closeSync(log);
  register('haproxy', haproxy.pid);
}
const up = async url => new Promise(resolve => {
  http.get(url, res => { res.resume(); resolve(res.statusCode > 0); }).on('error', () => resolve(false));
});
await waitFor(() => up(`${haUrl}/`), { timeout: 15000, what: 'HAProxy' });

// --- clients ---------------------------------------------------------------------------
const agent = new http.Agent({ keepAlive: true, maxSockets: 64 });
const vod = endpoint => new RPCClient({
  accessKeyId: creds.AccessKeyId, accessKeySecret: creds.AccessKeySecret, endpoint,
  apiVersion: '2017-03-21', opts: { timeout: 60000 * SLOW, agent },
});
const decode = b64 => JSON.parse(Buffer.from(b64, 'base64').toString());
/** CreateUploadVideo on `endpoint`; the ali-oss client the app's user would get. */
async function createUpload(endpoint, title, { ossEndpoint = endpoint } = {}) {
  const r = await vod(endpoint).request('CreateUploadVideo', { Title: title, FileName: `${title}.mp4` }, { method: 'POST' });
  const addr = decode(r.UploadAddress);
  const auth = decode(r.UploadAuth);
  const oss = new OSS({
    endpoint: ossEndpoint, region: 'oss-cn-hangzhou', secure: false, bucket: addr.Bucket,
    accessKeyId: auth.AccessKeyId, accessKeySecret: auth.AccessKeySecret, stsToken: auth.SecurityToken,
    timeout: 60000 * SLOW, agent, retryMax: 3,
  });
  return { videoId: r.VideoId, addr, auth, oss };
}
const rootOss = bucket => new OSS({
  endpoint: haUrl, region: 'oss-cn-hangzhou', secure: false, bucket,
  accessKeyId: creds.AccessKeyId, accessKeySecret: creds.AccessKeySecret, timeout: 60000 * SLOW, agent,
});
const expected = new Map(); // VideoId -> what it is, for the event count

/** The body of a GET, as text. */
const getText = url => new Promise((resolve, reject) => {
  http.get(url, res => {
    let b = '';
    res.setEncoding('utf8');
    res.on('data', d => { b += d; });
    res.on('end', () => resolve(b));
  }).on('error', reject);
});

/** HAProxy's counters of one server of backend `three`, by CSV column name. */
async function haServer(name) {
  const csv = await getText(`http://127.0.0.1:${haStats}/stats;csv`);
  const [head, ...rows] = csv.trim().split('\n');
  const cols = head.replace(/^# /, '').split(',');
  const row = rows.map(r => r.split(',')).find(r => r[0] === 'three' && r[1] === name);
  assert.ok(row, `no HAProxy stats for three/${name}`);
  return Object.fromEntries(cols.map((c, k) => [c, Number(row[k]) || 0]));
}

/** Requests each node answered so far, by operation (its /metrics). */
async function metrics(n) {
  const text = await getText(`http://127.0.0.1:${n.admin}/metrics`);
  const ops = {};
  for (const m of text.matchAll(/^vodupd_requests_total\{dialect="[^"]*",operation="([^"]*)",status="(\d+)"\} (\d+)$/gm)) {
    const key = m[2] < 400 ? m[1] : `${m[1]}:${m[2]}`;
    ops[key] = (ops[key] || 0) + Number(m[3]);
  }
  const inFlight = /^vodupd_requests_in_flight (\d+)$/m.exec(text);
  ops.inFlight = inFlight ? Number(inFlight[1]) : 0;
  n.last = ops;
  return ops;
}
const count = (ops, op) => (ops && ops[op]) || 0;
function showCounts(title, before, after) {
  console.log(title);
  for (const n of nodes) {
    const a = after[n.i - 1], b = before[n.i - 1] || {};
    const d = op => count(a, op) - count(b, op);
    console.log(`  node ${n.i}: UploadPart ${d('UploadPart')}, PutObject ${d('PutObject')}, ` +
                `InitiateMultipartUpload ${d('InitiateMultipartUpload')}, ` +
                `CompleteMultipartUpload ${d('CompleteMultipartUpload')}, CreateUploadVideo ${d('CreateUploadVideo')}`);
  }
}

// CPU seconds (user + system) of each process tree named, from /proc: what a run spent where,
// to say what limits the uploads per second. The fixture's daemons by their PID files.
const TICK = Number(spawnSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).stdout) || 100;
function cpuTrees() {
  const stat = new Map(); // pid -> [ppid, ticks]
  for (const d of fs.readdirSync('/proc')) {
    if (!/^\d+$/.test(d)) continue;
    try {
      const f = fs.readFileSync(`/proc/${d}/stat`, 'utf8');
      const v = f.slice(f.lastIndexOf(')') + 2).split(' ');
      stat.set(Number(d), [Number(v[1]), Number(v[11]) + Number(v[12])]);
    } catch { /* gone meanwhile */ }
  }
  const tree = root => {
    let t = 0;
    for (const [pid, [, ticks]] of stat) {
      for (let p = pid, hops = 0; p > 1 && hops < 64; p = stat.get(p)?.[0] ?? 0, hops++) {
        if (p === root) { t += ticks; break; }
      }
    }
    return t / TICK;
  };
  const fixture = name => {
    try { return Number(fs.readFileSync(path.join(pidDir, name), 'utf8')); } catch { return 0; }
  };
  const out = { vodupd: 0 };
  for (const n of nodes) if (n.srv?.running) out.vodupd += tree(n.srv.pid);
  for (const name of ['pg', 'radosgw', 'ceph-osd', 'ceph-mon']) out[name] = fixture(name) ? tree(fixture(name)) : 0;
  out.haproxy = haproxy ? tree(haproxy.pid) : 0;
  const self = process.cpuUsage();
  out.client = (self.user + self.system) / 1e6; // the test's node: pop-core and ali-oss
  return out;
}
const cpuDiff = (a, b) => Object.fromEntries(Object.keys(b).map(k => [k, b[k] - (a[k] || 0)]));
const cpuLine = (d, wall) => `CPU seconds in ${wall.toFixed(2)} s (2 cores: ${(2 * wall).toFixed(2)} available): ` +
  Object.entries(d).map(([k, v]) => `${k} ${v.toFixed(2)}`).join(', ');

let failed = false;
try {
  // --- events: a receiver of our own ---------------------------------------------------------
  const rcv = await startReceiver();
  await vod(haUrl).request('SetMessageCallback', { CallbackType: 'http', CallbackURL: rcv.url }, { method: 'POST' });

  // --- temporary credentials issued by one node work on every other ---------------------------
  for (const issuer of nodes) {
    for (const user of nodes) {
      if (user === issuer) continue;
      const title = `keys-${issuer.i}-on-${user.i}`;
      const up1 = await createUpload(issuer.srv.endpoint, title, { ossEndpoint: user.srv.endpoint });
      const body = crypto.randomBytes(1000 + issuer.i * 10 + user.i);
      await up1.oss.put(up1.addr.FileName, body);
      expected.set(up1.videoId, title);
    }
  }
  console.log('ok: an UploadAuth issued by each node is accepted by each other node');

  // --- a key rotation, in the worst order: node 1 seals with a new key before the others
  // have its file; once they have it, they take its credentials at once (no 5 s wait for
  // their periodic re-read), and credentials sealed with the previous key still work.
  {
    const kid = auth => Buffer.from(auth.SecurityToken, 'base64')[1];
    const old = await createUpload(nodes[1].srv.endpoint, 'rotate-old', { ossEndpoint: nodes[2].srv.endpoint });
    assert.equal(kid(old.auth), 1, 'the first token key seals before a rotation');
    const key = crypto.randomBytes(32);
    const install = n => { // as an operator would copy it: a temporary name, then a rename
      const dir = path.join(dataDir(n.i), 'keys');
      fs.writeFileSync(path.join(dir, '.token-2.key.tmp'), key, { mode: 0o600 });
      fs.renameSync(path.join(dir, '.token-2.key.tmp'), path.join(dir, 'token-2.key'));
    };
    install(nodes[0]);
    const fresh = await waitFor(async () => {
      const u = await createUpload(nodes[0].srv.endpoint, 'rotate-new', { ossEndpoint: nodes[2].srv.endpoint });
      if (kid(u.auth) !== 2) return null; // (a video that is never uploaded: no event)
      expected.set(u.videoId, 'rotate-new');
      return u;
    }, { timeout: 15000 * SLOW, interval: 200, what: 'node 1 to seal with token key 2' });
    install(nodes[1]);
    install(nodes[2]);
    await fresh.oss.put(fresh.addr.FileName, crypto.randomBytes(2000));
    await old.oss.put(old.addr.FileName, crypto.randomBytes(2001));
    expected.set(old.videoId, 'rotate-old');
    console.log('ok: key rotation: a credential of the new key works on another node as soon as its file ' +
                'is there, one of the previous key still works');
  }

  // --- uploads per second: one node, then three --------------------------------------------
  async function rate(endpoint, label) {
    const body = crypto.randomBytes(RATE_SIZE);
    let next = 0;
    const t0 = process.hrtime.bigint();
    await Promise.all(Array.from({ length: CLIENTS }, async () => {
      while (next < RATE_UPLOADS) {
        const k = next++;
        const u = await createUpload(endpoint, `rate-${label}-${k}`);
        await u.oss.put(u.addr.FileName, body);
        expected.set(u.videoId, `rate-${label}-${k}`);
      }
    }));
    const s = Number(process.hrtime.bigint() - t0) / 1e9;
    return { s, perSecond: RATE_UPLOADS / s };
  }
  await rate(haUrl, 'warm'); // connections, pools and caches warm on every node
  const c0 = cpuTrees();
  const one = await rate(`http://127.0.0.1:${haOne}`, 'one');
  const c1 = cpuTrees();
  const rBefore = await Promise.all(nodes.map(metrics));
  const three = await rate(haUrl, 'three');
  const rAfter = await Promise.all(nodes.map(metrics));
  const c2 = cpuTrees();
  console.log(`uploads per second (${RATE_UPLOADS} uploads of ${RATE_SIZE / 1024} KiB, each CreateUploadVideo + ` +
              `PutObject with its UploadAuth, ${CLIENTS} concurrent clients, bytes in radosgw):`);
  console.log(`  one node:    ${one.perSecond.toFixed(1)} uploads/s (${one.s.toFixed(2)} s)`);
  console.log(`  three nodes: ${three.perSecond.toFixed(1)} uploads/s (${three.s.toFixed(2)} s)`);
  console.log(`  one node, ${cpuLine(cpuDiff(c0, c1), one.s)}`);
  console.log(`  three nodes, ${cpuLine(cpuDiff(c1, c2), three.s)}`);
  showCounts('  requests per node in the three-node run:', rBefore, rAfter);
  for (const n of nodes) {
    assert.ok(count(rAfter[n.i - 1], 'PutObject') > count(rBefore[n.i - 1], 'PutObject'),
              `node ${n.i} took no PutObject in the three-node run`);
  }

  // --- big uploads, one node SIGKILLed in the middle -----------------------------------------
  const files = [];
  const mk = (name, size) => {
    const file = path.join(work, name);
    const buf = crypto.randomBytes(size);
    fs.writeFileSync(file, buf);
    files.push({ name, file, md5: md5(buf), size });
    return files.at(-1);
  };
  const ossFiles = [mk('oss-1.mp4', 12 * 1048576 + 11), mk('oss-2.mp4', 12 * 1048576 + 222),
                    mk('oss-3.mp4', 10 * 1048576 + 3333)];
  const cliFiles = [mk('cli-1.mp4', 12 * 1048576 + 17), mk('cli-2.mp4', 10 * 1048576 + 4)];
  const victim = nodes[1];
  const before = await Promise.all(nodes.map(metrics));

  async function ossUpload(f) {
    const u = await createUpload(haUrl, f.name);
    expected.set(u.videoId, f.name);
    let checkpoint;
    let tries = 0;
    // What an app does when a part fails for good (here: the node that had it died, and
    // HAProxy answered 502 before it marked it down): resume from the last checkpoint.
    for (;;) {
      try {
        await u.oss.multipartUpload(u.addr.FileName, f.file, {
          parallel: 4, partSize: 256 * 1024, checkpoint,
          progress: (_p, cpt) => { if (cpt) checkpoint = cpt; },
        });
        break;
      } catch (e) {
        if (++tries > 5) throw e;
        console.log(`  ${f.name}: ${e.status || ''} ${e.code || e.name}: resuming (try ${tries + 1})`);
        await sleep(500);
      }
    }
    Object.assign(f, { videoId: u.videoId, bucket: u.addr.Bucket, object: u.addr.FileName, resumed: tries });
  }
  function cliUpload(list) {
    return new Promise((resolve, reject) => {
      const child = spawn(env.VODUP, ['upload', ...list.map(f => f.file), '--parallel', '4', '--part-size', '256k',
                                      '--json', '-q', '--record-dir', path.join(work, 'records')], {
        stdio: ['ignore', 'pipe', 'pipe'],
        env: { ...env, VODUP_ENDPOINT: haUrl, VODUP_ACCESS_KEY_ID: creds.AccessKeyId,
               VODUP_ACCESS_KEY_SECRET: creds.AccessKeySecret },
      });
      let out = '', err = '';
      child.stdout.on('data', d => { out += d; });
      child.stderr.on('data', d => { err += d; });
      child.on('exit', code => {
        if (code !== 0) return reject(new Error(`vodup upload exited ${code}\n${out}\n${err}`));
        for (const line of out.trim().split('\n')) {
          const r = JSON.parse(line);
          const f = list.find(x => x.file === r.File);
          assert.ok(f, `vodup upload reported a file it was not given: ${line}`);
          assert.equal(r.Status, 'UploadSucc', line);
          expected.set(r.VideoId, f.name);
          Object.assign(f, { videoId: r.VideoId, bucket: r.Bucket, object: r.Object });
        }
        resolve();
      });
    });
  }
  const uploads = Promise.all([...ossFiles.map(ossUpload), cliUpload(cliFiles)]);
  let uploadsDone = false;
  uploads.then(() => { uploadsDone = true; }, () => { uploadsDone = true; });
  // SIGKILL node 2 once it has stored some of these parts, while it has requests in flight.
  await waitFor(async () => {
    if (uploadsDone) return true;
    const m = await metrics(victim);
    return count(m, 'UploadPart') - count(before[1], 'UploadPart') >= 12 && m.inFlight >= 2;
  }, { timeout: 60000 * SLOW, interval: 10, what: 'node 2 to take 12 parts and have 2 in flight' });
  assert.ok(!uploadsDone, 'the uploads ended before node 2 had taken 12 parts: nothing was cut');
  const haBefore = await haServer('node2');
  const atKill = await Promise.all(nodes.map(metrics));
  await victim.srv.kill();
  unregister(`node${victim.i}`);
  console.log(`SIGKILLed node 2 (PID ${victim.srv.pid}) after it took ` +
              `${count(atKill[1], 'UploadPart') - count(before[1], 'UploadPart')} parts, with ` +
              `${atKill[1].inFlight} requests in flight at its last /metrics`);
  await uploads;
  const after = await Promise.all(nodes.map(n => (n === victim ? n.last : metrics(n))));
  // Requests node 2 had in flight when it died: HAProxy saw their connections end early
  // (srv_abrt: aborted by the server, eresp: no response, econ: refused, wredis: sent elsewhere).
  const ha = await haServer('node2');
  const cut = ['srv_abrt', 'eresp', 'econ', 'wredis'].map(k => `${k} ${ha[k] - haBefore[k]}`).join(', ');
  // (Not asserted: a request in flight at the last scrape may have ended before the kill.)
  console.log(`  HAProxy on node 2 from its death on: ${cut}`);
  showCounts('  requests per node during the big uploads (node 2: until it was killed):', before, after);
  for (const n of [nodes[0], nodes[2]]) {
    assert.ok(count(after[n.i - 1], 'UploadPart') > count(atKill[n.i - 1], 'UploadPart'),
              `node ${n.i} took no part after node 2 died`);
  }
  for (const f of files) {
    const got = await rootOss(f.bucket).get(f.object).then(r => r.content, e => {
      throw new Error(`${f.name}: reading it back failed: ${e.status} ${e.code || e.name}`);
    });
    assert.equal(got.length, f.size, `${f.name}: size read back`);
    assert.equal(md5(got), f.md5, `${f.name}: the bytes read back differ`);
    const info = await vod(haUrl).request('GetVideoInfo', { VideoId: f.videoId }, { method: 'POST' });
    assert.equal(info.Video.Status, 'UploadSucc', `${f.name}: status`);
    assert.equal(Number(info.Video.Size), f.size, `${f.name}: size in GetVideoInfo`);
  }
  console.log(`ok: ${files.length} uploads (3 ali-oss multipart, 2 vodup upload) complete with the right bytes ` +
              `after node 2 was SIGKILLed mid-upload (${ossFiles.filter(f => f.resumed).length} ali-oss uploads resumed)`);

  // Node 2 again, on its own data dir: it recovers and takes uploads.
  await startNode(victim);
  {
    const u = await createUpload(victim.srv.endpoint, 'after-restart', { ossEndpoint: victim.srv.endpoint });
    const body = crypto.randomBytes(300000);
    await u.oss.put(u.addr.FileName, body);
    expected.set(u.videoId, 'after-restart');
    const got = (await rootOss(u.addr.Bucket).get(u.addr.FileName)).content;
    assert.equal(md5(got), md5(body), 'the upload through the restarted node 2 reads back different bytes');
  }
  console.log('ok: node 2 started again on its data dir and took an upload');

  // --- every event exactly once ---------------------------------------------------------------
  const isUpload = r => r.body?.EventType === 'FileUploadComplete';
  // Every upload's event, counted by VideoId (a duplicate must not stand in for a missing
  // one); an event the killed node had taken waits out its lease (2 min) first.
  const delivered = () => new Set(rcv.requests.filter(r => isUpload(r) && expected.has(r.body.VideoId))
    .map(r => r.body.VideoId));
  await waitFor(() => delivered().size === expected.size, { timeout: 180000 * SLOW, interval: 200,
                                                          what: 'a FileUploadComplete for every upload' })
    .catch(e => {
      const got = delivered();
      const missing = [...expected].filter(([v]) => !got.has(v)).map(([v, what]) => `${what} (${v})`);
      throw new Error(`FileUploadComplete missing for ${missing.length} of ${expected.size}: ` +
                      `${missing.slice(0, 10).join(', ')}`, { cause: e });
    });
  // A duplicate comes from a second node taking an event the first is sending: wait past the
  // nodes' outbox polls (10 s at most) for one to show up.
  await sleep(12000);
  const per = new Map();
  for (const r of rcv.requests) {
    const k = `${r.body?.VideoId}/${r.body?.EventType}`;
    per.set(k, (per.get(k) || 0) + 1);
  }
  const dup = [...per].filter(([, c]) => c > 1);
  const unknown = rcv.requests.filter(r => !expected.has(r.body?.VideoId));
  console.log(`events: ${rcv.requests.length} received for ${expected.size} uploads, ` +
              `${per.size} distinct (VideoId, EventType), ${dup.length} delivered more than once`);
  assert.equal(unknown.length, 0, `events for no upload of ours: ${unknown.slice(0, 5).map(r => r.rawBody).join(' ')}`);
  assert.deepEqual(dup, [], `events delivered more than once (VideoId/EventType, times): ${JSON.stringify(dup.slice(0, 10))}`);
  console.log('ok: every FileUploadComplete delivered exactly once');
  await rcv.close();
} catch (e) {
  failed = true;
  console.log(`FAIL: ${String(e.stack || e).slice(0, 3000)}`);
  for (const n of nodes) {
    if (n.srv) console.log(`--- node ${n.i} (${n.srv.logFile}):\n${tail(n.srv.stderr(), 30)}`);
  }
  const hl = path.join(work, 'haproxy.log');
  if (fs.existsSync(hl)) console.log(`--- haproxy:\n${tail(fs.readFileSync(hl, 'utf8'), 20)}`);
}

// --- stop everything we started, by PID -----------------------------------------------------
agent.destroy();
for (const n of nodes) {
  if (!n.srv?.running) continue;
  try {
    await n.srv.stop(); // SIGTERM; asserts a clean exit
  } catch (e) {
    failed = true;
    console.log(`FAIL: node ${n.i} did not stop cleanly: ${e.message}`);
  }
  unregister(`node${n.i}`);
}
if (haproxy && haproxy.exitCode === null) {
  const gone = new Promise(resolve => haproxy.once('exit', resolve));
  haproxy.kill('SIGTERM');
  await Promise.race([gone, sleep(10000)]);
  if (haproxy.exitCode === null && haproxy.signalCode === null) { haproxy.kill('SIGKILL'); await gone; }
}
unregister('haproxy');
cleanup(!failed);
process.exit(failed ? 1 : 0);

// The database goes; the work dir (data dirs, logs) stays after a failure, for a look,
// until the fixture's scale.down removes SCALE_DIR.
function cleanup(removeWork) {
  spawnSync('psql', ['-q', pgAdmin, '-c', `DROP DATABASE IF EXISTS ${db}`], { env: psqlEnv });
  if (removeWork && !env.VODUP_KEEP_TMP) fs.rmSync(work, { recursive: true, force: true });
  else console.log(`logs: ${work}`);
}
