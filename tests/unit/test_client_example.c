/* test_client_example.c - examples/upload-auth.c end to end: vodupd (UploadAuth lifetime
 * 5 s) behind a proxy that stalls the upload once for a few seconds, the example
 * application server (vodup-app-server) with the root key, and the example program
 * uploading a file through it. The program must exit 0 and print "PATH VideoId"; the
 * video must be UploadSucc with the file's size; the application server must have been
 * asked for the upload (POST /api/upload-auth) and, since the credentials expired
 * during the stall, for their refresh (POST /api/refresh-auth). */
#include "client_harness.h"

static th_server g_srv;
static th_proxy g_px;

#define SIZE (24 * MiB)
#define STALL_MS 4000
#define TOKEN "example-test-token-0123456789"

static int setup(void **state)
{
    (void)state;
    const char *extra[] = {"--upload-auth-ttl", "5", NULL};
    th_group_start(&g_srv, &g_px, "client-example", extra);
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    th_group_stop(&g_srv, &g_px);
    return 0;
}

static char *read_all(const char *path)
{
    FILE *f = fopen(path, "rb");
    if (!f)
        return strdup("");
    vbuf b = VBUF_INIT;
    char buf[4096];
    size_t n;
    while ((n = fread(buf, 1, sizeof buf, f)) > 0)
        vbuf_append(&b, buf, n);
    fclose(f);
    vbuf_putc(&b, '\0');
    return vbuf_steal(&b);
}

static void test_upload_auth_example(void **state)
{
    (void)state;
    const char *bd = getenv("VODUP_BUILD_DIR");
    assert_non_null(bd);
    char app_bin[1100], ex_bin[1100], cfg[1100], log[1100], path[1100], md5[33];
    snprintf(app_bin, sizeof app_bin, "%s/vodup-app-server", bd);
    snprintf(ex_bin, sizeof ex_bin, "%s/upload-auth-example", bd);
    if (access(app_bin, X_OK) != 0 || access(ex_bin, X_OK) != 0)
        fail_msg("%s or %s is not built", app_bin, ex_bin);
    snprintf(cfg, sizeof cfg, "%s/app.json", g_srv.dir);
    snprintf(log, sizeof log, "%s/app-server.log", g_srv.dir);
    th_make_source(&g_srv, path, sizeof path, "example.mp4", SIZE, 61, md5);

    json_t *conf = json_pack("{s:s,s:s,s:s,s:s,s:{s:s}}", "listen", "127.0.0.1:0", "vod_endpoint", g_srv.endpoint,
                             "access_key_id", g_srv.ak, "access_key_secret", g_srv.sk, "tokens", TOKEN, "alice");
    assert_non_null(conf);
    assert_int_equal(json_dump_file(conf, cfg, 0), 0);
    json_decref(conf);
    chmod(cfg, 0600);

    /* the application server, its log in a file */
    posix_spawn_file_actions_t fa;
    posix_spawn_file_actions_init(&fa);
    posix_spawn_file_actions_addopen(&fa, 2, log, O_WRONLY | O_CREAT | O_TRUNC, 0600);
    char *aargv[] = {app_bin, cfg, NULL};
    pid_t app = 0;
    assert_int_equal(posix_spawn(&app, app_bin, &fa, NULL, aargv, environ), 0);
    posix_spawn_file_actions_destroy(&fa);
    int port = 0;
    long long dl = th_now_ms() + 20000;
    while (!port && th_now_ms() < dl) {
        char *l = read_all(log);
        const char *m = strstr(l, "listening on http://127.0.0.1:");
        if (m)
            port = (int)strtol(m + strlen("listening on http://127.0.0.1:"), NULL, 10);
        free(l);
        if (!port)
            th_sleep_ms(20);
    }
    if (!port) {
        kill(app, SIGTERM);
        waitpid(app, NULL, 0);
        fail_msg("vodup-app-server did not start");
    }
    char server[64];
    snprintf(server, sizeof server, "http://127.0.0.1:%d", port);

    /* one stall of the upload, longer than half the credentials' life: they expire */
    atomic_store(&g_px.stall_ms, (long)STALL_MS);
    atomic_store(&g_px.stall_at, atomic_load(&g_px.up_bytes) + 4 * MiB);

    setenv("VODUP_APP_SERVER", server, 1);
    setenv("VODUP_APP_TOKEN", TOKEN, 1);
    char *eargv[] = {ex_bin, path, NULL};
    char *out = th_run_capture(eargv); /* asserts exit status 0 */
    unsetenv("VODUP_APP_TOKEN");

    kill(app, SIGTERM);
    int st = 0;
    waitpid(app, &st, 0);
    char *l = read_all(log);
    int created = strstr(l, "/api/upload-auth 200") != NULL, refreshed = strstr(l, "/api/refresh-auth 200") != NULL;
    free(l);
    assert_true(WIFEXITED(st) && WEXITSTATUS(st) == 0);
    assert_true(created);
    if (!refreshed)
        fail_msg("the credentials were not refreshed through the app server (stalls: %d)",
                 atomic_load(&g_px.stalls));

    /* "PATH VideoId" */
    size_t pl = strlen(path);
    assert_true(strncmp(out, path, pl) == 0 && out[pl] == ' ');
    char vid[128];
    snprintf(vid, sizeof vid, "%s", out + pl + 1);
    vid[strcspn(vid, "\n")] = '\0';
    free(out);
    vodup_api *api = th_api_root(&g_srv);
    th_check_video(api, vid, SIZE);
    vodup_api_free(api);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_upload_auth_example),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
