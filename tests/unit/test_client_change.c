/* test_client_change.c - a source file that changes while it uploads is never reported
 * as uploaded (project issue 9, defect 1: silent data loss).
 *
 * Each test uploads a SIZE-byte file at a limited rate (so the upload lasts seconds)
 * and changes it from the first on_upload_progress callback, i.e. after the first part
 * was acknowledged and long before Complete, in one of four ways: overwritten in place
 * (1 MiB at offset 2 MiB, size and name unchanged), appended to, truncated, or replaced
 * by a rename over its path. With the default on_change (VODUP_CHANGE_FAIL) the item
 * must end FAIL with VODUP_ECHANGED (not SUCCESS, and vodup_client_wait says so);
 * with VODUP_CHANGE_RESTART it must end SUCCESS with an object whose MD5 is the NEW
 * file's, and the VOD record the new size.
 *
 * A last test changes the file without moving its mtime (it is set back with
 * utimensat) and with verify_reread on: caught all the same (ctime, and the re-read).
 *
 * The re-read runs per part, as each is answered, only once the file's ctime is 3 s old
 * (source.c): the "aged" tests wait that long before uploading, so that path runs. An
 * unchanged aged file must succeed with its bytes stored; the kept-mtime change must
 * still fail. */
#include "client_harness.h"

static th_server g_srv;

#define SIZE (12 * MiB)
#define PART (1 * MiB)
#define RATE (4 * MiB)

enum change { CH_OVERWRITE, CH_APPEND, CH_TRUNCATE, CH_RENAME, CH_OVERWRITE_KEEP_MTIME, CH_NONE };

/* Milliseconds run_change waits between making the file and uploading it. */
static unsigned g_age_ms;

typedef struct change_ctx {
    th_rec rec;
    char path[1100];
    enum change how;
    _Atomic int done;     /* the change was made */
    char new_md5[33];
    uint64_t new_size;
} change_ctx;

static int setup(void **state)
{
    (void)state;
    th_group_start(&g_srv, NULL, "client-change", NULL);
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    th_group_stop(&g_srv, NULL);
    return 0;
}

/* Writes n bytes of value v at off (pwrite), n at most 1 MiB. */
static void overwrite_at(const char *path, uint64_t off, size_t n, unsigned char v)
{
    unsigned char *b = malloc(n);
    assert_non_null(b);
    memset(b, v, n);
    int fd = open(path, O_WRONLY);
    assert_true(fd >= 0);
    assert_int_equal(pwrite(fd, b, n, (off_t)off), (ssize_t)n);
    assert_int_equal(close(fd), 0);
    free(b);
}

static void make_change(change_ctx *x)
{
    switch (x->how) {
    case CH_OVERWRITE:
        overwrite_at(x->path, 2 * MiB, (size_t)MiB, 0xA5);
        break;
    case CH_OVERWRITE_KEEP_MTIME: {
        struct stat st;
        assert_int_equal(stat(x->path, &st), 0);
        overwrite_at(x->path, 2 * MiB, 4096, 0x5A);
        struct timespec ts[2] = {st.st_atim, st.st_mtim};
        assert_int_equal(utimensat(AT_FDCWD, x->path, ts, 0), 0);
        break;
    }
    case CH_APPEND: {
        int fd = open(x->path, O_WRONLY | O_APPEND);
        assert_true(fd >= 0);
        unsigned char *b = malloc(1000000);
        assert_non_null(b);
        memset(b, 0x33, 1000000);
        assert_int_equal(write(fd, b, 1000000), 1000000);
        free(b);
        assert_int_equal(close(fd), 0);
        break;
    }
    case CH_TRUNCATE:
        assert_int_equal(truncate(x->path, (off_t)(5 * MiB + 77)), 0);
        break;
    case CH_NONE:
        break;
    case CH_RENAME: {
        char tmp[1200];
        snprintf(tmp, sizeof tmp, "%s.new", x->path);
        th_make_file(tmp, SIZE, 999, NULL); /* same size, other bytes */
        assert_int_equal(rename(tmp, x->path), 0);
        break;
    }
    }
    th_md5_file(x->path, x->new_md5);
    struct stat st;
    assert_int_equal(stat(x->path, &st), 0);
    x->new_size = (uint64_t)st.st_size;
    atomic_store(&x->done, 1);
}

static void on_progress_change(vodup_client *c, const vodup_file_info *f, uint64_t done, uint64_t total, void *u)
{
    change_ctx *x = u;
    if (!atomic_load(&x->done))
        make_change(x);
    th_cb_progress(c, f, done, total, &x->rec);
}

