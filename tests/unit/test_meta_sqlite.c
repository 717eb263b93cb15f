/* test_meta_sqlite.c - what only the SQLite metadata store does, beyond the contract that
 * test_store_conformance.c checks for every back end: writers committed together (group
 * commit) each get their own result and a second connection sees their writes, the
 * store survives a reopen, and a pool of one connection still lets list callbacks call
 * back into the store. Each test gets its own database in a mkdtemp directory under
 * $VODUP_TEST_TMP.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>

#include "server/core/core.h"
#include "server/store/meta.h"
#include "store_harness.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---- fixtures ----------------------------------------------------------------------- */

typedef store_fx fx;

static int setup(void **state)
{
    return store_fx_setup(state, "meta", 4, "b1");
}

static int teardown(void **state)
{
    return store_fx_teardown(state);
}







/* ---- group commit and persistence --------------------------------------------------- */

/* Group commit: writers that commit together still get their own results; a refused
 * write leaves nothing behind, its neighbours' writes all land. */
#define GROUP_THREADS 16
#define GROUP_ROUNDS 25

typedef struct group_worker {
    vodup_meta *m;
    int index;
    int errors;
} group_worker;

static void *group_main(void *arg)
{
    group_worker *w = arg;
    vodup_meta_guard g = { .issued_ms = 1, .expires = 1, .writable = core_guard_writable };
    for (int r = 0; r < GROUP_ROUNDS; r++) {
        char key[32];
        snprintf(key, sizeof key, "g%d/%d", w->index, r);
        vodup_meta_segment seg;
        vodup_meta_object o = fx_simple_object(key, &seg, (unsigned)(50000 + w->index * 100 + r), 10);
        /* every other write is refused (no media at the key) */
        int refused = r % 2;
        int rc = vodup_meta_object_put_guarded(w->m, &o, refused ? &g : NULL);
        if (rc != (refused ? VODUP_META_EREVOKED : VODUP_META_OK))
            w->errors++;
    }
    return NULL;
}

static void test_group_commit_results(void **state)
{
    fx *f = *state;
    group_worker w[GROUP_THREADS];
    pthread_t th[GROUP_THREADS];
    for (int i = 0; i < GROUP_THREADS; i++) {
        w[i] = (group_worker){ .m = f->m, .index = i };
        assert_int_equal(pthread_create(&th[i], NULL, group_main, &w[i]), 0);
    }
    for (int i = 0; i < GROUP_THREADS; i++) {
        assert_int_equal(pthread_join(th[i], NULL), 0);
        assert_int_equal(w[i].errors, 0);
    }
    for (int i = 0; i < GROUP_THREADS; i++) {
        for (int r = 0; r < GROUP_ROUNDS; r++) {
            char key[32];
            int n = snprintf(key, sizeof key, "g%d/%d", i, r);
            vodup_meta_object o;
            int rc = vodup_meta_object_get(f->m, "b1", key, (size_t)n, &o);
            assert_int_equal(rc, r % 2 ? VODUP_META_ENOTFOUND : VODUP_META_OK);
            if (rc == VODUP_META_OK)
                vodup_meta_object_clear(&o);
        }
    }
    /* a second handle (another process, say) sees all of it: it was committed */
    vodup_meta *other;
    assert_int_equal(vodup_meta_open_sqlite(&other, f->dir, 1), VODUP_META_OK);
    int cnt = 0;
    assert_int_equal(vodup_meta_object_list(other, "b1", "g", 1, NULL, 0, 1000, fx_count_cb, &cnt), VODUP_META_OK);
    assert_int_equal(cnt, GROUP_THREADS * ((GROUP_ROUNDS + 1) / 2));
    vodup_meta_close(other);
}

static void test_reopen(void **state)
{
    fx *f = *state;
    fx_put_object(f->m, "b1", "persist", 7, 42, 2);
    assert_int_equal(vodup_meta_setting_set(f->m, "s", "v"), VODUP_META_OK);
    fx_new_upload(f->m, "UR", "b1", "persist", 7);
    vodup_meta_close(f->m);
    f->m = NULL;

    /* A pool of one must work too. */
    assert_int_equal(vodup_meta_open_sqlite(&f->m, f->dir, 1), VODUP_META_OK);
    vodup_meta_object g;
    assert_int_equal(vodup_meta_object_get(f->m, "b1", "persist", 7, &g), VODUP_META_OK);
    assert_int_equal(g.nsegs, 2);
    assert_int_equal(g.mtime, 5042);
    vodup_meta_object_clear(&g);
    char *v = NULL;
    assert_int_equal(vodup_meta_setting_get(f->m, "s", &v), VODUP_META_OK);
    assert_string_equal(v, "v");
    free(v);
    vodup_meta_bucket b;
    assert_int_equal(vodup_meta_bucket_get(f->m, "b1", &b), VODUP_META_OK);
    vodup_meta_bucket_clear(&b);
    vodup_meta_upload up;
    assert_int_equal(vodup_meta_upload_get(f->m, "UR", &up), VODUP_META_OK);
    vodup_meta_upload_clear(&up);
    /* A callback may call back into the store even with a pool of one. */
    fx_upload_list ul = { .n = 0 };
    assert_int_equal(vodup_meta_upload_list(f->m, "b1", NULL, 0, NULL, 0, NULL, 10, fx_collect_upload, &ul),
                     VODUP_META_OK);
    assert_int_equal(ul.n, 1);

    /* An unusable directory fails cleanly. */
    vodup_meta *bad = NULL;
    assert_int_not_equal(vodup_meta_open_sqlite(&bad, "/nonexistent/dir/for/vodup", 2), VODUP_META_OK);
    assert_null(bad);
}

static int nested_cb(const vodup_meta_bucket *b, void *u)
{
    vodup_meta *m = u;
    vodup_meta_bucket again;
    assert_int_equal(vodup_meta_bucket_get(m, b->name, &again), VODUP_META_OK);
    vodup_meta_bucket_clear(&again);
    return 0;
}

static void test_nested_callbacks(void **state)
{
    fx *f = *state;
    vodup_meta_close(f->m);
    assert_int_equal(vodup_meta_open_sqlite(&f->m, f->dir, 1), VODUP_META_OK);
    assert_int_equal(vodup_meta_bucket_list(f->m, "acc1", nested_cb, f->m), VODUP_META_OK);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_group_commit_results, setup, teardown),
        cmocka_unit_test_setup_teardown(test_reopen, setup, teardown),
        cmocka_unit_test_setup_teardown(test_nested_callbacks, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
