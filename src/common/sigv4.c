/* sigv4.c - AWS SigV4 for S3: Authorization header and presigned query, on top of the
 * canonicalisation shared with OSS V4 (v4sign.c).
 *
 * What is S3's own, as boto3/botocore, the AWS docs and the vectors agree:
 *  - the canonical URI is the decoded path encoded once (RFC 3986, '/' kept): S3 does
 *    not double-encode nor normalise it, unlike other AWS services;
 *  - an empty query value is written "k=" (OSS writes "k");
 *  - header values are trimmed and inner runs of spaces collapsed;
 *  - the client names the signed headers (SignedHeaders), which must include host;
 *  - the payload line is x-amz-content-sha256 as sent (a hex digest, UNSIGNED-PAYLOAD or a
 *    STREAMING-* value); presigned URLs use X-Amz-Content-Sha256 from the query or
 *    UNSIGNED-PAYLOAD.
 * Nothing here reads the clock (vodup_s3_auth_check_time takes now).
 */
#include "common/sigv4.h"

#include "common/codec.h"
#include "common/digest.h"
#include "common/timefmt.h"

#include <openssl/crypto.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#define ALGORITHM "AWS4-HMAC-SHA256"
#define UNSIGNED_PAYLOAD "UNSIGNED-PAYLOAD"

static const struct {
    const char *text;
    int payload;
} payload_values[] = {
    {UNSIGNED_PAYLOAD, VODUP_S3_PAYLOAD_UNSIGNED},
    {"STREAMING-AWS4-HMAC-SHA256-PAYLOAD", VODUP_S3_PAYLOAD_STREAMING},
    {"STREAMING-AWS4-HMAC-SHA256-PAYLOAD-TRAILER", VODUP_S3_PAYLOAD_STREAMING_TRAILER},
    {"STREAMING-UNSIGNED-PAYLOAD-TRAILER", VODUP_S3_PAYLOAD_UNSIGNED_TRAILER},
};

/* ---- request helpers ------------------------------------------------------ */

typedef vodup_span span;

static const char *header(const vodup_s3_request *r, const char *name)
{
    return vodup_header_find(r->headers, r->nheaders, name);
}

/* Query names are case-sensitive in S3 (X-Amz-Date, not x-amz-date). */
static const char *query(const vodup_s3_request *r, const char *name)
{
    return vodup_param_find(r->query, r->nquery, name);
}

static int copy_span(char *dst, size_t dstsz, span s)
{
    if (s.n == 0 || s.n >= dstsz)
        return -1;
    memcpy(dst, s.p, s.n);
    dst[s.n] = '\0';
    return 0;
}

/* ---- canonical request ---------------------------------------------------- */

static int header_signed(const char *lname, void *ctx)
{
    return vodup_v4_in_list(ctx, lname);
}

int vodup_s3_canonical_request(vbuf *out, const vodup_s3_request *r, const vodup_s3_auth *a)
{
    if (a->kind != VODUP_S3_AUTH_HEADER && a->kind != VODUP_S3_AUTH_QUERY)
        return VODUP_S3_EAUTH_MALFORMED;
    vbuf_puts(out, r->method);
    vbuf_putc(out, '\n');
    if (r->path_len)
        vodup_uri_encode(out, r->path, r->path_len, 1);
    else
        vbuf_putc(out, '/');
    vbuf_putc(out, '\n');
    const char *skip = a->kind == VODUP_S3_AUTH_QUERY ? "X-Amz-Signature" : NULL;
    if (vodup_v4_canonical_query(out, r->query, r->nquery, skip, 0) < 0)
        return VODUP_S3_EAUTH_NOMEM;
    vbuf_putc(out, '\n');
    if (vodup_v4_canonical_headers(out, r->headers, r->nheaders, header_signed,
                                   (void *)a->signed_headers, VODUP_V4_COLLAPSE) < 0)
        return VODUP_S3_EAUTH_NOMEM;
    vbuf_putc(out, '\n');
    vbuf_puts(out, a->signed_headers);
    vbuf_putc(out, '\n');
    vbuf_puts(out, a->payload_hash);
    return out->oom ? VODUP_S3_EAUTH_NOMEM : 0;
}

