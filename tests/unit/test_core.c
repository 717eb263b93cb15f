/* test_core.c - the object core (src/server/core/) with a fake byte store.
 *
 * The byte store is an in-memory ops table written here (blob.h), which can refuse a
 * new blob or a write with ENOSPC and counts what the core commits, aborts and removes.
 * The metadata store is the in-memory fake of fake_meta.h; every test runs a second time
 * over SQLite in a fresh temporary directory, so the fake cannot drift from the real
 * back end unnoticed.
 *
 * What is checked: the digests of an ingested body and their refusal, size limits, the
 * part rules of Complete with the part at fault, refusals of buckets and uploads, the
 * scope decision for upload credentials, listings with common prefixes, and that the core
 * kicks the collector (and the event sender) after commits that free blobs.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>

#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/codec.h"
#include "common/crc.h"
#include "common/digest.h"
#include "server/auth/auth.h"
#include "server/core/cond.h"
#include "server/core/core.h"
#include "server/store/meta_quota.h"
#include "server/core/media.h"
#include "server/store/meta_vod.h"
#include "fake_meta.h"
#include "store_harness.h"

/* ---- the fake byte store ------------------------------------------------------------ */

#define FAKE_MAX_BLOBS 64

typedef struct fake_blob {
    char id[VODUP_BLOB_ID_LEN + 1];
    unsigned char *data;
    size_t len;
    int live;
} fake_blob;

typedef struct fake_blobs {
    vodup_blobstore base;
    fake_blob blobs[FAKE_MAX_BLOBS];
    unsigned next_id;
    int open_rc;            /* writer_open answers this (VODUP_BLOB_OK normally) */
    int fail_write_at;      /* the nth writer_write (1-based) answers ENOSPC; 0 never */
    int writes;
    int commits, aborts, removes;
} fake_blobs;

typedef struct fake_writer {
    vodup_blob_writer base;     /* first: the vodup_blob_* wrappers dispatch through it */
    fake_blobs *fb;
    unsigned char *data;
    size_t len;
} fake_writer;

static int fake_writer_open(vodup_blobstore *bs, vodup_blob_writer **w)
{
    fake_blobs *fb = (fake_blobs *)bs;
    if (fb->open_rc != VODUP_BLOB_OK)
        return fb->open_rc;
    fake_writer *fw = calloc(1, sizeof *fw);
    if (!fw)
        return VODUP_BLOB_ENOMEM;
    fw->base.bs = bs;
    fw->fb = fb;
    *w = &fw->base;
    return VODUP_BLOB_OK;
}

static int fake_writer_write(vodup_blob_writer *w, const void *p, size_t n)
{
    fake_writer *fw = (fake_writer *)w;
    if (++fw->fb->writes == fw->fb->fail_write_at)
        return VODUP_BLOB_ENOSPC;
    unsigned char *d = realloc(fw->data, fw->len + n + 1);
    if (!d)
        return VODUP_BLOB_ENOMEM;
    memcpy(d + fw->len, p, n);
    fw->data = d;
    fw->len += n;
    return VODUP_BLOB_OK;
}

static int fake_writer_commit(vodup_blob_writer *w, char id[VODUP_BLOB_ID_LEN + 1])
{
    fake_writer *fw = (fake_writer *)w;
    fake_blobs *fb = fw->fb;
    fake_blob *b = &fb->blobs[fb->next_id % FAKE_MAX_BLOBS];
    free(b->data);
    snprintf(b->id, sizeof b->id, "%032x", ++fb->next_id);
    b->data = fw->data;
    b->len = fw->len;
    b->live = 1;
    memcpy(id, b->id, sizeof b->id);
    fb->commits++;
    free(fw);
    return VODUP_BLOB_OK;
}

static void fake_writer_abort(vodup_blob_writer *w)
{
    fake_writer *fw = (fake_writer *)w;
    fw->fb->aborts++;
    free(fw->data);
    free(fw);
}

static fake_blob *fake_find(fake_blobs *fb, const char *id)
{
    for (int i = 0; i < FAKE_MAX_BLOBS; i++)
        if (fb->blobs[i].live && strcmp(fb->blobs[i].id, id) == 0)
            return &fb->blobs[i];
    return NULL;
}

static ssize_t fake_read(vodup_blobstore *bs, const char *id, uint64_t off, void *p, size_t n)
{
    fake_blob *b = fake_find((fake_blobs *)bs, id);
    if (!b)
        return VODUP_BLOB_ENOENT;
    if (off >= b->len)
        return 0;
    if (n > b->len - off)
        n = (size_t)(b->len - off);
    memcpy(p, b->data + off, n);
    return (ssize_t)n;
}

static int fake_remove(vodup_blobstore *bs, const char *id)
{
    fake_blobs *fb = (fake_blobs *)bs;
    fake_blob *b = fake_find(fb, id);
    fb->removes++;
    if (b) {
        free(b->data);
        memset(b, 0, sizeof *b);
    }
    return VODUP_BLOB_OK;
}

static void fake_close(vodup_blobstore *bs)
{
    fake_blobs *fb = (fake_blobs *)bs;
    for (int i = 0; i < FAKE_MAX_BLOBS; i++)
        free(fb->blobs[i].data);
    free(fb);
}

static const vodup_blobstore_ops FAKE_OPS = {
    .name = "fake",
    .writer_open = fake_writer_open,
    .writer_write = fake_writer_write,
    .writer_commit = fake_writer_commit,
    .writer_abort = fake_writer_abort,
    .read = fake_read,
    .remove = fake_remove,
    .close = fake_close,
};

static int fake_live_count(fake_blobs *fb)
{
    int n = 0;
    for (int i = 0; i < FAKE_MAX_BLOBS; i++)
        n += fb->blobs[i].live;
    return n;
}

/* ---- fixture: a core over the fake byte store and a fresh metadata store -------------- */

/* Which metadata store the next fixture gets (main runs the tests over both). */
static int use_fake_meta;

typedef struct fx {
    int fake;
    store_fx *st;
    fake_blobs *fb;
    core c;
    int gc_kicks, event_kicks;
    int pins;               /* blobs pinned and not yet unpinned (test_copy) */
} fx;

static void count_gc(void *u)
{
    ((fx *)u)->gc_kicks++;
}

static void count_events(void *u)
{
    ((fx *)u)->event_kicks++;
}

static int setup(void **state)
{
    fx *f = calloc(1, sizeof *f);
    if (!f)
        return -1;
    f->fake = use_fake_meta;
    if (f->fake) {
        f->c.meta = fake_meta_new();
        if (!f->c.meta || vodup_meta_bucket_create(f->c.meta, "media", "acc1", 1001) != VODUP_META_OK)
            return -1;
    } else {
        void *st = NULL;
        if (store_fx_setup(&st, "core", 2, "media") != 0)
            return -1;
        f->st = st;
        f->c.meta = f->st->m;
    }
    f->fb = calloc(1, sizeof *f->fb);
    if (!f->fb)
        return -1;
    f->fb->base.ops = &FAKE_OPS;
    f->c.blobs = &f->fb->base;
    f->c.gc_kick = count_gc;
    f->c.events_kick = count_events;
    f->c.kick_user = f;
    f->c.max_uploads_per_account = 3;
    f->c.max_uploads_per_credential_key = 2;
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    fx *f = *state;
    if (f->fake) {
        vodup_meta_close(f->c.meta);
    } else {
        void *st = f->st;
        store_fx_teardown(&st);
    }
    fake_close(&f->fb->base);
    free(f);
    return 0;
}

