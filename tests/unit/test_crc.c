/* test_crc.c - CRC-64/XZ and CRC-32C check values, streaming, and crc64_combine
 * against the CRC of the concatenation. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdlib.h>
#include <string.h>

#include "common/crc.h"

static void test_check_values(void **state)
{
    (void)state;
    assert_int_equal(vodup_crc64(0, "123456789", 9), 11051210869376104954ULL);
    assert_int_equal(vodup_crc64(0, "123456789", 9), 0x995DC9BBDF1939FAULL);
    assert_int_equal(vodup_crc64(0, "", 0), 0);
    assert_int_equal(vodup_crc64(0, NULL, 0), 0);
    assert_int_equal(vodup_crc32c(0, "123456789", 9), 0xE3069283u);
    assert_int_equal(vodup_crc32c(0, "", 0), 0);
    /* RFC 3720 B.4: 32 bytes of zeros */
    unsigned char z[32] = {0};
    assert_int_equal(vodup_crc32c(0, z, sizeof z), 0x8A9136AAu);
    unsigned char ff[32];
    memset(ff, 0xff, sizeof ff);
    assert_int_equal(vodup_crc32c(0, ff, sizeof ff), 0x62A8AB43u);
}

static unsigned char *pattern(size_t n)
{
    unsigned char *p = malloc(n ? n : 1);
    uint32_t x = 2463534242u;
    for (size_t i = 0; i < n; i++) {
        x ^= x << 13;
        x ^= x >> 17;
        x ^= x << 5;
        p[i] = (unsigned char)x;
    }
    return p;
}

static void test_streaming(void **state)
{
    (void)state;
    size_t n = 100003;
    unsigned char *p = pattern(n);
    uint64_t whole = vodup_crc64(0, p, n);
    uint32_t whole32 = vodup_crc32c(0, p, n);
    static const size_t steps[] = {1, 7, 64, 4096, 65536};
    for (size_t s = 0; s < sizeof steps / sizeof *steps; s++) {
        uint64_t c = 0;
        uint32_t c32 = 0;
        for (size_t i = 0; i < n; i += steps[s]) {
            size_t k = n - i < steps[s] ? n - i : steps[s];
            c = vodup_crc64(c, p + i, k);
            c32 = vodup_crc32c(c32, p + i, k);
        }
        assert_int_equal(c, whole);
        assert_int_equal(c32, whole32);
    }
    /* empty updates change nothing */
    assert_int_equal(vodup_crc64(whole, p, 0), whole);
    assert_int_equal(vodup_crc32c(whole32, p, 0), whole32);
    free(p);
}

static void test_combine(void **state)
{
    (void)state;
    size_t n = 300001;
    unsigned char *p = pattern(n);
    uint64_t whole = vodup_crc64(0, p, n);
    static const size_t splits[] = {0, 1, 2, 7, 8, 100, 4096, 102400, 150000, 299999, 300000,
                                    300001};
    for (size_t i = 0; i < sizeof splits / sizeof *splits; i++) {
        size_t s = splits[i];
        uint64_t a = vodup_crc64(0, p, s);
        uint64_t b = vodup_crc64(0, p + s, n - s);
        if (vodup_crc64_combine(a, b, n - s) != whole)
            fail_msg("combine wrong at split %zu", s);
    }
    /* folded over several parts in order, as multipart Complete does, with empty parts */
    static const size_t parts[] = {102400, 0, 102400, 1, 0, 95200};
    uint64_t acc = 0;
    size_t off = 0;
    for (size_t i = 0; i < sizeof parts / sizeof *parts; i++) {
        uint64_t c = vodup_crc64(0, p + off, parts[i]);
        acc = off == 0 && i == 0 ? c : vodup_crc64_combine(acc, c, parts[i]);
        off += parts[i];
    }
    assert_int_equal(off, n);
    assert_int_equal(acc, whole);
    /* identities */
    assert_int_equal(vodup_crc64_combine(whole, 0, 0), whole);
    assert_int_equal(vodup_crc64_combine(0, whole, n), whole);
    /* a known answer: "12345" + "6789" */
    uint64_t a = vodup_crc64(0, "12345", 5), b = vodup_crc64(0, "6789", 4);
    assert_int_equal(vodup_crc64_combine(a, b, 4), 11051210869376104954ULL);
    /* a large length exercises many squarings: 5 GiB of zeros appended to "abc" */
    unsigned char *zeros = calloc(1, 1 << 20);
    uint64_t base = vodup_crc64(0, "abc", 3);
    uint64_t z = 0, direct = base;
    for (int i = 0; i < 5 * 1024; i++) {
        z = vodup_crc64(z, zeros, 1 << 20);
        direct = vodup_crc64(direct, zeros, 1 << 20);
    }
    free(zeros);
    assert_int_equal(vodup_crc64_combine(base, z, 5ULL << 30), direct);
    free(p);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_check_values),
        cmocka_unit_test(test_streaming),
        cmocka_unit_test(test_combine),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