int vodup_s3_string_to_sign(vbuf *out, const vodup_s3_request *r, const vodup_s3_auth *a)
{
    vbuf creq = VBUF_INIT;
    int rc = vodup_s3_canonical_request(&creq, r, a);
    if (rc == 0 && vodup_v4_string_to_sign(out, &vodup_v4_aws, a->amz_date, strlen(a->amz_date),
                                           a->scope_date, a->region, a->service,
                                           vbuf_cstr(&creq), creq.len) < 0)
        rc = VODUP_S3_EAUTH_NOMEM;
    vbuf_free(&creq);
    return rc;
}

void vodup_s3_scope(char *out, size_t size, const vodup_s3_auth *a)
{
    snprintf(out, size, "%s/%s/%s/%s", a->scope_date, a->region, a->service,
             vodup_v4_aws.terminator);
}

int vodup_s3_verify(const vodup_s3_request *r, const vodup_s3_auth *a, const char *secret,
                    vbuf *sts, unsigned char key_out[32])
{
    vbuf local = VBUF_INIT;
    vbuf *s = sts ? sts : &local;
    vbuf_reset(s);
    int rc = vodup_s3_string_to_sign(s, r, a);
    unsigned char key[32];
    if (rc == 0 && vodup_v4_signing_key(key, &vodup_v4_aws, secret, a->scope_date, a->region,
                                        a->service) < 0)
        rc = VODUP_S3_EAUTH_NOMEM;
    if (rc < 0) {
        vbuf_free(&local);
        return rc;
    }
    char sig[65];
    vodup_v4_signature(sig, key, vbuf_cstr(s), s->len);
    vbuf_free(&local);
    if (key_out)
        memcpy(key_out, key, sizeof key);
    OPENSSL_cleanse(key, sizeof key);
    return vodup_ct_equal(sig, 64, a->signature, strlen(a->signature));
}

/* ---- parsing ---------------------------------------------------------------- */

/* "h1;h2;...": lower-case token names, strictly ascending (so no duplicates), host among
 * them: the form every SDK sends, and the only one where the list means one thing. */
static int parse_signed_headers(vodup_s3_auth *a, span s)
{
    if (copy_span(a->signed_headers, sizeof a->signed_headers, s) < 0)
        return VODUP_S3_EAUTH_MALFORMED;
    const char *prev = NULL;
    size_t prevlen = 0, start = 0;
    for (size_t i = 0; i <= s.n; i++) {
        char c = i < s.n ? s.p[i] : ';';
        if (c == ';') {
            size_t len = i - start;
            const char *name = s.p + start;
            if (len == 0)
                return VODUP_S3_EAUTH_MALFORMED;
            if (prev) {
                size_t m = len < prevlen ? len : prevlen;
                int cmp = memcmp(prev, name, m);
                if (cmp > 0 || (cmp == 0 && prevlen >= len))
                    return VODUP_S3_EAUTH_MALFORMED;
            }
            prev = name;
            prevlen = len;
            start = i + 1;
        } else if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' ||
                     c == '_' || c == '.')) {
            return VODUP_S3_EAUTH_MALFORMED;
        }
    }
    return vodup_v4_in_list(a->signed_headers, "host") ? 0 : VODUP_S3_EAUTH_MALFORMED;
}

static int parse_credential(vodup_s3_auth *a, span s)
{
    return vodup_v4_parse_credential(s.p, s.n, vodup_v4_aws.terminator, a->access_key_id,
                                     sizeof a->access_key_id, a->scope_date, a->region,
                                     sizeof a->region, a->service, sizeof a->service) < 0
               ? VODUP_S3_EAUTH_SCOPE
               : 0;
}

static int parse_signature(vodup_s3_auth *a, span s)
{
    if (!vodup_v4_is_hex64(s.p, s.n))
        return VODUP_S3_EAUTH_MALFORMED;
    memcpy(a->signature, s.p, 64);
    a->signature[64] = '\0';
    return 0;
}

