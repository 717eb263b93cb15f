/* test_sigv4.c - AWS SigV4 (S3) against requests signed by boto3 (tests/vectors/
 * s3-sigv4.requests.jsonl), the signing side reproducing those signatures (also through
 * libvodup's S3 dialect, vcl_s3_sign: same URL, same Authorization), presigned URLs made
 * here, malformed credentials and the clock checks.
 *
 * Each captured request must verify, and must stop verifying when any one signed thing
 * changes by one byte; changing an unsigned header must not matter.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "client/internal.h"
#include "common/codec.h"
#include "common/sigv4.h"
#include "common/target.h"

#define MAX_HDRS 32

typedef struct treq {
    char method[16];
    vodup_target t;
    vodup_header h[MAX_HDRS];
    char *hname[MAX_HDRS], *hval[MAX_HDRS];
    size_t nh;
    vodup_s3_request r;
} treq;

static void treq_add_header(treq *q, const char *name, const char *value)
{
    assert_true(q->nh < MAX_HDRS);
    q->hname[q->nh] = strdup(name);
    q->hval[q->nh] = strdup(value);
    q->h[q->nh].name = q->hname[q->nh];
    q->h[q->nh].value = q->hval[q->nh];
    q->nh++;
    q->r.headers = q->h;
    q->r.nheaders = q->nh;
}

static void treq_set_header(treq *q, size_t i, const char *value)
{
    free(q->hval[i]);
    q->hval[i] = strdup(value);
    q->h[i].value = q->hval[i];
}

static ssize_t treq_find(const treq *q, const char *name)
{
    for (size_t i = 0; i < q->nh; i++)
        if (strcasecmp(q->hname[i], name) == 0)
            return (ssize_t)i;
    return -1;
}

static void treq_remove_header(treq *q, size_t i)
{
    free(q->hname[i]);
    free(q->hval[i]);
    for (size_t k = i + 1; k < q->nh; k++) {
        q->hname[k - 1] = q->hname[k];
        q->hval[k - 1] = q->hval[k];
        q->h[k - 1] = q->h[k];
    }
    q->nh--;
    q->r.nheaders = q->nh;
}

static void treq_finish(treq *q, const char *method, const char *target)
{
    snprintf(q->method, sizeof q->method, "%s", method);
    assert_int_equal(vodup_target_parse(&q->t, target, strlen(target)), 0);
    q->r.method = q->method;
    q->r.path = q->t.path;
    q->r.path_len = q->t.path_len;
    q->r.query = q->t.query;
    q->r.nquery = q->t.nquery;
    q->r.headers = q->h;
    q->r.nheaders = q->nh;
}

static void treq_free(treq *q)
{
    for (size_t i = 0; i < q->nh; i++) {
        free(q->hname[i]);
        free(q->hval[i]);
    }
    vodup_target_free(&q->t);
    memset(q, 0, sizeof *q);
}

/* ---- vectors ---------------------------------------------------------------------- */

static char *vectors_path(const char *name)
{
    const char *dir = getenv("VODUP_VECTORS");
    if (!dir)
        dir = "tests/vectors";
    size_t n = strlen(dir) + strlen(name) + 2;
    char *p = malloc(n);
    snprintf(p, n, "%s/%s", dir, name);
    return p;
}

static json_t *creds;

static json_t *cred_for(const char *ak)
{
    if (!creds) {
        char *p = vectors_path("credentials.json");
        json_error_t err;
        creds = json_load_file(p, 0, &err);
        if (!creds)
            fail_msg("%s: %s", p, err.text);
        free(p);
    }
    json_t *arr = json_object_get(creds, "s3"), *c;
    size_t i;
    json_array_foreach(arr, i, c) {
        if (strcmp(json_string_value(json_object_get(c, "access_key_id")), ak) == 0)
            return c;
    }
    fail_msg("no secret for %s", ak);
    return NULL;
}

static const char *secret_for(const char *ak)
{
    return json_string_value(json_object_get(cred_for(ak), "access_key_secret"));
}

static void treq_from_json(treq *q, json_t *line)
{
    json_t *hs = json_object_get(line, "headers"), *h;
    size_t i;
    json_array_foreach(hs, i, h) {
        treq_add_header(q, json_string_value(json_array_get(h, 0)),
                        json_string_value(json_array_get(h, 1)));
    }
    treq_finish(q, json_string_value(json_object_get(line, "method")),
                json_string_value(json_object_get(line, "target")));
}

static int verify(const treq *q, const vodup_s3_auth *a, const char *secret)
{
    return vodup_s3_verify(&q->r, a, secret, NULL, NULL);
}

/* Flips one bit of one byte of s in place (a printable byte stays printable). */
static void flip(char *s, size_t i)
{
    s[i] ^= 1;
}

/* libvodup's S3 dialect (vcl_s3_sign, dialect_s3.c) given what boto3 was asked to send
 * (method, bucket, key, query, the headers it signed besides its own, payload hash, time)
 * builds the same URL and the same Authorization, byte for byte. */
