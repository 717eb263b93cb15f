/* client_harness.h - shared helpers of the libvodup tests (tests/unit/test_client*.c).
 *
 * Everything here is static (each test executable includes it once):
 * - scratch directories and random source files with their MD5;
 * - a real vodupd started from $VODUPD (init, RAM user + role for STS, serve), its
 *   stderr kept in memory by a reader thread, the request log parsed (in= bytes,
 *   operation, part numbers), stopped with SIGTERM and checked to exit 0;
 * - a byte-counting, fault-injecting TCP proxy (one thread, poll()) that sits between
 *   the client and vodupd: vodupd runs with --public-url pointing at the proxy so that
 *   UploadAddress.Endpoint goes through it too;
 * - the RPC helpers an application server would use (CreateUploadVideo,
 *   RefreshUploadVideo, GetVideoInfo, ...) through vodup_api;
 * - GetObject of the uploaded bytes (OSS V1 signed with the root key) hashed with MD5;
 * - a listener that records every callback per item (mutex-protected: TSan-friendly).
 */
#ifndef VODUP_TESTS_CLIENT_HARNESS_H
#define VODUP_TESTS_CLIENT_HARNESS_H

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <arpa/inet.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <spawn.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <curl/curl.h>
#include <jansson.h>

#include "common/buf.h"
#include "common/codec.h"
#include "common/digest.h"
#include "vodup/vodup.h"
#include "store_harness.h" /* make_temp_dir, rm_rf */

extern char **environ;

#define TH static __attribute__((unused))
#define KiB 1024ULL
#define MiB (1024ULL * 1024ULL)

/* ---- time ----------------------------------------------------------------------- */

TH long long th_now_ms(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (long long)t.tv_sec * 1000 + t.tv_nsec / 1000000;
}

TH void th_sleep_ms(long ms)
{
    struct timespec t = {ms / 1000, (ms % 1000) * 1000000L};
    while (nanosleep(&t, &t) != 0 && errno == EINTR) {
    }
}

/* Polls cond every 5 ms until it holds or ms pass; ok gets 1 if it held. */
#define TH_WAIT(ok, cond, ms)                                                                                    \
    do {                                                                                                         \
        long long th_dl_ = th_now_ms() + (ms);                                                                   \
        for (;;) {                                                                                               \
            if (cond) {                                                                                          \
                (ok) = 1;                                                                                        \
                break;                                                                                           \
            }                                                                                                    \
            if (th_now_ms() > th_dl_) {                                                                          \
                (ok) = 0;                                                                                        \
                break;                                                                                           \
            }                                                                                                    \
            th_sleep_ms(5);                                                                                      \
        }                                                                                                        \
    } while (0)

/* ---- files ---------------------------------------------------------------------- */

/* A new "<$VODUP_TEST_TMP>/<name>-XXXXXX" directory (store_harness.h), or the test fails. */
TH char *th_scratch(const char *name)
{
    char *d = make_temp_dir(name);
    assert_non_null(d);
    return d;
}

TH void th_md5_hex(char out[33], const unsigned char md[16])
{
    vodup_hex_lower(out, md, 16);
}

/* Ends an MD5 computation: frees m, writes the digest in hex (md5 may be NULL). */
TH void th_md5_finish(vodup_md5_ctx *m, char md5[33])
{
    unsigned char md[16];
    vodup_md5_final(m, md);
    vodup_md5_free(m);
    if (md5)
        th_md5_hex(md5, md);
}

/* Writes size pseudo-random bytes (xorshift64*, seeded) to path; md5 (may be NULL)
 * gets their MD5 in hex. */
TH void th_make_file(const char *path, uint64_t size, uint64_t seed, char md5[33])
{
    FILE *f = fopen(path, "wb");
    assert_non_null(f);
    uint64_t x = seed * 0x9E3779B97F4A7C15ULL + 0x1234567ULL;
    if (!x)
        x = 1;
    size_t cap = 1 << 20;
    unsigned char *buf = malloc(cap);
    assert_non_null(buf);
    vodup_md5_ctx *m = vodup_md5_new();
    assert_non_null(m);
    uint64_t left = size;
    while (left) {
        size_t n = left < cap ? (size_t)left : cap;
        for (size_t i = 0; i < n; i += 8) {
            x ^= x >> 12;
            x ^= x << 25;
            x ^= x >> 27;
            uint64_t v = x * 0x2545F4914F6CDD1DULL;
            size_t k = n - i < 8 ? n - i : 8;
            memcpy(buf + i, &v, k);
        }
        assert_int_equal(fwrite(buf, 1, n, f), n);
        vodup_md5_update(m, buf, n);
        left -= n;
    }
    assert_int_equal(fclose(f), 0);
    free(buf);
    th_md5_finish(m, md5);
}

TH void th_md5_file(const char *path, char md5[33])
{
    FILE *f = fopen(path, "rb");
    assert_non_null(f);
    unsigned char buf[65536];
    vodup_md5_ctx *m = vodup_md5_new();
    assert_non_null(m);
    size_t n;
    while ((n = fread(buf, 1, sizeof buf, f)) > 0)
        vodup_md5_update(m, buf, n);
    fclose(f);
    th_md5_finish(m, md5);
}

/* ---- child processes -------------------------------------------------------------- */

/* Runs argv, returns its stdout (malloc'd); asserts it exits 0. */
TH char *th_run_capture(char *const argv[])
{
    int p[2];
    assert_int_equal(pipe(p), 0);
    posix_spawn_file_actions_t fa;
    posix_spawn_file_actions_init(&fa);
    posix_spawn_file_actions_adddup2(&fa, p[1], 1);
    posix_spawn_file_actions_addclose(&fa, p[0]);
    posix_spawn_file_actions_addclose(&fa, p[1]);
    pid_t pid;
    int rc = posix_spawn(&pid, argv[0], &fa, NULL, argv, environ);
    posix_spawn_file_actions_destroy(&fa);
    assert_int_equal(rc, 0);
    close(p[1]);
    vbuf out = VBUF_INIT;
    char buf[4096];
    ssize_t n;
    while ((n = read(p[0], buf, sizeof buf)) != 0) {
        if (n < 0 && errno == EINTR)
            continue;
        assert_true(n > 0);
        vbuf_append(&out, buf, (size_t)n);
    }
    close(p[0]);
    int st;
    assert_int_equal(waitpid(pid, &st, 0), pid);
    assert_true(WIFEXITED(st));
    assert_int_equal(WEXITSTATUS(st), 0);
    vbuf_putc(&out, '\0');
    return vbuf_steal(&out);
}

/* Runs argv (th_run_capture) and returns its stdout parsed as JSON. */
TH json_t *th_run_json(char *const argv[])
{
    char *out = th_run_capture(argv);
    json_t *j = json_loads(out, 0, NULL);
    free(out);
    assert_non_null(j);
    return j;
}

