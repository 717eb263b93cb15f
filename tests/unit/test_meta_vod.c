/* test_meta_vod.c - what only the SQLite store does on the VOD side, beyond the contract
 * test_store_conformance.c checks for every back end: the nonce ledger's purge of old
 * rows, a failing event insert rolling back the object write that queued it, list
 * callbacks calling back into a pool of one connection, and the migration of a database
 * left at schema version 1.
 *
 * Each test gets its own database in a mkdtemp directory under $VODUP_TEST_TMP. The
 * tests open the database file directly with SQLite to arrange and observe what the API
 * cannot (a failing event insert, a version-1 database, the rows left in the ledger).
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>

#include "server/store/meta.h"
#include "server/store/meta_vod.h"
#include "store_harness.h"

#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* ---- fixtures ----------------------------------------------------------------------- */

typedef store_fx fx;

static int setup(void **state)
{
    return store_fx_setup(state, "metavod", 3, "vod");
}

static int teardown(void **state)
{
    return store_fx_teardown(state);
}

/* Runs sql on the store's database file through a separate connection. */
static void raw_exec(const fx *f, const char *sql)
{
    char path[4096];
    snprintf(path, sizeof path, "%s/vodup.db", f->dir);
    sqlite3 *db = NULL;
    assert_int_equal(sqlite3_open(path, &db), SQLITE_OK);
    sqlite3_busy_timeout(db, 5000);
    char *err = NULL;
    int rc = sqlite3_exec(db, sql, NULL, NULL, &err);
    if (rc != SQLITE_OK)
        fprintf(stderr, "raw_exec: %s\n", err ? err : "?");
    sqlite3_free(err);
    sqlite3_close(db);
    assert_int_equal(rc, SQLITE_OK);
}

static int raw_int(const fx *f, const char *sql)
{
    char path[4096];
    snprintf(path, sizeof path, "%s/vodup.db", f->dir);
    sqlite3 *db = NULL;
    sqlite3_stmt *s = NULL;
    assert_int_equal(sqlite3_open(path, &db), SQLITE_OK);
    assert_int_equal(sqlite3_prepare_v2(db, sql, -1, &s, NULL), SQLITE_OK);
    assert_int_equal(sqlite3_step(s), SQLITE_ROW);
    int v = sqlite3_column_int(s, 0);
    sqlite3_finalize(s);
    sqlite3_close(db);
    return v;
}









/* ---- nonces ------------------------------------------------------------------------------ */

static void test_nonces(void **state)
{
    fx *f = *state;
    /* (Each nonce once within ttl: test_store_conformance.c.) Old rows are purged a
     * bounded batch per call. */
    char nonce[32];
    for (int i = 0; i < 250; i++) {
        snprintf(nonce, sizeof nonce, "old%d", i);
        assert_int_equal(vodup_meta_nonce_use(f->m, "K3", nonce, 20000 + i, 900), VODUP_META_OK);
    }
    assert_int_equal(raw_int(f, "SELECT count(*) FROM nonces WHERE key_id = 'K3'"), 250);
    assert_int_equal(vodup_meta_nonce_use(f->m, "K4", "a", 50000, 900), VODUP_META_OK);
    int left = raw_int(f, "SELECT count(*) FROM nonces WHERE at < 49100");
    assert_true(left > 0 && left < 250 + 3);
    assert_int_equal(vodup_meta_nonce_use(f->m, "K4", "b", 50000, 900), VODUP_META_OK);
    assert_int_equal(vodup_meta_nonce_use(f->m, "K4", "c", 50000, 900), VODUP_META_OK);
    assert_int_equal(vodup_meta_nonce_use(f->m, "K4", "d", 50000, 900), VODUP_META_OK);
    assert_int_equal(raw_int(f, "SELECT count(*) FROM nonces WHERE at < 49100"), 0);
    assert_int_equal(raw_int(f, "SELECT count(*) FROM nonces"), 4);
}

