/* fuzz_aws_chunked.c - the streaming aws-chunked decoder.
 *
 * Input format: byte 0 picks the mode (% 3: signed, signed + trailer, unsigned + trailer),
 * byte 1 the slice size the body is fed in (1..256), then a line
 *     <x-amz-decoded-content-length>[ <x-amz-trailer>]\n
 * then the body. The key, date, scope and seed signature are fixed (those the corpus was
 * signed with: secret "fuzzChunkSecret", 20261124T230826Z, us-east-1/s3, seed 64 x 'a').
 *
 * Properties: the result (error code, decoded bytes) is the same fed whole and fed in
 * slices; the decoded bytes never exceed the decoded length; success means exactly
 * that many bytes; errors are the documented ones.
 */
#include "fuzz.h"

#include "common/aws_chunked.h"

#define SECRET "fuzzChunkSecret"
#define SEED "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"

static int collect(void *ctx, const void *p, size_t n)
{
    return vbuf_append(ctx, p, n);
}

static int run(int mode, const char *dlen, const char *trailer, const uint8_t *body, size_t n,
               size_t slice, vbuf *out, char trailer_value[128])
{
    vodup_s3_auth a;
    memset(&a, 0, sizeof a);
    a.kind = VODUP_S3_AUTH_HEADER;
    a.payload = mode == 0 ? VODUP_S3_PAYLOAD_STREAMING
                : mode == 1 ? VODUP_S3_PAYLOAD_STREAMING_TRAILER
                            : VODUP_S3_PAYLOAD_UNSIGNED_TRAILER;
    memcpy(a.amz_date, "20261124T230826Z", 17);
    memcpy(a.scope_date, "20261124", 9);
    memcpy(a.region, "us-east-1", 10);
    memcpy(a.service, "s3", 3);
    memcpy(a.signature, SEED, 65);
    unsigned char key[32];
    FUZZ_CHECK(vodup_v4_signing_key(key, &vodup_v4_aws, SECRET, a.scope_date, a.region,
                                    a.service) == 0);
    vodup_chunked d;
    int rc = vodup_chunked_init(&d, &a, key, trailer, dlen);
    for (size_t off = 0; rc == 0 && off < n; off += slice) {
        size_t k = n - off < slice ? n - off : slice;
        rc = vodup_chunked_feed(&d, body + off, k, collect, out);
        FUZZ_CHECK(d.decoded == out->len && d.decoded <= d.decoded_length);
    }
    if (rc == 0)
        rc = vodup_chunked_finish(&d);
    trailer_value[0] = '\0';
    if (rc == 0) {
        FUZZ_CHECK(out->len == d.decoded_length);
        const char *v = trailer ? vodup_chunked_get_trailer(&d, "x-amz-checksum-crc32") : NULL;
        if (v)
            snprintf(trailer_value, 128, "%s", v);
    } else {
        FUZZ_CHECK(vodup_chunked_get_trailer(&d, "x-amz-checksum-crc32") == NULL);
    }
    vodup_chunked_free(&d);
    FUZZ_CHECK(rc <= 0 && rc >= VODUP_CHUNKED_ENOMEM && rc != VODUP_CHUNKED_ESINK);
    const char *code, *msg;
    int status;
    vodup_chunked_error(rc, &code, &status, &msg);
    FUZZ_CHECK(code && msg);
    return rc;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 3)
        return 0;
    int mode = data[0] % 3;
    size_t slice = (size_t)data[1] + 1;
    const uint8_t *p = data + 2, *end = data + size;
    const uint8_t *nl = memchr(p, '\n', (size_t)(end - p));
    if (!nl)
        return 0;
    char *head = fuzz_strndup(p, (size_t)(nl - p));
    char *sp = strchr(head, ' ');
    const char *trailer = NULL;
    if (sp) {
        *sp = '\0';
        trailer = sp + 1;
    }
    const uint8_t *body = nl + 1;
    size_t n = (size_t)(end - body);

    vbuf whole = VBUF_INIT, sliced = VBUF_INIT;
    char tv1[128], tv2[128];
    int rc1 = run(mode, head, trailer, body, n, n ? n : 1, &whole, tv1);
    int rc2 = run(mode, head, trailer, body, n, slice, &sliced, tv2);
    FUZZ_CHECK(rc1 == rc2);
    FUZZ_CHECK(strcmp(tv1, tv2) == 0);
    /* a failure may stop at different points; success must give the same bytes */
    if (rc1 == 0)
        FUZZ_CHECK(whole.len == sliced.len && memcmp(vbuf_cstr(&whole), vbuf_cstr(&sliced), whole.len) == 0);
    vbuf_free(&whole);
    vbuf_free(&sliced);
    free(head);
    return 0;
}
