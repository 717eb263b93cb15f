// bench/bench.mjs BUILD_DIR - `make bench`: vodup next to its peers and the disk, in one run,
// on loopback. Writes bench/results/latest.md (see bench/README.md for what each case means).
//
// Environment: BENCH_QUICK=1 (smaller: 256 MiB, 300 images, 10 s hold, 2 runs),
//   BENCH_SIZE_MB (large file size, default 1024 / 256 quick), BENCH_RUNS (default 3 / 2),
//   BENCH_SMALL_RUNS (runs of the small-upload case, default 2), BENCH_MULTI_RUNS (4-files case, 2),
//   BENCH_IMAGES (2000 / 300), BENCH_HOLD_S (30 / 10), BENCH_CONNS (1000),
//   BENCH_OUT (default bench/results/latest.md), BENCH_NOTE (a line put under the title,
//   e.g. "loaded machine").
import { spawn, spawnSync } from 'node:child_process';
import crypto from 'node:crypto';
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import http from 'node:http';

const ROOT = path.resolve(path.dirname(new URL(import.meta.url).pathname), '..');
const BUILD = path.resolve(process.argv[2] || 'build');
process.env.VODUPD = path.join(BUILD, 'vodupd');
const { startVodupd, presignV1 } = await import(path.join(ROOT, 'tests/compat/lib/vodupd.mjs'));
const { awsSession, haveAws } = await import(path.join(ROOT, 'tests/compat/lib/awscli.mjs'));

const QUICK = process.env.BENCH_QUICK === '1';
const MiB = 1024 * 1024;
const num = (name, dflt) => (process.env[name] ? Number(process.env[name]) : dflt);
const SIZE = num('BENCH_SIZE_MB', QUICK ? 256 : 1024) * MiB;
const RUNS = num('BENCH_RUNS', QUICK ? 2 : 3);
const SMALL_RUNS = num('BENCH_SMALL_RUNS', 2);
const MULTI_RUNS = num('BENCH_MULTI_RUNS', 2);   // runs of the 4-files case (keeps `make bench` under 15 min)
const NIMG = num('BENCH_IMAGES', QUICK ? 300 : 2000);
const HOLD = num('BENCH_HOLD_S', QUICK ? 10 : 30);
const NCONN = num('BENCH_CONNS', 1000);
const MULTI = 4;                      // files at once in the "4 files" case
// BENCH_CASES=1,6 runs only those cases (4 is the evidence: hashing floors, profile, strace);
// BENCH_ONLY=REGEX keeps only the contenders whose name matches (dd and the ceiling always
// stay: the ratios need them). For quick comparisons; the full table needs every case.
const CASES = new Set((process.env.BENCH_CASES || '1,2,3,4,5,6').split(',').map(s => s.trim()));
const ONLY = process.env.BENCH_ONLY ? new RegExp(process.env.BENCH_ONLY) : null;
const keep = name => !ONLY || ONLY.test(name) || /^dd |^durable-file/.test(name);
const OUT = path.resolve(process.env.BENCH_OUT || path.join(ROOT, 'bench/results/latest.md'));
const VODUP = path.join(BUILD, 'vodup');
const TOOLS = path.join(BUILD, 'bench-tools');
const T0 = Date.now();

const work = fs.mkdtempSync(path.join(BUILD, 'bench-run.'));
const log = (...a) => process.stderr.write(`bench [${((Date.now() - T0) / 1000).toFixed(0)} s] ${a.join(' ')}\n`);
const median = xs => { const s = [...xs].sort((a, b) => a - b); const m = s.length >> 1; return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2; };
const fmt = (x, d = 2) => (x === undefined || x === null || Number.isNaN(x) ? '–' : Number(x).toFixed(d));
const CLK = Number(spawnSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).stdout.trim()) || 100;

// ---- processes -------------------------------------------------------------------------
/** Runs argv under bash, returning wall seconds, the children's CPU seconds (bash `times`),
 *  exit status and stdout. */
function run(argv, { env = {}, onSpawn } = {}) {
  return new Promise(resolve => {
    const out = path.join(work, `out-${crypto.randomBytes(4).toString('hex')}`);
    const t0 = process.hrtime.bigint();
    const child = spawn('bash', ['-c', '"$@" >"$BENCH_OUT_FILE" 2>"$BENCH_OUT_FILE.err"; rc=$?; times; exit $rc', 'bash', ...argv],
                        { env: { ...process.env, ...env, BENCH_OUT_FILE: out }, stdio: ['ignore', 'pipe', 'inherit'] });
    let t = '';
    child.stdout.on('data', d => { t += d; });
    if (onSpawn) onSpawn(child);
    child.on('exit', (code, signal) => {
      const wall = Number(process.hrtime.bigint() - t0) / 1e9;
      const secs = s => { const m = /(\d+)m([\d.]+)s/.exec(s); return m ? Number(m[1]) * 60 + Number(m[2]) : 0; };
      const lines = t.trim().split('\n');
      const kids = (lines[1] || '').split(/\s+/);
      const stdout = fs.existsSync(out) ? fs.readFileSync(out, 'utf8') : '';
      const stderr = fs.existsSync(`${out}.err`) ? fs.readFileSync(`${out}.err`, 'utf8') : '';
      fs.rmSync(out, { force: true }); fs.rmSync(`${out}.err`, { force: true });
      resolve({ wall, cpu: secs(kids[0]) + secs(kids[1]), code, signal, stdout, stderr });
    });
  });
}
const procCpu = pid => { const f = fs.readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1].split(' '); return (Number(f[11]) + Number(f[12])) / CLK; };
function procStatus(pid) {
  const s = fs.readFileSync(`/proc/${pid}/status`, 'utf8');
  const kb = k => Number((new RegExp(`^${k}:\\s+(\\d+)`, 'm').exec(s) || [])[1]);
  return { rssKiB: kb('VmRSS'), threads: kb('Threads'), fds: fs.readdirSync(`/proc/${pid}/fd`).length };
}
const sh = cmd => spawnSync('sh', ['-c', cmd], { encoding: 'utf8' }).stdout.trim();

// ---- files and digests -------------------------------------------------------------------
function randomFile(file, size, head = Buffer.alloc(0)) {
  const fd = fs.openSync(file, 'w');
  const chunk = 8 * MiB;
  let left = size;
  if (head.length) { fs.writeSync(fd, head); left -= head.length; }
  while (left > 0) { const n = Math.min(chunk, left); fs.writeSync(fd, crypto.randomBytes(n)); left -= n; }
  fs.closeSync(fd);
}
function md5File(file) {
  return new Promise((res, rej) => { const h = crypto.createHash('md5'); fs.createReadStream(file, { highWaterMark: MiB }).on('data', d => h.update(d)).on('end', () => res(h.digest('hex'))).on('error', rej); });
}

