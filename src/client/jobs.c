/* jobs.c - the client's helper threads: a FIFO of jobs per queue, taken in order by the
 * queue's threads (one thread: run one at a time, in order; more: run side by side).
 *
 * The worker (engine.c) never waits for the application or for the VOD API: callbacks,
 * the auth provider and the VOD calls (Create..., Refresh...) are jobs for a helper thread, whose
 * results come back through [mu] fields of the item, with a curl_multi_wakeup. A
 * callback that blocks then delays the callbacks after it, never a transfer. */
#include <stdlib.h>

#include "client/internal.h"

static void *jobq_main(void *arg)
{
    vcl_jobq *q = arg;
    pthread_mutex_lock(&q->mu);
    for (;;) {
        while (!q->head && !q->quit)
            pthread_cond_wait(&q->cv, &q->mu);
        vcl_job *j = q->head;
        if (!j)
            break;   /* quit, and nothing left */
        q->head = j->next;
        if (!q->head)
            q->tail = NULL;
        int skip = q->quit && j->blocking;
        pthread_mutex_unlock(&q->mu);
        /* Once the client is being freed, calls that would wait for an answer nobody
         * needs any more are dropped; notifications already queued still go out. */
        if (!skip)
            j->run(q->c, j);
        j->drop(j);
        pthread_mutex_lock(&q->mu);
    }
    pthread_mutex_unlock(&q->mu);
    vcl_rpc_thread_done();   /* the connection an RPC job kept (api.c) */
    return NULL;
}

int vcl_jobq_start(vcl_jobq *q, vodup_client *c, int threads)
{
    q->c = c;
    q->head = q->tail = NULL;
    q->quit = 0;
    q->nth = 0;
    atomic_init(&q->quitting, 0);
    pthread_mutex_init(&q->mu, NULL);
    pthread_cond_init(&q->cv, NULL);
    if (threads < 1)
        threads = 1;
    if (threads > VCL_JOBQ_MAX_THREADS)
        threads = VCL_JOBQ_MAX_THREADS;
    q->started = 1;
    for (int i = 0; i < threads; i++) {
        if (pthread_create(&q->th[i], NULL, jobq_main, q) != 0) {
            if (q->nth)
                break;   /* fewer threads than asked: the queue still works */
            q->started = 0;
            pthread_mutex_destroy(&q->mu);
            pthread_cond_destroy(&q->cv);
            return VODUP_ENOMEM;
        }
        q->nth++;
    }
    return 0;
}

void vcl_jobq_push(vcl_jobq *q, vcl_job *j)
{
    j->next = NULL;
    pthread_mutex_lock(&q->mu);
    if (q->tail)
        q->tail->next = j;
    else
        q->head = j;
    q->tail = j;
    pthread_cond_signal(&q->cv);
    pthread_mutex_unlock(&q->mu);
}

void vcl_jobq_stop(vcl_jobq *q)
{
    if (!q->started)
        return;
    atomic_store(&q->quitting, 1);   /* an RPC under way aborts (vcl_rpc.cancel) */
    pthread_mutex_lock(&q->mu);
    q->quit = 1;
    pthread_cond_broadcast(&q->cv);
    pthread_mutex_unlock(&q->mu);
    for (int i = 0; i < q->nth; i++)
        pthread_join(q->th[i], NULL);
    pthread_mutex_destroy(&q->mu);
    pthread_cond_destroy(&q->cv);
    q->started = 0;
}

int vcl_jobq_is_self(const vcl_jobq *q)
{
    if (!q->started)
        return 0;
    for (int i = 0; i < q->nth; i++)
        if (pthread_equal(pthread_self(), q->th[i]))
            return 1;
    return 0;
}
