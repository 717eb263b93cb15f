/* fake_meta.h - an in-memory metadata back end for unit tests of the layers above the
 * store (test_core.c): a vodup_meta_ops table (store/meta_ops.h) with only the members
 * the object core uses; every other member is NULL, so a call the fake does not expect
 * crashes the test at once instead of passing silently.
 *
 * It keeps the store's contract for what it implements (meta.h): byte-order listings,
 * replaced objects' and dropped parts' blobs on the garbage list, ENOTFOUND for a
 * missing parent, the per-account upload quota, Complete checking that parts are still
 * as read. Protocol rules are not its business: the core's. Guards (upload credentials)
 * are not supported: a guarded write with a guard answers EIO. One media record can be
 * set by the test (fake_meta_set_media) for the scope check.
 *
 * Header-only (static), one test executable includes it. Not thread-safe.
 */
#ifndef VODUP_TESTS_FAKE_META_H
#define VODUP_TESTS_FAKE_META_H

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "server/store/meta_ops.h"

#define FM_MAX 64

typedef struct fm_object {
    int used;
    char bucket[64];
    char key[256];
    size_t key_len;
    vodup_meta_object o;        /* strings point into this struct or are strdup'd */
    vodup_meta_segment segs[FM_MAX];
    size_t nsegs;
} fm_object;

typedef struct fm_upload {
    int used;
    char id[33];
    char bucket[64];
    char key[256];
    size_t key_len;
    char account[33];
    time_t initiated;
    vodup_meta_part parts[FM_MAX];   /* ascending by number */
    size_t nparts;
} fm_upload;

typedef struct fake_meta {
    vodup_meta base;
    struct { int used; char name[64]; char account[33]; time_t created; } buckets[FM_MAX];
    fm_object objects[FM_MAX];
    fm_upload uploads[FM_MAX];
    char garbage[FM_MAX * 4][33];
    int ngarbage;
    int has_media;
    char media_bucket[64], media_key[256], media_status[20];
    time_t media_modified;
    /* Runs once at the start of the next upload_commit, then is cleared: a test's way to
     * change the store between the core's read and its commit (a race it cannot time). */
    void (*before_commit)(void *u);
    void *before_commit_u;
    int64_t quota;              /* every account's own storage quota (meta_quota.h); -1 none */
} fake_meta;

static inline fake_meta *fm(vodup_meta *m)
{
    return (fake_meta *)m;
}

static inline void fm_garbage(fake_meta *f, const char *blob)
{
    if (blob[0] && f->ngarbage < FM_MAX * 4) {
        size_t n = strnlen(blob, 32);
        memmove(f->garbage[f->ngarbage], blob, n);
        f->garbage[f->ngarbage++][n] = '\0';
    }
}

static inline int fm_bucket_find(fake_meta *f, const char *name)
{
    for (int i = 0; i < FM_MAX; i++)
        if (f->buckets[i].used && strcmp(f->buckets[i].name, name) == 0)
            return i;
    return -1;
}

static inline int fm_bucket_create(vodup_meta *m, const char *name, const char *account_id, time_t now)
{
    fake_meta *f = fm(m);
    if (fm_bucket_find(f, name) >= 0)
        return VODUP_META_EEXISTS;
    for (int i = 0; i < FM_MAX; i++) {
        if (!f->buckets[i].used) {
            f->buckets[i].used = 1;
            snprintf(f->buckets[i].name, sizeof f->buckets[i].name, "%s", name);
            snprintf(f->buckets[i].account, sizeof f->buckets[i].account, "%s", account_id);
            f->buckets[i].created = now;
            return VODUP_META_OK;
        }
    }
    return VODUP_META_ELIMIT;
}

static inline int fm_bucket_get(vodup_meta *m, const char *name, vodup_meta_bucket *out)
{
    fake_meta *f = fm(m);
    int i = fm_bucket_find(f, name);
    if (i < 0)
        return VODUP_META_ENOTFOUND;
    out->name = strdup(f->buckets[i].name);
    out->account_id = strdup(f->buckets[i].account);
    out->created = f->buckets[i].created;
    return out->name && out->account_id ? VODUP_META_OK : VODUP_META_ENOMEM;
}

