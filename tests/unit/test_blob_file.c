/* test_blob_file.c - the file blob store: durability protocol visible from outside
 * (nothing appears before commit, nothing stays after abort or a failed write), recovery,
 * id validation and many writers at once. Each test works in its own mkdtemp directory
 * under $VODUP_TEST_TMP.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>

#include "server/store/blob.h"
#include "store_harness.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <unistd.h>

static char *make_dir(void)
{
    char *p = make_temp_dir("blob");
    assert_non_null(p);
    return p;
}

static int count_files(const char *dir)
{
    DIR *d = opendir(dir);
    if (!d)
        return -1;
    int n = 0;
    struct dirent *de;
    while ((de = readdir(d)) != NULL) {
        if (strcmp(de->d_name, ".") && strcmp(de->d_name, ".."))
            n++;
    }
    closedir(d);
    return n;
}

static void put(vodup_blobstore *bs, const void *p, size_t n, char id[33])
{
    vodup_blob_writer *w = NULL;
    assert_int_equal(bs->ops->writer_open(bs, &w), VODUP_BLOB_OK);
    assert_int_equal(bs->ops->writer_write(w, p, n), VODUP_BLOB_OK);
    assert_int_equal(bs->ops->writer_commit(w, id), VODUP_BLOB_OK);
}

static void test_write_read(void **state)
{
    (void)state;
    char *dir = make_dir();
    vodup_blobstore *bs = vodup_blobstore_file_open(dir);
    assert_non_null(bs);

    size_t n = 300000;
    unsigned char *data = malloc(n);
    assert_non_null(data);
    for (size_t i = 0; i < n; i++)
        data[i] = (unsigned char)(i * 31 + 7);

    vodup_blob_writer *w = NULL;
    assert_int_equal(bs->ops->writer_open(bs, &w), VODUP_BLOB_OK);
    char tmpdir[4096];
    snprintf(tmpdir, sizeof tmpdir, "%s/tmp", dir);
    assert_int_equal(count_files(tmpdir), 1);
    /* Several writes, to exercise appending. */
    assert_int_equal(bs->ops->writer_write(w, data, 1000), VODUP_BLOB_OK);
    assert_int_equal(bs->ops->writer_write(w, data + 1000, 0), VODUP_BLOB_OK);
    assert_int_equal(bs->ops->writer_write(w, data + 1000, n - 1000), VODUP_BLOB_OK);
    char id[33];
    assert_int_equal(bs->ops->writer_commit(w, id), VODUP_BLOB_OK);
    assert_int_equal(strlen(id), 32);
    for (int i = 0; i < 32; i++)
        assert_true((id[i] >= '0' && id[i] <= '9') || (id[i] >= 'a' && id[i] <= 'f'));
    assert_int_equal(count_files(tmpdir), 0);

    char path[4096];
    snprintf(path, sizeof path, "%s/objects/%.2s/%s", dir, id, id);
    struct stat st;
    assert_int_equal(stat(path, &st), 0);
    assert_int_equal((size_t)st.st_size, n);
    assert_int_equal(st.st_mode & 0777, 0600);

    unsigned char *back = malloc(n + 10);
    assert_non_null(back);
    assert_int_equal(bs->ops->read(bs, id, 0, back, n + 10), (ssize_t)n);
    assert_memory_equal(back, data, n);
    assert_int_equal(bs->ops->read(bs, id, 12345, back, 100), 100);
    assert_memory_equal(back, data + 12345, 100);
    assert_int_equal(bs->ops->read(bs, id, n - 5, back, 100), 5);
    assert_int_equal(bs->ops->read(bs, id, n, back, 100), 0);
    assert_int_equal(bs->ops->read(bs, id, n + 100, back, 100), 0);

    int fd = -1;
    assert_int_equal(bs->ops->open_fd(bs, id, &fd), VODUP_BLOB_OK);
    assert_true(fd >= 0);
    assert_int_equal(pread(fd, back, 10, 0), 10);
    assert_memory_equal(back, data, 10);
    close(fd);

    /* Empty blob. */
    char id0[33];
    put(bs, "", 0, id0);
    assert_string_not_equal(id0, id);
    assert_int_equal(bs->ops->read(bs, id0, 0, back, 10), 0);

    assert_int_equal(bs->ops->remove(bs, id), VODUP_BLOB_OK);
    assert_int_equal(bs->ops->read(bs, id, 0, back, 10), VODUP_BLOB_ENOENT);
    assert_int_equal(bs->ops->open_fd(bs, id, &fd), VODUP_BLOB_ENOENT);
    assert_int_equal(bs->ops->remove(bs, id), VODUP_BLOB_OK);   /* ENOENT is fine */

    free(back);
    free(data);
    bs->ops->close(bs);
    rm_rf(dir);
    free(dir);
}

