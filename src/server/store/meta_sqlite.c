/* meta_sqlite.c - the metadata store on SQLite.
 *
 * One database file, <data_dir>/vodup.db, in WAL mode with synchronous=FULL: readers never
 * block the writer nor each other, and a committed transaction survives a power loss.
 * A fixed pool of connections (a mutex and a condition variable hand them out) lets many
 * threads read at once. Writes queue for one writer connection in arrival order and run
 * as savepoints of a transaction that writers queued behind each other share (group
 * commit, see meta__tx_begin): one flush for a burst of writes, and no writer of this
 * process ever waits for SQLite's lock in the busy handler, where under load a write
 * could time out. The shared transaction starts with BEGIN IMMEDIATE, so only another
 * process (an admin command) makes it wait there.
 *
 * This is a back end behind the ops table of meta_ops.h: the msq_* functions are its
 * members (meta__sqlite_ops at the end of this file), called only through the
 * vodup_meta_* wrappers of meta.c, and vodup_meta_open_sqlite is its constructor.
 *
 * Every operation is exactly one transaction. Blob ids that stop being referenced go to
 * blob_gc in that same transaction (see meta.h). Object and upload keys are BLOBs, which
 * SQLite orders with memcmp then length: the byte order OSS listing wants.
 *
 * List calls collect their rows, end the transaction and give the connection back before
 * running the callbacks, so a callback may do slow I/O or call back into this store
 * without holding a read snapshot or starving the pool.
 *
 * Errors from SQLite are logged with its message only; bound values (secrets, keys) are
 * never printed.
 *
 * The VOD tables (meta_vod.h) are implemented in meta_sqlite_vod.c on the same pool,
 * statement cache and helpers (meta_sqlite_int.h); the schema of both lives here.
 * object_store calls its completion hook, so that an object written where a media record
 * points completes that record in the same transaction.
 */
#include "server/store/meta_shared.h"
#include "server/store/meta.h"
#include "server/store/meta_sqlite_int.h"
#include "server/store/meta_vod.h"

#include <errno.h>
#include <limits.h>
#include <pthread.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define SCHEMA_VERSION 3

/* Column lists shared by the statements and the row readers below (object_from_row and
 * so on index columns by these positions), so each struct has one reader for all the
 * queries that return it. */
#define OBJECT_COLS "id, bucket, key, size, etag, crc64, md5, content_type, user_meta, type, mtime"
#define UPLOAD_COLS "id, bucket, key, initiated, content_type, user_meta"
#define PART_COLS "number, blob, size, etag, crc64, mtime"
#define BUCKET_COLS "name, account_id, created"

/* ---- cached statements ---------------------------------------------------------- */

/* The ids (shared with meta_sqlite_vod.c) are in meta_sqlite_int.h. */
static const char *const stmt_sql[S_CORE_END] = {
    [S_BEGIN_READ] = "BEGIN",
    [S_BEGIN_WRITE] = "BEGIN IMMEDIATE",
    [S_COMMIT] = "COMMIT",
    [S_ROLLBACK] = "ROLLBACK",
    [S_SAVEPOINT] = "SAVEPOINT w",
    [S_RELEASE] = "RELEASE w",
    [S_ROLLBACK_TO] = "ROLLBACK TO w",
    [S_ACCOUNT_INSERT] = "INSERT INTO accounts(id, name, created) VALUES(?1, ?2, ?3)",
    [S_KEY_INSERT] = "INSERT INTO access_keys(id, account_id, principal, secret_sealed, active, created)"
                     " VALUES(?1, ?2, ?3, ?4, 1, ?5)",
    [S_KEY_GET] = "SELECT id, account_id, principal, secret_sealed, active FROM access_keys WHERE id = ?1",
    [S_SETTING_GET] = "SELECT value FROM settings WHERE name = ?1",
    [S_SETTING_SET] = "INSERT INTO settings(name, value) VALUES(?1, ?2)"
                      " ON CONFLICT(name) DO UPDATE SET value = excluded.value",
    [S_SETTING_ADD] = "INSERT INTO settings(name, value) VALUES(?1, ?2)",
    [S_BUCKET_INSERT] = "INSERT INTO buckets(name, account_id, created) VALUES(?1, ?2, ?3)",
    [S_BUCKET_GET] = "SELECT " BUCKET_COLS " FROM buckets WHERE name = ?1",
    [S_BUCKET_HAS_OBJECTS] = "SELECT 1 FROM objects WHERE bucket = ?1 LIMIT 1",
    [S_BUCKET_HAS_UPLOADS] = "SELECT 1 FROM uploads WHERE bucket = ?1 LIMIT 1",
    [S_BUCKET_DELETE] = "DELETE FROM buckets WHERE name = ?1",
    [S_BUCKET_LIST] = "SELECT " BUCKET_COLS " FROM buckets WHERE account_id = ?1 ORDER BY name",
    [S_OBJECT_FIND] = "SELECT id FROM objects WHERE bucket = ?1 AND key = ?2",
    [S_OBJECT_GET] = "SELECT " OBJECT_COLS " FROM objects WHERE bucket = ?1 AND key = ?2",
    [S_OBJECT_INSERT] = "INSERT INTO objects(bucket, key, size, etag, crc64, md5, content_type,"
                        " user_meta, type, mtime) VALUES(?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10)",
    [S_OBJECT_DELETE] = "DELETE FROM objects WHERE id = ?1",
    [S_SEGS_TO_GC] = "INSERT OR IGNORE INTO blob_gc(blob) SELECT blob FROM segments WHERE object_id = ?1",
    [S_SEGS_DELETE] = "DELETE FROM segments WHERE object_id = ?1",
    [S_SEGS_GET] = "SELECT blob, size FROM segments WHERE object_id = ?1 ORDER BY seq",
    [S_SEG_INSERT] = "INSERT INTO segments(object_id, seq, blob, size) VALUES(?1, ?2, ?3, ?4)",
    [S_GC_FORGET] = "DELETE FROM blob_gc WHERE blob = ?1",
    [S_GC_ADD] = "INSERT OR IGNORE INTO blob_gc(blob) VALUES(?1)",
    [S_GC_TAKE] = "SELECT blob FROM blob_gc LIMIT ?1",
    [S_UPLOAD_COUNT] = "SELECT count(*) FROM uploads u JOIN buckets b ON b.name = u.bucket"
                       " WHERE b.account_id = ?1",
    [S_UPLOAD_INSERT] = "INSERT INTO uploads(id, bucket, key, initiated, content_type, user_meta)"
                        " VALUES(?1, ?2, ?3, ?4, ?5, ?6)",
    [S_UPLOAD_GET] = "SELECT " UPLOAD_COLS " FROM uploads WHERE id = ?1",
    [S_UPLOAD_DELETE] = "DELETE FROM uploads WHERE id = ?1",
    [S_PART_GET] = "SELECT " PART_COLS " FROM parts WHERE upload_id = ?1 AND number = ?2",
    [S_PART_UPSERT] = "INSERT INTO parts(upload_id, number, blob, size, etag, crc64, mtime)"
                      " VALUES(?1, ?2, ?3, ?4, ?5, ?6, ?7) ON CONFLICT(upload_id, number) DO UPDATE SET"
                      " blob = excluded.blob, size = excluded.size, etag = excluded.etag,"
                      " crc64 = excluded.crc64, mtime = excluded.mtime",
    [S_PART_LIST] = "SELECT " PART_COLS " FROM parts WHERE upload_id = ?1 AND number > ?2"
                    " ORDER BY number LIMIT ?3",
    [S_PARTS_TO_GC] = "INSERT OR IGNORE INTO blob_gc(blob) SELECT blob FROM parts WHERE upload_id = ?1",
    [S_PARTS_UNUSED_TO_GC] = "INSERT OR IGNORE INTO blob_gc(blob) SELECT blob FROM parts"
                             " WHERE upload_id = ?1 AND blob NOT IN"
                             " (SELECT blob FROM segments WHERE object_id = ?2)",
    [S_PARTS_DELETE] = "DELETE FROM parts WHERE upload_id = ?1",
    [S_BLOB_LIVE] = "SELECT EXISTS(SELECT 1 FROM segments WHERE blob = ?1)"
                    " OR EXISTS(SELECT 1 FROM parts WHERE blob = ?1)",
    /* The media record the router's header-time check looks at (V_MEDIA_FIND_OBJECT). */
    [S_GUARD_MEDIA] = "SELECT status, modified FROM media WHERE bucket = ?1 AND object_key = ?2"
                      " ORDER BY created DESC, id DESC LIMIT 1",
    [S_UPLOAD_KEY_COUNT] = "SELECT count(*) FROM uploads u JOIN upload_creds c ON c.upload_id = u.id"
                           " WHERE u.bucket = ?1 AND u.key = ?2",
    [S_GC_TAKE_AFTER] = "SELECT blob FROM blob_gc WHERE blob > ?2 ORDER BY blob LIMIT ?1",
    /* touched: a sequence number (one past the largest), not a time: writes within one
     * second must still order. */
    [S_UPLOAD_EXTEND] = "UPDATE upload_creds SET expires = max(expires, ?2),"
                        " touched = (SELECT coalesce(max(touched), 0) + 1 FROM upload_creds) WHERE upload_id = ?1",
    [S_UPLOAD_CRED_INSERT] = "INSERT INTO upload_creds(upload_id, expires, touched)"
                             " VALUES(?1, ?2, (SELECT coalesce(max(touched), 0) + 1 FROM upload_creds))",
    [S_UPLOAD_KEY_OLDEST] = "SELECT c.upload_id FROM uploads u JOIN upload_creds c ON c.upload_id = u.id"
                            " WHERE u.bucket = ?1 AND u.key = ?2 ORDER BY c.touched, c.upload_id LIMIT 1",
};

/* ---- schema ------------------------------------------------------------------------ */

