/* meta_pg.c - the metadata store on PostgreSQL (libpq), for several vodupd nodes sharing
 * one database (docs/scale-out.md).
 *
 * A back end behind the ops table of meta_ops.h, as meta_sqlite.c is: the mpg_* functions
 * are its members (meta__pg_ops, at the end of meta_pg_vod.c), called only through the
 * vodup_meta_* wrappers of meta.c, which also keep them off the event loop; so a call may
 * block on the network. vodup_meta_open_postgres is its constructor.
 *
 * Semantics are SQLite's (meta_sqlite*.c, docs/internals/store-contract.md); what differs
 * is how nodes are kept apart, since SQLite had one process and PostgreSQL has many:
 *  - every operation is one transaction at READ COMMITTED; where two nodes may race on
 *    one row, the row is locked first: an upload is read with SELECT ... FOR UPDATE by
 *    Complete, Abort and part put, so of a Complete and an Abort (or two Completes) the
 *    second waits, then finds the upload gone (ENOTFOUND);
 *  - an object key is serialised with a transaction-scoped advisory lock on (bucket, key),
 *    since "replace the object at a key" is read-then-insert and a row that does not
 *    exist yet cannot be locked;
 *  - uniqueness (settings added once, nonces used once, names) comes from unique keys, so
 *    a second use fails on whichever node it happens;
 *  - the schema migrates under a session advisory lock, so nodes starting together
 *    migrate once (schema_version holds the applied versions).
 *
 * A fixed pool of connections (mutex + condition variable); a connection found broken
 * is reset when it comes back. Object and upload keys are BYTEA, which PostgreSQL orders
 * as memcmp then length: the byte order OSS listing wants. Text that is ordered is
 * COLLATE "C" (byte order, whatever the database's locale).
 *
 * Errors are logged with the server's message only; bound values (secrets, keys) and the
 * connection string (it may hold a password) are never printed.
 */
#include "server/store/meta_shared.h"
#include "server/store/meta.h"
#include "server/store/meta_pg_int.h"

#include <limits.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define OBJECT_COLS "id, bucket, key, size, etag, crc64, md5, content_type, user_meta, type, mtime"
#define UPLOAD_COLS "id, bucket, key, initiated, content_type, user_meta"
#define PART_COLS "number, blob, size, etag, crc64, mtime"
#define BUCKET_COLS "name, account_id, created"

/* The session advisory lock key under which the schema migrates (any constant unique to
 * vodup: "vodupmig" in ASCII). */
#define MIGRATE_LOCK "7526746685236457831"

/* ---- schema ------------------------------------------------------------------------ */

/* Migration n takes the schema from version n-1 to n. Append, never edit. Version 1 is
 * SQLite's versions 1 and 2 together with its upload_creds, in PostgreSQL's types. */
static const char *const migrations[] = {
    NULL,
    /* 1 */
    "CREATE TABLE settings(name TEXT COLLATE \"C\" PRIMARY KEY, value TEXT NOT NULL);"
    "CREATE TABLE accounts(id TEXT COLLATE \"C\" PRIMARY KEY, name TEXT NOT NULL, created BIGINT NOT NULL);"
    "CREATE TABLE access_keys("
    "  id TEXT COLLATE \"C\" PRIMARY KEY,"
    "  account_id TEXT COLLATE \"C\" NOT NULL REFERENCES accounts(id),"
    "  principal TEXT COLLATE \"C\" NOT NULL, secret_sealed BYTEA NOT NULL,"
    "  active INTEGER NOT NULL DEFAULT 1, created BIGINT NOT NULL);"
    "CREATE INDEX access_keys_principal ON access_keys(account_id, principal);"
    "CREATE TABLE buckets("
    "  name TEXT COLLATE \"C\" PRIMARY KEY,"
    "  account_id TEXT COLLATE \"C\" NOT NULL REFERENCES accounts(id),"
    "  created BIGINT NOT NULL);"
    "CREATE INDEX buckets_account ON buckets(account_id, name);"
    "CREATE TABLE objects("
    "  id BIGSERIAL PRIMARY KEY,"
    "  bucket TEXT COLLATE \"C\" NOT NULL REFERENCES buckets(name),"
    "  key BYTEA NOT NULL, size BIGINT NOT NULL, etag TEXT NOT NULL,"
    "  crc64 BIGINT NOT NULL, md5 BYTEA, content_type TEXT, user_meta TEXT,"
    "  type TEXT NOT NULL, mtime BIGINT NOT NULL,"
    "  UNIQUE(bucket, key));"
    "CREATE TABLE segments("
    "  object_id BIGINT NOT NULL REFERENCES objects(id),"
    "  seq INTEGER NOT NULL, blob TEXT COLLATE \"C\" NOT NULL, size BIGINT NOT NULL,"
    "  PRIMARY KEY(object_id, seq));"
    "CREATE INDEX segments_blob ON segments(blob);"
    "CREATE TABLE uploads("
    "  id TEXT COLLATE \"C\" PRIMARY KEY,"
    "  bucket TEXT COLLATE \"C\" NOT NULL REFERENCES buckets(name),"
    "  key BYTEA NOT NULL, initiated BIGINT NOT NULL,"
    "  content_type TEXT, user_meta TEXT);"
    "CREATE INDEX uploads_bucket_key ON uploads(bucket, key, id);"
    "CREATE INDEX uploads_initiated ON uploads(initiated);"
    "CREATE TABLE parts("
    "  upload_id TEXT COLLATE \"C\" NOT NULL REFERENCES uploads(id),"
    "  number INTEGER NOT NULL, blob TEXT COLLATE \"C\" NOT NULL, size BIGINT NOT NULL,"
    "  etag TEXT NOT NULL, crc64 BIGINT NOT NULL, mtime BIGINT NOT NULL,"
    "  PRIMARY KEY(upload_id, number));"
    "CREATE INDEX parts_blob ON parts(blob);"
    "CREATE TABLE blob_gc(blob TEXT COLLATE \"C\" PRIMARY KEY);"
    "CREATE TABLE upload_creds("
    "  upload_id TEXT COLLATE \"C\" PRIMARY KEY REFERENCES uploads(id) ON DELETE CASCADE,"
    "  expires BIGINT NOT NULL, touched BIGINT NOT NULL);"
    "CREATE SEQUENCE upload_creds_touched_seq;"
    "CREATE INDEX upload_creds_expires ON upload_creds(expires);"
    "CREATE INDEX upload_creds_touched ON upload_creds(touched);"
    "CREATE TABLE principals("
    "  kind TEXT NOT NULL CHECK(kind IN ('user', 'role')),"
    "  account_id TEXT COLLATE \"C\" NOT NULL REFERENCES accounts(id),"
    "  name TEXT COLLATE \"C\" NOT NULL, arn TEXT NOT NULL, policies TEXT NOT NULL,"
    "  max_session BIGINT NOT NULL, created BIGINT NOT NULL,"
    "  PRIMARY KEY(kind, account_id, name));"
    "CREATE TABLE nonces("
    "  key_id TEXT COLLATE \"C\" NOT NULL, nonce TEXT COLLATE \"C\" NOT NULL, at BIGINT NOT NULL,"
    "  PRIMARY KEY(key_id, nonce));"
    "CREATE INDEX nonces_at ON nonces(at);"
    "CREATE TABLE media("
    "  id TEXT COLLATE \"C\" PRIMARY KEY,"
    "  kind TEXT NOT NULL CHECK(kind IN ('video', 'image', 'attached')),"
    "  status TEXT NOT NULL,"
    "  account_id TEXT COLLATE \"C\" NOT NULL REFERENCES accounts(id),"
    "  title TEXT, description TEXT, tags TEXT, cover_url TEXT, user_data TEXT,"
    "  template_group_id TEXT, app_id TEXT, file_name TEXT, storage_location TEXT,"
    "  image_type TEXT, business_type TEXT, ext TEXT,"
    "  cate_id BIGINT NOT NULL DEFAULT -1, file_size BIGINT NOT NULL DEFAULT 0,"
    "  bucket TEXT COLLATE \"C\", object_key BYTEA,"
    "  size BIGINT NOT NULL DEFAULT 0, crc64 BIGINT NOT NULL DEFAULT 0,"
    "  created BIGINT NOT NULL, modified BIGINT NOT NULL);"
    "CREATE INDEX media_object ON media(bucket, object_key);"
    "CREATE INDEX media_account ON media(account_id, kind, created);"
    "CREATE TABLE callbacks("
    "  account_id TEXT COLLATE \"C\" PRIMARY KEY REFERENCES accounts(id), config TEXT NOT NULL);"
    "CREATE TABLE events("
    "  id BIGSERIAL PRIMARY KEY,"
    "  account_id TEXT COLLATE \"C\" NOT NULL, media_id TEXT COLLATE \"C\" NOT NULL,"
    "  event_type TEXT NOT NULL, body TEXT, url TEXT, auth_key TEXT,"
    "  attempts INTEGER NOT NULL DEFAULT 0, created BIGINT NOT NULL,"
    "  next_at BIGINT NOT NULL, last_error TEXT);"
    "CREATE INDEX events_next ON events(next_at, id);"
    "CREATE INDEX events_media ON events(media_id);",
    /* 2: the probe job queue (meta_jobs.h, meta_pg_jobs.c; SQLite's ensure_sql) */
    "CREATE TABLE probe_jobs("
    "  media_id TEXT COLLATE \"C\" PRIMARY KEY,"
    "  state TEXT NOT NULL CHECK(state IN ('queued', 'claimed')),"
    "  attempts INTEGER NOT NULL DEFAULT 0, claimed_by TEXT COLLATE \"C\","
    "  lease_until BIGINT NOT NULL DEFAULT 0, next_at BIGINT NOT NULL, created BIGINT NOT NULL,"
    "  last_error TEXT);"
    "CREATE INDEX probe_jobs_due ON probe_jobs(state, next_at);"
    "CREATE TABLE media_info(media_id TEXT COLLATE \"C\" PRIMARY KEY, info TEXT NOT NULL);",
    /* 3: per-account storage (meta_quota.h), as SQLite's migration 3: account_usage.bytes
     * is kept by row triggers in the transaction of every write to objects and parts, so
     * no write path can forget it. The counter row is locked from a write's first change
     * of it to its commit, so one account's writes commit one after another across
     * nodes (docs/scale-out.md); each transaction touches one account, so they never
     * wait for each other in a cycle. Parts are deleted before their upload and objects
     * before their bucket, so the join always finds the owner. */
    "CREATE TABLE account_usage("
    "  account_id TEXT COLLATE \"C\" PRIMARY KEY REFERENCES accounts(id),"
    "  bytes BIGINT NOT NULL DEFAULT 0, quota BIGINT NOT NULL DEFAULT -1);"
    "INSERT INTO account_usage(account_id, bytes) SELECT a.id,"
    "  coalesce((SELECT sum(o.size) FROM objects o JOIN buckets b ON b.name = o.bucket"
    "            WHERE b.account_id = a.id), 0) +"
    "  coalesce((SELECT sum(p.size) FROM parts p JOIN uploads u ON u.id = p.upload_id"
    "            JOIN buckets b ON b.name = u.bucket WHERE b.account_id = a.id), 0)"
    "  FROM accounts a;"
    "CREATE FUNCTION vodup_usage_account() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN"
    "  INSERT INTO account_usage(account_id) VALUES(NEW.id) ON CONFLICT DO NOTHING;"
    "  RETURN NULL; END $$;"
    "CREATE TRIGGER usage_account AFTER INSERT ON accounts"
    "  FOR EACH ROW EXECUTE FUNCTION vodup_usage_account();"
    "CREATE FUNCTION vodup_usage_object() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN"
    "  IF TG_OP <> 'INSERT' THEN"
    "    UPDATE account_usage SET bytes = bytes - OLD.size"
    "     WHERE account_id = (SELECT account_id FROM buckets WHERE name = OLD.bucket);"
    "  END IF;"
    "  IF TG_OP <> 'DELETE' THEN"
    "    UPDATE account_usage SET bytes = bytes + NEW.size"
    "     WHERE account_id = (SELECT account_id FROM buckets WHERE name = NEW.bucket);"
    "  END IF;"
    "  RETURN NULL; END $$;"
    "CREATE TRIGGER usage_object AFTER INSERT OR DELETE OR UPDATE OF size, bucket ON objects"
    "  FOR EACH ROW EXECUTE FUNCTION vodup_usage_object();"
    "CREATE FUNCTION vodup_usage_part() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN"
    "  IF TG_OP <> 'INSERT' THEN"
    "    UPDATE account_usage SET bytes = bytes - OLD.size WHERE account_id = (SELECT b.account_id"
    "     FROM uploads u JOIN buckets b ON b.name = u.bucket WHERE u.id = OLD.upload_id);"
    "  END IF;"
    "  IF TG_OP <> 'DELETE' THEN"
    "    UPDATE account_usage SET bytes = bytes + NEW.size WHERE account_id = (SELECT b.account_id"
    "     FROM uploads u JOIN buckets b ON b.name = u.bucket WHERE u.id = NEW.upload_id);"
    "  END IF;"
    "  RETURN NULL; END $$;"
    "CREATE TRIGGER usage_part AFTER INSERT OR DELETE OR UPDATE OF size, upload_id ON parts"
    "  FOR EACH ROW EXECUTE FUNCTION vodup_usage_part();",
};
#define NMIGRATIONS ((int)(sizeof migrations / sizeof migrations[0]) - 1)

