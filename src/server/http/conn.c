/* conn.c - see conn.h: the connection registry, per-address accounting, the watchdog. */
#include "server/http/conn.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>

#define IP_TABLE_SIZE 4096                /* buckets of the per-address table */
#define REFUSAL_LOG_INTERVAL_MS 10000     /* refusals are logged summed, at most this often */

struct ip_entry {
    http_addr key;
    unsigned count;     /* direct connections + proxied requests in flight */
    unsigned evicting;  /* of those, idle connections already told to close */
    http_conn *head, *tail;
    ip_entry *next;
};

int64_t http__now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static size_t ip_hash(const http_addr *a)
{
    uint64_t h = 1469598103934665603ULL; /* FNV-1a */
    for (int i = 0; i < 16; i++) {
        h ^= a->b[i];
        h *= 1099511628211ULL;
    }
    return (size_t)(h % IP_TABLE_SIZE);
}

/* Under f->mu. create: make the entry when missing (NULL on oom). */
static ip_entry *ip_find(http_front *f, const http_addr *addr, int create)
{
    http_addr key = http_addr_limit_key(addr);
    size_t h = ip_hash(&key);
    for (ip_entry *e = f->ip_table[h]; e; e = e->next)
        if (memcmp(e->key.b, key.b, 16) == 0)
            return e;
    if (!create)
        return NULL;
    ip_entry *e = calloc(1, sizeof *e);
    if (!e)
        return NULL;
    e->key = key;
    e->next = f->ip_table[h];
    f->ip_table[h] = e;
    return e;
}

/* Under f->mu: drops one count, and the entry once nothing counts under it. */
static void ip_release(http_front *f, ip_entry *e)
{
    if (!e)
        return;
    if (e->count)
        e->count--;
    if (e->count || e->head)
        return;
    size_t h = ip_hash(&e->key);
    for (ip_entry **pp = &f->ip_table[h]; *pp; pp = &(*pp)->next) {
        if (*pp == e) {
            *pp = e->next;
            free(e);
            return;
        }
    }
}

/* Under f->mu: the connection is to go. shutdown() rather than close(): the descriptor
 * stays libmicrohttpd's (closed by it after its close notification, which takes
 * f->mu), and its event loop sees end-of-stream and tears the connection down. */
static void conn_close(http_conn *hc, const char *reason)
{
    if (hc->closing)
        return;
    hc->closing = 1;
    hc->close_reason = reason;
    shutdown(hc->fd, SHUT_RDWR);
}

http_conn *http__conn_of(struct MHD_Connection *c)
{
    const union MHD_ConnectionInfo *ci = MHD_get_connection_info(c, MHD_CONNECTION_INFO_SOCKET_CONTEXT);
    return ci ? ci->socket_context : NULL;
}

enum MHD_Result http__accept_policy(void *cls, const struct sockaddr *sa, socklen_t addrlen)
{
    (void)addrlen;
    http_front *f = cls;
    http_addr a;
    if (f->lim.max_per_ip == 0 || http_addr_from_sockaddr(&a, sa) != 0)
        return MHD_YES;
    if (http_cidr_match_any(f->trusted, f->ntrusted, &a))
        return MHD_YES; /* a proxy speaks for many clients: they are counted per request */
    enum MHD_Result ok = MHD_YES;
    pthread_mutex_lock(&f->mu);
    ip_entry *e = ip_find(f, &a, 0);
    if (e && e->count - e->evicting >= f->lim.max_per_ip) {
        /* Full. Rather than lock the whole address out (a NAT, an office), make room by
         * closing its newest connection that has no request in progress. */
        http_conn *victim = NULL;
        for (http_conn *hc = e->tail; hc && !victim; hc = hc->ip_prev)
            if (!hc->closing && !hc->req)
                victim = hc;
        if (victim) {
            victim->evicted = 1;
            e->evicting++;
            conn_close(victim, "evicted");
        } else {
            ok = MHD_NO;
            f->refused_since_log++;
            int64_t now = http__now_ms();
            if (now - f->last_refusal_log_ms >= REFUSAL_LOG_INTERVAL_MS) {
                char who[64];
                http_addr_format(&a, who, sizeof who);
                fprintf(stderr, "vodupd: refused %lu connection(s) over the per-address limit (%u), last from %s\n",
                        f->refused_since_log, f->lim.max_per_ip, who);
                f->refused_since_log = 0;
                f->last_refusal_log_ms = now;
            }
        }
    }
    pthread_mutex_unlock(&f->mu);
    return ok;
}