static const core_rules RULES = {1024, 1024, 5, 100, core_etag_md5_of_hex};

/* An ingest of body (written in chunks of `chunk` bytes), finished unless told not to. */
static core_ingest *ingest(fx *f, const char *body, size_t chunk)
{
    core_ingest *in;
    vodupd_detail d = {0};
    assert_int_equal(core_ingest_open(&in, &f->c, 1024, 0, &d), VODUPD_OK);
    size_t n = strlen(body);
    for (size_t off = 0; off < n; off += chunk)
        assert_int_equal(core_ingest_write(in, body + off, off + chunk > n ? n - off : chunk, &d), VODUPD_OK);
    return in;
}

static vodupd_status put(fx *f, const char *key, const char *body)
{
    core_ingest *in = ingest(f, body, 3);
    core_put p = {"media", key, strlen(key), "video/mp4", NULL, NULL};
    vodupd_detail d = {0};
    vodupd_status st = core_object_put(&f->c, &p, in, &d);
    core_ingest_free(in);
    return st;
}

/* ---- body ingest ---------------------------------------------------------------------- */

static void test_ingest_digests(void **state)
{
    fx *f = *state;
    const char *body = "The quick brown fox jumps over the lazy dog";
    core_ingest *in = ingest(f, body, 7);
    vodupd_detail d = {0};
    assert_int_equal(core_ingest_finish(in, &d), VODUPD_OK);
    unsigned char md5[16];
    vodup_md5(md5, body, strlen(body));
    assert_memory_equal(core_ingest_md5(in), md5, 16);
    assert_int_equal(core_ingest_crc64(in), vodup_crc64(0, body, strlen(body)));
    assert_int_equal(core_ingest_size(in), strlen(body));
    core_ingest_free(in);
    /* an uncommitted body leaves nothing behind */
    assert_int_equal(f->fb->aborts, 1);
    assert_int_equal(fake_live_count(f->fb), 0);
}

static void test_ingest_bad_md5_stores_nothing(void **state)
{
    fx *f = *state;
    core_ingest *in;
    vodupd_detail d = {0};
    assert_int_equal(core_ingest_open(&in, &f->c, 1024, VODUPD_DIGEST_MD5, &d), VODUPD_OK);
    unsigned char want[16];
    vodup_md5(want, "other", 5);
    assert_int_equal(core_ingest_expect(in, VODUPD_DIGEST_MD5, want, 16), VODUPD_OK);
    assert_int_equal(core_ingest_write(in, "bytes", 5, &d), VODUPD_OK);
    core_put p = {"media", "k", 1, "text/plain", NULL, NULL};
    assert_int_equal(core_object_put(&f->c, &p, in, &d), VODUPD_EBADDIGEST);
    assert_int_equal(d.digest, VODUPD_DIGEST_MD5);
    assert_int_equal(d.digest_len, 16);
    assert_memory_equal(d.expected, want, 16);
    unsigned char got[16];
    vodup_md5(got, "bytes", 5);
    assert_memory_equal(d.actual, got, 16);
    core_ingest_free(in);
    assert_int_equal(f->fb->commits, 0);
    vodup_meta_object o;
    assert_int_equal(core_object_get(&f->c, "media", "k", 1, &o, &d), VODUPD_ENOKEY);
}

static void test_ingest_crc_declared(void **state)
{
    fx *f = *state;
    core_ingest *in;
    vodupd_detail d = {0};
    assert_int_equal(core_ingest_open(&in, &f->c, 1024, VODUPD_DIGEST_CRC64, &d), VODUPD_OK);
    uint64_t right = vodup_crc64(0, "abc", 3), wrong = right ^ 1;
    assert_int_equal(core_ingest_expect(in, VODUPD_DIGEST_CRC64, &wrong, sizeof wrong), VODUPD_OK);
    assert_int_equal(core_ingest_write(in, "abc", 3, &d), VODUPD_OK);
    assert_int_equal(core_ingest_finish(in, &d), VODUPD_EBADDIGEST);
    assert_int_equal(d.digest, VODUPD_DIGEST_CRC64);
    core_ingest_free(in);

    assert_int_equal(core_ingest_open(&in, &f->c, 1024, VODUPD_DIGEST_CRC64, &d), VODUPD_OK);
    assert_int_equal(core_ingest_expect(in, VODUPD_DIGEST_CRC64, &right, sizeof right), VODUPD_OK);
    assert_int_equal(core_ingest_write(in, "abc", 3, &d), VODUPD_OK);
    assert_int_equal(core_ingest_finish(in, &d), VODUPD_OK);
    core_ingest_free(in);
}

static void test_ingest_limit(void **state)
{
    fx *f = *state;
    core_ingest *in;
    vodupd_detail d = {0};
    assert_int_equal(core_ingest_open(&in, &f->c, 10, 0, &d), VODUPD_OK);
    assert_int_equal(core_ingest_write(in, "0123456789", 10, &d), VODUPD_OK);   /* exactly the limit */
    assert_int_equal(core_ingest_write(in, "x", 1, &d), VODUPD_ETOOLARGE);
    assert_int_equal(d.limit, 10);
    /* after a refusal nothing more is taken, and nothing can be stored */
    assert_int_equal(core_ingest_write(in, "y", 1, &d), VODUPD_EINCOMPLETE);
    assert_int_equal(core_ingest_finish(in, &d), VODUPD_EINCOMPLETE);
    core_put p = {"media", "k", 1, "text/plain", NULL, NULL};
    assert_int_equal(core_object_put(&f->c, &p, in, &d), VODUPD_EINCOMPLETE);
    core_ingest_free(in);
    assert_int_equal(f->fb->commits, 0);
}

static void test_ingest_full_disk(void **state)
{
    fx *f = *state;
    core_ingest *in;
    vodupd_detail d = {0};
    f->fb->open_rc = VODUP_BLOB_ENOSPC;
    assert_int_equal(core_ingest_open(&in, &f->c, 10, 0, &d), VODUPD_ENOSPC);
    assert_null(in);
    f->fb->open_rc = VODUP_BLOB_OK;
    f->fb->fail_write_at = 2;
    assert_int_equal(core_ingest_open(&in, &f->c, 10, 0, &d), VODUPD_OK);
    assert_int_equal(core_ingest_write(in, "ab", 2, &d), VODUPD_OK);
    assert_int_equal(core_ingest_write(in, "cd", 2, &d), VODUPD_ENOSPC);
    assert_int_equal(f->fb->aborts, 1); /* the half-written blob is dropped at once */
    assert_int_equal(core_ingest_finish(in, &d), VODUPD_EINCOMPLETE);
    core_ingest_free(in);
    assert_int_equal(f->fb->aborts, 1);
    assert_int_equal(f->fb->commits, 0);
}

/* ---- objects ------------------------------------------------------------------------ */

