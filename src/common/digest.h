/* digest.h - hashes, HMACs, randomness and constant-time comparison, through OpenSSL. */
#ifndef VODUP_COMMON_DIGEST_H
#define VODUP_COMMON_DIGEST_H

#include <stddef.h>
#include <stdint.h>

#define VODUP_MD5_LEN 16
#define VODUP_SHA1_LEN 20
#define VODUP_SHA256_LEN 32

void vodup_md5(unsigned char out[16], const void *p, size_t n);
void vodup_sha1(unsigned char out[20], const void *p, size_t n);
void vodup_sha256(unsigned char out[32], const void *p, size_t n);
void vodup_hmac_sha1(unsigned char out[20], const void *key, size_t klen, const void *p, size_t n);
void vodup_hmac_sha256(unsigned char out[32], const void *key, size_t klen, const void *p, size_t n);

/* Incremental MD5 for streamed bodies (opaque; EVP underneath). */
typedef struct vodup_md5_ctx vodup_md5_ctx;
vodup_md5_ctx *vodup_md5_new(void);                 /* NULL on oom */
void vodup_md5_update(vodup_md5_ctx *c, const void *p, size_t n);
void vodup_md5_final(vodup_md5_ctx *c, unsigned char out[16]); /* ctx can be reused after */
void vodup_md5_free(vodup_md5_ctx *c);

/* Incremental SHA-256 (for S3 payload hashes later). */
typedef struct vodup_sha256_ctx vodup_sha256_ctx;
vodup_sha256_ctx *vodup_sha256_new(void);
void vodup_sha256_update(vodup_sha256_ctx *c, const void *p, size_t n);
void vodup_sha256_final(vodup_sha256_ctx *c, unsigned char out[32]);
void vodup_sha256_free(vodup_sha256_ctx *c);

/* Cryptographically secure random bytes. 0 ok, -1 failure. */
int vodup_random(void *out, size_t n);

/* Constant-time equality of two byte strings (length mismatch returns 0 without
 * leaking where they differ). 1 equal, 0 not. */
int vodup_ct_equal(const void *a, size_t alen, const void *b, size_t blen);

#endif