static void client_signs_alike(const treq *q, const vodup_s3_auth *a, const char *secret, const char *sent,
                               const char *target)
{
    ssize_t hi = treq_find(q, "host");
    assert_true(hi >= 0);
    char endpoint[256], bucket[64];
    snprintf(endpoint, sizeof endpoint, "http://%s", q->hval[hi]);
    /* path style: /bucket/key */
    const char *p = q->t.path + 1, *slash = strchr(p, '/');
    assert_non_null(slash);
    snprintf(bucket, sizeof bucket, "%.*s", (int)(slash - p), p);
    vcl_addr addr = {endpoint, bucket, (char *)slash + 1};
    const char *query[2 * 8 + 1];
    size_t nq = 0;
    assert_true(q->t.nquery <= 8);
    for (size_t i = 0; i < q->t.nquery; i++) {
        query[nq++] = q->t.query[i].name;
        query[nq++] = q->t.query[i].value_len ? q->t.query[i].value : NULL;
    }
    query[nq] = NULL;
    vodup_header extra[MAX_HDRS];
    size_t ne = 0;
    const char *token = NULL;
    for (size_t i = 0; i < q->nh; i++) {
        if (strcasecmp(q->hname[i], "x-amz-security-token") == 0)
            token = q->hval[i];
        if (!vodup_v4_in_list(a->signed_headers, q->hname[i]) || strcasecmp(q->hname[i], "host") == 0 ||
            strcasecmp(q->hname[i], "x-amz-date") == 0 || strcasecmp(q->hname[i], "x-amz-content-sha256") == 0 ||
            strcasecmp(q->hname[i], "x-amz-security-token") == 0)
            continue;
        extra[ne++] = q->h[i];
    }
    vcl_creds k = {(char *)a->access_key_id, (char *)secret, (char *)token, (char *)a->region, 0, 0};
    vcl_s3_msg m = {q->method, &addr, query, extra, ne, a->payload_hash, a->date};
    vbuf url = VBUF_INIT;
    struct curl_slist *hdrs = NULL;
    assert_int_equal(vcl_s3_sign(&m, &k, &url, &hdrs), 0);
    /* the URL: the path as boto3 encoded it, the query in the same order */
    char want[1024];
    snprintf(want, sizeof want, "%s%s", endpoint, target);
    assert_string_equal(vbuf_cstr(&url), want);
    const struct curl_slist *h = hdrs;
    const char *authz = NULL;
    for (; h; h = h->next)
        if (strncmp(h->data, "Authorization: ", 15) == 0)
            authz = h->data + 15;
    assert_non_null(authz);
    assert_string_equal(authz, sent);
    curl_slist_free_all(hdrs);
    vbuf_free(&url);
}

