/* front.c - the HTTP front: libmicrohttpd set-up, the request lifecycle, the log line.
 *
 * The daemon runs a poll(2) event loop on a small pool of threads. (Not epoll: with
 * libmicrohttpd 0.9.75's edge-triggered epoll mode, a client's close that arrives
 * together with the last bytes of a body is never noticed, so a truncated upload kept
 * its connection and temporary file until the idle timeout; tests/integration
 * errors.test.mjs "interrupted uploads" catches it.) Each request goes through: raw
 * target captured (uri_log) -> headers in, its dialect detected, checked and routed
 * (first access call) -> the head step (authentication, the operation's begin) on the
 * worker pool, the connection suspended -> body chunks to the handler -> the finish step
 * on the worker pool -> response -> log line. The front knows no protocol: the dialect
 * table (server/dialect.h) does. docs/internals/server-pipeline.md walks through it.
 */
#include "server/http/request.h"

#include <arpa/inet.h>
#include <jansson.h>
#include <stdarg.h>
#include <sys/resource.h>
#include <ctype.h>
#include <errno.h>
#include <sys/socket.h>
#include <unistd.h>
#include <netinet/in.h>
#include <openssl/crypto.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "common/codec.h"
#include "common/digest.h"
#include "common/timefmt.h"
#include "common/xml.h"
#include "server/config.h"
#include "server/dialect.h"
#include "server/store/loop_guard.h"
#include "server/http/conn.h"
#include "server/http/metrics.h"
#include "server/http/net.h"
#include "server/http/tls.h"
#include "server/http/sdk.h"

const char *http_header(const http_request *r, const char *name)
{
    for (size_t i = 0; i < r->nheaders; i++)
        if (strcasecmp(r->headers[i].name, name) == 0)
            return r->headers[i].value;
    return NULL;
}

const char *http_query(const http_request *r, const char *name)
{
    return vodup_target_get(&r->target, name);
}

int http_has_query(const http_request *r, const char *name)
{
    return vodup_target_get(&r->target, name) != NULL;
}

/* ---- errors answered by the front itself ---------------------------------------- */

/* The front refuses what it cannot trust (framing, header syntax, limits) in the
 * dialect the request speaks, as a core status the dialect maps like any other. */