/* Migration n takes the schema from version n-1 to n. Append, never edit. */
static const char *const migrations[] = {
    NULL,
    /* 1 */
    "CREATE TABLE IF NOT EXISTS settings("
    "  name TEXT PRIMARY KEY, value TEXT NOT NULL);"
    "CREATE TABLE IF NOT EXISTS accounts("
    "  id TEXT PRIMARY KEY, name TEXT NOT NULL, created INTEGER NOT NULL);"
    "CREATE TABLE IF NOT EXISTS access_keys("
    "  id TEXT PRIMARY KEY,"
    "  account_id TEXT NOT NULL REFERENCES accounts(id),"
    "  principal TEXT NOT NULL, secret_sealed BLOB NOT NULL,"
    "  active INTEGER NOT NULL DEFAULT 1, created INTEGER NOT NULL);"
    "CREATE INDEX IF NOT EXISTS access_keys_account ON access_keys(account_id);"
    "CREATE TABLE IF NOT EXISTS buckets("
    "  name TEXT PRIMARY KEY,"
    "  account_id TEXT NOT NULL REFERENCES accounts(id),"
    "  created INTEGER NOT NULL);"
    "CREATE INDEX IF NOT EXISTS buckets_account ON buckets(account_id, name);"
    "CREATE TABLE IF NOT EXISTS objects("
    "  id INTEGER PRIMARY KEY,"
    "  bucket TEXT NOT NULL REFERENCES buckets(name),"
    "  key BLOB NOT NULL, size INTEGER NOT NULL, etag TEXT NOT NULL,"
    "  crc64 INTEGER NOT NULL, md5 BLOB, content_type TEXT, user_meta TEXT,"
    "  type TEXT NOT NULL, mtime INTEGER NOT NULL,"
    "  UNIQUE(bucket, key));"
    "CREATE TABLE IF NOT EXISTS segments("
    "  object_id INTEGER NOT NULL REFERENCES objects(id),"
    "  seq INTEGER NOT NULL, blob TEXT NOT NULL, size INTEGER NOT NULL,"
    "  PRIMARY KEY(object_id, seq)) WITHOUT ROWID;"
    "CREATE INDEX IF NOT EXISTS segments_blob ON segments(blob);"
    "CREATE TABLE IF NOT EXISTS uploads("
    "  id TEXT PRIMARY KEY,"
    "  bucket TEXT NOT NULL REFERENCES buckets(name),"
    "  key BLOB NOT NULL, initiated INTEGER NOT NULL,"
    "  content_type TEXT, user_meta TEXT);"
    "CREATE INDEX IF NOT EXISTS uploads_bucket_key ON uploads(bucket, key, id);"
    "CREATE TABLE IF NOT EXISTS parts("
    "  upload_id TEXT NOT NULL REFERENCES uploads(id),"
    "  number INTEGER NOT NULL, blob TEXT NOT NULL, size INTEGER NOT NULL,"
    "  etag TEXT NOT NULL, crc64 INTEGER NOT NULL, mtime INTEGER NOT NULL,"
    "  PRIMARY KEY(upload_id, number)) WITHOUT ROWID;"
    "CREATE INDEX IF NOT EXISTS parts_blob ON parts(blob);"
    "CREATE TABLE IF NOT EXISTS blob_gc(blob TEXT PRIMARY KEY) WITHOUT ROWID;",
    /* 2: the VOD side (meta_vod.h). media.object_key is a BLOB like objects.key, because
     * SQLite never finds a TEXT value equal to a BLOB one and the completion hook joins
     * on it. media.bucket has no foreign key: a bucket's deletion is decided by its
     * objects and uploads alone. */
    "CREATE TABLE IF NOT EXISTS principals("
    "  kind TEXT NOT NULL CHECK(kind IN ('user', 'role')),"
    "  account_id TEXT NOT NULL REFERENCES accounts(id),"
    "  name TEXT NOT NULL, arn TEXT NOT NULL, policies TEXT NOT NULL,"
    "  max_session INTEGER NOT NULL, created INTEGER NOT NULL,"
    "  PRIMARY KEY(kind, account_id, name));"
    "CREATE INDEX IF NOT EXISTS access_keys_principal ON access_keys(account_id, principal);"
    "CREATE TABLE IF NOT EXISTS nonces("
    "  key_id TEXT NOT NULL, nonce TEXT NOT NULL, at INTEGER NOT NULL,"
    "  PRIMARY KEY(key_id, nonce));"
    "CREATE INDEX IF NOT EXISTS nonces_at ON nonces(at);"
    "CREATE TABLE IF NOT EXISTS media("
    "  id TEXT PRIMARY KEY,"
    "  kind TEXT NOT NULL CHECK(kind IN ('video', 'image', 'attached')),"
    "  status TEXT NOT NULL,"
    "  account_id TEXT NOT NULL REFERENCES accounts(id),"
    "  title TEXT, description TEXT, tags TEXT, cover_url TEXT, user_data TEXT,"
    "  template_group_id TEXT, app_id TEXT, file_name TEXT, storage_location TEXT,"
    "  image_type TEXT, business_type TEXT, ext TEXT,"
    "  cate_id INTEGER NOT NULL DEFAULT -1, file_size INTEGER NOT NULL DEFAULT 0,"
    "  bucket TEXT, object_key BLOB,"
    "  size INTEGER NOT NULL DEFAULT 0, crc64 INTEGER NOT NULL DEFAULT 0,"
    "  created INTEGER NOT NULL, modified INTEGER NOT NULL);"
    "CREATE INDEX IF NOT EXISTS media_object ON media(bucket, object_key);"
    "CREATE INDEX IF NOT EXISTS media_account ON media(account_id, kind, created);"
    "CREATE TABLE IF NOT EXISTS callbacks("
    "  account_id TEXT PRIMARY KEY REFERENCES accounts(id), config TEXT NOT NULL);"
    "CREATE TABLE IF NOT EXISTS events("
    "  id INTEGER PRIMARY KEY AUTOINCREMENT,"
    "  account_id TEXT NOT NULL, media_id TEXT NOT NULL, event_type TEXT NOT NULL,"
    "  body TEXT, url TEXT, auth_key TEXT,"
    "  attempts INTEGER NOT NULL DEFAULT 0, created INTEGER NOT NULL,"
    "  next_at INTEGER NOT NULL, last_error TEXT);"
    "CREATE INDEX IF NOT EXISTS events_next ON events(next_at, id);"
    "CREATE INDEX IF NOT EXISTS events_media ON events(media_id);",
    /* 3: per-account storage (meta_quota.h). account_usage.bytes is kept by triggers in
     * the transaction of every write to objects and parts, so no write path can forget it
     * and a quota check reads one row instead of summing. An object or an upload's part
     * counts for the account that owns its bucket; parts are deleted before their upload
     * and objects before their bucket (foreign keys), so the join always finds the owner.
     * quota: -1 the server's default, 0 no limit, else bytes. The counters of an existing
     * data directory are computed once here. */
    "CREATE TABLE IF NOT EXISTS account_usage("
    "  account_id TEXT PRIMARY KEY REFERENCES accounts(id),"
    "  bytes INTEGER NOT NULL DEFAULT 0, quota INTEGER NOT NULL DEFAULT -1) WITHOUT ROWID;"
    "INSERT OR IGNORE INTO account_usage(account_id, bytes) SELECT a.id,"
    "  coalesce((SELECT sum(o.size) FROM objects o JOIN buckets b ON b.name = o.bucket"
    "            WHERE b.account_id = a.id), 0) +"
    "  coalesce((SELECT sum(p.size) FROM parts p JOIN uploads u ON u.id = p.upload_id"
    "            JOIN buckets b ON b.name = u.bucket WHERE b.account_id = a.id), 0)"
    "  FROM accounts a;"
    "CREATE TRIGGER IF NOT EXISTS usage_account AFTER INSERT ON accounts BEGIN"
    "  INSERT OR IGNORE INTO account_usage(account_id) VALUES(NEW.id); END;"
    "CREATE TRIGGER IF NOT EXISTS usage_object_ins AFTER INSERT ON objects BEGIN"
    "  UPDATE account_usage SET bytes = bytes + NEW.size"
    "   WHERE account_id = (SELECT account_id FROM buckets WHERE name = NEW.bucket); END;"
    "CREATE TRIGGER IF NOT EXISTS usage_object_del AFTER DELETE ON objects BEGIN"
    "  UPDATE account_usage SET bytes = bytes - OLD.size"
    "   WHERE account_id = (SELECT account_id FROM buckets WHERE name = OLD.bucket); END;"
    "CREATE TRIGGER IF NOT EXISTS usage_object_upd AFTER UPDATE OF size, bucket ON objects BEGIN"
    "  UPDATE account_usage SET bytes = bytes - OLD.size"
    "   WHERE account_id = (SELECT account_id FROM buckets WHERE name = OLD.bucket);"
    "  UPDATE account_usage SET bytes = bytes + NEW.size"
    "   WHERE account_id = (SELECT account_id FROM buckets WHERE name = NEW.bucket); END;"
    "CREATE TRIGGER IF NOT EXISTS usage_part_ins AFTER INSERT ON parts BEGIN"
    "  UPDATE account_usage SET bytes = bytes + NEW.size WHERE account_id = (SELECT b.account_id"
    "   FROM uploads u JOIN buckets b ON b.name = u.bucket WHERE u.id = NEW.upload_id); END;"
    "CREATE TRIGGER IF NOT EXISTS usage_part_del AFTER DELETE ON parts BEGIN"
    "  UPDATE account_usage SET bytes = bytes - OLD.size WHERE account_id = (SELECT b.account_id"
    "   FROM uploads u JOIN buckets b ON b.name = u.bucket WHERE u.id = OLD.upload_id); END;"
    "CREATE TRIGGER IF NOT EXISTS usage_part_upd AFTER UPDATE OF size ON parts BEGIN"
    "  UPDATE account_usage SET bytes = bytes - OLD.size + NEW.size WHERE account_id = (SELECT b.account_id"
    "   FROM uploads u JOIN buckets b ON b.name = u.bucket WHERE u.id = NEW.upload_id); END;",
};
#define NMIGRATIONS ((int)(sizeof migrations / sizeof migrations[0]) - 1)

/* Additions that an older vodupd can ignore, created at every open rather than by a
 * numbered migration, so that a data directory stays usable by the version before (and
 * the numbering stays with changes older versions must refuse). upload_creds: the
 * multipart uploads opened by upload credentials (UploadAuth), with the expiry of the
 * newest credential that wrote to them, so abandoned ones can be aborted then, and the
 * order they were last written in (initiated or a part), to know which to give up when a key has
 * too many; a row goes with its upload (ON DELETE CASCADE). */
static const char ensure_sql[] =
    "CREATE TABLE IF NOT EXISTS upload_creds("
    "  upload_id TEXT PRIMARY KEY REFERENCES uploads(id) ON DELETE CASCADE,"
    "  expires INTEGER NOT NULL, touched INTEGER NOT NULL) WITHOUT ROWID;"
    "CREATE INDEX IF NOT EXISTS upload_creds_expires ON upload_creds(expires);"
    "CREATE INDEX IF NOT EXISTS upload_creds_touched ON upload_creds(touched);"
    /* probe_jobs: videos to probe (meta_jobs.h), claimed by a node with a lease;
     * media_info: what the probe found, as JSON, per media. */
    "CREATE TABLE IF NOT EXISTS probe_jobs("
    "  media_id TEXT PRIMARY KEY, state TEXT NOT NULL CHECK(state IN ('queued', 'claimed')),"
    "  attempts INTEGER NOT NULL DEFAULT 0, claimed_by TEXT, lease_until INTEGER NOT NULL DEFAULT 0,"
    "  next_at INTEGER NOT NULL, created INTEGER NOT NULL, last_error TEXT) WITHOUT ROWID;"
    "CREATE INDEX IF NOT EXISTS probe_jobs_due ON probe_jobs(state, next_at);"
    "CREATE TABLE IF NOT EXISTS media_info("
    "  media_id TEXT PRIMARY KEY, info TEXT NOT NULL) WITHOUT ROWID;";

/* ---- connections and the pool ------------------------------------------------------- */

/* The SQLite back end's handle; the common part first (meta_ops.h). */
struct meta_sqlite {
    vodup_meta base;
    pthread_mutex_t mu;
    pthread_cond_t cv;
    int n;
    conn *conns;
    conn **idle;        /* stack of free connections */
    int nidle;

    /* The writer turn: a FIFO of waiting threads, so this process's write transactions
     * run one at a time in arrival order. Without it, each would wait for SQLite's write
     * lock in the busy handler, which polls, favours no one, and gives up after its
     * timeout: under load some writes failed with "database is locked" after 10 s.
     * Each waiter sleeps on its own condition variable and the turn is handed to the
     * first one only: one shared variable woken by broadcast made every waiting writer
     * and group member wake, take wmu and sleep again at every hand-over, which was a
     * third of vodupd's context switches under small uploads (commit-path.md). */
    pthread_mutex_t wmu;
    int w_busy;                         /* a writer has the turn */
    struct turn_waiter *w_head, *w_tail;    /* waiting for it, in arrival order */

