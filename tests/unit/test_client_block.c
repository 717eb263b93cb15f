/* test_client_block.c - application code that blocks never stalls transfers (project
 * issue 9, defect 4: an app calling its server for 4 s inside on_upload_started froze
 * another file that already had credentials).
 *
 * File A uploads through a byte-counting proxy at a limited rate, so it takes seconds.
 * Once its bytes flow, file B is added; B's on_upload_started (first test) or the auth
 * provider's call for B (second test) blocks for BLOCK_MS. Measured from inside that
 * blocking call, between 1 s and 4 s into it, A's bytes must keep reaching the proxy at
 * a good part of the rate (a frozen transfer loop moves nothing). Both files then end
 * SUCCESS with the right bytes. The last two tests hold B's CreateUploadVideo (or
 * CreateUploadImage) answer BLOCK_MS in the proxy (STS mode: the client's own VOD call)
 * and count A's parts acknowledged during the hold (project issue 10). */
#include "client_harness.h"

static th_server g_srv;
static th_proxy g_px;
static char g_a[1024], g_a_md5[33], g_b[1024], g_b_md5[33], g_img[1024], g_img_md5[33];

#define A_SIZE (16 * MiB)
#define B_SIZE (300 * KiB)
#define IMG_SIZE (64 * KiB)
#define RATE (2 * MiB)
#define BLOCK_MS 5000
#define WINDOW_FROM_MS 1000
#define WINDOW_TO_MS 4000

static int setup(void **state)
{
    (void)state;
    th_group_start(&g_srv, &g_px, "client-block", NULL);
    th_make_source(&g_srv, g_a, sizeof g_a, "a.mp4", A_SIZE, 51, g_a_md5);
    th_make_source(&g_srv, g_b, sizeof g_b, "b.mp4", B_SIZE, 52, g_b_md5);
    th_make_source(&g_srv, g_img, sizeof g_img, "b.png", IMG_SIZE, 53, g_img_md5);
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    th_group_stop(&g_srv, &g_px);
    return 0;
}

typedef struct block_ctx {
    th_rec rec;
    _Atomic int block_id;               /* the item whose call blocks */
    _Atomic unsigned long long moved;   /* proxy bytes in the window */
    _Atomic int measured;
    vodup_api *api;                     /* provider test: the app server's side */
    int in_provider;                    /* block in the provider, not in on_upload_started */
} block_ctx;

/* Blocks BLOCK_MS, measuring what reaches the proxy meanwhile. */
static void block_and_measure(block_ctx *x)
{
    long long t0 = th_now_ms();
    th_sleep_ms(WINDOW_FROM_MS);
    unsigned long long b0 = atomic_load(&g_px.up_bytes);
    th_sleep_ms(WINDOW_TO_MS - WINDOW_FROM_MS);
    unsigned long long b1 = atomic_load(&g_px.up_bytes);
    long long left = BLOCK_MS - (th_now_ms() - t0);
    if (left > 0)
        th_sleep_ms(left);
    atomic_store(&x->moved, b1 - b0);
    atomic_store(&x->measured, 1);
}

static void on_started_blocking(vodup_client *c, const vodup_file_info *f, void *u)
{
    block_ctx *x = u;
    if (!x->in_provider && f->id == atomic_load(&x->block_id))
        block_and_measure(x);
    th_cb_started(c, f, &x->rec);
}

static void fwd_progress(vodup_client *c, const vodup_file_info *f, uint64_t d, uint64_t t, void *u)
{
    th_cb_progress(c, f, d, t, &((block_ctx *)u)->rec);
}
static void fwd_succeed(vodup_client *c, const vodup_file_info *f, void *u)
{
    th_cb_succeed(c, f, &((block_ctx *)u)->rec);
}
static void fwd_failed(vodup_client *c, const vodup_file_info *f, int code, const char *m, void *u)
{
    th_cb_failed(c, f, code, m, &((block_ctx *)u)->rec);
}
static void fwd_list(vodup_client *c, void *u)
{
    th_cb_list_completed(c, &((block_ctx *)u)->rec);
}

/* The auth provider: the application server creates the video (as th_cb_started does in
 * upload-auth mode); for block_id it first takes BLOCK_MS. */
