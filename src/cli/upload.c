/* upload.c - `vodup upload` and `vodup image upload`.
 *
 * The files go into one libvodup client in STS/AccessKey mode (the client calls
 * CreateUploadVideo/CreateUploadImage itself with the configured key), or, for scripts
 * handed credentials by an application server, in upload-auth mode (hidden flags
 * --upload-address/--upload-auth/--video-id, one file).
 *
 * Resuming is libvodup's resume record (in --record-dir): running the same command
 * again after a kill or Ctrl-C finds the record of each file and goes on from the
 * parts already stored. Ctrl-C therefore pauses rather than aborts.
 *
 * Threads: libvodup's callbacks run on its worker thread and only record what happened
 * (under st->mu); the main thread prints, so output never interleaves mid-line. */
#include <errno.h>
#include <fnmatch.h>
#include <ftw.h>
#include <pthread.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "cli.h"

#define WAIT_SLICE_MS 100 /* how often the main thread looks at signals and redraws */

#define UPLOAD_OPTIONS_HELP(ID)                                                                    \
    "  --title T            title (default: the file's name, less what the service refuses)\n"       \
    "  --description D      description\n"                                                           \
    "  --tags a,b           tags, comma-separated\n"                                                 \
    "  --cate-id N          category id\n"                                                           \
    "  --parallel N         parts in flight per file, 1..32 (default 4)\n"                           \
    "  --part-size SIZE     part size, e.g. 1M, 8M (default: automatic; k/M/G suffixes)\n"          \
    "  --limit-rate RATE    at most RATE bytes per second overall, e.g. 500k, 2M\n"                  \
    "  --record-dir DIR     resume records (default ~/.cache/vodup/records)\n"                       \
    "  -r, --recursive      a directory argument uploads the files under it (sorted by path)\n"     \
    "  --include GLOB       with --recursive, only files whose name matches GLOB (e.g.\n"           \
    "                       '*.mp4'); may be repeated\n"                                            \
    "  -                    as FILE: standard input, copied to a temporary file first (no resume)\n" \
    "  --size SIZE          with -: the bytes standard input must give (else nothing is uploaded)\n" \
    "  --stdin-name NAME    with -: the file name the service records (default stdin.mp4/.png)\n"   \
    "  -q, --quiet          no progress bars, no per-file start or retry lines: results and\n"      \
    "                       failures only\n"                                                        \
    "  -v, --verbose        say the endpoint and record dir, and every retry (not collapsed)\n"     \
    "  --json               one JSON object per file on stdout, one per line:\n"                     \
    "                       {\"File\",\"" ID "\",\"Status\",\"Size\",\"BytesSent\",\"Seconds\",\n"  \
    "                        \"Bucket\",\"Object\",\"ErrorCode\"?,\"Error\"?}\n"                     \
    "\n"                                                                                             \
    "For scripts that got upload credentials from an application server (one file):\n"             \
    "  --upload-address B64 --upload-auth B64 --video-id ID   (as the application server got\n"    \
    "                       them from CreateUpload*: no AccessKey needed; an image's ImageId\n"     \
    "                       goes in --video-id)\n"

static const char USAGE_UPLOAD[] =
    "usage: vodup upload FILE... [options]\n"
    "\n"
    "Uploads media files to the VOD service: each gets a VideoId (CreateUploadVideo, signed\n"
    "with the configured AccessKey), then its bytes go to the object store in parts, several\n"
    "at once. On a terminal it shows a progress bar per file and a total; otherwise one line\n"
    "per file when it starts and when it ends.\n"
    "\n"
    "Ctrl-C pauses: what is stored stays, the resume record is kept, and running the same\n"
    "command again goes on from there (also after a crash or a kill).\n"
    "\n" UPLOAD_OPTIONS_HELP("VideoId");

static const char USAGE_IMAGE_UPLOAD[] =
    "usage: vodup image upload FILE... [options]\n"
    "\n"
    "Uploads images (CreateUploadImage, image type default): each gets an ImageId, then its\n"
    "bytes go to the object store. A file must be a PNG, JPEG or GIF image whose contents\n"
    "match its extension (.png, .jpg, .jpeg, .gif; none: PNG). A finished image's Status is\n"
    "Normal. Its URL needs a signature to be read (see docs/cli.md).\n"
    "\n" UPLOAD_OPTIONS_HELP("ImageId");

static volatile sig_atomic_t interrupted;

static void on_signal(int sig)
{
    interrupted = sig;
}

/* What the main thread knows about one file. */
typedef struct item {
    const char *path;
    int id;                 /* libvodup's */
    uint64_t size;
    int started, start_reported;
    int ended, end_reported;
    vodup_status status;
    char *media_id;
    char *bucket, *object_key; /* where the bytes went, for scripts that read them back */
    uint64_t bytes_sent;
    int error;
    char *message;
    char *code;             /* ErrorCode of the --json row: the service's Code, or the CLI's word */
    char *title;            /* the default title, made acceptable to the service (NULL: --title) */
    char *retry_key;        /* the last retry's reason, and how often it repeated since printed */
    int retry_repeats;
    struct timespec t_start, t_end;
} item;

typedef struct upload_state {
    pthread_mutex_t mu;
    item *items;
    int n;
    int json, tty;
    int quiet, verbose;
    vodup_media_type type;
    int user_title;        /* --title given: a refusal of it is the user's to fix */
    const char *endpoint;  /* for messages */
    const char *endpoint_from;
    cli_progress *progress;
    /* upload-auth mode */
    const char *upload_address, *upload_auth, *video_id;
    const vodup_s3_target *s3;  /* `vodup s3 cp`: the object and its keys */
} upload_state;

static item *find(upload_state *st, int id)
{
    for (int i = 0; i < st->n; i++)
        if (st->items[i].id == id)
            return &st->items[i];
    return NULL;
}

static void set_str(char **slot, const char *v)
{
    free(*slot);
    *slot = v ? strdup(v) : NULL;
}

/* `-`: standard input, copied to a private temporary file first (libvodup reads files at
 * offsets, several parts at once, which a pipe cannot do). Removed at exit. */
static struct {
    char dir[2048], path[4096];
} spool;

static void spool_remove(void)
{
    if (spool.path[0])
        unlink(spool.path);
    if (spool.dir[0])
        rmdir(spool.dir);
}

/* What a file is called in messages and --json rows: `-` for standard input. */
static const char *label(const char *path)
{
    return spool.path[0] && strcmp(path, spool.path) == 0 ? "-" : path;
}

