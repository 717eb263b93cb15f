/* meta_pg_int.h - what the files of the PostgreSQL metadata back end share (meta_pg.c:
 * pool, schema, objects and uploads; meta_pg_vod.c: the VOD tables; meta_pg_jobs.c: the
 * probe job queue and storage usage). Nothing else includes it.
 */
#ifndef VODUP_STORE_META_PG_INT_H
#define VODUP_STORE_META_PG_INT_H

#include "server/store/meta_ops.h"
#include "server/store/meta_vod.h"

#include <libpq-fe.h>
#include <stdint.h>

/* One pooled connection. */
typedef struct pg_conn {
    PGconn *db;
    int in_tx;
} pg_conn;

/* Parameters of one statement: text values, or bytes (binary format) for BYTEA. */
#define PG_MAXP 26
typedef struct pg_params {
    const char *v[PG_MAXP];
    int len[PG_MAXP];
    int fmt[PG_MAXP];
    char num[PG_MAXP][24];
    int n;
} pg_params;

void pgp_text(pg_params *p, const char *s);   /* NULL binds SQL NULL */
void pgp_i64(pg_params *p, long long v);
void pgp_bytes(pg_params *p, const void *b, size_t n);

pg_conn *mpg__acquire(vodup_meta *m);
void mpg__release(vodup_meta *m, pg_conn *c);

/* Runs sql; *res (when not NULL) receives the result of a query that returns rows (the
 * caller PQclear()s it). Maps unique violations to EEXISTS, foreign-key violations to
 * ENOTFOUND; anything else is logged (the server's message, never a bound value) as EIO.
 * *changed (when not NULL) gets the rows affected. */
int mpg__exec(pg_conn *c, const char *what, const char *sql, const pg_params *p, PGresult **res,
              long long *changed);
int mpg__begin(pg_conn *c);
/* Commits when rc is OK, rolls back otherwise; returns rc, or the commit's failure. */
int mpg__end(pg_conn *c, int rc);
/* A single statement in its own implicit transaction, through the pool. */
int mpg__write(vodup_meta *m, const char *what, const char *sql, const pg_params *p, long long *changed);
/* mpg__write of a statement that must change a row: ENOTFOUND when it changed none. */
int mpg__write_one(vodup_meta *m, const char *what, const char *sql, const pg_params *p);
/* A query through the pool, its rows collected in *r (the connection is back in the pool
 * before the caller looks at them, so callbacks may call into the store). */
int mpg__query(vodup_meta *m, const char *what, const char *sql, const pg_params *p, PGresult **r);

/* Column helpers: a malloc'd copy (NULL for SQL NULL; *oom set when out of memory). */
char *mpg__text(const PGresult *r, int row, int col, int *oom);
/* A malloc'd copy of a BYTEA column, NUL-terminated too, length in *len. */
char *mpg__bytes(const PGresult *r, int row, int col, size_t *len, int *oom);
long long mpg__i64(const PGresult *r, int row, int col);
void mpg__copy(char *dst, size_t n, const PGresult *r, int row, int col);

/* The completion hook (meta_pg_vod.c): inside object_store's transaction. */
int mpg__media_object_written(pg_conn *c, const char *bucket, const char *key, size_t key_len,
                              uint64_t size, uint64_t crc64, time_t now);
/* Inside other calls' transactions (meta_pg_jobs.c): queue the probe of the video at
 * bucket/key, if any (the completion hook); forget a deleted media's job and info. */
int mpg__probe_job_hook(pg_conn *c, const char *bucket, const char *key, size_t key_len, time_t now);
int mpg__probe_job_forget(pg_conn *c, const char *media_id);
/* Inserts a media record (meta_pg_vod.c), inside c's transaction or alone. */
int mpg__media_insert(pg_conn *c, const vodup_meta_media *md);
/* Shared with meta_pg_vod.c (media delete). */
int mpg__object_find(pg_conn *c, const char *bucket, const char *key, size_t key_len, long long *id);
int mpg__object_drop(pg_conn *c, long long id);
int mpg__upload_drop(pg_conn *c, const char *upload_id);

