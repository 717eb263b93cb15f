/* metrics.c - request counters and the admin listener (/healthz, /metrics).
 *
 * The admin endpoints have their own listener (--admin-listen) instead of paths on the
 * object store's: "healthz" and "metrics" are valid bucket names, so on the public port
 * these paths belong to OSS clients; and what /metrics tells (operations, load, disk) is
 * for the operator's monitoring, not for the internet. Its daemon has one thread of its
 * own, so a check that waits on the database or a slow disk never holds up uploads.
 *
 * Counters: one series per (dialect, operation, status), in a fixed table filled
 * lock-free (a slot is claimed once by compare-and-swap, then only its atomics change).
 * Operation names come from a closed set (the router's handlers, the RPC actions vodupd
 * knows), but an RPC Action is as the client sent it, so a name that is not a short
 * identifier, or any series beyond the table, is counted as operation "other".
 */
#include "server/http/metrics.h"
#include "server/dialect.h"
#include "server/http/request.h"

#include <errno.h>
#include <fcntl.h>
#include <microhttpd.h>
#include <sqlite3.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/statvfs.h>
#include <time.h>
#include <unistd.h>

#include "common/buf.h"
#include "server/server.h"
#include "server/store/meta_ops.h"

#define METRICS_MAX_SERIES 512 /* (dialect, operation, status) combinations kept apart */
#define METRICS_MAX_OP     48  /* longest operation name kept as a label */
#define METRICS_MAX_FRONTS 4
#define METRICS_DB_TIMEOUT_MS 2000 /* /healthz: the database must answer within this */

/* Request latency buckets, seconds: small requests take milliseconds, part uploads
 * seconds, whole-object PUTs of gigabytes minutes. */
static const double BUCKETS[] = {0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300};
#define NBUCKETS (sizeof BUCKETS / sizeof BUCKETS[0])

typedef struct series {
    _Atomic int state; /* 0 free, 1 being filled, 2 ready */
    char dialect[4];
    char op[METRICS_MAX_OP + 1];
    unsigned status;
    atomic_ullong count, bytes_in, bytes_out;
} series;

static series g_series[METRICS_MAX_SERIES];
/* One histogram per entry of the dialect table (dialect.h), and one for requests no dialect
 * took ("-"). */
#define METRICS_MAX_DIALECTS 8
static atomic_ullong g_hist[METRICS_MAX_DIALECTS + 1][NBUCKETS + 1]; /* last: +Inf */
static atomic_ullong g_hist_count[METRICS_MAX_DIALECTS + 1];
static _Atomic double g_hist_sum[METRICS_MAX_DIALECTS + 1];

/* The dialects' histogram slots: their index in the table; ndialects() for "-". */
static int ndialects(void)
{
    int n = 0;
    while (n < METRICS_MAX_DIALECTS && vodup_dialects[n])
        n++;
    return n;
}

static int dialect_slot(const char *name)
{
    int n = ndialects();
    for (int i = 0; i < n; i++)
        if (strcmp(vodup_dialects[i]->name, name) == 0)
            return i;
    return n;
}

static const char *slot_name(int i)
{
    return i < ndialects() ? vodup_dialects[i]->name : "-";
}
static struct {
    struct MHD_Daemon *d;
    const char *name;
} g_fronts[METRICS_MAX_FRONTS];
static atomic_int g_nfronts;

static int op_ok(const char *op)
{
    size_t n = strlen(op);
    if (n == 0 || n > METRICS_MAX_OP)
        return 0;
    for (size_t i = 0; i < n; i++) {
        char c = op[i];
        if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_' || c == '-'))
            return 0;
    }
    return 1;
}

static series *find_series(const char *dialect, const char *op, unsigned status)
{
    /* Open addressing over a small table; collisions walk on. */
    unsigned h = 2166136261u;
    for (const char *p = dialect; *p; p++)
        h = (h ^ (unsigned char)*p) * 16777619u;
    for (const char *p = op; *p; p++)
        h = (h ^ (unsigned char)*p) * 16777619u;
    h = (h ^ status) * 16777619u;
    for (unsigned i = 0; i < METRICS_MAX_SERIES; i++) {
        series *s = &g_series[(h + i) % METRICS_MAX_SERIES];
        int st = atomic_load(&s->state);
        if (st == 0) {
            int expect = 0;
            if (atomic_compare_exchange_strong(&s->state, &expect, 1)) {
                snprintf(s->dialect, sizeof s->dialect, "%s", dialect);
                snprintf(s->op, sizeof s->op, "%s", op);
                s->status = status;
                atomic_store(&s->state, 2);
                return s;
            }
            st = expect;
        }
        while (st == 1) /* another thread is filling this slot: a few stores away */
            st = atomic_load(&s->state);
        if (s->status == status && strcmp(s->dialect, dialect) == 0 && strcmp(s->op, op) == 0)
            return s;
    }
    return NULL;
}

