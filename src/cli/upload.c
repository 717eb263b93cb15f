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
#include <pthread.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "cli.h"

#define WAIT_SLICE_MS 100 /* how often the main thread looks at signals and redraws */

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
    "\n"
    "  --title T            title (default: the file's name)\n"
    "  --description D      description\n"
    "  --tags a,b           tags, comma-separated\n"
    "  --cate-id N          category id\n"
    "  --parallel N         parts in flight per file, 1..32 (default 4)\n"
    "  --part-size SIZE     part size, e.g. 1M, 8M (default: automatic; k/M/G suffixes)\n"
    "  --limit-rate RATE    at most RATE bytes per second overall, e.g. 500k, 2M\n"
    "  --record-dir DIR     resume records (default ~/.cache/vodup/records)\n"
    "  --json               one JSON object per file on stdout, one per line:\n"
    "                       {\"File\",\"VideoId\",\"Status\",\"Size\",\"BytesSent\",\"Seconds\",\"Error\"?}\n"
    "\n"
    "For scripts that got upload credentials from an application server (one file):\n"
    "  --upload-address B64 --upload-auth B64 --video-id ID   (as CreateUploadVideo returns them;\n"
    "                       no AccessKey needed)\n"
    "\n";

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
    struct timespec t_start, t_end;
} item;

