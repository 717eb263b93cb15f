/* meta_ops.h - what a metadata back end implements: the table of operations behind the
 * vodup_meta_* calls of meta.h and meta_vod.h.
 *
 * In the style of libgit2's git_refdb_backend: a back end fills one static
 * vodup_meta_ops (version = VODUP_META_OPS_VERSION, every member set), allocates its own
 * handle with a struct vodup_meta as its first member, and calls vodup_meta_init on it in
 * its constructor (vodup_meta_open_sqlite is the only one today). The wrappers in meta.c
 * are the only callers of these members: they add what is the same for every back end
 * (the off-loop check of loop_guard.h), so a back end never repeats it. Each member has
 * the contract of the wrapper of the same name (docs/internals/store-contract.md), and
 * tests/unit/test_store_conformance.c checks a back end against it through this table.
 *
 * Only back ends and the conformance suite include this header; everything else sees an
 * opaque vodup_meta.
 */
#ifndef VODUP_STORE_META_OPS_H
#define VODUP_STORE_META_OPS_H

#include "server/store/meta.h"
#include "server/store/meta_admin.h"
#include "server/store/meta_jobs.h"
#include "server/store/meta_quota.h"
#include "server/store/meta_vod.h"

/* Bumped whenever a member is added, removed or changes its signature or contract, so a
 * back end built against another table is refused at open instead of misbehaving. */
#define VODUP_META_OPS_VERSION 5
/* The oldest table still accepted. Versions only ever append members, so a back end of
 * version 3 or 4 fills a prefix of the table and leaves the later members NULL; their
 * wrappers answer VODUP_META_ENOTSUP for it (vodup_meta_supports tells up front), and the
 * features on them (probe jobs: 4, storage quotas: 5) are off on such a back end. */
#define VODUP_META_OPS_MIN_VERSION 3