static void test_put_get_and_overwrite_kicks_gc(void **state)
{
    fx *f = *state;
    assert_int_equal(put(f, "v.mp4", "first body"), VODUPD_OK);
    vodup_meta_object o;
    vodupd_detail d = {0};
    assert_int_equal(core_object_get(&f->c, "media", "v.mp4", 5, &o, &d), VODUPD_OK);
    assert_int_equal(o.nsegs, 1);
    char first_blob[33];
    memcpy(first_blob, o.segs[0].blob, 33);
    char buf[32] = {0};
    assert_int_equal(vodup_blob_read(f->c.blobs, first_blob, 0, buf, sizeof buf), 10);
    assert_string_equal(buf, "first body");
    char etag[33];
    unsigned char md5[16];
    vodup_md5(md5, "first body", 10);
    vodup_hex_upper(etag, md5, 16);
    assert_string_equal(o.etag, etag);
    vodup_meta_object_clear(&o);

    int gc_before = f->gc_kicks, ev_before = f->event_kicks;
    assert_int_equal(put(f, "v.mp4", "second body"), VODUPD_OK);
    /* the old blob is garbage now, and the collector was told so */
    assert_true(f->gc_kicks > gc_before);
    assert_true(f->event_kicks > ev_before);
    char ids[4][33];
    assert_int_equal(vodup_meta_gc_take(f->c.meta, ids, 4), 1);
    assert_string_equal(ids[0], first_blob);
}

static void test_put_failure_removes_blob(void **state)
{
    fx *f = *state;
    core_ingest *in = ingest(f, "orphan", 2);
    core_put p = {"no-such-bucket", "k", 1, "text/plain", NULL, NULL};
    vodupd_detail d = {0};
    assert_int_equal(core_object_put(&f->c, &p, in, &d), VODUPD_ENOBUCKET);
    core_ingest_free(in);
    assert_int_equal(f->fb->commits, 1);
    assert_int_equal(f->fb->removes, 1);
    assert_int_equal(fake_live_count(f->fb), 0);
    assert_int_equal(f->gc_kicks, 0);
}

static void test_empty_body_writes_no_blob(void **state)
{
    fx *f = *state;
    assert_int_equal(put(f, "empty", ""), VODUPD_OK);
    assert_int_equal(f->fb->commits, 0);
    vodup_meta_object o;
    vodupd_detail d = {0};
    assert_int_equal(core_object_get(&f->c, "media", "empty", 5, &o, &d), VODUPD_OK);
    assert_int_equal(o.size, 0);
    assert_string_equal(o.etag, "D41D8CD98F00B204E9800998ECF8427E");
    vodup_meta_object_clear(&o);
}

static void test_delete_kicks_gc(void **state)
{
    fx *f = *state;
    assert_int_equal(put(f, "gone", "bytes"), VODUPD_OK);
    int before = f->gc_kicks;
    vodupd_detail d = {0};
    assert_int_equal(core_object_delete(&f->c, "media", "gone", 4, &d), VODUPD_OK);
    assert_true(f->gc_kicks > before);
    /* deleting again is not an error */
    assert_int_equal(core_object_delete(&f->c, "media", "gone", 4, &d), VODUPD_OK);
    vodup_meta_object o;
    assert_int_equal(core_object_get(&f->c, "media", "gone", 4, &o, &d), VODUPD_ENOKEY);
}

/* ---- buckets ---------------------------------------------------------------------- */

static void test_buckets(void **state)
{
    fx *f = *state;
    vodupd_detail d = {0};
    int created = -1;
    assert_int_equal(core_bucket_create(&f->c, "new-one", "acc1", &created, &d), VODUPD_OK);
    assert_int_equal(created, 1);
    assert_int_equal(core_bucket_create(&f->c, "new-one", "acc1", &created, &d), VODUPD_OK);
    assert_int_equal(created, 0);
    assert_int_equal(core_bucket_create(&f->c, "new-one", "acc2", &created, &d), VODUPD_EEXISTS);
    vodup_meta_bucket b;
    assert_int_equal(core_bucket_get(&f->c, "new-one", "acc2", &b, &d), VODUPD_EDENIED);
    assert_int_equal(d.deny, VODUPD_DENY_OWNER);
    assert_int_equal(core_bucket_get(&f->c, "nope", "acc1", &b, &d), VODUPD_ENOBUCKET);
    assert_int_equal(core_bucket_get(&f->c, "new-one", "acc1", &b, &d), VODUPD_OK);
    vodup_meta_bucket_clear(&b);
    assert_int_equal(put(f, "x", "y"), VODUPD_OK);
    assert_int_equal(core_bucket_delete(&f->c, "media", &d), VODUPD_ENOTEMPTY);
    assert_int_equal(core_bucket_delete(&f->c, "new-one", &d), VODUPD_OK);
    assert_int_equal(core_bucket_get(&f->c, "new-one", "acc1", &b, &d), VODUPD_ENOBUCKET);
}

/* ---- multipart -------------------------------------------------------------------- */

static void initiate(fx *f, const char *key, char id[33])
{
    core_initiate in = {"media", key, strlen(key), "acc1", "video/mp4", NULL, NULL};
    vodupd_detail d = {0};
    assert_int_equal(core_upload_initiate(&f->c, &in, id, &d), VODUPD_OK);
    assert_true(core_upload_id_valid(id));
}

static void part(fx *f, const char *id, int n, const char *body, vodup_meta_complete_part *cp)
{
    core_ingest *in = ingest(f, body, 4);
    vodupd_detail d = {0};
    assert_int_equal(core_part_put(&f->c, id, n, in, NULL, &d), VODUPD_OK);
    cp->number = n;
    vodup_hex_upper(cp->etag, core_ingest_md5(in), 16);
    core_ingest_free(in);
}

static void test_complete_part_rules(void **state)
{
    fx *f = *state;
    char id[33];
    initiate(f, "mp.mp4", id);
    vodup_meta_complete_part p[3];
    part(f, id, 1, "abcdef", &p[0]);   /* 6 >= min 5 */
    part(f, id, 2, "gh", &p[1]);       /* below the minimum: fine only as the last */
    part(f, id, 3, "ijklmn", &p[2]);
    vodupd_detail d = {0};

    vodup_meta_complete_part order[2] = {p[1], p[0]};
    assert_int_equal(core_upload_complete(&f->c, &RULES, id, order, 2, NULL, NULL, &d), VODUPD_EPARTORDER);
    assert_int_equal(d.part, 1);

    memset(&d, 0, sizeof d);
    vodup_meta_complete_part wrong[2] = {p[0], p[2]};
    wrong[1].etag[0] = wrong[1].etag[0] == 'A' ? 'B' : 'A';
    assert_int_equal(core_upload_complete(&f->c, &RULES, id, wrong, 2, NULL, NULL, &d), VODUPD_EINVALIDPART);
    assert_int_equal(d.part, 3);

    memset(&d, 0, sizeof d);
    assert_int_equal(core_upload_complete(&f->c, &RULES, id, p, 3, NULL, NULL, &d), VODUPD_ETOOSMALL);
    assert_int_equal(d.part, 2);
    assert_int_equal(d.limit, 5);

    /* the same parts pass under a dialect whose minimum is lower */
    core_rules lax = RULES;
    lax.min_part_size = 2;
    int gc_before = f->gc_kicks, ev_before = f->event_kicks;
    vodup_meta_object o;
    assert_int_equal(core_upload_complete(&f->c, &lax, id, p, 3, NULL, &o, &d), VODUPD_OK);
    assert_int_equal(o.size, 14);
    /* OSS's ETag: MD5 of the parts' hex ETags, "-" and their count */
    char cat[3 * 32 + 1];
    snprintf(cat, sizeof cat, "%s%s%s", p[0].etag, p[1].etag, p[2].etag);
    unsigned char md5[16];
    char want[64];
    vodup_md5(md5, cat, strlen(cat));
    vodup_hex_upper(want, md5, 16);
    strcat(want, "-3");
    assert_string_equal(o.etag, want);
    assert_int_equal(o.crc64, vodup_crc64(0, "abcdefghijklmn", 14));
    assert_string_equal(o.type, "Multipart");
    assert_true(f->gc_kicks > gc_before);
    assert_true(f->event_kicks > ev_before);
    vodup_meta_object_clear(&o);
    /* completed: the upload is gone */
    assert_int_equal(core_upload_complete(&f->c, &lax, id, p, 3, NULL, NULL, &d), VODUPD_ENOUPLOAD);
    vodup_meta_upload u;
    assert_int_equal(core_upload_get(&f->c, id, "media", "mp.mp4", 6, &u, &d), VODUPD_ENOUPLOAD);
}