    /* Group commit. Every write runs on wconn (its handle and statements are swapped into
     * the caller's conn for the duration), each in a SAVEPOINT of one open transaction;
     * the writer that finds nobody queued behind it (or the group full) commits for the
     * whole group and tells each member its result. Under wmu. */
    conn wconn;
    int group_open;             /* BEGIN IMMEDIATE issued, not yet committed */
    int group_n;                /* members so far */
    int group_lost;             /* SQLite rolled the whole transaction back (an I/O error, say) */
    struct group_member *members;
};

/* Writes committed together at most: bounds how long a member waits for its commit and
 * how long an admin command from another process waits for the write lock. */
#define META_GROUP_MAX 64

typedef struct group_member {
    int rc;                     /* its own result, then the commit's */
    int done;
    int waiting;                /* sleeps on cv until done */
    pthread_cond_t cv;
    struct group_member *next;
} group_member;

typedef struct turn_waiter {
    pthread_cond_t cv;
    int go;                     /* the turn is this waiter's */
    struct turn_waiter *next;
} turn_waiter;


/* Every vodup_meta this file hands out is a meta_sqlite (base comes first). */
static meta_sqlite *sq(vodup_meta *m)
{
    return (meta_sqlite *)m;
}

/* Ops that others below build on. */
static int msq_upload_abort(vodup_meta *m, const char *upload_id);
static int msq_upload_complete_guarded(vodup_meta *m, const char *upload_id,
                                       const vodup_meta_complete_part *parts, size_t nparts,
                                       uint64_t min_part_size, time_t now, vodup_meta_object *out,
                                       size_t *bad_index, const vodup_meta_guard *g);
static int msq_gc_take_after(vodup_meta *m, const char *after, char (*ids)[VODUP_BLOB_ID_LEN + 1],
                             int max);

static void writer_enter(meta_sqlite *m)
{
    pthread_mutex_lock(&m->wmu);
    if (!m->w_busy) {
        m->w_busy = 1;
        pthread_mutex_unlock(&m->wmu);
        return;
    }
    turn_waiter me = { .go = 0, .next = NULL };
    pthread_cond_init(&me.cv, NULL);
    if (m->w_tail)
        m->w_tail->next = &me;
    else
        m->w_head = &me;
    m->w_tail = &me;
    while (!me.go)
        pthread_cond_wait(&me.cv, &m->wmu);
    pthread_mutex_unlock(&m->wmu);
    pthread_cond_destroy(&me.cv);
}

/* Passes the turn on: to the first waiter (w_busy stays set for it), else frees it.
 * Under wmu, so the waiter cannot leave (and destroy its cv) before the signal. */
static void writer_leave_locked(meta_sqlite *m)
{
    turn_waiter *t = m->w_head;
    if (!t) {
        m->w_busy = 0;
        return;
    }
    m->w_head = t->next;
    if (!m->w_head)
        m->w_tail = NULL;
    t->go = 1;
    pthread_cond_signal(&t->cv);
}

static void writer_leave(meta_sqlite *m)
{
    pthread_mutex_lock(&m->wmu);
    writer_leave_locked(m);
    pthread_mutex_unlock(&m->wmu);
}

/* Exchanges the database handles and statement caches of a and b. */
static void conn_swap(conn *a, conn *b)
{
    sqlite3 *db = a->db;
    a->db = b->db;
    b->db = db;
    sqlite3_stmt *t[S_COUNT];
    memcpy(t, a->st, sizeof t);
    memcpy(a->st, b->st, sizeof t);
    memcpy(b->st, t, sizeof t);
}

conn *meta__acquire(vodup_meta *mp)
{
    meta_sqlite *m = sq(mp);
    pthread_mutex_lock(&m->mu);
    while (m->nidle == 0)
        pthread_cond_wait(&m->cv, &m->mu);
    conn *c = m->idle[--m->nidle];
    pthread_mutex_unlock(&m->mu);
    return c;
}

void meta__release(vodup_meta *mp, conn *c)
{
    meta_sqlite *m = sq(mp);
    if (c->writing) {
        /* A write transaction left open by a caller: never let it keep the turn. */
        fprintf(stderr, "vodup meta: write transaction left open; rolled back\n");
        meta__tx_end(c, VODUP_META_EIO);
    }
    /* Drop bindings so no statement keeps a pointer into the caller's memory. */
    for (int i = 0; i < S_COUNT; i++) {
        if (c->st[i]) {
            sqlite3_reset(c->st[i]);
            sqlite3_clear_bindings(c->st[i]);
        }
    }
    pthread_mutex_lock(&m->mu);
    m->idle[m->nidle++] = c;
    pthread_cond_signal(&m->cv);
    pthread_mutex_unlock(&m->mu);
}

static void log_db(sqlite3 *db, const char *what, int rc)
{
    fprintf(stderr, "vodup meta: %s: %s (%d)\n", what, db ? sqlite3_errmsg(db) : sqlite3_errstr(rc),
            rc);
}

/* Maps a failed step to the interface's codes. Constraint violations are the caller's
 * doing (duplicate name, missing parent row), everything else is logged. */
int meta__db_fail(conn *c, const char *what, int rc)
{
    switch (rc) {
    case SQLITE_CONSTRAINT_PRIMARYKEY:
    case SQLITE_CONSTRAINT_UNIQUE:
        return VODUP_META_EEXISTS;
    case SQLITE_CONSTRAINT_FOREIGNKEY:
        return VODUP_META_ENOTFOUND;
    case SQLITE_NOMEM:
        return VODUP_META_ENOMEM;
    default:
        log_db(c->db, what, rc);
        return VODUP_META_EIO;
    }
}

/* The statement `id`, reset and unbound, prepared on first use on this connection.
 * NULL only when preparing fails (logged). */
sqlite3_stmt *meta__st(conn *c, int id)
{
    sqlite3_stmt *s = c->st[id];
    if (!s) {
        const char *sql = id < S_CORE_END ? stmt_sql[id] : meta__vod_sql[id - S_CORE_END];
        if (!sql) {
            fprintf(stderr, "vodup meta: statement %d has no SQL\n", id);
            return NULL;
        }
        int rc = sqlite3_prepare_v3(c->db, sql, -1, SQLITE_PREPARE_PERSISTENT, &s, NULL);
        if (rc != SQLITE_OK) {
            log_db(c->db, "prepare", rc);
            return NULL;
        }
        c->st[id] = s;
    } else {
        sqlite3_reset(s);
        sqlite3_clear_bindings(s);
    }
    return s;
}

/* Runs a statement that returns no rows (or whose rows are ignored). */
int meta__exec_done(conn *c, sqlite3_stmt *s, const char *what)
{
    int rc;
    while ((rc = sqlite3_step(s)) == SQLITE_ROW)
        ;
    sqlite3_reset(s);
    return rc == SQLITE_DONE ? VODUP_META_OK : meta__db_fail(c, what, rc);
}

static int exec_id(conn *c, int id, const char *what)
{
    sqlite3_stmt *s = meta__st(c, id);
    return s ? meta__exec_done(c, s, what) : VODUP_META_EIO;
}

static void group_end(meta_sqlite *m, group_member *me);
static void group_commit(meta_sqlite *m, int leave);

int meta__tx_begin(conn *c, int write)
{
    if (!write)
        return exec_id(c, S_BEGIN_READ, "begin");
    meta_sqlite *m = c->owner;
    writer_enter(m);
    conn_swap(c, &m->wconn);
    int rc = VODUP_META_OK;
    if (!m->group_open) {
        rc = exec_id(c, S_BEGIN_WRITE, "begin");
        if (rc != VODUP_META_OK) {
            /* another process holds the lock beyond the busy timeout; no group is open */
            conn_swap(c, &m->wconn);
            writer_leave(m);
            return rc;
        }
        m->group_open = 1;
        m->group_n = 0;
        m->group_lost = 0;
    }
    rc = exec_id(c, S_SAVEPOINT, "savepoint");
    if (rc != VODUP_META_OK) {
        group_member me = { .rc = rc };
        conn_swap(c, &m->wconn);
        group_end(m, &me);
        return rc;
    }
    c->writing = 1;
    return VODUP_META_OK;
}

/* Commits the group on wconn (the caller has the turn) and tells every member; then
 * passes the turn on when leave. */
static void group_commit(meta_sqlite *m, int leave)
{
    int rc = m->group_lost ? VODUP_META_EIO : exec_id(&m->wconn, S_COMMIT, "commit");
    if (rc != VODUP_META_OK && !sqlite3_get_autocommit(m->wconn.db))
        exec_id(&m->wconn, S_ROLLBACK, "rollback");
    pthread_mutex_lock(&m->wmu);
    m->group_open = 0;
    /* Under wmu, a member cannot see done (and leave) before the loop is past it. */
    for (group_member *g = m->members, *next; g; g = next) {
        next = g->next;
        if (g->rc == VODUP_META_OK)
            g->rc = rc;
        g->done = 1;
        if (g->waiting)
            pthread_cond_signal(&g->cv);
    }
    m->members = NULL;
    if (leave)
        writer_leave_locked(m);
    pthread_mutex_unlock(&m->wmu);
}

/* A member's part is done (me->rc its own result): it joins the group, and either
 * commits the group (nobody queued behind it, or the group is full) or passes the turn
 * to the next writer and waits for the commit. */
static void group_end(meta_sqlite *m, group_member *me)
{
    pthread_mutex_lock(&m->wmu);
    me->next = m->members;
    m->members = me;
    m->group_n++;
    int queued = m->w_head != NULL;
    if (!queued || m->group_n >= META_GROUP_MAX || m->group_lost) {
        pthread_mutex_unlock(&m->wmu);
        group_commit(m, 1);
        return;
    }
    writer_leave_locked(m);
    me->waiting = 1;
    pthread_cond_init(&me->cv, NULL);
    while (!me->done)
        pthread_cond_wait(&me->cv, &m->wmu);
    pthread_mutex_unlock(&m->wmu);
    pthread_cond_destroy(&me->cv);
}

/* Commits when rc is OK, rolls back otherwise; returns the final code. */
int meta__tx_end(conn *c, int rc)
{
    if (!c->writing) {
        if (rc == VODUP_META_OK)
            rc = exec_id(c, S_COMMIT, "commit");
        if (rc != VODUP_META_OK && !sqlite3_get_autocommit(c->db))
            exec_id(c, S_ROLLBACK, "rollback");
        return rc;
    }
    meta_sqlite *m = c->owner;
    c->writing = 0;
    if (rc == VODUP_META_OK)
        rc = exec_id(c, S_RELEASE, "release");
    if (rc != VODUP_META_OK && !sqlite3_get_autocommit(c->db)) {
        /* undo this member's changes only; the group's stay */
        if (exec_id(c, S_ROLLBACK_TO, "rollback to") != VODUP_META_OK ||
            exec_id(c, S_RELEASE, "release") != VODUP_META_OK)
            m->group_lost = 1;
    }
    /* Some errors (I/O, full disk) make SQLite roll back the whole transaction: the
     * members before this one lose their writes too. */
    if (sqlite3_get_autocommit(c->db))
        m->group_lost = 1;
    /* Drop bindings: they may point into this caller's memory. */
    for (int i = 0; i < S_COUNT; i++) {
        if (c->st[i]) {
            sqlite3_reset(c->st[i]);
            sqlite3_clear_bindings(c->st[i]);
        }
    }
    conn_swap(c, &m->wconn);
    group_member me = { .rc = rc };
    group_end(m, &me);
    return me.rc;
}

