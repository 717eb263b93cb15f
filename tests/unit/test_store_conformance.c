/* test_store_conformance.c - the store contract (docs/internals/store-contract.md), run
 * against every back end: what each metadata operation promises (creates and their
 * ENOTFOUND/EEXISTS rules, listing order and paging, the multipart state machine and
 * Complete's refusals, the garbage list, quotas, revocation generations, nonces, media
 * state and the completion hook, the event outbox) and the concurrency it promises (two
 * threads racing Complete and Abort: exactly one wins); then the byte store's (write,
 * commit, read, remove, recover; recovery leaves another node's writes in flight alone).
 *
 * The tests see a back end only through its factory below (open a fresh, empty store)
 * and the vodup_meta_* / vodup_blob_* calls, which do nothing but dispatch through the
 * ops table: no SQL, no file of the store is looked at. A new back end adds a line to
 * meta_backends[] (or blob_backends[]) and runs this suite; what only one back end does
 * (SQLite's group commit, reopen with a pool of one, schema migration, the nonce purge)
 * is tested next to it (test_meta_sqlite.c, test_meta_vod.c, test_blob_file.c).
 *
 * Each test gets a fresh store in its own mkdtemp directory under $VODUP_TEST_TMP.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>

#include "common/codec.h"
#include "common/crc.h"
#include "common/digest.h"
#include "server/store/blob.h"
#include "server/core/core.h"
#include "server/store/meta_ops.h"
#include "store_harness.h"

#include <errno.h>
#include <libpq-fe.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* ---- the back ends under test ------------------------------------------------------ */

typedef struct meta_backend {
    const char *name;
    /* A fresh, empty store; dir is a new empty directory it may keep its files in. */
    int (*open)(vodup_meta **out, const char *dir);
    /* The back end's revocation cache over the store opened in dir. */
    vodup_meta_revocations *(*revocations_open)(const char *dir);
    /* When set: the environment variable naming the server this back end needs; the
     * suite skips the back end, saying so, when it is unset. */
    const char *env;
} meta_backend;

static int sqlite_open(vodup_meta **out, const char *dir)
{
    return vodup_meta_open_sqlite(out, dir, 4);
}

/* PostgreSQL: the database VODUP_TEST_PG names (a libpq connection string or URL, e.g.
 * PG_URL from scripts/scale/start --only pg), emptied before each test: its public
 * schema is dropped and made again, so each test starts from the migrations. */
#define PG_ENV "VODUP_TEST_PG"

static int pg_open(vodup_meta **out, const char *dir)
{
    (void)dir;
    const char *conninfo = getenv(PG_ENV);
    PGconn *db = PQconnectdb(conninfo);
    PGresult *r = PQexec(db, "SET client_min_messages = warning;"
                             " DROP SCHEMA IF EXISTS public CASCADE; CREATE SCHEMA public");
    int ok = PQresultStatus(r) == PGRES_COMMAND_OK;
    if (!ok)
        fprintf(stderr, "emptying the test database: %s", PQerrorMessage(db));
    PQclear(r);
    PQfinish(db);
    return ok ? vodup_meta_open_postgres(out, conninfo, 4) : VODUP_META_EIO;
}

static vodup_meta_revocations *pg_revocations_open(const char *dir)
{
    (void)dir;
    return vodup_meta_revocations_open_postgres(getenv(PG_ENV));
}

static const meta_backend meta_backends[] = {
    { "sqlite", sqlite_open, vodup_meta_revocations_open_sqlite, NULL },
    { "postgres", pg_open, pg_revocations_open, PG_ENV },
};

typedef struct blob_backend {
    const char *name;
    /* A byte store in dir for node (two handles of different nodes on one dir share it). */
    vodup_blobstore *(*open)(const char *dir, const char *node);
} blob_backend;

static const blob_backend blob_backends[] = {
    { "file", vodup_blobstore_file_open_node },
};

static const meta_backend *meta_be;    /* the one main() is running */
static const blob_backend *blob_be;

/* ---- fixtures ----------------------------------------------------------------------- */

typedef store_fx fx;

static int open_fresh(vodup_meta **out, const char *dir)
{
    return meta_be->open(out, dir);
}

/* The objects half starts from bucket b1, the VOD half from bucket vod (both acc1's). */
static int setup(void **state)
{
    return store_fx_setup_open(state, "conf", open_fresh, "b1");
}

static int setup_vod(void **state)
{
    return store_fx_setup_open(state, "confvod", open_fresh, "vod");
}

static int teardown(void **state)
{
    return store_fx_teardown(state);
}

/* ---- the ops table ------------------------------------------------------------------ */

/* Every member is set and the version is this build's: the wrappers call members
 * unchecked. */
