/* upload.c - libvodup example: upload files to a VOD service in STS / AccessKey mode.
 *
 *   upload-example [options] FILE...
 *     --endpoint URL        VOD API endpoint (env VODUP_ENDPOINT), e.g. http://127.0.0.1:9000
 *     --access-key-id ID    (env VODUP_ACCESS_KEY_ID)
 *     --access-key-secret S (env VODUP_ACCESS_KEY_SECRET; prefer the environment: flags show in ps)
 *     --security-token T    (env VODUP_SECURITY_TOKEN; omit for a long-term AccessKey)
 *     --record-dir DIR      keep resume records there: re-running after an interruption
 *                           goes on from the parts already uploaded
 *     --image               the files are images (CreateUploadImage) rather than videos
 *     --title T             title of every file (default: its name)
 *
 * It prints progress lines and, for each file, "PATH VideoId"; the exit status is 0 only
 * if every file was uploaded. Only the public header is used: this is how an application
 * links libvodup.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <vodup/vodup.h>

/* Counters the callbacks update. Callbacks run on the client's worker thread, one at a
 * time, and main only reads these after vodup_client_wait returned, so no lock is
 * needed here. */
typedef struct app {
    int ok, failed;
} app;

static void on_progress(vodup_client *c, const vodup_file_info *f, uint64_t done, uint64_t total, void *user)
{
    (void)c;
    (void)user;
    /* done never equals total before on_upload_succeed, so 100% means really done. */
    double pct = total ? 100.0 * (double)done / (double)total : 0.0;
    fprintf(stderr, "%s: %llu / %llu bytes (%.1f%%)\n", f->path, (unsigned long long)done,
            (unsigned long long)total, pct);
}

static void on_succeed(vodup_client *c, const vodup_file_info *f, void *user)
{
    (void)c;
    app *a = user;
    a->ok++;
    printf("%s %s\n", f->path, f->media_id ? f->media_id : "-");
    fflush(stdout);
}

static void on_failed(vodup_client *c, const vodup_file_info *f, int code, const char *message, void *user)
{
    (void)c;
    app *a = user;
    a->failed++;
    fprintf(stderr, "%s: failed: %s (%s)\n", f->path, message, vodup_strerror(code));
}

static void on_retry(vodup_client *c, const vodup_file_info *f, int code, const char *message, void *user)
{
    (void)c;
    (void)user;
    fprintf(stderr, "%s: retrying after: %s (%s)\n", f->path, message, vodup_strerror(code));
}

static void on_expired(vodup_client *c, const vodup_file_info *f, void *user)
{
    (void)c;
    (void)user;
    /* A real application would fetch new STS credentials here and call
     * vodup_client_resume_with_sts; this example has no source of new ones. */
    fprintf(stderr, "%s: the STS credentials expired\n", f->path);
}

static const char *env_or(const char *v, const char *name)
{
    return v ? v : getenv(name);
}

static int usage(void)
{
    fprintf(stderr, "usage: upload-example [--endpoint URL] [--access-key-id ID] [--access-key-secret S]\n"
                    "                      [--security-token T] [--record-dir DIR] [--image] [--title T] FILE...\n");
    return 2;
}

int main(int argc, char **argv)
{
    const char *endpoint = NULL, *ak = NULL, *sk = NULL, *token = NULL, *record_dir = NULL, *title = NULL;
    vodup_media_type type = VODUP_MEDIA_VIDEO;
    int first = argc;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        const char **dst = NULL;
        if (strcmp(a, "--endpoint") == 0)
            dst = &endpoint;
        else if (strcmp(a, "--access-key-id") == 0)
            dst = &ak;
        else if (strcmp(a, "--access-key-secret") == 0)
            dst = &sk;
        else if (strcmp(a, "--security-token") == 0)
            dst = &token;
        else if (strcmp(a, "--record-dir") == 0)
            dst = &record_dir;
        else if (strcmp(a, "--title") == 0)
            dst = &title;
        else if (strcmp(a, "--image") == 0) {
            type = VODUP_MEDIA_IMAGE;
            continue;
        } else if (strcmp(a, "--") == 0) {
            first = i + 1;
            break;
        } else if (a[0] == '-' && a[1] == '-') {
            return usage();
        } else {
            first = i;
            break;
        }
        if (i + 1 >= argc)
            return usage();
        *dst = argv[++i];
    }
    endpoint = env_or(endpoint, "VODUP_ENDPOINT");
    ak = env_or(ak, "VODUP_ACCESS_KEY_ID");
    sk = env_or(sk, "VODUP_ACCESS_KEY_SECRET");
    token = env_or(token, "VODUP_SECURITY_TOKEN");
    if (token && !*token)
        token = NULL;
    if (!endpoint || !ak || !sk || first >= argc)
        return usage();

    /* libcurl's global init must happen before any other thread exists. */
    if (vodup_global_init() != VODUP_OK) {
        fprintf(stderr, "upload-example: cannot initialise libcurl\n");
        return 1;
    }

    app a = {0, 0};
    vodup_listener l = VODUP_LISTENER_INIT;
    l.on_upload_progress = on_progress;
    l.on_upload_succeed = on_succeed;
    l.on_upload_failed = on_failed;
    l.on_upload_retry = on_retry;
    l.on_upload_token_expired = on_expired;
    l.user = &a;

    vodup_options o = VODUP_OPTIONS_INIT;
    o.record_dir = record_dir;
    o.progress_interval_ms = 500;

    vodup_client *c;
    int rc = vodup_client_new(&c, &o, &l);
    if (rc != VODUP_OK) {
        fprintf(stderr, "upload-example: %s\n", vodup_strerror(rc));
        return 1;
    }
    /* STS mode: the client calls CreateUploadVideo / CreateUploadImage itself. */
    if (vodup_client_use_sts(c, endpoint, ak, sk, token) != VODUP_OK) {
        fprintf(stderr, "upload-example: %s\n", vodup_client_last_error(c));
        vodup_client_free(c);
        return 1;
    }

    int added = 0, bad = 0;
    for (int i = first; i < argc; i++) {
        vodup_vod_info info = VODUP_VOD_INFO_INIT;
        info.title = title;   /* NULL: the file's name */
        int id;
        if (vodup_client_add_file(c, &id, argv[i], type, &info) != VODUP_OK) {
            fprintf(stderr, "%s: %s\n", argv[i], vodup_client_last_error(c));
            bad++;
            continue;
        }
        added++;
    }
    if (added) {
        vodup_client_start(c);
        vodup_client_wait(c, -1);   /* every file succeeded, failed or was canceled */
    }
    vodup_client_free(c);   /* joins the worker: a's counters are final now */
    vodup_global_cleanup();
    return bad == 0 && a.failed == 0 && a.ok == added ? 0 : 1;
}
