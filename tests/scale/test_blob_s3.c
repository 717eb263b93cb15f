/* test_blob_s3.c - the S3 byte store (store/blob_s3.c) against a real radosgw: write, commit,
 * read ranges, remove; a multipart blob across part boundaries; abort leaves no upload;
 * recovery removes this node's leftovers only, never another node's writes in flight; a
 * wrong key fails plainly; parts on threads of their own (part_threads); --bytes URLs, the
 * credentials and the start-up check (vodupd's use). Run by tests/scale/blob_s3.sh, which starts a one-node Ceph
 * cluster (scripts/scale/start --only ceph) and passes its S3_* endpoint in the environment.
 * Each test uses its own key prefix under one random to the run, so recoveries of one test
 * never see another's keys, nor those of an earlier run on the same cluster.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>

#include "common/digest.h"
#include "server/store/blob_s3.h"

#include <curl/curl.h>
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

static char run_prefix[8][64];   /* "<run>/<test prefix>", a few at a time */
static int nrun_prefix;
static char run_id[17];

static vodup_blobstore_s3_config base_cfg(const char *prefix, const char *node)
{
    if (*prefix) {
        char *rp = run_prefix[nrun_prefix++ % 8];
        snprintf(rp, sizeof run_prefix[0], "%s/%s", run_id, prefix);
        prefix = rp;
    }
    vodup_blobstore_s3_config c = {
        .endpoint = getenv("S3_ENDPOINT"), .bucket = getenv("S3_BUCKET"),
        .region = getenv("S3_REGION"), .access_key_id = getenv("S3_ACCESS_KEY_ID"),
        .secret = getenv("S3_SECRET_ACCESS_KEY"), .prefix = prefix, .node = node,
        .part_size = VODUP_BLOB_S3_MIN_PART, .timeout_s = 30};
    return c;
}

static vodup_blobstore *open_store(const char *prefix, const char *node)
{
    vodup_blobstore_s3_config c = base_cfg(prefix, node);
    vodup_blobstore *bs = vodup_blobstore_s3_open(&c);
    assert_non_null(bs);
    return bs;
}

static unsigned char *pattern(size_t n, unsigned seed)
{
    unsigned char *p = malloc(n ? n : 1);
    assert_non_null(p);
    uint32_t x = seed * 2654435761u + 1;
    for (size_t i = 0; i < n; i++) {
        x ^= x << 13, x ^= x >> 17, x ^= x << 5;
        p[i] = (unsigned char)x;
    }
    return p;
}

/* Writes p[0..n) in chunks of odd sizes (as request bodies arrive), then commits. */
static void put(vodup_blobstore *bs, const unsigned char *p, size_t n, char id[33])
{
    vodup_blob_writer *w = NULL;
    assert_int_equal(vodup_blob_writer_open(bs, &w), VODUP_BLOB_OK);
    size_t off = 0, step = 70001;
    while (off < n) {
        size_t k = n - off < step ? n - off : step;
        assert_int_equal(vodup_blob_write(w, p + off, k), VODUP_BLOB_OK);
        off += k;
        step = step * 3 % 1000003 + 1;
    }
    assert_int_equal(vodup_blob_commit(w, id), VODUP_BLOB_OK);
    assert_true(vodup_blob_id_valid(id));
}

static void expect_range(vodup_blobstore *bs, const char *id, const unsigned char *p, size_t size,
                         uint64_t off, size_t n)
{
    unsigned char *got = malloc(n ? n : 1);
    assert_non_null(got);
    ssize_t r = vodup_blob_read(bs, id, off, got, n);
    size_t want = off >= size ? 0 : (size - off < n ? (size_t)(size - off) : n);
    assert_int_equal(r, (ssize_t)want);
    if (want)
        assert_memory_equal(got, p + off, want);
    free(got);
}