static void conn_started(http_front *f, struct MHD_Connection *c, void **socket_context)
{
    http_conn *hc = calloc(1, sizeof *hc);
    if (!hc)
        return; /* the connection then runs without guards; every use checks for NULL */
    hc->f = f;
    hc->fd = -1;
    const union MHD_ConnectionInfo *ci = MHD_get_connection_info(c, MHD_CONNECTION_INFO_CONNECTION_FD);
    if (ci)
        hc->fd = ci->connect_fd;
    ci = MHD_get_connection_info(c, MHD_CONNECTION_INFO_CLIENT_ADDRESS);
    int have_addr = ci && http_addr_from_sockaddr(&hc->addr, ci->client_addr) == 0;
    hc->proxied = have_addr && http_cidr_match_any(f->trusted, f->ntrusted, &hc->addr);
    hc->phase = HTTP_CONN_HEAD;
    hc->phase_ms = http__now_ms();
    atomic_init(&hc->body_bytes, 0);
    pthread_mutex_lock(&f->mu);
    hc->prev = f->tail;
    if (f->tail)
        f->tail->next = hc;
    else
        f->head = hc;
    f->tail = hc;
    f->nconns++;
    if (have_addr && !hc->proxied) {
        ip_entry *e = ip_find(f, &hc->addr, 1);
        if (e) {
            e->count++;
            hc->ip = e;
            hc->ip_prev = e->tail;
            if (e->tail)
                e->tail->ip_next = hc;
            else
                e->head = hc;
            e->tail = hc;
        }
    }
    pthread_mutex_unlock(&f->mu);
    *socket_context = hc;
}

static void conn_closed(http_front *f, void **socket_context)
{
    http_conn *hc = *socket_context;
    if (!hc)
        return;
    *socket_context = NULL;
    /* A request libmicrohttpd never completed (it refused it itself, or the client
     * left at a moment it does not report) is logged and released here. */
    pthread_mutex_lock(&f->mu);
    http_request *r = hc->req;
    pthread_mutex_unlock(&f->mu);
    if (r)
        http__request_end(r, MHD_REQUEST_TERMINATED_WITH_ERROR);
    pthread_mutex_lock(&f->mu);
    if (hc->prev)
        hc->prev->next = hc->next;
    else
        f->head = hc->next;
    if (hc->next)
        hc->next->prev = hc->prev;
    else
        f->tail = hc->prev;
    f->nconns--;
    ip_entry *e = hc->ip;
    if (e) {
        if (hc->ip_prev)
            hc->ip_prev->ip_next = hc->ip_next;
        else
            e->head = hc->ip_next;
        if (hc->ip_next)
            hc->ip_next->ip_prev = hc->ip_prev;
        else
            e->tail = hc->ip_prev;
        if (hc->evicted && e->evicting)
            e->evicting--;
        ip_release(f, e);
    }
    ip_release(f, hc->req_ip);
    pthread_mutex_unlock(&f->mu);
    free(hc);
}

void http__conn_notify(void *cls, struct MHD_Connection *c, void **socket_context,
                       enum MHD_ConnectionNotificationCode code)
{
    if (code == MHD_CONNECTION_NOTIFY_STARTED)
        conn_started(cls, c, socket_context);
    else if (code == MHD_CONNECTION_NOTIFY_CLOSED)
        conn_closed(cls, socket_context);
}

void http__conn_request_begin(http_conn *hc, http_request *r)
{
    if (!hc)
        return;
    http_front *f = hc->f;
    pthread_mutex_lock(&f->mu);
    http_request *old = hc->req;
    hc->req = NULL;
    pthread_mutex_unlock(&f->mu);
    if (old) /* never completed: should not happen, but must not leak */
        http__request_end(old, MHD_REQUEST_TERMINATED_WITH_ERROR);
    pthread_mutex_lock(&f->mu);
    hc->req = r;
    pthread_mutex_unlock(&f->mu);
}

void http__conn_head_done(http_conn *hc, int expects_body)
{
    if (!hc)
        return;
    pthread_mutex_lock(&hc->f->mu);
    hc->phase = expects_body ? HTTP_CONN_BODY : HTTP_CONN_WORK;
    hc->phase_ms = hc->mark_ms = http__now_ms();
    hc->mark_bytes = atomic_load(&hc->body_bytes);
    pthread_mutex_unlock(&hc->f->mu);
}

void http__conn_body_done(http_conn *hc)
{
    if (!hc)
        return;
    pthread_mutex_lock(&hc->f->mu);
    hc->phase = HTTP_CONN_WORK;
    pthread_mutex_unlock(&hc->f->mu);
}

int http__conn_account_client(http_conn *hc, const http_addr *client)
{
    if (!hc)
        return 0;
    http_front *f = hc->f;
    int rc = 0;
    pthread_mutex_lock(&f->mu);
    ip_entry *e = ip_find(f, client, 1);
    if (e && f->lim.max_per_ip && e->count - e->evicting >= f->lim.max_per_ip) {
        rc = -1;
        if (!e->count && !e->head)
            ip_release(f, e);
    } else if (e) {
        ip_release(f, hc->req_ip);
        e->count++;
        hc->req_ip = e;
    }
    pthread_mutex_unlock(&f->mu);
    return rc;
}

