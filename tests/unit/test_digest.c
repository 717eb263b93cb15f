/* test_digest.c - hashes (FIPS/RFC vectors), HMAC (RFC 2202, RFC 4231), streaming
 * contexts, randomness and constant-time comparison. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <string.h>

#include "common/codec.h"
#include "common/digest.h"

static void hex_eq(const unsigned char *d, size_t n, const char *want)
{
    char hex[129];
    vodup_hex_lower(hex, d, n);
    assert_string_equal(hex, want);
}

static void test_hashes(void **state)
{
    (void)state;
    unsigned char d[32];
    vodup_md5(d, "", 0);
    hex_eq(d, 16, "d41d8cd98f00b204e9800998ecf8427e");
    vodup_md5(d, "abc", 3);
    hex_eq(d, 16, "900150983cd24fb0d6963f7d28e17f72");
    vodup_sha1(d, "abc", 3);
    hex_eq(d, 20, "a9993e364706816aba3e25717850c26c9cd0d89d");
    vodup_sha256(d, "", 0);
    hex_eq(d, 32, "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
    vodup_sha256(d, "abc", 3);
    hex_eq(d, 32, "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
}

static void test_hmac_sha1_rfc2202(void **state)
{
    (void)state;
    unsigned char k[80], m[50], d[20];
    memset(k, 0x0b, 20);
    vodup_hmac_sha1(d, k, 20, "Hi There", 8);
    hex_eq(d, 20, "b617318655057264e28bc0b6fb378c8ef146be00");
    vodup_hmac_sha1(d, "Jefe", 4, "what do ya want for nothing?", 28);
    hex_eq(d, 20, "effcdf6ae5eb2fa2d27416d5f184df9c259a7c79");
    memset(k, 0xaa, 20);
    memset(m, 0xdd, 50);
    vodup_hmac_sha1(d, k, 20, m, 50);
    hex_eq(d, 20, "125d7342b9ac11cd91a39af48aa17b4f63f175d3");
    /* key longer than the block size */
    memset(k, 0xaa, 80);
    const char *t6 = "Test Using Larger Than Block-Size Key - Hash Key First";
    vodup_hmac_sha1(d, k, 80, t6, strlen(t6));
    hex_eq(d, 20, "aa4ae5e15272d00e95705637ce8a3b55ed402112");
}

static void test_hmac_sha256_rfc4231(void **state)
{
    (void)state;
    unsigned char k[131], m[50], d[32];
    memset(k, 0x0b, 20);
    vodup_hmac_sha256(d, k, 20, "Hi There", 8);
    hex_eq(d, 32, "b0344c61d8db38535ca8afceaf0bf12b881dc200c9833da726e9376c2e32cff7");
    vodup_hmac_sha256(d, "Jefe", 4, "what do ya want for nothing?", 28);
    hex_eq(d, 32, "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843");
    memset(k, 0xaa, 20);
    memset(m, 0xdd, 50);
    vodup_hmac_sha256(d, k, 20, m, 50);
    hex_eq(d, 32, "773ea91e36800e46854db8ebd09181a72959098b3ef8c122d9635514ced565fe");
    memset(k, 0xaa, 131);
    const char *t6 = "Test Using Larger Than Block-Size Key - Hash Key First";
    vodup_hmac_sha256(d, k, 131, t6, strlen(t6));
    hex_eq(d, 32, "60e431591ee0b67f0d8a26aacbf5b77f8e0bc6213728c5140546040f0ee37f54");
    /* empty key and message are valid (and distinct from "no key") */
    vodup_hmac_sha256(d, "", 0, "", 0);
    hex_eq(d, 32, "b613679a0814d9ec772f95d778c35fc5ff1697c493715653c6c712144292c5ad");
}

static void test_streaming(void **state)
{
    (void)state;
    static const char msg[] = "The quick brown fox jumps over the lazy dog";
    unsigned char one[32], inc[32];
    vodup_md5_ctx *m = vodup_md5_new();
    assert_non_null(m);
    for (size_t i = 0; i < sizeof msg - 1; i += 5)
        vodup_md5_update(m, msg + i, sizeof msg - 1 - i < 5 ? sizeof msg - 1 - i : 5);
    vodup_md5_final(m, inc);
    hex_eq(inc, 16, "9e107d9d372bb6826bd81d3542a419d6");
    /* reusable after final */
    vodup_md5_update(m, "abc", 3);
    vodup_md5_final(m, inc);
    vodup_md5(one, "abc", 3);
    assert_memory_equal(one, inc, 16);
    vodup_md5_final(m, inc);
    hex_eq(inc, 16, "d41d8cd98f00b204e9800998ecf8427e");
    vodup_md5_free(m);
    vodup_md5_free(NULL);

    vodup_sha256_ctx *s = vodup_sha256_new();
    assert_non_null(s);
    vodup_sha256_update(s, msg, 10);
    vodup_sha256_update(s, "", 0);
    vodup_sha256_update(s, msg + 10, sizeof msg - 11);
    vodup_sha256_final(s, inc);
    vodup_sha256(one, msg, sizeof msg - 1);
    assert_memory_equal(one, inc, 32);
    hex_eq(inc, 32, "d7a8fbb307d7809469ca9abcb0082e4f8d5651e46d3cdb762d02d0bf37c9e592");
    vodup_sha256_free(s);
    vodup_sha256_free(NULL);
}

static void test_random(void **state)
{
    (void)state;
    unsigned char a[32] = {0}, b[32] = {0}, zero[32] = {0};
    assert_int_equal(vodup_random(a, sizeof a), 0);
    assert_int_equal(vodup_random(b, sizeof b), 0);
    assert_memory_not_equal(a, b, 32);
    assert_memory_not_equal(a, zero, 32);
    assert_int_equal(vodup_random(a, 0), 0);
}

static void test_ct_equal(void **state)
{
    (void)state;
    assert_int_equal(vodup_ct_equal("abc", 3, "abc", 3), 1);
    assert_int_equal(vodup_ct_equal("abc", 3, "abd", 3), 0);
    assert_int_equal(vodup_ct_equal("abc", 3, "Abc", 3), 0);
    assert_int_equal(vodup_ct_equal("abc", 3, "abcd", 4), 0);
    assert_int_equal(vodup_ct_equal("abcd", 4, "abc", 3), 0);
    assert_int_equal(vodup_ct_equal("", 0, "", 0), 1);
    assert_int_equal(vodup_ct_equal(NULL, 0, NULL, 0), 1);
    assert_int_equal(vodup_ct_equal("a\0b", 3, "a\0c", 3), 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_hashes),    cmocka_unit_test(test_hmac_sha1_rfc2202),
        cmocka_unit_test(test_hmac_sha256_rfc4231), cmocka_unit_test(test_streaming),
        cmocka_unit_test(test_random),    cmocka_unit_test(test_ct_equal),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
