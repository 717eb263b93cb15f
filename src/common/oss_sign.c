/* oss_sign.c - OSS V1 and V4 request signatures, header and presigned forms.
 *
 * Signing and verifying share every line of canonicalisation, so a client built on
 * this code and the server can only disagree if the wire changed the request. The
 * rules follow what the SDKs do (ali-oss above all, the Go and Python SDKs where it is
 * silent), summarised in shared/reference/oss.md section 5:
 *
 *  - V1 signs a whitelist of "sub-resources" from the query, with decoded values, and
 *    the raw decoded key; listing parameters (prefix, marker...) are deliberately not
 *    signed by the SDKs, so they must not be signed here either.
 *  - V4 signs the whole query and the key, RFC 3986-encoded by us from the decoded
 *    form, which makes the result independent of how the client escaped them.
 *  - An empty parameter value is always written as the bare key: ali-oss sends
 *    `?uploads=` but signs `uploads`.
 *
 * Nothing here reads the clock: the caller compares a->date / a->expires with now.
 */
#include "common/oss_sign.h"

#include "common/codec.h"
#include "common/digest.h"
#include "common/timefmt.h"
#include "common/v4sign.h"

#include <openssl/crypto.h>
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#define V4_ALGORITHM "OSS4-HMAC-SHA256"
#define V4_TERMINATOR "aliyun_v4_request"
#define UNSIGNED_PAYLOAD "UNSIGNED-PAYLOAD"

/* ---- sub-resources -------------------------------------------------------- */

/* The union of the documented list, the Go SDK's signKeyList and the Python SDK's set
 * (reference/oss.md 5.2), sorted by strcmp for bsearch. A name missing here that a
 * client signs makes its requests fail; a name here that a client does not sign
 * makes them fail too, so the list is as wide as the SDKs agree on and no wider. */
static const char *const subresources[] = {
    "accessPoint", "accessPointPolicy", "acl", "append", "asyncFetch",
    "bucketArchiveDirectRead", "bucketInfo", "callback", "callback-var", "cloudboxes",
    "cname", "comp", "continuation-token", "cors", "delete", "encryption", "endTime",
    "group", "httpsConfig", "img", "inventory", "inventoryId", "lifecycle", "link", "live",
    "location", "logging", "metaQuery", "objectInfo", "objectMeta", "partNumber", "policy",
    "position", "publicAccessBlock", "qos", "qosInfo", "qosRequester", "redundancyTransition",
    "referer", "regionList", "replication", "replicationLocation", "replicationProgress",
    "requestPayment", "requesterQosInfo", "resourceGroup", "resourcePool",
    "resourcePoolBuckets", "resourcePoolInfo", "response-cache-control",
    "response-content-disposition", "response-content-encoding", "response-content-language",
    "response-content-type", "response-expires", "responseHeader", "restore", "rtc",
    "security-token", "sequential", "startTime", "stat", "status", "style", "styleName",
    "symlink", "tagging", "transferAcceleration", "udf", "udfApplication",
    "udfApplicationLog", "udfId", "udfImage", "udfImageDesc", "udfName", "uploadId",
    "uploads", "versionId", "versioning", "versions", "vod", "website", "withHashContext",
    "worm", "wormExtend", "wormId", "x-oss-ac-forward-allow", "x-oss-ac-source-ip",
    "x-oss-ac-subnet-mask", "x-oss-ac-vpc-id", "x-oss-access-point-name",
    "x-oss-async-process", "x-oss-enable-md5", "x-oss-enable-sha1", "x-oss-enable-sha256",
    "x-oss-hash-ctx", "x-oss-md5-ctx", "x-oss-process", "x-oss-redundancy-transition-taskid",
    "x-oss-request-payer", "x-oss-target-redundancy-type", "x-oss-traffic-limit",
    "x-oss-write-get-object-response",
};

static int cmp_str(const void *a, const void *b)
{
    return strcmp(*(const char *const *)a, *(const char *const *)b);
}

