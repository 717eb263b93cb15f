/* meta_sqlite_int.h - what meta_sqlite.c (accounts, buckets, objects, uploads) and
 * meta_sqlite_vod.c (principals, media, events, nonces) share. Private to those two files.
 *
 * Both halves run on the same pooled connections and the same statement cache, because
 * the object store's transactions have to reach into the media tables (the completion
 * hook) and media deletion has to reach into the objects: one set of helpers, one cache
 * indexed by one enum, so neither half duplicates the other's plumbing.
 */
#ifndef VODUP_STORE_META_SQLITE_INT_H
#define VODUP_STORE_META_SQLITE_INT_H

#include "server/store/meta_ops.h"

#include <limits.h>
#include <sqlite3.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

/* ---- cached statements ------------------------------------------------------------- */

/* Statement ids. The SQL of ids below S_CORE_END is in meta_sqlite.c (stmt_sql), the rest
 * in meta_sqlite_vod.c (meta__vod_sql, indexed by id - S_CORE_END). */
enum {
    S_BEGIN_READ,
    S_BEGIN_WRITE,
    S_COMMIT,
    S_ROLLBACK,
    S_ACCOUNT_INSERT,
    S_KEY_INSERT,
    S_KEY_GET,
    S_SETTING_GET,
    S_SETTING_SET,
    S_SETTING_ADD,
    S_BUCKET_INSERT,
    S_BUCKET_GET,
    S_BUCKET_HAS_OBJECTS,
    S_BUCKET_HAS_UPLOADS,
    S_BUCKET_DELETE,
    S_BUCKET_LIST,
    S_OBJECT_FIND,
    S_OBJECT_GET,
    S_OBJECT_INSERT,
    S_OBJECT_DELETE,
    S_SEGS_TO_GC,
    S_SEGS_DELETE,
    S_SEGS_GET,
    S_SEG_INSERT,
    S_GC_FORGET,
    S_GC_ADD,
    S_GC_TAKE,
    S_UPLOAD_COUNT,
    S_UPLOAD_INSERT,
    S_UPLOAD_GET,
    S_UPLOAD_DELETE,
    S_PART_GET,
    S_PART_UPSERT,
    S_PART_LIST,
    S_PARTS_TO_GC,
    S_PARTS_UNUSED_TO_GC,
    S_PARTS_DELETE,
    S_BLOB_LIVE,
    S_GUARD_MEDIA,
    S_UPLOAD_KEY_COUNT,
    S_UPLOAD_EXTEND,
    S_GC_TAKE_AFTER,
    S_UPLOAD_CRED_INSERT,
    S_UPLOAD_KEY_OLDEST,
    S_SAVEPOINT,
    S_RELEASE,
    S_ROLLBACK_TO,
    S_CORE_END,

    /* meta_sqlite_vod.c */
    V_HOOK_EVENTS = S_CORE_END,
    V_HOOK_MEDIA,
    V_PRINCIPAL_INSERT,
    V_PRINCIPAL_GET,
    V_PRINCIPAL_LIST,
    V_PRINCIPAL_DELETE,
    V_USER_KEYS_DELETE,
    V_KEY_LIST,
    V_NONCE_USE,
    V_NONCE_PURGE,
    V_MEDIA_INSERT,
    V_MEDIA_GET,
    V_MEDIA_FIND_OBJECT,
    V_MEDIA_DELETE,
    V_MEDIA_SET_STATUS,
    V_KEY_UPLOADS,
    V_MEDIA_EVENTS_DELETE,
    V_CALLBACK_SET,
    V_CALLBACK_DELETE,
    V_CALLBACK_GET,
    V_EVENT_DUE,
    V_EVENT_LIST,
    V_EVENT_PREPARE,
    V_EVENT_DONE,
    V_EVENT_RETRY,
    V_EVENT_NEXT,
    V_EVENT_DEFER,
    S_COUNT
};

extern const char *const meta__vod_sql[S_COUNT - S_CORE_END];

/* ---- connections ------------------------------------------------------------------- */

typedef struct meta_sqlite meta_sqlite;

typedef struct conn {
    sqlite3 *db;
    sqlite3_stmt *st[S_COUNT];
    struct meta_sqlite *owner;
    int writing;            /* holds the store's writer turn (meta__tx_begin(c, 1)) */
} conn;

