/* test_client_control.c - control of the upload list: pause stops all traffic (bytes
 * through a counting proxy between the client and vodupd do not grow while paused)
 * and resume completes; stop puts items back to INIT and start completes them; a
 * canceled file lets the others go on and resume_file completes it without re-sending
 * its stored parts; delete_file and clear_files empty the list; calls in the wrong
 * state return VODUP_ESTATE (or ENOENT / EINVAL where the header says so). */
#include "client_harness.h"

static th_server g_srv;
static th_proxy g_px;
static char g_big[1024], g_big_md5[33]; /* 16 MiB */
static char g_mid[1024], g_mid_md5[33]; /* 4 MiB + 3 */
static char g_small[1024], g_small_md5[33];

#define BIG_SIZE (16 * MiB)
#define MID_SIZE (4 * MiB + 3)
#define PART (1 * MiB)
#define RATE (4 * MiB)

static int setup(void **state)
{
    (void)state;
    th_group_start(&g_srv, &g_px, "client-control", NULL);
    th_make_source(&g_srv, g_big, sizeof g_big, "big.mp4", BIG_SIZE, 11, g_big_md5);
    th_make_source(&g_srv, g_mid, sizeof g_mid, "mid.mp4", MID_SIZE, 12, g_mid_md5);
    th_make_source(&g_srv, g_small, sizeof g_small, "small.mp4", 300 * KiB, 13, g_small_md5);
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    th_group_stop(&g_srv, &g_px);
    return 0;
}

static vodup_client *new_client(th_rec *rec, uint64_t rate)
{
    vodup_options o = VODUP_OPTIONS_INIT;
    o.parallel = 4;
    o.part_size = PART;
    o.limit_rate = rate;
    o.progress_interval_ms = 50;
    return th_sts_client(&g_srv, &o, rec);
}

static void test_pause_resume(void **state)
{
    (void)state;
    th_rec rec;
    th_rec_init(&rec);
    vodup_api *api = th_api_root(&g_srv);
    vodup_client *c = new_client(&rec, RATE);
    int id = -1, ok = 0;
    assert_int_equal(vodup_client_add_file(c, &id, g_big, VODUP_MEDIA_VIDEO, NULL), VODUP_OK);
    /* pause before start: nothing is uploading */
    assert_int_equal(vodup_client_start(c), VODUP_OK);
    th_wait_done(c, id, 2 * MiB, 30000);
    assert_int_equal(vodup_client_pause(c), VODUP_OK);
    th_wait_status(c, id, VODUP_STATUS_PAUSED, 10000, "after pause");
    uint64_t done_paused = th_done_of(c, id);
    assert_true(done_paused < BIG_SIZE);
    th_assert_no_traffic(&g_px, 1500, "after pausing");
    assert_int_equal(th_status(c, id), VODUP_STATUS_PAUSED);
    assert_int_equal(th_done_of(c, id), done_paused);     /* nothing acknowledged meanwhile */
    assert_int_equal(vodup_client_wait(c, 200), VODUP_ETIMEDOUT); /* not complete: timeout */
    assert_int_equal(th_list_completed(&rec), 0);
    assert_int_equal(th_get(&rec, id).succeed, 0);

    assert_int_equal(vodup_client_resume(c), VODUP_OK);
    TH_WAIT(ok, th_status(c, id) != VODUP_STATUS_PAUSED, 10000);
    assert_true(ok);
    assert_int_equal(vodup_client_wait(c, 60000), VODUP_OK);
    th_check_upload(&g_srv, api, &rec, c, id, g_big_md5, BIG_SIZE);
    assert_int_equal(th_list_completed(&rec), 1);
    vodup_client_free(c);
    vodup_api_free(api);
    th_rec_destroy(&rec);
}