static void test_ops_table_complete(void **state)
{
    fx *f = *state;
    const vodup_meta_ops *ops = f->m->ops;
    assert_non_null(ops);
    assert_true(ops->version >= VODUP_META_OPS_MIN_VERSION && ops->version <= VODUP_META_OPS_VERSION);
    assert_non_null(ops->name);
#define CHECK_MEMBER(n)                                                   \
    do {                                                                  \
        if (!ops->n)                                                      \
            fail_msg("back end %s leaves ops->" #n " unset", ops->name); \
    } while (0)
    CHECK_MEMBER(close);
    CHECK_MEMBER(account_create);
    CHECK_MEMBER(key_create);
    CHECK_MEMBER(key_get);
    CHECK_MEMBER(setting_get);
    CHECK_MEMBER(setting_set);
    CHECK_MEMBER(setting_add);
    CHECK_MEMBER(bucket_create);
    CHECK_MEMBER(bucket_get);
    CHECK_MEMBER(bucket_delete);
    CHECK_MEMBER(bucket_list);
    CHECK_MEMBER(object_put);
    CHECK_MEMBER(object_get);
    CHECK_MEMBER(object_delete);
    CHECK_MEMBER(object_list);
    CHECK_MEMBER(upload_create);
    CHECK_MEMBER(upload_get);
    CHECK_MEMBER(part_put);
    CHECK_MEMBER(part_list);
    CHECK_MEMBER(upload_abort);
    CHECK_MEMBER(upload_expire);
    CHECK_MEMBER(upload_list);
    CHECK_MEMBER(upload_complete);
    CHECK_MEMBER(gc_take);
    CHECK_MEMBER(gc_done);
    CHECK_MEMBER(blob_is_live);
    CHECK_MEMBER(object_put_guarded);
    CHECK_MEMBER(part_put_guarded);
    CHECK_MEMBER(upload_complete_guarded);
    CHECK_MEMBER(upload_commit);
    CHECK_MEMBER(upload_create_guarded);
    CHECK_MEMBER(upload_expire_creds);
    CHECK_MEMBER(gc_take_after);
    CHECK_MEMBER(principal_delete_revoking);
    CHECK_MEMBER(revocation_get);
    CHECK_MEMBER(principal_create);
    CHECK_MEMBER(principal_get);
    CHECK_MEMBER(principal_list);
    CHECK_MEMBER(principal_delete);
    CHECK_MEMBER(key_list);
    CHECK_MEMBER(nonce_use);
    CHECK_MEMBER(media_create);
    CHECK_MEMBER(media_get);
    CHECK_MEMBER(media_find_object);
    CHECK_MEMBER(media_list);
    CHECK_MEMBER(media_delete);
    CHECK_MEMBER(media_set_status);
    CHECK_MEMBER(callback_set);
    CHECK_MEMBER(callback_get);
    CHECK_MEMBER(callback_seal_all);
    CHECK_MEMBER(event_due);
    CHECK_MEMBER(event_list);
    CHECK_MEMBER(event_prepare);
    CHECK_MEMBER(event_done);
    CHECK_MEMBER(event_retry);
    CHECK_MEMBER(event_defer);
    CHECK_MEMBER(event_next);
    CHECK_MEMBER(revocations_get);
    CHECK_MEMBER(revocations_close);
    /* the later versions' members are set exactly when the back end claims them */
    if (ops->version >= 4) {
        CHECK_MEMBER(probe_job_add);
        CHECK_MEMBER(probe_job_claim);
        CHECK_MEMBER(probe_job_release);
        CHECK_MEMBER(probe_job_finish);
        CHECK_MEMBER(probe_job_count);
        CHECK_MEMBER(media_info_get);
        CHECK_MEMBER(probe_job_requeue_node);
    } else if (ops->probe_job_add || ops->probe_job_claim) {
        fail_msg("back end %s sets version-4 members under version %u", ops->name, ops->version);
    }
    if (ops->version >= 5) {
        CHECK_MEMBER(usage_get);
        CHECK_MEMBER(quota_set);
    } else if (ops->usage_get || ops->quota_set) {
        fail_msg("back end %s sets version-5 members under version %u", ops->name, ops->version);
    }
#undef CHECK_MEMBER
    /* A table of another version is refused. */
    vodup_meta_ops other = *ops;
    other.version = VODUP_META_OPS_VERSION + 1;
    vodup_meta probe;
    assert_int_equal(vodup_meta_init(&probe, &other), VODUP_META_EIO);
}

/* ==== the objects half (meta.h) ==== */



static int gc_all(vodup_meta *m, char (*ids)[33], int max)
{
    return vodup_meta_gc_take(m, ids, max);
}

static int gc_has(char (*ids)[33], int n, const char *id)
{
    for (int i = 0; i < n; i++) {
        if (!strcmp(ids[i], id))
            return 1;
    }
    return 0;
}

static void gc_clear(vodup_meta *m)
{
    char ids[64][33];
    int n;
    while ((n = vodup_meta_gc_take(m, ids, 64)) > 0)
        assert_int_equal(vodup_meta_gc_done(m, ids, n), VODUP_META_OK);
    assert_int_equal(n, 0);
}

/* ---- accounts, keys, settings ------------------------------------------------------- */

static void test_accounts_keys_settings(void **state)
{
    fx *f = *state;
    vodup_meta *m = f->m;
    assert_int_equal(vodup_meta_account_create(m, "acc1", "again", 1), VODUP_META_EEXISTS);

    const unsigned char sealed[] = { 0x00, 0x01, 0xFF, 0x7F, 0x00, 0x42 };
    assert_int_equal(vodup_meta_key_create(m, "LTAIkey1", "acc1", "root", sealed, sizeof sealed, 77),
                     VODUP_META_OK);
    assert_int_equal(vodup_meta_key_create(m, "LTAIkey1", "acc1", "root", sealed, sizeof sealed, 77),
                     VODUP_META_EEXISTS);
    assert_int_equal(vodup_meta_key_create(m, "LTAIkey2", "nobody", "root", sealed, sizeof sealed, 77),
                     VODUP_META_ENOTFOUND);

    vodup_meta_key k;
    assert_int_equal(vodup_meta_key_get(m, "LTAIkey1", &k), VODUP_META_OK);
    assert_string_equal(k.key_id, "LTAIkey1");
    assert_string_equal(k.account_id, "acc1");
    assert_string_equal(k.principal, "root");
    assert_int_equal(k.sealed_len, sizeof sealed);
    assert_memory_equal(k.sealed, sealed, sizeof sealed);
    assert_int_equal(k.active, 1);
    vodup_meta_key_clear(&k);
    assert_null(k.sealed);
    assert_int_equal(vodup_meta_key_get(m, "missing", &k), VODUP_META_ENOTFOUND);
    vodup_meta_key_clear(&k);

    char *v = NULL;
    assert_int_equal(vodup_meta_setting_get(m, "root_account", &v), VODUP_META_ENOTFOUND);
    assert_null(v);
    assert_int_equal(vodup_meta_setting_set(m, "root_account", "acc1"), VODUP_META_OK);
    assert_int_equal(vodup_meta_setting_get(m, "root_account", &v), VODUP_META_OK);
    assert_string_equal(v, "acc1");
    free(v);
    assert_int_equal(vodup_meta_setting_set(m, "root_account", "acc2"), VODUP_META_OK);
    assert_int_equal(vodup_meta_setting_get(m, "root_account", &v), VODUP_META_OK);
    assert_string_equal(v, "acc2");
    free(v);
    /* add: the first writer wins, later ones learn EEXISTS and change nothing */
    assert_int_equal(vodup_meta_setting_add(m, "storage", "first"), VODUP_META_OK);
    assert_int_equal(vodup_meta_setting_add(m, "storage", "second"), VODUP_META_EEXISTS);
    assert_int_equal(vodup_meta_setting_get(m, "storage", &v), VODUP_META_OK);
    assert_string_equal(v, "first");
    free(v);
}

/* ---- buckets -------------------------------------------------------------------------- */

typedef struct name_list {
    char names[16][64];
    int n;
    int stop_after;
} name_list;

static int collect_bucket(const vodup_meta_bucket *b, void *u)
{
    name_list *l = u;
    snprintf(l->names[l->n++], 64, "%s/%s", b->name, b->account_id);
    return l->stop_after && l->n >= l->stop_after;
}

static void test_buckets(void **state)
{
    fx *f = *state;
    vodup_meta *m = f->m;
    assert_int_equal(vodup_meta_bucket_create(m, "b1", "acc2", 1), VODUP_META_EEXISTS);
    assert_int_equal(vodup_meta_bucket_create(m, "zeta", "acc1", 1), VODUP_META_OK);
    assert_int_equal(vodup_meta_bucket_create(m, "alpha", "acc1", 1), VODUP_META_OK);
    assert_int_equal(vodup_meta_bucket_create(m, "other", "acc2", 1), VODUP_META_OK);
    assert_int_equal(vodup_meta_bucket_create(m, "orphan", "nobody", 1), VODUP_META_ENOTFOUND);

    vodup_meta_bucket b;
    assert_int_equal(vodup_meta_bucket_get(m, "b1", &b), VODUP_META_OK);
    assert_string_equal(b.name, "b1");
    assert_string_equal(b.account_id, "acc1");
    assert_int_equal(b.created, 1001);
    vodup_meta_bucket_clear(&b);
    assert_int_equal(vodup_meta_bucket_get(m, "nope", &b), VODUP_META_ENOTFOUND);

    name_list l = { .n = 0 };
    assert_int_equal(vodup_meta_bucket_list(m, "acc1", collect_bucket, &l), VODUP_META_OK);
    assert_int_equal(l.n, 3);
    assert_string_equal(l.names[0], "alpha/acc1");
    assert_string_equal(l.names[1], "b1/acc1");
    assert_string_equal(l.names[2], "zeta/acc1");
    memset(&l, 0, sizeof l);
    l.stop_after = 2;
    assert_int_equal(vodup_meta_bucket_list(m, "acc1", collect_bucket, &l), VODUP_META_OK);
    assert_int_equal(l.n, 2);

    /* Not empty: an object, then an upload. */
    fx_put_object(m, "zeta", "k", 1, 1, 1);
    assert_int_equal(vodup_meta_bucket_delete(m, "zeta"), VODUP_META_ENOTEMPTY);
    assert_int_equal(vodup_meta_object_delete(m, "zeta", "k", 1), VODUP_META_OK);
    vodup_meta_upload up;
    memset(&up, 0, sizeof up);
    snprintf(up.upload_id, sizeof up.upload_id, "U1");
    up.bucket = "zeta";
    up.key = "k";
    up.key_len = 1;
    assert_int_equal(vodup_meta_upload_create(m, &up, "acc1", 0), VODUP_META_OK);
    assert_int_equal(vodup_meta_bucket_delete(m, "zeta"), VODUP_META_ENOTEMPTY);
    assert_int_equal(vodup_meta_upload_abort(m, "U1"), VODUP_META_OK);
    assert_int_equal(vodup_meta_bucket_delete(m, "zeta"), VODUP_META_OK);
    assert_int_equal(vodup_meta_bucket_delete(m, "zeta"), VODUP_META_ENOTFOUND);
    assert_int_equal(vodup_meta_bucket_get(m, "zeta", &b), VODUP_META_ENOTFOUND);
}

/* ---- objects ------------------------------------------------------------------------------ */

static void test_object_put_get_replace_delete(void **state)
{
    fx *f = *state;
    vodup_meta *m = f->m;
    const char key[] = "dir/\x01\xfe name";
    size_t klen = sizeof key - 1;

    vodup_meta_object o;
    memset(&o, 0, sizeof o);
    vodup_meta_segment segs[2];
    fx_blob_id(segs[0].blob, 10);
    fx_blob_id(segs[1].blob, 11);
    segs[0].size = 5;
    segs[1].size = 7;
    o.bucket = "b1";
    o.key = (char *)key;
    o.key_len = klen;
    o.size = 12;
    snprintf(o.etag, sizeof o.etag, "0123456789ABCDEF0123456789ABCDEF");
    o.crc64 = 0xFEDCBA9876543210ull;
    o.has_md5 = 1;
    for (int i = 0; i < 16; i++)
        o.md5[i] = (unsigned char)(0xF0 + i);
    o.content_type = "video/mp4";
    o.user_meta = "{\"a\":\"b\"}";
    snprintf(o.type, sizeof o.type, "Normal");
    o.mtime = 123456;
    o.segs = segs;
    o.nsegs = 2;
    assert_int_equal(vodup_meta_object_put(m, &o), VODUP_META_OK);

    vodup_meta_object g;
    assert_int_equal(vodup_meta_object_get(m, "b1", key, klen, &g), VODUP_META_OK);
    assert_string_equal(g.bucket, "b1");
    assert_int_equal(g.key_len, klen);
    assert_memory_equal(g.key, key, klen);
    assert_int_equal(g.key[klen], '\0');
    assert_int_equal(g.size, 12);
    assert_string_equal(g.etag, o.etag);
    assert_true(g.crc64 == 0xFEDCBA9876543210ull);
    assert_int_equal(g.has_md5, 1);
    assert_memory_equal(g.md5, o.md5, 16);
    assert_string_equal(g.content_type, "video/mp4");
    assert_string_equal(g.user_meta, "{\"a\":\"b\"}");
    assert_string_equal(g.type, "Normal");
    assert_int_equal(g.mtime, 123456);
    assert_int_equal(g.nsegs, 2);
    assert_string_equal(g.segs[0].blob, segs[0].blob);
    assert_int_equal(g.segs[0].size, 5);
    assert_string_equal(g.segs[1].blob, segs[1].blob);
    assert_int_equal(g.segs[1].size, 7);
    vodup_meta_object_clear(&g);
    assert_int_equal(vodup_meta_blob_is_live(m, segs[0].blob), 1);

    /* Lookups are exact on the bytes: a prefix or a longer key is another object. */
    assert_int_equal(vodup_meta_object_get(m, "b1", key, klen - 1, &g), VODUP_META_ENOTFOUND);
    assert_int_equal(vodup_meta_object_get(m, "b2", key, klen, &g), VODUP_META_ENOTFOUND);

    /* Replace: old blobs to garbage, new ones live. */
    char ids[16][33];
    assert_int_equal(gc_all(m, ids, 16), 0);
    vodup_meta_segment seg2;
    fx_blob_id(seg2.blob, 12);
    seg2.size = 3;
    o.segs = &seg2;
    o.nsegs = 1;
    o.size = 3;
    o.has_md5 = 0;
    o.content_type = NULL;
    o.user_meta = NULL;
    assert_int_equal(vodup_meta_object_put(m, &o), VODUP_META_OK);
    int n = gc_all(m, ids, 16);
    assert_int_equal(n, 2);
    assert_true(gc_has(ids, n, segs[0].blob));
    assert_true(gc_has(ids, n, segs[1].blob));
    assert_int_equal(vodup_meta_blob_is_live(m, segs[0].blob), 0);
    assert_int_equal(vodup_meta_blob_is_live(m, segs[1].blob), 0);
    assert_int_equal(vodup_meta_blob_is_live(m, seg2.blob), 1);
    assert_int_equal(vodup_meta_object_get(m, "b1", key, klen, &g), VODUP_META_OK);
    assert_int_equal(g.nsegs, 1);
    assert_int_equal(g.has_md5, 0);
    assert_null(g.content_type);
    assert_null(g.user_meta);
    vodup_meta_object_clear(&g);
    gc_clear(m);

    /* Zero segments (an empty object) is valid. */
    fx_put_object(m, "b1", "empty", 5, 50, 0);
    assert_int_equal(vodup_meta_object_get(m, "b1", "empty", 5, &g), VODUP_META_OK);
    assert_int_equal(g.nsegs, 0);
    assert_null(g.segs);
    vodup_meta_object_clear(&g);

    /* Delete. */
    assert_int_equal(vodup_meta_object_delete(m, "b1", key, klen), VODUP_META_OK);
    assert_int_equal(vodup_meta_object_get(m, "b1", key, klen, &g), VODUP_META_ENOTFOUND);
    assert_int_equal(vodup_meta_object_delete(m, "b1", key, klen), VODUP_META_ENOTFOUND);
    n = gc_all(m, ids, 16);
    assert_int_equal(n, 1);
    assert_string_equal(ids[0], seg2.blob);
    assert_int_equal(vodup_meta_blob_is_live(m, seg2.blob), 0);

    /* No such bucket. */
    o.bucket = "nope";
    assert_int_equal(vodup_meta_object_put(m, &o), VODUP_META_ENOTFOUND);
}

typedef struct key_list {
    char keys[32][16];
    size_t lens[32];
    int n;
    int stop_after;
} key_list;

static int collect_key(const vodup_meta_object *o, void *u)
{
    key_list *l = u;
    assert_true(o->key_len < 16);
    assert_null(o->segs);
    memcpy(l->keys[l->n], o->key, o->key_len);
    l->lens[l->n++] = o->key_len;
    return l->stop_after && l->n >= l->stop_after;
}

typedef struct bkey {
    const char *p;
    size_t n;
} bkey;

#define K(s) { s, sizeof s - 1 }

/* In byte order, as the listing must return them. */
static const bkey sorted_keys[] = {
    K("\x01"), K("\x01\x01"), K("a"), K("a\x01"), K("a/"), K("a/b"), K("ab"), K("a\x7f"),
    K("a\xff"), K("a\xff\xff"), K("b"), K("\xff"), K("\xff\x01"), K("\xff\xff"),
    K("\xff\xff\xff"),
};
#define NKEYS (sizeof sorted_keys / sizeof sorted_keys[0])

static void expect_keys(key_list *l, size_t from, size_t count)
{
    assert_int_equal(l->n, count);
    for (size_t i = 0; i < count; i++) {
        assert_int_equal(l->lens[i], sorted_keys[from + i].n);
        assert_memory_equal(l->keys[i], sorted_keys[from + i].p, sorted_keys[from + i].n);
    }
}

static void list(vodup_meta *m, const char *prefix, size_t plen, const char *after, size_t alen,
                 size_t limit, key_list *l)
{
    memset(l, 0, sizeof *l);
    assert_int_equal(vodup_meta_object_list(m, "b1", prefix, plen, after, alen, limit, collect_key, l),
                     VODUP_META_OK);
}

static void test_object_list_order(void **state)
{
    fx *f = *state;
    vodup_meta *m = f->m;
    /* Insert in a scrambled order. */
    for (size_t i = 0; i < NKEYS; i++) {
        size_t j = (i * 7) % NKEYS;
        fx_put_object(m, "b1", sorted_keys[j].p, sorted_keys[j].n, 100 + (unsigned)j, 1);
    }
    assert_int_equal(vodup_meta_bucket_create(m, "b2", "acc1", 1), VODUP_META_OK);
    fx_put_object(m, "b2", "a", 1, 300, 1);

    key_list l;
    list(m, NULL, 0, NULL, 0, 1000, &l);
    expect_keys(&l, 0, NKEYS);
    list(m, "", 0, "", 0, 3, &l);
    expect_keys(&l, 0, 3);
    list(m, NULL, 0, NULL, 0, 0, &l);
    assert_int_equal(l.n, 0);

    /* after is exclusive, and need not be an existing key. */
    list(m, NULL, 0, "a", 1, 3, &l);
    expect_keys(&l, 3, 3);
    list(m, NULL, 0, "a\x02", 2, 1000, &l);
    expect_keys(&l, 4, NKEYS - 4);
    list(m, NULL, 0, "\xff\xff\xff", 3, 1000, &l);
    assert_int_equal(l.n, 0);

    /* Prefix: "a" has a key equal to the prefix itself. */
    list(m, "a", 1, NULL, 0, 1000, &l);
    expect_keys(&l, 2, 8);
    list(m, "a/", 2, NULL, 0, 1000, &l);
    expect_keys(&l, 4, 2);
    list(m, "a\xff", 2, NULL, 0, 1000, &l);
    expect_keys(&l, 8, 2);
    /* The all-0xFF edge: no successor exists. */
    list(m, "\xff", 1, NULL, 0, 1000, &l);
    expect_keys(&l, 11, 4);
    list(m, "\xff\xff", 2, NULL, 0, 1000, &l);
    expect_keys(&l, 13, 2);
    list(m, "\x01", 1, NULL, 0, 1000, &l);
    expect_keys(&l, 0, 2);
    list(m, "c", 1, NULL, 0, 1000, &l);
    assert_int_equal(l.n, 0);

    /* Prefix and after together: after before the prefix, inside it, past it. */
    list(m, "a", 1, "\x01", 1, 1000, &l);
    expect_keys(&l, 2, 8);
    list(m, "a", 1, "a/", 2, 2, &l);
    expect_keys(&l, 5, 2);
    list(m, "a", 1, "a\xff\xff", 3, 1000, &l);
    assert_int_equal(l.n, 0);
    list(m, "a", 1, "b", 1, 1000, &l);
    assert_int_equal(l.n, 0);

    /* The callback stops the listing. */
    memset(&l, 0, sizeof l);
    l.stop_after = 2;
    assert_int_equal(vodup_meta_object_list(m, "b1", NULL, 0, NULL, 0, 1000, collect_key, &l),
                     VODUP_META_OK);
    assert_int_equal(l.n, 2);

    /* Another bucket's objects never leak in. */
    memset(&l, 0, sizeof l);
    assert_int_equal(vodup_meta_object_list(m, "b2", NULL, 0, NULL, 0, 1000, collect_key, &l),
                     VODUP_META_OK);
    assert_int_equal(l.n, 1);
}

/* ---- multipart ---------------------------------------------------------------------------- */


static void put_part(vodup_meta *m, const char *upload, int number, unsigned blob, uint64_t size,
                     const char *etag, uint64_t crc)
{
    vodup_meta_part p;
    memset(&p, 0, sizeof p);
    p.number = number;
    fx_blob_id(p.blob, blob);
    p.size = size;
    snprintf(p.etag, sizeof p.etag, "%s", etag);
    p.crc64 = crc;
    p.mtime = 9000 + number;
    assert_int_equal(vodup_meta_part_put(m, upload, &p), VODUP_META_OK);
}

typedef struct part_list {
    vodup_meta_part p[16];
    int n;
} part_list;

static int collect_part(const vodup_meta_part *p, void *u)
{
    part_list *l = u;
    l->p[l->n++] = *p;
    return 0;
}



/* Abandoned uploads are aborted by age; newer ones and their parts stay. */
static void test_upload_expire(void **state)
{
    fx *f = *state;
    vodup_meta *m = f->m;
    fx_new_upload(m, "OLD", "b1", "old.mp4", 7); /* initiated 4242 */
    put_part(m, "OLD", 1, 701, 10, "AA", 1);
    vodup_meta_upload up;
    memset(&up, 0, sizeof up);
    snprintf(up.upload_id, sizeof up.upload_id, "NEW");
    up.bucket = "b1";
    up.key = "new.mp4";
    up.key_len = 7;
    up.initiated = 9999;
    assert_int_equal(vodup_meta_upload_create(m, &up, "acc1", 0), VODUP_META_OK);
    put_part(m, "NEW", 1, 702, 10, "BB", 2);

    assert_int_equal(vodup_meta_upload_expire(m, 4242, 10), 0); /* strictly before */
    assert_int_equal(vodup_meta_upload_expire(m, 5000, 10), 1);
    assert_int_equal(vodup_meta_upload_get(m, "OLD", &up), VODUP_META_ENOTFOUND);
    assert_int_equal(vodup_meta_upload_get(m, "NEW", &up), VODUP_META_OK);
    vodup_meta_upload_clear(&up);
    char ids[16][33], gone[33], kept[33];
    fx_blob_id(gone, 701);
    fx_blob_id(kept, 702);
    int n = gc_all(m, ids, 16);
    assert_int_equal(n, 1);
    assert_string_equal(ids[0], gone);
    assert_int_equal(vodup_meta_blob_is_live(m, kept), 1);
    assert_int_equal(vodup_meta_upload_expire(m, 5000, 10), 0);
}

static void test_upload_lifecycle(void **state)
{
    fx *f = *state;
    vodup_meta *m = f->m;
    fx_new_upload(m, "U1", "b1", "video.mp4", 9);

    vodup_meta_upload up;
    assert_int_equal(vodup_meta_upload_get(m, "U1", &up), VODUP_META_OK);
    assert_string_equal(up.upload_id, "U1");
    assert_string_equal(up.bucket, "b1");
    assert_int_equal(up.key_len, 9);
    assert_string_equal(up.key, "video.mp4");
    assert_int_equal(up.initiated, 4242);
    assert_string_equal(up.content_type, "video/mp4");
    assert_string_equal(up.user_meta, "{\"x\":\"1\"}");
    vodup_meta_upload_clear(&up);
    assert_int_equal(vodup_meta_upload_get(m, "U9", &up), VODUP_META_ENOTFOUND);

    /* Duplicate id, missing bucket. */
    memset(&up, 0, sizeof up);
    snprintf(up.upload_id, sizeof up.upload_id, "U1");
    up.bucket = "b1";
    up.key = "x";
    up.key_len = 1;
    assert_int_equal(vodup_meta_upload_create(m, &up, "acc1", 0), VODUP_META_EEXISTS);
    snprintf(up.upload_id, sizeof up.upload_id, "U2");
    up.bucket = "nope";
    assert_int_equal(vodup_meta_upload_create(m, &up, "acc1", 0), VODUP_META_ENOTFOUND);

    /* Parts: out-of-order puts, a replacement (old blob to garbage). */
    put_part(m, "U1", 3, 503, 30, "CC", 3);
    put_part(m, "U1", 1, 501, 10, "AA", 1);
    put_part(m, "U1", 2, 502, 20, "BB", 2);
    char old[33];
    fx_blob_id(old, 502);
    assert_int_equal(vodup_meta_blob_is_live(m, old), 1);
    put_part(m, "U1", 2, 512, 21, "B2", 22);
    assert_int_equal(vodup_meta_blob_is_live(m, old), 0);
    char ids[16][33];
    int n = gc_all(m, ids, 16);
    assert_int_equal(n, 1);
    assert_string_equal(ids[0], old);
    gc_clear(m);

    part_list pl = { .n = 0 };
    assert_int_equal(vodup_meta_part_list(m, "U1", 0, 1000, collect_part, &pl), VODUP_META_OK);
    assert_int_equal(pl.n, 3);
    assert_int_equal(pl.p[0].number, 1);
    assert_int_equal(pl.p[1].number, 2);
    assert_int_equal(pl.p[1].size, 21);
    assert_string_equal(pl.p[1].etag, "B2");
    assert_int_equal(pl.p[1].crc64, 22);
    assert_int_equal(pl.p[1].mtime, 9002);
    char want[33];
    fx_blob_id(want, 512);
    assert_string_equal(pl.p[1].blob, want);
    assert_int_equal(pl.p[2].number, 3);
    memset(&pl, 0, sizeof pl);
    assert_int_equal(vodup_meta_part_list(m, "U1", 1, 1, collect_part, &pl), VODUP_META_OK);
    assert_int_equal(pl.n, 1);
    assert_int_equal(pl.p[0].number, 2);
    memset(&pl, 0, sizeof pl);
    assert_int_equal(vodup_meta_part_list(m, "U9", 0, 10, collect_part, &pl), VODUP_META_ENOTFOUND);

    /* Listing uploads: by (key, id), with prefix and markers. */
    fx_new_upload(m, "U3", "b1", "video.mp4", 9);
    fx_new_upload(m, "U0", "b1", "video.mp4", 9);
    fx_new_upload(m, "U5", "b1", "audio.m4a", 9);
    fx_new_upload(m, "U4", "b1", "zzz", 3);
    fx_upload_list ul = { .n = 0 };
    assert_int_equal(vodup_meta_upload_list(m, "b1", NULL, 0, NULL, 0, NULL, 100, fx_collect_upload, &ul),
                     VODUP_META_OK);
    assert_int_equal(ul.n, 5);
    const char *order[] = { "U5", "U0", "U1", "U3", "U4" };
    for (int i = 0; i < 5; i++)
        assert_string_equal(ul.ids[i], order[i]);
    assert_string_equal(ul.keys[0], "audio.m4a");
    memset(&ul, 0, sizeof ul);
    assert_int_equal(vodup_meta_upload_list(m, "b1", "video", 5, NULL, 0, NULL, 100, fx_collect_upload, &ul),
                     VODUP_META_OK);
    assert_int_equal(ul.n, 3);
    memset(&ul, 0, sizeof ul);
    assert_int_equal(vodup_meta_upload_list(m, "b1", NULL, 0, "video.mp4", 9, "U0", 100,
                                            fx_collect_upload, &ul), VODUP_META_OK);
    assert_int_equal(ul.n, 3);
    assert_string_equal(ul.ids[0], "U1");
    assert_string_equal(ul.ids[1], "U3");
    assert_string_equal(ul.ids[2], "U4");
    memset(&ul, 0, sizeof ul);
    assert_int_equal(vodup_meta_upload_list(m, "b1", NULL, 0, "video.mp4", 9, "", 100, fx_collect_upload, &ul),
                     VODUP_META_OK);
    assert_int_equal(ul.n, 1);
    assert_string_equal(ul.ids[0], "U4");
    memset(&ul, 0, sizeof ul);
    assert_int_equal(vodup_meta_upload_list(m, "b1", "video", 5, "video.mp4", 9, "U1", 1,
                                            fx_collect_upload, &ul), VODUP_META_OK);
    assert_int_equal(ul.n, 1);
    assert_string_equal(ul.ids[0], "U3");
    memset(&ul, 0, sizeof ul);
    assert_int_equal(vodup_meta_upload_list(m, "b1", "video", 5, "a", 1, "U9", 100, fx_collect_upload, &ul),
                     VODUP_META_OK);
    assert_int_equal(ul.n, 3);

    /* Quota: acc1 now has 5 open uploads. */
    memset(&up, 0, sizeof up);
    snprintf(up.upload_id, sizeof up.upload_id, "U6");
    up.bucket = "b1";
    up.key = "q";
    up.key_len = 1;
    assert_int_equal(vodup_meta_upload_create(m, &up, "acc1", 5), VODUP_META_ELIMIT);
    assert_int_equal(vodup_meta_upload_create(m, &up, "acc2", 5), VODUP_META_OK);
    snprintf(up.upload_id, sizeof up.upload_id, "U7");
    assert_int_equal(vodup_meta_upload_create(m, &up, "acc1", 7), VODUP_META_OK);

    /* Abort: parts' blobs to garbage, the upload is gone. */
    assert_int_equal(vodup_meta_upload_abort(m, "U1"), VODUP_META_OK);
    assert_int_equal(vodup_meta_upload_abort(m, "U1"), VODUP_META_ENOTFOUND);
    assert_int_equal(vodup_meta_upload_get(m, "U1", &up), VODUP_META_ENOTFOUND);
    n = gc_all(m, ids, 16);
    assert_int_equal(n, 3);
    fx_blob_id(want, 501);
    assert_true(gc_has(ids, n, want));
    fx_blob_id(want, 512);
    assert_true(gc_has(ids, n, want));
    fx_blob_id(want, 503);
    assert_true(gc_has(ids, n, want));
    assert_int_equal(vodup_meta_blob_is_live(m, want), 0);

    /* A part for a vanished upload. */
    vodup_meta_part p;
    memset(&p, 0, sizeof p);
    p.number = 1;
    fx_blob_id(p.blob, 600);
    assert_int_equal(vodup_meta_part_put(m, "U1", &p), VODUP_META_ENOTFOUND);
    assert_int_equal(vodup_meta_blob_is_live(m, p.blob), 0);
}

/* Real bytes for parts, so the expected ETag and CRC are computed independently. */
typedef struct real_part {
    unsigned char *data;
    size_t size;
    char etag[33];
    uint64_t crc;
} real_part;

static void make_part(real_part *rp, size_t size, unsigned seed)
{
    rp->data = malloc(size ? size : 1);
    assert_non_null(rp->data);
    rp->size = size;
    for (size_t i = 0; i < size; i++)
        rp->data[i] = (unsigned char)(seed * 17 + i * 13 + (i >> 8));
    unsigned char d[16];
    vodup_md5(d, rp->data, size);
    vodup_hex_upper(rp->etag, d, 16);
    rp->crc = vodup_crc64(0, rp->data, size);
}

static void test_complete_success(void **state)
{
    fx *f = *state;
    vodup_meta *m = f->m;
    const char key[] = "movie\xff.mp4";
    size_t klen = sizeof key - 1;

    /* An object already at the key: replaced, its blob to garbage. */
    fx_put_object(m, "b1", key, klen, 700, 1);
    char oldblob[33];
    fx_blob_id(oldblob, 700);

    fx_new_upload(m, "UC", "b1", key, klen);
    real_part rp[4];
    make_part(&rp[0], 1000, 1);
    make_part(&rp[1], 1000, 2);
    make_part(&rp[2], 1000, 3);
    make_part(&rp[3], 333, 4);
    put_part(m, "UC", 1, 801, rp[0].size, rp[0].etag, rp[0].crc);
    put_part(m, "UC", 2, 802, rp[1].size, rp[1].etag, rp[1].crc);   /* left out */
    put_part(m, "UC", 3, 803, rp[2].size, rp[2].etag, rp[2].crc);
    put_part(m, "UC", 7, 807, rp[3].size, rp[3].etag, rp[3].crc);

    vodup_meta_complete_part cp[3];
    cp[0].number = 1;
    cp[1].number = 3;
    cp[2].number = 7;
    snprintf(cp[0].etag, 33, "%s", rp[0].etag);
    snprintf(cp[1].etag, 33, "%s", rp[2].etag);
    /* ETags compare case-insensitively. */
    for (int i = 0; i < 33; i++) {
        char c = rp[3].etag[i];
        cp[2].etag[i] = (c >= 'A' && c <= 'F') ? (char)(c - 'A' + 'a') : c;
    }

    vodup_meta_object out;
    size_t bad = 99;
    assert_int_equal(vodup_meta_upload_complete(m, "UC", cp, 3, 1000, 777777, &out, &bad),
                     VODUP_META_OK);

    size_t total = rp[0].size + rp[2].size + rp[3].size;
    unsigned char *all = malloc(total);
    assert_non_null(all);
    memcpy(all, rp[0].data, rp[0].size);
    memcpy(all + rp[0].size, rp[2].data, rp[2].size);
    memcpy(all + rp[0].size + rp[2].size, rp[3].data, rp[3].size);
    uint64_t want_crc = vodup_crc64(0, all, total);
    char cat[3 * 32 + 1];
    snprintf(cat, sizeof cat, "%s%s%s", rp[0].etag, rp[2].etag, rp[3].etag);
    unsigned char d[16];
    vodup_md5(d, cat, 96);
    char hex[33], want_etag[64];
    vodup_hex_upper(hex, d, 16);
    snprintf(want_etag, sizeof want_etag, "%s-3", hex);

    assert_string_equal(out.etag, want_etag);
    assert_true(out.crc64 == want_crc);
    assert_int_equal(out.size, total);
    assert_string_equal(out.type, "Multipart");
    assert_int_equal(out.has_md5, 0);
    assert_string_equal(out.bucket, "b1");
    assert_int_equal(out.key_len, klen);
    assert_memory_equal(out.key, key, klen);
    assert_string_equal(out.content_type, "video/mp4");
    assert_string_equal(out.user_meta, "{\"x\":\"1\"}");
    assert_int_equal(out.mtime, 777777);
    vodup_meta_object_clear(&out);

    vodup_meta_object g;
    assert_int_equal(vodup_meta_object_get(m, "b1", key, klen, &g), VODUP_META_OK);
    assert_string_equal(g.etag, want_etag);
    assert_true(g.crc64 == want_crc);
    assert_int_equal(g.size, total);
    assert_string_equal(g.type, "Multipart");
    assert_int_equal(g.has_md5, 0);
    assert_int_equal(g.nsegs, 3);
    char b[33];
    fx_blob_id(b, 801);
    assert_string_equal(g.segs[0].blob, b);
    assert_int_equal(g.segs[0].size, 1000);
    fx_blob_id(b, 803);
    assert_string_equal(g.segs[1].blob, b);
    fx_blob_id(b, 807);
    assert_string_equal(g.segs[2].blob, b);
    assert_int_equal(g.segs[2].size, 333);
    vodup_meta_object_clear(&g);

    /* Garbage: the replaced object's blob and the unlisted part, nothing else. */
    char ids[16][33];
    int n = gc_all(m, ids, 16);
    assert_int_equal(n, 2);
    assert_true(gc_has(ids, n, oldblob));
    fx_blob_id(b, 802);
    assert_true(gc_has(ids, n, b));
    assert_int_equal(vodup_meta_blob_is_live(m, b), 0);
    fx_blob_id(b, 801);
    assert_int_equal(vodup_meta_blob_is_live(m, b), 1);

    vodup_meta_upload up;
    assert_int_equal(vodup_meta_upload_get(m, "UC", &up), VODUP_META_ENOTFOUND);
    assert_int_equal(vodup_meta_upload_complete(m, "UC", cp, 3, 0, 1, NULL, &bad),
                     VODUP_META_ENOTFOUND);

    /* A single part may be of any size; out may be NULL. */
    fx_new_upload(m, "UD", "b1", "one", 3);
    put_part(m, "UD", 5, 900, 1, rp[0].etag, 77);
    cp[0].number = 5;
    assert_int_equal(vodup_meta_upload_complete(m, "UD", cp, 1, 1000000, 1, NULL, NULL), VODUP_META_OK);
    assert_int_equal(vodup_meta_object_get(m, "b1", "one", 3, &g), VODUP_META_OK);
    assert_true(g.crc64 == 77);
    assert_int_equal(g.size, 1);
    vodup_meta_object_clear(&g);

    free(all);
    for (int i = 0; i < 4; i++)
        free(rp[i].data);
}

static void assert_upload_intact(vodup_meta *m)
{
    vodup_meta_upload up;
    assert_int_equal(vodup_meta_upload_get(m, "UF", &up), VODUP_META_OK);
    vodup_meta_upload_clear(&up);
    part_list pl = { .n = 0 };
    assert_int_equal(vodup_meta_part_list(m, "UF", 0, 100, collect_part, &pl), VODUP_META_OK);
    assert_int_equal(pl.n, 3);
    for (int i = 0; i < 3; i++) {
        assert_int_equal(pl.p[i].number, i + 1);
        assert_int_equal(vodup_meta_blob_is_live(m, pl.p[i].blob), 1);
    }
    char ids[4][33];
    assert_int_equal(vodup_meta_gc_take(m, ids, 4), 0);
    vodup_meta_object g;
    assert_int_equal(vodup_meta_object_get(m, "b1", "fail", 4, &g), VODUP_META_ENOTFOUND);
}

typedef struct commit_read {
    vodup_meta_part p[4];
    int n;
} commit_read;

static int commit_read_cb(const vodup_meta_part *p, void *u)
{
    commit_read *r = u;
    if (r->n < 4)
        r->p[r->n++] = *p;
    return 0;
}

/* upload_commit (the core's Complete): the caller's fields, the parts in the order given,
 * and only while each part is still the one the caller read. */
static void test_upload_commit(void **state)
{
    fx *f = *state;
    vodup_meta *m = f->m;
    fx_new_upload(m, "UM", "b1", "k", 1);
    put_part(m, "UM", 1, 901, 10, "11111111111111111111111111111111", 5);
    put_part(m, "UM", 2, 902, 20, "22222222222222222222222222222222", 6);
    put_part(m, "UM", 3, 903, 30, "33333333333333333333333333333333", 7);
    commit_read r = {0};
    assert_int_equal(vodup_meta_part_list(m, "UM", 0, 10, commit_read_cb, &r), VODUP_META_OK);
    assert_int_equal(r.n, 3);
    vodup_meta_object fields;
    memset(&fields, 0, sizeof fields);
    snprintf(fields.etag, sizeof fields.etag, "E-2");
    fields.size = 40;
    fields.crc64 = 99;
    snprintf(fields.type, sizeof fields.type, "Multipart");
    fields.mtime = 4343;
    size_t bad = 99;

    /* part 3 uploaded again since it was read: refused, nothing changes */
    put_part(m, "UM", 3, 913, 30, "33333333333333333333333333333333", 7);
    vodup_meta_part chosen[2] = {r.p[0], r.p[2]};
    assert_int_equal(vodup_meta_upload_commit(m, "UM", chosen, 2, &fields, NULL, NULL, &bad),
                     VODUP_META_EINVALIDPART);
    assert_int_equal(bad, 1);
    vodup_meta_object o;
    assert_int_equal(vodup_meta_object_get(m, "b1", "k", 1, &o), VODUP_META_ENOTFOUND);
    assert_int_equal(vodup_meta_upload_commit(m, "nope", chosen, 2, &fields, NULL, NULL, &bad),
                     VODUP_META_ENOTFOUND);

    r.n = 0;
    assert_int_equal(vodup_meta_part_list(m, "UM", 0, 10, commit_read_cb, &r), VODUP_META_OK);
    chosen[1] = r.p[2];
    vodup_meta_object out;
    assert_int_equal(vodup_meta_upload_commit(m, "UM", chosen, 2, &fields, NULL, &out, &bad), VODUP_META_OK);
    assert_string_equal(out.etag, "E-2");
    assert_string_equal(out.content_type, "video/mp4");
    vodup_meta_object_clear(&out);
    assert_int_equal(vodup_meta_object_get(m, "b1", "k", 1, &o), VODUP_META_OK);
    assert_string_equal(o.etag, "E-2");
    assert_int_equal(o.size, 40);
    assert_true(o.crc64 == 99);
    assert_string_equal(o.type, "Multipart");
    assert_int_equal(o.mtime, 4343);
    assert_int_equal(o.nsegs, 2);
    char b[33];
    fx_blob_id(b, 901);
    assert_string_equal(o.segs[0].blob, b);
    fx_blob_id(b, 913);
    assert_string_equal(o.segs[1].blob, b);
    vodup_meta_object_clear(&o);
    /* the unlisted part and the replaced one are garbage; the upload is gone */
    char ids[8][33];
    int n = gc_all(m, ids, 8);
    fx_blob_id(b, 902);
    assert_true(gc_has(ids, n, b));
    fx_blob_id(b, 903);
    assert_true(gc_has(ids, n, b));
    vodup_meta_upload up;
    assert_int_equal(vodup_meta_upload_get(m, "UM", &up), VODUP_META_ENOTFOUND);
}

static void test_complete_failures(void **state)
{
    fx *f = *state;
    vodup_meta *m = f->m;
    fx_new_upload(m, "UF", "b1", "fail", 4);
    put_part(m, "UF", 1, 901, 100, "0123456789ABCDEF0123456789ABCDE1", 1);
    put_part(m, "UF", 2, 902, 50, "0123456789ABCDEF0123456789ABCDE2", 2);
    put_part(m, "UF", 3, 903, 100, "0123456789ABCDEF0123456789ABCDE3", 3);

    vodup_meta_complete_part cp[4];
    for (int i = 0; i < 4; i++) {
        cp[i].number = i + 1;
        snprintf(cp[i].etag, 33, "0123456789ABCDEF0123456789ABCDE%c", '1' + i);
    }
    vodup_meta_object out;
    size_t bad;

    /* Order: descending, then a duplicate. */
    vodup_meta_complete_part swapped[2] = { cp[1], cp[0] };
    bad = 99;
    assert_int_equal(vodup_meta_upload_complete(m, "UF", swapped, 2, 1, 1, &out, &bad),
                     VODUP_META_EPARTORDER);
    assert_int_equal(bad, 1);
    assert_upload_intact(m);
    vodup_meta_complete_part dup[3] = { cp[0], cp[2], cp[2] };
    bad = 99;
    assert_int_equal(vodup_meta_upload_complete(m, "UF", dup, 3, 1, 1, &out, &bad),
                     VODUP_META_EPARTORDER);
    assert_int_equal(bad, 2);
    assert_upload_intact(m);

    /* A wrong ETag. */
    vodup_meta_complete_part wrong[3] = { cp[0], cp[1], cp[2] };
    wrong[1].etag[0] = '9';
    bad = 99;
    assert_int_equal(vodup_meta_upload_complete(m, "UF", wrong, 3, 1, 1, &out, &bad),
                     VODUP_META_EINVALIDPART);
    assert_int_equal(bad, 1);
    assert_upload_intact(m);

    /* A part that was never uploaded. */
    bad = 99;
    assert_int_equal(vodup_meta_upload_complete(m, "UF", cp, 4, 1, 1, &out, &bad),
                     VODUP_META_EINVALIDPART);
    assert_int_equal(bad, 3);
    assert_upload_intact(m);

    /* Too small: part 2 (50 bytes) is not the last one. */
    bad = 99;
    assert_int_equal(vodup_meta_upload_complete(m, "UF", cp, 3, 100, 1, &out, &bad),
                     VODUP_META_ETOOSMALL);
    assert_int_equal(bad, 1);
    assert_upload_intact(m);
    /* ...but as the last one it is fine. */
    assert_int_equal(vodup_meta_upload_complete(m, "UF", cp, 2, 100, 1, &out, &bad), VODUP_META_OK);
    assert_int_equal(out.size, 150);
    assert_int_equal(out.crc64, vodup_crc64_combine(1, 2, 50));
    vodup_meta_object_clear(&out);
    char ids[4][33];
    int n = vodup_meta_gc_take(m, ids, 4);
    assert_int_equal(n, 1);
    char b[33];
    fx_blob_id(b, 903);
    assert_string_equal(ids[0], b);
}

/* ---- garbage list ------------------------------------------------------------------------ */

static void test_gc_take_done(void **state)
{
    fx *f = *state;
    vodup_meta *m = f->m;
    for (unsigned i = 0; i < 10; i++)
        fx_put_object(m, "b1", "k", 1, 1000 + i, 1);   /* each put frees the previous blob */
    char ids[16][33];
    int n = vodup_meta_gc_take(m, ids, 4);
    assert_int_equal(n, 4);
    /* take does not consume: the same ids come back until done. */
    char again[16][33];
    assert_int_equal(vodup_meta_gc_take(m, again, 16), 9);
    for (int i = 0; i < 4; i++)
        assert_true(gc_has(again, 9, ids[i]));
    assert_int_equal(vodup_meta_gc_done(m, ids, 4), VODUP_META_OK);
    n = vodup_meta_gc_take(m, again, 16);
    assert_int_equal(n, 5);
    for (int i = 0; i < 4; i++)
        assert_false(gc_has(again, n, ids[i]));
    for (int i = 0; i < n; i++)
        assert_int_equal(vodup_meta_blob_is_live(m, again[i]), 0);
    assert_int_equal(vodup_meta_gc_done(m, again, n), VODUP_META_OK);
    assert_int_equal(vodup_meta_gc_take(m, again, 16), 0);
    assert_int_equal(vodup_meta_gc_take(m, again, 0), 0);
    assert_int_equal(vodup_meta_gc_done(m, again, 0), VODUP_META_OK);
    char live[33];
    fx_blob_id(live, 1009);
    assert_int_equal(vodup_meta_blob_is_live(m, live), 1);
    assert_int_equal(vodup_meta_blob_is_live(m, "ffffffffffffffffffffffffffffffff"), 0);
}


/* ---- writes by upload credentials ------------------------------------------------------ */

static void new_media(vodup_meta *m, const char *id, const char *key)
{
    vodup_meta_media md;
    memset(&md, 0, sizeof md);
    snprintf(md.id, sizeof md.id, "%s", id);
    snprintf(md.kind, sizeof md.kind, "video");
    snprintf(md.status, sizeof md.status, "Uploading");
    md.account_id = "acc1";
    md.title = "t";
    md.cate_id = -1;
    md.bucket = "b1";
    md.object_key = (char *)key;
    md.created = md.modified = 100;
    assert_int_equal(vodup_meta_media_create(m, &md), VODUP_META_OK);
}


/* The scope re-check inside the committing transaction: once a write completed the
 * media, an older credential's write is refused and changes nothing; a credential issued
 * after the completion may write; a deleted media revokes every credential. */
static void test_guarded_writes(void **state)
{
    fx *f = *state;
    vodup_meta *m = f->m;
    new_media(m, "0123456789abcdef0123456789abcdef", "v.mp4");
    vodup_meta_guard g = { .issued_ms = 100500, .expires = 5000, .writable = core_guard_writable };
    vodup_meta_segment s1, s2, s3;
    vodup_meta_object o1 = fx_simple_object("v.mp4", &s1, 1, 200);
    assert_int_equal(vodup_meta_object_put_guarded(m, &o1, &g), VODUP_META_OK);
    vodup_meta_object o2 = fx_simple_object("v.mp4", &s2, 2, 201);
    assert_int_equal(vodup_meta_object_put_guarded(m, &o2, &g), VODUP_META_EDENIED);
    vodup_meta_object got;
    assert_int_equal(vodup_meta_object_get(m, "b1", "v.mp4", 5, &got), VODUP_META_OK);
    assert_string_equal(got.segs[0].blob, s1.blob);
    vodup_meta_object_clear(&got);
    char ids[4][33];
    assert_int_equal(vodup_meta_gc_take(m, ids, 4), 0); /* the refused write freed nothing */

    /* an upload the old credential opened cannot take parts nor complete now */
    vodup_meta_upload up;
    memset(&up, 0, sizeof up);
    snprintf(up.upload_id, sizeof up.upload_id, "U1");
    up.bucket = "b1";
    up.key = "v.mp4";
    up.key_len = 5;
    up.initiated = 150;
    assert_int_equal(vodup_meta_upload_create_guarded(m, &up, "acc1", 0, &g, 4, NULL), VODUP_META_EDENIED);
    assert_int_equal(vodup_meta_upload_create(m, &up, "acc1", 0), VODUP_META_OK);
    vodup_meta_part p;
    memset(&p, 0, sizeof p);
    p.number = 1;
    fx_blob_id(p.blob, 9);
    p.size = 10;
    snprintf(p.etag, sizeof p.etag, "AA");
    assert_int_equal(vodup_meta_part_put_guarded(m, "U1", &p, &g), VODUP_META_EDENIED);
    assert_int_equal(vodup_meta_part_put(m, "U1", &p), VODUP_META_OK);
    vodup_meta_complete_part cp = { .number = 1, .etag = "AA" };
    size_t bad;
    assert_int_equal(vodup_meta_upload_complete_guarded(m, "U1", &cp, 1, 0, 300, NULL, &bad, &g), VODUP_META_EDENIED);
    assert_int_equal(vodup_meta_upload_get(m, "U1", &up), VODUP_META_OK);
    vodup_meta_upload_clear(&up);

    /* credentials issued after the second of the completion (201 -> 201999 ms) may */
    vodup_meta_guard fresh = { .issued_ms = 201000, .expires = 6000, .writable = core_guard_writable };
    assert_int_equal(vodup_meta_object_put_guarded(m, &o2, &fresh), VODUP_META_OK);
    fresh.issued_ms = 200999;
    vodup_meta_object o3 = fx_simple_object("v.mp4", &s3, 3, 202);
    assert_int_equal(vodup_meta_object_put_guarded(m, &o3, &fresh), VODUP_META_EDENIED);

    /* no media at the key: revoked */
    vodup_meta_object o4 = fx_simple_object("other.mp4", &s3, 3, 202);
    assert_int_equal(vodup_meta_object_put_guarded(m, &o4, &g), VODUP_META_EREVOKED);
    assert_int_equal(vodup_meta_object_put_guarded(m, &o4, NULL), VODUP_META_OK);
}

/* Uploads of upload credentials: at most max_per_key on the key (others not counted) -
 * one more aborts the least recently written -, aborted once their newest credential
 * expired; a part from a later credential extends and touches. */
static void cred_upload(vodup_meta *m, const char *id, time_t initiated, const vodup_meta_guard *g, int expect_evicted)
{
    vodup_meta_upload up;
    memset(&up, 0, sizeof up);
    snprintf(up.upload_id, sizeof up.upload_id, "%s", id);
    up.bucket = "b1";
    up.key = "c.mp4";
    up.key_len = 5;
    up.initiated = initiated;
    int evicted = -1;
    assert_int_equal(vodup_meta_upload_create_guarded(m, &up, "acc1", 0, g, 2, &evicted), VODUP_META_OK);
    assert_int_equal(evicted, expect_evicted);
}

static int upload_exists_pub(vodup_meta *m, const char *id)
{
    vodup_meta_upload up;
    int rc = vodup_meta_upload_get(m, id, &up);
    if (rc == VODUP_META_OK)
        vodup_meta_upload_clear(&up);
    return rc == VODUP_META_OK;
}

static void test_credential_uploads(void **state)
{
    fx *f = *state;
    vodup_meta *m = f->m;
    new_media(m, "fedcba9876543210fedcba9876543210", "c.mp4");
    vodup_meta_guard g = { .issued_ms = 100500, .expires = 1000, .writable = core_guard_writable };
    cred_upload(m, "C0", 150, &g, 0);
    cred_upload(m, "C1", 160, &g, 0);
    vodup_meta_upload up;
    memset(&up, 0, sizeof up);
    snprintf(up.upload_id, sizeof up.upload_id, "ROOT");
    up.bucket = "b1";
    up.key = "c.mp4";
    up.key_len = 5;
    assert_int_equal(vodup_meta_upload_create(m, &up, "acc1", 0), VODUP_META_OK); /* not counted, never expires */
    cred_upload(m, "C2", 170, &g, 1);
    assert_false(upload_exists_pub(m, "C0")); /* the oldest made room */
    assert_true(upload_exists_pub(m, "C1"));
    assert_true(upload_exists_pub(m, "ROOT"));

    vodup_meta_guard later = { .issued_ms = 100600, .expires = 3000, .writable = core_guard_writable };
    vodup_meta_part p;
    memset(&p, 0, sizeof p);
    p.number = 1;
    fx_blob_id(p.blob, 77);
    p.size = 10;
    p.mtime = 500;
    snprintf(p.etag, sizeof p.etag, "AA");
    assert_int_equal(vodup_meta_part_put_guarded(m, "C1", &p, &later), VODUP_META_OK);

    assert_int_equal(vodup_meta_upload_expire_creds(m, 1000, 10), 0); /* strictly before */
    assert_int_equal(vodup_meta_upload_expire_creds(m, 2000, 10), 1); /* C2 only: C1 was extended */
    assert_false(upload_exists_pub(m, "C2"));
    assert_true(upload_exists_pub(m, "C1"));
    cred_upload(m, "C3", 200, &later, 0);
    p.number = 2;
    fx_blob_id(p.blob, 78);
    assert_int_equal(vodup_meta_part_put_guarded(m, "C1", &p, &later), VODUP_META_OK);
    /* C1 was initiated first but written last: C3 goes */
    cred_upload(m, "C4", 210, &later, 1);
    assert_false(upload_exists_pub(m, "C3"));
    assert_true(upload_exists_pub(m, "C1"));
    assert_int_equal(vodup_meta_upload_expire_creds(m, 4000, 10), 2);
    assert_true(upload_exists_pub(m, "ROOT"));
    char ids[4][33], want[33];
    assert_int_equal(vodup_meta_gc_take(m, ids, 4), 2);
    fx_blob_id(want, 77);
    assert_true(gc_has(ids, 2, want));
    fx_blob_id(want, 78);
    assert_true(gc_has(ids, 2, want));
}

/* take_after walks the garbage list in id order past ids a collector leaves there. */
static void test_gc_take_after(void **state)
{
    fx *f = *state;
    vodup_meta *m = f->m;
    for (unsigned i = 0; i < 10; i++)
        fx_put_object(m, "b1", "k", 1, 2000 + i, 1);
    char a[16][33], b[16][33];
    assert_int_equal(vodup_meta_gc_take_after(m, "", a, 4), 4);
    for (int i = 1; i < 4; i++)
        assert_true(strcmp(a[i - 1], a[i]) < 0);
    assert_int_equal(vodup_meta_gc_take_after(m, a[3], b, 16), 5);
    for (int i = 0; i < 5; i++) {
        assert_true(strcmp(b[i], a[3]) > 0);
        assert_false(gc_has(a, 4, b[i]));
    }
    assert_int_equal(vodup_meta_gc_take_after(m, b[4], b, 16), 0);
}

/* ---- concurrency and persistence ---------------------------------------------------------- */

#define NTHREADS 8
#define ROUNDS 40

typedef struct worker {
    vodup_meta *m;
    int index;
    int errors;
} worker;


static void *worker_main(void *arg)
{
    worker *w = arg;
    for (int r = 0; r < ROUNDS; r++) {
        char key[32];
        int klen = snprintf(key, sizeof key, "t%d/k%d", w->index, r % 10);
        vodup_meta_object o;
        memset(&o, 0, sizeof o);
        vodup_meta_segment seg;
        fx_blob_id(seg.blob, (unsigned)(w->index * 10000 + r));
        seg.size = (uint64_t)r;
        o.bucket = "b1";
        o.key = key;
        o.key_len = (size_t)klen;
        o.size = (uint64_t)r;
        snprintf(o.etag, sizeof o.etag, "E%d", r);
        snprintf(o.type, sizeof o.type, "Normal");
        o.segs = &seg;
        o.nsegs = 1;
        if (vodup_meta_object_put(w->m, &o) != VODUP_META_OK)
            w->errors++;
        vodup_meta_object g;
        if (vodup_meta_object_get(w->m, "b1", key, (size_t)klen, &g) != VODUP_META_OK)
            w->errors++;
        else {
            if (g.size != (uint64_t)r || g.nsegs != 1 || strcmp(g.segs[0].blob, seg.blob))
                w->errors++;
            vodup_meta_object_clear(&g);
        }
        int cnt = 0;
        char prefix[8];
        int plen = snprintf(prefix, sizeof prefix, "t%d/", w->index);
        if (vodup_meta_object_list(w->m, "b1", prefix, (size_t)plen, NULL, 0, 100, fx_count_cb, &cnt) !=
                VODUP_META_OK ||
            cnt != (r < 10 ? r + 1 : 10))
            w->errors++;
        if (vodup_meta_blob_is_live(w->m, seg.blob) != 1)
            w->errors++;
    }
    return NULL;
}

static void test_concurrency(void **state)
{
    fx *f = *state;
    worker w[NTHREADS];
    pthread_t th[NTHREADS];
    for (int i = 0; i < NTHREADS; i++) {
        w[i].m = f->m;
        w[i].index = i;
        w[i].errors = 0;
        assert_int_equal(pthread_create(&th[i], NULL, worker_main, &w[i]), 0);
    }
    for (int i = 0; i < NTHREADS; i++) {
        assert_int_equal(pthread_join(th[i], NULL), 0);
        assert_int_equal(w[i].errors, 0);
    }
    int cnt = 0;
    assert_int_equal(vodup_meta_object_list(f->m, "b1", NULL, 0, NULL, 0, 1000, fx_count_cb, &cnt),
                     VODUP_META_OK);
    assert_int_equal(cnt, NTHREADS * 10);
    char ids[512][33];
    assert_int_equal(vodup_meta_gc_take(f->m, ids, 512), NTHREADS * (ROUNDS - 10));
}


/* ---- listings: paging as the dialects do it ------------------------------------------ */

typedef struct page {
    char keys[8][16];
    size_t lens[8];
    int n;
} page;

static int collect_page(const vodup_meta_object *o, void *u)
{
    page *p = u;
    assert_true(p->n < 8 && o->key_len < sizeof p->keys[0]);
    memcpy(p->keys[p->n], o->key, o->key_len);
    p->lens[p->n++] = o->key_len;
    return 0;
}

/* Pages of one key each, resuming strictly after the last key; a delimiter listing
 * re-seeks past a common prefix with `after` = prefix + 0xFF. */
static void test_list_paging_and_reseek(void **state)
{
    fx *f = *state;
    vodup_meta *m = f->m;
    static const char *const keys[] = { "a/1", "a/2", "a/\xc3\xa9", "b", "c/1", "c/2" };
    for (unsigned i = 0; i < 6; i++)
        fx_put_object(m, "b1", keys[i], strlen(keys[i]), 7000 + i, 1);
    /* one by one: every key once, in byte order */
    char after[16] = "";
    size_t alen = 0;
    for (unsigned i = 0; i < 6; i++) {
        page p = { .n = 0 };
        assert_int_equal(vodup_meta_object_list(m, "b1", NULL, 0, after, alen, 1, collect_page, &p), VODUP_META_OK);
        assert_int_equal(p.n, 1);
        assert_int_equal(p.lens[0], strlen(keys[i]));
        assert_memory_equal(p.keys[0], keys[i], p.lens[0]);
        memcpy(after, p.keys[0], p.lens[0]);
        alen = p.lens[0];
    }
    page p = { .n = 0 };
    assert_int_equal(vodup_meta_object_list(m, "b1", NULL, 0, after, alen, 1, collect_page, &p), VODUP_META_OK);
    assert_int_equal(p.n, 0);
    /* delimiter "/": after "a/1" the caller skips the rest of "a/" */
    memset(&p, 0, sizeof p);
    assert_int_equal(vodup_meta_object_list(m, "b1", NULL, 0, "a/\xff", 3, 8, collect_page, &p), VODUP_META_OK);
    assert_int_equal(p.n, 3);
    assert_memory_equal(p.keys[0], "b", 1);
    assert_memory_equal(p.keys[1], "c/1", 3);
    /* prefix and after together; a limit of 0 lists nothing */
    memset(&p, 0, sizeof p);
    assert_int_equal(vodup_meta_object_list(m, "b1", "c/", 2, "c/1", 3, 8, collect_page, &p), VODUP_META_OK);
    assert_int_equal(p.n, 1);
    assert_memory_equal(p.keys[0], "c/2", 3);
    memset(&p, 0, sizeof p);
    assert_int_equal(vodup_meta_object_list(m, "b1", NULL, 0, NULL, 0, 0, collect_page, &p), VODUP_META_OK);
    assert_int_equal(p.n, 0);
}

/* A list callback may call back into the store (it runs after the store let go). */
static int nested_bucket(const vodup_meta_bucket *b, void *u)
{
    vodup_meta_bucket again;
    assert_int_equal(vodup_meta_bucket_get(u, b->name, &again), VODUP_META_OK);
    vodup_meta_bucket_clear(&again);
    assert_int_equal(vodup_meta_setting_set(u, "touched", b->name), VODUP_META_OK);
    return 0;
}

static void test_callbacks_may_reenter(void **state)
{
    fx *f = *state;
    assert_int_equal(vodup_meta_bucket_list(f->m, "acc1", nested_bucket, f->m), VODUP_META_OK);
    char *v = NULL;
    assert_int_equal(vodup_meta_setting_get(f->m, "touched", &v), VODUP_META_OK);
    assert_string_equal(v, "b1");
    free(v);
}

/* ---- concurrency: Complete racing Abort ---------------------------------------------- */

#define RACE_ROUNDS 30

typedef struct racer {
    vodup_meta *m;
    const char *upload_id;
    int complete;           /* 1: Complete, 0: Abort */
    int rc;
    pthread_barrier_t *go;
} racer;

static void *race_main(void *arg)
{
    racer *r = arg;
    pthread_barrier_wait(r->go);
    if (r->complete) {
        vodup_meta_complete_part parts[2] = { { 1, "" }, { 2, "" } };
        snprintf(parts[0].etag, sizeof parts[0].etag, "%032X", 1);
        snprintf(parts[1].etag, sizeof parts[1].etag, "%032X", 2);
        size_t bad = 0;
        r->rc = vodup_meta_upload_complete(r->m, r->upload_id, parts, 2, 0, 9999, NULL, &bad);
    } else {
        r->rc = vodup_meta_upload_abort(r->m, r->upload_id);
    }
    return NULL;
}

/* Exactly one of them wins, the other finds no upload; the object exists iff Complete
 * won, and the parts' blobs are either the object's or on the garbage list, never both
 * nor neither. */
static void test_complete_abort_race(void **state)
{
    fx *f = *state;
    vodup_meta *m = f->m;
    int completes = 0, aborts = 0;
    for (int round = 0; round < RACE_ROUNDS; round++) {
        char id[33], key[16], e1[33], e2[33];
        snprintf(id, sizeof id, "RACE%d", round);
        int klen = snprintf(key, sizeof key, "race/%d", round);
        snprintf(e1, sizeof e1, "%032X", 1);
        snprintf(e2, sizeof e2, "%032X", 2);
        fx_new_upload(m, id, "b1", key, (size_t)klen);
        put_part(m, id, 1, 60000 + 2 * (unsigned)round, 10, e1, 1);
        put_part(m, id, 2, 60001 + 2 * (unsigned)round, 10, e2, 2);
        pthread_barrier_t go;
        pthread_barrier_init(&go, NULL, 2);
        racer rs[2] = { { m, id, round % 2, 0, &go }, { m, id, !(round % 2), 0, &go } };
        pthread_t th[2];
        for (int i = 0; i < 2; i++)
            assert_int_equal(pthread_create(&th[i], NULL, race_main, &rs[i]), 0);
        for (int i = 0; i < 2; i++)
            assert_int_equal(pthread_join(th[i], NULL), 0);
        pthread_barrier_destroy(&go);
        racer *c = rs[0].complete ? &rs[0] : &rs[1], *a = rs[0].complete ? &rs[1] : &rs[0];
        int complete_won = c->rc == VODUP_META_OK;
        if (complete_won) {
            assert_int_equal(a->rc, VODUP_META_ENOTFOUND);
            completes++;
        } else {
            assert_int_equal(c->rc, VODUP_META_ENOTFOUND);
            assert_int_equal(a->rc, VODUP_META_OK);
            aborts++;
        }
        vodup_meta_upload up;
        assert_int_equal(vodup_meta_upload_get(m, id, &up), VODUP_META_ENOTFOUND);
        vodup_meta_object o;
        int rc = vodup_meta_object_get(m, "b1", key, (size_t)klen, &o);
        assert_int_equal(rc, complete_won ? VODUP_META_OK : VODUP_META_ENOTFOUND);
        if (rc == VODUP_META_OK) {
            assert_int_equal(o.nsegs, 2);
            vodup_meta_object_clear(&o);
        }
        char ids[8][VODUP_BLOB_ID_LEN + 1];
        int n = vodup_meta_gc_take(m, ids, 8);
        assert_int_equal(n, complete_won ? 0 : 2);
        for (unsigned k = 0; k < 2; k++) {
            char b[VODUP_BLOB_ID_LEN + 1];
            fx_blob_id(b, 60000 + 2 * (unsigned)round + k);
            assert_int_equal(vodup_meta_blob_is_live(m, b), complete_won);
        }
        if (n > 0)
            assert_int_equal(vodup_meta_gc_done(m, ids, n), VODUP_META_OK);
    }
    /* both outcomes happen, or the race proves little: log when one never did */
    if (!completes || !aborts)
        print_message("note: the race went one way every time (%d completes, %d aborts)\n", completes, aborts);
}

/* ---- revocation generations --------------------------------------------------------- */

static void role(vodup_meta *m, const char *name)
{
    vodup_meta_principal p;
    memset(&p, 0, sizeof p);
    p.account_id = "acc1";
    p.name = (char *)name;
    p.arn = "acs:ram::acc1:role/r";
    p.policies = "[]";
    p.max_session = 3600;
    p.created = 1;
    assert_int_equal(vodup_meta_principal_create(m, "role", &p), VODUP_META_OK);
}

/* 0 until revoked; each revoking delete advances it by one, in the delete's transaction;
 * deleting what is absent is ENOTFOUND and advances nothing; the back end's cache sees
 * each change at its next call. */
static void test_revocation_generations(void **state)
{
    fx *f = *state;
    vodup_meta *m = f->m;
    vodup_meta_revocations *cache = meta_be->revocations_open(f->dir);
    assert_non_null(cache);
    long long gen = -1;
    assert_int_equal(vodup_meta_revocation_get(m, "acc1", "role/r", &gen), VODUP_META_OK);
    assert_int_equal(gen, 0);
    assert_int_equal(vodup_meta_revocations_get(cache, "acc1", "role/r", &gen), VODUP_META_OK);
    assert_int_equal(gen, 0);
    for (int round = 1; round <= 2; round++) {
        role(m, "r");
        assert_int_equal(vodup_meta_principal_delete_revoking(m, "role", "acc1", "r"), VODUP_META_OK);
        assert_int_equal(vodup_meta_revocation_get(m, "acc1", "role/r", &gen), VODUP_META_OK);
        assert_int_equal(gen, round);
        assert_int_equal(vodup_meta_revocations_get(cache, "acc1", "role/r", &gen), VODUP_META_OK);
        assert_int_equal(gen, round);
        vodup_meta_principal p;
        assert_int_equal(vodup_meta_principal_get(m, "role", "acc1", "r", &p), VODUP_META_ENOTFOUND);
    }
    assert_int_equal(vodup_meta_principal_delete_revoking(m, "role", "acc1", "r"), VODUP_META_ENOTFOUND);
    assert_int_equal(vodup_meta_revocation_get(m, "acc1", "role/r", &gen), VODUP_META_OK);
    assert_int_equal(gen, 2);
    /* per account and per principal */
    assert_int_equal(vodup_meta_revocation_get(m, "acc2", "role/r", &gen), VODUP_META_OK);
    assert_int_equal(gen, 0);
    assert_int_equal(vodup_meta_revocations_get(cache, "acc1", "user/r", &gen), VODUP_META_OK);
    assert_int_equal(gen, 0);
    vodup_meta_revocations_close(cache);
}

/* ==== per-account storage (meta_quota.h, ops version 4) ==== */

static void quota_put_object(vodup_meta *m, const char *bucket, const char *key, unsigned blob, uint64_t size)
{
    vodup_meta_object o;
    memset(&o, 0, sizeof o);
    vodup_meta_segment seg;
    fx_blob_id(seg.blob, blob);
    seg.size = size;
    o.bucket = (char *)bucket;
    o.key = (char *)key;
    o.key_len = strlen(key);
    o.size = size;
    snprintf(o.etag, sizeof o.etag, "0123456789ABCDEF0123456789ABCDEF");
    o.content_type = "video/mp4";
    snprintf(o.type, sizeof o.type, "Normal");
    o.mtime = 1;
    o.segs = &seg;
    o.nsegs = 1;
    assert_int_equal(vodup_meta_object_put(m, &o), VODUP_META_OK);
}

static uint64_t usage_of(vodup_meta *m, const char *account_id)
{
    uint64_t used = 12345;
    assert_int_equal(vodup_meta_usage_get(m, account_id, &used, NULL), VODUP_META_OK);
    return used;
}

/* The counter follows every write that adds or removes bytes, for the bucket's owner
 * only: objects put, replaced and deleted; parts put and replaced; Complete (parts become
 * the object, unlisted parts go); abort; expiry. */
static void test_usage_counts(void **state)
{
    fx *f = *state;
    if (!vodup_meta_supports(f->m, 5)) {
        print_message("[  SKIPPED ] %s: back end %s has ops version %u < 5\n", __func__, f->m->ops->name, f->m->ops->version);
        skip();
    }
    vodup_meta *m = f->m;
    assert_int_equal(vodup_meta_usage_get(m, "nobody", NULL, NULL), VODUP_META_ENOTFOUND);
    int64_t quota = 7;
    uint64_t used = 7;
    assert_int_equal(vodup_meta_usage_get(m, "acc1", &used, &quota), VODUP_META_OK);
    assert_int_equal(used, 0);
    assert_int_equal(quota, -1);
    assert_int_equal(vodup_meta_bucket_create(m, "b2", "acc2", 1), VODUP_META_OK);

    quota_put_object(m, "b1", "a", 1, 100);
    quota_put_object(m, "b1", "b", 2, 50);
    quota_put_object(m, "b2", "a", 3, 7);
    assert_int_equal(usage_of(m, "acc1"), 150);
    assert_int_equal(usage_of(m, "acc2"), 7);
    quota_put_object(m, "b1", "a", 4, 30); /* replaced: 100 out, 30 in */
    assert_int_equal(usage_of(m, "acc1"), 80);
    assert_int_equal(vodup_meta_object_delete(m, "b1", "b", 1), VODUP_META_OK);
    assert_int_equal(usage_of(m, "acc1"), 30);

    /* parts of open uploads count; a part put again counts once */
    fx_new_upload(m, "UQ", "b1", "k", 1);
    put_part(m, "UQ", 1, 11, 10, "11111111111111111111111111111111", 1);
    put_part(m, "UQ", 2, 12, 20, "22222222222222222222222222222222", 2);
    put_part(m, "UQ", 2, 13, 25, "22222222222222222222222222222222", 2);
    assert_int_equal(usage_of(m, "acc1"), 30 + 35);
    /* Complete with part 1 only: the object (10) replaces the parts (35) */
    commit_read r = {0};
    assert_int_equal(vodup_meta_part_list(m, "UQ", 0, 10, commit_read_cb, &r), VODUP_META_OK);
    vodup_meta_object fields;
    memset(&fields, 0, sizeof fields);
    snprintf(fields.etag, sizeof fields.etag, "E-1");
    fields.size = 10;
    snprintf(fields.type, sizeof fields.type, "Multipart");
    fields.mtime = 2;
    size_t bad = 0;
    assert_int_equal(vodup_meta_upload_commit(m, "UQ", r.p, 1, &fields, NULL, NULL, &bad), VODUP_META_OK);
    assert_int_equal(usage_of(m, "acc1"), 30 + 10);

    /* abort and expiry give the parts' bytes back */
    fx_new_upload(m, "UA", "b1", "k2", 2);
    put_part(m, "UA", 1, 21, 1000, "11111111111111111111111111111111", 1);
    assert_int_equal(usage_of(m, "acc1"), 1040);
    assert_int_equal(vodup_meta_upload_abort(m, "UA"), VODUP_META_OK);
    assert_int_equal(usage_of(m, "acc1"), 40);
    fx_new_upload(m, "UE", "b1", "k3", 2); /* initiated 4242 */
    put_part(m, "UE", 1, 22, 500, "11111111111111111111111111111111", 1);
    assert_int_equal(usage_of(m, "acc1"), 540);
    assert_int_equal(vodup_meta_upload_expire(m, 5000, 10), 1);
    assert_int_equal(usage_of(m, "acc1"), 40);
    assert_int_equal(usage_of(m, "acc2"), 7);
}

static void test_quota_set(void **state)
{
    fx *f = *state;
    if (!vodup_meta_supports(f->m, 5)) {
        print_message("[  SKIPPED ] %s: back end %s has ops version %u < 5\n", __func__, f->m->ops->name, f->m->ops->version);
        skip();
    }
    vodup_meta *m = f->m;
    int64_t q = 0;
    assert_int_equal(vodup_meta_quota_set(m, "acc1", 1000), VODUP_META_OK);
    assert_int_equal(vodup_meta_usage_get(m, "acc1", NULL, &q), VODUP_META_OK);
    assert_int_equal(q, 1000);
    assert_int_equal(vodup_meta_usage_get(m, "acc2", NULL, &q), VODUP_META_OK);
    assert_int_equal(q, -1); /* the other account keeps the default */
    assert_int_equal(vodup_meta_quota_set(m, "acc1", 0), VODUP_META_OK);
    assert_int_equal(vodup_meta_usage_get(m, "acc1", NULL, &q), VODUP_META_OK);
    assert_int_equal(q, 0);
    assert_int_equal(vodup_meta_quota_set(m, "acc1", -5), VODUP_META_OK);
    assert_int_equal(vodup_meta_usage_get(m, "acc1", NULL, &q), VODUP_META_OK);
    assert_int_equal(q, -1);
    assert_int_equal(vodup_meta_quota_set(m, "nobody", 10), VODUP_META_ENOTFOUND);
    /* the quota survives writes to the counter */
    assert_int_equal(vodup_meta_quota_set(m, "acc1", 77), VODUP_META_OK);
    quota_put_object(m, "b1", "q", 1, 5);
    uint64_t used = 0;
    assert_int_equal(vodup_meta_usage_get(m, "acc1", &used, &q), VODUP_META_OK);
    assert_int_equal(used, 5);
    assert_int_equal(q, 77);
}

/* ==== the VOD half (meta_vod.h) ==== */










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

static int vod_collect_key(const char *key_id, int active, time_t created, void *u)
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
    assert_int_equal(vodup_meta_key_list(f->m, "acc1", "alice", vod_collect_key, &l), VODUP_META_OK);
    assert_int_equal(l.n, 2);
    assert_string_equal(l.v[0], "KA1");   /* by creation time */
    assert_string_equal(l.v[1], "KA2");
    assert_int_equal(l.active[0], 1);
    l.n = 0;
    assert_int_equal(vodup_meta_key_list(f->m, "acc1", "root", vod_collect_key, &l), VODUP_META_OK);
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


/* ---- media ---------------------------------------------------------------------------- */

static void test_media_crud(void **state)
{
    fx *f = *state;
    vodup_meta_media md;
    memset(&md, 0, sizeof md);
    snprintf(md.id, sizeof md.id, "%s", FX_MEDIA_ID(1));
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
    snprintf(md.id, sizeof md.id, "%s", FX_MEDIA_ID(2));
    assert_int_equal(vodup_meta_media_create(f->m, &md), VODUP_META_ENOTFOUND);

    vodup_meta_media g;
    assert_int_equal(vodup_meta_media_get(f->m, "acc1", FX_MEDIA_ID(1), &g), VODUP_META_OK);
    assert_string_equal(g.id, FX_MEDIA_ID(1));
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
    assert_int_equal(vodup_meta_media_get(f->m, "acc2", FX_MEDIA_ID(1), &g), VODUP_META_ENOTFOUND);
    assert_int_equal(vodup_meta_media_get(f->m, NULL, FX_MEDIA_ID(1), &g), VODUP_META_ENOTFOUND);
    assert_int_equal(vodup_meta_media_get(f->m, "acc1", FX_MEDIA_ID(9), &g), VODUP_META_ENOTFOUND);

    assert_int_equal(vodup_meta_media_find_object(f->m, "vod", "sv/1/movie.mp4", 14, &g), VODUP_META_OK);
    assert_string_equal(g.id, FX_MEDIA_ID(1));
    vodup_meta_media_clear(&g);
    assert_int_equal(vodup_meta_media_find_object(f->m, "vod", "sv/1/movie.mp", 13, &g), VODUP_META_ENOTFOUND);
    assert_int_equal(vodup_meta_media_find_object(f->m, "other", "sv/1/movie.mp4", 14, &g),
                     VODUP_META_ENOTFOUND);

    assert_int_equal(vodup_meta_media_set_status(f->m, FX_MEDIA_ID(1), "UploadFail", 3500), VODUP_META_OK);
    assert_int_equal(vodup_meta_media_get(f->m, "acc1", FX_MEDIA_ID(1), &g), VODUP_META_OK);
    assert_string_equal(g.status, "UploadFail");
    assert_int_equal(g.modified, 3500);
    vodup_meta_media_clear(&g);
    assert_int_equal(vodup_meta_media_set_status(f->m, FX_MEDIA_ID(9), "Uploading", 3500), VODUP_META_ENOTFOUND);

    /* Delete: not another account's; then gone. */
    assert_int_equal(vodup_meta_media_delete(f->m, "acc2", FX_MEDIA_ID(1)), VODUP_META_ENOTFOUND);
    assert_int_equal(vodup_meta_media_delete(f->m, "acc1", FX_MEDIA_ID(1)), VODUP_META_OK);
    assert_int_equal(vodup_meta_media_delete(f->m, "acc1", FX_MEDIA_ID(1)), VODUP_META_ENOTFOUND);
    assert_int_equal(vodup_meta_media_get(f->m, "acc1", FX_MEDIA_ID(1), &g), VODUP_META_ENOTFOUND);
    vodup_meta_media_clear(NULL);
}

/* ---- the completion hook ----------------------------------------------------------------- */

static void test_hook_put(void **state)
{
    fx *f = *state;
    fx_new_media(f->m, FX_MEDIA_ID(1), "video", "acc1", "vod", "sv/1/a.mp4", 4000);
    fx_new_media(f->m, FX_MEDIA_ID(2), "video", "acc1", "vod", "sv/2/b.mp4", 4001);
    time_t t;
    assert_int_equal(vodup_meta_event_next(f->m, &t), VODUP_META_ENOTFOUND);

    /* A key no media references: no event. */
    assert_int_equal(fx_put_media_object(f->m, "vod", "unrelated", 1, 10, 11, 4100), VODUP_META_OK);
    assert_int_equal(fx_event_count(f->m), 0);
    /* A prefix of a media key is another key. */
    assert_int_equal(fx_put_media_object(f->m, "vod", "sv/1/a.mp", 2, 10, 11, 4100), VODUP_META_OK);
    assert_int_equal(fx_event_count(f->m), 0);

    const uint64_t crc = 0xFEDCBA9876543210ull;   /* above INT64_MAX on purpose */
    assert_int_equal(fx_put_media_object(f->m, "vod", "sv/1/a.mp4", 3, 777, crc, 4200), VODUP_META_OK);
    vodup_meta_media g;
    assert_int_equal(vodup_meta_media_get(f->m, "acc1", FX_MEDIA_ID(1), &g), VODUP_META_OK);
    assert_string_equal(g.status, "UploadSucc");
    assert_int_equal(g.size, 777);
    assert_true(g.crc64 == crc);
    assert_int_equal(g.modified, 4200);
    vodup_meta_media_clear(&g);
    fx_expect_status(f->m, "acc1", FX_MEDIA_ID(2), "Uploading");

    fx_ev_list l = { .n = 0 };
    assert_int_equal(vodup_meta_event_list(f->m, NULL, fx_collect_event, &l), VODUP_META_OK);
    assert_int_equal(l.n, 1);
    assert_string_equal(l.media[0], FX_MEDIA_ID(1));
    assert_string_equal(l.type[0], "FileUploadComplete");
    assert_string_equal(l.account[0], "acc1");
    assert_int_equal(l.attempts[0], 0);
    assert_int_equal(l.next_at[0], 4200);
    assert_false(l.has_body[0]);
    /* Not due before its time; due (and claimed) at it. */
    l.n = 0;
    assert_int_equal(vodup_meta_event_due(f->m, 4199, 10, fx_collect_event, &l), VODUP_META_OK);
    assert_int_equal(l.n, 0);
    assert_int_equal(vodup_meta_event_next(f->m, &t), VODUP_META_OK);
    assert_int_equal(t, 4200);
    l.n = 0;
    assert_int_equal(vodup_meta_event_due(f->m, 4200, 10, fx_collect_event, &l), VODUP_META_OK);
    assert_int_equal(l.n, 1);
    assert_string_equal(l.media[0], FX_MEDIA_ID(1));
    assert_string_equal(l.type[0], "FileUploadComplete");
    assert_string_equal(l.account[0], "acc1");

    /* A failing put (no such bucket) records neither the object nor a completion. */
    fx_new_media(f->m, FX_MEDIA_ID(3), "video", "acc1", "nobucket", "k", 4002);
    assert_int_equal(fx_put_media_object(f->m, "nobucket", "k", 4, 5, 6, 4300), VODUP_META_ENOTFOUND);
    fx_expect_status(f->m, "acc1", FX_MEDIA_ID(3), "Uploading");
    assert_int_equal(fx_event_count(f->m), 1);
}


/* ==== the probe job queue (meta_jobs.h) ==== */

/* Completing a video's object queues its probe in the same transaction; an image's does
 * not. A claim is the claimer's for its lease; after the lease another node takes it
 * (the claimer died), and then only the new holder's result is stored. */
static void test_probe_jobs(void **state)
{
    fx *f = *state;
    if (!vodup_meta_supports(f->m, 4)) {
        print_message("[  SKIPPED ] %s: back end %s has ops version %u < 4\n", __func__, f->m->ops->name, f->m->ops->version);
        skip();
    }
    fx_new_media(f->m, FX_MEDIA_ID(1), "video", "acc1", "vod", "sv/1/a.mp4", 4000);
    fx_new_media(f->m, FX_MEDIA_ID(2), "image", "acc1", "vod", "im/2.png", 4000);
    vodup_meta_probe_job j;
    assert_int_equal(vodup_meta_probe_job_claim(f->m, "nodea", 4100, 60, &j), VODUP_META_ENOTFOUND);
    assert_int_equal(vodup_meta_probe_job_count(f->m), 0);
    assert_int_equal(fx_put_media_object(f->m, "vod", "im/2.png", 1, 10, 11, 4100), VODUP_META_OK);
    assert_int_equal(vodup_meta_probe_job_count(f->m), 0);
    assert_int_equal(fx_put_media_object(f->m, "vod", "sv/1/a.mp4", 2, 10, 11, 4100), VODUP_META_OK);
    assert_int_equal(vodup_meta_probe_job_count(f->m), 1);

    /* Node a claims; b finds nothing within the lease, takes it after. */
    assert_int_equal(vodup_meta_probe_job_claim(f->m, "nodea", 4100, 60, &j), VODUP_META_OK);
    assert_string_equal(j.media_id, FX_MEDIA_ID(1));
    assert_string_equal(j.account_id, "acc1");
    assert_int_equal(j.attempts, 1);
    assert_int_equal(j.lease_until, 4160);
    assert_int_equal(vodup_meta_probe_job_claim(f->m, "nodeb", 4160, 60, &j), VODUP_META_ENOTFOUND);
    assert_int_equal(vodup_meta_probe_job_claim(f->m, "nodeb", 4161, 60, &j), VODUP_META_OK);
    assert_string_equal(j.media_id, FX_MEDIA_ID(1));
    assert_int_equal(j.attempts, 2);

    /* A restarted node takes back what its previous life held, without the lease;
     * another node's claims stay. */
    assert_int_equal(vodup_meta_probe_job_requeue_node(f->m, "nodea", 4162), 0);
    assert_int_equal(vodup_meta_probe_job_requeue_node(f->m, "nodeb", 4162), 1);
    assert_int_equal(vodup_meta_probe_job_claim(f->m, "nodeb", 4162, 60, &j), VODUP_META_OK);
    assert_int_equal(j.attempts, 3);
    assert_int_equal(vodup_meta_probe_job_requeue_node(f->m, "nodeb", 4162), 1);
    assert_int_equal(vodup_meta_probe_job_claim(f->m, "nodeb", 4162, 60, &j), VODUP_META_OK);
    assert_int_equal(j.attempts, 4);

    /* a's late result is refused and changes nothing. */
    const char *const evs[] = { "VideoAnalysisComplete", "SnapshotComplete" };
    vodup_meta_probe_result r = { .media_id = FX_MEDIA_ID(1), .node = "nodea", .status = "Normal",
                                  .info_json = "{\"Duration\":2.5}", .cover_url = "http://x/c.jpg",
                                  .events = evs, .nevents = 2, .now = 4200 };
    int events_before = fx_event_count(f->m);
    assert_int_equal(vodup_meta_probe_job_finish(f->m, &r), VODUP_META_ENOTFOUND);
    fx_expect_status(f->m, "acc1", FX_MEDIA_ID(1), "UploadSucc");
    char *info = NULL;
    assert_int_equal(vodup_meta_media_info_get(f->m, FX_MEDIA_ID(1), &info), VODUP_META_ENOTFOUND);
    assert_null(info);
    assert_int_equal(fx_event_count(f->m), events_before);

    /* b releases it (retry later): not due before next_at. */
    assert_int_equal(vodup_meta_probe_job_release(f->m, FX_MEDIA_ID(1), "nodea", 4300, "x"),
                     VODUP_META_ENOTFOUND);
    assert_int_equal(vodup_meta_probe_job_release(f->m, FX_MEDIA_ID(1), "nodeb", 4300, "busy"),
                     VODUP_META_OK);
    assert_int_equal(vodup_meta_probe_job_claim(f->m, "nodeb", 4299, 60, &j), VODUP_META_ENOTFOUND);
    assert_int_equal(vodup_meta_probe_job_claim(f->m, "nodeb", 4300, 60, &j), VODUP_META_OK);
    assert_int_equal(j.attempts, 5);

    /* b's result: status, cover, info, the cover's image record and the events, at once. */
    vodup_meta_media cover;
    memset(&cover, 0, sizeof cover);
    snprintf(cover.id, sizeof cover.id, "%s", FX_MEDIA_ID(3));
    snprintf(cover.kind, sizeof cover.kind, "image");
    snprintf(cover.status, sizeof cover.status, "Normal");
    cover.account_id = "acc1";
    cover.image_type = "cover";
    cover.bucket = "vod";
    cover.object_key = "snapshot/1.jpg";
    cover.cate_id = -1;
    cover.size = 1234;
    cover.created = 4300;
    r.node = "nodeb";
    r.cover = &cover;
    assert_int_equal(vodup_meta_probe_job_finish(f->m, &r), VODUP_META_OK);
    assert_int_equal(vodup_meta_probe_job_count(f->m), 0);
    vodup_meta_media g;
    assert_int_equal(vodup_meta_media_get(f->m, "acc1", FX_MEDIA_ID(1), &g), VODUP_META_OK);
    assert_string_equal(g.status, "Normal");
    assert_string_equal(g.cover_url, "http://x/c.jpg");
    assert_int_equal(g.modified, 4200);
    vodup_meta_media_clear(&g);
    assert_int_equal(vodup_meta_media_get(f->m, "acc1", FX_MEDIA_ID(3), &g), VODUP_META_OK);
    assert_string_equal(g.kind, "image");
    assert_string_equal(g.image_type, "cover");
    assert_int_equal(g.size, 1234);
    vodup_meta_media_clear(&g);
    assert_int_equal(vodup_meta_media_info_get(f->m, FX_MEDIA_ID(1), &info), VODUP_META_OK);
    assert_string_equal(info, "{\"Duration\":2.5}");
    free(info);
    fx_ev_list l = { .n = 0 };
    assert_int_equal(vodup_meta_event_list(f->m, NULL, fx_collect_event, &l), VODUP_META_OK);
    assert_int_equal(l.n, events_before + 2);
    assert_string_equal(l.type[l.n - 2], "VideoAnalysisComplete");
    assert_string_equal(l.type[l.n - 1], "SnapshotComplete");
    assert_string_equal(l.media[l.n - 1], FX_MEDIA_ID(1));
    /* Finished once: a second finish finds no job. */
    assert_int_equal(vodup_meta_probe_job_finish(f->m, &r), VODUP_META_ENOTFOUND);

    /* add: an unknown media is ENOTFOUND; a known one is queued again; deleting the media
     * drops its job and its info. */
    assert_int_equal(vodup_meta_probe_job_add(f->m, FX_MEDIA_ID(9), 4400), VODUP_META_ENOTFOUND);
    assert_int_equal(vodup_meta_probe_job_add(f->m, FX_MEDIA_ID(1), 4400), VODUP_META_OK);
    assert_int_equal(vodup_meta_probe_job_count(f->m), 1);
    assert_int_equal(vodup_meta_media_delete(f->m, "acc1", FX_MEDIA_ID(1)), VODUP_META_OK);
    assert_int_equal(vodup_meta_probe_job_count(f->m), 0);
    assert_int_equal(vodup_meta_media_info_get(f->m, FX_MEDIA_ID(1), &info), VODUP_META_ENOTFOUND);
}

/* n media of kind in bucket vod (keys prefix<i>ext), each with its object put at 4100:
 * each completes, queueing its event (and a video its probe job). */
static void completed_media(vodup_meta *m, const char *kind, const char *prefix, const char *ext, int n)
{
    for (int i = 0; i < n; i++) {
        char id[33], key[32];
        snprintf(id, sizeof id, "%032d", i + 100);
        snprintf(key, sizeof key, "%s%d%s", prefix, i, ext);
        fx_new_media(m, id, kind, "acc1", "vod", key, 4000);
        assert_int_equal(fx_put_media_object(m, "vod", key, (unsigned)i + 1, 10, 11, 4100), VODUP_META_OK);
    }
}

typedef struct claim_race {
    vodup_meta *m;
    const char *node;
    int got;
} claim_race;

static void *claim_thread(void *arg)
{
    claim_race *c = arg;
    vodup_meta_probe_job j;
    for (;;) {
        int rc = vodup_meta_probe_job_claim(c->m, c->node, 5000, 600, &j);
        if (rc != VODUP_META_OK)
            break;
        c->got++;
    }
    return NULL;
}

/* Two nodes claiming at once: every job is claimed exactly once. */
static void test_probe_jobs_race(void **state)
{
    fx *f = *state;
    if (!vodup_meta_supports(f->m, 4)) {
        print_message("[  SKIPPED ] %s: back end %s has ops version %u < 4\n", __func__, f->m->ops->name, f->m->ops->version);
        skip();
    }
    enum { N = 24 };
    completed_media(f->m, "video", "sv/", ".mp4", N);
    assert_int_equal(vodup_meta_probe_job_count(f->m), N);
    claim_race a = { f->m, "nodea", 0 }, b = { f->m, "nodeb", 0 };
    pthread_t ta, tb;
    assert_int_equal(pthread_create(&ta, NULL, claim_thread, &a), 0);
    assert_int_equal(pthread_create(&tb, NULL, claim_thread, &b), 0);
    pthread_join(ta, NULL);
    pthread_join(tb, NULL);
    assert_int_equal(a.got + b.got, N);
}


static void vod_new_upload(vodup_meta *m, const char *upload_id, const char *key, time_t t)
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

static void vod_put_part(vodup_meta *m, const char *upload_id, int number, unsigned blob, uint64_t size,
                     uint64_t crc)
{
    vodup_meta_part p;
    memset(&p, 0, sizeof p);
    p.number = number;
    fx_blob_id(p.blob, blob);
    p.size = size;
    snprintf(p.etag, sizeof p.etag, "%032X", blob);
    p.crc64 = crc;
    p.mtime = 5000;
    assert_int_equal(vodup_meta_part_put(m, upload_id, &p), VODUP_META_OK);
}

static void test_hook_complete(void **state)
{
    fx *f = *state;
    fx_new_media(f->m, FX_MEDIA_ID(1), "video", "acc1", "vod", "sv/1/a.mp4", 4000);
    fx_new_media(f->m, FX_MEDIA_ID(2), "image", "acc1", "vod", "image/2/b.png", 4001);
    fx_new_media(f->m, FX_MEDIA_ID(3), "attached", "acc2", "vod", "att/3/c.srt", 4002);

    vod_new_upload(f->m, "U1", "image/2/b.png", 5000);
    vod_put_part(f->m, "U1", 1, 10, 100, 0x1111);
    vod_put_part(f->m, "U1", 2, 11, 50, 0x2222);
    vodup_meta_complete_part cp[2] = { { 1, "" }, { 2, "" } };
    snprintf(cp[0].etag, sizeof cp[0].etag, "%032X", 10u);
    snprintf(cp[1].etag, sizeof cp[1].etag, "%032X", 11u);
    vodup_meta_object o;
    assert_int_equal(vodup_meta_upload_complete(f->m, "U1", cp, 2, 0, 6000, &o, NULL), VODUP_META_OK);

    vodup_meta_media g;
    assert_int_equal(vodup_meta_media_get(f->m, "acc1", FX_MEDIA_ID(2), &g), VODUP_META_OK);
    assert_string_equal(g.status, "Normal");
    assert_int_equal(g.size, 150);
    assert_true(g.crc64 == o.crc64);
    assert_int_equal(g.modified, 6000);
    vodup_meta_media_clear(&g);
    vodup_meta_object_clear(&o);
    fx_expect_status(f->m, "acc1", FX_MEDIA_ID(1), "Uploading");

    fx_ev_list l = { .n = 0 };
    assert_int_equal(vodup_meta_event_due(f->m, 6000, 10, fx_collect_event, &l), VODUP_META_OK);
    assert_int_equal(l.n, 1);
    assert_string_equal(l.media[0], FX_MEDIA_ID(2));
    assert_string_equal(l.type[0], "ImageUploadComplete");

    /* A refused Complete changes no media. */
    vod_new_upload(f->m, "U2", "sv/1/a.mp4", 5000);
    vod_put_part(f->m, "U2", 1, 20, 100, 0x3333);
    vodup_meta_complete_part wrong = { 1, "00000000000000000000000000000000" };
    size_t bad = 99;
    assert_int_equal(vodup_meta_upload_complete(f->m, "U2", &wrong, 1, 0, 6100, NULL, &bad),
                     VODUP_META_EINVALIDPART);
    fx_expect_status(f->m, "acc1", FX_MEDIA_ID(1), "Uploading");
    assert_int_equal(fx_event_count(f->m), 1);

    /* Attached media: Normal and its own event type, under its own account. */
    assert_int_equal(fx_put_media_object(f->m, "vod", "att/3/c.srt", 30, 9, 9, 6200), VODUP_META_OK);
    fx_expect_status(f->m, "acc2", FX_MEDIA_ID(3), "Normal");
    l.n = 0;
    assert_int_equal(vodup_meta_event_list(f->m, "acc2", fx_collect_event, &l), VODUP_META_OK);
    assert_int_equal(l.n, 1);
    assert_string_equal(l.type[0], "AttachedMediaUploadComplete");
    assert_string_equal(l.account[0], "acc2");
    l.n = 0;
    assert_int_equal(vodup_meta_event_list(f->m, "acc1", fx_collect_event, &l), VODUP_META_OK);
    assert_int_equal(l.n, 1);
    assert_int_equal(fx_event_count(f->m), 2);
}


static void test_media_delete_cleans_up(void **state)
{
    fx *f = *state;
    fx_new_media(f->m, FX_MEDIA_ID(1), "video", "acc1", "vod", "sv/1/a.mp4", 4000);
    fx_new_media(f->m, FX_MEDIA_ID(2), "video", "acc1", "vod", "sv/2/b.mp4", 4001);
    assert_int_equal(fx_put_media_object(f->m, "vod", "sv/1/a.mp4", 1, 10, 11, 4100), VODUP_META_OK);
    assert_int_equal(fx_put_media_object(f->m, "vod", "sv/2/b.mp4", 2, 10, 11, 4100), VODUP_META_OK);
    /* An upload still open on the key (a re-upload in flight), and one on another key. */
    vod_new_upload(f->m, "U1", "sv/1/a.mp4", 4200);
    vod_put_part(f->m, "U1", 1, 50, 100, 1);
    vod_new_upload(f->m, "U2", "sv/2/b.mp4", 4200);
    vod_put_part(f->m, "U2", 1, 60, 100, 1);
    assert_int_equal(fx_event_count(f->m), 2);
    char ids[16][33];
    assert_int_equal(vodup_meta_gc_take(f->m, ids, 16), 0);

    assert_int_equal(vodup_meta_media_delete(f->m, "acc1", FX_MEDIA_ID(1)), VODUP_META_OK);
    vodup_meta_object o;
    assert_int_equal(vodup_meta_object_get(f->m, "vod", "sv/1/a.mp4", 10, &o), VODUP_META_ENOTFOUND);
    vodup_meta_upload up;
    assert_int_equal(vodup_meta_upload_get(f->m, "U1", &up), VODUP_META_ENOTFOUND);
    int n = vodup_meta_gc_take(f->m, ids, 16);
    assert_int_equal(n, 2);
    char b[33];
    fx_blob_id(b, 1);
    assert_true(gc_has(ids, n, b));
    fx_blob_id(b, 50);
    assert_true(gc_has(ids, n, b));
    /* Its pending event went with it; the other media's did not. */
    fx_ev_list l = { .n = 0 };
    assert_int_equal(vodup_meta_event_list(f->m, NULL, fx_collect_event, &l), VODUP_META_OK);
    assert_int_equal(l.n, 1);
    assert_string_equal(l.media[0], FX_MEDIA_ID(2));
    /* The other media's object and upload are untouched. */
    assert_int_equal(vodup_meta_object_get(f->m, "vod", "sv/2/b.mp4", 10, &o), VODUP_META_OK);
    vodup_meta_object_clear(&o);
    assert_int_equal(vodup_meta_upload_get(f->m, "U2", &up), VODUP_META_OK);
    vodup_meta_upload_clear(&up);

    /* A media whose object never arrived deletes fine too. */
    fx_new_media(f->m, FX_MEDIA_ID(3), "image", "acc1", "vod", "image/3/x.png", 4300);
    assert_int_equal(vodup_meta_media_delete(f->m, "acc1", FX_MEDIA_ID(3)), VODUP_META_OK);
    /* Now unreferenced, its key takes objects without any event. */
    assert_int_equal(fx_put_media_object(f->m, "vod", "sv/1/a.mp4", 3, 10, 11, 4400), VODUP_META_OK);
    assert_int_equal(fx_event_count(f->m), 1);
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
    fx_new_media(f->m, "f0000000000000000000000000000001", "image", "acc1", NULL, NULL, 104);
    fx_new_media(f->m, "f0000000000000000000000000000002", "video", "acc2", NULL, NULL, 104);

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
    fx_new_media(f->m, FX_MEDIA_ID(1), "video", "acc1", "vod", "a", 10);
    fx_new_media(f->m, FX_MEDIA_ID(2), "video", "acc1", "vod", "b", 10);
    fx_new_media(f->m, FX_MEDIA_ID(3), "video", "acc1", "vod", "c", 10);
    assert_int_equal(fx_put_media_object(f->m, "vod", "b", 1, 1, 1, 300), VODUP_META_OK);
    assert_int_equal(fx_put_media_object(f->m, "vod", "a", 2, 1, 1, 200), VODUP_META_OK);
    assert_int_equal(fx_put_media_object(f->m, "vod", "c", 3, 1, 1, 200), VODUP_META_OK);

    /* By next_at, then id (insertion order), at most max; each event returned is claimed
     * for the lease (its next_at moves there), so the next call gets the rest. */
    const time_t T = 1000, L = VODUP_META_EVENT_LEASE;
    fx_ev_list l = { .n = 0 };
    assert_int_equal(vodup_meta_event_due(f->m, T, 2, fx_collect_event, &l), VODUP_META_OK);
    assert_int_equal(l.n, 2);
    assert_string_equal(l.media[0], FX_MEDIA_ID(1));
    assert_string_equal(l.media[1], FX_MEDIA_ID(3));
    assert_int_equal(l.next_at[0], T + L);
    assert_int_equal(l.next_at[1], T + L);
    assert_int_equal(vodup_meta_event_due(f->m, T, 10, fx_collect_event, &l), VODUP_META_OK);
    assert_int_equal(l.n, 3);
    assert_string_equal(l.media[2], FX_MEDIA_ID(2));
    long long e1 = l.id[0], e3 = l.id[1], e2 = l.id[2];
    assert_int_equal(vodup_meta_event_due(f->m, T + L - 1, 10, fx_collect_event, &l), VODUP_META_OK);
    assert_int_equal(l.n, 3);
    time_t t;
    assert_int_equal(vodup_meta_event_next(f->m, &t), VODUP_META_OK);
    assert_int_equal(t, T + L);

    /* Prepare fixes body/url/auth key; retry pushes it back and counts. */
    assert_int_equal(vodup_meta_event_prepare(f->m, e1, "{\"EventType\":\"FileUploadComplete\"}",
                                              "http://cb", "secret"), VODUP_META_OK);
    assert_int_equal(vodup_meta_event_retry(f->m, e1, 500, "HTTP 503"), VODUP_META_OK);
    assert_int_equal(vodup_meta_event_retry(f->m, e1, 700, "timeout"), VODUP_META_OK);
    l.n = 0;
    assert_int_equal(vodup_meta_event_list(f->m, "acc1", fx_collect_event, &l), VODUP_META_OK);
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
    assert_int_equal(l.next_at[0], T + L);

    /* The retried one is due at its time; the others when their lease has passed. */
    l.n = 0;
    assert_int_equal(vodup_meta_event_due(f->m, T + L - 1, 10, fx_collect_event, &l), VODUP_META_OK);
    assert_int_equal(l.n, 1);
    assert_int_equal(l.id[0], e1);
    l.n = 0;
    assert_int_equal(vodup_meta_event_due(f->m, T + L, 10, fx_collect_event, &l), VODUP_META_OK);
    assert_int_equal(l.n, 2);
    assert_int_equal(l.id[0], e2);
    assert_int_equal(l.id[1], e3);

    assert_int_equal(vodup_meta_event_done(f->m, e3), VODUP_META_OK);
    assert_int_equal(vodup_meta_event_done(f->m, e3), VODUP_META_ENOTFOUND);
    assert_int_equal(vodup_meta_event_retry(f->m, e3, 1, "x"), VODUP_META_ENOTFOUND);
    assert_int_equal(vodup_meta_event_prepare(f->m, e3, "{}", "http://x", NULL), VODUP_META_ENOTFOUND);
    assert_int_equal(vodup_meta_event_next(f->m, &t), VODUP_META_OK);
    assert_int_equal(t, T + 2 * L - 1);
    assert_int_equal(vodup_meta_event_done(f->m, e1), VODUP_META_OK);
    assert_int_equal(vodup_meta_event_next(f->m, &t), VODUP_META_OK);
    assert_int_equal(t, T + 2 * L);
    /* A deferral gives a claimed event back at its time (the sender's clean stop). */
    assert_int_equal(vodup_meta_event_defer(f->m, e2, T), VODUP_META_OK);
    l.n = 0;
    assert_int_equal(vodup_meta_event_due(f->m, T, 10, fx_collect_event, &l), VODUP_META_OK);
    assert_int_equal(l.n, 1);
    assert_int_equal(l.id[0], e2);
    assert_int_equal(vodup_meta_event_done(f->m, e2), VODUP_META_OK);
    assert_int_equal(vodup_meta_event_next(f->m, &t), VODUP_META_ENOTFOUND);
    l.n = 0;
    assert_int_equal(vodup_meta_event_list(f->m, NULL, fx_collect_event, &l), VODUP_META_OK);
    assert_int_equal(l.n, 0);
    vodup_meta_event_clear(NULL);
}

/* ---- the outbox claimed by one caller at a time ------------------------------------ */

enum { DUE_RACE_EVENTS = 24, DUE_RACE_CALLS = 40 };

typedef struct due_race {
    vodup_meta *m;
    time_t now;
    int n;                              /* events received, repeats included */
    long long ids[DUE_RACE_EVENTS * 2]; /* the first of them */
} due_race;

static int due_race_cb(const vodup_meta_event *e, void *u)
{
    due_race *d = u;
    if (d->n < (int)(sizeof d->ids / sizeof d->ids[0]))
        d->ids[d->n] = e->id;
    d->n++;
    return 0;
}

/* Polls like a sender, a few at a time, until nothing is due; bounded, because a store
 * that does not claim returns the same events forever. */
static void *due_thread(void *arg)
{
    due_race *d = arg;
    for (int i = 0; i < DUE_RACE_CALLS; i++) {
        int before = d->n;
        if (vodup_meta_event_due(d->m, d->now, 3, due_race_cb, d) != VODUP_META_OK || d->n == before)
            break;
    }
    return NULL;
}

/* 1 when id is among the n ids. */
static int has_id(const long long *ids, int n, long long id)
{
    for (int i = 0; i < n; i++)
        if (ids[i] == id)
            return 1;
    return 0;
}

/* Two senders (two threads, each call on a connection of its own) poll the outbox at
 * once: every event goes to exactly one of them. An event claimed and never finished (its
 * sender died) is due again once the lease has passed, and only then. */
static void test_event_claim_race(void **state)
{
    fx *f = *state;
    completed_media(f->m, "image", "im/", ".png", DUE_RACE_EVENTS);
    due_race listed = { .m = f->m };
    assert_int_equal(vodup_meta_event_list(f->m, NULL, due_race_cb, &listed), VODUP_META_OK);
    assert_int_equal(listed.n, DUE_RACE_EVENTS);
    const time_t now = 5000, lease = VODUP_META_EVENT_LEASE;
    due_race a = { .m = f->m, .now = now }, b = { .m = f->m, .now = now };
    pthread_t ta, tb;
    assert_int_equal(pthread_create(&ta, NULL, due_thread, &a), 0);
    assert_int_equal(pthread_create(&tb, NULL, due_thread, &b), 0);
    pthread_join(ta, NULL);
    pthread_join(tb, NULL);
    assert_int_equal(a.n + b.n, DUE_RACE_EVENTS);
    long long all[DUE_RACE_EVENTS];
    int n = 0;
    for (int i = 0; i < a.n; i++) {
        assert_false(has_id(all, n, a.ids[i]));
        all[n++] = a.ids[i];
    }
    for (int i = 0; i < b.n; i++) {
        assert_false(has_id(all, n, b.ids[i]));
        all[n++] = b.ids[i];
    }

    /* a delivers its events; b dies holding its own. Nothing is due within the lease;
     * after it, exactly b's events are, claimed anew. */
    for (int i = 0; i < a.n; i++)
        assert_int_equal(vodup_meta_event_done(f->m, a.ids[i]), VODUP_META_OK);
    due_race c = { .m = f->m, .now = now + lease - 1 };
    assert_int_equal(vodup_meta_event_due(f->m, c.now, 100, due_race_cb, &c), VODUP_META_OK);
    assert_int_equal(c.n, 0);
    c.now = now + lease;
    assert_int_equal(vodup_meta_event_due(f->m, c.now, 100, due_race_cb, &c), VODUP_META_OK);
    assert_int_equal(c.n, b.n);
    for (int i = 0; i < c.n; i++)
        assert_true(has_id(b.ids, b.n, c.ids[i]));
    c.n = 0;
    assert_int_equal(vodup_meta_event_due(f->m, now + lease, 100, due_race_cb, &c), VODUP_META_OK);
    assert_int_equal(c.n, 0);
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
    fx_new_media(f->m, FX_MEDIA_ID(1), "video", "acc1", "vod", "a", 10);
    assert_int_equal(fx_put_media_object(f->m, "vod", "a", 1, 1, 1, 200), VODUP_META_OK);
    ev_text t;
    assert_int_equal(vodup_meta_event_due(f->m, 200, 1, grab_text, &t), VODUP_META_OK);
    assert_string_equal(t.body, "(null)");
    assert_string_equal(t.url, "(null)");
    fx_ev_list l = { .n = 0 };
    assert_int_equal(vodup_meta_event_list(f->m, NULL, fx_collect_event, &l), VODUP_META_OK);
    assert_int_equal(vodup_meta_event_prepare(f->m, l.id[0], "{\"a\":1}", "http://cb/x", NULL), VODUP_META_OK);
    /* Claimed by the first call: due again after the lease. */
    assert_int_equal(vodup_meta_event_due(f->m, 200 + VODUP_META_EVENT_LEASE, 1, grab_text, &t), VODUP_META_OK);
    assert_string_equal(t.body, "{\"a\":1}");
    assert_string_equal(t.url, "http://cb/x");
    assert_string_equal(t.auth, "(null)");
}

static void test_callbacks_reenter(void **state)
{
    fx *f = *state;
    fx_check_callbacks_reenter(f->m);
}

/* ---- nonces: each (key, nonce) accepted once within ttl ------------------------------ */

static void test_nonces_once(void **state)
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
}