/* Takes a connection from the pool (waits for one) / gives it back, unbinding. */
conn *meta__acquire(vodup_meta *m);
void meta__release(vodup_meta *m, conn *c);
/* The cached statement `id`, reset and unbound; NULL when preparing fails (logged). */
sqlite3_stmt *meta__st(conn *c, int id);
/* Maps a failed step to VODUP_META_* (constraint kinds to EEXISTS/ENOTFOUND, others logged). */
int meta__db_fail(conn *c, const char *what, int rc);
/* Steps s to the end (rows ignored) and resets it. */
int meta__exec_done(conn *c, sqlite3_stmt *s, const char *what);
/* A write transaction first waits for the store's writer turn (FIFO, inside this process)
 * and keeps it until meta__tx_end, so this process's writers queue here instead of
 * contending for SQLite's lock in its busy handler; only another process's writer (an
 * admin command) is waited for there. While it has the turn, c runs on the store's one
 * writer connection, inside a SAVEPOINT of a transaction that writers queued behind each
 * other share: meta__tx_end returns once that transaction has committed (group commit:
 * one flush for them all), with this caller's own result. */
int meta__tx_begin(conn *c, int write);
/* Commits when rc is OK, rolls back otherwise; returns the final code. */
int meta__tx_end(conn *c, int rc);
/* Runs s (bound by the caller) inside the caller's transaction like meta__exec_done,
 * except that a NULL s (meta__st failed) is EIO and a run that changed no row answers
 * if_unchanged instead of OK (ENOTFOUND for "no such row", say). */
int meta__run(conn *c, sqlite3_stmt *s, const char *what, int if_unchanged);
/* Runs s (bound by the caller) as its own write transaction and releases c. A NULL s
 * (meta__st failed) is EIO. _update also answers ENOTFOUND when s changed no row. */
int meta__single_write(vodup_meta *m, conn *c, sqlite3_stmt *s, const char *what);
int meta__single_update(vodup_meta *m, conn *c, sqlite3_stmt *s, const char *what);
/* Inside a transaction: runs cached statement `id` with ?1 bound to arg. */
int meta__run_text(conn *c, int id, const char *arg, const char *what);
/* Deletes a user or role and, for a user, its keys, inside c's open write transaction;
 * VODUP_META_ENOTFOUND when absent (meta_sqlite_vod.c). */
int meta__principal_delete_tx(conn *c, const char *kind, const char *account_id, const char *name);
int meta__run_id(conn *c, int id, int64_t arg, const char *what);
/* Prepares a one-off statement (SQL built per call) into *s; the caller finalizes it. */
int meta__prepare_once(conn *c, const char *sql, const char *what, sqlite3_stmt **s);

/* ---- reading rows ------------------------------------------------------------------ */

/* Fills the struct at `row` from the current row of s; arg is whatever the query's caller
 * passed along (NULL for most). It zeroes the struct first and, on failure, leaves
 * nothing in it to free, so that callers only ever clear rows that were filled. Returns
 * VODUP_META_OK or VODUP_META_ENOMEM. */
typedef int (*meta_fill_fn)(sqlite3_stmt *s, void *row, void *arg);

/* Steps s once: a row goes through fill into out, no row is ENOTFOUND, a failed step is
 * mapped by meta__db_fail. Resets s. A NULL s (meta__st failed) is EIO. */
int meta__step_one(conn *c, sqlite3_stmt *s, const char *what, meta_fill_fn fill, void *out,
                   void *arg);

/* Reads the one row of cached statement `id` whose ?1 is arg (meta__step_one): on the
 * caller's connection, or (get) on one of its own without an explicit transaction. */
int meta__row_by_text(conn *c, int id, const char *arg, const char *what, meta_fill_fn fill,
                      void *out);
int meta__get_by_text(vodup_meta *m, int id, const char *arg, const char *what, meta_fill_fn fill,
                      void *out);
/* A fill for one TEXT column: row is a char *, set to a copy of column 0. */
int meta__text_from_row(sqlite3_stmt *s, void *row, void *arg);

/* Rows collected from a query, to be handed to the caller's callback only after the
 * connection is back in the pool (see meta_sqlite.c's header comment). */
typedef struct meta_rows {
    void *v;                    /* n elements of elem bytes each */
    size_t n, cap, elem;
    size_t next;                /* meta__rows_next's position */
    void (*clear)(void *row);   /* frees one element's contents; NULL when it owns none */
} meta_rows;

void meta__rows_init(meta_rows *r, size_t elem, void (*clear)(void *row));
/* Steps s to the end, appending each row through fill. Resets s. NULL s is EIO. */
int meta__step_rows(conn *c, sqlite3_stmt *s, const char *what, meta_fill_fn fill, void *arg,
                    meta_rows *r);
