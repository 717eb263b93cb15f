/* meta_sqlite_quota.c - meta_quota.h on SQLite. The counters themselves are kept by the
 * triggers of schema migration 3 (meta_sqlite.c), in the transaction of every write to
 * objects and parts; these calls only read and set the account's row. */
#include "server/store/meta_ops.h"
#include "server/store/meta_quota.h"
#include "server/store/meta_sqlite_int.h"

static const char USAGE_GET_SQL[] =
    "SELECT coalesce(u.bytes, 0), coalesce(u.quota, -1) FROM accounts a"
    " LEFT JOIN account_usage u ON u.account_id = a.id WHERE a.id = ?1";
/* The row exists for every account (the migration and the accounts trigger create it);
 * the insert covers an account made by a back end copy that predates neither. */
static const char QUOTA_ENSURE_SQL[] =
    "INSERT OR IGNORE INTO account_usage(account_id) SELECT id FROM accounts WHERE id = ?1";
static const char QUOTA_SET_SQL[] = "UPDATE account_usage SET quota = ?2 WHERE account_id = ?1";

int msq_usage_get(vodup_meta *m, const char *account_id, uint64_t *used, int64_t *quota)
{
    conn *c = meta__acquire(m);
    sqlite3_stmt *s = NULL;
    int rc = meta__prepare_once(c, USAGE_GET_SQL, "usage get", &s);
    if (rc == VODUP_META_OK) {
        bind_text(s, 1, account_id);
        int st = sqlite3_step(s);
        if (st == SQLITE_ROW) {
            int64_t b = sqlite3_column_int64(s, 0);
            if (used)
                *used = b > 0 ? (uint64_t)b : 0;
            if (quota)
                *quota = sqlite3_column_int64(s, 1);
        } else if (st == SQLITE_DONE) {
            rc = VODUP_META_ENOTFOUND;
        } else {
            rc = meta__db_fail(c, "usage get", st);
        }
        sqlite3_finalize(s);
    }
    meta__release(m, c);
    return rc;
}

int msq_quota_set(vodup_meta *m, const char *account_id, int64_t quota)
{
    conn *c = meta__acquire(m);
    int rc = meta__tx_begin(c, 1);
    if (rc != VODUP_META_OK) {
        meta__release(m, c);
        return rc;
    }
    sqlite3_stmt *s = NULL;
    rc = meta__prepare_once(c, QUOTA_ENSURE_SQL, "quota set", &s);
    if (rc == VODUP_META_OK) {
        bind_text(s, 1, account_id);
        rc = meta__exec_done(c, s, "quota set");
        sqlite3_finalize(s);
        s = NULL;
    }
    if (rc == VODUP_META_OK)
        rc = meta__prepare_once(c, QUOTA_SET_SQL, "quota set", &s);
    if (rc == VODUP_META_OK) {
        bind_text(s, 1, account_id);
        bind_i64(s, 2, quota);
        rc = meta__run(c, s, "quota set", VODUP_META_ENOTFOUND);
        sqlite3_finalize(s);
    }
    rc = meta__tx_end(c, rc);
    meta__release(m, c);
    return rc;
}