void metrics_request(const char *dialect, const char *op, unsigned status, uint64_t in, uint64_t out, double secs)
{
    if (!op || !op_ok(op))
        op = op && *op ? "other" : "-";
    series *s = find_series(dialect, op, status);
    if (!s)
        s = find_series(dialect, "other", status);
    if (s) {
        atomic_fetch_add(&s->count, 1);
        atomic_fetch_add(&s->bytes_in, in);
        atomic_fetch_add(&s->bytes_out, out);
    }
    int d = dialect_slot(dialect);
    size_t b = 0;
    while (b < NBUCKETS && secs > BUCKETS[b])
        b++;
    atomic_fetch_add(&g_hist[d][b], 1);
    atomic_fetch_add(&g_hist_count[d], 1);
    double cur = atomic_load(&g_hist_sum[d]);
    while (!atomic_compare_exchange_weak(&g_hist_sum[d], &cur, cur + secs))
        ;
}

void metrics_add_front(http_front *f, const char *name)
{
    struct MHD_Daemon *d = http_daemon(f);
    if (!d)
        return;
    int i = atomic_load(&g_nfronts);
    if (i >= METRICS_MAX_FRONTS)
        return;
    g_fronts[i].d = d;
    g_fronts[i].name = name;
    atomic_store(&g_nfronts, i + 1);
}

/* ---- the admin listener ------------------------------------------------------------ */

struct metrics_admin {
    vodupd *s;
    struct MHD_Daemon *d;
    uint64_t reserve;
    unsigned reserve_pct;
};

typedef struct store_stats {
    int ok;               /* the database answered */
    int counts;           /* the counts below were read (SQLite only, for now) */
    char err[160];
    long long uploads;    /* open multipart uploads */
    long long outbox;     /* events not yet delivered */
    long long oldest_age; /* seconds, of the oldest undelivered event (0: none) */
    long long failing;    /* undelivered events with at least one failed try */
} store_stats;

/* A read-only connection of its own, opened per check: it sees what the server
 * committed (WAL) and cannot write or block a writer. Another back end (PostgreSQL, shared
 * by several nodes) has no file here: it is asked through the metadata port, a read of one
 * setting over a pooled connection (this thread serves no event loop: loop_guard.h), and
 * the outbox and upload counts are left out. */
static void read_store(const vodupd *s, store_stats *st)
{
    memset(st, 0, sizeof *st);
    if (s->meta && strcmp(s->meta->ops->name, "sqlite") != 0) {
        char *v = NULL;
        int rc = vodup_meta_setting_get(s->meta, "root_account", &v);
        free(v);
        st->ok = rc == VODUP_META_OK || rc == VODUP_META_ENOTFOUND;
        if (!st->ok)
            snprintf(st->err, sizeof st->err, "the %s database does not answer", s->meta->ops->name);
        return;
    }
    const char *data_dir = s->data_dir;
    char path[4096];
    snprintf(path, sizeof path, "%s/vodup.db", data_dir);
    sqlite3 *db = NULL;
    if (sqlite3_open_v2(path, &db, SQLITE_OPEN_READONLY | SQLITE_OPEN_NOMUTEX, NULL) != SQLITE_OK) {
        snprintf(st->err, sizeof st->err, "cannot open the database: %s", db ? sqlite3_errmsg(db) : "out of memory");
        sqlite3_close(db);
        return;
    }
    sqlite3_busy_timeout(db, METRICS_DB_TIMEOUT_MS);
    static const char SQL[] =
        "SELECT (SELECT count(*) FROM uploads), (SELECT count(*) FROM events),"
        " (SELECT coalesce(min(created), 0) FROM events), (SELECT count(*) FROM events WHERE attempts > 0)";
    sqlite3_stmt *q = NULL;
    if (sqlite3_prepare_v2(db, SQL, -1, &q, NULL) != SQLITE_OK || sqlite3_step(q) != SQLITE_ROW) {
        snprintf(st->err, sizeof st->err, "the database does not answer: %s", sqlite3_errmsg(db));
    } else {
        st->ok = st->counts = 1;
        st->uploads = sqlite3_column_int64(q, 0);
        st->outbox = sqlite3_column_int64(q, 1);
        long long oldest = sqlite3_column_int64(q, 2);
        st->oldest_age = oldest > 0 ? (long long)time(NULL) - oldest : 0;
        if (st->oldest_age < 0)
            st->oldest_age = 0;
        st->failing = sqlite3_column_int64(q, 3);
    }
    sqlite3_finalize(q);
    sqlite3_close(db);
}

