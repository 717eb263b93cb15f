/* test_client_api.c - edges of the public API (project issue 9, defects 5 and 8):
 * - the same file added twice while the first is pending is refused with VODUP_EEXIST
 *   and a message (same path, another spelling of it, a hard link), and the list then
 *   uploads it once; once it succeeded it may be added again;
 * - use_sts with an endpoint lacking its scheme: VODUP_EINVAL and a message saying so;
 * - the last error describes the latest call: cleared by a call that succeeds;
 * - vodup_client_wait: VODUP_ETIMEDOUT on timeout, VODUP_ECANCELED when an item ended
 *   CANCELED, the failed item's code when one ended FAIL, 0 when all succeeded;
 * - a program built against the version-1 options struct (shorter) still works. */
#include "client_harness.h"

static th_server g_srv;

static int setup(void **state)
{
    (void)state;
    th_group_start(&g_srv, NULL, "client-api", NULL);
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    th_group_stop(&g_srv, NULL);
    return 0;
}

static void test_duplicate_refused(void **state)
{
    (void)state;
    char path[1100], md5[33], hlink[1200], other[1200];
    th_make_source(&g_srv, path, sizeof path, "twice.mp4", 3 * MiB + 5, 7, md5);
    snprintf(hlink, sizeof hlink, "%s.hardlink", path);
    assert_int_equal(link(path, hlink), 0);
    snprintf(other, sizeof other, "%s/./twice.mp4", g_srv.dir);

    th_rec rec;
    th_rec_init(&rec);
    vodup_options o = VODUP_OPTIONS_INIT;
    o.part_size = 1 * MiB;
    vodup_client *c = th_sts_client(&g_srv, &o, &rec);
    int a = -1, b = -1;
    assert_int_equal(vodup_client_add_file(c, &a, path, VODUP_MEDIA_VIDEO, NULL), VODUP_OK);
    assert_int_equal(vodup_client_add_file(c, &b, path, VODUP_MEDIA_VIDEO, NULL), VODUP_EEXIST);
    assert_int_equal(b, 0);
    assert_non_null(strstr(vodup_client_last_error(c), "already in the list"));
    assert_int_equal(vodup_client_add_file(c, &b, other, VODUP_MEDIA_VIDEO, NULL), VODUP_EEXIST);
    assert_int_equal(vodup_client_add_file(c, &b, hlink, VODUP_MEDIA_VIDEO, NULL), VODUP_EEXIST);
    assert_string_not_equal(vodup_strerror(VODUP_EEXIST), vodup_strerror(-999));
    th_list_acc la = th_list(c);
    assert_int_equal(la.n, 1);

    assert_int_equal(vodup_client_start(c), VODUP_OK);
    assert_int_equal(vodup_client_wait(c, 60000), VODUP_OK);
    vodup_api *api = th_api_root(&g_srv);
    th_check_upload(&g_srv, api, &rec, c, a, md5, 3 * MiB + 5);
    /* uploaded: the same file may be added again (a new upload) */
    assert_int_equal(vodup_client_add_file(c, &b, path, VODUP_MEDIA_VIDEO, NULL), VODUP_OK);
    assert_true(b > a);
    /* a deleted item does not count either */
    assert_int_equal(vodup_client_delete_file(c, b), VODUP_OK);
    assert_int_equal(vodup_client_add_file(c, &b, hlink, VODUP_MEDIA_VIDEO, NULL), VODUP_OK);
    vodup_api_free(api);
    vodup_client_free(c);
    th_rec_destroy(&rec);
    unlink(hlink);
}

static void test_use_sts_needs_scheme(void **state)
{
    (void)state;
    vodup_client *c = NULL;
    assert_int_equal(vodup_client_new(&c, NULL, NULL), VODUP_OK);
    assert_int_equal(vodup_client_use_sts(c, "127.0.0.1:9000", "ak", "sk", NULL), VODUP_EINVAL);
    const char *m = vodup_client_last_error(c);
    assert_non_null(strstr(m, "lacks its scheme"));
    assert_non_null(strstr(m, "http://127.0.0.1:9000"));
    assert_int_equal(vodup_client_use_sts(c, "", "ak", "sk", NULL), VODUP_EINVAL);
    assert_true(vodup_client_last_error(c)[0] != '\0');
    assert_int_equal(vodup_client_use_sts(c, "http://127.0.0.1:9000", "", "sk", NULL), VODUP_EINVAL);
    assert_non_null(strstr(vodup_client_last_error(c), "access_key_id"));
    vodup_client_free(c);
}

