/* list.c - listings of objects and of open multipart uploads, with common prefixes.
 *
 * Keys come from the metadata store in byte order. A delimiter folds the keys below a
 * common prefix into one entry; instead of walking past every key under it, the listing
 * re-seeks just after the prefix: keys are valid UTF-8, which never contains the byte
 * 0xFF, so "prefix + 0xFF" sorts after all of them. Both listings share this walk, and
 * both dialects the reading of a listing's arguments (core_list_query_init, ops.h).
 */
#include <stdlib.h>
#include <string.h>

#include "common/buf.h"
#include "common/codec.h"
#include "server/core/internal.h"
#include "server/core/ops.h"

typedef struct lister {
    const core_list_query *q;
    void (*cb)(const core_list_entry *e, void *u);
    void *u;
    core_list_result *res;
    vbuf last;
    vbuf reseek;   /* set when the walk stopped to skip a common prefix */
    int oom;
} lister;

/* One key of the walk (an object or an upload): 1 stops the store's walk. */
static int on_key(lister *l, const char *key, size_t key_len, const vodup_meta_object *o,
                  const vodup_meta_upload *up)
{
    const core_list_query *q = l->q;
    core_list_result *res = l->res;
    if (q->delim_len && key_len >= q->prefix_len) {
        const char *d = memmem(key + q->prefix_len, key_len - q->prefix_len, q->delim, q->delim_len);
        if (d) {
            size_t plen = (size_t)(d - key) + q->delim_len;
            if (res->count >= q->max) {
                res->truncated = 1;
                return 1;
            }
            core_list_entry e = {NULL, NULL, key, plen};
            l->cb(&e, l->u);
            res->count++;
            vbuf_reset(&l->last);
            vbuf_reset(&l->reseek);
            /* the next page starts after the whole prefix, not after this one key */
            if (vbuf_append(&l->last, key, plen) != 0 || vbuf_append(&l->reseek, key, plen) != 0 ||
                vbuf_putc(&l->reseek, (char)0xFF) != 0)
                l->oom = 1;
            res->last_upload_id[0] = '\0';
            return 1;
        }
    }
    if (res->count >= q->max) {
        res->truncated = 1;
        return 1;
    }
    core_list_entry e = {o, up, NULL, 0};
    l->cb(&e, l->u);
    res->count++;
    vbuf_reset(&l->last);
    if (vbuf_append(&l->last, key, key_len) != 0)
        l->oom = 1;
    if (up)
        memcpy(res->last_upload_id, up->upload_id, sizeof res->last_upload_id);
    return 0;
}

static int object_cb(const vodup_meta_object *o, void *u)
{
    return on_key(u, o->key, o->key_len, o, NULL);
}

static int upload_cb(const vodup_meta_upload *up, void *u)
{
    return on_key(u, up->key, up->key_len, NULL, up);
}

static vodupd_status walk(const core *c, const char *bucket, const core_list_query *q, int uploads,
                          void (*cb)(const core_list_entry *e, void *u), void *u, core_list_result *res,
                          vodupd_detail *d)
{
    memset(res, 0, sizeof *res);
    lister l = {q, cb, u, res, VBUF_INIT, VBUF_INIT, 0};
    vbuf after = VBUF_INIT;
    const char *id_after = uploads && q->upload_id_after && q->after_len ? q->upload_id_after : "";
    if (q->after_len && vbuf_append(&after, q->after, q->after_len) != 0)
        l.oom = 1;
    /* Resuming after a common prefix: skip everything below it. */
    if (q->delim_len && after.len >= q->delim_len &&
        memcmp(after.data + after.len - q->delim_len, q->delim, q->delim_len) == 0) {
        if (vbuf_putc(&after, (char)0xFF) != 0)
            l.oom = 1;
        id_after = "";
    }
    int rc = VODUP_META_OK;
    while (!l.oom) {
        vbuf_reset(&l.reseek);
        size_t limit = (size_t)(q->max - res->count) + 1;
        rc = uploads ? vodup_meta_upload_list(c->meta, bucket, q->prefix, q->prefix_len, after.data ? after.data : "",
                                              after.len, id_after, limit, upload_cb, &l)
                     : vodup_meta_object_list(c->meta, bucket, q->prefix, q->prefix_len, after.data ? after.data : "",
                                              after.len, limit, object_cb, &l);
        if (rc != VODUP_META_OK || res->truncated || !l.reseek.len)
            break;
        vbuf_reset(&after);
        if (vbuf_append(&after, l.reseek.data, l.reseek.len) != 0)
            l.oom = 1;
        id_after = "";
    }
    vbuf_free(&after);
    vbuf_free(&l.reseek);
    res->last_len = l.last.len;
    res->last = vbuf_steal(&l.last);
    if (l.oom) {
        core_list_result_clear(res);
        return core__fail(d, VODUPD_ENOMEM, "Listing");
    }
    if (rc != VODUP_META_OK) {
        core_list_result_clear(res);
        return core__fail(d, VODUPD_EIO, "Listing");
    }
    return VODUPD_OK;
}

