/* test_meta_vod.c - the VOD half of the metadata store (meta_vod.h) through its public
 * calls: principals and their keys, the nonce ledger, media records and their listing,
 * callback configuration, the event outbox, and above all the completion hook inside the
 * object store's transactions (an object written where a media record points completes
 * it and queues exactly one event, atomically). Also that a database left at schema
 * version 1 is migrated on open without losing data.
 *
 * Each test gets its own database in a mkdtemp directory under $VODUP_TEST_TMP. A few
 * tests open the database file directly with SQLite to arrange what the API cannot (a
 * failing event insert, a version-1 database).
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

static void blob_id(char out[33], unsigned n)
{
    snprintf(out, 33, "%016x%016x", 0xb10bu, n);
}

/* One-segment object put with blob n and the given crc. */
static int put_object(vodup_meta *m, const char *bucket, const char *key, unsigned blob, uint64_t size,
                      uint64_t crc, time_t mtime)
{
    vodup_meta_segment seg;
    blob_id(seg.blob, blob);
    seg.size = size;
    vodup_meta_object o;
    memset(&o, 0, sizeof o);
    o.bucket = (char *)bucket;
    o.key = (char *)key;
    o.key_len = strlen(key);
    o.size = size;
    snprintf(o.etag, sizeof o.etag, "ETAG%u", blob);
    o.crc64 = crc;
    snprintf(o.type, sizeof o.type, "Normal");
    o.mtime = mtime;
    o.segs = &seg;
    o.nsegs = 1;
    return vodup_meta_object_put(m, &o);
}

static void new_media(vodup_meta *m, const char *id, const char *kind, const char *account, const char *bucket,
                      const char *key, time_t created)
{
    vodup_meta_media md;
    memset(&md, 0, sizeof md);
    snprintf(md.id, sizeof md.id, "%s", id);
    snprintf(md.kind, sizeof md.kind, "%s", kind);
    snprintf(md.status, sizeof md.status, "Uploading");
    md.account_id = (char *)account;
    md.title = (char *)"a title";
    md.file_name = (char *)"movie.mp4";
    md.cate_id = -1;
    md.bucket = (char *)bucket;
    md.object_key = (char *)key;
    md.created = created;
    assert_int_equal(vodup_meta_media_create(m, &md), VODUP_META_OK);
}

static void expect_status(vodup_meta *m, const char *account, const char *id, const char *status)
{
    vodup_meta_media md;
    assert_int_equal(vodup_meta_media_get(m, account, id, &md), VODUP_META_OK);
    assert_string_equal(md.status, status);
    vodup_meta_media_clear(&md);
}

/* Collects events into a small array (copies of the fields the tests look at). */
typedef struct ev_list {
    int n;
    long long id[16];
    char media[16][40];
    char type[16][40];
    char account[16][16];
    int attempts[16];
    time_t next_at[16];
    int has_body[16];
    char last_error[16][32];
} ev_list;

static int collect_event(const vodup_meta_event *e, void *u)
{
    ev_list *l = u;
    assert_true(l->n < 16);
    int i = l->n++;
    l->id[i] = e->id;
    snprintf(l->media[i], sizeof l->media[i], "%s", e->media_id);
    snprintf(l->type[i], sizeof l->type[i], "%s", e->event_type);
    snprintf(l->account[i], sizeof l->account[i], "%s", e->account_id);
    l->attempts[i] = e->attempts;
    l->next_at[i] = e->next_at;
    l->has_body[i] = e->body != NULL;
    snprintf(l->last_error[i], sizeof l->last_error[i], "%s", e->last_error ? e->last_error : "");
    return 0;
}

static int event_count(vodup_meta *m)
{
    ev_list l = { .n = 0 };
    assert_int_equal(vodup_meta_event_list(m, NULL, collect_event, &l), VODUP_META_OK);
    return l.n;
}

#define MEDIA_ID(n) "0000000000000000000000000000000" #n

/* ---- principals and keys ---------------------------------------------------------------- */

typedef struct names {
    int n;
    char v[8][64];
    int active[8];
} names;

static int collect_principal(const vodup_meta_principal *p, void *u)
{
    names *l = u;
    assert_true(l->n < 8);
    snprintf(l->v[l->n++], sizeof l->v[0], "%s", p->name);
    return 0;
}

static int collect_key(const char *key_id, int active, time_t created, void *u)
{
    (void)created;
    names *l = u;
    assert_true(l->n < 8);
    l->active[l->n] = active;
    snprintf(l->v[l->n++], sizeof l->v[0], "%s", key_id);
    return 0;
}