static void test_upload_refusals(void **state)
{
    fx *f = *state;
    char id[33];
    initiate(f, "a", id);
    vodup_meta_upload u;
    vodupd_detail d = {0};
    /* another key's upload id, or a malformed one, names no upload here */
    assert_int_equal(core_upload_get(&f->c, id, "media", "b", 1, &u, &d), VODUPD_ENOUPLOAD);
    assert_int_equal(core_upload_get(&f->c, "not-an-id", "media", "a", 1, &u, &d), VODUPD_ENOUPLOAD);
    assert_int_equal(core_upload_get(&f->c, id, "media", "a", 1, &u, &d), VODUPD_OK);
    vodup_meta_upload_clear(&u);
    /* the account's quota (3) */
    char more[33];
    initiate(f, "b", more);
    initiate(f, "c", more);
    core_initiate in = {"media", "d", 1, "acc1", "text/plain", NULL, NULL};
    assert_int_equal(core_upload_initiate(&f->c, &in, more, &d), VODUPD_ELIMIT);
    assert_int_equal(d.limit, 3);
    /* abort frees the slot and kicks the collector */
    int before = f->gc_kicks;
    assert_int_equal(core_upload_abort(&f->c, id, &d), VODUPD_OK);
    assert_true(f->gc_kicks > before);
    assert_int_equal(core_upload_abort(&f->c, id, &d), VODUPD_ENOUPLOAD);
    assert_int_equal(core_upload_initiate(&f->c, &in, more, &d), VODUPD_OK);
    /* a part for an upload that went away: its blob does not stay */
    core_ingest *ing = ingest(f, "late", 4);
    int removes = f->fb->removes;
    assert_int_equal(core_part_put(&f->c, id, 1, ing, NULL, &d), VODUPD_ENOUPLOAD);
    core_ingest_free(ing);
    assert_int_equal(f->fb->removes, removes + 1);
}

static void list_collect(const core_list_entry *e, void *u)
{
    vbuf *b = u;
    if (e->object)
        vbuf_append(b, e->object->key, e->object->key_len);
    else if (e->upload)
        vbuf_append(b, e->upload->key, e->upload->key_len);
    else {
        vbuf_puts(b, "P:");
        vbuf_append(b, e->prefix, e->prefix_len);
    }
    vbuf_putc(b, ' ');
}

static void test_listing_common_prefixes(void **state)
{
    fx *f = *state;
    const char *keys[] = {"a/1", "a/2", "a/3", "b", "c/x", "c/y", "d"};
    for (size_t i = 0; i < sizeof keys / sizeof keys[0]; i++)
        assert_int_equal(put(f, keys[i], "z"), VODUPD_OK);
    vbuf got = VBUF_INIT;
    core_list_query q = {"", 0, "/", 1, "", 0, NULL, 3};
    core_list_result res;
    vodupd_detail d = {0};
    assert_int_equal(core_object_list(&f->c, "media", &q, list_collect, &got, &res, &d), VODUPD_OK);
    assert_string_equal(vbuf_cstr(&got), "P:a/ b P:c/ ");
    assert_int_equal(res.count, 3);
    assert_true(res.truncated);
    assert_int_equal(res.last_len, 2);
    assert_memory_equal(res.last, "c/", 2);
    /* the next page starts after the whole prefix */
    vbuf_reset(&got);
    q.after = "c/";
    q.after_len = 2;
    core_list_result_clear(&res);
    assert_int_equal(core_object_list(&f->c, "media", &q, list_collect, &got, &res, &d), VODUPD_OK);
    assert_string_equal(vbuf_cstr(&got), "d ");
    assert_false(res.truncated);
    core_list_result_clear(&res);
    /* with a prefix and no delimiter every key is listed */
    vbuf_reset(&got);
    core_list_query q2 = {"a/", 2, "", 0, "", 0, NULL, 10};
    assert_int_equal(core_object_list(&f->c, "media", &q2, list_collect, &got, &res, &d), VODUPD_OK);
    assert_string_equal(vbuf_cstr(&got), "a/1 a/2 a/3 ");
    core_list_result_clear(&res);
    /* uploads fold the same way */
    char id[33];
    initiate(f, "u/1", id);
    initiate(f, "u/2", id);
    initiate(f, "v", id);
    vbuf_reset(&got);
    core_list_query q3 = {"", 0, "/", 1, "", 0, "", 10};
    assert_int_equal(core_upload_list(&f->c, "media", &q3, list_collect, &got, &res, &d), VODUPD_OK);
    assert_string_equal(vbuf_cstr(&got), "P:u/ v ");
    assert_string_equal(res.last_upload_id, id);
    core_list_result_clear(&res);
    vbuf_free(&got);
}

/* ---- the upload-credential scope check ------------------------------------------- */

static void test_scope_decide(void **state)
{
    (void)state;
    core_scope_result res;
    vodupd_detail d = {0};
    const core_media_state gone = {0, 0, 0}, uploading = {1, 1, 1000}, complete = {1, 0, 1000};
    assert_int_equal(core_scope_decide(&gone, 5000000, CORE_WRITE_OTHER, 0, &res, &d), VODUPD_EREVOKED);
    assert_int_equal(core_scope_decide(&uploading, 0, CORE_WRITE_OTHER, 0, &res, &d), VODUPD_OK);
    assert_false(res.replay_only);
    /* complete: credentials issued within its last second are the old ones */
    assert_int_equal(core_scope_decide(&complete, 1000999, CORE_WRITE_OTHER, 1, &res, &d), VODUPD_EDENIED);
    assert_int_equal(d.deny, VODUPD_DENY_COMPLETE);
    assert_int_equal(core_scope_decide(&complete, 1001000, CORE_WRITE_OTHER, 1, &res, &d), VODUPD_OK);
    /* old credentials: a PutObject may only replay; a Complete only learn its upload is gone */
    assert_int_equal(core_scope_decide(&complete, 0, CORE_WRITE_PUT, 0, &res, &d), VODUPD_OK);
    assert_true(res.replay_only);
    assert_int_equal(core_scope_decide(&complete, 0, CORE_WRITE_COMPLETE, 0, &res, &d), VODUPD_OK);
    assert_false(res.replay_only);
    assert_int_equal(core_scope_decide(&complete, 0, CORE_WRITE_COMPLETE, 1, &res, &d), VODUPD_EDENIED);
}

