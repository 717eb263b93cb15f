/* multipart.c - multipart uploads: initiate, parts, complete, abort, list parts.
 *
 * Parts are blobs like any object; Complete only rewrites metadata (the object becomes
 * the ordered list of its part blobs), so completing a 48 TB upload copies nothing.
 */
#include <string.h>

#include "common/codec.h"
#include "common/digest.h"
#include "server/core/internal.h"

int core_upload_id_valid(const char *id)
{
    size_t n = strlen(id);
    if (n != 32)
        return 0;
    for (size_t i = 0; i < n; i++)
        if (!((id[i] >= '0' && id[i] <= '9') || (id[i] >= 'A' && id[i] <= 'F')))
            return 0;
    return 1;
}

vodupd_status core_upload_get(const core *c, const char *upload_id, const char *bucket, const char *key,
                              size_t key_len, vodup_meta_upload *out, vodupd_detail *d)
{
    if (!core_upload_id_valid(upload_id))
        return VODUPD_ENOUPLOAD;
    int rc = vodup_meta_upload_get(c->meta, upload_id, out);
    if (rc == VODUP_META_ENOTFOUND)
        return VODUPD_ENOUPLOAD;
    if (rc != VODUP_META_OK)
        return core__fail(d, VODUPD_EIO, "Reading the upload");
    /* An upload id names one object's upload: used with another key it does not exist. */
    if (strcmp(out->bucket, bucket) != 0 || out->key_len != key_len || memcmp(out->key, key, key_len) != 0) {
        vodup_meta_upload_clear(out);
        return VODUPD_ENOUPLOAD;
    }
    return VODUPD_OK;
}

vodupd_status core_upload_initiate(const core *c, const core_initiate *in, char upload_id[33], vodupd_detail *d)
{
    vodup_meta_upload u;
    memset(&u, 0, sizeof u);
    unsigned char rnd[16];
    if (vodup_random(rnd, sizeof rnd) != 0)
        return core__fail(d, VODUPD_EIO, "Drawing an upload id");
    vodup_hex_upper(u.upload_id, rnd, sizeof rnd);
    u.bucket = (char *)in->bucket;
    u.key = (char *)in->key;
    u.key_len = in->key_len;
    u.initiated = time(NULL);
    u.content_type = (char *)in->content_type;
    u.user_meta = (char *)in->user_meta;
    int evicted = 0;
    int rc = vodup_meta_upload_create_guarded(c->meta, &u, in->account_id, c->max_uploads_per_account, in->guard,
                                              c->max_uploads_per_credential_key, &evicted);
    if (evicted)
        core__kick_gc(c); /* the evicted uploads' parts */
    vodupd_status st = core__guard_status(rc, d);
    if (st != VODUPD_OK)
        return st;
    if (rc == VODUP_META_ELIMIT) {
        if (d) {
            d->limit = (uint64_t)c->max_uploads_per_account;
            d->what = "open multipart uploads per account";
        }
        return VODUPD_ELIMIT;
    }
    if (rc != VODUP_META_OK)
        return core__fail(d, VODUPD_EIO, "Recording the upload");
    memcpy(upload_id, u.upload_id, 33);
    return VODUPD_OK;
}

vodupd_status core_part_put(const core *c, const char *upload_id, int number, core_ingest *in,
                            const vodup_meta_guard *guard, vodupd_detail *d)
{
    vodup_meta_part p;
    memset(&p, 0, sizeof p);
    vodupd_status st = core__ingest_commit(in, p.blob, d);
    if (st != VODUPD_OK)
        return st;
    p.number = number;
    p.size = core_ingest_size(in);
    vodup_hex_upper(p.etag, core_ingest_md5(in), 16);
    p.crc64 = core_ingest_crc64(in);
    p.mtime = time(NULL);
    int rc = vodup_meta_part_put_guarded(c->meta, upload_id, &p, guard);
    if (rc != VODUP_META_OK) {
        core__ingest_discard(in);
        st = core__guard_status(rc, d);
        if (st != VODUPD_OK)
            return st;
        if (rc == VODUP_META_ENOTFOUND)
            return VODUPD_ENOUPLOAD;
        return core__fail(d, VODUPD_EIO, "Recording the part");
    }
    core__kick_gc(c); /* a part replaced under the same number */
    return VODUPD_OK;
}