/* The next collected row, NULL after the last. */
void *meta__rows_next(meta_rows *r);
/* Clears every row and frees the array. */
void meta__rows_free(meta_rows *r);

/* Inside a write transaction: the rowid of bucket/key (0 when absent); dropping an object
 * (its blobs to blob_gc); dropping an upload with its parts (blobs to blob_gc). */
int meta__object_find(conn *c, const char *bucket, const char *key, size_t key_len, int64_t *id);
int meta__object_drop(conn *c, int64_t id);
int meta__upload_drop(conn *c, const char *upload_id);

/* The completion hook (meta_sqlite_vod.c), run by the object store inside the transaction
 * that writes bucket/key: completes every media record pointing there and queues its
 * event. A failure must fail that transaction. */
int meta__media_object_written(conn *c, const char *bucket, const char *key, size_t key_len,
                               uint64_t size, uint64_t crc64, time_t now);

/* ---- the ops of meta_sqlite_vod.c and meta_sqlite_auth.c -------------------------- */

/* The SQLite implementations of the meta_vod.h calls and of the revocation calls of
 * meta.h, each with the contract of the vodup_meta_* wrapper of the same name; the ops
 * table at the end of meta_sqlite.c points at them. */
int msq_principal_create(vodup_meta *m, const char *kind, const vodup_meta_principal *p);
int msq_principal_get(vodup_meta *m, const char *kind, const char *account_id, const char *name,
                      vodup_meta_principal *out);
int msq_principal_list(vodup_meta *m, const char *kind, const char *account_id,
                       int (*cb)(const vodup_meta_principal *p, void *u), void *u);
int msq_principal_delete(vodup_meta *m, const char *kind, const char *account_id, const char *name);
int msq_key_list(vodup_meta *m, const char *account_id, const char *principal,
                 int (*cb)(const char *key_id, int active, time_t created, void *u), void *u);
int msq_nonce_use(vodup_meta *m, const char *key_id, const char *nonce, time_t now, int ttl);
int msq_media_create(vodup_meta *m, const vodup_meta_media *md);
int msq_media_get(vodup_meta *m, const char *account_id, const char *id, vodup_meta_media *out);
int msq_media_find_object(vodup_meta *m, const char *bucket, const char *key, size_t key_len,
                          vodup_meta_media *out);
int msq_media_list(vodup_meta *m, const char *account_id, const vodup_meta_media_filter *f,
                   int (*cb)(const vodup_meta_media *md, void *u), void *u, size_t *total);
int msq_media_delete(vodup_meta *m, const char *account_id, const char *id);
int msq_media_set_status(vodup_meta *m, const char *id, const char *status, time_t now);
int msq_callback_set(vodup_meta *m, const char *account_id, const char *config_json);
int msq_callback_get(vodup_meta *m, const char *account_id, char **config_json);
int msq_callback_seal_all(vodup_meta *m);
int msq_event_due(vodup_meta *m, time_t now, size_t max,
                  int (*cb)(const vodup_meta_event *e, void *u), void *u);
int msq_event_list(vodup_meta *m, const char *account_id,
                   int (*cb)(const vodup_meta_event *e, void *u), void *u);
int msq_event_prepare(vodup_meta *m, long long id, const char *body, const char *url,
                      const char *auth_key);
int msq_event_done(vodup_meta *m, long long id);
int msq_event_retry(vodup_meta *m, long long id, time_t next_at, const char *error);
int msq_event_defer(vodup_meta *m, long long id, time_t next_at);
int msq_event_next(vodup_meta *m, time_t *next_at);
int msq_principal_delete_revoking(vodup_meta *m, const char *kind, const char *account_id,
                                  const char *name);
int msq_revocation_get(vodup_meta *m, const char *account_id, const char *principal,
                       long long *gen);
int msq_revocations_get(vodup_meta_revocations *r, const char *account_id, const char *principal,
                        long long *gen);
void msq_revocations_close(vodup_meta_revocations *r);

/* ---- small bind/column helpers ----------------------------------------------------- */

/* sqlite3_bind_blob binds NULL for a NULL pointer; an empty key must stay an empty BLOB. */
static inline int bind_bytes(sqlite3_stmt *s, int i, const void *p, size_t n)
{
    static const char empty = 0;
    if (n > INT_MAX)
        return SQLITE_TOOBIG;
    return sqlite3_bind_blob(s, i, n ? p : &empty, (int)n, SQLITE_STATIC);
}

