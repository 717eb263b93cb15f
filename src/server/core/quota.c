/* quota.c - per-account storage quotas (core.h, "storage quotas"): the limit is the
 * account's own or the server's default; the usage is the store's counter (meta_quota.h),
 * one row read, never a sum over objects. */
#include "server/core/internal.h"
#include "server/store/meta_quota.h"

static uint64_t limit_of(const core *c, int64_t own)
{
    return own >= 0 ? (uint64_t)own : c->storage_quota;
}

vodupd_status core_quota_get(const core *c, const char *account_id, uint64_t *used, uint64_t *limit,
                             vodupd_detail *d)
{
    int64_t own = -1;
    uint64_t u = 0;
    int rc = vodup_meta_usage_get(c->meta, account_id, &u, &own);
    if (rc == VODUP_META_ENOTSUP && !c->storage_quota) /* a store without usage counters: no quota */
        rc = VODUP_META_OK;
    if (rc == VODUP_META_ENOTFOUND)
        return VODUPD_ENOBUCKET;
    if (rc != VODUP_META_OK)
        return core__fail(d, VODUPD_EIO, "Reading the account's storage");
    if (used)
        *used = u;
    if (limit)
        *limit = limit_of(c, own);
    return VODUPD_OK;
}

vodupd_status core_quota_check(const core *c, const char *bucket, uint64_t adding, uint64_t freeing,
                               vodupd_detail *d)
{
    if (adding <= freeing)
        return VODUPD_OK;
    vodup_meta_bucket b;
    int rc = vodup_meta_bucket_get(c->meta, bucket, &b);
    if (rc == VODUP_META_ENOTFOUND) /* no owner, no quota: the write itself answers ENOBUCKET */
        return VODUPD_OK;
    if (rc != VODUP_META_OK)
        return core__fail(d, VODUPD_EIO, "Reading the bucket");
    uint64_t used = 0, limit = 0;
    vodupd_status st = core_quota_get(c, b.account_id, &used, &limit, d);
    vodup_meta_bucket_clear(&b);
    if (st == VODUPD_ENOBUCKET) /* a bucket of an account the store does not know: no quota to keep */
        return VODUPD_OK;
    if (st != VODUPD_OK || limit == 0)
        return st;
    /* used - freeing + adding > limit, without overflow (adding > freeing here) */
    if (used > limit || adding - freeing > limit - used) {
        if (d) {
            d->limit = limit;
            d->used = used;
        }
        return VODUPD_EQUOTA;
    }
    return VODUPD_OK;
}
