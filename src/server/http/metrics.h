/* metrics.h - request counters (kept where each request's log line is written) and the
 * admin listener that serves them as /metrics (Prometheus text format) with /healthz. */
#ifndef VODUPD_HTTP_METRICS_H
#define VODUPD_HTTP_METRICS_H

#include <stdint.h>

struct vodupd;
typedef struct http_front http_front;

/* One finished request: dialect "oss" or "rpc", operation name (NULL: "-"), status,
 * body bytes in and out, seconds from its first byte to its end. Thread-safe, lock-free
 * for series seen before. */
void metrics_request(const char *dialect, const char *op, unsigned status, uint64_t in, uint64_t out, double secs);
/* A listener whose open connections /metrics reports, by name ("http", "https"). */
void metrics_add_front(http_front *f, const char *name); /* NULL f: ignored */

typedef struct metrics_admin metrics_admin;
/* Serves /healthz and /metrics on listen_fd (taken over), on its own thread: their
 * checks read the database and the file system, and block nobody but the scraper.
 * reserve / reserve_pct: the --disk-reserve below which /healthz reports not ready. */
metrics_admin *metrics_admin_start(struct vodupd *s, int listen_fd, uint64_t reserve, unsigned reserve_pct);
void metrics_admin_stop(metrics_admin *a);

#endif