static void test_stop_start(void **state)
{
    (void)state;
    th_rec rec;
    th_rec_init(&rec);
    vodup_api *api = th_api_root(&g_srv);
    vodup_client *c = new_client(&rec, RATE);
    int id = -1, id2 = -1, ok = 0;
    assert_int_equal(vodup_client_add_file(c, &id, g_big, VODUP_MEDIA_VIDEO, NULL), VODUP_OK);
    assert_int_equal(vodup_client_add_file(c, &id2, g_mid, VODUP_MEDIA_VIDEO, NULL), VODUP_OK);
    size_t mark = th_log_mark(&g_srv);
    assert_int_equal(vodup_client_start(c), VODUP_OK);
    th_wait_done(c, id, 2 * MiB, 30000);
    assert_int_equal(vodup_client_stop(c), VODUP_OK);
    th_wait_status(c, id, VODUP_STATUS_INIT, 10000, "after stop");
    /* the second file was uploading too (files_at_once 2) or never started: INIT; on a
     * busy machine it may also have finished before the stop, and then stays SUCCESS */
    TH_WAIT(ok, th_status(c, id2) == VODUP_STATUS_INIT || th_status(c, id2) == VODUP_STATUS_SUCCESS, 10000);
    assert_true(ok);
    th_assert_no_traffic(&g_px, 1000, "after pausing");
    assert_int_equal(th_list_completed(&rec), 0);

    assert_int_equal(vodup_client_start(c), VODUP_OK);
    assert_int_equal(vodup_client_wait(c, 60000), VODUP_OK);
    assert_int_equal(th_status(c, id), VODUP_STATUS_SUCCESS);
    assert_int_equal(th_status(c, id2), VODUP_STATUS_SUCCESS);
    th_check_callbacks(&rec, id);
    th_check_callbacks(&rec, id2);
    th_check_object(&g_srv, &rec, id, g_big_md5);
    th_check_object(&g_srv, &rec, id2, g_mid_md5);
    th_check_video(api, th_get(&rec, id).media_id, BIG_SIZE);
    /* start again resumed: the parts stored before stop were not all sent again */
    th_log_sum s = th_log_sum_op(&g_srv, mark, "UploadPart");
    unsigned long long bound = BIG_SIZE + MID_SIZE + 2ULL * 5 * PART;
    if (s.in > bound)
        fail_msg("%llu part bytes received for %llu bytes of files (bound %llu)", s.in,
                 (unsigned long long)(BIG_SIZE + MID_SIZE), bound);
    vodup_client_free(c);
    vodup_api_free(api);
    th_rec_destroy(&rec);
}

typedef struct key_sum {
    const char *key;
    unsigned long long in;
    int parts;
} key_sum;

static void key_sum_cb(const th_logline *l, void *u)
{
    key_sum *k = u;
    if (strcmp(l->op, "UploadPart") == 0 && strstr(l->target, k->key)) {
        k->in += l->in;
        k->parts++;
    }
}

static void test_cancel_resume_file(void **state)
{
    (void)state;
    th_rec rec;
    th_rec_init(&rec);
    vodup_api *api = th_api_root(&g_srv);
    vodup_client *c = new_client(&rec, RATE);
    int a = -1, b = -1, ok = 0;
    assert_int_equal(vodup_client_add_file(c, &a, g_big, VODUP_MEDIA_VIDEO, NULL), VODUP_OK);
    assert_int_equal(vodup_client_add_file(c, &b, g_mid, VODUP_MEDIA_VIDEO, NULL), VODUP_OK);
    assert_int_equal(vodup_client_start(c), VODUP_OK);
    th_wait_done(c, a, 3 * MiB, 30000);
    assert_int_equal(vodup_client_cancel_file(c, a), VODUP_OK);
    th_wait_status(c, a, VODUP_STATUS_CANCELED, 10000, "after cancel_file");
    /* the other file goes on and completes */
    TH_WAIT(ok, th_status(c, b) == VODUP_STATUS_SUCCESS, 60000);
    assert_true(ok);
    assert_int_equal(th_status(c, a), VODUP_STATUS_CANCELED);
    /* canceled counts as ended, and wait reports it */
    assert_int_equal(vodup_client_wait(c, 60000), VODUP_ECANCELED);
    assert_int_equal(th_list_completed(&rec), 1);
    assert_int_equal(th_get(&rec, a).succeed, 0);
    th_check_object(&g_srv, &rec, b, g_mid_md5);

    vodup_file_info *f = NULL;
    assert_int_equal(vodup_client_get_file(c, a, &f), VODUP_OK);
    assert_non_null(f->object_key);
    char key[512];
    snprintf(key, sizeof key, "%s", f->object_key);
    uint64_t stored = f->bytes_done;
    vodup_file_info_free(f);
    assert_true(stored >= 3 * MiB);
    assert_true(stored < BIG_SIZE);
    (void)th_proxy_settle(&g_px, 200, 3000);
    size_t mark = th_log_mark(&g_srv);

    assert_int_equal(vodup_client_resume_file(c, a), VODUP_OK);
    TH_WAIT(ok, th_status(c, a) == VODUP_STATUS_SUCCESS, 60000);
    assert_true(ok);
    assert_int_equal(vodup_client_wait(c, 60000), VODUP_OK);
    th_item it = th_get(&rec, a);
    assert_int_equal(it.succeed, 1);
    assert_int_equal(it.progress_full, 0);
    assert_int_equal(it.progress_nonmono, 0);
    th_check_object(&g_srv, &rec, a, g_big_md5);
    th_check_video(api, it.media_id, BIG_SIZE);
    /* after resume_file only the parts not stored were sent */
    key_sum ks = {key, 0, 0};
    th_log_foreach(&g_srv, mark, key_sum_cb, &ks);
    if (ks.in > BIG_SIZE - stored)
        fail_msg("resume_file sent %llu part bytes; only %llu were missing", ks.in,
                 (unsigned long long)(BIG_SIZE - stored));
    assert_true(ks.parts >= 1);
    vodup_client_free(c);
    vodup_api_free(api);
    th_rec_destroy(&rec);
}