static inline int fm_object_find(fake_meta *f, const char *bucket, const char *key, size_t key_len)
{
    for (int i = 0; i < FM_MAX; i++)
        if (f->objects[i].used && strcmp(f->objects[i].bucket, bucket) == 0 && f->objects[i].key_len == key_len &&
            memcmp(f->objects[i].key, key, key_len) == 0)
            return i;
    return -1;
}

static inline int fm_bucket_delete(vodup_meta *m, const char *name)
{
    fake_meta *f = fm(m);
    int i = fm_bucket_find(f, name);
    if (i < 0)
        return VODUP_META_ENOTFOUND;
    for (int k = 0; k < FM_MAX; k++)
        if ((f->objects[k].used && strcmp(f->objects[k].bucket, name) == 0) ||
            (f->uploads[k].used && strcmp(f->uploads[k].bucket, name) == 0))
            return VODUP_META_ENOTEMPTY;
    f->buckets[i].used = 0;
    return VODUP_META_OK;
}

static inline int fm_bucket_list(vodup_meta *m, const char *account_id, int (*cb)(const vodup_meta_bucket *b, void *u),
                                 void *u)
{
    fake_meta *f = fm(m);
    /* name order: a selection pass per entry is enough for FM_MAX buckets */
    const char *last = "";
    for (;;) {
        int best = -1;
        for (int i = 0; i < FM_MAX; i++)
            if (f->buckets[i].used && strcmp(f->buckets[i].account, account_id) == 0 &&
                strcmp(f->buckets[i].name, last) > 0 && (best < 0 || strcmp(f->buckets[i].name, f->buckets[best].name) < 0))
                best = i;
        if (best < 0)
            return VODUP_META_OK;
        vodup_meta_bucket b = {f->buckets[best].name, f->buckets[best].account, f->buckets[best].created};
        if (cb(&b, u))
            return VODUP_META_OK;
        last = f->buckets[best].name;
    }
}

static inline void fm_object_drop(fake_meta *f, fm_object *x)
{
    for (size_t s = 0; s < x->nsegs; s++)
        fm_garbage(f, x->segs[s].blob);
    free(x->o.content_type);
    free(x->o.user_meta);
    memset(x, 0, sizeof *x);
}

/* Records o made of segs; ENOTFOUND without its bucket. */
static inline int fm_object_store(fake_meta *f, const vodup_meta_object *o, const vodup_meta_segment *segs, size_t n)
{
    if (fm_bucket_find(f, o->bucket) < 0)
        return VODUP_META_ENOTFOUND;
    if (o->key_len > sizeof f->objects[0].key || n > FM_MAX)
        return VODUP_META_EIO;
    int i = fm_object_find(f, o->bucket, o->key, o->key_len);
    if (i >= 0)
        fm_object_drop(f, &f->objects[i]);
    for (i = 0; i < FM_MAX && f->objects[i].used; i++)
        ;
    if (i == FM_MAX)
        return VODUP_META_ELIMIT;
    fm_object *x = &f->objects[i];
    x->used = 1;
    snprintf(x->bucket, sizeof x->bucket, "%s", o->bucket);
    memcpy(x->key, o->key, o->key_len);
    x->key_len = o->key_len;
    x->o = *o;
    x->o.bucket = x->bucket;
    x->o.key = x->key;
    x->o.content_type = o->content_type ? strdup(o->content_type) : NULL;
    x->o.user_meta = o->user_meta ? strdup(o->user_meta) : NULL;
    memcpy(x->segs, segs, n * sizeof *segs);
    x->nsegs = n;
    x->o.segs = NULL;
    x->o.nsegs = 0;
    return VODUP_META_OK;
}

static inline int fm_object_put_guarded(vodup_meta *m, const vodup_meta_object *o, const vodup_meta_guard *g)
{
    if (g)
        return VODUP_META_EIO;
    return fm_object_store(fm(m), o, o->segs, o->nsegs);
}

