/* test_meta_sqlite.c - the SQLite metadata store through its public calls only: every
 * call, byte-ordered listings with awkward keys, the multipart state machine (and that a
 * refused Complete changes nothing), the garbage list, the pool under concurrent use and
 * persistence across a reopen. Each test gets its own database in a mkdtemp directory
 * under $VODUP_TEST_TMP.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>

#include "common/codec.h"
#include "common/crc.h"
#include "common/digest.h"
#include "server/store/meta.h"
#include "server/store/meta_vod.h"
#include "store_harness.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

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

/* A valid-looking blob id derived from n. */
static void blob_id(char out[33], unsigned n)
{
    snprintf(out, 33, "%016x%016x", 0xb10bu, n);
}

static void put_object(vodup_meta *m, const char *bucket, const char *key, size_t key_len,
                       unsigned first_blob, size_t nsegs)
{
    vodup_meta_object o;
    memset(&o, 0, sizeof o);
    vodup_meta_segment segs[8];
    assert_true(nsegs <= 8);
    for (size_t i = 0; i < nsegs; i++) {
        blob_id(segs[i].blob, first_blob + (unsigned)i);
        segs[i].size = 100 + i;
    }
    o.bucket = (char *)bucket;
    o.key = (char *)key;
    o.key_len = key_len;
    o.size = 0;
    for (size_t i = 0; i < nsegs; i++)
        o.size += segs[i].size;
    snprintf(o.etag, sizeof o.etag, "ETAG%u", first_blob);
    o.crc64 = 0xFFFFFFFFFFFFFFF0ull + first_blob % 16;   /* above INT64_MAX on purpose */
    o.has_md5 = 1;
    memset(o.md5, (int)first_blob, sizeof o.md5);
    o.content_type = "text/plain";
    snprintf(o.type, sizeof o.type, "Normal");
    o.mtime = 5000 + first_blob;
    o.segs = segs;
    o.nsegs = nsegs;
    assert_int_equal(vodup_meta_object_put(m, &o), VODUP_META_OK);
}

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
    put_object(m, "zeta", "k", 1, 1, 1);
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
    blob_id(segs[0].blob, 10);
    blob_id(segs[1].blob, 11);
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
    blob_id(seg2.blob, 12);
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
    put_object(m, "b1", "empty", 5, 50, 0);
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
        put_object(m, "b1", sorted_keys[j].p, sorted_keys[j].n, 100 + (unsigned)j, 1);
    }
    assert_int_equal(vodup_meta_bucket_create(m, "b2", "acc1", 1), VODUP_META_OK);
    put_object(m, "b2", "a", 1, 300, 1);

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

static void new_upload(vodup_meta *m, const char *id, const char *bucket, const char *key, size_t klen)
{
    vodup_meta_upload up;
    memset(&up, 0, sizeof up);
    snprintf(up.upload_id, sizeof up.upload_id, "%s", id);
    up.bucket = (char *)bucket;
    up.key = (char *)key;
    up.key_len = klen;
    up.initiated = 4242;
    up.content_type = "video/mp4";
    up.user_meta = "{\"x\":\"1\"}";
    assert_int_equal(vodup_meta_upload_create(m, &up, "acc1", 0), VODUP_META_OK);
}

