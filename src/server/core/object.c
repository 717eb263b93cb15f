/* object.c - objects: put (from an ingested body), replay, get, delete.
 *
 * The answer to a write is given only after the blob is durable and the metadata
 * committed. Overwriting a key frees the old blob through the store's garbage list, so a
 * reader that already opened the old object keeps reading valid bytes; the collector is
 * kicked here, after the commit, by the core and not by each dialect.
 */
#include <string.h>

#include "common/codec.h"
#include "server/core/internal.h"

vodupd_status core__guard_status(int rc, vodupd_detail *d)
{
    if (rc == VODUP_META_EDENIED) {
        if (d)
            d->deny = VODUPD_DENY_COMPLETE;
        return VODUPD_EDENIED;
    }
    if (rc == VODUP_META_EREVOKED)
        return VODUPD_EREVOKED;
    return VODUPD_OK;
}

/* The object stored at the key has exactly the bytes of this (finished) body. */
static int matches_stored(const core *c, const char *bucket, const char *key, size_t key_len,
                          const core_ingest *in)
{
    vodup_meta_object o;
    int same = 0;
    if (vodup_meta_object_get(c->meta, bucket, key, key_len, &o) == VODUP_META_OK) {
        same = o.has_md5 && o.size == core_ingest_size(in) && memcmp(o.md5, core_ingest_md5(in), 16) == 0;
        vodup_meta_object_clear(&o);
    }
    return same;
}

/* The quota check of a put: the object it replaces, if any, gives its bytes back. Before
 * the blob is committed, so a refused body leaves nothing (core_ingest_free drops it). */
vodupd_status core__put_quota(const core *c, const char *bucket, const char *key, size_t key_len, uint64_t size,
                              vodupd_detail *d)
{
    uint64_t old = 0;
    vodup_meta_object o;
    if (vodup_meta_object_get(c->meta, bucket, key, key_len, &o) == VODUP_META_OK) {
        old = o.size;
        vodup_meta_object_clear(&o);
    }
    return core_quota_check(c, bucket, size, old, d);
}

vodupd_status core_object_put(const core *c, const core_put *p, core_ingest *in, vodupd_detail *d)
{
    return core__object_put_at(c, p, in, time(NULL), d);
}

vodupd_status core__object_put_at(const core *c, const core_put *p, core_ingest *in, time_t mtime, vodupd_detail *d)
{
    vodup_meta_segment seg;
    vodupd_status st = core_ingest_finish(in, d);
    if (st == VODUPD_OK)
        st = core__put_quota(c, p->bucket, p->key, p->key_len, core_ingest_size(in), d);
    if (st == VODUPD_OK)
        st = core__ingest_commit(in, seg.blob, d);
    if (st != VODUPD_OK)
        return st;
    seg.size = core_ingest_size(in);
    vodup_meta_object o;
    memset(&o, 0, sizeof o);
    o.bucket = (char *)p->bucket;
    o.key = (char *)p->key;
    o.key_len = p->key_len;
    o.size = seg.size;
    vodup_hex_upper(o.etag, core_ingest_md5(in), 16);
    o.crc64 = core_ingest_crc64(in);
    memcpy(o.md5, core_ingest_md5(in), 16);
    o.has_md5 = 1;
    o.content_type = (char *)p->content_type;
    o.user_meta = (char *)p->user_meta;
    memcpy(o.type, "Normal", 7);
    o.mtime = mtime;
    o.segs = &seg;
    o.nsegs = 1;
    int rc = vodup_meta_object_put_guarded(c->meta, &o, p->guard);
    if (rc != VODUP_META_OK) {
        core__ingest_discard(in);
        /* A retry that overlapped its own earlier attempt (the client gave up waiting
         * for that one's answer, but it still arrived and completed the media while
         * this one was in flight) is a replay: the same bytes get the same answer. */
        if (rc == VODUP_META_EDENIED && matches_stored(c, p->bucket, p->key, p->key_len, in))
            return VODUPD_OK;
        st = core__guard_status(rc, d);
        if (st != VODUPD_OK)
            return st;
        if (rc == VODUP_META_ENOTFOUND) /* the bucket was deleted while the body came in */
            return VODUPD_ENOBUCKET;
        return core__fail(d, VODUPD_EIO, "Recording the object");
    }
    core__kick_gc(c);
    /* the object may complete a media record: its event is in the outbox now */
    core__kick_events(c);
    return VODUPD_OK;
}

vodupd_status core_object_replay(const core *c, const char *bucket, const char *key, size_t key_len,
                                 core_ingest *in, vodupd_detail *d)
{
    vodupd_status st = core_ingest_finish(in, d);
    if (st != VODUPD_OK)
        return st;
    if (!matches_stored(c, bucket, key, key_len, in)) {
        if (d)
            d->deny = VODUPD_DENY_COMPLETE;
        return VODUPD_EDENIED;
    }
    return VODUPD_OK;
}

vodupd_status core_object_get(const core *c, const char *bucket, const char *key, size_t key_len,
                              vodup_meta_object *out, vodupd_detail *d)
{
    int rc = vodup_meta_object_get(c->meta, bucket, key, key_len, out);
    if (rc == VODUP_META_ENOTFOUND)
        return VODUPD_ENOKEY;
    if (rc != VODUP_META_OK)
        return core__fail(d, VODUPD_EIO, "Reading the object");
    return VODUPD_OK;
}

vodupd_status core_object_delete(const core *c, const char *bucket, const char *key, size_t key_len,
                                 vodupd_detail *d)
{
    int rc = vodup_meta_object_delete(c->meta, bucket, key, key_len);
    if (rc != VODUP_META_OK && rc != VODUP_META_ENOTFOUND)
        return core__fail(d, VODUPD_EIO, "Deleting the object");
    core__kick_gc(c);
    return VODUPD_OK;
}