#define NONCE_THREADS 8

typedef struct nonce_racer {
    vodup_meta *m;
    pthread_barrier_t *go;
    int ok;
} nonce_racer;

static void *nonce_main(void *arg)
{
    nonce_racer *r = arg;
    pthread_barrier_wait(r->go);
    for (int i = 0; i < 20; i++) {
        char nonce[16];
        snprintf(nonce, sizeof nonce, "race%d", i);
        int rc = vodup_meta_nonce_use(r->m, "KR", nonce, 20000, 900);
        if (rc == VODUP_META_OK)
            r->ok++;
        else
            assert_int_equal(rc, VODUP_META_EEXISTS);
    }
    return NULL;
}

/* Threads racing the same nonces: each is accepted exactly once. */
static void test_nonces_race(void **state)
{
    fx *f = *state;
    pthread_barrier_t go;
    pthread_barrier_init(&go, NULL, NONCE_THREADS);
    nonce_racer rs[NONCE_THREADS];
    pthread_t th[NONCE_THREADS];
    for (int i = 0; i < NONCE_THREADS; i++) {
        rs[i] = (nonce_racer){ f->m, &go, 0 };
        assert_int_equal(pthread_create(&th[i], NULL, nonce_main, &rs[i]), 0);
    }
    int ok = 0;
    for (int i = 0; i < NONCE_THREADS; i++) {
        assert_int_equal(pthread_join(th[i], NULL), 0);
        ok += rs[i].ok;
    }
    pthread_barrier_destroy(&go);
    assert_int_equal(ok, 20);
}

