/* fuzz_oss_auth.c - OSS credentials (V1/V4, header and presigned forms) and the
 * canonicalisation behind their signatures.
 *
 * Input format (lines end at '\n', a trailing '\r' is dropped):
 *     METHOD
 *     /request-target?with=query
 *     Name: value            (up to MAX_HEADERS header lines; a line without ':' is a
 *     ...                     header with an empty value)
 *
 * The request is built the way the server builds it (src/server/oss/router.c): target
 * parsed, bucket and key from the Host header and the decoded path, then the
 * credentials parsed. When they parse, the string to sign is computed and verified
 * against a fixed secret; and a request re-signed with that secret must verify.
 */
#include "fuzz.h"

#include <strings.h>

#include "common/oss_sign.h"
#include "common/target.h"

#define MAX_HEADERS 32
#define SECRET "fuzzSecretKey0123456789abcdefghij"

static int own_host(const char *host, void *cb_data)
{
    (void)cb_data;
    return strcmp(host, "vodup.test") == 0 || strcmp(host, "127.0.0.1.nip.io") == 0;
}

/* Next line of [*p, end) as a fresh string, or NULL at the end. */
static char *next_line(const char **p, const char *end)
{
    if (*p >= end)
        return NULL;
    const char *nl = memchr(*p, '\n', (size_t)(end - *p));
    const char *le = nl ? nl : end;
    size_t n = (size_t)(le - *p);
    if (n && (*p)[n - 1] == '\r')
        n--;
    char *s = fuzz_strndup(*p, n);
    *p = nl ? nl + 1 : end;
    return s;
}

static void check_auth_fields(const vodup_oss_auth *a)
{
    FUZZ_CHECK(memchr(a->access_key_id, '\0', sizeof a->access_key_id) != NULL);
    FUZZ_CHECK(memchr(a->signature, '\0', sizeof a->signature) != NULL);
    FUZZ_CHECK(memchr(a->scope_date, '\0', sizeof a->scope_date) != NULL);
    FUZZ_CHECK(memchr(a->region, '\0', sizeof a->region) != NULL);
    FUZZ_CHECK(memchr(a->product, '\0', sizeof a->product) != NULL);
    FUZZ_CHECK(memchr(a->additional_headers, '\0', sizeof a->additional_headers) != NULL);
}

static void authenticate(const vodup_oss_request *r)
{
    vodup_oss_auth a;
    int rc = vodup_oss_auth_parse(&a, r);
    FUZZ_CHECK(rc == VODUP_OSS_SIGN_OK || rc == VODUP_OSS_EAUTH_FORMAT ||
               rc == VODUP_OSS_EAUTH_DATE || rc == VODUP_OSS_EAUTH_NOMEM);
    check_auth_fields(&a);
    if (rc != 0)
        return;
    vbuf sts = VBUF_INIT;
    if (a.kind == VODUP_OSS_AUTH_NONE) {
        FUZZ_CHECK(vodup_oss_string_to_sign(&sts, r, &a) == VODUP_OSS_EAUTH_FORMAT);
        vbuf_free(&sts);
        return;
    }
    FUZZ_CHECK(a.kind >= VODUP_OSS_AUTH_V1 && a.kind <= VODUP_OSS_AUTH_V4_QUERY);
    FUZZ_CHECK(a.access_key_id[0] != '\0' && a.signature[0] != '\0');
    int v4 = a.kind == VODUP_OSS_AUTH_V4 || a.kind == VODUP_OSS_AUTH_V4_QUERY;
    if (v4)
        FUZZ_CHECK(strlen(a.scope_date) == 8 && a.region[0] && a.product[0]);

    rc = vodup_oss_string_to_sign(&sts, r, &a);
    FUZZ_CHECK(rc == 0 || rc == VODUP_OSS_EAUTH_NOMEM);
    if (rc == 0) {
        FUZZ_CHECK(sts.data != NULL && sts.data[sts.len] == '\0');
        vbuf creq = VBUF_INIT;
        rc = vodup_oss_canonical_request(&creq, r, &a);
        FUZZ_CHECK(v4 ? rc == 0 : rc == VODUP_OSS_EAUTH_FORMAT);
        vbuf_free(&creq);

        /* Verifying recomputes the same string to sign. */
        vbuf sts2 = VBUF_INIT;
        int ok = vodup_oss_verify(r, &a, SECRET, &sts2);
        FUZZ_CHECK(ok == 0 || ok == 1);
        FUZZ_CHECK(sts2.len == sts.len && memcmp(vbuf_cstr(&sts2), vbuf_cstr(&sts), sts.len) == 0);
        vbuf_free(&sts2);
        FUZZ_CHECK(vodup_oss_verify(r, &a, "", NULL) >= 0);

        /* Signed with the secret by the same code, the request must verify. */
        char sig[65];
        if (v4)
            vodup_oss_sign_v4(sig, SECRET, a.scope_date, a.region, a.product, sts.data, sts.len);
        else
            vodup_oss_sign_v1(sig, SECRET, sts.data, sts.len);
        FUZZ_CHECK(strlen(sig) == (v4 ? 64u : 28u));
        vodup_oss_auth good = a;
        memcpy(good.signature, sig, strlen(sig) + 1);
        FUZZ_CHECK(vodup_oss_verify(r, &good, SECRET, NULL) == 1);
        FUZZ_CHECK(vodup_oss_verify(r, &good, SECRET "x", NULL) == 0);
    }
    vbuf_free(&sts);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const char *p = (const char *)data, *end = p + size;
    char *method = next_line(&p, end);
    char *raw_target = next_line(&p, end);
    char *lines[MAX_HEADERS];
    vodup_header headers[MAX_HEADERS];
    size_t nh = 0;
    const char *host = NULL;
    while (nh < MAX_HEADERS && (lines[nh] = next_line(&p, end)) != NULL) {
        char *line = lines[nh];
        char *colon = strchr(line, ':');
        const char *value = "";
        if (colon) {
            *colon = '\0';
            value = colon + 1;
            while (*value == ' ' || *value == '\t')
                value++;
        }
        headers[nh].name = line;
        headers[nh].value = value;
        if (!host && strcasecmp(line, "host") == 0)
            host = value;
        nh++;
    }

    vodup_target t;
    if (method && raw_target && vodup_target_parse(&t, raw_target, strlen(raw_target)) == 0) {
        char *bucket, *key;
        size_t key_len;
        if (vodup_oss_address(host && *host ? host : "localhost", t.path, t.path_len, own_host,
                              NULL, &bucket, &key, &key_len) == 0) {
            vodup_oss_request r = {
                .method = method, .bucket = bucket, .key = key, .key_len = key_len,
                .query = t.query, .nquery = t.nquery, .headers = headers, .nheaders = nh,
            };
            authenticate(&r);
            free(bucket);
            free(key);
        }
        vodup_target_free(&t);
    }

    for (size_t i = 0; i < nh; i++)
        free(lines[i]);
    free(method);
    free(raw_target);
    return 0;
}