/* ---- statement helpers: one place for each acquire/bind/step/reset sequence ---------- */

int meta__run(conn *c, sqlite3_stmt *s, const char *what, int if_unchanged)
{
    if (!s)
        return VODUP_META_EIO;
    int rc = meta__exec_done(c, s, what);
    if (rc == VODUP_META_OK && sqlite3_changes(c->db) == 0)
        rc = if_unchanged;
    return rc;
}

/* s was prepared and bound on c's own handle, so it cannot join the group on the writer
 * connection: with the turn, it first commits the group it was handed (if any), then
 * runs in a transaction of its own on c. */
static int single_write(vodup_meta *mp, conn *c, sqlite3_stmt *s, const char *what, int if_unchanged)
{
    meta_sqlite *m = sq(mp);
    int rc = VODUP_META_EIO;
    if (s) {
        writer_enter(m);
        if (m->group_open)
            group_commit(m, 0);
        rc = exec_id(c, S_BEGIN_WRITE, "begin");
        if (rc == VODUP_META_OK) {
            rc = meta__run(c, s, what, if_unchanged);
            if (rc == VODUP_META_OK)
                rc = exec_id(c, S_COMMIT, "commit");
            if (rc != VODUP_META_OK && !sqlite3_get_autocommit(c->db))
                exec_id(c, S_ROLLBACK, "rollback");
        }
        writer_leave(m);
    }
    meta__release(mp, c);
    return rc;
}

/* For one-statement writes: binds done by the caller, runs in its own transaction. */
int meta__single_write(vodup_meta *m, conn *c, sqlite3_stmt *s, const char *what)
{
    return single_write(m, c, s, what, VODUP_META_OK);
}

/* The same for writes aimed at one existing row, where no change means no such row. */
int meta__single_update(vodup_meta *m, conn *c, sqlite3_stmt *s, const char *what)
{
    return single_write(m, c, s, what, VODUP_META_ENOTFOUND);
}

int meta__run_text(conn *c, int id, const char *arg, const char *what)
{
    sqlite3_stmt *s = meta__st(c, id);
    if (s)
        bind_text(s, 1, arg);
    return meta__run(c, s, what, VODUP_META_OK);
}

int meta__run_id(conn *c, int id, int64_t arg, const char *what)
{
    sqlite3_stmt *s = meta__st(c, id);
    if (s)
        bind_i64(s, 1, arg);
    return meta__run(c, s, what, VODUP_META_OK);
}

int meta__prepare_once(conn *c, const char *sql, const char *what, sqlite3_stmt **s)
{
    *s = NULL;
    int r = sqlite3_prepare_v2(c->db, sql, -1, s, NULL);
    return r == SQLITE_OK ? VODUP_META_OK : meta__db_fail(c, what, r);
}

int meta__step_one(conn *c, sqlite3_stmt *s, const char *what, meta_fill_fn fill, void *out,
                   void *arg)
{
    if (!s)
        return VODUP_META_EIO;
    int r = sqlite3_step(s), rc;
    if (r == SQLITE_ROW)
        rc = fill(s, out, arg);
    else if (r == SQLITE_DONE)
        rc = VODUP_META_ENOTFOUND;
    else
        rc = meta__db_fail(c, what, r);
    sqlite3_reset(s);
    return rc;
}

int meta__row_by_text(conn *c, int id, const char *arg, const char *what, meta_fill_fn fill,
                      void *out)
{
    sqlite3_stmt *s = meta__st(c, id);
    if (s)
        bind_text(s, 1, arg);
    return meta__step_one(c, s, what, fill, out, NULL);
}

int meta__get_by_text(vodup_meta *m, int id, const char *arg, const char *what, meta_fill_fn fill,
                      void *out)
{
    conn *c = meta__acquire(m);
    int rc = meta__row_by_text(c, id, arg, what, fill, out);
    meta__release(m, c);
    return rc;
}

int meta__text_from_row(sqlite3_stmt *s, void *row, void *arg)
{
    (void)arg;
    char **text = row;
    int oom = 0;
    *text = dup_text(s, 0, &oom);
    return *text ? VODUP_META_OK : VODUP_META_ENOMEM;
}

void meta__rows_init(meta_rows *r, size_t elem, void (*clear)(void *row))
{
    memset(r, 0, sizeof *r);
    r->elem = elem;
    r->clear = clear;
}

/* Room for one more row; 0 when out of memory (the rows so far stay valid). */
static int rows_grow(meta_rows *r)
{
    if (r->n < r->cap)
        return 1;
    size_t nc = r->cap ? r->cap * 2 : 16;
    void *nv = realloc(r->v, nc * r->elem);
    if (!nv)
        return 0;
    r->v = nv;
    r->cap = nc;
    return 1;
}

static void *rows_at(const meta_rows *r, size_t i)
{
    return (char *)r->v + i * r->elem;
}

int meta__step_rows(conn *c, sqlite3_stmt *s, const char *what, meta_fill_fn fill, void *arg,
                    meta_rows *r)
{
    if (!s)
        return VODUP_META_EIO;
    int rc = VODUP_META_OK, st;
    while ((st = sqlite3_step(s)) == SQLITE_ROW) {
        if (!rows_grow(r)) {
            rc = VODUP_META_ENOMEM;
            break;
        }
        /* A row that failed to fill holds nothing, so it is not counted. */
        rc = fill(s, rows_at(r, r->n), arg);
        if (rc != VODUP_META_OK)
            break;
        r->n++;
    }
    if (rc == VODUP_META_OK && st != SQLITE_DONE)
        rc = meta__db_fail(c, what, st);
    sqlite3_reset(s);
    return rc;
}

void *meta__rows_next(meta_rows *r)
{
    return r->next < r->n ? rows_at(r, r->next++) : NULL;
}

void meta__rows_free(meta_rows *r)
{
    for (size_t i = 0; r->clear && i < r->n; i++)
        r->clear(rows_at(r, i));
    free(r->v);
    memset(r, 0, sizeof *r);
}

static int pragma(sqlite3 *db, const char *sql)
{
    char *err = NULL;
    int rc = sqlite3_exec(db, sql, NULL, NULL, &err);
    if (rc != SQLITE_OK) {
        fprintf(stderr, "vodup meta: %s: %s\n", sql, err ? err : sqlite3_errstr(rc));
        sqlite3_free(err);
        return -1;
    }
    return 0;
}

static int conn_open(conn *c, const char *path)
{
    memset(c, 0, sizeof *c);
    /* NOMUTEX: the pool guarantees a connection is used by one thread at a time. */
    int rc = sqlite3_open_v2(path, &c->db,
                             SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX,
                             NULL);
    if (rc != SQLITE_OK) {
        log_db(c->db, path, rc);
        sqlite3_close(c->db);
        c->db = NULL;
        return -1;
    }
    sqlite3_extended_result_codes(c->db, 1);
    sqlite3_busy_timeout(c->db, 10000);
    if (pragma(c->db, "PRAGMA journal_mode=WAL") || pragma(c->db, "PRAGMA synchronous=FULL") ||
        pragma(c->db, "PRAGMA foreign_keys=ON"))
        return -1;
    return 0;
}

static void conn_close(conn *c)
{
    if (!c->db)
        return;
    for (int i = 0; i < S_COUNT; i++)
        sqlite3_finalize(c->st[i]);
    sqlite3_close(c->db);
    c->db = NULL;
}

static int migrate(conn *c)
{
    if (pragma(c->db, "BEGIN IMMEDIATE"))
        return -1;
    int version = -1;
    if (pragma(c->db, "CREATE TABLE IF NOT EXISTS schema_version(version INTEGER NOT NULL)"))
        goto fail;
    sqlite3_stmt *s = NULL;
    int rc = sqlite3_prepare_v2(c->db, "SELECT max(version) FROM schema_version", -1, &s, NULL);
    if (rc != SQLITE_OK) {
        log_db(c->db, "schema version", rc);
        goto fail;
    }
    if (sqlite3_step(s) == SQLITE_ROW)
        version = sqlite3_column_type(s, 0) == SQLITE_NULL ? 0 : sqlite3_column_int(s, 0);
    sqlite3_finalize(s);
    if (version < 0)
        goto fail;
    if (version > NMIGRATIONS) {
        fprintf(stderr, "vodup meta: database schema version %d is newer than this vodupd (%d)\n",
                version, NMIGRATIONS);
        goto fail;
    }
    for (int v = version + 1; v <= NMIGRATIONS; v++) {
        if (pragma(c->db, migrations[v]))
            goto fail;
    }
    if (pragma(c->db, ensure_sql))
        goto fail;
    if (version < NMIGRATIONS) {
        if (pragma(c->db, "DELETE FROM schema_version"))
            goto fail;
        char sql[80];
        snprintf(sql, sizeof sql, "INSERT INTO schema_version(version) VALUES(%d)", NMIGRATIONS);
        if (pragma(c->db, sql))
            goto fail;
    }
    return pragma(c->db, "COMMIT");
fail:
    pragma(c->db, "ROLLBACK");
    return -1;
}

static void msq_close(vodup_meta *mp);

int vodup_meta_open_sqlite(vodup_meta **out, const char *data_dir, int pool)
{
    _Static_assert(SCHEMA_VERSION == (int)(sizeof migrations / sizeof migrations[0]) - 1,
                   "SCHEMA_VERSION must match the migrations");
    *out = NULL;
    if (pool < 1)
        pool = 1;
    size_t plen = strlen(data_dir) + sizeof "/vodup.db";
    char *path = malloc(plen);
    meta_sqlite *m = calloc(1, sizeof *m);
    if (!path || !m) {
        free(path);
        free(m);
        return VODUP_META_ENOMEM;
    }
    if (vodup_meta_init(&m->base, &meta__sqlite_ops) != VODUP_META_OK) {
        free(path);
        free(m);
        return VODUP_META_EIO;
    }
    snprintf(path, plen, "%s/vodup.db", data_dir);
    m->conns = calloc((size_t)pool, sizeof *m->conns);
    m->idle = calloc((size_t)pool, sizeof *m->idle);
    if (!m->conns || !m->idle) {
        free(m->conns);
        free(m->idle);
        free(m);
        free(path);
        return VODUP_META_ENOMEM;
    }
    pthread_mutex_init(&m->mu, NULL);
    pthread_cond_init(&m->cv, NULL);
    pthread_mutex_init(&m->wmu, NULL);
    int ok = 1;
    for (int i = 0; i < pool && ok; i++) {
        if (conn_open(&m->conns[i], path) != 0) {
            conn_close(&m->conns[i]);
            ok = 0;
            break;
        }
        m->conns[i].owner = m;
        m->n++;
        if (i == 0 && migrate(&m->conns[0]) != 0)
            ok = 0;
    }
    if (ok && conn_open(&m->wconn, path) != 0)
        ok = 0;
    m->wconn.owner = m;
    free(path);
    if (!ok) {
        msq_close(&m->base);
        return VODUP_META_EIO;
    }
    for (int i = 0; i < m->n; i++)
        m->idle[m->nidle++] = &m->conns[i];
    *out = &m->base;
    return VODUP_META_OK;
}