int vodup_oss_is_subresource(const char *name)
{
    return bsearch(&name, subresources, sizeof subresources / sizeof *subresources,
                   sizeof *subresources, cmp_str) != NULL;
}

/* ---- request helpers ------------------------------------------------------ */

typedef vodup_span span;

static const char *header(const vodup_oss_request *r, const char *name)
{
    return vodup_header_find(r->headers, r->nheaders, name);
}

static const char *query(const vodup_oss_request *r, const char *name)
{
    return vodup_param_find(r->query, r->nquery, name);
}

/* Copies s into a fixed field; -1 when empty or too long. */
static int copy_field(char *dst, size_t dstsz, const char *s, size_t n)
{
    if (n == 0 || n >= dstsz)
        return -1;
    memcpy(dst, s, n);
    dst[n] = '\0';
    return 0;
}

/* ---- canonical headers ---------------------------------------------------- */

typedef struct signed_ctx {
    int v4;
    const char *additional;
} signed_ctx;

/* Which headers a signature covers. V1: x-oss-*. V4: also content-type, content-md5
 * and the AdditionalHeaders. */
static int header_signed(const char *lname, void *ctx)
{
    const signed_ctx *c = ctx;
    if (strncmp(lname, "x-oss-", 6) == 0)
        return 1;
    if (!c->v4)
        return 0;
    return strcmp(lname, "content-type") == 0 || strcmp(lname, "content-md5") == 0 ||
           vodup_v4_in_list(c->additional, lname);
}

/* Appends the signed headers as sorted `name:value\n` lines (v4sign.c). */
static int canonical_headers(vbuf *out, const vodup_oss_request *r, int v4, const char *additional)
{
    signed_ctx c = {v4, additional};
    int rc = vodup_v4_canonical_headers(out, r->headers, r->nheaders, header_signed, &c, 0);
    return rc < 0 ? VODUP_OSS_EAUTH_NOMEM : 0;
}

/* ---- V1 ------------------------------------------------------------------- */

typedef vodup_v4_pair kv;

static int canonical_resource_v1(vbuf *out, const vodup_oss_request *r)
{
    vbuf_putc(out, '/');
    if (r->bucket && r->bucket[0]) {
        vbuf_puts(out, r->bucket);
        vbuf_putc(out, '/');
        vbuf_append(out, r->key ? r->key : "", r->key ? r->key_len : 0);
    }
    kv *pairs = r->nquery ? calloc(r->nquery, sizeof *pairs) : NULL;
    size_t np = 0;
    if (r->nquery && !pairs)
        return VODUP_OSS_EAUTH_NOMEM;
    for (size_t i = 0; i < r->nquery; i++) {
        const vodup_param *p = &r->query[i];
        if (!vodup_oss_is_subresource(p->name))
            continue;
        pairs[np++] = (kv){p->name, strlen(p->name), p->value, p->value_len};
    }
    if (np) {
        vbuf_putc(out, '?');
        vodup_v4_put_pairs(out, pairs, np, VODUP_V4_EMPTY_BARE);
    }
    free(pairs);
    return out->oom ? VODUP_OSS_EAUTH_NOMEM : 0;
}

static int sts_v1(vbuf *out, const vodup_oss_request *r, const vodup_oss_auth *a)
{
    span md5 = vodup_trim_ows(header(r, "content-md5"));
    span type = vodup_trim_ows(header(r, "content-type"));
    char expires[24];
    span date;
    if (a->kind == VODUP_OSS_AUTH_V1_QUERY) {
        const char *e = query(r, "Expires");
        if (!e) {
            snprintf(expires, sizeof expires, "%lld", (long long)a->expires);
            e = expires;
        }
        date = vodup_trim_ows(e);
    } else {
        const char *d = header(r, "x-oss-date");
        date = vodup_trim_ows(d ? d : header(r, "date"));
    }
    vbuf_puts(out, r->method);
    vbuf_putc(out, '\n');
    vbuf_append(out, md5.p, md5.n);
    vbuf_putc(out, '\n');
    vbuf_append(out, type.p, type.n);
    vbuf_putc(out, '\n');
    vbuf_append(out, date.p, date.n);
    vbuf_putc(out, '\n');
    int rc = canonical_headers(out, r, 0, "");
    if (rc == 0)
        rc = canonical_resource_v1(out, r);
    return rc;
}