vodupd_status core_object_list(const core *c, const char *bucket, const core_list_query *q,
                               void (*cb)(const core_list_entry *e, void *u), void *u, core_list_result *res,
                               vodupd_detail *d)
{
    return walk(c, bucket, q, 0, cb, u, res, d);
}

vodupd_status core_upload_list(const core *c, const char *bucket, const core_list_query *q,
                               void (*cb)(const core_list_entry *e, void *u), void *u, core_list_result *res,
                               vodupd_detail *d)
{
    return walk(c, bucket, q, 1, cb, u, res, d);
}

void core_list_result_clear(core_list_result *r)
{
    free(r->last);
    r->last = NULL;
    r->last_len = 0;
}

/* ---- the client's arguments ----------------------------------------------------------- */

/* A whole number of at most 9 digits (no sign), as both dialects accept it. */
static int parse_max(const char *v, long *out)
{
    char *end;
    long n = strtol(v, &end, 10);
    if (!*v || *end || n < 0 || strlen(v) > 9)
        return -1;
    *out = n;
    return 0;
}

vodupd_status core_list_query_init(core_list_query *q, char **owned, const core_list_args *a, core_list_arg *bad)
{
    memset(q, 0, sizeof *q);
    *owned = NULL;
    *bad = CORE_LIST_ARG_NONE;
    long max = a->max_default;
    if (a->max && parse_max(a->max, &max) != 0) {
        *bad = CORE_LIST_ARG_MAX;
        return VODUPD_EBADREQUEST;
    }
    q->max = max > a->max_limit ? a->max_limit : (int)max;
    q->prefix = a->prefix ? a->prefix : "";
    q->prefix_len = strlen(q->prefix);
    q->delim = a->delimiter ? a->delimiter : "";
    q->delim_len = strlen(q->delim);
    q->after = a->marker ? a->marker : "";
    q->after_len = strlen(q->after);
    /* The upload-id marker means something only after a key marker, and nothing when
     * the key marker is a common prefix: the listing then resumes after the whole prefix. */
    q->upload_id_after = a->upload_id_marker && q->after_len ? a->upload_id_marker : "";
    if (q->delim_len && q->after_len >= q->delim_len &&
        memcmp(q->after + q->after_len - q->delim_len, q->delim, q->delim_len) == 0)
        q->upload_id_after = "";
    const char *tok = a->token;
    if (!tok || (!*tok && !a->empty_token_invalid))
        return VODUPD_OK;
    size_t tl = strlen(tok);
    unsigned char *dec = malloc(tl / 4 * 3 + 4);
    if (!dec)
        return VODUPD_ENOMEM;
    long dl = *tok ? vodup_base64_decode(dec, tok, tl) : -1;
    if (dl < 0 || (dl == 0 && a->empty_token_invalid)) {
        free(dec);
        *bad = CORE_LIST_ARG_TOKEN;
        return VODUPD_EBADREQUEST;
    }
    /* the later of the marker (start-after) and the token, in byte order */
    dec[dl] = '\0';
    size_t common = (size_t)dl < q->after_len ? (size_t)dl : q->after_len;
    int cmp = memcmp(dec, q->after, common);
    if (cmp > 0 || (cmp == 0 && (size_t)dl > q->after_len)) {
        *owned = (char *)dec;
        q->after = *owned;
        q->after_len = (size_t)dl;
    } else {
        free(dec);
    }
    return VODUPD_OK;
}

void core_list_token(vbuf *out, const core_list_result *res)
{
    vodup_base64_encode(out, res->last, res->last_len);
}
