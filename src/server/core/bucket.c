/* bucket.c - buckets: create, look up with ownership, delete, list. */
#include <string.h>

#include "server/core/internal.h"
#include "server/core/ops.h"

/* OSS's set, which S3's contains: a bucket made through either dialect is reachable
 * through the other (S3 would also allow '.'). */
int core_bucket_name_valid(const char *n)
{
    size_t len = strlen(n);
    if (len < 3 || len > 63)
        return 0;
    for (size_t i = 0; i < len; i++) {
        char c = n[i];
        if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-'))
            return 0;
    }
    return n[0] != '-' && n[len - 1] != '-';
}

vodupd_status core_bucket_create(const core *c, const char *name, const char *account_id, int *created,
                                 vodupd_detail *d)
{
    if (created)
        *created = 0;
    int rc = vodup_meta_bucket_create(c->meta, name, account_id, time(NULL));
    if (rc == VODUP_META_OK) {
        if (created)
            *created = 1;
        return VODUPD_OK;
    }
    if (rc != VODUP_META_EEXISTS)
        return core__fail(d, rc == VODUP_META_ENOMEM ? VODUPD_ENOMEM : VODUPD_EIO, "Creating the bucket");
    /* Creating your own bucket again succeeds (OSS and S3 alike). */
    vodup_meta_bucket b;
    if (vodup_meta_bucket_get(c->meta, name, &b) == VODUP_META_OK) {
        int mine = strcmp(b.account_id, account_id) == 0;
        vodup_meta_bucket_clear(&b);
        if (mine)
            return VODUPD_OK;
    }
    return VODUPD_EEXISTS;
}

vodupd_status core_bucket_get(const core *c, const char *name, const char *account_id, vodup_meta_bucket *out,
                              vodupd_detail *d)
{
    int rc = vodup_meta_bucket_get(c->meta, name, out);
    if (rc == VODUP_META_ENOTFOUND)
        return VODUPD_ENOBUCKET;
    if (rc != VODUP_META_OK)
        return core__fail(d, VODUPD_EIO, "Reading the bucket");
    if (strcmp(out->account_id, account_id) != 0) {
        vodup_meta_bucket_clear(out);
        if (d)
            d->deny = VODUPD_DENY_OWNER;
        return VODUPD_EDENIED;
    }
    return VODUPD_OK;
}

vodupd_status core_bucket_delete(const core *c, const char *name, vodupd_detail *d)
{
    int rc = vodup_meta_bucket_delete(c->meta, name);
    if (rc == VODUP_META_ENOTEMPTY)
        return VODUPD_ENOTEMPTY;
    if (rc != VODUP_META_OK && rc != VODUP_META_ENOTFOUND)
        return core__fail(d, VODUPD_EIO, "Deleting the bucket");
    return VODUPD_OK;
}

typedef struct bucket_filter {
    const char *prefix;
    size_t prefix_len;
    int (*cb)(const vodup_meta_bucket *b, void *u);
    void *u;
} bucket_filter;

static int bucket_cb(const vodup_meta_bucket *b, void *u)
{
    bucket_filter *f = u;
    if (f->prefix_len && strncmp(b->name, f->prefix, f->prefix_len) != 0)
        return 0;
    return f->cb(b, f->u);
}

vodupd_status core_bucket_list(const core *c, const char *account_id, const char *prefix,
                               int (*cb)(const vodup_meta_bucket *b, void *u), void *u, vodupd_detail *d)
{
    bucket_filter f = {prefix, prefix ? strlen(prefix) : 0, cb, u};
    if (vodup_meta_bucket_list(c->meta, account_id, bucket_cb, &f) != VODUP_META_OK)
        return core__fail(d, VODUPD_EIO, "Listing the buckets");
    return VODUPD_OK;
}
