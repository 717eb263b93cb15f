/* meta_pg_vod.c - the PostgreSQL back end's VOD tables (meta_vod.h: principals, nonces,
 * media, callbacks, the event outbox), its revocations and its operator calls
 * (meta_admin.h), and its ops table. The pool, the helpers and the object side are in
 * meta_pg.c; the semantics are meta_sqlite_vod.c's, meta_sqlite_auth.c's and
 * meta_sqlite_admin.c's.
 */
#include "server/store/meta_shared.h"
#include "server/store/meta_pg_int.h"
#include "server/store/meta_vod.h"

#include <ctype.h>
#include <errno.h>
#include <limits.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MEDIA_COLS                                                                              \
    "id, kind, status, account_id, title, description, tags, cover_url, user_data,"             \
    " template_group_id, app_id, file_name, storage_location, image_type, business_type, ext,"  \
    " cate_id, file_size, bucket, object_key, size, crc64, created, modified"
#define EVENT_COLS                                                                              \
    "id, account_id, media_id, event_type, body, url, auth_key, attempts, created, next_at,"    \
    " last_error"

#define NONCE_PURGE_BATCH 100

static long long clamp(size_t limit)
{
    return limit > (size_t)LLONG_MAX ? LLONG_MAX : (long long)limit;
}


/* ---- the completion hook ------------------------------------------------------------ */

int mpg__media_object_written(pg_conn *c, const char *bucket, const char *key, size_t key_len, uint64_t size,
                              uint64_t crc64, time_t now)
{
    pg_params p = { .n = 0 };
    pgp_text(&p, bucket);
    pgp_bytes(&p, key, key_len);
    pgp_i64(&p, now);
    long long n = 0;
    int rc = mpg__exec(c, "media complete event",
                       "INSERT INTO events(account_id, media_id, event_type, body, url, auth_key,"
                       " attempts, created, next_at)"
                       " SELECT account_id, id, CASE kind WHEN 'video' THEN 'FileUploadComplete'"
                       " WHEN 'image' THEN 'ImageUploadComplete'"
                       " ELSE 'AttachedMediaUploadComplete' END, NULL, NULL, NULL, 0, $3, $3"
                       " FROM media WHERE bucket = $1 AND object_key = $2",
                       &p, NULL, &n);
    if (rc != VODUP_META_OK || n == 0)
        return rc; /* no media points here: the common case */
    pgp_i64(&p, (long long)size);
    pgp_i64(&p, (long long)crc64);
    rc = mpg__exec(c, "media complete",
                   "UPDATE media SET status = CASE kind WHEN 'video' THEN 'UploadSucc'"
                   " ELSE 'Normal' END, size = $4, crc64 = $5, modified = $3"
                   " WHERE bucket = $1 AND object_key = $2",
                   &p, NULL, NULL);
    /* A completed video is to be probed: queued in this same transaction. */
    if (rc == VODUP_META_OK)
        rc = mpg__probe_job_hook(c, bucket, key, key_len, now);
    return rc;
}

/* ---- RAM users and roles ---------------------------------------------------------------- */

int mpg_principal_create(vodup_meta *m, const char *kind, const vodup_meta_principal *pr)
{
    char arn[512];
    const char *a = pr->arn;
    if (!a) {
        int n = snprintf(arn, sizeof arn, "acs:ram::%s:%s/%s", pr->account_id ? pr->account_id : "", kind,
                         pr->name ? pr->name : "");
        if (n < 0 || (size_t)n >= sizeof arn)
            return VODUP_META_ENOMEM;
        a = arn;
    }
    pg_params p = { .n = 0 };
    pgp_text(&p, kind);
    pgp_text(&p, pr->account_id);
    pgp_text(&p, pr->name);
    pgp_text(&p, a);
    pgp_text(&p, pr->policies ? pr->policies : "[]");
    pgp_i64(&p, pr->max_session > 0 ? pr->max_session : 3600);
    pgp_i64(&p, pr->created);
    return mpg__write(m, "principal create",
                      "INSERT INTO principals(kind, account_id, name, arn, policies, max_session, created)"
                      " VALUES($1, $2, $3, $4, $5, $6, $7)",
                      &p, NULL);
}

static int principal_fill(const PGresult *r, int i, vodup_meta_principal *pr)
{
    int oom = 0;
    memset(pr, 0, sizeof *pr);
    pr->account_id = mpg__text(r, i, 0, &oom);
    pr->name = mpg__text(r, i, 1, &oom);
    pr->arn = mpg__text(r, i, 2, &oom);
    pr->policies = mpg__text(r, i, 3, &oom);
    pr->max_session = (int)mpg__i64(r, i, 4);
    pr->created = (time_t)mpg__i64(r, i, 5);
    if (oom || !pr->account_id || !pr->name || !pr->arn || !pr->policies) {
        vodup_meta_principal_clear(pr);
        return VODUP_META_ENOMEM;
    }
    return VODUP_META_OK;
}