static void test_last_error_cleared_by_success(void **state)
{
    (void)state;
    vodup_client *c = NULL;
    assert_int_equal(vodup_client_new(&c, NULL, NULL), VODUP_OK);
    vodup_file_info *f = NULL;
    assert_int_equal(vodup_client_get_file(c, 42, &f), VODUP_ENOENT);
    assert_non_null(strstr(vodup_client_last_error(c), "no item 42"));
    assert_int_equal(vodup_client_use_sts(c, "http://127.0.0.1:9", "ak", "sk", NULL), VODUP_OK);
    assert_string_equal(vodup_client_last_error(c), "");
    /* every kind of call clears it: a setter, a list call, a query */
    assert_int_equal(vodup_client_cancel_file(c, 42), VODUP_ENOENT);
    assert_int_equal(vodup_client_pause(c), VODUP_OK);
    assert_string_equal(vodup_client_last_error(c), "");
    assert_int_equal(vodup_client_delete_file(c, 42), VODUP_ENOENT);
    th_list_acc la = th_list(c);
    assert_int_equal(la.n, 0);
    assert_string_equal(vodup_client_last_error(c), "");
    vodup_client_free(c);

    /* the API client too */
    vodup_api *api = th_api_root(&g_srv);
    char *out = NULL;
    const char *bad[] = {"VideoId", "no-such-video", NULL};
    assert_int_not_equal(vodup_api_call(api, "2017-03-21", "GetVideoInfo", bad, &out), VODUP_OK);
    vodup_free(out);
    assert_true(vodup_api_last_error(api)[0] != '\0');
    assert_int_equal(vodup_api_call(api, "2017-03-21", "GetVideoList", NULL, &out), VODUP_OK);
    vodup_free(out);
    assert_string_equal(vodup_api_last_error(api), "");
    vodup_api_free(api);
}

static void test_wait_codes(void **state)
{
    (void)state;
    char path[1100], path2[1100];
    th_make_source(&g_srv, path, sizeof path, "wait.mp4", 100 * KiB, 8, NULL);
    th_make_source(&g_srv, path2, sizeof path2, "wait2.mp4", 100 * KiB, 9, NULL);

    /* timeout: an item that never starts */
    vodup_client *c = NULL;
    assert_int_equal(vodup_client_new(&c, NULL, NULL), VODUP_OK);
    int a = -1, b = -1;
    assert_int_equal(vodup_client_add_file(c, &a, path, VODUP_MEDIA_VIDEO, NULL), VODUP_OK);
    long long t0 = th_now_ms();
    assert_int_equal(vodup_client_wait(c, 150), VODUP_ETIMEDOUT);
    assert_true(th_now_ms() - t0 >= 140);
    assert_non_null(strstr(vodup_client_last_error(c), "timed out"));
    assert_string_not_equal(vodup_strerror(VODUP_ETIMEDOUT), vodup_strerror(-999));
    /* canceled: the list is complete, but not uploaded */
    assert_int_equal(vodup_client_cancel_file(c, a), VODUP_OK);
    assert_int_equal(vodup_client_wait(c, 10000), VODUP_ECANCELED);
    assert_non_null(strstr(vodup_client_last_error(c), "canceled"));
    vodup_client_free(c);

    /* failed (no authorization mode): the item's own code; canceled ones counted too */
    assert_int_equal(vodup_client_new(&c, NULL, NULL), VODUP_OK);
    assert_int_equal(vodup_client_add_file(c, &a, path, VODUP_MEDIA_VIDEO, NULL), VODUP_OK);
    assert_int_equal(vodup_client_add_file(c, &b, path2, VODUP_MEDIA_VIDEO, NULL), VODUP_OK);
    assert_int_equal(vodup_client_cancel_file(c, b), VODUP_OK);
    assert_int_equal(vodup_client_start(c), VODUP_OK);
    assert_int_equal(vodup_client_wait(c, 10000), VODUP_ENOAUTH);
    assert_non_null(strstr(vodup_client_last_error(c), "1 canceled"));
    vodup_client_free(c);

    /* all succeeded: 0 and no message */
    th_rec rec;
    th_rec_init(&rec);
    c = th_sts_client(&g_srv, NULL, &rec);
    assert_int_equal(vodup_client_add_file(c, &a, path, VODUP_MEDIA_VIDEO, NULL), VODUP_OK);
    assert_int_equal(vodup_client_start(c), VODUP_OK);
    assert_int_equal(vodup_client_wait(c, 60000), VODUP_OK);
    assert_string_equal(vodup_client_last_error(c), "");
    vodup_client_free(c);
    th_rec_destroy(&rec);
}

/* A program compiled against the version-1 header passes a struct that ends before
 * on_change: the client must read no further (ASan sees an over-read of the exact-size
 * allocation) and use the defaults for the rest. */
static void test_options_v1(void **state)
{
    (void)state;
    size_t n1 = offsetof(vodup_options, on_change);
    vodup_options full = VODUP_OPTIONS_INIT;
    full.version = 1;
    vodup_options *v1 = malloc(n1);
    assert_non_null(v1);
    memcpy(v1, &full, n1);
    vodup_client *c = NULL;
    assert_int_equal(vodup_client_new(&c, v1, NULL), VODUP_OK);
    vodup_client_free(c);
    free(v1);
    vodup_options bad = VODUP_OPTIONS_INIT;
    bad.on_change = 7;
    assert_int_equal(vodup_client_new(&c, &bad, NULL), VODUP_EINVAL);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_duplicate_refused),
        cmocka_unit_test(test_use_sts_needs_scheme),
        cmocka_unit_test(test_last_error_cleared_by_success),
        cmocka_unit_test(test_wait_codes),
        cmocka_unit_test(test_options_v1),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