static void check_line(json_t *line, int *lines, int *mutations)
{
    treq q = {0};
    treq_from_json(&q, line);
    vodup_s3_auth a;
    assert_int_equal(vodup_s3_auth_parse(&a, &q.r), 0);
    assert_int_equal(a.kind, VODUP_S3_AUTH_HEADER);
    assert_string_equal(a.service, "s3");
    assert_string_equal(a.region, json_string_value(json_object_get(cred_for(a.access_key_id), "region")));
    const char *secret = secret_for(a.access_key_id);
    vbuf sts = VBUF_INIT;
    unsigned char key[32] = {0}, zero[32] = {0};
    int ok = vodup_s3_verify(&q.r, &a, secret, &sts, key);
    if (ok != 1)
        fail_msg("%s %s does not verify; string to sign:\n%s", q.method,
                 json_string_value(json_object_get(line, "target")), vbuf_cstr(&sts));
    assert_memory_not_equal(key, zero, 32);
    vbuf_free(&sts);
    (*lines)++;
    /* the body's digest is what x-amz-content-sha256 says */
    const char *bsha = json_string_value(json_object_get(line, "body_sha256"));
    assert_int_equal(a.payload, VODUP_S3_PAYLOAD_SHA256);
    assert_string_equal(a.payload_hash, bsha);
    if (treq_find(&q, "x-amz-security-token") >= 0) {
        assert_non_null(a.security_token);
        assert_string_equal(a.security_token,
                            json_string_value(json_object_get(cred_for(a.access_key_id), "security_token")));
    }

    /* the method */
    q.r.method = strcmp(q.method, "PUT") == 0 ? "POST" : "PUT";
    assert_int_equal(verify(&q, &a, secret), 0);
    q.r.method = q.method;
    (*mutations)++;

    /* every byte position class of the path: first after '/', last */
    assert_true(q.t.path_len > 1);
    flip(q.t.path, 1);
    assert_int_equal(verify(&q, &a, secret), 0);
    flip(q.t.path, 1);
    flip(q.t.path, q.t.path_len - 1);
    assert_int_equal(verify(&q, &a, secret), 0);
    flip(q.t.path, q.t.path_len - 1);
    *mutations += 2;

    /* each query parameter: its name and its value */
    for (size_t i = 0; i < q.t.nquery; i++) {
        vodup_param *p = &q.t.query[i];
        flip(p->name, 0);
        if (verify(&q, &a, secret) != 0)
            fail_msg("changing query name %s did not break the signature", p->name);
        flip(p->name, 0);
        char *orig = p->value;
        size_t olen = p->value_len;
        char alt[128];
        if (olen) {
            snprintf(alt, sizeof alt, "%s", orig);
            flip(alt, olen - 1);
        } else {
            snprintf(alt, sizeof alt, "x");
        }
        p->value = alt;
        p->value_len = strlen(alt);
        if (verify(&q, &a, secret) != 0)
            fail_msg("changing query %s did not break the signature", p->name);
        p->value = orig;
        p->value_len = olen;
        *mutations += 2;
    }
    if (q.r.nquery) {
        q.r.nquery = 0;
        assert_int_equal(verify(&q, &a, secret), 0);
        q.r.nquery = q.t.nquery;
        (*mutations)++;
    }

    /* each signed header: one byte of its value; an unsigned one changes nothing */
    for (size_t i = 0; i < q.nh; i++) {
        char *orig = strdup(q.hval[i]);
        size_t n = strlen(orig);
        char *mut = malloc(n + 2);
        memcpy(mut, orig, n + 1);
        if (n)
            flip(mut, n - 1);
        else
            memcpy(mut, "x", 2);
        treq_set_header(&q, i, mut);
        char lname[64];
        snprintf(lname, sizeof lname, "%s", q.hname[i]);
        for (char *c = lname; *c; c++)
            if (*c >= 'A' && *c <= 'Z')
                *c = (char)(*c - 'A' + 'a');
        int is_signed = vodup_v4_in_list(a.signed_headers, lname);
        if (strcasecmp(q.hname[i], "authorization") == 0) {
            /* the Authorization header is the signature itself: not in the canonical form */
        } else if (is_signed) {
            vodup_s3_auth b;
            int prc = vodup_s3_auth_parse(&b, &q.r);
            /* a changed date or payload hash may already fail to parse; else must not verify */
            if (prc == 0 && verify(&q, &b, secret) != 0)
                fail_msg("changing header %s did not break the signature", q.hname[i]);
            if (verify(&q, &a, secret) != 0)
                fail_msg("changing header %s did not break the signature", q.hname[i]);
            (*mutations)++;
        } else {
            if (verify(&q, &a, secret) != 1)
                fail_msg("changing unsigned header %s broke the signature", q.hname[i]);
        }
        treq_set_header(&q, i, orig);
        free(orig);
        free(mut);
    }

    /* the date: the X-Amz-Date seconds, and the scope's day */
    vodup_s3_auth b = a;
    flip(b.amz_date, 14);
    assert_int_equal(verify(&q, &b, secret), 0);
    b = a;
    flip(b.scope_date, 7);
    assert_int_equal(verify(&q, &b, secret), 0);
    b = a;
    snprintf(b.region, sizeof b.region, "us-east-2");
    assert_int_equal(verify(&q, &b, secret), 0);
    *mutations += 3;

    /* the signature, one byte at each end */
    b = a;
    b.signature[0] = b.signature[0] == '0' ? '1' : '0';
    assert_int_equal(verify(&q, &b, secret), 0);
    b = a;
    b.signature[63] = b.signature[63] == '0' ? '1' : '0';
    assert_int_equal(verify(&q, &b, secret), 0);
    *mutations += 2;

    /* the secret */
    char *bad = strdup(secret);
    flip(bad, strlen(bad) / 2);
    assert_int_equal(verify(&q, &a, bad), 0);
    free(bad);
    (*mutations)++;

    /* header names are case-insensitive; an extra unsigned header is ignored */
    for (size_t i = 0; i < q.nh; i++)
        for (char *c = q.hname[i]; *c; c++)
            if (*c >= 'a' && *c <= 'z')
                *c = (char)(*c - 'a' + 'A');
    treq_add_header(&q, "X-Forwarded-For", "10.0.0.1");
    assert_int_equal(vodup_s3_auth_parse(&a, &q.r), 0);
    assert_int_equal(verify(&q, &a, secret), 1);
    assert_null(vodup_s3_unsigned_amz_header(&q.r, &a)); /* boto3 signs every x-amz-* */
    treq_remove_header(&q, q.nh - 1);

    /* the signing side reproduces boto3's Authorization byte for byte */
    ssize_t ai = treq_find(&q, "authorization");
    assert_true(ai >= 0);
    char *sent = strdup(q.hval[ai]);
    treq_remove_header(&q, (size_t)ai);
    vbuf authz = VBUF_INIT;
    assert_int_equal(vodup_s3_sign_header(&authz, &q.r, a.access_key_id, secret, a.region,
                                          a.service, a.signed_headers),
                     0);
    assert_string_equal(vbuf_cstr(&authz), sent);
    vbuf_free(&authz);
    client_signs_alike(&q, &a, secret, sent, json_string_value(json_object_get(line, "target")));
    free(sent);
    treq_free(&q);
}

static void test_vectors(void **state)
{
    (void)state;
    char *p = vectors_path("s3-sigv4.requests.jsonl");
    FILE *f = fopen(p, "r");
    if (!f)
        fail_msg("cannot open %s", p);
    char *line = NULL;
    size_t cap = 0;
    int lines = 0, mutations = 0;
    while (getline(&line, &cap, f) > 0) {
        json_error_t err;
        json_t *j = json_loads(line, 0, &err);
        if (!j)
            fail_msg("%s: %s", p, err.text);
        check_line(j, &lines, &mutations);
        json_decref(j);
    }
    free(line);
    fclose(f);
    free(p);
    assert_int_equal(lines, 14);
    print_message("s3-sigv4: %d requests verified, %d signed mutations rejected\n", lines,
                  mutations);
}

/* ---- canonical forms --------------------------------------------------------------- */