static void msq_close(vodup_meta *mp)
{
    meta_sqlite *m = sq(mp);
    for (int i = 0; i < m->n; i++)
        conn_close(&m->conns[i]);
    conn_close(&m->wconn);
    pthread_cond_destroy(&m->cv);
    pthread_mutex_destroy(&m->mu);
    pthread_mutex_destroy(&m->wmu);
    free(m->conns);
    free(m->idle);
    free(m);
}

/* ---- accounts, keys, settings -------------------------------------------------------- */

static int msq_account_create(vodup_meta *m, const char *account_id, const char *name, time_t now)
{
    conn *c = meta__acquire(m);
    sqlite3_stmt *s = meta__st(c, S_ACCOUNT_INSERT);
    if (s) {
        bind_text(s, 1, account_id);
        bind_text(s, 2, name ? name : "");
        bind_i64(s, 3, now);
    }
    return meta__single_write(m, c, s, "account create");
}

static int msq_key_create(vodup_meta *m, const char *key_id, const char *account_id,
                          const char *principal, const void *secret_sealed, size_t sealed_len,
                          time_t now)
{
    conn *c = meta__acquire(m);
    sqlite3_stmt *s = meta__st(c, S_KEY_INSERT);
    if (s) {
        bind_text(s, 1, key_id);
        bind_text(s, 2, account_id);
        bind_text(s, 3, principal);
        bind_bytes(s, 4, secret_sealed, sealed_len);
        bind_i64(s, 5, now);
    }
    return meta__single_write(m, c, s, "key create");
}

/* Fills k from (id, account_id, principal, secret_sealed, active). */
static int key_from_row(sqlite3_stmt *s, void *row, void *arg)
{
    (void)arg;
    vodup_meta_key *k = row;
    int oom = 0;
    memset(k, 0, sizeof *k);
    k->key_id = dup_text(s, 0, &oom);
    k->account_id = dup_text(s, 1, &oom);
    k->principal = dup_text(s, 2, &oom);
    k->sealed = (unsigned char *)dup_blob(s, 3, &k->sealed_len, &oom);
    k->active = sqlite3_column_int(s, 4);
    if (oom || !k->key_id || !k->account_id || !k->principal) {
        vodup_meta_key_clear(k);
        return VODUP_META_ENOMEM;
    }
    return VODUP_META_OK;
}

static int msq_key_get(vodup_meta *m, const char *key_id, vodup_meta_key *out)
{
    memset(out, 0, sizeof *out);
    return meta__get_by_text(m, S_KEY_GET, key_id, "key get", key_from_row, out);
}


static int msq_setting_get(vodup_meta *m, const char *name, char **value)
{
    *value = NULL;
    return meta__get_by_text(m, S_SETTING_GET, name, "setting get", meta__text_from_row, value);
}

static int msq_setting_add(vodup_meta *m, const char *name, const char *value)
{
    conn *c = meta__acquire(m);
    sqlite3_stmt *s = meta__st(c, S_SETTING_ADD);
    if (s) {
        bind_text(s, 1, name);
        bind_text(s, 2, value ? value : "");
    }
    return meta__single_write(m, c, s, "setting add");
}

static int msq_setting_set(vodup_meta *m, const char *name, const char *value)
{
    conn *c = meta__acquire(m);
    sqlite3_stmt *s = meta__st(c, S_SETTING_SET);
    if (s) {
        bind_text(s, 1, name);
        bind_text(s, 2, value ? value : "");
    }
    return meta__single_write(m, c, s, "setting set");
}

/* ---- buckets ---------------------------------------------------------------------------- */

static int msq_bucket_create(vodup_meta *m, const char *name, const char *account_id, time_t now)
{
    conn *c = meta__acquire(m);
    sqlite3_stmt *s = meta__st(c, S_BUCKET_INSERT);
    if (s) {
        bind_text(s, 1, name);
        bind_text(s, 2, account_id);
        bind_i64(s, 3, now);
    }
    return meta__single_write(m, c, s, "bucket create");
}

/* Fills b from a row of BUCKET_COLS. */
static int bucket_from_row(sqlite3_stmt *s, void *row, void *arg)
{
    (void)arg;
    vodup_meta_bucket *b = row;
    int oom = 0;
    memset(b, 0, sizeof *b);
    b->name = dup_text(s, 0, &oom);
    b->account_id = dup_text(s, 1, &oom);
    b->created = (time_t)sqlite3_column_int64(s, 2);
    if (oom || !b->name || !b->account_id) {
        vodup_meta_bucket_clear(b);
        return VODUP_META_ENOMEM;
    }
    return VODUP_META_OK;
}

/* meta_rows' clear takes a void *; vodup_meta_bucket_clear must not be called through
 * a pointer of another type. */
static void bucket_clear_row(void *row)
{
    vodup_meta_bucket_clear(row);
}

static int msq_bucket_get(vodup_meta *m, const char *name, vodup_meta_bucket *out)
{
    memset(out, 0, sizeof *out);
    return meta__get_by_text(m, S_BUCKET_GET, name, "bucket get", bucket_from_row, out);
}

/* 1 when the statement yields a row, 0 when not, <0 on error. */
static int exists(conn *c, int id, const char *arg, const char *what)
{
    sqlite3_stmt *s = meta__st(c, id);
    if (!s)
        return VODUP_META_EIO;
    bind_text(s, 1, arg);
    int r = sqlite3_step(s);
    sqlite3_reset(s);
    if (r == SQLITE_ROW)
        return 1;
    if (r == SQLITE_DONE)
        return 0;
    return meta__db_fail(c, what, r);
}

static int msq_bucket_delete(vodup_meta *m, const char *name)
{
    conn *c = meta__acquire(m);
    int rc = meta__tx_begin(c, 1);
    if (rc == VODUP_META_OK) {
        int e = exists(c, S_BUCKET_HAS_OBJECTS, name, "bucket delete");
        if (e == 0)
            e = exists(c, S_BUCKET_HAS_UPLOADS, name, "bucket delete");
        if (e < 0)
            rc = e;
        else if (e > 0)
            rc = VODUP_META_ENOTEMPTY;
        else {
            sqlite3_stmt *s = meta__st(c, S_BUCKET_DELETE);
            if (s)
                bind_text(s, 1, name);
            rc = meta__run(c, s, "bucket delete", VODUP_META_ENOTFOUND);
        }
        rc = meta__tx_end(c, rc);
    }
    meta__release(m, c);
    return rc;
}

static int msq_bucket_list(vodup_meta *m, const char *account_id,
                           int (*cb)(const vodup_meta_bucket *b, void *u), void *u)
{
    meta_rows rows;
    meta__rows_init(&rows, sizeof(vodup_meta_bucket), bucket_clear_row);
    conn *c = meta__acquire(m);
    sqlite3_stmt *s = meta__st(c, S_BUCKET_LIST);
    if (s)
        bind_text(s, 1, account_id);
    int rc = meta__step_rows(c, s, "bucket list", bucket_from_row, NULL, &rows);
    meta__release(m, c);
    const vodup_meta_bucket *b;
    while (rc == VODUP_META_OK && (b = meta__rows_next(&rows)) != NULL && !cb(b, u))
        ;
    meta__rows_free(&rows);
    return rc;
}


/* ---- objects ---------------------------------------------------------------------------- */

/* Sets *id to the rowid of bucket/key, or 0 when absent. */
int meta__object_find(conn *c, const char *bucket, const char *key, size_t key_len, int64_t *id)
{
    *id = 0;
    sqlite3_stmt *s = meta__st(c, S_OBJECT_FIND);
    if (!s)
        return VODUP_META_EIO;
    bind_text(s, 1, bucket);
    bind_bytes(s, 2, key, key_len);
    int r = sqlite3_step(s);
    if (r == SQLITE_ROW)
        *id = sqlite3_column_int64(s, 0);
    sqlite3_reset(s);
    if (r == SQLITE_ROW || r == SQLITE_DONE)
        return VODUP_META_OK;
    return meta__db_fail(c, "object find", r);
}

/* Removes object `id` and moves its blobs to the garbage list. */
int meta__object_drop(conn *c, int64_t id)
{
    int rc = meta__run_id(c, S_SEGS_TO_GC, id, "object gc");
    if (rc == VODUP_META_OK)
        rc = meta__run_id(c, S_SEGS_DELETE, id, "segments delete");
    if (rc == VODUP_META_OK)
        rc = meta__run_id(c, S_OBJECT_DELETE, id, "object delete");
    return rc;
}

/* A blob referenced again must not be collected (defensive: ids are never reused). */
static int gc_forget(conn *c, const char *blob)
{
    return meta__run_text(c, S_GC_FORGET, blob, "gc forget");
}

/* The scope of upload credentials, checked inside the write transaction (meta.h): OK,
 * EDENIED when the media at bucket/key is complete and g was issued before that, EREVOKED
 * when no media points there any more. NULL g: no check. */
static int guard_check(conn *c, const vodup_meta_guard *g, const char *bucket, const char *key,
                       size_t key_len)
{
    if (!g)
        return VODUP_META_OK;
    sqlite3_stmt *s = meta__st(c, S_GUARD_MEDIA);
    if (!s)
        return VODUP_META_EIO;
    bind_text(s, 1, bucket);
    bind_bytes(s, 2, key, key_len);
    int r = sqlite3_step(s), rc;
    if (r == SQLITE_ROW) {
        const unsigned char *status = sqlite3_column_text(s, 0);
        long long modified = sqlite3_column_int64(s, 1);
        /* The rule is the caller's (meta.h): the store only reads the media. */
        rc = g->writable && g->writable(g, status ? (const char *)status : "", (time_t)modified) ? VODUP_META_OK
                                                                                              : VODUP_META_EDENIED;
        if (!g->writable)
            rc = VODUP_META_EIO;
    } else if (r == SQLITE_DONE) {
        rc = VODUP_META_EREVOKED;
    } else {
        rc = meta__db_fail(c, "guard", r);
    }
    sqlite3_reset(s);
    return rc;
}

/* Inserts o (replacing whatever is at its key) with segments taken from segs, or, when
 * segs is NULL, from blobs[]/sizes[]. Sets *new_id. Inside a write transaction. */
static int object_store(conn *c, const vodup_meta_object *o, const char *const *blobs,
                        const uint64_t *sizes, size_t nsegs, int64_t *new_id)
{
    int64_t old;
    int rc = meta__object_find(c, o->bucket, o->key, o->key_len, &old);
    if (rc == VODUP_META_OK && old)
        rc = meta__object_drop(c, old);
    if (rc != VODUP_META_OK)
        return rc;
    sqlite3_stmt *s = meta__st(c, S_OBJECT_INSERT);
    if (!s)
        return VODUP_META_EIO;
    bind_text(s, 1, o->bucket);
    bind_bytes(s, 2, o->key, o->key_len);
    bind_i64(s, 3, (int64_t)o->size);
    bind_text(s, 4, o->etag);
    bind_i64(s, 5, (int64_t)o->crc64);
    if (o->has_md5)
        bind_bytes(s, 6, o->md5, sizeof o->md5);
    bind_text(s, 7, o->content_type);
    bind_text(s, 8, o->user_meta);
    bind_text(s, 9, o->type[0] ? o->type : "Normal");
    bind_i64(s, 10, o->mtime);
    rc = meta__exec_done(c, s, "object insert");
    if (rc != VODUP_META_OK)
        return rc;
    *new_id = sqlite3_last_insert_rowid(c->db);
    for (size_t i = 0; i < nsegs && rc == VODUP_META_OK; i++) {
        const char *blob = blobs ? blobs[i] : o->segs[i].blob;
        uint64_t size = sizes ? sizes[i] : o->segs[i].size;
        s = meta__st(c, S_SEG_INSERT);
        if (!s)
            return VODUP_META_EIO;
        bind_i64(s, 1, *new_id);
        bind_i64(s, 2, (int64_t)i);
        bind_text(s, 3, blob);
        bind_i64(s, 4, (int64_t)size);
        rc = meta__exec_done(c, s, "segment insert");
        if (rc == VODUP_META_OK)
            rc = gc_forget(c, blob);
    }
    /* Both writers of objects (PutObject and CompleteMultipartUpload) come through here,
     * so this is where a media record learns that its object is complete: in the same
     * transaction, so the object and the queued event commit or vanish together. The
     * object's mtime is the "now" of the write. */
    if (rc == VODUP_META_OK)
        rc = meta__media_object_written(c, o->bucket, o->key, o->key_len, o->size, o->crc64,
                                        o->mtime);
    return rc;
}

