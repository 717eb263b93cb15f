/* test_aws_chunked.c - the aws-chunked decoder on bodies built here per the AWS
 * documentation (the chunk signatures computed by this test's own HMAC chain, not by the
 * decoder's), and on the signed example of the AWS docs with its published signatures.
 * Every body is also fed split at every byte offset and byte by byte; each one-byte
 * change, each truncation and each extra byte is refused. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/aws_chunked.h"
#include "common/codec.h"
#include "common/digest.h"
#include "common/s3_checksum.h"

#define SECRET "vodupS3Secret/0123456789+abcdefghijklmno"
#define AMZ_DATE "20261124T230826Z"
#define SCOPE "20261124/us-east-1/s3/aws4_request"
#define SEED "12ef0766e9c8015380d1bb7c6eb8259c4f4128a24c812480bc81a70add0a1107"

/* ---- the test's own signer: straight from the documented formulas -------------- */

static void hmac_hex(char out[65], const unsigned char key[32], const char *msg)
{
    unsigned char mac[32];
    vodup_hmac_sha256(mac, key, 32, msg, strlen(msg));
    vodup_hex_lower(out, mac, 32);
}

static void sha_hex(char out[65], const void *p, size_t n)
{
    unsigned char h[32];
    vodup_sha256(h, p, n);
    vodup_hex_lower(out, h, 32);
}

static void test_key(unsigned char key[32])
{
    unsigned char a[32], b[32];
    const char *k0 = "AWS4" SECRET;
    vodup_hmac_sha256(a, k0, strlen(k0), "20261124", 8);
    vodup_hmac_sha256(b, a, 32, "us-east-1", 9);
    vodup_hmac_sha256(a, b, 32, "s3", 2);
    vodup_hmac_sha256(key, a, 32, "aws4_request", 12);
}

static void chunk_sig(char out[65], const unsigned char key[32], const char *prev,
                      const void *data, size_t n)
{
    char h[65], sts[512];
    sha_hex(h, data, n);
    snprintf(sts, sizeof sts,
             "AWS4-HMAC-SHA256-PAYLOAD\n" AMZ_DATE "\n" SCOPE "\n%s\n"
             "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855\n%s",
             prev, h);
    hmac_hex(out, key, sts);
}

enum { SIGNED, SIGNED_TRAILER, UNSIGNED_TRAILER };

/* Builds the body of data cut into chunks of chunk bytes, with a CRC-32 trailer in the
 * trailer modes. */
static void build(vbuf *out, int mode, const unsigned char *data, size_t n, size_t chunk)
{
    unsigned char key[32];
    test_key(key);
    char prev[65] = SEED, sig[65];
    size_t off = 0;
    for (;;) {
        size_t len = n - off < chunk ? n - off : chunk;
        vbuf_printf(out, "%zx", len);
        if (mode != UNSIGNED_TRAILER) {
            chunk_sig(sig, key, prev, data + off, len);
            vbuf_printf(out, ";chunk-signature=%s", sig);
            memcpy(prev, sig, 65);
        }
        vbuf_puts(out, "\r\n");
        if (len == 0)
            break;
        vbuf_append(out, data + off, len);
        vbuf_puts(out, "\r\n");
        off += len;
    }
    if (mode != SIGNED) {
        vodup_s3_checksum c;
        char crc[VODUP_S3_CK_B64_MAX], block[128], sts[512];
        vodup_s3_checksum_init(&c, VODUP_S3_CK_CRC32);
        vodup_s3_checksum_update(&c, data, n);
        vodup_s3_checksum_final(&c);
        vodup_s3_checksum_value(&c, VODUP_S3_CK_CRC32, crc);
        vodup_s3_checksum_free(&c);
        snprintf(block, sizeof block, "x-amz-checksum-crc32:%s\n", crc);
        vbuf_printf(out, "x-amz-checksum-crc32:%s\r\n", crc);
        if (mode == SIGNED_TRAILER) {
            sha_hex(sig, block, strlen(block));
            snprintf(sts, sizeof sts, "AWS4-HMAC-SHA256-TRAILER\n" AMZ_DATE "\n" SCOPE "\n%s\n%s",
                     prev, sig);
            hmac_hex(sig, key, sts);
            vbuf_printf(out, "x-amz-trailer-signature:%s\r\n", sig);
        }
    }
    vbuf_puts(out, "\r\n");
}