typedef struct vodup_meta_ops {
    unsigned version;           /* VODUP_META_OPS_VERSION, or an older one down to _MIN_VERSION */
    const char *name;           /* "sqlite": for messages */
    /* Releases everything the handle holds, the handle included. */
    void (*close)(vodup_meta *m);
    /* accounts, keys, settings, buckets, objects, multipart, garbage (meta.h) */
    int (*account_create)(vodup_meta *m, const char *account_id, const char *name, time_t now);
    int (*key_create)(vodup_meta *m, const char *key_id, const char *account_id,
                      const char *principal, const void *secret_sealed, size_t sealed_len,
                      time_t now);
    int (*key_get)(vodup_meta *m, const char *key_id, vodup_meta_key *out);
    int (*setting_get)(vodup_meta *m, const char *name, char **value);
    int (*setting_set)(vodup_meta *m, const char *name, const char *value);
    int (*setting_add)(vodup_meta *m, const char *name, const char *value);
    int (*bucket_create)(vodup_meta *m, const char *name, const char *account_id, time_t now);
    int (*bucket_get)(vodup_meta *m, const char *name, vodup_meta_bucket *out);
    int (*bucket_delete)(vodup_meta *m, const char *name);
    int (*bucket_list)(vodup_meta *m, const char *account_id,
                       int (*cb)(const vodup_meta_bucket *b, void *u), void *u);
    int (*object_put)(vodup_meta *m, const vodup_meta_object *o);
    int (*object_get)(vodup_meta *m, const char *bucket, const char *key, size_t key_len,
                      vodup_meta_object *out);
    int (*object_delete)(vodup_meta *m, const char *bucket, const char *key, size_t key_len);
    int (*object_list)(vodup_meta *m, const char *bucket, const char *prefix, size_t prefix_len,
                       const char *after, size_t after_len, size_t limit,
                       int (*cb)(const vodup_meta_object *o, void *u), void *u);
    int (*upload_create)(vodup_meta *m, const vodup_meta_upload *u, const char *account_id,
                         int max_open);
    int (*upload_get)(vodup_meta *m, const char *upload_id, vodup_meta_upload *out);
    int (*part_put)(vodup_meta *m, const char *upload_id, const vodup_meta_part *p);
    int (*part_list)(vodup_meta *m, const char *upload_id, int marker, size_t limit,
                     int (*cb)(const vodup_meta_part *p, void *u), void *u);
    int (*upload_abort)(vodup_meta *m, const char *upload_id);
    int (*upload_expire)(vodup_meta *m, time_t before, int max);
    int (*upload_list)(vodup_meta *m, const char *bucket, const char *prefix, size_t prefix_len,
                       const char *key_marker, size_t key_marker_len, const char *upload_id_marker,
                       size_t limit, int (*cb)(const vodup_meta_upload *u, void *user), void *user);
    int (*upload_complete)(vodup_meta *m, const char *upload_id,
                           const vodup_meta_complete_part *parts, size_t nparts,
                           uint64_t min_part_size, time_t now, vodup_meta_object *out,
                           size_t *bad_index);
    int (*gc_take)(vodup_meta *m, char (*ids)[VODUP_BLOB_ID_LEN + 1], int max);
    int (*gc_done)(vodup_meta *m, char (*ids)[VODUP_BLOB_ID_LEN + 1], int n);
    int (*blob_is_live)(vodup_meta *m, const char *blob);
    int (*object_put_guarded)(vodup_meta *m, const vodup_meta_object *o, const vodup_meta_guard *g);
    int (*part_put_guarded)(vodup_meta *m, const char *upload_id, const vodup_meta_part *p,
                            const vodup_meta_guard *g);
    int (*upload_complete_guarded)(vodup_meta *m, const char *upload_id,
                                   const vodup_meta_complete_part *parts, size_t nparts,
                                   uint64_t min_part_size, time_t now, vodup_meta_object *out,
                                   size_t *bad_index, const vodup_meta_guard *g);
    /* version 2: Complete with the caller's (the core's) checks and ETag */
    int (*upload_commit)(vodup_meta *m, const char *upload_id, const vodup_meta_part *parts,
                         size_t nparts, const vodup_meta_object *fields,
                         const vodup_meta_guard *g, vodup_meta_object *out, size_t *bad_index);
    int (*upload_create_guarded)(vodup_meta *m, const vodup_meta_upload *u, const char *account_id,
                                 int max_open, const vodup_meta_guard *g, int max_per_key,
                                 int *evicted);
    int (*upload_expire_creds)(vodup_meta *m, time_t before, int max);
    int (*gc_take_after)(vodup_meta *m, const char *after, char (*ids)[VODUP_BLOB_ID_LEN + 1],
                         int max);
    int (*principal_delete_revoking)(vodup_meta *m, const char *kind, const char *account_id,
                                     const char *name);
    int (*revocation_get)(vodup_meta *m, const char *account_id, const char *principal,
                          long long *gen);
    /* principals, nonces, media, callbacks, the event outbox (meta_vod.h) */
    int (*principal_create)(vodup_meta *m, const char *kind, const vodup_meta_principal *p);
    int (*principal_get)(vodup_meta *m, const char *kind, const char *account_id, const char *name,
                         vodup_meta_principal *out);
    int (*principal_list)(vodup_meta *m, const char *kind, const char *account_id,
                          int (*cb)(const vodup_meta_principal *p, void *u), void *u);
    int (*principal_delete)(vodup_meta *m, const char *kind, const char *account_id,
                            const char *name);
    int (*key_list)(vodup_meta *m, const char *account_id, const char *principal,
                    int (*cb)(const char *key_id, int active, time_t created, void *u), void *u);
    int (*nonce_use)(vodup_meta *m, const char *key_id, const char *nonce, time_t now, int ttl);
    int (*media_create)(vodup_meta *m, const vodup_meta_media *md);
    int (*media_get)(vodup_meta *m, const char *account_id, const char *id, vodup_meta_media *out);
    int (*media_find_object)(vodup_meta *m, const char *bucket, const char *key, size_t key_len,
                             vodup_meta_media *out);
    int (*media_list)(vodup_meta *m, const char *account_id, const vodup_meta_media_filter *f,
                      int (*cb)(const vodup_meta_media *md, void *u), void *u, size_t *total);
    int (*media_delete)(vodup_meta *m, const char *account_id, const char *id);
    int (*media_set_status)(vodup_meta *m, const char *id, const char *status, time_t now);
    int (*callback_set)(vodup_meta *m, const char *account_id, const char *config_json);
    int (*callback_get)(vodup_meta *m, const char *account_id, char **config_json);
    int (*callback_seal_all)(vodup_meta *m);
    int (*event_due)(vodup_meta *m, time_t now, size_t max,
                     int (*cb)(const vodup_meta_event *e, void *u), void *u);
    int (*event_list)(vodup_meta *m, const char *account_id,
                      int (*cb)(const vodup_meta_event *e, void *u), void *u);
    int (*event_prepare)(vodup_meta *m, long long id, const char *body, const char *url,
                         const char *auth_key);
    int (*event_done)(vodup_meta *m, long long id);
    int (*event_retry)(vodup_meta *m, long long id, time_t next_at, const char *error);
    int (*event_defer)(vodup_meta *m, long long id, time_t next_at);
    int (*event_next)(vodup_meta *m, time_t *next_at);
    /* the revocation cache (meta.h): a handle a back end's own constructor returns */
    int (*revocations_get)(vodup_meta_revocations *r, const char *account_id,
                           const char *principal, long long *gen);
    void (*revocations_close)(vodup_meta_revocations *r);
    /* version 3: what operator commands need (meta_admin.h) */
    int (*key_create_max)(vodup_meta *m, const char *key_id, const char *account_id, const char *principal,
                          const void *secret_sealed, size_t sealed_len, time_t now, int max);
    int (*key_set_active)(vodup_meta *m, const char *account_id, const char *key_id, int active);
    int (*key_delete)(vodup_meta *m, const char *account_id, const char *key_id);
    int (*media_expire_uploading)(vodup_meta *m, time_t before, time_t now, int max);
    /* ---- version 4, probe jobs (issue 16): the durable media probe queue (meta_jobs.h).
     * Kept together; another version-4 block (quotas) may sit beside it. ---- */
    int (*probe_job_add)(vodup_meta *m, const char *media_id, time_t now);
    int (*probe_job_claim)(vodup_meta *m, const char *node, time_t now, int lease_s,
                           vodup_meta_probe_job *out);
    int (*probe_job_release)(vodup_meta *m, const char *media_id, const char *node, time_t next_at,
                             const char *error);
    int (*probe_job_finish)(vodup_meta *m, const vodup_meta_probe_result *r);
    int (*probe_job_count)(vodup_meta *m);
    int (*media_info_get)(vodup_meta *m, const char *media_id, char **json);
    int (*probe_job_requeue_node)(vodup_meta *m, const char *node, time_t now);
    /* ---- end of probe jobs ---- */
    /* ---- version 5: per-account storage (meta_quota.h) ---- */
    int (*usage_get)(vodup_meta *m, const char *account_id, uint64_t *used, int64_t *quota);
    int (*quota_set)(vodup_meta *m, const char *account_id, int64_t quota);
} vodup_meta_ops;