TH void th_json_str(char *dst, size_t cap, json_t *o, const char *name)
{
    const char *s = json_string_value(json_object_get(o, name));
    assert_non_null(s);
    assert_true(strlen(s) < cap);
    snprintf(dst, cap, "%s", s);
}

/* ---- a TCP proxy that counts and injects faults ------------------------------------ */

#ifndef TH_PROXY_MAXCONN /* a test with more connections at once defines it first */
#define TH_PROXY_MAXCONN 128
#endif
#define TH_FAULT_MIN_REQ (64 * 1024ULL) /* a fault only hits a request this far into its body */
/* A slow reader (slow_at) takes this much of a request at a time, then pauses: about
 * 100-160 KiB/s, well above the client's low-speed limit (1 KiB/s), so it is slow, not dead. */
#define TH_SLOW_CHUNK 4096
#define TH_SLOW_PAUSE_MS 25L

typedef struct th_proxy {
    int lfd;
    int port;
    pthread_t thread;
    _Atomic int target_port;
    _Atomic int stop;
    _Atomic unsigned long long up_bytes;   /* client -> server */
    _Atomic unsigned long long down_bytes; /* server -> client */
    _Atomic int accepted;
    /* One-shot faults, armed with the total upstream byte count at which they fire
     * (0: disarmed). Each fires on the first connection that is TH_FAULT_MIN_REQ into
     * a request body once the total passed the threshold. */
    _Atomic unsigned long long reset_at, stall_at, truncate_at;
    _Atomic long stall_ms;
    _Atomic int resets, stalls, truncates; /* how many fired */
    /* One-shot: the next VOD/STS API request (POST /) gets its answer this late.
     * rpc_delays counts holds begun, rpc_releases holds ended (the answer forwarded from
     * then on): a test sees "still held" as rpc_releases not having moved. */
    _Atomic long rpc_delay_ms;
    _Atomic int rpc_delays, rpc_releases;
    /* One-shot like reset_at: the connection then reads the request slowly for slow_ms. */
    _Atomic unsigned long long slow_at;
    _Atomic long slow_ms;
    _Atomic int slows;
} th_proxy;

typedef struct th_conn {
    int cfd, sfd;
    unsigned long long req_bytes; /* upstream bytes since the last downstream data */
    long long stalled_until;
    long long slow_until; /* reads the request slowly until then (slow_at) */
    int rpc_held;         /* stalled_until is an RPC hold (rpc_delay_ms) */
} th_conn;

TH void th_conn_close(th_conn *c, int rst)
{
    if (rst) {
        struct linger lg = {1, 0};
        setsockopt(c->cfd, SOL_SOCKET, SO_LINGER, &lg, sizeof lg);
        setsockopt(c->sfd, SOL_SOCKET, SO_LINGER, &lg, sizeof lg);
    }
    close(c->cfd);
    close(c->sfd);
    c->cfd = c->sfd = -1;
}

TH int th_send_all(int fd, const unsigned char *p, size_t n)
{
    while (n) {
        ssize_t w = send(fd, p, n, MSG_NOSIGNAL);
        if (w < 0 && errno == EINTR)
            continue;
        if (w <= 0)
            return -1;
        p += w;
        n -= (size_t)w;
    }
    return 0;
}

TH int th_fire(_Atomic unsigned long long *at, unsigned long long total)
{
    unsigned long long a = atomic_load(at);
    if (a == 0 || total < a)
        return 0;
    return atomic_compare_exchange_strong(at, &a, 0ULL);
}