/* meta_pg_vod.c: the members of the ops table that live there. */
int mpg_principal_create(vodup_meta *m, const char *kind, const vodup_meta_principal *pr);
int mpg_principal_get(vodup_meta *m, const char *kind, const char *account_id, const char *name, vodup_meta_principal *out);
int mpg_principal_list(vodup_meta *m, const char *kind, const char *account_id, int (*cb)(const vodup_meta_principal *p, void *u), void *u);
int mpg_principal_delete(vodup_meta *m, const char *kind, const char *account_id, const char *name);
int mpg_key_list(vodup_meta *m, const char *account_id, const char *principal, int (*cb)(const char *key_id, int active, time_t created, void *u), void *u);
int mpg_principal_delete_revoking(vodup_meta *m, const char *kind, const char *account_id, const char *name);
int mpg_revocation_get(vodup_meta *m, const char *account_id, const char *principal, long long *gen);
int mpg_revocations_get(vodup_meta_revocations *rp, const char *account_id, const char *principal, long long *gen);
void mpg_revocations_close(vodup_meta_revocations *rp);
int mpg_nonce_use(vodup_meta *m, const char *key_id, const char *nonce, time_t now, int ttl);
int mpg_media_create(vodup_meta *m, const vodup_meta_media *md);
int mpg_media_get(vodup_meta *m, const char *account_id, const char *id, vodup_meta_media *out);
int mpg_media_find_object(vodup_meta *m, const char *bucket, const char *key, size_t key_len, vodup_meta_media *out);
int mpg_media_list(vodup_meta *m, const char *account_id, const vodup_meta_media_filter *f, int (*cb)(const vodup_meta_media *md, void *u), void *u, size_t *total);
int mpg_media_delete(vodup_meta *m, const char *account_id, const char *id);
int mpg_media_set_status(vodup_meta *m, const char *id, const char *status, time_t now);
int mpg_callback_set(vodup_meta *m, const char *account_id, const char *config_json);
int mpg_callback_get(vodup_meta *m, const char *account_id, char **config_json);
int mpg_callback_seal_all(vodup_meta *m);
int mpg_event_due(vodup_meta *m, time_t now, size_t max, int (*cb)(const vodup_meta_event *e, void *u), void *u);
int mpg_event_list(vodup_meta *m, const char *account_id, int (*cb)(const vodup_meta_event *e, void *u), void *u);
int mpg_event_prepare(vodup_meta *m, long long id, const char *body, const char *url, const char *auth_key);
int mpg_event_done(vodup_meta *m, long long id);
int mpg_event_retry(vodup_meta *m, long long id, time_t next_at, const char *error);
int mpg_event_defer(vodup_meta *m, long long id, time_t next_at);
int mpg_event_next(vodup_meta *m, time_t *next_at);
int mpg_key_create_max(vodup_meta *m, const char *key_id, const char *account_id, const char *principal, const void *secret_sealed, size_t sealed_len, time_t now, int max);
int mpg_key_set_active(vodup_meta *m, const char *account_id, const char *key_id, int active);
int mpg_key_delete(vodup_meta *m, const char *account_id, const char *key_id);
int mpg_media_expire_uploading(vodup_meta *m, time_t before, time_t now, int max);

/* meta_pg_jobs.c: ops versions 4 (meta_jobs.h) and 5 (meta_quota.h). */
int mpg_probe_job_add(vodup_meta *m, const char *media_id, time_t now);
int mpg_probe_job_claim(vodup_meta *m, const char *node, time_t now, int lease_s, vodup_meta_probe_job *out);
int mpg_probe_job_release(vodup_meta *m, const char *media_id, const char *node, time_t next_at, const char *error);
int mpg_probe_job_finish(vodup_meta *m, const vodup_meta_probe_result *r);
int mpg_probe_job_count(vodup_meta *m);
int mpg_media_info_get(vodup_meta *m, const char *media_id, char **json);
int mpg_probe_job_requeue_node(vodup_meta *m, const char *node, time_t now);
int mpg_usage_get(vodup_meta *m, const char *account_id, uint64_t *used, int64_t *quota);
int mpg_quota_set(vodup_meta *m, const char *account_id, int64_t quota);

extern const vodup_meta_ops meta__pg_ops;

#endif