/* ---- the decoder under test, with a collecting sink ---------------------------- */

static int collect(void *ctx, const void *p, size_t n)
{
    return vbuf_append(ctx, p, n);
}

static void auth_for(vodup_s3_auth *a, int mode)
{
    memset(a, 0, sizeof *a);
    a->kind = VODUP_S3_AUTH_HEADER;
    a->payload = mode == SIGNED           ? VODUP_S3_PAYLOAD_STREAMING
                 : mode == SIGNED_TRAILER ? VODUP_S3_PAYLOAD_STREAMING_TRAILER
                                          : VODUP_S3_PAYLOAD_UNSIGNED_TRAILER;
    snprintf(a->amz_date, sizeof a->amz_date, AMZ_DATE);
    snprintf(a->scope_date, sizeof a->scope_date, "20261124");
    snprintf(a->region, sizeof a->region, "us-east-1");
    snprintf(a->service, sizeof a->service, "s3");
    snprintf(a->signature, sizeof a->signature, SEED);
}

/* Decodes body fed as the pieces cut at cuts[0..ncuts); then checks the CRC-32 trailer
 * against the decoded data as the dialect will. Returns 0 or the first error. */
static int decode(int mode, const char *body, size_t blen, const size_t *cuts, size_t ncuts,
                  uint64_t decoded_len, vbuf *out)
{
    vodup_s3_auth a;
    auth_for(&a, mode);
    unsigned char key[32];
    assert_int_equal(vodup_v4_signing_key(key, &vodup_v4_aws, SECRET, "20261124", "us-east-1", "s3"), 0);
    char len[24];
    snprintf(len, sizeof len, "%llu", (unsigned long long)decoded_len);
    vodup_chunked d;
    int rc = vodup_chunked_init(&d, &a, key, mode == SIGNED ? NULL : "x-amz-checksum-crc32", len);
    size_t at = 0;
    for (size_t i = 0; i <= ncuts && rc == 0; i++) {
        size_t to = i < ncuts ? cuts[i] : blen;
        rc = vodup_chunked_feed(&d, body + at, to - at, collect, out);
        at = to;
    }
    if (rc == 0)
        rc = vodup_chunked_finish(&d);
    if (rc == 0 && mode != SIGNED) {
        const char *want = vodup_chunked_get_trailer(&d, "X-Amz-Checksum-Crc32");
        assert_non_null(want);
        vodup_s3_checksum c;
        vodup_s3_checksum_init(&c, VODUP_S3_CK_CRC32);
        vodup_s3_checksum_update(&c, out->data, out->len);
        vodup_s3_checksum_final(&c);
        if (!vodup_s3_checksum_matches(&c, VODUP_S3_CK_CRC32, want))
            rc = 1; /* BadDigest at the dialect */
        vodup_s3_checksum_free(&c);
    }
    vodup_chunked_free(&d);
    return rc;
}

static unsigned char payload[700];

static void fill_payload(void)
{
    for (size_t i = 0; i < sizeof payload; i++)
        payload[i] = (unsigned char)(i * 7 + 3);
}