static int provider(vodup_client *c, const vodup_file_info *f, vodup_auth_kind kind, vodup_auth_result *out,
                    void *u)
{
    (void)c;
    block_ctx *x = u;
    static _Thread_local char mid[128], addr[2048], auth[4096];
    if (kind != VODUP_AUTH_CREATE)
        return VODUP_EINVAL;
    if (f->id == atomic_load(&x->block_id))
        block_and_measure(x);
    char sz[32];
    snprintf(sz, sizeof sz, "%llu", (unsigned long long)f->size);
    const char *p[] = {"Title", "blocking provider", "FileName", "x.mp4", "FileSize", sz, NULL};
    char *json = NULL;
    if (vodup_api_call(x->api, "2017-03-21", "CreateUploadVideo", p, &json) != VODUP_OK)
        return VODUP_ESERVER;
    json_t *j = json_loads(json, 0, NULL);
    vodup_free(json);
    const char *m = json_string_value(json_object_get(j, "VideoId"));
    const char *a = json_string_value(json_object_get(j, "UploadAddress"));
    const char *k = json_string_value(json_object_get(j, "UploadAuth"));
    int rc = m && a && k ? 0 : VODUP_ESERVER;
    if (rc == 0) {
        snprintf(mid, sizeof mid, "%s", m);
        snprintf(addr, sizeof addr, "%s", a);
        snprintf(auth, sizeof auth, "%s", k);
        out->media_id = mid;
        out->upload_address = addr;
        out->upload_auth = auth;
    }
    json_decref(j);
    return rc;
}

static void run(int use_provider)
{
    block_ctx *x = calloc(1, sizeof *x);
    assert_non_null(x);
    th_rec_init(&x->rec);
    atomic_init(&x->block_id, -1);
    atomic_init(&x->moved, 0ULL);
    atomic_init(&x->measured, 0);
    x->api = th_api_root(&g_srv);
    x->in_provider = use_provider;
    vodup_listener l = VODUP_LISTENER_INIT;
    l.on_upload_started = on_started_blocking;
    l.on_upload_progress = fwd_progress;
    l.on_upload_succeed = fwd_succeed;
    l.on_upload_failed = fwd_failed;
    l.on_list_completed = fwd_list;
    l.user = x;
    vodup_options o = VODUP_OPTIONS_INIT;
    o.parallel = 2;
    o.files_at_once = 2;
    o.part_size = 512 * KiB;
    o.limit_rate = RATE;
    vodup_client *c = NULL;
    assert_int_equal(vodup_client_new(&c, &o, &l), VODUP_OK);
    if (use_provider)
        assert_int_equal(vodup_client_use_auth_provider(c, provider, x), VODUP_OK);
    else
        assert_int_equal(vodup_client_use_sts(c, g_srv.client_endpoint, g_srv.ak, g_srv.sk, NULL), VODUP_OK);
    int a = -1, b = -1;
    assert_int_equal(vodup_client_add_file(c, &a, g_a, VODUP_MEDIA_VIDEO, NULL), VODUP_OK);
    assert_int_equal(vodup_client_start(c), VODUP_OK);
    th_wait_done(c, a, 1 * MiB, 30000); /* A has credentials and its bytes flow */
    /* B's id is the next one: arm the block before B can start */
    atomic_store(&x->block_id, a + 1);
    assert_int_equal(vodup_client_add_file(c, &b, g_b, VODUP_MEDIA_VIDEO, NULL), VODUP_OK);
    assert_int_equal(b, a + 1);
    int ok = 0;
    TH_WAIT(ok, atomic_load(&x->measured), 30000);
    assert_true(ok);
    unsigned long long moved = atomic_load(&x->moved);
    print_message("%s blocked: %llu bytes of the other file moved in %d ms\n",
                  use_provider ? "the auth provider" : "on_upload_started", moved, WINDOW_TO_MS - WINDOW_FROM_MS);
    unsigned long long want = RATE * (WINDOW_TO_MS - WINDOW_FROM_MS) / 1000 / 4;
    if (moved < want)
        fail_msg("%s blocked for %d ms: only %llu bytes of the other file moved in %d ms (want >= %llu)",
                 use_provider ? "the auth provider" : "on_upload_started", BLOCK_MS, moved,
                 WINDOW_TO_MS - WINDOW_FROM_MS, want);
    assert_int_equal(vodup_client_wait(c, 60000), VODUP_OK);
    th_check_upload(&g_srv, x->api, &x->rec, c, a, g_a_md5, A_SIZE);
    th_check_upload(&g_srv, x->api, &x->rec, c, b, g_b_md5, B_SIZE);
    vodup_client_free(c);
    vodup_api_free(x->api);
    th_rec_destroy(&x->rec);
    free(x);
}

