/* fuzz_sigv4.c - S3 SigV4 credentials (Authorization header and X-Amz-* query) and the
 * canonicalisation behind their signatures (shared with OSS V4, v4sign.c).
 *
 * Input format (lines end at '\n', a trailing '\r' is dropped):
 *     METHOD
 *     /request-target?with=query
 *     Name: value            (up to MAX_HEADERS header lines)
 *
 * When the credentials parse: the string to sign is computed and verified against a fixed
 * secret, the same request re-signed with that secret must verify (and not with another),
 * and in the header form the signing side (vodup_s3_sign_header) must produce an
 * Authorization that parses back and verifies.
 */
#include "fuzz.h"

#include <strings.h>

#include "common/sigv4.h"
#include "common/target.h"

#define MAX_HEADERS 32
#define SECRET "fuzzS3Secret/0123456789+abcdefghijklm"

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

static void check_fields(const vodup_s3_auth *a)
{
    FUZZ_CHECK(memchr(a->access_key_id, '\0', sizeof a->access_key_id) != NULL);
    FUZZ_CHECK(memchr(a->signature, '\0', sizeof a->signature) != NULL);
    FUZZ_CHECK(memchr(a->scope_date, '\0', sizeof a->scope_date) != NULL);
    FUZZ_CHECK(memchr(a->region, '\0', sizeof a->region) != NULL);
    FUZZ_CHECK(memchr(a->service, '\0', sizeof a->service) != NULL);
    FUZZ_CHECK(memchr(a->signed_headers, '\0', sizeof a->signed_headers) != NULL);
    FUZZ_CHECK(memchr(a->payload_hash, '\0', sizeof a->payload_hash) != NULL);
    FUZZ_CHECK(memchr(a->amz_date, '\0', sizeof a->amz_date) != NULL);
}

/* The header form re-signed by the client code: replace Authorization and verify. */
static void resign_header(const vodup_s3_request *r, const vodup_s3_auth *a, vodup_header *h,
                          size_t nh)
{
    size_t ai = nh;
    for (size_t i = 0; i < nh; i++)
        if (strcasecmp(h[i].name, "authorization") == 0) {
            ai = i;
            break;
        }
    FUZZ_CHECK(ai < nh);
    /* signing needs X-Amz-Date (not the Date fallback); skip requests without it */
    int has_xdate = 0;
    for (size_t i = 0; i < nh; i++)
        if (strcasecmp(h[i].name, "x-amz-date") == 0)
            has_xdate = 1;
    if (!has_xdate)
        return;
    vbuf authz = VBUF_INIT;
    vodup_s3_request r2 = *r;
    const char *saved = h[ai].value;
    h[ai].name = "x-ignored-while-signing";
    int rc = vodup_s3_sign_header(&authz, &r2, a->access_key_id, SECRET, a->region, a->service,
                                  a->signed_headers);
    h[ai].name = "Authorization";
    if (rc == 0) {
        h[ai].value = vbuf_cstr(&authz);
        vodup_s3_auth b;
        int prc = vodup_s3_auth_parse(&b, &r2);
        /* an earlier Authorization-like header could shadow ours; only check ours */
        if (prc == 0 && strcmp(b.access_key_id, a->access_key_id) == 0)
            FUZZ_CHECK(vodup_s3_verify(&r2, &b, SECRET, NULL, NULL) == 1);
    } else {
        FUZZ_CHECK(rc < 0);
    }
    h[ai].value = saved;
    vbuf_free(&authz);
}

static void authenticate(const vodup_s3_request *r, vodup_header *h, size_t nh)
{
    vodup_s3_auth a;
    int rc = vodup_s3_auth_parse(&a, r);
    FUZZ_CHECK(rc <= 0 && rc >= VODUP_S3_EAUTH_NOMEM);
    check_fields(&a);
    const char *code, *msg;
    int status;
    vodup_s3_auth_error(rc, a.kind, &code, &status, &msg);
    FUZZ_CHECK(code && msg && status >= 400 && status < 600);
    (void)vodup_s3_auth_check_time(&a, 1795000000);
    if (rc != 0)
        return;
    vbuf sts = VBUF_INIT;
    if (a.kind == VODUP_S3_AUTH_NONE) {
        FUZZ_CHECK(vodup_s3_string_to_sign(&sts, r, &a) == VODUP_S3_EAUTH_MALFORMED);
        vbuf_free(&sts);
        return;
    }
    FUZZ_CHECK(a.access_key_id[0] && strlen(a.signature) == 64 && strlen(a.scope_date) == 8);
    FUZZ_CHECK(strlen(a.amz_date) == 16 && memcmp(a.amz_date, a.scope_date, 8) == 0);
    FUZZ_CHECK(vodup_v4_in_list(a.signed_headers, "host"));
    if (a.kind == VODUP_S3_AUTH_QUERY)
        FUZZ_CHECK(a.expires > a.date && a.expires - a.date <= VODUP_S3_MAX_EXPIRES);

    rc = vodup_s3_string_to_sign(&sts, r, &a);
    FUZZ_CHECK(rc == 0 || rc == VODUP_S3_EAUTH_NOMEM);
    if (rc == 0) {
        vbuf sts2 = VBUF_INIT;
        unsigned char key[32];
        int ok = vodup_s3_verify(r, &a, SECRET, &sts2, key);
        FUZZ_CHECK(ok == 0 || ok == 1);
        FUZZ_CHECK(sts2.len == sts.len && memcmp(vbuf_cstr(&sts2), vbuf_cstr(&sts), sts.len) == 0);
        vbuf_free(&sts2);
        char sig[65];
        vodup_v4_signature(sig, key, sts.data, sts.len);
        vodup_s3_auth good = a;
        memcpy(good.signature, sig, 65);
        FUZZ_CHECK(vodup_s3_verify(r, &good, SECRET, NULL, NULL) == 1);
        FUZZ_CHECK(vodup_s3_verify(r, &good, SECRET "x", NULL, NULL) == 0);
        if (a.kind == VODUP_S3_AUTH_QUERY) {
            char psig[65];
            if (vodup_s3_presign_signature(psig, r, SECRET) == 0)
                FUZZ_CHECK(strcmp(psig, sig) == 0);
        } else {
            resign_header(r, &a, h, nh);
        }
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
        nh++;
    }
    vodup_target t;
    if (method && raw_target && vodup_target_parse(&t, raw_target, strlen(raw_target)) == 0) {
        vodup_s3_request r = {
            .method = method, .path = t.path, .path_len = t.path_len,
            .query = t.query, .nquery = t.nquery, .headers = headers, .nheaders = nh,
        };
        authenticate(&r, headers, nh);
        vodup_target_free(&t);
    }
    for (size_t i = 0; i < nh; i++)
        free(lines[i]);
    free(method);
    free(raw_target);
    return 0;
}
