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

typedef struct span {
    const char *p;
    size_t n;
} span;

static span trim(const char *s)
{
    span r = {s ? s : "", 0};
    r.n = strlen(r.p);
    while (r.n && (r.p[0] == ' ' || r.p[0] == '\t')) {
        r.p++;
        r.n--;
    }
    while (r.n && (r.p[r.n - 1] == ' ' || r.p[r.n - 1] == '\t'))
        r.n--;
    return r;
}

/* First header named name (any case), or NULL. */
static const char *header(const vodup_oss_request *r, const char *name)
{
    for (size_t i = 0; i < r->nheaders; i++)
        if (r->headers[i].name && strcasecmp(r->headers[i].name, name) == 0)
            return r->headers[i].value ? r->headers[i].value : "";
    return NULL;
}

static const char *query(const vodup_oss_request *r, const char *name)
{
    for (size_t i = 0; i < r->nquery; i++)
        if (strcmp(r->query[i].name, name) == 0)
            return r->query[i].value;
    return NULL;
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

typedef struct canon_hdr {
    char *name;         /* lower-cased copy */
    span value;         /* trimmed */
    size_t order;       /* wire position, to keep repeated headers in order */
} canon_hdr;

static int cmp_hdr(const void *a, const void *b)
{
    const canon_hdr *x = a, *y = b;
    int c = strcmp(x->name, y->name);
    if (c)
        return c;
    return x->order < y->order ? -1 : x->order > y->order;
}

/* Is name (lower case) among the ';'-separated list? */
static int in_list(const char *list, const char *name)
{
    size_t n = strlen(name);
    for (const char *p = list; *p;) {
        const char *semi = strchr(p, ';');
        size_t len = semi ? (size_t)(semi - p) : strlen(p);
        if (len == n && strncasecmp(p, name, n) == 0)
            return 1;
        if (!semi)
            break;
        p = semi + 1;
    }
    return 0;
}

/* Which headers a signature covers. V1: x-oss-*. V4: also content-type, content-md5
 * and the AdditionalHeaders. */
static int header_signed(const char *lname, int v4, const char *additional)
{
    if (strncmp(lname, "x-oss-", 6) == 0)
        return 1;
    if (!v4)
        return 0;
    return strcmp(lname, "content-type") == 0 || strcmp(lname, "content-md5") == 0 ||
           in_list(additional, lname);
}

/* Appends the signed headers as sorted `name:value\n` lines, repeated names joined
 * with ','. */
static int canonical_headers(vbuf *out, const vodup_oss_request *r, int v4, const char *additional)
{
    canon_hdr *h = r->nheaders ? calloc(r->nheaders, sizeof *h) : NULL;
    size_t nh = 0;
    int rc = 0;
    if (r->nheaders && !h)
        return VODUP_OSS_EAUTH_NOMEM;
    for (size_t i = 0; i < r->nheaders; i++) {
        const char *name = r->headers[i].name;
        if (!name || !name[0])
            continue;
        /* Every name is copied whatever its length: skipping a long one would leave an
         * x-oss-* header outside the signature while the server still acts on it. */
        size_t len = strlen(name);
        char *lname = malloc(len + 1);
        if (!lname) {
            rc = VODUP_OSS_EAUTH_NOMEM;
            goto done;
        }
        for (size_t k = 0; k <= len; k++) {
            char c = name[k];
            lname[k] = c >= 'A' && c <= 'Z' ? (char)(c - 'A' + 'a') : c;
        }
        if (!header_signed(lname, v4, additional)) {
            free(lname);
            continue;
        }
        h[nh].name = lname;
        h[nh].value = trim(r->headers[i].value);
        h[nh].order = i;
        nh++;
    }
    if (nh)
        qsort(h, nh, sizeof *h, cmp_hdr);
    for (size_t i = 0; i < nh; i++) {
        int same = i > 0 && strcmp(h[i].name, h[i - 1].name) == 0;
        if (same) {
            vbuf_putc(out, ',');
        } else {
            if (i > 0)
                vbuf_putc(out, '\n');
            vbuf_puts(out, h[i].name);
            vbuf_putc(out, ':');
        }
        vbuf_append(out, h[i].value.p, h[i].value.n);
    }
    if (nh)
        vbuf_putc(out, '\n');
    rc = out->oom ? VODUP_OSS_EAUTH_NOMEM : 0;
done:
    for (size_t i = 0; i < nh; i++)
        free(h[i].name);
    free(h);
    return rc;
}

/* ---- V1 ------------------------------------------------------------------- */

typedef struct kv {
    const char *k;
    size_t klen;
    const char *v;
    size_t vlen;
} kv;

static int cmp_kv(const void *a, const void *b)
{
    const kv *x = a, *y = b;
    size_t n = x->klen < y->klen ? x->klen : y->klen;
    int c = memcmp(x->k, y->k, n);
    if (c)
        return c;
    if (x->klen != y->klen)
        return x->klen < y->klen ? -1 : 1;
    n = x->vlen < y->vlen ? x->vlen : y->vlen;
    c = n ? memcmp(x->v, y->v, n) : 0;
    if (c)
        return c;
    return x->vlen < y->vlen ? -1 : x->vlen > y->vlen;
}

/* Appends sorted `k[=v]` pairs joined with '&'. */
static void put_pairs(vbuf *out, kv *pairs, size_t n)
{
    if (n)
        qsort(pairs, n, sizeof *pairs, cmp_kv);
    for (size_t i = 0; i < n; i++) {
        if (i)
            vbuf_putc(out, '&');
        vbuf_append(out, pairs[i].k, pairs[i].klen);
        if (pairs[i].vlen) {
            vbuf_putc(out, '=');
            vbuf_append(out, pairs[i].v, pairs[i].vlen);
        }
    }
}

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
        put_pairs(out, pairs, np);
    }
    free(pairs);
    return out->oom ? VODUP_OSS_EAUTH_NOMEM : 0;
}