/* A copy the caller clears with vodup_meta_object_clear. */
static inline int fm_object_copy(const fm_object *x, vodup_meta_object *out, int with_segs)
{
    *out = x->o;
    out->bucket = strdup(x->bucket);
    out->key = malloc(x->key_len + 1);
    out->content_type = x->o.content_type ? strdup(x->o.content_type) : NULL;
    out->user_meta = x->o.user_meta ? strdup(x->o.user_meta) : NULL;
    out->segs = NULL;
    out->nsegs = 0;
    if (out->key) {
        memcpy(out->key, x->key, x->key_len);
        out->key[x->key_len] = '\0';
    }
    if (with_segs && x->nsegs) {
        out->segs = malloc(x->nsegs * sizeof *out->segs);
        if (out->segs) {
            memcpy(out->segs, x->segs, x->nsegs * sizeof *out->segs);
            out->nsegs = x->nsegs;
        }
    }
    return VODUP_META_OK;
}

static inline int fm_object_get(vodup_meta *m, const char *bucket, const char *key, size_t key_len,
                                vodup_meta_object *out)
{
    fake_meta *f = fm(m);
    int i = fm_object_find(f, bucket, key, key_len);
    if (i < 0)
        return VODUP_META_ENOTFOUND;
    return fm_object_copy(&f->objects[i], out, 1);
}

static inline int fm_object_delete(vodup_meta *m, const char *bucket, const char *key, size_t key_len)
{
    fake_meta *f = fm(m);
    int i = fm_object_find(f, bucket, key, key_len);
    if (i < 0)
        return VODUP_META_ENOTFOUND;
    fm_object_drop(f, &f->objects[i]);
    return VODUP_META_OK;
}

static inline int fm_keycmp(const char *a, size_t al, const char *b, size_t bl)
{
    int c = memcmp(a, b, al < bl ? al : bl);
    return c ? c : (al > bl) - (al < bl);
}

static inline int fm_object_list(vodup_meta *m, const char *bucket, const char *prefix, size_t prefix_len,
                                 const char *after, size_t after_len, size_t limit,
                                 int (*cb)(const vodup_meta_object *o, void *u), void *u)
{
    fake_meta *f = fm(m);
    const char *last = after;
    size_t last_len = after_len;
    for (size_t n = 0; n < limit; n++) {
        int best = -1;
        for (int i = 0; i < FM_MAX; i++) {
            fm_object *x = &f->objects[i];
            if (!x->used || strcmp(x->bucket, bucket) != 0 || x->key_len < prefix_len ||
                memcmp(x->key, prefix, prefix_len) != 0 || fm_keycmp(x->key, x->key_len, last, last_len) <= 0)
                continue;
            if (best < 0 || fm_keycmp(x->key, x->key_len, f->objects[best].key, f->objects[best].key_len) < 0)
                best = i;
        }
        if (best < 0)
            break;
        vodup_meta_object o;
        fm_object_copy(&f->objects[best], &o, 0);
        int stop = cb(&o, u);
        vodup_meta_object_clear(&o);
        if (stop)
            break;
        last = f->objects[best].key;
        last_len = f->objects[best].key_len;
    }
    return VODUP_META_OK;
}

static inline fm_upload *fm_upload_find(fake_meta *f, const char *id)
{
    for (int i = 0; i < FM_MAX; i++)
        if (f->uploads[i].used && strcmp(f->uploads[i].id, id) == 0)
            return &f->uploads[i];
    return NULL;
}

static inline void fm_upload_copy(const fm_upload *x, vodup_meta_upload *out)
{
    memset(out, 0, sizeof *out);
    memcpy(out->upload_id, x->id, 33);
    out->bucket = strdup(x->bucket);
    out->key = malloc(x->key_len + 1);
    if (out->key) {
        memcpy(out->key, x->key, x->key_len);
        out->key[x->key_len] = '\0';
    }
    out->key_len = x->key_len;
    out->initiated = x->initiated;
    out->content_type = strdup("application/octet-stream");
}

