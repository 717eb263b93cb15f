/* copy.c - CopyObject and UploadPartCopy over the stores (core.h, "copies").
 *
 * A copy reads its source as a GetObject would (authorized as one: source_check)
 * and writes its destination as a PutObject or UploadPart would (the dialect's router
 * authorized that). The bytes stream from the source's blobs through a bounded buffer
 * into the core's ingest, which digests them and commits a new blob, so the destination
 * owns its bytes: the byte store has no clone, and the garbage list would free a blob
 * shared by two objects as soon as one of them let go of it. The source's blobs stay
 * pinned for the whole copy, so an overwrite or delete of the source meanwhile frees
 * nothing being read. Only a copy of an object onto itself keeps its blobs: the store
 * takes a blob referenced again off the garbage list in the same transaction
 * (docs/internals/store-contract.md), so rewriting the object with the same segments is
 * a metadata update.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "common/buf.h"
#include "common/codec.h"
#include "server/auth/auth.h"
#include "server/core/cond.h"
#include "server/core/internal.h"
#include "server/core/media.h" /* core_space_check */
#include "server/core/read.h"

/* Whether cred may read bucket/key as a GetObject would (core.h, core_copy_object). */
static vodupd_status source_check(const core *c, const vodup_cred *cred, const char *bucket, const char *key,
                                  size_t key_len, vodupd_detail *d)
{
    /* Upload credentials write their one object; reading, even their own object, is not
     * among the operations they are issued for. */
    if (cred->has_scope && !auth_scope_allows(cred, "GetObject", bucket, key, key_len)) {
        if (d)
            d->deny = VODUPD_DENY_SCOPE;
        return VODUPD_EDENIED;
    }
    vodup_meta_bucket b;
    vodupd_status st = core_bucket_get(c, bucket, cred->account_id, &b, d);
    if (st != VODUPD_OK)
        return st;
    vodup_meta_bucket_clear(&b);
    if (!cred->policy_sets && !cred->temporary)
        return VODUPD_OK; /* a root key: its account's buckets are its own */
    if (cred->has_scope)
        return VODUPD_OK; /* the scope above is their whole rule */
    vbuf res = VBUF_INIT;
    vbuf_printf(&res, "acs:oss:*:%s:%s/", cred->account_id, bucket);
    vbuf_append(&res, key, key_len);
    int ok = !res.oom && auth_authorize(cred, "oss:GetObject", vbuf_cstr(&res));
    int oom = res.oom;
    vbuf_free(&res);
    if (oom)
        return core__fail(d, VODUPD_ENOMEM, "Authorizing the copy source");
    if (!ok) {
        if (d)
            d->deny = VODUPD_DENY_NONE;
        return VODUPD_EDENIED;
    }
    return VODUPD_OK;
}

/* The header parsed: 0 with *bucket and *key (malloc'd; the key NUL-terminated, *key_len
 * its length); -1 malformed (no bucket or key, a bad escape, a NUL); -2 a versionId; -3
 * out of memory. */
static int source_parse(const char *h, char **bucket, char **key, size_t *key_len)
{
    *bucket = NULL;
    *key = NULL;
    *key_len = 0;
    if (*h == '/')
        h++;
    const char *slash = strchr(h, '/');
    if (!slash || slash == h)
        return -1;
    /* A '?' of the key itself comes encoded (%3F): a bare one starts the query, and the
     * only query S3 and OSS define here names a version. */
    const char *q = strchr(slash, '?');
    size_t n = q ? (size_t)(q - slash - 1) : strlen(slash + 1);
    if (q)
        return strncmp(q + 1, "versionId=", 10) == 0 || strcmp(q + 1, "versionId") == 0 ? -2 : -1;
    if (n == 0)
        return -1;
    for (const char *p = h; p < slash; p++)
        if (*p == '%' || *p == '?')
            return -1;
    vbuf k = VBUF_INIT;
    int has_nul = 0;
    if (vodup_uri_decode(&k, slash + 1, n, 0, &has_nul) != 0 || has_nul || k.len == 0) {
        int oom = k.oom;
        vbuf_free(&k);
        return oom ? -3 : -1;
    }
    if (k.oom || !(*bucket = strndup(h, (size_t)(slash - h)))) {
        vbuf_free(&k);
        return -3;
    }
    *key_len = k.len;
    *key = vbuf_steal(&k);
    if (!*key) {
        free(*bucket);
        *bucket = NULL;
        return -3;
    }
    return 0;
}

