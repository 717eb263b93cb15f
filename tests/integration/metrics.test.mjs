// /healthz and /metrics on the admin listener (--admin-listen, project issue 12):
//  - /metrics is Prometheus text that Debian's prometheus_client parser reads, and its
//    counters move as uploads happen: requests by dialect/operation/status, bytes in, the
//    latency histogram, open multipart uploads, connections;
//  - /healthz answers 200 {"status":"ok"} when the database answers, the data dir is
//    writable and free space is above the disk reserve, and 503 naming the failing check;
//  - the public port does not serve them: "healthz" and "metrics" stay OSS bucket names.

import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import http from 'node:http';
import { startVodupd, withLogs, SLOW, cleanupTmpDirs, randomBuf, signedRequest, waitFor, plainRequest } from '../compat/lib/vodupd.mjs';
import { stopServer, vodClient } from '../compat/lib/vod.mjs';

const T = { timeout: 120000 * SLOW };
// Debian's python3 (python3-prometheus-client), not whatever python3 is first on PATH.
const PYTHON = '/usr/bin/python3';
const PARSE = `
import json, sys
from prometheus_client.parser import text_string_to_metric_families
out = []
for fam in text_string_to_metric_families(sys.stdin.read()):
    for s in fam.samples:
        out.append({"family": fam.name, "type": fam.type, "name": s.name, "labels": s.labels, "value": s.value})
print(json.dumps(out))
`;

function get(port, p) {
  return new Promise((resolve, reject) => {
    http.get({ host: '127.0.0.1', port, path: p, agent: false }, res => {
      const chunks = [];
      res.on('data', c => chunks.push(c));
      res.on('end', () => resolve({ status: res.statusCode, headers: res.headers, text: Buffer.concat(chunks).toString() }));
    }).on('error', reject);
  });
}

function adminPort(s) {
  const m = /admin \(\/healthz, \/metrics\) on http:\/\/127\.0\.0\.1:(\d+)/.exec(s.stderr());
  assert.ok(m, `no admin listening line:\n${s.stderr()}`);
  return Number(m[1]);
}

/** Scrapes /metrics and parses it with prometheus_client; the samples. */
async function scrape(port) {
  const r = await get(port, '/metrics');
  assert.equal(r.status, 200);
  assert.match(r.headers['content-type'], /^text\/plain; version=0\.0\.4/);
  const p = spawnSync(PYTHON, ['-c', PARSE], { input: r.text, encoding: 'utf8' });
  assert.equal(p.status, 0, `prometheus_client could not parse /metrics:\n${p.stderr}\n${r.text}`);
  return JSON.parse(p.stdout);
}

const value = (samples, name, labels = {}) => samples
  .filter(s => s.name === name && Object.entries(labels).every(([k, v]) => s.labels[k] === v))
  .reduce((a, s) => a + s.value, 0);

let srv, port;

before(withLogs(async () => {
  srv = await startVodupd({ extraArgs: ['--admin-listen', '127.0.0.1:0'] });
  port = adminPort(srv);
}));

after(async () => {
  if (srv) await stopServer(srv);
  cleanupTmpDirs();
}, T);