TH void *th_proxy_main(void *arg)
{
    th_proxy *px = arg;
    th_conn *conns = calloc(TH_PROXY_MAXCONN, sizeof *conns);
    unsigned char *buf = malloc(65536);
    struct pollfd *pf = calloc(2 * TH_PROXY_MAXCONN + 1, sizeof *pf);
    int *who = calloc(2 * TH_PROXY_MAXCONN + 1, sizeof *who);
    if (!conns || !buf || !pf || !who)
        abort();
    for (int i = 0; i < TH_PROXY_MAXCONN; i++)
        conns[i].cfd = conns[i].sfd = -1;
    while (!atomic_load(&px->stop)) {
        int n = 0;
        pf[n].fd = px->lfd;
        pf[n].events = POLLIN;
        who[n++] = -1;
        long long now = th_now_ms();
        for (int i = 0; i < TH_PROXY_MAXCONN; i++) {
            if (conns[i].rpc_held && (conns[i].cfd < 0 || conns[i].stalled_until <= now)) {
                conns[i].rpc_held = 0;
                atomic_fetch_add(&px->rpc_releases, 1);
            }
            if (conns[i].cfd < 0 || conns[i].stalled_until > now)
                continue;
            pf[n].fd = conns[i].cfd;
            pf[n].events = POLLIN;
            who[n++] = 2 * i;
            pf[n].fd = conns[i].sfd;
            pf[n].events = POLLIN;
            who[n++] = 2 * i + 1;
        }
        int r = poll(pf, (nfds_t)n, 20);
        if (r <= 0)
            continue;
        for (int k = 0; k < n; k++) {
            if (!pf[k].revents)
                continue;
            if (who[k] < 0) {
                int fd = accept(px->lfd, NULL, NULL);
                if (fd < 0)
                    continue;
                int tp = atomic_load(&px->target_port);
                int slot = -1;
                for (int i = 0; i < TH_PROXY_MAXCONN && slot < 0; i++)
                    if (conns[i].cfd < 0)
                        slot = i;
                int sfd = -1;
                if (tp > 0 && slot >= 0) {
                    sfd = socket(AF_INET, SOCK_STREAM, 0);
                    struct sockaddr_in sa;
                    memset(&sa, 0, sizeof sa);
                    sa.sin_family = AF_INET;
                    sa.sin_port = htons((uint16_t)tp);
                    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
                    if (sfd >= 0 && connect(sfd, (struct sockaddr *)&sa, sizeof sa) != 0) {
                        close(sfd);
                        sfd = -1;
                    }
                }
                if (sfd < 0) {
                    close(fd);
                    continue;
                }
                struct timeval tv = {10, 0};
                setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
                setsockopt(sfd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
                conns[slot].cfd = fd;
                conns[slot].sfd = sfd;
                conns[slot].req_bytes = 0;
                conns[slot].stalled_until = 0;
                conns[slot].slow_until = 0;
                conns[slot].rpc_held = 0;
                atomic_fetch_add(&px->accepted, 1);
                continue;
            }
            th_conn *c = &conns[who[k] / 2];
            int up = (who[k] % 2) == 0;
            if (c->cfd < 0)
                continue; /* closed earlier in this round */
            int from = up ? c->cfd : c->sfd, to = up ? c->sfd : c->cfd;
            if (pf[k].fd != from)
                continue; /* slot reused in this round */
            long long t_rd = th_now_ms();
            int slow = up && c->slow_until > t_rd;
            ssize_t got = recv(from, buf, slow ? TH_SLOW_CHUNK : 65536, 0);
            if (got <= 0) {
                th_conn_close(c, 0);
                continue;
            }
            size_t len = (size_t)got;
            if (up) {
                unsigned long long total = atomic_fetch_add(&px->up_bytes, len) + len;
                c->req_bytes += len;
                if (c->req_bytes > TH_FAULT_MIN_REQ && th_fire(&px->reset_at, total)) {
                    /* forward part of this chunk, then reset both sides mid-body */
                    th_send_all(to, buf, len / 2);
                    th_conn_close(c, 1);
                    atomic_fetch_add(&px->resets, 1);
                    continue;
                }
                if (th_send_all(to, buf, len) != 0) {
                    th_conn_close(c, 0);
                    continue;
                }
                if (c->req_bytes == len && len >= 7 && memcmp(buf, "POST / ", 7) == 0 &&
                    atomic_load(&px->rpc_delay_ms) > 0) {
                    /* the request went on; its answer waits (the connection is not polled) */
                    c->stalled_until = th_now_ms() + atomic_exchange(&px->rpc_delay_ms, 0L);
                    c->rpc_held = 1;
                    atomic_fetch_add(&px->rpc_delays, 1);
                }
                if (c->req_bytes > TH_FAULT_MIN_REQ && th_fire(&px->stall_at, total)) {
                    c->stalled_until = th_now_ms() + atomic_load(&px->stall_ms);
                    atomic_fetch_add(&px->stalls, 1);
                }
                if (c->req_bytes > TH_FAULT_MIN_REQ && th_fire(&px->slow_at, total)) {
                    c->slow_until = t_rd + atomic_load(&px->slow_ms);
                    atomic_fetch_add(&px->slows, 1);
                }
                if (c->slow_until > t_rd && c->stalled_until < t_rd + TH_SLOW_PAUSE_MS)
                    c->stalled_until = t_rd + TH_SLOW_PAUSE_MS;
            } else {
                atomic_fetch_add(&px->down_bytes, len);
                if (c->req_bytes > TH_FAULT_MIN_REQ &&
                    th_fire(&px->truncate_at, atomic_load(&px->up_bytes))) {
                    /* the response to a large request: cut it after a few bytes */
                    th_send_all(to, buf, len < 12 ? len / 2 : 12);
                    th_conn_close(c, 0);
                    atomic_fetch_add(&px->truncates, 1);
                    continue;
                }
                c->req_bytes = 0;
                if (th_send_all(to, buf, len) != 0)
                    th_conn_close(c, 0);
            }
        }
    }
    for (int i = 0; i < TH_PROXY_MAXCONN; i++)
        if (conns[i].cfd >= 0)
            th_conn_close(&conns[i], 0);
    free(conns);
    free(buf);
    free(pf);
    free(who);
    return NULL;
}

TH void th_proxy_start(th_proxy *px)
{
    memset(px, 0, sizeof *px);
    atomic_init(&px->target_port, 0);
    atomic_init(&px->stop, 0);
    atomic_init(&px->up_bytes, 0ULL);
    atomic_init(&px->down_bytes, 0ULL);
    atomic_init(&px->accepted, 0);
    atomic_init(&px->reset_at, 0ULL);
    atomic_init(&px->stall_at, 0ULL);
    atomic_init(&px->truncate_at, 0ULL);
    atomic_init(&px->stall_ms, 0L);
    atomic_init(&px->resets, 0);
    atomic_init(&px->stalls, 0);
    atomic_init(&px->truncates, 0);
    atomic_init(&px->rpc_delay_ms, 0L);
    atomic_init(&px->rpc_delays, 0);
    atomic_init(&px->rpc_releases, 0);
    atomic_init(&px->slow_at, 0ULL);
    atomic_init(&px->slow_ms, 0L);
    atomic_init(&px->slows, 0);
    px->lfd = socket(AF_INET, SOCK_STREAM, 0);
    assert_true(px->lfd >= 0);
    struct sockaddr_in sa;
    memset(&sa, 0, sizeof sa);
    sa.sin_family = AF_INET;
    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    assert_int_equal(bind(px->lfd, (struct sockaddr *)&sa, sizeof sa), 0);
    assert_int_equal(listen(px->lfd, TH_PROXY_MAXCONN), 0);
    socklen_t sl = sizeof sa;
    assert_int_equal(getsockname(px->lfd, (struct sockaddr *)&sa, &sl), 0);
    px->port = ntohs(sa.sin_port);
    assert_int_equal(pthread_create(&px->thread, NULL, th_proxy_main, px), 0);
}

TH void th_proxy_stop(th_proxy *px)
{
    atomic_store(&px->stop, 1);
    pthread_join(px->thread, NULL);
    close(px->lfd);
}

/* Waits until the proxy's upstream count stays still for quiet_ms (max wait_ms);
 * returns the count. Used to let bytes already in socket buffers drain before a
 * measurement starts. */
TH unsigned long long th_proxy_settle(th_proxy *px, long quiet_ms, long wait_ms)
{
    long long dl = th_now_ms() + wait_ms;
    unsigned long long last = atomic_load(&px->up_bytes);
    long long since = th_now_ms();
    while (th_now_ms() < dl) {
        th_sleep_ms(20);
        unsigned long long v = atomic_load(&px->up_bytes);
        if (v != last) {
            last = v;
            since = th_now_ms();
        } else if (th_now_ms() - since >= quiet_ms) {
            break;
        }
    }
    return last;
}

/* Upstream bytes must not grow for ms once what was in flight drained; what says when. */
TH void th_assert_no_traffic(th_proxy *px, long ms, const char *what)
{
    unsigned long long base = th_proxy_settle(px, 300, 4000);
    th_sleep_ms(ms); /* the measurement window itself */
    unsigned long long now = atomic_load(&px->up_bytes);
    if (now != base)
        fail_msg("%s: %llu bytes went to the server in %ld ms", what, now - base, ms);
}

/* ---- vodupd ------------------------------------------------------------------------ */

typedef struct th_server {
    char *dir;
    char data[600];
    char ak[128], sk[128], account[64];
    char user_ak[128], user_sk[128], role_arn[256];
    pid_t pid;
    int port;
    char endpoint[64];        /* vodupd itself */
    char client_endpoint[64]; /* what the client should use: the proxy when there is one */
    int errfd;
    pthread_t reader;
    pthread_mutex_t mu;
    vbuf log;
    th_proxy *proxy;
} th_server;

TH void *th_server_reader(void *arg)
{
    th_server *s = arg;
    char buf[8192];
    for (;;) {
        ssize_t n = read(s->errfd, buf, sizeof buf);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            break;
        pthread_mutex_lock(&s->mu);
        vbuf_append(&s->log, buf, (size_t)n);
        pthread_mutex_unlock(&s->mu);
        if (getenv("VODUP_TEST_VERBOSE"))
            fwrite(buf, 1, (size_t)n, stderr);
    }
    return NULL;
}

TH const char *th_vodupd(void)
{
    const char *v = getenv("VODUPD");
    if (!v || !*v)
        fail_msg("VODUPD is not set");
    return v;
}

/* Creates the data directory (root key), a RAM user allowed to AssumeRole and a role
 * with VOD access. */
TH void th_server_init(th_server *s, const char *name)
{
    memset(s, 0, sizeof *s);
    s->dir = th_scratch(name);
    snprintf(s->data, sizeof s->data, "%s/data", s->dir);
    char *vd = strdup(th_vodupd());
    char init[] = "init", dd[] = "--data-dir", user[] = "user", role[] = "role", create[] = "create",
         pol[] = "--policy", u[] = "u", r[] = "r", p1[] = "AliyunSTSAssumeRoleAccess", p2[] = "AliyunVODFullAccess";
    char *a1[] = {vd, init, dd, s->data, NULL};
    json_t *j = th_run_json(a1);
    th_json_str(s->ak, sizeof s->ak, j, "AccessKeyId");
    th_json_str(s->sk, sizeof s->sk, j, "AccessKeySecret");
    th_json_str(s->account, sizeof s->account, j, "AccountId");
    json_decref(j);
    char *a2[] = {vd, user, create, u, pol, p1, dd, s->data, NULL};
    j = th_run_json(a2);
    th_json_str(s->user_ak, sizeof s->user_ak, j, "AccessKeyId");
    th_json_str(s->user_sk, sizeof s->user_sk, j, "AccessKeySecret");
    json_decref(j);
    char *a3[] = {vd, role, create, r, pol, p2, dd, s->data, NULL};
    j = th_run_json(a3);
    th_json_str(s->role_arn, sizeof s->role_arn, j, "Arn");
    json_decref(j);
    free(vd);
    pthread_mutex_init(&s->mu, NULL);
    vbuf_init(&s->log);
}

/* Starts `vodupd serve` (extra: more arguments, NULL-terminated, may be NULL). With
 * proxy non-NULL (already started), vodupd's public URL is the proxy's and the proxy
 * forwards to vodupd. */
TH void th_server_start(th_server *s, th_proxy *proxy, const char *const *extra)
{
    char *argv[32];
    int n = 0;
    char pub[64];
    argv[n++] = (char *)th_vodupd();
    argv[n++] = (char *)"serve";
    argv[n++] = (char *)"--data-dir";
    argv[n++] = s->data;
    argv[n++] = (char *)"--listen";
    argv[n++] = (char *)"127.0.0.1:0";
    if (proxy) {
        snprintf(pub, sizeof pub, "http://127.0.0.1:%d", proxy->port);
        argv[n++] = (char *)"--public-url";
        argv[n++] = pub;
    }
    for (int i = 0; extra && extra[i] && n < 30; i++)
        argv[n++] = (char *)extra[i];
    argv[n] = NULL;
    int p[2];
    assert_int_equal(pipe(p), 0);
    posix_spawn_file_actions_t fa;
    posix_spawn_file_actions_init(&fa);
    posix_spawn_file_actions_adddup2(&fa, p[1], 2);
    posix_spawn_file_actions_addclose(&fa, p[0]);
    posix_spawn_file_actions_addclose(&fa, p[1]);
    int rc = posix_spawn(&s->pid, argv[0], &fa, NULL, argv, environ);
    posix_spawn_file_actions_destroy(&fa);
    assert_int_equal(rc, 0);
    close(p[1]);
    s->errfd = p[0];
    fcntl(s->errfd, F_SETFD, FD_CLOEXEC);
    assert_int_equal(pthread_create(&s->reader, NULL, th_server_reader, s), 0);
    long long dl = th_now_ms() + 30000;
    while (!s->port && th_now_ms() < dl) {
        pthread_mutex_lock(&s->mu);
        const char *m = strstr(vbuf_cstr(&s->log), "listening on http://127.0.0.1:");
        if (m)
            s->port = (int)strtol(m + strlen("listening on http://127.0.0.1:"), NULL, 10);
        pthread_mutex_unlock(&s->mu);
        if (!s->port)
            th_sleep_ms(10);
    }
    assert_true(s->port > 0);
    snprintf(s->endpoint, sizeof s->endpoint, "http://127.0.0.1:%d", s->port);
    s->proxy = proxy;
    if (proxy) {
        atomic_store(&proxy->target_port, s->port);
        snprintf(s->client_endpoint, sizeof s->client_endpoint, "http://127.0.0.1:%d", proxy->port);
    } else {
        snprintf(s->client_endpoint, sizeof s->client_endpoint, "%s", s->endpoint);
    }
}

/* SIGTERM, and vodupd must exit 0. */
TH void th_server_stop(th_server *s)
{
    if (s->pid <= 0)
        fail_msg("vodupd is not running (did the group setup fail?)");
    assert_int_equal(kill(s->pid, SIGTERM), 0);
    int st = 0;
    pid_t w = 0;
    long long dl = th_now_ms() + 30000;
    while ((w = waitpid(s->pid, &st, WNOHANG)) == 0 && th_now_ms() < dl)
        th_sleep_ms(10);
    if (w == 0) {
        kill(s->pid, SIGKILL);
        waitpid(s->pid, &st, 0);
        fail_msg("vodupd did not stop within 30 s of SIGTERM");
    }
    assert_int_equal(w, s->pid);
    s->pid = 0;
    pthread_join(s->reader, NULL);
    close(s->errfd);
    assert_true(WIFEXITED(st));
    assert_int_equal(WEXITSTATUS(st), 0);
}

TH void th_server_free(th_server *s)
{
    vbuf_free(&s->log);
    pthread_mutex_destroy(&s->mu);
    if (!getenv("VODUP_TEST_KEEP"))
        rm_rf(s->dir);
    free(s->dir);
}

/* The group setup of every client test: libvodup initialised and a vodupd of its own
 * (name: its scratch directory) serving, behind px when that is non-NULL (px is
 * started here too). extra as for th_server_start. */
TH void th_group_start(th_server *s, th_proxy *px, const char *name, const char *const *extra)
{
    assert_int_equal(vodup_global_init(), VODUP_OK);
    if (px)
        th_proxy_start(px);
    th_server_init(s, name);
    th_server_start(s, px, extra);
}

/* The group teardown matching th_group_start. */
TH void th_group_stop(th_server *s, th_proxy *px)
{
    th_server_stop(s);
    if (px)
        th_proxy_stop(px);
    th_server_free(s);
    vodup_global_cleanup();
}

/* Writes a source file <s->dir>/<name> of size bytes (th_make_file: seed, md5) and puts
 * its path in path (cap bytes). */
TH void th_make_source(th_server *s, char *path, size_t cap, const char *name, uint64_t size, uint64_t seed,
                       char md5[33])
{
    snprintf(path, cap, "%s/%s", s->dir, name);
    th_make_file(path, size, seed, md5);
}

/* Current length of the log (a mark for the th_log_* functions). */
TH size_t th_log_mark(th_server *s)
{
    pthread_mutex_lock(&s->mu);
    size_t n = s->log.len;
    pthread_mutex_unlock(&s->mu);
    return n;
}

TH char *th_log_copy(th_server *s, size_t from)
{
    pthread_mutex_lock(&s->mu);
    const char *l = vbuf_cstr(&s->log);
    size_t n = s->log.len;
    if (from > n)
        from = n;
    char *c = strndup(l + from, n - from);
    pthread_mutex_unlock(&s->mu);
    assert_non_null(c);
    return c;
}

typedef struct th_logline {
    char method[16];
    char target[1024];
    unsigned status;
    char op[64];
    unsigned long long in;
    long part; /* partNumber, or 0 */
    int aborted;
} th_logline;

/* Parses one request line; 0 when the line is not one. */
TH int th_parse_logline(const char *line, size_t len, th_logline *o)
{
    memset(o, 0, sizeof *o);
    const char *end = line + len;
    const char *q = memchr(line, '"', len);
    if (!q)
        return 0;
    const char *m = q - 1; /* "... METHOD \"" */
    if (m <= line || *m != ' ')
        return 0;
    const char *ms = m;
    while (ms > line && ms[-1] != ' ')
        ms--;
    if ((size_t)(m - ms) >= sizeof o->method)
        return 0;
    memcpy(o->method, ms, (size_t)(m - ms));
    const char *q2 = q + 1;
    while (q2 < end && *q2 != '"')
        q2++;
    if (q2 >= end || (size_t)(q2 - q - 1) >= sizeof o->target)
        return 0;
    memcpy(o->target, q + 1, (size_t)(q2 - q - 1));
    char rest[512];
    size_t rl = (size_t)(end - q2 - 1);
    if (rl >= sizeof rest)
        rl = sizeof rest - 1;
    memcpy(rest, q2 + 1, rl);
    rest[rl] = '\0';
    char *e;
    o->status = (unsigned)strtoul(rest, &e, 10);
    while (*e == ' ')
        e++;
    size_t k = 0;
    while (e[k] && e[k] != ' ' && k + 1 < sizeof o->op) {
        o->op[k] = e[k];
        k++;
    }
    o->op[k] = '\0';
    const char *in = strstr(rest, " in=");
    if (!in)
        return 0;
    o->in = strtoull(in + 4, NULL, 10);
    o->aborted = strstr(rest, " aborted=") != NULL;
    const char *pn = strstr(o->target, "partNumber=");
    if (pn)
        o->part = strtol(pn + strlen("partNumber="), NULL, 10);
    return 1;
}

/* Calls cb for every request line from mark on. */
TH void th_log_foreach(th_server *s, size_t from, void (*cb)(const th_logline *l, void *u), void *u)
{
    char *c = th_log_copy(s, from);
    const char *p = c;
    while (*p) {
        const char *nl = strchr(p, '\n');
        if (!nl)
            break; /* incomplete line */
        th_logline l;
        if (th_parse_logline(p, (size_t)(nl - p), &l))
            cb(&l, u);
        p = nl + 1;
    }
    free(c);
}

typedef struct th_log_sum {
    const char *op; /* NULL: every operation */
    unsigned long long in, ok_in; /* all lines / lines with status 200 */
    int count, ok_count;
} th_log_sum;

TH void th_log_sum_cb(const th_logline *l, void *u)
{
    th_log_sum *s = u;
    if (s->op && strcmp(s->op, l->op) != 0)
        return;
    s->in += l->in;
    s->count++;
    if (l->status == 200) {
        s->ok_count++;
        s->ok_in += l->in;
    }
}

/* Sum of in= (and count of lines) of operation op (NULL: all) since mark. */
TH th_log_sum th_log_sum_op(th_server *s, size_t from, const char *op)
{
    th_log_sum r = {op, 0, 0, 0, 0};
    th_log_foreach(s, from, th_log_sum_cb, &r);
    return r;
}

/* Waits until the log has not grown for quiet_ms (at most max_ms); returns its mark. */
TH size_t th_log_settle(th_server *s, long quiet_ms, long max_ms)
{
    long long dl = th_now_ms() + max_ms;
    size_t last = th_log_mark(s);
    long long since = th_now_ms();
    while (th_now_ms() < dl) {
        th_sleep_ms(20);
        size_t m = th_log_mark(s);
        if (m != last) {
            last = m;
            since = th_now_ms();
        } else if (th_now_ms() - since >= quiet_ms) {
            break;
        }
    }
    return last;
}

/* ---- the RPC API, as an application server calls it ----------------------------------- */

TH vodup_api *th_api_root(th_server *s)
{
    vodup_api *a = NULL;
    assert_int_equal(vodup_api_new(&a, s->endpoint, s->ak, s->sk, NULL), VODUP_OK);
    assert_non_null(a);
    return a;
}

TH json_t *th_call(vodup_api *a, const char *version, const char *action, const char *const *params)
{
    char *out = NULL;
    int rc = vodup_api_call(a, version, action, params, &out);
    if (rc != VODUP_OK)
        fail_msg("%s: %d %s %s", action, rc, vodup_api_last_error(a), out ? out : "");
    assert_non_null(out);
    json_t *j = json_loads(out, 0, NULL);
    vodup_free(out);
    assert_non_null(j);
    return j;
}

typedef struct th_upload_grant {
    char media_id[128];
    char address[2048];
    char auth[4096];
} th_upload_grant;

/* Takes the grant out of a CreateUpload* / RefreshUpload* answer (id_key names the
 * media id) and frees the answer. */
TH void th_grant_take(json_t *j, const char *id_key, th_upload_grant *g)
{
    th_json_str(g->media_id, sizeof g->media_id, j, id_key);
    th_json_str(g->address, sizeof g->address, j, "UploadAddress");
    th_json_str(g->auth, sizeof g->auth, j, "UploadAuth");
    json_decref(j);
}

TH void th_create_upload_video(vodup_api *a, const char *title, const char *file_name, uint64_t size,
                               th_upload_grant *g)
{
    char sz[32];
    snprintf(sz, sizeof sz, "%llu", (unsigned long long)size);
    const char *p[] = {"Title", title, "FileName", file_name, "FileSize", sz, NULL};
    th_grant_take(th_call(a, "2017-03-21", "CreateUploadVideo", p), "VideoId", g);
}

TH void th_create_upload_image(vodup_api *a, const char *title, const char *ext, th_upload_grant *g)
{
    const char *p[] = {"Title", title, "ImageType", "default", "ImageExt", ext, NULL};
    th_grant_take(th_call(a, "2017-03-21", "CreateUploadImage", p), "ImageId", g);
}

TH void th_refresh_upload_video(vodup_api *a, const char *vid, th_upload_grant *g)
{
    const char *p[] = {"VideoId", vid, NULL};
    th_grant_take(th_call(a, "2017-03-21", "RefreshUploadVideo", p), "VideoId", g);
}

/* GetVideoInfo: Status into status, Size into *size. */
TH void th_video_info(vodup_api *a, const char *vid, char *status, size_t cap, long long *size)
{
    const char *p[] = {"VideoId", vid, NULL};
    json_t *j = th_call(a, "2017-03-21", "GetVideoInfo", p);
    json_t *v = json_object_get(j, "Video");
    assert_non_null(v);
    th_json_str(status, cap, v, "Status");
    *size = (long long)json_integer_value(json_object_get(v, "Size"));
    json_decref(j);
}

/* GetImageInfo: Status and Mezzanine.FileSize. */
TH void th_image_info(vodup_api *a, const char *iid, char *status, size_t cap, long long *size)
{
    const char *p[] = {"ImageId", iid, NULL};
    json_t *j = th_call(a, "2017-03-21", "GetImageInfo", p);
    json_t *v = json_object_get(j, "ImageInfo");
    assert_non_null(v);
    th_json_str(status, cap, v, "Status");
    json_t *m = json_object_get(v, "Mezzanine");
    *size = m ? (long long)json_integer_value(json_object_get(m, "FileSize")) : -1;
    json_decref(j);
}

/* STS AssumeRole by the RAM user into the role: temporary credentials. */
TH void th_assume_role(th_server *s, char *ak, size_t akc, char *sk, size_t skc, char *tok, size_t tokc)
{
    vodup_api *a = NULL;
    assert_int_equal(vodup_api_new(&a, s->endpoint, s->user_ak, s->user_sk, NULL), VODUP_OK);
    const char *p[] = {"RoleArn", s->role_arn, "RoleSessionName", "client-test", "DurationSeconds", "3600", NULL};
    json_t *j = th_call(a, "2015-04-01", "AssumeRole", p);
    json_t *c = json_object_get(j, "Credentials");
    assert_non_null(c);
    th_json_str(ak, akc, c, "AccessKeyId");
    th_json_str(sk, skc, c, "AccessKeySecret");
    th_json_str(tok, tokc, c, "SecurityToken");
    assert_int_equal(strncmp(ak, "STS.", 4), 0);
    json_decref(j);
    vodup_api_free(a);
}

/* ---- reading an object back ------------------------------------------------------------- */

TH size_t th_md5_write(char *p, size_t sz, size_t n, void *u)
{
    vodup_md5_update(u, p, sz * n);
    return sz * n;
}

/* GET http://vodupd/<bucket>/<key> signed OSS V1 with the root key; md5 of the body.
 * Returns the HTTP status. */
TH long th_get_object_md5(th_server *s, const char *bucket, const char *key, char md5[33], uint64_t *len)
{
    char date[64];
    time_t now = time(NULL);
    struct tm tm;
    gmtime_r(&now, &tm);
    strftime(date, sizeof date, "%a, %d %b %Y %H:%M:%S GMT", &tm);
    vbuf sts = VBUF_INIT;
    vbuf_printf(&sts, "GET\n\n\n%s\nx-oss-date:%s\n/%s/%s", date, date, bucket, key);
    unsigned char mac[20];
    vodup_hmac_sha1(mac, s->sk, strlen(s->sk), sts.data, sts.len);
    vbuf b64 = VBUF_INIT;
    vodup_base64_encode(&b64, mac, 20);
    vbuf url = VBUF_INIT;
    vbuf_printf(&url, "%s/%s/", s->endpoint, bucket);
    vodup_uri_encode(&url, key, strlen(key), 1);
    vbuf h1 = VBUF_INIT, h2 = VBUF_INIT;
    vbuf_printf(&h1, "x-oss-date: %s", date);
    vbuf_printf(&h2, "Authorization: OSS %s:%s", s->ak, vbuf_cstr(&b64));
    struct curl_slist *hl = curl_slist_append(NULL, vbuf_cstr(&h1));
    hl = curl_slist_append(hl, vbuf_cstr(&h2));
    CURL *c = curl_easy_init();
    assert_non_null(c);
    vodup_md5_ctx *m = vodup_md5_new();
    curl_easy_setopt(c, CURLOPT_URL, vbuf_cstr(&url));
    curl_easy_setopt(c, CURLOPT_HTTPHEADER, hl);
    curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, th_md5_write);
    curl_easy_setopt(c, CURLOPT_WRITEDATA, m);
    curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
    CURLcode cc = curl_easy_perform(c);
    assert_int_equal(cc, CURLE_OK);
    long code = 0;
    curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &code);
    curl_off_t dl = 0;
    curl_easy_getinfo(c, CURLINFO_SIZE_DOWNLOAD_T, &dl);
    if (len)
        *len = (uint64_t)dl;
    th_md5_finish(m, md5);
    curl_easy_cleanup(c);
    curl_slist_free_all(hl);
    vbuf_free(&sts);
    vbuf_free(&b64);
    vbuf_free(&url);
    vbuf_free(&h1);
    vbuf_free(&h2);
    return code;
}

