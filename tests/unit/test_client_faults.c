/* test_client_faults.c - uploads through a fault-injecting TCP proxy (client -> proxy
 * -> vodupd; vodupd's --public-url is the proxy, so UploadAddress.Endpoint points at
 * it too). On a schedule (total bytes forwarded) the proxy resets a connection in the
 * middle of a request body, stalls one for longer than the client's low-speed timeout
 * (low_speed_time_s = 2), and truncates the response to a part upload. The uploads
 * complete with the right bytes; on_upload_retry and on_upload_retry_resume fire. */
#include "client_harness.h"

static th_server g_srv;
static th_proxy g_px;
static char g_big[1024], g_big_md5[33];
static char g_one[1024], g_one_md5[33];

#define BIG_SIZE (16 * MiB)
#define ONE_SIZE (900 * KiB) /* below put_threshold: one PutObject */
#define PART (1 * MiB)

static int setup(void **state)
{
    (void)state;
    th_group_start(&g_srv, &g_px, "client-faults", NULL);
    th_make_source(&g_srv, g_big, sizeof g_big, "big.mp4", BIG_SIZE, 61, g_big_md5);
    th_make_source(&g_srv, g_one, sizeof g_one, "one.mp4", ONE_SIZE, 62, g_one_md5);
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    th_group_stop(&g_srv, &g_px);
    return 0;
}

static vodup_client *new_client(th_rec *rec)
{
    vodup_options o = VODUP_OPTIONS_INIT;
    o.parallel = 4;
    o.part_size = PART;
    o.low_speed_time_s = 2;
    o.max_retries = 5;
    o.connect_timeout_ms = 3000;
    o.limit_rate = 8 * MiB; /* spreads the upload over the schedule */
    return th_sts_client(&g_srv, &o, rec);
}

static void test_multipart_through_faults(void **state)
{
    (void)state;
    th_rec rec;
    th_rec_init(&rec);
    vodup_api *api = th_api_root(&g_srv);
    vodup_client *c = new_client(&rec);
    int id = -1;
    assert_int_equal(vodup_client_add_file(c, &id, g_big, VODUP_MEDIA_VIDEO, NULL), VODUP_OK);
    unsigned long long base = atomic_load(&g_px.up_bytes);
    int r0 = atomic_load(&g_px.resets), s0 = atomic_load(&g_px.stalls), t0 = atomic_load(&g_px.truncates);
    /* libcurl's speed check averages over a window of a few seconds, so a stall must
     * be clearly longer than low_speed_time_s to be told apart: 15 s */
    atomic_store(&g_px.stall_ms, 15000L);
    long long t_start = th_now_ms();
    atomic_store(&g_px.reset_at, base + 3 * MiB);
    atomic_store(&g_px.stall_at, base + 7 * MiB);
    atomic_store(&g_px.truncate_at, base + 11 * MiB);
    assert_int_equal(vodup_client_start(c), VODUP_OK);
    int rc = vodup_client_wait(c, 120000);
    assert_int_equal(rc, VODUP_OK);
    long long took = th_now_ms() - t_start;
    /* the stalled request was given up and sent again, not waited out */
    if (took >= 15000)
        fail_msg("the upload took %lld ms: the client waited out a 15 s stall (low_speed_time_s 2)", took);
    /* the schedule ran */
    assert_int_equal(atomic_load(&g_px.resets) - r0, 1);
    assert_int_equal(atomic_load(&g_px.stalls) - s0, 1);
    assert_int_equal(atomic_load(&g_px.truncates) - t0, 1);
    assert_int_equal(th_status(c, id), VODUP_STATUS_SUCCESS);
    th_check_callbacks(&rec, id);
    th_item it = th_get(&rec, id);
    /* the reset and the stall are reported; a truncated answer on a reused connection
     * may be re-sent by libcurl itself, unseen by the client */
    if (it.retry < 2)
        fail_msg("on_upload_retry fired %d times for 3 faults", it.retry);
    assert_true(it.retry_resume >= 1);
    th_check_object(&g_srv, &rec, id, g_big_md5);
    th_check_video(api, it.media_id, BIG_SIZE);
    vodup_client_free(c);
    vodup_api_free(api);
    th_rec_destroy(&rec);
}

