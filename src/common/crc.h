/* crc.h - CRC-64/XZ (OSS's crc64ecma), CRC-32 and CRC-32C, through ISA-L. */
#ifndef VODUP_COMMON_CRC_H
#define VODUP_COMMON_CRC_H

#include <stddef.h>
#include <stdint.h>

/* Continue a CRC-64/XZ over p[0..n). Start with crc = 0; the empty input is 0;
 * "123456789" gives 11051210869376104954. */
uint64_t vodup_crc64(uint64_t crc, const void *p, size_t n);
/* CRC of A||B from crc(A), crc(B) and len(B), as zlib's crc32_combine does. */
uint64_t vodup_crc64_combine(uint64_t crc_a, uint64_t crc_b, uint64_t len_b);

/* CRC-32C (Castagnoli), continuing; start with 0. "123456789" gives 0xE3069283. */
uint32_t vodup_crc32c(uint32_t crc, const void *p, size_t n);

/* CRC-32 (IEEE, as gzip/zlib; S3's x-amz-checksum-crc32), continuing; start with 0.
 * "123456789" gives 0xCBF43926. */
uint32_t vodup_crc32(uint32_t crc, const void *p, size_t n);

#endif