/* ---- the recording listener ----------------------------------------------------------------- */

#define TH_MAX_ITEMS 64

typedef struct th_item {
    int id;
    int used;
    int started, succeed, failed, expired, retry, retry_resume, progress;
    int last_fail_code;
    vodup_status started_status, succeed_status;
    uint64_t last_done, total, size;
    uint64_t bytes_sent_at_succeed;
    int progress_nonmono;    /* done went down */
    int progress_full;       /* done >= total before succeed */
    int progress_bad_status; /* status was SUCCESS or FAIL in a progress callback */
    vodup_status bad_status;
    int progress_uploading;
    uint64_t full_done, full_total;
    int after_end;           /* a callback came after succeed/failed */
    char media_id[128], bucket[128], key[512];
} th_item;

typedef struct th_rec th_rec;
struct th_rec {
    pthread_mutex_t mu;
    th_item items[TH_MAX_ITEMS];
    int list_completed;
    int refresh_calls, create_calls; /* auth provider */
    long long first_expired_ms;
    /* upload-auth mode: on_upload_started asks the app server (api) for a grant, unless
     * defer_id is the item's id (the test then calls set_upload_auth itself). */
    vodup_api *api;
    int upload_auth_mode;
    int defer_id;
    int grant_failures;
    void (*on_expired)(th_rec *r, vodup_client *c, const vodup_file_info *f);
    void *ctx;
};