static void put_part(vodup_meta *m, const char *upload, int number, unsigned blob, uint64_t size,
                     const char *etag, uint64_t crc)
{
    vodup_meta_part p;
    memset(&p, 0, sizeof p);
    p.number = number;
    blob_id(p.blob, blob);
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

typedef struct upload_list {
    char ids[16][33];
    char keys[16][16];
    int n;
} upload_list;

static int collect_upload(const vodup_meta_upload *up, void *u)
{
    upload_list *l = u;
    assert_string_equal(up->bucket, "b1");
    snprintf(l->ids[l->n], 33, "%s", up->upload_id);
    snprintf(l->keys[l->n], 16, "%.*s", (int)up->key_len, up->key);
    l->n++;
    return 0;
}

/* Abandoned uploads are aborted by age; newer ones and their parts stay. */
static void test_upload_expire(void **state)
{
    fx *f = *state;
    vodup_meta *m = f->m;
    new_upload(m, "OLD", "b1", "old.mp4", 7); /* initiated 4242 */
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
    blob_id(gone, 701);
    blob_id(kept, 702);
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
    new_upload(m, "U1", "b1", "video.mp4", 9);

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
    blob_id(old, 502);
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
    blob_id(want, 512);
    assert_string_equal(pl.p[1].blob, want);
    assert_int_equal(pl.p[2].number, 3);
    memset(&pl, 0, sizeof pl);
    assert_int_equal(vodup_meta_part_list(m, "U1", 1, 1, collect_part, &pl), VODUP_META_OK);
    assert_int_equal(pl.n, 1);
    assert_int_equal(pl.p[0].number, 2);
    memset(&pl, 0, sizeof pl);
    assert_int_equal(vodup_meta_part_list(m, "U9", 0, 10, collect_part, &pl), VODUP_META_ENOTFOUND);

    /* Listing uploads: by (key, id), with prefix and markers. */
    new_upload(m, "U3", "b1", "video.mp4", 9);
    new_upload(m, "U0", "b1", "video.mp4", 9);
    new_upload(m, "U5", "b1", "audio.m4a", 9);
    new_upload(m, "U4", "b1", "zzz", 3);
    upload_list ul = { .n = 0 };
    assert_int_equal(vodup_meta_upload_list(m, "b1", NULL, 0, NULL, 0, NULL, 100, collect_upload, &ul),
                     VODUP_META_OK);
    assert_int_equal(ul.n, 5);
    const char *order[] = { "U5", "U0", "U1", "U3", "U4" };
    for (int i = 0; i < 5; i++)
        assert_string_equal(ul.ids[i], order[i]);
    assert_string_equal(ul.keys[0], "audio.m4a");
    memset(&ul, 0, sizeof ul);
    assert_int_equal(vodup_meta_upload_list(m, "b1", "video", 5, NULL, 0, NULL, 100, collect_upload, &ul),
                     VODUP_META_OK);
    assert_int_equal(ul.n, 3);
    memset(&ul, 0, sizeof ul);
    assert_int_equal(vodup_meta_upload_list(m, "b1", NULL, 0, "video.mp4", 9, "U0", 100,
                                            collect_upload, &ul), VODUP_META_OK);
    assert_int_equal(ul.n, 3);
    assert_string_equal(ul.ids[0], "U1");
    assert_string_equal(ul.ids[1], "U3");
    assert_string_equal(ul.ids[2], "U4");
    memset(&ul, 0, sizeof ul);
    assert_int_equal(vodup_meta_upload_list(m, "b1", NULL, 0, "video.mp4", 9, "", 100, collect_upload, &ul),
                     VODUP_META_OK);
    assert_int_equal(ul.n, 1);
    assert_string_equal(ul.ids[0], "U4");
    memset(&ul, 0, sizeof ul);
    assert_int_equal(vodup_meta_upload_list(m, "b1", "video", 5, "video.mp4", 9, "U1", 1,
                                            collect_upload, &ul), VODUP_META_OK);
    assert_int_equal(ul.n, 1);
    assert_string_equal(ul.ids[0], "U3");
    memset(&ul, 0, sizeof ul);
    assert_int_equal(vodup_meta_upload_list(m, "b1", "video", 5, "a", 1, "U9", 100, collect_upload, &ul),
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
    blob_id(want, 501);
    assert_true(gc_has(ids, n, want));
    blob_id(want, 512);
    assert_true(gc_has(ids, n, want));
    blob_id(want, 503);
    assert_true(gc_has(ids, n, want));
    assert_int_equal(vodup_meta_blob_is_live(m, want), 0);

    /* A part for a vanished upload. */
    vodup_meta_part p;
    memset(&p, 0, sizeof p);
    p.number = 1;
    blob_id(p.blob, 600);
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
    put_object(m, "b1", key, klen, 700, 1);
    char oldblob[33];
    blob_id(oldblob, 700);

    new_upload(m, "UC", "b1", key, klen);
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
    blob_id(b, 801);
    assert_string_equal(g.segs[0].blob, b);
    assert_int_equal(g.segs[0].size, 1000);
    blob_id(b, 803);
    assert_string_equal(g.segs[1].blob, b);
    blob_id(b, 807);
    assert_string_equal(g.segs[2].blob, b);
    assert_int_equal(g.segs[2].size, 333);
    vodup_meta_object_clear(&g);

    /* Garbage: the replaced object's blob and the unlisted part, nothing else. */
    char ids[16][33];
    int n = gc_all(m, ids, 16);
    assert_int_equal(n, 2);
    assert_true(gc_has(ids, n, oldblob));
    blob_id(b, 802);
    assert_true(gc_has(ids, n, b));
    assert_int_equal(vodup_meta_blob_is_live(m, b), 0);
    blob_id(b, 801);
    assert_int_equal(vodup_meta_blob_is_live(m, b), 1);

    vodup_meta_upload up;
    assert_int_equal(vodup_meta_upload_get(m, "UC", &up), VODUP_META_ENOTFOUND);
    assert_int_equal(vodup_meta_upload_complete(m, "UC", cp, 3, 0, 1, NULL, &bad),
                     VODUP_META_ENOTFOUND);

    /* A single part may be of any size; out may be NULL. */
    new_upload(m, "UD", "b1", "one", 3);
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

static void test_complete_failures(void **state)
{
    fx *f = *state;
    vodup_meta *m = f->m;
    new_upload(m, "UF", "b1", "fail", 4);
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
    blob_id(b, 903);
    assert_string_equal(ids[0], b);
}

/* ---- garbage list ------------------------------------------------------------------------ */

static void test_gc_take_done(void **state)
{
    fx *f = *state;
    vodup_meta *m = f->m;
    for (unsigned i = 0; i < 10; i++)
        put_object(m, "b1", "k", 1, 1000 + i, 1);   /* each put frees the previous blob */
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
    blob_id(live, 1009);
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

static vodup_meta_object simple_object(const char *key, vodup_meta_segment *seg, unsigned blob, time_t mtime)
{
    vodup_meta_object o;
    memset(&o, 0, sizeof o);
    blob_id(seg->blob, blob);
    seg->size = 10;
    o.bucket = "b1";
    o.key = (char *)key;
    o.key_len = strlen(key);
    o.size = 10;
    snprintf(o.etag, sizeof o.etag, "E%u", blob);
    snprintf(o.type, sizeof o.type, "Normal");
    o.mtime = mtime;
    o.segs = seg;
    o.nsegs = 1;
    return o;
}

/* The scope re-check inside the committing transaction: once a write completed the
 * media, an older credential's write is refused and changes nothing; a credential issued
 * after the completion may write; a deleted media revokes every credential. */
static void test_guarded_writes(void **state)
{
    fx *f = *state;
    vodup_meta *m = f->m;
    new_media(m, "0123456789abcdef0123456789abcdef", "v.mp4");
    vodup_meta_guard g = { .issued_ms = 100500, .expires = 5000 };
    vodup_meta_segment s1, s2, s3;
    vodup_meta_object o1 = simple_object("v.mp4", &s1, 1, 200);
    assert_int_equal(vodup_meta_object_put_guarded(m, &o1, &g), VODUP_META_OK);
    vodup_meta_object o2 = simple_object("v.mp4", &s2, 2, 201);
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
    blob_id(p.blob, 9);
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
    vodup_meta_guard fresh = { .issued_ms = 201000, .expires = 6000 };
    assert_int_equal(vodup_meta_object_put_guarded(m, &o2, &fresh), VODUP_META_OK);
    fresh.issued_ms = 200999;
    vodup_meta_object o3 = simple_object("v.mp4", &s3, 3, 202);
    assert_int_equal(vodup_meta_object_put_guarded(m, &o3, &fresh), VODUP_META_EDENIED);

    /* no media at the key: revoked */
    vodup_meta_object o4 = simple_object("other.mp4", &s3, 3, 202);
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
    vodup_meta_guard g = { .issued_ms = 100500, .expires = 1000 };
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

    vodup_meta_guard later = { .issued_ms = 100600, .expires = 3000 };
    vodup_meta_part p;
    memset(&p, 0, sizeof p);
    p.number = 1;
    blob_id(p.blob, 77);
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
    blob_id(p.blob, 78);
    assert_int_equal(vodup_meta_part_put_guarded(m, "C1", &p, &later), VODUP_META_OK);
    /* C1 was initiated first but written last: C3 goes */
    cred_upload(m, "C4", 210, &later, 1);
    assert_false(upload_exists_pub(m, "C3"));
    assert_true(upload_exists_pub(m, "C1"));
    assert_int_equal(vodup_meta_upload_expire_creds(m, 4000, 10), 2);
    assert_true(upload_exists_pub(m, "ROOT"));
    char ids[4][33], want[33];
    assert_int_equal(vodup_meta_gc_take(m, ids, 4), 2);
    blob_id(want, 77);
    assert_true(gc_has(ids, 2, want));
    blob_id(want, 78);
    assert_true(gc_has(ids, 2, want));
}

/* take_after walks the garbage list in id order past ids a collector leaves there. */
static void test_gc_take_after(void **state)
{
    fx *f = *state;
    vodup_meta *m = f->m;
    for (unsigned i = 0; i < 10; i++)
        put_object(m, "b1", "k", 1, 2000 + i, 1);
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

static int count_cb(const vodup_meta_object *o, void *u)
{
    (void)o;
    (*(int *)u)++;
    return 0;
}

static void *worker_main(void *arg)
{
    worker *w = arg;
    for (int r = 0; r < ROUNDS; r++) {
        char key[32];
        int klen = snprintf(key, sizeof key, "t%d/k%d", w->index, r % 10);
        vodup_meta_object o;
        memset(&o, 0, sizeof o);
        vodup_meta_segment seg;
        blob_id(seg.blob, (unsigned)(w->index * 10000 + r));
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
        if (vodup_meta_object_list(w->m, "b1", prefix, (size_t)plen, NULL, 0, 100, count_cb, &cnt) !=
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
    assert_int_equal(vodup_meta_object_list(f->m, "b1", NULL, 0, NULL, 0, 1000, count_cb, &cnt),
                     VODUP_META_OK);
    assert_int_equal(cnt, NTHREADS * 10);
    char ids[512][33];
    assert_int_equal(vodup_meta_gc_take(f->m, ids, 512), NTHREADS * (ROUNDS - 10));
}


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
    vodup_meta_guard g = { .issued_ms = 1, .expires = 1 };
    for (int r = 0; r < GROUP_ROUNDS; r++) {
        char key[32];
        snprintf(key, sizeof key, "g%d/%d", w->index, r);
        vodup_meta_segment seg;
        vodup_meta_object o = simple_object(key, &seg, (unsigned)(50000 + w->index * 100 + r), 10);
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
    assert_int_equal(vodup_meta_object_list(other, "b1", "g", 1, NULL, 0, 1000, count_cb, &cnt), VODUP_META_OK);
    assert_int_equal(cnt, GROUP_THREADS * ((GROUP_ROUNDS + 1) / 2));
    vodup_meta_close(other);
}

static void test_reopen(void **state)
{
    fx *f = *state;
    put_object(f->m, "b1", "persist", 7, 42, 2);
    assert_int_equal(vodup_meta_setting_set(f->m, "s", "v"), VODUP_META_OK);
    new_upload(f->m, "UR", "b1", "persist", 7);
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
    upload_list ul = { .n = 0 };
    assert_int_equal(vodup_meta_upload_list(f->m, "b1", NULL, 0, NULL, 0, NULL, 10, collect_upload, &ul),
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
        cmocka_unit_test_setup_teardown(test_accounts_keys_settings, setup, teardown),
        cmocka_unit_test_setup_teardown(test_buckets, setup, teardown),
        cmocka_unit_test_setup_teardown(test_object_put_get_replace_delete, setup, teardown),
        cmocka_unit_test_setup_teardown(test_object_list_order, setup, teardown),
        cmocka_unit_test_setup_teardown(test_upload_lifecycle, setup, teardown),
        cmocka_unit_test_setup_teardown(test_upload_expire, setup, teardown),
        cmocka_unit_test_setup_teardown(test_complete_success, setup, teardown),
        cmocka_unit_test_setup_teardown(test_complete_failures, setup, teardown),
        cmocka_unit_test_setup_teardown(test_gc_take_done, setup, teardown),
        cmocka_unit_test_setup_teardown(test_guarded_writes, setup, teardown),
        cmocka_unit_test_setup_teardown(test_credential_uploads, setup, teardown),
        cmocka_unit_test_setup_teardown(test_gc_take_after, setup, teardown),
        cmocka_unit_test_setup_teardown(test_group_commit_results, setup, teardown),
        cmocka_unit_test_setup_teardown(test_concurrency, setup, teardown),
        cmocka_unit_test_setup_teardown(test_reopen, setup, teardown),
        cmocka_unit_test_setup_teardown(test_nested_callbacks, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