/* B's Create call (CreateUploadVideo, or CreateUploadImage for an image) is held BLOCK_MS
 * by the proxy: its request went through, its answer waits. The measure is events, not
 * time: A's parts acknowledged (bytes_done, which moves only when a part's 200 comes
 * back) counted from the moment the proxy began the hold, and seen to reach
 * FLOW_PARTS more while the proxy still holds the answer (rpc_releases unmoved) and B
 * still has no media id. A transfer loop that waited for the call would acknowledge
 * nothing during the hold (at most what was already answered, and only after it). */
#define FLOW_PARTS 4

/* How many of ids are in status st now. */
static int count_status(vodup_client *c, const int *ids, int n, vodup_status st)
{
    int k = 0;
    for (int i = 0; i < n; i++)
        k += th_status(c, ids[i]) == st;
    return k;
}

static void slow_vod_call(const char *b_path, vodup_media_type b_type)
{
    th_rec rec;
    th_rec_init(&rec);
    vodup_options o = VODUP_OPTIONS_INIT;
    o.parallel = 2;
    o.files_at_once = 2;
    o.part_size = 512 * KiB;
    o.limit_rate = RATE;
    vodup_client *c = th_sts_client(&g_srv, &o, &rec);
    int a = -1, b = -1;
    assert_int_equal(vodup_client_add_file(c, &a, g_a, VODUP_MEDIA_VIDEO, NULL), VODUP_OK);
    assert_int_equal(vodup_client_start(c), VODUP_OK);
    th_wait_done(c, a, 1 * MiB, 30000);
    int d0 = atomic_load(&g_px.rpc_delays), r0 = atomic_load(&g_px.rpc_releases);
    atomic_store(&g_px.rpc_delay_ms, (long)BLOCK_MS);
    assert_int_equal(vodup_client_add_file(c, &b, b_path, b_type, NULL), VODUP_OK);
    int ok = 0;
    TH_WAIT(ok, atomic_load(&g_px.rpc_delays) == d0 + 1, 10000);
    if (!ok)
        fail_msg("B's Create call never reached the proxy");
    long long t0 = th_now_ms();
    uint64_t done0 = th_done_of(c, a), done1 = done0;
    uint64_t want = done0 + FLOW_PARTS * o.part_size;
    int held = 1;
    /* until A has FLOW_PARTS more parts acknowledged, or the hold ends */
    TH_WAIT(ok, (done1 = th_done_of(c, a)) >= want || !(held = atomic_load(&g_px.rpc_releases) == r0),
            BLOCK_MS + 5000);
    int parts = (int)((done1 - done0) / o.part_size);
    vodup_file_info *fb = NULL;
    assert_int_equal(vodup_client_get_file(c, b, &fb), VODUP_OK);
    int b_has_media = fb->media_id != NULL;
    vodup_file_info_free(fb);
    print_message("%s held %d ms: %d parts of the other file acknowledged in the first %lld ms of the hold%s\n",
                  b_type == VODUP_MEDIA_IMAGE ? "CreateUploadImage" : "CreateUploadVideo", BLOCK_MS, parts,
                  th_now_ms() - t0, held ? "" : " (the hold ended first)");
    if (!held || done1 < want)
        fail_msg("a Create call held %d ms: only %d parts of the other file were acknowledged during the hold "
                 "(want %d)",
                 BLOCK_MS, parts, FLOW_PARTS);
    assert_false(b_has_media); /* B was still waiting for its answer */
    assert_int_equal(vodup_client_wait(c, 60000), VODUP_OK);
    assert_int_equal(atomic_load(&g_px.rpc_releases), r0 + 1);
    vodup_api *api = th_api_root(&g_srv);
    th_check_upload(&g_srv, api, &rec, c, a, g_a_md5, A_SIZE);
    if (b_type == VODUP_MEDIA_IMAGE) {
        assert_int_equal(th_status(c, b), VODUP_STATUS_SUCCESS);
        th_check_callbacks(&rec, b);
        th_check_object(&g_srv, &rec, b, g_img_md5);
        th_check_image(api, th_get(&rec, b).media_id, IMG_SIZE);
    } else {
        th_check_upload(&g_srv, api, &rec, c, b, g_b_md5, B_SIZE);
    }
    vodup_api_free(api);
    vodup_client_free(c);
    th_rec_destroy(&rec);
}

