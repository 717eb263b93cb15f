/* fuzz_client_auth.c - libvodup's decoders of UploadAddress and UploadAuth, the base64
 * JSON blobs that a VOD Create or Refresh answer (or an application server) hands the client.
 *
 * The input is tried twice: as the base64 text itself (as the API receives it), and
 * base64-encoded first, so that the JSON decoding behind it is fuzzed too. Properties:
 *  - the result is 0, VODUP_EINVAL (with a message) or VODUP_ENOMEM;
 *  - a decoded address has an endpoint with a scheme and no trailing '/', and non-empty
 *    bucket and key; decoded credentials have a non-empty AccessKeyId and secret, no
 *    empty token, and an expiry, when there is one, after the time they were received;
 *  - the copy functions reproduce them exactly.
 */
#include "fuzz.h"

#include "client/internal.h"
#include "common/codec.h"

static int streq(const char *a, const char *b)
{
    return (!a && !b) || (a && b && strcmp(a, b) == 0);
}

static void try_decode(const char *b64)
{
    char msg[256];
    vcl_addr a;
    memset(msg, 'x', sizeof msg);
    msg[0] = '\0';
    int rc = vcl_decode_upload_address(b64, &a, msg, sizeof msg);
    FUZZ_CHECK(rc == 0 || rc == VODUP_EINVAL || rc == VODUP_ENOMEM);
    FUZZ_CHECK(memchr(msg, '\0', sizeof msg) != NULL);
    if (rc == VODUP_EINVAL)
        FUZZ_CHECK(msg[0] != '\0');
    if (rc == 0) {
        FUZZ_CHECK(a.endpoint && strstr(a.endpoint, "://") && a.bucket && *a.bucket && a.key && *a.key);
        size_t n = strlen(a.endpoint);
        FUZZ_CHECK(n > 0 && a.endpoint[n - 1] != '/');
        vcl_addr b;
        FUZZ_CHECK(vcl_addr_copy(&b, &a) == 0);
        FUZZ_CHECK(streq(a.endpoint, b.endpoint) && streq(a.bucket, b.bucket) && streq(a.key, b.key));
        vcl_addr_free(&b);
        vcl_addr_free(&a);
    }

    vcl_creds k;
    msg[0] = '\0';
    rc = vcl_decode_upload_auth(b64, &k, msg, sizeof msg);
    FUZZ_CHECK(rc == 0 || rc == VODUP_EINVAL || rc == VODUP_ENOMEM);
    if (rc == VODUP_EINVAL)
        FUZZ_CHECK(msg[0] != '\0');
    if (rc == 0) {
        FUZZ_CHECK(k.ak && *k.ak && k.sk && *k.sk);
        FUZZ_CHECK(!k.token || *k.token);
        FUZZ_CHECK(k.received > 0);
        vcl_creds d;
        FUZZ_CHECK(vcl_creds_copy(&d, &k) == 0);
        FUZZ_CHECK(streq(k.ak, d.ak) && streq(k.sk, d.sk) && streq(k.token, d.token) && streq(k.region, d.region));
        FUZZ_CHECK(d.expire == k.expire && d.received == k.received);
        vcl_creds_free(&d);
        vcl_creds_free(&k);
        FUZZ_CHECK(!k.ak && !k.sk);   /* freed and cleared */
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *s = fuzz_strndup(data, size);
    try_decode(s);
    free(s);
    vbuf enc = VBUF_INIT;
    FUZZ_CHECK(vodup_base64_encode(&enc, data, size) == 0);
    try_decode(vbuf_cstr(&enc));
    vbuf_free(&enc);
    return 0;
}
