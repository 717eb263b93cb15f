/* core.h - the object core: buckets, objects, multipart uploads, listings, body ingest
 * and the upload-credential scope check, over the metadata and byte stores.
 *
 * Dialects (OSS today, S3 next) parse the wire request, call the core, and render what
 * it returns; the core knows no wire format: no XML, no header names, no HTTP statuses.
 * It answers with one status vocabulary (status.h) and, after a commit that frees blobs
 * or may complete a media record, kicks the garbage collector and the event sender
 * itself, so no dialect can forget to. Rules that differ between dialects (part sizes,
 * the highest part number) are a core_rules the dialect passes in.
 *
 * Threads: every call that touches a store blocks (disk, fsync, a database) and is
 * meant for a worker thread (workq.h); the core keeps no state of its own between calls,
 * so calls on one core run concurrently. core_ingest_write only hashes and hands bytes
 * to the blob writer, and may run wherever the body arrives.
 *
 * Ownership: strings passed in are borrowed for the call; structs filled through out
 * parameters are the caller's, released with the store's _clear functions (meta.h).
 */
#ifndef VODUPD_CORE_H
#define VODUPD_CORE_H

#include <stddef.h>
#include <stdint.h>
#include <time.h>

#include "server/core/cond.h"
#include "server/core/status.h"
#include "server/store/blob.h"
#include "server/store/meta.h"

/* The stores and the hooks one core works with. */
typedef struct core {
    vodup_meta *meta;
    vodup_blobstore *blobs;
    /* Asked for after commits: a collector pass (blobs were freed) and an event-sender
     * pass (a completion event may be in the outbox). Either may be NULL. */
    void (*gc_kick)(void *user);
    void (*events_kick)(void *user);
    void *kick_user;
    /* Keep blobs from the collector while a body streams from them (read.h); NULL: the
     * byte store needs no pins. pin returns 0 or -1. Both get kick_user. */
    int (*pin)(void *user, const vodup_meta_segment *segs, size_t n);
    void (*unpin)(void *user, const vodup_meta_segment *segs, size_t n);
    int max_uploads_per_account;            /* open multipart uploads per account, 0 no limit */
    uint64_t storage_quota;                 /* bytes per account unless it has its own, 0 no limit */
    int max_uploads_per_credential_key;     /* uploads one object's upload credentials may hold */
} core;

/* The rules a dialect brings to the core. */
typedef struct core_rules {
    uint64_t max_put_size;      /* one PutObject body */
    uint64_t max_part_size;     /* one part's body */
    uint64_t min_part_size;     /* every part of a Complete but the last */
    int max_part_number;        /* part numbers run from 1 to this */
    /* Forms a completed upload's ETag (no quotes) from its parts in order; out[0] = '\0'
     * when it cannot (no memory). */
    void (*multipart_etag)(char out[64], const vodup_meta_part *parts, size_t n);
} core_rules;

/* OSS's multipart ETag: "HEX-N", the upper-case MD5 of the parts' upper-case hex ETags
 * concatenated (S3 hashes the parts' binary MD5s instead: its dialect brings its own). */
void core_etag_md5_of_hex(char out[64], const vodup_meta_part *parts, size_t n);

/* Fills c for the running server s (its stores, its collector and event sender). */
struct vodupd;
void core_of_server(core *c, struct vodupd *s);

/* ---- body ingest --------------------------------------------------------------------
 * A body streams into a new blob while its digests are computed in the same pass: no
 * second read, no whole-body buffer. The blob is invisible until committed by
 * core_object_put / core_part_put (which make it durable on the calling worker). */
typedef struct core_ingest core_ingest;

/* Starts a body of at most limit bytes, computing the digests of `digests` (MD5 and
 * CRC-64 are always computed: the store records both). *out is the caller's, freed
 * with core_ingest_free. ENOSPC (detail.what) when the byte store refuses a new blob,
 * EIO, ENOMEM. */
vodupd_status core_ingest_open(core_ingest **out, const core *c, uint64_t limit, unsigned digests,
                               vodupd_detail *d);
/* Declares the value the client says digest must have (n bytes); checked when the body
 * is complete. Only digests the ingest computes can be declared (else ENOMEM is not
 * the point: EIO is returned, a programming error). */
