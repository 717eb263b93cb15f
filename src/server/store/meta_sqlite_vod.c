/* meta_sqlite_vod.c - the VOD half of the SQLite metadata store (meta_vod.h): RAM users
 * and roles, the nonce ledger, media records, callback configuration and the event outbox.
 *
 * It runs on meta_sqlite.c's pool, statement cache and transaction helpers (see
 * meta_sqlite_int.h) with the same rules: one transaction per call, writes BEGIN
 * IMMEDIATE, list callbacks only after the connection is back in the pool.
 *
 * meta__media_object_written is the completion hook the object store calls inside its
 * own write transaction; vodup_meta_media_delete in turn reuses the object store's
 * object and upload removal so that blobs reach blob_gc the same way in both halves.
 */
#include "server/store/meta_shared.h"
#include "server/store/meta_vod.h"
#include "server/store/meta_sqlite_int.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Column lists shared by the statements and the row readers below; the readers index
 * columns by these positions. */
#define MEDIA_COLS                                                                              \
    "id, kind, status, account_id, title, description, tags, cover_url, user_data,"             \
    " template_group_id, app_id, file_name, storage_location, image_type, business_type, ext,"  \
    " cate_id, file_size, bucket, object_key, size, crc64, created, modified"
#define EVENT_COLS                                                                              \
    "id, account_id, media_id, event_type, body, url, auth_key, attempts, created, next_at,"    \
    " last_error"

/* Nonce rows purged per call: enough to keep up with any request rate that inserts one
 * row per call, small enough that no request pays for a large backlog at once. */
#define NONCE_PURGE_BATCH 100

#define V(id) [(id) - S_CORE_END]
const char *const meta__vod_sql[S_COUNT - S_CORE_END] = {
    /* The hook: ?1 bucket, ?2 key, ?3 now, ?4 size, ?5 crc64. Events first, while the
     * media rows still show what they were (either order works: neither reads status). */
    V(V_HOOK_EVENTS) = "INSERT INTO events(account_id, media_id, event_type, body, url, auth_key,"
                       " attempts, created, next_at)"
                       " SELECT account_id, id, CASE kind WHEN 'video' THEN 'FileUploadComplete'"
                       " WHEN 'image' THEN 'ImageUploadComplete'"
                       " ELSE 'AttachedMediaUploadComplete' END, NULL, NULL, NULL, 0, ?3, ?3"
                       " FROM media WHERE bucket = ?1 AND object_key = ?2",
    V(V_HOOK_MEDIA) = "UPDATE media SET status = CASE kind WHEN 'video' THEN 'UploadSucc'"
                      " ELSE 'Normal' END, size = ?4, crc64 = ?5, modified = ?3"
                      " WHERE bucket = ?1 AND object_key = ?2",
    V(V_PRINCIPAL_INSERT) = "INSERT INTO principals(kind, account_id, name, arn, policies,"
                            " max_session, created) VALUES(?1, ?2, ?3, ?4, ?5, ?6, ?7)",
    V(V_PRINCIPAL_GET) = "SELECT account_id, name, arn, policies, max_session, created"
                         " FROM principals WHERE kind = ?1 AND account_id = ?2 AND name = ?3",
    V(V_PRINCIPAL_LIST) = "SELECT account_id, name, arn, policies, max_session, created"
                          " FROM principals WHERE kind = ?1 AND account_id = ?2 ORDER BY name",
    V(V_PRINCIPAL_DELETE) = "DELETE FROM principals WHERE kind = ?1 AND account_id = ?2 AND name = ?3",
    V(V_USER_KEYS_DELETE) = "DELETE FROM access_keys WHERE account_id = ?1 AND principal = ?2",
    V(V_KEY_LIST) = "SELECT id, active, created FROM access_keys"
                    " WHERE account_id = ?1 AND principal = ?2 ORDER BY created, id",
    /* ?4 = now - ttl: a conflicting row is taken over only when it is older than that;
     * otherwise nothing changes, which is how the caller tells a replay. */
    V(V_NONCE_USE) = "INSERT INTO nonces(key_id, nonce, at) VALUES(?1, ?2, ?3)"
                     " ON CONFLICT(key_id, nonce) DO UPDATE SET at = excluded.at"
                     " WHERE nonces.at < ?4",
    V(V_NONCE_PURGE) = "DELETE FROM nonces WHERE rowid IN"
                       " (SELECT rowid FROM nonces WHERE at < ?1 LIMIT ?2)",
    V(V_MEDIA_INSERT) = "INSERT INTO media(" MEDIA_COLS ") VALUES(?1, ?2, ?3, ?4, ?5, ?6, ?7,"
                        " ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, ?16, ?17, ?18, ?19, ?20, ?21,"
                        " ?22, ?23, ?24)",
    V(V_MEDIA_GET) = "SELECT " MEDIA_COLS " FROM media WHERE id = ?1 AND account_id = ?2",
    /* Normally one row; should two records share a key, the newest is the one wanted. */
    V(V_MEDIA_FIND_OBJECT) = "SELECT " MEDIA_COLS " FROM media WHERE bucket = ?1 AND object_key = ?2"
                             " ORDER BY created DESC, id DESC LIMIT 1",
    V(V_MEDIA_DELETE) = "DELETE FROM media WHERE id = ?1",
    V(V_MEDIA_SET_STATUS) = "UPDATE media SET status = ?2, modified = ?3 WHERE id = ?1",
    V(V_KEY_UPLOADS) = "SELECT id FROM uploads WHERE bucket = ?1 AND key = ?2",
    V(V_MEDIA_EVENTS_DELETE) = "DELETE FROM events WHERE media_id = ?1",
    V(V_CALLBACK_SET) = "INSERT INTO callbacks(account_id, config) VALUES(?1, ?2)"
                        " ON CONFLICT(account_id) DO UPDATE SET config = excluded.config",
    V(V_CALLBACK_DELETE) = "DELETE FROM callbacks WHERE account_id = ?1",
    V(V_CALLBACK_GET) = "SELECT config FROM callbacks WHERE account_id = ?1",
    V(V_EVENT_DUE) = "SELECT " EVENT_COLS " FROM events WHERE next_at <= ?1"
                     " ORDER BY next_at, id LIMIT ?2",
    V(V_EVENT_LIST) = "SELECT " EVENT_COLS " FROM events WHERE ?1 IS NULL OR account_id = ?1"
                      " ORDER BY id",
    V(V_EVENT_PREPARE) = "UPDATE events SET body = ?2, url = ?3, auth_key = ?4 WHERE id = ?1",
    V(V_EVENT_DONE) = "DELETE FROM events WHERE id = ?1",
    V(V_EVENT_RETRY) = "UPDATE events SET attempts = attempts + 1, next_at = ?2, last_error = ?3"
                       " WHERE id = ?1",
    V(V_EVENT_NEXT) = "SELECT min(next_at) FROM events",
    V(V_EVENT_DEFER) = "UPDATE events SET next_at = ?2 WHERE id = ?1",
};
#undef V