static void test_put_object_reset(void **state)
{
    (void)state;
    th_rec rec;
    th_rec_init(&rec);
    vodup_api *api = th_api_root(&g_srv);
    vodup_client *c = new_client(&rec);
    int id = -1;
    assert_int_equal(vodup_client_add_file(c, &id, g_one, VODUP_MEDIA_VIDEO, NULL), VODUP_OK);
    int r0 = atomic_load(&g_px.resets), t0 = atomic_load(&g_px.truncates);
    size_t mark = th_log_mark(&g_srv);
    atomic_store(&g_px.reset_at, atomic_load(&g_px.up_bytes) + 1);
    assert_int_equal(vodup_client_start(c), VODUP_OK);
    /* once the reset hit, truncate the answer of the next attempt too */
    int ok = 0;
    TH_WAIT(ok, atomic_load(&g_px.resets) > r0, 30000);
    assert_true(ok);
    atomic_store(&g_px.truncate_at, atomic_load(&g_px.up_bytes) + 1);
    assert_int_equal(vodup_client_wait(c, 60000), VODUP_OK);
    assert_int_equal(atomic_load(&g_px.resets) - r0, 1);
    atomic_store(&g_px.truncate_at, 0ULL);
    assert_int_equal(th_status(c, id), VODUP_STATUS_SUCCESS);
    th_check_callbacks(&rec, id);
    th_item it = th_get(&rec, id);
    assert_true(atomic_load(&g_px.truncates) - t0 <= 1);
    assert_true(it.retry >= 1); /* the reset (see above for the truncation) */
    assert_true(it.retry_resume >= 1);
    th_check_object(&g_srv, &rec, id, g_one_md5);
    th_check_video(api, it.media_id, ONE_SIZE);
    assert_true(th_log_sum_op(&g_srv, mark, "PutObject").ok_count >= 1);
    vodup_client_free(c);
    vodup_api_free(api);
    th_rec_destroy(&rec);
}

/* Faults on every attempt: the client gives up after max_retries with
 * VODUP_ENETWORK and FAIL; resume_file then completes once the network is healthy. */
static void test_retries_exhausted_then_resume(void **state)
{
    (void)state;
    th_rec rec;
    th_rec_init(&rec);
    vodup_options o = VODUP_OPTIONS_INIT;
    o.max_retries = 1;
    o.low_speed_time_s = 2;
    vodup_client *c = th_sts_client(&g_srv, &o, &rec);
    int id = -1;
    assert_int_equal(vodup_client_add_file(c, &id, g_one, VODUP_MEDIA_VIDEO, NULL), VODUP_OK);
    /* re-arm the reset each time it fires, until the file failed */
    int r0 = atomic_load(&g_px.resets);
    atomic_store(&g_px.reset_at, atomic_load(&g_px.up_bytes) + 1);
    assert_int_equal(vodup_client_start(c), VODUP_OK);
    long long dl = th_now_ms() + 60000;
    while (th_get(&rec, id).failed == 0 && th_get(&rec, id).succeed == 0 && th_now_ms() < dl) {
        if (atomic_load(&g_px.reset_at) == 0)
            atomic_store(&g_px.reset_at, atomic_load(&g_px.up_bytes) + 1);
        th_sleep_ms(2);
    }
    atomic_store(&g_px.reset_at, 0ULL);
    th_item it = th_get(&rec, id);
    if (it.succeed)
        fail_msg("succeeded through %d resets with max_retries 1", atomic_load(&g_px.resets) - r0);
    assert_int_equal(it.failed, 1);
    assert_int_equal(it.last_fail_code, VODUP_ENETWORK);
    assert_int_equal(th_status(c, id), VODUP_STATUS_FAIL);
    assert_true(atomic_load(&g_px.resets) - r0 >= 2);
    vodup_file_info *f = NULL;
    assert_int_equal(vodup_client_get_file(c, id, &f), VODUP_OK);
    assert_int_equal(f->last_error, VODUP_ENETWORK);
    vodup_file_info_free(f);
    /* FAIL ends the list, and wait says that not everything made it */
    assert_int_equal(vodup_client_wait(c, 10000), VODUP_ENETWORK);
    assert_non_null(strstr(vodup_client_last_error(c), "1 item(s) failed"));
    assert_int_equal(vodup_client_resume_file(c, id), VODUP_OK);
    int ok = 0;
    TH_WAIT(ok, th_status(c, id) == VODUP_STATUS_SUCCESS, 60000);
    assert_true(ok);
    assert_int_equal(vodup_client_wait(c, 10000), VODUP_OK);
    th_check_object(&g_srv, &rec, id, g_one_md5);
    vodup_client_free(c);
    th_rec_destroy(&rec);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_multipart_through_faults),
        cmocka_unit_test(test_put_object_reset),
        cmocka_unit_test(test_retries_exhausted_then_resume),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