/* ---- the byte store ------------------------------------------------------------------ */

typedef struct blob_fx {
    char *dir;
    vodup_blobstore *bs;
} blob_fx;

static int blob_setup(void **state)
{
    blob_fx *b = calloc(1, sizeof *b);
    if (!b || !(b->dir = make_temp_dir("confblob")))
        return -1;
    b->bs = blob_be->open(b->dir, "node-a");
    if (!b->bs)
        return -1;
    *state = b;
    return 0;
}

static int blob_teardown(void **state)
{
    blob_fx *b = *state;
    vodup_blobstore_close(b->bs);
    rm_rf(b->dir);
    free(b->dir);
    free(b);
    return 0;
}

static void blob_put(vodup_blobstore *bs, const char *data, char id[VODUP_BLOB_ID_LEN + 1])
{
    vodup_blob_writer *w = NULL;
    assert_int_equal(vodup_blob_writer_open(bs, &w), VODUP_BLOB_OK);
    assert_int_equal(vodup_blob_write(w, data, strlen(data)), VODUP_BLOB_OK);
    assert_int_equal(vodup_blob_commit(w, id), VODUP_BLOB_OK);
    assert_true(vodup_blob_id_valid(id));
}

static int all_live(const char *id, void *u)
{
    (void)id;
    (*(int *)u)++;
    return 1;
}

