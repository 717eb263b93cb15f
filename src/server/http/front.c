/* front.c - the HTTP front: libmicrohttpd set-up, the request lifecycle, the log line.
 *
 * The daemon runs a poll(2) event loop on a small pool of threads. (Not epoll: with
 * libmicrohttpd 0.9.75's edge-triggered epoll mode, a client's close that arrives
 * together with the last bytes of a body is never noticed, so a truncated upload kept
 * its connection and temporary file until the idle timeout; tests/integration
 * errors.test.mjs "interrupted uploads" catches it.) Each request goes
 * through: raw target captured (uri_log) -> headers in, routed and authenticated
 * (first access call) -> body chunks to the handler -> at the end, the handler's finish
 * step, which for writing operations runs on the worker pool while the connection is
 * suspended, so a slow fdatasync never stalls the event loop -> response -> log line.
 */
#include "server/http/request.h"

#include <arpa/inet.h>
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
#include "server/config.h"
#include "server/oss/oss.h"

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

static const char CORS_EXPOSE[] =
    "ETag, x-oss-request-id, x-oss-hash-crc64ecma, x-oss-object-type, x-oss-storage-class, "
    "x-oss-err, x-oss-ec, x-oss-next-append-position, Content-MD5, Content-Length, Content-Range, "
    "Last-Modified, x-oss-version-id";

static void add_common_headers(http_request *r, struct MHD_Response *resp)
{
    MHD_add_response_header(resp, "x-oss-request-id", r->request_id);
    MHD_add_response_header(resp, "Server", "vodupd");
    /* Browsers upload straight into the store, so every answer (errors too: the browser
     * SDK reads their bodies) carries CORS headers for the requesting origin. */
    const char *origin = http_header(r, "Origin");
    if (origin && *origin) {
        MHD_add_response_header(resp, "Access-Control-Allow-Origin", origin);
        MHD_add_response_header(resp, "Access-Control-Expose-Headers", CORS_EXPOSE);
        MHD_add_response_header(resp, "Vary", "Origin");
    }
}

void http_respond(http_request *r, unsigned int status, struct MHD_Response *resp)
{
    if (r->resp) { /* answered already: keep the first answer */
        if (resp)
            MHD_destroy_response(resp);
        return;
    }
    if (!resp)
        resp = MHD_create_response_from_buffer(0, (void *)"", MHD_RESPMEM_PERSISTENT);
    if (!resp)
        return;
    add_common_headers(r, resp);
    r->resp = resp;
    r->status = status;
}

void http_respond_buf(http_request *r, unsigned int status, const char *content_type, vbuf *body)
{
    size_t n = body->len;
    char *p = vbuf_steal(body);
    struct MHD_Response *resp =
        MHD_create_response_from_buffer(n, p ? p : (void *)"", p ? MHD_RESPMEM_MUST_FREE : MHD_RESPMEM_PERSISTENT);
    if (!resp) {
        free(p);
        return;
    }
    if (content_type)
        MHD_add_response_header(resp, "Content-Type", content_type);
    r->resp_bytes = n;
    http_respond(r, status, resp);
}

void http_respond_empty(http_request *r, unsigned int status)
{
    http_respond(r, status, NULL);
}

/* ---- lifecycle -------------------------------------------------------------- */

static void *on_uri(void *cls, const char *uri, struct MHD_Connection *c)
{
    http_request *r = calloc(1, sizeof *r);
    if (!r)
        return NULL;
    r->srv = cls;
    r->conn = c;
    atomic_fetch_add(&r->srv->active_requests, 1);
    r->raw_target = strdup(uri ? uri : "");
    clock_gettime(CLOCK_MONOTONIC, &r->t0);
    unsigned char id[12];
    if (vodup_random(id, sizeof id) != 0)
        memset(id, 0, sizeof id);
    vodup_hex_upper(r->request_id, id, sizeof id);
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
    const union MHD_ConnectionInfo *ci = MHD_get_connection_info(r->conn, MHD_CONNECTION_INFO_CLIENT_ADDRESS);
    snprintf(r->peer, sizeof r->peer, "-");
    if (!ci || !ci->client_addr)
        return;
    const struct sockaddr *sa = ci->client_addr;
    if (sa->sa_family == AF_INET)
        inet_ntop(AF_INET, &((const struct sockaddr_in *)(const void *)sa)->sin_addr, r->peer, sizeof r->peer);
    else if (sa->sa_family == AF_INET6)
        inet_ntop(AF_INET6, &((const struct sockaddr_in6 *)(const void *)sa)->sin6_addr, r->peer, sizeof r->peer);
}