static void test_small_blob(void **state)
{
    (void)state;
    vodup_blobstore *bs = open_store("small/", "node-a");
    size_t n = 300001;
    unsigned char *p = pattern(n, 1);
    char id[33];
    put(bs, p, n, id);
    char tag[VODUP_BLOB_S3_TAG_LEN + 1];
    vodup_blobstore_s3_node_tag("node-a", tag);
    assert_memory_equal(id, tag, VODUP_BLOB_S3_TAG_LEN);   /* the node is in the id */
    expect_range(bs, id, p, n, 0, n);
    expect_range(bs, id, p, n, 12345, 1000);
    expect_range(bs, id, p, n, n - 10, 4096);   /* past the end: the rest */
    expect_range(bs, id, p, n, n, 100);         /* at the end: 0 */
    expect_range(bs, id, p, n, n + 5000, 100);
    /* an empty blob */
    char empty[33];
    put(bs, p, 0, empty);
    assert_string_not_equal(empty, id);
    expect_range(bs, empty, p, 0, 0, 10);
    assert_int_equal(vodup_blob_remove(bs, id), VODUP_BLOB_OK);
    assert_int_equal(vodup_blob_remove(bs, empty), VODUP_BLOB_OK);
    free(p);
    vodup_blobstore_close(bs);
}

static void test_multipart_blob(void **state)
{
    (void)state;
    vodup_blobstore *bs = open_store("multi/", "node-a");
    size_t ps = VODUP_BLOB_S3_MIN_PART;
    size_t n = 2 * ps + 123457;   /* three parts, the last short */
    unsigned char *p = pattern(n, 2);
    char id[33];
    put(bs, p, n, id);
    expect_range(bs, id, p, n, 0, 4096);
    expect_range(bs, id, p, n, ps - 100, 200);         /* across the first part boundary */
    expect_range(bs, id, p, n, 2 * ps - 1, 2);         /* across the second */
    expect_range(bs, id, p, n, 2 * ps + 100000, 50000);
    expect_range(bs, id, p, n, 0, n);                  /* whole */
    /* exactly one part's size: one PutObject, still whole */
    char id2[33];
    put(bs, p, ps, id2);
    expect_range(bs, id2, p, ps, ps - 7, 100);
    assert_int_equal(vodup_blob_remove(bs, id), VODUP_BLOB_OK);
    assert_int_equal(vodup_blob_remove(bs, id2), VODUP_BLOB_OK);
    free(p);
    vodup_blobstore_close(bs);
}

static void test_remove_and_bad_ids(void **state)
{
    (void)state;
    vodup_blobstore *bs = open_store("remove/", "node-a");
    unsigned char *p = pattern(1000, 3);
    char id[33];
    put(bs, p, 1000, id);
    unsigned char b[16];
    assert_int_equal(vodup_blob_read(bs, id, 0, b, sizeof b), (ssize_t)sizeof b);
    assert_int_equal(vodup_blob_remove(bs, id), VODUP_BLOB_OK);
    assert_int_equal(vodup_blob_read(bs, id, 0, b, sizeof b), VODUP_BLOB_ENOENT);
    assert_int_equal(vodup_blob_remove(bs, id), VODUP_BLOB_OK);   /* gone already: fine */
    assert_int_equal(vodup_blob_read(bs, "../etc/passwd", 0, b, sizeof b), VODUP_BLOB_ENOENT);
    assert_int_equal(vodup_blob_read(bs, "0123456789ABCDEF0123456789abcdef", 0, b, sizeof b),
                     VODUP_BLOB_ENOENT);
    assert_int_equal(vodup_blob_remove(bs, "not-an-id"), VODUP_BLOB_ENOENT);
    /* no fds: callers read through read(); no free-space policy: the cluster's own */
    assert_false(vodup_blob_has_fd(bs));
    int fd = -1;
    assert_int_equal(vodup_blob_open_fd(bs, id, &fd), VODUP_BLOB_ENOTSUP);
    assert_int_equal(vodup_blob_space_check(bs, 1ULL << 40), VODUP_BLOB_OK);
    free(p);
    vodup_blobstore_close(bs);
}

