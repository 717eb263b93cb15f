/* scope.c - the upload-credential scope check, the heart of the security model.
 *
 * Upload credentials (CreateUploadVideo's UploadAuth) may write one object with a few
 * operations, and only while the media they were issued for is being uploaded. This is
 * checked when a request's headers arrive (here); the stores check the same again in the
 * transaction that commits (meta.h, "guard"), because a body may take minutes.
 */
#include <string.h>

#include "server/auth/auth.h"
#include "server/core/internal.h"
#include "server/store/meta_vod.h"

/* The status of a media record whose upload has not completed (meta_vod.h). */
#define CORE_MEDIA_UPLOADING "Uploading"

vodupd_status core_scope_decide(const core_media_state *m, long long issued_ms, core_write w, int upload_exists,
                                core_scope_result *res, vodupd_detail *d)
{
    res->replay_only = 0;
    if (!m->found)
        return VODUPD_EREVOKED;
    /* Writable while the media is being uploaded, or by credentials issued after the
     * second in which it last completed (RefreshUploadVideo for a new upload). */
    if (m->uploading || issued_ms > (long long)m->modified * 1000LL + 999)
        return VODUPD_OK;
    /* Once the media is complete, its upload credentials change nothing more: the
     * application may already have been told and have looked at the content. A client
     * retrying a request whose answer it lost must still succeed, though: a PutObject
     * may repeat exactly the stored bytes (checked once the body is in), and a retried
     * Complete learns that its upload is gone. */
    if (w == CORE_WRITE_PUT) {
        res->replay_only = 1;
        return VODUPD_OK;
    }
    if (w == CORE_WRITE_COMPLETE && !upload_exists)
        return VODUPD_OK;
    if (d)
        d->deny = VODUPD_DENY_COMPLETE;
    return VODUPD_EDENIED;
}

vodupd_status core_scope_check(const core *c, const vodup_cred *cred, const char *op, core_write w,
                               const char *bucket, const char *key, size_t key_len, const char *upload_id,
                               core_scope_result *res, vodupd_detail *d)
{
    res->replay_only = 0;
    if (!auth_scope_allows(cred, op, bucket, key, key_len)) {
        if (d)
            d->deny = VODUPD_DENY_SCOPE;
        return VODUPD_EDENIED;
    }
    vodup_meta_media md;
    core_media_state m = {0, 0, 0};
    int rc = vodup_meta_media_find_object(c->meta, bucket, key, key_len, &md);
    if (rc == VODUP_META_OK) {
        m.found = 1;
        m.uploading = strcmp(md.status, CORE_MEDIA_UPLOADING) == 0;
        m.modified = md.modified;
        vodup_meta_media_clear(&md);
    } else if (rc != VODUP_META_ENOTFOUND) {
        return core__fail(d, VODUPD_EIO, "Reading the media");
    }
    int upload_exists = 0;
    if (w == CORE_WRITE_COMPLETE && upload_id && m.found) {
        vodup_meta_upload u;
        if (vodup_meta_upload_get(c->meta, upload_id, &u) == VODUP_META_OK) {
            vodup_meta_upload_clear(&u);
            upload_exists = 1;
        }
    }
    return core_scope_decide(&m, cred->issued_ms, w, upload_exists, res, d);
}

int core_guard_writable(const vodup_meta_guard *g, const char *status, time_t modified)
{
    /* The check at the headers with what the transaction sees: a write that got past it
     * (a replay or the Complete of a gone upload included) changes content only while
     * the media may be written at all. */
    core_media_state m = {1, strcmp(status, CORE_MEDIA_UPLOADING) == 0, modified};
    core_scope_result res;
    return core_scope_decide(&m, g->issued_ms, CORE_WRITE_OTHER, 1, &res, NULL) == VODUPD_OK;
}

const vodup_meta_guard *core_write_guard(const vodup_cred *cred, vodup_meta_guard *g)
{
    if (!cred->has_scope)
        return NULL;
    g->issued_ms = cred->issued_ms;
    g->expires = cred->expires;
    g->writable = core_guard_writable;
    return g;
}