static inline int bind_text(sqlite3_stmt *s, int i, const char *t)
{
    if (!t)
        return sqlite3_bind_null(s, i);
    return sqlite3_bind_text(s, i, t, -1, SQLITE_STATIC);
}

static inline int bind_i64(sqlite3_stmt *s, int i, int64_t v)
{
    return sqlite3_bind_int64(s, i, (sqlite3_int64)v);
}

static inline char *dup_text(sqlite3_stmt *s, int col, int *oom)
{
    const unsigned char *t = sqlite3_column_text(s, col);
    if (!t) {
        if (sqlite3_errcode(sqlite3_db_handle(s)) == SQLITE_NOMEM)
            *oom = 1;
        return NULL;
    }
    size_t n = (size_t)sqlite3_column_bytes(s, col);
    char *r = malloc(n + 1);
    if (!r) {
        *oom = 1;
        return NULL;
    }
    memcpy(r, t, n);
    r[n] = '\0';
    return r;
}

/* A NUL-terminated copy of a BLOB column (keys are returned as C strings too). */
static inline char *dup_blob(sqlite3_stmt *s, int col, size_t *len, int *oom)
{
    const void *p = sqlite3_column_blob(s, col);
    size_t n = (size_t)sqlite3_column_bytes(s, col);
    char *r = malloc(n + 1);
    if (!r) {
        *oom = 1;
        return NULL;
    }
    if (n)
        memcpy(r, p, n);
    r[n] = '\0';
    if (len)
        *len = n;
    return r;
}

/* A copy of a nullable TEXT column: NULL stays NULL (dup_text alone cannot tell a NULL
 * from a failed conversion). */
static inline char *opt_text(sqlite3_stmt *s, int col, int *oom)
{
    return sqlite3_column_type(s, col) == SQLITE_NULL ? NULL : dup_text(s, col, oom);
}

static inline void copy_text(char *dst, size_t cap, sqlite3_stmt *s, int col)
{
    const unsigned char *t = sqlite3_column_text(s, col);
    size_t n = t ? (size_t)sqlite3_column_bytes(s, col) : 0;
    if (n >= cap)
        n = cap - 1;
    if (n)
        memcpy(dst, t, n);
    dst[n] = '\0';
}

static inline int64_t clamp_limit(size_t limit)
{
    return limit > (size_t)INT64_MAX ? INT64_MAX : (int64_t)limit;
}

/* The back end's table (meta_sqlite.c), for the handles meta_sqlite_auth.c opens too. */
extern const vodup_meta_ops meta__sqlite_ops;

/* meta_sqlite_admin.c: the ops table's version-3 members (meta_admin.h). */
int msq_key_create_max(vodup_meta *m, const char *key_id, const char *account_id, const char *principal,
                       const void *secret_sealed, size_t sealed_len, time_t now, int max);
int msq_key_set_active(vodup_meta *m, const char *account_id, const char *key_id, int active);
int msq_key_delete(vodup_meta *m, const char *account_id, const char *key_id);
int msq_media_expire_uploading(vodup_meta *m, time_t before, time_t now, int max);
int msq_usage_get(vodup_meta *m, const char *account_id, uint64_t *used, int64_t *quota);
int msq_quota_set(vodup_meta *m, const char *account_id, int64_t quota);

/* meta_sqlite_jobs.c: the probe job queue (meta_jobs.h, ops version 4). The hook queues
 * a probe of every video whose object bucket/key now is, inside the caller's write
 * transaction; _forget drops media_id's job and media info inside it. */
int meta__probe_job_hook(conn *c, const char *bucket, const char *key, size_t key_len, time_t now);
int meta__probe_job_forget(conn *c, const char *media_id);
/* The media insert statement of c bound to md; NULL when preparing failed. */
sqlite3_stmt *meta__media_insert_st(conn *c, const vodup_meta_media *md);
int msq_probe_job_add(vodup_meta *m, const char *media_id, time_t now);
int msq_probe_job_claim(vodup_meta *m, const char *node, time_t now, int lease_s,
                        vodup_meta_probe_job *out);
int msq_probe_job_release(vodup_meta *m, const char *media_id, const char *node, time_t next_at,
                          const char *error);
int msq_probe_job_finish(vodup_meta *m, const vodup_meta_probe_result *r);
int msq_probe_job_count(vodup_meta *m);
int msq_media_info_get(vodup_meta *m, const char *media_id, char **json);
int msq_probe_job_requeue_node(vodup_meta *m, const char *node, time_t now);

#endif