/* Keeps every blob: a recovery with it removes unfinished uploads only. */
static int keep_all(const char *id, void *u)
{
    (void)id, (void)u;
    return 1;
}

static void test_abort_leaves_nothing(void **state)
{
    (void)state;
    vodup_blobstore *bs = open_store("abort/", "node-a");
    size_t n = VODUP_BLOB_S3_MIN_PART + 1000;   /* one part sent, then the abort */
    unsigned char *p = pattern(n, 4);
    vodup_blob_writer *w = NULL;
    assert_int_equal(vodup_blob_writer_open(bs, &w), VODUP_BLOB_OK);
    assert_int_equal(vodup_blob_write(w, p, n), VODUP_BLOB_OK);
    vodup_blob_abort(w);
    /* nothing to recover: the upload is gone, and no blob was made */
    assert_int_equal(vodup_blob_recover(bs, keep_all, NULL), 0);
    free(p);
    vodup_blobstore_close(bs);
}

typedef struct live_set {
    const char *live;        /* the one id the "database" knows */
    char seen[8][33];        /* ids is_live was asked about */
    int nseen;
} live_set;

static int is_live(const char *id, void *u)
{
    live_set *l = u;
    if (l->nseen < 8)
        snprintf(l->seen[l->nseen++], 33, "%s", id);
    return strcmp(id, l->live) == 0;
}

static void test_recover_own_leftovers_only(void **state)
{
    (void)state;
    vodup_blobstore *a = open_store("recover/", "node-a");
    vodup_blobstore *b = open_store("recover/", "node-b");
    size_t big = VODUP_BLOB_S3_MIN_PART + 4321;
    unsigned char *p = pattern(big, 5);

    char live[33], dead[33], b_dead[33];
    put(a, p, 5000, live);     /* node a: recorded in the database */
    put(a, p, 6000, dead);     /* node a: committed, then a crash before the database knew */
    put(b, p, 7000, b_dead);   /* node b: unknown to a's database view: b's business */

    /* A crash in the middle of a big write on node a: one part has left. */
    vodup_blob_writer *a_crashed = NULL;
    assert_int_equal(vodup_blob_writer_open(a, &a_crashed), VODUP_BLOB_OK);
    assert_int_equal(vodup_blob_write(a_crashed, p, big), VODUP_BLOB_OK);
    /* Node b is writing a big blob at the same time, still in flight during a's recovery. */
    vodup_blob_writer *b_writing = NULL;
    assert_int_equal(vodup_blob_writer_open(b, &b_writing), VODUP_BLOB_OK);
    assert_int_equal(vodup_blob_write(b_writing, p, big), VODUP_BLOB_OK);

    /* Node a restarts: a new store on the same node name recovers. */
    vodup_blobstore *a2 = open_store("recover/", "node-a");
    live_set l = {.live = live};
    long removed = vodup_blob_recover(a2, is_live, &l);
    assert_int_equal(removed, 2);   /* the unfinished upload and the unknown blob */
    /* is_live was asked about node a's two blobs only */
    assert_int_equal(l.nseen, 2);
    for (int i = 0; i < l.nseen; i++)
        assert_true(!strcmp(l.seen[i], live) || !strcmp(l.seen[i], dead));

    unsigned char buf[8];
    assert_int_equal(vodup_blob_read(a2, live, 0, buf, 8), 8);
    assert_int_equal(vodup_blob_read(a2, dead, 0, buf, 8), VODUP_BLOB_ENOENT);
    assert_int_equal(vodup_blob_read(a2, b_dead, 0, buf, 8), 8);   /* b's: untouched */

    /* b's write in flight completes with the right bytes */
    char b_id[33];
    assert_int_equal(vodup_blob_commit(b_writing, b_id), VODUP_BLOB_OK);
    expect_range(a2, b_id, p, big, big - 5000, 5000);
    /* a's crashed upload is gone: its late commit fails, nothing appears */
    char a_id[33];
    assert_int_equal(vodup_blob_commit(a_crashed, a_id), VODUP_BLOB_EIO);

    assert_int_equal(vodup_blob_remove(a2, live), VODUP_BLOB_OK);
    assert_int_equal(vodup_blob_remove(a2, b_dead), VODUP_BLOB_OK);
    assert_int_equal(vodup_blob_remove(a2, b_id), VODUP_BLOB_OK);
    free(p);
    vodup_blobstore_close(a);
    vodup_blobstore_close(a2);
    vodup_blobstore_close(b);
}