/* Copies standard input to spool.path, named name; want: the --size (0: any). */
static int spool_stdin(const char *cmd, const char *name, uint64_t want, uint64_t *got)
{
    const char *tmp = getenv("TMPDIR");
    snprintf(spool.dir, sizeof spool.dir, "%s/vodup-stdin-XXXXXX", tmp && *tmp ? tmp : "/tmp");
    if (!mkdtemp(spool.dir)) {
        fprintf(stderr, "%s: cannot make a temporary directory for standard input (%s): %s\n", cmd, spool.dir,
                strerror(errno));
        spool.dir[0] = '\0';
        return -1;
    }
    atexit(spool_remove);
    const char *base = strrchr(name, '/');
    int pn = snprintf(spool.path, sizeof spool.path, "%s/%s", spool.dir, base ? base + 1 : name);
    if (pn < 0 || (size_t)pn >= sizeof spool.path) {
        fprintf(stderr, "%s: --stdin-name is too long\n", cmd);
        spool.path[0] = '\0';
        return -1;
    }
    FILE *out = fopen(spool.path, "wbx");
    if (!out) {
        fprintf(stderr, "%s: cannot write %s: %s\n", cmd, spool.path, strerror(errno));
        spool.path[0] = '\0';
        return -1;
    }
    char buf[65536];
    size_t n;
    *got = 0;
    while ((n = fread(buf, 1, sizeof buf, stdin)) > 0) {
        if (fwrite(buf, 1, n, out) != n)
            break;
        *got += n;
    }
    int bad = ferror(stdin) || ferror(out);
    int e = errno;
    if (fclose(out) != 0)
        bad = 1;
    if (bad) {
        fprintf(stderr, "%s: copying standard input to %s failed: %s\n", cmd, spool.path, strerror(e));
        return -1;
    }
    if (want && *got != want) {
        fprintf(stderr, "%s: standard input gave %llu bytes, but --size said %llu: nothing uploaded\n", cmd,
                (unsigned long long)*got, (unsigned long long)want);
        return -1;
    }
    return 0;
}

static void end_item(upload_state *st, const vodup_file_info *f, vodup_status status, int code,
                     const char *message);

static void cb_started(vodup_client *c, const vodup_file_info *f, void *user)
{
    upload_state *st = user;
    pthread_mutex_lock(&st->mu);
    item *it = find(st, f->id);
    if (it && !it->started) {
        it->started = 1;
        clock_gettime(CLOCK_MONOTONIC, &it->t_start);
    }
    int idx = it ? (int)(it - st->items) : -1;
    int say = it && !it->start_reported && !st->tty && !st->quiet;
    if (it)
        it->start_reported = 1;
    uint64_t size = it ? it->size : f->size;
    pthread_mutex_unlock(&st->mu);
    cli_progress_start(st->progress, idx);
    /* Said here, on the worker thread, so that it comes before any retry line of the file. */
    if (say) {
        char sz[32];
        char *path = cli_display_text(label(f->path));
        fprintf(stderr, "%s: uploading %s\n", path ? path : f->path, cli_human_bytes(sz, sizeof sz, (double)size));
        free(path);
    }
    if (st->upload_auth || st->s3) {
        int rc = st->s3 ? vodup_client_set_s3_target(c, f->id, st->s3)
                        : vodup_client_set_upload_auth(c, f->id, st->upload_address, st->upload_auth, st->video_id);
        if (rc != VODUP_OK) {
            /* Canceling ends the file without on_upload_failed: end it here, or nothing
             * would say why it stopped. */
            char why[512];
            if (st->s3)
                snprintf(why, sizeof why, "the S3 target is refused: %s", vodup_client_last_error(c));
            else
                snprintf(why, sizeof why,
                         "--upload-address/--upload-auth are not what CreateUploadVideo returns (base64 of JSON "
                         "expected): %s",
                         vodup_client_last_error(c));
            pthread_mutex_lock(&st->mu);
            if (it) {
                set_str(&it->message, why);
                set_str(&it->code, "InvalidUploadAuth");
            }
            pthread_mutex_unlock(&st->mu);
            vodup_client_cancel_file(c, f->id);
            end_item(st, f, VODUP_STATUS_FAIL, VODUP_EINVAL, why);
        }
    }
}

static void cb_progress(vodup_client *c, const vodup_file_info *f, uint64_t done, uint64_t total, void *user)
{
    (void)c;
    upload_state *st = user;
    pthread_mutex_lock(&st->mu);
    item *it = find(st, f->id);
    int idx = it ? (int)(it - st->items) : -1;
    pthread_mutex_unlock(&st->mu);
    cli_progress_update(st->progress, idx, done, total, f->bytes_sent_this_run);
}

static void end_item(upload_state *st, const vodup_file_info *f, vodup_status status, int code, const char *message)
{
    pthread_mutex_lock(&st->mu);
    item *it = find(st, f->id);
    if (it && it->ended) {
        pthread_mutex_unlock(&st->mu);
        return;
    }
    if (it) {
        it->ended = 1;
        it->status = status;
        it->bytes_sent = f->bytes_sent_this_run;
        if (f->media_id)
            set_str(&it->media_id, f->media_id);
        if (f->bucket)
            set_str(&it->bucket, f->bucket);
        if (f->object_key)
            set_str(&it->object_key, f->object_key);
        if (code) {
            it->error = code;
            /* Keep a more precise message recorded earlier (e.g. expired credentials). */
            if (!it->message)
                set_str(&it->message, message && *message ? message : vodup_strerror(code));
        }
        clock_gettime(CLOCK_MONOTONIC, &it->t_end);
    }
    int idx = it ? (int)(it - st->items) : -1;
    pthread_mutex_unlock(&st->mu);
    cli_progress_end(st->progress, idx, status == VODUP_STATUS_SUCCESS ? "done" : "failed");
}

static void cb_succeed(vodup_client *c, const vodup_file_info *f, void *user)
{
    (void)c;
    end_item(user, f, VODUP_STATUS_SUCCESS, 0, NULL);
}

static void cb_failed(vodup_client *c, const vodup_file_info *f, int code, const char *message, void *user)
{
    (void)c;
    end_item(user, f, VODUP_STATUS_FAIL, code ? code : VODUP_ESERVER, message);
}

/* The CLI has no one to ask for new credentials: the file stops with its parts kept,
 * and the same command with fresh credentials resumes it. */
static void cb_token_expired(vodup_client *c, const vodup_file_info *f, void *user)
{
    upload_state *st = user;
    pthread_mutex_lock(&st->mu);
    item *it = find(st, f->id);
    if (it) {
        it->error = VODUP_EEXPIRED;
        set_str(&it->message, "the credentials expired; get new ones and run the same command again to resume");
    }
    pthread_mutex_unlock(&st->mu);
    vodup_client_cancel_file(c, f->id);
    end_item(st, f, VODUP_STATUS_FAIL, VODUP_EEXPIRED, NULL);
}