// ---- vodupd ------------------------------------------------------------------------------
log(`work dir ${work}; ${QUICK ? 'quick' : 'full'}: ${SIZE / MiB} MiB, ${RUNS} runs, ${NIMG} images, ${NCONN} connections held ${HOLD} s`);
const srv = await startVodupd({ dataDir: path.join(work, 'data'), extraArgs: ['--max-connections-per-ip', '0'] });
const creds = srv.creds;
const PORT = srv.port;
const ENDPOINT = srv.endpoint;
const CLI_ENV = { VODUP_ENDPOINT: ENDPOINT, VODUP_ACCESS_KEY_ID: creds.AccessKeyId, VODUP_ACCESS_KEY_SECRET: creds.AccessKeySecret, VODUP_CONFIG: '/nonexistent' };
const agent = new http.Agent({ keepAlive: true, maxSockets: 16 });
function request(method, p, { body, stream } = {}) {
  return new Promise((resolve, reject) => {
    const req = http.request({ host: '127.0.0.1', port: PORT, method, path: p, agent }, res => {
      if (stream) { res.on('data', d => stream.update(d)); res.on('end', () => resolve({ status: res.statusCode })); return; }
      const c = []; res.on('data', d => c.push(d)); res.on('end', () => resolve({ status: res.statusCode, body: Buffer.concat(c) }));
    });
    req.on('error', reject);
    req.end(body);
  });
}
const presign = (method, bucket, key) => presignV1({ method, bucket, key, expires: Math.floor(Date.now() / 1000) + 7200, creds });
/** MD5 of a stored object, read back with GetObject. */
async function storedMd5(bucket, key) {
  const h = crypto.createHash('md5');
  const r = await request('GET', presign('GET', bucket, key), { stream: h });
  if (r.status !== 200) throw new Error(`GetObject ${bucket}/${key}: ${r.status}`);
  return h.digest('hex');
}
await request('PUT', presign('PUT', 'bench', ''));
/** Requests vodupd logged since `mark` (a length of its stderr). */
function logSince(mark) {
  return srv.stderr().slice(mark).split('\n').map(l => /" (\d{3}) (\S+) in=(\d+) ms=([\d.]+)/.exec(l)).filter(Boolean)
    .map(m => ({ status: Number(m[1]), op: m[2], in: Number(m[3]), ms: Number(m[4]) }));
}

// ---- nginx (WebDAV PUT) --------------------------------------------------------------------
let nginx = null;
const NGINX_BIN = fs.existsSync('/usr/sbin/nginx') ? '/usr/sbin/nginx' : null;
async function startNginx() {
  if (!NGINX_BIN) return null;
  const dir = path.join(work, 'nginx');
  fs.mkdirSync(path.join(dir, 'dav'), { recursive: true });
  fs.mkdirSync(path.join(dir, 'tmp'), { recursive: true });
  const port = await new Promise(r => { const s = net.createServer().listen(0, '127.0.0.1', () => { const p = s.address().port; s.close(() => r(p)); }); });
  const user = process.getuid() === 0 ? 'user root;' : '';
  fs.writeFileSync(path.join(dir, 'nginx.conf'), `${user}
worker_processes 2;
daemon off;
pid ${dir}/nginx.pid;
error_log ${dir}/error.log;
events { worker_connections 1024; }
http {
  access_log off;
  client_body_temp_path ${dir}/tmp;
  client_max_body_size 0;
  server {
    listen 127.0.0.1:${port};
    root ${dir}/dav;
    location / { dav_methods PUT; create_full_put_path on; }
  }
}
`);
  const child = spawn(NGINX_BIN, ['-e', `${dir}/error.log`, '-p', dir, '-c', path.join(dir, 'nginx.conf')], { stdio: 'ignore' });
  for (let i = 0; i < 100; i++) {
    const ok = await new Promise(r => { const s = net.connect(port, '127.0.0.1', () => { s.destroy(); r(true); }); s.on('error', () => r(false)); });
    if (ok) return { child, port, dir };
    await new Promise(r => setTimeout(r, 100));
  }
  child.kill('SIGKILL');
  return null;
}
nginx = await startNginx();
log(nginx ? `nginx on port ${nginx.port}` : 'nginx: not installed, its rows are skipped');

// ---- case 1: large uploads ------------------------------------------------------------------
const failures = [];
function fail(what, why) { failures.push(`${what}: ${why}`); log(`FAILURE ${what}: ${why}`); }

const srcDir = path.join(work, 'src');
fs.mkdirSync(srcDir);
const one = [path.join(srcDir, 'big.mp4')];
fs.mkdirSync(path.join(srcDir, 'four'));   // a directory of their own: awscli sends it with --recursive
const four = Array.from({ length: MULTI }, (_, i) => path.join(srcDir, 'four', `quarter-${i}.mp4`));
log(`writing sources (${SIZE / MiB} MiB once, ${MULTI} x ${SIZE / MULTI / MiB} MiB)`);
randomFile(one[0], SIZE);
for (const f of four) randomFile(f, SIZE / MULTI);
const srcMd5 = new Map();
for (const f of [...one, ...four]) srcMd5.set(f, await md5File(f));
sh(`cat ${srcDir}/*.mp4 ${srcDir}/four/* > /dev/null`);   // every contender reads from the page cache

let seq = 0;
async function verify(what, objects, files) {
  if (objects.length !== files.length) return fail(what, `${objects.length} objects for ${files.length} files`);
  for (const o of objects) {
    let got;
    try { got = await storedMd5(o.bucket, o.key); } catch (e) { fail(what, e.message); continue; }
    if (got !== srcMd5.get(o.file)) fail(what, `MD5 of ${o.bucket}/${o.key} is ${got}, file ${srcMd5.get(o.file)}`);
    await request('DELETE', presign('DELETE', o.bucket, o.key));
  }
}
const fiveXX = (what, mark) => { const n = logSince(mark).filter(r => r.status >= 500).length; if (n) fail(what, `${n} answers 5xx`); };

const LARGE = {
  'dd conv=fdatasync': async files => {
    const r = await run(['bash', '-c', files.map((f, i) => `dd if=${f} of=${work}/dd-${i} bs=1M conv=fdatasync status=none &`).join(' ') + ' wait']);
    sh(`rm -f ${work}/dd-*`);
    return r;
  },
  'vodup upload (CLI, defaults)': async files => {
    const rec = path.join(work, `rec-${++seq}`);
    const r = await run([VODUP, 'upload', ...files, '--json', '-q', '--record-dir', rec], { env: CLI_ENV });
    const objs = r.stdout.trim().split('\n').filter(Boolean).map(l => JSON.parse(l)).filter(j => j.Status === 'UploadSucc' || j.Bucket);
    r.verify = () => verify('vodup upload', objs.map(j => ({ bucket: j.Bucket, key: j.Object, file: j.File ? path.resolve(j.File) : files[0] })), files);
    if (r.code !== 0) fail('vodup upload', `exit ${r.code}: ${r.stderr.slice(-300)}`);
    return r;
  },
  'curl PutObject (signed)': async files => {
    const keys = files.map(f => `curl-${++seq}-${path.basename(f)}`);
    const r = await run(['bash', '-c', files.map((f, i) => `curl -sSf -o /dev/null -H 'Expect:' -T ${f} 'http://127.0.0.1:${PORT}${presign('PUT', 'bench', keys[i])}' &`).join(' ') + ' fail=0; for j in $(jobs -p); do wait $j || fail=1; done; exit $fail']);
    r.verify = () => verify('curl PutObject', keys.map((k, i) => ({ bucket: 'bench', key: k, file: files[i] })), files);
    if (r.code !== 0) fail('curl PutObject', `exit ${r.code} ${r.stderr.slice(-300)}`);
    return r;
  },
  'ali-oss multipartUpload (8 MiB, parallel 4)': async files => {
    const arg = { mode: 'multipart', endpoint: ENDPOINT, creds, bucket: 'bench', parallel: 4, partSize: 8 * MiB,
                  files: files.map(f => ({ file: f, key: `alioss-${++seq}-${path.basename(f)}` })) };
    const r = await run(['node', path.join(ROOT, 'bench/lib/oss-peer.mjs'), JSON.stringify(arg)]);
    const j = JSON.parse(r.stdout.trim().split('\n').pop() || '{}');
    if (!j.ok) fail('ali-oss', j.error || `exit ${r.code}`);
    r.verify = () => verify('ali-oss', j.objects || [], files);
    return r;
  },
};
if (nginx) {
  LARGE['nginx WebDAV PUT + sync -d'] = async files => {
    const names = files.map(f => `ng-${++seq}-${path.basename(f)}`);
    const r = await run(['bash', '-c', files.map((f, i) => `(curl -sSf -o /dev/null -H 'Expect:' -T ${f} http://127.0.0.1:${nginx.port}/${names[i]} && sync -d ${nginx.dir}/dav/${names[i]}) &`).join(' ') + ' fail=0; for j in $(jobs -p); do wait $j || fail=1; done; exit $fail']);
    if (r.code !== 0) fail('nginx PUT', `exit ${r.code} ${r.stderr.slice(-300)}`);
    r.verify = async () => {
      for (let i = 0; i < files.length; i++) {
        const f = path.join(nginx.dir, 'dav', names[i]);
        if (!fs.existsSync(f) || await md5File(f) !== srcMd5.get(files[i])) fail('nginx PUT', `${names[i]} differs`);
        fs.rmSync(f, { force: true });
      }
    };
    return r;
  };
}
// awscli `s3 cp` with its defaults (8 MB parts, 10 requests at once), path-style, through
// vodupd's S3 dialect; several files as a user would send them: one `s3 cp --recursive` of
// their directory (one process, its 10 requests shared), not one Python process per file.
// awscli is slow on 2 cores (Python, MD5 of each part): its rows run BENCH_AWS_RUNS times
// (default 1) to keep `make bench` under 15 minutes.
const AWS = haveAws ? awsSession(srv, work, { partMiB: 0 }) : null;
const AWS_RUNS = num('BENCH_AWS_RUNS', 1);
const AWS_MULTI = process.env.BENCH_AWS_MULTI === '1';   // awscli in the 4-files case too (slow: 4 parallel Python uploads)
const awsKeys = (files, tag) => files.length === 1 ? [tag] : files.map(f => `${tag}/${path.basename(f)}`);
const awsCp = (endpoint, env, files, bucket, tag) =>
  run(['aws', '--endpoint-url', endpoint, 's3', 'cp', '--only-show-errors',
       ...(files.length === 1 ? [files[0], `s3://${bucket}/${tag}`] : ['--recursive', path.dirname(files[0]), `s3://${bucket}/${tag}`])], { env });
if (AWS) {
  LARGE['awscli s3 cp (S3 dialect, defaults)'] = async files => {
    const tag = `aws-${++seq}`; const keys = awsKeys(files, tag);
    const r = await awsCp(AWS.endpoint, AWS.env, files, 'bench', tag);
    if (r.code !== 0) fail('awscli s3 cp', `exit ${r.code} ${r.stderr.slice(-300)}`);
    r.verify = () => verify('awscli s3 cp', keys.map((k, i) => ({ bucket: 'bench', key: k, file: files[i] })), files);
    return r;
  };
}
// Ceph radosgw, started by scripts/scale/start (one mon, one OSD): its OSD keeps objects in
// RAM (memstore; a disk-backed OSD needs a block device or minutes of bluestore set-up), so
// its row is a bound radosgw cannot beat on this machine, not a durable upload. awscli
// uploads to it as above; the bytes are read back with curl's SigV4.
let rgw = null;
if (AWS && CASES.has('1') && process.env.BENCH_RGW !== '0' && (!ONLY || ONLY.test('awscli radosgw'))) {
  const dir = path.join(work, 'scale');
  const t = Date.now();
  const r = spawnSync(path.join(ROOT, 'scripts/scale/start'), ['--only', 'ceph', '--dir', dir], { encoding: 'utf8', timeout: 180000 });
  if (r.status === 0) {
    const env = Object.fromEntries(r.stdout.split('\n').map(l => /^(\w+)=(.*)$/.exec(l)).filter(Boolean).map(m => [m[1], m[2]]));
    rgw = { dir, env, startS: (Date.now() - t) / 1000,
            awsEnv: { ...AWS.env, AWS_ACCESS_KEY_ID: env.S3_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY: env.S3_SECRET_ACCESS_KEY } };
    log(`radosgw on ${env.S3_ENDPOINT} (started in ${rgw.startS.toFixed(0)} s)`);
  } else {
    rgw = { skipped: r.status === 77 ? 'Ceph is not installed (scripts/install-deps --scale)' : `scripts/scale/start failed (exit ${r.status}): ${(r.stderr || '').trim().split('\n').slice(-3).join(' ')}` };
    log(`radosgw: ${rgw.skipped}`);
  }
}
// Stop the Ceph daemons even when the run dies half-way (they are not our children).
process.on('exit', () => { if (rgw && rgw.dir && !rgw.stopped) spawnSync(path.join(ROOT, 'scripts/scale/stop'), [rgw.dir], { stdio: 'ignore' }); });
const rgwCurl = (method, key, extra = '') => `curl -sS -f -X ${method} --aws-sigv4 aws:amz:${rgw.env.S3_REGION}:s3 --user ${rgw.env.S3_ACCESS_KEY_ID}:${rgw.env.S3_SECRET_ACCESS_KEY} `
  + `-H 'x-amz-content-sha256: UNSIGNED-PAYLOAD' ${extra} ${rgw.env.S3_ENDPOINT}/${rgw.env.S3_BUCKET}/${key}`;
if (rgw && !rgw.skipped) {
  LARGE['awscli s3 cp to Ceph radosgw (memstore: RAM)'] = async files => {
    const tag = `aws-${++seq}`; const keys = awsKeys(files, tag);
    const r = await awsCp(rgw.env.S3_ENDPOINT, rgw.awsEnv, files, rgw.env.S3_BUCKET, tag);
    if (r.code !== 0) fail('awscli to radosgw', `exit ${r.code} ${r.stderr.slice(-300)}`);
    r.verify = async () => {
      for (let i = 0; i < files.length; i++) {
        const got = sh(`${rgwCurl('GET', keys[i])} | md5sum | cut -d' ' -f1`);
        if (got !== srcMd5.get(files[i])) fail('awscli to radosgw', `MD5 of ${keys[i]} is ${got}, file ${srcMd5.get(files[i])}`);
        sh(rgwCurl('DELETE', keys[i], '-o /dev/null'));
      }
    };
    return r;
  };
}
const VODUPD_ROWS = new Set(['vodup upload (CLI, defaults)', 'curl PutObject (signed)', 'ali-oss multipartUpload (8 MiB, parallel 4)', 'awscli s3 cp (S3 dialect, defaults)']);
const large = {};   // `${case}|${name}` -> [{wall, cpu, srvCpu}]
for (const [label, files] of CASES.has('1') ? [['1 file', one], [`${MULTI} files at once`, four]] : []) {
  const names = Object.keys(LARGE).filter(keep);
  for (let r = 0; r < (files === one ? RUNS : MULTI_RUNS); r++) {
    for (let k = 0; k < names.length; k++) {
      const name = names[(k + r) % names.length];   // rotate the order: no contender always first
      if (name.startsWith('awscli') && ((large[`${label}|${name}`] || []).length >= AWS_RUNS || (files !== one && !AWS_MULTI))) continue;
      const mark = srv.stderr().length;
      const c0 = procCpu(srv.pid);
      const res = await LARGE[name](files);
      const srvCpu = procCpu(srv.pid) - c0;
      fiveXX(name, mark);
      if (res.verify) await res.verify();
      (large[`${label}|${name}`] ||= []).push({ wall: res.wall, cpu: res.cpu, srvCpu: VODUPD_ROWS.has(name) ? srvCpu : null });
      log(`${label} run ${r + 1} ${name}: ${res.wall.toFixed(2)} s (client CPU ${res.cpu.toFixed(2)} s, vodupd CPU ${srvCpu.toFixed(2)} s)`);
    }
  }
}

// ---- case 1b: evidence for the analysis: per-part timing, syscalls, profile ---------------
const evidence = {};
if (CASES.has('4')) {
  // Syscall counts of vodupd during one upload (strace -c -f).
  if (spawnSync('sh', ['-c', 'command -v strace']).status === 0) {
    const out = path.join(work, 'strace.txt');
    const st = spawn('strace', ['-c', '-f', '-o', out, '-p', String(srv.pid)], { stdio: 'ignore' });
    await new Promise(res => setTimeout(res, 1000));
    const rr = await LARGE['vodup upload (CLI, defaults)'](one); await rr.verify();
    st.kill('SIGINT'); await new Promise(res => st.on('exit', res));
    evidence.strace = fs.existsSync(out) ? fs.readFileSync(out, 'utf8').split('\n').slice(0, 16).join('\n') : 'strace produced nothing';
    evidence.straceWall = rr.wall;
    // ... and of the client (the CLI and libvodup's transfer thread).
    const outc = path.join(work, 'strace-client.txt');
    const recc = path.join(work, `rec-${++seq}`);
    const rc = await run(['strace', '-c', '-f', '-o', outc, VODUP, 'upload', one[0], '--json', '-q', '--record-dir', recc], { env: CLI_ENV });
    const jc = JSON.parse(rc.stdout.trim().split('\n').pop() || '{}');
    await verify('vodup upload under strace', jc.Bucket ? [{ bucket: jc.Bucket, key: jc.Object, file: one[0] }] : [], one);
    evidence.straceClient = fs.existsSync(outc) ? fs.readFileSync(outc, 'utf8').split('\n').slice(0, 16).join('\n') : 'strace produced nothing';
    evidence.straceClientWall = rc.wall;
  }
  // Profile of vodupd (perf, cpu-clock: this VM has no hardware counters).
  const perfOk = spawnSync('perf', ['record', '-e', 'cpu-clock', '-o', path.join(work, 'probe.data'), '--', 'true'], { stdio: 'ignore' }).status === 0;
  if (perfOk) {
    const data = path.join(work, 'perf.data');
    const pr = spawn('perf', ['record', '-e', 'cpu-clock', '-F', '999', '-g', '-p', String(srv.pid), '-o', data], { stdio: 'ignore' });
    await new Promise(res => setTimeout(res, 1000));
    const mark = srv.stderr().length;
    const rr = await LARGE['vodup upload (CLI, defaults)'](one);
    pr.kill('SIGINT'); await new Promise(res => pr.on('exit', res));
    await rr.verify();
    // Per-part timing from vodupd's log of this upload (perf at 999 Hz costs little).
    const parts = logSince(mark).filter(x => x.op === 'UploadPart');
    evidence.parts = { n: parts.length, size: parts.length ? Math.max(...parts.map(p => p.in)) : 0, msMedian: median(parts.map(p => p.ms)),
                       msMax: Math.max(...parts.map(p => p.ms)), sumMs: parts.reduce((a, p) => a + p.ms, 0), wallMs: rr.wall * 1000 };
    evidence.perf = spawnSync('perf', ['report', '-i', data, '--stdio', '--no-children', '--sort', 'dso,symbol', '-g', 'none', '--percent-limit', '0.5'],
                              { encoding: 'utf8', maxBuffer: 64 * MiB }).stdout.split('\n').filter(l => l.trim() && !l.startsWith('#')).slice(0, 20).join('\n');
    evidence.perfDso = spawnSync('perf', ['report', '-i', data, '--stdio', '--no-children', '--sort', 'dso', '-g', 'none'],
                                 { encoding: 'utf8', maxBuffer: 64 * MiB }).stdout.split('\n').filter(l => l.trim() && !l.startsWith('#')).slice(0, 8).join('\n');
  } else {
    evidence.perf = '`perf record` does not work here (perf stat -e instructions true: not supported); no profile.';
  }
}
// What the client's knobs would give (one run each, same file): part size and parts in flight.
if (CASES.has('4')) evidence.whatIf = [];
for (const opts of CASES.has('4') ? [['--part-size', '32M', '--parallel', '8']] : []) {
  const mark = srv.stderr().length;
  const rec = path.join(work, `rec-${++seq}`);
  const c0 = procCpu(srv.pid);
  const r = await run([VODUP, 'upload', one[0], '--json', '-q', '--record-dir', rec, ...opts], { env: CLI_ENV });
  const srvCpu = procCpu(srv.pid) - c0;
  fiveXX(`vodup upload ${opts.join(' ')}`, mark);
  if (r.code !== 0) fail(`vodup upload ${opts.join(' ')}`, `exit ${r.code}: ${r.stderr.slice(-300)}`);
  const j = JSON.parse(r.stdout.trim().split('\n').pop() || '{}');
  await verify(`vodup upload ${opts.join(' ')}`, j.Bucket ? [{ bucket: j.Bucket, key: j.Object, file: one[0] }] : [], one);
  evidence.whatIf.push({ opts: opts.join(' '), wall: r.wall, cpu: r.cpu, srvCpu });
  log(`what-if vodup upload ${opts.join(' ')}: ${r.wall.toFixed(2)} s`);
}
log('evidence gathered');

// ---- case 2: many small uploads ---------------------------------------------------------------
const imgDir = path.join(work, 'img');
fs.mkdirSync(imgDir);
const NIMG_MADE = CASES.has('2') ? NIMG : 0;
const PNG = Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]);
const images = [];
for (let i = 0; i < NIMG_MADE; i++) {
  const f = path.join(imgDir, `img-${String(i).padStart(5, '0')}.png`);
  fs.writeFileSync(f, Buffer.concat([PNG, crypto.randomBytes(64 * 1024 - PNG.length)]));
  images.push(f);
}
for (const f of images) srcMd5.set(f, crypto.createHash('md5').update(fs.readFileSync(f)).digest('hex'));
const SMALL = {
  'durable-file ceiling (8 writers: write+fdatasync+rename)': async () => {
    const d = path.join(work, `ceil-${++seq}`); fs.mkdirSync(d);
    const r = await run([TOOLS, 'ceiling', d, String(NIMG), '8']);
    fs.rmSync(d, { recursive: true, force: true });
    if (r.code !== 0) fail('ceiling', r.stdout);
    return r;
  },
  'vodup image upload (CLI, one process)': async () => {
    const r = await run([VODUP, 'image', 'upload', ...images, '--json', '-q', '--record-dir', path.join(work, `rec-${++seq}`)], { env: CLI_ENV });
    if (r.code !== 0) fail('vodup image upload', `exit ${r.code}: ${r.stderr.slice(-300)}`);
    const objs = r.stdout.trim().split('\n').filter(Boolean).map(l => JSON.parse(l));
    r.verify = () => verify('vodup image upload', objs.map(j => ({ bucket: j.Bucket, key: j.Object, file: path.resolve(j.File) })), images);
    return r;
  },
  'pop-core + ali-oss, 8 at once': async () => {
    const r = await run(['node', path.join(ROOT, 'bench/lib/oss-peer.mjs'), JSON.stringify({ mode: 'images', endpoint: ENDPOINT, creds, files: images, concurrency: 8 })]);
    const j = JSON.parse(r.stdout.trim().split('\n').pop() || '{}');
    if (!j.ok) fail('pop-core + ali-oss', j.error || `exit ${r.code}`);
    r.verify = () => verify('pop-core + ali-oss', j.objects || [], images);
    return r;
  },
};
const small = {};
if (CASES.has('2')) {
  const names = Object.keys(SMALL).filter(keep);
  for (let r = 0; r < SMALL_RUNS; r++) {
    for (let k = 0; k < names.length; k++) {
      const name = names[(k + r) % names.length];
      const mark = srv.stderr().length;
      const c0 = procCpu(srv.pid);
      const res = await SMALL[name]();
      const srvCpu = procCpu(srv.pid) - c0;
      fiveXX(name, mark);
      if (res.verify) await res.verify();
      const ops = {};
      for (const x of logSince(mark)) ops[x.op] = (ops[x.op] || 0) + 1;
      (small[name] ||= []).push({ wall: res.wall, rate: NIMG / res.wall, cpu: res.cpu, srvCpu, ops });
      log(`small run ${r + 1} ${name}: ${(NIMG / res.wall).toFixed(0)}/s`);
    }
  }
}

