/* meta.h - the metadata store: accounts, access keys, buckets, objects, multipart uploads.
 *
 * Handlers see only these calls, each one transaction. They are thin wrappers (meta.c)
 * over a versioned table of operations (meta_ops.h, in the style of libgit2's
 * git_refdb_backend) that a back end fills: meta_sqlite.c implements it on SQLite (WAL,
 * synchronous=FULL, a small connection pool so threads read in parallel) and
 * vodup_meta_open_sqlite is its constructor; PostgreSQL can implement the same table
 * later. What every back end must keep is in docs/internals/store-contract.md, and
 * tests/unit/test_store_conformance.c checks it. Strings returned inside structs are owned
 * by the struct and released with the matching _clear/_free function.
 *
 * Blob ids that an operation stops referencing (an overwritten object, a deleted one, an
 * aborted upload, parts left out of a Complete) are put on a durable garbage list in the
 * same transaction; vodup_meta_gc_take hands them out for removal, so a crash between the
 * commit and the unlink never leaks or loses a file.
 *
 * Store calls block (disk, later the network): in debug builds every wrapper aborts when
 * it is called on a thread marked as an HTTP event-loop thread (loop_guard.h).
 */
#ifndef VODUP_STORE_META_H
#define VODUP_STORE_META_H

#include "server/store/blob.h"   /* VODUP_BLOB_ID_LEN */

#include <stddef.h>
#include <stdint.h>
#include <time.h>

typedef struct vodup_meta vodup_meta;

enum {
    VODUP_META_OK = 0,
    VODUP_META_ENOTFOUND = -1,
    VODUP_META_EEXISTS = -2,
    VODUP_META_ENOTEMPTY = -3,       /* bucket still has objects or uploads */
    VODUP_META_EINVALIDPART = -4,    /* Complete: a part is missing or its ETag differs */
    VODUP_META_EPARTORDER = -5,      /* Complete: part numbers not strictly ascending */
    VODUP_META_ETOOSMALL = -6,       /* Complete: a part other than the last is too small */
    VODUP_META_EIO = -7,             /* database error (logged) */
    VODUP_META_ENOMEM = -8,
    VODUP_META_ELIMIT = -9,          /* a quota was reached */
    VODUP_META_ENOTSUP = -20         /* the back end's ops version predates this call (meta_ops.h) */
};

/* 1 when m's back end implements the calls of ops version `version` (meta_ops.h: probe
 * jobs 4, storage quotas 5), 0 when it predates them. */
int vodup_meta_supports(const vodup_meta *m, unsigned version);

/* Conventions of every implementation: a create whose parent row is missing (key or
 * bucket of an unknown account, object or upload in an unknown bucket) returns ENOTFOUND;
 * list callbacks run after the store has let go of its connection, so a callback may call
 * back into the store. */

/* The SQLite back end: opens (creating and migrating) <data_dir>/vodup.db. pool:
 * connections kept (>= 1). */
int vodup_meta_open_sqlite(vodup_meta **out, const char *data_dir, int pool);
/* The name vodup_meta_open_sqlite had before there was a choice of back ends. */
static inline int vodup_meta_open(vodup_meta **out, const char *data_dir, int pool)
{
    return vodup_meta_open_sqlite(out, data_dir, pool);
}
/* The PostgreSQL back end (several vodupd nodes on one database, docs/scale-out.md):
 * conninfo is a libpq connection string or postgres:// URL (never logged: it may hold a
 * password); creates or migrates the schema. pool: connections kept (>= 1). */
int vodup_meta_open_postgres(vodup_meta **out, const char *conninfo, int pool);
/* Closes any back end's store; NULL is a no-op. */
void vodup_meta_close(vodup_meta *m);

/* --- accounts and keys ------------------------------------------------------ */
int vodup_meta_account_create(vodup_meta *m, const char *account_id, const char *name, time_t now);
/* secret_sealed: opaque bytes (sealed by the caller). */
int vodup_meta_key_create(vodup_meta *m, const char *key_id, const char *account_id,
                          const char *principal, const void *secret_sealed, size_t sealed_len,
                          time_t now);
typedef struct vodup_meta_key {
    char *key_id;
    char *account_id;
    char *principal;        /* "root" or a user name */
    unsigned char *sealed;
    size_t sealed_len;
    int active;
} vodup_meta_key;
int vodup_meta_key_get(vodup_meta *m, const char *key_id, vodup_meta_key *out);
void vodup_meta_key_clear(vodup_meta_key *k);
/* Small key/value settings (server-wide), e.g. the root account id. */
int vodup_meta_setting_get(vodup_meta *m, const char *name, char **value);
int vodup_meta_setting_set(vodup_meta *m, const char *name, const char *value);
/* Sets name only when it has no value yet: EEXISTS otherwise (first writer wins, across
 * every connection and node). */