void http__conn_request_end(http_conn *hc, http_request *r)
{
    if (!hc)
        return;
    http_front *f = hc->f;
    pthread_mutex_lock(&f->mu);
    if (hc->req == r) {
        hc->req = NULL;
        hc->phase = HTTP_CONN_HEAD; /* keep-alive: the next head has its own deadline */
        hc->phase_ms = http__now_ms();
    }
    ip_release(f, hc->req_ip);
    hc->req_ip = NULL;
    pthread_mutex_unlock(&f->mu);
}

const char *http__conn_close_reason(http_conn *hc)
{
    if (!hc)
        return NULL;
    pthread_mutex_lock(&hc->f->mu);
    const char *s = hc->closing ? hc->close_reason : NULL;
    pthread_mutex_unlock(&hc->f->mu);
    return s;
}

/* ---- the watchdog -------------------------------------------------------------- */

static void watchdog_pass(http_front *f)
{
    int64_t now = http__now_ms();
    const http_limits *l = &f->lim;
    pthread_mutex_lock(&f->mu);
    for (http_conn *hc = f->head; hc; hc = hc->next) {
        if (hc->closing || hc->fd < 0)
            continue;
        if (hc->phase == HTTP_CONN_HEAD) {
            if (l->head_timeout_ms > 0 && now - hc->phase_ms >= l->head_timeout_ms)
                conn_close(hc, hc->req ? "head-timeout" : "idle");
        } else if (hc->phase == HTTP_CONN_BODY && l->min_body_rate > 0 && l->body_rate_window_ms > 0 &&
                   now - hc->mark_ms >= l->body_rate_window_ms) {
            uint64_t got = atomic_load(&hc->body_bytes) - hc->mark_bytes;
            uint64_t need = (uint64_t)l->min_body_rate * (uint64_t)(now - hc->mark_ms) / 1000;
            if (got < need) {
                conn_close(hc, "slow-body");
            } else {
                hc->mark_ms = now;
                hc->mark_bytes += got;
            }
        }
    }
    pthread_mutex_unlock(&f->mu);
}

static void *watchdog_main(void *p)
{
    http_front *f = p;
    /* Tick a quarter of the shortest guard, so a deadline is kept to within 25 %. */
    long tick = 1000;
    if (f->lim.head_timeout_ms > 0 && f->lim.head_timeout_ms / 4 < tick)
        tick = f->lim.head_timeout_ms / 4;
    if (f->lim.min_body_rate > 0 && f->lim.body_rate_window_ms > 0 && f->lim.body_rate_window_ms / 4 < tick)
        tick = f->lim.body_rate_window_ms / 4;
    if (tick < 20)
        tick = 20;
    pthread_mutex_lock(&f->mu);
    while (!f->stop) {
        struct timespec ts;
        clock_gettime(CLOCK_MONOTONIC, &ts);
        ts.tv_sec += tick / 1000;
        ts.tv_nsec += (tick % 1000) * 1000000L;
        if (ts.tv_nsec >= 1000000000L) {
            ts.tv_sec++;
            ts.tv_nsec -= 1000000000L;
        }
        int rc = pthread_cond_timedwait(&f->cv, &f->mu, &ts);
        if (f->stop)
            break;
        if (rc == ETIMEDOUT) {
            pthread_mutex_unlock(&f->mu);
            watchdog_pass(f);
            pthread_mutex_lock(&f->mu);
        }
    }
    pthread_mutex_unlock(&f->mu);
    return NULL;
}

int http__watchdog_start(http_front *f)
{
    if (f->lim.head_timeout_ms <= 0 && (f->lim.min_body_rate == 0 || f->lim.body_rate_window_ms <= 0))
        return 0;
    if (pthread_create(&f->watchdog, NULL, watchdog_main, f) != 0)
        return -1;
    f->watchdog_started = 1;
    return 0;
}

void http__watchdog_stop(http_front *f)
{
    if (!f->watchdog_started)
        return;
    pthread_mutex_lock(&f->mu);
    f->stop = 1;
    pthread_cond_signal(&f->cv);
    pthread_mutex_unlock(&f->mu);
    pthread_join(f->watchdog, NULL);
    f->watchdog_started = 0;
}

void http__front_free_tables(http_front *f)
{
    if (!f->ip_table)
        return;
    for (size_t i = 0; i < IP_TABLE_SIZE; i++) {
        ip_entry *e = f->ip_table[i];
        while (e) {
            ip_entry *n = e->next;
            free(e);
            e = n;
        }
    }
    free(f->ip_table);
    f->ip_table = NULL;
}

int http__front_alloc_tables(http_front *f)
{
    f->ip_table = calloc(IP_TABLE_SIZE, sizeof *f->ip_table);
    return f->ip_table ? 0 : -1;
}