static int sts_v1(vbuf *out, const vodup_oss_request *r, const vodup_oss_auth *a)
{
    span md5 = trim(header(r, "content-md5"));
    span type = trim(header(r, "content-type"));
    char expires[24];
    span date;
    if (a->kind == VODUP_OSS_AUTH_V1_QUERY) {
        const char *e = query(r, "Expires");
        if (!e) {
            snprintf(expires, sizeof expires, "%lld", (long long)a->expires);
            e = expires;
        }
        date = trim(e);
    } else {
        const char *d = header(r, "x-oss-date");
        date = trim(d ? d : header(r, "date"));
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
    /* Encode every name and value once into one buffer, then sort spans into it. */
    vbuf enc = VBUF_INIT;
    size_t (*offs)[4] = r->nquery ? calloc(r->nquery, sizeof *offs) : NULL;
    kv *pairs = r->nquery ? calloc(r->nquery, sizeof *pairs) : NULL;
    size_t np = 0;
    int rc = 0;
    if (r->nquery && (!offs || !pairs)) {
        rc = VODUP_OSS_EAUTH_NOMEM;
        goto done;
    }
    for (size_t i = 0; i < r->nquery; i++) {
        const vodup_param *p = &r->query[i];
        if (presigned && strcmp(p->name, "x-oss-signature") == 0)
            continue;
        offs[np][0] = enc.len;
        vodup_uri_encode(&enc, p->name, strlen(p->name), 0);
        offs[np][1] = enc.len;
        offs[np][2] = enc.len;
        vodup_uri_encode(&enc, p->value, p->value_len, 0);
        offs[np][3] = enc.len;
        np++;
    }
    if (enc.oom) {
        rc = VODUP_OSS_EAUTH_NOMEM;
        goto done;
    }
    for (size_t i = 0; i < np; i++) {
        const char *base = vbuf_cstr(&enc);
        pairs[i] = (kv){base + offs[i][0], offs[i][1] - offs[i][0], base + offs[i][2],
                        offs[i][3] - offs[i][2]};
    }
    put_pairs(out, pairs, np);
    rc = out->oom ? VODUP_OSS_EAUTH_NOMEM : 0;
done:
    free(offs);
    free(pairs);
    vbuf_free(&enc);
    return rc;
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
    span ph = trim(payload ? payload : UNSIGNED_PAYLOAD);
    vbuf_append(out, ph.p, ph.n);
    return out->oom ? VODUP_OSS_EAUTH_NOMEM : 0;
}

static int sts_v4(vbuf *out, const vodup_oss_request *r, const vodup_oss_auth *a)
{
    vbuf creq = VBUF_INIT;
    int rc = vodup_oss_canonical_request(&creq, r, a);
    if (rc < 0) {
        vbuf_free(&creq);
        return rc;
    }
    unsigned char h[VODUP_SHA256_LEN];
    char hex[2 * VODUP_SHA256_LEN + 1];
    vodup_sha256(h, creq.data ? creq.data : "", creq.len);
    vbuf_free(&creq);
    vodup_hex_lower(hex, h, sizeof h);
    char datebuf[17];
    span date = trim(v4_date(r, a, datebuf));
    vbuf_puts(out, V4_ALGORITHM "\n");
    vbuf_append(out, date.p, date.n);
    vbuf_printf(out, "\n%s/%s/%s/" V4_TERMINATOR "\n%s", a->scope_date, a->region, a->product,
                hex);
    return out->oom ? VODUP_OSS_EAUTH_NOMEM : 0;
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
    /* The key chain is short and fixed; build "aliyun_v4" + secret in a buffer that is
     * wiped afterwards so the secret does not linger in freed heap memory. */
    unsigned char k1[VODUP_SHA256_LEN], k2[VODUP_SHA256_LEN];
    size_t slen = strlen(secret);
    unsigned char *seed = malloc(9 + slen);
    if (!seed) {
        out[0] = '\0';
        return;
    }
    memcpy(seed, "aliyun_v4", 9);
    memcpy(seed + 9, secret, slen);
    vodup_hmac_sha256(k1, seed, 9 + slen, scope_date, strlen(scope_date));
    OPENSSL_cleanse(seed, 9 + slen);
    free(seed);
    vodup_hmac_sha256(k2, k1, sizeof k1, region, strlen(region));
    vodup_hmac_sha256(k1, k2, sizeof k2, product, strlen(product));
    vodup_hmac_sha256(k2, k1, sizeof k1, V4_TERMINATOR, strlen(V4_TERMINATOR));
    vodup_hmac_sha256(k1, k2, sizeof k2, sts, n);
    vodup_hex_lower(out, k1, sizeof k1);
    OPENSSL_cleanse(k2, sizeof k2);
}

/* ---- parsing credentials -------------------------------------------------- */

/* "AK/yyyymmdd/region/product/aliyun_v4_request" into a. */
static int parse_credential(vodup_oss_auth *a, const char *s, size_t n)
{
    const char *end = s + n;
    const char *part[5];
    size_t len[5];
    for (int i = 0; i < 5; i++) {
        const char *slash = i < 4 ? memchr(s, '/', (size_t)(end - s)) : NULL;
        if (i < 4 && !slash)
            return VODUP_OSS_EAUTH_FORMAT;
        part[i] = s;
        len[i] = (size_t)((i < 4 ? slash : end) - s);
        s = i < 4 ? slash + 1 : end;
    }
    if (copy_field(a->access_key_id, sizeof a->access_key_id, part[0], len[0]) < 0 ||
        len[1] != 8 || copy_field(a->scope_date, sizeof a->scope_date, part[1], len[1]) < 0 ||
        copy_field(a->region, sizeof a->region, part[2], len[2]) < 0 ||
        copy_field(a->product, sizeof a->product, part[3], len[3]) < 0 ||
        len[4] != strlen(V4_TERMINATOR) || memcmp(part[4], V4_TERMINATOR, len[4]) != 0)
        return VODUP_OSS_EAUTH_FORMAT;
    for (int i = 0; i < 8; i++)
        if (a->scope_date[i] < '0' || a->scope_date[i] > '9')
            return VODUP_OSS_EAUTH_FORMAT;
    return 0;
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
    if (n != 64)
        return VODUP_OSS_EAUTH_FORMAT;
    for (size_t i = 0; i < n; i++) {
        char c = s[i];
        if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f')))
            return VODUP_OSS_EAUTH_FORMAT;
    }
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
    span d = trim(date);
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
    span s = trim(p);
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
    span ds = trim(d);
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
        span v = trim(auth);
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