/* ---- the handle and its pool ------------------------------------------------------- */

typedef struct meta_pg {
    vodup_meta base;
    pthread_mutex_t mu;
    pthread_cond_t cv;
    int n;
    pg_conn *conns;
    pg_conn **idle;     /* stack of free connections */
    int nidle;
} meta_pg;

static meta_pg *pg(vodup_meta *m)
{
    return (meta_pg *)m;
}

pg_conn *mpg__acquire(vodup_meta *mp)
{
    meta_pg *m = pg(mp);
    pthread_mutex_lock(&m->mu);
    while (m->nidle == 0)
        pthread_cond_wait(&m->cv, &m->mu);
    pg_conn *c = m->idle[--m->nidle];
    pthread_mutex_unlock(&m->mu);
    return c;
}

void mpg__release(vodup_meta *mp, pg_conn *c)
{
    meta_pg *m = pg(mp);
    /* A server restart or a network cut leaves the connection bad: reconnect now, so the
     * next caller does not fail for this one's loss (if it fails again, so will they). */
    if (PQstatus(c->db) != CONNECTION_OK)
        PQreset(c->db);
    c->in_tx = 0;
    pthread_mutex_lock(&m->mu);
    m->idle[m->nidle++] = c;
    pthread_cond_signal(&m->cv);
    pthread_mutex_unlock(&m->mu);
}

/* ---- parameters and results ---------------------------------------------------------- */

static int pgp_slot(pg_params *p)
{
    if (p->n >= PG_MAXP) {
        /* A programming error: the statements are this file's; abort loudly. */
        fprintf(stderr, "vodup meta pg: too many parameters\n");
        abort();
    }
    return p->n++;
}

void pgp_text(pg_params *p, const char *s)
{
    int i = pgp_slot(p);
    p->v[i] = s;
    p->len[i] = 0;
    p->fmt[i] = 0;
}

void pgp_i64(pg_params *p, long long v)
{
    int i = pgp_slot(p);
    snprintf(p->num[i], sizeof p->num[i], "%lld", v);
    p->v[i] = p->num[i];
    p->len[i] = 0;
    p->fmt[i] = 0;
}

void pgp_bytes(pg_params *p, const void *b, size_t n)
{
    int i = pgp_slot(p);
    /* A zero-length BYTEA still needs a non-NULL pointer (NULL is SQL NULL). */
    p->v[i] = b ? (const char *)b : "";
    p->len[i] = (int)n;
    p->fmt[i] = 1;
}

int mpg__exec(pg_conn *c, const char *what, const char *sql, const pg_params *p, PGresult **res,
              long long *changed)
{
    if (res)
        *res = NULL;
    PGresult *r = PQexecParams(c->db, sql, p ? p->n : 0, NULL, p ? p->v : NULL, p ? p->len : NULL,
                               p ? p->fmt : NULL, 0);
    ExecStatusType st = r ? PQresultStatus(r) : PGRES_FATAL_ERROR;
    if (st == PGRES_COMMAND_OK || st == PGRES_TUPLES_OK) {
        if (changed) {
            const char *t = PQcmdTuples(r);
            *changed = t && *t ? atoll(t) : 0;
        }
        if (res)
            *res = r;
        else
            PQclear(r);
        return VODUP_META_OK;
    }
    const char *state = r ? PQresultErrorField(r, PG_DIAG_SQLSTATE) : NULL;
    int rc = VODUP_META_EIO;
    if (state && strcmp(state, "23505") == 0)
        rc = VODUP_META_EEXISTS;
    else if (state && strcmp(state, "23503") == 0)
        rc = VODUP_META_ENOTFOUND;
    else {
        const char *msg = r ? PQresultErrorField(r, PG_DIAG_MESSAGE_PRIMARY) : NULL;
        fprintf(stderr, "vodup meta pg: %s: %s (%s)\n", what,
                msg ? msg : PQerrorMessage(c->db), state ? state : "no SQLSTATE");
    }
    PQclear(r);
    return rc;
}

int mpg__begin(pg_conn *c)
{
    int rc = mpg__exec(c, "begin", "BEGIN", NULL, NULL, NULL);
    c->in_tx = rc == VODUP_META_OK;
    return rc;
}

int mpg__end(pg_conn *c, int rc)
{
    if (!c->in_tx)
        return rc;
    c->in_tx = 0;
    if (rc == VODUP_META_OK)
        return mpg__exec(c, "commit", "COMMIT", NULL, NULL, NULL);
    (void)mpg__exec(c, "rollback", "ROLLBACK", NULL, NULL, NULL);
    return rc;
}

int mpg__write(vodup_meta *m, const char *what, const char *sql, const pg_params *p, long long *changed)
{
    pg_conn *c = mpg__acquire(m);
    int rc = mpg__exec(c, what, sql, p, NULL, changed);
    mpg__release(m, c);
    return rc;
}