static void check_mode(int mode)
{
    fill_payload();
    vbuf body = VBUF_INIT, out = VBUF_INIT;
    build(&body, mode, payload, sizeof payload, 256);
    size_t blen = body.len;

    /* whole */
    assert_int_equal(decode(mode, body.data, blen, NULL, 0, sizeof payload, &out), 0);
    assert_int_equal(out.len, sizeof payload);
    assert_memory_equal(out.data, payload, sizeof payload);

    /* split at every byte offset, and byte by byte */
    for (size_t cut = 0; cut <= blen; cut++) {
        vbuf_reset(&out);
        if (decode(mode, body.data, blen, &cut, 1, sizeof payload, &out) != 0)
            fail_msg("mode %d: split at %zu refused", mode, cut);
        assert_memory_equal(out.data, payload, sizeof payload);
    }
    size_t *all = calloc(blen, sizeof *all);
    for (size_t i = 0; i < blen; i++)
        all[i] = i;
    vbuf_reset(&out);
    assert_int_equal(decode(mode, body.data, blen, all, blen, sizeof payload, &out), 0);
    assert_memory_equal(out.data, payload, sizeof payload);
    free(all);

    /* one bit of any byte changed: refused */
    char *mut = malloc(blen);
    for (size_t i = 0; i < blen; i++) {
        memcpy(mut, body.data, blen);
        mut[i] ^= 1;
        vbuf_reset(&out);
        if (decode(mode, mut, blen, NULL, 0, sizeof payload, &out) == 0)
            fail_msg("mode %d: byte %zu changed (0x%02x) and accepted", mode, i,
                     (unsigned char)body.data[i]);
    }
    free(mut);

    /* every truncation: not complete */
    for (size_t n = 0; n < blen; n++) {
        vbuf_reset(&out);
        int rc = decode(mode, body.data, n, NULL, 0, sizeof payload, &out);
        if (rc == 0)
            fail_msg("mode %d: truncated to %zu and accepted", mode, n);
        assert_true(rc < 0);
    }
    /* a byte more */
    vbuf_putc(&body, '\n');
    vbuf_reset(&out);
    assert_int_equal(decode(mode, body.data, body.len, NULL, 0, sizeof payload, &out),
                     VODUP_CHUNKED_EFORMAT);
    /* decoded length other than the chunks' */
    vbuf_reset(&out);
    assert_int_equal(decode(mode, body.data, blen, NULL, 0, sizeof payload + 1, &out),
                     VODUP_CHUNKED_ELENGTH);
    vbuf_reset(&out);
    assert_int_equal(decode(mode, body.data, blen, NULL, 0, sizeof payload - 1, &out),
                     VODUP_CHUNKED_ELENGTH);
    vbuf_free(&body);
    vbuf_free(&out);
}

static void test_signed(void **state)
{
    (void)state;
    check_mode(SIGNED);
}

static void test_signed_trailer(void **state)
{
    (void)state;
    check_mode(SIGNED_TRAILER);
}

static void test_unsigned_trailer(void **state)
{
    (void)state;
    check_mode(UNSIGNED_TRAILER);
}

/* Two chunks swapped with their signatures: the chain breaks. An empty body. */
static void test_chain_and_empty(void **state)
{
    (void)state;
    unsigned char key[32];
    test_key(key);
    char s1[65], s2[65], s0[65];
    chunk_sig(s1, key, SEED, "aaaa", 4);
    chunk_sig(s2, key, s1, "bbbb", 4);
    chunk_sig(s0, key, s2, "", 0);
    char body[1024];
    int n = snprintf(body, sizeof body,
                     "4;chunk-signature=%s\r\nbbbb\r\n4;chunk-signature=%s\r\naaaa\r\n"
                     "0;chunk-signature=%s\r\n\r\n", s2, s1, s0);
    vbuf out = VBUF_INIT;
    assert_int_equal(decode(SIGNED, body, (size_t)n, NULL, 0, 8, &out), VODUP_CHUNKED_ESIGNATURE);
    vbuf_reset(&out);
    n = snprintf(body, sizeof body,
                 "4;chunk-signature=%s\r\naaaa\r\n4;chunk-signature=%s\r\nbbbb\r\n"
                 "0;chunk-signature=%s\r\n\r\n", s1, s2, s0);
    assert_int_equal(decode(SIGNED, body, (size_t)n, NULL, 0, 8, &out), 0);
    assert_memory_equal(out.data, "aaaabbbb", 8);
    /* upper-case hex sizes are hex too */
    vbuf_reset(&out);
    vbuf b = VBUF_INIT;
    fill_payload();
    build(&b, UNSIGNED_TRAILER, payload, 255, 255);
    assert_memory_equal(b.data, "ff\r\n", 4);
    b.data[0] = 'F';
    b.data[1] = 'F';
    assert_int_equal(decode(UNSIGNED_TRAILER, b.data, b.len, NULL, 0, 255, &out), 0);
    vbuf_free(&b);
    /* an empty object */
    vbuf_reset(&out);
    build(&b, SIGNED_TRAILER, payload, 0, 64);
    assert_int_equal(decode(SIGNED_TRAILER, b.data, b.len, NULL, 0, 0, &out), 0);
    assert_int_equal(out.len, 0);
    vbuf_free(&b);
    vbuf_free(&out);
}