static int is_live_fails(const char *id, void *u)
{
    (void)id, (void)u;
    return -1;
}

static void test_recover_stops_without_an_answer(void **state)
{
    (void)state;
    vodup_blobstore *bs = open_store("recover-err/", "node-a");
    unsigned char *p = pattern(100, 6);
    char id[33];
    put(bs, p, 100, id);
    assert_true(vodup_blob_recover(bs, is_live_fails, NULL) < 0);
    unsigned char b[100];
    expect_range(bs, id, p, 100, 0, sizeof b);   /* still there */
    assert_int_equal(vodup_blob_remove(bs, id), VODUP_BLOB_OK);
    free(p);
    vodup_blobstore_close(bs);
}

static void test_wrong_secret_fails(void **state)
{
    (void)state;
    vodup_blobstore_s3_config c = base_cfg("wrong/", "node-a");
    c.secret = "not-the-secret";
    vodup_blobstore *bs = vodup_blobstore_s3_open(&c);
    assert_non_null(bs);
    vodup_blob_writer *w = NULL;
    assert_int_equal(vodup_blob_writer_open(bs, &w), VODUP_BLOB_OK);
    assert_int_equal(vodup_blob_write(w, "abc", 3), VODUP_BLOB_OK);
    char id[33];
    errno = 0;
    assert_int_equal(vodup_blob_commit(w, id), VODUP_BLOB_EIO);
    assert_int_equal(errno, EIO);
    vodup_blobstore_close(bs);
}

/* Many writers and readers on one store at once (it shares a pool of connections between
 * threads): every blob reads back as written. */
typedef struct worker_arg {
    vodup_blobstore *bs;
    unsigned seed;
    int ok;
} worker_arg;

static void *worker(void *u)
{
    worker_arg *a = u;
    size_t sizes[] = {1000 + a->seed, 200000, VODUP_BLOB_S3_MIN_PART + 777 * a->seed};
    a->ok = 1;
    for (size_t i = 0; i < sizeof sizes / sizeof *sizes && a->ok; i++) {
        unsigned char *p = pattern(sizes[i], a->seed * 10 + (unsigned)i);
        unsigned char *got = malloc(sizes[i]);
        vodup_blob_writer *w = NULL;
        char id[33];
        a->ok = got && vodup_blob_writer_open(a->bs, &w) == VODUP_BLOB_OK &&
                vodup_blob_write(w, p, sizes[i] / 2) == VODUP_BLOB_OK &&
                vodup_blob_write(w, p + sizes[i] / 2, sizes[i] - sizes[i] / 2) == VODUP_BLOB_OK &&
                vodup_blob_commit(w, id) == VODUP_BLOB_OK &&
                vodup_blob_read(a->bs, id, 0, got, sizes[i]) == (ssize_t)sizes[i] &&
                memcmp(got, p, sizes[i]) == 0 && vodup_blob_remove(a->bs, id) == VODUP_BLOB_OK;
        free(p);
        free(got);
    }
    return NULL;
}

static void test_concurrent_writers(void **state)
{
    (void)state;
    vodup_blobstore *bs = open_store("concurrent/", "node-a");
    enum { N = 8 };
    pthread_t t[N];
    worker_arg args[N];
    for (unsigned i = 0; i < N; i++) {
        args[i] = (worker_arg){bs, i + 1, 0};
        assert_int_equal(pthread_create(&t[i], NULL, worker, &args[i]), 0);
    }
    for (int i = 0; i < N; i++) {
        pthread_join(t[i], NULL);
        assert_true(args[i].ok);
    }
    /* nothing left behind: every blob was removed, every upload completed */
    assert_int_equal(vodup_blob_recover(bs, keep_all, NULL), 0);
    vodup_blobstore_close(bs);
}

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + ts.tv_nsec / 1e9;
}

