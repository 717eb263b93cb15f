/* upload-auth.c - libvodup example: upload files in upload-address mode, the mode for
 * programs that must never hold an AccessKey (apps on users' devices).
 *
 *   upload-auth-example [options] FILE...
 *     --server URL          the application's server (env VODUP_APP_SERVER), e.g. the
 *                           example one, examples/app-server: http://127.0.0.1:8080
 *     --token T             bearer token of this user at that server (env VODUP_APP_TOKEN;
 *                           prefer the environment: flags show in ps)
 *     --record-dir DIR      keep resume records there: re-running after an interruption
 *                           goes on from the parts already uploaded
 *     --title T             title of every file (default: its name)
 *
 * For each file the application's server creates the video and answers its upload
 * address and credentials (POST /api/upload-auth -> CreateUploadVideo); the credentials
 * are short-lived, and when libvodup says they expire (on_upload_token_expired) the
 * server renews them for the same video (POST /api/refresh-auth -> RefreshUploadVideo),
 * and the upload goes on from the parts already stored. A file whose resume record
 * names a video is refreshed rather than created again.
 *
 * It prints progress lines and, for each file, "PATH VideoId"; the exit status is 0 only
 * if every file was uploaded. It uses the public header, and libcurl and jansson for
 * talking to the application's server, as an application would.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <curl/curl.h>
#include <jansson.h>
#include <vodup/vodup.h>

#define MAX_ANSWER (64 * 1024)   /* the server's answers are small JSON objects */
#define SERVER_TIMEOUT_MS 30000L

typedef struct app {
    const char *server, *token, *title;
    int ok, failed;   /* updated by callbacks, read by main after vodup_client_free */
} app;

typedef struct answer {
    char *data;
    size_t len;
} answer;

static size_t collect(char *p, size_t size, size_t nmemb, void *u)
{
    answer *a = u;
    size_t n = size * nmemb;
    if (a->len + n > MAX_ANSWER)
        return 0;
    char *d = realloc(a->data, a->len + n + 1);
    if (!d)
        return 0;
    memcpy(d + a->len, p, n);
    a->len += n;
    d[a->len] = '\0';
    a->data = d;
    return n;
}

/* POSTs body (a JSON object, taken) to the server's path with the user's token; the JSON
 * answer, or NULL (a message was printed). */
static json_t *post(const app *a, const char *path, json_t *body)
{
    char *text = json_dumps(body, JSON_COMPACT);
    json_decref(body);
    char url[1024], auth[1024];
    snprintf(url, sizeof url, "%s%s", a->server, path);
    snprintf(auth, sizeof auth, "Authorization: Bearer %s", a->token);
    answer ans = {NULL, 0};
    CURL *e = curl_easy_init();
    struct curl_slist *h = curl_slist_append(NULL, "Content-Type: application/json");
    struct curl_slist *h2 = h ? curl_slist_append(h, auth) : NULL;
    json_t *j = NULL;
    if (!text || !e || !h2) {
        fprintf(stderr, "%s: out of memory\n", path);
        goto out;
    }
    h = h2;
    curl_easy_setopt(e, CURLOPT_URL, url);
    curl_easy_setopt(e, CURLOPT_POSTFIELDS, text);
    curl_easy_setopt(e, CURLOPT_HTTPHEADER, h);
    curl_easy_setopt(e, CURLOPT_WRITEFUNCTION, collect);
    curl_easy_setopt(e, CURLOPT_WRITEDATA, &ans);
    curl_easy_setopt(e, CURLOPT_TIMEOUT_MS, SERVER_TIMEOUT_MS);
    curl_easy_setopt(e, CURLOPT_NOSIGNAL, 1L);
    CURLcode cc = curl_easy_perform(e);
    long status = 0;
    curl_easy_getinfo(e, CURLINFO_RESPONSE_CODE, &status);
    if (cc != CURLE_OK) {
        fprintf(stderr, "%s: %s\n", url, curl_easy_strerror(cc));
        goto out;
    }
    j = ans.data ? json_loads(ans.data, 0, NULL) : NULL;
    if (status != 200 || !json_is_object(j)) {
        /* The server's errors are {"Code","Message"}. */
        const char *code = json_string_value(json_object_get(j, "Code"));
        const char *msg = json_string_value(json_object_get(j, "Message"));
        fprintf(stderr, "%s: HTTP %ld %s: %s\n", url, status, code ? code : "", msg ? msg : "(no JSON answer)");
        json_decref(j);
        j = NULL;
    }
out:
    curl_slist_free_all(h);
    if (e)
        curl_easy_cleanup(e);
    free(text);
    free(ans.data);
    return j;
}

static const char *base_name(const char *p)
{
    const char *s = strrchr(p, '/');
    return s ? s + 1 : p;
}

/* A new video (or, when a resume record names one, new credentials for it), handed to
 * the client. Callbacks run on the client's callback thread: blocking on the server
 * here delays other callbacks, not the bytes of files already uploading. */
