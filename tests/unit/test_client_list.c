/* test_client_list.c - libvodup uploads a list of files (0 B, 1 B, 100 KiB, 5 MiB + 1,
 * 64 MiB and an image) to a real vodupd, in upload-auth mode (on_upload_started asks
 * the "app server" for CreateUploadVideo/CreateUploadImage and calls
 * set_upload_auth) and in STS mode (root AccessKey; and temporary credentials from
 * AssumeRole). Checked: statuses at every step (get_file and list_files), callbacks
 * (started, monotonic progress below the total, succeed, on_list_completed once), the
 * VOD records (UploadSucc / Normal with the right size) and the stored bytes (MD5 of a
 * GetObject against the source file). */
#include "client_harness.h"

enum { MODE_UPLOAD_AUTH, MODE_STS_ROOT, MODE_STS_TEMP };

typedef struct src_file {
    const char *name;
    uint64_t size;
    vodup_media_type type;
    char path[1024];
    char md5[33];
} src_file;

static th_server g_srv;
static src_file g_files[] = {
    {"empty.mp4", 0, VODUP_MEDIA_VIDEO, "", ""},
    {"one.mp4", 1, VODUP_MEDIA_VIDEO, "", ""},
    {"small.mp4", 100 * KiB, VODUP_MEDIA_VIDEO, "", ""},
    {"mid.mp4", 5 * MiB + 1, VODUP_MEDIA_VIDEO, "", ""},
    {"big.mp4", 64 * MiB, VODUP_MEDIA_VIDEO, "", ""},
    {"picture.png", 50 * KiB + 7, VODUP_MEDIA_IMAGE, "", ""},
};
#define NFILES (sizeof g_files / sizeof g_files[0])
#define BIG 4

static int setup(void **state)
{
    (void)state;
    th_group_start(&g_srv, NULL, "client-list", NULL);
    for (size_t i = 0; i < NFILES; i++)
        th_make_source(&g_srv, g_files[i].path, sizeof g_files[i].path, g_files[i].name, g_files[i].size, 1000 + i,
                       g_files[i].md5);
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    th_group_stop(&g_srv, NULL);
    return 0;
}

typedef struct seen_acc {
    int id;
    int found;
    vodup_status st;
} seen_acc;

static void find_cb(const vodup_file_info *f, void *u)
{
    seen_acc *a = u;
    if (f->id == a->id) {
        a->found++;
        a->st = f->status;
    }
}

static vodup_status list_status(vodup_client *c, int id)
{
    seen_acc a = {id, 0, VODUP_STATUS_FAIL};
    assert_int_equal(vodup_client_list_files(c, find_cb, &a), VODUP_OK);
    assert_int_equal(a.found, 1);
    return a.st;
}