static int answer_early(const http_request *r)
{
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

static enum MHD_Result queue(http_request *r)
{
    if (r->queued)
        return MHD_YES;
    if (!r->resp)
        return MHD_NO;
    r->queued = 1;
    return MHD_queue_response(r->conn, r->status, r->resp);
}

static void run_finish(void *p)
{
    http_request *r = p;
    struct MHD_Connection *c = r->conn;
    r->op->finish(r);
    r->finished = 1;
    /* After resume the event loop may complete and free r at once: touch nothing. */
    MHD_resume_connection(c);
}

static enum MHD_Result on_access(void *cls, struct MHD_Connection *c, const char *url,
                                 const char *method, const char *version, const char *upload_data,
                                 size_t *upload_data_size, void **req_cls)
{
    (void)cls, (void)url, (void)version;
    http_request *r = *req_cls;
    if (!r || !r->raw_target)
        return MHD_NO;

    if (!r->began) {
        r->began = 1;
        r->conn = c;
        r->method = method;
        r->headers = calloc(VODUPD_MAX_HEADERS, sizeof *r->headers);
        if (!r->headers)
            return MHD_NO;
        int nh = MHD_get_connection_values(c, MHD_HEADER_KIND, collect_header, r);
        peer_address(r);
        r->host = http_header(r, "Host");
        if (nh > VODUPD_MAX_HEADERS || r->nheaders >= VODUPD_MAX_HEADERS)
            oss_error(r, OSS_ERR_InvalidArgument, "Too many request headers (at most %d).", VODUPD_MAX_HEADERS);
        else
            oss_route(r);
        /* libmicrohttpd closes the connection when the answer is queued from this first
         * call, without reading the body. That suits a client that waits for it
         * (Expect: 100-continue) or a body too large to be worth reading; but a client
         * still sending a small body then gets a reset instead of our answer. So small
         * refused bodies are read and dropped, and the answer follows them, on a
         * connection that stays alive. */
        if (r->resp && answer_early(r))
            return queue(r);
        return MHD_YES;
    }

    if (*upload_data_size) {
        size_t n = *upload_data_size;
        *upload_data_size = 0;
        r->bytes_in += n;
        if (r->resp || !r->op || !r->op->body)
            return MHD_YES; /* answered already: drain what the client still sends */
        if (r->op->body(r, upload_data, n) < 0)
            return MHD_NO;  /* the handler wants the connection dropped */
        return MHD_YES;
    }

    /* End of the request body (or back from the worker pool). */
    if (!r->resp && r->op && r->op->finish && !r->finished) {
        if (r->op->offload && !r->suspended) {
            r->suspended = 1;
            MHD_suspend_connection(c);
            if (workq_push(r->srv->wq, run_finish, r) != 0) {
                MHD_resume_connection(c);
                oss_error(r, OSS_ERR_InternalError, "The server is shutting down.");
            }
            return MHD_YES;
        }
        if (!r->op->offload) {
            r->op->finish(r);
            r->finished = 1;
        }
    }
    if (!r->resp)
        oss_error(r, OSS_ERR_InternalError, "The request produced no answer.");
    return queue(r);
}

/* The log names the request without its secrets: signature and token parameters
 * are cut from the target, and bytes that are not printable are escaped. */
static const char *const SECRET_PARAMS[] = {"Signature", "x-oss-signature", "X-Amz-Signature", "security-token",
                                            "x-oss-security-token", "SecurityToken", "X-Amz-Security-Token", NULL};

static void log_target(vbuf *out, const char *t)
{
    const char *q = strchr(t, '?');
    size_t plen = q ? (size_t)(q - t) : strlen(t);
    for (size_t i = 0; i < plen && i < 512; i++) {
        unsigned char ch = (unsigned char)t[i];
        if (ch < 0x21 || ch > 0x7e || ch == '"')
            vbuf_printf(out, "\\x%02x", ch);
        else
            vbuf_putc(out, (char)ch);
    }
    if (!q)
        return;
    vbuf_putc(out, '?');
    const char *p = q + 1;
    int first = 1;
    while (*p) {
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
        for (size_t i = 0; i < (secret ? nlen : n) && i < 256; i++) {
            unsigned char ch = (unsigned char)p[i];
            if (ch < 0x21 || ch > 0x7e || ch == '"')
                vbuf_printf(out, "\\x%02x", ch);
            else
                vbuf_putc(out, (char)ch);
        }
        if (secret && eq)
            vbuf_puts(out, "=REDACTED");
        p += n;
        if (*p == '&')
            p++;
    }
}

static void on_completed(void *cls, struct MHD_Connection *c, void **req_cls,
                         enum MHD_RequestTerminationCode toe)
{
    (void)cls, (void)c;
    http_request *r = *req_cls;
    if (!r)
        return;
    *req_cls = NULL;
    struct timespec t1;
    clock_gettime(CLOCK_MONOTONIC, &t1);
    double ms = (double)(t1.tv_sec - r->t0.tv_sec) * 1e3 + (double)(t1.tv_nsec - r->t0.tv_nsec) / 1e6;
    char when[21];
    vodup_time_iso(when, time(NULL));
    vbuf line = VBUF_INIT;
    vbuf_printf(&line, "%s %s %s \"", when, r->peer[0] ? r->peer : "-", r->method ? r->method : "-");
    log_target(&line, r->raw_target ? r->raw_target : "");
    vbuf_printf(&line, "\" %u %s in=%llu ms=%.1f id=%s", r->status,
                r->op_name ? r->op_name : r->op ? r->op->name : "-",
                (unsigned long long)r->bytes_in, ms, r->request_id);
    if (r->cred.key_id[0])
        vbuf_printf(&line, " ak=%s", r->cred.key_id);
    if (r->err_code)
        vbuf_printf(&line, " err=%s", r->err_code);
    if (toe != MHD_REQUEST_TERMINATED_COMPLETED_OK)
        vbuf_printf(&line, " aborted=%d", (int)toe);
    vbuf_putc(&line, '\n');
    fputs(vbuf_cstr(&line), stderr);
    vbuf_free(&line);

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
    if (bind(fd, (struct sockaddr *)&ss, sl) != 0 || listen(fd, 512) != 0) {
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

struct MHD_Daemon *http_start(vodupd *s, int listen_fd, int threads)
{
    unsigned int flags = MHD_USE_POLL_INTERNAL_THREAD | MHD_ALLOW_SUSPEND_RESUME | MHD_USE_ERROR_LOG;
    return MHD_start_daemon(
        flags, 0, NULL, NULL, on_access, s,
        MHD_OPTION_LISTEN_SOCKET, (MHD_socket)listen_fd,
        MHD_OPTION_THREAD_POOL_SIZE, (unsigned int)threads,
        MHD_OPTION_URI_LOG_CALLBACK, on_uri, s,
        MHD_OPTION_NOTIFY_COMPLETED, on_completed, s,
        MHD_OPTION_CONNECTION_MEMORY_LIMIT, (size_t)VODUPD_CONN_MEMORY,
        MHD_OPTION_CONNECTION_TIMEOUT, (unsigned int)VODUPD_CONN_TIMEOUT,
        MHD_OPTION_CONNECTION_LIMIT, (unsigned int)VODUPD_MAX_CONNECTIONS,
        MHD_OPTION_PER_IP_CONNECTION_LIMIT, (unsigned int)VODUPD_MAX_PER_IP,
        MHD_OPTION_END);
}

void http_stop(struct MHD_Daemon *d)
{
    MHD_stop_daemon(d);
}