static void cb_retry(vodup_client *c, const vodup_file_info *f, int code, const char *message, void *user)
{
    (void)c;
    upload_state *st = user;
    /* On a terminal the bars show that it stalls; elsewhere a line says why, once per
     * reason: a full or failing server refuses every part the same way, and fifty equal
     * lines would bury the one that matters. Request ids differ each time: not a reason. */
    char key[1024];
    snprintf(key, sizeof key, "%s: %s", vodup_strerror(code), message ? message : "");
    char *rid = strstr(key, " RequestId=");
    if (rid)
        *rid = '\0';
    pthread_mutex_lock(&st->mu);
    item *it = find(st, f->id);
    int print = 1, repeats = 0;
    if (it) {
        if (it->retry_key && strcmp(it->retry_key, key) == 0) {
            it->retry_repeats++;
            print = 0;
        } else {
            repeats = it->retry_repeats;
            set_str(&it->retry_key, key);
            it->retry_repeats = 0;
        }
    }
    pthread_mutex_unlock(&st->mu);
    if (st->verbose && !st->tty && !st->json)
        print = 1, repeats = 0;
    if (st->tty || st->json || st->quiet || !print)
        return;
    char *disp = cli_display_text(label(f->path));
    if (repeats)
        fprintf(stderr, "%s: (the retry before was repeated %d more time%s)\n", disp ? disp : f->path, repeats,
                repeats == 1 ? "" : "s");
    fprintf(stderr, "%s: retrying (%s)\n", disp ? disp : f->path, key);
    free(disp);
}

static double seconds(const item *it)
{
    if (!it->started)
        return 0;
    struct timespec end = it->t_end;
    if (!it->ended)
        clock_gettime(CLOCK_MONOTONIC, &end);
    return (double)(end.tv_sec - it->t_start.tv_sec) + (double)(end.tv_nsec - it->t_start.tv_nsec) / 1e9;
}

/* The status word of the API: GetVideoInfo says UploadSucc for a video, GetImageInfo
 * Normal for an image. */
static const char *status_word(vodup_status s, vodup_media_type type)
{
    switch (s) {
    case VODUP_STATUS_SUCCESS: return type == VODUP_MEDIA_IMAGE ? "Normal" : "UploadSucc";
    case VODUP_STATUS_FAIL: return "Fail";
    case VODUP_STATUS_PAUSED:
    case VODUP_STATUS_PAUSING: return "Paused";
    case VODUP_STATUS_CANCELED: return "Canceled";
    case VODUP_STATUS_UPLOADING: return "Uploading";
    default: return "Init";
    }
}

/* The ErrorCode of a --json row when the service gave none: a word per libvodup error. */
/* The same file named twice (or through two paths: a link, ./x and x) would be one upload
 * twice over; libvodup refuses the second with VODUP_EEXIST. Say so once and keep the
 * first name. Returns how many names remain, compacted at the front of names. */
static int drop_duplicates(const char *cmd, char **names, int n)
{
    struct stat *seen = calloc((size_t)(n > 0 ? n : 1), sizeof *seen);
    int *ok = calloc((size_t)(n > 0 ? n : 1), sizeof *ok);
    int kept = 0;
    if (!seen || !ok) {
        free(seen);
        free(ok);
        return n;
    }
    for (int i = 0; i < n; i++) {
        int dup = -1;
        if (strcmp(names[i], "-") != 0 && stat(names[i], &seen[i]) == 0 && S_ISREG(seen[i].st_mode)) {
            ok[i] = 1;
            for (int j = 0; j < i && dup < 0; j++)
                if (ok[j] && seen[j].st_dev == seen[i].st_dev && seen[j].st_ino == seen[i].st_ino)
                    dup = j;
        }
        if (dup >= 0) {
            char *a = cli_display_text(names[i]), *b = cli_display_text(names[dup]);
            fprintf(stderr, "%s: %s is the same file as %s: uploading it once\n", cmd, a ? a : names[i],
                    b ? b : names[dup]);
            free(a);
            free(b);
            ok[i] = 0;
            continue;
        }
        seen[kept] = seen[i];
        ok[kept] = ok[i];
        names[kept++] = names[i];
    }
    free(seen);
    free(ok);
    return kept;
}

static const char *code_word(int err)
{
    switch (err) {
    case VODUP_EINVAL: return "InvalidArgument";
    case VODUP_ENOMEM: return "OutOfMemory";
    case VODUP_ENOENT: return "FileNotFound";
    case VODUP_EIO: return "IOError";
    case VODUP_ENETWORK: return "EndpointUnreachable";
    case VODUP_EAUTH: return "CredentialsRefused";
    case VODUP_EEXPIRED: return "CredentialsExpired";
    case VODUP_ECANCELED: return "Canceled";
    case VODUP_ECHANGED: return "FileChanged";
    case VODUP_ECHECKSUM: return "ChecksumMismatch";
    case VODUP_ENOAUTH: return "NoCredentials";
    case VODUP_EEXIST: return "AlreadyListed";
    case VODUP_ETIMEDOUT: return "TimedOut";
    default: return "ServerError";
    }
}

/* Says why an upload failed, in a sentence that names the problem, and a hint that fits
 * the cause: the service's Code when it gave one, the credentials the user actually
 * passed (AccessKey or --upload-auth). */
static void print_failure(upload_state *st, const item *it)
{
    const char *msg = it->message ? it->message : vodup_strerror(it->error);
    char *path = cli_display_text(label(it->path));
    const char *p = path ? path : it->path;
    int status = 0;
    char code[128];
    cli_http_error(msg, &status, code, sizeof code);
    const char *action = strstr(msg, "CreateUploadImage") ? "CreateUploadImage"
                         : strstr(msg, "CreateUploadVideo") ? "CreateUploadVideo"
                                                            : "the upload";
    if (it->error != VODUP_ENETWORK && status && cli_not_vod(status, code) && strncmp(msg, "Create", 6) == 0) {
        cli_print_not_vod(p, st->endpoint, st->endpoint_from, status, action);
        free(path);
        return;
    }
    switch (it->error) {
    case VODUP_ENETWORK:
        fprintf(stderr, "%s: upload failed: cannot reach %s: %s\n", p, st->endpoint, msg);
        break;
    case VODUP_EAUTH:
        fprintf(stderr, "%s: upload failed: credentials refused by %s: %s\n", p, st->endpoint, msg);
        break;
    case VODUP_EIO:
        fprintf(stderr, "%s: upload failed: reading the file or writing its resume record failed: %s\n", p, msg);
        break;
    default:
        fprintf(stderr, "%s: upload failed: %s\n", p, msg);
    }
    const char *hint = cli_error_hint(it->error, st->upload_auth != NULL);
    if (strcmp(code, "IllegalCharacters") == 0 || strcmp(code, "LengthExceededMax") == 0) {
        const char *field = strstr(msg, "Title") ? "--title" : strstr(msg, "Description") ? "--description"
                            : strstr(msg, "Tags")  ? "--tags"
                                                   : NULL;
        if (field && strcmp(field, "--title") == 0 && !st->user_title)
            hint = "the file's name, the default title, was refused: give a title with --title";
        else if (strcmp(code, "IllegalCharacters") == 0)
            hint = field && strcmp(field, "--title") == 0
                       ? "the service refuses emoji and other 4-byte characters in a title: choose another --title"
                       : "the service refuses emoji and other 4-byte characters: change --description or --tags";
        else
            hint = field && strcmp(field, "--title") == 0 ? "titles are at most 128 characters: shorten --title"
                                                          : "shorten --description (1024) or --tags (16 of 32)";
    }
    if (status == 507)
        hint = "the server's storage is full: the parts stored so far are kept; free space there and run the "
               "same command again to resume";
    if (hint)
        fprintf(stderr, "%s: %s\n", p, hint);
    free(path);
}

