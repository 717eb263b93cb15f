/* test_http_net.c - the HTTP front's pure helpers: addresses, CIDR ranges, the client
 * behind trusted proxies, token and header-value syntax, the log escaper. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <string.h>

#include "server/http/net.h"

static http_addr addr(const char *s)
{
    http_addr a;
    assert_int_equal(http_addr_parse(&a, s, strlen(s)), 0);
    return a;
}

static void fmt_is(const http_addr *a, const char *want)
{
    char buf[64];
    http_addr_format(a, buf, sizeof buf);
    assert_string_equal(buf, want);
}

static void test_addr(void **state)
{
    (void)state;
    http_addr a = addr("203.0.113.5");
    fmt_is(&a, "203.0.113.5");
    a = addr(" 203.0.113.5:4711 ");
    fmt_is(&a, "203.0.113.5");
    a = addr("2001:db8::1");
    fmt_is(&a, "2001:db8::1");
    a = addr("[2001:db8::1]:443");
    fmt_is(&a, "2001:db8::1");
    http_addr b;
    const char *bad[] = {"", "  ", "example.com", "1.2.3", "1.2.3.4.5", "[::1", "[::1]x", "unknown", "1.2.3.256", NULL};
    for (int i = 0; bad[i]; i++)
        assert_int_equal(http_addr_parse(&b, bad[i], strlen(bad[i])), -1);
    /* IPv6 is counted per /64, IPv4 per address */
    http_addr k1, k2;
    a = addr("2001:db8:1:2:aaaa::1");
    b = addr("2001:db8:1:2:bbbb::2");
    k1 = http_addr_limit_key(&a);
    k2 = http_addr_limit_key(&b);
    assert_memory_equal(k1.b, k2.b, 16);
    a = addr("10.0.0.1");
    b = addr("10.0.0.2");
    k1 = http_addr_limit_key(&a);
    k2 = http_addr_limit_key(&b);
    assert_memory_not_equal(k1.b, k2.b, 16);
}

static void test_cidr(void **state)
{
    (void)state;
    http_cidr c;
    assert_int_equal(http_cidr_parse(&c, "10.0.0.0/8"), 0);
    http_addr a = addr("10.200.3.4");
    assert_true(http_cidr_match(&c, &a));
    a = addr("11.0.0.1");
    assert_false(http_cidr_match(&c, &a));
    assert_int_equal(http_cidr_parse(&c, "10.1.2.3/8"), 0); /* host bits are ignored */
    a = addr("10.9.9.9");
    assert_true(http_cidr_match(&c, &a));
    assert_int_equal(http_cidr_parse(&c, "192.168.1.7"), 0); /* a single address */
    a = addr("192.168.1.7");
    assert_true(http_cidr_match(&c, &a));
    a = addr("192.168.1.8");
    assert_false(http_cidr_match(&c, &a));
    assert_int_equal(http_cidr_parse(&c, "127.0.0.30/31"), 0);
    a = addr("127.0.0.31");
    assert_true(http_cidr_match(&c, &a));
    a = addr("127.0.0.32");
    assert_false(http_cidr_match(&c, &a));
    assert_int_equal(http_cidr_parse(&c, "2001:db8::/32"), 0);
    a = addr("2001:db8:ffff::1");
    assert_true(http_cidr_match(&c, &a));
    a = addr("2001:db9::1");
    assert_false(http_cidr_match(&c, &a));
    a = addr("32.1.13.184"); /* an IPv4 address never matches an IPv6 range by accident */
    assert_false(http_cidr_match(&c, &a));
    assert_int_equal(http_cidr_parse(&c, "0.0.0.0/0"), 0);
    a = addr("8.8.8.8");
    assert_true(http_cidr_match(&c, &a));
    a = addr("::1");
    assert_false(http_cidr_match(&c, &a));
    const char *bad[] = {"", "10.0.0.0/", "10.0.0.0/33", "::/129", "10.0.0.0/8x", "/8", "proxy.local", "10.0.0.0/-1", NULL};
    for (int i = 0; bad[i]; i++)
        assert_int_equal(http_cidr_parse(&c, bad[i]), -1);
}