/* The media record at media/sv/x.mp4 has status, last changed at modified. */
static void media_at(fx *f, const char *status, time_t modified)
{
    if (f->fake) {
        fake_meta_set_media(f->c.meta, "media", "sv/x.mp4", status, modified);
        return;
    }
    char id[33];
    snprintf(id, sizeof id, "%032x", 7u);
    if (strcmp(status, "Uploading") != 0) {
        assert_int_equal(vodup_meta_media_set_status(f->c.meta, id, status, modified), VODUP_META_OK);
        return;
    }
    vodup_meta_media md;
    memset(&md, 0, sizeof md);
    memcpy(md.id, id, sizeof id);
    snprintf(md.kind, sizeof md.kind, "video");
    snprintf(md.status, sizeof md.status, "%s", status);
    md.account_id = (char *)"acc1";
    md.title = (char *)"t";
    md.file_name = (char *)"x.mp4";
    md.cate_id = -1;
    md.bucket = (char *)"media";
    md.object_key = (char *)"sv/x.mp4";
    md.created = modified;
    assert_int_equal(vodup_meta_media_create(f->c.meta, &md), VODUP_META_OK);
}

static void test_scope_check(void **state)
{
    fx *f = *state;
    vodup_cred cred;
    memset(&cred, 0, sizeof cred);
    cred.has_scope = 1;
    snprintf(cred.scope_bucket, sizeof cred.scope_bucket, "media");
    cred.scope_key = strdup("sv/x.mp4");
    cred.scope_key_len = 8;
    cred.scope_ops = json_pack("[ss]", "PutObject", "CompleteMultipartUpload");
    cred.issued_ms = 2000 * 1000LL;
    assert_non_null(cred.scope_ops);
    core_scope_result res;
    vodupd_detail d = {0};
    /* outside the scope: another key, another operation */
    assert_int_equal(core_scope_check(&f->c, &cred, "PutObject", CORE_WRITE_PUT, "media", "sv/y.mp4", 8, NULL, &res, &d),
                     VODUPD_EDENIED);
    assert_int_equal(d.deny, VODUPD_DENY_SCOPE);
    assert_int_equal(core_scope_check(&f->c, &cred, "DeleteObject", CORE_WRITE_OTHER, "media", "sv/x.mp4", 8, NULL,
                                      &res, &d), VODUPD_EDENIED);
    /* no media at the key: revoked */
    assert_int_equal(core_scope_check(&f->c, &cred, "PutObject", CORE_WRITE_PUT, "media", "sv/x.mp4", 8, NULL, &res, &d),
                     VODUPD_EREVOKED);
    media_at(f, "Uploading", 1500);
    assert_int_equal(core_scope_check(&f->c, &cred, "PutObject", CORE_WRITE_PUT, "media", "sv/x.mp4", 8, NULL, &res, &d),
                     VODUPD_OK);
    assert_false(res.replay_only);
    /* completed after the credentials were issued: a PutObject may only replay */
    media_at(f, "UploadSucc", 3000);
    assert_int_equal(core_scope_check(&f->c, &cred, "PutObject", CORE_WRITE_PUT, "media", "sv/x.mp4", 8, NULL, &res, &d),
                     VODUPD_OK);
    assert_true(res.replay_only);
    char id[33];
    initiate(f, "sv/x.mp4", id);
    assert_int_equal(core_scope_check(&f->c, &cred, "CompleteMultipartUpload", CORE_WRITE_COMPLETE, "media", "sv/x.mp4",
                                      8, id, &res, &d), VODUPD_EDENIED);
    assert_int_equal(d.deny, VODUPD_DENY_COMPLETE);
    vodup_meta_guard g;
    assert_ptr_equal(core_write_guard(&cred, &g), &g);
    assert_int_equal(g.issued_ms, cred.issued_ms);
    free(cred.scope_key);
    json_decref(cred.scope_ops);
}

typedef struct parts_read {
    vodup_meta_part p[4];
    size_t n;
} parts_read;

static int read_part(const vodup_meta_part *p, void *u)
{
    parts_read *pr = u;
    if (pr->n < 4)
        pr->p[pr->n++] = *p;
    return 0;
}

/* The store commits a Complete only while its parts are as the core read them. */
static void test_commit_refuses_stale_parts(void **state)
{
    fx *f = *state;
    char id[33];
    initiate(f, "race", id);
    vodup_meta_complete_part cp[2];
    part(f, id, 1, "abcdef", &cp[0]);
    part(f, id, 2, "gh", &cp[1]);
    parts_read pr = {{{0}}, 0};
    assert_int_equal(vodup_meta_part_list(f->c.meta, id, 0, 10, read_part, &pr), VODUP_META_OK);
    assert_int_equal(pr.n, 2);
    vodup_meta_part *read = pr.p;
    /* part 2 is uploaded again after it was read */
    part(f, id, 2, "GH", &cp[1]);
    vodup_meta_object fields;
    memset(&fields, 0, sizeof fields);
    snprintf(fields.etag, sizeof fields.etag, "X-2");
    size_t bad = 99;
    assert_int_equal(vodup_meta_upload_commit(f->c.meta, id, read, 2, &fields, NULL, NULL, &bad),
                     VODUP_META_EINVALIDPART);
    assert_int_equal(bad, 1);
    /* the core reads again and completes with the new part */
    vodup_meta_object o;
    vodupd_detail d = {0};
    assert_int_equal(core_upload_complete(&f->c, &RULES, id, cp, 2, NULL, &o, &d), VODUPD_OK);
    assert_int_equal(o.size, 8);
    vodup_meta_object_clear(&o);
    assert_int_equal(core_object_get(&f->c, "media", "race", 4, &o, &d), VODUPD_OK);
    char buf[16] = {0};
    assert_int_equal(o.nsegs, 2);
    assert_int_equal(vodup_blob_read(f->c.blobs, o.segs[1].blob, 0, buf, sizeof buf), 2);
    assert_string_equal(buf, "GH");
    vodup_meta_object_clear(&o);
}

typedef struct race {
    fx *f;
    const char *id;
} race;

static void upload_part_again(void *u)
{
    race *rc = u;
    vodup_meta_complete_part cp;
    part(rc->f, rc->id, 1, "abcdef", &cp); /* a retried UploadPart: same bytes, new blob */
}

/* A part uploaded again (a client's retry) between the core's read and the store's
 * commit: the core reads again and completes with the new blob, instead of refusing a
 * valid list. */
static void test_complete_rereads_after_race(void **state)
{
    fx *f = *state;
    if (!f->fake)
        skip(); /* only the fake can run code between the core's read and its commit */
    char id[33];
    initiate(f, "race", id);
    vodup_meta_complete_part cp[1];
    part(f, id, 1, "abcdef", &cp[0]);
    race rc = {f, id};
    fm(f->c.meta)->before_commit = upload_part_again;
    fm(f->c.meta)->before_commit_u = &rc;
    vodupd_detail d = {0};
    vodup_meta_object o;
    assert_int_equal(core_upload_complete(&f->c, &RULES, id, cp, 1, NULL, NULL, &d), VODUPD_OK);
    assert_int_equal(core_object_get(&f->c, "media", "race", 4, &o, &d), VODUPD_OK);
    char buf[16] = {0};
    assert_int_equal(vodup_blob_read(f->c.blobs, o.segs[0].blob, 0, buf, sizeof buf), 6);
    assert_string_equal(buf, "abcdef");
    /* the object holds the second blob; the first is garbage */
    char ids[4][33];
    assert_int_equal(vodup_meta_gc_take(f->c.meta, ids, 4), 1);
    assert_string_not_equal(ids[0], o.segs[0].blob);
    vodup_meta_object_clear(&o);
}

