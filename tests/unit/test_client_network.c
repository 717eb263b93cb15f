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
    assert_int_equal(vodup_global_init(), VODUP_OK);
    th_proxy_start(&g_px);
    th_server_init(&g_srv, "client-network");
    th_server_start(&g_srv, &g_px, NULL);
    snprintf(g_big, sizeof g_big, "%s/big.mp4", g_srv.dir);
    snprintf(g_small, sizeof g_small, "%s/small.mp4", g_srv.dir);
    th_make_file(g_big, BIG_SIZE, 51, g_big_md5);
    th_make_file(g_small, 2 * MiB + 5, 52, g_small_md5);
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    th_server_stop(&g_srv);
    th_proxy_stop(&g_px);
    th_server_free(&g_srv);
    vodup_global_cleanup();
    return 0;
}

static vodup_client *new_client(th_rec *rec, int pause_on_cellular)
{
    vodup_options o = VODUP_OPTIONS_INIT;
    o.parallel = 4;
    o.part_size = PART;
    o.limit_rate = RATE;
    o.pause_on_cellular = pause_on_cellular;
    vodup_listener l = th_listener(rec);
    vodup_client *c = NULL;
    assert_int_equal(vodup_client_new(&c, &o, &l), VODUP_OK);
    assert_int_equal(vodup_client_use_sts(c, g_srv.client_endpoint, g_srv.ak, g_srv.sk, NULL), VODUP_OK);
    return c;
}

static uint64_t done_of(vodup_client *c, int id)
{
    uint64_t d = 0;
    th_file_counts(c, id, &d, NULL);
    return d;
}

static void assert_no_traffic(long ms, const char *what)
{
    unsigned long long base = th_proxy_settle(&g_px, 300, 4000);
    th_sleep_ms(ms); /* the measurement window */
    unsigned long long now = atomic_load(&g_px.up_bytes);
    if (now != base)
        fail_msg("%s: %llu bytes went to the server in %ld ms", what, now - base, ms);
}

static void test_cellular_pauses(void **state)
{
    (void)state;
    th_rec rec;
    th_rec_init(&rec);
    vodup_api *api = th_api_root(&g_srv);
    vodup_client *c = new_client(&rec, 1);
    int id = -1, ok = 0;
    assert_int_equal(vodup_client_set_network(c, VODUP_NETWORK_WIFI), VODUP_OK);
    assert_int_equal(vodup_client_add_file(c, &id, g_big, VODUP_MEDIA_VIDEO, NULL), VODUP_OK);
    assert_int_equal(vodup_client_start(c), VODUP_OK);
    TH_WAIT(ok, done_of(c, id) >= 2 * MiB, 30000);
    assert_true(ok);
    assert_int_equal(vodup_client_set_network(c, VODUP_NETWORK_CELLULAR), VODUP_OK);
    vodup_status st = VODUP_STATUS_UPLOADING;
    TH_WAIT(ok, (st = th_status(c, id)) == VODUP_STATUS_PAUSED, 10000);
    if (!ok)
        fail_msg("on cellular with pause_on_cellular the item is %s, not PAUSED", vodup_status_name(st));
    uint64_t done = done_of(c, id);
    assert_true(done < BIG_SIZE);
    assert_no_traffic(1500, "paused on cellular");
    assert_int_equal(th_status(c, id), VODUP_STATUS_PAUSED);
    assert_int_equal(done_of(c, id), done);
    assert_int_equal(vodup_client_wait(c, 100), VODUP_ESTATE);

    assert_int_equal(vodup_client_set_network(c, VODUP_NETWORK_WIFI), VODUP_OK);
    assert_int_equal(vodup_client_wait(c, 60000), VODUP_OK);
    assert_int_equal(th_status(c, id), VODUP_STATUS_SUCCESS);
    th_check_callbacks(&rec, id);
    th_check_object(&g_srv, &rec, id, g_big_md5);
    th_check_video(api, th_get(&rec, id).media_id, BIG_SIZE);
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
    assert_int_equal(vodup_client_wait(c, 1500), VODUP_ESTATE);
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
    int id = -1, ok = 0;
    assert_int_equal(vodup_client_add_file(c, &id, g_big, VODUP_MEDIA_VIDEO, NULL), VODUP_OK);
    assert_int_equal(vodup_client_start(c), VODUP_OK);
    TH_WAIT(ok, done_of(c, id) >= 2 * MiB, 30000);
    assert_true(ok);
    assert_int_equal(vodup_client_set_network(c, VODUP_NETWORK_NONE), VODUP_OK);
    assert_no_traffic(1500, "offline");
    vodup_status st = th_status(c, id);
    assert_true(st != VODUP_STATUS_SUCCESS && st != VODUP_STATUS_FAIL && st != VODUP_STATUS_CANCELED);
    assert_true(done_of(c, id) < BIG_SIZE);
    assert_int_equal(vodup_client_wait(c, 100), VODUP_ESTATE);
    th_item it = th_get(&rec, id);
    assert_int_equal(it.failed, 0);
    assert_int_equal(it.succeed, 0);

    assert_int_equal(vodup_client_set_network(c, VODUP_NETWORK_WIFI), VODUP_OK);
    assert_int_equal(vodup_client_wait(c, 60000), VODUP_OK);
    assert_int_equal(th_status(c, id), VODUP_STATUS_SUCCESS);
    th_check_callbacks(&rec, id);
    th_check_object(&g_srv, &rec, id, g_big_md5);
    th_check_video(api, th_get(&rec, id).media_id, BIG_SIZE);
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