vodupd_status core_ingest_expect(core_ingest *in, vodupd_digest digest, const void *value, size_t n);
/* Adds n bytes. ETOOLARGE (detail.limit) past the limit, ENOSPC or EIO when the blob
 * cannot take them; after a failure every later call fails alike (EINCOMPLETE) and
 * nothing is stored. */
vodupd_status core_ingest_write(core_ingest *in, const void *p, size_t n, vodupd_detail *d);
/* Ends the body: finalises the digests and checks the declared ones (EBADDIGEST with
 * detail.digest, .expected, .actual). Idempotent. EINCOMPLETE after a failed write. */
vodupd_status core_ingest_finish(core_ingest *in, vodupd_detail *d);
uint64_t core_ingest_size(const core_ingest *in);
const unsigned char *core_ingest_md5(const core_ingest *in);   /* 16 bytes, after finish */
uint64_t core_ingest_crc64(const core_ingest *in);
/* Aborts an uncommitted blob (a committed one whose metadata was recorded stays). NULL ok. */
void core_ingest_free(core_ingest *in);

/* ---- buckets ------------------------------------------------------------------------ */
/* Creates bucket name for account_id. Creating one's own bucket again is OK (*created 0);
 * EEXISTS when another account has it; EIO. created may be NULL. */
vodupd_status core_bucket_create(const core *c, const char *name, const char *account_id, int *created,
                                 vodupd_detail *d);
/* The bucket, when it exists and account_id owns it: ENOBUCKET, EDENIED (DENY_OWNER), EIO. */
vodupd_status core_bucket_get(const core *c, const char *name, const char *account_id, vodup_meta_bucket *out,
                              vodupd_detail *d);
/* Deletes an empty bucket (one already gone is OK): ENOTEMPTY, EIO. Ownership is the
 * caller's check (core_bucket_get). */
vodupd_status core_bucket_delete(const core *c, const char *name, vodupd_detail *d);
/* Calls cb for each bucket of account_id whose name starts with prefix (NULL: all), in
 * name order; cb returning non-zero stops. EIO. */
vodupd_status core_bucket_list(const core *c, const char *account_id, const char *prefix,
                               int (*cb)(const vodup_meta_bucket *b, void *u), void *u, vodupd_detail *d);

/* ---- storage quotas (quota.c) ------------------------------------------------------
 * An account's usage is its committed objects plus the parts of its open uploads, in the
 * buckets it owns (meta_quota.h). Its limit is its own quota (`vodupd quota set`) or else
 * c->storage_quota. Writes check it before the metadata commit, so a refused body's
 * blob is removed with its ingest and nothing of it remains. The check and the commit
 * are not one transaction: writes racing each other can pass the limit by what is in
 * flight at once, never by more. */

/* OK when the owner of bucket may add `adding` bytes while `freeing` bytes (an object
 * the write replaces) go; a write that adds no more than it frees always may. EQUOTA
 * (detail.limit, .used) when it would pass the limit, EIO; a missing bucket has no quota
 * (OK: the write itself then answers ENOBUCKET). */
vodupd_status core_quota_check(const core *c, const char *bucket, uint64_t adding, uint64_t freeing,
                               vodupd_detail *d);
/* The account's usage and limit (0: none), for operators. ENOBUCKET when the account does
 * not exist (no such account), EIO. */
vodupd_status core_quota_get(const core *c, const char *account_id, uint64_t *used, uint64_t *limit,
                             vodupd_detail *d);

/* ---- objects --------------------------------------------------------------------------
 * Writes by upload credentials carry a guard (meta.h): the store checks it again in the
 * transaction that commits, so a body that took minutes cannot replace a media completed
 * meanwhile. guard NULL: no such check. */

typedef struct core_put {
    const char *bucket;
    const char *key;
    size_t key_len;
    const char *content_type;   /* required */
    const char *user_meta;      /* JSON object text, or NULL */
    const vodup_meta_guard *guard;
} core_put;

/* Makes the finished body durable and records it as the object p->bucket/p->key
 * (replacing one there: its blobs go to the collector, which is kicked; so is the event
 * sender, since the object may complete a media record). EBADDIGEST / EINCOMPLETE (from
 * core_ingest_finish), ENOBUCKET (deleted meanwhile), ENOSPC, EIO, EDENIED (DENY_COMPLETE) or EREVOKED from the guard.
 * A retry that overlapped its own earlier attempt, which completed the media meanwhile,
 * is OK when the stored bytes are the same. On failure nothing is stored. */