int mpg__query(vodup_meta *m, const char *what, const char *sql, const pg_params *p, PGresult **r)
{
    pg_conn *c = mpg__acquire(m);
    int rc = mpg__exec(c, what, sql, p, r, NULL);
    mpg__release(m, c);
    return rc;
}

int mpg__write_one(vodup_meta *m, const char *what, const char *sql, const pg_params *p)
{
    long long n = 0;
    int rc = mpg__write(m, what, sql, p, &n);
    return rc == VODUP_META_OK && n == 0 ? VODUP_META_ENOTFOUND : rc;
}

char *mpg__text(const PGresult *r, int row, int col, int *oom)
{
    if (PQgetisnull(r, row, col))
        return NULL;
    char *s = strdup(PQgetvalue(r, row, col));
    if (!s)
        *oom = 1;
    return s;
}

char *mpg__bytes(const PGresult *r, int row, int col, size_t *len, int *oom)
{
    *len = 0;
    if (PQgetisnull(r, row, col))
        return NULL;
    size_t n = 0;
    unsigned char *raw = PQunescapeBytea((const unsigned char *)PQgetvalue(r, row, col), &n);
    char *s = raw ? malloc(n + 1) : NULL;
    if (!s) {
        PQfreemem(raw);
        *oom = 1;
        return NULL;
    }
    memcpy(s, raw, n);
    s[n] = '\0';
    PQfreemem(raw);
    *len = n;
    return s;
}

long long mpg__i64(const PGresult *r, int row, int col)
{
    return PQgetisnull(r, row, col) ? 0 : strtoll(PQgetvalue(r, row, col), NULL, 10);
}

void mpg__copy(char *dst, size_t n, const PGresult *r, int row, int col)
{
    snprintf(dst, n, "%s", PQgetisnull(r, row, col) ? "" : PQgetvalue(r, row, col));
}

/* uint64 values (sizes, CRC-64) live in BIGINT: the same bits, signed. */
static long long u2s(uint64_t v)
{
    return (long long)v;
}

/* ---- open, migrate, close -------------------------------------------------------------- */

static int exec_plain(PGconn *db, const char *what, const char *sql)
{
    PGresult *r = PQexec(db, sql);
    ExecStatusType st = PQresultStatus(r);
    int ok = st == PGRES_COMMAND_OK || st == PGRES_TUPLES_OK;
    if (!ok)
        fprintf(stderr, "vodup meta pg: %s: %s", what, PQresultErrorMessage(r));
    PQclear(r);
    return ok ? VODUP_META_OK : VODUP_META_EIO;
}

/* Applies the migrations this schema lacks, under a session advisory lock so that nodes
 * starting together migrate once; refuses a schema newer than this build knows. */
static int migrate(PGconn *db)
{
    if (exec_plain(db, "migrate lock", "SELECT pg_advisory_lock(" MIGRATE_LOCK ")") != VODUP_META_OK)
        return VODUP_META_EIO;
    int rc = exec_plain(db, "schema_version",
                        "SET client_min_messages = warning;"
                        "CREATE TABLE IF NOT EXISTS schema_version(version INTEGER PRIMARY KEY,"
                        " applied TIMESTAMPTZ NOT NULL DEFAULT now())");
    int have = -1;
    if (rc == VODUP_META_OK) {
        PGresult *r = PQexec(db, "SELECT coalesce(max(version), 0) FROM schema_version");
        if (PQresultStatus(r) == PGRES_TUPLES_OK && PQntuples(r) == 1)
            have = atoi(PQgetvalue(r, 0, 0));
        else
            fprintf(stderr, "vodup meta pg: schema version: %s", PQresultErrorMessage(r));
        PQclear(r);
        if (have < 0)
            rc = VODUP_META_EIO;
    }
    if (rc == VODUP_META_OK && have > NMIGRATIONS) {
        fprintf(stderr, "vodup meta pg: the database's schema is version %d, newer than this vodupd's %d\n",
                have, NMIGRATIONS);
        rc = VODUP_META_EIO;
    }
    for (int v = have + 1; rc == VODUP_META_OK && v <= NMIGRATIONS; v++) {
        char mark[96];
        snprintf(mark, sizeof mark, "INSERT INTO schema_version(version) VALUES(%d)", v);
        rc = exec_plain(db, "migrate", "BEGIN");
        if (rc == VODUP_META_OK)
            rc = exec_plain(db, "migrate", migrations[v]);
        if (rc == VODUP_META_OK)
            rc = exec_plain(db, "migrate", mark);
        rc = exec_plain(db, "migrate", rc == VODUP_META_OK ? "COMMIT" : "ROLLBACK") == VODUP_META_OK
                 ? rc
                 : VODUP_META_EIO;
    }
    (void)exec_plain(db, "migrate unlock", "SELECT pg_advisory_unlock(" MIGRATE_LOCK ")");
    return rc;
}

static PGconn *connect_db(const char *conninfo)
{
    PGconn *db = PQconnectdb(conninfo);
    if (!db)
        return NULL;
    if (PQstatus(db) != CONNECTION_OK) {
        /* libpq's message names the host and the reason, never the password. */
        fprintf(stderr, "vodup meta pg: connect: %s", PQerrorMessage(db));
        PQfinish(db);
        return NULL;
    }
    /* Byte-for-byte BYTEA output, quiet notices. */
    if (exec_plain(db, "session", "SET bytea_output = 'hex'; SET client_min_messages = warning") !=
        VODUP_META_OK) {
        PQfinish(db);
        return NULL;
    }
    return db;
}

static void mpg_close(vodup_meta *mp)
{
    meta_pg *m = pg(mp);
    for (int i = 0; i < m->n; i++)
        if (m->conns[i].db)
            PQfinish(m->conns[i].db);
    pthread_cond_destroy(&m->cv);
    pthread_mutex_destroy(&m->mu);
    free(m->conns);
    free(m->idle);
    free(m);
}

int vodup_meta_open_postgres(vodup_meta **out, const char *conninfo, int pool)
{
    *out = NULL;
    if (pool < 1)
        pool = 1;
    meta_pg *m = calloc(1, sizeof *m);
    if (!m)
        return VODUP_META_ENOMEM;
    if (vodup_meta_init(&m->base, &meta__pg_ops) != VODUP_META_OK) {
        free(m);
        return VODUP_META_EIO;
    }
    pthread_mutex_init(&m->mu, NULL);
    pthread_cond_init(&m->cv, NULL);
    m->conns = calloc((size_t)pool, sizeof *m->conns);
    m->idle = calloc((size_t)pool, sizeof *m->idle);
    if (!m->conns || !m->idle) {
        m->n = 0;
        mpg_close(&m->base);
        return VODUP_META_ENOMEM;
    }
    m->n = pool;
    int rc = VODUP_META_OK;
    for (int i = 0; i < pool && rc == VODUP_META_OK; i++) {
        m->conns[i].db = connect_db(conninfo);
        if (!m->conns[i].db)
            rc = VODUP_META_EIO;
        else
            m->idle[m->nidle++] = &m->conns[i];
    }
    if (rc == VODUP_META_OK)
        rc = migrate(m->conns[0].db);
    if (rc != VODUP_META_OK) {
        mpg_close(&m->base);
        return rc;
    }
    *out = &m->base;
    return VODUP_META_OK;
}

/* ---- accounts, keys, settings -------------------------------------------------------- */

static int mpg_account_create(vodup_meta *m, const char *account_id, const char *name, time_t now)
{
    pg_params p = { .n = 0 };
    pgp_text(&p, account_id);
    pgp_text(&p, name ? name : "");
    pgp_i64(&p, now);
    return mpg__write(m, "account create", "INSERT INTO accounts(id, name, created) VALUES($1, $2, $3)", &p,
                      NULL);
}

static int mpg_key_create(vodup_meta *m, const char *key_id, const char *account_id, const char *principal,
                          const void *secret_sealed, size_t sealed_len, time_t now)
{
    pg_params p = { .n = 0 };
    pgp_text(&p, key_id);
    pgp_text(&p, account_id);
    pgp_text(&p, principal);
    pgp_bytes(&p, secret_sealed, sealed_len);
    pgp_i64(&p, now);
    return mpg__write(m, "key create",
                      "INSERT INTO access_keys(id, account_id, principal, secret_sealed, active, created)"
                      " VALUES($1, $2, $3, $4, 1, $5)",
                      &p, NULL);
}

/* Runs a query expected to return at most one row; ENOTFOUND when none. *res is the
 * result (the caller clears it) when OK. */
static int one_row(pg_conn *c, const char *what, const char *sql, const pg_params *p, PGresult **res)
{
    int rc = mpg__exec(c, what, sql, p, res, NULL);
    if (rc == VODUP_META_OK && PQntuples(*res) == 0) {
        PQclear(*res);
        *res = NULL;
        rc = VODUP_META_ENOTFOUND;
    }
    return rc;
}