describe('admin listener', () => {
  it('/metrics parses and its counters follow uploads', T, withLogs(async () => {
    const oss = srv.client({ bucket: 'metered' });
    await oss.putBucket('metered');
    const m0 = await scrape(port);
    const body = randomBuf(10000);
    await oss.put('a.bin', body);
    await oss.put('b.bin', body);
    await oss.initMultipartUpload('open.bin');
    const cr = await vodClient(srv).request('CreateUploadVideo', { Title: 't', FileName: 't.mp4' }, { method: 'POST' });
    assert.ok(cr.VideoId);
    const put = { dialect: 'oss', operation: 'PutObject', status: '200' };
    const cu = { dialect: 'rpc', operation: 'CreateUploadVideo', status: '200' };
    const count = l => value(l, 'vodupd_request_duration_seconds_count', { dialect: 'oss' });
    // A request is counted when it completes, which may be just after its answer arrived.
    let m1;
    await waitFor(async () => {
      m1 = await scrape(port);
      return value(m1, 'vodupd_requests_total', put) - value(m0, 'vodupd_requests_total', put) >= 2 &&
        value(m1, 'vodupd_requests_total', cu) - value(m0, 'vodupd_requests_total', cu) >= 1 && count(m1) - count(m0) >= 3;
    }, { timeout: 5000 * SLOW, what: 'the requests to be counted' });

    assert.equal(value(m1, 'vodupd_requests_total', put) - value(m0, 'vodupd_requests_total', put), 2);
    assert.equal(value(m1, 'vodupd_received_bytes_total', put) - value(m0, 'vodupd_received_bytes_total', put), 20000);
    assert.equal(value(m1, 'vodupd_requests_total', cu) - value(m0, 'vodupd_requests_total', cu), 1);
    assert.ok(value(m1, 'vodupd_sent_bytes_total', cu) > 0, 'the RPC answer bytes are counted');
    assert.equal(value(m1, 'vodupd_multipart_uploads_open') - value(m0, 'vodupd_multipart_uploads_open'), 1);
    assert.ok(count(m1) - count(m0) >= 3, 'the latency histogram counts the OSS requests');
    const inf = m1.find(s => s.name === 'vodupd_request_duration_seconds_bucket' && s.labels.le === '+Inf' &&
                        s.labels.dialect === 'oss');
    assert.equal(inf.value, count(m1), 'the +Inf bucket holds every request');
    assert.equal(m1.find(s => s.name === 'vodupd_requests_total').type, 'counter');
    for (const g of ['vodupd_connections', 'vodupd_disk_free_bytes', 'vodupd_outbox_events',
                     'vodupd_outbox_oldest_age_seconds', 'vodupd_callback_failing_events', 'vodupd_database_up']) {
      assert.ok(m1.some(s => s.name === g), `${g} is reported`);
    }
    assert.equal(value(m1, 'vodupd_database_up'), 1);
    assert.ok(value(m1, 'vodupd_disk_free_bytes') > 0);

    // every dialect of the table has its own latency histogram: an S3 request is counted
    // under s3, not under OSS
    const s3count = l => value(l, 'vodupd_request_duration_seconds_count', { dialect: 's3' });
    const s3 = await plainRequest({ port: srv.port, path: '/', headers: {
      authorization: 'AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20260101/us-east-1/s3/aws4_request, SignedHeaders=host, Signature=00',
      'x-amz-date': '20260101T000000Z', 'x-amz-content-sha256': 'UNSIGNED-PAYLOAD' } });
    assert.ok(s3.status >= 400 && s3.status < 500 && /<Resource>/.test(s3.text), s3.text); // S3's error shape
    let m2;
    await waitFor(async () => { m2 = await scrape(port); return s3count(m2) - s3count(m1) >= 1; },
      { timeout: 5000 * SLOW, what: 'the S3 request to be counted under s3' });
    assert.equal(count(m2), count(m1), 'the S3 request was counted under oss');
  }));

  it('an RPC Action a client made up is counted as "other", not as a new series', T, withLogs(async () => {
    // Unsigned (a wrong signature is enough): the Action is read before the signature check.
    const q = new URLSearchParams({ Action: 'Nope"\n{x}', Version: '2017-03-21', AccessKeyId: 'x', Signature: 'x',
                                    SignatureMethod: 'HMAC-SHA1', SignatureVersion: '1.0', SignatureNonce: 'n1',
                                    Format: 'JSON', Timestamp: new Date().toISOString().replace(/\.\d+Z$/, 'Z') });
    const r = await get(srv.port, `/?${q}`);
    assert.equal(r.status >= 400, true, r.text);
    // A request is counted when it completes, which may be just after its answer arrived.
    let m;
    await waitFor(async () => {
      m = await scrape(port);
      return value(m, 'vodupd_requests_total', { dialect: 'rpc', operation: 'other' }) >= 1;
    }, { timeout: 5000 * SLOW, what: 'the made-up Action counted as "other"' });
    assert.ok(!m.some(s => s.labels.operation && s.labels.operation.includes('Nope')), 'raw Action never a label');
  }));

  it('/healthz is 200 ok with its checks; the public port leaves /healthz to OSS', T, withLogs(async () => {
    const r = await get(port, '/healthz');
    assert.equal(r.status, 200, r.text);
    const j = JSON.parse(r.text);
    assert.equal(j.status, 'ok');
    assert.deepEqual(j.checks, { database: 'ok', data_dir_writable: 'ok', disk_reserve: 'ok' });
    // On the public port, /healthz is the bucket "healthz" (OSS names allow it).
    const pub = await get(srv.port, '/healthz');
    assert.notEqual(pub.status, 200);
    assert.match(pub.text, /<Code>/);
    assert.equal((await signedRequest({ port: srv.port, method: 'PUT', bucket: 'healthz', creds: srv.creds })).status, 200);
    assert.equal((await signedRequest({ port: srv.port, method: 'GET', bucket: 'healthz', creds: srv.creds })).status, 200);
    assert.equal((await get(port, '/other')).status, 404);
  }));

  it('/healthz is 503 naming the disk reserve when free space is below it', T, withLogs(async () => {
    // A reserve far above any disk's free space.
    const full = await startVodupd({ extraArgs: ['--admin-listen', '127.0.0.1:0', '--disk-reserve', '16000000T'] });
    try {
      const r = await get(adminPort(full), '/healthz');
      assert.equal(r.status, 503, r.text);
      const j = JSON.parse(r.text);
      assert.equal(j.status, 'fail');
      assert.equal(j.checks.database, 'ok');
      assert.match(j.checks.disk_reserve, /below the reserve/);
    } finally {
      await stopServer(full);
    }
  }));
});