/* The example of the AWS docs (sigv4-streaming): 66560 bytes of 'a' in 64 KiB chunks,
 * seed signature and chunk signatures as published there. */
static void test_aws_doc_example(void **state)
{
    (void)state;
    vodup_s3_auth a;
    memset(&a, 0, sizeof a);
    a.kind = VODUP_S3_AUTH_HEADER;
    a.payload = VODUP_S3_PAYLOAD_STREAMING;
    snprintf(a.amz_date, sizeof a.amz_date, "20130524T000000Z");
    snprintf(a.scope_date, sizeof a.scope_date, "20130524");
    snprintf(a.region, sizeof a.region, "us-east-1");
    snprintf(a.service, sizeof a.service, "s3");
    snprintf(a.signature, sizeof a.signature,
             "4f232c4386841ef735655705268965c44a0e4690baa4adea153f7db9fa80a0a9");
    unsigned char key[32];
    assert_int_equal(vodup_v4_signing_key(key, &vodup_v4_aws, "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY",
                                          "20130524", "us-east-1", "s3"),
                     0);
    vbuf body = VBUF_INIT;
    char *as = malloc(65536);
    memset(as, 'a', 65536);
    vbuf_puts(&body, "10000;chunk-signature=ad80c730a21e5b8d04586a2213dd63b9a0e99e0e2307b0ade35a65485a288648\r\n");
    vbuf_append(&body, as, 65536);
    vbuf_puts(&body, "\r\n400;chunk-signature=0055627c9e194cb4542bae2aa5492e3c1575bbb81b612b7d234b86a503ef5497\r\n");
    vbuf_append(&body, as, 1024);
    vbuf_puts(&body, "\r\n0;chunk-signature=b6c6ea8a5354eaf15b3cb7646744f4275b71ea724fed81ceb9323e279d449df9\r\n\r\n");
    assert_int_equal(body.len, 66824); /* the example's Content-Length */
    vodup_chunked d;
    assert_int_equal(vodup_chunked_init(&d, &a, key, NULL, "66560"), 0);
    size_t count = 0;
    for (size_t off = 0; off < body.len; off += 1000) {
        size_t n = body.len - off < 1000 ? body.len - off : 1000;
        assert_int_equal(vodup_chunked_feed(&d, body.data + off, n, NULL, &count), 0);
    }
    assert_int_equal(vodup_chunked_finish(&d), 0);
    vodup_chunked_free(&d);
    /* and the signing side gives the published values */
    char sig[65];
    vodup_chunked_sign_chunk(sig, key, a.amz_date, "20130524/us-east-1/s3/aws4_request", a.signature, as, 65536);
    assert_string_equal(sig, "ad80c730a21e5b8d04586a2213dd63b9a0e99e0e2307b0ade35a65485a288648");
    free(as);
    vbuf_free(&body);
}

static int feed_str(int mode, const char *trailer_hdr, const char *dlen, const char *s)
{
    vodup_s3_auth a;
    auth_for(&a, mode);
    unsigned char key[32];
    test_key(key);
    vodup_chunked d;
    int rc = vodup_chunked_init(&d, &a, key, trailer_hdr, dlen);
    if (rc == 0)
        rc = vodup_chunked_feed(&d, s, strlen(s), NULL, NULL);
    if (rc == 0)
        rc = vodup_chunked_finish(&d);
    vodup_chunked_free(&d);
    return rc;
}