/* Sets a->date and a->amz_date from the compact form; checks the scope's day. */
static int set_date(vodup_s3_auth *a, span d)
{
    if (d.n != 16)
        return VODUP_S3_EAUTH_DATE;
    memcpy(a->amz_date, d.p, 16);
    a->amz_date[16] = '\0';
    if (vodup_time_parse_compact(a->amz_date, &a->date) < 0)
        return VODUP_S3_EAUTH_DATE;
    return 0;
}

static int check_scope_date(const vodup_s3_auth *a)
{
    return memcmp(a->amz_date, a->scope_date, 8) == 0 ? 0 : VODUP_S3_EAUTH_SCOPE;
}

static int parse_payload(vodup_s3_auth *a, const char *value, int presigned)
{
    if (!value)
        return VODUP_S3_EAUTH_PAYLOAD;
    span v = vodup_trim_ows(value);
    for (size_t i = 0; i < sizeof payload_values / sizeof *payload_values; i++) {
        if (v.n == strlen(payload_values[i].text) && memcmp(v.p, payload_values[i].text, v.n) == 0) {
            a->payload = payload_values[i].payload;
            /* A URL cannot carry an aws-chunked body's seed signature. */
            if (presigned && a->payload != VODUP_S3_PAYLOAD_UNSIGNED)
                return VODUP_S3_EAUTH_PAYLOAD;
            /* The longest name (42 characters) fits the 64-digit field. */
            memcpy(a->payload_hash, v.p, v.n);
            a->payload_hash[v.n] = '\0';
            return 0;
        }
    }
    if (!vodup_v4_is_hex64(v.p, v.n))
        return VODUP_S3_EAUTH_PAYLOAD;
    a->payload = VODUP_S3_PAYLOAD_SHA256;
    memcpy(a->payload_hash, v.p, 64);
    a->payload_hash[64] = '\0';
    return 0;
}

/* The value after "AWS4-HMAC-SHA256 ": Credential=..., SignedHeaders=..., Signature=...
 * in any order, separated by ',' and optional spaces, each exactly once. */
static int parse_header_fields(vodup_s3_auth *a, span v)
{
    int have_cred = 0, have_sh = 0, have_sig = 0;
    const char *p = v.p, *end = v.p + v.n;
    while (p < end) {
        const char *comma = memchr(p, ',', (size_t)(end - p));
        span f = {p, (size_t)((comma ? comma : end) - p)};
        while (f.n && f.p[f.n - 1] == ' ')
            f.n--;
        const char *eq = memchr(f.p, '=', f.n);
        if (!eq)
            return VODUP_S3_EAUTH_MALFORMED;
        size_t klen = (size_t)(eq - f.p);
        span val = {eq + 1, f.n - klen - 1};
        int rc;
        if (klen == 10 && memcmp(f.p, "Credential", 10) == 0 && !have_cred++)
            rc = parse_credential(a, val);
        else if (klen == 13 && memcmp(f.p, "SignedHeaders", 13) == 0 && !have_sh++)
            rc = parse_signed_headers(a, val);
        else if (klen == 9 && memcmp(f.p, "Signature", 9) == 0 && !have_sig++)
            rc = parse_signature(a, val);
        else
            return VODUP_S3_EAUTH_MALFORMED;
        if (rc < 0)
            return rc;
        if (!comma)
            break;
        p = comma + 1;
        while (p < end && *p == ' ')
            p++;
        if (p == end)
            return VODUP_S3_EAUTH_MALFORMED; /* trailing separator */
    }
    return have_cred && have_sh && have_sig ? 0 : VODUP_S3_EAUTH_MALFORMED;
}