/* An open copy source: the object, the bytes to copy, its pins. */
typedef struct copy_source {
    vodup_meta_object obj;
    uint64_t first, len;
    int pinned;
} copy_source;

static void source_close(const core *c, copy_source *src)
{
    if (src->pinned && c->unpin)
        c->unpin(c->kick_user, src->obj.segs, src->obj.nsegs);
    vodup_meta_object_clear(&src->obj);
    memset(src, 0, sizeof *src);
}

/* 1 when the object at o's key still has o's blobs. */
static int still_same(const core *c, const vodup_meta_object *o)
{
    vodup_meta_object now;
    if (vodup_meta_object_get(c->meta, o->bucket, o->key, o->key_len, &now) != VODUP_META_OK)
        return 0;
    int same = now.nsegs == o->nsegs;
    for (size_t i = 0; same && i < o->nsegs; i++)
        same = strcmp(now.segs[i].blob, o->segs[i].blob) == 0;
    vodup_meta_object_clear(&now);
    return same;
}

/* "bytes=first-last", both zero-based and inclusive, narrowing src: 0; 400 for another
 * form, 416 when it does not lie within the source. */
static int source_narrow(copy_source *src, const char *range)
{
    if (strncmp(range, "bytes=", 6) != 0)
        return 400;
    const char *p = range + 6;
    size_t a = strspn(p, "0123456789");
    if (a == 0 || a > 19 || p[a] != '-')
        return 400;
    size_t b = strspn(p + a + 1, "0123456789");
    if (b == 0 || b > 19 || p[a + 1 + b])
        return 400;
    unsigned long long first = strtoull(p, NULL, 10), last = strtoull(p + a + 1, NULL, 10);
    if (first > last || last >= src->obj.size)
        return 416;
    src->first = first;
    src->len = last - first + 1;
    return 0;
}

/* How often the source is read again when it changed between its read and its pins. */
#define COPY_SOURCE_TRIES 3

/* Opens from's source (core.h: the rules). OK with *stopped 0 and src open (its blobs
 * pinned), or with *stopped the reason and nothing held; else the refusal. */
static vodupd_status source_open(const core *c, const core_copy_from *from, copy_source *src, core_copy_result *out,
                                 vodupd_detail *d)
{
    memset(src, 0, sizeof *src);
    memset(out, 0, sizeof *out);
    char *bucket, *key;
    size_t key_len;
    int rc = source_parse(from->source ? from->source : "", &bucket, &key, &key_len);
    if (rc == -2)
        return core__fail(d, VODUPD_ENOTIMPL, "Copying an object version (versionId in the copy source) is not "
                                              "implemented: vodupd keeps no versions.");
    if (rc == -3)
        return core__fail(d, VODUPD_ENOMEM, "Reading the copy source");
    if (rc != 0)
        return core__fail(d, VODUPD_EBADREQUEST, "The copy source must name a bucket and a key: /bucket/key, the "
                                                 "key URL-encoded.");
    vodupd_status st = source_check(c, from->cred, bucket, key, key_len, d);
    for (int tries = 0; st == VODUPD_OK; tries++) {
        st = core_object_get(c, bucket, key, key_len, &src->obj, d);
        if (st != VODUPD_OK)
            break;
        out->source_size = src->obj.size;
        if ((out->stopped = core_conditions_check(&from->cond, src->obj.etag, src->obj.mtime)) == 0 && from->range)
            out->stopped = source_narrow(src, from->range);
        else
            src->len = src->obj.size;
        if (out->stopped || !c->pin || !src->obj.nsegs)
            break;
        /* A GetObject registers as a reader before it reads the metadata (server.h); the
         * core has no server, so it pins what it read and then checks that the object
         * still has those blobs: they were live after the pin (ids are never reused), so
         * the collector, which skips pinned blobs, cannot have taken them. */
        if (c->pin(c->kick_user, src->obj.segs, src->obj.nsegs) != 0) {
            st = core__fail(d, VODUPD_ENOMEM, "Reading the copy source");
            break;
        }
        src->pinned = 1;
        if (still_same(c, &src->obj))
            break;
        source_close(c, src); /* changed meanwhile: read it again */
        if (tries + 1 == COPY_SOURCE_TRIES)
            st = core__fail(d, VODUPD_EIO, "Reading the copy source (it kept changing)");
    }
    free(bucket);
    free(key);
    if (st != VODUPD_OK || out->stopped)
        source_close(c, src);
    return st;
}