TH void th_rec_init(th_rec *r)
{
    memset(r, 0, sizeof *r);
    pthread_mutex_init(&r->mu, NULL);
    r->defer_id = -1;
}

TH void th_rec_destroy(th_rec *r)
{
    pthread_mutex_destroy(&r->mu);
}

/* The item record of id (created on first use). Caller holds r->mu. */
TH th_item *th_item_of(th_rec *r, int id)
{
    for (int i = 0; i < TH_MAX_ITEMS; i++)
        if (r->items[i].used && r->items[i].id == id)
            return &r->items[i];
    for (int i = 0; i < TH_MAX_ITEMS; i++)
        if (!r->items[i].used) {
            r->items[i].used = 1;
            r->items[i].id = id;
            return &r->items[i];
        }
    abort();
}

/* A copy of id's record, taken under the lock. */
TH th_item th_get(th_rec *r, int id)
{
    pthread_mutex_lock(&r->mu);
    th_item it = *th_item_of(r, id);
    pthread_mutex_unlock(&r->mu);
    return it;
}

TH int th_list_completed(th_rec *r)
{
    pthread_mutex_lock(&r->mu);
    int n = r->list_completed;
    pthread_mutex_unlock(&r->mu);
    return n;
}

TH void th_cb_started(vodup_client *c, const vodup_file_info *f, void *u)
{
    th_rec *r = u;
    pthread_mutex_lock(&r->mu);
    th_item *it = th_item_of(r, f->id);
    it->started++;
    it->started_status = f->status;
    it->size = f->size;
    int grant = r->upload_auth_mode && r->defer_id != f->id;
    vodup_api *api = r->api;
    pthread_mutex_unlock(&r->mu);
    if (!grant)
        return;
    /* As an app server would: create the media, hand back address and credentials. */
    th_upload_grant g;
    char title[64];
    snprintf(title, sizeof title, "item %d", f->id);
    const char *slash = strrchr(f->path, '/');
    const char *name = slash ? slash + 1 : f->path;
    char *out = NULL;
    int rc;
    char sz[32];
    snprintf(sz, sizeof sz, "%llu", (unsigned long long)f->size);
    if (f->type == VODUP_MEDIA_IMAGE) {
        const char *p[] = {"Title", title, "ImageType", "default", "ImageExt", "png", NULL};
        rc = vodup_api_call(api, "2017-03-21", "CreateUploadImage", p, &out);
    } else {
        const char *p[] = {"Title", title, "FileName", name, "FileSize", sz, NULL};
        rc = vodup_api_call(api, "2017-03-21", "CreateUploadVideo", p, &out);
    }
    json_t *j = rc == VODUP_OK && out ? json_loads(out, 0, NULL) : NULL;
    vodup_free(out);
    const char *mid = j ? json_string_value(json_object_get(j, f->type == VODUP_MEDIA_IMAGE ? "ImageId" : "VideoId"))
                        : NULL;
    const char *addr = j ? json_string_value(json_object_get(j, "UploadAddress")) : NULL;
    const char *auth = j ? json_string_value(json_object_get(j, "UploadAuth")) : NULL;
    if (!mid || !addr || !auth || vodup_client_set_upload_auth(c, f->id, addr, auth, mid) != VODUP_OK) {
        pthread_mutex_lock(&r->mu);
        r->grant_failures++;
        pthread_mutex_unlock(&r->mu);
    } else {
        (void)g;
    }
    json_decref(j);
}

