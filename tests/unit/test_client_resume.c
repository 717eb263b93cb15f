/* test_client_resume.c - resume across processes. A child process (this executable
 * started again with --upload-child, so it holds no thread of the parent: fork-safe
 * and TSan-friendly; its client is the only one in it) uploads a large file with a
 * record_dir, parallel P and a rate limit, and is killed with SIGKILL halfway (the
 * server log tells how far it got). A new client in the parent with the same
 * record_dir finishes the upload: what it sends beyond the parts the server did not
 * have yet (UploadPart in= in the server log, and bytes_sent_this_run) is at most
 * (P + 1) x part_size, no new media or multipart upload is created, and the object
 * has the source's MD5. A source file changed between the runs restarts cleanly and
 * uploads the new bytes, also when the change keeps its size, mtime and content sample. */
#include "client_harness.h"

static th_server g_srv;

#define P 4
#define PART (1 * MiB)
#define RATE (4 * MiB)
#define BIG_SIZE (32 * MiB)
#define CHG_SIZE (12 * MiB)

static int setup(void **state)
{
    (void)state;
    th_group_start(&g_srv, NULL, "client-resume", NULL);
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    th_group_stop(&g_srv, NULL);
    return 0;
}

static vodup_options resume_options(const char *record_dir, uint64_t rate)
{
    vodup_options o = VODUP_OPTIONS_INIT;
    o.record_dir = record_dir;
    o.parallel = P;
    o.part_size = PART;
    o.limit_rate = rate;
    return o;
}

/* The child: this executable started again with --upload-child (a fresh process, so
 * no thread of the parent is duplicated: fine under TSan too); no cmocka, exit codes
 * only. The root key comes through the environment. */
static int child_upload(const char *record_dir, const char *path, const char *endpoint)
{
    const char *ak = getenv("VODUP_CHILD_AK"), *sk = getenv("VODUP_CHILD_SK");
    if (!ak || !sk)
        return 1;
    vodup_options o = resume_options(record_dir, RATE);
    vodup_client *c = NULL;
    if (vodup_client_new(&c, &o, NULL) != VODUP_OK)
        _exit(2);
    if (vodup_client_use_sts(c, endpoint, ak, sk, NULL) != VODUP_OK)
        _exit(3);
    int id;
    if (vodup_client_add_file(c, &id, path, VODUP_MEDIA_VIDEO, NULL) != VODUP_OK)
        _exit(4);
    if (vodup_client_start(c) != VODUP_OK)
        _exit(5);
    int rc = vodup_client_wait(c, 120000);
    _exit(rc == VODUP_OK ? 0 : 6);
}

/* Forks the child, waits until the server stored min_parts of its parts, kills it.
 * Returns the log mark after everything the child caused has been logged. */
static size_t run_and_kill(const char *record_dir, const char *path, int min_parts, int max_parts,
                           unsigned long long *stored_bytes)
{
    size_t mark = th_log_mark(&g_srv);
    setenv("VODUP_CHILD_AK", g_srv.ak, 1);
    setenv("VODUP_CHILD_SK", g_srv.sk, 1);
    char self[] = "/proc/self/exe", flag[] = "--upload-child";
    char *argv[] = {self, flag, (char *)record_dir, (char *)path, g_srv.client_endpoint, NULL};
    pid_t pid = 0;
    assert_int_equal(posix_spawn(&pid, self, NULL, NULL, argv, environ), 0);
    int ok = 0;
    TH_WAIT(ok, th_log_sum_op(&g_srv, mark, "UploadPart").ok_count >= min_parts, 60000);
    assert_int_equal(kill(pid, SIGKILL), 0);
    int st = 0;
    assert_int_equal(waitpid(pid, &st, 0), pid);
    assert_true(ok);
    if (!WIFSIGNALED(st))
        fail_msg("the child was not killed halfway: it exited with %d", WIFEXITED(st) ? WEXITSTATUS(st) : -1);
    assert_int_equal(WTERMSIG(st), SIGKILL);
    size_t m2 = th_log_settle(&g_srv, 500, 10000);
    th_log_sum first = th_log_sum_op(&g_srv, mark, "UploadPart");
    int stored = first.ok_count;
    *stored_bytes = first.ok_in;
    assert_true(stored >= min_parts);
    assert_true(stored <= max_parts);
    return m2;
}

/* The one record file under dir, read whole (malloc'd, NUL-terminated); *path_out gets its path. */
static char *read_record(const char *dir, char *path_out, size_t cap)
{
    DIR *d = opendir(dir);
    assert_non_null(d);
    struct dirent *e;
    int n = 0;
    while ((e = readdir(d)) != NULL)
        if (e->d_name[0] != '.') {
            snprintf(path_out, cap, "%s/%s", dir, e->d_name);
            n++;
        }
    closedir(d);
    assert_int_equal(n, 1);
    FILE *f = fopen(path_out, "rb");
    assert_non_null(f);
    vbuf b = VBUF_INIT;
    char buf[4096];
    size_t got;
    while ((got = fread(buf, 1, sizeof buf, f)) > 0)
        vbuf_append(&b, buf, got);
    fclose(f);
    vbuf_putc(&b, '\0');
    assert_false(b.oom);
    return vbuf_steal(&b);
}

