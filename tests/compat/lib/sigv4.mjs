// The tests' own SigV4 signer (path-style S3 requests), independent of vodupd's
// src/common/sigv4: a bug shared by the signer and the verifier would otherwise pass.

import crypto from 'node:crypto';

export const sha256 = b => crypto.createHash('sha256').update(b).digest('hex');
const hmac = (k, s) => crypto.createHmac('sha256', k).update(s).digest();

/** Headers for a request signed in the Authorization header. `port` is vodupd's (the
 * Host signed); x-amz-content-sha256 is the body's hash unless `payload` names another
 * (UNSIGNED-PAYLOAD, STREAMING-...). `out` receives {key, amzDate, scope, sig} for
 * chained chunk signatures. */
export function signV4({ port, method, pathname, headers = {}, body = Buffer.alloc(0), payload, creds, out = {} }) {
  const amzDate = new Date().toISOString().replace(/[-:]/g, '').replace(/\.\d+/, '');
  const day = amzDate.slice(0, 8);
  const h = { host: `127.0.0.1:${port}`, 'x-amz-date': amzDate, 'x-amz-content-sha256': payload ?? sha256(body) };
  for (const [k, v] of Object.entries(headers)) h[k.toLowerCase()] = v;
  const names = Object.keys(h).sort();
  const canonUri = pathname.split('/').map(s => encodeURIComponent(s)).join('/');
  const creq = [method, canonUri, '', ...names.map(n => `${n}:${h[n]}`), '', names.join(';'), h['x-amz-content-sha256']].join('\n');
  const scope = `${day}/us-east-1/s3/aws4_request`;
  const sts = ['AWS4-HMAC-SHA256', amzDate, scope, sha256(creq)].join('\n');
  let k = hmac(`AWS4${creds.AccessKeySecret}`, day);
  for (const p of ['us-east-1', 's3', 'aws4_request']) k = hmac(k, p);
  const sig = crypto.createHmac('sha256', k).update(sts).digest('hex');
  h.authorization = `AWS4-HMAC-SHA256 Credential=${creds.AccessKeyId}/${scope}, SignedHeaders=${names.join(';')}, Signature=${sig}`;
  Object.assign(out, { key: k, amzDate, scope, sig });
  return h;
}

/** An aws-chunked body with signed chunks (STREAMING-AWS4-HMAC-SHA256-PAYLOAD), each
 * chunk's signature chained on the one before, seeded by the request's (signV4's `out`). */
export function signedChunks(data, chunkSize, { key, amzDate, scope, sig }) {
  const parts = [];
  let prev = sig;
  for (let off = 0; ; off += chunkSize) {
    const c = data.subarray(off, Math.min(off + chunkSize, data.length));
    const sts = ['AWS4-HMAC-SHA256-PAYLOAD', amzDate, scope, prev, sha256(Buffer.alloc(0)), sha256(c)].join('\n');
    prev = crypto.createHmac('sha256', key).update(sts).digest('hex');
    parts.push(Buffer.from(`${c.length.toString(16)};chunk-signature=${prev}\r\n`), c, Buffer.from('\r\n'));
    if (c.length === 0) break;
  }
  return Buffer.concat(parts);
}
