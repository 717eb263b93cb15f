/* meta_pg_jobs.c - the PostgreSQL back end's probe job queue (meta_jobs.h, ops version 4)
 * and per-account storage (meta_quota.h, version 5): tables probe_jobs, media_info and
 * account_usage of its migrations 2 and 3 (meta_pg.c). The semantics are those of
 * meta_sqlite_jobs.c and meta_sqlite_quota.c; what differs is how nodes are kept apart:
 *  - a claim is one statement that picks the oldest due job with FOR UPDATE SKIP LOCKED
 *    and takes it, so of nodes claiming at once each gets another job (or none) and none
 *    waits for another's pick; a job is the claimer's until its lease passes;
 *  - finishing deletes the job row of the finishing node first: that is the lease check,
 *    and it locks the row, so a late finish of a previous holder finds nothing;
 *  - the usage counters are kept by the triggers of migration 3, in each write's own
 *    transaction; these calls only read and set the account's row.
 */
#include "server/store/meta_jobs.h"
#include "server/store/meta_pg_int.h"
#include "server/store/meta_quota.h"

#include <stdlib.h>
#include <string.h>

/* A statement that must change a row: ENOTFOUND when it changed none. */
static int exec_one(pg_conn *c, const char *what, const char *sql, const pg_params *p)
{
    long long n = 0;
    int rc = mpg__exec(c, what, sql, p, NULL, &n);
    return rc == VODUP_META_OK && n == 0 ? VODUP_META_ENOTFOUND : rc;
}


/* ---- inside other calls' transactions ------------------------------------------------ */

/* A video uploaded again (RefreshUploadVideo) is probed again: its job starts over. */
#define JOB_UPSERT                                                                              \
    " ON CONFLICT(media_id) DO UPDATE SET state = 'queued', attempts = 0, claimed_by = NULL,"    \
    " lease_until = 0, next_at = excluded.next_at, last_error = NULL"

int mpg__probe_job_hook(pg_conn *c, const char *bucket, const char *key, size_t key_len, time_t now)
{
    pg_params p = { .n = 0 };
    pgp_text(&p, bucket);
    pgp_bytes(&p, key, key_len);
    pgp_i64(&p, now);
    return mpg__exec(c, "probe job queue",
                     "INSERT INTO probe_jobs(media_id, state, attempts, claimed_by, lease_until, next_at, created)"
                     " SELECT id, 'queued', 0, NULL, 0, $3, $3 FROM media"
                     " WHERE bucket = $1 AND object_key = $2 AND kind = 'video'" JOB_UPSERT,
                     &p, NULL, NULL);
}

int mpg__probe_job_forget(pg_conn *c, const char *media_id)
{
    pg_params p = { .n = 0 };
    pgp_text(&p, media_id);
    int rc = mpg__exec(c, "probe job forget", "DELETE FROM probe_jobs WHERE media_id = $1", &p, NULL, NULL);
    if (rc == VODUP_META_OK)
        rc = mpg__exec(c, "media info forget", "DELETE FROM media_info WHERE media_id = $1", &p, NULL, NULL);
    return rc;
}

/* ---- the probe job calls ----------------------------------------------------------- */

int mpg_probe_job_add(vodup_meta *m, const char *media_id, time_t now)
{
    pg_params p = { .n = 0 };
    pgp_text(&p, media_id);
    pgp_i64(&p, now);
    /* No media row: nothing inserted, which is ENOTFOUND. */
    return mpg__write_one(m, "probe job add",
                     "INSERT INTO probe_jobs(media_id, state, attempts, claimed_by, lease_until, next_at, created)"
                     " SELECT id, 'queued', 0, NULL, 0, $2, $2 FROM media WHERE id = $1" JOB_UPSERT,
                     &p);
}

/* Queued jobs first, then those whose claimer's lease ran out, oldest first within each
 * ('queued' sorts after 'claimed'), as SQLite's CLAIM_SQL. SKIP LOCKED: a job another
 * node is taking at this moment is passed over, not waited for; the lock is re-checked
 * against the row's newest version, so a job taken and committed meanwhile is not due. */
