/* test_timefmt.c - wire date formats: output, round trips, strict parsing. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <locale.h>
#include <stdlib.h>
#include <string.h>

#include "common/timefmt.h"

/* 2026-11-24T23:08:23Z, the date of the captured vectors */
#define T_VEC ((time_t)1795561703)

static void test_format(void **state)
{
    (void)state;
    char h[30], ms[25], iso[21], c[17];
    vodup_time_http(h, T_VEC);
    assert_string_equal(h, "Tue, 24 Nov 2026 23:08:23 GMT");
    vodup_time_iso_ms(ms, T_VEC);
    assert_string_equal(ms, "2026-11-24T23:08:23.000Z");
    vodup_time_iso(iso, T_VEC);
    assert_string_equal(iso, "2026-11-24T23:08:23Z");
    vodup_time_compact(c, T_VEC);
    assert_string_equal(c, "20261124T230823Z");
    vodup_time_http(h, 0);
    assert_string_equal(h, "Thu, 01 Jan 1970 00:00:00 GMT");
    vodup_time_compact(c, 1702743657);
    assert_string_equal(c, "20231216T162057Z");
    /* the locale does not leak in */
    if (setlocale(LC_ALL, "de_DE.UTF-8") || setlocale(LC_ALL, "fr_FR.UTF-8")) {
        vodup_time_http(h, T_VEC);
        assert_string_equal(h, "Tue, 24 Nov 2026 23:08:23 GMT");
        setlocale(LC_ALL, "C");
    }
}

static void test_roundtrip(void **state)
{
    (void)state;
    static const time_t ts[] = {0, 1, 59, 951782400 /* 2000-02-29 */, 1672223261, T_VEC,
                                4102444799 /* 2099-12-31T23:59:59 */, 1709164800 /* 2024-02-29 */};
    for (size_t i = 0; i < sizeof ts / sizeof *ts; i++) {
        char h[30], ms[25], iso[21], c[17];
        time_t t;
        vodup_time_http(h, ts[i]);
        assert_int_equal(vodup_time_parse_http(h, &t), 0);
        assert_int_equal(t, ts[i]);
        vodup_time_iso_ms(ms, ts[i]);
        assert_int_equal(vodup_time_parse_iso(ms, &t), 0);
        assert_int_equal(t, ts[i]);
        vodup_time_iso(iso, ts[i]);
        assert_int_equal(vodup_time_parse_iso(iso, &t), 0);
        assert_int_equal(t, ts[i]);
        vodup_time_compact(c, ts[i]);
        assert_int_equal(vodup_time_parse_compact(c, &t), 0);
        assert_int_equal(t, ts[i]);
    }
}

static void test_parse_rejects(void **state)
{
    (void)state;
    time_t t = 12345;
    static const char *const http_bad[] = {
        "", "Tue, 24 Nov 2026 23:08:23", "Tue, 24 Nov 2026 23:08:23 UTC",
        "Tue, 24 Nov 2026 23:08:23 GMT ", " Tue, 24 Nov 2026 23:08:23 GMT",
        "Tue, 24 Nov 2026 23:08:23 GMTx", "Tuesday, 24-Nov-26 23:08:23 GMT",
        "Tue Nov 24 23:08:23 2026", "Tue, 4 Nov 2026 23:08:23 GMT",
        "Mon, 30 Feb 2026 00:00:00 GMT", "Tue, 24 Foo 2026 23:08:23 GMT",
        "Tue, 24 nov 2026 23:08:23 GMT", "Tue, 24 Nov 2026 24:00:00 GMT",
        "Tue, 24 Nov 2026 23:60:00 GMT", "Tue, 24 Nov 2026 23:08:60 GMT",
        "Tue, 00 Nov 2026 23:08:23 GMT", "Tue, 31 Nov 2026 23:08:23 GMT",
        "Wed, 24 Nov 2026 23:08:23 GMT", /* wrong weekday */
        "Tue, 24 Nov 2026 23:08:23 +0000", "Tue, 24 Nov 2026 23:8:23 GMT",
    };
    for (size_t i = 0; i < sizeof http_bad / sizeof *http_bad; i++)
        if (vodup_time_parse_http(http_bad[i], &t) != -1)
            fail_msg("http '%s' accepted", http_bad[i]);
    static const char *const iso_bad[] = {
        "", "2026-11-24T23:08:23", "2026-11-24 23:08:23Z", "2026-13-24T23:08:23Z",
        "2026-00-24T23:08:23Z", "2026-02-30T00:00:00Z", "2025-02-29T00:00:00Z",
        "2100-02-29T00:00:00Z", "2026-11-24T23:08:23.0Z", "2026-11-24T23:08:23.0000Z",
        "2026-11-24T23:08:23.000", "2026-11-24T23:08:23Zjunk", "2026-11-24T23:08:23+00:00",
        "2026-1-24T23:08:23Z", "20261124T230823Z", "1969-12-31T23:59:59Z",
        "2026-11-24T23:08:23.abcZ",
    };
    for (size_t i = 0; i < sizeof iso_bad / sizeof *iso_bad; i++)
        if (vodup_time_parse_iso(iso_bad[i], &t) != -1)
            fail_msg("iso '%s' accepted", iso_bad[i]);
    static const char *const compact_bad[] = {
        "", "20261124T230823", "20261124T230823Zx", "20261124230823Z", "20261324T230823Z",
        "20260230T000000Z", "20261124T250823Z", "2026-11-24T23:08:23Z", "20261124t230823z",
        "2026112T2308233Z",
    };
    for (size_t i = 0; i < sizeof compact_bad / sizeof *compact_bad; i++)
        if (vodup_time_parse_compact(compact_bad[i], &t) != -1)
            fail_msg("compact '%s' accepted", compact_bad[i]);
    assert_int_equal(t, 12345); /* untouched on failure */
    /* leap days that exist */
    assert_int_equal(vodup_time_parse_iso("2000-02-29T00:00:00Z", &t), 0);
    assert_int_equal(t, 951782400);
    assert_int_equal(vodup_time_parse_compact("20240229T000000Z", &t), 0);
    assert_int_equal(vodup_time_parse_iso("2026-11-24T23:08:23.999Z", &t), 0);
    assert_int_equal(t, T_VEC);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_format),
        cmocka_unit_test(test_roundtrip),
        cmocka_unit_test(test_parse_rejects),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