/* one_row through the pool. */
static int get_row(vodup_meta *m, const char *what, const char *sql, const pg_params *p, PGresult **res)
{
    pg_conn *c = mpg__acquire(m);
    int rc = one_row(c, what, sql, p, res);
    mpg__release(m, c);
    return rc;
}

static int mpg_key_get(vodup_meta *m, const char *key_id, vodup_meta_key *out)
{
    memset(out, 0, sizeof *out);
    pg_params p = { .n = 0 };
    pgp_text(&p, key_id);
    PGresult *r;
    int rc = get_row(m, "key get",
                     "SELECT id, account_id, principal, secret_sealed, active FROM access_keys WHERE id = $1", &p,
                     &r);
    if (rc != VODUP_META_OK)
        return rc;
    int oom = 0;
    out->key_id = mpg__text(r, 0, 0, &oom);
    out->account_id = mpg__text(r, 0, 1, &oom);
    out->principal = mpg__text(r, 0, 2, &oom);
    out->sealed = (unsigned char *)mpg__bytes(r, 0, 3, &out->sealed_len, &oom);
    out->active = (int)mpg__i64(r, 0, 4);
    PQclear(r);
    if (oom || !out->key_id || !out->account_id || !out->principal) {
        vodup_meta_key_clear(out);
        return VODUP_META_ENOMEM;
    }
    return VODUP_META_OK;
}

static int mpg_setting_get(vodup_meta *m, const char *name, char **value)
{
    *value = NULL;
    pg_params p = { .n = 0 };
    pgp_text(&p, name);
    PGresult *r;
    int rc = get_row(m, "setting get", "SELECT value FROM settings WHERE name = $1", &p, &r);
    if (rc != VODUP_META_OK)
        return rc;
    int oom = 0;
    *value = mpg__text(r, 0, 0, &oom);
    PQclear(r);
    return oom ? VODUP_META_ENOMEM : VODUP_META_OK;
}

static int mpg_setting_add(vodup_meta *m, const char *name, const char *value)
{
    pg_params p = { .n = 0 };
    pgp_text(&p, name);
    pgp_text(&p, value ? value : "");
    return mpg__write(m, "setting add", "INSERT INTO settings(name, value) VALUES($1, $2)", &p, NULL);
}

static int mpg_setting_set(vodup_meta *m, const char *name, const char *value)
{
    pg_params p = { .n = 0 };
    pgp_text(&p, name);
    pgp_text(&p, value ? value : "");
    return mpg__write(m, "setting set",
                      "INSERT INTO settings(name, value) VALUES($1, $2)"
                      " ON CONFLICT(name) DO UPDATE SET value = excluded.value",
                      &p, NULL);
}

/* ---- buckets ---------------------------------------------------------------------------- */

static int mpg_bucket_create(vodup_meta *m, const char *name, const char *account_id, time_t now)
{
    pg_params p = { .n = 0 };
    pgp_text(&p, name);
    pgp_text(&p, account_id);
    pgp_i64(&p, now);
    return mpg__write(m, "bucket create", "INSERT INTO buckets(name, account_id, created) VALUES($1, $2, $3)",
                      &p, NULL);
}

static int bucket_fill(const PGresult *r, int i, vodup_meta_bucket *b)
{
    int oom = 0;
    memset(b, 0, sizeof *b);
    b->name = mpg__text(r, i, 0, &oom);
    b->account_id = mpg__text(r, i, 1, &oom);
    b->created = (time_t)mpg__i64(r, i, 2);
    if (oom || !b->name || !b->account_id) {
        vodup_meta_bucket_clear(b);
        return VODUP_META_ENOMEM;
    }
    return VODUP_META_OK;
}

static int mpg_bucket_get(vodup_meta *m, const char *name, vodup_meta_bucket *out)
{
    memset(out, 0, sizeof *out);
    pg_params p = { .n = 0 };
    pgp_text(&p, name);
    PGresult *r;
    int rc = get_row(m, "bucket get", "SELECT " BUCKET_COLS " FROM buckets WHERE name = $1", &p, &r);
    if (rc == VODUP_META_OK) {
        rc = bucket_fill(r, 0, out);
        PQclear(r);
    }
    return rc;
}

static int mpg_bucket_delete(vodup_meta *m, const char *name)
{
    pg_conn *c = mpg__acquire(m);
    int rc = mpg__begin(c);
    if (rc == VODUP_META_OK) {
        pg_params p = { .n = 0 };
        pgp_text(&p, name);
        PGresult *r = NULL;
        /* The bucket row locked first: an upload or object created meanwhile on another
         * node references it (its foreign key check takes a share lock), so it waits. */
        rc = one_row(c, "bucket delete", "SELECT name FROM buckets WHERE name = $1 FOR UPDATE", &p, &r);
        PQclear(r);
        if (rc == VODUP_META_OK)
            rc = mpg__exec(c, "bucket delete",
                           "SELECT EXISTS(SELECT 1 FROM objects WHERE bucket = $1)"
                           " OR EXISTS(SELECT 1 FROM uploads WHERE bucket = $1)",
                           &p, &r, NULL);
        if (rc == VODUP_META_OK) {
            int busy = PQgetvalue(r, 0, 0)[0] == 't';
            PQclear(r);
            rc = busy ? VODUP_META_ENOTEMPTY
                      : mpg__exec(c, "bucket delete", "DELETE FROM buckets WHERE name = $1", &p, NULL, NULL);
        }
        rc = mpg__end(c, rc);
    }
    mpg__release(m, c);
    return rc;
}

static int mpg_bucket_list(vodup_meta *m, const char *account_id,
                           int (*cb)(const vodup_meta_bucket *b, void *u), void *u)
{
    pg_params p = { .n = 0 };
    pgp_text(&p, account_id);
    pg_conn *c = mpg__acquire(m);
    PGresult *r;
    int rc = mpg__exec(c, "bucket list", "SELECT " BUCKET_COLS " FROM buckets WHERE account_id = $1 ORDER BY name",
                       &p, &r, NULL);
    mpg__release(m, c);
    /* The result is the collected rows: the connection is back in the pool before the
     * callbacks run, so they may call into the store. */
    for (int i = 0; rc == VODUP_META_OK && i < PQntuples(r); i++) {
        vodup_meta_bucket b;
        rc = bucket_fill(r, i, &b);
        int stop = rc == VODUP_META_OK && cb(&b, u);
        vodup_meta_bucket_clear(&b);
        if (stop)
            break;
    }
    PQclear(r);
    return rc;
}

/* ---- objects ---------------------------------------------------------------------------- */

int mpg__object_find(pg_conn *c, const char *bucket, const char *key, size_t key_len, long long *id)
{
    *id = 0;
    pg_params p = { .n = 0 };
    pgp_text(&p, bucket);
    pgp_bytes(&p, key, key_len);
    PGresult *r;
    int rc = mpg__exec(c, "object find", "SELECT id FROM objects WHERE bucket = $1 AND key = $2 FOR UPDATE", &p, &r,
                       NULL);
    if (rc == VODUP_META_OK) {
        if (PQntuples(r) > 0)
            *id = mpg__i64(r, 0, 0);
        PQclear(r);
    }
    return rc;
}

static int run_id(pg_conn *c, const char *what, const char *sql, long long id)
{
    pg_params p = { .n = 0 };
    pgp_i64(&p, id);
    return mpg__exec(c, what, sql, &p, NULL, NULL);
}

static int run_text(pg_conn *c, const char *what, const char *sql, const char *t)
{
    pg_params p = { .n = 0 };
    pgp_text(&p, t);
    return mpg__exec(c, what, sql, &p, NULL, NULL);
}

int mpg__object_drop(pg_conn *c, long long id)
{
    int rc = run_id(c, "object gc",
                    "INSERT INTO blob_gc(blob) SELECT blob FROM segments WHERE object_id = $1 ON CONFLICT DO NOTHING",
                    id);
    if (rc == VODUP_META_OK)
        rc = run_id(c, "segments delete", "DELETE FROM segments WHERE object_id = $1", id);
    if (rc == VODUP_META_OK)
        rc = run_id(c, "object delete", "DELETE FROM objects WHERE id = $1", id);
    return rc;
}

static int gc_forget(pg_conn *c, const char *blob)
{
    return run_text(c, "gc forget", "DELETE FROM blob_gc WHERE blob = $1", blob);
}

static int gc_add(pg_conn *c, const char *blob)
{
    return run_text(c, "gc add", "INSERT INTO blob_gc(blob) VALUES($1) ON CONFLICT DO NOTHING", blob);
}

/* Serialises writers of one object key across nodes until the transaction ends. */
static int key_lock(pg_conn *c, const char *bucket, const char *key, size_t key_len)
{
    pg_params p = { .n = 0 };
    pgp_text(&p, bucket);
    pgp_bytes(&p, key, key_len);
    return mpg__exec(c, "key lock",
                     "SELECT pg_advisory_xact_lock(hashtextextended($1 || '/' || encode($2, 'hex'), 0))", &p, NULL,
                     NULL);
}