/* ---- the completion hook ------------------------------------------------------------ */

int meta__media_object_written(conn *c, const char *bucket, const char *key, size_t key_len,
                               uint64_t size, uint64_t crc64, time_t now)
{
    sqlite3_stmt *s = meta__st(c, V_HOOK_EVENTS);
    if (!s)
        return VODUP_META_EIO;
    bind_text(s, 1, bucket);
    bind_bytes(s, 2, key, key_len);
    bind_i64(s, 3, now);
    int rc = meta__exec_done(c, s, "media complete event");
    if (rc != VODUP_META_OK)
        return rc;
    if (sqlite3_changes(c->db) == 0)
        return VODUP_META_OK; /* no media points here: the common case, nothing to update */
    s = meta__st(c, V_HOOK_MEDIA);
    if (!s)
        return VODUP_META_EIO;
    bind_text(s, 1, bucket);
    bind_bytes(s, 2, key, key_len);
    bind_i64(s, 3, now);
    bind_i64(s, 4, (int64_t)size);
    bind_i64(s, 5, (int64_t)crc64);
    rc = meta__exec_done(c, s, "media complete");
    /* A completed video is to be probed: queued in this same transaction. */
    if (rc == VODUP_META_OK)
        rc = meta__probe_job_hook(c, bucket, key, key_len, now);
    return rc;
}

/* ---- RAM users and roles ---------------------------------------------------------------- */

int msq_principal_create(vodup_meta *m, const char *kind, const vodup_meta_principal *p)
{
    /* The ARN follows from the rest when the caller leaves it out. */
    char arn[512];
    const char *a = p->arn;
    if (!a) {
        int n = snprintf(arn, sizeof arn, "acs:ram::%s:%s/%s", p->account_id ? p->account_id : "",
                         kind, p->name ? p->name : "");
        if (n < 0 || (size_t)n >= sizeof arn)
            return VODUP_META_ENOMEM;
        a = arn;
    }
    conn *c = meta__acquire(m);
    sqlite3_stmt *s = meta__st(c, V_PRINCIPAL_INSERT);
    if (s) {
        bind_text(s, 1, kind);
        bind_text(s, 2, p->account_id);
        bind_text(s, 3, p->name);
        bind_text(s, 4, a);
        bind_text(s, 5, p->policies ? p->policies : "[]");
        bind_i64(s, 6, p->max_session > 0 ? p->max_session : 3600);
        bind_i64(s, 7, p->created);
    }
    return meta__single_write(m, c, s, "principal create");
}

/* Fills p from (account_id, name, arn, policies, max_session, created). */
static int principal_from_row(sqlite3_stmt *s, void *row, void *arg)
{
    (void)arg;
    vodup_meta_principal *p = row;
    int oom = 0;
    memset(p, 0, sizeof *p);
    p->account_id = dup_text(s, 0, &oom);
    p->name = dup_text(s, 1, &oom);
    p->arn = dup_text(s, 2, &oom);
    p->policies = dup_text(s, 3, &oom);
    p->max_session = sqlite3_column_int(s, 4);
    p->created = (time_t)sqlite3_column_int64(s, 5);
    if (oom || !p->account_id || !p->name || !p->arn || !p->policies) {
        vodup_meta_principal_clear(p);
        return VODUP_META_ENOMEM;
    }
    return VODUP_META_OK;
}

