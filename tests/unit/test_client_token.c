/* test_client_token.c - credentials that expire mid-upload. vodupd issues UploadAuth
 * valid for 5 s (--upload-auth-ttl 5); the client uploads slowly (limit_rate) with
 * refresh_before_s = 1.
 * - upload-auth mode: on_upload_token_expired fires; the test (the "app server") calls
 *   RefreshUploadVideo and vodup_client_resume_with_auth; the upload completes with
 *   the right bytes and no part is uploaded again after it was stored once (server log);
 * - auth-provider mode: the client asks the provider for VODUP_AUTH_REFRESH ahead of
 *   expiry by itself: no on_upload_token_expired, same checks. */
#include "client_harness.h"

static th_server g_srv;
static char g_file[1024], g_md5[33];

#define SIZE (8 * MiB)
#define PART (1 * MiB)
#define RATE (1 * MiB)

static int setup(void **state)
{
    (void)state;
    const char *extra[] = {"--upload-auth-ttl", "5", NULL};
    th_group_start(&g_srv, NULL, "client-token", extra);
    th_make_source(&g_srv, g_file, sizeof g_file, "slow.mp4", SIZE, 41, g_md5);
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    th_group_stop(&g_srv, NULL);
    return 0;
}

static vodup_options slow_options(void)
{
    vodup_options o = VODUP_OPTIONS_INIT;
    o.parallel = 2;
    o.part_size = PART;
    o.limit_rate = RATE;
    o.refresh_before_s = 1;
    return o;
}

/* Every part of key uploaded once after its first success (server log from mark). */
typedef struct part_audit {
    const char *key;
    int ok[10001];
    int after_ok[10001];
    int max_part;
    int forbidden; /* 403s seen */
} part_audit;

static void audit_cb(const th_logline *l, void *u)
{
    part_audit *a = u;
    if (strcmp(l->op, "UploadPart") != 0 || !strstr(l->target, a->key) || l->part < 1 || l->part > 10000)
        return;
    if (a->ok[l->part])
        a->after_ok[l->part]++;
    if (l->status == 200)
        a->ok[l->part]++;
    if (l->status == 403)
        a->forbidden++;
    if (l->part > a->max_part)
        a->max_part = (int)l->part;
}

static void check_parts_once(th_rec *rec, int id, size_t mark)
{
    th_item it = th_get(rec, id);
    part_audit *a = calloc(1, sizeof *a);
    assert_non_null(a);
    a->key = it.key;
    th_log_foreach(&g_srv, mark, audit_cb, a);
    assert_int_equal(a->max_part, (int)(SIZE / PART));
    for (int n = 1; n <= a->max_part; n++) {
        if (!a->ok[n])
            fail_msg("part %d never stored", n);
        if (a->after_ok[n])
            fail_msg("part %d uploaded %d more time(s) after it was stored", n, a->after_ok[n]);
    }
    free(a);
}

static void test_upload_auth_expiry(void **state)
{
    (void)state;
    th_rec rec;
    th_rec_init(&rec);
    vodup_api *api = th_api_root(&g_srv);
    pthread_mutex_lock(&rec.mu);
    rec.api = api;
    rec.upload_auth_mode = 1;
    pthread_mutex_unlock(&rec.mu);
    vodup_options o = slow_options();
    vodup_listener l = th_listener(&rec);
    vodup_client *c = NULL;
    assert_int_equal(vodup_client_new(&c, &o, &l), VODUP_OK);
    assert_int_equal(vodup_client_use_upload_auth(c), VODUP_OK);
    int id = -1;
    assert_int_equal(vodup_client_add_file(c, &id, g_file, VODUP_MEDIA_VIDEO, NULL), VODUP_OK);
    size_t mark = th_log_mark(&g_srv);
    long long t0 = th_now_ms();
    assert_int_equal(vodup_client_start(c), VODUP_OK);

    /* the app server's side: answer every token_expired with RefreshUploadVideo */
    int handled = 0, refreshed_mid_upload = 0;
    long long dl = th_now_ms() + 90000;
    while (th_now_ms() < dl) {
        th_item it = th_get(&rec, id);
        if (it.succeed || it.failed)
            break;
        if (it.expired > handled) {
            uint64_t done = 0;
            th_file_counts(c, id, &done, NULL);
            if (done < SIZE)
                refreshed_mid_upload++;
            th_upload_grant g;
            assert_true(it.media_id[0] != '\0');
            th_refresh_upload_video(api, it.media_id, &g);
            int rc = vodup_client_resume_with_auth(c, id, g.auth);
            /* the expiry may be announced ahead of time while the last parts still go
             * through: then the file can succeed before the new credentials arrive */
            if (rc == VODUP_ESTATE && th_status(c, id) == VODUP_STATUS_SUCCESS)
                break;
            if (rc != VODUP_OK)
                fail_msg("resume_with_auth: %d %s", rc, vodup_client_last_error(c));
            handled = it.expired;
        }
        th_sleep_ms(10);
    }
    assert_int_equal(vodup_client_wait(c, 30000), VODUP_OK);
    th_item it = th_get(&rec, id);
    if (it.expired < 1)
        fail_msg("on_upload_token_expired never fired during a %lld ms upload with 5 s credentials",
                 th_now_ms() - t0);
    assert_true(refreshed_mid_upload >= 1);
    pthread_mutex_lock(&rec.mu);
    long long first = rec.first_expired_ms;
    assert_int_equal(rec.grant_failures, 0);
    pthread_mutex_unlock(&rec.mu);
    /* ahead of expiry: within the 5 s lifetime (plus slack for a slow machine) */
    assert_true(first - t0 < 7000);
    assert_int_equal(th_status(c, id), VODUP_STATUS_SUCCESS);
    th_check_callbacks(&rec, id);
    th_check_object(&g_srv, &rec, id, g_md5);
    th_check_video(api, it.media_id, SIZE);
    check_parts_once(&rec, id, mark);
    vodup_client_free(c);
    vodup_api_free(api);
    th_rec_destroy(&rec);
}