static void print_result(upload_state *st, item *it)
{
    int ok = it->status == VODUP_STATUS_SUCCESS;
    const char *id_field = st->type == VODUP_MEDIA_IMAGE ? "ImageId" : "VideoId";
    if (st->json) {
        json_t *o = json_pack("{s:s,s:s,s:I,s:I,s:f}", "File", label(it->path), "Status", status_word(it->status, st->type),
                              "Size", (json_int_t)it->size, "BytesSent", (json_int_t)it->bytes_sent, "Seconds",
                              seconds(it));
        /* No VideoId when the failure came before CreateUploadVideo answered. */
        if (o && it->media_id)
            json_object_set_new(o, id_field, json_string(it->media_id));
        if (o && it->bucket && it->object_key) {
            json_object_set_new(o, "Bucket", json_string(it->bucket));
            json_object_set_new(o, "Object", json_string(it->object_key));
        }
        if (o && !ok) {
            int status = 0;
            char code[128];
            const char *msg = it->message ? it->message : vodup_strerror(it->error ? it->error : VODUP_ESERVER);
            if (!it->code && cli_http_error(msg, &status, code, sizeof code) == 0 && code[0])
                set_str(&it->code, code);
            json_object_set_new(o, "ErrorCode",
                                json_string(it->code ? it->code
                                            : it->status == VODUP_STATUS_PAUSED ? "Interrupted"
                                                                                : code_word(it->error)));
            json_object_set_new(o, "Error", json_string(it->status == VODUP_STATUS_PAUSED && !it->message
                                                            ? "interrupted: run the same command again to resume"
                                                            : msg));
        }
        if (o) {
            /* Millisecond precision is plenty for Seconds, and keeps 0.1 from printing
             * as 0.10000000000000001. */
            json_dumpf(o, stdout, JSON_COMPACT | JSON_REAL_PRECISION(6));
            putchar('\n');
            fflush(stdout);
        }
        json_decref(o);
    } else if (ok) {
        char sz[32], sent[32];
        char *path = cli_display_text(label(it->path));
        if (st->s3)
            printf("%s: uploaded to s3://%s/%s (%s, %s sent in %.1f s)\n", path ? path : it->path, st->s3->bucket,
                   st->s3->key, cli_human_bytes(sz, sizeof sz, (double)it->size),
                   cli_human_bytes(sent, sizeof sent, (double)it->bytes_sent), seconds(it));
        else
            printf("%s: uploaded, %s %s (%s, %s sent in %.1f s)\n", path ? path : it->path, id_field,
                   it->media_id ? it->media_id : "?", cli_human_bytes(sz, sizeof sz, (double)it->size),
                   cli_human_bytes(sent, sizeof sent, (double)it->bytes_sent), seconds(it));
        free(path);
        fflush(stdout);
    }
    if (it->retry_repeats && !st->tty && !st->json && !st->quiet && !st->verbose) {
        char *path = cli_display_text(label(it->path));
        fprintf(stderr, "%s: (the last retry was repeated %d more time%s)\n", path ? path : it->path,
                it->retry_repeats, it->retry_repeats == 1 ? "" : "s");
        free(path);
    }
    if (it->status == VODUP_STATUS_FAIL || it->status == VODUP_STATUS_CANCELED)
        print_failure(st, it);
}

/* Prints what happened since the last call. Main thread. On a terminal, results wait
 * for the end (the bars show them meanwhile), or they would tear the bars apart. */
static void report(upload_state *st, int final)
{
    if (st->tty && !final)
        return;
    pthread_mutex_lock(&st->mu);
    for (int i = 0; i < st->n; i++) {
        item *it = &st->items[i];
        if (it->ended && !it->end_reported) {
            it->end_reported = 1;
            print_result(st, it);
        }
    }
    pthread_mutex_unlock(&st->mu);
}

/* Creates the record dir and proves it writable, so that a read-only or full disk is
 * named now rather than as an obscure failure halfway through. */
static int check_record_dir(const char *dir, const char *cmd)
{
    if (cli_mkdirs(dir) != 0) {
        fprintf(stderr, "%s: cannot create the record dir %s: %s (choose another with --record-dir DIR or "
                        "record_dir in the config file)\n",
                cmd, dir, strerror(errno));
        return -1;
    }
    size_t n = strlen(dir) + 32;
    char *probe = malloc(n);
    if (!probe)
        return -1;
    snprintf(probe, n, "%s/.probe-XXXXXX", dir);
    int fd = mkstemp(probe);
    int ok = fd >= 0 && write(fd, "x", 1) == 1 && fsync(fd) == 0;
    int e = errno;
    if (fd >= 0) {
        close(fd);
        unlink(probe);
    }
    free(probe);
    if (!ok) {
        fprintf(stderr, "%s: the record dir %s is not writable: %s (choose another with --record-dir DIR or "
                        "record_dir in the config file)\n",
                cmd, dir, strerror(e));
        return -1;
    }
    return 0;
}

/* A --json row for a file that failed before its upload could start. */
static void json_fail_row(const char *path, uint64_t size, const char *code, const char *msg)
{
    json_t *o = json_pack("{s:s,s:s,s:I,s:I,s:f,s:s,s:s}", "File", path, "Status", "Fail", "Size", (json_int_t)size,
                          "BytesSent", (json_int_t)0, "Seconds", 0.0, "ErrorCode", code, "Error", msg);
    if (o) {
        json_dumpf(o, stdout, JSON_COMPACT | JSON_REAL_PRECISION(6));
        putchar('\n');
        fflush(stdout);
    }
    json_decref(o);
}

/* The same failure for every file: a sentence on stderr and, with --json, a row each. */
static void fail_all(int json, char **files, int n, const char *code, const char *msg)
{
    if (!json)
        return;
    for (int i = 0; i < n; i++) {
        struct stat sb;
        json_fail_row(label(files[i]), stat(files[i], &sb) == 0 ? (uint64_t)sb.st_size : 0, code, msg);
    }
}

/* The title the service gets when the user gave none: the file's name, less what
 * CreateUploadVideo/CreateUploadImage refuse (4-byte UTF-8 such as emoji, control
 * characters, bytes that are not UTF-8) and cut to 128 characters. Caller frees. */
