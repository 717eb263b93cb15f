/* meta_sqlite_jobs.c - the probe job queue of the SQLite metadata store (meta_jobs.h):
 * tables probe_jobs and media_info (created at open, meta_sqlite.c's ensure_sql).
 *
 * Same rules as the rest of the back end: one transaction per call, writes BEGIN
 * IMMEDIATE through meta__tx_begin (the writer turn, so claims of this process never race
 * each other, and SQLite's write lock orders them against other processes'). The
 * statements are prepared per call (meta__prepare_once): these calls run once per probe,
 * far from the request path's statement cache.
 */
#include "server/store/meta_jobs.h"
#include "server/store/meta_sqlite_int.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* One write statement inside c's transaction: prepare, bind (bind may be NULL), run,
 * finalize. if_unchanged as meta__run. */
static int run_once(conn *c, const char *sql, const char *what, int if_unchanged,
                    void (*bind)(sqlite3_stmt *s, const void *arg), const void *arg)
{
    sqlite3_stmt *s = NULL;
    int rc = meta__prepare_once(c, sql, what, &s);
    if (rc != VODUP_META_OK)
        return rc;
    if (bind)
        bind(s, arg);
    rc = meta__run(c, s, what, if_unchanged);
    sqlite3_finalize(s);
    return rc;
}

/* ---- inside other calls' transactions ------------------------------------------------ */

typedef struct hook_args {
    const char *bucket;
    const char *key;
    size_t key_len;
    time_t now;
} hook_args;

static void bind_hook(sqlite3_stmt *s, const void *arg)
{
    const hook_args *a = arg;
    bind_text(s, 1, a->bucket);
    bind_bytes(s, 2, a->key, a->key_len);
    bind_i64(s, 3, a->now);
}

/* A video uploaded again (RefreshUploadVideo) is probed again: its job starts over. */
static const char HOOK_SQL[] =
    "INSERT INTO probe_jobs(media_id, state, attempts, claimed_by, lease_until, next_at, created)"
    " SELECT id, 'queued', 0, NULL, 0, ?3, ?3 FROM media"
    " WHERE bucket = ?1 AND object_key = ?2 AND kind = 'video'"
    " ON CONFLICT(media_id) DO UPDATE SET state = 'queued', attempts = 0, claimed_by = NULL,"
    " lease_until = 0, next_at = excluded.next_at, last_error = NULL";

int meta__probe_job_hook(conn *c, const char *bucket, const char *key, size_t key_len, time_t now)
{
    hook_args a = { bucket, key, key_len, now };
    return run_once(c, HOOK_SQL, "probe job queue", VODUP_META_OK, bind_hook, &a);
}

static void bind_id(sqlite3_stmt *s, const void *arg)
{
    bind_text(s, 1, arg);
}

int meta__probe_job_forget(conn *c, const char *media_id)
{
    int rc = run_once(c, "DELETE FROM probe_jobs WHERE media_id = ?1", "probe job forget",
                      VODUP_META_OK, bind_id, media_id);
    if (rc == VODUP_META_OK)
        rc = run_once(c, "DELETE FROM media_info WHERE media_id = ?1", "media info forget",
                      VODUP_META_OK, bind_id, media_id);
    return rc;
}

/* ---- the calls ------------------------------------------------------------------------ */

static const char ADD_SQL[] =
    "INSERT INTO probe_jobs(media_id, state, attempts, claimed_by, lease_until, next_at, created)"
    " SELECT id, 'queued', 0, NULL, 0, ?2, ?2 FROM media WHERE id = ?1"
    " ON CONFLICT(media_id) DO UPDATE SET state = 'queued', attempts = 0, claimed_by = NULL,"
    " lease_until = 0, next_at = excluded.next_at, last_error = NULL";

int msq_probe_job_add(vodup_meta *m, const char *media_id, time_t now)
{
    conn *c = meta__acquire(m);
    sqlite3_stmt *s = NULL;
    int rc = meta__prepare_once(c, ADD_SQL, "probe job add", &s);
    if (rc != VODUP_META_OK) {
        meta__release(m, c);
        return rc;
    }
    bind_text(s, 1, media_id);
    bind_i64(s, 2, now);
    /* No media row: nothing inserted, which is ENOTFOUND. */
    rc = meta__single_update(m, c, s, "probe job add");
    sqlite3_finalize(s);
    return rc;
}

/* One statement picks and takes the job, so no second claimer can slip in between (the
 * writer turn and SQLite's write lock serialize whole statements). Queued jobs first,
 * then those whose claimer's lease ran out, oldest first within each. */