typedef struct disk_stats {
    int ok;
    unsigned long long free_bytes, total_bytes, reserve;
} disk_stats;

static void read_disk(const metrics_admin *a, disk_stats *ds)
{
    memset(ds, 0, sizeof *ds);
    struct statvfs v;
    if (statvfs(a->s->data_dir, &v) != 0)
        return;
    ds->ok = 1;
    ds->free_bytes = (unsigned long long)v.f_bavail * v.f_frsize;
    ds->total_bytes = (unsigned long long)v.f_blocks * v.f_frsize;
    ds->reserve = a->reserve_pct ? ds->total_bytes / 100 * a->reserve_pct : a->reserve;
}

/* Creates and removes a file in the data directory: "writable" as the store needs it. */
static int data_dir_writable(const char *dir, char *err, size_t errn)
{
    char path[4096];
    snprintf(path, sizeof path, "%s/.healthz-XXXXXX", dir);
    int fd = mkstemp(path);
    if (fd < 0) {
        snprintf(err, errn, "cannot create a file in the data directory: %s", strerror(errno));
        return 0;
    }
    int ok = write(fd, "ok", 2) == 2;
    if (!ok)
        snprintf(err, errn, "cannot write in the data directory: %s", strerror(errno));
    close(fd);
    unlink(path);
    return ok;
}

static enum MHD_Result answer(struct MHD_Connection *c, unsigned status, const char *type, vbuf *b)
{
    size_t n = b->len;
    char *p = vbuf_steal(b);
    struct MHD_Response *resp =
        MHD_create_response_from_buffer(n, p ? p : (void *)"", p ? MHD_RESPMEM_MUST_FREE : MHD_RESPMEM_PERSISTENT);
    if (!resp) {
        free(p);
        return MHD_NO;
    }
    MHD_add_response_header(resp, "Content-Type", type);
    MHD_add_response_header(resp, "Cache-Control", "no-store");
    enum MHD_Result rc = MHD_queue_response(c, status, resp);
    MHD_destroy_response(resp);
    return rc;
}

static void json_str(vbuf *b, const char *s)
{
    vbuf_putc(b, '"');
    for (; *s; s++) {
        unsigned char ch = (unsigned char)*s;
        if (ch == '"' || ch == '\\')
            vbuf_printf(b, "\\%c", ch);
        else if (ch < 0x20)
            vbuf_printf(b, "\\u%04x", ch);
        else
            vbuf_putc(b, (char)ch);
    }
    vbuf_putc(b, '"');
}

static enum MHD_Result healthz(metrics_admin *a, struct MHD_Connection *c)
{
    store_stats st;
    read_store(a->s, &st);
    char werr[160] = "";
    int writable = data_dir_writable(a->s->data_dir, werr, sizeof werr);
    disk_stats ds;
    read_disk(a, &ds);
    int disk_ok = ds.ok && ds.free_bytes > ds.reserve;
    int ok = st.ok && writable && disk_ok;
    vbuf b = VBUF_INIT;
    vbuf_printf(&b, "{\"status\":\"%s\",\"checks\":{\"database\":", ok ? "ok" : "fail");
    json_str(&b, st.ok ? "ok" : st.err);
    vbuf_puts(&b, ",\"data_dir_writable\":");
    json_str(&b, writable ? "ok" : werr);
    vbuf_puts(&b, ",\"disk_reserve\":");
    if (disk_ok)
        json_str(&b, "ok");
    else if (!ds.ok)
        json_str(&b, "cannot read the file system's free space");
    else {
        char msg[160];
        snprintf(msg, sizeof msg, "free space %llu bytes is at or below the reserve of %llu bytes", ds.free_bytes,
                 ds.reserve);
        json_str(&b, msg);
    }
    vbuf_printf(&b, "},\"disk_free_bytes\":%llu,\"disk_reserve_bytes\":%llu,\"active_requests\":%d}\n", ds.free_bytes,
                ds.reserve, atomic_load(&a->s->active_requests));
    enum MHD_Result rc = answer(c, ok ? 200 : 503, "application/json", &b);
    vbuf_free(&b);
    return rc;
}