#define TITLE_MAX_CHARS 128
static char *default_title(const char *path)
{
    const char *base = strrchr(path, '/');
    base = base && base[1] ? base + 1 : path;
    size_t n = strlen(base);
    char *t = malloc(n + 1);
    if (!t)
        return NULL;
    size_t o = 0, chars = 0;
    const unsigned char *p = (const unsigned char *)base;
    while (*p && chars < TITLE_MAX_CHARS) {
        int len = *p < 0x80 ? 1 : (*p & 0xE0) == 0xC0 ? 2 : (*p & 0xF0) == 0xE0 ? 3 : (*p & 0xF8) == 0xF0 ? 4 : 0;
        int valid = len > 0;
        for (int k = 1; valid && k < len; k++)
            valid = (p[k] & 0xC0) == 0x80;
        if (!valid) {
            p++;
            continue;
        }
        if (len == 4 || (len == 1 && (*p < 0x20 || *p == 0x7f))) {
            /* Emoji and other 4-byte characters, control characters: dropped, with the
             * spaces around them collapsed so "clip 🎬 final" becomes "clip final". */
            p += len;
            while (*p == ' ' && o > 0 && t[o - 1] == ' ')
                p++;
            continue;
        }
        /* Variation selectors and zero-width joiners left behind by a dropped emoji. */
        if (len == 3 && ((p[0] == 0xEF && p[1] == 0xB8 && p[2] >= 0x80 && p[2] <= 0x8F) ||
                         (p[0] == 0xE2 && p[1] == 0x80 && p[2] == 0x8D))) {
            p += len;
            continue;
        }
        memcpy(t + o, p, (size_t)len);
        o += (size_t)len;
        p += len;
        chars++;
    }
    while (o > 0 && t[o - 1] == ' ')
        o--;
    t[o] = '\0';
    if (!*t) {
        free(t);
        return strdup("untitled");
    }
    return t;
}

/* Image upload: the bytes must be the image type the extension names (the service
 * takes the type from the extension, PNG without one), so that a video or a document
 * sent by mistake is refused before an ImageId is created for it. 0, or -1 with why. */
static int check_image(const char *path, char *why, size_t n)
{
    unsigned char h[16];
    memset(h, 0, sizeof h);
    FILE *f = fopen(path, "rb");
    size_t got = f ? fread(h, 1, sizeof h, f) : 0;
    if (f)
        fclose(f);
    const char *is = NULL;
    if (got >= 8 && memcmp(h, "\x89PNG\r\n\x1a\n", 8) == 0)
        is = "png";
    else if (got >= 3 && h[0] == 0xFF && h[1] == 0xD8 && h[2] == 0xFF)
        is = "jpeg";
    else if (got >= 6 && (memcmp(h, "GIF87a", 6) == 0 || memcmp(h, "GIF89a", 6) == 0))
        is = "gif";
    const char *base = strrchr(path, '/');
    const char *dot = strrchr(base ? base + 1 : path, '.');
    const char *want = "png";
    if (dot && (strcasecmp(dot + 1, "jpg") == 0 || strcasecmp(dot + 1, "jpeg") == 0))
        want = "jpeg";
    else if (dot && strcasecmp(dot + 1, "gif") == 0)
        want = "gif";
    else if (dot && strcasecmp(dot + 1, "png") != 0) {
        snprintf(why, n, "not an image file name: images must end in .png, .jpg, .jpeg or .gif");
        return -1;
    }
    if (is && strcmp(is, want) == 0)
        return 0;
    const char *looks = is                                            ? is
                        : got >= 8 && memcmp(h + 4, "ftyp", 4) == 0   ? "an MP4/MOV video"
                        : got >= 4 && memcmp(h, "\x1a\x45\xdf\xa3", 4) == 0 ? "a Matroska/WebM video"
                        : got >= 4 && memcmp(h, "%PDF", 4) == 0       ? "a PDF document"
                        : got == 0                                    ? "empty"
                                                                      : "not a PNG, JPEG or GIF image";
    snprintf(why, n, "the file is %s%s, but its name says %s: image upload takes PNG, JPEG and GIF files whose "
             "contents match the extension",
             is ? "a " : "", is ? (strcmp(is, "jpeg") == 0 ? "JPEG image" : strcmp(is, "gif") == 0 ? "GIF image" : "PNG image") : looks,
             strcmp(want, "jpeg") == 0 ? "JPEG" : strcmp(want, "gif") == 0 ? "GIF" : "PNG");
    return -1;
}

/* --recursive: the files under the directory arguments. nftw has no user pointer, hence
 * one static list (freed at exit; the CLI runs one command). */
#define MAX_GLOBS 16
#define WALK_FDS 32 /* directories nftw may hold open */
static struct {
    char **files;
    int n, cap, oom;
    const char *globs[MAX_GLOBS];
    int nglobs;
} walk;

static void walk_free(void)
{
    for (int i = 0; i < walk.n; i++)
        free(walk.files[i]);
    free(walk.files);
    memset(&walk, 0, sizeof walk);
}

static int walk_add(const char *path)
{
    if (walk.n == walk.cap) {
        int cap = walk.cap ? walk.cap * 2 : 64;
        char **f = realloc(walk.files, (size_t)cap * sizeof *f);
        if (!f)
            return -1;
        walk.files = f;
        walk.cap = cap;
    }
    if (!(walk.files[walk.n] = strdup(path)))
        return -1;
    walk.n++;
    return 0;
}

static int walk_one(const char *path, const struct stat *sb, int flag, struct FTW *ftw)
{
    (void)sb;
    if (flag != FTW_F)
        return 0; /* directories; symlinks are not followed (FTW_PHYS): no loops */
    int match = walk.nglobs == 0;
    for (int i = 0; i < walk.nglobs && !match; i++)
        match = fnmatch(walk.globs[i], path + ftw->base, 0) == 0;
    if (match && walk_add(path) != 0) {
        walk.oom = 1;
        return 1;
    }
    return 0;
}