int vodup_meta_setting_add(vodup_meta *m, const char *name, const char *value);

/* --- buckets ---------------------------------------------------------------- */
typedef struct vodup_meta_bucket {
    char *name;
    char *account_id;
    time_t created;
} vodup_meta_bucket;
int vodup_meta_bucket_create(vodup_meta *m, const char *name, const char *account_id, time_t now);
int vodup_meta_bucket_get(vodup_meta *m, const char *name, vodup_meta_bucket *out);
/* ENOTEMPTY when it has objects or multipart uploads. */
int vodup_meta_bucket_delete(vodup_meta *m, const char *name);
/* Calls cb for each bucket of the account in name order; cb returning non-zero stops. */
int vodup_meta_bucket_list(vodup_meta *m, const char *account_id,
                           int (*cb)(const vodup_meta_bucket *b, void *u), void *u);
void vodup_meta_bucket_clear(vodup_meta_bucket *b);

/* --- objects ---------------------------------------------------------------- */
typedef struct vodup_meta_segment {
    char blob[VODUP_BLOB_ID_LEN + 1];
    uint64_t size;
} vodup_meta_segment;

typedef struct vodup_meta_object {
    char *bucket;
    char *key;              /* any bytes but NUL */
    size_t key_len;
    uint64_t size;
    char etag[64];          /* without quotes: "HEX" or "HEX-N" */
    uint64_t crc64;
    unsigned char md5[16];  /* valid when has_md5 (Normal objects) */
    int has_md5;
    char *content_type;
    char *user_meta;        /* JSON object text of x-oss-meta-* (names lower-case, without the prefix), or NULL */
    char type[16];          /* "Normal" or "Multipart" */
    time_t mtime;
    vodup_meta_segment *segs;   /* in order; only filled by _object_get */
    size_t nsegs;
} vodup_meta_object;

/* Creates or replaces bucket/key (o->bucket, o->key) with segs. The old object's blobs
 * go on the garbage list. */
int vodup_meta_object_put(vodup_meta *m, const vodup_meta_object *o);
int vodup_meta_object_get(vodup_meta *m, const char *bucket, const char *key, size_t key_len,
                          vodup_meta_object *out);
/* ENOTFOUND when absent (callers answer 204 anyway, as OSS does). */
int vodup_meta_object_delete(vodup_meta *m, const char *bucket, const char *key, size_t key_len);
/* Objects of bucket whose key starts with prefix and sorts strictly after `after` (byte
 * order), in key order, at most limit; segs are not filled. cb returning non-zero stops.
 * Listing with a delimiter is built on top by the caller (it re-seeks past a common
 * prefix with a new `after`). */
int vodup_meta_object_list(vodup_meta *m, const char *bucket,
                           const char *prefix, size_t prefix_len,
                           const char *after, size_t after_len, size_t limit,
                           int (*cb)(const vodup_meta_object *o, void *u), void *u);
void vodup_meta_object_clear(vodup_meta_object *o);

/* --- multipart uploads -------------------------------------------------------- */
typedef struct vodup_meta_upload {
    char upload_id[33];
    char *bucket;
    char *key;
    size_t key_len;
    time_t initiated;
    char *content_type;
    char *user_meta;
} vodup_meta_upload;

typedef struct vodup_meta_part {
    int number;
    char blob[VODUP_BLOB_ID_LEN + 1];
    uint64_t size;
    char etag[33];          /* upper-case MD5 hex, no quotes */
    uint64_t crc64;
    time_t mtime;
} vodup_meta_part;

/* ELIMIT when the account already has max_open uploads open (0 = no limit). */
int vodup_meta_upload_create(vodup_meta *m, const vodup_meta_upload *u, const char *account_id,
                             int max_open);
int vodup_meta_upload_get(vodup_meta *m, const char *upload_id, vodup_meta_upload *out);
/* Records a part (replacing an earlier part with that number: its blob goes on the
 * garbage list). ENOTFOUND when the upload no longer exists (then the caller removes
 * the new blob itself). */
int vodup_meta_part_put(vodup_meta *m, const char *upload_id, const vodup_meta_part *p);
/* Parts with number > marker, ascending, at most limit. ENOTFOUND when the upload does
 * not exist. */