/* The scope of upload credentials (meta.h), as SQLite's guard_check. */
static int guard_check(pg_conn *c, const vodup_meta_guard *g, const char *bucket, const char *key,
                       size_t key_len)
{
    if (!g)
        return VODUP_META_OK;
    pg_params p = { .n = 0 };
    pgp_text(&p, bucket);
    pgp_bytes(&p, key, key_len);
    PGresult *r;
    int rc = mpg__exec(c, "guard",
                       "SELECT status, modified FROM media WHERE bucket = $1 AND object_key = $2"
                       " ORDER BY created DESC, id DESC LIMIT 1",
                       &p, &r, NULL);
    if (rc != VODUP_META_OK)
        return rc;
    if (PQntuples(r) == 0)
        rc = VODUP_META_EREVOKED;
    else if (!g->writable)
        rc = VODUP_META_EIO;
    else
        rc = g->writable(g, PQgetvalue(r, 0, 0), (time_t)mpg__i64(r, 0, 1)) ? VODUP_META_OK : VODUP_META_EDENIED;
    PQclear(r);
    return rc;
}

/* Inserts o (replacing whatever is at its key) with segments from o->segs, or, when blobs
 * is not NULL, from blobs[]/sizes[]. Sets *new_id. Inside a transaction. */
static int object_store(pg_conn *c, const vodup_meta_object *o, const char *const *blobs, const uint64_t *sizes,
                        size_t nsegs, long long *new_id)
{
    long long old;
    int rc = key_lock(c, o->bucket, o->key, o->key_len);
    if (rc == VODUP_META_OK)
        rc = mpg__object_find(c, o->bucket, o->key, o->key_len, &old);
    if (rc == VODUP_META_OK && old)
        rc = mpg__object_drop(c, old);
    if (rc != VODUP_META_OK)
        return rc;
    pg_params p = { .n = 0 };
    pgp_text(&p, o->bucket);
    pgp_bytes(&p, o->key, o->key_len);
    pgp_i64(&p, u2s(o->size));
    pgp_text(&p, o->etag);
    pgp_i64(&p, u2s(o->crc64));
    if (o->has_md5)
        pgp_bytes(&p, o->md5, sizeof o->md5);
    else
        pgp_text(&p, NULL);
    pgp_text(&p, o->content_type);
    pgp_text(&p, o->user_meta);
    pgp_text(&p, o->type[0] ? o->type : "Normal");
    pgp_i64(&p, o->mtime);
    PGresult *r;
    rc = mpg__exec(c, "object insert",
                   "INSERT INTO objects(bucket, key, size, etag, crc64, md5, content_type, user_meta, type, mtime)"
                   " VALUES($1, $2, $3, $4, $5, $6, $7, $8, $9, $10) RETURNING id",
                   &p, &r, NULL);
    if (rc != VODUP_META_OK)
        return rc;
    *new_id = mpg__i64(r, 0, 0);
    PQclear(r);
    for (size_t i = 0; i < nsegs && rc == VODUP_META_OK; i++) {
        const char *blob = blobs ? blobs[i] : o->segs[i].blob;
        uint64_t size = sizes ? sizes[i] : o->segs[i].size;
        pg_params s = { .n = 0 };
        pgp_i64(&s, *new_id);
        pgp_i64(&s, (long long)i);
        pgp_text(&s, blob);
        pgp_i64(&s, u2s(size));
        rc = mpg__exec(c, "segment insert", "INSERT INTO segments(object_id, seq, blob, size) VALUES($1, $2, $3, $4)",
                       &s, NULL, NULL);
        if (rc == VODUP_META_OK)
            rc = gc_forget(c, blob);
    }
    /* The completion hook, in the same transaction (see meta_sqlite.c's object_store). */
    if (rc == VODUP_META_OK)
        rc = mpg__media_object_written(c, o->bucket, o->key, o->key_len, o->size, o->crc64, o->mtime);
    return rc;
}

static int mpg_object_put_guarded(vodup_meta *m, const vodup_meta_object *o, const vodup_meta_guard *g)
{
    pg_conn *c = mpg__acquire(m);
    int rc = mpg__begin(c);
    if (rc == VODUP_META_OK) {
        long long id;
        rc = guard_check(c, g, o->bucket, o->key, o->key_len);
        if (rc == VODUP_META_OK)
            rc = object_store(c, o, NULL, NULL, o->nsegs, &id);
        rc = mpg__end(c, rc);
    }
    mpg__release(m, c);
    return rc;
}

static int mpg_object_put(vodup_meta *m, const vodup_meta_object *o)
{
    return mpg_object_put_guarded(m, o, NULL);
}

/* Fills o from row i of OBJECT_COLS (segments not included); *id gets its id. */
static int object_fill(const PGresult *r, int i, vodup_meta_object *o, long long *id)
{
    int oom = 0;
    memset(o, 0, sizeof *o);
    if (id)
        *id = mpg__i64(r, i, 0);
    o->bucket = mpg__text(r, i, 1, &oom);
    o->key = mpg__bytes(r, i, 2, &o->key_len, &oom);
    o->size = (uint64_t)mpg__i64(r, i, 3);
    mpg__copy(o->etag, sizeof o->etag, r, i, 4);
    o->crc64 = (uint64_t)mpg__i64(r, i, 5);
    size_t mlen = 0;
    char *md5 = mpg__bytes(r, i, 6, &mlen, &oom);
    if (md5 && mlen == 16) {
        memcpy(o->md5, md5, 16);
        o->has_md5 = 1;
    }
    free(md5);
    o->content_type = mpg__text(r, i, 7, &oom);
    o->user_meta = mpg__text(r, i, 8, &oom);
    mpg__copy(o->type, sizeof o->type, r, i, 9);
    o->mtime = (time_t)mpg__i64(r, i, 10);
    if (oom || !o->bucket || !o->key) {
        vodup_meta_object_clear(o);
        return VODUP_META_ENOMEM;
    }
    return VODUP_META_OK;
}

static int mpg_object_get(vodup_meta *m, const char *bucket, const char *key, size_t key_len,
                          vodup_meta_object *out)
{
    memset(out, 0, sizeof *out);
    pg_params p = { .n = 0 };
    pgp_text(&p, bucket);
    pgp_bytes(&p, key, key_len);
    pg_conn *c = mpg__acquire(m);
    PGresult *r;
    /* One statement: the row and its segments from one snapshot. */
    int rc = mpg__exec(c, "object get",
                       "SELECT o.id, o.bucket, o.key, o.size, o.etag, o.crc64, o.md5, o.content_type, o.user_meta,"
                       " o.type, o.mtime, s.blob, s.size FROM objects o LEFT JOIN segments s ON s.object_id = o.id"
                       " WHERE o.bucket = $1 AND o.key = $2 ORDER BY s.seq",
                       &p, &r, NULL);
    mpg__release(m, c);
    if (rc != VODUP_META_OK)
        return rc;
    int n = PQntuples(r);
    if (n == 0) {
        PQclear(r);
        return VODUP_META_ENOTFOUND;
    }
    rc = object_fill(r, 0, out, NULL);
    if (rc == VODUP_META_OK && !PQgetisnull(r, 0, 11)) {
        out->segs = calloc((size_t)n, sizeof *out->segs);
        if (!out->segs)
            rc = VODUP_META_ENOMEM;
        for (int i = 0; rc == VODUP_META_OK && i < n; i++) {
            mpg__copy(out->segs[i].blob, sizeof out->segs[i].blob, r, i, 11);
            out->segs[i].size = (uint64_t)mpg__i64(r, i, 12);
        }
        if (rc == VODUP_META_OK)
            out->nsegs = (size_t)n;
    }
    PQclear(r);
    if (rc != VODUP_META_OK)
        vodup_meta_object_clear(out);
    return rc;
}

static int mpg_object_delete(vodup_meta *m, const char *bucket, const char *key, size_t key_len)
{
    pg_conn *c = mpg__acquire(m);
    int rc = mpg__begin(c);
    if (rc == VODUP_META_OK) {
        long long id;
        rc = key_lock(c, bucket, key, key_len);
        if (rc == VODUP_META_OK)
            rc = mpg__object_find(c, bucket, key, key_len, &id);
        if (rc == VODUP_META_OK)
            rc = id ? mpg__object_drop(c, id) : VODUP_META_ENOTFOUND;
        rc = mpg__end(c, rc);
    }
    mpg__release(m, c);
    return rc;
}


static long long clamp_limit(size_t limit)
{
    return limit > (size_t)LLONG_MAX ? LLONG_MAX : (long long)limit;
}

/* Runs a listing of one bucket's key range ($1 bucket, $2 lower bound, $3 upper bound or
 * NULL, $4 limit, $5 the upload id marker or NULL). Frees kr->hi. */
static int list_key_range(vodup_meta *m, const char *sql, const char *what, const char *bucket, meta_key_range *kr,
                          size_t limit, const char *id_marker, PGresult **r)
{
    pg_params p = { .n = 0 };
    pgp_text(&p, bucket);
    pgp_bytes(&p, kr->lo, kr->lo_len);
    if (kr->hi)
        pgp_bytes(&p, kr->hi, kr->hi_len);
    else
        pgp_text(&p, NULL);
    pgp_i64(&p, clamp_limit(limit));
    pgp_text(&p, id_marker);
    pg_conn *c = mpg__acquire(m);
    int rc = mpg__exec(c, what, sql, &p, r, NULL);
    mpg__release(m, c);
    free(kr->hi);
    return rc;
}