vodupd_status core_object_put(const core *c, const core_put *p, core_ingest *in, vodupd_detail *d);
/* For upload credentials whose media is complete (core_scope_check said replay_only): a
 * PutObject may only repeat the stored bytes, which changes nothing. OK when they are
 * the same; EDENIED (DENY_COMPLETE) when not; EBADDIGEST / EINCOMPLETE as finish. */
vodupd_status core_object_replay(const core *c, const char *bucket, const char *key, size_t key_len,
                                 core_ingest *in, vodupd_detail *d);
/* The object with its segments: ENOKEY, EIO. */
vodupd_status core_object_get(const core *c, const char *bucket, const char *key, size_t key_len,
                              vodup_meta_object *out, vodupd_detail *d);
/* Deletes the object (a missing one is OK: deletes are idempotent) and kicks the
 * collector. EIO. */
vodupd_status core_object_delete(const core *c, const char *bucket, const char *key, size_t key_len,
                                 vodupd_detail *d);

/* ---- listings -------------------------------------------------------------------------
 * Keys in byte order; a delimiter folds the keys below a common prefix into one entry
 * (listed once, then skipped with one re-seek, not key by key). */

typedef struct core_list_entry {
    const vodup_meta_object *object;    /* an object, or NULL for a common prefix */
    const vodup_meta_upload *upload;    /* an upload (core_upload_list), or NULL */
    const char *prefix;                 /* the common prefix (delimiter included) */
    size_t prefix_len;
} core_list_entry;

typedef struct core_list_query {
    const char *prefix;
    size_t prefix_len;
    const char *delim;          /* "" or NULL: no folding */
    size_t delim_len;
    const char *after;          /* list strictly after this key (or common prefix) */
    size_t after_len;
    const char *upload_id_after; /* core_upload_list: after this upload of `after` ("": all of it) */
    int max;                    /* at most this many entries */
} core_list_query;

typedef struct core_list_result {
    int count;
    int truncated;              /* more entries follow */
    char *last;                 /* the last key or prefix listed (the next page's `after`), malloc'd */
    size_t last_len;
    char last_upload_id[33];    /* core_upload_list: the last upload listed ("" after a prefix) */
} core_list_result;
void core_list_result_clear(core_list_result *r);

/* Lists bucket's objects: cb gets each entry, in order; res says where the page ended.
 * EIO, ENOMEM. */
vodupd_status core_object_list(const core *c, const char *bucket, const core_list_query *q,
                               void (*cb)(const core_list_entry *e, void *u), void *u, core_list_result *res,
                               vodupd_detail *d);

/* ---- multipart uploads ------------------------------------------------------------- */

/* 1 when id has the form the core gives upload ids (32 upper-case hex), else 0. */
int core_upload_id_valid(const char *id);
/* The upload id, when it is an upload of bucket/key: ENOUPLOAD (also for a malformed id
 * or another object's upload), EIO. */
vodupd_status core_upload_get(const core *c, const char *upload_id, const char *bucket, const char *key,
                              size_t key_len, vodup_meta_upload *out, vodupd_detail *d);

typedef struct core_initiate {
    const char *bucket;
    const char *key;
    size_t key_len;
    const char *account_id;
    const char *content_type;
    const char *user_meta;
    const vodup_meta_guard *guard;
} core_initiate;
/* Opens an upload; its id goes to upload_id. ELIMIT (detail.limit: uploads per account),
 * EDENIED / EREVOKED from the guard, EIO. Uploads that upload credentials abandoned on
 * the same key may be evicted to make room (the collector is kicked). */
vodupd_status core_upload_initiate(const core *c, const core_initiate *in, char upload_id[33], vodupd_detail *d);
/* Makes the finished body durable and records it as part `number` of upload_id
 * (replacing an earlier part with that number: the collector is kicked). ENOUPLOAD when
 * the upload went away meanwhile; the rest as core_object_put. */
vodupd_status core_part_put(const core *c, const char *upload_id, int number, core_ingest *in,
                            const vodup_meta_guard *guard, vodupd_detail *d);