static void test_canonical_request(void **state)
{
    (void)state;
    treq q = {0};
    treq_add_header(&q, "Host", "bucket.s3.example");
    treq_add_header(&q, "X-Amz-Date", "20261124T230826Z");
    treq_add_header(&q, "x-amz-content-sha256", "UNSIGNED-PAYLOAD");
    treq_add_header(&q, "X-Amz-Meta-A", "  one   two\t three ");
    treq_add_header(&q, "x-amz-meta-a", "four");
    treq_add_header(&q, "User-Agent", "not signed");
    treq_add_header(&q, "Authorization",
                    "AWS4-HMAC-SHA256 Credential=AK/20261124/us-east-1/s3/aws4_request,"
                    "SignedHeaders=host;x-amz-content-sha256;x-amz-date;x-amz-meta-a,"
                    "Signature=0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef");
    treq_finish(&q, "GET", "/k%20%2B%21~/x?uploads&b=2&a=&A=1&a=%2F");
    vodup_s3_auth a;
    assert_int_equal(vodup_s3_auth_parse(&a, &q.r), 0);
    assert_int_equal(a.payload, VODUP_S3_PAYLOAD_UNSIGNED);
    vbuf cr = VBUF_INIT;
    assert_int_equal(vodup_s3_canonical_request(&cr, &q.r, &a), 0);
    assert_string_equal(vbuf_cstr(&cr),
                        "GET\n/k%20%2B%21~/x\nA=1&a=&a=%2F&b=2&uploads=\n"
                        "host:bucket.s3.example\nx-amz-content-sha256:UNSIGNED-PAYLOAD\n"
                        "x-amz-date:20261124T230826Z\nx-amz-meta-a:one two three,four\n\n"
                        "host;x-amz-content-sha256;x-amz-date;x-amz-meta-a\nUNSIGNED-PAYLOAD");
    vbuf_free(&cr);
    vbuf sts = VBUF_INIT;
    assert_int_equal(vodup_s3_string_to_sign(&sts, &q.r, &a), 0);
    static const char head[] =
        "AWS4-HMAC-SHA256\n20261124T230826Z\n20261124/us-east-1/s3/aws4_request\n";
    assert_int_equal(sts.len, strlen(head) + 64);
    assert_memory_equal(vbuf_cstr(&sts), head, strlen(head));
    vbuf_free(&sts);
    treq_free(&q);
}

/* The example of the AWS S3 documentation ("GET Object", sig-v4-header-based-auth):
 * secret wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY, 20130524, us-east-1. */
static void test_aws_doc_example(void **state)
{
    (void)state;
    treq q = {0};
    treq_add_header(&q, "Host", "examplebucket.s3.amazonaws.com");
    treq_add_header(&q, "Range", "bytes=0-9");
    treq_add_header(&q, "x-amz-content-sha256", VODUP_S3_EMPTY_SHA256);
    treq_add_header(&q, "x-amz-date", "20130524T000000Z");
    treq_add_header(&q, "Authorization",
                    "AWS4-HMAC-SHA256 Credential=AKIAIOSFODNN7EXAMPLE/20130524/us-east-1/s3/aws4_request,"
                    "SignedHeaders=host;range;x-amz-content-sha256;x-amz-date,"
                    "Signature=f0e8bdb87c964420e857bd35b5d6ed310bd44f0170aba48dd91039c6036bdb41");
    treq_finish(&q, "GET", "/test.txt");
    vodup_s3_auth a;
    assert_int_equal(vodup_s3_auth_parse(&a, &q.r), 0);
    assert_int_equal(vodup_s3_verify(&q.r, &a, "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY", NULL, NULL), 1);
    treq_free(&q);

    /* the doc's presigned URL example (GET /test.txt, 86400 s) */
    treq_add_header(&q, "Host", "examplebucket.s3.amazonaws.com");
    treq_finish(&q, "GET",
                "/test.txt?X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Credential=AKIAIOSFODNN7EXAMPLE%2F"
                "20130524%2Fus-east-1%2Fs3%2Faws4_request&X-Amz-Date=20130524T000000Z&X-Amz-Expires=86400"
                "&X-Amz-SignedHeaders=host&X-Amz-Signature="
                "aeeed9bbccd4d02ee5c0109b86d86835f995330da4c265957d157751f604d404");
    assert_int_equal(vodup_s3_auth_parse(&a, &q.r), 0);
    assert_int_equal(a.kind, VODUP_S3_AUTH_QUERY);
    assert_int_equal(a.expires, a.date + 86400);
    assert_int_equal(a.payload, VODUP_S3_PAYLOAD_UNSIGNED);
    assert_int_equal(vodup_s3_verify(&q.r, &a, "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY", NULL, NULL), 1);
    char sig[65];
    assert_int_equal(vodup_s3_presign_signature(sig, &q.r, "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"), 0);
    assert_string_equal(sig, "aeeed9bbccd4d02ee5c0109b86d86835f995330da4c265957d157751f604d404");
    treq_free(&q);
}

/* ---- presigned URLs made here ---------------------------------------------------------- */

