/* meta_quota.h - per-account storage: the bytes an account holds and its own quota
 * (members of the ops table since its version 4; docs/internals/store-contract.md).
 * Same conventions as meta.h.
 *
 * An account's usage is the size of every committed object plus every part of its open
 * multipart uploads, in the buckets it owns (buckets.account_id: the principal that
 * created a bucket or media belongs to that account). A back end keeps it as a counter
 * changed in the same transaction as each write of objects or parts (put, replace,
 * delete, Complete, abort, expiry), so reading it costs one row, never a sum. */
#ifndef VODUP_STORE_META_QUOTA_H
#define VODUP_STORE_META_QUOTA_H

#include <stdint.h>

#include "server/store/meta.h"

/* The bytes account_id holds (*used) and its own quota (*quota: -1 none set, the
 * server's default applies; 0 no limit; else bytes). An account that exists but has
 * written nothing: 0 and -1. ENOTFOUND when there is no such account. Either pointer may
 * be NULL. */
int vodup_meta_usage_get(vodup_meta *m, const char *account_id, uint64_t *used, int64_t *quota);
/* Sets account_id's own quota (as *quota above; any negative value: back to the
 * default). ENOTFOUND when there is no such account. */
int vodup_meta_quota_set(vodup_meta *m, const char *account_id, int64_t quota);

#endif