int mpg_principal_get(vodup_meta *m, const char *kind, const char *account_id, const char *name,
                             vodup_meta_principal *out)
{
    memset(out, 0, sizeof *out);
    pg_params p = { .n = 0 };
    pgp_text(&p, kind);
    pgp_text(&p, account_id);
    pgp_text(&p, name);
    PGresult *r;
    int rc = mpg__query(m, "principal get",
                   "SELECT account_id, name, arn, policies, max_session, created"
                   " FROM principals WHERE kind = $1 AND account_id = $2 AND name = $3",
                   &p, &r);
    if (rc != VODUP_META_OK)
        return rc;
    rc = PQntuples(r) ? principal_fill(r, 0, out) : VODUP_META_ENOTFOUND;
    PQclear(r);
    return rc;
}

int mpg_principal_list(vodup_meta *m, const char *kind, const char *account_id,
                              int (*cb)(const vodup_meta_principal *p, void *u), void *u)
{
    pg_params p = { .n = 0 };
    pgp_text(&p, kind);
    pgp_text(&p, account_id);
    PGresult *r;
    int rc = mpg__query(m, "principal list",
                   "SELECT account_id, name, arn, policies, max_session, created"
                   " FROM principals WHERE kind = $1 AND account_id = $2 ORDER BY name",
                   &p, &r);
    for (int i = 0; rc == VODUP_META_OK && i < PQntuples(r); i++) {
        vodup_meta_principal pr;
        rc = principal_fill(r, i, &pr);
        int stop = rc == VODUP_META_OK && cb(&pr, u);
        vodup_meta_principal_clear(&pr);
        if (stop)
            break;
    }
    PQclear(r);
    return rc;
}

/* Deletes a user or role (ENOTFOUND when absent) and a user's keys, in c's transaction. */
static int principal_delete_tx(pg_conn *c, const char *kind, const char *account_id, const char *name)
{
    pg_params p = { .n = 0 };
    pgp_text(&p, kind);
    pgp_text(&p, account_id);
    pgp_text(&p, name);
    long long n = 0;
    int rc = mpg__exec(c, "principal delete", "DELETE FROM principals WHERE kind = $1 AND account_id = $2 AND name = $3",
                       &p, NULL, &n);
    if (rc == VODUP_META_OK && n == 0)
        rc = VODUP_META_ENOTFOUND;
    /* Only after the user row was found (see meta_sqlite_vod.c). */
    if (rc == VODUP_META_OK && strcmp(kind, "user") == 0) {
        pg_params k = { .n = 0 };
        pgp_text(&k, account_id);
        pgp_text(&k, name);
        rc = mpg__exec(c, "user keys delete", "DELETE FROM access_keys WHERE account_id = $1 AND principal = $2", &k,
                       NULL, NULL);
    }
    return rc;
}

int mpg_principal_delete(vodup_meta *m, const char *kind, const char *account_id, const char *name)
{
    pg_conn *c = mpg__acquire(m);
    int rc = mpg__begin(c);
    if (rc == VODUP_META_OK)
        rc = mpg__end(c, principal_delete_tx(c, kind, account_id, name));
    mpg__release(m, c);
    return rc;
}

int mpg_key_list(vodup_meta *m, const char *account_id, const char *principal,
                        int (*cb)(const char *key_id, int active, time_t created, void *u), void *u)
{
    pg_params p = { .n = 0 };
    pgp_text(&p, account_id);
    pgp_text(&p, principal);
    PGresult *r;
    int rc = mpg__query(m, "key list",
                   "SELECT id, active, created FROM access_keys WHERE account_id = $1 AND principal = $2"
                   " ORDER BY created, id",
                   &p, &r);
    for (int i = 0; rc == VODUP_META_OK && i < PQntuples(r); i++)
        if (cb(PQgetvalue(r, i, 0), (int)mpg__i64(r, i, 1), (time_t)mpg__i64(r, i, 2), u))
            break;
    PQclear(r);
    return rc;
}

/* ---- revocations (meta_sqlite_auth.c keeps them in settings, and so does this) -------- */

#define REVOKE_PREFIX "revoke:"
#define REVOKE_EPOCH "revoke_epoch"
#define REVOKE_NAME_MAX 256

static int bump(pg_conn *c, const char *name)
{
    pg_params p = { .n = 0 };
    pgp_text(&p, name);
    return mpg__exec(c, "revocation bump",
                     "INSERT INTO settings(name, value) VALUES($1, '1')"
                     " ON CONFLICT(name) DO UPDATE SET value = (settings.value::bigint + 1)::text",
                     &p, NULL, NULL);
}