static void test_presign_roundtrip(void **state)
{
    (void)state;
    const char *secret = "tempS3Secret+/=odd";
    vbuf url = VBUF_INIT;
    vbuf_puts(&url, "/media/dir/a%20b%2Bc.mp4?partNumber=3&uploadId=U1&");
    assert_int_equal(vodup_s3_presign_params(&url, "ASIAKEY", 1795000000, "us-east-1", "s3", 3600,
                                             "host", "Fwo/tok+en=="),
                     0);
    treq q = {0};
    treq_add_header(&q, "Host", "127.0.0.1:9000");
    treq_finish(&q, "PUT", vbuf_cstr(&url));
    char sig[65];
    assert_int_equal(vodup_s3_presign_signature(sig, &q.r, secret), 0);
    treq_free(&q);
    vbuf_printf(&url, "&X-Amz-Signature=%s", sig);

    treq_add_header(&q, "Host", "127.0.0.1:9000");
    treq_add_header(&q, "Content-Type", "video/mp4"); /* not signed by a host-only URL */
    treq_finish(&q, "PUT", vbuf_cstr(&url));
    vodup_s3_auth a;
    assert_int_equal(vodup_s3_auth_parse(&a, &q.r), 0);
    assert_int_equal(a.kind, VODUP_S3_AUTH_QUERY);
    assert_string_equal(a.access_key_id, "ASIAKEY");
    assert_string_equal(a.security_token, "Fwo/tok+en==");
    assert_int_equal(a.date, 1795000000);
    assert_int_equal(a.expires, 1795000000 + 3600);
    assert_int_equal(vodup_s3_verify(&q.r, &a, secret, NULL, NULL), 1);
    assert_int_equal(vodup_s3_verify(&q.r, &a, "other", NULL, NULL), 0);
    /* an x-amz-* header the URL does not sign verifies, but is named for refusal */
    assert_null(vodup_s3_unsigned_amz_header(&q.r, &a));
    treq_add_header(&q, "X-Amz-Meta-Evil", "1");
    assert_int_equal(vodup_s3_verify(&q.r, &a, secret, NULL, NULL), 1);
    assert_string_equal(vodup_s3_unsigned_amz_header(&q.r, &a), "X-Amz-Meta-Evil");
    treq_remove_header(&q, q.nh - 1);
    assert_int_equal(vodup_s3_auth_check_time(&a, 1795000000 + 3600), 0);
    assert_int_equal(vodup_s3_auth_check_time(&a, 1795000000 + 3601), VODUP_S3_EAUTH_EXPIRED);
    assert_int_equal(vodup_s3_auth_check_time(&a, 1795000000 - 900), 0);
    assert_int_equal(vodup_s3_auth_check_time(&a, 1795000000 - 901), VODUP_S3_EAUTH_SKEW);
    treq_set_header(&q, 0, "127.0.0.2:9000");
    assert_int_equal(vodup_s3_verify(&q.r, &a, secret, NULL, NULL), 0);
    treq_free(&q);

    /* tampered URLs: each signed parameter */
    static const char *const tampered[][2] = {
        {"X-Amz-Expires=3600", "X-Amz-Expires=3601"},
        {"a%20b", "a%20c"},
        {"tok%2Ben", "tok%2Bem"},
        {"uploadId=U1", "uploadId=U2"},
        {"X-Amz-Date=20261118T110640Z", "X-Amz-Date=20261118T110641Z"},
    };
    for (size_t i = 0; i < sizeof tampered / sizeof *tampered; i++) {
        const char *s = vbuf_cstr(&url);
        const char *at = strstr(s, tampered[i][0]);
        if (!at)
            fail_msg("%s not in %s", tampered[i][0], s);
        vbuf t = VBUF_INIT;
        vbuf_append(&t, s, (size_t)(at - s));
        vbuf_puts(&t, tampered[i][1]);
        vbuf_puts(&t, at + strlen(tampered[i][0]));
        treq_add_header(&q, "Host", "127.0.0.1:9000");
        treq_finish(&q, "PUT", vbuf_cstr(&t));
        assert_int_equal(vodup_s3_auth_parse(&a, &q.r), 0);
        assert_int_equal(vodup_s3_verify(&q.r, &a, secret, NULL, NULL), 0);
        treq_free(&q);
        vbuf_free(&t);
    }
    vbuf_free(&url);

    /* limits of X-Amz-Expires */
    vbuf p = VBUF_INIT;
    assert_int_equal(vodup_s3_presign_params(&p, "AK", 1795000000, "r", "s3", 604800, "host", NULL), 0);
    assert_int_equal(vodup_s3_presign_params(&p, "AK", 1795000000, "r", "s3", 604801, "host", NULL),
                     VODUP_S3_EAUTH_EXPIRES);
    assert_int_equal(vodup_s3_presign_params(&p, "AK", 1795000000, "r", "s3", 0, "host", NULL),
                     VODUP_S3_EAUTH_EXPIRES);
    vbuf_free(&p);
}

/* ---- malformed credentials and their S3 errors ------------------------------------------ */

#define XDATE "20261124T230826Z"
#define CRED "Credential=AK/20261124/us-east-1/s3/aws4_request"
#define SH "SignedHeaders=host;x-amz-content-sha256;x-amz-date"
#define HEX64 "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"
#define SIG "Signature=" HEX64
#define GOOD "AWS4-HMAC-SHA256 " CRED ", " SH ", " SIG

