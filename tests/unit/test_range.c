/* test_range.c - the Range header of GetObject (oss_parse_range): the single-range
 * forms OSS accepts, what it refuses (and so ignores, serving the whole object), and
 * the x-oss-range-behavior: standard clipping. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <string.h>

#include "server/oss/oss.h"

#define UNSET 0xdeadbeefULL

/* rc of oss_parse_range, with first/last checked to be untouched unless it returns 1. */
static int range(const char *h, uint64_t size, int clip, uint64_t *first, uint64_t *last)
{
    *first = UNSET;
    *last = UNSET;
    int rc = oss_parse_range(h, size, clip, first, last);
    if (rc != 1) {
        assert_int_equal(*first, UNSET);
        assert_int_equal(*last, UNSET);
    } else {
        assert_true(*first <= *last);
        assert_true(*last < size);
    }
    return rc;
}

/* The range is valid with and without clip, and the same either way. */
static void expect_both(const char *h, uint64_t size, uint64_t want_first, uint64_t want_last)
{
    uint64_t f, l;
    for (int clip = 0; clip <= 1; clip++) {
        assert_int_equal(range(h, size, clip, &f, &l), 1);
        assert_int_equal(f, want_first);
        assert_int_equal(l, want_last);
    }
}

/* Invalid with and without clip. */
static void expect_invalid(const char *h, uint64_t size)
{
    uint64_t f, l;
    assert_int_equal(range(h, size, 0, &f, &l), -1);
    assert_int_equal(range(h, size, 1, &f, &l), -1);
}

/* Invalid without clip, first..last with it. */
static void expect_clipped(const char *h, uint64_t size, uint64_t want_first, uint64_t want_last)
{
    uint64_t f, l;
    assert_int_equal(range(h, size, 0, &f, &l), -1);
    assert_int_equal(range(h, size, 1, &f, &l), 1);
    assert_int_equal(f, want_first);
    assert_int_equal(l, want_last);
}

static void test_absent(void **state)
{
    (void)state;
    uint64_t f, l;
    assert_int_equal(range(NULL, 1000, 0, &f, &l), 0);
    assert_int_equal(range(NULL, 1000, 1, &f, &l), 0);
    assert_int_equal(range(NULL, 0, 0, &f, &l), 0);
}

static void test_valid(void **state)
{
    (void)state;
    expect_both("bytes=0-499", 1000, 0, 499);
    expect_both("bytes=500-", 1000, 500, 999);
    expect_both("bytes=-200", 1000, 800, 999);
    expect_both("bytes=0-0", 1000, 0, 0);
    expect_both("bytes=999-999", 1000, 999, 999);
    expect_both("bytes=999-", 1000, 999, 999);
    expect_both("bytes=0-999", 1000, 0, 999);
    expect_both("bytes=0-", 1000, 0, 999);
    expect_both("bytes=-1000", 1000, 0, 999);
    expect_both("bytes=-1", 1000, 999, 999);
    expect_both("bytes=3-3", 1000, 3, 3);
    expect_both("bytes=007-010", 1000, 7, 10); /* leading zeros are still decimal */
    expect_both("bytes=0-0", 1, 0, 0);
    expect_both("bytes=-1", 1, 0, 0);
    /* Large objects: all 64 bits. */
    expect_both("bytes=4294967296-4294967297", 8589934592ULL, 4294967296ULL, 4294967297ULL);
    expect_both("bytes=-1", UINT64_MAX, UINT64_MAX - 1, UINT64_MAX - 1);
}

static void test_past_end(void **state)
{
    (void)state;
    /* The end past the object: OSS ignores the range, standard behaviour clips it. */
    expect_clipped("bytes=0-1000", 1000, 0, 999);
    expect_clipped("bytes=500-5000", 1000, 500, 999);
    expect_clipped("bytes=0-18446744073709551615", 1000, 0, 999);
    expect_clipped("bytes=0-99999999999999999999999", 1000, 0, 999); /* overflows */
    /* A suffix longer than the object: the whole object when clipping. */
    expect_clipped("bytes=-2000", 1000, 0, 999);
    expect_clipped("bytes=-1001", 1000, 0, 999);
    expect_clipped("bytes=-99999999999999999999999", 1000, 0, 999);
    /* The start past the end is unsatisfiable either way. */
    expect_invalid("bytes=1000-", 1000);
    expect_invalid("bytes=1000-1000", 1000);
    expect_invalid("bytes=1000-2000", 1000);
    expect_invalid("bytes=5000-", 1000);
    expect_invalid("bytes=99999999999999999999999-", 1000);
}

static void test_malformed(void **state)
{
    (void)state;
    static const char *const bad[] = {
        "",              /* empty */
        "byte=0-1",      /* wrong unit */
        "Bytes=0-1",     /* the unit is case-sensitive */
        "items=0-1",
        "bytes",
        "bytes=",
        "bytes=-",
        "bytes=5-3",     /* reversed */
        "bytes=0-1,3-4", /* multi-range is not supported */
        "bytes=0-1,",
        "bytes=,0-1",
        "bytes=-0",      /* empty suffix */
        "bytes=-00",
        "bytes=abc",
        "bytes=a-b",
        "bytes=1-2x",
        "bytes=1x-2",
        "bytes=1",       /* no dash */
        "bytes=1-2-3",
        "bytes=--1",
        "bytes=1--2",
        "bytes=-+1",
        "bytes=+1-2",
        "bytes=1-+2",
        "bytes= 1-2",    /* no whitespace inside */
        "bytes=1 -2",
        "bytes=1- 2",
        "bytes=1-2 ",
        " bytes=1-2",
        "bytes=-1x",
        "bytes=-1-",
        "bytes=0x10-0x20",
    };
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
        print_message("range %s\n", bad[i]);
        expect_invalid(bad[i], 1000);
    }
}

static void test_empty_object(void **state)
{
    (void)state;
    /* A 0-byte object has no satisfiable range at all, clipped or not. */
    expect_invalid("bytes=0-0", 0);
    expect_invalid("bytes=0-", 0);
    expect_invalid("bytes=0-499", 0);
    expect_invalid("bytes=-1", 0);
    expect_invalid("bytes=-200", 0);
    expect_invalid("bytes=1-", 0);
    expect_invalid("bytes=-0", 0);
    expect_invalid("bytes=abc", 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_absent),
        cmocka_unit_test(test_valid),
        cmocka_unit_test(test_past_end),
        cmocka_unit_test(test_malformed),
        cmocka_unit_test(test_empty_object),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