static int mpg_object_list(vodup_meta *m, const char *bucket, const char *prefix, size_t prefix_len,
                           const char *after, size_t after_len, size_t limit,
                           int (*cb)(const vodup_meta_object *o, void *u), void *u)
{
    meta_key_range kr;
    int rc = meta__key_range_init(&kr, prefix, prefix_len, after, after_len);
    if (rc != VODUP_META_OK)
        return rc;
    char sql[400];
    snprintf(sql, sizeof sql,
             "SELECT " OBJECT_COLS " FROM objects WHERE bucket = $1 AND key %s $2%s"
             " AND $5::text IS NULL ORDER BY key LIMIT $4",
             kr.lo_strict ? ">" : ">=", kr.hi ? " AND key < $3" : " AND $3::bytea IS NULL");
    PGresult *r;
    rc = list_key_range(m, sql, "object list", bucket, &kr, limit, NULL, &r);
    for (int i = 0; rc == VODUP_META_OK && i < PQntuples(r); i++) {
        vodup_meta_object o;
        rc = object_fill(r, i, &o, NULL);
        int stop = rc == VODUP_META_OK && cb(&o, u);
        vodup_meta_object_clear(&o);
        if (stop)
            break;
    }
    PQclear(r);
    return rc;
}

/* ---- multipart uploads ----------------------------------------------------------------- */

static long long count_of(pg_conn *c, const char *what, const char *sql, const pg_params *p, int *rc)
{
    PGresult *r;
    long long n = 0;
    *rc = mpg__exec(c, what, sql, p, &r, NULL);
    if (*rc == VODUP_META_OK) {
        n = mpg__i64(r, 0, 0);
        PQclear(r);
    }
    return n;
}

static int mpg_upload_create_guarded(vodup_meta *m, const vodup_meta_upload *up, const char *account_id,
                                     int max_open, const vodup_meta_guard *g, int max_per_key, int *evicted)
{
    if (evicted)
        *evicted = 0;
    pg_conn *c = mpg__acquire(m);
    int rc = mpg__begin(c);
    if (rc == VODUP_META_OK) {
        rc = guard_check(c, g, up->bucket, up->key, up->key_len);
        pg_params bk = { .n = 0 };
        pgp_text(&bk, up->bucket);
        pgp_bytes(&bk, up->key, up->key_len);
        /* Count and evict per key under the key's lock, so two nodes do not both see room. */
        if (rc == VODUP_META_OK && g && max_per_key > 0)
            rc = key_lock(c, up->bucket, up->key, up->key_len);
        if (rc == VODUP_META_OK && g && max_per_key > 0) {
            long long n = count_of(c, "upload key count",
                                   "SELECT count(*) FROM uploads u JOIN upload_creds c ON c.upload_id = u.id"
                                   " WHERE u.bucket = $1 AND u.key = $2",
                                   &bk, &rc);
            for (; rc == VODUP_META_OK && n >= max_per_key; n--) {
                PGresult *r;
                rc = one_row(c, "upload oldest",
                             "SELECT c.upload_id FROM uploads u JOIN upload_creds c ON c.upload_id = u.id"
                             " WHERE u.bucket = $1 AND u.key = $2 ORDER BY c.touched, c.upload_id LIMIT 1",
                             &bk, &r);
                if (rc == VODUP_META_OK) {
                    rc = mpg__upload_drop(c, PQgetvalue(r, 0, 0));
                    PQclear(r);
                }
                if (rc == VODUP_META_OK && evicted)
                    (*evicted)++;
            }
        }
        if (rc == VODUP_META_OK && max_open > 0) {
            pg_params p = { .n = 0 };
            pgp_text(&p, account_id);
            /* The account row locked: two nodes opening its last allowed upload queue here. */
            PGresult *r = NULL;
            rc = one_row(c, "upload count", "SELECT id FROM accounts WHERE id = $1 FOR UPDATE", &p, &r);
            PQclear(r);
            if (rc == VODUP_META_ENOTFOUND)
                rc = VODUP_META_OK;
            long long n = rc == VODUP_META_OK
                              ? count_of(c, "upload count",
                                         "SELECT count(*) FROM uploads u JOIN buckets b ON b.name = u.bucket"
                                         " WHERE b.account_id = $1",
                                         &p, &rc)
                              : 0;
            if (rc == VODUP_META_OK && n >= max_open)
                rc = VODUP_META_ELIMIT;
        }
        if (rc == VODUP_META_OK) {
            pg_params p = { .n = 0 };
            pgp_text(&p, up->upload_id);
            pgp_text(&p, up->bucket);
            pgp_bytes(&p, up->key, up->key_len);
            pgp_i64(&p, up->initiated);
            pgp_text(&p, up->content_type);
            pgp_text(&p, up->user_meta);
            rc = mpg__exec(c, "upload create",
                           "INSERT INTO uploads(id, bucket, key, initiated, content_type, user_meta)"
                           " VALUES($1, $2, $3, $4, $5, $6)",
                           &p, NULL, NULL);
        }
        if (rc == VODUP_META_OK && g) {
            pg_params p = { .n = 0 };
            pgp_text(&p, up->upload_id);
            pgp_i64(&p, (long long)g->expires);
            rc = mpg__exec(c, "upload credential",
                           "INSERT INTO upload_creds(upload_id, expires, touched)"
                           " VALUES($1, $2, nextval('upload_creds_touched_seq'))",
                           &p, NULL, NULL);
        }
        rc = mpg__end(c, rc);
    }
    mpg__release(m, c);
    return rc;
}

static int mpg_upload_create(vodup_meta *m, const vodup_meta_upload *up, const char *account_id, int max_open)
{
    return mpg_upload_create_guarded(m, up, account_id, max_open, NULL, 0, NULL);
}

static int upload_fill(const PGresult *r, int i, vodup_meta_upload *up)
{
    int oom = 0;
    memset(up, 0, sizeof *up);
    mpg__copy(up->upload_id, sizeof up->upload_id, r, i, 0);
    up->bucket = mpg__text(r, i, 1, &oom);
    up->key = mpg__bytes(r, i, 2, &up->key_len, &oom);
    up->initiated = (time_t)mpg__i64(r, i, 3);
    up->content_type = mpg__text(r, i, 4, &oom);
    up->user_meta = mpg__text(r, i, 5, &oom);
    if (oom || !up->bucket || !up->key) {
        vodup_meta_upload_clear(up);
        return VODUP_META_ENOMEM;
    }
    return VODUP_META_OK;
}

/* Reads upload id into out; lock: FOR UPDATE, so that whoever changes it next (Complete,
 * Abort, a part) waits for this transaction and then sees what it left. */
static int upload_read(pg_conn *c, const char *id, vodup_meta_upload *out, int lock)
{
    memset(out, 0, sizeof *out);
    pg_params p = { .n = 0 };
    pgp_text(&p, id);
    PGresult *r;
    int rc = one_row(c, "upload get",
                     lock ? "SELECT " UPLOAD_COLS " FROM uploads WHERE id = $1 FOR UPDATE"
                          : "SELECT " UPLOAD_COLS " FROM uploads WHERE id = $1",
                     &p, &r);
    if (rc == VODUP_META_OK) {
        rc = upload_fill(r, 0, out);
        PQclear(r);
    }
    return rc;
}

static int mpg_upload_get(vodup_meta *m, const char *upload_id, vodup_meta_upload *out)
{
    pg_conn *c = mpg__acquire(m);
    int rc = upload_read(c, upload_id, out, 0);
    mpg__release(m, c);
    return rc;
}

static void part_fill(const PGresult *r, int i, vodup_meta_part *p)
{
    memset(p, 0, sizeof *p);
    p->number = (int)mpg__i64(r, i, 0);
    mpg__copy(p->blob, sizeof p->blob, r, i, 1);
    p->size = (uint64_t)mpg__i64(r, i, 2);
    mpg__copy(p->etag, sizeof p->etag, r, i, 3);
    p->crc64 = (uint64_t)mpg__i64(r, i, 4);
    p->mtime = (time_t)mpg__i64(r, i, 5);
}

static int part_read(pg_conn *c, const char *upload_id, int number, vodup_meta_part *part)
{
    memset(part, 0, sizeof *part);
    pg_params p = { .n = 0 };
    pgp_text(&p, upload_id);
    pgp_i64(&p, number);
    PGresult *r;
    int rc = one_row(c, "part get", "SELECT " PART_COLS " FROM parts WHERE upload_id = $1 AND number = $2", &p, &r);
    if (rc == VODUP_META_OK) {
        part_fill(r, 0, part);
        PQclear(r);
    }
    return rc;
}

