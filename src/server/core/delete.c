/* delete.c - DeleteObjects, and the one authorization rule of an object operation that
 * it applies per key and both dialects' routers apply per request (ops.h).
 *
 * A DeleteObjects request names up to 1000 keys under one signature, so the credential's
 * rights are checked for each key as if it were its own DeleteObject: upload credentials
 * scoped to one object, or a RAM policy naming some keys only, get AccessDenied for the
 * keys they may not delete while the others go. Each key is its own transaction, as
 * DeleteObject's: a failure on one leaves the others deleted, and says so.
 */
#include <string.h>

#include "common/buf.h"
#include "server/auth/auth.h"
#include "server/core/internal.h"
#include "server/core/ops.h"

vodupd_status core_authorize(const core *c, const vodup_cred *cred, const char *action, core_write w,
                             const char *bucket, const char *key, size_t key_len, const char *upload_id,
                             core_scope_result *res, vodupd_detail *d)
{
    res->replay_only = 0;
    if (cred->has_scope)
        return core_scope_check(c, cred, action, w, bucket, key, key_len, upload_id, res, d);
    if (!cred->policy_sets && !cred->temporary)
        return VODUPD_OK;
    vbuf rsc = VBUF_INIT, act = VBUF_INIT;
    vbuf_printf(&act, "oss:%s", action);
    vbuf_printf(&rsc, "acs:oss:*:%s:%s", cred->account_id, bucket && *bucket ? bucket : "*");
    if (key_len) {
        vbuf_putc(&rsc, '/');
        vbuf_append(&rsc, key, key_len);
    }
    int ok = !rsc.oom && !act.oom && auth_authorize(cred, vbuf_cstr(&act), vbuf_cstr(&rsc));
    vbuf_free(&rsc);
    vbuf_free(&act);
    if (ok)
        return VODUPD_OK;
    if (d) {
        d->deny = VODUPD_DENY_POLICY;
        d->what = action;
    }
    return VODUPD_EDENIED;
}

vodupd_status core_object_delete_many(const core *c, const vodup_cred *cred, const char *bucket,
                                      core_delete_item *items, size_t n, vodupd_detail *d)
{
    if (n == 0)
        return core__fail(d, VODUPD_EBADREQUEST, "The request lists no keys.");
    if (n > CORE_DELETE_MAX_KEYS) {
        if (d)
            d->limit = CORE_DELETE_MAX_KEYS;
        return VODUPD_ETOOLARGE;
    }
    for (size_t i = 0; i < n; i++) {
        core_delete_item *it = &items[i];
        memset(&it->d, 0, sizeof it->d);
        core_scope_result res;
        it->st = core_authorize(c, cred, "DeleteObject", CORE_WRITE_OTHER, bucket, it->key, it->key_len, NULL,
                                &res, &it->d);
        if (it->st != VODUPD_OK)
            continue;
        int rc = vodup_meta_object_delete(c->meta, bucket, it->key, it->key_len);
        if (rc != VODUP_META_OK && rc != VODUP_META_ENOTFOUND)
            it->st = core__fail(&it->d, VODUPD_EIO, "Deleting the object");
    }
    core__kick_gc(c);
    return VODUPD_OK;
}
