/* s3_checksum.c - x-amz-checksum-* over a stream. See s3_checksum.h. */
#include "common/s3_checksum.h"

#include "common/buf.h"
#include "common/codec.h"
#include "common/crc.h"
#include "common/digest.h"

#include <openssl/evp.h>
#include <string.h>
#include <strings.h>

static const struct {
    unsigned alg;
    const char *name;
    const char *header;
} algs_table[] = {
    {VODUP_S3_CK_CRC32, "CRC32", "x-amz-checksum-crc32"},
    {VODUP_S3_CK_CRC32C, "CRC32C", "x-amz-checksum-crc32c"},
    {VODUP_S3_CK_SHA1, "SHA1", "x-amz-checksum-sha1"},
    {VODUP_S3_CK_SHA256, "SHA256", "x-amz-checksum-sha256"},
};
#define NALGS (sizeof algs_table / sizeof *algs_table)

int vodup_s3_checksum_init(vodup_s3_checksum *c, unsigned algs)
{
    memset(c, 0, sizeof *c);
    if (algs == 0 || (algs & ~(unsigned)VODUP_S3_CK_ALL))
        return -1;
    c->algs = algs;
    if (algs & VODUP_S3_CK_SHA1) {
        c->sha1 = EVP_MD_CTX_new();
        if (!c->sha1 || EVP_DigestInit_ex(c->sha1, EVP_sha1(), NULL) != 1)
            goto fail;
    }
    if (algs & VODUP_S3_CK_SHA256) {
        c->sha256 = EVP_MD_CTX_new();
        if (!c->sha256 || EVP_DigestInit_ex(c->sha256, EVP_sha256(), NULL) != 1)
            goto fail;
    }
    return 0;
fail:
    vodup_s3_checksum_free(c);
    return -1;
}

void vodup_s3_checksum_update(vodup_s3_checksum *c, const void *p, size_t n)
{
    if (n == 0 || c->finished)
        return;
    if (c->algs & VODUP_S3_CK_CRC32)
        c->crc32 = vodup_crc32(c->crc32, p, n);
    if (c->algs & VODUP_S3_CK_CRC32C)
        c->crc32c = vodup_crc32c(c->crc32c, p, n);
    if (c->sha1)
        EVP_DigestUpdate(c->sha1, p, n);
    if (c->sha256)
        EVP_DigestUpdate(c->sha256, p, n);
}

void vodup_s3_checksum_final(vodup_s3_checksum *c)
{
    if (c->finished)
        return;
    unsigned len;
    if (c->sha1)
        EVP_DigestFinal_ex(c->sha1, c->sha1_out, &len);
    if (c->sha256)
        EVP_DigestFinal_ex(c->sha256, c->sha256_out, &len);
    c->finished = 1;
}

int vodup_s3_checksum_value(const vodup_s3_checksum *c, unsigned alg, char out[VODUP_S3_CK_B64_MAX])
{
    out[0] = '\0';
    if (!c->finished || !(c->algs & alg))
        return -1;
    unsigned char be[4];
    const unsigned char *d;
    size_t n;
    switch (alg) {
    case VODUP_S3_CK_CRC32:
    case VODUP_S3_CK_CRC32C: {
        uint32_t v = alg == VODUP_S3_CK_CRC32 ? c->crc32 : c->crc32c;
        be[0] = (unsigned char)(v >> 24);
        be[1] = (unsigned char)(v >> 16);
        be[2] = (unsigned char)(v >> 8);
        be[3] = (unsigned char)v;
        d = be;
        n = 4;
        break;
    }
    case VODUP_S3_CK_SHA1:
        d = c->sha1_out;
        n = sizeof c->sha1_out;
        break;
    case VODUP_S3_CK_SHA256:
        d = c->sha256_out;
        n = sizeof c->sha256_out;
        break;
    default:
        return -1;
    }
    vbuf b = VBUF_INIT;
    vodup_base64_encode(&b, d, n);
    int rc = -1;
    if (!b.oom && b.len < VODUP_S3_CK_B64_MAX) {
        memcpy(out, b.data, b.len + 1);
        rc = 0;
    }
    vbuf_free(&b);
    return rc;
}

int vodup_s3_checksum_matches(const vodup_s3_checksum *c, unsigned alg, const char *value)
{
    char mine[VODUP_S3_CK_B64_MAX];
    if (!value || vodup_s3_checksum_value(c, alg, mine) < 0)
        return 0;
    /* Not a secret, but a constant-time compare costs nothing here. */
    return vodup_ct_equal(mine, strlen(mine), value, strlen(value));
}

void vodup_s3_checksum_free(vodup_s3_checksum *c)
{
    EVP_MD_CTX_free(c->sha1);
    EVP_MD_CTX_free(c->sha256);
    c->sha1 = c->sha256 = NULL;
}

unsigned vodup_s3_checksum_from_header(const char *name)
{
    for (size_t i = 0; i < NALGS; i++)
        if (name && strcasecmp(name, algs_table[i].header) == 0)
            return algs_table[i].alg;
    return 0;
}

unsigned vodup_s3_checksum_from_name(const char *name)
{
    for (size_t i = 0; i < NALGS; i++)
        if (name && strcasecmp(name, algs_table[i].name) == 0)
            return algs_table[i].alg;
    return 0;
}

const char *vodup_s3_checksum_header(unsigned alg)
{
    for (size_t i = 0; i < NALGS; i++)
        if (algs_table[i].alg == alg)
            return algs_table[i].header;
    return NULL;
}
