/* s3_checksum.h - the x-amz-checksum-* values of S3 (CRC-32, CRC-32C, SHA-1, SHA-256):
 * base64 of the big-endian digest, computed over a stream in any combination at once.
 * CRCs through ISA-L (common/crc.h), SHAs through OpenSSL. */
#ifndef VODUP_COMMON_S3_CHECKSUM_H
#define VODUP_COMMON_S3_CHECKSUM_H

#include <stddef.h>
#include <stdint.h>

enum vodup_s3_ck {
    VODUP_S3_CK_CRC32 = 1,
    VODUP_S3_CK_CRC32C = 2,
    VODUP_S3_CK_SHA1 = 4,
    VODUP_S3_CK_SHA256 = 8
};
#define VODUP_S3_CK_ALL 15

/* Longest base64 value (SHA-256: 44 characters) plus NUL. */
#define VODUP_S3_CK_B64_MAX 45

typedef struct vodup_s3_checksum {
    unsigned algs;          /* the set being computed */
    uint32_t crc32, crc32c;
    void *sha1, *sha256;    /* EVP_MD_CTX */
    int finished;
    unsigned char sha1_out[20], sha256_out[32];
} vodup_s3_checksum;

/* 0, or -1 (out of memory, or algs empty or unknown bits). */
int vodup_s3_checksum_init(vodup_s3_checksum *c, unsigned algs);
void vodup_s3_checksum_update(vodup_s3_checksum *c, const void *p, size_t n);
/* Ends the stream; values can be read after. */
void vodup_s3_checksum_final(vodup_s3_checksum *c);
/* The base64 value of alg (one bit) into out; -1 when alg is not in the set or the
 * stream is not finished. */
int vodup_s3_checksum_value(const vodup_s3_checksum *c, unsigned alg, char out[VODUP_S3_CK_B64_MAX]);
/* Compares value (as sent) with the computed one: 1 equal, 0 not (or not computed). */
int vodup_s3_checksum_matches(const vodup_s3_checksum *c, unsigned alg, const char *value);
void vodup_s3_checksum_free(vodup_s3_checksum *c);

/* The algorithm bit of a header name ("x-amz-checksum-crc32", any case) or of an
 * x-amz-sdk-checksum-algorithm / x-amz-checksum-algorithm value ("CRC32", any case);
 * 0 when unknown (CRC64NVME among them). */
unsigned vodup_s3_checksum_from_header(const char *name);
unsigned vodup_s3_checksum_from_name(const char *name);
/* "x-amz-checksum-crc32"..., or NULL. */
const char *vodup_s3_checksum_header(unsigned alg);

#endif