/* ---- the media core (media.h) ------------------------------------------------------------
 * Over SQLite only: the fake store has no media records beyond the one scope.c reads. */

static void test_media_get_refusals(void **state)
{
    fx *f = *state;
    if (f->fake)
        skip();
    media_at(f, "Uploading", 1500);
    char id[33];
    snprintf(id, sizeof id, "%032x", 7u);
    vodup_meta_media md;
    vodupd_detail d = {0};
    assert_int_equal(core_media_get(&f->c, "acc1", id, "video", &md, &d), VODUPD_OK);
    assert_string_equal(md.object_key, "sv/x.mp4");
    vodup_meta_media_clear(&md);
    /* another account's, another kind's, and no such id: all the same ENOKEY */
    assert_int_equal(core_media_get(&f->c, "acc2", id, "video", &md, &d), VODUPD_ENOKEY);
    assert_int_equal(core_media_get(&f->c, "acc1", id, "image", &md, &d), VODUPD_ENOKEY);
    assert_int_equal(core_media_get(&f->c, "acc1", "0123", NULL, &md, &d), VODUPD_ENOKEY);
    assert_int_equal(core_media_delete(&f->c, "acc2", id, "video", &d), VODUPD_ENOKEY);
    assert_int_equal(core_media_delete(&f->c, "acc1", id, "image", &d), VODUPD_ENOKEY);
    assert_int_equal(f->gc_kicks, 0);
    /* the refused deletes left it in place */
    assert_int_equal(core_media_get(&f->c, "acc1", id, NULL, &md, &d), VODUPD_OK);
    vodup_meta_media_clear(&md);
}

/* Deleting a media drops its object (collector kicked) and revokes its upload
 * credentials: their next write is EREVOKED. */
static void test_media_delete_revokes(void **state)
{
    fx *f = *state;
    if (f->fake)
        skip();
    media_at(f, "Uploading", 1500);
    assert_int_equal(put(f, "sv/x.mp4", "abc"), VODUPD_OK);
    int kicks = f->gc_kicks;
    vodup_cred cred;
    memset(&cred, 0, sizeof cred);
    cred.has_scope = 1;
    snprintf(cred.scope_bucket, sizeof cred.scope_bucket, "media");
    cred.scope_key = strdup("sv/x.mp4");
    cred.scope_key_len = 8;
    cred.scope_ops = json_pack("[s]", "PutObject");
    cred.issued_ms = 2000 * 1000LL;
    assert_non_null(cred.scope_ops);
    core_scope_result res;
    vodupd_detail d = {0};
    assert_int_equal(core_scope_check(&f->c, &cred, "PutObject", CORE_WRITE_PUT, "media", "sv/x.mp4", 8, NULL, &res, &d),
                     VODUPD_OK);
    char id[33];
    snprintf(id, sizeof id, "%032x", 7u);
    assert_int_equal(core_media_delete(&f->c, "acc1", id, "video", &d), VODUPD_OK);
    assert_int_equal(f->gc_kicks, kicks + 1);
    vodup_meta_object o;
    assert_int_equal(core_object_get(&f->c, "media", "sv/x.mp4", 8, &o, &d), VODUPD_ENOKEY);
    assert_int_equal(core_scope_check(&f->c, &cred, "PutObject", CORE_WRITE_PUT, "media", "sv/x.mp4", 8, NULL, &res, &d),
                     VODUPD_EREVOKED);
    assert_int_equal(core_media_delete(&f->c, "acc1", id, "video", &d), VODUPD_ENOKEY);
    free(cred.scope_key);
    json_decref(cred.scope_ops);
}

static void test_media_account_state(void **state)
{
    fx *f = *state;
    if (f->fake)
        skip();
    vodupd_detail d = {0};
    /* the default VOD storage: made once, the same afterwards, checked as the account's */
    char b1[64], b2[64];
    assert_int_equal(core_media_storage(&f->c, "acc1", b1, &d), VODUPD_OK);
    assert_int_equal(strncmp(b1, "outin-", 6), 0);
    assert_int_equal(core_media_storage(&f->c, "acc1", b2, &d), VODUPD_OK);
    assert_string_equal(b1, b2);
    assert_int_equal(core_media_storage_check(&f->c, "acc1", b1, &d), VODUPD_OK);
    assert_int_equal(core_media_storage_check(&f->c, "acc1", "media", &d), VODUPD_ENOBUCKET);
    assert_int_equal(core_media_storage_check(&f->c, "acc2", b1, &d), VODUPD_ENOBUCKET);
    /* callbacks: none, then set (the event sender kicked) */
    char *text = (char *)"x";
    assert_int_equal(core_callback_get(&f->c, "acc1", &text, &d), VODUPD_OK);
    assert_null(text);
    assert_int_equal(core_callback_set(&f->c, "acc1", "{\"CallbackURL\":\"http://h/\"}", &d), VODUPD_OK);
    assert_int_equal(f->event_kicks, 1);
    assert_int_equal(core_callback_get(&f->c, "acc1", &text, &d), VODUPD_OK);
    assert_non_null(strstr(text, "http://h/"));
    free(text);
    /* a nonce is good once */
    assert_int_equal(core_nonce_use(&f->c, "AK1", "n-1", 1000, 60, &d), VODUPD_OK);
    assert_int_equal(core_nonce_use(&f->c, "AK1", "n-1", 1001, 60, &d), VODUPD_EEXISTS);
    assert_int_equal(core_nonce_use(&f->c, "AK1", "n-2", 1001, 60, &d), VODUPD_OK);
    vodup_meta_principal p;
    assert_int_equal(core_principal_get(&f->c, "role", "acc1", "nobody", &p, &d), VODUPD_ENOKEY);
}

/* The conditional-request rules both dialects share (core/cond.c): 412 before 304, a
 * holding If-Match overrides a failing If-Unmodified-Since, a failing If-None-Match leaves
 * If-Modified-Since to decide (S3's documented rule), bad dates ignored, tag lists and "*". */
static void test_conditions(void **state)
{
    (void)state;
    const char *etag = "0CC175B9C0F1B6A831C399E269772661";
    time_t m = 1700000000; /* Tue, 14 Nov 2023 22:13:20 GMT */
    const char *before = "Tue, 14 Nov 2023 21:13:20 GMT", *after = "Tue, 14 Nov 2023 23:13:20 GMT";
    core_conditions none = {0};
    assert_int_equal(core_conditions_check(&none, etag, m), 0);
    core_conditions c = {.if_match = "\"0cc175b9c0f1b6a831c399e269772661\""};
    assert_int_equal(core_conditions_check(&c, etag, m), 0);
    c.if_match = "\"abc\", \"def\"";
    assert_int_equal(core_conditions_check(&c, etag, m), 412);
    c.if_match = "\"abc\", 0CC175B9C0F1B6A831C399E269772661";
    assert_int_equal(core_conditions_check(&c, etag, m), 0);
    c.if_match = "*";
    assert_int_equal(core_conditions_check(&c, etag, m), 0);
    c = (core_conditions){.if_unmodified_since = before};
    assert_int_equal(core_conditions_check(&c, etag, m), 412);
    c.if_unmodified_since = after;
    assert_int_equal(core_conditions_check(&c, etag, m), 0);
    c.if_unmodified_since = "not a date";
    assert_int_equal(core_conditions_check(&c, etag, m), 0);
    c = (core_conditions){.if_match = etag, .if_unmodified_since = before};
    assert_int_equal(core_conditions_check(&c, etag, m), 0);
    c = (core_conditions){.if_none_match = etag};
    assert_int_equal(core_conditions_check(&c, etag, m), 304);
    c.if_none_match = "\"abc\"";
    assert_int_equal(core_conditions_check(&c, etag, m), 0);
    c = (core_conditions){.if_modified_since = after};
    assert_int_equal(core_conditions_check(&c, etag, m), 304);
    c.if_modified_since = before;
    assert_int_equal(core_conditions_check(&c, etag, m), 0);
    c = (core_conditions){.if_none_match = "\"abc\"", .if_modified_since = after};
    assert_int_equal(core_conditions_check(&c, etag, m), 304);
    c = (core_conditions){.if_match = "\"abc\"", .if_none_match = etag};
    assert_int_equal(core_conditions_check(&c, etag, m), 412);
}

