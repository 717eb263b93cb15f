/* multipart.c - multipart uploads: initiate, parts, complete, abort, list parts.
 *
 * Parts are blobs like any object; Complete only rewrites metadata (the object becomes
 * the ordered list of its part blobs), so completing a 48 TB upload copies nothing.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "common/codec.h"
#include "common/crc.h"
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
    vodupd_status st = core_ingest_finish(in, d);
    if (st == VODUPD_OK) {
        /* the quota before the blob is committed: a refused part leaves nothing */
        vodup_meta_upload u;
        int rc = vodup_meta_upload_get(c->meta, upload_id, &u);
        if (rc == VODUP_META_OK) {
            st = core_quota_check(c, u.bucket, core_ingest_size(in), 0, d);
            vodup_meta_upload_clear(&u);
        } else if (rc != VODUP_META_ENOTFOUND) { /* gone: the commit below answers ENOUPLOAD */
            return core__fail(d, VODUPD_EIO, "Reading the upload");
        }
    }
    if (st == VODUPD_OK)
        st = core__ingest_commit(in, p.blob, d);
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

void core_etag_md5_of_hex(char out[64], const vodup_meta_part *parts, size_t n)
{
    vodup_md5_ctx *md = vodup_md5_new();
    if (!md) {
        out[0] = '\0';
        return;
    }
    for (size_t i = 0; i < n; i++) {
        char up[33];
        size_t len = strnlen(parts[i].etag, 32);
        for (size_t j = 0; j < len; j++) {
            char ch = parts[i].etag[j];
            up[j] = (ch >= 'a' && ch <= 'z') ? (char)(ch - 'a' + 'A') : ch;
        }
        vodup_md5_update(md, up, len);
    }
    unsigned char dg[16];
    char hex[33];
    vodup_md5_final(md, dg);
    vodup_md5_free(md);
    vodup_hex_upper(hex, dg, sizeof dg);
    snprintf(out, 64, "%s-%zu", hex, n);
}

/* The upload's stored parts, ascending by number (the store lists them so). */
typedef struct part_set {
    vodup_meta_part *p;
    size_t n, cap;
    int oom;
} part_set;

static int collect_part(const vodup_meta_part *p, void *u)
{
    part_set *ps = u;
    if (ps->n == ps->cap) {
        size_t cap = ps->cap ? ps->cap * 2 : 64;
        vodup_meta_part *np = realloc(ps->p, cap * sizeof *np);
        if (!np) {
            ps->oom = 1;
            return 1;
        }
        ps->p = np;
        ps->cap = cap;
    }
    ps->p[ps->n++] = *p;
    return 0;
}

static const vodup_meta_part *find_part(const part_set *ps, int number)
{
    size_t lo = 0, hi = ps->n;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (ps->p[mid].number == number)
            return &ps->p[mid];
        if (ps->p[mid].number < number)
            lo = mid + 1;
        else
            hi = mid;
    }
    return NULL;
}

/* The dialect's checks of a Complete list against the stored parts: OK with chosen[]
 * (the stored parts in the listed order), or the refusal with detail.part. */
static vodupd_status complete_choose(const core_rules *rules, const vodup_meta_complete_part *parts, size_t n,
                                     const part_set *ps, vodup_meta_part *chosen, vodupd_detail *d)
{
    for (size_t i = 0; i < n; i++) {
        const vodup_meta_part *p = find_part(ps, parts[i].number);
        int terminated = strnlen(parts[i].etag, sizeof parts[i].etag) < sizeof parts[i].etag;
        if (!p || !terminated || strcasecmp(parts[i].etag, p->etag) != 0) {
            if (d)
                d->part = parts[i].number;
            return VODUPD_EINVALIDPART;
        }
        chosen[i] = *p;
    }
    for (size_t i = 0; i + 1 < n; i++) {
        if (chosen[i].size < rules->min_part_size) {
            if (d) {
                d->part = chosen[i].number;
                d->limit = rules->min_part_size;
            }
            return VODUPD_ETOOSMALL;
        }
    }
    return VODUPD_OK;
}