static const char CLAIM_SQL[] =
    "WITH c AS (UPDATE probe_jobs SET state = 'claimed', claimed_by = $2, lease_until = $3,"
    " attempts = attempts + 1"
    " WHERE media_id = (SELECT media_id FROM probe_jobs"
    "   WHERE (state = 'queued' AND next_at <= $1) OR (state = 'claimed' AND lease_until < $1)"
    "   ORDER BY state DESC, next_at, created, media_id LIMIT 1 FOR UPDATE SKIP LOCKED)"
    " RETURNING media_id, attempts, lease_until)"
    " SELECT c.media_id, c.attempts, c.lease_until, md.account_id FROM c LEFT JOIN media md ON md.id = c.media_id";

int mpg_probe_job_claim(vodup_meta *m, const char *node, time_t now, int lease_s, vodup_meta_probe_job *out)
{
    memset(out, 0, sizeof *out);
    pg_params p = { .n = 0 };
    pgp_i64(&p, now);
    pgp_text(&p, node);
    pgp_i64(&p, (long long)now + (lease_s > 0 ? lease_s : 1));
    PGresult *r;
    int rc = mpg__query(m, "probe job claim", CLAIM_SQL, &p, &r);
    if (rc != VODUP_META_OK)
        return rc;
    if (PQntuples(r) == 0) {
        rc = VODUP_META_ENOTFOUND;
    } else {
        mpg__copy(out->media_id, sizeof out->media_id, r, 0, 0);
        out->attempts = (int)mpg__i64(r, 0, 1);
        out->lease_until = (time_t)mpg__i64(r, 0, 2);
        mpg__copy(out->account_id, sizeof out->account_id, r, 0, 3); /* no media: empty */
    }
    PQclear(r);
    return rc;
}

int mpg_probe_job_release(vodup_meta *m, const char *media_id, const char *node, time_t next_at, const char *error)
{
    pg_params p = { .n = 0 };
    pgp_text(&p, media_id);
    pgp_text(&p, node);
    pgp_i64(&p, next_at);
    pgp_text(&p, error);
    return mpg__write_one(m, "probe job release",
                     "UPDATE probe_jobs SET state = 'queued', claimed_by = NULL, lease_until = 0, next_at = $3,"
                     " last_error = $4 WHERE media_id = $1 AND state = 'claimed' AND claimed_by = $2",
                     &p);
}

static int finish_tx(pg_conn *c, const vodup_meta_probe_result *r)
{
    pg_params held = { .n = 0 };
    pgp_text(&held, r->media_id);
    pgp_text(&held, r->node);
    /* Deleting the job first is the lease check: no row of ours, nothing more happens. */
    int rc = exec_one(c, "probe job finish",
                      "DELETE FROM probe_jobs WHERE media_id = $1 AND state = 'claimed' AND claimed_by = $2",
                      &held);
    if (rc == VODUP_META_OK) {
        pg_params p = { .n = 0 };
        pgp_text(&p, r->media_id);
        pgp_text(&p, r->status);
        pgp_text(&p, r->cover_url);
        pgp_i64(&p, r->now);
        rc = exec_one(c, "probe result",
                      "UPDATE media SET status = $2, cover_url = coalesce($3, cover_url), modified = $4 WHERE id = $1",
                      &p);
    }
    if (rc == VODUP_META_OK) {
        pg_params p = { .n = 0 };
        pgp_text(&p, r->media_id);
        pgp_text(&p, r->info_json ? r->info_json : "{}");
        rc = mpg__exec(c, "media info",
                       "INSERT INTO media_info(media_id, info) VALUES($1, $2)"
                       " ON CONFLICT(media_id) DO UPDATE SET info = excluded.info",
                       &p, NULL, NULL);
    }
    if (rc == VODUP_META_OK && r->cover)
        rc = mpg__media_insert(c, r->cover);
    for (size_t i = 0; rc == VODUP_META_OK && i < r->nevents; i++) {
        pg_params p = { .n = 0 };
        pgp_text(&p, r->media_id);
        pgp_text(&p, r->events[i]);
        pgp_i64(&p, r->now);
        rc = mpg__exec(c, "probe event",
                       "INSERT INTO events(account_id, media_id, event_type, body, url, auth_key,"
                       " attempts, created, next_at)"
                       " SELECT account_id, id, $2, NULL, NULL, NULL, 0, $3, $3 FROM media WHERE id = $1",
                       &p, NULL, NULL);
    }
    return rc;
}