int mpg_principal_delete_revoking(vodup_meta *m, const char *kind, const char *account_id,
                                         const char *name)
{
    char rname[REVOKE_NAME_MAX], principal[160];
    int r = snprintf(principal, sizeof principal, "%s/%s", kind, name);
    if (r < 0 || (size_t)r >= sizeof principal)
        return VODUP_META_ENOTFOUND;
    r = snprintf(rname, sizeof rname, REVOKE_PREFIX "%s:%s", account_id, principal);
    if (r < 0 || (size_t)r >= sizeof rname)
        return VODUP_META_ENOTFOUND;
    pg_conn *c = mpg__acquire(m);
    int rc = mpg__begin(c);
    if (rc == VODUP_META_OK) {
        rc = principal_delete_tx(c, kind, account_id, name);
        if (rc == VODUP_META_OK)
            rc = bump(c, rname);
        if (rc == VODUP_META_OK)
            rc = bump(c, REVOKE_EPOCH);
        rc = mpg__end(c, rc);
    }
    mpg__release(m, c);
    return rc;
}

/* The generation of account_id/principal from c (0 when never revoked). */
static int revocation_on(PGconn *db, pg_conn *c, const char *account_id, const char *principal, long long *gen)
{
    *gen = 0;
    char rname[REVOKE_NAME_MAX];
    int r = snprintf(rname, sizeof rname, REVOKE_PREFIX "%s:%s", account_id, principal);
    if (r < 0 || (size_t)r >= sizeof rname)
        return VODUP_META_OK; /* a name no principal can have was never revoked */
    pg_params p = { .n = 0 };
    pgp_text(&p, rname);
    pg_conn tmp = { db, 0 };
    PGresult *res;
    int rc = mpg__exec(c ? c : &tmp, "revocation get", "SELECT value FROM settings WHERE name = $1", &p, &res, NULL);
    if (rc != VODUP_META_OK)
        return rc;
    if (PQntuples(res)) {
        const char *v = PQgetvalue(res, 0, 0);
        char *end;
        errno = 0;
        *gen = strtoll(v, &end, 10);
        if (!*v || *end || errno || *gen < 0) {
            fprintf(stderr, "vodup meta pg: the revocation record %s is not a number\n", rname);
            *gen = 0;
            rc = VODUP_META_EIO;
        }
    }
    PQclear(res);
    return rc;
}

int mpg_revocation_get(vodup_meta *m, const char *account_id, const char *principal, long long *gen)
{
    pg_conn *c = mpg__acquire(m);
    int rc = revocation_on(NULL, c, account_id, principal, gen);
    mpg__release(m, c);
    return rc;
}

/* The revocation "cache" of this back end: one connection of its own, asked every time.
 * With several nodes a revocation made on one must hold on all at once, and one indexed
 * read costs what checking a cached epoch would. */
typedef struct pg_revocations {
    vodup_meta_revocations base;
    pthread_mutex_t mu;
    PGconn *db;
    char *conninfo;
} pg_revocations;

int mpg_revocations_get(vodup_meta_revocations *rp, const char *account_id, const char *principal,
                               long long *gen)
{
    pg_revocations *r = (pg_revocations *)rp;
    pthread_mutex_lock(&r->mu);
    if (PQstatus(r->db) != CONNECTION_OK)
        PQreset(r->db);
    int rc = revocation_on(r->db, NULL, account_id, principal, gen);
    pthread_mutex_unlock(&r->mu);
    return rc;
}

void mpg_revocations_close(vodup_meta_revocations *rp)
{
    pg_revocations *r = (pg_revocations *)rp;
    if (!r)
        return;
    PQfinish(r->db);
    pthread_mutex_destroy(&r->mu);
    free(r);
}

vodup_meta_revocations *vodup_meta_revocations_open_postgres(const char *conninfo)
{
    pg_revocations *r = calloc(1, sizeof *r);
    if (!r) {
        errno = ENOMEM;
        return NULL;
    }
    if (vodup_meta_revocations_init(&r->base, &meta__pg_ops) != VODUP_META_OK) {
        free(r);
        errno = EINVAL;
        return NULL;
    }
    pthread_mutex_init(&r->mu, NULL);
    r->db = PQconnectdb(conninfo);
    if (!r->db || PQstatus(r->db) != CONNECTION_OK) {
        fprintf(stderr, "vodup meta pg: revocations: %s", r->db ? PQerrorMessage(r->db) : "out of memory\n");
        mpg_revocations_close(&r->base);
        errno = EIO;
        return NULL;
    }
    return &r->base;
}

/* ---- replay protection ---------------------------------------------------------------- */