static enum MHD_Result metrics(metrics_admin *a, struct MHD_Connection *c)
{
    vbuf b = VBUF_INIT;
    vbuf_puts(&b, "# HELP vodupd_requests_total Requests answered, by dialect, operation and status.\n"
                  "# TYPE vodupd_requests_total counter\n");
    for (size_t i = 0; i < METRICS_MAX_SERIES; i++) {
        series *s = &g_series[i];
        if (atomic_load(&s->state) == 2)
            vbuf_printf(&b, "vodupd_requests_total{dialect=\"%s\",operation=\"%s\",status=\"%u\"} %llu\n", s->dialect,
                        s->op, s->status, (unsigned long long)atomic_load(&s->count));
    }
    const char *bytes[2] = {"received", "sent"};
    for (int k = 0; k < 2; k++) {
        vbuf_printf(&b, "# HELP vodupd_%s_bytes_total Body bytes %s, by dialect and operation.\n"
                        "# TYPE vodupd_%s_bytes_total counter\n",
                    bytes[k], bytes[k], bytes[k]);
        for (size_t i = 0; i < METRICS_MAX_SERIES; i++) {
            series *s = &g_series[i];
            if (atomic_load(&s->state) == 2)
                vbuf_printf(&b, "vodupd_%s_bytes_total{dialect=\"%s\",operation=\"%s\",status=\"%u\"} %llu\n", bytes[k],
                            s->dialect, s->op, s->status,
                            (unsigned long long)atomic_load(k == 0 ? &s->bytes_in : &s->bytes_out));
        }
    }
    vbuf_puts(&b, "# HELP vodupd_request_duration_seconds Time from a request's first byte to its end.\n"
                  "# TYPE vodupd_request_duration_seconds histogram\n");
    for (int d = 0; d <= ndialects(); d++) {
        const char *dn = slot_name(d);
        unsigned long long cum = 0;
        for (size_t i = 0; i <= NBUCKETS; i++) {
            cum += atomic_load(&g_hist[d][i]);
            if (i < NBUCKETS)
                vbuf_printf(&b, "vodupd_request_duration_seconds_bucket{dialect=\"%s\",le=\"%g\"} %llu\n", dn,
                            BUCKETS[i], cum);
            else
                vbuf_printf(&b, "vodupd_request_duration_seconds_bucket{dialect=\"%s\",le=\"+Inf\"} %llu\n",
                            dn, cum);
        }
        vbuf_printf(&b, "vodupd_request_duration_seconds_sum{dialect=\"%s\"} %.6f\n", dn,
                    atomic_load(&g_hist_sum[d]));
        vbuf_printf(&b, "vodupd_request_duration_seconds_count{dialect=\"%s\"} %llu\n", dn,
                    (unsigned long long)atomic_load(&g_hist_count[d]));
    }
    vbuf_puts(&b, "# HELP vodupd_connections Open client connections, by listener.\n"
                  "# TYPE vodupd_connections gauge\n");
    int nf = atomic_load(&g_nfronts);
    for (int i = 0; i < nf; i++) {
        const union MHD_DaemonInfo *info = MHD_get_daemon_info(g_fronts[i].d, MHD_DAEMON_INFO_CURRENT_CONNECTIONS);
        vbuf_printf(&b, "vodupd_connections{listener=\"%s\"} %u\n", g_fronts[i].name,
                    info ? info->num_connections : 0u);
    }
    vbuf_printf(&b, "# HELP vodupd_requests_in_flight Requests between their first byte and their end.\n"
                    "# TYPE vodupd_requests_in_flight gauge\nvodupd_requests_in_flight %d\n",
                atomic_load(&a->s->active_requests));
    store_stats st;
    read_store(a->s, &st);
    vbuf_printf(&b, "# HELP vodupd_database_up 1 when the database answered this scrape.\n"
                    "# TYPE vodupd_database_up gauge\nvodupd_database_up %d\n", st.ok);
    if (st.counts)
        vbuf_printf(&b,
                    "# HELP vodupd_multipart_uploads_open Multipart uploads initiated and not yet completed or aborted.\n"
                    "# TYPE vodupd_multipart_uploads_open gauge\nvodupd_multipart_uploads_open %lld\n"
                    "# HELP vodupd_outbox_events Upload events whose callback is not yet delivered.\n"
                    "# TYPE vodupd_outbox_events gauge\nvodupd_outbox_events %lld\n"
                    "# HELP vodupd_outbox_oldest_age_seconds Age of the oldest undelivered event (0: none).\n"
                    "# TYPE vodupd_outbox_oldest_age_seconds gauge\nvodupd_outbox_oldest_age_seconds %lld\n"
                    "# HELP vodupd_callback_failing_events Undelivered events whose callback failed at least once.\n"
                    "# TYPE vodupd_callback_failing_events gauge\nvodupd_callback_failing_events %lld\n",
                    st.uploads, st.outbox, st.oldest_age, st.failing);
    disk_stats ds;
    read_disk(a, &ds);
    if (ds.ok)
        vbuf_printf(&b, "# HELP vodupd_disk_free_bytes Free space on the data directory's file system.\n"
                        "# TYPE vodupd_disk_free_bytes gauge\nvodupd_disk_free_bytes %llu\n"
                        "# HELP vodupd_disk_reserve_bytes Free space uploads must leave (--disk-reserve).\n"
                        "# TYPE vodupd_disk_reserve_bytes gauge\nvodupd_disk_reserve_bytes %llu\n",
                    ds.free_bytes, ds.reserve);
    enum MHD_Result rc = answer(c, 200, "text/plain; version=0.0.4; charset=utf-8", &b);
    vbuf_free(&b);
    return rc;
}