/* Reads up to n body bytes at pos from a descriptor body or a reader body. */
static ssize_t body_read(core_body *b, uint64_t pos, char *buf, size_t n)
{
    if (b->fd < 0)
        return core_reader_read(b->reader, pos, buf, n);
    ssize_t got;
    do
        got = pread(b->fd, buf, n, (off_t)(b->off + pos));
    while (got < 0 && errno == EINTR);
    return got > 0 ? got : -1; /* the blob is shorter than its record: as unreadable */
}

/* The source's range streamed into a new ingest (*out, the caller's) of at most limit
 * bytes, finished. ETOOLARGE before a byte is read; EIO when a source blob cannot be
 * read; what the ingest answers. */
static vodupd_status copy_bytes(const core *c, const copy_source *src, uint64_t limit, core_ingest **out,
                                vodupd_detail *d)
{
    *out = NULL;
    if (src->len > limit) {
        if (d)
            d->limit = limit;
        return VODUPD_ETOOLARGE;
    }
    /* below the disk reserve no copy starts, as no upload does (store/blob.h) */
    vodupd_status st = core_space_check(c, src->len, d);
    if (st != VODUPD_OK)
        return st;
    core_ingest *in;
    st = core_ingest_open(&in, c, limit, 0, d);
    if (st != VODUPD_OK)
        return st;
    if (src->len) {
        /* core_object_body takes the segment list over when it streams across several
         * blobs: it gets a copy, the source keeps its own (and its pins) */
        vodup_meta_object o = src->obj;
        o.segs = malloc(src->obj.nsegs * sizeof *o.segs);
        char *buf = malloc(CORE_COPY_BUF);
        core_body body = {-1, 0, 0, NULL};
        if (!o.segs || !buf) {
            st = core__fail(d, VODUPD_ENOMEM, "Copying the object");
        } else {
            memcpy(o.segs, src->obj.segs, src->obj.nsegs * sizeof *o.segs);
            st = core_object_body(c, &o, src->first, src->len, &body, d);
        }
        for (uint64_t pos = 0; st == VODUPD_OK && pos < src->len;) {
            size_t want = src->len - pos < CORE_COPY_BUF ? (size_t)(src->len - pos) : CORE_COPY_BUF;
            ssize_t got = body_read(&body, pos, buf, want);
            if (got <= 0) {
                st = core__fail(d, VODUPD_EIO, "Reading the copy source");
                break;
            }
            st = core_ingest_write(in, buf, (size_t)got, d);
            pos += (uint64_t)got;
        }
        core_body_clear(&body);
        free(o.segs);
        free(buf);
    }
    if (st == VODUPD_OK)
        st = core_ingest_finish(in, d);
    if (st != VODUPD_OK) {
        core_ingest_free(in);
        return st;
    }
    *out = in;
    return VODUPD_OK;
}

static void result_of_ingest(core_copy_result *out, const core_ingest *in, time_t mtime, int has_md5)
{
    memset(out->etag, 0, sizeof out->etag);
    memset(out->md5, 0, sizeof out->md5);
    out->has_md5 = 0;
    vodup_hex_upper(out->etag, core_ingest_md5(in), 16);
    out->mtime = mtime;
    out->size = core_ingest_size(in);
    out->crc64 = core_ingest_crc64(in);
    if (has_md5) {
        memcpy(out->md5, core_ingest_md5(in), 16);
        out->has_md5 = 1;
    }
}

static const char SELF_COPY_MSG[] =
    "This copy request is illegal because it is trying to copy an object to itself without changing the "
    "object's metadata, storage class, website redirect location or encryption attributes.";