/* What commit returned reads back, at any offset; ids are fresh; remove is idempotent. */
static void test_blob_write_read_remove(void **state)
{
    blob_fx *b = *state;
    char id[VODUP_BLOB_ID_LEN + 1], id2[VODUP_BLOB_ID_LEN + 1];
    blob_put(b->bs, "hello, world", id);
    blob_put(b->bs, "hello, world", id2);
    assert_string_not_equal(id, id2);   /* named by random ids, not by content */
    char buf[32];
    assert_int_equal(vodup_blob_read(b->bs, id, 0, buf, sizeof buf), 12);
    assert_memory_equal(buf, "hello, world", 12);
    assert_int_equal(vodup_blob_read(b->bs, id, 7, buf, 3), 3);
    assert_memory_equal(buf, "wor", 3);
    assert_int_equal(vodup_blob_read(b->bs, id, 12, buf, sizeof buf), 0);
    if (vodup_blob_has_fd(b->bs)) {
        int fd = -1;
        assert_int_equal(vodup_blob_open_fd(b->bs, id, &fd), VODUP_BLOB_OK);
        assert_int_equal(pread(fd, buf, sizeof buf, 0), 12);
        close(fd);
    } else {
        int fd = -1;
        assert_int_equal(vodup_blob_open_fd(b->bs, id, &fd), VODUP_BLOB_ENOTSUP);
    }
    assert_int_equal(vodup_blob_space_check(b->bs, 1), VODUP_BLOB_OK);
    assert_int_equal(vodup_blob_remove(b->bs, id), VODUP_BLOB_OK);
    assert_int_equal(vodup_blob_read(b->bs, id, 0, buf, sizeof buf), VODUP_BLOB_ENOENT);
    assert_int_equal(vodup_blob_remove(b->bs, id), VODUP_BLOB_OK);
    assert_int_equal(vodup_blob_read(b->bs, id2, 0, buf, sizeof buf), 12);
    /* ids that no writer makes are refused, never looked up as names */
    assert_true(vodup_blob_read(b->bs, "../../etc/passwd", 0, buf, sizeof buf) < 0);
    assert_true(vodup_blob_read(b->bs, "0123456789ABCDEF0123456789ABCDEF", 0, buf, sizeof buf) < 0);
}