// ---- case 3: concurrency and memory ----------------------------------------------------------
const conc = { n: NCONN, hold: HOLD };
if (CASES.has('3')) {
  const before = procStatus(srv.pid);
  const rate = 1000;                               // bytes per second per connection: 2x --min-body-rate's 500
  const len = rate * (HOLD + 2);
  const socks = [];
  let done = 0, ok = 0, bad = 0;
  const finished = new Promise(resolve => {
    for (let i = 0; i < NCONN; i++) {
      const body = crypto.randomBytes(len);
      const want = `"${crypto.createHash('md5').update(body).digest('hex').toUpperCase()}"`;
      const s = net.connect(PORT, '127.0.0.1');
      let resp = '', sent = 0, timer = null;
      s.setEncoding('latin1');
      s.on('connect', () => {
        s.write(`PUT ${presign('PUT', 'bench', `slow-${i}`)} HTTP/1.1\r\nHost: 127.0.0.1:${PORT}\r\nContent-Length: ${len}\r\nConnection: close\r\n\r\n`);
        const tick = () => { const n = Math.min(rate, len - sent); s.write(body.subarray(sent, sent + n)); sent += n; if (sent < len) timer = setTimeout(tick, 1000); };
        timer = setTimeout(tick, Math.random() * 1000);
      });
      s.on('data', d => { resp += d; });
      const end = () => { clearTimeout(timer); if (s.counted) return; s.counted = true;
        const m = /^HTTP\/1\.1 (\d+)/.exec(resp); const etag = /\r\nETag: ("[^"]+")/i.exec(resp);
        if (m && m[1] === '200' && etag && etag[1] === want) ok++; else bad++;
        if (++done === NCONN) resolve(); };
      s.on('close', end); s.on('error', () => {});
      socks.push(s);
    }
  });
  await new Promise(r => setTimeout(r, (HOLD / 2) * 1000));
  const during = procStatus(srv.pid);
  const timeout = new Promise(r => setTimeout(() => r('timeout'), (HOLD + 60) * 1000));
  const how = await Promise.race([finished, timeout]);
  if (how === 'timeout') { for (const s of socks) s.destroy(); fail('slow uploads', `${NCONN - done} did not finish`); }
  const after = procStatus(srv.pid);
  Object.assign(conc, { before, during, after, ok, bad, rate, len });
  if (bad) fail('slow uploads', `${bad} of ${NCONN} failed`);
  const objsDel = Array.from({ length: NCONN }, (_, i) => `slow-${i}`);
  for (const k of objsDel) await request('DELETE', presign('DELETE', 'bench', k));
  log(`slow uploads: ${ok} ok, ${bad} failed; RSS ${before.rssKiB} -> ${during.rssKiB} KiB, fds ${before.fds} -> ${during.fds}, threads ${before.threads} -> ${during.threads}`);
}