/* ---- V4 ------------------------------------------------------------------- */

static int canonical_query_v4(vbuf *out, const vodup_oss_request *r, int presigned)
{
    int rc = vodup_v4_canonical_query(out, r->query, r->nquery,
                                      presigned ? "x-oss-signature" : NULL, VODUP_V4_EMPTY_BARE);
    return rc < 0 ? VODUP_OSS_EAUTH_NOMEM : 0;
}

/* x-oss-date as sent: the header for the header form, the query for the presigned. */
static const char *v4_date(const vodup_oss_request *r, const vodup_oss_auth *a, char buf[17])
{
    const char *d = a->kind == VODUP_OSS_AUTH_V4_QUERY ? query(r, "x-oss-date")
                                                        : header(r, "x-oss-date");
    if (!d) {
        vodup_time_compact(buf, a->date);
        d = buf;
    }
    return d;
}

int vodup_oss_canonical_request(vbuf *out, const vodup_oss_request *r, const vodup_oss_auth *a)
{
    int presigned = a->kind == VODUP_OSS_AUTH_V4_QUERY;
    if (a->kind != VODUP_OSS_AUTH_V4 && !presigned)
        return VODUP_OSS_EAUTH_FORMAT;
    vbuf_puts(out, r->method);
    vbuf_putc(out, '\n');

    vbuf uri = VBUF_INIT;
    vbuf_putc(&uri, '/');
    if (r->bucket && r->bucket[0]) {
        vbuf_puts(&uri, r->bucket);
        vbuf_putc(&uri, '/');
        vbuf_append(&uri, r->key ? r->key : "", r->key ? r->key_len : 0);
    }
    vodup_uri_encode(out, uri.data ? uri.data : "", uri.len, 1);
    int oom = uri.oom;
    vbuf_free(&uri);
    if (oom)
        return VODUP_OSS_EAUTH_NOMEM;
    vbuf_putc(out, '\n');

    int rc = canonical_query_v4(out, r, presigned);
    if (rc < 0)
        return rc;
    vbuf_putc(out, '\n');
    rc = canonical_headers(out, r, 1, a->additional_headers);
    if (rc < 0)
        return rc;
    vbuf_putc(out, '\n');
    vbuf_puts(out, a->additional_headers);
    vbuf_putc(out, '\n');
    const char *payload = header(r, "x-oss-content-sha256");
    span ph = vodup_trim_ows(payload ? payload : UNSIGNED_PAYLOAD);
    vbuf_append(out, ph.p, ph.n);
    return out->oom ? VODUP_OSS_EAUTH_NOMEM : 0;
}

static int sts_v4(vbuf *out, const vodup_oss_request *r, const vodup_oss_auth *a)
{
    vbuf creq = VBUF_INIT;
    int rc = vodup_oss_canonical_request(&creq, r, a);
    if (rc == 0) {
        char datebuf[17];
        span date = vodup_trim_ows(v4_date(r, a, datebuf));
        rc = vodup_v4_string_to_sign(out, &vodup_v4_oss, date.p, date.n, a->scope_date,
                                     a->region, a->product, vbuf_cstr(&creq), creq.len);
        rc = rc < 0 ? VODUP_OSS_EAUTH_NOMEM : 0;
    }
    vbuf_free(&creq);
    return rc;
}

int vodup_oss_string_to_sign(vbuf *out, const vodup_oss_request *r, const vodup_oss_auth *a)
{
    switch (a->kind) {
    case VODUP_OSS_AUTH_V1:
    case VODUP_OSS_AUTH_V1_QUERY:
        return sts_v1(out, r, a);
    case VODUP_OSS_AUTH_V4:
    case VODUP_OSS_AUTH_V4_QUERY:
        return sts_v4(out, r, a);
    default:
        return VODUP_OSS_EAUTH_FORMAT;
    }
}