TH void th_cb_progress(vodup_client *c, const vodup_file_info *f, uint64_t done, uint64_t total, void *u)
{
    (void)c;
    th_rec *r = u;
    pthread_mutex_lock(&r->mu);
    th_item *it = th_item_of(r, f->id);
    if (it->succeed || it->failed)
        it->after_end++;
    if (it->progress && done < it->last_done)
        it->progress_nonmono++;
    if (done >= total && !it->succeed) {
        it->progress_full++;
        it->full_done = done;
        it->full_total = total;
    }
    /* a progress report may trail a pause, stop or cancel, but never comes for an item
     * already ended */
    if (f->status == VODUP_STATUS_SUCCESS || f->status == VODUP_STATUS_FAIL) {
        it->progress_bad_status++;
        it->bad_status = f->status;
    }
    if (f->status == VODUP_STATUS_UPLOADING)
        it->progress_uploading++;
    it->progress++;
    it->last_done = done;
    it->total = total;
    pthread_mutex_unlock(&r->mu);
}

TH void th_cb_succeed(vodup_client *c, const vodup_file_info *f, void *u)
{
    (void)c;
    th_rec *r = u;
    pthread_mutex_lock(&r->mu);
    th_item *it = th_item_of(r, f->id);
    it->succeed++;
    it->succeed_status = f->status;
    it->size = f->size;
    it->bytes_sent_at_succeed = f->bytes_sent_this_run;
    snprintf(it->media_id, sizeof it->media_id, "%s", f->media_id ? f->media_id : "");
    snprintf(it->bucket, sizeof it->bucket, "%s", f->bucket ? f->bucket : "");
    snprintf(it->key, sizeof it->key, "%s", f->object_key ? f->object_key : "");
    pthread_mutex_unlock(&r->mu);
}