int vodup_meta_part_list(vodup_meta *m, const char *upload_id, int marker, size_t limit,
                         int (*cb)(const vodup_meta_part *p, void *u), void *u);
/* Aborts: removes the upload and its parts (blobs to garbage). ENOTFOUND if absent. */
int vodup_meta_upload_abort(vodup_meta *m, const char *upload_id);
/* Aborts up to max uploads initiated before `before` (abandoned ones), as
 * vodup_meta_upload_abort does each; returns how many, or a negative error. */
int vodup_meta_upload_expire(vodup_meta *m, time_t before, int max);
/* Uploads of bucket with key starting with prefix, ordered by (key, upload_id), strictly
 * after (key_marker, upload_id_marker) — an empty upload_id_marker means "after every
 * upload of key_marker"; at most limit. */
int vodup_meta_upload_list(vodup_meta *m, const char *bucket, const char *prefix, size_t prefix_len,
                           const char *key_marker, size_t key_marker_len,
                           const char *upload_id_marker, size_t limit,
                           int (*cb)(const vodup_meta_upload *u, void *user), void *user);
void vodup_meta_upload_clear(vodup_meta_upload *u);

typedef struct vodup_meta_complete_part {
    int number;
    char etag[33];          /* upper-case hex, quotes stripped by the caller */
} vodup_meta_complete_part;

/* Completes an upload in one transaction: checks that numbers ascend strictly (EPARTORDER,
 * *bad_index set), that each part exists with that ETag, case-insensitively (EINVALIDPART,
 * *bad_index), that every part but the last has at least min_part_size bytes (ETOOSMALL,
 * *bad_index); then creates the object from those parts' blobs in order (type Multipart,
 * size summed, crc64 combined, etag "MD5(concatenated part ETag hex)-N" upper-case),
 * replacing any object at that key, moves the unlisted parts' blobs to garbage, and
 * removes the upload. out (may be NULL) receives the new object. ENOTFOUND when the
 * upload does not exist. */
int vodup_meta_upload_complete(vodup_meta *m, const char *upload_id,
                               const vodup_meta_complete_part *parts, size_t nparts,
                               uint64_t min_part_size, time_t now,
                               vodup_meta_object *out, size_t *bad_index);

/* --- blob bookkeeping ----------------------------------------------------------- */
/* Up to max blob ids from the garbage list (each VODUP_BLOB_ID_LEN + 1 bytes incl. NUL, in ids[]); returns
 * the count. After removing the files, vodup_meta_gc_done forgets them. */
int vodup_meta_gc_take(vodup_meta *m, char (*ids)[VODUP_BLOB_ID_LEN + 1], int max);
int vodup_meta_gc_done(vodup_meta *m, char (*ids)[VODUP_BLOB_ID_LEN + 1], int n);
/* 1 when some object segment or part references blob, 0 when none, <0 on error. */
int vodup_meta_blob_is_live(vodup_meta *m, const char *blob);

/* --- writes by upload credentials ------------------------------------------------ */
/* Upload credentials (UploadAuth) may write their one object only while the media record
 * at it is being uploaded, or when they were issued after its last completion. The router
 * checks that when the request's headers arrive; the body may take minutes, in which
 * another write may complete the media, so the _guarded writes check again inside the
 * transaction that commits, and refuse with EDENIED (media complete) or EREVOKED (media
 * deleted) instead of replacing the content and queueing a second completion event. */
enum {
    VODUP_META_EDENIED = -10,
    VODUP_META_EREVOKED = -11
};

typedef struct vodup_meta_guard {
    long long issued_ms;    /* when the credential was issued (Unix ms) */
    time_t expires;         /* when it expires */
    /* The rule, which is the caller's, not the store's (the core's: core_guard_writable):
     * 1 when the media at the key, in `status` and last changed at `modified`, may still
     * be written with g. The store reads the media inside the committing transaction and
     * asks; NULL is a programming error (EIO). */
    int (*writable)(const struct vodup_meta_guard *g, const char *status, time_t modified);
} vodup_meta_guard;

/* As vodup_meta_object_put, with g checked against bucket/key first (g NULL: no check). */
int vodup_meta_object_put_guarded(vodup_meta *m, const vodup_meta_object *o, const vodup_meta_guard *g);
/* As vodup_meta_part_put, with g checked against the upload's key; an upload opened by
 * upload credentials then lives until g->expires at least (see _upload_create_guarded). */
int vodup_meta_part_put_guarded(vodup_meta *m, const char *upload_id, const vodup_meta_part *p,
                                const vodup_meta_guard *g);