static int parse_header(vodup_s3_auth *a, const vodup_s3_request *r, span v)
{
    a->kind = VODUP_S3_AUTH_HEADER;
    size_t alen = strlen(ALGORITHM);
    const char *sp = memchr(v.p, ' ', v.n);
    size_t first = sp ? (size_t)(sp - v.p) : v.n;
    if (first != alen || memcmp(v.p, ALGORITHM, alen) != 0)
        return VODUP_S3_EAUTH_ALGORITHM;
    span rest = {v.p + alen, v.n - alen};
    while (rest.n && rest.p[0] == ' ') {
        rest.p++;
        rest.n--;
    }
    int rc = parse_header_fields(a, rest);
    if (rc < 0)
        return rc;
    const char *xd = header(r, "x-amz-date");
    if (xd) {
        rc = set_date(a, vodup_trim_ows(xd));
    } else {
        /* The Date header is the documented fallback; the string to sign still carries
         * the compact form. */
        const char *d = header(r, "date");
        span ds = vodup_trim_ows(d);
        char buf[64];
        if (!d || ds.n >= sizeof buf)
            return VODUP_S3_EAUTH_DATE;
        memcpy(buf, ds.p, ds.n);
        buf[ds.n] = '\0';
        if (vodup_time_parse_http(buf, &a->date) < 0)
            return VODUP_S3_EAUTH_DATE;
        vodup_time_compact(a->amz_date, a->date);
        rc = 0;
    }
    if (rc == 0)
        rc = check_scope_date(a);
    if (rc == 0)
        rc = parse_payload(a, header(r, "x-amz-content-sha256"), 0);
    a->security_token = header(r, "x-amz-security-token");
    return rc;
}

/* Decimal seconds, digits only. */
static int parse_seconds(const char *s, long long *out)
{
    if (!s || !*s || strlen(s) > 12)
        return -1;
    for (const char *p = s; *p; p++)
        if (*p < '0' || *p > '9')
            return -1;
    errno = 0;
    char *end;
    long long v = strtoll(s, &end, 10);
    if (errno || *end)
        return -1;
    *out = v;
    return 0;
}

static int parse_query(vodup_s3_auth *a, const vodup_s3_request *r, int need_signature)
{
    a->kind = VODUP_S3_AUTH_QUERY;
    const char *alg = query(r, "X-Amz-Algorithm");
    const char *cred = query(r, "X-Amz-Credential");
    const char *date = query(r, "X-Amz-Date");
    const char *exp = query(r, "X-Amz-Expires");
    const char *sh = query(r, "X-Amz-SignedHeaders");
    const char *sig = query(r, "X-Amz-Signature");
    if (!alg || strcmp(alg, ALGORITHM) != 0)
        return VODUP_S3_EAUTH_ALGORITHM;
    if (!cred || !date || !exp || !sh || (need_signature && !sig))
        return VODUP_S3_EAUTH_MALFORMED;
    int rc = parse_credential(a, (span){cred, strlen(cred)});
    if (rc == 0)
        rc = parse_signed_headers(a, (span){sh, strlen(sh)});
    if (rc == 0 && sig)
        rc = parse_signature(a, (span){sig, strlen(sig)});
    if (rc == 0)
        rc = set_date(a, (span){date, strlen(date)});
    if (rc == 0)
        rc = check_scope_date(a);
    if (rc < 0)
        return rc;
    long long e;
    if (parse_seconds(exp, &e) < 0 || e < 1 || e > VODUP_S3_MAX_EXPIRES)
        return VODUP_S3_EAUTH_EXPIRES;
    a->expires = a->date + (time_t)e;
    a->security_token = query(r, "X-Amz-Security-Token");
    const char *ph = query(r, "X-Amz-Content-Sha256");
    return parse_payload(a, ph ? ph : UNSIGNED_PAYLOAD, 1);
}

int vodup_s3_auth_parse(vodup_s3_auth *a, const vodup_s3_request *r)
{
    memset(a, 0, sizeof *a);
    const char *auth = header(r, "authorization");
    int in_query = query(r, "X-Amz-Algorithm") != NULL;
    if (auth) {
        if (in_query) {
            a->kind = VODUP_S3_AUTH_HEADER;
            return VODUP_S3_EAUTH_MALFORMED; /* two credentials: which one would count? */
        }
        return parse_header(a, r, vodup_trim_ows(auth));
    }
    if (in_query)
        return parse_query(a, r, 1);
    return 0;
}

const char *vodup_s3_unsigned_amz_header(const vodup_s3_request *r, const vodup_s3_auth *a)
{
    for (size_t i = 0; i < r->nheaders; i++) {
        const char *name = r->headers[i].name;
        if (name && strncasecmp(name, "x-amz-", 6) == 0 && !vodup_v4_in_list(a->signed_headers, name))
            return name;
    }
    return NULL;
}

