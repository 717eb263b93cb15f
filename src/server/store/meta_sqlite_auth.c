/* meta_sqlite_auth.c - revocation of temporary credentials (meta.h, "revocation").
 *
 * Temporary credentials verify without the database (auth/token.h), so deleting the role
 * or user they came from cannot take them back by deleting a row. Instead every
 * principal of an account has a generation, kept in the settings table as
 *
 *     revoke:<account>:<kind>/<name>  ->  "<generation>"   (absent: 0)
 *     revoke_epoch                    ->  "<number of revocations so far>"
 *
 * Credentials seal the generations of the principals they derive from at issue; deleting
 * a principal advances its generation in the same transaction as the deletion, and a
 * credential whose sealed generation is behind is refused. Generations rather than
 * "revoked before <time>": they need no clock agreement between the admin command, the
 * issuing node and the verifying node, and a role deleted and created again under the
 * same name does not revive the old sessions.
 *
 * Reading the generations costs nothing on most requests: vodup_meta_revocations caches
 * the whole table on a connection of its own and asks SQLite's PRAGMA data_version
 * whether any connection (in this process or another, e.g. `vodupd role delete` run
 * next to a serving vodupd) committed since. Only then does it read revoke_epoch (one
 * row), and only when the epoch moved does it reload the table. So an admin command's
 * revocation is seen by the very next request, with no TTL.
 */
#include "server/store/meta_sqlite_int.h"

#include <errno.h>
#include <pthread.h>
#include <stdio.h>

#define REVOKE_PREFIX "revoke:"
#define REVOKE_EPOCH "revoke_epoch"
#define REVOKE_NAME_MAX 256

/* Advances a decimal counter in settings (absent counts as 0). */
static const char BUMP_SQL[] = "INSERT INTO settings(name, value) VALUES(?1, '1')"
                               " ON CONFLICT(name) DO UPDATE SET value = CAST(value AS INTEGER) + 1";

static int revoke_name(char *out, size_t n, const char *account_id, const char *principal)
{
    int r = snprintf(out, n, REVOKE_PREFIX "%s:%s", account_id, principal);
    return r < 0 || (size_t)r >= n ? -1 : 0;
}

/* A stored generation: a canonical non-negative decimal. -1 when it is not one (a
 * corrupted row must not read as 0, which would un-revoke). */
static long long parse_gen(const unsigned char *t)
{
    if (!t || !*t)
        return -1;
    long long v = 0;
    for (const unsigned char *p = t; *p; p++) {
        if (*p < '0' || *p > '9' || v > (LLONG_MAX - 9) / 10)
            return -1;
        v = v * 10 + (*p - '0');
    }
    return v;
}

static int bump(conn *c, const char *name)
{
    sqlite3_stmt *s;
    int rc = meta__prepare_once(c, BUMP_SQL, "revocation bump", &s);
    if (rc != VODUP_META_OK)
        return rc;
    bind_text(s, 1, name);
    rc = meta__exec_done(c, s, "revocation bump");
    sqlite3_finalize(s);
    return rc;
}

int msq_principal_delete_revoking(vodup_meta *m, const char *kind, const char *account_id, const char *name)
{
    char rname[REVOKE_NAME_MAX], principal[160];
    int r = snprintf(principal, sizeof principal, "%s/%s", kind, name);
    if (r < 0 || (size_t)r >= sizeof principal || revoke_name(rname, sizeof rname, account_id, principal) != 0)
        return VODUP_META_ENOTFOUND; /* no principal has a name that long */
    conn *c = meta__acquire(m);
    int rc = meta__tx_begin(c, 1);
    if (rc == VODUP_META_OK) {
        rc = meta__principal_delete_tx(c, kind, account_id, name);
        /* One transaction with the deletion: there is no moment (nor crash) at which the
         * principal is gone and its temporary credentials still valid. */
        if (rc == VODUP_META_OK)
            rc = bump(c, rname);
        if (rc == VODUP_META_OK)
            rc = bump(c, REVOKE_EPOCH);
        rc = meta__tx_end(c, rc);
    }
    meta__release(m, c);
    return rc;
}