/* The part of every back end's handle that is not the back end's: it comes first in the
 * back end's own struct, so a vodup_meta * is a pointer to that struct too. */
struct vodup_meta {
    const vodup_meta_ops *ops;
    vodup_meta_sealer sealer;   /* vodup_meta_set_sealer's copy; seal NULL: none */
};

/* A revocation cache's handle starts the same way. */
struct vodup_meta_revocations {
    const vodup_meta_ops *ops;
};

/* Fills the common part of a new handle; VODUP_META_EIO (logged) when ops was built for
 * another version of this table. */
int vodup_meta_init(vodup_meta *m, const vodup_meta_ops *ops);
int vodup_meta_revocations_init(vodup_meta_revocations *r, const vodup_meta_ops *ops);

/* The installed sealer, NULL when none (for back ends that store callback AuthKeys). */
const vodup_meta_sealer *vodup_meta_sealer_of(const vodup_meta *m);

/* Rewrites the AuthKey of callback configuration text with sealer sl (seal = 1: plain
 * to sealed; 0: sealed to plain), bound to account_id, so that every back end stores the
 * same sealed form. *out is the new malloc'd text, or NULL when nothing changes. Text
 * that is not a JSON object with a string AuthKey is left alone: it holds no key to
 * protect. VODUP_META_EIO when a sealed key does not open (logged without the key). */
int vodup_meta_auth_key_rewrite(const vodup_meta_sealer *sl, const char *account_id, const char *config,
                                int seal, char **out);

#endif
