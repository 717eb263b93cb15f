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
#include <pthread.h>

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

/* zeros[k]: the operator appending 2^k zero bytes, built once. Complete combines one CRC
 * per part (up to 10,000), and building the operators on every call was most of its
 * cost (docs/internals/commit-path.md). 64 x 64 words = 32 KiB. */
static uint64_t zeros[64][64];
static pthread_once_t zeros_once = PTHREAD_ONCE_INIT;

static void zeros_init(void)
{
    uint64_t one_bit[64], two_bits[64], four_bits[64];
    /* the operator for one zero bit */
    one_bit[0] = CRC64_POLY_REFL;
    uint64_t row = 1;
    for (int n = 1; n < 64; n++) {
        one_bit[n] = row;
        row <<= 1;
    }
    gf2_square(two_bits, one_bit);
    gf2_square(four_bits, two_bits);
    gf2_square(zeros[0], four_bits); /* one zero byte */
    for (int k = 1; k < 64; k++)
        gf2_square(zeros[k], zeros[k - 1]);
}

uint64_t vodup_crc64_combine(uint64_t crc_a, uint64_t crc_b, uint64_t len_b)
{
    if (len_b == 0)
        return crc_a;
    pthread_once(&zeros_once, zeros_init);
    /* Apply len_b zero bytes to crc_a, one operator per set bit of len_b. */
    for (int k = 0; len_b; k++, len_b >>= 1)
        if (len_b & 1)
            crc_a = gf2_times(zeros[k], crc_a);
    return crc_a ^ crc_b;
}
