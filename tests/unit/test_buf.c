/* test_buf.c - the growable buffer. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdlib.h>
#include <string.h>

#include "common/buf.h"

static void test_empty(void **state)
{
    (void)state;
    vbuf b = VBUF_INIT;
    assert_string_equal(vbuf_cstr(&b), "");
    assert_int_equal(b.len, 0);
    char *s = vbuf_steal(&b);
    assert_non_null(s);
    assert_string_equal(s, "");
    free(s);
    vbuf_free(&b);
    vbuf_init(&b);
    vbuf_reset(&b);
    assert_int_equal(vbuf_append(&b, "", 0), 0);
    assert_non_null(b.data);
    assert_string_equal(b.data, "");
    vbuf_free(&b);
    assert_null(b.data);
}

static void test_appends(void **state)
{
    (void)state;
    vbuf b = VBUF_INIT;
    assert_int_equal(vbuf_puts(&b, "abc"), 0);
    assert_int_equal(vbuf_putc(&b, '-'), 0);
    assert_int_equal(vbuf_append(&b, "x\0y", 3), 0);
    assert_int_equal(b.len, 7);
    assert_memory_equal(b.data, "abc-x\0y", 8); /* NUL-terminated after embedded NUL */
    vbuf_reset(&b);
    assert_int_equal(b.len, 0);
    assert_string_equal(vbuf_cstr(&b), "");
    assert_int_equal(vbuf_printf(&b, "%s=%d;", "n", 42), 0);
    assert_int_equal(vbuf_printf(&b, "%05.1f", 2.25), 0);
    assert_string_equal(vbuf_cstr(&b), "n=42;002.2");
    char *s = vbuf_steal(&b);
    assert_string_equal(s, "n=42;002.2");
    assert_null(b.data);
    assert_int_equal(b.len, 0);
    free(s);
}

static void test_growth(void **state)
{
    (void)state;
    vbuf b = VBUF_INIT;
    for (int i = 0; i < 100000; i++)
        vbuf_putc(&b, (char)('a' + i % 26));
    assert_int_equal(b.oom, 0);
    assert_int_equal(b.len, 100000);
    assert_true(b.cap > b.len);
    assert_int_equal(b.data[b.len], '\0');
    assert_int_equal(b.data[99999], 'a' + 99999 % 26);
    /* a long printf result */
    vbuf_reset(&b);
    char big[5000];
    memset(big, 'z', sizeof big - 1);
    big[sizeof big - 1] = '\0';
    assert_int_equal(vbuf_printf(&b, "<%s>", big), 0);
    assert_int_equal(b.len, sizeof big + 1);
    vbuf_free(&b);
}

static void test_oom_sticky(void **state)
{
    (void)state;
    vbuf b = VBUF_INIT;
    vbuf_puts(&b, "ok");
    /* an impossible size fails and poisons the buffer */
    assert_int_equal(vbuf_append(&b, "x", SIZE_MAX - 1), -1);
    assert_int_equal(b.oom, 1);
    assert_int_equal(vbuf_puts(&b, "more"), -1);
    assert_int_equal(vbuf_printf(&b, "%d", 1), -1);
    assert_int_equal(b.len, 2);
    assert_string_equal(vbuf_cstr(&b), "ok");
    vbuf_free(&b);
    assert_int_equal(b.oom, 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_empty),
        cmocka_unit_test(test_appends),
        cmocka_unit_test(test_growth),
        cmocka_unit_test(test_oom_sticky),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