static void principal_clear_row(void *row)
{
    vodup_meta_principal_clear(row);
}

int msq_principal_get(vodup_meta *m, const char *kind, const char *account_id, const char *name,
                             vodup_meta_principal *out)
{
    memset(out, 0, sizeof *out);
    conn *c = meta__acquire(m);
    sqlite3_stmt *s = meta__st(c, V_PRINCIPAL_GET);
    if (s) {
        bind_text(s, 1, kind);
        bind_text(s, 2, account_id);
        bind_text(s, 3, name);
    }
    int rc = meta__step_one(c, s, "principal get", principal_from_row, out, NULL);
    meta__release(m, c);
    return rc;
}

int msq_principal_list(vodup_meta *m, const char *kind, const char *account_id,
                              int (*cb)(const vodup_meta_principal *p, void *u), void *u)
{
    meta_rows rows;
    meta__rows_init(&rows, sizeof(vodup_meta_principal), principal_clear_row);
    conn *c = meta__acquire(m);
    sqlite3_stmt *s = meta__st(c, V_PRINCIPAL_LIST);
    if (s) {
        bind_text(s, 1, kind);
        bind_text(s, 2, account_id);
    }
    int rc = meta__step_rows(c, s, "principal list", principal_from_row, NULL, &rows);
    meta__release(m, c);
    const vodup_meta_principal *p;
    while (rc == VODUP_META_OK && (p = meta__rows_next(&rows)) != NULL && !cb(p, u))
        ;
    meta__rows_free(&rows);
    return rc;
}

/* Deletes a user or role (ENOTFOUND when absent), inside the caller's write transaction. */
int meta__principal_delete_tx(conn *c, const char *kind, const char *account_id, const char *name)
{
    sqlite3_stmt *s = meta__st(c, V_PRINCIPAL_DELETE);
    if (s) {
        bind_text(s, 1, kind);
        bind_text(s, 2, account_id);
        bind_text(s, 3, name);
    }
    int rc = meta__run(c, s, "principal delete", VODUP_META_ENOTFOUND);
    /* A user's keys would otherwise outlive it and keep signing requests. Only after
     * the user row was found, so that deleting an absent user (or "root", which is
     * never a user row) cannot take the account's own keys with it. */
    if (rc == VODUP_META_OK && strcmp(kind, "user") == 0) {
        s = meta__st(c, V_USER_KEYS_DELETE);
        if (s) {
            bind_text(s, 1, account_id);
            bind_text(s, 2, name);
        }
        rc = meta__run(c, s, "user keys delete", VODUP_META_OK);
    }
    return rc;
}

int msq_principal_delete(vodup_meta *m, const char *kind, const char *account_id, const char *name)
{
    conn *c = meta__acquire(m);
    int rc = meta__tx_begin(c, 1);
    if (rc == VODUP_META_OK) {
        rc = meta__principal_delete_tx(c, kind, account_id, name);
        rc = meta__tx_end(c, rc);
    }
    meta__release(m, c);
    return rc;
}


typedef struct key_row {
    char *key_id;
    int active;
    time_t created;
} key_row;

/* Fills k from (id, active, created). */
static int key_from_row(sqlite3_stmt *s, void *row, void *arg)
{
    (void)arg;
    key_row *k = row;
    int oom = 0;
    k->key_id = dup_text(s, 0, &oom);
    k->active = sqlite3_column_int(s, 1);
    k->created = (time_t)sqlite3_column_int64(s, 2);
    return k->key_id ? VODUP_META_OK : VODUP_META_ENOMEM;
}

static void key_clear_row(void *row)
{
    free(((key_row *)row)->key_id);
}

int msq_key_list(vodup_meta *m, const char *account_id, const char *principal,
                        int (*cb)(const char *key_id, int active, time_t created, void *u), void *u)
{
    meta_rows rows;
    meta__rows_init(&rows, sizeof(key_row), key_clear_row);
    conn *c = meta__acquire(m);
    sqlite3_stmt *s = meta__st(c, V_KEY_LIST);
    if (s) {
        bind_text(s, 1, account_id);
        bind_text(s, 2, principal);
    }
    int rc = meta__step_rows(c, s, "key list", key_from_row, NULL, &rows);
    meta__release(m, c);
    const key_row *k;
    while (rc == VODUP_META_OK && (k = meta__rows_next(&rows)) != NULL &&
           !cb(k->key_id, k->active, k->created, u))
        ;
    meta__rows_free(&rows);
    return rc;
}

/* ---- replay protection ---------------------------------------------------------------- */