/* An aborted or never-committed write is invisible and leaves nothing for recover but
 * its own leftover. */
static void test_blob_abort_and_recover(void **state)
{
    blob_fx *b = *state;
    char keep[VODUP_BLOB_ID_LEN + 1];
    blob_put(b->bs, "keep", keep);
    vodup_blob_writer *w = NULL;
    assert_int_equal(vodup_blob_writer_open(b->bs, &w), VODUP_BLOB_OK);
    assert_int_equal(vodup_blob_write(w, "gone", 4), VODUP_BLOB_OK);
    vodup_blob_abort(w);
    int calls = 0;
    assert_int_equal(vodup_blob_recover(b->bs, all_live, &calls), 0);
    assert_int_equal(calls, 1);   /* asked about the one stored blob only */
    /* a write a crash interrupted (this node's): dropped by the next start's recover */
    assert_int_equal(vodup_blob_writer_open(b->bs, &w), VODUP_BLOB_OK);
    assert_int_equal(vodup_blob_write(w, "half", 4), VODUP_BLOB_OK);
    vodup_blobstore *again = blob_be->open(b->dir, "node-a");
    assert_non_null(again);
    calls = 0;
    assert_int_equal(vodup_blob_recover(again, all_live, &calls), 1);
    char id[VODUP_BLOB_ID_LEN + 1];
    assert_int_not_equal(vodup_blob_commit(w, id), VODUP_BLOB_OK);
    char buf[8];
    assert_int_equal(vodup_blob_read(again, keep, 0, buf, sizeof buf), 4);
    vodup_blobstore_close(again);
}

