/* Token buckets per AccessKeyId: bursts, refill, independent keys, bounded memory. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <time.h>

#include <cmocka.h>

#include "server/auth/ratelimit.h"

static void sleep_ms(long ms)
{
    struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};
    while (nanosleep(&ts, &ts) != 0)
        ;
}

static void test_burst_then_refusal(void **state)
{
    (void)state;
    auth_ratelimit *rl = auth_ratelimit_new(10, 20);
    assert_non_null(rl);
    int passed = 0;
    for (int i = 0; i < 40; i++)
        passed += auth_ratelimit_take(rl, "LTAIkey", NULL);
    /* 20 saved up, plus whatever trickled in while the loop ran (far under one token). */
    assert_in_range(passed, 20, 21);
    double retry = 0;
    assert_int_equal(auth_ratelimit_take(rl, "LTAIkey", &retry), 0);
    assert_true(retry > 0 && retry <= 0.1 + 1e-9);
    auth_ratelimit_free(rl);
}

static void test_refill(void **state)
{
    (void)state;
    auth_ratelimit *rl = auth_ratelimit_new(50, 1);
    assert_non_null(rl);
    assert_int_equal(auth_ratelimit_take(rl, "k", NULL), 1);
    assert_int_equal(auth_ratelimit_take(rl, "k", NULL), 0);
    sleep_ms(40); /* two tokens' worth at 50/s, capped at the burst of 1 */
    assert_int_equal(auth_ratelimit_take(rl, "k", NULL), 1);
    assert_int_equal(auth_ratelimit_take(rl, "k", NULL), 0);
    auth_ratelimit_free(rl);
}

static void test_keys_are_independent(void **state)
{
    (void)state;
    auth_ratelimit *rl = auth_ratelimit_new(1, 3);
    assert_non_null(rl);
    for (int i = 0; i < 3; i++)
        assert_int_equal(auth_ratelimit_take(rl, "a", NULL), 1);
    assert_int_equal(auth_ratelimit_take(rl, "a", NULL), 0);
    assert_int_equal(auth_ratelimit_take(rl, "b", NULL), 1);
    assert_int_equal(auth_ratelimit_take(rl, "a", NULL), 0);
    auth_ratelimit_free(rl);
}

/* Far more keys than the table holds: the oldest full buckets are forgotten (a forgotten
 * key starts full again), and an exhausted key that is still hot is never forgotten in
 * favour of full ones. */
static void test_many_keys_bounded(void **state)
{
    (void)state;
    auth_ratelimit *rl = auth_ratelimit_new(0.001, 2);
    assert_non_null(rl);
    assert_int_equal(auth_ratelimit_take(rl, "hot", NULL), 1);
    assert_int_equal(auth_ratelimit_take(rl, "hot", NULL), 1);
    assert_int_equal(auth_ratelimit_take(rl, "hot", NULL), 0);
    char k[32];
    for (int i = 0; i < 100000; i++) {
        snprintf(k, sizeof k, "STS.key%d", i);
        assert_int_equal(auth_ratelimit_take(rl, k, NULL), 1);
    }
    assert_int_equal(auth_ratelimit_take(rl, "hot", NULL), 0);
    auth_ratelimit_free(rl);
}

static void test_no_limit(void **state)
{
    (void)state;
    assert_null(auth_ratelimit_new(0, 10));
    for (int i = 0; i < 1000; i++)
        assert_int_equal(auth_ratelimit_take(NULL, "k", NULL), 1);
    auth_ratelimit_free(NULL);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_burst_then_refusal), cmocka_unit_test(test_refill),
        cmocka_unit_test(test_keys_are_independent), cmocka_unit_test(test_many_keys_bounded),
        cmocka_unit_test(test_no_limit),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