/* Figures for docs/scale-out.md (printed, not asserted: the machine varies), with the bytes
 * checked: a 32 MiB blob written with the default part size, read back in 256 KiB reads
 * (what a GET's body reader asks for) and in one read; 200 small blobs one after another. */
static void test_throughput_figures(void **state)
{
    (void)state;
    vodup_blobstore_s3_config c = base_cfg("figures/", "node-a");
    c.part_size = 0;   /* the default */
    vodup_blobstore *bs = vodup_blobstore_s3_open(&c);
    assert_non_null(bs);
    size_t n = 32u * 1024 * 1024, step = 256 * 1024;
    unsigned char *p = pattern(n, 7), *got = malloc(n);
    assert_non_null(got);
    char id[33];
    double t0 = now_s();
    put(bs, p, n, id);
    double t1 = now_s();
    for (size_t off = 0; off < n; off += step)
        assert_int_equal(vodup_blob_read(bs, id, off, got + off, step), (ssize_t)step);
    double t2 = now_s();
    assert_memory_equal(got, p, n);
    memset(got, 0, n);
    assert_int_equal(vodup_blob_read(bs, id, 0, got, n), (ssize_t)n);
    double t3 = now_s();
    assert_memory_equal(got, p, n);
    char small[33];
    for (int i = 0; i < 200; i++) {
        put(bs, p + i, 4096, small);
        assert_int_equal(vodup_blob_remove(bs, small), VODUP_BLOB_OK);
    }
    double t4 = now_s();
    printf("figures: 32 MiB blob: write %.0f MB/s, read in 256 KiB reads %.0f MB/s, in one read "
           "%.0f MB/s; 4 KiB blobs: %.0f put+remove/s\n",
           n / 1e6 / (t1 - t0), n / 1e6 / (t2 - t1), n / 1e6 / (t3 - t2), 200 / (t4 - t3));
    assert_int_equal(vodup_blob_remove(bs, id), VODUP_BLOB_OK);
    free(p);
    free(got);
    vodup_blobstore_close(bs);
}

static void test_bad_config(void **state)
{
    (void)state;
    const char *bad_endpoints[] = {NULL, "", "ftp://x", "http://", "http://h/path"};
    for (size_t i = 0; i < sizeof bad_endpoints / sizeof *bad_endpoints; i++) {
        vodup_blobstore_s3_config c = base_cfg("", "n");
        c.endpoint = bad_endpoints[i];
        errno = 0;
        assert_null(vodup_blobstore_s3_open(&c));
        assert_int_equal(errno, EINVAL);
    }
    vodup_blobstore_s3_config c = base_cfg("a b/", "n");   /* a prefix needing escapes */
    assert_null(vodup_blobstore_s3_open(&c));
    c = base_cfg("", "");
    assert_null(vodup_blobstore_s3_open(&c));
    c = base_cfg("", "Node_A");   /* not a node id (vodup_blob_node_valid) */
    assert_null(vodup_blobstore_s3_open(&c));
    c = base_cfg("", "n");
    c.part_size = VODUP_BLOB_S3_MIN_PART - 1;
    assert_null(vodup_blobstore_s3_open(&c));
    c = base_cfg("", "n");
    c.bucket = "Bad_Bucket!";
    assert_null(vodup_blobstore_s3_open(&c));
}

/* part_threads (what vodupd uses): full parts leave on their own thread while the next
 * fills; the blob reads back whole, an abort mid-way leaves nothing, and a part that fails
 * in the background fails the write that comes next (with errno EIO) and the blob. */