// ---- case 4: hashing floors ------------------------------------------------------------------
const hashes = CASES.has('4') ? JSON.parse((await run([TOOLS, 'hash', QUICK ? '256' : '1024'])).stdout) : null;
if (hashes) log(`MD5 ${hashes.md5_mbs} MB/s, CRC-64 ${hashes.crc64_mbs} MB/s`);

// ---- case 5: resume cost -----------------------------------------------------------------------
const RESUME_FILE = four[0];   // a quarter of the large size: what is re-sent depends on the parts in flight, not the size
const RESUME_SIZE = SIZE / MULTI;
async function killAtHalf(startChild, what) {
  const mark = srv.stderr().length;
  let child;
  const p = run(startChild(), { env: CLI_ENV, onSpawn: c => { child = c; } });
  for (;;) {
    const got = logSince(mark).filter(x => x.op === 'UploadPart').reduce((a, x) => a + x.in, 0);
    if (got >= RESUME_SIZE / 2) break;
    await new Promise(r => setTimeout(r, 20));
  }
  // SIGKILL the uploader itself (bash's child), not only bash.
  const kids = sh(`pgrep -P ${child.pid}`).split('\n').filter(Boolean);
  for (const k of kids) process.kill(Number(k), 'SIGKILL');
  const r1 = await p;
  // A file of a part or two can finish before the kill lands: then there is nothing to resume.
  if (r1.code === 0 && !r1.signal) return null;
  await new Promise(r => setTimeout(r, 300));   // vodupd logs the cut requests
  const first = logSince(mark).filter(x => x.op === 'UploadPart').reduce((a, x) => a + x.in, 0);
  const mark2 = srv.stderr().length;
  const r2 = await run(startChild(), { env: CLI_ENV });
  const second = logSince(mark2).filter(x => x.op === 'UploadPart').reduce((a, x) => a + x.in, 0);
  if (r2.code !== 0) fail(`resume ${what}`, `exit ${r2.code}: ${r2.stderr.slice(-300)} ${r2.stdout.slice(-300)}`);
  return { first, second, resent: first + second - RESUME_SIZE, r2 };
}
const resume = {};
if (CASES.has('5')) {
  const rec = path.join(work, 'rec-resume');
  const v = await killAtHalf(() => [VODUP, 'upload', RESUME_FILE, '--json', '-q', '--record-dir', rec], 'vodup');
  const j = v ? JSON.parse(v.r2.stdout.trim().split('\n').pop() || '{}') : {};
  if (v) await verify('resume vodup', j.Bucket ? [{ bucket: j.Bucket, key: j.Object, file: RESUME_FILE }] : [], [RESUME_FILE]);
  resume.vodup = v;
  const cpt = path.join(work, 'alioss.cpt');
  const arg = { mode: 'multipart', endpoint: ENDPOINT, creds, bucket: 'bench', parallel: 4, partSize: 8 * MiB, checkpoint: cpt,
                files: [{ file: RESUME_FILE, key: 'alioss-resume' }] };
  const a = await killAtHalf(() => ['node', path.join(ROOT, 'bench/lib/oss-peer.mjs'), JSON.stringify(arg)], 'ali-oss');
  const aj = a ? JSON.parse(a.r2.stdout.trim().split('\n').pop() || '{}') : { ok: true };
  if (!aj.ok) fail('resume ali-oss', aj.error);
  if (a) await verify('resume ali-oss', aj.objects || [], [RESUME_FILE]);
  resume.alioss = a;
  log(`resume: vodup re-sent ${v ? v.resent : '-'} B, ali-oss ${a ? a.resent : '-'} B`);
}


