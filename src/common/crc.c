/* crc.c - CRC-64/XZ and CRC-32C.
 *
 * ISA-L does the bulk work with carry-less multiplication. What it lacks is combining:
 * a multipart object's CRC is folded from its parts' CRCs without re-reading the data,
 * the way zlib's crc32_combine does it. That is done here with the classic GF(2)
 * matrix method: appending len_b zero bytes to A is a linear map on the CRC register,
 * computed by repeated squaring of the "one zero bit" operator.
 */
#include "common/crc.h"

#include <isa-l/crc.h>
#include <isa-l/crc64.h>
#include <limits.h>

/* Reflected CRC-64/XZ (ECMA-182) polynomial. */
#define CRC64_POLY_REFL 0xC96C5795D7870F42ULL

uint64_t vodup_crc64(uint64_t crc, const void *p, size_t n)
{
    if (n == 0)
        return crc;
    /* ISA-L's crc64_ecma_refl applies the pre/post inversion itself, so seeding with
     * the previous result continues the stream. */
    return crc64_ecma_refl(crc, p, n);
}

uint32_t vodup_crc32c(uint32_t crc, const void *p, size_t n)
{
    /* ISA-L's crc32_iscsi has no pre/post inversion and takes an int length. */
    unsigned char *q = (unsigned char *)(uintptr_t)p;
    uint32_t reg = ~crc;
    while (n > 0) {
        int chunk = n > INT_MAX ? INT_MAX : (int)n;
        reg = crc32_iscsi(q, chunk, reg);
        q += chunk;
        n -= (size_t)chunk;
    }
    return ~reg;
}

uint32_t vodup_crc32(uint32_t crc, const void *p, size_t n)
{
    /* crc32_gzip_refl inverts before and after itself (like zlib's crc32), so the
     * previous result is the seed that continues the stream. */
    if (n == 0)
        return crc;
    return crc32_gzip_refl(crc, p, n);
}

/* mat (64 columns) times vec over GF(2). */
static uint64_t gf2_times(const uint64_t *mat, uint64_t vec)
{
    uint64_t sum = 0;
    for (; vec; vec >>= 1, mat++)
        if (vec & 1)
            sum ^= *mat;
    return sum;
}

static void gf2_square(uint64_t *square, const uint64_t *mat)
{
    for (int n = 0; n < 64; n++)
        square[n] = gf2_times(mat, mat[n]);
}

uint64_t vodup_crc64_combine(uint64_t crc_a, uint64_t crc_b, uint64_t len_b)
{
    uint64_t even[64], odd[64];
    if (len_b == 0)
        return crc_a;

    /* odd = operator for one zero bit */
    odd[0] = CRC64_POLY_REFL;
    uint64_t row = 1;
    for (int n = 1; n < 64; n++) {
        odd[n] = row;
        row <<= 1;
    }
    gf2_square(even, odd); /* two zero bits */
    gf2_square(odd, even); /* four zero bits */

    /* Apply len_b zero bytes to crc_a: square up through 1, 2, 4... bytes, applying
     * the operator for each set bit of len_b. */
    do {
        gf2_square(even, odd);
        if (len_b & 1)
            crc_a = gf2_times(even, crc_a);
        len_b >>= 1;
        if (!len_b)
            break;
        gf2_square(odd, even);
        if (len_b & 1)
            crc_a = gf2_times(odd, crc_a);
        len_b >>= 1;
    } while (len_b);

    return crc_a ^ crc_b;
}