/* ---- storage quotas ------------------------------------------------------------------- */

/* Over the limit, a put or part is refused before its blob is committed (nothing stays),
 * with the limit and the usage; a replaced object gives its bytes back; deleting gives
 * space back; the account's own quota overrides the default (0: none). */
static void test_storage_quota(void **state)
{
    fx *f = *state;
    f->c.storage_quota = 20;
    assert_int_equal(put(f, "a", "0123456789"), VODUPD_OK);              /* 10 of 20 */
    core_ingest *in = ingest(f, "0123456789X", 4);                        /* 21 > 20 */
    core_put p = {"media", "b", 1, "video/mp4", NULL, NULL};
    vodupd_detail d = {0};
    assert_int_equal(core_object_put(&f->c, &p, in, &d), VODUPD_EQUOTA);
    core_ingest_free(in);
    assert_int_equal(d.limit, 20);
    assert_int_equal(d.used, 10);
    assert_int_equal(fake_live_count(f->fb), 1);                          /* only "a" */
    vodup_meta_object o;
    assert_int_equal(core_object_get(&f->c, "media", "b", 1, &o, &d), VODUPD_ENOKEY);
    assert_int_equal(put(f, "a", "0123456789012345678"), VODUPD_OK);     /* replaces: 19 */
    uint64_t used = 0, limit = 0;
    assert_int_equal(core_quota_get(&f->c, "acc1", &used, &limit, &d), VODUPD_OK);
    assert_int_equal(used, 19);
    assert_int_equal(limit, 20);

    /* a part over the limit */
    char id[33];
    initiate(f, "m", id);
    in = ingest(f, "xy", 2);
    memset(&d, 0, sizeof d);
    assert_int_equal(core_part_put(&f->c, id, 1, in, NULL, &d), VODUPD_EQUOTA);
    core_ingest_free(in);
    assert_int_equal(d.used, 19);
    in = ingest(f, "x", 1);
    assert_int_equal(core_part_put(&f->c, id, 1, in, NULL, &d), VODUPD_OK); /* exactly 20 */
    core_ingest_free(in);

    /* deleting gives the space back */
    assert_int_equal(core_object_delete(&f->c, "media", "a", 1, &d), VODUPD_OK);
    assert_int_equal(put(f, "b", "0123456789"), VODUPD_OK);
    assert_int_equal(core_quota_get(&f->c, "acc1", &used, NULL, &d), VODUPD_OK);
    assert_int_equal(used, 11);

    /* the account's own quota wins over the default */
    assert_int_equal(vodup_meta_quota_set(f->c.meta, "acc1", 12), VODUP_META_OK);
    assert_int_equal(put(f, "c", "xy"), VODUPD_EQUOTA);
    assert_int_equal(vodup_meta_quota_set(f->c.meta, "acc1", 0), VODUP_META_OK);
    assert_int_equal(put(f, "c", "0123456789012345678901234"), VODUPD_OK);
    assert_int_equal(core_quota_get(&f->c, "acc1", NULL, &limit, &d), VODUPD_OK);
    assert_int_equal(limit, 0);
}

/* ---- copies --------------------------------------------------------------------------- */

static int count_pin(void *u, const vodup_meta_segment *segs, size_t n)
{
    (void)segs;
    ((fx *)u)->pins += (int)n;
    return 0;
}

static void count_unpin(void *u, const vodup_meta_segment *segs, size_t n)
{
    (void)segs;
    ((fx *)u)->pins -= (int)n;
}

/* The bytes of the one blob of key. */
static const fake_blob *blob_of(fx *f, const char *key, vodup_meta_object *o)
{
    vodupd_detail d = {0};
    assert_int_equal(core_object_get(&f->c, "media", key, strlen(key), o, &d), VODUPD_OK);
    assert_int_equal(o->nsegs, 1);
    const fake_blob *b = fake_find(f->fb, o->segs[0].blob);
    assert_non_null(b);
    return b;
}

