/* auth.c - UploadAddress and UploadAuth, the base64 JSON blobs of the VOD Create* answers. */
#include <errno.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "client/internal.h"
#include "common/codec.h"
#include "common/timefmt.h"

/* Ten years: longer than any temporary credentials live. */
#define VCL_MAX_CRED_LIFETIME_S (10LL * 366 * 24 * 3600)

void vcl_addr_free(vcl_addr *a)
{
    free(a->endpoint);
    free(a->bucket);
    free(a->key);
    memset(a, 0, sizeof *a);
}

void vcl_creds_free(vcl_creds *c)
{
    /* The secret is wiped, not just freed: it should not linger in freed heap blocks. */
    if (c->sk) {
        volatile char *p = c->sk;
        while (*p)
            *p++ = 0;
    }
    free(c->ak);
    free(c->sk);
    free(c->token);
    free(c->region);
    memset(c, 0, sizeof *c);
}

static int dup_opt(char **dst, const char *src)
{
    *dst = NULL;
    if (!src)
        return 0;
    *dst = strdup(src);
    return *dst ? 0 : -1;
}

int vcl_addr_copy(vcl_addr *dst, const vcl_addr *src)
{
    memset(dst, 0, sizeof *dst);
    if (dup_opt(&dst->endpoint, src->endpoint) || dup_opt(&dst->bucket, src->bucket) ||
        dup_opt(&dst->key, src->key)) {
        vcl_addr_free(dst);
        return VODUP_ENOMEM;
    }
    return 0;
}

int vcl_creds_copy(vcl_creds *dst, const vcl_creds *src)
{
    memset(dst, 0, sizeof *dst);
    if (dup_opt(&dst->ak, src->ak) || dup_opt(&dst->sk, src->sk) || dup_opt(&dst->token, src->token) ||
        dup_opt(&dst->region, src->region)) {
        vcl_creds_free(dst);
        return VODUP_ENOMEM;
    }
    dst->expire = src->expire;
    dst->received = src->received;
    return 0;
}

/* Decodes base64 (tolerating missing padding, which some servers strip) into JSON. */
static int decode_json(const char *b64, json_t **out, char *msg, size_t msglen)
{
    *out = NULL;
    if (!b64 || !*b64) {
        snprintf(msg, msglen, "empty");
        return VODUP_EINVAL;
    }
    size_t n = strlen(b64);
    if (n > 64 * 1024) {
        snprintf(msg, msglen, "too long");
        return VODUP_EINVAL;
    }
    char *padded = malloc(n + 4);
    unsigned char *raw = malloc(n / 4 * 3 + 6);
    if (!padded || !raw) {
        free(padded);
        free(raw);
        return VODUP_ENOMEM;
    }
    memcpy(padded, b64, n);
    while (n % 4)
        padded[n++] = '=';
    padded[n] = '\0';
    long len = vodup_base64_decode(raw, padded, n);
    free(padded);
    if (len < 0) {
        free(raw);
        snprintf(msg, msglen, "not base64");
        return VODUP_EINVAL;
    }
    json_error_t jerr;
    json_t *j = json_loadb((const char *)raw, (size_t)len, 0, &jerr);
    free(raw);
    if (!j || !json_is_object(j)) {
        json_decref(j);
        snprintf(msg, msglen, "not a JSON object");
        return VODUP_EINVAL;
    }
    *out = j;
    return 0;
}

static const char *jstr(json_t *o, const char *name)
{
    json_t *v = json_object_get(o, name);
    return json_is_string(v) ? json_string_value(v) : NULL;
}