// ---- case 6: browser: a 200 MiB upload from headless Chromium -----------------------------------
// The same page twice: once with vodup's web SDK (served by vodupd at /sdk/vodup-upload.js),
// once with ali-oss's browser build (node_modules/ali-oss/dist, inlined). Both get their
// upload address and credentials from an application server's /api/create (VOD
// CreateUploadVideo: tests/browser/lib/browser.mjs), and time from the call to the end.
// The issue asks for 200 MiB; both SDKs send about 1 MB/s in this headless Chromium (see the
// probe below), so the default is 32 MiB, one run each, to keep `make bench` under 15 min.
const browserCase = { runs: {}, skipped: null, size: num('BENCH_BROWSER_MB', QUICK ? 16 : 32) * MiB };
const BROWSER_RUNS = num('BENCH_BROWSER_RUNS', 1);
if (CASES.has('6')) {
  const ALI_DIST = path.join(ROOT, 'node_modules/ali-oss/dist/aliyun-oss-sdk.min.js');
  let lib = null;
  try { lib = await import(path.join(ROOT, 'tests/browser/lib/browser.mjs')); } catch (e) { browserCase.skipped = `playwright-core not importable (${e.message.split('\n')[0]})`; }
  if (lib && !lib.haveChromium()) browserCase.skipped = 'no Chromium (scripts/install-deps installs it)';
  if (lib && !browserCase.skipped) {
    const file = path.join(srcDir, 'browser.mp4');
    randomFile(file, browserCase.size);
    srcMd5.set(file, await md5File(file));
    const create = `async function create(file) {
        const r = await fetch('/api/create', { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ Title: 'bench', FileName: file.name }) });
        if (!r.ok) throw new Error('/api/create: ' + r.status);
        const j = await r.json(); window.addr = JSON.parse(atob(j.UploadAddress)); return j;
      }`;
    const head = `<!doctype html><meta charset="utf-8"><input type="file" id="f">`;
    const vodupPage = `${head}<script src="${ENDPOINT}/sdk/vodup-upload.js"></script><script>${create}
      window.run = async o => {
        const file = document.getElementById('f').files[0];
        const t0 = performance.now();
        const up = VodupUpload.createUploader({ ...o, getAuth: async ({ kind, videoId }) => kind === 'refresh-video'
          ? (await fetch('/api/refresh', { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ VideoId: videoId }) })).json()
          : create(file) });
        await up.upload(file, { title: 'bench' });
        return { ms: performance.now() - t0, bucket: window.addr.Bucket, key: window.addr.FileName };
      };</script>`;
    const aliPage = `${head}<script>${fs.readFileSync(ALI_DIST, 'utf8')}</script><script>${create}
      window.run = async o => {
        const file = document.getElementById('f').files[0];
        const t0 = performance.now();
        const j = await create(file);
        const auth = JSON.parse(atob(j.UploadAuth));
        const oss = new OSS({ endpoint: window.addr.Endpoint, bucket: window.addr.Bucket, region: 'oss-cn-hangzhou', secure: false,
                              accessKeyId: auth.AccessKeyId, accessKeySecret: auth.AccessKeySecret, stsToken: auth.SecurityToken, timeout: 600000 });
        await oss.multipartUpload(window.addr.FileName, file, { partSize: o.partSize, parallel: o.parallel });
        return { ms: performance.now() - t0, bucket: window.addr.Bucket, key: window.addr.FileName };
      };</script>`;
    const app = await lib.startAppServer(srv, { pages: { '/vodup.html': vodupPage, '/ali-oss.html': aliPage } });
    const browser = await lib.launch();
    const BROWSER = {
      'vodup web SDK (defaults: 1 MiB parts, 5 at once)': ['/vodup.html', {}],
      'vodup web SDK (8 MiB parts, 4 at once)': ['/vodup.html', { partSize: 8 * MiB, parallel: 4 }],
      'ali-oss browser multipartUpload (8 MiB, parallel 4)': ['/ali-oss.html', { partSize: 8 * MiB, parallel: 4 }],
    };
    try {
      const names = Object.keys(BROWSER).filter(keep);
      for (let r = 0; r < BROWSER_RUNS; r++) {
        for (let k = 0; k < names.length; k++) {
          const name = names[(k + r) % names.length];
          const [pagePath, opts] = BROWSER[name];
          const page = await browser.newPage();
          const errors = [];
          page.on('pageerror', e => errors.push(String(e)));
          await page.goto(`${app.origin}${pagePath}`);
          await page.setInputFiles('#f', file);
          const mark = srv.stderr().length;
          const c0 = procCpu(srv.pid);
          let res = null;
          try { res = await page.evaluate(o => window.run(o), opts); } catch (e) { fail(name, e.message.split('\n')[0]); }
          const srvCpu = procCpu(srv.pid) - c0;
          await page.close();
          fiveXX(name, mark);
          if (errors.length) fail(name, `page errors: ${errors.join('; ').slice(0, 300)}`);
          if (!res) continue;
          await verify(name, [{ bucket: res.bucket, key: res.key, file }], [file]);
          (browserCase.runs[name] ||= []).push({ wall: res.ms / 1000, srvCpu });
          const reqs = logSince(mark), byOp = {};
          for (const x of reqs) (byOp[x.op] ||= []).push(x.ms);
          log(`browser run ${r + 1} ${name}: ${(res.ms / 1000).toFixed(2)} s; vodupd: ${Object.entries(byOp).map(([op, ms]) => `${op} ${ms.length} (median ${median(ms).toFixed(0)} ms)`).join(', ')}`);
        }
      }
      // Probe: the same 8 MiB of the file PUT by one XMLHttpRequest, as a File slice (the
      // browser streams it from disk) and as an ArrayBuffer read from it (what ali-oss's browser build sends; vodup's web SDK reads the part only for its CRC and sends the slice).
      const page = await browser.newPage();
      await page.goto(`${app.origin}/vodup.html`);
      await page.setInputFiles('#f', file);
      const url = `http://127.0.0.1:${PORT}${presign('PUT', 'bench', 'browser-probe')}`;
      browserCase.probe = await page.evaluate(async u => {
        const f = document.getElementById('f').files[0], n = Math.min(f.size, 8 * 1048576), out = {};
        const put = body => new Promise(res => { const x = new XMLHttpRequest(); x.open('PUT', u); x.onload = () => res(x.status); x.onerror = () => res(0); x.send(body); });
        let t0 = performance.now(); out.sliceStatus = await put(f.slice(0, n)); out.sliceMs = performance.now() - t0;
        t0 = performance.now(); const ab = await f.slice(0, n).arrayBuffer(); out.readMs = performance.now() - t0;
        t0 = performance.now(); out.bufStatus = await put(ab); out.bufMs = performance.now() - t0;
        out.bytes = n;
        return out;
      }, url);
      await page.close();
      if (browserCase.probe.sliceStatus !== 200 || browserCase.probe.bufStatus !== 200) fail('browser probe', JSON.stringify(browserCase.probe));
      log(`browser probe: ${JSON.stringify(browserCase.probe)}`);
      await request('DELETE', presign('DELETE', 'bench', 'browser-probe'));
    } finally {
      await browser.close();
      await app.close();
    }
  }
  if (browserCase.skipped) log(`browser case skipped: ${browserCase.skipped}`);
}