static int msq_object_put_guarded(vodup_meta *m, const vodup_meta_object *o, const vodup_meta_guard *g)
{
    conn *c = meta__acquire(m);
    int rc = meta__tx_begin(c, 1);
    if (rc == VODUP_META_OK) {
        int64_t id;
        rc = guard_check(c, g, o->bucket, o->key, o->key_len);
        if (rc == VODUP_META_OK)
            rc = object_store(c, o, NULL, NULL, o->nsegs, &id);
        rc = meta__tx_end(c, rc);
    }
    meta__release(m, c);
    return rc;
}

static int msq_object_put(vodup_meta *m, const vodup_meta_object *o)
{
    return msq_object_put_guarded(m, o, NULL);
}

/* Fills o from a row of OBJECT_COLS (segments not included). When arg is not NULL it is
 * an int64_t that receives the object's rowid. */
static int object_from_row(sqlite3_stmt *s, void *row, void *arg)
{
    vodup_meta_object *o = row;
    int oom = 0;
    memset(o, 0, sizeof *o);
    if (arg)
        *(int64_t *)arg = sqlite3_column_int64(s, 0);
    o->bucket = dup_text(s, 1, &oom);
    o->key = dup_blob(s, 2, &o->key_len, &oom);
    o->size = (uint64_t)sqlite3_column_int64(s, 3);
    copy_text(o->etag, sizeof o->etag, s, 4);
    o->crc64 = (uint64_t)sqlite3_column_int64(s, 5);
    if (sqlite3_column_type(s, 6) == SQLITE_BLOB && sqlite3_column_bytes(s, 6) == 16) {
        memcpy(o->md5, sqlite3_column_blob(s, 6), 16);
        o->has_md5 = 1;
    }
    o->content_type = opt_text(s, 7, &oom);
    o->user_meta = opt_text(s, 8, &oom);
    copy_text(o->type, sizeof o->type, s, 9);
    o->mtime = (time_t)sqlite3_column_int64(s, 10);
    if (oom || !o->bucket) {
        vodup_meta_object_clear(o);
        return VODUP_META_ENOMEM;
    }
    return VODUP_META_OK;
}

static void object_clear_row(void *row)
{
    vodup_meta_object_clear(row);
}

/* Fills a segment from (blob, size). */
static int segment_from_row(sqlite3_stmt *s, void *row, void *arg)
{
    (void)arg;
    vodup_meta_segment *g = row;
    copy_text(g->blob, sizeof g->blob, s, 0);
    g->size = (uint64_t)sqlite3_column_int64(s, 1);
    return VODUP_META_OK;
}

static int msq_object_get(vodup_meta *m, const char *bucket, const char *key, size_t key_len,
                          vodup_meta_object *out)
{
    memset(out, 0, sizeof *out);
    conn *c = meta__acquire(m);
    /* A read transaction so the row and its segments come from one snapshot. */
    int rc = meta__tx_begin(c, 0);
    if (rc == VODUP_META_OK) {
        sqlite3_stmt *s = meta__st(c, S_OBJECT_GET);
        int64_t id = 0;
        if (s) {
            bind_text(s, 1, bucket);
            bind_bytes(s, 2, key, key_len);
        }
        rc = meta__step_one(c, s, "object get", object_from_row, out, &id);
        if (rc == VODUP_META_OK) {
            /* The segment array is handed over to out, which frees it on failure too. */
            meta_rows segs;
            meta__rows_init(&segs, sizeof(vodup_meta_segment), NULL);
            s = meta__st(c, S_SEGS_GET);
            if (s)
                bind_i64(s, 1, id);
            rc = meta__step_rows(c, s, "segments get", segment_from_row, NULL, &segs);
            out->segs = segs.v;
            out->nsegs = segs.n;
        }
        rc = meta__tx_end(c, rc);
    }
    meta__release(m, c);
    if (rc != VODUP_META_OK)
        vodup_meta_object_clear(out);
    return rc;
}

static int msq_object_delete(vodup_meta *m, const char *bucket, const char *key, size_t key_len)
{
    conn *c = meta__acquire(m);
    int rc = meta__tx_begin(c, 1);
    if (rc == VODUP_META_OK) {
        int64_t id;
        rc = meta__object_find(c, bucket, key, key_len, &id);
        if (rc == VODUP_META_OK)
            rc = id ? meta__object_drop(c, id) : VODUP_META_ENOTFOUND;
        rc = meta__tx_end(c, rc);
    }
    meta__release(m, c);
    return rc;
}



/* Runs a listing of one bucket's key range, built by the caller with the parameters ?1
 * bucket, ?2 the lower bound, ?3 the upper bound (when kr has one), ?4 the limit and ?5
 * the upload id marker (when id_marker is not NULL), and collects its rows. Frees kr. */
static int list_key_range(vodup_meta *m, const char *sql, const char *what, const char *bucket,
                          meta_key_range *kr, size_t limit, const char *id_marker, meta_fill_fn fill,
                          meta_rows *rows)
{
    conn *c = meta__acquire(m);
    sqlite3_stmt *s;
    int rc = meta__prepare_once(c, sql, what, &s);
    if (rc == VODUP_META_OK) {
        bind_text(s, 1, bucket);
        bind_bytes(s, 2, kr->lo, kr->lo_len);
        if (kr->hi)
            bind_bytes(s, 3, kr->hi, kr->hi_len);
        bind_i64(s, 4, clamp_limit(limit));
        if (id_marker)
            bind_text(s, 5, id_marker);
        rc = meta__step_rows(c, s, what, fill, NULL, rows);
        sqlite3_finalize(s);
    }
    meta__release(m, c);
    free(kr->hi);
    return rc;
}

static int msq_object_list(vodup_meta *m, const char *bucket,
                           const char *prefix, size_t prefix_len,
                           const char *after, size_t after_len, size_t limit,
                           int (*cb)(const vodup_meta_object *o, void *u), void *u)
{
    meta_key_range kr;
    int rc = meta__key_range_init(&kr, prefix, prefix_len, after, after_len);
    if (rc != VODUP_META_OK)
        return rc;
    char sql[320];
    snprintf(sql, sizeof sql,
             "SELECT " OBJECT_COLS " FROM objects WHERE bucket = ?1 AND key %s ?2%s"
             " ORDER BY key LIMIT ?4",
             kr.lo_strict ? ">" : ">=", kr.hi ? " AND key < ?3" : "");

    meta_rows rows;
    meta__rows_init(&rows, sizeof(vodup_meta_object), object_clear_row);
    rc = list_key_range(m, sql, "object list", bucket, &kr, limit, NULL, object_from_row, &rows);
    const vodup_meta_object *o;
    while (rc == VODUP_META_OK && (o = meta__rows_next(&rows)) != NULL && !cb(o, u))
        ;
    meta__rows_free(&rows);
    return rc;
}

/* ---- multipart uploads ----------------------------------------------------------------- */

/* count(*) of cached statement id with ?1 bucket and ?2 key, or ?1 text when key is NULL. */
static int count_rows(conn *c, int id, const char *a, const char *key, size_t key_len, int64_t *n)
{
    sqlite3_stmt *s = meta__st(c, id);
    if (!s)
        return VODUP_META_EIO;
    bind_text(s, 1, a);
    if (key)
        bind_bytes(s, 2, key, key_len);
    int r = sqlite3_step(s), rc = VODUP_META_OK;
    if (r == SQLITE_ROW)
        *n = sqlite3_column_int64(s, 0);
    else
        rc = meta__db_fail(c, "count", r);
    sqlite3_reset(s);
    return rc;
}

static int msq_upload_create_guarded(vodup_meta *m, const vodup_meta_upload *up, const char *account_id,
                                     int max_open, const vodup_meta_guard *g, int max_per_key, int *evicted)
{
    if (evicted)
        *evicted = 0;
    conn *c = meta__acquire(m);
    int rc = meta__tx_begin(c, 1);
    if (rc == VODUP_META_OK) {
        rc = guard_check(c, g, up->bucket, up->key, up->key_len);
        if (rc == VODUP_META_OK && g && max_per_key > 0) {
            int64_t n = 0;
            rc = count_rows(c, S_UPLOAD_KEY_COUNT, up->bucket, up->key, up->key_len, &n);
            /* Make room by aborting the least recently written ones. */
            for (; rc == VODUP_META_OK && n >= max_per_key; n--) {
                char *oldest = NULL;
                sqlite3_stmt *s = meta__st(c, S_UPLOAD_KEY_OLDEST);
                if (s) {
                    bind_text(s, 1, up->bucket);
                    bind_bytes(s, 2, up->key, up->key_len);
                }
                rc = meta__step_one(c, s, "upload oldest", meta__text_from_row, &oldest, NULL);
                if (rc == VODUP_META_OK)
                    rc = meta__upload_drop(c, oldest);
                free(oldest);
                if (rc == VODUP_META_OK && evicted)
                    (*evicted)++;
            }
        }
        if (rc == VODUP_META_OK && max_open > 0) {
            sqlite3_stmt *s = meta__st(c, S_UPLOAD_COUNT);
            if (!s)
                rc = VODUP_META_EIO;
            else {
                bind_text(s, 1, account_id);
                int r = sqlite3_step(s);
                if (r == SQLITE_ROW) {
                    if (sqlite3_column_int64(s, 0) >= max_open)
                        rc = VODUP_META_ELIMIT;
                } else
                    rc = meta__db_fail(c, "upload count", r);
                sqlite3_reset(s);
            }
        }
        if (rc == VODUP_META_OK) {
            sqlite3_stmt *s = meta__st(c, S_UPLOAD_INSERT);
            if (s) {
                bind_text(s, 1, up->upload_id);
                bind_text(s, 2, up->bucket);
                bind_bytes(s, 3, up->key, up->key_len);
                bind_i64(s, 4, up->initiated);
                bind_text(s, 5, up->content_type);
                bind_text(s, 6, up->user_meta);
            }
            rc = meta__run(c, s, "upload create", VODUP_META_OK);
        }
        if (rc == VODUP_META_OK && g) {
            sqlite3_stmt *s = meta__st(c, S_UPLOAD_CRED_INSERT);
            if (s) {
                bind_text(s, 1, up->upload_id);
                bind_i64(s, 2, (int64_t)g->expires);
            }
            rc = meta__run(c, s, "upload credential", VODUP_META_OK);
        }
        rc = meta__tx_end(c, rc);
    }
    meta__release(m, c);
    return rc;
}