static inline int fm_upload_create_guarded(vodup_meta *m, const vodup_meta_upload *u, const char *account_id,
                                           int max_open, const vodup_meta_guard *g, int max_per_key, int *evicted)
{
    (void)max_per_key;
    fake_meta *f = fm(m);
    if (evicted)
        *evicted = 0;
    if (g)
        return VODUP_META_EIO;
    if (fm_bucket_find(f, u->bucket) < 0)
        return VODUP_META_ENOTFOUND;
    int open = 0, slot = -1;
    for (int i = 0; i < FM_MAX; i++) {
        if (f->uploads[i].used && strcmp(f->uploads[i].account, account_id) == 0)
            open++;
        if (!f->uploads[i].used && slot < 0)
            slot = i;
    }
    if ((max_open && open >= max_open) || slot < 0)
        return VODUP_META_ELIMIT;
    fm_upload *x = &f->uploads[slot];
    memset(x, 0, sizeof *x);
    x->used = 1;
    memcpy(x->id, u->upload_id, 33);
    snprintf(x->bucket, sizeof x->bucket, "%s", u->bucket);
    memcpy(x->key, u->key, u->key_len);
    x->key_len = u->key_len;
    snprintf(x->account, sizeof x->account, "%s", account_id);
    x->initiated = u->initiated;
    return VODUP_META_OK;
}

static inline int fm_upload_get(vodup_meta *m, const char *upload_id, vodup_meta_upload *out)
{
    fm_upload *x = fm_upload_find(fm(m), upload_id);
    if (!x)
        return VODUP_META_ENOTFOUND;
    fm_upload_copy(x, out);
    return VODUP_META_OK;
}

static inline int fm_part_put_guarded(vodup_meta *m, const char *upload_id, const vodup_meta_part *p,
                                      const vodup_meta_guard *g)
{
    fake_meta *f = fm(m);
    if (g)
        return VODUP_META_EIO;
    fm_upload *x = fm_upload_find(f, upload_id);
    if (!x)
        return VODUP_META_ENOTFOUND;
    size_t i = 0;
    while (i < x->nparts && x->parts[i].number < p->number)
        i++;
    if (i < x->nparts && x->parts[i].number == p->number) {
        fm_garbage(f, x->parts[i].blob);
        x->parts[i] = *p;
        return VODUP_META_OK;
    }
    if (x->nparts == FM_MAX)
        return VODUP_META_ELIMIT;
    memmove(&x->parts[i + 1], &x->parts[i], (x->nparts - i) * sizeof x->parts[0]);
    x->parts[i] = *p;
    x->nparts++;
    return VODUP_META_OK;
}

static inline int fm_part_list(vodup_meta *m, const char *upload_id, int marker, size_t limit,
                               int (*cb)(const vodup_meta_part *p, void *u), void *u)
{
    fm_upload *x = fm_upload_find(fm(m), upload_id);
    if (!x)
        return VODUP_META_ENOTFOUND;
    size_t n = 0;
    for (size_t i = 0; i < x->nparts && n < limit; i++) {
        if (x->parts[i].number <= marker)
            continue;
        n++;
        if (cb(&x->parts[i], u))
            break;
    }
    return VODUP_META_OK;
}

static inline int fm_upload_abort(vodup_meta *m, const char *upload_id)
{
    fake_meta *f = fm(m);
    fm_upload *x = fm_upload_find(f, upload_id);
    if (!x)
        return VODUP_META_ENOTFOUND;
    for (size_t i = 0; i < x->nparts; i++)
        fm_garbage(f, x->parts[i].blob);
    memset(x, 0, sizeof *x);
    return VODUP_META_OK;
}