/* A blob of several MiB goes through the direct-I/O path of blob_file.c (page cache for
 * the head, aligned O_DIRECT writes of the middle, the page cache again for the tail):
 * written in chunks of odd sizes, it must read back byte for byte, with the right size,
 * and an abort half-way (a full aligned buffer written, some bytes still held) must
 * leave nothing behind. On a file system without O_DIRECT the same bytes go buffered. */
static void test_large_direct(void **state)
{
    (void)state;
    char *dir = make_dir();
    vodup_blobstore *bs = vodup_blobstore_file_open(dir);
    assert_non_null(bs);
    size_t n = 3 * 1024 * 1024 + 777;
    unsigned char *data = malloc(n);
    assert_non_null(data);
    for (size_t i = 0; i < n; i++)
        data[i] = (unsigned char)(i * 131 + (i >> 12));
    static const size_t steps[] = {4095, 65539, 1, 262144, 1048577, 8191, 200003};

    vodup_blob_writer *w = NULL;
    assert_int_equal(bs->ops->writer_open(bs, &w), VODUP_BLOB_OK);
    size_t off = 0;
    for (int k = 0; off < n; k++) {
        size_t c = steps[k % (int)(sizeof steps / sizeof steps[0])];
        if (c > n - off)
            c = n - off;
        assert_int_equal(bs->ops->writer_write(w, data + off, c), VODUP_BLOB_OK);
        off += c;
    }
    char id[33];
    assert_int_equal(bs->ops->writer_commit(w, id), VODUP_BLOB_OK);
    char path[4096];
    snprintf(path, sizeof path, "%s/objects/%.2s/%s", dir, id, id);
    struct stat st;
    assert_int_equal(stat(path, &st), 0);
    assert_int_equal((size_t)st.st_size, n);
    unsigned char *back = malloc(n);
    assert_non_null(back);
    assert_int_equal(bs->ops->read(bs, id, 0, back, n), (ssize_t)n);
    assert_memory_equal(back, data, n);

    /* Abort with a direct buffer written and another partly filled. */
    assert_int_equal(bs->ops->writer_open(bs, &w), VODUP_BLOB_OK);
    assert_int_equal(bs->ops->writer_write(w, data, 300000), VODUP_BLOB_OK);
    assert_int_equal(bs->ops->writer_write(w, data + 300000, 2 * 1024 * 1024), VODUP_BLOB_OK);
    bs->ops->writer_abort(w);
    char tmpdir[4096];
    snprintf(tmpdir, sizeof tmpdir, "%s/tmp", dir);
    assert_int_equal(count_files(tmpdir), 0);

    free(back);
    free(data);
    bs->ops->close(bs);
    rm_rf(dir);
    free(dir);
}

static void test_abort(void **state)
{
    (void)state;
    char *dir = make_dir();
    vodup_blobstore *bs = vodup_blobstore_file_open(dir);
    assert_non_null(bs);
    vodup_blob_writer *w = NULL;
    assert_int_equal(bs->ops->writer_open(bs, &w), VODUP_BLOB_OK);
    assert_int_equal(bs->ops->writer_write(w, "hello", 5), VODUP_BLOB_OK);
    bs->ops->writer_abort(w);

    char sub[4096];
    snprintf(sub, sizeof sub, "%s/tmp", dir);
    assert_int_equal(count_files(sub), 0);
    snprintf(sub, sizeof sub, "%s/objects", dir);
    assert_int_equal(count_files(sub), 0);
    bs->ops->close(bs);
    rm_rf(dir);
    free(dir);
}

typedef struct live_set {
    char ids[8][33];
    int n;
    int calls;
} live_set;

static int is_live(const char *id, void *u)
{
    live_set *ls = u;
    ls->calls++;
    for (int i = 0; i < ls->n; i++) {
        if (!strcmp(ls->ids[i], id))
            return 1;
    }
    return 0;
}

static int is_live_fail(const char *id, void *u)
{
    (void)id;
    (void)u;
    return -1;
}

static void touch(const char *path)
{
    int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0600);
    assert_true(fd >= 0);
    assert_int_equal(write(fd, "x", 1), 1);
    close(fd);
}

