/* meta_sqlite_admin.c - meta_admin.h on SQLite: AccessKeys one by one, and the database
 * half of `vodupd backup`. */
#include "server/store/meta_admin.h"
#include "server/store/meta_sqlite_int.h"

#include <errno.h>
#include <stdio.h>
#include <unistd.h>

static const char KEY_COUNT_SQL[] = "SELECT count(*) FROM access_keys WHERE account_id = ?1 AND principal = ?2";
static const char KEY_INSERT_SQL[] = "INSERT INTO access_keys(id, account_id, principal, secret_sealed, active, created)"
                                     " VALUES(?1, ?2, ?3, ?4, 1, ?5)";
static const char KEY_ACTIVE_SQL[] = "UPDATE access_keys SET active = ?3 WHERE account_id = ?1 AND id = ?2";
static const char KEY_DELETE_SQL[] = "DELETE FROM access_keys WHERE account_id = ?1 AND id = ?2";

int vodup_meta_key_create_max(vodup_meta *m, const char *key_id, const char *account_id, const char *principal,
                              const void *secret_sealed, size_t sealed_len, time_t now, int max)
{
    conn *c = meta__acquire(m);
    int rc = meta__tx_begin(c, 1);
    if (rc != VODUP_META_OK) {
        meta__release(m, c);
        return rc;
    }
    sqlite3_stmt *s = NULL;
    if (max > 0) {
        rc = meta__prepare_once(c, KEY_COUNT_SQL, "key count", &s);
        if (rc == VODUP_META_OK) {
            bind_text(s, 1, account_id);
            bind_text(s, 2, principal);
            int st = sqlite3_step(s);
            if (st != SQLITE_ROW)
                rc = meta__db_fail(c, "key count", st);
            else if (sqlite3_column_int64(s, 0) >= max)
                rc = VODUP_META_ELIMIT;
            sqlite3_finalize(s);
        }
    }
    if (rc == VODUP_META_OK)
        rc = meta__prepare_once(c, KEY_INSERT_SQL, "key insert", &s);
    if (rc == VODUP_META_OK) {
        bind_text(s, 1, key_id);
        bind_text(s, 2, account_id);
        bind_text(s, 3, principal);
        sqlite3_bind_blob(s, 4, secret_sealed, (int)sealed_len, SQLITE_STATIC);
        bind_i64(s, 5, (int64_t)now);
        rc = meta__exec_done(c, s, "key insert");
        sqlite3_finalize(s);
    }
    rc = meta__tx_end(c, rc);
    meta__release(m, c);
    return rc;
}

/* One UPDATE or DELETE of a key row in its own transaction; ENOTFOUND when no row. */
static int key_change(vodup_meta *m, const char *sql, const char *account_id, const char *key_id, int active)
{
    conn *c = meta__acquire(m);
    int rc = meta__tx_begin(c, 1);
    if (rc != VODUP_META_OK) {
        meta__release(m, c);
        return rc;
    }
    sqlite3_stmt *s = NULL;
    rc = meta__prepare_once(c, sql, "key change", &s);
    if (rc == VODUP_META_OK) {
        bind_text(s, 1, account_id);
        bind_text(s, 2, key_id);
        if (active >= 0)
            bind_i64(s, 3, active);
        rc = meta__run(c, s, "key change", VODUP_META_ENOTFOUND);
        sqlite3_finalize(s);
    }
    rc = meta__tx_end(c, rc);
    meta__release(m, c);
    return rc;
}

int vodup_meta_key_set_active(vodup_meta *m, const char *account_id, const char *key_id, int active)
{
    return key_change(m, KEY_ACTIVE_SQL, account_id, key_id, active ? 1 : 0);
}

int vodup_meta_key_delete(vodup_meta *m, const char *account_id, const char *key_id)
{
    return key_change(m, KEY_DELETE_SQL, account_id, key_id, -1);
}

static const char MEDIA_EXPIRE_SQL[] =
    "UPDATE media SET status = 'UploadFail', modified = ?2 WHERE id IN"
    " (SELECT id FROM media WHERE status = 'Uploading' AND modified < ?1 LIMIT ?3)";