int mpg_nonce_use(vodup_meta *m, const char *key_id, const char *nonce, time_t now, int ttl)
{
    if (ttl < 0)
        ttl = 0;
    long long cutoff = (long long)now - ttl;
    pg_params p = { .n = 0 };
    pgp_text(&p, key_id);
    pgp_text(&p, nonce);
    pgp_i64(&p, now);
    pgp_i64(&p, cutoff);
    pg_conn *c = mpg__acquire(m);
    int rc = mpg__begin(c);
    if (rc == VODUP_META_OK) {
        long long n = 0;
        /* The primary key decides across nodes: of two inserts, the second waits for the
         * first's commit and then takes the row over only if it is older than the ttl. */
        rc = mpg__exec(c, "nonce use",
                       "INSERT INTO nonces(key_id, nonce, at) VALUES($1, $2, $3)"
                       " ON CONFLICT(key_id, nonce) DO UPDATE SET at = excluded.at WHERE nonces.at < $4",
                       &p, NULL, &n);
        if (rc == VODUP_META_OK && n == 0)
            rc = VODUP_META_EEXISTS;
        if (rc == VODUP_META_OK || rc == VODUP_META_EEXISTS) {
            pg_params q = { .n = 0 };
            pgp_i64(&q, cutoff);
            pgp_i64(&q, NONCE_PURGE_BATCH);
            /* SKIP LOCKED: nodes purging at once take different rows instead of waiting. */
            int prc = mpg__exec(c, "nonce purge",
                                "DELETE FROM nonces WHERE ctid IN (SELECT ctid FROM nonces WHERE at < $1"
                                " LIMIT $2 FOR UPDATE SKIP LOCKED)",
                                &q, NULL, NULL);
            if (prc != VODUP_META_OK)
                rc = prc;
        }
        if (rc == VODUP_META_EEXISTS)
            rc = mpg__end(c, VODUP_META_OK) == VODUP_META_OK ? VODUP_META_EEXISTS : VODUP_META_EIO;
        else
            rc = mpg__end(c, rc);
    }
    mpg__release(m, c);
    return rc;
}

/* ---- media ------------------------------------------------------------------------------ */

int mpg__media_insert(pg_conn *c, const vodup_meta_media *md)
{
    pg_params p = { .n = 0 };
    pgp_text(&p, md->id);
    pgp_text(&p, md->kind);
    pgp_text(&p, md->status[0] ? md->status : "Uploading");
    pgp_text(&p, md->account_id);
    pgp_text(&p, md->title);
    pgp_text(&p, md->description);
    pgp_text(&p, md->tags);
    pgp_text(&p, md->cover_url);
    pgp_text(&p, md->user_data);
    pgp_text(&p, md->template_group_id);
    pgp_text(&p, md->app_id);
    pgp_text(&p, md->file_name);
    pgp_text(&p, md->storage_location);
    pgp_text(&p, md->image_type);
    pgp_text(&p, md->business_type);
    pgp_text(&p, md->ext);
    pgp_i64(&p, md->cate_id);
    pgp_i64(&p, (long long)md->file_size);
    pgp_text(&p, md->bucket);
    if (md->object_key)
        pgp_bytes(&p, md->object_key, strlen(md->object_key));
    else
        pgp_text(&p, NULL);
    pgp_i64(&p, (long long)md->size);
    pgp_i64(&p, (long long)md->crc64);
    pgp_i64(&p, md->created);
    pgp_i64(&p, md->modified ? md->modified : md->created);
    return mpg__exec(c, "media create",
                     "INSERT INTO media(" MEDIA_COLS ") VALUES($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12,"
                     " $13, $14, $15, $16, $17, $18, $19, $20, $21, $22, $23, $24)",
                     &p, NULL, NULL);
}

int mpg_media_create(vodup_meta *m, const vodup_meta_media *md)
{
    pg_conn *c = mpg__acquire(m);
    int rc = mpg__media_insert(c, md);
    mpg__release(m, c);
    return rc;
}

static int media_fill(const PGresult *r, int i, vodup_meta_media *md)
{
    int oom = 0;
    memset(md, 0, sizeof *md);
    mpg__copy(md->id, sizeof md->id, r, i, 0);
    mpg__copy(md->kind, sizeof md->kind, r, i, 1);
    mpg__copy(md->status, sizeof md->status, r, i, 2);
    md->account_id = mpg__text(r, i, 3, &oom);
    md->title = mpg__text(r, i, 4, &oom);
    md->description = mpg__text(r, i, 5, &oom);
    md->tags = mpg__text(r, i, 6, &oom);
    md->cover_url = mpg__text(r, i, 7, &oom);
    md->user_data = mpg__text(r, i, 8, &oom);
    md->template_group_id = mpg__text(r, i, 9, &oom);
    md->app_id = mpg__text(r, i, 10, &oom);
    md->file_name = mpg__text(r, i, 11, &oom);
    md->storage_location = mpg__text(r, i, 12, &oom);
    md->image_type = mpg__text(r, i, 13, &oom);
    md->business_type = mpg__text(r, i, 14, &oom);
    md->ext = mpg__text(r, i, 15, &oom);
    md->cate_id = mpg__i64(r, i, 16);
    md->file_size = (uint64_t)mpg__i64(r, i, 17);
    md->bucket = mpg__text(r, i, 18, &oom);
    size_t klen;
    md->object_key = mpg__bytes(r, i, 19, &klen, &oom);
    md->size = (uint64_t)mpg__i64(r, i, 20);
    md->crc64 = (uint64_t)mpg__i64(r, i, 21);
    md->created = (time_t)mpg__i64(r, i, 22);
    md->modified = (time_t)mpg__i64(r, i, 23);
    if (oom || !md->account_id) {
        vodup_meta_media_clear(md);
        return VODUP_META_ENOMEM;
    }
    return VODUP_META_OK;
}