static void test_malformed_and_limits(void **state)
{
    (void)state;
    const int U = UNSIGNED_TRAILER;
    const char *T = "x-amz-checksum-crc32";
    /* framing */
    assert_int_equal(feed_str(U, T, "1", "1\r\nx\r\n0\r\nx-amz-checksum-crc32:jHN27w==\r\n\r\n"), 0);
    assert_int_equal(feed_str(U, T, "1", "1\nx\r\n0\r\nx-amz-checksum-crc32:jHN27w==\r\n\r\n"), VODUP_CHUNKED_EFORMAT);
    assert_int_equal(feed_str(U, T, "1", "1\r\nx\n0\r\n"), VODUP_CHUNKED_EFORMAT);
    assert_int_equal(feed_str(U, T, "1", "g\r\n"), VODUP_CHUNKED_EFORMAT);
    assert_int_equal(feed_str(U, T, "1", "\r\n"), VODUP_CHUNKED_EFORMAT);
    assert_int_equal(feed_str(U, T, "1", "1 \r\n"), VODUP_CHUNKED_EFORMAT);
    assert_int_equal(feed_str(U, T, "1", "-1\r\n"), VODUP_CHUNKED_EFORMAT);
    assert_int_equal(feed_str(U, T, "1", "1;chunk-signature=00\r\n"), VODUP_CHUNKED_EFORMAT);
    assert_int_equal(feed_str(U, T, "1", "0000000000000000001\r\n"), VODUP_CHUNKED_EFORMAT);
    assert_int_equal(feed_str(SIGNED, NULL, "1", "1\r\nx\r\n"), VODUP_CHUNKED_EFORMAT);
    assert_int_equal(feed_str(U, T, "1", "1\r\nx\r\n0\r\n"), VODUP_CHUNKED_ETRUNCATED);
    assert_int_equal(feed_str(U, T, "1", ""), VODUP_CHUNKED_ETRUNCATED);
    assert_int_equal(feed_str(U, T, "1", "1\r\nx\r\n0\r\nx-amz-checksum-crc32:jHN27w==\r\n\r\nx"), VODUP_CHUNKED_EFORMAT);
    /* a chunk larger than what is left of the decoded length */
    assert_int_equal(feed_str(U, T, "1", "2\r\n"), VODUP_CHUNKED_ELENGTH);
    assert_int_equal(feed_str(U, T, "ffffffffffffffffff", "1\r\n"), VODUP_CHUNKED_ELENGTH);
    assert_int_equal(feed_str(U, T, NULL, "1\r\n"), VODUP_CHUNKED_ELENGTH);
    assert_int_equal(feed_str(U, T, "-1", "1\r\n"), VODUP_CHUNKED_ELENGTH);
    assert_int_equal(feed_str(U, T, "1x", "1\r\n"), VODUP_CHUNKED_ELENGTH);
    /* line length */
    char longline[600];
    memset(longline, '0', 400);
    memcpy(longline + 400, "1\r\n", 4);
    assert_int_equal(feed_str(U, T, "1", longline), VODUP_CHUNKED_ELIMIT);
    /* trailers: not announced, missing, repeated, none in the signed mode, unsigned */
    assert_int_equal(feed_str(U, T, "0", "0\r\nx-amz-checksum-sha1:2jmj7l5rSw0yVb/vlWAYkK/YBwk=\r\n\r\n"), VODUP_CHUNKED_ETRAILER);
    assert_int_equal(feed_str(U, T, "0", "0\r\n\r\n"), VODUP_CHUNKED_ETRAILER);
    assert_int_equal(feed_str(U, NULL, "0", "0\r\n\r\n"), 0);
    assert_int_equal(feed_str(U, T, "0", "0\r\nx-amz-checksum-crc32:AAAAAA==\r\nx-amz-checksum-crc32:AAAAAA==\r\n\r\n"), VODUP_CHUNKED_ETRAILER);
    assert_int_equal(feed_str(U, T, "0", "0\r\nx-amz-trailer-signature:" SEED "\r\n\r\n"), VODUP_CHUNKED_ETRAILER);
    assert_int_equal(feed_str(U, T, "0", "0\r\nnocolon\r\n\r\n"), VODUP_CHUNKED_EFORMAT);
    assert_int_equal(feed_str(SIGNED, T, "0", ""), VODUP_CHUNKED_ETRAILER);
    assert_int_equal(feed_str(U, "a,,b", "0", ""), VODUP_CHUNKED_ETRAILER);
    /* signed trailer mode without the trailer signature */
    {
        unsigned char key[32];
        char s0[65], body[512];
        test_key(key);
        chunk_sig(s0, key, SEED, "", 0);
        snprintf(body, sizeof body, "0;chunk-signature=%s\r\nx-amz-checksum-crc32:AAAAAA==\r\n\r\n", s0);
        assert_int_equal(feed_str(SIGNED_TRAILER, T, "0", body), VODUP_CHUNKED_ETRAILER);
        snprintf(body, sizeof body, "0;chunk-signature=%s\r\nx-amz-checksum-crc32:AAAAAA==\r\n"
                                    "x-amz-trailer-signature:%s\r\n\r\n", s0, SEED);
        assert_int_equal(feed_str(SIGNED_TRAILER, T, "0", body), VODUP_CHUNKED_ESIGNATURE);
        /* the seed signature wrong: the first chunk fails */
        snprintf(body, sizeof body, "0;chunk-signature=%s\r\n\r\n", SEED);
        assert_int_equal(feed_str(SIGNED, NULL, "0", body), VODUP_CHUNKED_ESIGNATURE);
    }
    /* trailer bytes: 8 long announced trailers exceed 1024 bytes */
    {
        char names[256] = "", lines[4096] = "0\r\n";
        for (int i = 0; i < 8; i++) {
            char nm[40];
            snprintf(nm, sizeof nm, "x-amz-meta-trailer-number-%02d", i);
            if (i)
                strcat(names, ",");
            strcat(names, nm);
            strcat(lines, nm);
            strcat(lines, ":vvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvv\r\n");
        }
        strcat(lines, "\r\n");
        assert_int_equal(feed_str(U, names, "0", lines), VODUP_CHUNKED_ELIMIT);
    }
    /* chunk count: the limit plus one */
    {
        size_t nchunks = (size_t)VODUP_CHUNKED_MAX_CHUNKS + 1;
        vbuf b = VBUF_INIT;
        for (size_t i = 0; i < nchunks; i++)
            vbuf_append(&b, "1\r\nx\r\n", 6);
        vodup_s3_auth a;
        auth_for(&a, U);
        vodup_chunked d;
        char dl[24];
        snprintf(dl, sizeof dl, "%zu", nchunks);
        assert_int_equal(vodup_chunked_init(&d, &a, NULL, NULL, dl), 0);
        assert_int_equal(vodup_chunked_feed(&d, b.data, b.len - 6, NULL, NULL), 0);
        assert_int_equal(vodup_chunked_feed(&d, b.data, 6, NULL, NULL), VODUP_CHUNKED_ELIMIT);
        /* sticky */
        assert_int_equal(vodup_chunked_feed(&d, "0\r\n\r\n", 5, NULL, NULL), VODUP_CHUNKED_ELIMIT);
        assert_int_equal(vodup_chunked_finish(&d), VODUP_CHUNKED_ELIMIT);
        vodup_chunked_free(&d);
        vbuf_free(&b);
    }
    /* not a streaming payload */
    vodup_s3_auth a;
    auth_for(&a, SIGNED);
    a.payload = VODUP_S3_PAYLOAD_UNSIGNED;
    vodup_chunked d;
    assert_int_equal(vodup_chunked_init(&d, &a, NULL, NULL, "0"), VODUP_CHUNKED_EFORMAT);
    vodup_chunked_free(&d);
    /* error mapping */
    const char *code, *msg;
    int status;
    vodup_chunked_error(VODUP_CHUNKED_ESIGNATURE, &code, &status, &msg);
    assert_string_equal(code, "SignatureDoesNotMatch");
    assert_int_equal(status, 403);
    vodup_chunked_error(VODUP_CHUNKED_ETRUNCATED, &code, &status, &msg);
    assert_string_equal(code, "IncompleteBody");
    vodup_chunked_error(VODUP_CHUNKED_ETRAILER, &code, &status, &msg);
    assert_string_equal(code, "MalformedTrailerError");
}

static int refuse(void *ctx, const void *p, size_t n)
{
    (void)ctx;
    (void)p;
    (void)n;
    return -1;
}

static void test_sink_error(void **state)
{
    (void)state;
    vodup_s3_auth a;
    auth_for(&a, UNSIGNED_TRAILER);
    vodup_chunked d;
    assert_int_equal(vodup_chunked_init(&d, &a, NULL, NULL, "1"), 0);
    assert_int_equal(vodup_chunked_feed(&d, "1\r\nx", 4, refuse, NULL), VODUP_CHUNKED_ESINK);
    vodup_chunked_free(&d);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_signed),
        cmocka_unit_test(test_signed_trailer),
        cmocka_unit_test(test_unsigned_trailer),
        cmocka_unit_test(test_chain_and_empty),
        cmocka_unit_test(test_aws_doc_example),
        cmocka_unit_test(test_malformed_and_limits),
        cmocka_unit_test(test_sink_error),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