static void test_principals(void **state)
{
    fx *f = *state;
    vodup_meta_principal p = { .account_id = "acc1", .name = "uploader",
                               .policies = "[{\"PolicyName\":\"AliyunVODFullAccess\"}]", .created = 2000 };
    assert_int_equal(vodup_meta_principal_create(f->m, "role", &p), VODUP_META_OK);
    assert_int_equal(vodup_meta_principal_create(f->m, "role", &p), VODUP_META_EEXISTS);
    /* The same name as a user is another principal. */
    p.arn = "acs:ram::acc1:user/uploader";
    p.max_session = 0;
    assert_int_equal(vodup_meta_principal_create(f->m, "user", &p), VODUP_META_OK);
    vodup_meta_principal q = { .account_id = "acc1", .name = "alice", .created = 2001 };
    assert_int_equal(vodup_meta_principal_create(f->m, "user", &q), VODUP_META_OK);
    /* Unknown account: the parent row is missing. */
    vodup_meta_principal bad = { .account_id = "nobody", .name = "x" };
    assert_int_equal(vodup_meta_principal_create(f->m, "role", &bad), VODUP_META_ENOTFOUND);

    vodup_meta_principal g;
    assert_int_equal(vodup_meta_principal_get(f->m, "role", "acc1", "uploader", &g), VODUP_META_OK);
    assert_string_equal(g.account_id, "acc1");
    assert_string_equal(g.name, "uploader");
    assert_string_equal(g.arn, "acs:ram::acc1:role/uploader");   /* derived */
    assert_string_equal(g.policies, "[{\"PolicyName\":\"AliyunVODFullAccess\"}]");
    assert_int_equal(g.max_session, 3600);                       /* the default */
    assert_int_equal(g.created, 2000);
    vodup_meta_principal_clear(&g);
    assert_int_equal(vodup_meta_principal_get(f->m, "user", "acc1", "alice", &g), VODUP_META_OK);
    assert_string_equal(g.policies, "[]");
    vodup_meta_principal_clear(&g);
    assert_int_equal(vodup_meta_principal_get(f->m, "role", "acc2", "uploader", &g), VODUP_META_ENOTFOUND);
    assert_int_equal(vodup_meta_principal_get(f->m, "role", "acc1", "alice", &g), VODUP_META_ENOTFOUND);

    names l = { .n = 0 };
    assert_int_equal(vodup_meta_principal_list(f->m, "user", "acc1", collect_principal, &l), VODUP_META_OK);
    assert_int_equal(l.n, 2);
    assert_string_equal(l.v[0], "alice");
    assert_string_equal(l.v[1], "uploader");
    l.n = 0;
    assert_int_equal(vodup_meta_principal_list(f->m, "role", "acc2", collect_principal, &l), VODUP_META_OK);
    assert_int_equal(l.n, 0);

    /* Keys: root's, alice's (two), and uploader-the-user's. */
    assert_int_equal(vodup_meta_key_create(f->m, "KROOT", "acc1", "root", "s", 1, 100), VODUP_META_OK);
    assert_int_equal(vodup_meta_key_create(f->m, "KA2", "acc1", "alice", "s", 1, 102), VODUP_META_OK);
    assert_int_equal(vodup_meta_key_create(f->m, "KA1", "acc1", "alice", "s", 1, 101), VODUP_META_OK);
    assert_int_equal(vodup_meta_key_create(f->m, "KU", "acc1", "uploader", "s", 1, 103), VODUP_META_OK);
    l.n = 0;
    assert_int_equal(vodup_meta_key_list(f->m, "acc1", "alice", collect_key, &l), VODUP_META_OK);
    assert_int_equal(l.n, 2);
    assert_string_equal(l.v[0], "KA1");   /* by creation time */
    assert_string_equal(l.v[1], "KA2");
    assert_int_equal(l.active[0], 1);
    l.n = 0;
    assert_int_equal(vodup_meta_key_list(f->m, "acc1", "root", collect_key, &l), VODUP_META_OK);
    assert_int_equal(l.n, 1);

    /* Deleting a user takes its keys; others' keys stay. Deleting the role does not touch
     * the user of the same name nor its keys. */
    assert_int_equal(vodup_meta_principal_delete(f->m, "user", "acc1", "alice"), VODUP_META_OK);
    assert_int_equal(vodup_meta_principal_delete(f->m, "user", "acc1", "alice"), VODUP_META_ENOTFOUND);
    vodup_meta_key k;
    assert_int_equal(vodup_meta_key_get(f->m, "KA1", &k), VODUP_META_ENOTFOUND);
    assert_int_equal(vodup_meta_key_get(f->m, "KA2", &k), VODUP_META_ENOTFOUND);
    assert_int_equal(vodup_meta_key_get(f->m, "KROOT", &k), VODUP_META_OK);
    vodup_meta_key_clear(&k);
    assert_int_equal(vodup_meta_principal_delete(f->m, "role", "acc1", "uploader"), VODUP_META_OK);
    assert_int_equal(vodup_meta_key_get(f->m, "KU", &k), VODUP_META_OK);
    vodup_meta_key_clear(&k);
    assert_int_equal(vodup_meta_principal_get(f->m, "user", "acc1", "uploader", &g), VODUP_META_OK);
    vodup_meta_principal_clear(&g);
    /* An absent user named like root's principal must not take the root keys. */
    assert_int_equal(vodup_meta_principal_delete(f->m, "user", "acc1", "root"), VODUP_META_ENOTFOUND);
    assert_int_equal(vodup_meta_key_get(f->m, "KROOT", &k), VODUP_META_OK);
    vodup_meta_key_clear(&k);
}

/* ---- nonces ------------------------------------------------------------------------------ */