TH void th_cb_failed(vodup_client *c, const vodup_file_info *f, int code, const char *msg, void *u)
{
    (void)c;
    th_rec *r = u;
    pthread_mutex_lock(&r->mu);
    th_item *it = th_item_of(r, f->id);
    it->failed++;
    it->last_fail_code = code;
    pthread_mutex_unlock(&r->mu);
    if (getenv("VODUP_TEST_VERBOSE"))
        fprintf(stderr, "[test] item %d failed: %d %s\n", f->id, code, msg ? msg : "");
}

TH void th_cb_expired(vodup_client *c, const vodup_file_info *f, void *u)
{
    th_rec *r = u;
    pthread_mutex_lock(&r->mu);
    th_item *it = th_item_of(r, f->id);
    it->expired++;
    if (!r->first_expired_ms)
        r->first_expired_ms = th_now_ms();
    snprintf(it->media_id, sizeof it->media_id, "%s", f->media_id ? f->media_id : "");
    void (*hook)(th_rec *, vodup_client *, const vodup_file_info *) = r->on_expired;
    pthread_mutex_unlock(&r->mu);
    if (hook)
        hook(r, c, f);
}

TH void th_cb_retry(vodup_client *c, const vodup_file_info *f, int code, const char *msg, void *u)
{
    (void)c, (void)code;
    th_rec *r = u;
    pthread_mutex_lock(&r->mu);
    th_item_of(r, f->id)->retry++;
    pthread_mutex_unlock(&r->mu);
    if (getenv("VODUP_TEST_VERBOSE"))
        fprintf(stderr, "[test] item %d retry: %d %s\n", f->id, code, msg ? msg : "");
}

TH void th_cb_retry_resume(vodup_client *c, const vodup_file_info *f, void *u)
{
    (void)c;
    th_rec *r = u;
    pthread_mutex_lock(&r->mu);
    th_item_of(r, f->id)->retry_resume++;
    pthread_mutex_unlock(&r->mu);
}

