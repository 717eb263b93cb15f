/* store_harness.h - fixtures shared by the store unit tests (test_blob_file.c,
 * test_meta_sqlite.c, test_meta_vod.c, test_events.c): a fresh directory per test under
 * $VODUP_TEST_TMP, its removal, and a metadata store opened there with the accounts and
 * bucket the metadata tests start from.
 *
 * Header-only and static inline, because each test is its own executable and most use
 * only part of this: a plain static function left unused would fail -Werror.
 */
#ifndef VODUP_TESTS_STORE_HARNESS_H
#define VODUP_TESTS_STORE_HARNESS_H

#include "server/store/meta.h"

#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/* Removes path and everything below it. */
static inline void rm_rf(const char *path)
{
    DIR *d = opendir(path);
    if (d) {
        struct dirent *de;
        while ((de = readdir(d)) != NULL) {
            if (!strcmp(de->d_name, ".") || !strcmp(de->d_name, ".."))
                continue;
            char sub[4096];
            int len = snprintf(sub, sizeof sub, "%s/%s", path, de->d_name);
            if (len < 0 || (size_t)len >= sizeof sub)
                continue;   /* never under a mkdtemp directory; and no cut-off path */
            rm_rf(sub);
        }
        closedir(d);
        rmdir(path);
    } else {
        unlink(path);
    }
}

/* A new directory "<$VODUP_TEST_TMP, else /tmp>/<prefix>-XXXXXX" (mkdtemp), to be freed
 * by the caller; NULL when it cannot be made. */
static inline char *make_temp_dir(const char *prefix)
{
    const char *base = getenv("VODUP_TEST_TMP");
    if (!base || !*base)
        base = "/tmp";
    mkdir(base, 0700);
    size_t n = strlen(base) + strlen(prefix) + 16;
    char *p = malloc(n);
    if (!p)
        return NULL;
    snprintf(p, n, "%s/%s-XXXXXX", base, prefix);
    if (!mkdtemp(p)) {
        free(p);
        return NULL;
    }
    return p;
}

/* A metadata store in its own directory. */
typedef struct store_fx {
    char *dir;
    vodup_meta *m;
} store_fx;

/* cmocka setup: a store of `pool` connections in a new directory named after prefix,
 * with accounts acc1 "first" and acc2 "second" (created at 1000) and acc1's bucket
 * `bucket` (created at 1001). *state becomes the store_fx; -1 on failure. */
static inline int store_fx_setup(void **state, const char *prefix, int pool, const char *bucket)
{
    store_fx *f = calloc(1, sizeof *f);
    if (!f)
        return -1;
    f->dir = make_temp_dir(prefix);
    if (!f->dir)
        return -1;
    if (vodup_meta_open_sqlite(&f->m, f->dir, pool) != VODUP_META_OK)
        return -1;
    if (vodup_meta_account_create(f->m, "acc1", "first", 1000) != VODUP_META_OK ||
        vodup_meta_account_create(f->m, "acc2", "second", 1000) != VODUP_META_OK ||
        vodup_meta_bucket_create(f->m, bucket, "acc1", 1001) != VODUP_META_OK)
        return -1;
    *state = f;
    return 0;
}

/* cmocka teardown for store_fx_setup: closes the store and removes its directory. */
static inline int store_fx_teardown(void **state)
{
    store_fx *f = *state;
    vodup_meta_close(f->m);
    rm_rf(f->dir);
    free(f->dir);
    free(f);
    return 0;
}

#endif
