/* conn.h - what the HTTP front keeps per TCP connection (internal to src/server/http).
 *
 * libmicrohttpd tells us about requests, not reliably about their end: a request it
 * refuses itself (say, a target with too many query arguments for its memory pool)
 * never reaches the completion callback. It does always tell us when a connection
 * closes (MHD_OPTION_NOTIFY_CONNECTION), so each connection carries the request in
 * progress and whatever the completion callback did not release is released there.
 *
 * The same record serves the guards libmicrohttpd lacks: a deadline for the request
 * head, a minimum body rate, and connections counted per client address (the one a
 * trusted proxy names, for proxied requests). A watchdog thread enforces the timing
 * guards by shutting the socket down, which the event loop then sees as the client
 * leaving; the registry lock keeps the descriptor from being closed (and reused)
 * under it, since libmicrohttpd closes a socket only after notifying its close.
 */
#ifndef VODUPD_HTTP_CONN_H
#define VODUPD_HTTP_CONN_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>

#include "server/http/net.h"
#include "server/http/request.h"

typedef struct http_conn http_conn;
typedef struct ip_entry ip_entry;

enum http_conn_phase {
    HTTP_CONN_HEAD, /* accepted, or between requests: waiting for a complete request head */
    HTTP_CONN_BODY, /* head in, body arriving */
    HTTP_CONN_WORK  /* request read: the server works or answers; no client deadline */
};

struct http_conn {
    http_front *f;
    int fd;
    http_addr addr;            /* TCP peer */
    int proxied;               /* peer is a trusted proxy: counted per request, not per connection */
    ip_entry *ip;              /* the address this connection counts under (direct peers) */
    ip_entry *req_ip;          /* proxied: the forwarded client the current request counts under */
    http_conn *prev, *next;    /* every connection */
    http_conn *ip_prev, *ip_next; /* connections of the same address, oldest first */
    http_request *req;         /* between on_uri and the request's log line */
    int phase;
    int64_t phase_ms;          /* CLOCK_MONOTONIC ms the phase began */
    atomic_uint_fast64_t body_bytes;
    uint64_t mark_bytes;       /* body bytes at mark_ms (rate window) */
    int64_t mark_ms;
    int closing;               /* shut down by us; close_reason says why */
    int evicted;
    const char *close_reason;
};

struct http_front {
    vodupd *srv;
    struct MHD_Daemon *d;
    http_limits lim;
    http_cidr *trusted;
    size_t ntrusted;
    pthread_mutex_t mu;        /* the registry, the address table, phases */
    http_conn *head, *tail;
    size_t nconns;
    ip_entry **ip_table;
    pthread_t watchdog;
    int watchdog_started;
    pthread_cond_t cv;
    int stop;
    int64_t last_refusal_log_ms;
    unsigned long refused_since_log;
    atomic_int draining;       /* http_quiesce ran: new requests are refused, answers close */
};

int64_t http__now_ms(void);

/* libmicrohttpd callbacks (conn.c). */
void http__conn_notify(void *cls, struct MHD_Connection *c, void **socket_context,
                       enum MHD_ConnectionNotificationCode code);
enum MHD_Result http__accept_policy(void *cls, const struct sockaddr *addr, socklen_t addrlen);

http_conn *http__conn_of(struct MHD_Connection *c);
/* A request began on hc (on_uri); an earlier one still attached is ended first. */
void http__conn_request_begin(http_conn *hc, http_request *r);
/* Head in: the body phase (deadline by rate) or the work phase. */
void http__conn_head_done(http_conn *hc, int expects_body);
void http__conn_body_done(http_conn *hc);
/* Proxied requests: count r under client; -1 when that address is at its limit. */
int http__conn_account_client(http_conn *hc, const http_addr *client);
/* The request's log line is written: detach it, back to waiting for a head. */
void http__conn_request_end(http_conn *hc, http_request *r);
/* Why we closed the connection (for the log line), or NULL. */
const char *http__conn_close_reason(http_conn *hc);

int http__watchdog_start(http_front *f);
void http__watchdog_stop(http_front *f);
int http__front_alloc_tables(http_front *f);
void http__front_free_tables(http_front *f);

/* front.c: logs and frees a request whatever way it ended. */
void http__request_end(http_request *r, enum MHD_RequestTerminationCode toe);

#endif