static int mpg_part_put_guarded(vodup_meta *m, const char *upload_id, const vodup_meta_part *part,
                                const vodup_meta_guard *g)
{
    pg_conn *c = mpg__acquire(m);
    int rc = mpg__begin(c);
    if (rc == VODUP_META_OK) {
        vodup_meta_upload up;
        /* Locked: a Complete or Abort on another node either ran before (ENOTFOUND here)
         * or waits for this part. */
        rc = upload_read(c, upload_id, &up, 1);
        if (rc == VODUP_META_OK)
            rc = guard_check(c, g, up.bucket, up.key, up.key_len);
        vodup_meta_upload_clear(&up);
        if (rc == VODUP_META_OK && g) {
            pg_params p = { .n = 0 };
            pgp_text(&p, upload_id);
            pgp_i64(&p, (long long)g->expires);
            rc = mpg__exec(c, "upload extend",
                           "UPDATE upload_creds SET expires = greatest(expires, $2),"
                           " touched = nextval('upload_creds_touched_seq') WHERE upload_id = $1",
                           &p, NULL, NULL);
        }
        if (rc == VODUP_META_OK) {
            vodup_meta_part old;
            int r = part_read(c, upload_id, part->number, &old);
            if (r == VODUP_META_OK && strcmp(old.blob, part->blob) != 0)
                rc = gc_add(c, old.blob);
            else if (r != VODUP_META_OK && r != VODUP_META_ENOTFOUND)
                rc = r;
        }
        if (rc == VODUP_META_OK) {
            pg_params p = { .n = 0 };
            pgp_text(&p, upload_id);
            pgp_i64(&p, part->number);
            pgp_text(&p, part->blob);
            pgp_i64(&p, u2s(part->size));
            pgp_text(&p, part->etag);
            pgp_i64(&p, u2s(part->crc64));
            pgp_i64(&p, part->mtime);
            rc = mpg__exec(c, "part put",
                           "INSERT INTO parts(upload_id, number, blob, size, etag, crc64, mtime)"
                           " VALUES($1, $2, $3, $4, $5, $6, $7) ON CONFLICT(upload_id, number) DO UPDATE SET"
                           " blob = excluded.blob, size = excluded.size, etag = excluded.etag,"
                           " crc64 = excluded.crc64, mtime = excluded.mtime",
                           &p, NULL, NULL);
        }
        if (rc == VODUP_META_OK)
            rc = gc_forget(c, part->blob);
        rc = mpg__end(c, rc);
    }
    mpg__release(m, c);
    return rc;
}

static int mpg_part_put(vodup_meta *m, const char *upload_id, const vodup_meta_part *p)
{
    return mpg_part_put_guarded(m, upload_id, p, NULL);
}

static int mpg_part_list(vodup_meta *m, const char *upload_id, int marker, size_t limit,
                         int (*cb)(const vodup_meta_part *p, void *u), void *u)
{
    pg_params p = { .n = 0 };
    pgp_text(&p, upload_id);
    pgp_i64(&p, marker);
    pgp_i64(&p, clamp_limit(limit));
    pg_conn *c = mpg__acquire(m);
    PGresult *r;
    /* The upload's existence and its parts in one statement (one snapshot): a row with
     * NULL part columns when it has none. */
    int rc = mpg__exec(c, "part list",
                       "SELECT p.number, p.blob, p.size, p.etag, p.crc64, p.mtime FROM uploads u"
                       " LEFT JOIN LATERAL (SELECT * FROM parts WHERE upload_id = u.id AND number > $2"
                       " ORDER BY number LIMIT $3) p ON true WHERE u.id = $1 ORDER BY p.number",
                       &p, &r, NULL);
    mpg__release(m, c);
    if (rc != VODUP_META_OK)
        return rc;
    if (PQntuples(r) == 0)
        rc = VODUP_META_ENOTFOUND;
    for (int i = 0; rc == VODUP_META_OK && i < PQntuples(r) && !PQgetisnull(r, i, 0); i++) {
        vodup_meta_part part;
        part_fill(r, i, &part);
        if (cb(&part, u))
            break;
    }
    PQclear(r);
    return rc;
}

int mpg__upload_drop(pg_conn *c, const char *upload_id)
{
    int rc = run_text(c, "upload drop",
                      "INSERT INTO blob_gc(blob) SELECT blob FROM parts WHERE upload_id = $1 ON CONFLICT DO NOTHING",
                      upload_id);
    if (rc == VODUP_META_OK)
        rc = run_text(c, "upload drop", "DELETE FROM parts WHERE upload_id = $1", upload_id);
    if (rc == VODUP_META_OK)
        rc = run_text(c, "upload drop", "DELETE FROM uploads WHERE id = $1", upload_id);
    return rc;
}

static int mpg_upload_abort(vodup_meta *m, const char *upload_id)
{
    pg_conn *c = mpg__acquire(m);
    int rc = mpg__begin(c);
    if (rc == VODUP_META_OK) {
        vodup_meta_upload up;
        rc = upload_read(c, upload_id, &up, 1);
        vodup_meta_upload_clear(&up);
        if (rc == VODUP_META_OK)
            rc = mpg__upload_drop(c, upload_id);
        rc = mpg__end(c, rc);
    }
    mpg__release(m, c);
    return rc;
}

/* Aborts the uploads sql ($1 before, $2 max) selects, one transaction each. */
static int expire_where(vodup_meta *m, const char *sql, time_t before, int max)
{
    if (max <= 0)
        return 0;
    pg_params p = { .n = 0 };
    pgp_i64(&p, (long long)before);
    pgp_i64(&p, max);
    pg_conn *c = mpg__acquire(m);
    PGresult *r;
    int rc = mpg__exec(c, "upload expire", sql, &p, &r, NULL);
    mpg__release(m, c);
    if (rc != VODUP_META_OK)
        return rc;
    int done = 0;
    for (int i = 0; i < PQntuples(r) && i < max; i++)
        if (mpg_upload_abort(m, PQgetvalue(r, i, 0)) == VODUP_META_OK)
            done++;
    PQclear(r);
    return done;
}

static int mpg_upload_expire(vodup_meta *m, time_t before, int max)
{
    return expire_where(m, "SELECT id FROM uploads WHERE initiated < $1 ORDER BY initiated LIMIT $2", before, max);
}

static int mpg_upload_expire_creds(vodup_meta *m, time_t before, int max)
{
    return expire_where(m, "SELECT upload_id FROM upload_creds WHERE expires < $1 ORDER BY expires LIMIT $2",
                        before, max);
}

static int mpg_upload_list(vodup_meta *m, const char *bucket, const char *prefix, size_t prefix_len,
                           const char *key_marker, size_t key_marker_len, const char *upload_id_marker,
                           size_t limit, int (*cb)(const vodup_meta_upload *u, void *user), void *user)
{
    meta_key_range kr;
    int rc = meta__key_range_init(&kr, prefix, prefix_len, key_marker, key_marker_len);
    if (rc != VODUP_META_OK)
        return rc;
    int by_id = kr.marker_is_lo && upload_id_marker && *upload_id_marker;
    const char *lower = by_id ? "(key, id) > ($2, $5)" : kr.lo_strict ? "key > $2 AND $5::text IS NULL"
                                                                      : "key >= $2 AND $5::text IS NULL";
    char sql[400];
    snprintf(sql, sizeof sql,
             "SELECT " UPLOAD_COLS " FROM uploads WHERE bucket = $1 AND %s%s ORDER BY key, id LIMIT $4", lower,
             kr.hi ? " AND key < $3" : " AND $3::bytea IS NULL");
    PGresult *r;
    rc = list_key_range(m, sql, "upload list", bucket, &kr, limit, by_id ? upload_id_marker : NULL, &r);
    for (int i = 0; rc == VODUP_META_OK && i < PQntuples(r); i++) {
        vodup_meta_upload up;
        rc = upload_fill(r, i, &up);
        int stop = rc == VODUP_META_OK && cb(&up, user);
        vodup_meta_upload_clear(&up);
        if (stop)
            break;
    }
    PQclear(r);
    return rc;
}

/* The part reader of meta_shared.h's Complete checks: one part of this upload on c. */
typedef struct part_reader {
    pg_conn *c;
    const char *upload_id;
} part_reader;

static int read_part(void *ctx, int number, vodup_meta_part *out)
{
    const part_reader *r = ctx;
    return part_read(r->c, r->upload_id, number, out);
}

/* The end of every Complete, inside its transaction (see meta_sqlite.c). */
static int complete_record(pg_conn *c, const char *upload_id, const vodup_meta_upload *up, vodup_meta_object *o,
                           const vodup_meta_part *got, size_t n, const char **blobs, uint64_t *sizes)
{
    meta__complete_object(o, up, got, n, blobs, sizes);
    long long id;
    int rc = object_store(c, o, blobs, sizes, n, &id);
    if (rc == VODUP_META_OK) {
        pg_params p = { .n = 0 };
        pgp_text(&p, upload_id);
        pgp_i64(&p, id);
        rc = mpg__exec(c, "complete gc",
                       "INSERT INTO blob_gc(blob) SELECT blob FROM parts WHERE upload_id = $1 AND blob NOT IN"
                       " (SELECT blob FROM segments WHERE object_id = $2) ON CONFLICT DO NOTHING",
                       &p, NULL, NULL);
    }
    if (rc == VODUP_META_OK)
        rc = run_text(c, "complete drop", "DELETE FROM parts WHERE upload_id = $1", upload_id);
    if (rc == VODUP_META_OK)
        rc = run_text(c, "complete drop", "DELETE FROM uploads WHERE id = $1", upload_id);
    return rc;
}