/* The first row of a media query into out; ENOTFOUND when none. */
static int media_one(pg_conn *c, const char *what, const char *sql, const pg_params *p, vodup_meta_media *out)
{
    memset(out, 0, sizeof *out);
    PGresult *r;
    int rc = mpg__exec(c, what, sql, p, &r, NULL);
    if (rc != VODUP_META_OK)
        return rc;
    rc = PQntuples(r) ? media_fill(r, 0, out) : VODUP_META_ENOTFOUND;
    PQclear(r);
    return rc;
}

static int media_get_on(pg_conn *c, const char *account_id, const char *id, vodup_meta_media *out, int lock)
{
    pg_params p = { .n = 0 };
    pgp_text(&p, id);
    pgp_text(&p, account_id);
    return media_one(c, "media get",
                     lock ? "SELECT " MEDIA_COLS " FROM media WHERE id = $1 AND account_id = $2 FOR UPDATE"
                          : "SELECT " MEDIA_COLS " FROM media WHERE id = $1 AND account_id = $2",
                     &p, out);
}

int mpg_media_get(vodup_meta *m, const char *account_id, const char *id, vodup_meta_media *out)
{
    pg_conn *c = mpg__acquire(m);
    int rc = media_get_on(c, account_id, id, out, 0);
    mpg__release(m, c);
    return rc;
}

int mpg_media_find_object(vodup_meta *m, const char *bucket, const char *key, size_t key_len,
                                 vodup_meta_media *out)
{
    pg_params p = { .n = 0 };
    pgp_text(&p, bucket);
    pgp_bytes(&p, key, key_len);
    pg_conn *c = mpg__acquire(m);
    int rc = media_one(c, "media find object",
                       "SELECT " MEDIA_COLS " FROM media WHERE bucket = $1 AND object_key = $2"
                       " ORDER BY created DESC, id DESC LIMIT 1",
                       &p, out);
    mpg__release(m, c);
    return rc;
}


int mpg_media_list(vodup_meta *m, const char *account_id, const vodup_meta_media_filter *f,
                          int (*cb)(const vodup_meta_media *md, void *u), void *u, size_t *total)
{
    if (total)
        *total = 0;
    char *statuses = NULL;
    int rc = meta__status_set(f->statuses, &statuses);
    if (rc != VODUP_META_OK)
        return rc;
    /* Every parameter is always bound (NULL when unused) and each condition tests for
     * it, so one parameter list serves every filter. */
    pg_params p = { .n = 0 };
    pgp_text(&p, account_id);
    pgp_text(&p, f->kind);
    pgp_text(&p, statuses);
    if (f->cate_id >= 0)
        pgp_i64(&p, f->cate_id);
    else
        pgp_text(&p, NULL);
    if (f->start)
        pgp_i64(&p, f->start);
    else
        pgp_text(&p, NULL);
    if (f->end)
        pgp_i64(&p, f->end);
    else
        pgp_text(&p, NULL);
    pgp_text(&p, f->storage_location);
    static const char where[] =
        "account_id = $1 AND kind = $2"
        " AND ($3::text IS NULL OR strpos($3, ',' || lower(status) || ',') > 0)"
        " AND ($4::bigint IS NULL OR cate_id = $4) AND ($5::bigint IS NULL OR created >= $5)"
        " AND ($6::bigint IS NULL OR created <= $6) AND ($7::text IS NULL OR storage_location = $7)";
    const char *dir = f->ascending ? "ASC" : "DESC";
    char sql[1200];
    /* The total in the same statement (one snapshot), as a window over the filter. */
    snprintf(sql, sizeof sql,
             "SELECT " MEDIA_COLS ", count(*) OVER () FROM media WHERE %s ORDER BY created %s, id %s",
             where, dir, dir);
    char page[1400];
    snprintf(page, sizeof page,
             "SELECT * FROM (%s) t ORDER BY created %s, id %s LIMIT $8 OFFSET $9", sql, dir, dir);
    pgp_i64(&p, clamp(f->limit));
    pgp_i64(&p, clamp(f->offset));
    PGresult *r;
    pg_conn *c = mpg__acquire(m);
    rc = mpg__exec(c, "media list", page, &p, &r, NULL);
    /* An offset past the end has no row to carry the total: count apart then. */
    if (rc == VODUP_META_OK && total && PQntuples(r) == 0) {
        char count_sql[800];
        snprintf(count_sql, sizeof count_sql, "SELECT count(*), $8::bigint, $9::bigint FROM media WHERE %s", where);
        PGresult *cr;
        rc = mpg__exec(c, "media count", count_sql, &p, &cr, NULL);
        if (rc == VODUP_META_OK) {
            *total = (size_t)mpg__i64(cr, 0, 0);
            PQclear(cr);
        }
    } else if (rc == VODUP_META_OK && total) {
        *total = (size_t)mpg__i64(r, 0, 24);
    }
    mpg__release(m, c);
    free(statuses);
    for (int i = 0; rc == VODUP_META_OK && i < PQntuples(r); i++) {
        vodup_meta_media md;
        rc = media_fill(r, i, &md);
        int stop = rc == VODUP_META_OK && cb(&md, u);
        vodup_meta_media_clear(&md);
        if (stop)
            break;
    }
    PQclear(r);
    if (rc != VODUP_META_OK && total)
        *total = 0;
    return rc;
}