/* Completes upload_id from parts (number and ETag as the client listed them; quotes
 * already stripped) under rules: the numbers must ascend (EPARTORDER), each part exist
 * with that ETag, case-insensitively (EINVALIDPART), every part but the last have
 * rules->min_part_size bytes (ETOOSMALL, detail.limit); detail.part is the number at
 * fault. The object's ETag is rules->multipart_etag's, its CRC-64 the parts' combined.
 * The store then commits only if the parts are still as read (a part uploaded again
 * meanwhile: read and decided again, a few times). ENOUPLOAD, EDENIED / EREVOKED from
 * the guard, EIO, ENOMEM. out (may be NULL) receives the new object. Kicks the collector
 * and the event sender. */
vodupd_status core_upload_complete(const core *c, const core_rules *rules, const char *upload_id,
                                   const vodup_meta_complete_part *parts, size_t nparts,
                                   const vodup_meta_guard *guard, vodup_meta_object *out, vodupd_detail *d);
/* Aborts upload_id (its parts to the collector, which is kicked): ENOUPLOAD, EIO. */
vodupd_status core_upload_abort(const core *c, const char *upload_id, vodupd_detail *d);
/* Parts of upload_id after number marker, ascending, at most max; *truncated when more
 * follow. ENOUPLOAD, EIO. */
vodupd_status core_part_list(const core *c, const char *upload_id, int marker, int max,
                             int (*cb)(const vodup_meta_part *p, void *u), void *u, int *truncated,
                             vodupd_detail *d);
/* Lists bucket's open uploads like core_object_list (entries carry .upload, or a common
 * prefix). EIO, ENOMEM. */
vodupd_status core_upload_list(const core *c, const char *bucket, const core_list_query *q,
                               void (*cb)(const core_list_entry *e, void *u), void *u, core_list_result *res,
                               vodupd_detail *d);

/* ---- copies (copy.c) -----------------------------------------------------------------
 * CopyObject and UploadPartCopy. The byte store has no way to share a blob between two
 * objects (blob.h has no clone, and the garbage list frees a blob as soon as one object
 * lets go of it), so a copy to another key streams the source's bytes through the core
 * into a new blob, in bounded memory (CORE_COPY_BUF at a time, on the calling worker),
 * digested like any body. Only a copy of an object onto itself (a metadata update) keeps
 * its blobs: nothing is copied then. */

#define CORE_COPY_BUF (256u * 1024)

struct vodup_cred;
/* Where a copy reads from, as the request says it. */
typedef struct core_copy_from {
    const struct vodup_cred *cred;  /* the caller: it must be able to read the source */
    const char *source;             /* x-amz-copy-source, x-oss-copy-source: "[/]bucket/key", the key
                                       percent-encoded */
    core_conditions cond;           /* the copy-source-if-* values (NULL: absent) */
    const char *range;              /* part copies: the copy-source-range value, or NULL (all) */
} core_copy_from;

typedef struct core_copy {
    const char *bucket;         /* the destination */
    const char *key;
    size_t key_len;
    int replace;                /* metadata from content_type/user_meta, else the source's */
    const char *content_type;   /* with replace: required */
    const char *user_meta;      /* with replace: JSON object text, or NULL */
    int self_needs_replace;     /* S3: an object copied onto itself must change its metadata */
    uint64_t max_size;          /* the largest object a copy makes (the dialect's rules) */
    const vodup_meta_guard *guard;
} core_copy;

/* What a copy made, or why it stopped. */
typedef struct core_copy_result {
    /* 0: copied. Else nothing was: 412 or 304 when a copy-source-if-* condition failed
     * (core_conditions_check's verdict); 400 when the range is not "bytes=first-last",
     * 416 when it does not lie within the source (source_size says its size). */
    int stopped;
    uint64_t source_size;
    char etag[64];              /* the new object's (or part's) ETag: upper-case, no quotes */
    time_t mtime;
    uint64_t size;
    uint64_t crc64;
    unsigned char md5[16];      /* for a copy into a Normal object (has_md5) */
    int has_md5;
} core_copy_result;