int vcl_decode_upload_address(const char *b64, vcl_addr *out, char *msg, size_t msglen)
{
    memset(out, 0, sizeof *out);
    json_t *j;
    int rc = decode_json(b64, &j, msg, msglen);
    if (rc)
        return rc;
    const char *ep = jstr(j, "Endpoint"), *b = jstr(j, "Bucket"), *k = jstr(j, "FileName");
    if (!ep || !*ep || !b || !*b || !k || !*k) {
        json_decref(j);
        snprintf(msg, msglen, "UploadAddress lacks Endpoint, Bucket or FileName");
        return VODUP_EINVAL;
    }
    /* Endpoint normally carries its scheme; the official SDKs add https:// otherwise. */
    int has_scheme = strstr(ep, "://") != NULL;
    size_t n = strlen(ep);
    while (n && ep[n - 1] == '/')
        n--;
    out->endpoint = malloc(n + 9);
    if (out->endpoint)
        snprintf(out->endpoint, n + 9, "%s%.*s", has_scheme ? "" : "https://", (int)n, ep);
    out->bucket = strdup(b);
    out->key = strdup(k);
    json_decref(j);
    if (!out->endpoint || !out->bucket || !out->key) {
        vcl_addr_free(out);
        return VODUP_ENOMEM;
    }
    return 0;
}

int vcl_decode_upload_auth(const char *b64, vcl_creds *out, char *msg, size_t msglen)
{
    memset(out, 0, sizeof *out);
    json_t *j;
    int rc = decode_json(b64, &j, msg, msglen);
    if (rc)
        return rc;
    const char *ak = jstr(j, "AccessKeyId"), *sk = jstr(j, "AccessKeySecret"), *tok = jstr(j, "SecurityToken");
    if (!ak || !*ak || !sk || !*sk) {
        json_decref(j);
        snprintf(msg, msglen, "UploadAuth lacks AccessKeyId or AccessKeySecret");
        return VODUP_EINVAL;
    }
    out->received = time(NULL);
    /* ExpireUTCTime is an instant; Expiration a lifetime in seconds (as a string, or a
     * number from some servers). The instant wins, as in the mobile SDKs. */
    const char *eu = jstr(j, "ExpireUTCTime");
    time_t t;
    if (eu && vodup_time_parse_iso(eu, &t) == 0) {
        out->expire = t;
    } else {
        json_t *ev = json_object_get(j, "Expiration");
        long long secs = -1;
        if (json_is_integer(ev)) {
            secs = json_integer_value(ev);
        } else if (json_is_string(ev)) {
            char *end;
            errno = 0;
            secs = strtoll(json_string_value(ev), &end, 10);
            if (errno || *end || end == json_string_value(ev))
                secs = -1;
        }
        /* A lifetime beyond any real credentials' is taken as unknown (and cannot
         * overflow the addition). */
        if (secs > 0 && secs <= VCL_MAX_CRED_LIFETIME_S)
            out->expire = out->received + (time_t)secs;
    }
    if (dup_opt(&out->ak, ak) || dup_opt(&out->sk, sk) || dup_opt(&out->token, tok && *tok ? tok : NULL) ||
        dup_opt(&out->region, jstr(j, "Region"))) {
        json_decref(j);
        vcl_creds_free(out);
        return VODUP_ENOMEM;
    }
    json_decref(j);
    return 0;
}

/* The dialect rule of dialect.h: the endpoint's scheme says S3 ("s3+" path style,
 * "s3-vhost+" virtual-host style); any other endpoint is OSS, as every VOD service's. */
#define S3_PATH_PREFIX "s3+"
#define S3_VHOST_PREFIX "s3-vhost+"

const char *vcl_endpoint_url(const char *endpoint, int *vhost)
{
    int vh = 0;
    const char *u = endpoint;
    if (strncmp(endpoint, S3_PATH_PREFIX, strlen(S3_PATH_PREFIX)) == 0)
        u = endpoint + strlen(S3_PATH_PREFIX);
    else if (strncmp(endpoint, S3_VHOST_PREFIX, strlen(S3_VHOST_PREFIX)) == 0)
        u = endpoint + strlen(S3_VHOST_PREFIX), vh = 1;
    if (vhost)
        *vhost = vh;
    return u;
}

const vcl_dialect *vcl_dialect_for(const vcl_addr *a)
{
    if (a && a->endpoint && vcl_endpoint_url(a->endpoint, NULL) != a->endpoint)
        return &vcl_dialect_s3;
    return &vcl_dialect_oss;
}