static void xff_is(const char *const *vals, size_t n, const http_cidr *t, size_t nt, const char *want)
{
    http_addr c;
    if (!want) {
        assert_int_equal(http_xff_client(&c, vals, n, t, nt), -1);
        return;
    }
    assert_int_equal(http_xff_client(&c, vals, n, t, nt), 0);
    fmt_is(&c, want);
}

static void test_xff(void **state)
{
    (void)state;
    http_cidr t[2];
    assert_int_equal(http_cidr_parse(&t[0], "10.0.0.0/8"), 0);
    assert_int_equal(http_cidr_parse(&t[1], "127.0.0.1"), 0);
    const char *one[] = {"203.0.113.5"};
    xff_is(one, 1, t, 2, "203.0.113.5");
    /* a client's own claim stays on the left: the rightmost untrusted hop wins */
    const char *spoof[] = {"1.1.1.1, 203.0.113.5, 10.0.0.7"};
    xff_is(spoof, 1, t, 2, "203.0.113.5");
    /* several headers are one list, in order */
    const char *split[] = {"1.1.1.1", "203.0.113.9 , 10.1.1.1", " 127.0.0.1"};
    xff_is(split, 3, t, 2, "203.0.113.9");
    /* every hop trusted: the leftmost */
    const char *all[] = {"10.0.0.1, 10.0.0.2"};
    xff_is(all, 1, t, 2, "10.0.0.1");
    /* garbage where the client should be: stop at the last trusted hop read */
    const char *junk[] = {"unknown, 10.0.0.2"};
    xff_is(junk, 1, t, 2, "10.0.0.2");
    const char *junk2[] = {"unknown"};
    xff_is(junk2, 1, t, 2, NULL);
    const char *empty[] = {" , "};
    xff_is(empty, 1, t, 2, NULL);
    xff_is(NULL, 0, t, 2, NULL);
    const char *v6[] = {"[2001:db8::5]:1234, 10.0.0.1"};
    xff_is(v6, 1, t, 2, "2001:db8::5");
}

static void test_syntax(void **state)
{
    (void)state;
    assert_true(http_is_token("GET", 3));
    assert_true(http_is_token("x-oss-meta-a_b", 14));
    assert_false(http_is_token("", 0));
    assert_false(http_is_token("x-oss-meta a", 12));
    assert_false(http_is_token("G\"T", 3));
    assert_false(http_is_token("a:b", 3));
    assert_false(http_is_token("caf\xc3\xa9", 5));
    assert_true(http_value_ok("plain value\twith tab", 20));
    assert_true(http_value_ok("caf\xc3\xa9", 5));
    assert_false(http_value_ok("one\rtwo", 7));
    assert_false(http_value_ok("one\ntwo", 7));
    assert_false(http_value_ok("one\x01two", 7));
    assert_false(http_value_ok("one\x7ftwo", 7));
    assert_false(http_value_ok("one\0two", 7));
}

static void escaped_is(const char *in, size_t n, size_t max, const char *want)
{
    vbuf b = VBUF_INIT;
    http_log_escape(&b, in, n, max);
    assert_string_equal(vbuf_cstr(&b), want);
    vbuf_free(&b);
}

static void test_escape(void **state)
{
    (void)state;
    escaped_is("PutObject", 9, 100, "PutObject");
    escaped_is("a\nb", 3, 100, "a\\x0ab");
    escaped_is("a\r\n2026 forged", 14, 100, "a\\x0d\\x0a2026\\x20forged");
    escaped_is("q\"uote\\", 7, 100, "q\\x22uote\\x5c");
    escaped_is("\xc3\xa9\xff", 3, 100, "\\xc3\\xa9\\xff");
    escaped_is("abcdef", 6, 3, "abc...");
    escaped_is("", 0, 3, "");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_addr),   cmocka_unit_test(test_cidr),   cmocka_unit_test(test_xff),
        cmocka_unit_test(test_syntax), cmocka_unit_test(test_escape),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