static int parse_with(const char *authz, const char *xdate, const char *sha)
{
    treq q = {0};
    treq_add_header(&q, "Host", "b.s3.example");
    if (xdate)
        treq_add_header(&q, "X-Amz-Date", xdate);
    if (sha)
        treq_add_header(&q, "x-amz-content-sha256", sha);
    if (authz)
        treq_add_header(&q, "Authorization", authz);
    treq_finish(&q, "GET", "/b/k");
    vodup_s3_auth a;
    int rc = vodup_s3_auth_parse(&a, &q.r);
    treq_free(&q);
    return rc;
}

static int parse_query_only(const char *target)
{
    treq q = {0};
    treq_add_header(&q, "Host", "b.s3.example");
    treq_finish(&q, "GET", target);
    vodup_s3_auth a;
    int rc = vodup_s3_auth_parse(&a, &q.r);
    treq_free(&q);
    return rc;
}

#define QBASE "/k?X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Credential=AK%2F20261124%2Fus-east-1%2Fs3%2Faws4_request&X-Amz-SignedHeaders=host"

static void test_malformed(void **state)
{
    (void)state;
    const char *U = "UNSIGNED-PAYLOAD";
    const int M = VODUP_S3_EAUTH_MALFORMED, AL = VODUP_S3_EAUTH_ALGORITHM,
              SC = VODUP_S3_EAUTH_SCOPE, D = VODUP_S3_EAUTH_DATE, P = VODUP_S3_EAUTH_PAYLOAD,
              E = VODUP_S3_EAUTH_EXPIRES;
    assert_int_equal(parse_with(GOOD, XDATE, U), 0);
    assert_int_equal(parse_with("AWS4-HMAC-SHA256 " CRED "," SH "," SIG, XDATE, U), 0);
    assert_int_equal(parse_with("AWS4-HMAC-SHA256 " SIG ", " SH ", " CRED, XDATE, U), 0);
    assert_int_equal(parse_with(GOOD, XDATE, VODUP_S3_EMPTY_SHA256), 0);
    assert_int_equal(parse_with(GOOD, XDATE, "STREAMING-AWS4-HMAC-SHA256-PAYLOAD"), 0);
    assert_int_equal(parse_with(GOOD, XDATE, "STREAMING-UNSIGNED-PAYLOAD-TRAILER"), 0);
    assert_int_equal(parse_with(GOOD, XDATE, "STREAMING-AWS4-HMAC-SHA256-PAYLOAD-TRAILER"), 0);
    /* algorithm */
    assert_int_equal(parse_with("AWS AK:c2ln", XDATE, U), AL);
    assert_int_equal(parse_with("AWS4-ECDSA-P256-SHA256 " CRED ", " SH ", " SIG, XDATE, U), AL);
    assert_int_equal(parse_with("Bearer x", XDATE, U), AL);
    assert_int_equal(parse_with("AWS4-HMAC-SHA256", XDATE, U), M);
    /* fields */
    assert_int_equal(parse_with("AWS4-HMAC-SHA256 " CRED ", " SH, XDATE, U), M);
    assert_int_equal(parse_with("AWS4-HMAC-SHA256 " CRED ", " SIG, XDATE, U), M);
    assert_int_equal(parse_with(GOOD ",", XDATE, U), M);
    assert_int_equal(parse_with(GOOD ", " SIG, XDATE, U), M);
    assert_int_equal(parse_with(GOOD ", Foo=bar", XDATE, U), M);
    assert_int_equal(parse_with("AWS4-HMAC-SHA256 " CRED ", " SH ", Signature=abc", XDATE, U), M);
    assert_int_equal(parse_with("AWS4-HMAC-SHA256 " CRED ", " SH ", Signature=" 
                                "0123456789ABCDEF0123456789abcdef0123456789abcdef0123456789abcdef", XDATE, U), M);
    /* signed headers: sorted, lower case, host among them */
    assert_int_equal(parse_with("AWS4-HMAC-SHA256 " CRED ", SignedHeaders=x-amz-date;host, " SIG, XDATE, U), M);
    assert_int_equal(parse_with("AWS4-HMAC-SHA256 " CRED ", SignedHeaders=Host;x-amz-date, " SIG, XDATE, U), M);
    assert_int_equal(parse_with("AWS4-HMAC-SHA256 " CRED ", SignedHeaders=x-amz-date, " SIG, XDATE, U), M);
    assert_int_equal(parse_with("AWS4-HMAC-SHA256 " CRED ", SignedHeaders=host;host, " SIG, XDATE, U), M);
    assert_int_equal(parse_with("AWS4-HMAC-SHA256 " CRED ", SignedHeaders=host;;x, " SIG, XDATE, U), M);
    assert_int_equal(parse_with("AWS4-HMAC-SHA256 " CRED ", SignedHeaders=, " SIG, XDATE, U), M);
    /* credential scope */
    assert_int_equal(parse_with("AWS4-HMAC-SHA256 Credential=AK/20261124/us-east-1/s3, " SH ", " SIG, XDATE, U), SC);
    assert_int_equal(parse_with("AWS4-HMAC-SHA256 Credential=AK/20261124/us-east-1/s3/aws4_requesx, " SH ", " SIG, XDATE, U), SC);
    assert_int_equal(parse_with("AWS4-HMAC-SHA256 Credential=/20261124/us-east-1/s3/aws4_request, " SH ", " SIG, XDATE, U), SC);
    assert_int_equal(parse_with("AWS4-HMAC-SHA256 Credential=AK/2026112x/us-east-1/s3/aws4_request, " SH ", " SIG, XDATE, U), SC);
    assert_int_equal(parse_with("AWS4-HMAC-SHA256 Credential=AK/20261124//s3/aws4_request, " SH ", " SIG, XDATE, U), SC);
    assert_int_equal(parse_with(GOOD, "20261125T000000Z", U), SC); /* scope day is not the date's */
    /* date */
    assert_int_equal(parse_with(GOOD, NULL, U), D);
    assert_int_equal(parse_with(GOOD, "2026-11-24T23:08:26Z", U), D);
    assert_int_equal(parse_with(GOOD, "20261131T230826Z", U), D);
    /* payload hash */
    assert_int_equal(parse_with(GOOD, XDATE, NULL), P);
    assert_int_equal(parse_with(GOOD, XDATE, "unsigned-payload"), P);
    assert_int_equal(parse_with(GOOD, XDATE, "STREAMING-AWS4-ECDSA-P256-SHA256-PAYLOAD"), P);
    assert_int_equal(parse_with(GOOD, XDATE, "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b85"), P);
    /* anonymous */
    assert_int_equal(parse_with(NULL, NULL, NULL), 0);

    /* presigned */
    assert_int_equal(parse_query_only(QBASE "&X-Amz-Date=" XDATE "&X-Amz-Expires=60&X-Amz-Signature=" HEX64), 0);
    assert_int_equal(parse_query_only("/k?X-Amz-Algorithm=AWS4-HMAC-SHA1&X-Amz-Date=" XDATE), AL);
    assert_int_equal(parse_query_only(QBASE "&X-Amz-Date=" XDATE "&X-Amz-Expires=60"), M);
    assert_int_equal(parse_query_only(QBASE "&X-Amz-Expires=60&X-Amz-Signature=" HEX64), M);
    assert_int_equal(parse_query_only(QBASE "&X-Amz-Date=" XDATE "&X-Amz-Signature=" HEX64), M);
    assert_int_equal(parse_query_only(QBASE "&X-Amz-Date=" XDATE "&X-Amz-Expires=604800&X-Amz-Signature=" HEX64), 0);
    assert_int_equal(parse_query_only(QBASE "&X-Amz-Date=" XDATE "&X-Amz-Expires=604801&X-Amz-Signature=" HEX64), E);
    assert_int_equal(parse_query_only(QBASE "&X-Amz-Date=" XDATE "&X-Amz-Expires=0&X-Amz-Signature=" HEX64), E);
    assert_int_equal(parse_query_only(QBASE "&X-Amz-Date=" XDATE "&X-Amz-Expires=-1&X-Amz-Signature=" HEX64), E);
    assert_int_equal(parse_query_only(QBASE "&X-Amz-Date=" XDATE "&X-Amz-Expires=6e1&X-Amz-Signature=" HEX64), E);
    assert_int_equal(parse_query_only(QBASE "&X-Amz-Date=20261125T000000Z&X-Amz-Expires=60&X-Amz-Signature=" HEX64), SC);
    assert_int_equal(parse_query_only(QBASE "&X-Amz-Date=" XDATE "&X-Amz-Expires=60&X-Amz-Signature=" HEX64
                                      "&X-Amz-Content-Sha256=STREAMING-AWS4-HMAC-SHA256-PAYLOAD"), P);
    /* both forms at once */
    treq q = {0};
    treq_add_header(&q, "Host", "b.s3.example");
    treq_add_header(&q, "Authorization", GOOD);
    treq_finish(&q, "GET", QBASE "&X-Amz-Date=" XDATE "&X-Amz-Expires=60&X-Amz-Signature=" HEX64);
    vodup_s3_auth a;
    assert_int_equal(vodup_s3_auth_parse(&a, &q.r), M);
    treq_free(&q);
}