static void run_list(int mode, int skip_big)
{
    th_rec rec;
    th_rec_init(&rec);
    vodup_api *api = th_api_root(&g_srv);
    vodup_options o = VODUP_OPTIONS_INIT;
    o.parallel = 4;
    o.part_size = 4 * MiB;
    o.files_at_once = 2;
    vodup_listener l = th_listener(&rec);
    vodup_client *c = NULL;
    assert_int_equal(vodup_client_new(&c, &o, &l), VODUP_OK);
    assert_non_null(c);

    if (mode == MODE_UPLOAD_AUTH) {
        pthread_mutex_lock(&rec.mu);
        rec.api = api;
        rec.upload_auth_mode = 1;
        pthread_mutex_unlock(&rec.mu);
        assert_int_equal(vodup_client_use_upload_auth(c), VODUP_OK);
    } else if (mode == MODE_STS_ROOT) {
        assert_int_equal(vodup_client_use_sts(c, g_srv.client_endpoint, g_srv.ak, g_srv.sk, NULL), VODUP_OK);
    } else {
        char ak[128], sk[128], tok[4096];
        th_assume_role(&g_srv, ak, sizeof ak, sk, sizeof sk, tok, sizeof tok);
        assert_int_equal(vodup_client_use_sts(c, g_srv.client_endpoint, ak, sk, tok), VODUP_OK);
    }

    int ids[NFILES];
    size_t nadded = 0;
    int map[NFILES];
    for (size_t i = 0; i < NFILES; i++) {
        if (skip_big && i == BIG)
            continue;
        vodup_vod_info info = VODUP_VOD_INFO_INIT;
        info.title = g_files[i].name;
        info.description = "libvodup list test";
        info.tags = "test,list";
        int id = -12345;
        assert_int_equal(vodup_client_add_file(c, &id, g_files[i].path, g_files[i].type, &info), VODUP_OK);
        assert_int_not_equal(id, -12345);
        for (size_t k = 0; k < nadded; k++)
            assert_int_not_equal(ids[k], id);
        map[nadded] = (int)i;
        ids[nadded++] = id;
        /* INIT right after add, in get_file and in the list */
        vodup_file_info *f = NULL;
        assert_int_equal(vodup_client_get_file(c, id, &f), VODUP_OK);
        assert_int_equal(f->id, id);
        assert_int_equal(f->status, VODUP_STATUS_INIT);
        assert_int_equal(f->size, g_files[i].size);
        assert_int_equal(f->type, g_files[i].type);
        assert_string_equal(f->path, g_files[i].path);
        assert_int_equal(f->bytes_done, 0);
        assert_null(f->media_id);
        vodup_file_info_free(f);
        assert_int_equal(list_status(c, id), VODUP_STATUS_INIT);
    }
    /* the list in the order added */
    th_list_acc la = th_list(c);
    assert_int_equal(la.n, (int)nadded);
    for (size_t k = 0; k < nadded; k++) {
        assert_int_equal(la.ids[k], ids[k]);
        assert_int_equal(la.st[k], VODUP_STATUS_INIT);
    }
    int big_id = -1;
    for (size_t k = 0; k < nadded; k++)
        if (map[k] == BIG)
            big_id = ids[k];
    int watch_id = big_id >= 0 ? big_id : ids[3];

    if (mode == MODE_UPLOAD_AUTH) {
        /* the app server answers for watch_id later, from this thread */
        pthread_mutex_lock(&rec.mu);
        rec.defer_id = watch_id;
        pthread_mutex_unlock(&rec.mu);
    }
    assert_int_equal(vodup_client_start(c), VODUP_OK);

    int ok = 0;
    if (mode == MODE_UPLOAD_AUTH) {
        TH_WAIT(ok, th_get(&rec, watch_id).started >= 1, 120000);
        assert_true(ok);
        /* started, waiting for its credentials: UPLOADING, nothing acknowledged */
        assert_int_equal(th_status(c, watch_id), VODUP_STATUS_UPLOADING);
        assert_int_equal(list_status(c, watch_id), VODUP_STATUS_UPLOADING);
        assert_int_equal(th_list_completed(&rec), 0);
        th_upload_grant g;
        const src_file *sf = &g_files[big_id >= 0 ? BIG : 3];
        th_create_upload_video(api, "deferred", sf->name, sf->size, &g);
        assert_int_equal(vodup_client_set_upload_auth(c, watch_id, g.address, g.auth, g.media_id), VODUP_OK);
    } else {
        /* the watched file goes through UPLOADING (poll until it leaves INIT) */
        vodup_status st = VODUP_STATUS_INIT;
        TH_WAIT(ok, (st = th_status(c, watch_id)) != VODUP_STATUS_INIT, 120000);
        assert_true(ok);
        assert_int_equal(st, VODUP_STATUS_UPLOADING);
    }

    int rc = vodup_client_wait(c, 180000);
    assert_int_equal(rc, VODUP_OK);
    assert_int_equal(th_list_completed(&rec), 1);
    pthread_mutex_lock(&rec.mu);
    assert_int_equal(rec.grant_failures, 0);
    pthread_mutex_unlock(&rec.mu);

    la = th_list(c);
    assert_int_equal(la.n, (int)nadded);
    for (size_t k = 0; k < nadded; k++) {
        const src_file *sf = &g_files[map[k]];
        int id = ids[k];
        assert_int_equal(la.st[k], VODUP_STATUS_SUCCESS);
        assert_int_equal(th_status(c, id), VODUP_STATUS_SUCCESS);
        vodup_file_info *f = NULL;
        assert_int_equal(vodup_client_get_file(c, id, &f), VODUP_OK);
        assert_int_equal(f->bytes_done, sf->size);
        assert_int_equal(f->last_error, 0);
        assert_non_null(f->media_id);
        assert_non_null(f->bucket);
        assert_non_null(f->object_key);
        assert_non_null(f->endpoint);
        vodup_file_info_free(f);
        th_check_callbacks(&rec, id);
        th_item it = th_get(&rec, id);
        assert_int_equal(it.started_status, VODUP_STATUS_UPLOADING);
        if (sf->size > 8 * MiB)
            assert_true(it.progress >= 1); /* a 64 MiB file reports progress */
        th_check_object(&g_srv, &rec, id, sf->md5);
        if (sf->type == VODUP_MEDIA_IMAGE)
            th_check_image(api, it.media_id, sf->size);
        else
            th_check_video(api, it.media_id, sf->size);
    }
    /* on_list_completed exactly once, also after the client is gone */
    vodup_client_free(c);
    assert_int_equal(th_list_completed(&rec), 1);
    vodup_api_free(api);
    th_rec_destroy(&rec);
}

