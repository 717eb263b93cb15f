/* loop.c - the worker thread's loop: one libcurl multi per client; reconciles what runs
 * with what the API asked, steps the active files, drives the transfers.
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

int vcl_paused_locked(const vodup_client *c)
{
    return c->user_paused || c->net == VODUP_NETWORK_NONE || (c->net == VODUP_NETWORK_CELLULAR && c->o.pause_on_cellular);
}

int vcl_on_own_thread(const vodup_client *c)
{
    return pthread_equal(pthread_self(), c->thread) || vcl_jobq_is_self(&c->cbq) || vcl_jobq_is_self(&c->rpcq);
}

/* A file sent with one PutObject (its size as last seen [mu]). */
static int is_small(const vodup_client *c, const vcl_item *it)
{
    return it->size < c->o.put_threshold;
}

/* Brings what runs in line with what the API asked [mu held]. Deleted items are moved
 * to *trash for the caller to tear down without the lock. */
static void reconcile_locked(vodup_client *c, vcl_item ***trash, size_t *ntrash)
{
    size_t w = 0;
    int paused = vcl_paused_locked(c);
    for (size_t i = 0; i < c->nitems; i++) {
        vcl_item *it = c->items[i];
        if (it->deleted) {
            vcl_item **t = realloc(*trash, (*ntrash + 1) * sizeof **trash);
            if (t) {
                *trash = t;
                t[(*ntrash)++] = it;
                continue;
            }
            /* Out of memory: keep it listed (hidden) and try again next round. */
        }
        c->items[w++] = it;
        vcl_engine *e = &it->e;
        if (it->deleted)
            continue;
        if (!e->active)
            continue;
        switch (it->status) {
        case VODUP_STATUS_UPLOADING:
            if (paused) {   /* a network change between API calls and now */
                vcl_drop_xfers(c, it);
                it->status = VODUP_STATUS_PAUSED;
            }
            break;
        case VODUP_STATUS_PAUSING:
        case VODUP_STATUS_PAUSED:
            vcl_drop_xfers(c, it);
            it->status = paused ? VODUP_STATUS_PAUSED : VODUP_STATUS_UPLOADING;
            break;
        default:   /* INIT (stopped), CANCELED, FAIL, SUCCESS: give the slot back */
            vcl_drop_xfers(c, it);
            vcl_close_fd(e);
            e->active = 0;
            e->phase = PH_IDLE;
            e->failing = 0;
            break;
        }
    }
    c->nitems = w;
    if (!c->started || paused)
        return;
    /* Slots: files_at_once for files of parts; small files (one PutObject) up to
     * small_files_at_once, all within the greater of the two. */
    int cap = c->o.files_at_once > c->o.small_files_at_once ? c->o.files_at_once : c->o.small_files_at_once;
    int active = 0, active_large = 0;
    for (size_t i = 0; i < c->nitems; i++) {
        active += c->items[i]->e.active;
        active_large += c->items[i]->e.active && !is_small(c, c->items[i]);
    }
    for (size_t i = 0; i < c->nitems && active < cap; i++) {
        vcl_item *it = c->items[i];
        if (it->deleted || it->e.active || it->status != VODUP_STATUS_INIT)
            continue;
        int small = is_small(c, it);
        if (!small && active_large >= c->o.files_at_once)
            continue;   /* a small file further on may still start */
        it->status = VODUP_STATUS_UPLOADING;
        it->last_error = 0;
        it->e.active = 1;
        it->e.phase = PH_IDENTIFY;
        it->e.restarts = 0;
        active++;
        active_large += !small;
    }
}

static void teardown_deleted(vodup_client *c, vcl_item *it)
{
    vcl_engine *e = &it->e;
    vcl_drop_xfers(c, it);
    vcl_abort_detached(c, &e->addr, &e->creds, e->upload_id);
    vcl_remove_record(c, it);
    vcl_item_free(it);
}

void *vcl_worker_main(void *arg)
{
    vodup_client *c = arg;
    vcl_item **act = NULL, **trash = NULL;
    size_t cap = 0;
    for (;;) {
        size_t ntrash = 0, nact = 0;
        lk(c);
        if (c->quit) {
            ulk(c);
            break;
        }
        reconcile_locked(c, &trash, &ntrash);
        if (cap < c->nitems) {
            vcl_item **na = realloc(act, c->nitems * sizeof *na);
            if (na) {
                act = na;
                cap = c->nitems;
            }
        }
        for (size_t i = 0; i < c->nitems && nact < cap; i++)
            if (c->items[i]->e.active)
                act[nact++] = c->items[i];
        ulk(c);

        for (size_t i = 0; i < ntrash; i++)
            teardown_deleted(c, trash[i]);

        int64_t wake = -1;
        for (size_t i = 0; i < nact; i++) {
            int64_t w = vcl_step(c, act[i]);
            if (w >= 0 && (wake < 0 || w < wake))
                wake = w;
        }
        vcl_dispatch(c);
        vcl_resplit_rate(c);

        int running = 0, done = 0;
        curl_multi_perform(c->multi, &running);
        CURLMsg *m;
        int left;
        while ((m = curl_multi_info_read(c->multi, &left)) != NULL) {
            if (m->msg != CURLMSG_DONE)
                continue;
            vcl_xfer *x = NULL;
            CURLcode cc = m->data.result;
            curl_easy_getinfo(m->easy_handle, CURLINFO_PRIVATE, (char **)&x);
            if (x) {
                vcl_on_done(c, x, cc);
                done++;
            }
        }
        vcl_dispatch(c);
        int64_t now = vcl_now_ms();
        for (size_t i = 0; i < nact; i++)
            vcl_report_progress(c, act[i], now, &wake);
        vcl_dispatch(c);
        vcl_check_list_done(c);

        long timeout = 1000;
        if (done)
            timeout = 0;
        else if (wake >= 0)
            timeout = wake <= now ? 0 : (long)(wake - now < 1000 ? wake - now : 1000);
        curl_multi_poll(c->multi, NULL, 0, (int)timeout, NULL);
    }
    /* Quit: drop everything in flight; records stay for a later client. */
    lk(c);
    for (size_t i = 0; i < c->nitems; i++) {
        vcl_drop_xfers(c, c->items[i]);
        vcl_close_fd(&c->items[i]->e);
    }
    ulk(c);
    while (c->xfers) {
        vcl_xfer *x = c->xfers;
        vcl_xfer_unlink(c, x);
        vcl_xfer_free(x);
    }
    vcl_dispatch(c);
    free(act);
    free(trash);
    return NULL;
}