static void test_recover(void **state)
{
    (void)state;
    char *dir = make_dir();
    vodup_blobstore *bs = vodup_blobstore_file_open(dir);
    assert_non_null(bs);

    char keep1[33], keep2[33], drop1[33], drop2[33];
    put(bs, "a", 1, keep1);
    put(bs, "b", 1, keep2);
    put(bs, "c", 1, drop1);
    put(bs, "d", 1, drop2);

    /* A failing liveness check must not delete any blob. */
    assert_true(bs->ops->recover(bs, is_live_fail, NULL) < 0);
    char buf[8];
    assert_int_equal(bs->ops->read(bs, keep1, 0, buf, sizeof buf), 1);
    assert_int_equal(bs->ops->read(bs, drop1, 0, buf, sizeof buf), 1);
    assert_int_equal(bs->ops->read(bs, drop2, 0, buf, sizeof buf), 1);

    /* A half-written blob as a crash leaves it: the writer is never committed. */
    vodup_blob_writer *w = NULL;
    assert_int_equal(bs->ops->writer_open(bs, &w), VODUP_BLOB_OK);
    assert_int_equal(bs->ops->writer_write(w, "partial", 7), VODUP_BLOB_OK);
    char p[4096];
    snprintf(p, sizeof p, "%s/tmp/leftover", dir);
    touch(p);
    /* Junk in a shard: not an id, and an id in the wrong shard. */
    snprintf(p, sizeof p, "%s/objects/%.2s/not-an-id", dir, keep1);
    touch(p);
    char wrong[33];
    memcpy(wrong, keep1, 33);
    wrong[0] = keep1[0] == 'a' ? 'b' : 'a';
    snprintf(p, sizeof p, "%s/objects/%.2s/%s", dir, keep1, wrong);
    touch(p);

    live_set ls = { .n = 2 };
    memcpy(ls.ids[0], keep1, 33);
    memcpy(ls.ids[1], keep2, 33);

    long removed = bs->ops->recover(bs, is_live, &ls);
    /* tmp: the open writer's file and "leftover"; objects: 2 dead + 2 junk. */
    assert_int_equal(removed, 6);
    snprintf(p, sizeof p, "%s/tmp", dir);
    assert_int_equal(count_files(p), 0);
    assert_int_equal(bs->ops->read(bs, keep1, 0, buf, sizeof buf), 1);
    assert_memory_equal(buf, "a", 1);
    assert_int_equal(bs->ops->read(bs, keep2, 0, buf, sizeof buf), 1);
    assert_int_equal(bs->ops->read(bs, drop1, 0, buf, sizeof buf), VODUP_BLOB_ENOENT);
    assert_int_equal(bs->ops->read(bs, drop2, 0, buf, sizeof buf), VODUP_BLOB_ENOENT);
    assert_true(ls.calls >= 4);

    /* The writer whose tmp file vanished cannot commit, and leaves nothing behind. */
    char id[33];
    assert_int_not_equal(bs->ops->writer_commit(w, id), VODUP_BLOB_OK);

    /* Second pass: nothing more to do, and tmp leftovers are counted too. */
    snprintf(p, sizeof p, "%s/tmp/again", dir);
    touch(p);
    assert_int_equal(bs->ops->recover(bs, is_live, &ls), 1);

    bs->ops->close(bs);
    rm_rf(dir);
    free(dir);
}

static void test_invalid_ids(void **state)
{
    (void)state;
    char *dir = make_dir();
    vodup_blobstore *bs = vodup_blobstore_file_open(dir);
    assert_non_null(bs);
    char ok[33];
    put(bs, "z", 1, ok);

    char upper[33];
    memcpy(upper, ok, 33);
    for (int i = 0; i < 32; i++) {
        if (upper[i] >= 'a' && upper[i] <= 'f')
            upper[i] = (char)(upper[i] - 'a' + 'A');
    }
    char longer[40];
    snprintf(longer, sizeof longer, "%s0", ok);
    const char *bad[] = {
        "", "../../etc/passwd", "0123456789abcdef0123456789abcde",
        "0123456789abcdef0123456789abcdeg", "../0123456789abcdef0123456789abc",
        "0123456789abcdef/123456789abcdef", longer, NULL,
    };
    char buf[4];
    int fd;
    assert_true(vodup_blob_id_valid(ok));
    assert_false(vodup_blob_id_valid(upper) && strcmp(upper, ok));
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        assert_false(vodup_blob_id_valid(bad[i]));
        assert_true(bs->ops->read(bs, bad[i], 0, buf, sizeof buf) < 0);
        assert_true(bs->ops->open_fd(bs, bad[i], &fd) < 0);
        assert_true(bs->ops->remove(bs, bad[i]) < 0);
    }
    int has_alpha = strcspn(ok, "abcdef") < 32;
    if (has_alpha) {
        assert_true(bs->ops->read(bs, upper, 0, buf, sizeof buf) < 0);
        assert_true(bs->ops->remove(bs, upper) < 0);
    }
    assert_int_equal(bs->ops->read(bs, ok, 0, buf, sizeof buf), 1);
    bs->ops->close(bs);
    rm_rf(dir);
    free(dir);
}

