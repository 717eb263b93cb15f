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
#include "common/oss_sign.h"
#include "common/target.h"
#include "server/auth/auth.h"
#include "server/server.h"

typedef struct http_request http_request;

/* A handler's three moments. begin runs once the headers are in and the caller is
 * authenticated; it either answers (http_respond*) or accepts a body. body gets each
 * chunk (return non-zero after answering to stop reading). finish runs after the last
 * chunk, on a worker thread when the operation writes (so its flushes block nobody). */
typedef struct http_op {
    const char *name;           /* "PutObject", for the log */
    int (*begin)(http_request *r);
    int (*body)(http_request *r, const char *p, size_t n);
    void (*finish)(http_request *r);
    int offload;                /* run finish on the worker pool */
} http_op;

struct http_request {
    vodupd *srv;
    struct MHD_Connection *conn;
    char *raw_target;
    const char *method;
    vodup_target target;
    vodup_header *headers;
    size_t nheaders;
    const char *host;
    char request_id[25];
    struct timespec t0;
    char peer[64];

    /* addressing */
    char *bucket;
    char *key;
    size_t key_len;

    /* who */
    vodup_oss_auth auth;
    vodup_cred cred;
    int authenticated;
    int replay_only;       /* may only repeat what is already stored (see oss/router.c) */

    const http_op *op;
    const char *op_name;   /* finer name for the log (the RPC Action), borrowed */
    int began;
    int body_done;
    int suspended;
    int finished;          /* finish has run (on whichever thread) */

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
};

/* Header lookup, case-insensitive; NULL when absent. */
const char *http_header(const http_request *r, const char *name);
/* Query parameter (decoded); NULL when absent. */
const char *http_query(const http_request *r, const char *name);
int http_has_query(const http_request *r, const char *name);

/* Answer with status and resp (taken over). Adds the common headers. Safe to call once;
 * later calls are ignored (and free resp). */
void http_respond(http_request *r, unsigned int status, struct MHD_Response *resp);
void http_respond_buf(http_request *r, unsigned int status, const char *content_type, vbuf *body);
void http_respond_empty(http_request *r, unsigned int status);

/* Binds and listens on host:port (port 0 picks one): the socket, with *bound_port set,
 * or -1 (errno). Done before the daemon starts, so that everything derived from the
 * port (the public URL) is settled before any request thread reads it. */
int http_bind(const char *host, int port, int *bound_port);
/* Starts the HTTP front on a listening socket (taken over). NULL on failure. */
struct MHD_Daemon *http_start(vodupd *s, int listen_fd, int threads);
void http_stop(struct MHD_Daemon *d);

#endif