/* As vodup_meta_upload_complete, with g checked against the upload's key. */
int vodup_meta_upload_complete_guarded(vodup_meta *m, const char *upload_id,
                                       const vodup_meta_complete_part *parts, size_t nparts,
                                       uint64_t min_part_size, time_t now, vodup_meta_object *out,
                                       size_t *bad_index, const vodup_meta_guard *g);
/* Completes an upload with what the caller decided (the core: core_upload_complete
 * applies the dialect's rules and forms the ETag; the store keeps none of them). In one
 * transaction: ENOTFOUND when the upload does not exist; g checked against its key (NULL:
 * none); each of parts (as the caller read them with vodup_meta_part_list) must still be
 * stored under its number with the same blob and size, else EINVALIDPART with *bad_index
 * (the caller re-reads and decides again). Then the object at the upload's bucket/key
 * becomes those parts' blobs in the order given, with etag, size, crc64, type and mtime
 * from fields (its bucket, key, content type and user metadata are the upload's), the
 * upload's other parts' blobs go to the garbage list and the upload is removed. out (may
 * be NULL) receives the new object. */
int vodup_meta_upload_commit(vodup_meta *m, const char *upload_id, const vodup_meta_part *parts,
                             size_t nparts, const vodup_meta_object *fields, const vodup_meta_guard *g,
                             vodup_meta_object *out, size_t *bad_index);
/* As vodup_meta_upload_create, for upload credentials: g is checked; when max_per_key
 * uploads opened by upload credentials are already open on the key, the least recently
 * written ones are aborted to make room (their parts to the garbage list; *evicted, may
 * be NULL, counts them): a client that restarts without aborting gets on, and one
 * credential never holds more. The upload records g->expires so that
 * vodup_meta_upload_expire_creds aborts it once no credential that wrote to it is valid. */
int vodup_meta_upload_create_guarded(vodup_meta *m, const vodup_meta_upload *u, const char *account_id,
                                     int max_open, const vodup_meta_guard *g, int max_per_key, int *evicted);
/* Aborts up to max uploads opened by upload credentials whose newest credential expired
 * before `before`; returns how many, or a negative error. */
int vodup_meta_upload_expire_creds(vodup_meta *m, time_t before, int max);

/* As vodup_meta_gc_take, in id order after `after` ("" from the start), so that a
 * collector that leaves some ids on the list (blobs a reader still holds) reaches the
 * rest. */
int vodup_meta_gc_take_after(vodup_meta *m, const char *after, char (*ids)[VODUP_BLOB_ID_LEN + 1], int max);
/* --- revocation of temporary credentials (meta_sqlite_auth.c) ---------------------- */
/* Each principal of an account ("role/<name>", "user/<name>") has a generation, 0 until it
 * is first revoked. Temporary credentials seal the generations of the principals they
 * derive from and are refused once one of those has moved past the sealed value. */

/* Deletes a user or role like vodup_meta_principal_delete (ENOTFOUND when absent) and,
 * in the same transaction, advances its generation. */
int vodup_meta_principal_delete_revoking(vodup_meta *m, const char *kind, const char *account_id,
                                         const char *name);
/* The current generation of principal ("<kind>/<name>") in account_id (0: never revoked),
 * read in its own transaction. */
int vodup_meta_revocation_get(vodup_meta *m, const char *account_id, const char *principal,
                              long long *gen);

/* The generations cached for request-time checks, thread-safe, and seeing a revocation
 * committed by any process at the next call. The SQLite back end's cache
 * (vodup_meta_revocations_open_sqlite) has one connection of its own, refreshed whenever
 * PRAGMA data_version says any connection committed and the revocation epoch moved.
 * NULL with errno on failure. */
typedef struct vodup_meta_revocations vodup_meta_revocations;
vodup_meta_revocations *vodup_meta_revocations_open_sqlite(const char *data_dir);
/* The name vodup_meta_revocations_open_sqlite had before there was a choice of back ends. */
static inline vodup_meta_revocations *vodup_meta_revocations_open(const char *data_dir)
{
    return vodup_meta_revocations_open_sqlite(data_dir);
}
/* The PostgreSQL back end's: a connection of its own that reads the generation at each
 * call, so a revocation made on any node holds on every node at once. */
vodup_meta_revocations *vodup_meta_revocations_open_postgres(const char *conninfo);
int vodup_meta_revocations_get(vodup_meta_revocations *r, const char *account_id, const char *principal,
                               long long *gen);
void vodup_meta_revocations_close(vodup_meta_revocations *r);

#endif