int msq_nonce_use(vodup_meta *m, const char *key_id, const char *nonce, time_t now, int ttl)
{
    if (ttl < 0)
        ttl = 0;
    int64_t cutoff = (int64_t)now - ttl;
    conn *c = meta__acquire(m);
    int rc = meta__tx_begin(c, 1);
    if (rc == VODUP_META_OK) {
        sqlite3_stmt *s = meta__st(c, V_NONCE_USE);
        if (s) {
            bind_text(s, 1, key_id);
            bind_text(s, 2, nonce);
            bind_i64(s, 3, now);
            bind_i64(s, 4, cutoff);
        }
        /* No row inserted or taken over: the nonce is still within its ttl. */
        rc = meta__run(c, s, "nonce use", VODUP_META_EEXISTS);
        /* Purged in the same transaction, bounded, so the ledger stays about ttl long
         * without a separate sweeper. Done for replays too: they also arrive over time. */
        if (rc == VODUP_META_OK || rc == VODUP_META_EEXISTS) {
            s = meta__st(c, V_NONCE_PURGE);
            if (s) {
                bind_i64(s, 1, cutoff);
                bind_i64(s, 2, NONCE_PURGE_BATCH);
            }
            int prc = meta__run(c, s, "nonce purge", VODUP_META_OK);
            if (prc != VODUP_META_OK)
                rc = prc;
        }
        /* EEXISTS changed nothing but may have purged: commit that work too. */
        if (rc == VODUP_META_EEXISTS)
            rc = meta__tx_end(c, VODUP_META_OK) == VODUP_META_OK ? VODUP_META_EEXISTS
                                                                  : VODUP_META_EIO;
        else
            rc = meta__tx_end(c, rc);
    }
    meta__release(m, c);
    return rc;
}

/* ---- media ------------------------------------------------------------------------------ */

/* The media insert statement of c bound to md (NULL when preparing failed): shared by
 * media_create and the probe job's cover record (meta_sqlite_jobs.c). */
sqlite3_stmt *meta__media_insert_st(conn *c, const vodup_meta_media *md)
{
    sqlite3_stmt *s = meta__st(c, V_MEDIA_INSERT);
    if (s) {
        bind_text(s, 1, md->id);
        bind_text(s, 2, md->kind);
        bind_text(s, 3, md->status[0] ? md->status : "Uploading");
        bind_text(s, 4, md->account_id);
        bind_text(s, 5, md->title);
        bind_text(s, 6, md->description);
        bind_text(s, 7, md->tags);
        bind_text(s, 8, md->cover_url);
        bind_text(s, 9, md->user_data);
        bind_text(s, 10, md->template_group_id);
        bind_text(s, 11, md->app_id);
        bind_text(s, 12, md->file_name);
        bind_text(s, 13, md->storage_location);
        bind_text(s, 14, md->image_type);
        bind_text(s, 15, md->business_type);
        bind_text(s, 16, md->ext);
        bind_i64(s, 17, md->cate_id);
        bind_i64(s, 18, (int64_t)md->file_size);
        bind_text(s, 19, md->bucket);
        /* A BLOB like objects.key, or the hook's join would never match. */
        if (md->object_key)
            bind_bytes(s, 20, md->object_key, strlen(md->object_key));
        bind_i64(s, 21, (int64_t)md->size);
        bind_i64(s, 22, (int64_t)md->crc64);
        bind_i64(s, 23, md->created);
        bind_i64(s, 24, md->modified ? md->modified : md->created);
    }
    return s;
}

int msq_media_create(vodup_meta *m, const vodup_meta_media *md)
{
    conn *c = meta__acquire(m);
    return meta__single_write(m, c, meta__media_insert_st(c, md), "media create");
}

/* Fills md from a row of MEDIA_COLS. */
static int media_from_row(sqlite3_stmt *s, void *row, void *arg)
{
    (void)arg;
    vodup_meta_media *md = row;
    int oom = 0;
    memset(md, 0, sizeof *md);
    copy_text(md->id, sizeof md->id, s, 0);
    copy_text(md->kind, sizeof md->kind, s, 1);
    copy_text(md->status, sizeof md->status, s, 2);
    md->account_id = dup_text(s, 3, &oom);
    md->title = opt_text(s, 4, &oom);
    md->description = opt_text(s, 5, &oom);
    md->tags = opt_text(s, 6, &oom);
    md->cover_url = opt_text(s, 7, &oom);
    md->user_data = opt_text(s, 8, &oom);
    md->template_group_id = opt_text(s, 9, &oom);
    md->app_id = opt_text(s, 10, &oom);
    md->file_name = opt_text(s, 11, &oom);
    md->storage_location = opt_text(s, 12, &oom);
    md->image_type = opt_text(s, 13, &oom);
    md->business_type = opt_text(s, 14, &oom);
    md->ext = opt_text(s, 15, &oom);
    md->cate_id = sqlite3_column_int64(s, 16);
    md->file_size = (uint64_t)sqlite3_column_int64(s, 17);
    md->bucket = opt_text(s, 18, &oom);
    if (sqlite3_column_type(s, 19) != SQLITE_NULL)
        md->object_key = dup_blob(s, 19, NULL, &oom);
    md->size = (uint64_t)sqlite3_column_int64(s, 20);
    md->crc64 = (uint64_t)sqlite3_column_int64(s, 21);
    md->created = (time_t)sqlite3_column_int64(s, 22);
    md->modified = (time_t)sqlite3_column_int64(s, 23);
    if (oom || !md->account_id) {
        vodup_meta_media_clear(md);
        return VODUP_META_ENOMEM;
    }
    return VODUP_META_OK;
}

