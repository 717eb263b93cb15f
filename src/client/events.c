/* events.c - callbacks: snapshots taken under the lock, queued by the worker, delivered by
 * the callback thread; progress throttling; on_list_completed.
 *
 * Part of the worker (see engine.h and docs/internals/libvodup.md). */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

#include "client/engine.h"
#include "common/crc.h"
#include "common/xml.h"

static int ended(vodup_status s)
{
    return s == VODUP_STATUS_SUCCESS || s == VODUP_STATUS_FAIL || s == VODUP_STATUS_CANCELED;
}

struct vcl_event {
    int type;
    vodup_file_info *f;
    int code;
    char *msg;
    uint64_t done, total;
};

vodup_file_info *vcl_snapshot_locked(const vcl_item *it)
{
    /* One block for the struct and its strings, so vodup_file_info_free is a free(). */
    const char *s[5] = {it->path, it->media_id, it->endpoint, it->bucket, it->object_key};
    size_t need = sizeof(vodup_file_info);
    for (int i = 0; i < 5; i++)
        need += s[i] ? strlen(s[i]) + 1 : 0;
    vodup_file_info *f = calloc(1, need);
    if (!f)
        return NULL;
    char *p = (char *)(f + 1);
    const char *o[5] = {NULL};
    for (int i = 0; i < 5; i++) {
        if (!s[i])
            continue;
        size_t n = strlen(s[i]) + 1;
        memcpy(p, s[i], n);
        o[i] = p;
        p += n;
    }
    f->id = it->id;
    f->path = o[0];
    f->media_id = o[1];
    f->endpoint = o[2];
    f->bucket = o[3];
    f->object_key = o[4];
    f->type = it->type;
    f->status = it->status;
    f->size = it->size;
    /* "Acknowledged" reaches the size only with success: the last part can be stored
     * while Complete is still to come, and 100% before success is what the official
     * SDKs get wrong. */
    f->bytes_done = it->bytes_done;
    if (it->status != VODUP_STATUS_SUCCESS && it->size && f->bytes_done >= it->size)
        f->bytes_done = it->size - 1;
    f->bytes_sent_this_run = it->bytes_sent;
    f->last_error = it->last_error;
    return f;
}

static int wants(const vodup_client *c, int type)
{
    const vodup_listener *l = &c->l;
    switch (type) {
    case EV_STARTED: return l->on_upload_started != NULL;
    case EV_PROGRESS: return l->on_upload_progress != NULL;
    case EV_SUCCEED: return l->on_upload_succeed != NULL;
    case EV_FAILED: return l->on_upload_failed != NULL;
    case EV_EXPIRED: return l->on_upload_token_expired != NULL;
    case EV_RETRY: return l->on_upload_retry != NULL;
    case EV_RETRY_RESUME: return l->on_upload_retry_resume != NULL;
    }
    return 0;
}

/* Queues a callback for it (snapshot now, delivery later without the lock). */
void vcl_emit(vodup_client *c, vcl_item *it, int type, int code, const char *msg, uint64_t done, uint64_t total)
{
    if (!wants(c, type))
        return;
    if (c->nevents == c->capevents) {
        size_t n = c->capevents ? c->capevents * 2 : 16;
        vcl_event *ne = realloc(c->events, n * sizeof *ne);
        if (!ne)
            return;   /* out of memory: a lost notification, the upload itself goes on */
        c->events = ne;
        c->capevents = n;
    }
    lk(c);
    /* Progress is news of an upload under way: a pause (or cancel) that came after the
     * bytes were acknowledged wins, and the value goes out with the next progress. */
    int skip = it->deleted || (type == EV_PROGRESS && it->status != VODUP_STATUS_UPLOADING);
    vodup_file_info *f = skip ? NULL : vcl_snapshot_locked(it);
    ulk(c);
    if (!f)
        return;
    vcl_event *ev = &c->events[c->nevents++];
    ev->type = type;
    ev->f = f;
    ev->code = code;
    ev->msg = msg ? strdup(msg) : NULL;
    ev->done = done;
    ev->total = total;
}

/* One queued callback, delivered by the callback thread. */
typedef struct ev_job {
    vcl_job base;
    vcl_event ev;
} ev_job;