// ---- the report -------------------------------------------------------------------------------
srv._child.kill('SIGTERM');
await srv.exited;
if (nginx) { nginx.child.kill('SIGTERM'); await new Promise(r => nginx.child.on('exit', r)); }
if (rgw && !rgw.skipped) { spawnSync(path.join(ROOT, 'scripts/scale/stop'), [rgw.dir], { stdio: 'ignore' }); rgw.stopped = true; }
agent.destroy();

const cpuModel = (/model name\s*:\s*(.*)/.exec(fs.readFileSync('/proc/cpuinfo', 'utf8')) || [])[1] || os.cpus()[0]?.model;
const fsType = sh(`df -T ${work} | awk 'NR==2{print $2" on "$1}'`);
const load = os.loadavg().map(x => x.toFixed(1)).join(', ');
const GiB = SIZE / (1024 * MiB);
const L = [];
L.push(`# vodup benchmark: ${new Date().toISOString().slice(0, 16)}Z (${QUICK ? 'quick' : 'full'} mode)`, '');
if (process.env.BENCH_NOTE) L.push(`**${process.env.BENCH_NOTE}**`, '');
L.push(`Machine: ${os.cpus().length} CPUs (nproc ${sh('nproc')}), ${(os.totalmem() / 2 ** 30).toFixed(1)} GiB memory, ${cpuModel}; file system ${fsType}; `
  + `Linux ${os.release()}; load average at the end ${load}. Runs per case: ${RUNS} (4 files: ${MULTI_RUNS}; small uploads: ${SMALL_RUNS}), interleaved (order rotated each run). `
  + `Every upload was read back (GetObject) and its MD5 compared with the file's; any 5xx, non-zero exit or mismatch counts as a failure.`, '');