static void media_clear_row(void *row)
{
    vodup_meta_media_clear(row);
}

/* Reads media `id` of account_id inside the caller's transaction. */
static int media_get_on(conn *c, const char *account_id, const char *id, vodup_meta_media *out)
{
    sqlite3_stmt *s = meta__st(c, V_MEDIA_GET);
    if (s) {
        bind_text(s, 1, id);
        /* NULL never equals anything in SQL: no account, no record. */
        bind_text(s, 2, account_id);
    }
    return meta__step_one(c, s, "media get", media_from_row, out, NULL);
}

int msq_media_get(vodup_meta *m, const char *account_id, const char *id, vodup_meta_media *out)
{
    memset(out, 0, sizeof *out);
    conn *c = meta__acquire(m);
    int rc = media_get_on(c, account_id, id, out);
    meta__release(m, c);
    return rc;
}

int msq_media_find_object(vodup_meta *m, const char *bucket, const char *key, size_t key_len,
                                 vodup_meta_media *out)
{
    memset(out, 0, sizeof *out);
    conn *c = meta__acquire(m);
    sqlite3_stmt *s = meta__st(c, V_MEDIA_FIND_OBJECT);
    if (s) {
        bind_text(s, 1, bucket);
        bind_bytes(s, 2, key, key_len);
    }
    int rc = meta__step_one(c, s, "media find object", media_from_row, out, NULL);
    meta__release(m, c);
    return rc;
}


/* Binds the filter's parameters (?1..?7) present in the statement's WHERE. */
static void bind_filter(sqlite3_stmt *s, const char *account_id, const vodup_meta_media_filter *f,
                        const char *statuses)
{
    bind_text(s, 1, account_id);
    bind_text(s, 2, f->kind);
    if (statuses)
        bind_text(s, 3, statuses);
    if (f->cate_id >= 0)
        bind_i64(s, 4, f->cate_id);
    if (f->start)
        bind_i64(s, 5, f->start);
    if (f->end)
        bind_i64(s, 6, f->end);
    if (f->storage_location)
        bind_text(s, 7, f->storage_location);
}

int msq_media_list(vodup_meta *m, const char *account_id, const vodup_meta_media_filter *f,
                          int (*cb)(const vodup_meta_media *md, void *u), void *u, size_t *total)
{
    if (total)
        *total = 0;
    char *statuses = NULL;
    int rc = meta__status_set(f->statuses, &statuses);
    if (rc != VODUP_META_OK)
        return rc;
    /* Only the conditions in use are in the SQL, so that the (account_id, kind, created)
     * index serves equality, the time window and the order. Fixed parameter numbers keep
     * binding independent of which are present. */
    char where[400];
    snprintf(where, sizeof where, "account_id = ?1 AND kind = ?2%s%s%s%s%s",
             statuses ? " AND instr(?3, ',' || lower(status) || ',') > 0" : "",
             f->cate_id >= 0 ? " AND cate_id = ?4" : "", f->start ? " AND created >= ?5" : "",
             f->end ? " AND created <= ?6" : "",
             f->storage_location ? " AND storage_location = ?7" : "");
    const char *dir = f->ascending ? "ASC" : "DESC";
    char sql[1000];
    snprintf(sql, sizeof sql,
             "SELECT " MEDIA_COLS " FROM media WHERE %s ORDER BY created %s, id %s LIMIT ?8 OFFSET ?9",
             where, dir, dir);
    char count_sql[500];
    snprintf(count_sql, sizeof count_sql, "SELECT count(*) FROM media WHERE %s", where);

    meta_rows rows;
    meta__rows_init(&rows, sizeof(vodup_meta_media), media_clear_row);
    conn *c = meta__acquire(m);
    /* One read transaction: the page and the total come from the same snapshot. */
    rc = meta__tx_begin(c, 0);
    if (rc == VODUP_META_OK) {
        sqlite3_stmt *s = NULL;
        rc = meta__prepare_once(c, sql, "media list", &s);
        if (rc == VODUP_META_OK) {
            bind_filter(s, account_id, f, statuses);
            bind_i64(s, 8, clamp_limit(f->limit));
            bind_i64(s, 9, clamp_limit(f->offset));
            rc = meta__step_rows(c, s, "media list", media_from_row, NULL, &rows);
            sqlite3_finalize(s);
        }
        if (rc == VODUP_META_OK && total)
            rc = meta__prepare_once(c, count_sql, "media count", &s);
        if (rc == VODUP_META_OK && total) {
            bind_filter(s, account_id, f, statuses);
            int r = sqlite3_step(s);
            if (r == SQLITE_ROW)
                *total = (size_t)sqlite3_column_int64(s, 0);
            else
                rc = meta__db_fail(c, "media count", r);
            sqlite3_finalize(s);
        }
        rc = meta__tx_end(c, rc);
    }
    meta__release(m, c);
    free(statuses);
    if (rc != VODUP_META_OK && total)
        *total = 0;
    const vodup_meta_media *md;
    while (rc == VODUP_META_OK && (md = meta__rows_next(&rows)) != NULL && !cb(md, u))
        ;
    meta__rows_free(&rows);
    return rc;
}