int vodup_s3_auth_check_time(const vodup_s3_auth *a, time_t now)
{
    if (a->kind == VODUP_S3_AUTH_QUERY) {
        if (a->date > now + VODUP_S3_MAX_SKEW)
            return VODUP_S3_EAUTH_SKEW;
        return now > a->expires ? VODUP_S3_EAUTH_EXPIRED : 0;
    }
    if (a->kind == VODUP_S3_AUTH_HEADER &&
        (a->date > now + VODUP_S3_MAX_SKEW || a->date < now - VODUP_S3_MAX_SKEW))
        return VODUP_S3_EAUTH_SKEW;
    return 0;
}

void vodup_s3_auth_error(int rc, int kind, const char **code, int *status, const char **message)
{
    int q = kind == VODUP_S3_AUTH_QUERY;
    const char *malformed = q ? "AuthorizationQueryParametersError" : "AuthorizationHeaderMalformed";
    *status = 400;
    switch (rc) {
    case VODUP_S3_EAUTH_MALFORMED:
        *code = malformed;
        *message = q ? "Query-string authentication requires the X-Amz-Algorithm, X-Amz-Credential, "
                       "X-Amz-Signature, X-Amz-Date, X-Amz-SignedHeaders, and X-Amz-Expires parameters."
                     : "The authorization header is malformed.";
        break;
    case VODUP_S3_EAUTH_ALGORITHM:
        *code = q ? malformed : "InvalidArgument";
        *message = q ? "X-Amz-Algorithm only supports \"AWS4-HMAC-SHA256\""
                     : "Unsupported Authorization Type";
        break;
    case VODUP_S3_EAUTH_SCOPE:
        *code = malformed;
        *message = "The credential scope is malformed or its date is not the request's; expecting "
                   "\"<AccessKeyId>/YYYYMMDD/REGION/SERVICE/aws4_request\".";
        break;
    case VODUP_S3_EAUTH_DATE:
        *code = "AccessDenied";
        *status = 403;
        *message = "AWS authentication requires a valid Date or x-amz-date header";
        break;
    case VODUP_S3_EAUTH_EXPIRED:
        *code = "AccessDenied";
        *status = 403;
        *message = "Request has expired";
        break;
    case VODUP_S3_EAUTH_SKEW:
        *code = "RequestTimeTooSkewed";
        *status = 403;
        *message = "The difference between the request time and the current time is too large.";
        break;
    case VODUP_S3_EAUTH_PAYLOAD:
        *code = "InvalidArgument";
        *message = q ? "X-Amz-Content-Sha256 must be UNSIGNED-PAYLOAD or a valid sha256 value."
                     : "x-amz-content-sha256 must be UNSIGNED-PAYLOAD, STREAMING-AWS4-HMAC-SHA256-"
                       "PAYLOAD[-TRAILER], STREAMING-UNSIGNED-PAYLOAD-TRAILER, or a valid sha256 value.";
        break;
    case VODUP_S3_EAUTH_EXPIRES:
        *code = malformed;
        *message = "X-Amz-Expires must be between 1 and 604800 seconds (one week).";
        break;
    case VODUP_S3_EAUTH_NOMEM:
        *code = "InternalError";
        *status = 500;
        *message = "We encountered an internal error. Please try again.";
        break;
    default:
        *code = "SignatureDoesNotMatch";
        *status = 403;
        *message = "The request signature we calculated does not match the signature you provided. "
                   "Check your key and signing method.";
        break;
    }
}

/* ---- signing ------------------------------------------------------------------ */

