/* workq.h - a fixed pool of threads running queued jobs.
 *
 * The HTTP threads hand every request's store work here (key lookups, metadata reads and
 * listings, fdatasync, rename, database commits: http/front.c) so that a slow disk or
 * database stalls only the request that waits for it, never the other connections
 * multiplexed on the same event loop.
 */
#ifndef VODUPD_WORKQ_H
#define VODUPD_WORKQ_H

typedef struct workq workq;
typedef void workq_fn(void *arg);

workq *workq_new(int nthreads);
/* 0, or -1 when the queue is shutting down or out of memory. */
int workq_push(workq *q, workq_fn *fn, void *arg);
/* Waits until every queued job has run, then stops and frees the pool. */
void workq_free(workq *q);

#endif