typedef struct provider_ctx {
    pthread_mutex_t mu;
    vodup_api *api;
    int create_calls, refresh_calls, errors;
    int refresh_wrong_media;
    th_upload_grant g; /* the strings handed back, valid after the provider returns */
    char media_id[128];
} provider_ctx;

static int provider(vodup_client *c, const vodup_file_info *f, vodup_auth_kind kind, vodup_auth_result *out,
                    void *user)
{
    (void)c;
    provider_ctx *p = user;
    pthread_mutex_lock(&p->mu);
    int rc = 0;
    char *body = NULL;
    json_t *j = NULL;
    if (kind == VODUP_AUTH_CREATE) {
        p->create_calls++;
        char sz[32];
        snprintf(sz, sizeof sz, "%llu", (unsigned long long)f->size);
        const char *prm[] = {"Title", "provider", "FileName", "slow.mp4", "FileSize", sz, NULL};
        rc = vodup_api_call(p->api, "2017-03-21", "CreateUploadVideo", prm, &body);
    } else {
        p->refresh_calls++;
        if (!f->media_id || strcmp(f->media_id, p->media_id) != 0)
            p->refresh_wrong_media++;
        const char *prm[] = {"VideoId", p->media_id, NULL};
        rc = vodup_api_call(p->api, "2017-03-21", "RefreshUploadVideo", prm, &body);
    }
    if (rc == VODUP_OK)
        j = json_loads(body, 0, NULL);
    vodup_free(body);
    const char *mid = j ? json_string_value(json_object_get(j, "VideoId")) : NULL;
    const char *addr = j ? json_string_value(json_object_get(j, "UploadAddress")) : NULL;
    const char *auth = j ? json_string_value(json_object_get(j, "UploadAuth")) : NULL;
    if (!mid || !addr || !auth) {
        p->errors++;
        json_decref(j);
        pthread_mutex_unlock(&p->mu);
        return VODUP_ESERVER;
    }
    snprintf(p->g.media_id, sizeof p->g.media_id, "%s", mid);
    snprintf(p->g.address, sizeof p->g.address, "%s", addr);
    snprintf(p->g.auth, sizeof p->g.auth, "%s", auth);
    if (kind == VODUP_AUTH_CREATE)
        snprintf(p->media_id, sizeof p->media_id, "%s", mid);
    json_decref(j);
    out->media_id = p->g.media_id;
    out->upload_address = kind == VODUP_AUTH_CREATE ? p->g.address : NULL;
    out->upload_auth = p->g.auth;
    pthread_mutex_unlock(&p->mu);
    return 0;
}

static void test_provider_refreshes(void **state)
{
    (void)state;
    th_rec rec;
    th_rec_init(&rec);
    provider_ctx *p = calloc(1, sizeof *p);
    assert_non_null(p);
    pthread_mutex_init(&p->mu, NULL);
    p->api = th_api_root(&g_srv);
    vodup_options o = slow_options();
    vodup_listener l = th_listener(&rec);
    vodup_client *c = NULL;
    assert_int_equal(vodup_client_new(&c, &o, &l), VODUP_OK);
    assert_int_equal(vodup_client_use_auth_provider(c, provider, p), VODUP_OK);
    int id = -1;
    assert_int_equal(vodup_client_add_file(c, &id, g_file, VODUP_MEDIA_VIDEO, NULL), VODUP_OK);
    size_t mark = th_log_mark(&g_srv);
    assert_int_equal(vodup_client_start(c), VODUP_OK);
    assert_int_equal(vodup_client_wait(c, 90000), VODUP_OK);
    assert_int_equal(th_status(c, id), VODUP_STATUS_SUCCESS);
    th_item it = th_get(&rec, id);
    assert_int_equal(it.expired, 0);
    pthread_mutex_lock(&p->mu);
    int creates = p->create_calls, refreshes = p->refresh_calls, errors = p->errors, wrong = p->refresh_wrong_media;
    char mid[128];
    snprintf(mid, sizeof mid, "%s", p->media_id);
    pthread_mutex_unlock(&p->mu);
    assert_int_equal(creates, 1);
    if (refreshes < 1)
        fail_msg("the provider was never asked to REFRESH during an 8 s upload with 5 s credentials");
    assert_int_equal(errors, 0);
    assert_int_equal(wrong, 0);
    assert_string_equal(it.media_id, mid);
    th_check_callbacks(&rec, id);
    th_check_object(&g_srv, &rec, id, g_md5);
    th_check_video(p->api, mid, SIZE);
    check_parts_once(&rec, id, mark);
    /* no request was refused for expired credentials */
    part_audit *a = calloc(1, sizeof *a);
    assert_non_null(a);
    a->key = it.key;
    th_log_foreach(&g_srv, mark, audit_cb, a);
    assert_int_equal(a->forbidden, 0);
    free(a);
    vodup_client_free(c);
    vodup_api_free(p->api);
    pthread_mutex_destroy(&p->mu);
    free(p);
    th_rec_destroy(&rec);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_upload_auth_expiry),
        cmocka_unit_test(test_provider_refreshes),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