/* The source, from->source, is read as a GetObject by from->cred would read it: upload
 * credentials only inside their scope and only with "GetObject" among their operations
 * (EDENIED, DENY_SCOPE: they never have it); the bucket must exist (ENOBUCKET) and be the
 * account's (EDENIED, DENY_OWNER); RAM users and roles need oss:GetObject on
 * acs:oss:*:<account>:<bucket>/<key> (EDENIED). The destination is the dialect router's
 * check, as for any write. A source header naming no bucket and key is EBADREQUEST, one
 * with a versionId ENOTIMPL (vodupd keeps no versions); detail.what says which. Then
 * ENOKEY, or OK with out->stopped when a condition or the range stops the copy. The
 * source's blobs stay pinned (core.pin) while they are read, so that an overwrite or
 * delete of the source meanwhile frees nothing being read. */

/* Copies the source to p's key. Onto itself (same bucket and key) it rewrites the
 * metadata only, keeping the blobs, ETag and type; without p->replace that is
 * EBADREQUEST when p->self_needs_replace (detail.what says why). Otherwise the bytes
 * stream into a new Normal object (ETag: their MD5): ETOOLARGE (detail.limit) past
 * p->max_size, EQUOTA and ENOSPC (the disk reserve), all before a byte is read, then what
 * core_object_put answers. Kicks the collector and the event sender as a put does. */
vodupd_status core_copy_object(const core *c, const core_copy_from *from, const core_copy *p, core_copy_result *out,
                               vodupd_detail *d);
/* Copies the source's from->range (all of it without one) as part `number` of upload_id:
 * ETOOLARGE past max_part_size, ENOUPLOAD, EQUOTA and ENOSPC before a byte is read, then
 * what core_part_put answers (the guard's refusals among them). */
vodupd_status core_upload_part_copy(const core *c, const core_copy_from *from, const char *upload_id, int number,
                                    uint64_t max_part_size, const vodup_meta_guard *guard, core_copy_result *out,
                                    vodupd_detail *d);

/* ---- the upload-credential scope check -----------------------------------------------
 * Upload credentials (UploadAuth) may write their one object, with the operations they
 * were issued for, and only while the media at it is being uploaded (or when they were
 * issued after its last completion: RefreshUploadVideo). A client that lost an answer
 * must still be able to retry, so two writes pass a complete media: a PutObject that
 * repeats the stored bytes (replay_only: checked once its body is in) and a Complete
 * whose upload is already gone (it then learns ENOUPLOAD). */

typedef enum core_write {
    CORE_WRITE_PUT,         /* PutObject */
    CORE_WRITE_COMPLETE,    /* CompleteMultipartUpload */
    CORE_WRITE_OTHER
} core_write;

/* The media state the decision rests on. */
typedef struct core_media_state {
    int found;              /* 0: the media was deleted */
    int uploading;          /* its status is the uploading one */
    time_t modified;        /* when it last changed (completed) */
} core_media_state;

typedef struct core_scope_result {
    int replay_only;        /* OK, but the write may only repeat what is stored */
} core_scope_result;

/* The decision alone (no store): OK (res->replay_only maybe set), EDENIED (DENY_COMPLETE),
 * EREVOKED. issued_ms: when the credentials were issued; upload_exists: for a Complete,
 * whether its upload is still open. */
vodupd_status core_scope_decide(const core_media_state *m, long long issued_ms, core_write w, int upload_exists,
                                core_scope_result *res, vodupd_detail *d);
/* The guard's rule (meta.h vodup_meta_guard.writable), core_scope_decide's: 1 while
 * the media in status, last changed at modified, is being uploaded, or g was issued
 * after the second it last completed. */
int core_guard_writable(const vodup_meta_guard *g, const char *status, time_t modified);
struct vodup_cred;
/* The guard that writes by cred carry (g filled), or NULL when cred is not scoped. */
const vodup_meta_guard *core_write_guard(const struct vodup_cred *cred, vodup_meta_guard *g);
/* The whole check for credentials cred (auth.h; has_scope set) running operation op on
 * bucket/key: the object and operation against the scope (EDENIED, DENY_SCOPE), then
 * the media's state from the store (upload_id: the request's, for a Complete). EIO. */
vodupd_status core_scope_check(const core *c, const struct vodup_cred *cred, const char *op, core_write w,
                               const char *bucket, const char *key, size_t key_len, const char *upload_id,
                               core_scope_result *res, vodupd_detail *d);

#endif