static void test_open_errors(void **state)
{
    (void)state;
    char *dir = make_dir();
    char f[4096];
    snprintf(f, sizeof f, "%s/file", dir);
    touch(f);
    errno = 0;
    assert_null(vodup_blobstore_file_open(f));
    assert_int_not_equal(errno, 0);
    assert_null(vodup_blobstore_file_open(""));
    /* A fresh, not yet existing directory is created. */
    snprintf(f, sizeof f, "%s/new", dir);
    vodup_blobstore *bs = vodup_blobstore_file_open(f);
    assert_non_null(bs);
    assert_string_equal(bs->ops->name, "file");
    bs->ops->close(bs);
    rm_rf(dir);
    free(dir);
}

#define NTHREADS 8
#define PER_THREAD 40

typedef struct worker {
    vodup_blobstore *bs;
    int index;
    char ids[PER_THREAD][33];
    int failures;
} worker;

static void *writer_thread(void *arg)
{
    worker *wk = arg;
    for (int i = 0; i < PER_THREAD; i++) {
        unsigned char data[4096 + 64];
        size_t n = 1000 + (size_t)((wk->index * 131 + i * 17) % 3000);
        for (size_t j = 0; j < n; j++)
            data[j] = (unsigned char)(wk->index ^ i ^ (int)j);
        vodup_blob_writer *w = NULL;
        if (wk->bs->ops->writer_open(wk->bs, &w) != VODUP_BLOB_OK) {
            wk->failures++;
            continue;
        }
        /* Every fifth one is abandoned to mix aborts in. */
        if (i % 5 == 4) {
            wk->bs->ops->writer_write(w, data, n);
            wk->bs->ops->writer_abort(w);
            wk->ids[i][0] = '\0';
            continue;
        }
        if (wk->bs->ops->writer_write(w, data, 500) != VODUP_BLOB_OK ||
            wk->bs->ops->writer_write(w, data + 500, n - 500) != VODUP_BLOB_OK ||
            wk->bs->ops->writer_commit(w, wk->ids[i]) != VODUP_BLOB_OK) {
            wk->failures++;
            continue;
        }
        unsigned char back[4096 + 64];
        if (wk->bs->ops->read(wk->bs, wk->ids[i], 0, back, sizeof back) != (ssize_t)n ||
            memcmp(back, data, n) != 0)
            wk->failures++;
    }
    return NULL;
}

static int cmp_id(const void *a, const void *b)
{
    return strcmp(a, b);
}

static void test_concurrent_writers(void **state)
{
    (void)state;
    char *dir = make_dir();
    vodup_blobstore *bs = vodup_blobstore_file_open(dir);
    assert_non_null(bs);
    static worker wk[NTHREADS];
    pthread_t th[NTHREADS];
    for (int i = 0; i < NTHREADS; i++) {
        memset(&wk[i], 0, sizeof wk[i]);
        wk[i].bs = bs;
        wk[i].index = i;
        assert_int_equal(pthread_create(&th[i], NULL, writer_thread, &wk[i]), 0);
    }
    for (int i = 0; i < NTHREADS; i++)
        assert_int_equal(pthread_join(th[i], NULL), 0);

    static char all[NTHREADS * PER_THREAD][33];
    int n = 0;
    for (int i = 0; i < NTHREADS; i++) {
        assert_int_equal(wk[i].failures, 0);
        for (int j = 0; j < PER_THREAD; j++) {
            if (wk[i].ids[j][0])
                memcpy(all[n++], wk[i].ids[j], 33);
        }
    }
    assert_int_equal(n, NTHREADS * PER_THREAD * 4 / 5);
    qsort(all, (size_t)n, sizeof all[0], cmp_id);
    for (int i = 1; i < n; i++)
        assert_string_not_equal(all[i - 1], all[i]);

    char p[4096];
    snprintf(p, sizeof p, "%s/tmp", dir);
    assert_int_equal(count_files(p), 0);
    bs->ops->close(bs);
    rm_rf(dir);
    free(dir);
}

/* The free-space floor: a store that must leave more free than the disk has refuses to
 * start a blob (nothing in tmp/), and a writer stops when the floor rises past it. */