static int msq_upload_create(vodup_meta *m, const vodup_meta_upload *up, const char *account_id,
                             int max_open)
{
    return msq_upload_create_guarded(m, up, account_id, max_open, NULL, 0, NULL);
}

/* Fills up from a row of UPLOAD_COLS. */
static int upload_from_row(sqlite3_stmt *s, void *row, void *arg)
{
    (void)arg;
    vodup_meta_upload *up = row;
    int oom = 0;
    memset(up, 0, sizeof *up);
    copy_text(up->upload_id, sizeof up->upload_id, s, 0);
    up->bucket = dup_text(s, 1, &oom);
    up->key = dup_blob(s, 2, &up->key_len, &oom);
    up->initiated = (time_t)sqlite3_column_int64(s, 3);
    up->content_type = opt_text(s, 4, &oom);
    up->user_meta = opt_text(s, 5, &oom);
    if (oom || !up->bucket) {
        vodup_meta_upload_clear(up);
        return VODUP_META_ENOMEM;
    }
    return VODUP_META_OK;
}

static void upload_clear_row(void *row)
{
    vodup_meta_upload_clear(row);
}

/* Reads upload `id` into out (zeroed first). ENOTFOUND when absent. */
static int upload_read(conn *c, const char *id, vodup_meta_upload *out)
{
    memset(out, 0, sizeof *out);
    return meta__row_by_text(c, S_UPLOAD_GET, id, "upload get", upload_from_row, out);
}

static int msq_upload_get(vodup_meta *m, const char *upload_id, vodup_meta_upload *out)
{
    conn *c = meta__acquire(m);
    int rc = upload_read(c, upload_id, out);
    meta__release(m, c);
    return rc;
}


static int upload_exists(conn *c, const char *upload_id)
{
    vodup_meta_upload tmp;
    int rc = upload_read(c, upload_id, &tmp);
    vodup_meta_upload_clear(&tmp);
    return rc;
}

/* Fills p from a row of PART_COLS. */
static int part_from_row(sqlite3_stmt *s, void *row, void *arg)
{
    (void)arg;
    vodup_meta_part *p = row;
    memset(p, 0, sizeof *p);
    p->number = sqlite3_column_int(s, 0);
    copy_text(p->blob, sizeof p->blob, s, 1);
    p->size = (uint64_t)sqlite3_column_int64(s, 2);
    copy_text(p->etag, sizeof p->etag, s, 3);
    p->crc64 = (uint64_t)sqlite3_column_int64(s, 4);
    p->mtime = (time_t)sqlite3_column_int64(s, 5);
    return VODUP_META_OK;
}

/* Reads part (upload_id, number); ENOTFOUND when absent. */
static int part_read(conn *c, const char *upload_id, int number, vodup_meta_part *p)
{
    memset(p, 0, sizeof *p);
    sqlite3_stmt *s = meta__st(c, S_PART_GET);
    if (s) {
        bind_text(s, 1, upload_id);
        bind_i64(s, 2, number);
    }
    return meta__step_one(c, s, "part get", part_from_row, p, NULL);
}

static int gc_add(conn *c, const char *blob)
{
    return meta__run_text(c, S_GC_ADD, blob, "gc add");
}

static int msq_part_put_guarded(vodup_meta *m, const char *upload_id, const vodup_meta_part *p,
                                const vodup_meta_guard *g)
{
    conn *c = meta__acquire(m);
    int rc = meta__tx_begin(c, 1);
    if (rc == VODUP_META_OK) {
        vodup_meta_upload up;
        rc = upload_read(c, upload_id, &up);
        if (rc == VODUP_META_OK)
            rc = guard_check(c, g, up.bucket, up.key, up.key_len);
        vodup_meta_upload_clear(&up);
        /* A client that resumes with refreshed credentials keeps its upload alive. */
        if (rc == VODUP_META_OK && g) {
            sqlite3_stmt *s = meta__st(c, S_UPLOAD_EXTEND);
            if (s) {
                bind_text(s, 1, upload_id);
                bind_i64(s, 2, (int64_t)g->expires);
            }
            rc = meta__run(c, s, "upload extend", VODUP_META_OK);
        }
        vodup_meta_part old;
        if (rc == VODUP_META_OK) {
            int r = part_read(c, upload_id, p->number, &old);
            if (r == VODUP_META_OK && strcmp(old.blob, p->blob) != 0)
                rc = gc_add(c, old.blob);
            else if (r != VODUP_META_OK && r != VODUP_META_ENOTFOUND)
                rc = r;
        }
        if (rc == VODUP_META_OK) {
            sqlite3_stmt *s = meta__st(c, S_PART_UPSERT);
            if (s) {
                bind_text(s, 1, upload_id);
                bind_i64(s, 2, p->number);
                bind_text(s, 3, p->blob);
                bind_i64(s, 4, (int64_t)p->size);
                bind_text(s, 5, p->etag);
                bind_i64(s, 6, (int64_t)p->crc64);
                bind_i64(s, 7, p->mtime);
            }
            rc = meta__run(c, s, "part put", VODUP_META_OK);
        }
        if (rc == VODUP_META_OK)
            rc = gc_forget(c, p->blob);
        rc = meta__tx_end(c, rc);
    }
    meta__release(m, c);
    return rc;
}

static int msq_part_put(vodup_meta *m, const char *upload_id, const vodup_meta_part *p)
{
    return msq_part_put_guarded(m, upload_id, p, NULL);
}

static int msq_part_list(vodup_meta *m, const char *upload_id, int marker, size_t limit,
                         int (*cb)(const vodup_meta_part *p, void *u), void *u)
{
    meta_rows rows;
    meta__rows_init(&rows, sizeof(vodup_meta_part), NULL);
    conn *c = meta__acquire(m);
    int rc = meta__tx_begin(c, 0);
    if (rc == VODUP_META_OK) {
        rc = upload_exists(c, upload_id);
        if (rc == VODUP_META_OK) {
            sqlite3_stmt *s = meta__st(c, S_PART_LIST);
            if (s) {
                bind_text(s, 1, upload_id);
                bind_i64(s, 2, marker);
                bind_i64(s, 3, clamp_limit(limit));
            }
            rc = meta__step_rows(c, s, "part list", part_from_row, NULL, &rows);
        }
        rc = meta__tx_end(c, rc);
    }
    meta__release(m, c);
    const vodup_meta_part *p;
    while (rc == VODUP_META_OK && (p = meta__rows_next(&rows)) != NULL && !cb(p, u))
        ;
    meta__rows_free(&rows);
    return rc;
}

/* Drops the upload's parts (blobs to garbage) and the upload itself. */
int meta__upload_drop(conn *c, const char *upload_id)
{
    int rc = VODUP_META_OK;
    static const int steps[] = { S_PARTS_TO_GC, S_PARTS_DELETE, S_UPLOAD_DELETE };
    for (size_t i = 0; i < sizeof steps / sizeof steps[0] && rc == VODUP_META_OK; i++)
        rc = meta__run_text(c, steps[i], upload_id, "upload drop");
    return rc;
}

static int expire_where(vodup_meta *m, const char *sql, time_t before, int max);

static int msq_upload_expire(vodup_meta *m, time_t before, int max)
{
    return expire_where(m, "SELECT id FROM uploads WHERE initiated < ?1 ORDER BY initiated LIMIT ?2", before,
                        max);
}

static int msq_upload_expire_creds(vodup_meta *m, time_t before, int max)
{
    return expire_where(m, "SELECT upload_id FROM upload_creds WHERE expires < ?1 ORDER BY expires LIMIT ?2",
                        before, max);
}

/* Aborts the uploads sql (?1 before, ?2 max) selects. */
static int expire_where(vodup_meta *m, const char *sql, time_t before, int max)
{
    /* The ids first, then one transaction each: a long sweep never holds the write
     * lock for long. */
    conn *c = meta__acquire(m);
    sqlite3_stmt *s;
    char (*ids)[33] = calloc((size_t)(max > 0 ? max : 1), sizeof *ids);
    int n = 0;
    int rc = ids ? meta__prepare_once(c, sql, "upload expire", &s) : VODUP_META_ENOMEM;
    if (rc == VODUP_META_OK) {
        bind_i64(s, 1, (long long)before);
        bind_i64(s, 2, max);
        while (n < max && sqlite3_step(s) == SQLITE_ROW) {
            const unsigned char *t = sqlite3_column_text(s, 0);
            if (t && strlen((const char *)t) < sizeof ids[0])
                snprintf(ids[n++], sizeof ids[0], "%s", (const char *)t);
        }
        sqlite3_finalize(s);
    }
    meta__release(m, c);
    if (rc != VODUP_META_OK) {
        free(ids);
        return rc;
    }
    int done = 0;
    for (int i = 0; i < n; i++)
        if (msq_upload_abort(m, ids[i]) == VODUP_META_OK)
            done++;
    free(ids);
    return done;
}

static int msq_upload_abort(vodup_meta *m, const char *upload_id)
{
    conn *c = meta__acquire(m);
    int rc = meta__tx_begin(c, 1);
    if (rc == VODUP_META_OK) {
        rc = upload_exists(c, upload_id);
        if (rc == VODUP_META_OK)
            rc = meta__upload_drop(c, upload_id);
        rc = meta__tx_end(c, rc);
    }
    meta__release(m, c);
    return rc;
}

static int msq_upload_list(vodup_meta *m, const char *bucket, const char *prefix, size_t prefix_len,
                           const char *key_marker, size_t key_marker_len,
                           const char *upload_id_marker, size_t limit,
                           int (*cb)(const vodup_meta_upload *u, void *user), void *user)
{
    meta_key_range kr;
    int rc = meta__key_range_init(&kr, prefix, prefix_len, key_marker, key_marker_len);
    if (rc != VODUP_META_OK)
        return rc;
    int by_id = kr.marker_is_lo && upload_id_marker && *upload_id_marker;
    const char *lower = by_id ? "(key, id) > (?2, ?5)" : kr.lo_strict ? "key > ?2" : "key >= ?2";
    char sql[320];
    snprintf(sql, sizeof sql,
             "SELECT " UPLOAD_COLS " FROM uploads WHERE bucket = ?1 AND %s%s"
             " ORDER BY key, id LIMIT ?4",
             lower, kr.hi ? " AND key < ?3" : "");

    meta_rows rows;
    meta__rows_init(&rows, sizeof(vodup_meta_upload), upload_clear_row);
    rc = list_key_range(m, sql, "upload list", bucket, &kr, limit, by_id ? upload_id_marker : NULL,
                        upload_from_row, &rows);
    const vodup_meta_upload *up;
    while (rc == VODUP_META_OK && (up = meta__rows_next(&rows)) != NULL && !cb(up, user))
        ;
    meta__rows_free(&rows);
    return rc;
}

/* The part reader of meta_shared.h's Complete checks: one part of this upload on c. */
typedef struct part_reader {
    conn *c;
    const char *upload_id;
} part_reader;

static int read_part(void *ctx, int number, vodup_meta_part *out)
{
    const part_reader *r = ctx;
    return part_read(r->c, r->upload_id, number, out);
}

/* The end of every Complete, inside its transaction: o (its own fields set by the
 * caller) becomes the object at the upload's bucket/key, made of got's blobs in order;
 * the upload's other parts go to the garbage list; the upload is removed. blobs and sizes
 * are scratch arrays of n entries. */