static void test_delete_and_clear(void **state)
{
    (void)state;
    th_rec rec;
    th_rec_init(&rec);
    vodup_client *c = new_client(&rec, RATE);
    int a = -1, b = -1, d = -1;
    assert_int_equal(vodup_client_add_file(c, &a, g_small, VODUP_MEDIA_VIDEO, NULL), VODUP_OK);
    assert_int_equal(vodup_client_add_file(c, &b, g_mid, VODUP_MEDIA_VIDEO, NULL), VODUP_OK);
    assert_int_equal(vodup_client_add_file(c, &d, g_big, VODUP_MEDIA_VIDEO, NULL), VODUP_OK);
    /* delete before start */
    assert_int_equal(vodup_client_delete_file(c, a), VODUP_OK);
    th_list_acc la = th_list(c);
    assert_int_equal(la.n, 2);
    assert_int_equal(la.ids[0], b);
    assert_int_equal(la.ids[1], d);
    vodup_file_info *f = NULL;
    assert_int_equal(vodup_client_get_file(c, a, &f), VODUP_ENOENT);
    assert_int_equal(vodup_client_delete_file(c, a), VODUP_ENOENT);
    /* delete while uploading: gone, the other one completes */
    assert_int_equal(vodup_client_start(c), VODUP_OK);
    th_wait_done(c, d, 1 * MiB, 30000);
    assert_int_equal(vodup_client_delete_file(c, d), VODUP_OK);
    la = th_list(c);
    assert_int_equal(la.n, 1);
    assert_int_equal(la.ids[0], b);
    assert_int_equal(vodup_client_get_file(c, d, &f), VODUP_ENOENT);
    assert_int_equal(vodup_client_wait(c, 60000), VODUP_OK);
    assert_int_equal(th_status(c, b), VODUP_STATUS_SUCCESS);
    th_check_object(&g_srv, &rec, b, g_mid_md5);
    assert_int_equal(th_get(&rec, d).succeed, 0);
    th_assert_no_traffic(&g_px, 500, "after deleting"); /* the deleted file's transfer stopped too */
    /* clear: empty list */
    int e = -1;
    assert_int_equal(vodup_client_add_file(c, &e, g_small, VODUP_MEDIA_VIDEO, NULL), VODUP_OK);
    assert_int_equal(vodup_client_clear_files(c), VODUP_OK);
    la = th_list(c);
    assert_int_equal(la.n, 0);
    assert_int_equal(vodup_client_get_file(c, b, &f), VODUP_ENOENT);
    assert_int_equal(vodup_client_get_file(c, e, &f), VODUP_ENOENT);
    assert_int_equal(vodup_client_clear_files(c), VODUP_OK);
    vodup_client_free(c);
    th_rec_destroy(&rec);
}