static int mpg_upload_complete_guarded(vodup_meta *m, const char *upload_id, const vodup_meta_complete_part *parts,
                                       size_t nparts, uint64_t min_part_size, time_t now, vodup_meta_object *out,
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

    pg_conn *c = mpg__acquire(m);
    int rc = mpg__begin(c);
    if (rc == VODUP_META_OK) {
        rc = upload_read(c, upload_id, &up, 1);
        if (rc == VODUP_META_OK)
            rc = guard_check(c, g, up.bucket, up.key, up.key_len);
        part_reader pr = { c, upload_id };
        if (rc == VODUP_META_OK)
            rc = meta__complete_check(parts, nparts, min_part_size, read_part, &pr, got, bad_index);
        if (rc == VODUP_META_OK)
            rc = meta__complete_fields(&o, got, nparts, now);
        if (rc == VODUP_META_OK)
            rc = complete_record(c, upload_id, &up, &o, got, nparts, blobs, sizes);
        rc = mpg__end(c, rc);
    }
    mpg__release(m, c);
    if (rc == VODUP_META_OK && out) {
        *out = o;
        up.bucket = up.key = up.content_type = up.user_meta = NULL;
    }
    vodup_meta_upload_clear(&up);
    free(got);
    free(blobs);
    free(sizes);
    return rc;
}

static int mpg_upload_complete(vodup_meta *m, const char *upload_id, const vodup_meta_complete_part *parts,
                               size_t nparts, uint64_t min_part_size, time_t now, vodup_meta_object *out,
                               size_t *bad_index)
{
    return mpg_upload_complete_guarded(m, upload_id, parts, nparts, min_part_size, now, out, bad_index, NULL);
}

static int mpg_upload_commit(vodup_meta *m, const char *upload_id, const vodup_meta_part *parts, size_t nparts,
                             const vodup_meta_object *fields, const vodup_meta_guard *g, vodup_meta_object *out,
                             size_t *bad_index)
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

    pg_conn *c = mpg__acquire(m);
    int rc = mpg__begin(c);
    if (rc == VODUP_META_OK) {
        rc = upload_read(c, upload_id, &up, 1);
        if (rc == VODUP_META_OK)
            rc = guard_check(c, g, up.bucket, up.key, up.key_len);
        /* Each part must still be the one the caller read. */
        part_reader pr = { c, upload_id };
        if (rc == VODUP_META_OK)
            rc = meta__commit_check(parts, nparts, read_part, &pr, bad_index);
        if (rc == VODUP_META_OK)
            rc = complete_record(c, upload_id, &up, &o, parts, nparts, blobs, sizes);
        rc = mpg__end(c, rc);
    }
    mpg__release(m, c);
    if (rc == VODUP_META_OK && out) {
        *out = o;
        up.bucket = up.key = up.content_type = up.user_meta = NULL;
    }
    vodup_meta_upload_clear(&up);
    free(blobs);
    free(sizes);
    return rc;
}

/* ---- blob bookkeeping ------------------------------------------------------------------ */

static int mpg_gc_take_after(vodup_meta *m, const char *after, char (*ids)[VODUP_BLOB_ID_LEN + 1], int max)
{
    if (max <= 0)
        return 0;
    pg_params p = { .n = 0 };
    pgp_i64(&p, max);
    pgp_text(&p, after);
    pg_conn *c = mpg__acquire(m);
    PGresult *r;
    int rc = mpg__exec(c, "gc take",
                       after ? "SELECT blob FROM blob_gc WHERE blob > $2 ORDER BY blob LIMIT $1"
                             : "SELECT blob FROM blob_gc WHERE $2::text IS NULL LIMIT $1",
                       &p, &r, NULL);
    mpg__release(m, c);
    if (rc != VODUP_META_OK)
        return rc;
    int n = 0;
    for (; n < PQntuples(r) && n < max; n++)
        mpg__copy(ids[n], sizeof ids[0], r, n, 0);
    PQclear(r);
    return n;
}

static int mpg_gc_take(vodup_meta *m, char (*ids)[VODUP_BLOB_ID_LEN + 1], int max)
{
    return mpg_gc_take_after(m, NULL, ids, max);
}

static int mpg_gc_done(vodup_meta *m, char (*ids)[VODUP_BLOB_ID_LEN + 1], int n)
{
    if (n <= 0)
        return VODUP_META_OK;
    pg_conn *c = mpg__acquire(m);
    int rc = mpg__begin(c);
    for (int i = 0; i < n && rc == VODUP_META_OK; i++) {
        char id[VODUP_BLOB_ID_LEN + 1];
        snprintf(id, sizeof id, "%.*s", VODUP_BLOB_ID_LEN, ids[i]);
        rc = gc_forget(c, id);
    }
    rc = mpg__end(c, rc);
    mpg__release(m, c);
    return rc;
}

static int mpg_blob_is_live(vodup_meta *m, const char *blob)
{
    pg_params p = { .n = 0 };
    pgp_text(&p, blob);
    pg_conn *c = mpg__acquire(m);
    PGresult *r;
    int rc = mpg__exec(c, "blob is live",
                       "SELECT EXISTS(SELECT 1 FROM segments WHERE blob = $1)"
                       " OR EXISTS(SELECT 1 FROM parts WHERE blob = $1)",
                       &p, &r, NULL);
    mpg__release(m, c);
    if (rc != VODUP_META_OK)
        return rc;
    rc = PQgetvalue(r, 0, 0)[0] == 't';
    PQclear(r);
    return rc;
}

/* ---- the ops table --------------------------------------------------------------- */

const vodup_meta_ops meta__pg_ops = {
    .version = 5,
    .name = "postgres",
    .close = mpg_close,
    .account_create = mpg_account_create,
    .key_create = mpg_key_create,
    .key_get = mpg_key_get,
    .setting_get = mpg_setting_get,
    .setting_set = mpg_setting_set,
    .setting_add = mpg_setting_add,
    .bucket_create = mpg_bucket_create,
    .bucket_get = mpg_bucket_get,
    .bucket_delete = mpg_bucket_delete,
    .bucket_list = mpg_bucket_list,
    .object_put = mpg_object_put,
    .object_get = mpg_object_get,
    .object_delete = mpg_object_delete,
    .object_list = mpg_object_list,
    .upload_create = mpg_upload_create,
    .upload_get = mpg_upload_get,
    .part_put = mpg_part_put,
    .part_list = mpg_part_list,
    .upload_abort = mpg_upload_abort,
    .upload_expire = mpg_upload_expire,
    .upload_list = mpg_upload_list,
    .upload_complete = mpg_upload_complete,
    .gc_take = mpg_gc_take,
    .gc_done = mpg_gc_done,
    .blob_is_live = mpg_blob_is_live,
    .object_put_guarded = mpg_object_put_guarded,
    .part_put_guarded = mpg_part_put_guarded,
    .upload_complete_guarded = mpg_upload_complete_guarded,
    .upload_commit = mpg_upload_commit,
    .upload_create_guarded = mpg_upload_create_guarded,
    .upload_expire_creds = mpg_upload_expire_creds,
    .gc_take_after = mpg_gc_take_after,
    .principal_delete_revoking = mpg_principal_delete_revoking,
    .revocation_get = mpg_revocation_get,
    .principal_create = mpg_principal_create,
    .principal_get = mpg_principal_get,
    .principal_list = mpg_principal_list,
    .principal_delete = mpg_principal_delete,
    .key_list = mpg_key_list,
    .nonce_use = mpg_nonce_use,
    .media_create = mpg_media_create,
    .media_get = mpg_media_get,
    .media_find_object = mpg_media_find_object,
    .media_list = mpg_media_list,
    .media_delete = mpg_media_delete,
    .media_set_status = mpg_media_set_status,
    .callback_set = mpg_callback_set,
    .callback_get = mpg_callback_get,
    .callback_seal_all = mpg_callback_seal_all,
    .event_due = mpg_event_due,
    .event_list = mpg_event_list,
    .event_prepare = mpg_event_prepare,
    .event_done = mpg_event_done,
    .event_retry = mpg_event_retry,
    .event_defer = mpg_event_defer,
    .event_next = mpg_event_next,
    .revocations_get = mpg_revocations_get,
    .revocations_close = mpg_revocations_close,
    .key_create_max = mpg_key_create_max,
    .key_set_active = mpg_key_set_active,
    .key_delete = mpg_key_delete,
    .media_expire_uploading = mpg_media_expire_uploading,
    .probe_job_add = mpg_probe_job_add,
    .probe_job_claim = mpg_probe_job_claim,
    .probe_job_release = mpg_probe_job_release,
    .probe_job_finish = mpg_probe_job_finish,
    .probe_job_count = mpg_probe_job_count,
    .media_info_get = mpg_media_info_get,
    .probe_job_requeue_node = mpg_probe_job_requeue_node,
    .usage_get = mpg_usage_get,
    .quota_set = mpg_quota_set,
};