static void front_error(http_request *r, vodupd_status st, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static void front_error(http_request *r, vodupd_status st, const char *fmt, ...)
{
    if (r->resp)
        return;
    char msg[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    if (r->dialect) {
        vodupd_detail d = {.what = msg};
        r->dialect->render_error(r, st, &d);
        return;
    }
    /* No dialect took the request: plain HTTP. */
    unsigned int status = st == VODUPD_EBADREQUEST ? 400 : st == VODUPD_ENOTIMPL ? 501 : st == VODUPD_EBUSY ? 503 : 500;
    vbuf b = VBUF_INIT;
    vbuf_printf(&b, "%s\n", msg);
    r->err_code = vodupd_status_name(st);
    http_respond_buf(r, status, "text/plain; charset=utf-8", &b);
    vbuf_free(&b);
}

/* Which dialect speaks r: the first in the table whose detect says so. The target is
 * parsed here (a malformed one leaves r->target.path NULL, for the dialect to refuse). */
static void detect_dialect(http_request *r)
{
    if (vodup_target_parse(&r->target, r->raw_target, strlen(r->raw_target)) != 0) {
        vodup_target_free(&r->target);
        memset(&r->target, 0, sizeof r->target);
    }
    for (size_t i = 0; vodup_dialects[i]; i++)
        if (vodup_dialects[i]->detect(r)) {
            r->dialect = vodup_dialects[i];
            r->dialect->format_id(r->request_id, r->id);
            return;
        }
}

/* Routes r in its dialect: 1 when an operation was picked and its store work (the
 * caller's authentication, the operation's begin step) is to run; 0 when r is answered
 * already. Nothing here touches a store. */
static int route(http_request *r)
{
    if (r->target.path && http_sdk_route(r)) /* GET /sdk/vodup-upload.js, the web upload SDK */
        return 0;
    const vodup_dialect *d = r->dialect;
    if (!d) {
        front_error(r, VODUPD_EBADREQUEST, "No protocol served here takes this request.");
        return 0;
    }
    return d->route(r) == 0 && r->op;
}

/* ---- lifecycle -------------------------------------------------------------- */

static void *on_uri(void *cls, const char *uri, struct MHD_Connection *c)
{
    http_front *f = cls;
    http_request *r = calloc(1, sizeof *r);
    if (!r)
        return NULL;
    r->srv = f->srv;
    r->conn = c;
    r->raw_target = strdup(uri ? uri : "");
    clock_gettime(CLOCK_MONOTONIC, &r->t0);
    if (vodup_random(r->id, sizeof r->id) != 0)
        memset(r->id, 0, sizeof r->id);
    /* The log's spelling; answers use the dialect's once it is known (until then, and
     * for a request that never gets that far, the same). */
    vodup_hex_upper(r->log_id, r->id, 12);
    memcpy(r->request_id, r->log_id, sizeof r->log_id);
    atomic_fetch_add(&r->srv->active_requests, 1);
    /* From here the request belongs to its connection too: if libmicrohttpd drops it
     * without completing it, the connection's close releases it (conn.c). */
    r->hc = http__conn_of(c);
    http__conn_request_begin(r->hc, r);
    return r;
}

static enum MHD_Result collect_header(void *cls, enum MHD_ValueKind kind, const char *key,
                                      const char *value)
{
    (void)kind;
    http_request *r = cls;
    if (r->nheaders >= VODUPD_MAX_HEADERS)
        return MHD_NO;
    r->headers[r->nheaders].name = key;
    r->headers[r->nheaders].value = value ? value : "";
    r->nheaders++;
    return MHD_YES;
}

static void peer_address(http_request *r)
{
    snprintf(r->peer, sizeof r->peer, "-");
    if (!r->hc)
        return;
    http_addr_format(&r->hc->addr, r->peer, sizeof r->peer);
}

/* A trusted proxy's request is accounted to, and logged with, the client it forwards
 * for. Returns -1 after answering when that client is over its connection limit. */
static int forwarded_client(http_request *r)
{
    http_conn *hc = r->hc;
    if (!hc || !hc->proxied)
        return 0;
    const char *vals[16];
    size_t n = 0;
    for (size_t i = 0; i < r->nheaders && n < sizeof vals / sizeof vals[0]; i++)
        if (strcasecmp(r->headers[i].name, "X-Forwarded-For") == 0)
            vals[n++] = r->headers[i].value;
    http_addr client;
    if (http_xff_client(&client, vals, n, hc->f->trusted, hc->f->ntrusted) != 0)
        return 0; /* no usable forwarded address: the proxy itself is the client */
    snprintf(r->via, sizeof r->via, "%s", r->peer);
    http_addr_format(&client, r->peer, sizeof r->peer);
    if (http__conn_account_client(hc, &client) != 0) {
        front_error(r, VODUPD_EBUSY,
                    "Too many connections from your address (at most %u).", hc->f->lim.max_per_ip);
        return -1;
    }
    return 0;
}

/* Header syntax (RFC 9110 5.1, 5.5): a name that is not a token or a value with a
 * control byte would be cut or dropped somewhere downstream; refuse it here, by name. */
static int check_head(http_request *r)
{
    if (!http_is_token(r->method, strlen(r->method))) {
        front_error(r, VODUPD_EBADREQUEST, "The request method is not a valid HTTP token.");
        return -1;
    }
    for (size_t i = 0; i < r->nheaders; i++) {
        const char *name = r->headers[i].name, *value = r->headers[i].value;
        if (!http_is_token(name, strlen(name))) {
            vbuf shown = VBUF_INIT;
            http_log_escape(&shown, name, strlen(name), 64);
            front_error(r, VODUPD_EBADREQUEST,
                        "The header name \"%s\" is not valid (only token characters, no spaces).", vbuf_cstr(&shown));
            vbuf_free(&shown);
            return -1;
        }
        if (!http_value_ok(value, strlen(value))) {
            front_error(r, VODUPD_EBADREQUEST,
                        "The value of header \"%s\" contains a control character (CR, LF or another byte below 0x20).",
                        name);
            return -1;
        }
    }
    return 0;
}

/* Message framing (RFC 9112 6.3): libmicrohttpd takes the first Content-Length and lets
 * Transfer-Encoding win over it; a proxy in front may have read it the other way, and
 * whatever the two disagree about runs as a second request. So any ambiguity is refused
 * and the connection closed. Returns -1 after answering. */
static int check_framing(http_request *r)
{
    const char *cl = NULL, *te = NULL;
    int ncl = 0, nte = 0;
    for (size_t i = 0; i < r->nheaders; i++) {
        const char *name = r->headers[i].name, *value = r->headers[i].value;
        if (strcasecmp(name, "Content-Length") == 0) {
            size_t n = strlen(value);
            if (n == 0 || n > 20 || strspn(value, "0123456789") != n) {
                r->must_close = 1;
                front_error(r, VODUPD_EBADREQUEST, "The Content-Length header is not a number.");
                return -1;
            }
            if (cl && strcmp(cl, value) != 0) {
                r->must_close = 1;
                front_error(r, VODUPD_EBADREQUEST,
                            "The request has several different Content-Length headers.");
                return -1;
            }
            cl = value;
            ncl++;
        } else if (strcasecmp(name, "Transfer-Encoding") == 0) {
            te = value;
            nte++;
        }
    }
    if (te && ncl) {
        r->must_close = 1;
        front_error(r, VODUPD_EBADREQUEST,
                    "The request has both Content-Length and Transfer-Encoding.");
        return -1;
    }
    if (te && (nte > 1 || strcasecmp(te, "chunked") != 0)) {
        r->must_close = 1;
        front_error(r, VODUPD_ENOTIMPL,
                    "Transfer-Encoding other than a single \"chunked\" is not supported.");
        return -1;
    }
    return 0;
}

static int answer_early(const http_request *r)
{
    if (r->must_close)
        return 1;
    const char *expect = http_header(r, "Expect");
    if (expect && strcasecmp(expect, "100-continue") == 0)
        return 1;
    if (http_header(r, "Transfer-Encoding"))
        return 1; /* unknown length: not worth reading */
    const char *cl = http_header(r, "Content-Length");
    if (!cl)
        return 0;
    char *end;
    unsigned long long n = strtoull(cl, &end, 10);
    return *end || n > VODUPD_MAX_DRAIN;
}

static int expects_body(const http_request *r)
{
    if (http_header(r, "Transfer-Encoding"))
        return 1;
    const char *cl = http_header(r, "Content-Length");
    return cl && strspn(cl, "0") != strlen(cl);
}

static enum MHD_Result queue(http_request *r)
{
    if (r->queued)
        return MHD_YES;
    if (!r->resp)
        return MHD_NO;
    r->queued = 1;
    /* While draining, no answer invites another request on its connection. */
    if (r->must_close || (r->hc && atomic_load(&r->hc->f->draining)))
        MHD_add_response_header(r->resp, "Connection", "close");
    return MHD_queue_response(r->conn, r->status, r->resp);
}

/* The rest of the first call, once the head step is done (on a worker and back, or
 * skipped). libmicrohttpd closes the connection when the answer is queued from the
 * first call, without reading the body. That suits a client that waits for it
 * (Expect: 100-continue), a body too large to be worth reading, or framing we do not
 * trust; but a client still sending a small body then gets a reset instead of our
 * answer. So small refused bodies are read and dropped, and the answer follows them,
 * on a connection that stays alive. */
static enum MHD_Result head_done(http_request *r)
{
    http__conn_head_done(r->hc, expects_body(r));
    if (r->resp && answer_early(r))
        return queue(r);
    return MHD_YES;
}

/* The store work of a request runs on the worker pool while its connection is
 * suspended (a database read or a flush there stalls nobody else), in two steps: head
 * (authenticate the caller, begin the operation) once the headers are in, and finish
 * once the body is. The event loop keeps what cannot wait or block: framing, routing,
 * body chunks, queueing the answer. A worker never queues the answer itself:
 * libmicrohttpd wants MHD_queue_response from the access handler, which it calls again
 * after MHD_resume_connection. The loop threads carry the store's mark
 * (store/loop_guard.h) while the access handler runs, so in debug builds a store call
 * left on the loop aborts the test that reaches it. */
static void run_head(void *p)
{
    http_request *r = p;
    struct MHD_Connection *c = r->conn;
    const vodup_dialect *d = r->dialect;
    if (!d->authenticate || d->authenticate(r) == 0)
        r->op->begin(r);
    r->head_resumed = 1;
    /* After resume the event loop may go on with r at once: touch nothing. */
    MHD_resume_connection(c);
}

static void run_finish(void *p)
{
    http_request *r = p;
    struct MHD_Connection *c = r->conn;
    r->op->finish(r);
    r->finished = 1;
    MHD_resume_connection(c);
}

/* Suspends c and hands r to fn on the worker pool: 0, or -1 (shutting down) with c
 * running again. */
static int offload(http_request *r, struct MHD_Connection *c, workq_fn *fn)
{
    MHD_suspend_connection(c);
    if (workq_push(r->srv->wq, fn, r) == 0)
        return 0;
    MHD_resume_connection(c);
    return -1;
}

/* The first call, headers in: checks and routing here, then the head step on a worker. */
static enum MHD_Result on_head(http_request *r, struct MHD_Connection *c)
{
    int nh = MHD_get_connection_values(c, MHD_HEADER_KIND, collect_header, r);
    peer_address(r);
    r->host = http_header(r, "Host");
    detect_dialect(r);
    int go = 0;
    if (r->hc && atomic_load(&r->hc->f->draining)) {
        /* After SIGTERM a kept-alive connection may still bring requests: refused at once
         * (and the connection closed), so only what was in flight delays the exit. */
        r->must_close = 1;
        front_error(r, VODUPD_EBUSY, "The server is shutting down; retry on a new connection.");
    } else if (nh > VODUPD_MAX_HEADERS) /* collect_header stops one past the limit */
        front_error(r, VODUPD_EBADREQUEST, "Too many request headers (at most %d).", VODUPD_MAX_HEADERS);
    else if (check_framing(r) == 0 && check_head(r) == 0 && forwarded_client(r) == 0)
        go = route(r);
    if (go) {
        /* No body is read while the head step runs: the body-rate guard starts after it. */
        http__conn_head_done(r->hc, 0);
        if (offload(r, c, run_head) == 0)
            return MHD_YES;
        front_error(r, VODUPD_EINTERNAL, "The server is shutting down.");
    }
    return head_done(r);
}

/* Where a request stands when libmicrohttpd calls: headers just in, back from the head
 * step, a body chunk, or the end of the body (or back from the finish step). */
static enum MHD_Result access_step(http_request *r, struct MHD_Connection *c, const char *method,
                                   const char *upload_data, size_t *upload_data_size)
{
    if (!r->began) {
        r->began = 1;
        r->conn = c;
        r->method = method;
        r->headers = calloc(VODUPD_MAX_HEADERS, sizeof *r->headers);
        if (!r->headers)
            return MHD_NO;
        return on_head(r, c);
    }
    if (r->head_resumed) { /* libmicrohttpd repeats its first call after the resume */
        r->head_resumed = 0;
        enum MHD_Result rc = head_done(r);
        if (r->queued || !*upload_data_size)
            return rc;
    }

    if (*upload_data_size) {
        size_t n = *upload_data_size;
        *upload_data_size = 0;
        r->bytes_in += n;
        if (r->hc)
            atomic_fetch_add(&r->hc->body_bytes, n);
        if (r->resp || !r->op || !r->op->body)
            return MHD_YES; /* answered already: drain what the client still sends */
        /* Chunks stream into the byte store here, on the loop: each write is an append
         * to a local file; the flush that makes it durable is finish's. */
        vodup_thread_mark_event_loop(0);
        int rc = r->op->body(r, upload_data, n);
        vodup_thread_mark_event_loop(1);
        return rc < 0 ? MHD_NO : MHD_YES; /* < 0: the handler wants the connection dropped */
    }

    /* End of the request body (or back from the finish step). */
    if (!r->body_done) {
        r->body_done = 1;
        http__conn_body_done(r->hc);
    }
    if (!r->resp && r->op && r->op->finish && !r->finished && !r->finishing) {
        r->finishing = 1;
        if (offload(r, c, run_finish) == 0)
            return MHD_YES;
        front_error(r, VODUPD_EINTERNAL, "The server is shutting down.");
    }
    if (!r->resp)
        front_error(r, VODUPD_EINTERNAL, "The request produced no answer.");
    return queue(r);
}

static enum MHD_Result on_access(void *cls, struct MHD_Connection *c, const char *url,
                                 const char *method, const char *version, const char *upload_data,
                                 size_t *upload_data_size, void **req_cls)
{
    (void)cls, (void)url, (void)version;
    http_request *r = *req_cls;
    if (!r || !r->raw_target)
        return MHD_NO;
    vodup_thread_mark_event_loop(1);
    enum MHD_Result rc = access_step(r, c, method, upload_data, upload_data_size);
    vodup_thread_mark_event_loop(0);
    return rc;
}

/* ---- the log line ----------------------------------------------------------------
 * One line per request, every field that a client chose passed through one escaper
 * (http_log_escape), so no field can hold a line break, a space that shifts the fields
 * after it, or a quote that ends the target early. Secrets are cut from the target. */
static const char *const SECRET_PARAMS[] = {"Signature", "x-oss-signature", "X-Amz-Signature", "security-token",
                                            "x-oss-security-token", "SecurityToken", "X-Amz-Security-Token", NULL};

#define LOG_MAX_PATH  512  /* bytes of the path logged */
#define LOG_MAX_PARAM 256  /* bytes of each query parameter logged */
#define LOG_MAX_FIELD 128  /* bytes of any other field (method, action, key id, ...) */
#define LOG_MAX_QUERY 2048 /* bytes of the whole query logged */

static void log_target(vbuf *out, const char *t)
{
    const char *q = strchr(t, '?');
    size_t plen = q ? (size_t)(q - t) : strlen(t);
    http_log_escape(out, t, plen, LOG_MAX_PATH);
    if (!q)
        return;
    vbuf_putc(out, '?');
    size_t start = out->len;
    const char *p = q + 1;
    int first = 1;
    while (*p) {
        if (out->len - start > LOG_MAX_QUERY) {
            vbuf_puts(out, "...");
            return;
        }
        const char *amp = strchr(p, '&');
        size_t n = amp ? (size_t)(amp - p) : strlen(p);
        const char *eq = memchr(p, '=', n);
        size_t nlen = eq ? (size_t)(eq - p) : n;
        if (!first)
            vbuf_putc(out, '&');
        first = 0;
        int secret = 0;
        for (int i = 0; SECRET_PARAMS[i]; i++)
            if (strlen(SECRET_PARAMS[i]) == nlen && strncasecmp(p, SECRET_PARAMS[i], nlen) == 0)
                secret = 1;
        http_log_escape(out, p, secret ? nlen : n, LOG_MAX_PARAM);
        if (secret && eq)
            vbuf_puts(out, "=REDACTED");
        p += n;
        if (*p == '&')
            p++;
    }
}

static void log_field(vbuf *out, const char *s)
{
    if (!s || !*s) {
        vbuf_putc(out, '-');
        return;
    }
    http_log_escape(out, s, strlen(s), LOG_MAX_FIELD);
}

void http__request_end(http_request *r, enum MHD_RequestTerminationCode toe)
{
    struct timespec t1;
    clock_gettime(CLOCK_MONOTONIC, &t1);
    double ms = (double)(t1.tv_sec - r->t0.tv_sec) * 1e3 + (double)(t1.tv_nsec - r->t0.tv_nsec) / 1e6;
    char when[21];
    vodup_time_iso(when, time(NULL));
    if (!r->peer[0])
        peer_address(r);
    vbuf line = VBUF_INIT;
    vbuf_printf(&line, "%s ", when);
    log_field(&line, r->peer);
    vbuf_putc(&line, ' ');
    log_field(&line, r->method);
    vbuf_puts(&line, " \"");
    log_target(&line, r->raw_target ? r->raw_target : "");
    vbuf_printf(&line, "\" %u ", r->status);
    log_field(&line, r->op_name ? r->op_name : r->op ? r->op->name : "-");
    vbuf_printf(&line, " in=%llu ms=%.1f id=%s", (unsigned long long)r->bytes_in, ms, r->log_id);
    /* A dialect that spells ids its own way (RPC: a UUID) has it logged as its clients
     * see it, so that a RequestId a user reports finds its line. */
    if (strcmp(r->request_id, r->log_id) != 0)
        vbuf_printf(&line, " rid=%s", r->request_id);
    if (r->cred.key_id[0]) {
        vbuf_puts(&line, " ak=");
        log_field(&line, r->cred.key_id);
    }
    if (r->err_code) {
        vbuf_puts(&line, " err=");
        log_field(&line, r->err_code);
    }
    if (r->via[0]) {
        vbuf_puts(&line, " via=");
        log_field(&line, r->via);
    }
    if (toe != MHD_REQUEST_TERMINATED_COMPLETED_OK)
        vbuf_printf(&line, " aborted=%d", (int)toe);
    const char *why = http__conn_close_reason(r->hc);
    if (why)
        vbuf_printf(&line, " closed=%s", why);
    vbuf_putc(&line, '\n');
    fputs(vbuf_cstr(&line), stderr);
    vbuf_free(&line);

    /* Counted where it is logged, with the same fields (before op_free: the RPC Action
     * is borrowed from the handler's state). */
    metrics_request(r->dialect ? r->dialect->name : "-", r->op_name ? r->op_name : r->op ? r->op->name : NULL,
                    r->status, r->bytes_in, r->resp_bytes, ms / 1e3);
    http__conn_request_end(r->hc, r);
    atomic_fetch_sub(&r->srv->active_requests, 1);
    if (r->op_free)
        r->op_free(r->op_state);
    if (r->resp) /* MHD holds its own reference while it still sends */
        MHD_destroy_response(r->resp);
    vodup_target_free(&r->target);
    vbuf_free(&r->body);
    auth_cred_clear(&r->cred);
    free(r->headers);
    free(r->bucket);
    free(r->key);
    free(r->raw_target);
    free(r);
}

static void on_completed(void *cls, struct MHD_Connection *c, void **req_cls,
                         enum MHD_RequestTerminationCode toe)
{
    (void)cls, (void)c;
    http_request *r = *req_cls;
    if (!r)
        return;
    *req_cls = NULL;
    http__request_end(r, toe);
}

/* libmicrohttpd's own messages can quote what a client sent: they go through the same
 * escaper, one line each. */
__attribute__((format(printf, 2, 0))) static void mhd_log(void *cls, const char *fmt, va_list ap)
{
    (void)cls;
    char msg[1024];
    vsnprintf(msg, sizeof msg, fmt, ap);
    size_t n = strlen(msg);
    while (n && msg[n - 1] == '\n')
        n--;
    /* A time and a level like every other line: a peer going away is routine (info), the
     * rest is something to look at (warning). */
    static const char *const ROUTINE[] = {"closed by remote", "reset by peer", "has been disconnected",
                                          "timed out", NULL};
    const char *level = "warning";
    for (size_t i = 0; ROUTINE[i]; i++)
        if (strstr(msg, ROUTINE[i]))
            level = "info";
    char when[21];
    vodup_time_iso(when, time(NULL));
    vbuf line = VBUF_INIT;
    vbuf_printf(&line, "%s vodupd: http: %s: ", when, level);
    for (size_t i = 0; i < n; i++) {
        unsigned char ch = (unsigned char)msg[i];
        if (ch == ' ')
            vbuf_putc(&line, ' '); /* readable prose; every other byte as the log escapes it */
        else
            http_log_escape(&line, msg + i, 1, 1);
    }
    vbuf_putc(&line, '\n');
    fputs(vbuf_cstr(&line), stderr);
    vbuf_free(&line);
}

int http_bind(const char *host, int port, int *bound_port)
{
    struct sockaddr_storage ss;
    memset(&ss, 0, sizeof ss);
    socklen_t sl;
    struct sockaddr_in *sin = (struct sockaddr_in *)&ss;
    struct sockaddr_in6 *sin6 = (struct sockaddr_in6 *)&ss;
    if (inet_pton(AF_INET, host, &sin->sin_addr) == 1) {
        sin->sin_family = AF_INET;
        sin->sin_port = htons((uint16_t)port);
        sl = sizeof *sin;
    } else if (inet_pton(AF_INET6, host, &sin6->sin6_addr) == 1) {
        sin6->sin6_family = AF_INET6;
        sin6->sin6_port = htons((uint16_t)port);
        sl = sizeof *sin6;
    } else {
        fprintf(stderr, "vodupd: --listen wants an IP address, not '%s'\n", host);
        return -1;
    }
    int fd = socket(ss.ss_family, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
    if (fd < 0)
        return -1;
    int one = 1;
    setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    if (ss.ss_family == AF_INET6)
        setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &one, sizeof one);
    if (bind(fd, (struct sockaddr *)&ss, sl) != 0 || listen(fd, VODUPD_LISTEN_BACKLOG) != 0) {
        int e = errno;
        close(fd);
        errno = e;
        return -1;
    }
    struct sockaddr_storage got;
    socklen_t gl = sizeof got;
    if (getsockname(fd, (struct sockaddr *)&got, &gl) != 0) {
        close(fd);
        return -1;
    }
    *bound_port = got.ss_family == AF_INET6 ? ntohs(((struct sockaddr_in6 *)&got)->sin6_port)
                                            : ntohs(((struct sockaddr_in *)&got)->sin_port);
    return fd;
}

long http_raise_nofile(void)
{
    struct rlimit rl;
    if (getrlimit(RLIMIT_NOFILE, &rl) != 0)
        return 1024;
    if (rl.rlim_cur < rl.rlim_max) {
        struct rlimit want = rl;
        want.rlim_cur = rl.rlim_max;
        if (setrlimit(RLIMIT_NOFILE, &want) == 0)
            rl = want;
    }
    if (rl.rlim_cur == RLIM_INFINITY || rl.rlim_cur > (rlim_t)1 << 30)
        return 1L << 30;
    return (long)rl.rlim_cur;
}

void http_limits_default(http_limits *l, long nofile)
{
    memset(l, 0, sizeof *l);
    l->threads = 4;
    /* Each connection may hold a few descriptors besides its socket (an upload's
     * temporary file, a download's object files); the rest are the server's own. */
    long n = (nofile - VODUPD_FD_RESERVE) / VODUPD_FDS_PER_CONN;
    if (n > VODUPD_MAX_CONNECTIONS)
        n = VODUPD_MAX_CONNECTIONS;
    if (n < VODUPD_MIN_CONNECTIONS)
        n = VODUPD_MIN_CONNECTIONS;
    l->max_connections = (unsigned)n;
    l->max_per_ip = VODUPD_MAX_PER_IP;
    l->head_timeout_ms = VODUPD_HEAD_TIMEOUT * 1000L;
    l->idle_timeout_ms = VODUPD_CONN_TIMEOUT * 1000L;
    l->min_body_rate = VODUPD_MIN_BODY_RATE;
    l->body_rate_window_ms = VODUPD_BODY_RATE_WINDOW * 1000L;
}

int http_check_cidr(const char *s)
{
    http_cidr c;
    return http_cidr_parse(&c, s);
}

static void front_free(http_front *f)
{
    if (!f)
        return;
    http__watchdog_stop(f);
    http__front_free_tables(f);
    pthread_cond_destroy(&f->cv);
    pthread_mutex_destroy(&f->mu);
    free(f->trusted);
    free(f);
}

http_front *http_start(vodupd *s, int listen_fd, const http_limits *lim)
{
    http_front *f = calloc(1, sizeof *f);
    if (!f)
        return NULL;
    f->srv = s;
    f->lim = *lim;
    f->lim.trusted_proxies = NULL;
    pthread_mutex_init(&f->mu, NULL);
    pthread_condattr_t ca;
    pthread_condattr_init(&ca);
    pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
    pthread_cond_init(&f->cv, &ca);
    pthread_condattr_destroy(&ca);
    if (http__front_alloc_tables(f) != 0)
        goto fail;
    if (lim->ntrusted) {
        f->trusted = calloc(lim->ntrusted, sizeof *f->trusted);
        if (!f->trusted)
            goto fail;
        for (size_t i = 0; i < lim->ntrusted; i++)
            if (http_cidr_parse(&f->trusted[f->ntrusted++], lim->trusted_proxies[i]) != 0)
                goto fail;
    }
    unsigned int threads = lim->threads > 0 ? (unsigned int)lim->threads : 1;
    unsigned int max_conn = lim->max_connections < threads ? threads : lim->max_connections;
    /* Idle seconds, rounded up: libmicrohttpd 0.9.75 counts its timeout in seconds. */
    unsigned int idle = lim->idle_timeout_ms > 0 ? (unsigned int)((lim->idle_timeout_ms + 999) / 1000) : 0;
    unsigned int flags = MHD_USE_POLL_INTERNAL_THREAD | MHD_ALLOW_SUSPEND_RESUME | MHD_USE_ERROR_LOG;
    if (lim->tls)
        flags |= MHD_USE_TLS;
    f->d = MHD_start_daemon(
        flags, 0, http__accept_policy, f, on_access, f,
        MHD_OPTION_EXTERNAL_LOGGER, mhd_log, f, /* first, or earlier options log unescaped */
        MHD_OPTION_LISTEN_SOCKET, (MHD_socket)listen_fd,
        MHD_OPTION_THREAD_POOL_SIZE, threads,
        MHD_OPTION_URI_LOG_CALLBACK, on_uri, f,
        MHD_OPTION_NOTIFY_COMPLETED, on_completed, f,
        MHD_OPTION_NOTIFY_CONNECTION, http__conn_notify, f,
        MHD_OPTION_CONNECTION_MEMORY_LIMIT, (size_t)VODUPD_CONN_MEMORY,
        MHD_OPTION_CONNECTION_TIMEOUT, idle,
        MHD_OPTION_CONNECTION_LIMIT, max_conn,
        /* per address: ours (conn.c), which makes room by closing idle connections */
        MHD_OPTION_PER_IP_CONNECTION_LIMIT, 0U,
        /* HTTPS options last: for a plain front the first END stops the list here. The
         * certificate comes per handshake from tls.c, so SIGHUP can replace it. */
        lim->tls ? MHD_OPTION_HTTPS_PRIORITIES : MHD_OPTION_END, VODUPD_TLS_PRIORITIES,
        MHD_OPTION_HTTPS_CERT_CALLBACK, http_tls_retrieve,
        MHD_OPTION_END);
    if (!f->d)
        goto fail;
    if (http__watchdog_start(f) != 0) {
        MHD_stop_daemon(f->d);
        goto fail;
    }
    return f;
fail:
    front_free(f);
    return NULL;
}

struct MHD_Daemon *http_daemon(http_front *f)
{
    return f ? f->d : NULL;
}

void http_quiesce(http_front *f)
{
    if (!f)
        return;
    atomic_store(&f->draining, 1);
    MHD_socket quiet = MHD_quiesce_daemon(f->d); /* ours to close from now on */
    if (quiet != MHD_INVALID_SOCKET)
        close(quiet);
}

int http_tls_supported(void)
{
    return MHD_is_feature_supported(MHD_FEATURE_TLS) == MHD_YES;
}

void http_stop(http_front *f)
{
    if (!f)
        return;
    http__watchdog_stop(f); /* before the daemon: no shutdown() on a descriptor being closed */
    MHD_stop_daemon(f->d);
    front_free(f);
}
