/* gc.c - removal of blobs nothing references any more.
 *
 * The metadata store moves freed blob ids onto a durable list in the same transaction
 * that stops referencing them; this thread unlinks the files afterwards and forgets the
 * ids. A crash between the two steps only delays the removal to the next start.
 */
#include "server/server.h"

#include <stdio.h>
#include <string.h>
#include <strings.h>

#define GC_BATCH 256

void vodupd_gc_run(vodupd *s)
{
    char ids[GC_BATCH][33];
    for (;;) {
        int n = vodup_meta_gc_take(s->meta, ids, GC_BATCH);
        if (n <= 0)
            return;
        for (int i = 0; i < n; i++)
            s->blobs->ops->remove(s->blobs, ids[i]);
        if (vodup_meta_gc_done(s->meta, ids, n) != VODUP_META_OK)
            return;
        if (n < GC_BATCH)
            return;
    }
}

static void *gc_main(void *p)
{
    vodupd *s = p;
    pthread_mutex_lock(&s->gc_mu);
    while (!s->gc_stop) {
        while (!s->gc_kicked && !s->gc_stop)
            pthread_cond_wait(&s->gc_cv, &s->gc_mu);
        s->gc_kicked = 0;
        pthread_mutex_unlock(&s->gc_mu);
        vodupd_gc_run(s);
        pthread_mutex_lock(&s->gc_mu);
    }
    pthread_mutex_unlock(&s->gc_mu);
    return NULL;
}

void vodupd_gc_kick(vodupd *s)
{
    pthread_mutex_lock(&s->gc_mu);
    s->gc_kicked = 1;
    pthread_cond_signal(&s->gc_cv);
    pthread_mutex_unlock(&s->gc_mu);
}

int vodupd_gc_start(vodupd *s)
{
    pthread_mutex_init(&s->gc_mu, NULL);
    pthread_cond_init(&s->gc_cv, NULL);
    if (pthread_create(&s->gc_thread, NULL, gc_main, s) != 0)
        return -1;
    s->gc_running = 1;
    return 0;
}

void vodupd_gc_stop(vodupd *s)
{
    if (!s->gc_running)
        return;
    pthread_mutex_lock(&s->gc_mu);
    s->gc_stop = 1;
    pthread_cond_signal(&s->gc_cv);
    pthread_mutex_unlock(&s->gc_mu);
    pthread_join(s->gc_thread, NULL);
    s->gc_running = 0;
    pthread_mutex_destroy(&s->gc_mu);
    pthread_cond_destroy(&s->gc_cv);
}

int vodupd_is_own_host(const char *host, void *srv)
{
    vodupd *s = srv;
    for (int i = 0; i < s->n_own_hosts; i++)
        if (strcasecmp(host, s->own_hosts[i]) == 0)
            return 1;
    return 0;
}