static inline int fm_upload_list(vodup_meta *m, const char *bucket, const char *prefix, size_t prefix_len,
                                 const char *key_marker, size_t key_marker_len, const char *upload_id_marker,
                                 size_t limit, int (*cb)(const vodup_meta_upload *u, void *user), void *user)
{
    fake_meta *f = fm(m);
    /* (key, id) order, strictly after (key_marker, upload_id_marker); "" id: after all of the key */
    const char *lk = key_marker, *lid = upload_id_marker && *upload_id_marker ? upload_id_marker : "\x7f";
    size_t lkl = key_marker_len;
    for (size_t n = 0; n < limit; n++) {
        int best = -1;
        for (int i = 0; i < FM_MAX; i++) {
            fm_upload *x = &f->uploads[i];
            if (!x->used || strcmp(x->bucket, bucket) != 0 || x->key_len < prefix_len ||
                memcmp(x->key, prefix, prefix_len) != 0)
                continue;
            int c = fm_keycmp(x->key, x->key_len, lk, lkl);
            if (c < 0 || (c == 0 && strcmp(x->id, lid) <= 0))
                continue;
            if (best < 0) {
                best = i;
                continue;
            }
            fm_upload *b = &f->uploads[best];
            int cb2 = fm_keycmp(x->key, x->key_len, b->key, b->key_len);
            if (cb2 < 0 || (cb2 == 0 && strcmp(x->id, b->id) < 0))
                best = i;
        }
        if (best < 0)
            break;
        vodup_meta_upload up;
        fm_upload_copy(&f->uploads[best], &up);
        int stop = cb(&up, user);
        vodup_meta_upload_clear(&up);
        if (stop)
            break;
        lk = f->uploads[best].key;
        lkl = f->uploads[best].key_len;
        lid = f->uploads[best].id;
    }
    return VODUP_META_OK;
}

static inline int fm_upload_commit(vodup_meta *m, const char *upload_id, const vodup_meta_part *parts, size_t nparts,
                                   const vodup_meta_object *fields, const vodup_meta_guard *g, vodup_meta_object *out,
                                   size_t *bad_index)
{
    fake_meta *f = fm(m);
    if (out)
        memset(out, 0, sizeof *out);
    if (f->before_commit) {
        void (*hook)(void *) = f->before_commit;
        f->before_commit = NULL;
        hook(f->before_commit_u);
    }
    if (g)
        return VODUP_META_EIO;
    fm_upload *x = fm_upload_find(f, upload_id);
    if (!x)
        return VODUP_META_ENOTFOUND;
    if (nparts == 0 || nparts > FM_MAX)
        return VODUP_META_EINVALIDPART;
    vodup_meta_segment segs[FM_MAX];
    for (size_t i = 0; i < nparts; i++) {
        const vodup_meta_part *now = NULL;
        for (size_t k = 0; k < x->nparts; k++)
            if (x->parts[k].number == parts[i].number)
                now = &x->parts[k];
        if (!now || strcmp(now->blob, parts[i].blob) != 0 || now->size != parts[i].size) {
            *bad_index = i;
            return VODUP_META_EINVALIDPART;
        }
        memcpy(segs[i].blob, now->blob, 33);
        segs[i].size = now->size;
    }
    vodup_meta_object o = *fields;
    o.bucket = x->bucket;
    o.key = x->key;
    o.key_len = x->key_len;
    o.content_type = (char *)"application/octet-stream";
    int rc = fm_object_store(f, &o, segs, nparts);
    if (rc != VODUP_META_OK)
        return rc;
    /* unlisted parts to the garbage list */
    for (size_t k = 0; k < x->nparts; k++) {
        int listed = 0;
        for (size_t i = 0; i < nparts; i++)
            listed |= x->parts[k].number == parts[i].number;
        if (!listed)
            fm_garbage(f, x->parts[k].blob);
    }
    int i = fm_object_find(f, x->bucket, x->key, x->key_len);
    memset(x, 0, sizeof *x);
    return out ? fm_object_copy(&f->objects[i], out, 0) : VODUP_META_OK; /* segs: only object_get fills them */
}

static inline int fm_gc_take(vodup_meta *m, char (*ids)[VODUP_BLOB_ID_LEN + 1], int max)
{
    fake_meta *f = fm(m);
    int n = 0;
    for (; n < max && n < f->ngarbage; n++)
        memcpy(ids[n], f->garbage[n], 33);
    return n;
}