int vodup_meta_media_expire_uploading(vodup_meta *m, time_t before, time_t now, int max)
{
    conn *c = meta__acquire(m);
    int rc = meta__tx_begin(c, 1), n = 0;
    if (rc != VODUP_META_OK) {
        meta__release(m, c);
        return rc;
    }
    sqlite3_stmt *s = NULL;
    rc = meta__prepare_once(c, MEDIA_EXPIRE_SQL, "media expire", &s);
    if (rc == VODUP_META_OK) {
        bind_i64(s, 1, (int64_t)before);
        bind_i64(s, 2, (int64_t)now);
        bind_i64(s, 3, max);
        rc = meta__exec_done(c, s, "media expire");
        n = sqlite3_changes(c->db);
        sqlite3_finalize(s);
    }
    rc = meta__tx_end(c, rc);
    meta__release(m, c);
    return rc == VODUP_META_OK ? n : rc;
}

/* ---- backup -------------------------------------------------------------------------- */

static int fail(char *err, size_t n, sqlite3 *db, const char *what)
{
    snprintf(err, n, "%s: %s", what, db ? sqlite3_errmsg(db) : "out of memory");
    return -1;
}

int vodup_meta_backup_db(const char *data_dir, const char *dest, char *err, size_t errlen)
{
    char src_path[4096];
    if (snprintf(src_path, sizeof src_path, "%s/vodup.db", data_dir) >= (int)sizeof src_path) {
        snprintf(err, errlen, "the data directory's path is too long");
        return -1;
    }
    if (access(src_path, R_OK) != 0) {
        snprintf(err, errlen, "cannot read %s: %s", src_path, strerror(errno));
        return -1;
    }
    sqlite3 *src = NULL, *dst = NULL;
    int rc = -1;
    /* Read-write without create: a WAL reader needs the -shm file, and the path must be an
     * existing database. */
    if (sqlite3_open_v2(src_path, &src, SQLITE_OPEN_READWRITE, NULL) != SQLITE_OK) {
        fail(err, errlen, src, "opening the database");
        goto out;
    }
    sqlite3_busy_timeout(src, 10000);
    if (sqlite3_open_v2(dest, &dst, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_EXCLUSIVE, NULL) !=
        SQLITE_OK) {
        fail(err, errlen, dst, "creating the copy");
        goto out;
    }
    sqlite3_busy_timeout(dst, 10000);
    sqlite3_backup *b = sqlite3_backup_init(dst, "main", src, "main");
    if (!b) {
        fail(err, errlen, dst, "starting the backup");
        goto out;
    }
    /* All pages in one step: the step holds one read transaction on the source, so the
     * copy is the database as of one moment, and in WAL mode writers go on meanwhile. */
    int st;
    for (int tries = 0; (st = sqlite3_backup_step(b, -1)) != SQLITE_DONE && tries < 100; tries++) {
        if (st != SQLITE_BUSY && st != SQLITE_LOCKED && st != SQLITE_OK)
            break;
        usleep(50 * 1000);
    }
    if (sqlite3_backup_finish(b) != SQLITE_OK || st != SQLITE_DONE) {
        fail(err, errlen, dst, "copying the database");
        goto out;
    }
    /* The backup carries the referenced blobs only: the garbage list's files are not in
     * it, and a restored server must not look for them. */
    char *emsg = NULL;
    if (sqlite3_exec(dst, "DELETE FROM blob_gc", NULL, NULL, &emsg) != SQLITE_OK) {
        snprintf(err, errlen, "clearing the copy's garbage list: %s", emsg ? emsg : "?");
        sqlite3_free(emsg);
        goto out;
    }
    rc = 0;
out:
    if (dst && sqlite3_close(dst) != SQLITE_OK && rc == 0)
        rc = fail(err, errlen, dst, "closing the copy");
    sqlite3_close(src);
    return rc;
}

int vodup_meta_backup_blobs(const char *db_path, int (*cb)(const char *blob, void *u), void *u, char *err,
                            size_t errlen)
{
    sqlite3 *db = NULL;
    sqlite3_stmt *s = NULL;
    int rc = -1;
    if (sqlite3_open_v2(db_path, &db, SQLITE_OPEN_READONLY, NULL) != SQLITE_OK) {
        fail(err, errlen, db, "opening the copy");
        goto out;
    }
    if (sqlite3_prepare_v2(db, "SELECT blob FROM segments UNION SELECT blob FROM parts", -1, &s, NULL) != SQLITE_OK) {
        fail(err, errlen, db, "listing the blobs");
        goto out;
    }
    int st;
    rc = 0;
    while (rc == 0 && (st = sqlite3_step(s)) == SQLITE_ROW) {
        const char *blob = (const char *)sqlite3_column_text(s, 0);
        if (blob)
            rc = cb(blob, u);
    }
    if (rc == 0 && st != SQLITE_DONE)
        rc = fail(err, errlen, db, "listing the blobs");
out:
    sqlite3_finalize(s);
    sqlite3_close(db);
    return rc;
}