static enum MHD_Result on_admin(void *cls, struct MHD_Connection *c, const char *url, const char *method,
                                const char *version, const char *upload_data, size_t *upload_data_size, void **req_cls)
{
    (void)version, (void)upload_data;
    metrics_admin *a = cls;
    if (!*req_cls) { /* first call: headers only */
        *req_cls = a;
        return MHD_YES;
    }
    if (*upload_data_size) { /* no admin request has a body: drop it */
        *upload_data_size = 0;
        return MHD_YES;
    }
    vbuf b = VBUF_INIT;
    if (strcmp(method, "GET") != 0 && strcmp(method, "HEAD") != 0) {
        vbuf_puts(&b, "only GET\n");
        enum MHD_Result rc = answer(c, 405, "text/plain", &b);
        vbuf_free(&b);
        return rc;
    }
    if (strcmp(url, "/healthz") == 0)
        return healthz(a, c);
    if (strcmp(url, "/metrics") == 0)
        return metrics(a, c);
    vbuf_puts(&b, "not found: the admin listener serves /healthz and /metrics\n");
    enum MHD_Result rc = answer(c, 404, "text/plain", &b);
    vbuf_free(&b);
    return rc;
}

metrics_admin *metrics_admin_start(vodupd *s, int listen_fd, uint64_t reserve, unsigned reserve_pct)
{
    metrics_admin *a = calloc(1, sizeof *a);
    if (!a)
        return NULL;
    a->s = s;
    a->reserve = reserve;
    a->reserve_pct = reserve_pct;
    a->d = MHD_start_daemon(MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_POLL, 0, NULL, NULL, on_admin, a,
                            MHD_OPTION_LISTEN_SOCKET, (MHD_socket)listen_fd,
                            MHD_OPTION_CONNECTION_LIMIT, 64U, /* monitoring, not clients */
                            MHD_OPTION_CONNECTION_TIMEOUT, 30U,
                            MHD_OPTION_END);
    if (!a->d) {
        free(a);
        return NULL;
    }
    return a;
}

void metrics_admin_stop(metrics_admin *a)
{
    if (!a)
        return;
    MHD_stop_daemon(a->d);
    free(a);
}