int mpg_media_delete(vodup_meta *m, const char *account_id, const char *id)
{
    vodup_meta_media md;
    memset(&md, 0, sizeof md);
    pg_conn *c = mpg__acquire(m);
    int rc = mpg__begin(c);
    if (rc == VODUP_META_OK) {
        rc = media_get_on(c, account_id, id, &md, 1);
        pg_params p = { .n = 0 };
        pgp_text(&p, id);
        if (rc == VODUP_META_OK)
            rc = mpg__exec(c, "media delete", "DELETE FROM media WHERE id = $1", &p, NULL, NULL);
        if (rc == VODUP_META_OK && md.bucket && md.object_key) {
            size_t klen = strlen(md.object_key);
            long long oid;
            rc = mpg__object_find(c, md.bucket, md.object_key, klen, &oid);
            if (rc == VODUP_META_OK && oid)
                rc = mpg__object_drop(c, oid);
            if (rc == VODUP_META_OK) {
                pg_params k = { .n = 0 };
                pgp_text(&k, md.bucket);
                pgp_bytes(&k, md.object_key, klen);
                PGresult *r;
                rc = mpg__exec(c, "media uploads", "SELECT id FROM uploads WHERE bucket = $1 AND key = $2 FOR UPDATE",
                               &k, &r, NULL);
                for (int i = 0; rc == VODUP_META_OK && i < PQntuples(r); i++)
                    rc = mpg__upload_drop(c, PQgetvalue(r, i, 0));
                if (r)
                    PQclear(r);
            }
        }
        if (rc == VODUP_META_OK)
            rc = mpg__exec(c, "media events delete", "DELETE FROM events WHERE media_id = $1", &p, NULL, NULL);
        /* Nor probed: its job and stored media info go with it. */
        if (rc == VODUP_META_OK)
            rc = mpg__probe_job_forget(c, id);
        rc = mpg__end(c, rc);
    }
    mpg__release(m, c);
    vodup_meta_media_clear(&md);
    return rc;
}

int mpg_media_set_status(vodup_meta *m, const char *id, const char *status, time_t now)
{
    pg_params p = { .n = 0 };
    pgp_text(&p, id);
    pgp_text(&p, status);
    pgp_i64(&p, now);
    return mpg__write_one(m, "media set status", "UPDATE media SET status = $2, modified = $3 WHERE id = $1", &p);
}

/* ---- callback configuration ------------------------------------------------------------ */

int mpg_callback_set(vodup_meta *m, const char *account_id, const char *config_json)
{
    char *sealed = NULL;
    const vodup_meta_sealer *sl = vodup_meta_sealer_of(m);
    if (config_json && sl) {
        int r = vodup_meta_auth_key_rewrite(sl, account_id, config_json, 1, &sealed);
        if (r != VODUP_META_OK)
            return r;
    }
    pg_params p = { .n = 0 };
    pgp_text(&p, account_id);
    int rc;
    if (config_json) {
        pgp_text(&p, sealed ? sealed : config_json);
        rc = mpg__write(m, "callback set",
                        "INSERT INTO callbacks(account_id, config) VALUES($1, $2)"
                        " ON CONFLICT(account_id) DO UPDATE SET config = excluded.config",
                        &p, NULL);
    } else {
        rc = mpg__write(m, "callback set", "DELETE FROM callbacks WHERE account_id = $1", &p, NULL);
    }
    free(sealed);
    return rc;
}

int mpg_callback_get(vodup_meta *m, const char *account_id, char **config_json)
{
    *config_json = NULL;
    pg_params p = { .n = 0 };
    pgp_text(&p, account_id);
    PGresult *r;
    int rc = mpg__query(m, "callback get", "SELECT config FROM callbacks WHERE account_id = $1", &p, &r);
    if (rc != VODUP_META_OK)
        return rc;
    int oom = 0;
    if (PQntuples(r) == 0)
        rc = VODUP_META_ENOTFOUND;
    else
        *config_json = mpg__text(r, 0, 0, &oom);
    PQclear(r);
    if (oom)
        return VODUP_META_ENOMEM;
    return meta__callback_unseal(m, account_id, rc, config_json);
}

