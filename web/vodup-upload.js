/*! vodup-upload.js — browser upload SDK for vodup and Alibaba Cloud VOD. MIT licence.
 *
 * One file, no dependencies. Loaded with a classic <script> tag it defines
 * window.AliyunUpload.Vod (the API of the official aliyun-upload-sdk 1.5) and
 * window.VodupUpload ({ Vod, createUploader, ... }); vodupd also serves it as an ES module
 * (/sdk/vodup-upload.mjs) exporting the same names. docs/web-sdk.md describes both APIs.
 *
 * Underneath: OSS PutObject and multipart upload signed in the page (V1 HMAC-SHA1 or V4
 * HMAC-SHA256) with WebCrypto where the page has it and a small JavaScript HMAC where it
 * does not (plain-http pages on a non-localhost host have no crypto.subtle); several
 * parts (and files) at once; retries with backoff and jitter on network errors and 5xx;
 * credentials renewed before they expire; resume records in IndexedDB.
 */
var VodupUpload = (function (global) {
  'use strict';

  var VERSION = '1.0.0';
  var KiB = 1024, MiB = 1024 * 1024;
  var MIN_PART = 100 * KiB;          /* OSS refuses smaller parts except the last */
  var MAX_PARTS = 10000;             /* OSS's part-number limit */
  var MAX_RETRY_DELAY = 30000;       /* ms, cap of the exponential backoff */
  var MAX_REFRESH_MARGIN = 60000;    /* ms before expiry at which credentials are renewed */
  var STALL_TIMEOUT = 60000;         /* ms without a byte moving before a request counts as lost */
  var SAMPLE_BLOCK = 64 * KiB;       /* bytes hashed at the start, middle and end for the fingerprint */
  var RECORD_DB = 'vodup-upload', RECORD_STORE = 'records';

  /* Upload states and client states, spelled as the official SDK spells them. */
  var UPLOADSTATE = { INIT: 'Ready', UPLOADING: 'Uploading', SUCCESS: 'Success', FAILURE: 'Failure',
                      CANCELED: 'Canceled', STOPED: 'Stoped' };
  var VODSTATE = { INIT: 'Init', START: 'Start', STOP: 'Stop', FAILURE: 'Failure', EXPIRE: 'Expire', END: 'End' };

  /* ---- bytes ------------------------------------------------------------------------ */

  function utf8(s) {
    if (typeof TextEncoder !== 'undefined') return new TextEncoder().encode(s);
    var out = [], i, c;
    for (i = 0; i < s.length; i++) {
      c = s.charCodeAt(i);
      if (c >= 0xd800 && c < 0xdc00 && i + 1 < s.length) {
        c = 0x10000 + ((c - 0xd800) << 10) + (s.charCodeAt(++i) - 0xdc00);
      }
      if (c < 0x80) out.push(c);
      else if (c < 0x800) out.push(0xc0 | (c >> 6), 0x80 | (c & 63));
      else if (c < 0x10000) out.push(0xe0 | (c >> 12), 0x80 | ((c >> 6) & 63), 0x80 | (c & 63));
      else out.push(0xf0 | (c >> 18), 0x80 | ((c >> 12) & 63), 0x80 | ((c >> 6) & 63), 0x80 | (c & 63));
    }
    return new Uint8Array(out);
  }

  function utf8Decode(bytes) {
    if (typeof TextDecoder !== 'undefined') return new TextDecoder().decode(bytes);
    var s = '';
    for (var i = 0; i < bytes.length; i++) s += '%' + (bytes[i] < 16 ? '0' : '') + bytes[i].toString(16);
    return decodeURIComponent(s);
  }

  var B64 = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/';
  function b64encode(bytes) {
    var out = '', i;
    for (i = 0; i + 2 < bytes.length; i += 3) {
      var n = (bytes[i] << 16) | (bytes[i + 1] << 8) | bytes[i + 2];
      out += B64[n >> 18] + B64[(n >> 12) & 63] + B64[(n >> 6) & 63] + B64[n & 63];
    }
    if (bytes.length - i === 1) {
      out += B64[bytes[i] >> 2] + B64[(bytes[i] & 3) << 4] + '==';
    } else if (bytes.length - i === 2) {
      var m = (bytes[i] << 8) | bytes[i + 1];
      out += B64[m >> 10] + B64[(m >> 4) & 63] + B64[(m & 15) << 2] + '=';
    }
    return out;
  }

  function b64decode(s) {
    s = String(s).replace(/[\s=]/g, '');
    var out = new Uint8Array((s.length * 3) >> 2), bits = 0, acc = 0, j = 0;
    for (var i = 0; i < s.length; i++) {
      var v = B64.indexOf(s[i]);
      if (v < 0) v = s[i] === '-' ? 62 : s[i] === '_' ? 63 : -1; /* tolerate base64url */
      if (v < 0) throw new Error('invalid base64');
      acc = (acc << 6) | v;
      bits += 6;
      if (bits >= 8) {
        bits -= 8;
        out[j++] = (acc >> bits) & 255;
      }
    }
    return out.subarray(0, j);
  }

  function hex(bytes) {
    var s = '';
    for (var i = 0; i < bytes.length; i++) s += (bytes[i] < 16 ? '0' : '') + bytes[i].toString(16);
    return s;
  }

  function concat(a, b) {
    var out = new Uint8Array(a.length + b.length);
    out.set(a, 0);
    out.set(b, a.length);
    return out;
  }

  /* ---- hashes in JavaScript (for pages without crypto.subtle) ------------------------ */

  function sha1(msg) {
    var ml = msg.length, n = ((ml + 8) >> 6) + 1, w = new Uint32Array(n * 16), i;
    for (i = 0; i < ml; i++) w[i >> 2] |= msg[i] << (24 - (i & 3) * 8);
    w[ml >> 2] |= 0x80 << (24 - (ml & 3) * 8);
    w[n * 16 - 1] = ml * 8;
    w[n * 16 - 2] = Math.floor(ml / 0x20000000);
    var h0 = 0x67452301, h1 = 0xefcdab89, h2 = 0x98badcfe, h3 = 0x10325476, h4 = 0xc3d2e1f0;
    var x = new Uint32Array(80);
    for (var blk = 0; blk < n * 16; blk += 16) {
      for (i = 0; i < 16; i++) x[i] = w[blk + i];
      for (i = 16; i < 80; i++) {
        var t = x[i - 3] ^ x[i - 8] ^ x[i - 14] ^ x[i - 16];
        x[i] = (t << 1) | (t >>> 31);
      }
      var a = h0, b = h1, c = h2, d = h3, e = h4;
      for (i = 0; i < 80; i++) {
        var f, k;
        if (i < 20) { f = (b & c) | (~b & d); k = 0x5a827999; }
        else if (i < 40) { f = b ^ c ^ d; k = 0x6ed9eba1; }
        else if (i < 60) { f = (b & c) | (b & d) | (c & d); k = 0x8f1bbcdc; }
        else { f = b ^ c ^ d; k = 0xca62c1d6; }
        var tmp = (((a << 5) | (a >>> 27)) + f + e + k + x[i]) | 0;
        e = d; d = c; c = (b << 30) | (b >>> 2); b = a; a = tmp;
      }
      h0 = (h0 + a) | 0; h1 = (h1 + b) | 0; h2 = (h2 + c) | 0; h3 = (h3 + d) | 0; h4 = (h4 + e) | 0;
    }
    return words([h0, h1, h2, h3, h4]);
  }

  var K256 = [
    0x428a2f98, 0x71374491, 0xb5c0fbcf, 0xe9b5dba5, 0x3956c25b, 0x59f111f1, 0x923f82a4, 0xab1c5ed5,
    0xd807aa98, 0x12835b01, 0x243185be, 0x550c7dc3, 0x72be5d74, 0x80deb1fe, 0x9bdc06a7, 0xc19bf174,
    0xe49b69c1, 0xefbe4786, 0x0fc19dc6, 0x240ca1cc, 0x2de92c6f, 0x4a7484aa, 0x5cb0a9dc, 0x76f988da,
    0x983e5152, 0xa831c66d, 0xb00327c8, 0xbf597fc7, 0xc6e00bf3, 0xd5a79147, 0x06ca6351, 0x14292967,
    0x27b70a85, 0x2e1b2138, 0x4d2c6dfc, 0x53380d13, 0x650a7354, 0x766a0abb, 0x81c2c92e, 0x92722c85,
    0xa2bfe8a1, 0xa81a664b, 0xc24b8b70, 0xc76c51a3, 0xd192e819, 0xd6990624, 0xf40e3585, 0x106aa070,
    0x19a4c116, 0x1e376c08, 0x2748774c, 0x34b0bcb5, 0x391c0cb3, 0x4ed8aa4a, 0x5b9cca4f, 0x682e6ff3,
    0x748f82ee, 0x78a5636f, 0x84c87814, 0x8cc70208, 0x90befffa, 0xa4506ceb, 0xbef9a3f7, 0xc67178f2];

  function sha256(msg) {
    var ml = msg.length, n = ((ml + 8) >> 6) + 1, w = new Uint32Array(n * 16), i;
    for (i = 0; i < ml; i++) w[i >> 2] |= msg[i] << (24 - (i & 3) * 8);
    w[ml >> 2] |= 0x80 << (24 - (ml & 3) * 8);
    w[n * 16 - 1] = ml * 8;
    w[n * 16 - 2] = Math.floor(ml / 0x20000000);
    var h = [0x6a09e667, 0xbb67ae85, 0x3c6ef372, 0xa54ff53a, 0x510e527f, 0x9b05688c, 0x1f83d9ab, 0x5be0cd19];
    var x = new Uint32Array(64);
    function ror(v, s) { return (v >>> s) | (v << (32 - s)); }
    for (var blk = 0; blk < n * 16; blk += 16) {
      for (i = 0; i < 16; i++) x[i] = w[blk + i];
      for (i = 16; i < 64; i++) {
        var s0 = ror(x[i - 15], 7) ^ ror(x[i - 15], 18) ^ (x[i - 15] >>> 3);
        var s1 = ror(x[i - 2], 17) ^ ror(x[i - 2], 19) ^ (x[i - 2] >>> 10);
        x[i] = (x[i - 16] + s0 + x[i - 7] + s1) | 0;
      }
      var a = h[0], b = h[1], c = h[2], d = h[3], e = h[4], f = h[5], g = h[6], hh = h[7];
      for (i = 0; i < 64; i++) {
        var S1 = ror(e, 6) ^ ror(e, 11) ^ ror(e, 25);
        var t1 = (hh + S1 + ((e & f) ^ (~e & g)) + K256[i] + x[i]) | 0;
        var S0 = ror(a, 2) ^ ror(a, 13) ^ ror(a, 22);
        var t2 = (S0 + ((a & b) ^ (a & c) ^ (b & c))) | 0;
        hh = g; g = f; f = e; e = (d + t1) | 0; d = c; c = b; b = a; a = (t1 + t2) | 0;
      }
      h[0] = (h[0] + a) | 0; h[1] = (h[1] + b) | 0; h[2] = (h[2] + c) | 0; h[3] = (h[3] + d) | 0;
      h[4] = (h[4] + e) | 0; h[5] = (h[5] + f) | 0; h[6] = (h[6] + g) | 0; h[7] = (h[7] + hh) | 0;
    }
    return words(h);
  }

  function words(ws) {
    var out = new Uint8Array(ws.length * 4);
    for (var i = 0; i < ws.length; i++) {
      out[i * 4] = ws[i] >>> 24; out[i * 4 + 1] = (ws[i] >>> 16) & 255;
      out[i * 4 + 2] = (ws[i] >>> 8) & 255; out[i * 4 + 3] = ws[i] & 255;
    }
    return out;
  }

  var JS_HASH = { 'SHA-1': sha1, 'SHA-256': sha256 };

  function hmacJs(alg, key, msg) {
    var H = JS_HASH[alg], B = 64;
    if (key.length > B) key = H(key);
    var k = new Uint8Array(B);
    k.set(key);
    var ipad = new Uint8Array(B), opad = new Uint8Array(B);
    for (var i = 0; i < B; i++) { ipad[i] = k[i] ^ 0x36; opad[i] = k[i] ^ 0x5c; }
    return H(concat(opad, H(concat(ipad, msg))));
  }

  /* WebCrypto when the page has it (secure contexts); the JavaScript code otherwise. */
  function subtle() {
    var c = global.crypto;
    return c && c.subtle && typeof c.subtle.sign === 'function' ? c.subtle : null;
  }
  var forceJs = false; /* tests flip it to check both paths give the same answers */

  function toBytes(x) { return typeof x === 'string' ? utf8(x) : x; }

  function hmac(alg, key, msg) {
    key = toBytes(key);
    msg = toBytes(msg);
    var s = forceJs ? null : subtle();
    if (!s) return Promise.resolve(hmacJs(alg, key, msg));
    return s.importKey('raw', key, { name: 'HMAC', hash: alg }, false, ['sign'])
      .then(function (k) { return s.sign('HMAC', k, msg); })
      .then(function (sig) { return new Uint8Array(sig); });
  }

  function digest(alg, data) {
    data = toBytes(data);
    var s = forceJs ? null : subtle();
    if (!s) return Promise.resolve(JS_HASH[alg](data));
    return s.digest(alg, data).then(function (d) { return new Uint8Array(d); });
  }

  /* ---- CRC-64/XZ, which OSS calls crc64ecma --------------------------------------- */

  /* Table-driven on two 32-bit halves (the reflected polynomial 0xC96C5795D7870F42), eight
   * tables so that the loop takes four bytes a step ("slicing by 4" on the low half). */
  var CRC_T = null;
  function crcTables() {
    if (CRC_T) return CRC_T;
    var hi = new Uint32Array(256 * 4), lo = new Uint32Array(256 * 4), i, k;
    for (i = 0; i < 256; i++) {
      var h = 0, l = i;
      for (k = 0; k < 8; k++) {
        var bit = l & 1;
        l = ((l >>> 1) | ((h & 1) << 31)) >>> 0;
        h = h >>> 1;
        if (bit) { h = (h ^ 0xc96c5795) >>> 0; l = (l ^ 0xd7870f42) >>> 0; }
      }
      hi[i] = h; lo[i] = l;
    }
    for (k = 1; k < 4; k++) {
      for (i = 0; i < 256; i++) {
        var ph = hi[(k - 1) * 256 + i], pl = lo[(k - 1) * 256 + i], idx = pl & 255;
        lo[k * 256 + i] = (((pl >>> 8) | ((ph & 255) << 24)) ^ lo[idx]) >>> 0;
        hi[k * 256 + i] = ((ph >>> 8) ^ hi[idx]) >>> 0;
      }
    }
    CRC_T = { hi: hi, lo: lo };
    return CRC_T;
  }

  /* CRC of bytes as the decimal string OSS sends (needs BigInt; null without it). */
  function crc64(bytes) {
    var T = crcTables(), TH = T.hi, TL = T.lo, h = 0xffffffff, l = 0xffffffff, i = 0, n = bytes.length;
    for (; i + 4 <= n; i += 4) {
      var x = (l ^ (bytes[i] | (bytes[i + 1] << 8) | (bytes[i + 2] << 16) | (bytes[i + 3] << 24))) >>> 0;
      var nl = h ^ TL[768 + (x & 255)] ^ TL[512 + ((x >>> 8) & 255)] ^ TL[256 + ((x >>> 16) & 255)] ^ TL[x >>> 24];
      var nh = TH[768 + (x & 255)] ^ TH[512 + ((x >>> 8) & 255)] ^ TH[256 + ((x >>> 16) & 255)] ^ TH[x >>> 24];
      l = nl >>> 0;
      h = nh >>> 0;
    }
    for (; i < n; i++) {
      var idx = (l ^ bytes[i]) & 255;
      l = (((l >>> 8) | ((h & 255) << 24)) ^ TL[idx]) >>> 0;
      h = ((h >>> 8) ^ TH[idx]) >>> 0;
    }
    if (typeof BigInt !== 'function') return null;
    return ((BigInt((~h) >>> 0) << BigInt(32)) | BigInt((~l) >>> 0)).toString();
  }

  /* ---- OSS signatures ------------------------------------------------------------- */

  /* Sub-resources that go into the V1 canonical resource (those this SDK and ali-oss use). */
  var V1_SUBRESOURCES = ['acl', 'uploads', 'location', 'cors', 'logging', 'website', 'referer', 'lifecycle',
    'delete', 'append', 'tagging', 'objectMeta', 'uploadId', 'partNumber', 'security-token', 'position', 'img',
    'style', 'styleName', 'replication', 'replicationProgress', 'replicationLocation', 'cname', 'bucketInfo',
    'comp', 'qos', 'live', 'status', 'vod', 'startTime', 'endTime', 'symlink', 'x-oss-process',
    'response-content-type', 'response-content-language', 'response-expires', 'response-cache-control',
    'response-content-disposition', 'response-content-encoding', 'restore', 'versionId', 'versions',
    'continuation-token', 'asyncFetch', 'inventory', 'inventoryId', 'stat', 'policy', 'encryption',
    'requestPayment', 'versioning', 'worm', 'wormId', 'wormExtend', 'x-oss-traffic-limit', 'callback',
    'callback-var'];

  function byName(a, b) { return a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : 0; }

  function lowerHeaders(headers) {
    var h = {};
    Object.keys(headers || {}).forEach(function (k) { h[k.toLowerCase()] = String(headers[k]).trim(); });
    return h;
  }

  /* req: { method, bucket, key, query: [[k, v]], headers: {name: value} } (values decoded). */
  function v1StringToSign(req) {
    var h = lowerHeaders(req.headers);
    var oss = Object.keys(h).filter(function (k) { return k.indexOf('x-oss-') === 0; }).sort()
      .map(function (k) { return k + ':' + h[k] + '\n'; }).join('');
    var res = '/';
    if (req.bucket) res += req.bucket + '/' + (req.key || '');
    var sub = (req.query || []).filter(function (p) { return V1_SUBRESOURCES.indexOf(p[0]) >= 0; })
      .slice().sort(byName).map(function (p) { return p[1] === '' || p[1] == null ? p[0] : p[0] + '=' + p[1]; });
    if (sub.length) res += '?' + sub.join('&');
    return [req.method.toUpperCase(), h['content-md5'] || '', h['content-type'] || '',
            h['x-oss-date'] || h.date || ''].join('\n') + '\n' + oss + res;
  }

  function signV1(req, creds) {
    return hmac('SHA-1', creds.secret, v1StringToSign(req)).then(function (sig) {
      return 'OSS ' + creds.id + ':' + b64encode(sig);
    });
  }

  function rfc3986(s) {
    return encodeURIComponent(s).replace(/[!'()*]/g, function (c) {
      return '%' + c.charCodeAt(0).toString(16).toUpperCase();
    });
  }

  function v4CanonicalRequest(req) {
    var h = lowerHeaders(req.headers);
    var uri = '/' + (req.bucket ? req.bucket + '/' + (req.key || '') : '');
    uri = uri.split('/').map(rfc3986).join('/');
    var q = (req.query || []).map(function (p) { return [rfc3986(p[0]), p[1] == null ? '' : rfc3986(String(p[1]))]; })
      .sort(byName).map(function (p) { return p[1] === '' ? p[0] : p[0] + '=' + p[1]; }).join('&');
    var names = Object.keys(h).filter(function (k) {
      return k === 'content-type' || k === 'content-md5' || k.indexOf('x-oss-') === 0;
    }).sort();
    var canonHeaders = names.map(function (k) { return k + ':' + h[k] + '\n'; }).join('');
    return [req.method.toUpperCase(), uri, q, canonHeaders, '', h['x-oss-content-sha256'] || 'UNSIGNED-PAYLOAD'].join('\n');
  }

  /* req.headers must carry x-oss-date (yyyymmddTHHMMSSZ); region without "oss-". */
  function signV4(req, creds, region) {
    var h = lowerHeaders(req.headers);
    var date = h['x-oss-date'], day = date.slice(0, 8);
    var scope = day + '/' + region + '/oss/aliyun_v4_request';
    return digest('SHA-256', v4CanonicalRequest(req)).then(function (crHash) {
      var sts = 'OSS4-HMAC-SHA256\n' + date + '\n' + scope + '\n' + hex(crHash);
      return hmac('SHA-256', 'aliyun_v4' + creds.secret, day)
        .then(function (k) { return hmac('SHA-256', k, region); })
        .then(function (k) { return hmac('SHA-256', k, 'oss'); })
        .then(function (k) { return hmac('SHA-256', k, 'aliyun_v4_request'); })
        .then(function (k) { return hmac('SHA-256', k, sts); })
        .then(function (sig) {
          return 'OSS4-HMAC-SHA256 Credential=' + creds.id + '/' + scope + ',Signature=' + hex(sig);
        });
    });
  }

  function v4Date(ms) {
    return new Date(ms).toISOString().replace(/[-:]/g, '').replace(/\.\d+Z$/, 'Z');
  }

  /* ---- RPC (VOD API) signatures, as pop-core signs them --------------------------- */

  function popSign(method, params, secret) {
    var canon = Object.keys(params).sort().map(function (k) { return rfc3986(k) + '=' + rfc3986(params[k]); }).join('&');
    var sts = method + '&' + rfc3986('/') + '&' + rfc3986(canon);
    return hmac('SHA-1', secret + '&', sts).then(b64encode);
  }

  function uuid() {
    var b = new Uint8Array(16), c = global.crypto;
    if (c && c.getRandomValues) c.getRandomValues(b);
    else for (var i = 0; i < 16; i++) b[i] = Math.floor(Math.random() * 256);
    b[6] = (b[6] & 15) | 64;
    b[8] = (b[8] & 63) | 128;
    var x = hex(b);
    return x.slice(0, 8) + '-' + x.slice(8, 12) + '-' + x.slice(12, 16) + '-' + x.slice(16, 20) + '-' + x.slice(20);
  }

  /* ---- small XML reader (OSS answers are flat) ------------------------------------- */

  function xmlUnescape(s) {
    return s.replace(/&lt;/g, '<').replace(/&gt;/g, '>').replace(/&quot;/g, '"').replace(/&apos;/g, "'")
      .replace(/&#x([0-9a-fA-F]+);/g, function (_, x) { return String.fromCharCode(parseInt(x, 16)); })
      .replace(/&#(\d+);/g, function (_, d) { return String.fromCharCode(Number(d)); })
      .replace(/&amp;/g, '&');
  }
  function xmlTag(text, tag) {
    var m = new RegExp('<' + tag + '>([\\s\\S]*?)</' + tag + '>').exec(text || '');
    return m ? xmlUnescape(m[1]) : undefined;
  }
  function xmlBlocks(text, tag) {
    var re = new RegExp('<' + tag + '>([\\s\\S]*?)</' + tag + '>', 'g'), out = [], m;
    while ((m = re.exec(text || ''))) out.push(m[1]);
    return out;
  }
  function xmlEscape(s) {
    return String(s).replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;');
  }

  /* ---- HTTP ------------------------------------------------------------------------- */

  /* One request over XMLHttpRequest (fetch cannot report upload progress). Never rejects:
   * resolves { status, text, header(name) }, status 0 on a network error, a timeout or a
   * stall (no byte moved for STALL_TIMEOUT), or { aborted: true }. Returns { promise, abort }. */
  function send(method, url, headers, body, timeout, onprogress) {
    var xhr = new XMLHttpRequest(), done = false, resolveFn, stall = null;
    var promise = new Promise(function (resolve) { resolveFn = resolve; });
    function finish(v) {
      if (stall) clearTimeout(stall);
      if (!done) { done = true; resolveFn(v); }
    }
    function watch() {
      if (stall) clearTimeout(stall);
      if (done) return;
      stall = setTimeout(function () {
        finish({ status: 0, text: '', network: true, header: function () { return null; } });
        xhr.abort();
      }, STALL_TIMEOUT);
    }
    xhr.open(method, url, true);
    Object.keys(headers).forEach(function (k) { xhr.setRequestHeader(k, headers[k]); });
    if (timeout) xhr.timeout = timeout;
    if (xhr.upload) xhr.upload.onprogress = function (e) { watch(); if (onprogress) onprogress(e.loaded); };
    xhr.onprogress = xhr.onreadystatechange = watch;
    watch();
    xhr.onload = function () {
      finish({ status: xhr.status, text: xhr.responseText, header: function (n) { return xhr.getResponseHeader(n); } });
    };
    xhr.onerror = xhr.ontimeout = function () { finish({ status: 0, text: '', network: true, header: function () { return null; } }); };
    xhr.onabort = function () { finish({ aborted: true }); };
    xhr.send(body == null ? null : body);
    return { promise: promise, abort: function () { if (!done) xhr.abort(); finish({ aborted: true }); } };
  }

  function sleep(ms, token) {
    return new Promise(function (resolve) {
      var t = setTimeout(resolve, ms);
      if (token) token.onCancel(function () { clearTimeout(t); resolve(); });
    });
  }

  /* Exponential backoff with full jitter: base * 2^attempt, capped, times [0.5, 1). */
  function backoff(base, attempt) {
    var d = Math.min(MAX_RETRY_DELAY, base * Math.pow(2, attempt));
    return d * (0.5 + Math.random() / 2);
  }

  function UploadError(code, message, extra) {
    var e = new Error(message || code);
    e.name = 'UploadError';
    e.code = code;
    if (extra) Object.keys(extra).forEach(function (k) { e[k] = extra[k]; });
    return e;
  }

  /* ---- credentials ------------------------------------------------------------------ */

  function decodeJsonB64(s) {
    if (s && typeof s === 'object') return s;
    return JSON.parse(utf8Decode(b64decode(s)));
  }

  /* UploadAuth: { AccessKeyId, AccessKeySecret, SecurityToken, Expiration ("3600", seconds),
   * ExpireUTCTime (ISO 8601), Region }. The instant is the earlier of ExpireUTCTime and
   * receipt + Expiration, so a page clock that runs late cannot make us trust it longer. */
  function makeCreds(id, secret, token, expiration, expireUtc) {
    var now = Date.now(), at = Infinity;
    var t = expireUtc ? Date.parse(expireUtc) : NaN;
    if (!isNaN(t)) at = t;
    if (expiration != null && /^\d+$/.test(String(expiration))) at = Math.min(at, now + Number(expiration) * 1000);
    else if (expiration != null && !isNaN(Date.parse(expiration))) at = Math.min(at, Date.parse(expiration));
    var life = at === Infinity ? Infinity : Math.max(0, at - now);
    return { id: id, secret: secret, token: token || '', expireAt: at,
             margin: life === Infinity ? 0 : Math.min(MAX_REFRESH_MARGIN, life / 5) };
  }

  function credsFromAuth(auth) {
    return makeCreds(auth.AccessKeyId, auth.AccessKeySecret, auth.SecurityToken, auth.Expiration, auth.ExpireUTCTime);
  }

  /* ---- resume records (IndexedDB, memory when there is none) ------------------------ */

  var memoryRecords = {};
  var dbPromise = null;
  function openDb() {
    if (dbPromise) return dbPromise;
    dbPromise = new Promise(function (resolve) {
      var idb = global.indexedDB;
      if (!idb) return resolve(null);
      try {
        var rq = idb.open(RECORD_DB, 1);
        rq.onupgradeneeded = function () { rq.result.createObjectStore(RECORD_STORE); };
        rq.onsuccess = function () { resolve(rq.result); };
        rq.onerror = rq.onblocked = function () { resolve(null); };
      } catch (e) { resolve(null); }
    });
    return dbPromise;
  }
  function dbOp(mode, fn, fallback) {
    return openDb().then(function (db) {
      if (!db) return fallback();
      return new Promise(function (resolve) {
        try {
          var tx = db.transaction(RECORD_STORE, mode), st = tx.objectStore(RECORD_STORE), rq = fn(st);
          tx.oncomplete = function () { resolve(rq && rq.result); };
          tx.onerror = tx.onabort = function () { resolve(undefined); };
        } catch (e) { resolve(undefined); }
      });
    });
  }
  /* Records go to IndexedDB and, synchronously, to localStorage too: an IndexedDB write
   * still queued when the page is reloaded is lost, a localStorage one is not. The newer
   * of the two wins. Without either (some private modes) they live as long as the page. */
  var LS_PREFIX = 'vodup-upload:';
  function lsGet(key) {
    try { var v = global.localStorage && global.localStorage.getItem(LS_PREFIX + key); return v ? JSON.parse(v) : undefined; }
    catch (e) { return undefined; }
  }
  function lsSet(key, value) {
    try {
      if (!global.localStorage) return false;
      if (value === undefined) global.localStorage.removeItem(LS_PREFIX + key);
      else global.localStorage.setItem(LS_PREFIX + key, JSON.stringify(value));
      return true;
    } catch (e) { return false; } /* quota: IndexedDB still has it */
  }
  function newer(a, b) { return !a ? b : !b ? a : (a.savedAt || 0) >= (b.savedAt || 0) ? a : b; }
  var Records = {
    get: function (key) {
      var ls = lsGet(key);
      return dbOp('readonly', function (st) { return st.get(key); }, function () { return memoryRecords[key]; })
        .then(function (v) { return newer(v, ls); });
    },
    put: function (key, value) {
      lsSet(key, value);
      return dbOp('readwrite', function (st) { return st.put(value, key); }, function () { memoryRecords[key] = value; });
    },
    remove: function (key) {
      lsSet(key, undefined);
      return dbOp('readwrite', function (st) { return st.delete(key); }, function () { delete memoryRecords[key]; });
    }
  };

  function readBlob(blob) {
    if (blob.arrayBuffer) return blob.arrayBuffer().then(function (b) { return new Uint8Array(b); });
    return new Promise(function (resolve, reject) {
      var r = new FileReader();
      r.onload = function () { resolve(new Uint8Array(r.result)); };
      r.onerror = function () { reject(r.error); };
      r.readAsArrayBuffer(blob);
    });
  }

  /* A file's identity across reloads: size, lastModified, name and a SHA-256 of three
   * sampled blocks (so a renamed copy of a different file does not match). */
  function fingerprint(file) {
    var size = file.size, parts = [file.slice(0, SAMPLE_BLOCK)];
    if (size > 3 * SAMPLE_BLOCK) {
      var mid = Math.floor(size / 2);
      parts.push(file.slice(mid, mid + SAMPLE_BLOCK), file.slice(size - SAMPLE_BLOCK, size));
    }
    return Promise.all(parts.map(readBlob)).then(function (bufs) {
      var total = 0, off = 0;
      bufs.forEach(function (b) { total += b.length; });
      var all = new Uint8Array(total);
      bufs.forEach(function (b) { all.set(b, off); off += b.length; });
      return digest('SHA-256', all);
    }).then(function (h) {
      return 'v1:' + size + ':' + (file.lastModified || 0) + ':' + (file.name || '') + ':' + hex(h);
    });
  }

  /* ---- one file's transfer into OSS ------------------------------------------------- */

  function isIpHost(host) {
    return /^\d{1,3}(\.\d{1,3}){3}$/.test(host) || host.charAt(0) === '[';
  }

  function encodeKey(key) {
    return key.split('/').map(function (s) { return encodeURIComponent(s); }).join('/');
  }

  /* A Transfer uploads one file to { endpoint, bucket, object } with the credentials its
   * owner hands it (setCreds), asking for new ones (o.needCreds) before they expire.
   * o: file, partSize, parallel, retryCount, retryDelay (ms), timeout (ms), signature
   *    ('v1'|'v4'), cname, headers (extra signed headers), recordKey, onProgress(bytes),
   *    needCreds(reason), onDone(result), onFail(err). */
  function Transfer(o) {
    this.o = o;
    this.file = o.file;
    this.size = o.file.size;
    this.creds = null;
    this.target = null;
    this.running = false;
    this.waitingCreds = false;
    this.credWaiters = [];
    this.inflight = [];
    this.uploadId = null;
    this.parts = null;
    this.phase = 'idle';  /* idle | init | parts | complete | done | failed */
    this.single = this.size <= o.partSize;
    this.clockOffset = 0; /* server time minus ours, learnt from RequestTimeTooSkewed */
    this.lastReported = -1;
    this.cancelToken = null;
  }

  Transfer.prototype.setTarget = function (endpoint, bucket, object, region) {
    var t = this.target;
    if (t && (t.bucket !== bucket || t.object !== object)) {
      /* A new object (e.g. a new image): what was uploaded belongs to the old one. */
      this.uploadId = null;
      this.parts = null;
      this.phase = 'idle';
      this.o.record = null;
    }
    var ep = /^[a-z][a-z0-9+.-]*:\/\//i.test(endpoint) ? endpoint : 'https://' + endpoint;
    this.target = { endpoint: ep.replace(/\/+$/, ''), bucket: bucket, object: object,
                    region: String(region || this.o.region || 'cn-shanghai').replace(/^oss-/, '') };
  };

  Transfer.prototype.setCreds = function (creds) {
    this.creds = creds;
    this.waitingCreds = false;
    this.credWaiters.splice(0).forEach(function (w) { w.resolve(); });
    this.pump();
  };

  Transfer.prototype.credsUsable = function (forNewWork) {
    var c = this.creds;
    if (!c || c.dead) return false;
    var now = Date.now();
    return forNewWork ? now + c.margin < c.expireAt : now < c.expireAt;
  };

  Transfer.prototype.askCreds = function (reason) {
    if (this.waitingCreds || !this.running) return;
    this.waitingCreds = true;
    this.o.needCreds(reason);
  };

  /* Resolves once usable credentials are there (asking for them if needed). */
  Transfer.prototype.freshCreds = function () {
    var t = this;
    if (t.credsUsable(false)) return Promise.resolve(t.creds);
    t.askCreds(t.creds && t.creds.dead ? 'expired' : 'expiring');
    return new Promise(function (resolve, reject) { t.credWaiters.push({ resolve: resolve, reject: reject }); })
      .then(function () { return t.freshCreds(); });
  };

  Transfer.prototype.url = function (query) {
    var t = this.target, u = new URL(t.endpoint), path = '/' + encodeKey(t.object);
    var base = u.protocol + '//' + (isIpHost(u.hostname) || this.o.cname ? u.host : t.bucket + '.' + u.host);
    var qs = (query || []).map(function (p) {
      return p[1] === '' || p[1] == null ? encodeURIComponent(p[0]) : encodeURIComponent(p[0]) + '=' + encodeURIComponent(p[1]);
    }).join('&');
    return base + path + (qs ? '?' + qs : '');
  };

  /* One signed OSS request with retries. spec: method, query, headers, body() (a fresh
   * body per attempt), onprogress, tag. Resolves the response (2xx, or a 4xx the caller
   * wants: spec.accept(res)), rejects UploadError, or { aborted } when paused. */
  Transfer.prototype.request = function (spec) {
    var t = this, attempt = 0;
    function live() { return spec.force || t.running; }
    function once() {
      if (!live()) return Promise.reject({ aborted: true });
      return t.freshCreds().then(function (creds) {
        if (!live()) throw { aborted: true };
        var headers = {};
        Object.keys(spec.headers || {}).forEach(function (k) { headers[k] = spec.headers[k]; });
        var now = Date.now() + t.clockOffset;
        if (t.o.signature === 'v4') {
          headers['x-oss-date'] = v4Date(now);
          headers['x-oss-content-sha256'] = 'UNSIGNED-PAYLOAD';
        } else {
          headers['x-oss-date'] = new Date(now).toUTCString();
        }
        if (creds.token) headers['x-oss-security-token'] = creds.token;
        var req = { method: spec.method, bucket: t.target.bucket, key: t.target.object, query: spec.query || [], headers: headers };
        var signing = t.o.signature === 'v4' ? signV4(req, creds, t.target.region) : signV1(req, creds);
        return signing.then(function (auth) {
          headers.Authorization = auth;
          if (!live()) throw { aborted: true };
          var h = send(spec.method, t.url(spec.query), headers, spec.body ? spec.body() : null, t.o.timeout, spec.onprogress);
          t.inflight.push(h);
          return h.promise.then(function (res) {
            t.inflight.splice(t.inflight.indexOf(h), 1);
            return { res: res, creds: creds };
          });
        });
      }).then(function (r) {
        var res = r.res, code = '', message = '';
        if (res.aborted) throw { aborted: true };
        if (res.status >= 200 && res.status < 300) {
          if (!spec.verify || spec.verify(res)) return res;
          /* Stored bytes differ from those sent: send them again. */
          code = 'Crc64Mismatch';
          message = 'The storage holds other bytes than those sent (CRC-64 differs).';
        } else {
          code = xmlTag(res.text, 'Code') || '';
          message = xmlTag(res.text, 'Message') || '';
        }
        if (!code && res.header) {
          var xe = res.header('x-oss-err');
          if (xe) { try { var x = utf8Decode(b64decode(xe)); code = xmlTag(x, 'Code') || ''; message = xmlTag(x, 'Message') || ''; } catch (e) { /* keep none */ } }
        }
        if (spec.accept && spec.accept(res, code)) { res.code = code; return res; }
        if (res.status === 403 && (code === 'SecurityTokenExpired' || code === 'InvalidSecurityToken.Expired' ||
            code === 'InvalidAccessKeyId' || (code === 'AccessDenied' && /expired/i.test(message)))) {
          /* The credentials died under us: no failure for the page, just new credentials
           * and the same request again. */
          if (r.creds === t.creds) t.creds.dead = true;
          return once();
        }
        if (res.status === 403 && code === 'RequestTimeTooSkewed' && attempt < 1) {
          var st = Date.parse(xmlTag(res.text, 'ServerTime') || '');
          if (!isNaN(st)) { t.clockOffset = st - Date.now(); attempt++; return once(); }
        }
        var retriable = res.status === 0 || res.status >= 500 || res.status === 408 || res.status === 429 ||
                        code === 'RequestTimeout' || code === 'Crc64Mismatch';
        if (retriable && attempt < t.o.retryCount) {
          var delay = backoff(t.o.retryDelay, attempt++);
          if (spec.onretry) spec.onretry(res);
          return sleep(delay).then(once);
        }
        throw UploadError(code || (res.status === 0 ? 'NetworkError' : 'HTTP' + res.status),
                          message || (res.status === 0 ? 'The network connection failed (' + (attempt + 1) + ' attempts).' :
                                      'The storage service answered HTTP ' + res.status + '.'),
                          { status: res.status, requestId: res.header && res.header('x-oss-request-id') });
      });
    }
    return once();
  };

  Transfer.prototype.loadedBytes = function () {
    if (this.phase === 'done') return this.size;
    if (this.single) return this.singleLoaded || 0;
    var n = 0;
    (this.parts || []).forEach(function (p) { n += p.done ? p.end - p.start : Math.min(p.loaded || 0, p.end - p.start); });
    return n;
  };

  Transfer.prototype.progress = function () {
    var b = this.loadedBytes();
    /* 100% means stored: until Complete has answered, stay below the total. */
    if (this.phase !== 'done' && b >= this.size) b = Math.max(0, this.size - 1);
    if (b !== this.lastReported) {
      this.lastReported = b;
      this.o.onProgress(b);
    }
  };

  Transfer.prototype.start = function () {
    if (this.phase === 'done') return;
    this.running = true;
    if (this.phase === 'failed') this.phase = this.uploadId ? 'parts' : 'idle';
    this.pump();
  };

  /* Stops all traffic at once: requests in flight are aborted; what is done stays done. */
  Transfer.prototype.pause = function () {
    this.running = false;
    this.waitingCreds = false;
    this.credWaiters.splice(0).forEach(function (w) { w.reject({ aborted: true }); });
    this.inflight.splice(0).forEach(function (h) { h.abort(); });
    /* Each attempt carries a generation: answers of an aborted one change nothing. */
    (this.parts || []).forEach(function (p) { if (!p.done) { p.loaded = 0; p.busy = false; p.gen = (p.gen || 0) + 1; } });
    this.singleLoaded = 0;
    this.busy = false;
    this.gen = (this.gen || 0) + 1;
  };

  Transfer.prototype.fail = function (err) {
    if (err && err.aborted) return;
    this.pause();
    this.phase = 'failed';
    this.o.onFail(err);
  };

  Transfer.prototype.saveRecord = function () {
    var o = this.o;
    if (!o.recordKey || !this.uploadId) return;
    var rec = {
      fingerprint: o.recordKey, fileName: this.file.name, size: this.size, lastModified: this.file.lastModified,
      endpoint: this.target.endpoint, bucket: this.target.bucket, object: this.target.object,
      uploadId: this.uploadId, partSize: o.partSize, videoId: o.videoId ? o.videoId() : undefined,
      doneParts: (this.parts || []).filter(function (p) { return p.done; }).map(function (p) { return { number: p.n, etag: p.etag }; }),
      savedAt: Date.now()
    };
    o.record = rec;
    Records.put(o.recordKey, rec);
  };

  Transfer.prototype.makeParts = function () {
    var ps = this.o.partSize, parts = [];
    for (var n = 1, s = 0; s < this.size; n++, s += ps) parts.push({ n: n, start: s, end: Math.min(this.size, s + ps) });
    return parts;
  };

  Transfer.prototype.pump = function () {
    var t = this;
    if (!t.running || t.phase === 'done' || t.phase === 'failed') return;
    if (!t.target) return;
    if (!t.credsUsable(true)) {
      /* No new request on credentials about to expire; those in flight finish. */
      t.askCreds(t.creds && t.creds.dead ? 'expired' : 'expiring');
      return;
    }
    if (t.single) return t.pumpSingle();
    if (t.phase === 'idle') return t.initMultipart();
    if (t.phase === 'parts') {
      var busy = t.parts.filter(function (p) { return p.busy; }).length;
      for (var i = 0; i < t.parts.length && busy < t.o.parallel; i++) {
        var p = t.parts[i];
        if (!p.done && !p.busy) { busy++; t.uploadPart(p); }
      }
      if (t.parts.every(function (q) { return q.done; })) t.complete();
    }
  };

  Transfer.prototype.pumpSingle = function () {
    var t = this;
    if (t.busy) return;
    t.busy = true;
    var gen = t.gen;
    var headers = { 'Content-Type': t.file.type || 'application/octet-stream' };
    Object.keys(t.o.headers || {}).forEach(function (k) { headers[k] = t.o.headers[k]; });
    t.partBody({ start: 0, end: t.size }).then(function (pb) {
      if (gen !== t.gen) throw { aborted: true };
      return t.request({
      method: 'PUT', headers: headers, body: function () { return pb.body; },
      verify: function (res) {
        var got = res.header('x-oss-hash-crc64ecma');
        if (pb.crc && got) t.crcChecked = (t.crcChecked || 0) + 1;
        return !pb.crc || !got || got === pb.crc;
      },
      onprogress: function (n) { if (gen === t.gen) { t.singleLoaded = n; t.progress(); } },
      onretry: function () { if (gen === t.gen) { t.singleLoaded = 0; t.progress(); } }
      });
    }).then(function (res) {
      if (gen !== t.gen) return;
      t.busy = false;
      t.phase = 'done';
      t.running = false;
      t.progress();
      t.o.onDone({ etag: res.header('ETag'), crc64: res.header('x-oss-hash-crc64ecma') });
    }, function (e) {
      if (gen !== t.gen) return;
      t.busy = false;
      t.fail(e);
    });
  };

  Transfer.prototype.initMultipart = function () {
    var t = this;
    t.phase = 'init';
    var rec = t.o.record;
    var reuse = rec && rec.uploadId && rec.bucket === t.target.bucket && rec.object === t.target.object &&
                rec.partSize === t.o.partSize && rec.size === t.size;
    var p = reuse ? t.reconcile(rec.uploadId) : Promise.resolve(null);
    p.then(function (parts) {
      if (parts) return parts;
      var headers = { 'Content-Type': t.file.type || 'application/octet-stream' };
      Object.keys(t.o.headers || {}).forEach(function (k) { headers[k] = t.o.headers[k]; });
      return t.request({ method: 'POST', query: [['uploads', '']], headers: headers }).then(function (res) {
        var id = xmlTag(res.text, 'UploadId');
        if (!id) throw UploadError('InvalidResponse', 'InitiateMultipartUpload answered no UploadId.');
        t.uploadId = id;
        return t.makeParts();
      });
    }).then(function (parts) {
      t.parts = parts;
      t.phase = 'parts';
      t.saveRecord();
      t.progress();
      t.pump();
    }, function (e) {
      if (e && e.aborted) { t.phase = 'idle'; t.pump(); return; }
      t.fail(e);
    });
  };

  /* The parts the store has for uploadId (ListParts, all pages), matched against ours:
   * a part counts as done only with the right size. null when the upload is gone. */
  Transfer.prototype.reconcile = function (uploadId) {
    var t = this, have = {};
    function page(marker) {
      var q = [['uploadId', uploadId], ['max-parts', '1000']];
      if (marker) q.push(['part-number-marker', marker]);
      return t.request({ method: 'GET', query: q, accept: function (res, code) { return res.status === 404 && code === 'NoSuchUpload'; } })
        .then(function (res) {
          if (res.status === 404) return false;
          xmlBlocks(res.text, 'Part').forEach(function (b) {
            have[xmlTag(b, 'PartNumber')] = { etag: xmlTag(b, 'ETag'), size: Number(xmlTag(b, 'Size')) };
          });
          if (xmlTag(res.text, 'IsTruncated') === 'true') return page(xmlTag(res.text, 'NextPartNumberMarker'));
          return true;
        });
    }
    return page(null).then(function (exists) {
      if (!exists) { Records.remove(t.o.recordKey); t.o.record = null; return null; }
      t.uploadId = uploadId;
      return t.makeParts().map(function (p) {
        var h = have[p.n];
        if (h && h.size === p.end - p.start && h.etag) { p.done = true; p.etag = h.etag; }
        return p;
      });
    });
  };

  /* Whether to check this part's CRC-64: always (crc64: true), never (false), or ('auto')
   * while computing it runs at least ten times faster than the upload, so that it costs
   * under a tenth of the upload's time. */
  Transfer.prototype.crcWanted = function () {
    var mode = this.o.crc64 == null ? 'auto' : this.o.crc64;
    if (mode !== 'auto') return !!mode && typeof BigInt === 'function';
    if (typeof BigInt !== 'function') return false;
    var s = this.crcStats || (this.crcStats = { bytes: 0, ms: 0, t0: Date.now() });
    if (!s.ms) return true; /* nothing measured yet: measure */
    var crcRate = s.bytes / s.ms, upRate = this.loadedBytes() / Math.max(1, Date.now() - s.t0);
    return crcRate >= 10 * upRate;
  };

  Transfer.prototype.partBody = function (p) {
    var t = this, blob = t.file.slice(p.start, p.end);
    if (!t.crcWanted()) return Promise.resolve({ body: blob, crc: null });
    /* The bytes are read only for the CRC; the request sends the slice itself, which
     * Chromium streams from the file far faster than an ArrayBuffer body (bench/README.md,
     * case 6). Should the file change between the two reads, the store's CRC differs from
     * this one and verify() refuses the part. */
    return readBlob(blob).then(function (bytes) {
      var t0 = Date.now(), crc = crc64(bytes), s = t.crcStats;
      if (s) { s.bytes += bytes.length; s.ms += Math.max(0.01, Date.now() - t0); }
      return { body: blob, crc: crc };
    });
  };

  Transfer.prototype.uploadPart = function (p) {
    var t = this, gen = p.gen = (p.gen || 0) + 1;
    p.busy = true;
    p.loaded = 0;
    t.partBody(p).then(function (pb) {
      if (gen !== p.gen) throw { aborted: true };
      return t.request({
      method: 'PUT', query: [['partNumber', String(p.n)], ['uploadId', t.uploadId]],
      headers: { 'Content-Type': 'application/octet-stream' },
      body: function () { return pb.body; },
      verify: function (res) {
        var got = res.header('x-oss-hash-crc64ecma');
        if (pb.crc && got) t.crcChecked = (t.crcChecked || 0) + 1;
        return !pb.crc || !got || got === pb.crc;
      },
      onprogress: function (n) { if (gen === p.gen) { p.loaded = n; t.progress(); } },
      onretry: function () { if (gen === p.gen) { p.loaded = 0; t.progress(); } }
      });
    }).then(function (res) {
      if (gen !== p.gen) return;
      var etag = res.header('ETag');
      if (!etag) throw UploadError('ETagNotExposed', 'The storage answered no readable ETag: its CORS rules must expose the ETag header.');
      p.etag = etag;
      p.done = true;
      p.busy = false;
      t.saveRecord();
      t.progress();
      t.pump();
    }).catch(function (e) {
      if (gen !== p.gen) return;
      p.busy = false;
      p.loaded = 0;
      if (e && e.aborted) return;
      t.fail(e);
    });
  };

  Transfer.prototype.complete = function () {
    var t = this;
    if (t.phase !== 'parts') return;
    t.phase = 'complete';
    var xml = '<?xml version="1.0" encoding="UTF-8"?>\n<CompleteMultipartUpload>\n' + t.parts.map(function (p) {
      return '<Part><PartNumber>' + p.n + '</PartNumber><ETag>' + xmlEscape(p.etag) + '</ETag></Part>\n';
    }).join('') + '</CompleteMultipartUpload>';
    var body = utf8(xml), sent = false;
    t.request({
      method: 'POST', query: [['uploadId', t.uploadId]], headers: { 'Content-Type': 'application/xml' },
      body: function () { sent = true; return body; },
      onretry: function () { t.retriedComplete = true; },
      /* A Complete retried after a lost answer finds the upload gone: it did complete. */
      accept: function (res, code) { return res.status === 404 && code === 'NoSuchUpload' && t.retriedComplete && sent; }
    }).then(function (res) {
      t.phase = 'done';
      t.running = false;
      if (t.o.recordKey) Records.remove(t.o.recordKey);
      t.o.record = null;
      t.progress();
      t.o.onDone({ etag: res.header && res.header('ETag'), crc64: res.header && res.header('x-oss-hash-crc64ecma') });
    }, function (e) {
      if (e && e.aborted) { t.phase = 'parts'; t.pump(); return; }
      t.fail(e);
    });
  };

  /* Delete: stop, and abort the multipart upload so the store frees its parts. */
  Transfer.prototype.abort = function () {
    var t = this;
    t.pause();
    if (t.o.recordKey) Records.remove(t.o.recordKey);
    if (!t.uploadId || !t.creds || !t.credsUsable(false)) return Promise.resolve();
    var p = t.request({ method: 'DELETE', query: [['uploadId', t.uploadId]], force: true, accept: function () { return true; } });
    t.uploadId = null;
    return p.catch(function () { /* best effort */ });
  };

  /* ---- the VOD API, for STS mode ---------------------------------------------------- */

  function vodCall(endpoint, sts, action, params) {
    var p = {
      Action: action, Version: '2017-03-21', Format: 'JSON', AccessKeyId: sts.id, SignatureMethod: 'HMAC-SHA1',
      SignatureVersion: '1.0', SignatureNonce: uuid(), Timestamp: new Date().toISOString().replace(/\.\d+Z$/, 'Z')
    };
    if (sts.token) p.SecurityToken = sts.token;
    Object.keys(params).forEach(function (k) { if (params[k] != null && params[k] !== '') p[k] = String(params[k]); });
    return popSign('GET', p, sts.secret).then(function (sig) {
      p.Signature = sig;
      var qs = Object.keys(p).map(function (k) { return rfc3986(k) + '=' + rfc3986(p[k]); }).join('&');
      return send('GET', endpoint.replace(/\/+$/, '') + '/?' + qs, {}, null, 30000).promise;
    }).then(function (res) {
      var body = null;
      try { body = JSON.parse(res.text); } catch (e) { /* not JSON */ }
      if (res.status >= 200 && res.status < 300 && body) return body;
      throw UploadError(body && body.Code || (res.status ? 'HTTP' + res.status : 'NetworkError'),
                        body && body.Message || 'The VOD API call ' + action + ' failed.',
                        { status: res.status, requestId: body && body.RequestId });
    });
  }

  function isTokenExpiry(code) {
    return code === 'InvalidSecurityToken.Expired' || code === 'SecurityTokenExpired' ||
           code === 'InvalidAccessKeyId.NotFound' || code === 'InvalidSecurityToken.Malformed';
  }

  /* ---- the official 1.5 API: new AliyunUpload.Vod(options) -------------------------- */

  function isImageName(name) { return /\.(jpg|jpeg|png)$/i.test(name || ''); }

  function call(fn, self, args) {
    if (typeof fn !== 'function') return undefined;
    try { return fn.apply(self, args); } catch (e) { if (global.console) console.error(e); }
    return undefined;
  }

  function adjustPartSize(size, partSize) {
    partSize = Math.max(MIN_PART, Math.floor(partSize));
    if (size / partSize > MAX_PARTS - 1) partSize = Math.ceil(size / (MAX_PARTS - 1));
    return partSize;
  }

  function Vod(options) {
    if (!(this instanceof Vod)) return new Vod(options);
    var o = this.options = options || {};
    o.partSize = o.partSize || MiB;
    o.parallel = o.parallel || 5;
    o.region = o.region || 'cn-shanghai';
    o.retryCount = o.retryCount == null ? 3 : o.retryCount;
    o.retryDuration = o.retryDuration == null ? 2 : o.retryDuration;
    o.concurrentFiles = Math.max(1, o.concurrentFiles || 1);
    this._uploadList = [];
    this._state = VODSTATE.INIT;
    this._expired = [];      /* files waiting for new credentials from the page, oldest first */
    this._sts = null;        /* { id, secret, token } after setSTSToken */
    this._ended = false;
  }

  Vod.prototype.vodEndpoint = function () {
    return this.options.endpoint || 'https://vod.' + this.options.region + '.aliyuncs.com/';
  };

  Vod.prototype.addFile = function (file, endpoint, bucket, object, paramData) {
    var o = this.options;
    if (!file) return false;
    if (!file.size) {
      call(o.onUploadFailed, o, [{ file: file }, 'EmptyFile', 'The file is empty (0 bytes): there is nothing to upload.']);
      call(o.addFileFailed, o, [{ file: file, code: 'EmptyFile', message: 'The file is empty.' }]);
      return false;
    }
    for (var i = 0; i < this._uploadList.length; i++) {
      if (this._uploadList[i].file === file) {
        call(o.addFileFailed, o, [{ file: file, code: 'FileAlreadyAdded', message: 'This file is already in the list.' }]);
        return false;
      }
    }
    var info = {
      file: file, _endpoint: endpoint, _bucket: bucket, _object: object, endpoint: '', bucket: '', object: '',
      region: o.region, state: UPLOADSTATE.INIT, isImage: isImageName(file.name), videoInfo: {}, userData: '',
      ri: uuid(), videoId: '', checkpoint: null, loaded: 0, retry: false, fileHash: ''
    };
    if (paramData) {
      try {
        info.videoInfo = JSON.parse(paramData).Vod || {};
        info.userData = b64encode(utf8(paramData));
      } catch (e) {
        call(o.addFileFailed, o, [{ file: file, code: 'InvalidParamData', message: 'paramData is not valid JSON.' }]);
        return false;
      }
    }
    Object.defineProperty(info, '_vodup', { value: { transfer: null, active: false }, enumerable: false });
    this._uploadList.push(info);
    call(o.addFileSuccess, o, [info]);
    return true;
  };

  Vod.prototype.startUpload = function () {
    if (this._state === VODSTATE.START || this._state === VODSTATE.EXPIRE) return;
    this._uploadList.forEach(function (f) {
      if (f.state === UPLOADSTATE.FAILURE || f.state === UPLOADSTATE.STOPED) f.state = UPLOADSTATE.INIT;
    });
    this._state = VODSTATE.START;
    this._ended = false;
    this._schedule();
  };

  Vod.prototype._schedule = function () {
    if (this._state !== VODSTATE.START && this._state !== VODSTATE.EXPIRE && this._state !== VODSTATE.FAILURE) return;
    var active = this._uploadList.filter(function (f) { return f._vodup.active; }).length;
    for (var i = 0; i < this._uploadList.length && active < this.options.concurrentFiles; i++) {
      var f = this._uploadList[i];
      if (f.state === UPLOADSTATE.INIT && !f._vodup.active) { active++; this._begin(f); }
    }
    if (!active && !this._ended) {
      this._ended = true;
      this._state = VODSTATE.END;
      call(this.options.onUploadEnd, this.options, [this._uploadList[this._uploadList.length - 1]]);
    }
  };

  Vod.prototype._begin = function (info) {
    var self = this, o = this.options, v = info._vodup;
    v.active = true;
    info.state = UPLOADSTATE.UPLOADING;
    var ready = v.recordKey ? Promise.resolve() : fingerprint(info.file).then(function (fp) {
      v.recordKey = fp;
      info.fileHash = fp.slice(fp.lastIndexOf(':') + 1);
      return Records.get(fp);
    }).then(function (rec) {
      if (rec && rec.uploadId) {
        v.record = rec;
        info.checkpoint = self.getCheckpoint(info.file);
        /* As the official SDK does: the page sees the videoId and calls RefreshUploadVideo. */
        if (rec.videoId && !info.videoId) info.videoId = rec.videoId;
      }
    });
    ready.catch(function () { /* no record: a fresh upload */ }).then(function () {
      if (!v.active) return;
      if (v.transfer && v.transfer.creds && v.transfer.credsUsable(true) && v.transfer.target) {
        v.transfer.start(); /* paused with credentials still good: just go on */
        return;
      }
      call(o.onUploadstarted, o, [info]);
    });
  };

  Vod.prototype._transferFor = function (info) {
    var self = this, o = this.options, v = info._vodup;
    if (v.transfer) return v.transfer;
    v.transfer = new Transfer({
      file: info.file, partSize: adjustPartSize(info.file.size, o.partSize), parallel: o.parallel,
      retryCount: o.retryCount, retryDelay: o.retryDuration * 1000, timeout: o.timeout,
      signature: o.signatureVersion === 'v4' ? 'v4' : 'v1', cname: o.cname, region: o.region, crc64: o.crc64,
      headers: info.userData ? { 'x-oss-notification': info.userData } : {},
      recordKey: v.recordKey, record: v.record,
      videoId: function () { return info.videoId; },
      onProgress: function (bytes) {
        info.loaded = info.file.size ? bytes / info.file.size : 0;
        info.loadedBytes = bytes;
        call(o.onUploadProgress, o, [info, info.file.size, info.loaded, bytes]);
      },
      needCreds: function (reason) { self._needCreds(info, reason); },
      onDone: function () {
        v.active = false;
        info.state = UPLOADSTATE.SUCCESS;
        info.checkpoint = null;
        call(o.onUploadSucceed, o, [info]);
        self._schedule();
      },
      onFail: function (err) { self._fail(info, err); }
    });
    return v.transfer;
  };

  Vod.prototype._fail = function (info, err) {
    var o = this.options;
    info._vodup.active = false;
    if (info.state === UPLOADSTATE.CANCELED || info.state === UPLOADSTATE.STOPED) return;
    info.state = UPLOADSTATE.FAILURE;
    this._dropExpired(info);
    if (this._state !== VODSTATE.EXPIRE) this._state = VODSTATE.FAILURE;
    info.ri = uuid();
    call(o.onUploadFailed, o, [info, err && err.code || 'UploadFailed', err && err.message || String(err)]);
    if (this._state === VODSTATE.FAILURE) this._state = VODSTATE.START;
    this._schedule();
  };

  Vod.prototype._dropExpired = function (info) {
    var i = this._expired.indexOf(info);
    if (i >= 0) this._expired.splice(i, 1);
    if (!this._expired.length && this._state === VODSTATE.EXPIRE) this._state = VODSTATE.START;
  };

  /* Credentials are about to expire (or did). In STS mode we renew them ourselves with
   * RefreshUploadVideo; otherwise the page is asked, before any request fails. */
  Vod.prototype._needCreds = function (info, reason) {
    var self = this, o = this.options;
    if (this._sts && !info.isImage && info.videoId) {
      vodCall(this.vodEndpoint(), this._sts, 'RefreshUploadVideo', { VideoId: info.videoId }).then(function (r) {
        self._applyAuth(info, r.UploadAuth, r.UploadAddress, r.VideoId);
      }, function () {
        self._expire(info, reason);
      });
      return;
    }
    this._expire(info, reason);
  };

  Vod.prototype._expire = function (info, reason) {
    var o = this.options;
    if (typeof o.onUploadTokenExpired !== 'function') {
      info._vodup.transfer.pause();
      return this._fail(info, UploadError('SecurityTokenExpired', 'The upload credentials expired and the page has no onUploadTokenExpired.'));
    }
    if (this._expired.indexOf(info) < 0) this._expired.push(info);
    this._state = VODSTATE.EXPIRE;
    info.state = UPLOADSTATE.FAILURE;
    call(o.onUploadTokenExpired, o, [info, { code: 'SecurityTokenExpired', name: 'SecurityTokenExpired',
      message: reason === 'expired' ? 'The upload credentials expired.' : 'The upload credentials are about to expire.' }]);
  };

  Vod.prototype._applyAuth = function (info, uploadAuth, uploadAddress, videoId) {
    var o = this.options, auth, addr;
    try {
      auth = decodeJsonB64(uploadAuth);
      addr = uploadAddress ? decodeJsonB64(uploadAddress) : null;
    } catch (e) {
      auth = null;
    }
    if (!auth || !auth.AccessKeyId || !auth.AccessKeySecret || !auth.SecurityToken || !auth.Expiration) {
      console.error('uploadAuth is invalid');
      info._vodup.active = false;
      info.state = UPLOADSTATE.FAILURE;
      call(o.onUploadFailed, o, [info, 'InvalidUploadAuth', 'UploadAuth is not valid (are UploadAuth and UploadAddress swapped?).']);
      this._schedule();
      return false;
    }
    if (addr && (!addr.Endpoint || !addr.Bucket || !addr.FileName)) {
      console.error('uploadAddress is invalid');
      info._vodup.active = false;
      info.state = UPLOADSTATE.FAILURE;
      call(o.onUploadFailed, o, [info, 'InvalidUploadAddress', 'UploadAddress is not valid (needs Endpoint, Bucket and FileName).']);
      this._schedule();
      return false;
    }
    if (auth.Region) info.region = auth.Region;
    if (addr) {
      info.endpoint = info._endpoint || addr.Endpoint;
      info.bucket = info._bucket || addr.Bucket;
      info.object = info._object || addr.FileName;
    }
    if (videoId) info.videoId = videoId;
    return this._go(info, credsFromAuth(auth));
  };

  Vod.prototype._go = function (info, creds) {
    var t = this._transferFor(info);
    info._vodup.active = true;
    this._dropExpired(info);
    if (info.state !== UPLOADSTATE.CANCELED && info.state !== UPLOADSTATE.STOPED) info.state = UPLOADSTATE.UPLOADING;
    else return true;
    t.setTarget(info.endpoint || 'https://oss-cn-shanghai.aliyuncs.com', info.bucket, info.object, 'oss-' + info.region);
    t.setCreds(creds);
    t.start();
    return true;
  };

  Vod.prototype.setUploadAuthAndAddress = function (uploadInfo, uploadAuth, uploadAddress, videoId) {
    if (!uploadInfo || !uploadAuth || !uploadAddress) return false;
    return this._applyAuth(uploadInfo, uploadAuth, uploadAddress, videoId);
  };

  Vod.prototype._stsRequest = function (info) {
    var vi = info.videoInfo || {};
    if (info.videoId) return ['RefreshUploadVideo', { VideoId: info.videoId }];
    var common = { Title: vi.Title || info.file.name, Description: vi.Description, CateId: vi.CateId, Tags: vi.Tags,
                   StorageLocation: vi.StorageLocation, AppId: vi.AppId,
                   UserData: vi.UserData == null ? null : typeof vi.UserData === 'string' ? vi.UserData : JSON.stringify(vi.UserData) };
    if (info.isImage) {
      common.ImageType = vi.ImageType || 'default';
      common.ImageExt = vi.ImageExt || (info.file.name.split('.').pop() || '').toLowerCase();
      return ['CreateUploadImage', common];
    }
    common.FileName = info.file.name;
    common.FileSize = vi.FileSize || info.file.size;
    common.CoverURL = vi.CoverURL;
    common.TemplateGroupId = vi.TemplateGroupId;
    common.WorkflowId = vi.WorkflowId;
    common.TransCodeMode = vi.TransCodeMode;
    return ['CreateUploadVideo', common];
  };

  Vod.prototype.setSTSToken = function (uploadInfo, accessKeyId, accessKeySecret, securityToken) {
    if (!uploadInfo || !accessKeyId || !accessKeySecret || !securityToken) return false;
    var self = this, o = this.options;
    this._sts = { id: accessKeyId, secret: accessKeySecret, token: securityToken };
    var rq = this._stsRequest(uploadInfo);
    vodCall(this.vodEndpoint(), this._sts, rq[0], rq[1]).then(function (r) {
      if (r.ImageId) uploadInfo.imageId = r.ImageId;
      self._applyAuth(uploadInfo, r.UploadAuth, r.UploadAddress, r.VideoId);
    }, function (e) {
      if (isTokenExpiry(e.code) && typeof o.onUploadTokenExpired === 'function') {
        self._sts = null;
        if (self._expired.indexOf(uploadInfo) < 0) self._expired.push(uploadInfo);
        self._state = VODSTATE.EXPIRE;
        uploadInfo.state = UPLOADSTATE.FAILURE;
        call(o.onUploadTokenExpired, o, [uploadInfo, e]);
        return;
      }
      self._fail(uploadInfo, e);
    });
    return true;
  };

  Vod.prototype.setSTSTokenDirectlyUpload = function (uploadInfo, accessKeyId, accessKeySecret, securityToken, expiration) {
    if (!uploadInfo || !accessKeyId || !accessKeySecret || !securityToken || !expiration) return false;
    uploadInfo.endpoint = uploadInfo._endpoint;
    uploadInfo.bucket = uploadInfo._bucket;
    uploadInfo.object = uploadInfo._object;
    return this._go(uploadInfo, makeCreds(accessKeyId, accessKeySecret, securityToken, expiration));
  };

  Vod.prototype._firstExpired = function () {
    return this._state === VODSTATE.EXPIRE && this._expired.length ? this._expired[0] : null;
  };

  Vod.prototype.resumeUploadWithAuth = function (uploadAuth) {
    var info = this._firstExpired(), auth;
    if (!info || !uploadAuth) return false;
    try { auth = decodeJsonB64(uploadAuth); } catch (e) { return false; }
    if (!auth.AccessKeyId || !auth.AccessKeySecret || !auth.SecurityToken || !auth.Expiration) return false;
    this._state = VODSTATE.START;
    return this._go(info, credsFromAuth(auth));
  };

  Vod.prototype.resumeUploadWithToken = function (accessKeyId, accessKeySecret, securityToken, expireTime) {
    var info = this._firstExpired();
    if (!info || !accessKeyId || !accessKeySecret || !securityToken || !expireTime) return false;
    this._state = VODSTATE.START;
    return this._go(info, makeCreds(accessKeyId, accessKeySecret, securityToken, expireTime));
  };

  Vod.prototype.resumeUploadWithSTSToken = function (accessKeyId, accessKeySecret, securityToken) {
    var info = this._firstExpired();
    if (!info || !accessKeyId || !accessKeySecret || !securityToken) return false;
    this._state = VODSTATE.START;
    this._dropExpired(info);
    return this.setSTSToken(info, accessKeyId, accessKeySecret, securityToken);
  };

  /* Pauses the whole list: traffic stops at once; startUpload() goes on from where it was. */
  Vod.prototype.stopUpload = function () {
    var self = this;
    this._uploadList.forEach(function (f) {
      if (f._vodup.active || f.state === UPLOADSTATE.UPLOADING) self._pauseInfo(f, UPLOADSTATE.STOPED);
    });
    this._expired.length = 0;
    this._state = VODSTATE.STOP;
  };

  Vod.prototype._pauseInfo = function (f, state) {
    f._vodup.active = false;
    if (f._vodup.transfer) f._vodup.transfer.pause();
    this._dropExpired(f);
    f.state = state;
  };

  /* Extension: pause one file (resumeFile(index) goes on with it). */
  Vod.prototype.pauseFile = function (index) {
    var f = this._uploadList[index];
    if (!f || f.state === UPLOADSTATE.SUCCESS) return false;
    this._pauseInfo(f, UPLOADSTATE.STOPED);
    this._schedule();
    return true;
  };

  /* Stops the file but keeps its multipart upload, so resumeFile() continues it (the
   * official SDK aborts it here, and resumeFile then fails). */
  Vod.prototype.cancelFile = function (index) {
    var f = this._uploadList[index];
    if (!f) return false;
    if (f.state === UPLOADSTATE.SUCCESS) return true;
    var was = f._vodup.active;
    this._pauseInfo(f, UPLOADSTATE.CANCELED);
    if (was) call(this.options.onUploadCanceled, this.options, [f, { name: 'cancel', code: 'cancel', message: 'The upload was cancelled.' }]);
    this._schedule();
    return true;
  };

  /* A cancelled (or paused) file goes back in the queue and starts when its turn comes. */
  Vod.prototype.resumeFile = function (index) {
    var f = this._uploadList[index];
    if (!f || (f.state !== UPLOADSTATE.CANCELED && f.state !== UPLOADSTATE.STOPED)) return false;
    f.state = UPLOADSTATE.INIT;
    if (this._state === VODSTATE.START || this._state === VODSTATE.EXPIRE) this._schedule();
    else if (this._state === VODSTATE.END || this._state === VODSTATE.FAILURE) { this._state = VODSTATE.START; this._ended = false; this._schedule(); }
    return true;
  };

  /* Removes the file; its multipart upload is aborted and its resume record dropped. */
  Vod.prototype.deleteFile = function (index) {
    var f = this._uploadList[index];
    if (!f) return false;
    this._pauseInfo(f, f.state === UPLOADSTATE.SUCCESS ? f.state : UPLOADSTATE.CANCELED);
    if (f._vodup.transfer && f.state !== UPLOADSTATE.SUCCESS) f._vodup.transfer.abort();
    this._uploadList.splice(index, 1);
    this._schedule();
    return true;
  };

  Vod.prototype.cleanList = function () {
    this.stopUpload();
    this._uploadList.length = 0;
  };

  Vod.prototype.listFiles = function () { return this._uploadList; };

  /* The resume point of a file of this list, in the official record's shape, or "". */
  Vod.prototype.getCheckpoint = function (file) {
    for (var i = 0; i < this._uploadList.length; i++) {
      var f = this._uploadList[i];
      if (f.file !== file) continue;
      var t = f._vodup.transfer, rec = (t && t.o.record) || f._vodup.record;
      if (!rec) return '';
      return { fileName: rec.fileName, lastModified: rec.lastModified, size: rec.size, object: rec.object,
               videoId: rec.videoId, bucket: rec.bucket, endpoint: rec.endpoint, loaded: f.loaded, state: f.state,
               checkpoint: { file: file, name: rec.object, fileSize: rec.size, partSize: rec.partSize,
                             uploadId: rec.uploadId, doneParts: rec.doneParts || [] } };
    }
    return '';
  };

  /* Kept for pages that call them; they do what their names say. */
  Vod.prototype.nextUpload = function () { this._schedule(); };
  Vod.prototype.init = function () { return true; };

  /* ---- the promise API: createUploader({ getAuth }) -------------------------------- */

  /* getAuth({ kind: 'create-video' | 'refresh-video' | 'create-image', file, meta, videoId })
   * resolves { UploadAuth, UploadAddress, VideoId | ImageId } (base64 strings as the VOD
   * API returns them, or the decoded objects). It is called again ahead of expiry, so no
   * request fails for expired credentials.
   * opts: getAuth, partSize, parallel, retryCount, retryDelay (ms), timeout (ms),
   *   signatureVersion ('v1' | 'v4'), cname, onProgress({ file, loaded, total }). */
  function createUploader(opts) {
    opts = opts || {};
    if (typeof opts.getAuth !== 'function') throw new TypeError('createUploader needs a getAuth function');
    var jobs = new Map(); /* file -> { t, reject } */

    function upload(file, meta, uopts) {
      meta = meta || {};
      uopts = uopts || {};
      var image = meta.type ? meta.type === 'image' : isImageName(file && file.name);
      var state = { videoId: null, imageId: null };
      var onProgress = uopts.onProgress || opts.onProgress;
      if (jobs.has(file)) return Promise.reject(UploadError('FileAlreadyUploading', 'This file is being uploaded already.'));
      return new Promise(function (resolve, reject) {
        if (!file || !file.size) return reject(UploadError('EmptyFile', 'The file is empty (0 bytes).'));
        var t, refreshing = false;

        function fetchAuth(kind) {
          return Promise.resolve(opts.getAuth({ kind: kind, file: file, meta: meta, videoId: state.videoId })).then(function (r) {
            if (!r || !r.UploadAuth) throw UploadError('InvalidUploadAuth', 'getAuth returned no UploadAuth.');
            var auth = decodeJsonB64(r.UploadAuth), addr = r.UploadAddress ? decodeJsonB64(r.UploadAddress) : null;
            if (r.VideoId) state.videoId = r.VideoId;
            if (r.ImageId) state.imageId = r.ImageId;
            if (addr) t.setTarget(addr.Endpoint, addr.Bucket, addr.FileName, auth.Region ? 'oss-' + auth.Region : opts.region);
            t.setCreds(credsFromAuth(auth));
          });
        }
        function finish(err, value) {
          job.done = true;
          if (jobs.get(file) === job) jobs.delete(file);
          if (err) reject(err); else resolve(value);
        }
        t = new Transfer({
          file: file, partSize: adjustPartSize(file.size, opts.partSize || MiB), parallel: opts.parallel || 5,
          retryCount: opts.retryCount == null ? 5 : opts.retryCount, retryDelay: opts.retryDelay || 1000,
          timeout: opts.timeout, signature: opts.signatureVersion === 'v4' ? 'v4' : 'v1', cname: opts.cname,
          region: opts.region, crc64: opts.crc64,
          headers: meta.userData ? { 'x-oss-notification': b64encode(utf8(JSON.stringify({ Vod: { UserData: meta.userData } }))) } : {},
          videoId: function () { return state.videoId; },
          onProgress: function (bytes) { if (onProgress) call(onProgress, null, [{ file: file, loaded: bytes, total: file.size }]); },
          needCreds: function () {
            if (refreshing) return;
            refreshing = true;
            /* An image cannot be refreshed: a new CreateUploadImage gives a new object. */
            fetchAuth(image ? 'create-image' : 'refresh-video').then(function () { refreshing = false; },
              function (e) { refreshing = false; t.fail(e); });
          },
          onDone: function () { finish(null, image ? { imageId: state.imageId } : { videoId: state.videoId }); },
          onFail: function (e) { finish(e); }
        });
        var job = { t: t, finish: finish, paused: false, done: false, refreshing: function () { return refreshing; } };
        jobs.set(file, job);
        fingerprint(file).then(function (fp) {
          t.o.recordKey = fp;
          return Records.get(fp);
        }).catch(function () { return null; }).then(function (rec) {
          if (job.done) return; /* cancelled or aborted meanwhile */
          var kind = image ? 'create-image' : 'create-video';
          /* A record of an unfinished upload of the same content: go on with it. */
          if (rec && rec.uploadId && rec.videoId && !image && rec.size === file.size) {
            t.o.record = rec;
            state.videoId = rec.videoId;
            kind = 'refresh-video';
          }
          refreshing = true;
          t.running = !job.paused;
          return fetchAuth(kind).catch(function (e) {
            if (kind !== 'refresh-video') throw e;
            /* The recorded video cannot be refreshed (deleted, or not ours): start afresh. */
            Records.remove(t.o.recordKey);
            t.o.record = null;
            state.videoId = null;
            return fetchAuth('create-video');
          }).then(function () { refreshing = false; if (!job.paused && !job.done) t.start(); });
        }).catch(function (e) { t.pause(); if (!job.done) finish(e); });
      });
    }

    function job(file) { return jobs.get(file); }

    return {
      upload: upload,
      /** Stops this file's traffic at once (requests in flight are aborted); resume(file) goes on. */
      pause: function (file) { var j = job(file); if (j) { j.paused = true; j.t.pause(); } return !!j; },
      resume: function (file) { var j = job(file); if (j) { j.paused = false; j.t.start(); } return !!j; },
      /** Stops the file and rejects its upload() with code 'Canceled'. The multipart upload and
       * the resume record stay: upload(file) again goes on from where it stopped. */
      cancel: function (file) {
        var j = job(file);
        if (!j) return false;
        j.t.pause();
        j.finish(UploadError('Canceled', 'The upload was cancelled.'));
        return true;
      },
      /** For tests and bug reports: where this file's transfer stands (no secrets). */
      _state: function (file) {
        var j = job(file);
        if (!j) return null;
        var t = j.t, parts = t.parts || [];
        return { paused: j.paused, running: t.running, phase: t.phase, waitingCreds: t.waitingCreds,
                 credWaiters: t.credWaiters.length, inflight: t.inflight.length, uploadId: !!t.uploadId,
                 credsLeftMs: t.creds ? t.creds.expireAt - Date.now() : null, credsDead: !!(t.creds && t.creds.dead),
                 parts: parts.length, done: parts.filter(function (p) { return p.done; }).length,
                 busy: parts.filter(function (p) { return p.busy; }).length, refreshing: j.refreshing ? j.refreshing() : undefined };
      },
      /** Stops the file, aborts its multipart upload, drops its resume record, rejects with 'Aborted'. */
      abort: function (file) {
        var j = job(file);
        if (!j) return false;
        j.t.abort();
        j.finish(UploadError('Aborted', 'The upload was aborted.'));
        return true;
      }
    };
  }

  var api = {
    VERSION: VERSION,
    Vod: Vod,
    createUploader: createUploader,
    UploadError: UploadError,
    UPLOADSTATE: UPLOADSTATE,
    VODSTATE: VODSTATE,
    /* For tests: the signing code and the hashes. */
    _internal: {
      v1StringToSign: v1StringToSign, signV1: signV1, v4CanonicalRequest: v4CanonicalRequest, signV4: signV4,
      popSign: popSign, crc64: crc64, hmac: hmac, hmacJs: hmacJs, sha1: sha1, sha256: sha256, digest: digest,
      b64encode: b64encode, b64decode: b64decode, hex: hex, utf8: utf8,
      useJsCrypto: function (on) { forceJs = !!on; }, hasWebCrypto: function () { return !!subtle(); }
    }
  };

  if (global && typeof global === 'object') {
    global.VodupUpload = api;
    /* A page written for the official SDK finds the same global. */
    var A = global.AliyunUpload = global.AliyunUpload || {};
    A.Vod = Vod;
  }
  return api;
})(typeof globalThis !== 'undefined' ? globalThis : typeof window !== 'undefined' ? window : this);