static const char CLAIM_SQL[] =
    "UPDATE probe_jobs SET state = 'claimed', claimed_by = ?2, lease_until = ?3,"
    " attempts = attempts + 1"
    " WHERE media_id = (SELECT media_id FROM probe_jobs"
    "   WHERE (state = 'queued' AND next_at <= ?1) OR (state = 'claimed' AND lease_until < ?1)"
    "   ORDER BY state DESC, next_at, created, media_id LIMIT 1)"
    " RETURNING media_id, attempts, lease_until";

int msq_probe_job_claim(vodup_meta *m, const char *node, time_t now, int lease_s,
                        vodup_meta_probe_job *out)
{
    memset(out, 0, sizeof *out);
    conn *c = meta__acquire(m);
    int rc = meta__tx_begin(c, 1);
    if (rc != VODUP_META_OK) {
        meta__release(m, c);
        return rc;
    }
    sqlite3_stmt *s = NULL;
    rc = meta__prepare_once(c, CLAIM_SQL, "probe job claim", &s);
    if (rc == VODUP_META_OK) {
        bind_i64(s, 1, now);
        bind_text(s, 2, node);
        bind_i64(s, 3, (int64_t)now + (lease_s > 0 ? lease_s : 1));
        int r = sqlite3_step(s);
        if (r == SQLITE_ROW) {
            copy_text(out->media_id, sizeof out->media_id, s, 0);
            out->attempts = sqlite3_column_int(s, 1);
            out->lease_until = (time_t)sqlite3_column_int64(s, 2);
            r = sqlite3_step(s); /* RETURNING finishes its UPDATE on the last step */
        }
        if (r != SQLITE_DONE)
            rc = meta__db_fail(c, "probe job claim", r);
        else if (!out->media_id[0])
            rc = VODUP_META_ENOTFOUND;
        sqlite3_finalize(s);
    }
    if (rc == VODUP_META_OK) {
        rc = meta__prepare_once(c, "SELECT account_id FROM media WHERE id = ?1", "probe job account", &s);
        if (rc == VODUP_META_OK) {
            bind_text(s, 1, out->media_id);
            int r = sqlite3_step(s);
            if (r == SQLITE_ROW)
                copy_text(out->account_id, sizeof out->account_id, s, 0);
            else if (r != SQLITE_DONE) /* DONE: no media (deleted jobs go with it): empty */
                rc = meta__db_fail(c, "probe job account", r);
            sqlite3_finalize(s);
        }
    }
    /* ENOTFOUND changed nothing: commit (nothing) rather than count it as a failure. */
    int end = meta__tx_end(c, rc == VODUP_META_ENOTFOUND ? VODUP_META_OK : rc);
    meta__release(m, c);
    if (rc == VODUP_META_ENOTFOUND && end == VODUP_META_OK)
        return rc;
    if (end != VODUP_META_OK)
        memset(out, 0, sizeof *out);
    return end;
}

static const char RELEASE_SQL[] =
    "UPDATE probe_jobs SET state = 'queued', claimed_by = NULL, lease_until = 0, next_at = ?3,"
    " last_error = ?4 WHERE media_id = ?1 AND state = 'claimed' AND claimed_by = ?2";

int msq_probe_job_release(vodup_meta *m, const char *media_id, const char *node, time_t next_at,
                          const char *error)
{
    conn *c = meta__acquire(m);
    sqlite3_stmt *s = NULL;
    int rc = meta__prepare_once(c, RELEASE_SQL, "probe job release", &s);
    if (rc != VODUP_META_OK) {
        meta__release(m, c);
        return rc;
    }
    bind_text(s, 1, media_id);
    bind_text(s, 2, node);
    bind_i64(s, 3, next_at);
    bind_text(s, 4, error);
    rc = meta__single_update(m, c, s, "probe job release");
    sqlite3_finalize(s);
    return rc;
}

static void bind_held(sqlite3_stmt *s, const void *arg)
{
    const vodup_meta_probe_result *r = arg;
    bind_text(s, 1, r->media_id);
    bind_text(s, 2, r->node);
}

static void bind_media_result(sqlite3_stmt *s, const void *arg)
{
    const vodup_meta_probe_result *r = arg;
    bind_text(s, 1, r->media_id);
    bind_text(s, 2, r->status);
    bind_text(s, 3, r->cover_url);
    bind_i64(s, 4, r->now);
}

static void bind_info(sqlite3_stmt *s, const void *arg)
{
    const vodup_meta_probe_result *r = arg;
    bind_text(s, 1, r->media_id);
    bind_text(s, 2, r->info_json ? r->info_json : "{}");
}

typedef struct event_args {
    const vodup_meta_probe_result *r;
    const char *type;
} event_args;