/* Two nodes on one byte store: a node's recover removes its own leftovers and never the
 * other node's writes in flight, which still commit afterwards. */
static void test_blob_recover_leaves_other_nodes_alone(void **state)
{
    blob_fx *b = *state;
    vodup_blobstore *other = blob_be->open(b->dir, "node-b");
    assert_non_null(other);
    vodup_blob_writer *mine = NULL, *theirs = NULL;
    assert_int_equal(vodup_blob_writer_open(b->bs, &mine), VODUP_BLOB_OK);
    assert_int_equal(vodup_blob_write(mine, "crashed", 7), VODUP_BLOB_OK);
    assert_int_equal(vodup_blob_writer_open(other, &theirs), VODUP_BLOB_OK);
    assert_int_equal(vodup_blob_write(theirs, "in flight", 9), VODUP_BLOB_OK);

    /* node-a restarts and recovers */
    vodup_blobstore *restarted = blob_be->open(b->dir, "node-a");
    assert_non_null(restarted);
    int calls = 0;
    assert_int_equal(vodup_blob_recover(restarted, all_live, &calls), 1);

    assert_int_equal(vodup_blob_write(theirs, "!", 1), VODUP_BLOB_OK);
    char id[VODUP_BLOB_ID_LEN + 1];
    assert_int_equal(vodup_blob_commit(theirs, id), VODUP_BLOB_OK);
    char buf[16];
    assert_int_equal(vodup_blob_read(restarted, id, 0, buf, sizeof buf), 10);
    assert_memory_equal(buf, "in flight!", 10);
    char lost[VODUP_BLOB_ID_LEN + 1];
    assert_int_not_equal(vodup_blob_commit(mine, lost), VODUP_BLOB_OK);
    vodup_blobstore_close(restarted);
    vodup_blobstore_close(other);
}

