/* digest.c - hashes, HMACs, randomness and constant-time comparison via OpenSSL.
 *
 * The one-shot helpers cannot fail in practice (fixed algorithms, no allocation that
 * a server could recover from), so they return void; on the impossible failure they
 * zero the output, which never matches a real signature, rather than leave garbage.
 */
#include "common/digest.h"

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/rand.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>

static void digest_once(const EVP_MD *md, unsigned char *out, size_t outlen,
                        const void *p, size_t n)
{
    unsigned int len = 0;
    if (!EVP_Digest(p, n, out, &len, md, NULL) || len != outlen)
        memset(out, 0, outlen);
}

void vodup_md5(unsigned char out[16], const void *p, size_t n)
{
    digest_once(EVP_md5(), out, 16, p, n);
}

void vodup_sha1(unsigned char out[20], const void *p, size_t n)
{
    digest_once(EVP_sha1(), out, 20, p, n);
}

void vodup_sha256(unsigned char out[32], const void *p, size_t n)
{
    digest_once(EVP_sha256(), out, 32, p, n);
}

static void hmac_once(const EVP_MD *md, unsigned char *out, size_t outlen,
                      const void *key, size_t klen, const void *p, size_t n)
{
    unsigned int len = 0;
    static const unsigned char empty;
    /* HMAC() treats a NULL key as "reuse the previous one"; an empty key must be
     * a real zero-length key. */
    if (klen > INT_MAX || !HMAC(md, key ? key : &empty, (int)klen,
                                p ? p : &empty, n, out, &len) || len != outlen)
        memset(out, 0, outlen);
}

void vodup_hmac_sha1(unsigned char out[20], const void *key, size_t klen, const void *p, size_t n)
{
    hmac_once(EVP_sha1(), out, 20, key, klen, p, n);
}

void vodup_hmac_sha256(unsigned char out[32], const void *key, size_t klen, const void *p, size_t n)
{
    hmac_once(EVP_sha256(), out, 32, key, klen, p, n);
}

/* Both streaming contexts are the same EVP wrapper; the distinct struct names only keep
 * callers from mixing them up. */
struct vodup_md5_ctx {
    EVP_MD_CTX *md;
};
struct vodup_sha256_ctx {
    EVP_MD_CTX *md;
};

static EVP_MD_CTX *stream_new(const EVP_MD *type)
{
    EVP_MD_CTX *c = EVP_MD_CTX_new();
    if (c && !EVP_DigestInit_ex(c, type, NULL)) {
        EVP_MD_CTX_free(c);
        c = NULL;
    }
    return c;
}

static void stream_final(EVP_MD_CTX *c, const EVP_MD *type, unsigned char *out, size_t outlen)
{
    unsigned int len = 0;
    if (!EVP_DigestFinal_ex(c, out, &len) || len != outlen)
        memset(out, 0, outlen);
    EVP_DigestInit_ex(c, type, NULL); /* ready for reuse, as the header promises */
}

vodup_md5_ctx *vodup_md5_new(void)
{
    vodup_md5_ctx *c = malloc(sizeof *c);
    if (!c)
        return NULL;
    c->md = stream_new(EVP_md5());
    if (!c->md) {
        free(c);
        return NULL;
    }
    return c;
}

void vodup_md5_update(vodup_md5_ctx *c, const void *p, size_t n)
{
    EVP_DigestUpdate(c->md, p, n);
}

void vodup_md5_final(vodup_md5_ctx *c, unsigned char out[16])
{
    stream_final(c->md, EVP_md5(), out, 16);
}

void vodup_md5_free(vodup_md5_ctx *c)
{
    if (!c)
        return;
    EVP_MD_CTX_free(c->md);
    free(c);
}

vodup_sha256_ctx *vodup_sha256_new(void)
{
    vodup_sha256_ctx *c = malloc(sizeof *c);
    if (!c)
        return NULL;
    c->md = stream_new(EVP_sha256());
    if (!c->md) {
        free(c);
        return NULL;
    }
    return c;
}

void vodup_sha256_update(vodup_sha256_ctx *c, const void *p, size_t n)
{
    EVP_DigestUpdate(c->md, p, n);
}

void vodup_sha256_final(vodup_sha256_ctx *c, unsigned char out[32])
{
    stream_final(c->md, EVP_sha256(), out, 32);
}

void vodup_sha256_free(vodup_sha256_ctx *c)
{
    if (!c)
        return;
    EVP_MD_CTX_free(c->md);
    free(c);
}

int vodup_random(void *out, size_t n)
{
    unsigned char *p = out;
    /* RAND_bytes takes an int length. */
    while (n > 0) {
        int chunk = n > INT_MAX ? INT_MAX : (int)n;
        if (RAND_bytes(p, chunk) != 1)
            return -1;
        p += chunk;
        n -= (size_t)chunk;
    }
    return 0;
}

int vodup_ct_equal(const void *a, size_t alen, const void *b, size_t blen)
{
    /* Lengths are public (signatures have fixed sizes), so an early return on mismatch
     * leaks nothing about the contents. */
    if (alen != blen)
        return 0;
    if (alen == 0)
        return 1;
    return CRYPTO_memcmp(a, b, alen) == 0;
}