/* Drops every multipart upload open on bucket/key (parts' blobs to blob_gc). The ids are
 * collected first so that no SELECT is being stepped while its table changes. */
/* Fills an upload id (a char[33]) from column 0. */
static int upload_id_from_row(sqlite3_stmt *s, void *row, void *arg)
{
    (void)arg;
    copy_text(row, 33, s, 0);
    return VODUP_META_OK;
}

static int drop_key_uploads(conn *c, const char *bucket, const char *key, size_t key_len)
{
    meta_rows ids;
    meta__rows_init(&ids, 33, NULL);
    sqlite3_stmt *s = meta__st(c, V_KEY_UPLOADS);
    if (s) {
        bind_text(s, 1, bucket);
        bind_bytes(s, 2, key, key_len);
    }
    int rc = meta__step_rows(c, s, "media uploads", upload_id_from_row, NULL, &ids);
    const char *id;
    while (rc == VODUP_META_OK && (id = meta__rows_next(&ids)) != NULL)
        rc = meta__upload_drop(c, id);
    meta__rows_free(&ids);
    return rc;
}

int msq_media_delete(vodup_meta *m, const char *account_id, const char *id)
{
    vodup_meta_media md;
    memset(&md, 0, sizeof md);
    conn *c = meta__acquire(m);
    int rc = meta__tx_begin(c, 1);
    if (rc == VODUP_META_OK) {
        rc = media_get_on(c, account_id, id, &md);
        if (rc == VODUP_META_OK)
            rc = meta__run_text(c, V_MEDIA_DELETE, id, "media delete");
        if (rc == VODUP_META_OK && md.bucket && md.object_key) {
            size_t klen = strlen(md.object_key);
            int64_t oid;
            rc = meta__object_find(c, md.bucket, md.object_key, klen, &oid);
            if (rc == VODUP_META_OK && oid)
                rc = meta__object_drop(c, oid);
            if (rc == VODUP_META_OK)
                rc = drop_key_uploads(c, md.bucket, md.object_key, klen);
        }
        /* Nobody is to be told about media that no longer exists. */
        if (rc == VODUP_META_OK)
            rc = meta__run_text(c, V_MEDIA_EVENTS_DELETE, id, "media events delete");
        /* Nor probed: its job and stored media info go with it. */
        if (rc == VODUP_META_OK)
            rc = meta__probe_job_forget(c, id);
        rc = meta__tx_end(c, rc);
    }
    meta__release(m, c);
    vodup_meta_media_clear(&md);
    return rc;
}

int msq_media_set_status(vodup_meta *m, const char *id, const char *status, time_t now)
{
    conn *c = meta__acquire(m);
    sqlite3_stmt *s = meta__st(c, V_MEDIA_SET_STATUS);
    if (s) {
        bind_text(s, 1, id);
        bind_text(s, 2, status);
        bind_i64(s, 3, now);
    }
    return meta__single_update(m, c, s, "media set status");
}


/* ---- callback configuration ------------------------------------------------------------ */

int msq_callback_set(vodup_meta *m, const char *account_id, const char *config_json)
{
    char *sealed = NULL;
    const vodup_meta_sealer *sl = vodup_meta_sealer_of(m);
    if (config_json && sl) {
        /* With a sealer the key is never written in plain text: a failure is an error. */
        int r = vodup_meta_auth_key_rewrite(sl, account_id, config_json, 1, &sealed);
        if (r != VODUP_META_OK)
            return r;
    }
    conn *c = meta__acquire(m);
    /* NULL removes the configuration: get answers ENOTFOUND again. */
    sqlite3_stmt *s = meta__st(c, config_json ? V_CALLBACK_SET : V_CALLBACK_DELETE);
    if (s) {
        bind_text(s, 1, account_id);
        if (config_json)
            bind_text(s, 2, sealed ? sealed : config_json);
    }
    int rc = meta__single_write(m, c, s, "callback set");
    free(sealed);
    return rc;
}

int msq_callback_get(vodup_meta *m, const char *account_id, char **config_json)
{
    *config_json = NULL;
    int rc = meta__get_by_text(m, V_CALLBACK_GET, account_id, "callback get", meta__text_from_row,
                               config_json);
    return meta__callback_unseal(m, account_id, rc, config_json);
}