static int complete_record(conn *c, const char *upload_id, const vodup_meta_upload *up,
                           vodup_meta_object *o, const vodup_meta_part *got, size_t n,
                           const char **blobs, uint64_t *sizes)
{
    meta__complete_object(o, up, got, n, blobs, sizes);
    int64_t id;
    int rc = object_store(c, o, blobs, sizes, n, &id);
    if (rc == VODUP_META_OK) {
        sqlite3_stmt *s = meta__st(c, S_PARTS_UNUSED_TO_GC);
        if (s) {
            bind_text(s, 1, upload_id);
            bind_i64(s, 2, id);
        }
        rc = meta__run(c, s, "complete gc", VODUP_META_OK);
    }
    /* The listed blobs now belong to the object; only the rest went to gc. */
    if (rc == VODUP_META_OK)
        rc = meta__run_text(c, S_PARTS_DELETE, upload_id, "complete drop");
    if (rc == VODUP_META_OK)
        rc = meta__run_text(c, S_UPLOAD_DELETE, upload_id, "complete drop");
    return rc;
}

static int msq_upload_complete(vodup_meta *m, const char *upload_id,
                               const vodup_meta_complete_part *parts, size_t nparts,
                               uint64_t min_part_size, time_t now,
                               vodup_meta_object *out, size_t *bad_index)
{
    return msq_upload_complete_guarded(m, upload_id, parts, nparts, min_part_size, now, out,
                                              bad_index, NULL);
}

static int msq_upload_complete_guarded(vodup_meta *m, const char *upload_id,
                                       const vodup_meta_complete_part *parts, size_t nparts,
                                       uint64_t min_part_size, time_t now, vodup_meta_object *out,
                                       size_t *bad_index, const vodup_meta_guard *g)
{
    size_t bad_dummy;
    if (!bad_index)
        bad_index = &bad_dummy;
    if (out)
        memset(out, 0, sizeof *out);
    vodup_meta_part *got = calloc(nparts ? nparts : 1, sizeof *got);
    const char **blobs = calloc(nparts ? nparts : 1, sizeof *blobs);
    uint64_t *sizes = calloc(nparts ? nparts : 1, sizeof *sizes);
    if (!got || !blobs || !sizes) {
        free(got);
        free(blobs);
        free(sizes);
        return VODUP_META_ENOMEM;
    }
    vodup_meta_upload up;
    memset(&up, 0, sizeof up);
    vodup_meta_object o;
    memset(&o, 0, sizeof o);

    conn *c = meta__acquire(m);
    int rc = meta__tx_begin(c, 1);
    if (rc == VODUP_META_OK) {
        rc = upload_read(c, upload_id, &up);
        if (rc == VODUP_META_OK)
            rc = guard_check(c, g, up.bucket, up.key, up.key_len);
        part_reader pr = { c, upload_id };
        if (rc == VODUP_META_OK)
            rc = meta__complete_check(parts, nparts, min_part_size, read_part, &pr, got, bad_index);
        if (rc == VODUP_META_OK)
            rc = meta__complete_fields(&o, got, nparts, now);
        if (rc == VODUP_META_OK)
            rc = complete_record(c, upload_id, &up, &o, got, nparts, blobs, sizes);
        rc = meta__tx_end(c, rc);
    }
    meta__release(m, c);

    if (rc == VODUP_META_OK && out) {
        /* Hand the upload's strings over to the result instead of copying them. */
        *out = o;
        up.bucket = up.key = up.content_type = up.user_meta = NULL;
    }
    vodup_meta_upload_clear(&up);
    free(got);
    free(blobs);
    free(sizes);
    return rc;
}

static int msq_upload_commit(vodup_meta *m, const char *upload_id, const vodup_meta_part *parts,
                             size_t nparts, const vodup_meta_object *fields,
                             const vodup_meta_guard *g, vodup_meta_object *out, size_t *bad_index)
{
    size_t bad_dummy;
    if (!bad_index)
        bad_index = &bad_dummy;
    if (out)
        memset(out, 0, sizeof *out);
    if (nparts == 0) {
        *bad_index = 0;
        return VODUP_META_EINVALIDPART;
    }
    const char **blobs = calloc(nparts, sizeof *blobs);
    uint64_t *sizes = calloc(nparts, sizeof *sizes);
    if (!blobs || !sizes) {
        free(blobs);
        free(sizes);
        return VODUP_META_ENOMEM;
    }
    vodup_meta_upload up;
    memset(&up, 0, sizeof up);
    vodup_meta_object o = *fields;
    o.segs = NULL;
    o.nsegs = 0;

    conn *c = meta__acquire(m);
    int rc = meta__tx_begin(c, 1);
    if (rc == VODUP_META_OK) {
        rc = upload_read(c, upload_id, &up);
        if (rc == VODUP_META_OK)
            rc = guard_check(c, g, up.bucket, up.key, up.key_len);
        /* Each part must still be the one the caller read. */
        part_reader pr = { c, upload_id };
        if (rc == VODUP_META_OK)
            rc = meta__commit_check(parts, nparts, read_part, &pr, bad_index);
        if (rc == VODUP_META_OK)
            rc = complete_record(c, upload_id, &up, &o, parts, nparts, blobs, sizes);
        rc = meta__tx_end(c, rc);
    }
    meta__release(m, c);

    if (rc == VODUP_META_OK && out) {
        /* Hand the upload's strings over to the result instead of copying them. */
        *out = o;
        up.bucket = up.key = up.content_type = up.user_meta = NULL;
    }
    vodup_meta_upload_clear(&up);
    free(blobs);
    free(sizes);
    return rc;
}

/* ---- blob bookkeeping ------------------------------------------------------------------ */

static int msq_gc_take(vodup_meta *m, char (*ids)[VODUP_BLOB_ID_LEN + 1], int max)
{
    return msq_gc_take_after(m, NULL, ids, max);
}

static int msq_gc_take_after(vodup_meta *m, const char *after, char (*ids)[VODUP_BLOB_ID_LEN + 1],
                             int max)
{
    if (max <= 0)
        return 0;
    conn *c = meta__acquire(m);
    sqlite3_stmt *s = meta__st(c, after ? S_GC_TAKE_AFTER : S_GC_TAKE);
    int n = 0, rc = VODUP_META_EIO;
    if (s) {
        bind_i64(s, 1, max);
        if (after)
            bind_text(s, 2, after);
        int r = SQLITE_DONE;
        while (n < max && (r = sqlite3_step(s)) == SQLITE_ROW)
            copy_text(ids[n++], sizeof ids[0], s, 0);
        rc = (n == max || r == SQLITE_DONE) ? VODUP_META_OK : meta__db_fail(c, "gc take", r);
        sqlite3_reset(s);
    }
    meta__release(m, c);
    return rc == VODUP_META_OK ? n : rc;
}

static int msq_gc_done(vodup_meta *m, char (*ids)[VODUP_BLOB_ID_LEN + 1], int n)
{
    if (n <= 0)
        return VODUP_META_OK;
    conn *c = meta__acquire(m);
    int rc = meta__tx_begin(c, 1);
    if (rc == VODUP_META_OK) {
        for (int i = 0; i < n && rc == VODUP_META_OK; i++) {
            char id[VODUP_BLOB_ID_LEN + 1];
            snprintf(id, sizeof id, "%.*s", VODUP_BLOB_ID_LEN, ids[i]);
            rc = gc_forget(c, id);
        }
        rc = meta__tx_end(c, rc);
    }
    meta__release(m, c);
    return rc;
}

static int msq_blob_is_live(vodup_meta *m, const char *blob)
{
    conn *c = meta__acquire(m);
    sqlite3_stmt *s = meta__st(c, S_BLOB_LIVE);
    int rc = VODUP_META_EIO;
    if (s) {
        bind_text(s, 1, blob);
        int r = sqlite3_step(s);
        if (r == SQLITE_ROW)
            rc = sqlite3_column_int(s, 0) ? 1 : 0;
        else
            rc = meta__db_fail(c, "blob is live", r);
        sqlite3_reset(s);
    }
    meta__release(m, c);
    return rc;
}

/* ---- the ops table --------------------------------------------------------------- */

const vodup_meta_ops meta__sqlite_ops = {
    .version = VODUP_META_OPS_VERSION,
    .name = "sqlite",
    .close = msq_close,
    .account_create = msq_account_create,
    .key_create = msq_key_create,
    .key_get = msq_key_get,
    .setting_get = msq_setting_get,
    .setting_set = msq_setting_set,
    .setting_add = msq_setting_add,
    .bucket_create = msq_bucket_create,
    .bucket_get = msq_bucket_get,
    .bucket_delete = msq_bucket_delete,
    .bucket_list = msq_bucket_list,
    .object_put = msq_object_put,
    .object_get = msq_object_get,
    .object_delete = msq_object_delete,
    .object_list = msq_object_list,
    .upload_create = msq_upload_create,
    .upload_get = msq_upload_get,
    .part_put = msq_part_put,
    .part_list = msq_part_list,
    .upload_abort = msq_upload_abort,
    .upload_expire = msq_upload_expire,
    .upload_list = msq_upload_list,
    .upload_complete = msq_upload_complete,
    .gc_take = msq_gc_take,
    .gc_done = msq_gc_done,
    .blob_is_live = msq_blob_is_live,
    .object_put_guarded = msq_object_put_guarded,
    .part_put_guarded = msq_part_put_guarded,
    .upload_complete_guarded = msq_upload_complete_guarded,
    .upload_commit = msq_upload_commit,
    .upload_create_guarded = msq_upload_create_guarded,
    .upload_expire_creds = msq_upload_expire_creds,
    .gc_take_after = msq_gc_take_after,
    .principal_delete_revoking = msq_principal_delete_revoking,
    .revocation_get = msq_revocation_get,
    .principal_create = msq_principal_create,
    .principal_get = msq_principal_get,
    .principal_list = msq_principal_list,
    .principal_delete = msq_principal_delete,
    .key_list = msq_key_list,
    .nonce_use = msq_nonce_use,
    .media_create = msq_media_create,
    .media_get = msq_media_get,
    .media_find_object = msq_media_find_object,
    .media_list = msq_media_list,
    .media_delete = msq_media_delete,
    .media_set_status = msq_media_set_status,
    .callback_set = msq_callback_set,
    .callback_get = msq_callback_get,
    .callback_seal_all = msq_callback_seal_all,
    .event_due = msq_event_due,
    .event_list = msq_event_list,
    .event_prepare = msq_event_prepare,
    .event_done = msq_event_done,
    .event_retry = msq_event_retry,
    .event_defer = msq_event_defer,
    .event_next = msq_event_next,
    .revocations_get = msq_revocations_get,
    .revocations_close = msq_revocations_close,
    .key_create_max = msq_key_create_max,
    .key_set_active = msq_key_set_active,
    .key_delete = msq_key_delete,
    .media_expire_uploading = msq_media_expire_uploading,
    /* version 4, probe jobs */
    .probe_job_add = msq_probe_job_add,
    .probe_job_claim = msq_probe_job_claim,
    .probe_job_release = msq_probe_job_release,
    .probe_job_finish = msq_probe_job_finish,
    .probe_job_count = msq_probe_job_count,
    .media_info_get = msq_media_info_get,
    .probe_job_requeue_node = msq_probe_job_requeue_node,
    .usage_get = msq_usage_get,
    .quota_set = msq_quota_set,
};