/* The record a killed run left is its base line (written once, when the UploadId came,
 * with no part yet) and then one appended line per acknowledged part: the parts are
 * journaled, not the record rewritten per part (project issue 13, R2). At least the
 * stored parts less those in flight at the kill are there. Returns the journal lines. */
static int check_journal(const char *text, int stored)
{
    const char *nl = strchr(text, '\n');
    assert_non_null(nl);
    json_error_t jerr;
    json_t *base = json_loadb(text, (size_t)(nl - text), 0, &jerr);
    assert_non_null(base);
    assert_non_null(json_string_value(json_object_get(base, "upload_id")));
    assert_int_equal(json_array_size(json_object_get(base, "parts")), 0);
    json_decref(base);
    int lines = 0;
    for (const char *p = nl + 1; *p; lines++) {
        const char *e = strchr(p, '\n');
        assert_non_null(e); /* whole lines only */
        json_t *j = json_loadb(p, (size_t)(e - p), 0, &jerr);
        assert_non_null(j);
        assert_true(json_integer_value(json_object_get(j, "n")) >= 1);
        assert_non_null(json_string_value(json_object_get(j, "etag")));
        json_decref(j);
        p = e + 1;
    }
    if (lines < stored - P)
        fail_msg("the record journals %d parts; the server stored %d (at most %d in flight)", lines, stored, P);
    return lines;
}

static int dir_has_files(const char *dir)
{
    DIR *d = opendir(dir);
    if (!d)
        return 0;
    int n = 0;
    struct dirent *e;
    while ((e = readdir(d)) != NULL)
        if (e->d_name[0] != '.')
            n++;
    closedir(d);
    return n;
}

/* The parent's run: a new client on record_dir (no rate limit) uploads path to the end,
 * checked with th_check_upload. The caller goes on with the client and *id. */
static vodup_client *finish_upload(th_rec *rec, vodup_api *api, const char *record_dir, const char *path,
                                   const char *md5, uint64_t size, int *id)
{
    vodup_options o = resume_options(record_dir, 0);
    vodup_client *c = th_sts_client(&g_srv, &o, rec);
    *id = -1;
    assert_int_equal(vodup_client_add_file(c, id, path, VODUP_MEDIA_VIDEO, NULL), VODUP_OK);
    assert_int_equal(vodup_client_start(c), VODUP_OK);
    assert_int_equal(vodup_client_wait(c, 120000), VODUP_OK);
    th_check_upload(&g_srv, api, rec, c, *id, md5, size);
    return c;
}

static void test_resume_after_kill(void **state)
{
    (void)state;
    char record_dir[1100], path[1100], md5[33];
    snprintf(record_dir, sizeof record_dir, "%s/records-a", g_srv.dir);
    snprintf(path, sizeof path, "%s/killed.mp4", g_srv.dir);
    th_make_file(path, BIG_SIZE, 21, md5);

    unsigned long long stored = 0;
    size_t mark = run_and_kill(record_dir, path, 14, 30, &stored);
    assert_true(stored >= 14 * PART);
    assert_true(dir_has_files(record_dir) >= 1); /* the child left a record */
    char rec_path[1400];
    char *text = read_record(record_dir, rec_path, sizeof rec_path);
    int journaled = check_journal(text, (int)(stored / PART));
    free(text);
    /* A line cut short (as a power cut could leave it) ends the journal; what came
     * before it stands. */
    FILE *f = fopen(rec_path, "ab");
    assert_non_null(f);
    fputs("{\"n\":3,\"etag\":\"ABC", f);
    assert_int_equal(fclose(f), 0);
    print_message("the killed run journaled %d parts (%llu bytes stored)\n", journaled, stored);

    th_rec rec;
    th_rec_init(&rec);
    vodup_api *api = th_api_root(&g_srv);
    int id;
    vodup_client *c = finish_upload(&rec, api, record_dir, path, md5, BIG_SIZE, &id);

    /* what the second run sent beyond the parts the server did not have yet (those
     * whose acknowledgement the killed child may not have recorded) is at most
     * (P + 1) x part_size */
    unsigned long long missing = BIG_SIZE - stored;
    unsigned long long bound = missing + (P + 1) * PART;
    th_log_sum s = th_log_sum_op(&g_srv, mark, "UploadPart");
    if (s.in > bound)
        fail_msg("the second run sent %llu part bytes (%d requests); %llu were missing; bound %llu", s.in,
                 s.count, missing, bound);
    assert_true(s.in >= missing);
    uint64_t sent = 0;
    th_file_counts(c, id, NULL, &sent);
    if (sent > bound)
        fail_msg("bytes_sent_this_run %llu > bound %llu", (unsigned long long)sent, bound);
    /* the same media and multipart upload went on: nothing new created */
    assert_int_equal(th_log_sum_op(&g_srv, mark, "CreateUploadVideo").count, 0);
    assert_int_equal(th_log_sum_op(&g_srv, mark, "InitiateMultipartUpload").count, 0);
    assert_int_equal(th_log_sum_op(&g_srv, mark, "PutObject").count, 0);
    vodup_client_free(c);
    vodup_api_free(api);
    th_rec_destroy(&rec);
}