/* The recording listener's callbacks, with user = the change_ctx. */
static void fwd_started(vodup_client *c, const vodup_file_info *f, void *u)
{
    th_cb_started(c, f, &((change_ctx *)u)->rec);
}
static void fwd_succeed(vodup_client *c, const vodup_file_info *f, void *u)
{
    th_cb_succeed(c, f, &((change_ctx *)u)->rec);
}
static void fwd_failed(vodup_client *c, const vodup_file_info *f, int code, const char *m, void *u)
{
    th_cb_failed(c, f, code, m, &((change_ctx *)u)->rec);
}
static void fwd_retry(vodup_client *c, const vodup_file_info *f, int code, const char *m, void *u)
{
    th_cb_retry(c, f, code, m, &((change_ctx *)u)->rec);
}
static void fwd_list(vodup_client *c, void *u)
{
    th_cb_list_completed(c, &((change_ctx *)u)->rec);
}

/* Uploads a fresh SIZE-byte file, changing it as x->how says after the first part;
 * returns the item's id; *client the client (caller frees). */
static int run_change(change_ctx *x, enum change how, int on_change, int verify_reread, const char *name,
                      uint64_t seed, char old_md5[33], vodup_client **client, int *wait_rc)
{
    memset(x, 0, sizeof *x);
    th_rec_init(&x->rec);
    x->how = how;
    atomic_init(&x->done, 0);
    unsigned age_ms = g_age_ms;
    g_age_ms = 0;   /* for this run only, even when an assertion below ends the test */
    th_make_source(&g_srv, x->path, sizeof x->path, name, SIZE, seed, old_md5);
    if (age_ms) {
        struct timespec ts = {(time_t)(age_ms / 1000), (long)(age_ms % 1000) * 1000000L};
        nanosleep(&ts, NULL);
    }
    vodup_listener l = VODUP_LISTENER_INIT;
    l.on_upload_started = fwd_started;
    l.on_upload_progress = on_progress_change;
    l.on_upload_succeed = fwd_succeed;
    l.on_upload_failed = fwd_failed;
    l.on_upload_retry = fwd_retry;
    l.on_list_completed = fwd_list;
    l.user = x;
    vodup_options o = VODUP_OPTIONS_INIT;
    o.parallel = 2;
    o.part_size = PART;
    o.limit_rate = RATE;
    o.progress_interval_ms = 20;
    o.on_change = on_change;
    o.verify_reread = verify_reread;
    vodup_client *c = NULL;
    assert_int_equal(vodup_client_new(&c, &o, &l), VODUP_OK);
    assert_int_equal(vodup_client_use_sts(c, g_srv.client_endpoint, g_srv.ak, g_srv.sk, NULL), VODUP_OK);
    int id = -1;
    assert_int_equal(vodup_client_add_file(c, &id, x->path, VODUP_MEDIA_VIDEO, NULL), VODUP_OK);
    assert_int_equal(vodup_client_start(c), VODUP_OK);
    *wait_rc = vodup_client_wait(c, 120000);
    assert_true(atomic_load(&x->done)); /* the change did happen mid-upload */
    *client = c;
    return id;
}

static void expect_changed(enum change how, const char *name, uint64_t seed)
{
    change_ctx *x = calloc(1, sizeof *x);
    assert_non_null(x);
    char old_md5[33];
    vodup_client *c = NULL;
    int wrc = 0;
    int id = run_change(x, how, VODUP_CHANGE_FAIL, 1, name, seed, old_md5, &c, &wrc);
    vodup_status st = th_status(c, id);
    if (st != VODUP_STATUS_FAIL)
        fail_msg("%s: the file changed mid-upload, yet the item ended %s", name, vodup_status_name(st));
    th_item it = th_get(&x->rec, id);
    assert_int_equal(it.succeed, 0);
    assert_int_equal(it.failed, 1);
    assert_int_equal(it.last_fail_code, VODUP_ECHANGED);
    assert_int_equal(wrc, VODUP_ECHANGED); /* wait reports it too */
    vodup_file_info *f = NULL;
    assert_int_equal(vodup_client_get_file(c, id, &f), VODUP_OK);
    assert_int_equal(f->last_error, VODUP_ECHANGED);
    vodup_file_info_free(f);
    vodup_client_free(c);
    th_rec_destroy(&x->rec);
    free(x);
}