TH void th_cb_list_completed(vodup_client *c, void *u)
{
    (void)c;
    th_rec *r = u;
    pthread_mutex_lock(&r->mu);
    r->list_completed++;
    pthread_mutex_unlock(&r->mu);
}

TH vodup_listener th_listener(th_rec *r)
{
    vodup_listener l = VODUP_LISTENER_INIT;
    l.on_upload_started = th_cb_started;
    l.on_upload_progress = th_cb_progress;
    l.on_upload_succeed = th_cb_succeed;
    l.on_upload_failed = th_cb_failed;
    l.on_upload_token_expired = th_cb_expired;
    l.on_upload_retry = th_cb_retry;
    l.on_upload_retry_resume = th_cb_retry_resume;
    l.on_list_completed = th_cb_list_completed;
    l.user = r;
    return l;
}

/* ---- client helpers ---------------------------------------------------------------------- */

TH vodup_status th_status(vodup_client *c, int id)
{
    vodup_file_info *f = NULL;
    int rc = vodup_client_get_file(c, id, &f);
    if (rc != VODUP_OK)
        fail_msg("get_file(%d): %d %s", id, rc, vodup_client_last_error(c));
    assert_non_null(f);
    vodup_status st = f->status;
    vodup_file_info_free(f);
    return st;
}

TH int th_status_is(vodup_client *c, int id, vodup_status st)
{
    return th_status(c, id) == st;
}

/* Snapshot fields of one item (bytes counters). */
TH void th_file_counts(vodup_client *c, int id, uint64_t *done, uint64_t *sent)
{
    vodup_file_info *f = NULL;
    assert_int_equal(vodup_client_get_file(c, id, &f), VODUP_OK);
    if (done)
        *done = f->bytes_done;
    if (sent)
        *sent = f->bytes_sent_this_run;
    vodup_file_info_free(f);
}

typedef struct th_list_acc {
    int n;
    int ids[TH_MAX_ITEMS];
    vodup_status st[TH_MAX_ITEMS];
} th_list_acc;

TH void th_list_cb(const vodup_file_info *f, void *u)
{
    th_list_acc *a = u;
    if (a->n < TH_MAX_ITEMS) {
        a->ids[a->n] = f->id;
        a->st[a->n] = f->status;
    }
    a->n++;
}

TH th_list_acc th_list(vodup_client *c)
{
    th_list_acc a;
    memset(&a, 0, sizeof a);
    assert_int_equal(vodup_client_list_files(c, th_list_cb, &a), VODUP_OK);
    return a;
}

/* An STS-mode client (root key of s, through s's client endpoint) recording into rec. */
TH vodup_client *th_sts_client(th_server *s, const vodup_options *o, th_rec *rec)
{
    vodup_listener l = th_listener(rec);
    vodup_client *c = NULL;
    assert_int_equal(vodup_client_new(&c, o, &l), VODUP_OK);
    assert_int_equal(vodup_client_use_sts(c, s->client_endpoint, s->ak, s->sk, NULL), VODUP_OK);
    return c;
}

/* bytes_done of item id. */
TH uint64_t th_done_of(vodup_client *c, int id)
{
    uint64_t d = 0;
    th_file_counts(c, id, &d, NULL);
    return d;
}

/* Waits up to ms for item id to have at least bytes acknowledged. */
TH void th_wait_done(vodup_client *c, int id, uint64_t bytes, long ms)
{
    int ok = 0;
    TH_WAIT(ok, th_done_of(c, id) >= bytes, ms);
    assert_true(ok);
}

/* Waits up to ms for item id to be in status want; otherwise fails with "<when> the item
 * is <status>, not <want>". */
TH void th_wait_status(vodup_client *c, int id, vodup_status want, long ms, const char *when)
{
    int ok = 0;
    vodup_status st = VODUP_STATUS_UPLOADING;
    TH_WAIT(ok, (st = th_status(c, id)) == want, ms);
    if (!ok)
        fail_msg("%s the item is %s, not %s", when, vodup_status_name(st), vodup_status_name(want));
}

/* The object of a succeeded item has the bytes of the source (MD5). */
TH void th_check_object(th_server *s, th_rec *r, int id, const char *md5)
{
    th_item it = th_get(r, id);
    assert_int_equal(it.succeed, 1);
    assert_true(it.bucket[0] != '\0');
    assert_true(it.key[0] != '\0');
    char got[33];
    uint64_t len = 0;
    long code = th_get_object_md5(s, it.bucket, it.key, got, &len);
    assert_int_equal(code, 200);
    assert_int_equal(len, it.size);
    assert_string_equal(got, md5);
}

TH void th_check_video(vodup_api *api, const char *vid, uint64_t size)
{
    char st[64];
    long long sz = -1;
    th_video_info(api, vid, st, sizeof st, &sz);
    assert_string_equal(st, "UploadSucc");
    assert_int_equal(sz, (long long)size);
}

TH void th_check_image(vodup_api *api, const char *iid, uint64_t size)
{
    char st[64];
    long long sz = -1;
    th_image_info(api, iid, st, sizeof st, &sz);
    assert_string_equal(st, "Normal");
    assert_int_equal(sz, (long long)size);
}

/* Every item recorded ended in exactly one succeed, with sane progress. */
TH void th_check_callbacks(th_rec *r, int id)
{
    th_item it = th_get(r, id);
    assert_true(it.started >= 1);
    assert_int_equal(it.succeed, 1);
    assert_int_equal(it.failed, 0);
    assert_int_equal(it.progress_nonmono, 0);
    if (it.progress_full)
        fail_msg("item %d (%llu bytes): %d progress callback(s) reported done >= total before succeed "
                 "(last %llu/%llu)",
                 id, (unsigned long long)it.size, it.progress_full, (unsigned long long)it.full_done,
                 (unsigned long long)it.full_total);
    if (it.progress_bad_status)
        fail_msg("item %d: %d of %d progress callbacks came with the item already %s", id,
                 it.progress_bad_status, it.progress, vodup_status_name(it.bad_status));
    if (it.progress_uploading == 0 && it.progress > 0)
        fail_msg("item %d: no progress callback saw it UPLOADING", id);
    assert_int_equal(it.after_end, 0);
    if (it.succeed_status != VODUP_STATUS_SUCCESS)
        fail_msg("item %d: on_upload_succeed saw status %s", id, vodup_status_name(it.succeed_status));
    if (it.progress)
        assert_true(it.last_done < it.total);
}

/* A video upload that ended well, every way it shows: SUCCESS, sane callbacks, the
 * stored bytes (md5) and the VOD record (size). */
TH void th_check_upload(th_server *s, vodup_api *api, th_rec *r, vodup_client *c, int id, const char *md5,
                        uint64_t size)
{
    assert_int_equal(th_status(c, id), VODUP_STATUS_SUCCESS);
    th_check_callbacks(r, id);
    th_check_object(s, r, id, md5);
    th_check_video(api, th_get(r, id).media_id, size);
}

#endif
