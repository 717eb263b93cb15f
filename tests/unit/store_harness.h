/* store_harness.h - fixtures shared by the store unit tests (test_blob_file.c,
 * test_meta_sqlite.c, test_meta_vod.c, test_store_conformance.c, test_events.c, ...): a
 * fresh directory per test under $VODUP_TEST_TMP, its removal, and a metadata store (any
 * back end's, through its factory) opened there with the accounts and bucket the metadata
 * tests start from.
 *
 * Header-only and static inline, because each test is its own executable and most use
 * only part of this: a plain static function left unused would fail -Werror.
 */
#ifndef VODUP_TESTS_STORE_HARNESS_H
#define VODUP_TESTS_STORE_HARNESS_H

#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>

#include "server/store/meta.h"
#include "server/store/meta_vod.h"

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

/* cmocka setup: a store that open (a back end's factory: a fresh, empty store in the
 * directory given) makes in a new directory named after prefix, with accounts acc1
 * "first" and acc2 "second" (created at 1000) and acc1's bucket `bucket` (created at
 * 1001). *state becomes the store_fx; -1 on failure. */
static inline int store_fx_setup_open(void **state, const char *prefix,
                                      int (*open)(vodup_meta **out, const char *dir), const char *bucket)
{
    store_fx *f = calloc(1, sizeof *f);
    if (!f)
        return -1;
    f->dir = make_temp_dir(prefix);
    if (!f->dir)
        return -1;
    if (open(&f->m, f->dir) != VODUP_META_OK)
        return -1;
    if (vodup_meta_account_create(f->m, "acc1", "first", 1000) != VODUP_META_OK ||
        vodup_meta_account_create(f->m, "acc2", "second", 1000) != VODUP_META_OK ||
        vodup_meta_bucket_create(f->m, bucket, "acc1", 1001) != VODUP_META_OK)
        return -1;
    *state = f;
    return 0;
}

/* The SQLite back end with a pool of `pool` connections (store_fx_setup_open's pool
 * argument has no other way through a factory's fixed signature). */
static int store_fx_pool;
static inline int store_fx_open_sqlite(vodup_meta **out, const char *dir)
{
    return vodup_meta_open_sqlite(out, dir, store_fx_pool);
}

/* store_fx_setup_open on the SQLite back end with a pool of `pool` connections. */
static inline int store_fx_setup(void **state, const char *prefix, int pool, const char *bucket)
{
    store_fx_pool = pool;
    return store_fx_setup_open(state, prefix, store_fx_open_sqlite, bucket);
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

/* ---- shared by the metadata tests (the conformance suite and the SQLite ones) ---- */

/* A valid-looking blob id derived from n. */
static inline void fx_blob_id(char out[33], unsigned n)
{
    snprintf(out, 33, "%016x%016x", 0xb10bu, n);
}

static inline void fx_put_object(vodup_meta *m, const char *bucket, const char *key, size_t key_len,
                       unsigned first_blob, size_t nsegs)
{
    vodup_meta_object o;
    memset(&o, 0, sizeof o);
    vodup_meta_segment segs[8];
    assert_true(nsegs <= 8);
    for (size_t i = 0; i < nsegs; i++) {
        fx_blob_id(segs[i].blob, first_blob + (unsigned)i);
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

/* One-segment object put with blob n and the given crc. */
static inline int fx_put_media_object(vodup_meta *m, const char *bucket, const char *key, unsigned blob, uint64_t size,
                      uint64_t crc, time_t mtime)
{
    vodup_meta_segment seg;
    fx_blob_id(seg.blob, blob);
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

static inline void fx_new_media(vodup_meta *m, const char *id, const char *kind, const char *account, const char *bucket,
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

static inline void fx_expect_status(vodup_meta *m, const char *account, const char *id, const char *status)
{
    vodup_meta_media md;
    assert_int_equal(vodup_meta_media_get(m, account, id, &md), VODUP_META_OK);
    assert_string_equal(md.status, status);
    vodup_meta_media_clear(&md);
}

/* Collects events into a small array (copies of the fields the tests look at). */
typedef struct fx_ev_list {
    int n;
    long long id[16];
    char media[16][40];
    char type[16][40];
    char account[16][16];
    int attempts[16];
    time_t next_at[16];
    int has_body[16];
    char last_error[16][32];
} fx_ev_list;

static inline int fx_collect_event(const vodup_meta_event *e, void *u)
{
    fx_ev_list *l = u;
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

static inline int fx_event_count(vodup_meta *m)
{
    fx_ev_list l = { .n = 0 };
    assert_int_equal(vodup_meta_event_list(m, NULL, fx_collect_event, &l), VODUP_META_OK);
    return l.n;
}

#define FX_MEDIA_ID(n) "0000000000000000000000000000000" #n

static inline void fx_new_upload(vodup_meta *m, const char *id, const char *bucket, const char *key, size_t klen)
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

typedef struct fx_upload_list {
    char ids[16][33];
    char keys[16][16];
    int n;
} fx_upload_list;

static inline int fx_collect_upload(const vodup_meta_upload *up, void *u)
{
    fx_upload_list *l = u;
    assert_string_equal(up->bucket, "b1");
    snprintf(l->ids[l->n], 33, "%s", up->upload_id);
    snprintf(l->keys[l->n], 16, "%.*s", (int)up->key_len, up->key);
    l->n++;
    return 0;
}

static inline vodup_meta_object fx_simple_object(const char *key, vodup_meta_segment *seg, unsigned blob, time_t mtime)
{
    vodup_meta_object o;
    memset(&o, 0, sizeof o);
    fx_blob_id(seg->blob, blob);
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

static inline int fx_count_cb(const vodup_meta_object *o, void *u)
{
    (void)o;
    (*(int *)u)++;
    return 0;
}

/* List callbacks that call back into the store (u is the store): a write each. */
static inline int fx_reenter_media(const vodup_meta_media *md, void *u)
{
    vodup_meta *m = u;
    assert_int_equal(vodup_meta_media_set_status(m, md->id, "Normal", 1), VODUP_META_OK);
    return 0;
}

static inline int fx_reenter_event(const vodup_meta_event *e, void *u)
{
    vodup_meta *m = u;
    assert_int_equal(vodup_meta_event_done(m, e->id), VODUP_META_OK);
    return 0;
}

/* Media and event list callbacks that write to the store (bucket "vod" of acc1). */
static inline void fx_check_callbacks_reenter(vodup_meta *m)
{
    fx_new_media(m, FX_MEDIA_ID(1), "image", "acc1", "vod", "i/1", 10);
    vodup_meta_media_filter flt = { .kind = "image", .cate_id = -1, .limit = 10 };
    size_t total;
    assert_int_equal(vodup_meta_media_list(m, "acc1", &flt, fx_reenter_media, m, &total), VODUP_META_OK);
    fx_expect_status(m, "acc1", FX_MEDIA_ID(1), "Normal");
    assert_int_equal(fx_put_media_object(m, "vod", "i/1", 1, 1, 1, 20), VODUP_META_OK);
    assert_int_equal(vodup_meta_event_due(m, 20, 10, fx_reenter_event, m), VODUP_META_OK);
    assert_int_equal(fx_event_count(m), 0);
}

#endif