typedef struct upload_state {
    pthread_mutex_t mu;
    item *items;
    int n;
    int json, tty;
    const char *endpoint;  /* for messages */
    cli_progress *progress;
    /* upload-auth mode */
    const char *upload_address, *upload_auth, *video_id;
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
    pthread_mutex_unlock(&st->mu);
    cli_progress_start(st->progress, idx);
    if (st->upload_auth) {
        int rc = vodup_client_set_upload_auth(c, f->id, st->upload_address, st->upload_auth, st->video_id);
        if (rc != VODUP_OK) {
            pthread_mutex_lock(&st->mu);
            if (it) {
                it->error = rc;
                set_str(&it->message, "--upload-address/--upload-auth do not decode (base64 of JSON expected)");
            }
            pthread_mutex_unlock(&st->mu);
            vodup_client_cancel_file(c, f->id);
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
    /* On a terminal the bars show that it stalls; elsewhere a line says why. */
    if (!st->tty && !st->json)
        fprintf(stderr, "%s: retrying (%s: %s)\n", f->path, vodup_strerror(code), message ? message : "");
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

static const char *status_word(vodup_status s)
{
    switch (s) {
    case VODUP_STATUS_SUCCESS: return "UploadSucc";
    case VODUP_STATUS_FAIL: return "Fail";
    case VODUP_STATUS_PAUSED:
    case VODUP_STATUS_PAUSING: return "Paused";
    case VODUP_STATUS_CANCELED: return "Canceled";
    case VODUP_STATUS_UPLOADING: return "Uploading";
    default: return "Init";
    }
}

/* Says why an upload failed, in a sentence that names the problem. */
static void print_failure(upload_state *st, const item *it)
{
    const char *msg = it->message ? it->message : vodup_strerror(it->error);
    switch (it->error) {
    case VODUP_ENETWORK:
        fprintf(stderr, "%s: upload failed: cannot reach %s: %s\n", it->path, st->endpoint, msg);
        break;
    case VODUP_EAUTH:
        fprintf(stderr, "%s: upload failed: credentials refused by %s: %s\n", it->path, st->endpoint, msg);
        break;
    case VODUP_EIO:
        fprintf(stderr, "%s: upload failed: reading the file or writing its resume record failed: %s\n", it->path,
                msg);
        break;
    default:
        fprintf(stderr, "%s: upload failed: %s\n", it->path, msg);
    }
    const char *hint = cli_error_hint(it->error);
    if (hint)
        fprintf(stderr, "%s: %s\n", it->path, hint);
}

static void print_result(upload_state *st, item *it)
{
    if (st->json) {
        json_t *o = json_pack("{s:s,s:s,s:I,s:I,s:f}", "File", it->path, "Status", status_word(it->status), "Size",
                              (json_int_t)it->size, "BytesSent", (json_int_t)it->bytes_sent, "Seconds", seconds(it));
        /* No VideoId when the failure came before CreateUploadVideo answered. */
        if (o && it->media_id)
            json_object_set_new(o, "VideoId", json_string(it->media_id));
        if (o && it->bucket && it->object_key) {
            json_object_set_new(o, "Bucket", json_string(it->bucket));
            json_object_set_new(o, "Object", json_string(it->object_key));
        }
        if (o && it->status != VODUP_STATUS_SUCCESS && it->message)
            json_object_set_new(o, "Error", json_string(it->message));
        if (o) {
            /* Millisecond precision is plenty for Seconds, and keeps 0.1 from printing
             * as 0.10000000000000001. */
            json_dumpf(o, stdout, JSON_COMPACT | JSON_REAL_PRECISION(6));
            putchar('\n');
            fflush(stdout);
        }
        json_decref(o);
    } else if (it->status == VODUP_STATUS_SUCCESS) {
        char sz[32], sent[32];
        printf("%s: uploaded, VideoId %s (%s, %s sent in %.1f s)\n", it->path, it->media_id ? it->media_id : "?",
               cli_human_bytes(sz, sizeof sz, (double)it->size), cli_human_bytes(sent, sizeof sent, (double)it->bytes_sent),
               seconds(it));
        fflush(stdout);
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
        if (it->started && !it->start_reported) {
            it->start_reported = 1;
            if (!st->tty) {
                char sz[32];
                fprintf(stderr, "%s: uploading %s\n", it->path, cli_human_bytes(sz, sizeof sz, (double)it->size));
            }
        }
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

int cmd_upload(int argc, char **argv, vodup_media_type type)
{
    const char *cmd = type == VODUP_MEDIA_IMAGE ? "vodup image upload" : "vodup upload";
    enum { O_TITLE = 1, O_DESC, O_TAGS, O_CATE, O_PAR, O_PART, O_RATE, O_REC, O_JSON, O_ADDR, O_AUTH, O_VID };
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
    int c;
    long long v;
    while ((c = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
        if (cli_flags_take(&flags, c, optarg))
            continue;
        switch (c) {
        case 'h': return cli_usage(USAGE_UPLOAD, 1);
        case O_TITLE: info.title = optarg; break;
        case O_DESC: info.description = optarg; break;
        case O_TAGS: info.tags = optarg; break;
        case O_CATE:
            if (cli_parse_long(optarg, 0, 0x7fffffffffffLL, &v) != 0)
                return cli_bad_usage(cmd, USAGE_UPLOAD, "--cate-id must be a number, not '%s'", optarg);
            info.cate_id = v;
            break;
        case O_PAR:
            if (cli_parse_long(optarg, 1, 32, &v) != 0)
                return cli_bad_usage(cmd, USAGE_UPLOAD, "--parallel must be 1..32, not '%s'", optarg);
            vo.parallel = (int)v;
            break;
        case O_PART:
            if (cli_parse_size(optarg, &vo.part_size) != 0 || vo.part_size < 100 * 1024 ||
                vo.part_size > 5ULL * 1024 * 1024 * 1024)
                return cli_bad_usage(cmd, USAGE_UPLOAD, "--part-size must be a size from 100k to 5G, not '%s'", optarg);
            break;
        case O_RATE:
            if (cli_parse_size(optarg, &vo.limit_rate) != 0 || vo.limit_rate == 0)
                return cli_bad_usage(cmd, USAGE_UPLOAD, "--limit-rate must be bytes per second (e.g. 500k), not '%s'",
                                     optarg);
            break;
        case O_REC: record_dir = optarg; break;
        case O_JSON: st.json = 1; break;
        case O_ADDR: st.upload_address = optarg; break;
        case O_AUTH: st.upload_auth = optarg; break;
        case O_VID: st.video_id = optarg; break;
        default: return cli_bad_usage(cmd, USAGE_UPLOAD, "unsupported option '%s'", argv[optind - 1]);
        }
    }
    if (optind >= argc)
        return cli_bad_usage(cmd, USAGE_UPLOAD, "which files? give at least one");
    int auth_mode = st.upload_address || st.upload_auth || st.video_id;
    if (auth_mode && !(st.upload_address && st.upload_auth && st.video_id))
        return cli_bad_usage(cmd, USAGE_UPLOAD, "--upload-address, --upload-auth and --video-id go together");
    if (auth_mode && argc - optind != 1)
        return cli_bad_usage(cmd, USAGE_UPLOAD, "--upload-auth credentials are for one file only");

    /* Every file must be there before anything starts: a typo should not leave half a
     * batch uploaded. */
    int missing = 0;
    for (int i = optind; i < argc; i++) {
        struct stat sb;
        if (stat(argv[i], &sb) != 0) {
            fprintf(stderr, "%s: %s: %s\n", cmd, argv[i], errno == ENOENT ? "no such file" : strerror(errno));
            missing = 1;
        } else if (!S_ISREG(sb.st_mode)) {
            fprintf(stderr, "%s: %s: not a regular file\n", cmd, argv[i]);
            missing = 1;
        } else if (access(argv[i], R_OK) != 0) {
            fprintf(stderr, "%s: %s: cannot read: %s\n", cmd, argv[i], strerror(errno));
            missing = 1;
        }
    }
    if (missing)
        return EXIT_FAILED;

    cli_config cfg;
    int rc = cli_config_load(&cfg, &flags);
    if (rc == EXIT_OK && !auth_mode)
        rc = cli_config_require(&cfg, cmd);
    if (rc != EXIT_OK) {
        cli_config_free(&cfg);
        return rc;
    }
    char *default_rec = NULL;
    if (!record_dir)
        record_dir = cfg.record_dir ? cfg.record_dir : (default_rec = cli_default_record_dir());
    if (!record_dir || check_record_dir(record_dir, cmd) != 0) {
        free(default_rec);
        cli_config_free(&cfg);
        return EXIT_FAILED;
    }
    vo.record_dir = record_dir;
    vo.user_agent = "vodup-cli/" VODUP_VERSION_STRING;

    st.n = argc - optind;
    st.items = calloc((size_t)st.n, sizeof *st.items);
    st.tty = isatty(STDERR_FILENO);
    st.endpoint = cfg.endpoint ? cfg.endpoint : "the upload address";
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
        goto out;
    }
    err = auth_mode ? vodup_client_use_upload_auth(client)
                    : vodup_client_use_sts(client, cfg.endpoint, cfg.access_key_id, cfg.access_key_secret,
                                           cfg.security_token);
    if (err != VODUP_OK) {
        fprintf(stderr, "%s: cannot use endpoint %s: %s: %s\n", cmd, st.endpoint, vodup_strerror(err),
                vodup_client_last_error(client));
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
        err = vodup_client_add_file(client, &it->id, it->path, type, &info);
        if (err != VODUP_OK) {
            fprintf(stderr, "%s: %s: %s\n", cmd, it->path, vodup_client_last_error(client));
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
        goto out;
    }
    for (;;) {
        int w = vodup_client_wait(client, WAIT_SLICE_MS);
        cli_progress_draw(st.progress, 0);
        report(&st, 0);
        /* ESTATE is the timeout; anything else means waiting longer will not help. */
        if (w != VODUP_ESTATE)
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
        if (st.n > 1 && !st.json)
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
        }
    }
    free(st.items);
    cli_progress_free(st.progress);
    pthread_mutex_destroy(&st.mu);
    free(default_rec);
    cli_config_free(&cfg);
    return rc;
}