int mpg_callback_seal_all(vodup_meta *m)
{
    const vodup_meta_sealer *sl = vodup_meta_sealer_of(m);
    if (!sl)
        return VODUP_META_EIO;
    pg_conn *c = mpg__acquire(m);
    int sealed = 0;
    int rc = mpg__begin(c);
    PGresult *r = NULL;
    if (rc == VODUP_META_OK)
        rc = mpg__exec(c, "callback seal", "SELECT account_id, config FROM callbacks FOR UPDATE", NULL, &r, NULL);
    for (int i = 0; rc == VODUP_META_OK && i < PQntuples(r); i++) {
        const char *acc = PQgetvalue(r, i, 0), *cfg = PQgetvalue(r, i, 1);
        char *out = NULL;
        rc = vodup_meta_auth_key_rewrite(sl, acc, cfg, 1, &out);
        if (rc == VODUP_META_OK && out) {
            pg_params p = { .n = 0 };
            pgp_text(&p, acc);
            pgp_text(&p, out);
            rc = mpg__exec(c, "callback seal", "UPDATE callbacks SET config = $2 WHERE account_id = $1", &p, NULL,
                           NULL);
            sealed++;
        }
        free(out);
    }
    if (r)
        PQclear(r);
    if (rc == VODUP_META_OK)
        rc = mpg__exec(c, "callback seal", "UPDATE events SET auth_key = NULL WHERE auth_key IS NOT NULL", NULL, NULL,
                       NULL);
    rc = mpg__end(c, rc);
    mpg__release(m, c);
    return rc == VODUP_META_OK ? sealed : rc;
}

/* ---- events ------------------------------------------------------------------------------ */

static int event_fill(const PGresult *r, int i, vodup_meta_event *e)
{
    int oom = 0;
    memset(e, 0, sizeof *e);
    e->id = mpg__i64(r, i, 0);
    e->account_id = mpg__text(r, i, 1, &oom);
    e->media_id = mpg__text(r, i, 2, &oom);
    e->event_type = mpg__text(r, i, 3, &oom);
    e->body = mpg__text(r, i, 4, &oom);
    e->url = mpg__text(r, i, 5, &oom);
    e->auth_key = mpg__text(r, i, 6, &oom);
    e->attempts = (int)mpg__i64(r, i, 7);
    e->created = (time_t)mpg__i64(r, i, 8);
    e->next_at = (time_t)mpg__i64(r, i, 9);
    e->last_error = mpg__text(r, i, 10, &oom);
    if (oom || !e->account_id || !e->media_id || !e->event_type) {
        vodup_meta_event_clear(e);
        return VODUP_META_ENOMEM;
    }
    return VODUP_META_OK;
}

static int event_calls(PGresult *r, int rc, int (*cb)(const vodup_meta_event *e, void *u), void *u)
{
    for (int i = 0; rc == VODUP_META_OK && i < PQntuples(r); i++) {
        vodup_meta_event e;
        rc = event_fill(r, i, &e);
        int stop = rc == VODUP_META_OK && cb(&e, u);
        vodup_meta_event_clear(&e);
        if (stop)
            break;
    }
    if (r)
        PQclear(r);
    return rc;
}

int mpg_event_due(vodup_meta *m, time_t now, size_t max, int (*cb)(const vodup_meta_event *e, void *u),
                         void *u)
{
    pg_params p = { .n = 0 };
    pgp_i64(&p, now);
    pgp_i64(&p, clamp(max));
    pgp_i64(&p, (long long)now + VODUP_META_EVENT_LEASE);
    /* The claim (meta_vod.h) is this one statement: the due rows are locked with SKIP
     * LOCKED (rows another node is claiming at this moment are passed over, not waited
     * for; a row it claimed and committed meanwhile fails the re-check of next_at) and
     * leased before the lock ends, so no two nodes get one event within its lease.
     * RETURNING has no order: the outer query restores the due order. */
    PGresult *r;
    int rc = mpg__query(m, "event due",
                   "WITH d AS (SELECT id, next_at FROM events WHERE next_at <= $1 ORDER BY next_at, id LIMIT $2"
                   " FOR UPDATE SKIP LOCKED),"
                   " c AS (UPDATE events e SET next_at = $3 FROM d WHERE e.id = d.id RETURNING e.id, e.account_id,"
                   " e.media_id, e.event_type, e.body, e.url, e.auth_key, e.attempts, e.created, e.next_at,"
                   " e.last_error, d.next_at AS due)"
                   " SELECT " EVENT_COLS " FROM c ORDER BY due, id",
                   &p, &r);
    return event_calls(r, rc, cb, u);
}

int mpg_event_list(vodup_meta *m, const char *account_id, int (*cb)(const vodup_meta_event *e, void *u),
                          void *u)
{
    pg_params p = { .n = 0 };
    pgp_text(&p, account_id);
    PGresult *r;
    int rc = mpg__query(m, "event list",
                   "SELECT " EVENT_COLS " FROM events WHERE $1::text IS NULL OR account_id = $1 ORDER BY id", &p, &r);
    return event_calls(r, rc, cb, u);
}

int mpg_event_prepare(vodup_meta *m, long long id, const char *body, const char *url, const char *auth_key)
{
    pg_params p = { .n = 0 };
    pgp_i64(&p, id);
    pgp_text(&p, body);
    pgp_text(&p, url);
    pgp_text(&p, auth_key);
    return mpg__write_one(m, "event prepare", "UPDATE events SET body = $2, url = $3, auth_key = $4 WHERE id = $1", &p);
}