static void on_started(vodup_client *c, const vodup_file_info *f, void *user)
{
    app *a = user;
    json_t *ans;
    if (f->media_id) {
        ans = post(a, "/api/refresh-auth", json_pack("{s:s}", "VideoId", f->media_id));
    } else {
        ans = post(a, "/api/upload-auth",
                   json_pack("{s:s,s:s,s:I}", "Title", a->title ? a->title : base_name(f->path), "FileName",
                             base_name(f->path), "FileSize", (json_int_t)f->size));
    }
    const char *vid = json_string_value(json_object_get(ans, "VideoId"));
    const char *addr = json_string_value(json_object_get(ans, "UploadAddress"));
    const char *auth = json_string_value(json_object_get(ans, "UploadAuth"));
    if (!vid || !addr || !auth || vodup_client_set_upload_auth(c, f->id, addr, auth, vid) != VODUP_OK) {
        fprintf(stderr, "%s: no upload credentials: %s\n", f->path,
                ans ? vodup_client_last_error(c) : "the application's server refused");
        vodup_client_cancel_file(c, f->id);   /* ends it: wait reports VODUP_ECANCELED */
    }
    json_decref(ans);
}

/* The credentials expire (or are about to): the server renews them for the same video,
 * and the upload goes on from its stored parts. */
static void on_expired(vodup_client *c, const vodup_file_info *f, void *user)
{
    app *a = user;
    if (!f->media_id)
        return;
    json_t *ans = post(a, "/api/refresh-auth", json_pack("{s:s}", "VideoId", f->media_id));
    const char *auth = json_string_value(json_object_get(ans, "UploadAuth"));
    if (!auth || vodup_client_resume_with_auth(c, f->id, auth) != VODUP_OK) {
        fprintf(stderr, "%s: the credentials could not be renewed\n", f->path);
        vodup_client_cancel_file(c, f->id);
    } else {
        fprintf(stderr, "%s: credentials renewed\n", f->path);
    }
    json_decref(ans);
}

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

static int usage(void)
{
    fprintf(stderr, "usage: upload-auth-example [--server URL] [--token T] [--record-dir DIR] [--title T] FILE...\n");
    return 2;
}

int main(int argc, char **argv)
{
    const char *server = NULL, *token = NULL, *record_dir = NULL, *title = NULL;
    int first = argc;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        const char **dst = NULL;
        if (strcmp(a, "--server") == 0)
            dst = &server;
        else if (strcmp(a, "--token") == 0)
            dst = &token;
        else if (strcmp(a, "--record-dir") == 0)
            dst = &record_dir;
        else if (strcmp(a, "--title") == 0)
            dst = &title;
        else if (strcmp(a, "--") == 0) {
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
    if (!server)
        server = getenv("VODUP_APP_SERVER");
    if (!token)
        token = getenv("VODUP_APP_TOKEN");
    if (!server || !token || first >= argc)
        return usage();

    /* libcurl's global init must happen before any other thread exists. */
    if (vodup_global_init() != VODUP_OK) {
        fprintf(stderr, "upload-auth-example: cannot initialise libcurl\n");
        return 1;
    }

    app a = {server, token, title, 0, 0};
    vodup_listener l = VODUP_LISTENER_INIT;
    l.on_upload_started = on_started;
    l.on_upload_token_expired = on_expired;
    l.on_upload_progress = on_progress;
    l.on_upload_succeed = on_succeed;
    l.on_upload_failed = on_failed;
    l.on_upload_retry = on_retry;
    l.user = &a;

    vodup_options o = VODUP_OPTIONS_INIT;
    o.record_dir = record_dir;
    o.progress_interval_ms = 500;

    vodup_client *c;
    int rc = vodup_client_new(&c, &o, &l);
    if (rc != VODUP_OK) {
        fprintf(stderr, "upload-auth-example: %s\n", vodup_strerror(rc));
        return 1;
    }
    /* Upload-address mode: the application's server creates each upload. */
    if (vodup_client_use_upload_auth(c) != VODUP_OK) {
        fprintf(stderr, "upload-auth-example: %s\n", vodup_client_last_error(c));
        vodup_client_free(c);
        return 1;
    }

    int added = 0, bad = 0;
    for (int i = first; i < argc; i++) {
        int id;
        if (vodup_client_add_file(c, &id, argv[i], VODUP_MEDIA_VIDEO, NULL) != VODUP_OK) {
            fprintf(stderr, "%s: %s\n", argv[i], vodup_client_last_error(c));
            bad++;
            continue;
        }
        added++;
    }
    if (added) {
        vodup_client_start(c);
        /* 0 only when every file succeeded; otherwise the last error says what ended. */
        rc = vodup_client_wait(c, -1);
        if (rc != VODUP_OK)
            fprintf(stderr, "upload-auth-example: %s\n", vodup_client_last_error(c));
    }
    vodup_client_free(c);   /* joins the client's threads: a's counters are final now */
    vodup_global_cleanup();
    return bad == 0 && a.failed == 0 && a.ok == added ? 0 : 1;
}