static void test_time_and_errors(void **state)
{
    (void)state;
    vodup_s3_auth a = {0};
    a.kind = VODUP_S3_AUTH_HEADER;
    a.date = 1795000000;
    assert_int_equal(vodup_s3_auth_check_time(&a, 1795000000), 0);
    assert_int_equal(vodup_s3_auth_check_time(&a, 1795000000 + 900), 0);
    assert_int_equal(vodup_s3_auth_check_time(&a, 1795000000 - 900), 0);
    assert_int_equal(vodup_s3_auth_check_time(&a, 1795000000 + 901), VODUP_S3_EAUTH_SKEW);
    assert_int_equal(vodup_s3_auth_check_time(&a, 1795000000 - 901), VODUP_S3_EAUTH_SKEW);

    static const struct {
        int rc, kind;
        const char *code;
        int status;
    } cases[] = {
        {VODUP_S3_EAUTH_MALFORMED, VODUP_S3_AUTH_HEADER, "AuthorizationHeaderMalformed", 400},
        {VODUP_S3_EAUTH_MALFORMED, VODUP_S3_AUTH_QUERY, "AuthorizationQueryParametersError", 400},
        {VODUP_S3_EAUTH_ALGORITHM, VODUP_S3_AUTH_HEADER, "InvalidArgument", 400},
        {VODUP_S3_EAUTH_SCOPE, VODUP_S3_AUTH_HEADER, "AuthorizationHeaderMalformed", 400},
        {VODUP_S3_EAUTH_DATE, VODUP_S3_AUTH_HEADER, "AccessDenied", 403},
        {VODUP_S3_EAUTH_EXPIRED, VODUP_S3_AUTH_QUERY, "AccessDenied", 403},
        {VODUP_S3_EAUTH_SKEW, VODUP_S3_AUTH_HEADER, "RequestTimeTooSkewed", 403},
        {VODUP_S3_EAUTH_PAYLOAD, VODUP_S3_AUTH_HEADER, "InvalidArgument", 400},
        {VODUP_S3_EAUTH_EXPIRES, VODUP_S3_AUTH_QUERY, "AuthorizationQueryParametersError", 400},
        {0, VODUP_S3_AUTH_HEADER, "SignatureDoesNotMatch", 403},
    };
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
        const char *code, *msg;
        int status;
        vodup_s3_auth_error(cases[i].rc, cases[i].kind, &code, &status, &msg);
        assert_string_equal(code, cases[i].code);
        assert_int_equal(status, cases[i].status);
        assert_true(strlen(msg) > 10);
    }
}