void vodup_oss_sign_v1(char out[29], const char *secret, const char *sts, size_t n)
{
    unsigned char mac[VODUP_SHA1_LEN];
    vodup_hmac_sha1(mac, secret, strlen(secret), sts, n);
    vbuf b = VBUF_INIT;
    vodup_base64_encode(&b, mac, sizeof mac);
    /* 20 bytes are always 28 base64 characters. */
    if (b.oom || b.len != 28)
        out[0] = '\0';
    else
        memcpy(out, b.data, 29);
    vbuf_free(&b);
}

void vodup_oss_sign_v4(char out[65], const char *secret, const char *scope_date,
                       const char *region, const char *product, const char *sts, size_t n)
{
    unsigned char key[VODUP_SHA256_LEN];
    if (vodup_v4_signing_key(key, &vodup_v4_oss, secret, scope_date, region, product) < 0) {
        out[0] = '\0';
        return;
    }
    vodup_v4_signature(out, key, sts, n);
    OPENSSL_cleanse(key, sizeof key);
}

/* ---- parsing credentials -------------------------------------------------- */

/* "AK/yyyymmdd/region/product/aliyun_v4_request" into a. */
static int parse_credential(vodup_oss_auth *a, const char *s, size_t n)
{
    return vodup_v4_parse_credential(s, n, V4_TERMINATOR, a->access_key_id,
                                     sizeof a->access_key_id, a->scope_date, a->region,
                                     sizeof a->region, a->product, sizeof a->product) < 0
               ? VODUP_OSS_EAUTH_FORMAT
               : 0;
}