int mpg_probe_job_finish(vodup_meta *m, const vodup_meta_probe_result *r)
{
    pg_conn *c = mpg__acquire(m);
    int rc = mpg__begin(c);
    if (rc == VODUP_META_OK)
        rc = mpg__end(c, finish_tx(c, r));
    mpg__release(m, c);
    return rc;
}

int mpg_probe_job_count(vodup_meta *m)
{
    PGresult *r;
    int rc = mpg__query(m, "probe job count", "SELECT count(*) FROM probe_jobs", NULL, &r);
    if (rc != VODUP_META_OK)
        return rc;
    rc = (int)mpg__i64(r, 0, 0);
    PQclear(r);
    return rc;
}

int mpg_media_info_get(vodup_meta *m, const char *media_id, char **json)
{
    *json = NULL;
    pg_params p = { .n = 0 };
    pgp_text(&p, media_id);
    PGresult *r;
    int rc = mpg__query(m, "media info get", "SELECT info FROM media_info WHERE media_id = $1", &p, &r);
    if (rc != VODUP_META_OK)
        return rc;
    if (PQntuples(r) == 0) {
        rc = VODUP_META_ENOTFOUND;
    } else {
        int oom = 0;
        *json = mpg__text(r, 0, 0, &oom);
        rc = *json ? VODUP_META_OK : VODUP_META_ENOMEM;
    }
    PQclear(r);
    return rc;
}

int mpg_probe_job_requeue_node(vodup_meta *m, const char *node, time_t now)
{
    pg_params p = { .n = 0 };
    pgp_text(&p, node);
    pgp_i64(&p, now);
    long long n = 0;
    int rc = mpg__write(m, "probe job requeue",
                        "UPDATE probe_jobs SET state = 'queued', claimed_by = NULL, lease_until = 0, next_at = $2"
                        " WHERE state = 'claimed' AND claimed_by = $1",
                        &p, &n);
    return rc == VODUP_META_OK ? (int)n : rc;
}

/* ---- storage usage ----------------------------------------------------------------- */

int mpg_usage_get(vodup_meta *m, const char *account_id, uint64_t *used, int64_t *quota)
{
    pg_params p = { .n = 0 };
    pgp_text(&p, account_id);
    PGresult *r;
    int rc = mpg__query(m, "usage get",
                        "SELECT coalesce(u.bytes, 0), coalesce(u.quota, -1) FROM accounts a"
                        " LEFT JOIN account_usage u ON u.account_id = a.id WHERE a.id = $1",
                        &p, &r);
    if (rc != VODUP_META_OK)
        return rc;
    if (PQntuples(r) == 0) {
        rc = VODUP_META_ENOTFOUND;
    } else {
        long long b = mpg__i64(r, 0, 0);
        if (used)
            *used = b > 0 ? (uint64_t)b : 0;
        if (quota)
            *quota = mpg__i64(r, 0, 1);
    }
    PQclear(r);
    return rc;
}

int mpg_quota_set(vodup_meta *m, const char *account_id, int64_t quota)
{
    pg_params p = { .n = 0 };
    pgp_text(&p, account_id);
    pgp_i64(&p, quota);
    /* The row exists for every account (the migration and the accounts trigger make it);
     * the insert covers one that predates neither. No account: nothing changes. */
    return mpg__write_one(m, "quota set",
                     "INSERT INTO account_usage(account_id, quota) SELECT id, $2 FROM accounts WHERE id = $1"
                     " ON CONFLICT(account_id) DO UPDATE SET quota = excluded.quota",
                     &p);
}