static void test_changed_source_restarts(void **state)
{
    (void)state;
    char record_dir[1100], path[1100], md5_old[33], md5_new[33];
    snprintf(record_dir, sizeof record_dir, "%s/records-b", g_srv.dir);
    snprintf(path, sizeof path, "%s/changed.mp4", g_srv.dir);
    th_make_file(path, CHG_SIZE, 31, md5_old);

    unsigned long long stored = 0;
    size_t mark = run_and_kill(record_dir, path, 4, 11, &stored);
    assert_true(stored >= 4 * PART);
    assert_true(dir_has_files(record_dir) >= 1);
    /* same name, same size, other bytes */
    th_make_file(path, CHG_SIZE, 32, md5_new);
    assert_string_not_equal(md5_old, md5_new);

    th_rec rec;
    th_rec_init(&rec);
    vodup_api *api = th_api_root(&g_srv);
    int id;
    /* its callbacks checked: no failure on the way, a clean restart */
    vodup_client *c = finish_upload(&rec, api, record_dir, path, md5_new, CHG_SIZE, &id);
    /* every byte of the new content went up in this run */
    th_log_sum s = th_log_sum_op(&g_srv, mark, "UploadPart");
    th_log_sum s2 = th_log_sum_op(&g_srv, mark, "PutObject");
    assert_true(s.in + s2.in >= CHG_SIZE);
    vodup_client_free(c);
    vodup_api_free(api);
    th_rec_destroy(&rec);
}

/* The file is changed in place between the runs where the content sample does not look
 * (inside part 1, away from the first, middle and last 64 KiB), same size, and its mtime
 * set back: name, size, mtime and sample all match the record. The stored part 1 holds
 * the old bytes, so going on from the record would complete an object that is neither
 * version (the Complete CRC matches: it is made of the stored parts' CRCs). The upload
 * must restart cleanly (ctime moved) and store the new bytes. */
static void test_changed_keep_mtime_restarts(void **state)
{
    (void)state;
    char record_dir[1100], path[1100], md5_old[33], md5_new[33];
    snprintf(record_dir, sizeof record_dir, "%s/records-c", g_srv.dir);
    snprintf(path, sizeof path, "%s/sneaky.mp4", g_srv.dir);
    th_make_file(path, CHG_SIZE, 41, md5_old);

    unsigned long long stored = 0;
    /* 6 parts stored: parts 1 to 4 went first (P = 4), so part 1 is in the record */
    (void)run_and_kill(record_dir, path, 6, 11, &stored);
    assert_true(dir_has_files(record_dir) >= 1);
    struct stat st;
    assert_int_equal(stat(path, &st), 0);
    unsigned char patch[4096];
    memset(patch, 0xC3, sizeof patch);
    int fd = open(path, O_WRONLY);
    assert_true(fd >= 0);
    assert_int_equal(pwrite(fd, patch, sizeof patch, (off_t)(PART / 2)), (ssize_t)sizeof patch);
    assert_int_equal(close(fd), 0);
    struct timespec ts[2] = {st.st_atim, st.st_mtim};
    assert_int_equal(utimensat(AT_FDCWD, path, ts, 0), 0);
    th_md5_file(path, md5_new);
    assert_string_not_equal(md5_old, md5_new);

    th_rec rec;
    th_rec_init(&rec);
    vodup_api *api = th_api_root(&g_srv);
    int id;
    vodup_client *c = finish_upload(&rec, api, record_dir, path, md5_new, CHG_SIZE, &id);
    vodup_client_free(c);
    vodup_api_free(api);
    th_rec_destroy(&rec);
}

/* A record_dir that cannot be created: VODUP_EIO. */
static void test_bad_record_dir(void **state)
{
    (void)state;
    char file[1100], sub[1200];
    snprintf(file, sizeof file, "%s/plain-file", g_srv.dir);
    th_make_file(file, 10, 1, NULL);
    snprintf(sub, sizeof sub, "%s/below", file);
    vodup_options o = resume_options(sub, 0);
    vodup_client *c = NULL;
    assert_int_equal(vodup_client_new(&c, &o, NULL), VODUP_EIO);
}

int main(int argc, char **argv)
{
    if (argc == 5 && strcmp(argv[1], "--upload-child") == 0)
        return child_upload(argv[2], argv[3], argv[4]);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_resume_after_kill),
        cmocka_unit_test(test_changed_source_restarts),
        cmocka_unit_test(test_changed_keep_mtime_restarts),
        cmocka_unit_test(test_bad_record_dir),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