/* "h1;h2": no empty names (so no "", no trailing or doubled ';'), token characters. */
static int parse_additional(vodup_oss_auth *a, const char *s, size_t n)
{
    if (copy_field(a->additional_headers, sizeof a->additional_headers, s, n) < 0)
        return VODUP_OSS_EAUTH_FORMAT;
    size_t run = 0;
    for (size_t i = 0; i <= n; i++) {
        char c = i < n ? s[i] : ';';
        if (c == ';') {
            if (run == 0)
                return VODUP_OSS_EAUTH_FORMAT;
            run = 0;
        } else if ((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' || c == '_' ||
                   c == '.') {
            run++;
        } else {
            /* The SDKs send the names lower-cased; anything else is not theirs. */
            return VODUP_OSS_EAUTH_FORMAT;
        }
    }
    return 0;
}

static int parse_v4_signature(vodup_oss_auth *a, const char *s, size_t n)
{
    if (!vodup_v4_is_hex64(s, n))
        return VODUP_OSS_EAUTH_FORMAT;
    return copy_field(a->signature, sizeof a->signature, s, n);
}

/* The Authorization value after "OSS4-HMAC-SHA256 ": Credential=..., optional
 * AdditionalHeaders=..., Signature=...; separated by "," or ", ". */
static int parse_v4_header(vodup_oss_auth *a, const char *s)
{
    int have_cred = 0, have_add = 0, have_sig = 0;
    while (*s) {
        const char *comma = strchr(s, ',');
        size_t n = comma ? (size_t)(comma - s) : strlen(s);
        const char *eq = memchr(s, '=', n);
        if (!eq)
            return VODUP_OSS_EAUTH_FORMAT;
        size_t klen = (size_t)(eq - s);
        const char *v = eq + 1;
        size_t vlen = n - klen - 1;
        int rc;
        if (klen == 10 && memcmp(s, "Credential", 10) == 0 && !have_cred++) {
            rc = parse_credential(a, v, vlen);
        } else if (klen == 17 && memcmp(s, "AdditionalHeaders", 17) == 0 && !have_add++) {
            rc = parse_additional(a, v, vlen);
        } else if (klen == 9 && memcmp(s, "Signature", 9) == 0 && !have_sig++) {
            rc = parse_v4_signature(a, v, vlen);
        } else {
            return VODUP_OSS_EAUTH_FORMAT;
        }
        if (rc < 0)
            return rc;
        if (!comma)
            break;
        s = comma + 1;
        if (*s == ' ')
            s++;
        if (*s == '\0')
            return VODUP_OSS_EAUTH_FORMAT; /* trailing separator */
    }
    return have_cred && have_sig ? 0 : VODUP_OSS_EAUTH_FORMAT;
}

/* Parses the x-oss-date of a V4 request and checks the scope against it. */
static int v4_check_date(vodup_oss_auth *a, const char *date)
{
    if (!date)
        return VODUP_OSS_EAUTH_DATE;
    span d = vodup_trim_ows(date);
    char buf[17];
    if (d.n != 16)
        return VODUP_OSS_EAUTH_DATE;
    memcpy(buf, d.p, 16);
    buf[16] = '\0';
    if (vodup_time_parse_compact(buf, &a->date) < 0)
        return VODUP_OSS_EAUTH_DATE;
    if (memcmp(buf, a->scope_date, 8) != 0)
        return VODUP_OSS_EAUTH_FORMAT;
    return 0;
}

static int v4_check_payload(const vodup_oss_request *r)
{
    const char *p = header(r, "x-oss-content-sha256");
    if (!p)
        return 0;
    span s = vodup_trim_ows(p);
    return s.n == strlen(UNSIGNED_PAYLOAD) && memcmp(s.p, UNSIGNED_PAYLOAD, s.n) == 0
               ? 0
               : VODUP_OSS_EAUTH_FORMAT;
}

/* "OSS ak:signature" */
static int parse_v1_header(vodup_oss_auth *a, const vodup_oss_request *r, span v)
{
    const char *s = v.p + 4;
    size_t n = v.n - 4;
    const char *colon = memchr(s, ':', n);
    if (!colon)
        return VODUP_OSS_EAUTH_FORMAT;
    size_t aklen = (size_t)(colon - s);
    const char *sig = colon + 1;
    size_t siglen = n - aklen - 1;
    if (memchr(sig, ':', siglen) || memchr(s, ' ', n) || memchr(s, '\t', n) ||
        copy_field(a->access_key_id, sizeof a->access_key_id, s, aklen) < 0 ||
        copy_field(a->signature, sizeof a->signature, sig, siglen) < 0)
        return VODUP_OSS_EAUTH_FORMAT;
    a->kind = VODUP_OSS_AUTH_V1;
    const char *d = header(r, "x-oss-date");
    if (!d)
        d = header(r, "date");
    if (!d)
        return VODUP_OSS_EAUTH_DATE;
    span ds = vodup_trim_ows(d);
    char buf[64];
    if (ds.n >= sizeof buf)
        return VODUP_OSS_EAUTH_DATE;
    memcpy(buf, ds.p, ds.n);
    buf[ds.n] = '\0';
    return vodup_time_parse_http(buf, &a->date) < 0 ? VODUP_OSS_EAUTH_DATE : 0;
}

/* Decimal seconds, digits only, no sign, no overflow. */
static int parse_seconds(const char *s, long long *out)
{
    if (!s || !*s || strlen(s) > 18)
        return -1;
    for (const char *p = s; *p; p++)
        if (*p < '0' || *p > '9')
            return -1;
    errno = 0;
    char *end;
    unsigned long long v = strtoull(s, &end, 10);
    if (errno || *end)
        return -1;
    *out = (long long)v;
    return 0;
}

static int parse_v1_query(vodup_oss_auth *a, const vodup_oss_request *r)
{
    const char *ak = query(r, "OSSAccessKeyId");
    const char *sig = query(r, "Signature");
    a->kind = VODUP_OSS_AUTH_V1_QUERY;
    if (!sig || copy_field(a->access_key_id, sizeof a->access_key_id, ak, strlen(ak)) < 0 ||
        copy_field(a->signature, sizeof a->signature, sig, strlen(sig)) < 0)
        return VODUP_OSS_EAUTH_FORMAT;
    long long e;
    if (parse_seconds(query(r, "Expires"), &e) < 0)
        return VODUP_OSS_EAUTH_DATE;
    a->expires = (time_t)e;
    a->date = 0;
    a->security_token = query(r, "security-token");
    return 0;
}

static int parse_v4_query(vodup_oss_auth *a, const vodup_oss_request *r)
{
    const char *ver = query(r, "x-oss-signature-version");
    const char *cred = query(r, "x-oss-credential");
    const char *sig = query(r, "x-oss-signature");
    const char *add = query(r, "x-oss-additional-headers");
    a->kind = VODUP_OSS_AUTH_V4_QUERY;
    if (strcmp(ver, V4_ALGORITHM) != 0 || !cred || !sig)
        return VODUP_OSS_EAUTH_FORMAT;
    int rc = parse_credential(a, cred, strlen(cred));
    if (rc == 0)
        rc = parse_v4_signature(a, sig, strlen(sig));
    if (rc == 0 && add)
        rc = parse_additional(a, add, strlen(add));
    if (rc == 0)
        rc = v4_check_date(a, query(r, "x-oss-date"));
    if (rc < 0)
        return rc;
    long long e;
    if (parse_seconds(query(r, "x-oss-expires"), &e) < 0)
        return VODUP_OSS_EAUTH_DATE;
    a->expires = a->date + (time_t)e;
    a->security_token = query(r, "x-oss-security-token");
    return v4_check_payload(r);
}

int vodup_oss_auth_parse(vodup_oss_auth *a, const vodup_oss_request *r)
{
    memset(a, 0, sizeof *a);
    const char *auth = header(r, "authorization");
    if (auth) {
        span v = vodup_trim_ows(auth);
        a->security_token = header(r, "x-oss-security-token");
        if (v.n > 4 && memcmp(v.p, "OSS ", 4) == 0)
            return parse_v1_header(a, r, v);
        size_t alen = strlen(V4_ALGORITHM);
        if (v.n > alen + 1 && memcmp(v.p, V4_ALGORITHM " ", alen + 1) == 0) {
            a->kind = VODUP_OSS_AUTH_V4;
            char *copy = malloc(v.n + 1);
            if (!copy)
                return VODUP_OSS_EAUTH_NOMEM;
            memcpy(copy, v.p, v.n);
            copy[v.n] = '\0';
            int rc = parse_v4_header(a, copy + alen + 1);
            free(copy);
            if (rc == 0)
                rc = v4_check_date(a, header(r, "x-oss-date"));
            if (rc == 0)
                rc = v4_check_payload(r);
            return rc;
        }
        return VODUP_OSS_EAUTH_FORMAT;
    }
    if (query(r, "OSSAccessKeyId"))
        return parse_v1_query(a, r);
    if (query(r, "x-oss-signature-version"))
        return parse_v4_query(a, r);
    return 0;
}

/* ---- verification --------------------------------------------------------- */

int vodup_oss_verify(const vodup_oss_request *r, const vodup_oss_auth *a, const char *secret,
                     vbuf *sts)
{
    vbuf local = VBUF_INIT;
    vbuf *s = sts ? sts : &local;
    vbuf_reset(s);
    int rc = vodup_oss_string_to_sign(s, r, a);
    if (rc < 0) {
        vbuf_free(&local);
        return rc;
    }
    const char *text = vbuf_cstr(s);
    char sig[65];
    if (a->kind == VODUP_OSS_AUTH_V1 || a->kind == VODUP_OSS_AUTH_V1_QUERY)
        vodup_oss_sign_v1(sig, secret, text, s->len);
    else
        vodup_oss_sign_v4(sig, secret, a->scope_date, a->region, a->product, text, s->len);
    vbuf_free(&local);
    if (!sig[0])
        return VODUP_OSS_EAUTH_NOMEM;
    return vodup_ct_equal(sig, strlen(sig), a->signature, strlen(a->signature));
}