static void test_part_threads(void **state)
{
    (void)state;
    vodup_blobstore_s3_config c = base_cfg("threads/", "node-a");
    c.part_threads = 1;
    vodup_blobstore *bs = vodup_blobstore_s3_open(&c);
    assert_non_null(bs);
    size_t ps = VODUP_BLOB_S3_MIN_PART, n = 3 * ps + 4321;
    unsigned char *p = pattern(n, 9);
    char id[33];
    put(bs, p, n, id);
    expect_range(bs, id, p, n, 0, n);
    expect_range(bs, id, p, n, 2 * ps - 3, 6);
    assert_int_equal(vodup_blob_remove(bs, id), VODUP_BLOB_OK);

    vodup_blob_writer *w = NULL;
    assert_int_equal(vodup_blob_writer_open(bs, &w), VODUP_BLOB_OK);
    assert_int_equal(vodup_blob_write(w, p, 2 * ps + 1), VODUP_BLOB_OK);   /* two parts leave */
    vodup_blob_abort(w);
    assert_int_equal(vodup_blob_recover(bs, keep_all, NULL), 0);
    vodup_blobstore_close(bs);

    c.secret = "not-the-secret";
    assert_non_null(bs = vodup_blobstore_s3_open(&c));
    assert_int_equal(vodup_blob_writer_open(bs, &w), VODUP_BLOB_OK);
    errno = 0;
    /* the first part fails on its thread; filling the second waits for it and says so */
    assert_int_equal(vodup_blob_write(w, p, 2 * ps + 10), VODUP_BLOB_EIO);
    assert_int_equal(errno, EIO);
    assert_int_equal(vodup_blob_write(w, p, 10), VODUP_BLOB_EIO);   /* and stays failed */
    char id2[33];
    assert_int_equal(vodup_blob_commit(w, id2), VODUP_BLOB_EIO);
    vodup_blobstore_close(bs);
    free(p);
}

/* --bytes URLs (vodupd's byte store option): what they name, and what they refuse. */
static void test_url_parse(void **state)
{
    (void)state;
    vodup_blobstore_s3_url u;
    char err[256];
    assert_int_equal(vodup_blobstore_s3_url_parse(&u, "s3://media?endpoint=http://rgw:7480/", err, sizeof err), 0);
    assert_string_equal(u.bucket, "media");
    assert_string_equal(u.endpoint, "http://rgw:7480");
    assert_string_equal(u.prefix, "");
    assert_string_equal(u.region, "us-east-1");
    assert_int_equal(u.vhost, 0);
    vodup_blobstore_s3_url_free(&u);
    assert_int_equal(vodup_blobstore_s3_url_parse(
                         &u, "s3://my.bucket/a//b/?region=eu-west-1&style=vhost&endpoint=https%3A%2F%2Fs3.example",
                         err, sizeof err),
                     -1);   /* "a//b": an empty path segment */
    vodup_blobstore_s3_url_free(&u);
    assert_int_equal(vodup_blobstore_s3_url_parse(
                         &u, "s3://my.bucket/a/b//?region=eu-west-1&style=vhost&endpoint=https%3A%2F%2Fs3.example",
                         err, sizeof err),
                     0);
    assert_string_equal(u.prefix, "a/b/");
    assert_string_equal(u.region, "eu-west-1");
    assert_string_equal(u.endpoint, "https://s3.example");
    assert_int_equal(u.vhost, 1);
    vodup_blobstore_s3_url_free(&u);
    const struct {
        const char *url, *msg;
    } bad[] = {
        {"http://media?endpoint=http://h", "wants s3://"},
        {"s3://media", "wants the cluster's address"},
        {"s3://AKID:S3CR3T@media?endpoint=http://h", "takes no credentials"},
        {"s3://media?endpoint=http://AKID:S3CR3T@h", "takes no credentials"},
        {"s3://media?endpoint=http://h&secret_key=S3CR3T", "takes no credentials"},
        {"s3://media?endpoint=http://h&AccessKeyId=x", "takes no credentials"},
        {"s3://media?endpoint=http://h&regoin=x", "unknown parameter 'regoin'"},
        {"s3://media?endpoint=http://h&endpoint=http://i", "given twice"},
        {"s3://media?endpoint=", "has no value"},
        {"s3://media?endpoint=ftp://h", "endpoint wants http"},
        {"s3://media?endpoint=http://h/path", "without a path"},
        {"s3://media?endpoint=http://h&style=dns", "style is path or vhost"},
        {"s3://media?endpoint=http://h&region=EU", "region is"},
        {"s3://Media?endpoint=http://h", "bucket name"},
        {"s3://media/a b?endpoint=http://h", "key prefix"},
        {"s3://media?endpoint=http://h%00", "NUL"},
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        err[0] = '\0';
        assert_int_equal(vodup_blobstore_s3_url_parse(&u, bad[i].url, err, sizeof err), -1);
        if (!strstr(err, bad[i].msg))
            fail_msg("%s: '%s' does not say '%s'", bad[i].url, err, bad[i].msg);
        if (strstr(err, "S3CR3T"))   /* never repeated */
            fail_msg("%s: %s", bad[i].url, err);
        vodup_blobstore_s3_url_free(&u);
    }
}