static inline int fm_media_find_object(vodup_meta *m, const char *bucket, const char *key, size_t key_len,
                                       vodup_meta_media *out)
{
    fake_meta *f = fm(m);
    if (!f->has_media || strcmp(f->media_bucket, bucket) != 0 || strlen(f->media_key) != key_len ||
        memcmp(f->media_key, key, key_len) != 0)
        return VODUP_META_ENOTFOUND;
    memset(out, 0, sizeof *out);
    snprintf(out->status, sizeof out->status, "%s", f->media_status);
    out->modified = f->media_modified;
    return VODUP_META_OK;
}

static inline void fm_close(vodup_meta *m)
{
    fake_meta *f = fm(m);
    for (int i = 0; i < FM_MAX; i++)
        if (f->objects[i].used)
            fm_object_drop(f, &f->objects[i]);
    free(f);
}

/* Usage as a sum (the fake's size makes it cheap): objects and parts in the account's
 * buckets. Any account exists; all share the one quota field. */
static inline int fm_usage_get(vodup_meta *m, const char *account_id, uint64_t *used, int64_t *quota)
{
    fake_meta *f = fm(m);
    uint64_t n = 0;
    for (int b = 0; b < FM_MAX; b++) {
        if (!f->buckets[b].used || strcmp(f->buckets[b].account, account_id) != 0)
            continue;
        for (int i = 0; i < FM_MAX; i++)
            if (f->objects[i].used && strcmp(f->objects[i].bucket, f->buckets[b].name) == 0)
                n += f->objects[i].o.size;
        for (int i = 0; i < FM_MAX; i++)
            if (f->uploads[i].used && strcmp(f->uploads[i].bucket, f->buckets[b].name) == 0)
                for (size_t p = 0; p < f->uploads[i].nparts; p++)
                    n += f->uploads[i].parts[p].size;
    }
    if (used)
        *used = n;
    if (quota)
        *quota = f->quota;
    return VODUP_META_OK;
}

static inline int fm_quota_set(vodup_meta *m, const char *account_id, int64_t quota)
{
    (void)account_id;
    fm(m)->quota = quota;
    return VODUP_META_OK;
}

static const vodup_meta_ops FAKE_META_OPS = {
    .version = VODUP_META_OPS_VERSION,
    .name = "fake",
    .close = fm_close,
    .bucket_create = fm_bucket_create,
    .bucket_get = fm_bucket_get,
    .bucket_delete = fm_bucket_delete,
    .bucket_list = fm_bucket_list,
    .object_get = fm_object_get,
    .object_delete = fm_object_delete,
    .object_list = fm_object_list,
    .upload_get = fm_upload_get,
    .part_list = fm_part_list,
    .upload_abort = fm_upload_abort,
    .upload_list = fm_upload_list,
    .gc_take = fm_gc_take,
    .object_put_guarded = fm_object_put_guarded,
    .part_put_guarded = fm_part_put_guarded,
    .upload_commit = fm_upload_commit,
    .upload_create_guarded = fm_upload_create_guarded,
    .media_find_object = fm_media_find_object,
    .usage_get = fm_usage_get,
    .quota_set = fm_quota_set,
};

/* A new fake store (closed with vodup_meta_close), or NULL. */
static inline vodup_meta *fake_meta_new(void)
{
    fake_meta *f = calloc(1, sizeof *f);
    if (f)
        f->quota = -1;
    if (!f || vodup_meta_init(&f->base, &FAKE_META_OPS) != VODUP_META_OK) {
        free(f);
        return NULL;
    }
    return &f->base;
}

/* Sets the one media record: at bucket/key with status, last changed at modified. */
static inline void fake_meta_set_media(vodup_meta *m, const char *bucket, const char *key, const char *status,
                                       time_t modified)
{
    fake_meta *f = fm(m);
    f->has_media = 1;
    snprintf(f->media_bucket, sizeof f->media_bucket, "%s", bucket);
    snprintf(f->media_key, sizeof f->media_key, "%s", key);
    snprintf(f->media_status, sizeof f->media_status, "%s", status);
    f->media_modified = modified;
}

#endif
