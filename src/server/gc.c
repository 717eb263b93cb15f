/* gc.c - removal of blobs nothing references any more.
 *
 * It also aborts multipart uploads abandoned for longer than --upload-expiry-days, and
 * those of upload credentials that expired, and marks media Uploading for as long
 * UploadFail (also `vodupd gc`, admin.c).
 *
 * The metadata store moves freed blob ids onto a durable list in the same transaction
 * that stops referencing them; this thread unlinks the files afterwards and forgets the
 * ids. A crash between the two steps only delays the removal to the next start.
 */
#include "server/server.h"
#include "server/store/meta_admin.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#define GC_BATCH 256
#define GC_RETRY_MS 500     /* how soon to look again while a reader holds blobs back */
#define GC_IDLE_MS 60000    /* a pass now and then even without kicks (expired uploads) */
#define UPLOAD_SWEEP_S 3600 /* how often abandoned multipart uploads are looked for */

static uint64_t now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000ULL + (uint64_t)ts.tv_nsec;
}

vodupd_reader *vodupd_reader_begin(vodupd *s)
{
    vodupd_reader *r = calloc(1, sizeof *r);
    if (!r)
        return NULL;
    pthread_mutex_lock(&s->readers_mu);
    r->started = now_ns();
    r->prev = s->readers_tail;
    if (s->readers_tail)
        s->readers_tail->next = r;
    else
        s->readers_head = r;
    s->readers_tail = r;
    pthread_mutex_unlock(&s->readers_mu);
    return r;
}

void vodupd_reader_end(vodupd *s, vodupd_reader *r)
{
    if (!r)
        return;
    pthread_mutex_lock(&s->readers_mu);
    if (r->prev)
        r->prev->next = r->next;
    else
        s->readers_head = r->next;
    if (r->next)
        r->next->prev = r->prev;
    else
        s->readers_tail = r->prev;
    pthread_mutex_unlock(&s->readers_mu);
    free(r);
}

/* 1 when a reader that started before t is still running. */
static int older_reader(vodupd *s, uint64_t t)
{
    pthread_mutex_lock(&s->readers_mu);
    int old = s->readers_head && s->readers_head->started <= t;
    pthread_mutex_unlock(&s->readers_mu);
    return old;
}

/* ---- pinned blobs ---------------------------------------------------------------- */

struct vodupd_pin {
    struct vodupd_pin *next;
    int refs;
    char id[VODUP_BLOB_ID_LEN + 1];
};

static unsigned pin_hash(const char *id)
{
    unsigned h = 2166136261u; /* FNV-1a */
    for (; *id; id++)
        h = (h ^ (unsigned char)*id) * 16777619u;
    return h % VODUPD_PIN_BUCKETS;
}

/* The link that points at id's entry, or at the NULL ending its chain. Under readers_mu. */
static struct vodupd_pin **pin_slot(vodupd *s, const char *id)
{
    struct vodupd_pin **pp = &s->pins[pin_hash(id)];
    while (*pp && strcmp((*pp)->id, id) != 0)
        pp = &(*pp)->next;
    return pp;
}

static void unpin_locked(vodupd *s, const vodup_meta_segment *segs, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        struct vodupd_pin **pp = pin_slot(s, segs[i].blob);
        struct vodupd_pin *p = *pp;
        if (p && --p->refs == 0) {
            *pp = p->next;
            free(p);
        }
    }
}

int vodupd_blobs_pin(vodupd *s, const vodup_meta_segment *segs, size_t n)
{
    pthread_mutex_lock(&s->readers_mu);
    for (size_t i = 0; i < n; i++) {
        struct vodupd_pin **pp = pin_slot(s, segs[i].blob);
        if (*pp) {
            (*pp)->refs++;
            continue;
        }
        struct vodupd_pin *p = calloc(1, sizeof *p);
        if (!p) {
            unpin_locked(s, segs, i);
            pthread_mutex_unlock(&s->readers_mu);
            return -1;
        }
        snprintf(p->id, sizeof p->id, "%s", segs[i].blob);
        p->refs = 1;
        *pp = p;
    }
    pthread_mutex_unlock(&s->readers_mu);
    return 0;
}

void vodupd_blobs_unpin(vodupd *s, const vodup_meta_segment *segs, size_t n)
{
    pthread_mutex_lock(&s->readers_mu);
    unpin_locked(s, segs, n);
    pthread_mutex_unlock(&s->readers_mu);
}

static int pinned(vodupd *s, const char *id)
{
    pthread_mutex_lock(&s->readers_mu);
    int p = *pin_slot(s, id) != NULL;
    pthread_mutex_unlock(&s->readers_mu);
    return p;
}