/* A copy onto itself: the same blobs, ETag and type under new metadata. */
static vodupd_status copy_self(const core *c, const core_copy *p, const copy_source *src,
                               core_copy_result *out, vodupd_detail *d)
{
    if (!p->replace && p->self_needs_replace)
        return core__fail(d, VODUPD_EBADREQUEST, SELF_COPY_MSG);
    vodup_meta_object o = src->obj;
    if (p->replace) {
        o.content_type = (char *)p->content_type;
        o.user_meta = (char *)p->user_meta;
    }
    o.mtime = time(NULL);
    int rc = vodup_meta_object_put_guarded(c->meta, &o, p->guard);
    vodupd_status st = core__guard_status(rc, d);
    if (st != VODUPD_OK)
        return st;
    if (rc == VODUP_META_ENOTFOUND)
        return VODUPD_ENOBUCKET;
    if (rc != VODUP_META_OK)
        return core__fail(d, VODUPD_EIO, "Recording the object");
    /* Nothing was freed unless a write replaced the object since it was read: then its
     * blobs were (this copy wins, as the later write) */
    core__kick_gc(c);
    core__kick_events(c);
    memcpy(out->etag, o.etag, sizeof out->etag);
    out->mtime = o.mtime;
    out->size = o.size;
    out->crc64 = o.crc64;
    memcpy(out->md5, o.md5, 16);
    out->has_md5 = o.has_md5;
    return VODUPD_OK;
}

static vodupd_status copy_object(const core *c, const core_copy *p, const copy_source *src, core_copy_result *out,
                                 vodupd_detail *d)
{
    if (strcmp(src->obj.bucket, p->bucket) == 0 && src->obj.key_len == p->key_len &&
        memcmp(src->obj.key, p->key, p->key_len) == 0)
        return copy_self(c, p, src, out, d);
    if (src->len > p->max_size) {
        if (d)
            d->limit = p->max_size;
        return VODUPD_ETOOLARGE;
    }
    /* before a byte is read: a copy the quota refuses costs no I/O */
    vodupd_status st = core__put_quota(c, p->bucket, p->key, p->key_len, src->len, d);
    core_ingest *in = NULL;
    if (st == VODUPD_OK)
        st = copy_bytes(c, src, p->max_size, &in, d);
    if (st != VODUPD_OK)
        return st;
    core_put put = {p->bucket, p->key, p->key_len,
                    p->replace ? p->content_type : src->obj.content_type,
                    p->replace ? p->user_meta : src->obj.user_meta,
                    p->guard};
    time_t now = time(NULL);
    st = core__object_put_at(c, &put, in, now, d);
    if (st == VODUPD_OK)
        result_of_ingest(out, in, now, 1);
    core_ingest_free(in);
    return st;
}

static vodupd_status part_copy(const core *c, const char *upload_id, int number, const copy_source *src,
                               uint64_t max_part_size, const vodup_meta_guard *guard, core_copy_result *out,
                               vodupd_detail *d)
{
    if (src->len > max_part_size) {
        if (d)
            d->limit = max_part_size;
        return VODUPD_ETOOLARGE;
    }
    /* the quota before a byte is read (core_part_put checks it again before its commit) */
    vodup_meta_upload u;
    int rc = vodup_meta_upload_get(c->meta, upload_id, &u);
    if (rc == VODUP_META_ENOTFOUND)
        return VODUPD_ENOUPLOAD;
    if (rc != VODUP_META_OK)
        return core__fail(d, VODUPD_EIO, "Reading the upload");
    vodupd_status st = core_quota_check(c, u.bucket, src->len, 0, d);
    vodup_meta_upload_clear(&u);
    core_ingest *in = NULL;
    if (st == VODUPD_OK)
        st = copy_bytes(c, src, max_part_size, &in, d);
    if (st != VODUPD_OK)
        return st;
    time_t now = time(NULL);
    st = core_part_put(c, upload_id, number, in, guard, d);
    if (st == VODUPD_OK)
        result_of_ingest(out, in, now, 0);
    core_ingest_free(in);
    return st;
}

vodupd_status core_copy_object(const core *c, const core_copy_from *from, const core_copy *p, core_copy_result *out,
                               vodupd_detail *d)
{
    copy_source src;
    core_copy_from whole = *from;
    whole.range = NULL; /* an object is copied whole */
    vodupd_status st = source_open(c, &whole, &src, out, d);
    if (st != VODUPD_OK || out->stopped)
        return st;
    st = copy_object(c, p, &src, out, d);
    source_close(c, &src);
    return st;
}

vodupd_status core_upload_part_copy(const core *c, const core_copy_from *from, const char *upload_id, int number,
                                    uint64_t max_part_size, const vodup_meta_guard *guard, core_copy_result *out,
                                    vodupd_detail *d)
{
    copy_source src;
    vodupd_status st = source_open(c, from, &src, out, d);
    if (st != VODUPD_OK || out->stopped)
        return st;
    st = part_copy(c, upload_id, number, &src, max_part_size, guard, out, d);
    source_close(c, &src);
    return st;
}