int msq_revocation_get(vodup_meta *m, const char *account_id, const char *principal, long long *gen)
{
    *gen = 0;
    char rname[REVOKE_NAME_MAX];
    if (revoke_name(rname, sizeof rname, account_id, principal) != 0)
        return VODUP_META_OK; /* a name no principal can have was never revoked */
    char *v = NULL;
    int rc = meta__get_by_text(m, S_SETTING_GET, rname, "revocation get", meta__text_from_row, &v);
    if (rc == VODUP_META_ENOTFOUND) {
        free(v);
        return VODUP_META_OK;
    }
    if (rc == VODUP_META_OK) {
        *gen = parse_gen((const unsigned char *)v);
        if (*gen < 0) {
            fprintf(stderr, "vodup meta: the revocation record %s is not a number\n", rname);
            rc = VODUP_META_EIO;
        }
    }
    free(v);
    return rc;
}

/* ---- the cache -------------------------------------------------------------------- */

typedef struct rev_entry {
    char *name;     /* "<account>:<kind>/<name>" */
    long long gen;
} rev_entry;

/* The SQLite back end's revocation cache; the common part first (meta_ops.h). */
typedef struct rev_cache {
    vodup_meta_revocations base;
    pthread_mutex_t mu;  /* one request at a time uses the connection and the table */
    sqlite3 *db;
    sqlite3_stmt *dv, *epoch, *all, *begin, *commit;
    int loaded;
    long long data_version;
    long long epoch_value;
    rev_entry *v;
    size_t n;
} rev_cache;

static void entries_free(rev_entry *v, size_t n)
{
    for (size_t i = 0; i < n; i++)
        free(v[i].name);
    free(v);
}

static int cmp_entry(const void *a, const void *b)
{
    return strcmp(((const rev_entry *)a)->name, ((const rev_entry *)b)->name);
}

static int step_reset(sqlite3_stmt *s, int *row)
{
    int r = sqlite3_step(s);
    *row = r == SQLITE_ROW;
    return r == SQLITE_ROW || r == SQLITE_DONE ? 0 : -1;
}

/* Reads the whole table (inside the caller's read transaction). */
static int reload(rev_cache *r)
{
    rev_entry *v = NULL;
    size_t n = 0, cap = 0;
    int rc = 0, st;
    sqlite3_reset(r->all);
    while ((st = sqlite3_step(r->all)) == SQLITE_ROW) {
        const unsigned char *name = sqlite3_column_text(r->all, 0);
        long long gen = parse_gen(sqlite3_column_text(r->all, 1));
        if (!name || gen < 0) {
            fprintf(stderr, "vodup meta: a revocation record is not a number\n");
            rc = -1;
            break;
        }
        if (n == cap) {
            size_t nc = cap ? 2 * cap : 16;
            rev_entry *nv = realloc(v, nc * sizeof *nv);
            if (!nv) {
                rc = -1;
                break;
            }
            v = nv;
            cap = nc;
        }
        v[n].name = strdup((const char *)name + strlen(REVOKE_PREFIX));
        if (!v[n].name) {
            rc = -1;
            break;
        }
        v[n++].gen = gen;
    }
    if (st != SQLITE_DONE && rc == 0)
        rc = -1;
    sqlite3_reset(r->all);
    if (rc != 0) {
        entries_free(v, n);
        return -1;
    }
    /* Sorted by strcmp for bsearch (SQLite's order is the same for TEXT with the default
     * collation, but nothing here depends on that). */
    if (n)
        qsort(v, n, sizeof *v, cmp_entry);
    entries_free(r->v, r->n);
    r->v = v;
    r->n = n;
    return 0;
}

/* Brings the table up to date with the database (caller holds mu). 0 ok, -1 failed (the
 * cache is then left as it was and marked stale, so the next call tries again). */
static int refresh(rev_cache *r)
{
    int row;
    sqlite3_reset(r->dv);
    if (step_reset(r->dv, &row) != 0 || !row) {
        sqlite3_reset(r->dv);
        return -1;
    }
    long long dv = sqlite3_column_int64(r->dv, 0);
    sqlite3_reset(r->dv);
    if (r->loaded && dv == r->data_version)
        return 0;
    /* data_version is read before the transaction below starts: a commit between the two
     * is seen by the transaction, and changes data_version again, so it is never missed;
     * at worst it costs one more epoch read. */
    int ok = 0;
    sqlite3_reset(r->begin);
    if (step_reset(r->begin, &row) == 0) {
        sqlite3_reset(r->epoch);
        if (step_reset(r->epoch, &row) == 0) {
            long long e = row ? parse_gen(sqlite3_column_text(r->epoch, 0)) : 0;
            sqlite3_reset(r->epoch);
            if (e >= 0 && (!r->loaded || e != r->epoch_value)) {
                if (reload(r) == 0) {
                    r->epoch_value = e;
                    ok = 1;
                }
            } else if (e >= 0) {
                ok = 1;
            }
        }
        sqlite3_reset(r->epoch);
        sqlite3_reset(r->commit);
        if (sqlite3_step(r->commit) != SQLITE_DONE) {
            ok = 0;
            sqlite3_exec(r->db, "ROLLBACK", NULL, NULL, NULL);
        }
        sqlite3_reset(r->commit);
    }
    sqlite3_reset(r->begin);
    if (!ok) {
        r->loaded = 0;
        return -1;
    }
    r->loaded = 1;
    r->data_version = dv;
    return 0;
}