L.push(`Failures: ${failures.length ? failures.map(f => `\n- ${f}`).join('') : 'none'}`, '');
const ratio = (ours, x) => ours / x;
const OURS = 'vodup upload (CLI, defaults)';
for (const label of CASES.has('1') ? ['1 file', `${MULTI} files at once`] : []) {
  const each = label === '1 file' ? `${SIZE / MiB} MiB` : `${MULTI} × ${SIZE / MULTI / MiB} MiB (same total)`;
  L.push(`## 1. Large upload, durable: ${label}, ${each}`, '');
  L.push('| contender | median s | min s | max s | MB/s (median) | share of dd (dd s / s) | vodup upload s / this s | client CPU s/GiB | vodupd CPU s/GiB |', '|---|---|---|---|---|---|---|---|---|');
  const dd = median(large[`${label}|dd conv=fdatasync`].map(x => x.wall));
  const ours = large[`${label}|${OURS}`] ? median(large[`${label}|${OURS}`].map(x => x.wall)) : NaN;
  for (const name of Object.keys(LARGE).filter(n => large[`${label}|${n}`])) {
    const xs = large[`${label}|${name}`]; const w = xs.map(x => x.wall); const m = median(w);
    const sc = xs[0].srvCpu === null ? null : median(xs.map(x => x.srvCpu)) / GiB;
    L.push(`| ${name} | ${fmt(m)} | ${fmt(Math.min(...w))} | ${fmt(Math.max(...w))} | ${fmt(SIZE / m / 1e6, 0)} | ${fmt(dd / m)} | ${fmt(ratio(ours, m))} | ${fmt(median(xs.map(x => x.cpu)) / GiB)} | ${fmt(sc)} |`);
  }
  L.push('');
}
if (CASES.has('1')) {
  const notes = ['nginx stores a PUT without flushing it: its row adds `sync -d` of the stored file, so it too ends durable.',
    '`vodup upload` runs with its defaults (part size 1/32 of the file within 1-8 MiB, 4 parts in flight per file, 2 files at once).'];
  if (!AWS) notes.push('Not measured: awscli (not installed).');
  else notes.push(`awscli runs with its defaults (8 MB parts, 10 requests at once), path-style: one \`aws s3 cp\` (of the directory, --recursive, for several files); ${AWS_MULTI ? '' : 'in the 1-file case only, '}${AWS_RUNS} run${AWS_RUNS > 1 ? 's' : ''}.`);
  if (rgw && rgw.skipped) notes.push(`Ceph radosgw not measured: ${rgw.skipped}.`);
  else if (rgw) notes.push(`Ceph radosgw (Debian's, started by scripts/scale/start in ${fmt(rgw.startS, 0)} s: one mon, one OSD) keeps objects in RAM (memstore: a disk-backed OSD needs a block device or a long bluestore set-up), so its row is not durable: a bound for radosgw on this machine, not a like-for-like figure.`);
  L.push(notes.join(' '), '');
}
if (CASES.has('2')) {
  L.push(`## 2. Many small uploads: ${NIMG} images of 64 KiB, each CreateUploadImage + PutObject`, '');
  L.push('| contender | median /s | min /s | max /s | share of ceiling | vodup image upload rate / this | client CPU s | vodupd CPU s |', '|---|---|---|---|---|---|---|---|');
  const ceil = median(small['durable-file ceiling (8 writers: write+fdatasync+rename)'].map(x => x.rate));
  const oursS = small['vodup image upload (CLI, one process)'] ? median(small['vodup image upload (CLI, one process)'].map(x => x.rate)) : NaN;
  for (const [name, xs] of Object.entries(small)) {
    const r = xs.map(x => x.rate); const m = median(r);
    L.push(`| ${name} | ${fmt(m, 0)} | ${fmt(Math.min(...r), 0)} | ${fmt(Math.max(...r), 0)} | ${fmt(m / ceil)} | ${fmt(oursS / m)} | ${fmt(median(xs.map(x => x.cpu)))} | ${name.startsWith('durable') ? '–' : fmt(median(xs.map(x => x.srvCpu)))} |`);
  }
  L.push('', 'Requests vodupd logged per image (last run), by operation: ' + Object.entries(small).filter(([n]) => !n.startsWith('durable'))
    .map(([n, xs]) => `${n}: ${Object.entries(xs[xs.length - 1].ops).map(([op, c]) => `${op} ${fmt(c / NIMG)}`).join(', ')}`).join('; ') + '.', '');
}
if (conc.during) {
  L.push(`## 3. Concurrency and memory: ${conc.n} slow uploads held ${conc.hold} s`, '');
  L.push(`Each connection sends its head at once, then ${conc.rate} B/s (twice vodupd's default --min-body-rate of 500 B/s over 30 s windows) for ${conc.len} bytes; vodupd runs with --max-connections-per-ip 0 (all come from 127.0.0.1; the default per-address cap is 256). Sampled at ${conc.hold / 2} s.`, '');
  L.push('| | before | during | after | per connection (during − before) |', '|---|---|---|---|---|');
  L.push(`| vodupd RSS KiB | ${conc.before.rssKiB} | ${conc.during.rssKiB} | ${conc.after.rssKiB} | ${fmt((conc.during.rssKiB - conc.before.rssKiB) / conc.n, 1)} KiB |`);
  L.push(`| file descriptors | ${conc.before.fds} | ${conc.during.fds} | ${conc.after.fds} | ${fmt((conc.during.fds - conc.before.fds) / conc.n, 2)} |`);
  L.push(`| threads | ${conc.before.threads} | ${conc.during.threads} | ${conc.after.threads} | – |`);
  L.push('', `Completed with 200 and the right ETag (MD5): ${conc.ok}; failed: ${conc.bad}.`, '');
}
if (CASES.has('4')) {
  L.push('## 4. CPU', '');
  L.push(`Floor on this machine (bench-tools, one core, in memory, per CPU second): MD5 (OpenSSL) ${fmt(hashes.md5_mbs, 0)} MB/s, CRC-64 (ISA-L crc64_ecma_refl) ${fmt(hashes.crc64_mbs, 0)} MB/s: `
    + `MD5 + CRC-64 = ${fmt(2 ** 30 / 1e6 / hashes.md5_mbs + 2 ** 30 / 1e6 / hashes.crc64_mbs)} CPU s per GiB. Server and client CPU s/GiB per contender are in the tables of case 1.`, '');
  L.push('vodupd profile during one `vodup upload` of the large file (perf record -e cpu-clock -g; top 20 by self time, dso and symbol):', '', '```', evidence.perf || '', '```', '');
  if (evidence.perfDso) L.push('The same profile by shared object:', '', '```', evidence.perfDso, '```', '');
  if (evidence.strace) L.push(`vodupd syscalls during one \`vodup upload\` of the large file (strace -c -f; that upload took ${fmt(evidence.straceWall)} s under strace):`, '', '```', evidence.strace, '```', '');
  if (evidence.straceClient) L.push(`The client's syscalls during one \`vodup upload\` of the large file (strace -c -f vodup upload; ${fmt(evidence.straceClientWall)} s under strace):`, '', '```', evidence.straceClient, '```', '');
  if (evidence.parts) L.push(`Parts of one \`vodup upload\` of ${SIZE / MiB} MiB (vodupd log, the profiled run): ${evidence.parts.n} UploadPart requests of ${(evidence.parts.size / MiB).toFixed(2)} MiB; per part ms median ${fmt(evidence.parts.msMedian, 1)}, max ${fmt(evidence.parts.msMax, 1)}; sum of part times ${fmt(evidence.parts.sumMs / 1000)} s over ${fmt(evidence.parts.wallMs / 1000)} s that the CLI ran (average parts being received by vodupd ${fmt(evidence.parts.sumMs / evidence.parts.wallMs)}).`, '');
}
if (evidence.whatIf && large['1 file|dd conv=fdatasync']) {
  const m1 = n => (large[`1 file|${n}`] ? median(large[`1 file|${n}`].map(x => x.wall)) : NaN);
  const dd1 = m1('dd conv=fdatasync'), ali1 = m1('ali-oss multipartUpload (8 MiB, parallel 4)'), def1 = m1(OURS);
  L.push(`What the client's part size and parts in flight would give: \`vodup upload\` of the ${SIZE / MiB} MiB file, one run each after the timed runs (compare with the medians of case 1: defaults ${fmt(def1)} s, dd ${fmt(dd1)} s, ali-oss ${fmt(ali1)} s):`, '');
  L.push('| vodup upload options | s | share of dd | ali-oss s / this s | client CPU s/GiB | vodupd CPU s/GiB |', '|---|---|---|---|---|---|');
  L.push(`| (defaults, median of case 1) | ${fmt(def1)} | ${fmt(dd1 / def1)} | ${fmt(ali1 / def1)} | – | – |`);
  for (const w of evidence.whatIf) L.push(`| \`${w.opts}\` | ${fmt(w.wall)} | ${fmt(dd1 / w.wall)} | ${fmt(ali1 / w.wall)} | ${fmt(w.cpu / GiB)} | ${fmt(w.srvCpu / GiB)} |`);
  L.push('');
}
if (CASES.has('5')) {
  L.push(`## 5. Resume cost: a ${RESUME_SIZE / MiB} MiB file, SIGKILL at ~50% (by UploadPart bytes vodupd logged), then the same command again`, '');
  L.push('| uploader | bytes received before the kill | bytes received after | re-sent (total − size) | re-sent in MiB |', '|---|---|---|---|---|');
  for (const [n, r] of [['vodup upload (CLI, resume record)', resume.vodup], ['ali-oss multipartUpload + checkpoint (8 MiB, parallel 4)', resume.alioss]]) {
    L.push(r ? `| ${n} | ${r.first} | ${r.second} | ${r.resent} | ${fmt(r.resent / MiB, 2)} |` : `| ${n} | finished before the kill (file too small) | – | – | – |`);
  }
}
if (CASES.has('6')) {
  L.push('', `## 6. Browser: a ${browserCase.size / MiB} MiB upload from headless Chromium`, '');
  if (browserCase.skipped) L.push(`Not measured: ${browserCase.skipped}.`);
  else {
    L.push(`Debian's Chromium (headless, driven by playwright-core), one page per run; each gets its address and credentials from an application server's CreateUploadVideo and is timed from that call to the end of the upload. Runs: ${BROWSER_RUNS}, interleaved.`, '');
    L.push('| contender | median s | min s | max s | MB/s (median) | vodup web SDK (defaults) s / this s | vodupd CPU s/GiB |', '|---|---|---|---|---|---|---|');
    const def = browserCase.runs['vodup web SDK (defaults: 1 MiB parts, 5 at once)'];
    const ours = def ? median(def.map(x => x.wall)) : NaN;
    for (const [name, xs] of Object.entries(browserCase.runs)) {
      const w = xs.map(x => x.wall); const m = median(w);
      L.push(`| ${name} | ${fmt(m)} | ${fmt(Math.min(...w))} | ${fmt(Math.max(...w))} | ${fmt(browserCase.size / m / 1e6, 1)} | ${fmt(ours / m)} | ${fmt(median(xs.map(x => x.srvCpu)) / (browserCase.size / 2 ** 30))} |`);
    }
    const pr = browserCase.probe;
    if (pr) L.push('', `Where the time goes (the same page, one XMLHttpRequest PUT of the file's first ${fmt(pr.bytes / MiB, 0)} MiB to vodupd): as a File slice ${fmt(pr.sliceMs, 0)} ms; `
      + `as an ArrayBuffer read from it (what ali-oss's browser build sends) ${fmt(pr.readMs, 0)} ms to read + ${fmt(pr.bufMs, 0)} ms to send. `
      + 'vodup\'s web SDK reads a part only to compute its CRC-64 and sends the slice; vodupd answers an 8 MiB UploadPart in ~0.1 s (its log).');
  }
}
L.push('', `Total time of \`make bench\` (this run): ${((Date.now() - T0) / 1000).toFixed(0)} s.`, '');
fs.mkdirSync(path.dirname(OUT), { recursive: true });
fs.writeFileSync(OUT, L.join('\n'));
log(`wrote ${OUT}${failures.length ? `; ${failures.length} FAILURES` : ''}`);
fs.rmSync(work, { recursive: true, force: true });
process.exit(failures.length ? 1 : 0);