static void test_hook_failure_rolls_back(void **state)
{
    fx *f = *state;
    fx_new_media(f->m, FX_MEDIA_ID(1), "video", "acc1", "vod", "sv/1/a.mp4", 4000);
    /* Make the event insert fail: the object must not be recorded either. */
    raw_exec(f, "CREATE TRIGGER no_events BEFORE INSERT ON events BEGIN SELECT RAISE(ABORT, 'refused'); END;");
    assert_int_not_equal(fx_put_media_object(f->m, "vod", "sv/1/a.mp4", 1, 10, 11, 4100), VODUP_META_OK);
    vodup_meta_object o;
    assert_int_equal(vodup_meta_object_get(f->m, "vod", "sv/1/a.mp4", 10, &o), VODUP_META_ENOTFOUND);
    fx_expect_status(f->m, "acc1", FX_MEDIA_ID(1), "Uploading");
    /* Objects nobody waits for are unaffected by the outbox. */
    assert_int_equal(fx_put_media_object(f->m, "vod", "other", 2, 10, 11, 4100), VODUP_META_OK);
    raw_exec(f, "DROP TRIGGER no_events;");
    assert_int_equal(fx_put_media_object(f->m, "vod", "sv/1/a.mp4", 1, 10, 11, 4100), VODUP_META_OK);
    fx_expect_status(f->m, "acc1", FX_MEDIA_ID(1), "UploadSucc");
    assert_int_equal(fx_event_count(f->m), 1);
}


static void test_callbacks_reenter(void **state)
{
    fx *f = *state;
    vodup_meta_close(f->m);
    assert_int_equal(vodup_meta_open_sqlite(&f->m, f->dir, 1), VODUP_META_OK);
    fx_check_callbacks_reenter(f->m);
}

/* ---- schema migration ------------------------------------------------------------------ */

static void test_migration_from_v1(void **state)
{
    fx *f = *state;
    assert_int_equal(fx_put_media_object(f->m, "vod", "old-object", 1, 10, 11, 100), VODUP_META_OK);
    assert_int_equal(vodup_meta_key_create(f->m, "KOLD", "acc1", "root", "s", 1, 100), VODUP_META_OK);
    vodup_meta_close(f->m);
    f->m = NULL;
    assert_int_equal(raw_int(f, "SELECT max(version) FROM schema_version"), 3); /* the newest schema (quota counters: 3) */

    /* Turn the file back into what version 1 left: none of the VOD tables, version 1. */
    raw_exec(f, "DROP TABLE principals; DROP TABLE nonces; DROP TABLE media; DROP TABLE callbacks;"
                "DROP TABLE events; DROP INDEX IF EXISTS access_keys_principal;"
                "DELETE FROM schema_version; INSERT INTO schema_version(version) VALUES(1);");
    assert_int_equal(raw_int(f, "SELECT count(*) FROM sqlite_master WHERE name = 'media'"), 0);

    assert_int_equal(vodup_meta_open_sqlite(&f->m, f->dir, 2), VODUP_META_OK);
    assert_int_equal(raw_int(f, "SELECT max(version) FROM schema_version"), 3);
    /* Old data is kept... */
    vodup_meta_object o;
    assert_int_equal(vodup_meta_object_get(f->m, "vod", "old-object", 10, &o), VODUP_META_OK);
    assert_int_equal(o.size, 10);
    vodup_meta_object_clear(&o);
    vodup_meta_key k;
    assert_int_equal(vodup_meta_key_get(f->m, "KOLD", &k), VODUP_META_OK);
    vodup_meta_key_clear(&k);
    /* ...and the new tables work, hook included. */
    fx_new_media(f->m, FX_MEDIA_ID(1), "video", "acc1", "vod", "new", 200);
    assert_int_equal(fx_put_media_object(f->m, "vod", "new", 2, 5, 6, 300), VODUP_META_OK);
    fx_expect_status(f->m, "acc1", FX_MEDIA_ID(1), "UploadSucc");
    assert_int_equal(fx_event_count(f->m), 1);

    /* Reopening a current database keeps everything and migrates nothing. */
    vodup_meta_close(f->m);
    assert_int_equal(vodup_meta_open_sqlite(&f->m, f->dir, 1), VODUP_META_OK);
    fx_expect_status(f->m, "acc1", FX_MEDIA_ID(1), "UploadSucc");
    assert_int_equal(fx_event_count(f->m), 1);
    assert_int_equal(raw_int(f, "SELECT count(*) FROM schema_version"), 1);
}


int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_nonces, setup, teardown),
        cmocka_unit_test_setup_teardown(test_hook_failure_rolls_back, setup, teardown),
        cmocka_unit_test_setup_teardown(test_callbacks_reenter, setup, teardown),
        cmocka_unit_test_setup_teardown(test_migration_from_v1, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