static void test_wrong_state(void **state)
{
    (void)state;
    th_rec rec;
    th_rec_init(&rec);
    vodup_client *c = NULL;
    vodup_listener l = th_listener(&rec);
    vodup_options bad = VODUP_OPTIONS_INIT;
    bad.parallel = 33;
    assert_int_equal(vodup_client_new(&c, &bad, &l), VODUP_EINVAL);
    vodup_options o = VODUP_OPTIONS_INIT;
    o.part_size = PART;
    assert_int_equal(vodup_client_new(&c, &o, &l), VODUP_OK);
    int id = -1, ok = 0;
    char missing[1100];
    snprintf(missing, sizeof missing, "%s/no-such-file.mp4", g_srv.dir);
    assert_int_equal(vodup_client_add_file(c, &id, missing, VODUP_MEDIA_VIDEO, NULL), VODUP_ENOENT);
    assert_string_not_equal(vodup_client_last_error(c), "");
    assert_int_equal(vodup_client_add_file(c, &id, NULL, VODUP_MEDIA_VIDEO, NULL), VODUP_EINVAL);
    assert_int_equal(vodup_client_add_file(c, NULL, g_small, VODUP_MEDIA_VIDEO, NULL), VODUP_EINVAL);
    vodup_file_info *f = NULL;
    assert_int_equal(vodup_client_get_file(c, 987654, &f), VODUP_ENOENT);
    assert_int_equal(vodup_client_cancel_file(c, 987654), VODUP_ENOENT);
    assert_int_equal(vodup_client_resume_file(c, 987654), VODUP_ENOENT);
    assert_int_equal(vodup_client_delete_file(c, 987654), VODUP_ENOENT);

    assert_int_equal(vodup_client_add_file(c, &id, g_small, VODUP_MEDIA_VIDEO, NULL), VODUP_OK);
    /* no authorization mode set: start refuses, or the file fails with ENOAUTH */
    int rc = vodup_client_start(c);
    if (rc == VODUP_OK) {
        TH_WAIT(ok, th_get(&rec, id).failed >= 1, 30000);
        assert_true(ok);
        assert_int_equal(th_get(&rec, id).last_fail_code, VODUP_ENOAUTH);
        assert_int_equal(th_status(c, id), VODUP_STATUS_FAIL);
    } else {
        assert_int_equal(rc, VODUP_ENOAUTH);
        assert_int_equal(th_status(c, id), VODUP_STATUS_INIT);
    }
    /* resume_file of an item that is neither CANCELED nor FAIL */
    vodup_client_free(c);
    c = NULL;
    th_rec_destroy(&rec);
    th_rec_init(&rec);
    l = th_listener(&rec);
    assert_int_equal(vodup_client_new(&c, &o, &l), VODUP_OK);
    assert_int_equal(vodup_client_use_sts(c, g_srv.client_endpoint, g_srv.ak, g_srv.sk, NULL), VODUP_OK);
    assert_int_equal(vodup_client_add_file(c, &id, g_small, VODUP_MEDIA_VIDEO, NULL), VODUP_OK);
    assert_int_equal(vodup_client_resume_file(c, id), VODUP_ESTATE); /* INIT */
    /* upload-auth calls in STS mode (with a real grant: only the mode is wrong) */
    vodup_api *api = th_api_root(&g_srv);
    th_upload_grant g;
    th_create_upload_video(api, "wrong mode", "small.mp4", 300 * KiB, &g);
    vodup_api_free(api);
    assert_int_equal(vodup_client_set_upload_auth(c, id, g.address, g.auth, g.media_id), VODUP_ESTATE);
    assert_int_equal(vodup_client_resume_with_auth(c, id, g.auth), VODUP_ESTATE);
    assert_int_equal(vodup_client_start(c), VODUP_OK);
    assert_int_equal(vodup_client_wait(c, 30000), VODUP_OK);
    assert_int_equal(th_status(c, id), VODUP_STATUS_SUCCESS);
    assert_int_equal(vodup_client_resume_file(c, id), VODUP_ESTATE); /* SUCCESS */
    assert_int_equal(vodup_client_cancel_file(c, id), VODUP_ESTATE); /* SUCCESS */
    assert_int_equal(th_status(c, id), VODUP_STATUS_SUCCESS);
    /* the authorization mode is picked before start */
    assert_int_equal(vodup_client_use_upload_auth(c), VODUP_ESTATE);
    vodup_client_free(c);
    th_rec_destroy(&rec);

    /* upload-auth mode: credentials that do not decode are refused */
    th_rec_init(&rec);
    l = th_listener(&rec);
    assert_int_equal(vodup_client_new(&c, &o, &l), VODUP_OK);
    assert_int_equal(vodup_client_use_upload_auth(c), VODUP_OK);
    assert_int_equal(vodup_client_add_file(c, &id, g_small, VODUP_MEDIA_VIDEO, NULL), VODUP_OK);
    assert_int_equal(vodup_client_set_upload_auth(c, id, "not base64!", "not base64!", "v"), VODUP_EINVAL);
    assert_int_equal(vodup_client_set_upload_auth(c, 987654, "e30=", "e30=", "v"), VODUP_ENOENT);
    /* pause / resume of the whole list: resume without pause is refused or a no-op */
    rc = vodup_client_resume(c);
    assert_true(rc == VODUP_OK || rc == VODUP_ESTATE);
    assert_int_equal(th_status(c, id), VODUP_STATUS_INIT);
    vodup_client_free(c);
    th_rec_destroy(&rec);
    assert_string_not_equal(vodup_strerror(VODUP_ESTATE), "");
    assert_string_equal(vodup_status_name(VODUP_STATUS_UPLOADING), "UPLOADING");
    assert_string_equal(vodup_status_name(VODUP_STATUS_CANCELED), "CANCELED");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_pause_resume),
        cmocka_unit_test(test_stop_start),
        cmocka_unit_test(test_cancel_resume_file),
        cmocka_unit_test(test_delete_and_clear),
        cmocka_unit_test(test_wrong_state),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