static void test_reserve_refuses(void **state)
{
    (void)state;
    char *dir = make_dir();
    vodup_blobstore *bs = vodup_blobstore_file_open(dir);
    assert_non_null(bs);
    char tmp[4096];
    snprintf(tmp, sizeof tmp, "%s/tmp", dir);

    /* Writes with a floor of one byte; then the floor becomes more than any disk has:
     * the writer notices within its check step (at most 8 MiB on a roomy disk). */
    vodup_blobstore_file_set_reserve(bs, 1, 0);
    vodup_blob_writer *w = NULL;
    assert_int_equal(bs->ops->writer_open(bs, &w), VODUP_BLOB_OK);
    vodup_blobstore_file_set_reserve(bs, UINT64_MAX / 4, 0);
    static char chunk[64 * 1024];
    int rc = VODUP_BLOB_OK;
    size_t written = 0;
    while (rc == VODUP_BLOB_OK && written < 16u * 1024 * 1024) {
        rc = bs->ops->writer_write(w, chunk, sizeof chunk);
        written += sizeof chunk;
    }
    assert_int_equal(rc, VODUP_BLOB_ENOSPC);
    assert_true(written <= 8u * 1024 * 1024 + sizeof chunk);
    bs->ops->writer_abort(w);
    assert_int_equal(count_files(tmp), 0);

    /* Refused before anything is created. */
    w = NULL;
    assert_int_equal(bs->ops->writer_open(bs, &w), VODUP_BLOB_ENOSPC);
    assert_null(w);
    assert_int_equal(count_files(tmp), 0);
    assert_int_equal(bs->ops->space_check(bs, 0), VODUP_BLOB_ENOSPC);

    /* No floor: everything goes. */
    vodup_blobstore_file_set_reserve(bs, 0, 0);
    assert_int_equal(bs->ops->space_check(bs, 1024), VODUP_BLOB_OK);
    char id[33];
    put(bs, "x", 1, id);
    /* A percentage is of the file system's size. */
    assert_true(vodup_blobstore_file_set_reserve(bs, 0, 50) > 0);
    assert_int_equal(bs->ops->space_check(bs, UINT64_MAX / 2), VODUP_BLOB_ENOSPC);
    bs->ops->close(bs);
    rm_rf(dir);
    free(dir);
}

static long long file_size_at(const char *dir, const char *name)
{
    char p[4096];
    snprintf(p, sizeof p, "%s/%s", dir, name);
    struct stat st;
    if (stat(p, &st) != 0)
        return -1;
    /* allocated, not sparse: the headroom must be real blocks */
    assert_true((long long)st.st_blocks * 512 >= (long long)st.st_size);
    return (long long)st.st_size;
}

/* The headroom file follows the reserve: min(8 MiB, reserve / 2), gone without a floor. */
static void test_headroom_file(void **state)
{
    (void)state;
    char *dir = make_dir();
    vodup_blobstore *bs = vodup_blobstore_file_open(dir);
    assert_non_null(bs);
    assert_int_equal(file_size_at(dir, VODUP_BLOB_HEADROOM_NAME), -1);
    struct statvfs vfs;
    assert_int_equal(statvfs(dir, &vfs), 0);
    if ((uint64_t)vfs.f_bavail * vfs.f_frsize >= 64ULL * 1024 * 1024) { /* room for it here */
        vodup_blobstore_file_set_reserve(bs, 32ULL * 1024 * 1024, 0);
        assert_int_equal(file_size_at(dir, VODUP_BLOB_HEADROOM_NAME), (long long)VODUP_BLOB_HEADROOM_MAX);
        vodup_blobstore_file_set_reserve(bs, 4ULL * 1024 * 1024, 0);
        assert_int_equal(file_size_at(dir, VODUP_BLOB_HEADROOM_NAME), 2LL * 1024 * 1024);
    }
    vodup_blobstore_file_set_reserve(bs, 0, 0);
    assert_int_equal(file_size_at(dir, VODUP_BLOB_HEADROOM_NAME), -1);
    bs->ops->close(bs);
    rm_rf(dir);
    free(dir);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_write_read),
        cmocka_unit_test(test_large_direct),
        cmocka_unit_test(test_abort),
        cmocka_unit_test(test_recover),
        cmocka_unit_test(test_invalid_ids),
        cmocka_unit_test(test_open_errors),
        cmocka_unit_test(test_concurrent_writers),
        cmocka_unit_test(test_reserve_refuses),
        cmocka_unit_test(test_headroom_file),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