/* Credentials: the environment first (both or an error), else the AWS credentials file. */
static void test_creds(void **state)
{
    (void)state;
    char *ak = getenv("AWS_ACCESS_KEY_ID") ? strdup(getenv("AWS_ACCESS_KEY_ID")) : NULL;
    char *sk = getenv("AWS_SECRET_ACCESS_KEY") ? strdup(getenv("AWS_SECRET_ACCESS_KEY")) : NULL;
    vodup_blobstore_s3_creds c;
    char err[512], path[] = "/tmp/vodup-creds-XXXXXX";
    setenv("AWS_ACCESS_KEY_ID", "AK1", 1);
    setenv("AWS_SECRET_ACCESS_KEY", "SK1", 1);
    setenv("AWS_SESSION_TOKEN", "TOK1", 1);
    assert_int_equal(vodup_blobstore_s3_creds_load(&c, err, sizeof err), 0);
    assert_string_equal(c.access_key_id, "AK1");
    assert_string_equal(c.secret, "SK1");
    assert_string_equal(c.session_token, "TOK1");
    vodup_blobstore_s3_creds_free(&c);
    unsetenv("AWS_SECRET_ACCESS_KEY");
    assert_int_equal(vodup_blobstore_s3_creds_load(&c, err, sizeof err), -1);
    assert_non_null(strstr(err, "AWS_SECRET_ACCESS_KEY is not"));
    unsetenv("AWS_ACCESS_KEY_ID");
    unsetenv("AWS_SESSION_TOKEN");
    int fd = mkstemp(path);
    assert_true(fd >= 0);
    static const char file[] = "[default]\naws_access_key_id = AKD\naws_secret_access_key = SKD\n"
                               "[prod]\naws_access_key_id=AKP\naws_secret_access_key=SKP\naws_session_token=TP\n";
    assert_int_equal(write(fd, file, sizeof file - 1), (ssize_t)(sizeof file - 1));
    close(fd);
    setenv("AWS_SHARED_CREDENTIALS_FILE", path, 1);
    unsetenv("AWS_PROFILE");
    assert_int_equal(vodup_blobstore_s3_creds_load(&c, err, sizeof err), 0);
    assert_string_equal(c.access_key_id, "AKD");
    assert_string_equal(c.secret, "SKD");
    assert_null(c.session_token);
    vodup_blobstore_s3_creds_free(&c);
    setenv("AWS_PROFILE", "prod", 1);
    assert_int_equal(vodup_blobstore_s3_creds_load(&c, err, sizeof err), 0);
    assert_string_equal(c.access_key_id, "AKP");
    assert_string_equal(c.session_token, "TP");
    vodup_blobstore_s3_creds_free(&c);
    setenv("AWS_PROFILE", "nope", 1);
    assert_int_equal(vodup_blobstore_s3_creds_load(&c, err, sizeof err), -1);
    assert_non_null(strstr(err, "no such profile"));
    unlink(path);
    assert_int_equal(vodup_blobstore_s3_creds_load(&c, err, sizeof err), -1);
    assert_non_null(strstr(err, "no credentials for the S3 byte store"));
    unsetenv("AWS_PROFILE");
    unsetenv("AWS_SHARED_CREDENTIALS_FILE");
    if (ak)
        setenv("AWS_ACCESS_KEY_ID", ak, 1);
    if (sk)
        setenv("AWS_SECRET_ACCESS_KEY", sk, 1);
    free(ak);
    free(sk);
}

