/* test_client_network.c - the network policy. Traffic is measured with a counting proxy
 * between the client and vodupd.
 * - pause_on_cellular: CELLULAR pauses (no bytes for 1.5 s), WIFI resumes and completes;
 *   without pause_on_cellular, CELLULAR uploads;
 * - NONE: uploads wait (no bytes, no failure), and complete after WIFI. */
#include "client_harness.h"

static th_server g_srv;
static th_proxy g_px;
static char g_big[1024], g_big_md5[33];
static char g_small[1024], g_small_md5[33];

#define BIG_SIZE (16 * MiB)
#define PART (1 * MiB)
#define RATE (4 * MiB)

static int setup(void **state)
{
    (void)state;
    th_group_start(&g_srv, &g_px, "client-network", NULL);
    th_make_source(&g_srv, g_big, sizeof g_big, "big.mp4", BIG_SIZE, 51, g_big_md5);
    th_make_source(&g_srv, g_small, sizeof g_small, "small.mp4", 2 * MiB + 5, 52, g_small_md5);
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    th_group_stop(&g_srv, &g_px);
    return 0;
}

static vodup_client *new_client(th_rec *rec, int pause_on_cellular)
{
    vodup_options o = VODUP_OPTIONS_INIT;
    o.parallel = 4;
    o.part_size = PART;
    o.limit_rate = RATE;
    o.pause_on_cellular = pause_on_cellular;
    return th_sts_client(&g_srv, &o, rec);
}

static void test_cellular_pauses(void **state)
{
    (void)state;
    th_rec rec;
    th_rec_init(&rec);
    vodup_api *api = th_api_root(&g_srv);
    vodup_client *c = new_client(&rec, 1);
    int id = -1;
    assert_int_equal(vodup_client_set_network(c, VODUP_NETWORK_WIFI), VODUP_OK);
    assert_int_equal(vodup_client_add_file(c, &id, g_big, VODUP_MEDIA_VIDEO, NULL), VODUP_OK);
    assert_int_equal(vodup_client_start(c), VODUP_OK);
    th_wait_done(c, id, 2 * MiB, 30000);
    assert_int_equal(vodup_client_set_network(c, VODUP_NETWORK_CELLULAR), VODUP_OK);
    th_wait_status(c, id, VODUP_STATUS_PAUSED, 10000, "on cellular with pause_on_cellular");
    uint64_t done = th_done_of(c, id);
    assert_true(done < BIG_SIZE);
    th_assert_no_traffic(&g_px, 1500, "paused on cellular");
    assert_int_equal(th_status(c, id), VODUP_STATUS_PAUSED);
    assert_int_equal(th_done_of(c, id), done);
    assert_int_equal(vodup_client_wait(c, 100), VODUP_ETIMEDOUT);

    assert_int_equal(vodup_client_set_network(c, VODUP_NETWORK_WIFI), VODUP_OK);
    assert_int_equal(vodup_client_wait(c, 60000), VODUP_OK);
    th_check_upload(&g_srv, api, &rec, c, id, g_big_md5, BIG_SIZE);
    vodup_client_free(c);
    vodup_api_free(api);
    th_rec_destroy(&rec);
}

/* Starting on cellular with pause_on_cellular sends nothing; without it, it uploads. */
static void test_cellular_at_start(void **state)
{
    (void)state;
    th_rec rec;
    th_rec_init(&rec);
    vodup_client *c = new_client(&rec, 1);
    int id = -1;
    assert_int_equal(vodup_client_set_network(c, VODUP_NETWORK_CELLULAR), VODUP_OK);
    assert_int_equal(vodup_client_add_file(c, &id, g_small, VODUP_MEDIA_VIDEO, NULL), VODUP_OK);
    unsigned long long before = th_proxy_settle(&g_px, 200, 3000);
    assert_int_equal(vodup_client_start(c), VODUP_OK);
    assert_int_equal(vodup_client_wait(c, 1500), VODUP_ETIMEDOUT);
    assert_int_equal(atomic_load(&g_px.up_bytes), before);
    assert_int_equal(th_get(&rec, id).succeed, 0);
    assert_int_equal(vodup_client_set_network(c, VODUP_NETWORK_WIFI), VODUP_OK);
    assert_int_equal(vodup_client_wait(c, 60000), VODUP_OK);
    th_check_callbacks(&rec, id);
    th_check_object(&g_srv, &rec, id, g_small_md5);
    vodup_client_free(c);
    th_rec_destroy(&rec);

    th_rec_init(&rec);
    c = new_client(&rec, 0);
    assert_int_equal(vodup_client_set_network(c, VODUP_NETWORK_CELLULAR), VODUP_OK);
    assert_int_equal(vodup_client_add_file(c, &id, g_small, VODUP_MEDIA_VIDEO, NULL), VODUP_OK);
    assert_int_equal(vodup_client_start(c), VODUP_OK);
    assert_int_equal(vodup_client_wait(c, 60000), VODUP_OK);
    th_check_callbacks(&rec, id);
    th_check_object(&g_srv, &rec, id, g_small_md5);
    assert_int_equal(vodup_client_set_network(c, (vodup_network)7), VODUP_EINVAL);
    vodup_client_free(c);
    th_rec_destroy(&rec);
}

static void test_offline_waits(void **state)
{
    (void)state;
    th_rec rec;
    th_rec_init(&rec);
    vodup_api *api = th_api_root(&g_srv);
    vodup_client *c = new_client(&rec, 0);
    int id = -1;
    assert_int_equal(vodup_client_add_file(c, &id, g_big, VODUP_MEDIA_VIDEO, NULL), VODUP_OK);
    assert_int_equal(vodup_client_start(c), VODUP_OK);
    th_wait_done(c, id, 2 * MiB, 30000);
    assert_int_equal(vodup_client_set_network(c, VODUP_NETWORK_NONE), VODUP_OK);
    th_assert_no_traffic(&g_px, 1500, "offline");
    vodup_status st = th_status(c, id);
    assert_true(st != VODUP_STATUS_SUCCESS && st != VODUP_STATUS_FAIL && st != VODUP_STATUS_CANCELED);
    assert_true(th_done_of(c, id) < BIG_SIZE);
    assert_int_equal(vodup_client_wait(c, 100), VODUP_ETIMEDOUT);
    th_item it = th_get(&rec, id);
    assert_int_equal(it.failed, 0);
    assert_int_equal(it.succeed, 0);

    assert_int_equal(vodup_client_set_network(c, VODUP_NETWORK_WIFI), VODUP_OK);
    assert_int_equal(vodup_client_wait(c, 60000), VODUP_OK);
    th_check_upload(&g_srv, api, &rec, c, id, g_big_md5, BIG_SIZE);
    vodup_client_free(c);
    vodup_api_free(api);
    th_rec_destroy(&rec);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_cellular_pauses),
        cmocka_unit_test(test_cellular_at_start),
        cmocka_unit_test(test_offline_waits),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