static void ev_run(vodup_client *c, vcl_job *j)
{
    vcl_event *ev = &((ev_job *)j)->ev;
    const vodup_listener *l = &c->l;
    const char *m = ev->msg ? ev->msg : vodup_strerror(ev->code);
    switch (ev->type) {
    case EV_STARTED: l->on_upload_started(c, ev->f, l->user); break;
    case EV_PROGRESS: l->on_upload_progress(c, ev->f, ev->done, ev->total, l->user); break;
    case EV_SUCCEED: l->on_upload_succeed(c, ev->f, l->user); break;
    case EV_FAILED: l->on_upload_failed(c, ev->f, ev->code, m, l->user); break;
    case EV_EXPIRED: l->on_upload_token_expired(c, ev->f, l->user); break;
    case EV_RETRY: l->on_upload_retry(c, ev->f, ev->code, m, l->user); break;
    case EV_RETRY_RESUME: l->on_upload_retry_resume(c, ev->f, l->user); break;
    }
}

static void ev_drop(vcl_job *j)
{
    ev_job *e = (ev_job *)j;
    free(e->ev.f);
    free(e->ev.msg);
    free(e);
}

/* Hands the queued callbacks to the callback thread, in order. The worker goes on at
 * once: an application blocking in a callback (say, calling its server from
 * on_upload_started) must not hold up other files' transfers. */
void vcl_dispatch(vodup_client *c)
{
    for (size_t i = 0; i < c->nevents; i++) {
        ev_job *j = calloc(1, sizeof *j);
        if (!j) {   /* out of memory: a lost notification, the upload itself goes on */
            free(c->events[i].f);
            free(c->events[i].msg);
            continue;
        }
        j->base.run = ev_run;
        j->base.drop = ev_drop;
        j->ev = c->events[i];
        vcl_jobq_push(&c->cbq, &j->base);
    }
    c->nevents = 0;
}

void vcl_report_progress(vodup_client *c, vcl_item *it, int64_t now, int64_t *wake)
{
    vcl_engine *e = &it->e;
    if (!e->active || e->acked == e->reported || e->acked >= e->size)
        return;
    int64_t due = e->reported_at + c->o.progress_interval_ms;
    if (now < due) {
        if (*wake < 0 || due < *wake)
            *wake = due;
        return;
    }
    size_t before = c->nevents;
    vcl_emit(c, it, EV_PROGRESS, 0, NULL, e->acked, e->size);
    if (c->nevents > before) {   /* not skipped (paused): else it goes out later */
        e->reported = e->acked;
        e->reported_at = now;
    }
}

/* on_list_completed, then the list marked done, on the callback thread: after every
 * callback queued before it, so that a caller returning from wait has seen them all. */
typedef struct list_job {
    vcl_job base;
    int gen;
} list_job;

static void list_run(vodup_client *c, vcl_job *j)
{
    int gen = ((list_job *)j)->gen;
    if (c->l.on_list_completed)
        c->l.on_list_completed(c, c->l.user);
    lk(c);
    if (c->list_gen == gen) {
        c->list_done = 1;
        /* A finished list is idle: files added now wait for the next start (as the
         * official SDKs' FINISHED state); resume_file restarts it by itself. */
        c->started = 0;
        pthread_cond_broadcast(&c->cv);
    }
    ulk(c);
}

static void list_drop(vcl_job *j)
{
    free(j);
}

void vcl_check_list_done(vodup_client *c)
{
    lk(c);
    size_t n = 0;
    int all = 1;
    for (size_t i = 0; i < c->nitems; i++) {
        if (c->items[i]->deleted)
            continue;
        n++;
        all &= ended(c->items[i]->status);
    }
    int gen = c->list_gen;
    int fire = n > 0 && all && !c->list_done && !(c->list_fired && c->list_fired_gen == gen);
    if (!all && c->list_done) {
        c->list_done = 0;
        pthread_cond_broadcast(&c->cv);
    }
    ulk(c);
    if (!fire)
        return;
    list_job *j = calloc(1, sizeof *j);
    if (!j)
        return;   /* tried again at the next turn */
    j->base.run = list_run;
    j->base.drop = list_drop;
    j->gen = gen;
    c->list_fired = 1;
    c->list_fired_gen = gen;
    vcl_jobq_push(&c->cbq, &j->base);
}