int msq_callback_seal_all(vodup_meta *m)
{
    const vodup_meta_sealer *sl = vodup_meta_sealer_of(m);
    if (!sl)
        return VODUP_META_EIO;
    conn *c = meta__acquire(m);
    /* Runs once at startup: its own statements rather than cached ones. secure_delete makes
     * SQLite zero the bytes the old rows leave behind in the file. */
    sqlite3_exec(c->db, "PRAGMA secure_delete=ON", NULL, NULL, NULL);
    sqlite3_stmt *sel = NULL, *upd = NULL;
    int sealed = 0;
    int rc = meta__tx_begin(c, 1);
    if (rc == VODUP_META_OK &&
        (sqlite3_prepare_v2(c->db, "SELECT account_id, config FROM callbacks", -1, &sel, NULL) != SQLITE_OK ||
         sqlite3_prepare_v2(c->db, "UPDATE callbacks SET config = ?2 WHERE account_id = ?1", -1, &upd, NULL) !=
             SQLITE_OK))
        rc = meta__db_fail(c, "callback seal", sqlite3_errcode(c->db));
    int r = SQLITE_DONE;
    while (rc == VODUP_META_OK && (r = sqlite3_step(sel)) == SQLITE_ROW) {
        const char *acc = (const char *)sqlite3_column_text(sel, 0);
        const char *cfg = (const char *)sqlite3_column_text(sel, 1);
        char *out = NULL;
        if (!acc || !cfg)
            continue;
        rc = vodup_meta_auth_key_rewrite(sl, acc, cfg, 1, &out);
        if (rc == VODUP_META_OK && out) {
            sqlite3_bind_text(upd, 1, acc, -1, SQLITE_TRANSIENT);
            sqlite3_bind_text(upd, 2, out, -1, SQLITE_TRANSIENT);
            rc = meta__exec_done(c, upd, "callback seal");
            sqlite3_clear_bindings(upd);
            sealed++;
        }
        free(out);
    }
    if (rc == VODUP_META_OK && r != SQLITE_DONE)
        rc = meta__db_fail(c, "callback seal", r);
    sqlite3_finalize(sel);
    sqlite3_finalize(upd);
    /* Earlier versions copied the key into each pending event; the sender now signs with
     * the account's current key, so the copies go. */
    if (rc == VODUP_META_OK &&
        sqlite3_exec(c->db, "UPDATE events SET auth_key = NULL WHERE auth_key IS NOT NULL", NULL, NULL, NULL) !=
            SQLITE_OK)
        rc = meta__db_fail(c, "callback seal", sqlite3_errcode(c->db));
    rc = meta__tx_end(c, rc);
    sqlite3_exec(c->db, "PRAGMA secure_delete=OFF", NULL, NULL, NULL);
    /* The write-ahead log may still hold pages with the plain keys (the writes that stored
     * them, and the pages before this update): copy it into the file and empty it. */
    if (rc == VODUP_META_OK)
        sqlite3_exec(c->db, "PRAGMA wal_checkpoint(TRUNCATE)", NULL, NULL, NULL);
    meta__release(m, c);
    return rc == VODUP_META_OK ? sealed : rc;
}

/* ---- events ------------------------------------------------------------------------------ */

/* Fills e from a row of EVENT_COLS. */
static int event_from_row(sqlite3_stmt *s, void *row, void *arg)
{
    (void)arg;
    vodup_meta_event *e = row;
    int oom = 0;
    memset(e, 0, sizeof *e);
    e->id = sqlite3_column_int64(s, 0);
    e->account_id = dup_text(s, 1, &oom);
    e->media_id = dup_text(s, 2, &oom);
    e->event_type = dup_text(s, 3, &oom);
    e->body = opt_text(s, 4, &oom);
    e->url = opt_text(s, 5, &oom);
    e->auth_key = opt_text(s, 6, &oom);
    e->attempts = sqlite3_column_int(s, 7);
    e->created = (time_t)sqlite3_column_int64(s, 8);
    e->next_at = (time_t)sqlite3_column_int64(s, 9);
    e->last_error = opt_text(s, 10, &oom);
    if (oom || !e->account_id || !e->media_id || !e->event_type) {
        vodup_meta_event_clear(e);
        return VODUP_META_ENOMEM;
    }
    return VODUP_META_OK;
}

static void event_clear_row(void *row)
{
    vodup_meta_event_clear(row);
}

/* Collects the rows of statement `id` (bound by bind_fn) and calls cb on them after the
 * connection is released (event_list). */
static int event_rows(vodup_meta *m, int id, const char *what, void (*bind_fn)(sqlite3_stmt *s, const void *a),
                      const void *arg, int (*cb)(const vodup_meta_event *e, void *u), void *u)
{
    meta_rows rows;
    meta__rows_init(&rows, sizeof(vodup_meta_event), event_clear_row);
    conn *c = meta__acquire(m);
    sqlite3_stmt *s = meta__st(c, id);
    if (s)
        bind_fn(s, arg);
    int rc = meta__step_rows(c, s, what, event_from_row, NULL, &rows);
    meta__release(m, c);
    const vodup_meta_event *e;
    while (rc == VODUP_META_OK && (e = meta__rows_next(&rows)) != NULL && !cb(e, u))
        ;
    meta__rows_free(&rows);
    return rc;
}