static int cmp_str(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

static int expand_dirs(const char *cmd, char **args, int n)
{
    atexit(walk_free);
    for (int i = 0; i < n; i++) {
        struct stat sb;
        if (stat(args[i], &sb) != 0 || !S_ISDIR(sb.st_mode)) {
            /* Files (and missing paths, named by the checks after) are kept as given. */
            if (walk_add(args[i]) != 0)
                walk.oom = 1;
            continue;
        }
        int first = walk.n;
        if (nftw(args[i], walk_one, WALK_FDS, FTW_PHYS) != 0 && !walk.oom) {
            fprintf(stderr, "%s: cannot read the directory %s: %s\n", cmd, args[i], strerror(errno));
            return -1;
        }
        qsort(walk.files + first, (size_t)(walk.n - first), sizeof *walk.files, cmp_str);
    }
    if (walk.oom)
        fprintf(stderr, "%s: out of memory listing the files\n", cmd);
    return walk.oom ? -1 : 0;
}

int cmd_upload(int argc, char **argv, vodup_media_type type)
{
    return cli_upload_run(argc, argv, type, type == VODUP_MEDIA_IMAGE ? "vodup image upload" : "vodup upload",
                          type == VODUP_MEDIA_IMAGE ? USAGE_IMAGE_UPLOAD : USAGE_UPLOAD, NULL);
}

int cli_upload_run(int argc, char **argv, vodup_media_type type, const char *cmd, const char *usage,
                   const vodup_s3_target *s3)
{
    enum { O_TITLE = 1, O_DESC, O_TAGS, O_CATE, O_PAR, O_PART, O_RATE, O_REC, O_JSON, O_ADDR, O_AUTH, O_VID, O_INCL,
           O_SIZE, O_NAME };
    static const struct option opts[] = {CLI_COMMON_OPTIONS,
                                         {"title", required_argument, NULL, O_TITLE},
                                         {"description", required_argument, NULL, O_DESC},
                                         {"tags", required_argument, NULL, O_TAGS},
                                         {"cate-id", required_argument, NULL, O_CATE},
                                         {"parallel", required_argument, NULL, O_PAR},
                                         {"part-size", required_argument, NULL, O_PART},
                                         {"limit-rate", required_argument, NULL, O_RATE},
                                         {"record-dir", required_argument, NULL, O_REC},
                                         {"json", no_argument, NULL, O_JSON},
                                         {"recursive", no_argument, NULL, 'r'},
                                         {"size", required_argument, NULL, O_SIZE},
                                         {"stdin-name", required_argument, NULL, O_NAME},
                                         {"include", required_argument, NULL, O_INCL},
                                         {"quiet", no_argument, NULL, 'q'},
                                         {"verbose", no_argument, NULL, 'v'},
                                         {"upload-address", required_argument, NULL, O_ADDR},
                                         {"upload-auth", required_argument, NULL, O_AUTH},
                                         {"video-id", required_argument, NULL, O_VID},
                                         {NULL, 0, NULL, 0}};
    cli_flags flags = cli_global_flags;
    vodup_vod_info info = VODUP_VOD_INFO_INIT;
    vodup_options vo = VODUP_OPTIONS_INIT;
    const char *record_dir = NULL;
    upload_state st;
    memset(&st, 0, sizeof st);
    st.type = type;
    int c;
    long long v;
    int recursive = 0;
    uint64_t stdin_size = 0;
    const char *stdin_name = NULL;
    while ((c = getopt_long(argc, argv, ":hrqv", opts, NULL)) != -1) {
        if (cli_flags_take(&flags, c, optarg))
            continue;
        switch (c) {
        case 'h': return cli_usage(usage, 1);
        case 'r': recursive = 1; break;
        case 'q': st.quiet = 1; st.verbose = 0; break;
        case 'v': st.verbose = 1; st.quiet = 0; break;
        case O_SIZE:
            if (cli_parse_size(optarg, &stdin_size) != 0 || stdin_size == 0)
                return cli_bad_usage(cmd, usage, "--size must be a size in bytes (k/M/G suffixes), not '%s'", optarg);
            break;
        case O_NAME:
            if (!*optarg || strchr(optarg, '/'))
                return cli_bad_usage(cmd, usage, "--stdin-name must be a file name (no '/'), not '%s'", optarg);
            stdin_name = optarg;
            break;
        case O_INCL:
            if (walk.nglobs == MAX_GLOBS)
                return cli_bad_usage(cmd, usage, "at most %d --include patterns", MAX_GLOBS);
            walk.globs[walk.nglobs++] = optarg;
            break;
        case O_TITLE: info.title = optarg; break;
        case O_DESC: info.description = optarg; break;
        case O_TAGS: info.tags = optarg; break;
        case O_CATE:
            if (cli_parse_long(optarg, 0, 0x7fffffffffffLL, &v) != 0)
                return cli_bad_usage(cmd, usage, "--cate-id must be a number, not '%s'", optarg);
            info.cate_id = v;
            break;
        case O_PAR:
            if (cli_parse_long(optarg, 1, 32, &v) != 0)
                return cli_bad_usage(cmd, usage, "--parallel must be 1..32, not '%s'", optarg);
            vo.parallel = (int)v;
            break;
        case O_PART:
            if (cli_parse_size(optarg, &vo.part_size) != 0 || vo.part_size < 100 * 1024 ||
                vo.part_size > 5ULL * 1024 * 1024 * 1024)
                return cli_bad_usage(cmd, usage, "--part-size must be a size from 100k to 5G, not '%s'", optarg);
            break;
        case O_RATE:
            if (cli_parse_size(optarg, &vo.limit_rate) != 0 || vo.limit_rate == 0)
                return cli_bad_usage(cmd, usage, "--limit-rate must be bytes per second (e.g. 500k), not '%s'",
                                     optarg);
            break;
        case O_REC: record_dir = optarg; break;
        case O_JSON: st.json = 1; break;
        case O_ADDR: st.upload_address = optarg; break;
        case O_AUTH: st.upload_auth = optarg; break;
        case O_VID: st.video_id = optarg; break;
        default: return cli_bad_option(cmd, usage, argv, c);
        }
    }
    if (optind >= argc)
        return cli_bad_usage(cmd, usage, "which files? give at least one");
    if (walk.nglobs && !recursive)
        return cli_bad_usage(cmd, usage, "--include selects files in directories: add --recursive");
    int dashes = 0;
    for (int i = optind; i < argc; i++)
        dashes += strcmp(argv[i], "-") == 0;
    if (dashes > 1)
        return cli_bad_usage(cmd, usage, "standard input (-) can be given once");
    if ((stdin_size || stdin_name) && !dashes)
        return cli_bad_usage(cmd, usage, "--size and --stdin-name are for standard input (-)");
    if (dashes && flags.access_key_secret && strcmp(flags.access_key_secret, "-") == 0)
        return cli_bad_usage(cmd, usage, "standard input cannot hold both the file and the secret "
                                         "(use --access-key-secret-file)");
    if (dashes) {
        uint64_t got = 0;
        if (spool_stdin(cmd, stdin_name ? stdin_name : type == VODUP_MEDIA_IMAGE ? "stdin.png" : "stdin.mp4",
                        stdin_size, &got) != 0)
            return EXIT_FAILED;
        for (int i = optind; i < argc; i++)
            if (strcmp(argv[i], "-") == 0)
                argv[i] = spool.path;
    }
    /* From here on argv/argc are the files: the arguments, with the directories replaced
     * by the files under them when --recursive. */
    if (recursive) {
        if (expand_dirs(cmd, argv + optind, argc - optind) != 0)
            return EXIT_FAILED;
        if (walk.n == 0) {
            fprintf(stderr, "%s: no files to upload%s\n", cmd, walk.nglobs ? " (none matches --include)" : "");
            return EXIT_FAILED;
        }
        argv = walk.files;
        argc = walk.n;
        optind = 0;
    }
    int auth_mode = st.upload_address || st.upload_auth || st.video_id;
    if (s3 && (auth_mode || info.title || info.description || info.tags || info.cate_id >= 0 || recursive))
        return cli_bad_usage(cmd, usage, "the VOD options (--title, --upload-auth, --recursive...) are not for S3");
    if (s3 && argc - optind != 1)
        return cli_bad_usage(cmd, usage, "give one FILE and its s3://BUCKET/KEY");
    /* S3's endpoint and keys: the common flags, else the AWS tools' variables (never the
     * VODUP_* ones: those are a VOD service's). */
    vodup_s3_target s3t;
    if (s3) {
        s3t = *s3;
        s3t.endpoint = flags.endpoint ? flags.endpoint : getenv("AWS_ENDPOINT_URL");
        s3t.access_key_id = flags.access_key_id ? flags.access_key_id : getenv("AWS_ACCESS_KEY_ID");
        s3t.secret_access_key = flags.access_key_secret ? flags.access_key_secret : getenv("AWS_SECRET_ACCESS_KEY");
        s3t.session_token = flags.security_token ? flags.security_token : getenv("AWS_SESSION_TOKEN");
        if (!s3t.endpoint || !*s3t.endpoint)
            return cli_bad_usage(cmd, usage, "which S3 store? give --endpoint URL (or AWS_ENDPOINT_URL)");
        if (strncmp(s3t.endpoint, "http://", 7) != 0 && strncmp(s3t.endpoint, "https://", 8) != 0)
            return cli_bad_usage(cmd, usage, "--endpoint must start with http:// or https://, not '%s'", s3t.endpoint);
        if (!s3t.access_key_id || !*s3t.access_key_id || !s3t.secret_access_key || !*s3t.secret_access_key)
            return cli_bad_usage(cmd, usage, "no S3 keys: set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY (or give "
                                             "--access-key-id and --access-key-secret)");
        s3 = &s3t;
    }
    st.s3 = s3;
    if (auth_mode && !(st.upload_address && st.upload_auth && st.video_id))
        return cli_bad_usage(cmd, usage, "--upload-address, --upload-auth and --video-id go together");
    if (auth_mode && argc - optind != 1)
        return cli_bad_usage(cmd, usage, "--upload-auth credentials are for one file only");
    st.user_title = info.title != NULL;

    /* Every file must be there before anything starts: a typo should not leave half a
     * batch uploaded. */
    int missing = 0;
    for (int i = optind; i < argc; i++) {
        struct stat sb;
        char why[512];
        const char *code = NULL;
        char *disp = cli_display_text(label(argv[i]));
        if (stat(argv[i], &sb) != 0) {
            snprintf(why, sizeof why, "%s", errno == ENOENT ? "no such file" : strerror(errno));
            code = "FileNotFound";
        } else if (S_ISDIR(sb.st_mode)) {
            snprintf(why, sizeof why, "is a directory (--recursive uploads the files in it)");
            code = "NotAFile";
        } else if (!S_ISREG(sb.st_mode)) {
            snprintf(why, sizeof why, "not a regular file");
            code = "NotAFile";
        } else if (access(argv[i], R_OK) != 0) {
            snprintf(why, sizeof why, "cannot read: %s", strerror(errno));
            code = "FileUnreadable";
        } else if (type == VODUP_MEDIA_IMAGE && check_image(argv[i], why, sizeof why) != 0) {
            code = "NotAnImage";
        }
        if (code) {
            fprintf(stderr, "%s: %s: %s\n", cmd, disp ? disp : argv[i], why);
            if (st.json)
                json_fail_row(label(argv[i]), stat(argv[i], &sb) == 0 ? (uint64_t)sb.st_size : 0, code, why);
            missing = 1;
        }
        free(disp);
    }
    if (missing)
        return EXIT_FAILED;

    cli_config cfg;
    int rc = cli_config_load(&cfg, &flags);
    if (rc == EXIT_OK && !auth_mode && !s3)
        rc = cli_config_require(&cfg, cmd);
    if (rc != EXIT_OK) {
        fail_all(st.json, argv + optind, argc - optind, "ConfigurationError",
                 "the configuration is incomplete or unreadable (see stderr)");
        cli_config_free(&cfg);
        return rc;
    }
    if (!auth_mode || s3) {
        /* Nothing listening at the endpoint is said now, not after the retries that are
         * there for networks failing mid-upload. */
        char why[512];
        const char *probe = s3 ? s3->endpoint : cfg.endpoint;
        if (cli_probe(probe, why, sizeof why) != 0) {
            fprintf(stderr, "%s: cannot reach the %s endpoint %s (from %s): %s\n%s: %s\n", cmd, s3 ? "S3" : "VOD",
                    probe, s3 ? "--endpoint" : cfg.endpoint_from ? cfg.endpoint_from : "?", why, cmd,
                    cli_error_hint(VODUP_ENETWORK, 0));
            char msg[1024];
            snprintf(msg, sizeof msg, "cannot reach the %s endpoint %s: %s", s3 ? "S3" : "VOD", probe, why);
            fail_all(st.json, argv + optind, argc - optind, "EndpointUnreachable", msg);
            cli_config_free(&cfg);
            return EXIT_FAILED;
        }
    }
    char *default_rec = NULL;
    if (!record_dir)
        record_dir = cfg.record_dir ? cfg.record_dir : (default_rec = cli_default_record_dir());
    if (!record_dir || check_record_dir(record_dir, cmd) != 0) {
        fail_all(st.json, argv + optind, argc - optind, "RecordDirUnwritable",
                 "the record dir cannot be created or written (see stderr)");
        free(default_rec);
        cli_config_free(&cfg);
        return EXIT_FAILED;
    }
    vo.record_dir = record_dir;
    vo.ca_file = cfg.ca_file;
    vo.user_agent = "vodup-cli/" VODUP_VERSION_STRING;

    argc = optind + drop_duplicates(cmd, argv + optind, argc - optind);
    st.n = argc - optind;
    st.items = calloc((size_t)st.n, sizeof *st.items);
    st.tty = isatty(STDERR_FILENO) && !st.quiet;
    st.endpoint = s3 ? s3->endpoint : cfg.endpoint && !auth_mode ? cfg.endpoint : "the upload address";
    int cfg_ep = !auth_mode && !s3;   /* the endpoint came from the configuration */
    if (st.verbose)
        fprintf(stderr, "%s: %d file%s to %s%s%s%s, resume records in %s\n", cmd, st.n, st.n == 1 ? "" : "s",
                st.endpoint, cfg_ep ? " (from " : "", cfg_ep ? (cfg.endpoint_from ? cfg.endpoint_from : "?") : "",
                cfg_ep ? ")" : "", record_dir);
    st.endpoint_from = cfg.endpoint_from;
    st.progress = cli_progress_new(st.n, stderr, st.tty);
    cli_progress_set_limit(st.progress, vo.limit_rate);
    pthread_mutex_init(&st.mu, NULL);

    vodup_listener l = VODUP_LISTENER_INIT;
    l.on_upload_started = cb_started;
    l.on_upload_progress = cb_progress;
    l.on_upload_succeed = cb_succeed;
    l.on_upload_failed = cb_failed;
    l.on_upload_token_expired = cb_token_expired;
    l.on_upload_retry = cb_retry;
    l.user = &st;

    vodup_client *client = NULL;
    rc = EXIT_FAILED;
    int err = st.items && st.progress ? vodup_client_new(&client, &vo, &l) : VODUP_ENOMEM;
    if (err != VODUP_OK) {
        fprintf(stderr, "%s: cannot start the upload client: %s%s%s\n", cmd, vodup_strerror(err),
                err == VODUP_EIO ? " (record dir " : "", err == VODUP_EIO ? record_dir : "");
        if (err == VODUP_EIO)
            fputs(")\n", stderr);
        fail_all(st.json, argv + optind, argc - optind, code_word(err), vodup_strerror(err));
        goto out;
    }
    err = auth_mode || s3 ? vodup_client_use_upload_auth(client)
                    : vodup_client_use_sts(client, cfg.endpoint, cfg.access_key_id, cfg.access_key_secret,
                                           cfg.security_token);
    if (err != VODUP_OK) {
        fprintf(stderr, "%s: cannot use endpoint %s: %s: %s\n", cmd, st.endpoint, vodup_strerror(err),
                vodup_client_last_error(client));
        fail_all(st.json, argv + optind, argc - optind, code_word(err), vodup_client_last_error(client));
        goto out;
    }
    /* Items are registered under the lock: callbacks may look them up as soon as the
     * first file starts. */
    pthread_mutex_lock(&st.mu);
    for (int i = 0; i < st.n; i++) {
        item *it = &st.items[i];
        it->path = argv[optind + i];
        it->id = -1;
        struct stat sb;
        it->size = stat(it->path, &sb) == 0 ? (uint64_t)sb.st_size : 0;
        if (!st.user_title) {
            it->title = default_title(it->path);
            info.title = it->title;
        }
        err = vodup_client_add_file(client, &it->id, it->path, type, &info);
        if (err != VODUP_OK) {
            char *disp = cli_display_text(label(it->path));
            fprintf(stderr, "%s: %s: %s\n", cmd, disp ? disp : it->path, vodup_client_last_error(client));
            free(disp);
            fail_all(st.json, argv + optind, argc - optind, code_word(err), vodup_client_last_error(client));
            pthread_mutex_unlock(&st.mu);
            goto out;
        }
        cli_progress_file(st.progress, i, it->path, it->size);
    }
    pthread_mutex_unlock(&st.mu);

    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_signal;
    /* A second Ctrl-C gets the default action: a way out if pausing ever hangs. */
    sa.sa_flags = SA_RESETHAND;
    sigemptyset(&sa.sa_mask);
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);

    err = vodup_client_start(client);
    if (err != VODUP_OK) {
        fprintf(stderr, "%s: cannot start: %s\n", cmd, vodup_client_last_error(client));
        fail_all(st.json, argv + optind, argc - optind, code_word(err), vodup_client_last_error(client));
        goto out;
    }
    for (;;) {
        int w = vodup_client_wait(client, WAIT_SLICE_MS);
        cli_progress_draw(st.progress, 0);
        report(&st, 0);
        /* ETIMEDOUT is the slice running out; anything else means waiting longer will not help. */
        if (w != VODUP_ETIMEDOUT)
            break;
        if (interrupted) {
            vodup_client_pause(client);
            break;
        }
    }
    int paused = 0;
    if (interrupted) {
        /* Whatever did not end is paused: record its state as libvodup sees it. */
        pthread_mutex_lock(&st.mu);
        for (int i = 0; i < st.n; i++) {
            item *it = &st.items[i];
            vodup_file_info *fi = NULL;
            if (it->ended || vodup_client_get_file(client, it->id, &fi) != VODUP_OK)
                continue;
            it->ended = 1;
            it->status = VODUP_STATUS_PAUSED;
            it->bytes_sent = fi->bytes_sent_this_run;
            if (fi->media_id)
                set_str(&it->media_id, fi->media_id);
            clock_gettime(CLOCK_MONOTONIC, &it->t_end);
            paused++;
            cli_progress_end(st.progress, i, "paused");
            vodup_file_info_free(fi);
        }
        pthread_mutex_unlock(&st.mu);
    } else {
        /* A file the list ended without a callback saying so (canceled, say) still gets
         * its row and its sentence: no file ends silently. */
        pthread_mutex_lock(&st.mu);
        for (int i = 0; i < st.n; i++) {
            item *it = &st.items[i];
            vodup_file_info *fi = NULL;
            if (it->ended || vodup_client_get_file(client, it->id, &fi) != VODUP_OK)
                continue;
            it->ended = 1;
            it->status = fi->status == VODUP_STATUS_SUCCESS ? VODUP_STATUS_SUCCESS : VODUP_STATUS_FAIL;
            it->bytes_sent = fi->bytes_sent_this_run;
            if (fi->media_id)
                set_str(&it->media_id, fi->media_id);
            if (it->status != VODUP_STATUS_SUCCESS) {
                it->error = fi->last_error ? fi->last_error : VODUP_ECANCELED;
                if (!it->message)
                    set_str(&it->message, vodup_strerror(it->error));
            }
            clock_gettime(CLOCK_MONOTONIC, &it->t_end);
            cli_progress_end(st.progress, i, it->status == VODUP_STATUS_SUCCESS ? "done" : "failed");
            vodup_file_info_free(fi);
        }
        pthread_mutex_unlock(&st.mu);
    }
    /* Frees the client first: it stops the transfers and writes the records, so the
     * message below is true when it prints. */
    vodup_client_free(client);
    client = NULL;
    cli_progress_finish(st.progress);
    report(&st, 1);

    int ok = 0;
    for (int i = 0; i < st.n; i++)
        ok += st.items[i].status == VODUP_STATUS_SUCCESS;
    if (interrupted) {
        fprintf(stderr,
                "%s: interrupted: %d file%s paused, progress saved in %s.\n"
                "%s: run the same command again to resume.\n",
                cmd, paused, paused == 1 ? "" : "s", record_dir, cmd);
        rc = EXIT_INTERRUPTED;
    } else {
        if (st.n > 1 && !st.json && !st.quiet)
            fprintf(stderr, "%s: %d of %d files uploaded\n", cmd, ok, st.n);
        rc = ok == st.n ? EXIT_OK : EXIT_FAILED;
    }

out:
    vodup_client_free(client);
    if (st.items) {
        for (int i = 0; i < st.n; i++) {
            free(st.items[i].media_id);
            free(st.items[i].message);
            free(st.items[i].bucket);
            free(st.items[i].object_key);
            free(st.items[i].code);
            free(st.items[i].title);
            free(st.items[i].retry_key);
        }
    }
    free(st.items);
    cli_progress_free(st.progress);
    pthread_mutex_destroy(&st.mu);
    free(default_rec);
    cli_config_free(&cfg);
    return rc;
}