static void cache_close(rev_cache *r);

vodup_meta_revocations *vodup_meta_revocations_open_sqlite(const char *data_dir)
{
    rev_cache *r = calloc(1, sizeof *r);
    size_t plen = strlen(data_dir) + sizeof "/vodup.db";
    char *path = malloc(plen);
    if (!r || !path) {
        free(r);
        free(path);
        errno = ENOMEM;
        return NULL;
    }
    if (vodup_meta_revocations_init(&r->base, &meta__sqlite_ops) != VODUP_META_OK) {
        free(r);
        free(path);
        errno = EINVAL;
        return NULL;
    }
    snprintf(path, plen, "%s/vodup.db", data_dir);
    pthread_mutex_init(&r->mu, NULL);
    /* Never writes; READWRITE only because a WAL reader may need to create the -shm
     * file. No CREATE: the database exists (vodup_meta_open_sqlite made and migrated it). */
    int rc = sqlite3_open_v2(path, &r->db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_NOMUTEX, NULL);
    free(path);
    if (rc == SQLITE_OK) {
        sqlite3_busy_timeout(r->db, 10000);
        rc = sqlite3_prepare_v2(r->db, "PRAGMA data_version", -1, &r->dv, NULL);
    }
    if (rc == SQLITE_OK)
        rc = sqlite3_prepare_v2(r->db, "SELECT value FROM settings WHERE name = '" REVOKE_EPOCH "'", -1, &r->epoch,
                                NULL);
    /* The prefix range: ';' is the character after ':'. */
    if (rc == SQLITE_OK)
        rc = sqlite3_prepare_v2(r->db,
                                "SELECT name, value FROM settings WHERE name >= '" REVOKE_PREFIX
                                "' AND name < 'revoke;'",
                                -1, &r->all, NULL);
    if (rc == SQLITE_OK)
        rc = sqlite3_prepare_v2(r->db, "BEGIN", -1, &r->begin, NULL);
    if (rc == SQLITE_OK)
        rc = sqlite3_prepare_v2(r->db, "COMMIT", -1, &r->commit, NULL);
    if (rc != SQLITE_OK) {
        fprintf(stderr, "vodup meta: revocation cache: %s\n", r->db ? sqlite3_errmsg(r->db) : sqlite3_errstr(rc));
        cache_close(r);
        errno = EIO;
        return NULL;
    }
    return &r->base;
}

int msq_revocations_get(vodup_meta_revocations *rp, const char *account_id, const char *principal,
                        long long *gen)
{
    rev_cache *r = (rev_cache *)rp;
    *gen = 0;
    char name[REVOKE_NAME_MAX];
    int r1 = snprintf(name, sizeof name, "%s:%s", account_id, principal);
    if (r1 < 0 || (size_t)r1 >= sizeof name)
        return VODUP_META_OK; /* as vodup_meta_revocation_get */
    pthread_mutex_lock(&r->mu);
    int rc = VODUP_META_EIO;
    if (refresh(r) == 0) {
        rev_entry key = {name, 0};
        const rev_entry *e = r->n ? bsearch(&key, r->v, r->n, sizeof *r->v, cmp_entry) : NULL;
        *gen = e ? e->gen : 0;
        rc = VODUP_META_OK;
    }
    pthread_mutex_unlock(&r->mu);
    return rc;
}

void msq_revocations_close(vodup_meta_revocations *r)
{
    cache_close((rev_cache *)r);
}

static void cache_close(rev_cache *r)
{
    sqlite3_finalize(r->dv);
    sqlite3_finalize(r->epoch);
    sqlite3_finalize(r->all);
    sqlite3_finalize(r->begin);
    sqlite3_finalize(r->commit);
    sqlite3_close(r->db);
    entries_free(r->v, r->n);
    pthread_mutex_destroy(&r->mu);
    free(r);
}