static void test_copy(void **state)
{
    fx *f = *state;
    f->c.pin = count_pin;
    f->c.unpin = count_unpin;
    vodup_cred root;
    memset(&root, 0, sizeof root);
    snprintf(root.account_id, sizeof root.account_id, "acc1");
    assert_int_equal(put(f, "src", "hello copy world"), VODUPD_OK);
    core_copy_from from = {&root, "/media/src", {NULL, NULL, NULL, NULL}, NULL};
    core_copy p = {"media", "dst", 3, 0, NULL, NULL, 1, 1024, NULL};
    core_copy_result res;
    vodupd_detail d = {0};

    /* to another key: the bytes streamed into a blob of its own, the metadata kept */
    int commits = f->fb->commits;
    assert_int_equal(core_copy_object(&f->c, &from, &p, &res, &d), VODUPD_OK);
    assert_int_equal(res.stopped, 0);
    assert_int_equal(f->fb->commits, commits + 1);
    assert_int_equal(f->pins, 0);
    vodup_meta_object a, b;
    const fake_blob *ba = blob_of(f, "src", &a), *bb = blob_of(f, "dst", &b);
    assert_string_not_equal(a.segs[0].blob, b.segs[0].blob);
    assert_int_equal(bb->len, 16);
    assert_memory_equal(bb->data, "hello copy world", 16);
    assert_memory_equal(ba->data, bb->data, 16);
    assert_string_equal(a.etag, b.etag);
    assert_string_equal(res.etag, b.etag);
    assert_string_equal(b.content_type, "video/mp4");
    assert_int_equal(res.mtime, b.mtime);
    char dst_blob[VODUP_BLOB_ID_LEN + 1];
    memcpy(dst_blob, b.segs[0].blob, sizeof dst_blob);
    vodup_meta_object_clear(&a);
    vodup_meta_object_clear(&b);

    /* onto itself: S3's refusal without REPLACE; with it, the metadata only */
    from.source = "media/dst";
    assert_int_equal(core_copy_object(&f->c, &from, &p, &res, &d), VODUPD_EBADREQUEST);
    assert_non_null(d.what);
    p.replace = 1;
    p.content_type = "text/plain";
    p.user_meta = "{\"a\":\"b\"}";
    commits = f->fb->commits;
    assert_int_equal(core_copy_object(&f->c, &from, &p, &res, &d), VODUPD_OK);
    assert_int_equal(f->fb->commits, commits);
    blob_of(f, "dst", &b);
    assert_string_equal(b.segs[0].blob, dst_blob);
    assert_string_equal(b.content_type, "text/plain");
    assert_string_equal(b.user_meta, "{\"a\":\"b\"}");
    vodup_meta_object_clear(&b);
    p.replace = 0;
    p.self_needs_replace = 0; /* OSS: allowed, the time moves */
    assert_int_equal(core_copy_object(&f->c, &from, &p, &res, &d), VODUPD_OK);

    /* a failing condition stops it before anything is written */
    from.source = "media/src";
    from.cond.if_match = "\"00\"";
    p.key = "cond";
    p.key_len = 4;
    commits = f->fb->commits;
    assert_int_equal(core_copy_object(&f->c, &from, &p, &res, &d), VODUPD_OK);
    assert_int_equal(res.stopped, 412);
    assert_int_equal(f->fb->commits, commits);
    assert_int_equal(core_object_get(&f->c, "media", "cond", 4, &b, &d), VODUPD_ENOKEY);
    from.cond.if_match = NULL;

    /* a part from a range; ranges of another form or past the source stop it */
    char id[33];
    initiate(f, "mp", id);
    from.range = "bytes=6-9";
    assert_int_equal(core_upload_part_copy(&f->c, &from, id, 1, 1024, NULL, &res, &d), VODUPD_OK);
    assert_int_equal(res.size, 4);
    char want[33];
    unsigned char md[16];
    vodup_md5(md, "copy", 4);
    vodup_hex_upper(want, md, 16);
    assert_string_equal(res.etag, want);
    from.range = "bytes=6-";
    assert_int_equal(core_upload_part_copy(&f->c, &from, id, 2, 1024, NULL, &res, &d), VODUPD_OK);
    assert_int_equal(res.stopped, 400);
    from.range = "bytes=6-16";
    assert_int_equal(core_upload_part_copy(&f->c, &from, id, 2, 1024, NULL, &res, &d), VODUPD_OK);
    assert_int_equal(res.stopped, 416);
    assert_int_equal(res.source_size, 16);
    from.range = NULL;
    assert_int_equal(core_upload_part_copy(&f->c, &from, id, 2, 15, NULL, &res, &d), VODUPD_ETOOLARGE);
    assert_int_equal(core_upload_part_copy(&f->c, &from, "0123456789ABCDEF0123456789ABCDEF", 1, 1024, NULL, &res, &d),
                     VODUPD_ENOUPLOAD);

    /* the source header */
    const struct {
        const char *source;
        vodupd_status st;
    } heads[] = {{"media/src?versionId=3", VODUPD_ENOTIMPL}, {"media", VODUPD_EBADREQUEST},
                 {"/media/", VODUPD_EBADREQUEST}, {"/media/s%zz", VODUPD_EBADREQUEST},
                 {"/media/a%00b", VODUPD_EBADREQUEST}, {"/media/nope", VODUPD_ENOKEY},
                 {"/other/src", VODUPD_ENOBUCKET}};
    p.key = "h";
    p.key_len = 1;
    for (size_t i = 0; i < sizeof heads / sizeof heads[0]; i++) {
        from.source = heads[i].source;
        assert_int_equal(core_copy_object(&f->c, &from, &p, &res, &d), heads[i].st);
    }
    assert_int_equal(put(f, "sp ace/x?", "0123"), VODUPD_OK);
    from.source = "/media/sp%20ace/x%3F";
    assert_int_equal(core_copy_object(&f->c, &from, &p, &res, &d), VODUPD_OK);
    assert_int_equal(res.size, 4);

    /* upload credentials read no object, not even their own */
    vodup_cred up;
    memset(&up, 0, sizeof up);
    snprintf(up.account_id, sizeof up.account_id, "acc1");
    up.has_scope = 1;
    snprintf(up.scope_bucket, sizeof up.scope_bucket, "media");
    up.scope_key = strdup("src");
    up.scope_key_len = 3;
    up.scope_ops = json_pack("[ss]", "PutObject", "UploadPart");
    assert_non_null(up.scope_ops);
    from.cred = &up;
    from.source = "media/src";
    memset(&d, 0, sizeof d);
    assert_int_equal(core_copy_object(&f->c, &from, &p, &res, &d), VODUPD_EDENIED);
    assert_int_equal(d.deny, VODUPD_DENY_SCOPE);
    free(up.scope_key);
    json_decref(up.scope_ops);
    from.cred = &root;

    /* the destination's quota, before a byte is read */
    uint64_t used = 0;
    assert_int_equal(core_quota_get(&f->c, "acc1", &used, NULL, &d), VODUPD_OK);
    f->c.storage_quota = used + 15;
    p.key = "q";
    commits = f->fb->commits;
    assert_int_equal(core_copy_object(&f->c, &from, &p, &res, &d), VODUPD_EQUOTA);
    assert_int_equal(f->fb->commits, commits);
    assert_int_equal(f->pins, 0);
}

static void test_status_names(void **state)
{
    (void)state;
    for (int s = 0; s < VODUPD_STATUS__COUNT; s++)
        assert_string_not_equal(vodupd_status_name((vodupd_status)s), "?");
    assert_string_equal(vodupd_status_name(VODUPD_STATUS__COUNT), "?");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_commit_refuses_stale_parts, setup, teardown),
        cmocka_unit_test_setup_teardown(test_complete_rereads_after_race, setup, teardown),
        cmocka_unit_test_setup_teardown(test_ingest_digests, setup, teardown),
        cmocka_unit_test_setup_teardown(test_ingest_bad_md5_stores_nothing, setup, teardown),
        cmocka_unit_test_setup_teardown(test_ingest_crc_declared, setup, teardown),
        cmocka_unit_test_setup_teardown(test_ingest_limit, setup, teardown),
        cmocka_unit_test_setup_teardown(test_ingest_full_disk, setup, teardown),
        cmocka_unit_test_setup_teardown(test_put_get_and_overwrite_kicks_gc, setup, teardown),
        cmocka_unit_test_setup_teardown(test_put_failure_removes_blob, setup, teardown),
        cmocka_unit_test_setup_teardown(test_empty_body_writes_no_blob, setup, teardown),
        cmocka_unit_test_setup_teardown(test_delete_kicks_gc, setup, teardown),
        cmocka_unit_test_setup_teardown(test_buckets, setup, teardown),
        cmocka_unit_test_setup_teardown(test_complete_part_rules, setup, teardown),
        cmocka_unit_test_setup_teardown(test_upload_refusals, setup, teardown),
        cmocka_unit_test_setup_teardown(test_listing_common_prefixes, setup, teardown),
        cmocka_unit_test(test_scope_decide),
        cmocka_unit_test_setup_teardown(test_scope_check, setup, teardown),
        cmocka_unit_test_setup_teardown(test_storage_quota, setup, teardown),
        cmocka_unit_test_setup_teardown(test_copy, setup, teardown),
        cmocka_unit_test(test_status_names),
        cmocka_unit_test(test_conditions),
        cmocka_unit_test_setup_teardown(test_media_get_refusals, setup, teardown),
        cmocka_unit_test_setup_teardown(test_media_delete_revokes, setup, teardown),
        cmocka_unit_test_setup_teardown(test_media_account_state, setup, teardown),
    };
    use_fake_meta = 1;
    int failed = cmocka_run_group_tests_name("core over the fake metadata store", tests, NULL, NULL);
    use_fake_meta = 0;
    failed += cmocka_run_group_tests_name("core over SQLite", tests, NULL, NULL);
    return failed;
}