/* Returns 1 when blobs were held back for a reader (try again soon). */
static int gc_pass(vodupd *s)
{
    char ids[GC_BATCH][VODUP_BLOB_ID_LEN + 1], gone[GC_BATCH][VODUP_BLOB_ID_LEN + 1];
    char after[VODUP_BLOB_ID_LEN + 1] = "";
    int held = 0;
    for (;;) {
        /* Every blob taken below was unreferenced before this instant, so only readers
         * that started earlier can hold it, and once those have pinned what they stream
         * no later reader can pin it. */
        uint64_t t = now_ns();
        int n = vodup_meta_gc_take_after(s->meta, after, ids, GC_BATCH);
        if (n <= 0)
            return held;
        if (older_reader(s, t))
            return 1;
        memcpy(after, ids[n - 1], sizeof after);
        int ngone = 0;
        for (int i = 0; i < n; i++) {
            if (pinned(s, ids[i])) {
                held = 1; /* stays on the list for a later pass */
                continue;
            }
            if (ids[i][0]) /* "" is an empty body, which has no file (oss/upload.h) */
                vodup_blob_remove(s->blobs, ids[i]);
            memcpy(gone[ngone++], ids[i], sizeof gone[0]);
        }
        if (ngone && vodup_meta_gc_done(s->meta, gone, ngone) != VODUP_META_OK)
            return held;
        if (n < GC_BATCH)
            return held;
    }
}

void vodupd_gc_run(vodupd *s)
{
    gc_pass(s);
}

/* Aborts multipart uploads left unfinished longer than the operator allows (their parts
 * would otherwise hold disk forever); at most once an hour. */
static void expire_uploads(vodupd *s, time_t *last)
{
    time_t now = time(NULL);
    if (s->upload_expiry <= 0 || (*last && now - *last < UPLOAD_SWEEP_S))
        return;
    *last = now;
    int n;
    while ((n = vodup_meta_upload_expire(s->meta, now - (time_t)s->upload_expiry, 1000)) > 0) {
        fprintf(stderr, "vodupd: aborted %d multipart upload(s) unfinished for more than %ld s\n", n,
                s->upload_expiry);
        if (n < 1000)
            break;
    }
    /* Media whose upload never finished, after as long: UploadFail (store/meta_admin.h). */
    while ((n = vodup_meta_media_expire_uploading(s->meta, now - (time_t)s->upload_expiry, now, 1000)) > 0) {
        fprintf(stderr, "vodupd: marked %d media UploadFail: Uploading for more than %ld s\n", n, s->upload_expiry);
        if (n < 1000)
            break;
    }
}

/* Aborts multipart uploads opened by upload credentials (UploadAuth) once the newest
 * credential that wrote to them has expired, plus --upload-cred-grace (the time a client
 * that paused or queued the file has to fetch fresh credentials and resume): nobody can
 * finish them any more, and each would hold parts and a place in the account's
 * --max-uploads for days.
 * The query reads an index of such uploads only, so it runs with the passes. */
static void expire_credential_uploads(vodupd *s, time_t *last)
{
    time_t now = time(NULL);
    if (now == *last) /* passes come with every kick: once a second is plenty */
        return;
    *last = now;
    time_t before = now - (time_t)s->upload_cred_grace;
    int n, any = 0;
    while ((n = vodup_meta_upload_expire_creds(s->meta, before, 1000)) > 0) {
        fprintf(stderr, "vodupd: aborted %d multipart upload(s) whose upload credentials expired\n", n);
        any = 1;
        if (n < 1000)
            break;
    }
    if (any)
        vodupd_gc_kick(s); /* their parts' blobs are on the garbage list now */
}

static void *gc_main(void *p)
{
    vodupd *s = p;
    int held = 0;
    time_t last_sweep = 0, last_cred_sweep = 0;
    pthread_mutex_lock(&s->gc_mu);
    while (!s->gc_stop) {
        pthread_mutex_unlock(&s->gc_mu);
        expire_uploads(s, &last_sweep);
        expire_credential_uploads(s, &last_cred_sweep);
        pthread_mutex_lock(&s->gc_mu);
        while (!s->gc_kicked && !s->gc_stop) {
            struct timespec until;
            clock_gettime(CLOCK_REALTIME, &until);
            long ms = held ? GC_RETRY_MS : GC_IDLE_MS;
            until.tv_sec += ms / 1000;
            until.tv_nsec += (ms % 1000) * 1000000L;
            if (until.tv_nsec >= 1000000000L) {
                until.tv_sec++;
                until.tv_nsec -= 1000000000L;
            }
            if (pthread_cond_timedwait(&s->gc_cv, &s->gc_mu, &until) != 0)
                break; /* time to look again */
        }
        s->gc_kicked = 0;
        pthread_mutex_unlock(&s->gc_mu);
        held = gc_pass(s);
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