static void test_upload_auth_mode(void **state)
{
    (void)state;
    run_list(MODE_UPLOAD_AUTH, 0);
}

static void test_sts_root_key(void **state)
{
    (void)state;
    run_list(MODE_STS_ROOT, 0);
}

static void test_sts_temporary_credentials(void **state)
{
    (void)state;
    run_list(MODE_STS_TEMP, 1);
}

/* The second start of a completed list has nothing to do: no new callbacks, the
 * items stay SUCCESS; adding a file afterwards uploads just that one. */
static void test_add_after_completion(void **state)
{
    (void)state;
    th_rec rec;
    th_rec_init(&rec);
    vodup_api *api = th_api_root(&g_srv);
    vodup_listener l = th_listener(&rec);
    vodup_client *c = NULL;
    assert_int_equal(vodup_client_new(&c, NULL, &l), VODUP_OK);
    assert_int_equal(vodup_client_use_sts(c, g_srv.client_endpoint, g_srv.ak, g_srv.sk, NULL), VODUP_OK);
    int a = -1, b = -1;
    assert_int_equal(vodup_client_add_file(c, &a, g_files[2].path, VODUP_MEDIA_VIDEO, NULL), VODUP_OK);
    assert_int_equal(vodup_client_start(c), VODUP_OK);
    assert_int_equal(vodup_client_wait(c, 60000), VODUP_OK);
    assert_int_equal(th_list_completed(&rec), 1);
    assert_int_equal(vodup_client_add_file(c, &b, g_files[1].path, VODUP_MEDIA_VIDEO, NULL), VODUP_OK);
    assert_int_equal(th_status(c, b), VODUP_STATUS_INIT);
    int rc = vodup_client_start(c);
    if (rc != VODUP_OK)
        fail_msg("start with a new INIT item after the list completed: %d %s", rc, vodup_client_last_error(c));
    int ok = 0;
    TH_WAIT(ok, th_status(c, b) == VODUP_STATUS_SUCCESS, 60000);
    assert_true(ok);
    assert_int_equal(vodup_client_wait(c, 60000), VODUP_OK);
    assert_int_equal(th_status(c, a), VODUP_STATUS_SUCCESS);
    assert_int_equal(th_status(c, b), VODUP_STATUS_SUCCESS);
    assert_int_equal(th_get(&rec, a).succeed, 1);
    assert_int_equal(th_get(&rec, a).started, 1);
    th_check_callbacks(&rec, b);
    th_check_object(&g_srv, &rec, b, g_files[1].md5);
    th_check_video(api, th_get(&rec, b).media_id, 1);
    vodup_client_free(c);
    vodup_api_free(api);
    th_rec_destroy(&rec);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_upload_auth_mode),
        cmocka_unit_test(test_sts_root_key),
        cmocka_unit_test(test_sts_temporary_credentials),
        cmocka_unit_test(test_add_after_completion),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