/* The start-up check (vodupd --bytes): fine with the right key, and each wrong thing named. */
static void test_check(void **state)
{
    (void)state;
    char err[512];
    vodup_blobstore_s3_config c = base_cfg("check/", "node-a");
    vodup_blobstore *bs = vodup_blobstore_s3_open(&c);
    assert_int_equal(vodup_blobstore_s3_check(bs, err, sizeof err), 0);
    assert_int_equal(vodup_blob_recover(bs, keep_all, NULL), 0);   /* the probe object is gone */
    assert_true(vodup_blobstore_is_s3(bs));
    vodup_blobstore_close(bs);
    const struct {
        const char *field, *value, *msg;
    } bad[] = {
        {"secret", "not-the-secret", "the secret does not match"},
        {"akid", "NOSUCHKEY", "does not know the access key"},
        {"bucket", "no-such-bucket-here", "the bucket does not exist"},
        {"endpoint", "http://127.0.0.1:1", "cannot reach the S3 byte store at http://127.0.0.1:1"},
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        c = base_cfg("check/", "node-a");
        if (!strcmp(bad[i].field, "secret"))
            c.secret = bad[i].value;
        else if (!strcmp(bad[i].field, "akid"))
            c.access_key_id = bad[i].value;
        else if (!strcmp(bad[i].field, "bucket"))
            c.bucket = bad[i].value;
        else
            c.endpoint = bad[i].value;
        assert_non_null(bs = vodup_blobstore_s3_open(&c));
        err[0] = '\0';
        assert_int_equal(vodup_blobstore_s3_check(bs, err, sizeof err), -1);
        if (!strstr(err, bad[i].msg))
            fail_msg("%s: '%s' does not say '%s'", bad[i].field, err, bad[i].msg);
        assert_null(strstr(err, "not-the-secret"));
        vodup_blobstore_close(bs);
    }
}

int main(void)
{
    if (!getenv("S3_ENDPOINT") || !getenv("S3_BUCKET") || !getenv("S3_ACCESS_KEY_ID") ||
        !getenv("S3_SECRET_ACCESS_KEY") || !getenv("S3_REGION")) {
        fprintf(stderr, "test_blob_s3: SKIP: no S3_* endpoint (run it through tests/scale/blob_s3.sh)\n");
        return 77;
    }
    unsigned char raw[8];
    assert_int_equal(vodup_random(raw, sizeof raw), 0);
    for (int i = 0; i < 8; i++)
        snprintf(run_id + 2 * i, 3, "%02x", raw[i]);
    curl_global_init(CURL_GLOBAL_DEFAULT);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_small_blob),
        cmocka_unit_test(test_multipart_blob),
        cmocka_unit_test(test_remove_and_bad_ids),
        cmocka_unit_test(test_abort_leaves_nothing),
        cmocka_unit_test(test_recover_own_leftovers_only),
        cmocka_unit_test(test_recover_stops_without_an_answer),
        cmocka_unit_test(test_wrong_secret_fails),
        cmocka_unit_test(test_bad_config),
        cmocka_unit_test(test_concurrent_writers),
        cmocka_unit_test(test_throughput_figures),
        cmocka_unit_test(test_part_threads),
        cmocka_unit_test(test_url_parse),
        cmocka_unit_test(test_creds),
        cmocka_unit_test(test_check),
    };
    int rc = cmocka_run_group_tests(tests, NULL, NULL);
    curl_global_cleanup();
    return rc;
}