vodupd_status core_upload_complete(const core *c, const core_rules *rules, const char *upload_id,
                                   const vodup_meta_complete_part *parts, size_t nparts,
                                   const vodup_meta_guard *guard, vodup_meta_object *out, vodupd_detail *d)
{
    vodup_meta_object o;
    memset(&o, 0, sizeof o);
    size_t bad = 0;
    int rc = vodup_meta_upload_complete_guarded(c->meta, upload_id, parts, nparts, rules->min_part_size, time(NULL),
                                                &o, &bad, guard);
    vodupd_status st = core__guard_status(rc, d);
    if (st == VODUPD_OK) {
        switch (rc) {
        case VODUP_META_OK:
            break;
        case VODUP_META_ENOTFOUND:
            st = VODUPD_ENOUPLOAD;
            break;
        case VODUP_META_EPARTORDER:
            st = VODUPD_EPARTORDER;
            break;
        case VODUP_META_EINVALIDPART:
            st = VODUPD_EINVALIDPART;
            break;
        case VODUP_META_ETOOSMALL:
            st = VODUPD_ETOOSMALL;
            if (d)
                d->limit = rules->min_part_size;
            break;
        default:
            st = core__fail(d, VODUPD_EIO, "Completing the upload");
        }
        if ((st == VODUPD_EPARTORDER || st == VODUPD_EINVALIDPART || st == VODUPD_ETOOSMALL) && d && bad < nparts)
            d->part = parts[bad].number;
    }
    if (st != VODUPD_OK) {
        vodup_meta_object_clear(&o);
        return st;
    }
    core__kick_gc(c); /* parts left out of the object */
    /* the object may complete a media record: its event is in the outbox now */
    core__kick_events(c);
    if (out)
        *out = o;
    else
        vodup_meta_object_clear(&o);
    return VODUPD_OK;
}

vodupd_status core_upload_abort(const core *c, const char *upload_id, vodupd_detail *d)
{
    int rc = vodup_meta_upload_abort(c->meta, upload_id);
    if (rc == VODUP_META_ENOTFOUND)
        return VODUPD_ENOUPLOAD;
    if (rc != VODUP_META_OK)
        return core__fail(d, VODUPD_EIO, "Aborting the upload");
    core__kick_gc(c);
    return VODUPD_OK;
}

typedef struct part_pager {
    int max;
    int count;
    int truncated;
    int (*cb)(const vodup_meta_part *p, void *u);
    void *u;
} part_pager;

static int part_cb(const vodup_meta_part *p, void *u)
{
    part_pager *pp = u;
    if (pp->count >= pp->max) { /* one more than asked: the list goes on */
        pp->truncated = 1;
        return 1;
    }
    pp->count++;
    return pp->cb(p, pp->u);
}

vodupd_status core_part_list(const core *c, const char *upload_id, int marker, int max,
                             int (*cb)(const vodup_meta_part *p, void *u), void *u, int *truncated,
                             vodupd_detail *d)
{
    part_pager pp = {max, 0, 0, cb, u};
    int rc = vodup_meta_part_list(c->meta, upload_id, marker, (size_t)max + 1, part_cb, &pp);
    *truncated = pp.truncated;
    if (rc == VODUP_META_ENOTFOUND)
        return VODUPD_ENOUPLOAD;
    if (rc != VODUP_META_OK)
        return core__fail(d, VODUPD_EIO, "Listing the parts");
    return VODUPD_OK;
}