/* How often a Complete re-reads its parts when one was uploaded again between the read
 * and the commit, before it gives up with EINVALIDPART. */
#define CORE_COMPLETE_TRIES 3

vodupd_status core_upload_complete(const core *c, const core_rules *rules, const char *upload_id,
                                   const vodup_meta_complete_part *parts, size_t nparts,
                                   const vodup_meta_guard *guard, vodup_meta_object *out, vodupd_detail *d)
{
    if (out)
        memset(out, 0, sizeof *out);
    if (nparts == 0) {
        if (d)
            d->part = 0;
        return VODUPD_EINVALIDPART;
    }
    for (size_t i = 1; i < nparts; i++) {
        if (parts[i].number <= parts[i - 1].number) {
            if (d)
                d->part = parts[i].number;
            return VODUPD_EPARTORDER;
        }
    }
    vodup_meta_part *chosen = calloc(nparts, sizeof *chosen);
    if (!chosen)
        return core__fail(d, VODUPD_ENOMEM, "Completing the upload");
    vodupd_status st = VODUPD_EINVALIDPART;
    for (int attempt = 0; attempt < CORE_COMPLETE_TRIES && st == VODUPD_EINVALIDPART; attempt++) {
        part_set ps = {NULL, 0, 0, 0};
        int rc = vodup_meta_part_list(c->meta, upload_id, 0, (size_t)rules->max_part_number, collect_part, &ps);
        if (rc == VODUP_META_OK && ps.oom)
            rc = VODUP_META_ENOMEM;
        if (rc != VODUP_META_OK) {
            free(ps.p);
            st = rc == VODUP_META_ENOTFOUND ? VODUPD_ENOUPLOAD
                 : rc == VODUP_META_ENOMEM  ? core__fail(d, VODUPD_ENOMEM, "Completing the upload")
                                            : core__fail(d, VODUPD_EIO, "Completing the upload");
            break;
        }
        st = complete_choose(rules, parts, nparts, &ps, chosen, d);
        free(ps.p);
        if (st != VODUPD_OK)
            break; /* the client's list is wrong: re-reading changes nothing */
        vodup_meta_object fields;
        memset(&fields, 0, sizeof fields);
        rules->multipart_etag(fields.etag, chosen, nparts);
        if (!fields.etag[0]) {
            st = core__fail(d, VODUPD_ENOMEM, "Completing the upload");
            break;
        }
        fields.crc64 = chosen[0].crc64;
        for (size_t i = 0; i < nparts; i++) {
            if (i)
                fields.crc64 = vodup_crc64_combine(fields.crc64, chosen[i].crc64, chosen[i].size);
            fields.size += chosen[i].size;
        }
        snprintf(fields.type, sizeof fields.type, "Multipart");
        fields.mtime = time(NULL);
        size_t bad = 0;
        rc = vodup_meta_upload_commit(c->meta, upload_id, chosen, nparts, &fields, guard, out, &bad);
        st = core__guard_status(rc, d);
        if (st != VODUPD_OK)
            break;
        if (rc == VODUP_META_EINVALIDPART) { /* a part changed since it was read: read again */
            st = VODUPD_EINVALIDPART;
            if (d)
                d->part = bad < nparts ? parts[bad].number : 0;
            continue;
        }
        st = rc == VODUP_META_OK         ? VODUPD_OK
             : rc == VODUP_META_ENOTFOUND ? VODUPD_ENOUPLOAD
                                          : core__fail(d, VODUPD_EIO, "Completing the upload");
    }
    free(chosen);
    if (st != VODUPD_OK)
        return st;
    core__kick_gc(c); /* parts left out of the object */
    /* the object may complete a media record: its event is in the outbox now */
    core__kick_events(c);
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