static void test_slow_vod_call(void **state)
{
    (void)state;
    slow_vod_call(g_b, VODUP_MEDIA_VIDEO);
}

static void test_slow_image_call(void **state)
{
    (void)state;
    slow_vod_call(g_img, VODUP_MEDIA_IMAGE);
}

/* Small files run side by side (project issue 13, R4): NSMALL images in STS mode with the
 * default small_files_at_once (8) and files_at_once 1. The first Create call is held
 * BLOCK_MS by the proxy; while it is held, the other images must make their own calls and
 * finish (SUCCESS, counted as the hold goes on). With one file at a time, or one VOD-call
 * thread for all files, every other image waits behind the held call: none finishes. */
#define NSMALL 6

static void test_small_files_side_by_side(void **state)
{
    (void)state;
    th_rec rec;
    th_rec_init(&rec);
    vodup_options o = VODUP_OPTIONS_INIT;
    o.files_at_once = 1;
    vodup_client *c = th_sts_client(&g_srv, &o, &rec);
    char paths[NSMALL][1024], md5[NSMALL][33];
    int ids[NSMALL];
    for (int i = 0; i < NSMALL; i++) {
        char name[32];
        snprintf(name, sizeof name, "small-%d.png", i);
        th_make_source(&g_srv, paths[i], sizeof paths[i], name, IMG_SIZE, 60 + (uint64_t)i, md5[i]);
        assert_int_equal(vodup_client_add_file(c, &ids[i], paths[i], VODUP_MEDIA_IMAGE, NULL), VODUP_OK);
    }
    int d0 = atomic_load(&g_px.rpc_delays), r0 = atomic_load(&g_px.rpc_releases);
    atomic_store(&g_px.rpc_delay_ms, (long)BLOCK_MS);
    assert_int_equal(vodup_client_start(c), VODUP_OK);
    int ok = 0;
    TH_WAIT(ok, atomic_load(&g_px.rpc_delays) == d0 + 1, 10000);
    if (!ok)
        fail_msg("no Create call reached the proxy");
    int done = 0, held = 1;
    /* until all but the held one succeeded, or the hold ends */
    TH_WAIT(ok,
            (done = count_status(c, ids, NSMALL, VODUP_STATUS_SUCCESS)) >= NSMALL - 1 ||
                !(held = atomic_load(&g_px.rpc_releases) == r0),
            BLOCK_MS + 5000);
    print_message("one CreateUploadImage held %d ms: %d of the other %d images finished meanwhile\n", BLOCK_MS, done,
                  NSMALL - 1);
    if (!held || done < NSMALL - 1)
        fail_msg("one Create call held %d ms: %d of the other %d small files finished during the hold", BLOCK_MS, done,
                 NSMALL - 1);
    assert_int_equal(vodup_client_wait(c, 60000), VODUP_OK);
    vodup_api *api = th_api_root(&g_srv);
    for (int i = 0; i < NSMALL; i++) {
        assert_int_equal(th_status(c, ids[i]), VODUP_STATUS_SUCCESS);
        th_check_callbacks(&rec, ids[i]);
        th_check_object(&g_srv, &rec, ids[i], md5[i]);
        th_check_image(api, th_get(&rec, ids[i]).media_id, IMG_SIZE);
    }
    vodup_api_free(api);
    vodup_client_free(c);
    th_rec_destroy(&rec);
}

static void test_blocking_callback(void **state)
{
    (void)state;
    run(0);
}

static void test_blocking_provider(void **state)
{
    (void)state;
    run(1);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_blocking_provider),
        cmocka_unit_test(test_blocking_callback),
        cmocka_unit_test(test_slow_vod_call),
        cmocka_unit_test(test_slow_image_call),
        cmocka_unit_test(test_small_files_side_by_side),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
