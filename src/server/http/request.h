/* request.h - the state of one HTTP request, from the raw target to the log line.
 *
 * libmicrohttpd calls us several times per request (headers, each body chunk, the end);
 * everything a handler needs between those calls lives here and is released in one
 * place, http_request_free, whatever way the request ended.
 */
#ifndef VODUPD_HTTP_REQUEST_H
#define VODUPD_HTTP_REQUEST_H

#include <microhttpd.h>
#include <stdint.h>
#include <time.h>

#include "common/buf.h"
#include "common/v4sign.h" /* vodup_header */
#include "common/target.h"
#include "server/auth/auth.h"
#include "server/dialect.h"
#include "server/http/response.h"
#include "server/server.h"

typedef struct http_request http_request;
typedef struct http_front http_front;
struct http_conn;

/* A handler's three moments. begin runs once the headers are in and the caller is
 * authenticated, on a worker thread (it may read the stores); it either answers
 * (http_reply) or accepts a body. body gets each chunk, on the event loop (return < 0
 * to have the connection dropped). finish runs after the last chunk, on a worker
 * thread (its store reads and flushes block nobody). */
typedef struct http_op {
    const char *name;           /* "PutObject", for the log */
    int (*begin)(http_request *r);
    int (*body)(http_request *r, const char *p, size_t n);
    void (*finish)(http_request *r);
    int offload;                /* the operation writes: it makes the store grow or changes it */
} http_op;

struct http_request {
    vodupd *srv;
    struct MHD_Connection *conn;
    struct http_conn *hc;  /* the connection's record (conn.h) */
    char *raw_target;
    const char *method;
    vodup_target target;
    vodup_header *headers;
    size_t nheaders;
    const char *host;
    const vodup_dialect *dialect; /* the protocol this request speaks; NULL until detected */
    unsigned char id[16];  /* the request's random id, drawn when it starts ... */
    char request_id[VODUP_REQUEST_ID_MAX]; /* ... spelled by its dialect: in every answer and the log */
    char log_id[25];       /* ... and as the log line's id= field (24 hex digits, the first 12 bytes) */
    struct timespec t0;
    char peer[64];         /* the client: TCP peer, or the one a trusted proxy forwards for */
    char via[64];          /* the trusted proxy, when there is one */

    /* addressing */
    char *bucket;
    char *key;
    size_t key_len;

    /* who */
    vodup_cred cred;
    int authenticated;
    int replay_only;       /* may only repeat what is already stored (see oss/router.c) */

    const http_op *op;
    const char *op_name;   /* finer name for the log (the RPC Action), borrowed */
    int began;
    int head_resumed;      /* the head step ran on a worker; the next call completes it */
    int body_done;
    int finishing;         /* the finish step was handed to a worker */
    int finished;          /* finish has run */

    /* small bodies (XML) are collected here, up to body_limit */
    vbuf body;
    size_t body_limit;
    int body_too_large;

    /* operation-private state, released by op_free */
    void *op_state;
    void (*op_free)(void *);

    /* the answer */
    struct MHD_Response *resp;
    unsigned int status;
    const char *err_code;   /* for the log */
    uint64_t bytes_in;
    uint64_t resp_bytes;
    int queued;
    int must_close;         /* framing not to be trusted: answer and close the connection */
};

/* Header lookup, case-insensitive; NULL when absent. */
const char *http_header(const http_request *r, const char *name);
/* Query parameter (decoded); NULL when absent. */
const char *http_query(const http_request *r, const char *name);
int http_has_query(const http_request *r, const char *name);

/* Answer with status and resp (taken over). Adds the common headers. Safe to call once;
 * later calls are ignored (and free resp). Kept for the operations that still build
 * libmicrohttpd responses themselves; new code answers through response.h. */
void http_respond(http_request *r, unsigned int status, struct MHD_Response *resp);

/* Binds and listens on host:port (port 0 picks one): the socket, with *bound_port set,
 * or -1 (errno). Done before the daemon starts, so that everything derived from the
 * port (the public URL) is settled before any request thread reads it. */
int http_bind(const char *host, int port, int *bound_port);
/* The connection guards (docs/reliability.md). Times in milliseconds; 0 turns a guard off. */
typedef struct http_limits {
    int threads;                 /* event-loop threads */
    unsigned max_connections;    /* in all (libmicrohttpd refuses beyond) */
    unsigned max_per_ip;         /* per client address (IPv6: per /64); 0 no limit */
    long head_timeout_ms;        /* accept (or end of the previous request) to end of headers */
    long idle_timeout_ms;        /* no byte either way for this long: closed */
    unsigned long min_body_rate; /* bytes/s a request body must average ... */
    long body_rate_window_ms;    /* ... over each window of this length */
    const char *const *trusted_proxies; /* CIDR strings; their X-Forwarded-For is believed */
    size_t ntrusted;
    struct http_tls *tls;        /* non-NULL: this front speaks HTTPS with it (tls.h) */
} http_limits;

/* Fills l with the defaults of config.h, max_connections from the descriptor limit. */
void http_limits_default(http_limits *l, long nofile);
/* Raises the soft RLIMIT_NOFILE to the hard one; returns the soft limit now in force. */
long http_raise_nofile(void);
/* Checks one --trusted-proxy value: 0 ok, -1 not an address or CIDR range. */
int http_check_cidr(const char *s);

/* Starts the HTTP front on a listening socket (taken over). NULL on failure. */
http_front *http_start(vodupd *s, int listen_fd, const http_limits *lim);
struct MHD_Daemon *http_daemon(http_front *f);
/* Stops accepting: the listening socket is closed; a new request on a connection kept
 * alive is answered 503 with Connection: close; requests in flight go on. */
void http_quiesce(http_front *f);
/* 1 when this libmicrohttpd can serve HTTPS. */
int http_tls_supported(void);
void http_stop(http_front *f);

#endif