static void expect_restarted(enum change how, const char *name, uint64_t seed)
{
    change_ctx *x = calloc(1, sizeof *x);
    assert_non_null(x);
    char old_md5[33];
    vodup_client *c = NULL;
    int wrc = -1;
    int id = run_change(x, how, VODUP_CHANGE_RESTART, 1, name, seed, old_md5, &c, &wrc);
    if (wrc != VODUP_OK)
        fail_msg("%s: with on_change = RESTART wait returned %d (%s)", name, wrc, vodup_strerror(wrc));
    assert_int_equal(th_status(c, id), VODUP_STATUS_SUCCESS);
    th_item it = th_get(&x->rec, id);
    assert_int_equal(it.succeed, 1);
    assert_int_equal(it.failed, 0);
    assert_true(it.retry >= 1); /* the restart was announced */
    assert_string_not_equal(old_md5, x->new_md5);
    /* the object is the NEW file, whole */
    char got[33];
    uint64_t len = 0;
    assert_int_equal(th_get_object_md5(&g_srv, it.bucket, it.key, got, &len), 200);
    assert_int_equal(len, x->new_size);
    assert_string_equal(got, x->new_md5);
    vodup_api *api = th_api_root(&g_srv);
    th_check_video(api, it.media_id, x->new_size);
    vodup_api_free(api);
    vodup_client_free(c);
    th_rec_destroy(&x->rec);
    free(x);
}

static void test_overwrite_fails(void **state)
{
    (void)state;
    expect_changed(CH_OVERWRITE, "overwrite.mp4", 101);
}

static void test_append_fails(void **state)
{
    (void)state;
    expect_changed(CH_APPEND, "append.mp4", 102);
}

static void test_truncate_fails(void **state)
{
    (void)state;
    expect_changed(CH_TRUNCATE, "truncate.mp4", 103);
}

static void test_rename_fails(void **state)
{
    (void)state;
    expect_changed(CH_RENAME, "rename.mp4", 104);
}

static void test_overwrite_keep_mtime_fails(void **state)
{
    (void)state;
    expect_changed(CH_OVERWRITE_KEEP_MTIME, "keep-mtime.mp4", 105);
}

static void test_overwrite_keep_mtime_aged_fails(void **state)
{
    (void)state;
    g_age_ms = 3300;
    expect_changed(CH_OVERWRITE_KEEP_MTIME, "keep-mtime-aged.mp4", 106);
}

/* An unchanged file old enough for the per-part re-read: stored whole, no re-read needed
 * at the end. */
static void test_unchanged_aged_succeeds(void **state)
{
    (void)state;
    g_age_ms = 3300;
    change_ctx *x = calloc(1, sizeof *x);
    assert_non_null(x);
    char old_md5[33];
    vodup_client *c = NULL;
    int wrc = -1;
    int id = run_change(x, CH_NONE, VODUP_CHANGE_FAIL, 1, "unchanged-aged.mp4", 107, old_md5, &c, &wrc);
    assert_int_equal(wrc, VODUP_OK);
    assert_int_equal(th_status(c, id), VODUP_STATUS_SUCCESS);
    th_item it = th_get(&x->rec, id);
    assert_int_equal(it.succeed, 1);
    assert_int_equal(it.failed, 0);
    char got[33];
    uint64_t len = 0;
    assert_int_equal(th_get_object_md5(&g_srv, it.bucket, it.key, got, &len), 200);
    assert_int_equal(len, (uint64_t)SIZE);
    assert_string_equal(got, old_md5);
    vodup_client_free(c);
    th_rec_destroy(&x->rec);
    free(x);
}

static void test_overwrite_restarts(void **state)
{
    (void)state;
    expect_restarted(CH_OVERWRITE, "overwrite-r.mp4", 111);
}

static void test_append_restarts(void **state)
{
    (void)state;
    expect_restarted(CH_APPEND, "append-r.mp4", 112);
}

static void test_truncate_restarts(void **state)
{
    (void)state;
    expect_restarted(CH_TRUNCATE, "truncate-r.mp4", 113);
}

static void test_rename_restarts(void **state)
{
    (void)state;
    expect_restarted(CH_RENAME, "rename-r.mp4", 114);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_overwrite_fails),    cmocka_unit_test(test_append_fails),
        cmocka_unit_test(test_truncate_fails),     cmocka_unit_test(test_rename_fails),
        cmocka_unit_test(test_overwrite_keep_mtime_fails),
        cmocka_unit_test(test_overwrite_keep_mtime_aged_fails), cmocka_unit_test(test_unchanged_aged_succeeds),
        cmocka_unit_test(test_overwrite_restarts), cmocka_unit_test(test_append_restarts),
        cmocka_unit_test(test_truncate_restarts),  cmocka_unit_test(test_rename_restarts),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
