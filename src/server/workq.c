/* workq.c - see workq.h. A mutex-protected singly linked FIFO and a condition variable;
 * the jobs are short (one flush and one transaction), so nothing fancier pays off. */
#include "server/workq.h"

#include <pthread.h>
#include <stdlib.h>

struct job {
    workq_fn *fn;
    void *arg;
    struct job *next;
};

struct workq {
    pthread_mutex_t mu;
    pthread_cond_t cv;
    struct job *head, *tail;
    int stopping;
    int nthreads;
    pthread_t *threads;
};

static void *worker(void *p)
{
    workq *q = p;
    for (;;) {
        pthread_mutex_lock(&q->mu);
        while (!q->head && !q->stopping)
            pthread_cond_wait(&q->cv, &q->mu);
        struct job *j = q->head;
        if (!j) { /* stopping and drained */
            pthread_mutex_unlock(&q->mu);
            return NULL;
        }
        q->head = j->next;
        if (!q->head)
            q->tail = NULL;
        pthread_mutex_unlock(&q->mu);
        j->fn(j->arg);
        free(j);
    }
}

workq *workq_new(int nthreads)
{
    workq *q = calloc(1, sizeof *q);
    if (!q)
        return NULL;
    q->threads = calloc((size_t)nthreads, sizeof *q->threads);
    if (!q->threads) {
        free(q);
        return NULL;
    }
    pthread_mutex_init(&q->mu, NULL);
    pthread_cond_init(&q->cv, NULL);
    for (int i = 0; i < nthreads; i++) {
        if (pthread_create(&q->threads[i], NULL, worker, q) != 0)
            break;
        q->nthreads++;
    }
    if (q->nthreads == 0) {
        workq_free(q);
        return NULL;
    }
    return q;
}

int workq_push(workq *q, workq_fn *fn, void *arg)
{
    struct job *j = malloc(sizeof *j);
    if (!j)
        return -1;
    j->fn = fn;
    j->arg = arg;
    j->next = NULL;
    pthread_mutex_lock(&q->mu);
    if (q->stopping) {
        pthread_mutex_unlock(&q->mu);
        free(j);
        return -1;
    }
    if (q->tail)
        q->tail->next = j;
    else
        q->head = j;
    q->tail = j;
    pthread_cond_signal(&q->cv);
    pthread_mutex_unlock(&q->mu);
    return 0;
}

void workq_free(workq *q)
{
    if (!q)
        return;
    pthread_mutex_lock(&q->mu);
    q->stopping = 1;
    pthread_cond_broadcast(&q->cv);
    pthread_mutex_unlock(&q->mu);
    for (int i = 0; i < q->nthreads; i++)
        pthread_join(q->threads[i], NULL);
    pthread_mutex_destroy(&q->mu);
    pthread_cond_destroy(&q->cv);
    free(q->threads);
    free(q);
}