int vodup_s3_sign_header(vbuf *out, const vodup_s3_request *r, const char *access_key_id,
                         const char *secret, const char *region, const char *service,
                         const char *signed_headers)
{
    vodup_s3_auth a;
    memset(&a, 0, sizeof a);
    a.kind = VODUP_S3_AUTH_HEADER;
    span ak = {access_key_id, strlen(access_key_id)};
    span rg = {region, strlen(region)}, sv = {service, strlen(service)};
    if (copy_span(a.access_key_id, sizeof a.access_key_id, ak) < 0 ||
        copy_span(a.region, sizeof a.region, rg) < 0 ||
        copy_span(a.service, sizeof a.service, sv) < 0)
        return VODUP_S3_EAUTH_SCOPE;
    int rc = parse_signed_headers(&a, (span){signed_headers, strlen(signed_headers)});
    if (rc == 0)
        rc = set_date(&a, vodup_trim_ows(header(r, "x-amz-date")));
    if (rc < 0)
        return rc;
    memcpy(a.scope_date, a.amz_date, 8);
    a.scope_date[8] = '\0';
    rc = parse_payload(&a, header(r, "x-amz-content-sha256"), 0);
    if (rc < 0)
        return rc;
    vbuf sts = VBUF_INIT;
    unsigned char key[32];
    rc = vodup_s3_string_to_sign(&sts, r, &a);
    if (rc == 0 && vodup_v4_signing_key(key, &vodup_v4_aws, secret, a.scope_date, a.region,
                                        a.service) < 0)
        rc = VODUP_S3_EAUTH_NOMEM;
    if (rc == 0) {
        char sig[65], scope[160];
        vodup_v4_signature(sig, key, vbuf_cstr(&sts), sts.len);
        OPENSSL_cleanse(key, sizeof key);
        vodup_s3_scope(scope, sizeof scope, &a);
        vbuf_printf(out, ALGORITHM " Credential=%s/%s, SignedHeaders=%s, Signature=%s",
                    a.access_key_id, scope, a.signed_headers, sig);
        rc = out->oom ? VODUP_S3_EAUTH_NOMEM : 0;
    }
    vbuf_free(&sts);
    return rc;
}

static void put_param(vbuf *out, const char *name, const char *value, int first)
{
    if (!first)
        vbuf_putc(out, '&');
    vbuf_puts(out, name);
    vbuf_putc(out, '=');
    vodup_uri_encode(out, value, strlen(value), 0);
}

int vodup_s3_presign_params(vbuf *out, const char *access_key_id, time_t date,
                            const char *region, const char *service, long expires,
                            const char *signed_headers, const char *token)
{
    if (expires < 1 || expires > VODUP_S3_MAX_EXPIRES)
        return VODUP_S3_EAUTH_EXPIRES;
    char amz_date[17], cred[512], secs[24];
    vodup_time_compact(amz_date, date);
    int n = snprintf(cred, sizeof cred, "%s/%.8s/%s/%s/%s", access_key_id, amz_date, region,
                     service, vodup_v4_aws.terminator);
    if (n < 0 || (size_t)n >= sizeof cred)
        return VODUP_S3_EAUTH_SCOPE;
    snprintf(secs, sizeof secs, "%ld", expires);
    put_param(out, "X-Amz-Algorithm", ALGORITHM, 1);
    put_param(out, "X-Amz-Credential", cred, 0);
    put_param(out, "X-Amz-Date", amz_date, 0);
    put_param(out, "X-Amz-Expires", secs, 0);
    put_param(out, "X-Amz-SignedHeaders", signed_headers, 0);
    if (token)
        put_param(out, "X-Amz-Security-Token", token, 0);
    return out->oom ? VODUP_S3_EAUTH_NOMEM : 0;
}

int vodup_s3_presign_signature(char sig[65], const vodup_s3_request *r, const char *secret)
{
    vodup_s3_auth a;
    memset(&a, 0, sizeof a);
    sig[0] = '\0';
    int rc = parse_query(&a, r, 0);
    if (rc < 0)
        return rc;
    vbuf sts = VBUF_INIT;
    unsigned char key[32];
    rc = vodup_s3_string_to_sign(&sts, r, &a);
    if (rc == 0 && vodup_v4_signing_key(key, &vodup_v4_aws, secret, a.scope_date, a.region,
                                        a.service) < 0)
        rc = VODUP_S3_EAUTH_NOMEM;
    if (rc == 0) {
        vodup_v4_signature(sig, key, vbuf_cstr(&sts), sts.len);
        OPENSSL_cleanse(key, sizeof key);
    }
    vbuf_free(&sts);
    return rc;
}