int mpg_event_done(vodup_meta *m, long long id)
{
    pg_params p = { .n = 0 };
    pgp_i64(&p, id);
    return mpg__write_one(m, "event done", "DELETE FROM events WHERE id = $1", &p);
}

int mpg_event_retry(vodup_meta *m, long long id, time_t next_at, const char *error)
{
    pg_params p = { .n = 0 };
    pgp_i64(&p, id);
    pgp_i64(&p, next_at);
    pgp_text(&p, error);
    return mpg__write_one(m, "event retry",
                     "UPDATE events SET attempts = attempts + 1, next_at = $2, last_error = $3 WHERE id = $1", &p);
}

int mpg_event_defer(vodup_meta *m, long long id, time_t next_at)
{
    pg_params p = { .n = 0 };
    pgp_i64(&p, id);
    pgp_i64(&p, next_at);
    return mpg__write_one(m, "event defer", "UPDATE events SET next_at = $2 WHERE id = $1", &p);
}

int mpg_event_next(vodup_meta *m, time_t *next_at)
{
    *next_at = 0;
    PGresult *r;
    int rc = mpg__query(m, "event next", "SELECT min(next_at) FROM events", NULL, &r);
    if (rc != VODUP_META_OK)
        return rc;
    if (PQgetisnull(r, 0, 0))
        rc = VODUP_META_ENOTFOUND;
    else
        *next_at = (time_t)mpg__i64(r, 0, 0);
    PQclear(r);
    return rc;
}

/* ---- operator calls (meta_admin.h) ------------------------------------------------------ */

int mpg_key_create_max(vodup_meta *m, const char *key_id, const char *account_id, const char *principal,
                              const void *secret_sealed, size_t sealed_len, time_t now, int max)
{
    pg_conn *c = mpg__acquire(m);
    int rc = mpg__begin(c);
    if (rc == VODUP_META_OK && max > 0) {
        pg_params p = { .n = 0 };
        pgp_text(&p, account_id);
        pgp_text(&p, principal);
        PGresult *r;
        /* The account row locked, so two nodes cannot both add the last allowed key. */
        rc = mpg__exec(c, "key count", "SELECT id FROM accounts WHERE id = $1 FOR UPDATE", &p, &r, NULL);
        if (rc == VODUP_META_OK)
            PQclear(r);
        pg_params q = { .n = 0 };
        pgp_text(&q, account_id);
        pgp_text(&q, principal);
        if (rc == VODUP_META_OK)
            rc = mpg__exec(c, "key count", "SELECT count(*) FROM access_keys WHERE account_id = $1 AND principal = $2",
                           &q, &r, NULL);
        if (rc == VODUP_META_OK) {
            if (mpg__i64(r, 0, 0) >= max)
                rc = VODUP_META_ELIMIT;
            PQclear(r);
        }
    }
    if (rc == VODUP_META_OK) {
        pg_params p = { .n = 0 };
        pgp_text(&p, key_id);
        pgp_text(&p, account_id);
        pgp_text(&p, principal);
        pgp_bytes(&p, secret_sealed, sealed_len);
        pgp_i64(&p, now);
        rc = mpg__exec(c, "key insert",
                       "INSERT INTO access_keys(id, account_id, principal, secret_sealed, active, created)"
                       " VALUES($1, $2, $3, $4, 1, $5)",
                       &p, NULL, NULL);
    }
    rc = mpg__end(c, rc);
    mpg__release(m, c);
    return rc;
}

int mpg_key_set_active(vodup_meta *m, const char *account_id, const char *key_id, int active)
{
    pg_params p = { .n = 0 };
    pgp_text(&p, account_id);
    pgp_text(&p, key_id);
    pgp_i64(&p, active ? 1 : 0);
    return mpg__write_one(m, "key change", "UPDATE access_keys SET active = $3 WHERE account_id = $1 AND id = $2", &p);
}

int mpg_key_delete(vodup_meta *m, const char *account_id, const char *key_id)
{
    pg_params p = { .n = 0 };
    pgp_text(&p, account_id);
    pgp_text(&p, key_id);
    return mpg__write_one(m, "key change", "DELETE FROM access_keys WHERE account_id = $1 AND id = $2", &p);
}

int mpg_media_expire_uploading(vodup_meta *m, time_t before, time_t now, int max)
{
    pg_params p = { .n = 0 };
    pgp_i64(&p, before);
    pgp_i64(&p, now);
    pgp_i64(&p, max);
    long long n = 0;
    int rc = mpg__write(m, "media expire",
                        "UPDATE media SET status = 'UploadFail', modified = $2 WHERE id IN"
                        " (SELECT id FROM media WHERE status = 'Uploading' AND modified < $1 LIMIT $3"
                        " FOR UPDATE SKIP LOCKED)",
                        &p, &n);
    return rc == VODUP_META_OK ? (int)n : rc;
}