/* The file store's node id (file back end only): made once, kept across opens, and a
 * damaged one refuses the open rather than guessing (which could remove another node's
 * writes). */
static void test_file_node_id(void **state)
{
    (void)state;
    char *dir = make_temp_dir("confnode");
    assert_non_null(dir);
    vodup_blobstore *bs = vodup_blobstore_file_open(dir);
    assert_non_null(bs);
    char n1[VODUP_BLOB_NODE_MAX + 1], n2[VODUP_BLOB_NODE_MAX + 1];
    assert_int_equal(vodup_blob_node_id(dir, n1), 0);
    assert_true(vodup_blob_node_valid(n1));
    vodup_blob_writer *w = NULL;
    assert_int_equal(vodup_blob_writer_open(bs, &w), VODUP_BLOB_OK);   /* left by a "crash" */
    vodup_blobstore *again = vodup_blobstore_file_open(dir);
    assert_non_null(again);
    assert_int_equal(vodup_blob_node_id(dir, n2), 0);
    assert_string_equal(n1, n2);
    int calls = 0;
    assert_int_equal(vodup_blob_recover(again, all_live, &calls), 1);   /* same node: its own */
    char id[VODUP_BLOB_ID_LEN + 1];
    assert_int_not_equal(vodup_blob_commit(w, id), VODUP_BLOB_OK);
    vodup_blobstore_close(again);
    vodup_blobstore_close(bs);

    char path[4096];
    snprintf(path, sizeof path, "%s/" VODUP_BLOB_NODE_FILE, dir);
    FILE *fp = fopen(path, "w");
    assert_non_null(fp);
    fputs("Not/An-Id\n", fp);
    fclose(fp);
    errno = 0;
    assert_null(vodup_blobstore_file_open(dir));
    assert_int_equal(errno, EINVAL);
    assert_false(vodup_blob_node_valid(""));
    assert_false(vodup_blob_node_valid("0123456789abcdef0123456789abcdef0"));
    assert_null(vodup_blobstore_file_open_node(dir, "a.b"));
    rm_rf(dir);
    free(dir);
}

int main(void)
{
    const struct CMUnitTest meta_tests[] = {
        cmocka_unit_test_setup_teardown(test_ops_table_complete, setup, teardown),
        cmocka_unit_test_setup_teardown(test_accounts_keys_settings, setup, teardown),
        cmocka_unit_test_setup_teardown(test_buckets, setup, teardown),
        cmocka_unit_test_setup_teardown(test_object_put_get_replace_delete, setup, teardown),
        cmocka_unit_test_setup_teardown(test_object_list_order, setup, teardown),
        cmocka_unit_test_setup_teardown(test_upload_expire, setup, teardown),
        cmocka_unit_test_setup_teardown(test_upload_lifecycle, setup, teardown),
        cmocka_unit_test_setup_teardown(test_complete_success, setup, teardown),
        cmocka_unit_test_setup_teardown(test_complete_failures, setup, teardown),
        cmocka_unit_test_setup_teardown(test_upload_commit, setup, teardown),
        cmocka_unit_test_setup_teardown(test_usage_counts, setup, teardown),
        cmocka_unit_test_setup_teardown(test_quota_set, setup, teardown),
        cmocka_unit_test_setup_teardown(test_gc_take_done, setup, teardown),
        cmocka_unit_test_setup_teardown(test_guarded_writes, setup, teardown),
        cmocka_unit_test_setup_teardown(test_credential_uploads, setup, teardown),
        cmocka_unit_test_setup_teardown(test_gc_take_after, setup, teardown),
        cmocka_unit_test_setup_teardown(test_concurrency, setup, teardown),
        cmocka_unit_test_setup_teardown(test_list_paging_and_reseek, setup, teardown),
        cmocka_unit_test_setup_teardown(test_callbacks_may_reenter, setup, teardown),
        cmocka_unit_test_setup_teardown(test_complete_abort_race, setup, teardown),
        cmocka_unit_test_setup_teardown(test_revocation_generations, setup, teardown),
        cmocka_unit_test_setup_teardown(test_principals, setup_vod, teardown),
        cmocka_unit_test_setup_teardown(test_media_crud, setup_vod, teardown),
        cmocka_unit_test_setup_teardown(test_hook_put, setup_vod, teardown),
        cmocka_unit_test_setup_teardown(test_probe_jobs, setup_vod, teardown),
        cmocka_unit_test_setup_teardown(test_probe_jobs_race, setup_vod, teardown),
        cmocka_unit_test_setup_teardown(test_hook_complete, setup_vod, teardown),
        cmocka_unit_test_setup_teardown(test_media_delete_cleans_up, setup_vod, teardown),
        cmocka_unit_test_setup_teardown(test_media_list, setup_vod, teardown),
        cmocka_unit_test_setup_teardown(test_callback_config, setup_vod, teardown),
        cmocka_unit_test_setup_teardown(test_events, setup_vod, teardown),
        cmocka_unit_test_setup_teardown(test_event_claim_race, setup_vod, teardown),
        cmocka_unit_test_setup_teardown(test_event_prepare_fields, setup_vod, teardown),
        cmocka_unit_test_setup_teardown(test_callbacks_reenter, setup_vod, teardown),
        cmocka_unit_test_setup_teardown(test_nonces_once, setup_vod, teardown),
        cmocka_unit_test_setup_teardown(test_nonces_race, setup_vod, teardown),
    };
    const struct CMUnitTest blob_tests[] = {
        cmocka_unit_test_setup_teardown(test_blob_write_read_remove, blob_setup, blob_teardown),
        cmocka_unit_test_setup_teardown(test_blob_abort_and_recover, blob_setup, blob_teardown),
        cmocka_unit_test_setup_teardown(test_blob_recover_leaves_other_nodes_alone, blob_setup, blob_teardown),
    };
    const struct CMUnitTest file_tests[] = {
        cmocka_unit_test(test_file_node_id),
    };
    int failed = 0;
    char name[64];
    for (size_t i = 0; i < sizeof meta_backends / sizeof meta_backends[0]; i++) {
        meta_be = &meta_backends[i];
        if (meta_be->env && !getenv(meta_be->env)) {
            printf("[  SKIPPED ] meta store: %s: %s is not set (a server to test against;"
                   " ctest -L scale runs it)\n", meta_be->name, meta_be->env);
            continue;
        }
        snprintf(name, sizeof name, "meta store: %s", meta_be->name);
        printf("%s\n", name);   /* cmocka does not print group names; the scale test looks */
        failed += _cmocka_run_group_tests(name, meta_tests, sizeof meta_tests / sizeof meta_tests[0], NULL, NULL);
    }
    for (size_t i = 0; i < sizeof blob_backends / sizeof blob_backends[0]; i++) {
        blob_be = &blob_backends[i];
        snprintf(name, sizeof name, "byte store: %s", blob_be->name);
        failed += _cmocka_run_group_tests(name, blob_tests, sizeof blob_tests / sizeof blob_tests[0], NULL, NULL);
    }
    failed += cmocka_run_group_tests_name("file byte store", file_tests, NULL, NULL);
    return failed;
}
