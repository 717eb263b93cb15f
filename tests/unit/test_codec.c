/* test_codec.c - base64 (RFC 4648 vectors, strictness), hex, percent-encoding. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <string.h>

#include "common/codec.h"

static void test_base64_rfc4648(void **state)
{
    (void)state;
    static const char *const v[][2] = {
        {"", ""},         {"f", "Zg=="},         {"fo", "Zm8="},         {"foo", "Zm9v"},
        {"foob", "Zm9vYg=="}, {"fooba", "Zm9vYmE="}, {"foobar", "Zm9vYmFy"},
    };
    for (size_t i = 0; i < sizeof v / sizeof *v; i++) {
        vbuf b = VBUF_INIT;
        assert_int_equal(vodup_base64_encode(&b, v[i][0], strlen(v[i][0])), 0);
        assert_string_equal(vbuf_cstr(&b), v[i][1]);
        vbuf_free(&b);
        unsigned char out[16];
        long n = vodup_base64_decode(out, v[i][1], strlen(v[i][1]));
        assert_int_equal(n, (long)strlen(v[i][0]));
        assert_memory_equal(out, v[i][0], (size_t)n);
    }
    /* all byte values, both alphabet ends */
    unsigned char all[256], back[256];
    for (int i = 0; i < 256; i++)
        all[i] = (unsigned char)i;
    vbuf b = VBUF_INIT;
    vodup_base64_encode(&b, all, sizeof all);
    assert_int_equal(vodup_base64_decode(back, b.data, b.len), 256);
    assert_memory_equal(all, back, 256);
    vbuf_free(&b);
    /* Content-MD5 of ali-oss vector */
    unsigned char md5[16];
    assert_int_equal(vodup_base64_decode(md5, "SQz6hJV2qQI5gVtDwVNnGA==", 24), 16);
    char hex[33];
    vodup_hex_lower(hex, md5, 16);
    assert_string_equal(hex, "490cfa849576a90239815b43c1536718");
}

static void test_base64_strict(void **state)
{
    (void)state;
    static const char *const bad[] = {
        "Zg", "Zg=", "Zg===", "Z===", "====", "Zm9v\n", " Zm9v", "Zm9v YmFy", "Zg==Zg==",
        "Zm-v", "Zm_v", "Zh==", /* stray low bits */ "Zm9=", "=Zm9",
    };
    unsigned char out[32];
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++)
        if (vodup_base64_decode(out, bad[i], strlen(bad[i])) != -1)
            fail_msg("'%s' decoded", bad[i]);
}

static void test_hex(void **state)
{
    (void)state;
    const unsigned char in[] = {0x00, 0x1f, 0xa0, 0xff};
    char out[9];
    vodup_hex_lower(out, in, 4);
    assert_string_equal(out, "001fa0ff");
    vodup_hex_upper(out, in, 4);
    assert_string_equal(out, "001FA0FF");
    vodup_hex_lower(out, in, 0);
    assert_string_equal(out, "");
}

static void test_uri_encode(void **state)
{
    (void)state;
    vbuf b = VBUF_INIT;
    const char *s = "AZaz09-_.~ /+=&?%\xe4\xb8\xad*";
    assert_int_equal(vodup_uri_encode(&b, s, strlen(s), 0), 0);
    assert_string_equal(vbuf_cstr(&b), "AZaz09-_.~%20%2F%2B%3D%26%3F%25%E4%B8%AD%2A");
    vbuf_reset(&b);
    assert_int_equal(vodup_uri_encode(&b, "/b/1234+-/1.txt", 15, 1), 0);
    assert_string_equal(vbuf_cstr(&b), "/b/1234%2B-/1.txt");
    vbuf_reset(&b);
    assert_int_equal(vodup_uri_encode(&b, "a\0b", 3, 0), 0);
    assert_string_equal(vbuf_cstr(&b), "a%00b");
    vbuf_free(&b);
}

static void test_uri_decode(void **state)
{
    (void)state;
    vbuf b = VBUF_INIT;
    int nul = 7;
    assert_int_equal(vodup_uri_decode(&b, "a%20b+c%2b%2B", 13, 0, &nul), 0);
    assert_string_equal(vbuf_cstr(&b), "a b+c++");
    assert_int_equal(nul, 0);
    vbuf_reset(&b);
    assert_int_equal(vodup_uri_decode(&b, "a+b", 3, 1, NULL), 0);
    assert_string_equal(vbuf_cstr(&b), "a b");
    vbuf_reset(&b);
    assert_int_equal(vodup_uri_decode(&b, "x%00y", 5, 0, &nul), 0);
    assert_int_equal(nul, 1);
    assert_int_equal(b.len, 3);
    assert_memory_equal(b.data, "x\0y", 3);
    vbuf_reset(&b);
    assert_int_equal(vodup_uri_decode(&b, "", 0, 0, &nul), 0);
    assert_int_equal(nul, 0);
    assert_string_equal(vbuf_cstr(&b), "");
    static const char *const bad[] = {"%", "%4", "a%zz", "%G0", "%-1", "%%41"};
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
        vbuf_reset(&b);
        if (vodup_uri_decode(&b, bad[i], strlen(bad[i]), 0, NULL) != -1)
            fail_msg("'%s' decoded", bad[i]);
    }
    /* only n bytes are looked at: a '%' at the end of the span is incomplete */
    vbuf_reset(&b);
    assert_int_equal(vodup_uri_decode(&b, "ab%41", 3, 0, NULL), -1);
    /* encode then decode is the identity on every byte */
    char all[256];
    for (int i = 0; i < 256; i++)
        all[i] = (char)i;
    vbuf e = VBUF_INIT;
    vodup_uri_encode(&e, all, 256, 0);
    vbuf_reset(&b);
    assert_int_equal(vodup_uri_decode(&b, e.data, e.len, 0, &nul), 0);
    assert_int_equal(b.len, 256);
    assert_memory_equal(b.data, all, 256);
    assert_int_equal(nul, 1);
    vbuf_free(&e);
    vbuf_free(&b);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_base64_rfc4648), cmocka_unit_test(test_base64_strict),
        cmocka_unit_test(test_hex),            cmocka_unit_test(test_uri_encode),
        cmocka_unit_test(test_uri_decode),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