static void bind_event(sqlite3_stmt *s, const void *arg)
{
    const event_args *a = arg;
    bind_text(s, 1, a->r->media_id);
    bind_text(s, 2, a->type);
    bind_i64(s, 3, a->r->now);
}

int msq_probe_job_finish(vodup_meta *m, const vodup_meta_probe_result *r)
{
    conn *c = meta__acquire(m);
    int rc = meta__tx_begin(c, 1);
    if (rc != VODUP_META_OK) {
        meta__release(m, c);
        return rc;
    }
    /* Deleting the job first is the lease check: no row of ours, nothing more happens. */
    rc = run_once(c, "DELETE FROM probe_jobs WHERE media_id = ?1 AND state = 'claimed'"
                     " AND claimed_by = ?2", "probe job finish", VODUP_META_ENOTFOUND,
                  bind_held, r);
    if (rc == VODUP_META_OK)
        rc = run_once(c, "UPDATE media SET status = ?2, cover_url = coalesce(?3, cover_url),"
                         " modified = ?4 WHERE id = ?1", "probe result", VODUP_META_ENOTFOUND,
                      bind_media_result, r);
    if (rc == VODUP_META_OK)
        rc = run_once(c, "INSERT INTO media_info(media_id, info) VALUES(?1, ?2)"
                         " ON CONFLICT(media_id) DO UPDATE SET info = excluded.info",
                      "media info", VODUP_META_OK, bind_info, r);
    if (rc == VODUP_META_OK && r->cover)
        rc = meta__run(c, meta__media_insert_st(c, r->cover), "cover record", VODUP_META_OK);
    for (size_t i = 0; rc == VODUP_META_OK && i < r->nevents; i++) {
        event_args a = { r, r->events[i] };
        rc = run_once(c, "INSERT INTO events(account_id, media_id, event_type, body, url, auth_key,"
                         " attempts, created, next_at)"
                         " SELECT account_id, id, ?2, NULL, NULL, NULL, 0, ?3, ?3 FROM media WHERE id = ?1",
                      "probe event", VODUP_META_OK, bind_event, &a);
    }
    rc = meta__tx_end(c, rc);
    meta__release(m, c);
    return rc;
}

int msq_probe_job_count(vodup_meta *m)
{
    conn *c = meta__acquire(m);
    sqlite3_stmt *s = NULL;
    int rc = meta__prepare_once(c, "SELECT count(*) FROM probe_jobs", "probe job count", &s);
    if (rc == VODUP_META_OK) {
        int r = sqlite3_step(s);
        rc = r == SQLITE_ROW ? sqlite3_column_int(s, 0) : meta__db_fail(c, "probe job count", r);
        sqlite3_finalize(s);
    }
    meta__release(m, c);
    return rc;
}

int msq_media_info_get(vodup_meta *m, const char *media_id, char **json)
{
    *json = NULL;
    conn *c = meta__acquire(m);
    sqlite3_stmt *s = NULL;
    int rc = meta__prepare_once(c, "SELECT info FROM media_info WHERE media_id = ?1",
                                "media info get", &s);
    if (rc == VODUP_META_OK) {
        bind_text(s, 1, media_id);
        int r = sqlite3_step(s);
        if (r == SQLITE_ROW) {
            int oom = 0;
            *json = dup_text(s, 0, &oom);
            rc = *json ? VODUP_META_OK : VODUP_META_ENOMEM;
        } else {
            rc = r == SQLITE_DONE ? VODUP_META_ENOTFOUND : meta__db_fail(c, "media info get", r);
        }
        sqlite3_finalize(s);
    }
    meta__release(m, c);
    return rc;
}

int msq_probe_job_requeue_node(vodup_meta *m, const char *node, time_t now)
{
    conn *c = meta__acquire(m);
    int rc = meta__tx_begin(c, 1), n = 0;
    if (rc != VODUP_META_OK) {
        meta__release(m, c);
        return rc;
    }
    sqlite3_stmt *s = NULL;
    rc = meta__prepare_once(c, "UPDATE probe_jobs SET state = 'queued', claimed_by = NULL, lease_until = 0,"
                               " next_at = ?2 WHERE state = 'claimed' AND claimed_by = ?1",
                            "probe job requeue", &s);
    if (rc == VODUP_META_OK) {
        bind_text(s, 1, node);
        bind_i64(s, 2, now);
        rc = meta__exec_done(c, s, "probe job requeue");
        n = sqlite3_changes(c->db);
        sqlite3_finalize(s);
    }
    rc = meta__tx_end(c, rc);
    meta__release(m, c);
    return rc == VODUP_META_OK ? n : rc;
}