static int teardown(void **state)
{
    (void)state;
    json_decref(creds);
    creds = NULL;
    return 0;
}

/* The header lines ("Name: value") vcl_s3_sign made, as q's headers; frees them. */
static void treq_take_lines(treq *q, struct curl_slist *hdrs)
{
    for (const struct curl_slist *h = hdrs; h; h = h->next) {
        const char *colon = strchr(h->data, ':');
        assert_non_null(colon);
        char name[64];
        snprintf(name, sizeof name, "%.*s", (int)(colon - h->data), h->data);
        treq_add_header(q, name, colon + 2);
    }
    curl_slist_free_all(hdrs);
}

/* The S3 dialect in virtual-host style with temporary keys: the bucket goes into the URL's
 * host and the signed Host, the token is sent and signed, and the server's verifier
 * (vodup_s3_verify) accepts what was sent, and refuses it under another secret. */
static void test_client_virtual_host(void **state)
{
    (void)state;
    vcl_addr addr = {"s3-vhost+http://127.0.0.1:9000", "media", "videos/a b.mp4"};
    vcl_creds k = {"AKIDTEMP", "secret-1", "token/1+2", "eu-west-1", 0, 0};
    const char *query[] = {"uploadId", "U1", "partNumber", "3", NULL};
    vcl_s3_msg m = {"PUT", &addr, query, NULL, 0, "UNSIGNED-PAYLOAD", 1764000000};
    vbuf url = VBUF_INIT;
    struct curl_slist *hdrs = NULL;
    assert_int_equal(vcl_s3_sign(&m, &k, &url, &hdrs), 0);
    assert_string_equal(vbuf_cstr(&url), "http://media.127.0.0.1:9000/videos/a%20b.mp4?uploadId=U1&partNumber=3");
    treq q = {0};
    treq_take_lines(&q, hdrs);
    treq_finish(&q, "PUT", "/videos/a%20b.mp4?uploadId=U1&partNumber=3");
    ssize_t hi = treq_find(&q, "host"), ti = treq_find(&q, "x-amz-security-token");
    assert_true(hi >= 0 && ti >= 0);
    assert_string_equal(q.hval[hi], "media.127.0.0.1:9000");
    assert_string_equal(q.hval[ti], "token/1+2");
    vodup_s3_auth a;
    assert_int_equal(vodup_s3_auth_parse(&a, &q.r), 0);
    assert_string_equal(a.signed_headers, "host;x-amz-content-sha256;x-amz-date;x-amz-security-token");
    assert_string_equal(a.region, "eu-west-1");
    assert_string_equal(a.security_token, "token/1+2");
    assert_int_equal(verify(&q, &a, "secret-1"), 1);
    assert_int_equal(verify(&q, &a, "secret-2"), 0);
    treq_free(&q);
    vbuf_free(&url);

    /* path style behind a prefix: the prefix is in the URL and in the signed path */
    vcl_addr pre = {"s3+http://127.0.0.1:9000/store", "media", "k"};
    vcl_creds lk = {"AKID", "secret-1", NULL, NULL, 0, 0};
    vcl_s3_msg m2 = {"GET", &pre, NULL, NULL, 0, VODUP_S3_EMPTY_SHA256, 1764000000};
    hdrs = NULL;
    assert_int_equal(vcl_s3_sign(&m2, &lk, &url, &hdrs), 0);
    assert_string_equal(vbuf_cstr(&url), "http://127.0.0.1:9000/store/media/k");
    treq p = {0};
    treq_take_lines(&p, hdrs);
    treq_finish(&p, "GET", "/store/media/k");
    assert_int_equal(vodup_s3_auth_parse(&a, &p.r), 0);
    assert_string_equal(a.region, "us-east-1"); /* none given */
    assert_null(a.security_token);
    assert_int_equal(verify(&p, &a, "secret-1"), 1);
    treq_free(&p);
    vbuf_free(&url);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_vectors),
        cmocka_unit_test(test_client_virtual_host),
        cmocka_unit_test(test_canonical_request),
        cmocka_unit_test(test_aws_doc_example),
        cmocka_unit_test(test_presign_roundtrip),
        cmocka_unit_test(test_malformed),
        cmocka_unit_test(test_time_and_errors),
    };
    return cmocka_run_group_tests(tests, NULL, teardown);
}