typedef struct due_args {
    time_t now;
    size_t max;
} due_args;

static void bind_due(sqlite3_stmt *s, const void *a)
{
    const due_args *d = a;
    bind_i64(s, 1, d->now);
    bind_i64(s, 2, clamp_limit(d->max));
}

static void bind_account(sqlite3_stmt *s, const void *a)
{
    bind_text(s, 1, a);
}

/* Reads the due events and leases them (next_at = now + VODUP_META_EVENT_LEASE) in one
 * write transaction: the writer turn and SQLite's write lock keep a second caller (a
 * thread, or another process on the file) from reading them before the lease is written,
 * so each event goes to one caller per lease. */
int msq_event_due(vodup_meta *m, time_t now, size_t max,
                         int (*cb)(const vodup_meta_event *e, void *u), void *u)
{
    due_args d = { now, max };
    meta_rows rows;
    meta__rows_init(&rows, sizeof(vodup_meta_event), event_clear_row);
    conn *c = meta__acquire(m);
    int rc = meta__tx_begin(c, 1);
    if (rc == VODUP_META_OK) {
        sqlite3_stmt *s = meta__st(c, V_EVENT_DUE);
        if (s)
            bind_due(s, &d);
        rc = meta__step_rows(c, s, "event due", event_from_row, NULL, &rows);
        vodup_meta_event *e;
        while (rc == VODUP_META_OK && (e = meta__rows_next(&rows)) != NULL) {
            e->next_at = now + VODUP_META_EVENT_LEASE;
            s = meta__st(c, V_EVENT_DEFER);
            if (s) {
                bind_i64(s, 1, e->id);
                bind_i64(s, 2, e->next_at);
            }
            rc = meta__run(c, s, "event claim", VODUP_META_EIO);
        }
        rows.next = 0;
        rc = meta__tx_end(c, rc);
    }
    meta__release(m, c);
    const vodup_meta_event *e;
    while (rc == VODUP_META_OK && (e = meta__rows_next(&rows)) != NULL && !cb(e, u))
        ;
    meta__rows_free(&rows);
    return rc;
}

int msq_event_list(vodup_meta *m, const char *account_id,
                          int (*cb)(const vodup_meta_event *e, void *u), void *u)
{
    return event_rows(m, V_EVENT_LIST, "event list", bind_account, account_id, cb, u);
}

int msq_event_prepare(vodup_meta *m, long long id, const char *body, const char *url, const char *auth_key)
{
    conn *c = meta__acquire(m);
    sqlite3_stmt *s = meta__st(c, V_EVENT_PREPARE);
    if (s) {
        bind_i64(s, 1, id);
        bind_text(s, 2, body);
        bind_text(s, 3, url);
        bind_text(s, 4, auth_key);
    }
    return meta__single_update(m, c, s, "event prepare");
}

int msq_event_done(vodup_meta *m, long long id)
{
    conn *c = meta__acquire(m);
    sqlite3_stmt *s = meta__st(c, V_EVENT_DONE);
    if (s)
        bind_i64(s, 1, id);
    return meta__single_update(m, c, s, "event done");
}

int msq_event_retry(vodup_meta *m, long long id, time_t next_at, const char *error)
{
    conn *c = meta__acquire(m);
    sqlite3_stmt *s = meta__st(c, V_EVENT_RETRY);
    if (s) {
        bind_i64(s, 1, id);
        bind_i64(s, 2, next_at);
        bind_text(s, 3, error);
    }
    return meta__single_update(m, c, s, "event retry");
}

int msq_event_defer(vodup_meta *m, long long id, time_t next_at)
{
    conn *c = meta__acquire(m);
    sqlite3_stmt *s = meta__st(c, V_EVENT_DEFER);
    if (s) {
        bind_i64(s, 1, id);
        bind_i64(s, 2, next_at);
    }
    return meta__single_update(m, c, s, "event defer");
}

int msq_event_next(vodup_meta *m, time_t *next_at)
{
    *next_at = 0;
    conn *c = meta__acquire(m);
    sqlite3_stmt *s = meta__st(c, V_EVENT_NEXT);
    int rc = VODUP_META_EIO;
    if (s) {
        int r = sqlite3_step(s);
        if (r == SQLITE_ROW) {
            /* min() over no rows is one NULL row. */
            if (sqlite3_column_type(s, 0) == SQLITE_NULL)
                rc = VODUP_META_ENOTFOUND;
            else {
                *next_at = (time_t)sqlite3_column_int64(s, 0);
                rc = VODUP_META_OK;
            }
        } else
            rc = meta__db_fail(c, "event next", r);
        sqlite3_reset(s);
    }
    meta__release(m, c);
    return rc;
}