static void test_nonces(void **state)
{
    fx *f = *state;
    assert_int_equal(vodup_meta_nonce_use(f->m, "K1", "n1", 10000, 900), VODUP_META_OK);
    assert_int_equal(vodup_meta_nonce_use(f->m, "K1", "n1", 10000, 900), VODUP_META_EEXISTS);
    assert_int_equal(vodup_meta_nonce_use(f->m, "K1", "n1", 10900, 900), VODUP_META_EEXISTS);
    /* Another key may use the same nonce. */
    assert_int_equal(vodup_meta_nonce_use(f->m, "K2", "n1", 10001, 900), VODUP_META_OK);
    /* After ttl the nonce may be used again, and then counts from the new use. */
    assert_int_equal(vodup_meta_nonce_use(f->m, "K1", "n1", 10901, 900), VODUP_META_OK);
    assert_int_equal(vodup_meta_nonce_use(f->m, "K1", "n1", 11000, 900), VODUP_META_EEXISTS);

    /* Old rows are purged a bounded batch per call. */
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

/* ---- media ---------------------------------------------------------------------------- */

static void test_media_crud(void **state)
{
    fx *f = *state;
    vodup_meta_media md;
    memset(&md, 0, sizeof md);
    snprintf(md.id, sizeof md.id, "%s", MEDIA_ID(1));
    snprintf(md.kind, sizeof md.kind, "video");
    md.account_id = "acc1";
    md.title = "Title";
    md.description = "Desc";
    md.tags = "a,b";
    md.cover_url = "http://x/c.jpg";
    md.user_data = "{\"Extend\":\"1\"}";
    md.template_group_id = "tg";
    md.app_id = "app-1000000";
    md.file_name = "movie.mp4";
    md.storage_location = "loc1";
    md.ext = "mp4";
    md.cate_id = 7;
    md.file_size = 123456789012ull;
    md.bucket = "vod";
    md.object_key = "sv/1/movie.mp4";
    md.created = 3000;
    assert_int_equal(vodup_meta_media_create(f->m, &md), VODUP_META_OK);
    assert_int_equal(vodup_meta_media_create(f->m, &md), VODUP_META_EEXISTS);
    md.account_id = "nobody";
    snprintf(md.id, sizeof md.id, "%s", MEDIA_ID(2));
    assert_int_equal(vodup_meta_media_create(f->m, &md), VODUP_META_ENOTFOUND);

    vodup_meta_media g;
    assert_int_equal(vodup_meta_media_get(f->m, "acc1", MEDIA_ID(1), &g), VODUP_META_OK);
    assert_string_equal(g.id, MEDIA_ID(1));
    assert_string_equal(g.kind, "video");
    assert_string_equal(g.status, "Uploading");    /* the default */
    assert_string_equal(g.account_id, "acc1");
    assert_string_equal(g.title, "Title");
    assert_string_equal(g.description, "Desc");
    assert_string_equal(g.tags, "a,b");
    assert_string_equal(g.cover_url, "http://x/c.jpg");
    assert_string_equal(g.user_data, "{\"Extend\":\"1\"}");
    assert_string_equal(g.template_group_id, "tg");
    assert_string_equal(g.app_id, "app-1000000");
    assert_string_equal(g.file_name, "movie.mp4");
    assert_string_equal(g.storage_location, "loc1");
    assert_null(g.image_type);
    assert_null(g.business_type);
    assert_string_equal(g.ext, "mp4");
    assert_int_equal(g.cate_id, 7);
    assert_true(g.file_size == 123456789012ull);
    assert_string_equal(g.bucket, "vod");
    assert_string_equal(g.object_key, "sv/1/movie.mp4");
    assert_int_equal(g.size, 0);
    assert_int_equal(g.created, 3000);
    assert_int_equal(g.modified, 3000);
    vodup_meta_media_clear(&g);
    /* Another account does not see it; a NULL account sees nothing. */
    assert_int_equal(vodup_meta_media_get(f->m, "acc2", MEDIA_ID(1), &g), VODUP_META_ENOTFOUND);
    assert_int_equal(vodup_meta_media_get(f->m, NULL, MEDIA_ID(1), &g), VODUP_META_ENOTFOUND);
    assert_int_equal(vodup_meta_media_get(f->m, "acc1", MEDIA_ID(9), &g), VODUP_META_ENOTFOUND);

    assert_int_equal(vodup_meta_media_find_object(f->m, "vod", "sv/1/movie.mp4", 14, &g), VODUP_META_OK);
    assert_string_equal(g.id, MEDIA_ID(1));
    vodup_meta_media_clear(&g);
    assert_int_equal(vodup_meta_media_find_object(f->m, "vod", "sv/1/movie.mp", 13, &g), VODUP_META_ENOTFOUND);
    assert_int_equal(vodup_meta_media_find_object(f->m, "other", "sv/1/movie.mp4", 14, &g),
                     VODUP_META_ENOTFOUND);

    assert_int_equal(vodup_meta_media_set_status(f->m, MEDIA_ID(1), "UploadFail", 3500), VODUP_META_OK);
    assert_int_equal(vodup_meta_media_get(f->m, "acc1", MEDIA_ID(1), &g), VODUP_META_OK);
    assert_string_equal(g.status, "UploadFail");
    assert_int_equal(g.modified, 3500);
    vodup_meta_media_clear(&g);
    assert_int_equal(vodup_meta_media_set_status(f->m, MEDIA_ID(9), "Uploading", 3500), VODUP_META_ENOTFOUND);

    /* Delete: not another account's; then gone. */
    assert_int_equal(vodup_meta_media_delete(f->m, "acc2", MEDIA_ID(1)), VODUP_META_ENOTFOUND);
    assert_int_equal(vodup_meta_media_delete(f->m, "acc1", MEDIA_ID(1)), VODUP_META_OK);
    assert_int_equal(vodup_meta_media_delete(f->m, "acc1", MEDIA_ID(1)), VODUP_META_ENOTFOUND);
    assert_int_equal(vodup_meta_media_get(f->m, "acc1", MEDIA_ID(1), &g), VODUP_META_ENOTFOUND);
    vodup_meta_media_clear(NULL);
}

/* ---- the completion hook ----------------------------------------------------------------- */

static void test_hook_put(void **state)
{
    fx *f = *state;
    new_media(f->m, MEDIA_ID(1), "video", "acc1", "vod", "sv/1/a.mp4", 4000);
    new_media(f->m, MEDIA_ID(2), "video", "acc1", "vod", "sv/2/b.mp4", 4001);
    time_t t;
    assert_int_equal(vodup_meta_event_next(f->m, &t), VODUP_META_ENOTFOUND);

    /* A key no media references: no event. */
    assert_int_equal(put_object(f->m, "vod", "unrelated", 1, 10, 11, 4100), VODUP_META_OK);
    assert_int_equal(event_count(f->m), 0);
    /* A prefix of a media key is another key. */
    assert_int_equal(put_object(f->m, "vod", "sv/1/a.mp", 2, 10, 11, 4100), VODUP_META_OK);
    assert_int_equal(event_count(f->m), 0);

    const uint64_t crc = 0xFEDCBA9876543210ull;   /* above INT64_MAX on purpose */
    assert_int_equal(put_object(f->m, "vod", "sv/1/a.mp4", 3, 777, crc, 4200), VODUP_META_OK);
    vodup_meta_media g;
    assert_int_equal(vodup_meta_media_get(f->m, "acc1", MEDIA_ID(1), &g), VODUP_META_OK);
    assert_string_equal(g.status, "UploadSucc");
    assert_int_equal(g.size, 777);
    assert_true(g.crc64 == crc);
    assert_int_equal(g.modified, 4200);
    vodup_meta_media_clear(&g);
    expect_status(f->m, "acc1", MEDIA_ID(2), "Uploading");

    ev_list l = { .n = 0 };
    assert_int_equal(vodup_meta_event_due(f->m, 4200, 10, collect_event, &l), VODUP_META_OK);
    assert_int_equal(l.n, 1);
    assert_string_equal(l.media[0], MEDIA_ID(1));
    assert_string_equal(l.type[0], "FileUploadComplete");
    assert_string_equal(l.account[0], "acc1");
    assert_int_equal(l.attempts[0], 0);
    assert_int_equal(l.next_at[0], 4200);
    assert_false(l.has_body[0]);
    /* Not due before its time. */
    l.n = 0;
    assert_int_equal(vodup_meta_event_due(f->m, 4199, 10, collect_event, &l), VODUP_META_OK);
    assert_int_equal(l.n, 0);
    assert_int_equal(vodup_meta_event_next(f->m, &t), VODUP_META_OK);
    assert_int_equal(t, 4200);

    /* A failing put (no such bucket) records neither the object nor a completion. */
    new_media(f->m, MEDIA_ID(3), "video", "acc1", "nobucket", "k", 4002);
    assert_int_equal(put_object(f->m, "nobucket", "k", 4, 5, 6, 4300), VODUP_META_ENOTFOUND);
    expect_status(f->m, "acc1", MEDIA_ID(3), "Uploading");
    assert_int_equal(event_count(f->m), 1);
}

static void test_hook_failure_rolls_back(void **state)
{
    fx *f = *state;
    new_media(f->m, MEDIA_ID(1), "video", "acc1", "vod", "sv/1/a.mp4", 4000);
    /* Make the event insert fail: the object must not be recorded either. */
    raw_exec(f, "CREATE TRIGGER no_events BEFORE INSERT ON events BEGIN SELECT RAISE(ABORT, 'refused'); END;");
    assert_int_not_equal(put_object(f->m, "vod", "sv/1/a.mp4", 1, 10, 11, 4100), VODUP_META_OK);
    vodup_meta_object o;
    assert_int_equal(vodup_meta_object_get(f->m, "vod", "sv/1/a.mp4", 10, &o), VODUP_META_ENOTFOUND);
    expect_status(f->m, "acc1", MEDIA_ID(1), "Uploading");
    /* Objects nobody waits for are unaffected by the outbox. */
    assert_int_equal(put_object(f->m, "vod", "other", 2, 10, 11, 4100), VODUP_META_OK);
    raw_exec(f, "DROP TRIGGER no_events;");
    assert_int_equal(put_object(f->m, "vod", "sv/1/a.mp4", 1, 10, 11, 4100), VODUP_META_OK);
    expect_status(f->m, "acc1", MEDIA_ID(1), "UploadSucc");
    assert_int_equal(event_count(f->m), 1);
}

static void new_upload(vodup_meta *m, const char *upload_id, const char *key, time_t t)
{
    vodup_meta_upload up;
    memset(&up, 0, sizeof up);
    snprintf(up.upload_id, sizeof up.upload_id, "%s", upload_id);
    up.bucket = "vod";
    up.key = (char *)key;
    up.key_len = strlen(key);
    up.initiated = t;
    assert_int_equal(vodup_meta_upload_create(m, &up, "acc1", 0), VODUP_META_OK);
}

static void put_part(vodup_meta *m, const char *upload_id, int number, unsigned blob, uint64_t size,
                     uint64_t crc)
{
    vodup_meta_part p;
    memset(&p, 0, sizeof p);
    p.number = number;
    blob_id(p.blob, blob);
    p.size = size;
    snprintf(p.etag, sizeof p.etag, "%032X", blob);
    p.crc64 = crc;
    p.mtime = 5000;
    assert_int_equal(vodup_meta_part_put(m, upload_id, &p), VODUP_META_OK);
}

static void test_hook_complete(void **state)
{
    fx *f = *state;
    new_media(f->m, MEDIA_ID(1), "video", "acc1", "vod", "sv/1/a.mp4", 4000);
    new_media(f->m, MEDIA_ID(2), "image", "acc1", "vod", "image/2/b.png", 4001);
    new_media(f->m, MEDIA_ID(3), "attached", "acc2", "vod", "att/3/c.srt", 4002);

    new_upload(f->m, "U1", "image/2/b.png", 5000);
    put_part(f->m, "U1", 1, 10, 100, 0x1111);
    put_part(f->m, "U1", 2, 11, 50, 0x2222);
    vodup_meta_complete_part cp[2] = { { 1, "" }, { 2, "" } };
    snprintf(cp[0].etag, sizeof cp[0].etag, "%032X", 10u);
    snprintf(cp[1].etag, sizeof cp[1].etag, "%032X", 11u);
    vodup_meta_object o;
    assert_int_equal(vodup_meta_upload_complete(f->m, "U1", cp, 2, 0, 6000, &o, NULL), VODUP_META_OK);

    vodup_meta_media g;
    assert_int_equal(vodup_meta_media_get(f->m, "acc1", MEDIA_ID(2), &g), VODUP_META_OK);
    assert_string_equal(g.status, "Normal");
    assert_int_equal(g.size, 150);
    assert_true(g.crc64 == o.crc64);
    assert_int_equal(g.modified, 6000);
    vodup_meta_media_clear(&g);
    vodup_meta_object_clear(&o);
    expect_status(f->m, "acc1", MEDIA_ID(1), "Uploading");

    ev_list l = { .n = 0 };
    assert_int_equal(vodup_meta_event_due(f->m, 6000, 10, collect_event, &l), VODUP_META_OK);
    assert_int_equal(l.n, 1);
    assert_string_equal(l.media[0], MEDIA_ID(2));
    assert_string_equal(l.type[0], "ImageUploadComplete");

    /* A refused Complete changes no media. */
    new_upload(f->m, "U2", "sv/1/a.mp4", 5000);
    put_part(f->m, "U2", 1, 20, 100, 0x3333);
    vodup_meta_complete_part wrong = { 1, "00000000000000000000000000000000" };
    size_t bad = 99;
    assert_int_equal(vodup_meta_upload_complete(f->m, "U2", &wrong, 1, 0, 6100, NULL, &bad),
                     VODUP_META_EINVALIDPART);
    expect_status(f->m, "acc1", MEDIA_ID(1), "Uploading");
    assert_int_equal(event_count(f->m), 1);

    /* Attached media: Normal and its own event type, under its own account. */
    assert_int_equal(put_object(f->m, "vod", "att/3/c.srt", 30, 9, 9, 6200), VODUP_META_OK);
    expect_status(f->m, "acc2", MEDIA_ID(3), "Normal");
    l.n = 0;
    assert_int_equal(vodup_meta_event_list(f->m, "acc2", collect_event, &l), VODUP_META_OK);
    assert_int_equal(l.n, 1);
    assert_string_equal(l.type[0], "AttachedMediaUploadComplete");
    assert_string_equal(l.account[0], "acc2");
    l.n = 0;
    assert_int_equal(vodup_meta_event_list(f->m, "acc1", collect_event, &l), VODUP_META_OK);
    assert_int_equal(l.n, 1);
    assert_int_equal(event_count(f->m), 2);
}

static int gc_has(char (*ids)[33], int n, const char *id)
{
    for (int i = 0; i < n; i++) {
        if (!strcmp(ids[i], id))
            return 1;
    }
    return 0;
}

static void test_media_delete_cleans_up(void **state)
{
    fx *f = *state;
    new_media(f->m, MEDIA_ID(1), "video", "acc1", "vod", "sv/1/a.mp4", 4000);
    new_media(f->m, MEDIA_ID(2), "video", "acc1", "vod", "sv/2/b.mp4", 4001);
    assert_int_equal(put_object(f->m, "vod", "sv/1/a.mp4", 1, 10, 11, 4100), VODUP_META_OK);
    assert_int_equal(put_object(f->m, "vod", "sv/2/b.mp4", 2, 10, 11, 4100), VODUP_META_OK);
    /* An upload still open on the key (a re-upload in flight), and one on another key. */
    new_upload(f->m, "U1", "sv/1/a.mp4", 4200);
    put_part(f->m, "U1", 1, 50, 100, 1);
    new_upload(f->m, "U2", "sv/2/b.mp4", 4200);
    put_part(f->m, "U2", 1, 60, 100, 1);
    assert_int_equal(event_count(f->m), 2);
    char ids[16][33];
    assert_int_equal(vodup_meta_gc_take(f->m, ids, 16), 0);

    assert_int_equal(vodup_meta_media_delete(f->m, "acc1", MEDIA_ID(1)), VODUP_META_OK);
    vodup_meta_object o;
    assert_int_equal(vodup_meta_object_get(f->m, "vod", "sv/1/a.mp4", 10, &o), VODUP_META_ENOTFOUND);
    vodup_meta_upload up;
    assert_int_equal(vodup_meta_upload_get(f->m, "U1", &up), VODUP_META_ENOTFOUND);
    int n = vodup_meta_gc_take(f->m, ids, 16);
    assert_int_equal(n, 2);
    char b[33];
    blob_id(b, 1);
    assert_true(gc_has(ids, n, b));
    blob_id(b, 50);
    assert_true(gc_has(ids, n, b));
    /* Its pending event went with it; the other media's did not. */
    ev_list l = { .n = 0 };
    assert_int_equal(vodup_meta_event_list(f->m, NULL, collect_event, &l), VODUP_META_OK);
    assert_int_equal(l.n, 1);
    assert_string_equal(l.media[0], MEDIA_ID(2));
    /* The other media's object and upload are untouched. */
    assert_int_equal(vodup_meta_object_get(f->m, "vod", "sv/2/b.mp4", 10, &o), VODUP_META_OK);
    vodup_meta_object_clear(&o);
    assert_int_equal(vodup_meta_upload_get(f->m, "U2", &up), VODUP_META_OK);
    vodup_meta_upload_clear(&up);

    /* A media whose object never arrived deletes fine too. */
    new_media(f->m, MEDIA_ID(3), "image", "acc1", "vod", "image/3/x.png", 4300);
    assert_int_equal(vodup_meta_media_delete(f->m, "acc1", MEDIA_ID(3)), VODUP_META_OK);
    /* Now unreferenced, its key takes objects without any event. */
    assert_int_equal(put_object(f->m, "vod", "sv/1/a.mp4", 3, 10, 11, 4400), VODUP_META_OK);
    assert_int_equal(event_count(f->m), 1);
}

/* ---- media listing ---------------------------------------------------------------------- */

typedef struct id_list {
    int n;
    char id[32][33];
    int stop_after;
} id_list;

static int collect_media(const vodup_meta_media *md, void *u)
{
    id_list *l = u;
    assert_true(l->n < 32);
    snprintf(l->id[l->n++], sizeof l->id[0], "%s", md->id);
    return l->stop_after && l->n >= l->stop_after;
}

static void test_media_list(void **state)
{
    fx *f = *state;
    /* Ten videos of acc1 created at 100..109 (two share 105 to test the id tie-break),
     * alternating statuses and categories, plus noise of other kinds and accounts. */
    for (int i = 0; i < 10; i++) {
        vodup_meta_media md;
        memset(&md, 0, sizeof md);
        snprintf(md.id, sizeof md.id, "%032d", i);
        snprintf(md.kind, sizeof md.kind, "video");
        snprintf(md.status, sizeof md.status, "%s", i % 3 == 0 ? "UploadSucc" : i % 3 == 1 ? "Uploading" : "Normal");
        md.account_id = "acc1";
        md.cate_id = i % 2 ? 5 : -1;
        md.storage_location = i < 5 ? "locA" : "locB";
        md.created = 100 + i - (i == 6);   /* 5 and 6 both at 105 */
        assert_int_equal(vodup_meta_media_create(f->m, &md), VODUP_META_OK);
    }
    new_media(f->m, "f0000000000000000000000000000001", "image", "acc1", NULL, NULL, 104);
    new_media(f->m, "f0000000000000000000000000000002", "video", "acc2", NULL, NULL, 104);

    vodup_meta_media_filter flt = { .kind = "video", .cate_id = -1, .ascending = 1, .limit = 100 };
    id_list l = { .n = 0 };
    size_t total = 0;
    assert_int_equal(vodup_meta_media_list(f->m, "acc1", &flt, collect_media, &l, &total), VODUP_META_OK);
    assert_int_equal(total, 10);
    assert_int_equal(l.n, 10);
    for (int i = 0; i < 10; i++) {
        char want[33];
        snprintf(want, sizeof want, "%032d", i);
        assert_string_equal(l.id[i], want);
    }

    /* Descending, paged: total counts all matches, not the page. */
    flt.ascending = 0;
    flt.offset = 2;
    flt.limit = 3;
    l.n = 0;
    assert_int_equal(vodup_meta_media_list(f->m, "acc1", &flt, collect_media, &l, &total), VODUP_META_OK);
    assert_int_equal(total, 10);
    assert_int_equal(l.n, 3);
    assert_string_equal(l.id[0], "00000000000000000000000000000007");
    assert_string_equal(l.id[1], "00000000000000000000000000000006");
    assert_string_equal(l.id[2], "00000000000000000000000000000005");
    /* Past the end: no rows, still the total. */
    flt.offset = 50;
    l.n = 0;
    assert_int_equal(vodup_meta_media_list(f->m, "acc1", &flt, collect_media, &l, &total), VODUP_META_OK);
    assert_int_equal(l.n, 0);
    assert_int_equal(total, 10);

    /* Statuses, case-insensitive, with blanks and empty entries. */
    flt.offset = 0;
    flt.limit = 100;
    flt.ascending = 1;
    flt.statuses = " uploadsucc,, NORMAL ";
    l.n = 0;
    assert_int_equal(vodup_meta_media_list(f->m, "acc1", &flt, collect_media, &l, &total), VODUP_META_OK);
    assert_int_equal(total, 7);   /* 0,2,3,5,6,8,9 */
    assert_string_equal(l.id[0], "00000000000000000000000000000000");
    assert_string_equal(l.id[1], "00000000000000000000000000000002");
    /* A status that is only a part of another does not match. */
    flt.statuses = "Upload";
    l.n = 0;
    assert_int_equal(vodup_meta_media_list(f->m, "acc1", &flt, collect_media, &l, &total), VODUP_META_OK);
    assert_int_equal(total, 0);
    assert_int_equal(l.n, 0);
    /* An empty list means any. */
    flt.statuses = " , ";
    assert_int_equal(vodup_meta_media_list(f->m, "acc1", &flt, collect_media, &l, &total), VODUP_META_OK);
    assert_int_equal(total, 10);

    /* Category, time window (inclusive), storage location, combined. */
    flt.statuses = NULL;
    flt.cate_id = 5;
    l.n = 0;
    assert_int_equal(vodup_meta_media_list(f->m, "acc1", &flt, collect_media, &l, &total), VODUP_META_OK);
    assert_int_equal(total, 5);
    flt.cate_id = -1;
    flt.start = 102;
    flt.end = 105;
    l.n = 0;
    assert_int_equal(vodup_meta_media_list(f->m, "acc1", &flt, collect_media, &l, &total), VODUP_META_OK);
    assert_int_equal(total, 5);   /* 2,3,4,5,6 */
    flt.storage_location = "locB";
    flt.statuses = "Normal";
    l.n = 0;
    assert_int_equal(vodup_meta_media_list(f->m, "acc1", &flt, collect_media, &l, &total), VODUP_META_OK);
    assert_int_equal(total, 1);
    assert_string_equal(l.id[0], "00000000000000000000000000000005");

    /* Other kind, other account; a callback asking to stop; total may be NULL. */
    vodup_meta_media_filter img = { .kind = "image", .cate_id = -1, .limit = 10 };
    l.n = 0;
    assert_int_equal(vodup_meta_media_list(f->m, "acc1", &img, collect_media, &l, &total), VODUP_META_OK);
    assert_int_equal(total, 1);
    flt = (vodup_meta_media_filter){ .kind = "video", .cate_id = -1, .limit = 10 };
    l.n = 0;
    assert_int_equal(vodup_meta_media_list(f->m, "acc2", &flt, collect_media, &l, &total), VODUP_META_OK);
    assert_int_equal(total, 1);
    l = (id_list){ .n = 0, .stop_after = 2 };
    assert_int_equal(vodup_meta_media_list(f->m, "acc1", &flt, collect_media, &l, NULL), VODUP_META_OK);
    assert_int_equal(l.n, 2);
}

/* A callback may call back into the store (the connection is released first). */
static int reenter_media(const vodup_meta_media *md, void *u)
{
    vodup_meta *m = u;
    assert_int_equal(vodup_meta_media_set_status(m, md->id, "Normal", 1), VODUP_META_OK);
    return 0;
}

static int reenter_event(const vodup_meta_event *e, void *u)
{
    vodup_meta *m = u;
    assert_int_equal(vodup_meta_event_done(m, e->id), VODUP_META_OK);
    return 0;
}

static void test_callbacks_reenter(void **state)
{
    fx *f = *state;
    vodup_meta_close(f->m);
    assert_int_equal(vodup_meta_open_sqlite(&f->m, f->dir, 1), VODUP_META_OK);
    new_media(f->m, MEDIA_ID(1), "image", "acc1", "vod", "i/1", 10);
    vodup_meta_media_filter flt = { .kind = "image", .cate_id = -1, .limit = 10 };
    size_t total;
    assert_int_equal(vodup_meta_media_list(f->m, "acc1", &flt, reenter_media, f->m, &total), VODUP_META_OK);
    expect_status(f->m, "acc1", MEDIA_ID(1), "Normal");
    assert_int_equal(put_object(f->m, "vod", "i/1", 1, 1, 1, 20), VODUP_META_OK);
    assert_int_equal(vodup_meta_event_due(f->m, 20, 10, reenter_event, f->m), VODUP_META_OK);
    assert_int_equal(event_count(f->m), 0);
}

/* ---- callback configuration and events ------------------------------------------------ */

static void test_callback_config(void **state)
{
    fx *f = *state;
    char *cfg = (char *)"x";
    assert_int_equal(vodup_meta_callback_get(f->m, "acc1", &cfg), VODUP_META_ENOTFOUND);
    assert_null(cfg);
    assert_int_equal(vodup_meta_callback_set(f->m, "acc1", "{\"CallbackURL\":\"http://a\"}"), VODUP_META_OK);
    assert_int_equal(vodup_meta_callback_set(f->m, "acc1", "{\"CallbackURL\":\"http://b\"}"), VODUP_META_OK);
    assert_int_equal(vodup_meta_callback_get(f->m, "acc1", &cfg), VODUP_META_OK);
    assert_string_equal(cfg, "{\"CallbackURL\":\"http://b\"}");
    free(cfg);
    assert_int_equal(vodup_meta_callback_get(f->m, "acc2", &cfg), VODUP_META_ENOTFOUND);
    assert_int_equal(vodup_meta_callback_set(f->m, "nobody", "{}"), VODUP_META_ENOTFOUND);
    assert_int_equal(vodup_meta_callback_set(f->m, "acc1", NULL), VODUP_META_OK);
    assert_int_equal(vodup_meta_callback_get(f->m, "acc1", &cfg), VODUP_META_ENOTFOUND);
}

static void test_events(void **state)
{
    fx *f = *state;
    new_media(f->m, MEDIA_ID(1), "video", "acc1", "vod", "a", 10);
    new_media(f->m, MEDIA_ID(2), "video", "acc1", "vod", "b", 10);
    new_media(f->m, MEDIA_ID(3), "video", "acc1", "vod", "c", 10);
    assert_int_equal(put_object(f->m, "vod", "b", 1, 1, 1, 300), VODUP_META_OK);
    assert_int_equal(put_object(f->m, "vod", "a", 2, 1, 1, 200), VODUP_META_OK);
    assert_int_equal(put_object(f->m, "vod", "c", 3, 1, 1, 200), VODUP_META_OK);

    /* By next_at, then id (insertion order). */
    ev_list l = { .n = 0 };
    assert_int_equal(vodup_meta_event_due(f->m, 1000, 10, collect_event, &l), VODUP_META_OK);
    assert_int_equal(l.n, 3);
    assert_string_equal(l.media[0], MEDIA_ID(1));
    assert_string_equal(l.media[1], MEDIA_ID(3));
    assert_string_equal(l.media[2], MEDIA_ID(2));
    long long e1 = l.id[0], e3 = l.id[1], e2 = l.id[2];
    l.n = 0;
    assert_int_equal(vodup_meta_event_due(f->m, 1000, 2, collect_event, &l), VODUP_META_OK);
    assert_int_equal(l.n, 2);
    time_t t;
    assert_int_equal(vodup_meta_event_next(f->m, &t), VODUP_META_OK);
    assert_int_equal(t, 200);

    /* Prepare fixes body/url/auth key; retry pushes it back and counts. */
    assert_int_equal(vodup_meta_event_prepare(f->m, e1, "{\"EventType\":\"FileUploadComplete\"}",
                                              "http://cb", "secret"), VODUP_META_OK);
    assert_int_equal(vodup_meta_event_retry(f->m, e1, 500, "HTTP 503"), VODUP_META_OK);
    assert_int_equal(vodup_meta_event_retry(f->m, e1, 700, "timeout"), VODUP_META_OK);
    l.n = 0;
    assert_int_equal(vodup_meta_event_list(f->m, "acc1", collect_event, &l), VODUP_META_OK);
    assert_int_equal(l.n, 3);
    /* By id, i.e. in the order the objects were put: b, a, c. */
    assert_int_equal(l.id[0], e2);
    assert_int_equal(l.id[1], e1);
    assert_int_equal(l.id[2], e3);
    assert_int_equal(l.attempts[1], 2);
    assert_int_equal(l.next_at[1], 700);
    assert_true(l.has_body[1]);
    assert_string_equal(l.last_error[1], "timeout");
    assert_int_equal(l.attempts[0], 0);
    assert_false(l.has_body[0]);

    l.n = 0;
    assert_int_equal(vodup_meta_event_due(f->m, 400, 10, collect_event, &l), VODUP_META_OK);
    assert_int_equal(l.n, 2);
    assert_int_equal(l.id[0], e3);
    assert_int_equal(l.id[1], e2);

    assert_int_equal(vodup_meta_event_done(f->m, e3), VODUP_META_OK);
    assert_int_equal(vodup_meta_event_done(f->m, e3), VODUP_META_ENOTFOUND);
    assert_int_equal(vodup_meta_event_retry(f->m, e3, 1, "x"), VODUP_META_ENOTFOUND);
    assert_int_equal(vodup_meta_event_prepare(f->m, e3, "{}", "http://x", NULL), VODUP_META_ENOTFOUND);
    assert_int_equal(vodup_meta_event_next(f->m, &t), VODUP_META_OK);
    assert_int_equal(t, 300);
    assert_int_equal(vodup_meta_event_done(f->m, e2), VODUP_META_OK);
    assert_int_equal(vodup_meta_event_next(f->m, &t), VODUP_META_OK);
    assert_int_equal(t, 700);
    assert_int_equal(vodup_meta_event_done(f->m, e1), VODUP_META_OK);
    assert_int_equal(vodup_meta_event_next(f->m, &t), VODUP_META_ENOTFOUND);
    l.n = 0;
    assert_int_equal(vodup_meta_event_list(f->m, NULL, collect_event, &l), VODUP_META_OK);
    assert_int_equal(l.n, 0);
    vodup_meta_event_clear(NULL);
}

typedef struct ev_text {
    char body[64], url[32], auth[16];
} ev_text;

static int grab_text(const vodup_meta_event *e, void *u)
{
    ev_text *t = u;
    snprintf(t->body, sizeof t->body, "%s", e->body ? e->body : "(null)");
    snprintf(t->url, sizeof t->url, "%s", e->url ? e->url : "(null)");
    snprintf(t->auth, sizeof t->auth, "%s", e->auth_key ? e->auth_key : "(null)");
    return 1;
}

static void test_event_prepare_fields(void **state)
{
    fx *f = *state;
    new_media(f->m, MEDIA_ID(1), "video", "acc1", "vod", "a", 10);
    assert_int_equal(put_object(f->m, "vod", "a", 1, 1, 1, 200), VODUP_META_OK);
    ev_text t;
    assert_int_equal(vodup_meta_event_due(f->m, 200, 1, grab_text, &t), VODUP_META_OK);
    assert_string_equal(t.body, "(null)");
    assert_string_equal(t.url, "(null)");
    ev_list l = { .n = 0 };
    assert_int_equal(vodup_meta_event_list(f->m, NULL, collect_event, &l), VODUP_META_OK);
    assert_int_equal(vodup_meta_event_prepare(f->m, l.id[0], "{\"a\":1}", "http://cb/x", NULL), VODUP_META_OK);
    assert_int_equal(vodup_meta_event_due(f->m, 200, 1, grab_text, &t), VODUP_META_OK);
    assert_string_equal(t.body, "{\"a\":1}");
    assert_string_equal(t.url, "http://cb/x");
    assert_string_equal(t.auth, "(null)");
}

/* ---- schema migration ------------------------------------------------------------------ */

static void test_migration_from_v1(void **state)
{
    fx *f = *state;
    assert_int_equal(put_object(f->m, "vod", "old-object", 1, 10, 11, 100), VODUP_META_OK);
    assert_int_equal(vodup_meta_key_create(f->m, "KOLD", "acc1", "root", "s", 1, 100), VODUP_META_OK);
    vodup_meta_close(f->m);
    f->m = NULL;
    assert_int_equal(raw_int(f, "SELECT max(version) FROM schema_version"), 2);

    /* Turn the file back into what version 1 left: none of the VOD tables, version 1. */
    raw_exec(f, "DROP TABLE principals; DROP TABLE nonces; DROP TABLE media; DROP TABLE callbacks;"
                "DROP TABLE events; DROP INDEX IF EXISTS access_keys_principal;"
                "DELETE FROM schema_version; INSERT INTO schema_version(version) VALUES(1);");
    assert_int_equal(raw_int(f, "SELECT count(*) FROM sqlite_master WHERE name = 'media'"), 0);

    assert_int_equal(vodup_meta_open_sqlite(&f->m, f->dir, 2), VODUP_META_OK);
    assert_int_equal(raw_int(f, "SELECT max(version) FROM schema_version"), 2);
    /* Old data is kept... */
    vodup_meta_object o;
    assert_int_equal(vodup_meta_object_get(f->m, "vod", "old-object", 10, &o), VODUP_META_OK);
    assert_int_equal(o.size, 10);
    vodup_meta_object_clear(&o);
    vodup_meta_key k;
    assert_int_equal(vodup_meta_key_get(f->m, "KOLD", &k), VODUP_META_OK);
    vodup_meta_key_clear(&k);
    /* ...and the new tables work, hook included. */
    new_media(f->m, MEDIA_ID(1), "video", "acc1", "vod", "new", 200);
    assert_int_equal(put_object(f->m, "vod", "new", 2, 5, 6, 300), VODUP_META_OK);
    expect_status(f->m, "acc1", MEDIA_ID(1), "UploadSucc");
    assert_int_equal(event_count(f->m), 1);

    /* Reopening a current database keeps everything and migrates nothing. */
    vodup_meta_close(f->m);
    assert_int_equal(vodup_meta_open_sqlite(&f->m, f->dir, 1), VODUP_META_OK);
    expect_status(f->m, "acc1", MEDIA_ID(1), "UploadSucc");
    assert_int_equal(event_count(f->m), 1);
    assert_int_equal(raw_int(f, "SELECT count(*) FROM schema_version"), 1);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_principals, setup, teardown),
        cmocka_unit_test_setup_teardown(test_nonces, setup, teardown),
        cmocka_unit_test_setup_teardown(test_media_crud, setup, teardown),
        cmocka_unit_test_setup_teardown(test_hook_put, setup, teardown),
        cmocka_unit_test_setup_teardown(test_hook_failure_rolls_back, setup, teardown),
        cmocka_unit_test_setup_teardown(test_hook_complete, setup, teardown),
        cmocka_unit_test_setup_teardown(test_media_delete_cleans_up, setup, teardown),
        cmocka_unit_test_setup_teardown(test_media_list, setup, teardown),
        cmocka_unit_test_setup_teardown(test_callbacks_reenter, setup, teardown),
        cmocka_unit_test_setup_teardown(test_callback_config, setup, teardown),
        cmocka_unit_test_setup_teardown(test_events, setup, teardown),
        cmocka_unit_test_setup_teardown(test_event_prepare_fields, setup, teardown),
        cmocka_unit_test_setup_teardown(test_migration_from_v1, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
