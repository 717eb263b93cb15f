/* engine.c - the worker thread: one libcurl multi loop per client.
 *
 * API calls change [mu] fields (statuses, pending credentials, flags) and wake the
 * loop with curl_multi_wakeup; the loop reconciles what it runs with what was asked,
 * advances each active file (identify -> auth -> requests), and hands callbacks to the
 * callback thread. Nothing here waits for the application or the VOD API: the auth
 * provider and VOD calls run on helper threads (jobs.c) and their results come back
 * through the item, so every transfer keeps moving meanwhile. All transfer state is
 * still owned by this one thread. The design is in docs/internals/libvodup.md.
 */
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

#include "client/internal.h"
#include "common/crc.h"
#include "common/xml.h"

#define KIB 1024ull
#define MIB (1024ull * 1024ull)

enum { EV_STARTED = 1, EV_PROGRESS, EV_SUCCEED, EV_FAILED, EV_EXPIRED, EV_RETRY, EV_RETRY_RESUME, EV_LIST_DONE };

struct vcl_event {
    int type;
    vodup_file_info *f;
    int code;
    char *msg;
    uint64_t done, total;
};

static void lk(vodup_client *c) { pthread_mutex_lock(&c->mu); }
static void ulk(vodup_client *c) { pthread_mutex_unlock(&c->mu); }

static char *xdup(const char *s) { return s ? strdup(s) : NULL; }

static int replace_str(char **dst, const char *src)
{
    char *n = NULL;
    if (src && !(n = strdup(src)))
        return VODUP_ENOMEM;
    free(*dst);
    *dst = n;
    return 0;
}

int vcl_paused_locked(const vodup_client *c)
{
    return c->user_paused || c->net == VODUP_NETWORK_NONE || (c->net == VODUP_NETWORK_CELLULAR && c->o.pause_on_cellular);
}

/* ---- snapshots ---------------------------------------------------------------------- */

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

/* ---- events ------------------------------------------------------------------------- */

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
static void emit(vodup_client *c, vcl_item *it, int type, int code, const char *msg, uint64_t done, uint64_t total)
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
static void dispatch(vodup_client *c)
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

int vcl_on_own_thread(const vodup_client *c)
{
    return pthread_equal(pthread_self(), c->thread) || vcl_jobq_is_self(&c->cbq) || vcl_jobq_is_self(&c->rpcq);
}

void vcl_result_free(vcl_result *r)
{
    free(r->json);
    free(r->code);
    free(r->msg);
    free(r->addr);
    free(r->auth);
    free(r->media);
    memset(r, 0, sizeof *r);
}

/* A helper thread's result for item id: kept [mu] until the worker takes it (a result
 * for a deleted item, or one the worker no longer waits for, is simply dropped). */
static void post_result(vodup_client *c, int id, vcl_result *r)
{
    lk(c);
    vcl_item *it = NULL;
    for (size_t i = 0; i < c->nitems && !it; i++)
        if (c->items[i]->id == id && !c->items[i]->deleted)
            it = c->items[i];
    if (it) {
        vcl_result_free(&it->res);
        it->res = *r;
        it->has_res = 1;
        memset(r, 0, sizeof *r);
    }
    ulk(c);
    vcl_result_free(r);
    curl_multi_wakeup(c->multi);
}

/* The worker takes the result of its call, if it came [worker]. */
static int take_result(vodup_client *c, vcl_item *it, vcl_result *out)
{
    int got = 0;
    lk(c);
    if (it->has_res && it->res.serial == it->e.call_serial) {
        *out = it->res;
        memset(&it->res, 0, sizeof it->res);
        it->has_res = 0;
        got = 1;
    }
    ulk(c);
    return got;
}

/* ---- transfers ------------------------------------------------------------------------ */

static int is_body_kind(int kind) { return kind == X_PUT || kind == X_PART; }

static void set_speed(vodup_client *c, vcl_xfer *x)
{
    if (!c->o.limit_rate || !is_body_kind(x->kind))
        return;
    uint64_t share = c->o.limit_rate / (uint64_t)(c->body_xfers > 0 ? c->body_xfers : 1);
    if (share < 1)
        share = 1;
    curl_easy_setopt(x->easy, CURLOPT_MAX_SEND_SPEED_LARGE, (curl_off_t)share);
    /* A deliberately slow share must not trip the stall detector. */
    x->low_limit = share < 2048 ? (share / 2 ? share / 2 : 1) : 1024;
}

/* Stall detection. curl's LOW_SPEED_* judges a speed averaged over its last ~5 s, so a
 * connection that stalls after a fast start keeps "enough" speed for seconds after it
 * stopped moving. Here the time is cut in consecutive windows of low_speed_time_s: a
 * window that moved less than low_limit bytes per second aborts the request, so a stall
 * is caught within two windows. Waiting for an answer counts as moving nothing, which
 * is right: vodupd answers a part as soon as it is durable. */
static int on_xferinfo(void *u, curl_off_t dltotal, curl_off_t dlnow, curl_off_t ultotal, curl_off_t ulnow)
{
    (void)dltotal;
    (void)ultotal;
    vcl_xfer *x = u;
    int64_t now = vcl_now_ms();
    uint64_t moved = (uint64_t)dlnow + (uint64_t)ulnow;
    if (!x->mark_ms) {
        x->mark_ms = now;
        x->mark_bytes = moved;
        return 0;
    }
    int64_t span = now - x->mark_ms;
    long window = x->c->o.low_speed_time_s;
    if (span < window * 1000)
        return 0;
    uint64_t need = x->low_limit * (uint64_t)span / 1000;
    if (moved - x->mark_bytes < need) {
        x->stalled = 1;
        return 1;   /* CURLE_ABORTED_BY_CALLBACK: retried like any transport error */
    }
    x->mark_ms = now;
    x->mark_bytes = moved;
    return 0;
}

/* limit_rate is for the whole client: re-split it when the number of transfers changes. */
static void resplit_rate(vodup_client *c)
{
    if (!c->o.limit_rate || c->rate_split == c->body_xfers)
        return;
    for (vcl_xfer *x = c->xfers; x; x = x->next)
        set_speed(c, x);
    c->rate_split = c->body_xfers;
}

static vcl_xfer *xfer_new(vodup_client *c, vcl_item *it, int kind)
{
    vcl_xfer *x = calloc(1, sizeof *x);
    if (!x)
        return NULL;
    x->c = c;
    x->it = it;
    x->kind = kind;
    x->fd = -1;
    x->creds_gen = it ? it->e.creds_gen : 0;
    x->easy = curl_easy_init();
    if (!x->easy) {
        free(x);
        return NULL;
    }
    return x;
}

static int xfer_start(vodup_client *c, vcl_xfer *x)
{
    x->low_limit = 1024;
    curl_easy_setopt(x->easy, CURLOPT_NOPROGRESS, 0L);
    curl_easy_setopt(x->easy, CURLOPT_XFERINFOFUNCTION, on_xferinfo);
    curl_easy_setopt(x->easy, CURLOPT_XFERINFODATA, x);
    if (is_body_kind(x->kind))
        c->body_xfers++;
    set_speed(c, x);
    if (curl_multi_add_handle(c->multi, x->easy) != CURLM_OK) {
        if (is_body_kind(x->kind))
            c->body_xfers--;
        return VODUP_ENOMEM;
    }
    x->next = c->xfers;
    c->xfers = x;
    return 0;
}

/* Takes x out of the multi handle and the list (does not free it). */
static void xfer_unlink(vodup_client *c, vcl_xfer *x)
{
    curl_multi_remove_handle(c->multi, x->easy);
    for (vcl_xfer **pp = &c->xfers; *pp; pp = &(*pp)->next)
        if (*pp == x) {
            *pp = x->next;
            break;
        }
    if (is_body_kind(x->kind))
        c->body_xfers--;
}

/* Drops every request of it in flight: parts go back to the queue (their bytes are
 * sent again later), the item-level request is forgotten. */
static void drop_xfers(vodup_client *c, vcl_item *it)
{
    vcl_engine *e = &it->e;
    vcl_xfer *x = c->xfers;
    while (x) {
        vcl_xfer *next = x->next;
        if (x->it == it) {
            xfer_unlink(c, x);
            if (x->kind == X_PART && x->part < e->nparts && e->parts[x->part].state == VCL_PART_INFLIGHT)
                e->parts[x->part].state = VCL_PART_TODO;
            if (x->kind == X_COMPLETE)
                e->complete_maybe = 1;   /* the server may have applied it already */
            vcl_xfer_free(x);
        }
        x = next;
    }
    e->op = NULL;
    e->inflight = 0;
}

static size_t read_body(char *buf, size_t size, size_t nitems, void *u)
{
    vcl_xfer *x = u;
    size_t want = size * nitems;
    uint64_t left = x->len - x->pos;
    if (want > left)
        want = (size_t)left;
    if (!want)
        return 0;
    ssize_t r;
    do
        r = pread(x->fd, buf, want, (off_t)(x->off + x->pos));
    while (r < 0 && errno == EINTR);
    if (r < 0) {
        x->read_error = 1;
        return CURL_READFUNC_ABORT;
    }
    if (r == 0) {   /* the file got shorter than when it was measured */
        x->read_error = 2;
        return CURL_READFUNC_ABORT;
    }
    /* CRC of what actually went out, so the server's answer checks the bytes sent. */
    x->crc = vodup_crc64(x->crc, buf, (size_t)r);
    x->pos += (uint64_t)r;
    return (size_t)r;
}

/* curl rewinds a body to re-send it (a redirect, a 100-continue refused, an auth
 * retry): the running CRC must describe the bytes from the new position on. */
static int seek_body(void *u, curl_off_t offset, int origin)
{
    vcl_xfer *x = u;
    if (origin != SEEK_SET || offset < 0 || (uint64_t)offset > x->len)
        return CURL_SEEKFUNC_CANTSEEK;
    uint64_t crc = 0, pos = 0, to = (uint64_t)offset;
    char buf[16384];
    while (pos < to) {
        size_t n = to - pos < sizeof buf ? (size_t)(to - pos) : sizeof buf;
        ssize_t r = pread(x->fd, buf, n, (off_t)(x->off + pos));
        if (r <= 0)
            return CURL_SEEKFUNC_FAIL;
        crc = vodup_crc64(crc, buf, (size_t)r);
        pos += (uint64_t)r;
    }
    x->crc = crc;
    x->pos = to;
    return CURL_SEEKFUNC_OK;
}

static void body_from_file(vcl_xfer *x, int fd, uint64_t off, uint64_t len)
{
    x->fd = fd;
    x->off = off;
    x->len = len;
    curl_easy_setopt(x->easy, CURLOPT_UPLOAD, 1L);
    curl_easy_setopt(x->easy, CURLOPT_INFILESIZE_LARGE, (curl_off_t)len);
    curl_easy_setopt(x->easy, CURLOPT_READFUNCTION, read_body);
    curl_easy_setopt(x->easy, CURLOPT_READDATA, x);
    curl_easy_setopt(x->easy, CURLOPT_SEEKFUNCTION, seek_body);
    curl_easy_setopt(x->easy, CURLOPT_SEEKDATA, x);
}

static void body_from_mem(vcl_xfer *x)
{
    curl_easy_setopt(x->easy, CURLOPT_POST, 1L);
    curl_easy_setopt(x->easy, CURLOPT_POSTFIELDS, x->out.data ? x->out.data : "");
    curl_easy_setopt(x->easy, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)x->out.len);
}

/* ---- item state --------------------------------------------------------------------- */

static void free_parts(vcl_engine *e)
{
    for (size_t i = 0; i < e->nparts; i++)
        free(e->parts[i].etag);
    free(e->parts);
    e->parts = NULL;
    e->nparts = 0;
    e->complete_ready = 0;
}

/* Forgets the multipart upload (not the address or credentials). */
static void reset_upload(vcl_engine *e)
{
    free(e->upload_id);
    e->upload_id = NULL;
    free_parts(e);
    e->need_list = 0;
    e->complete_maybe = 0;
    e->acked = 0;
    e->multipart = 0;
    e->part_size = 0;
    e->verified = 0;
    e->verify_pos = e->verify_crc = e->verify_expect = 0;
    free(e->verify_buf);
    e->verify_buf = NULL;
}

static void reset_all(vcl_engine *e)
{
    reset_upload(e);
    free(e->media_id);
    e->media_id = NULL;
    vcl_addr_free(&e->addr);
    vcl_creds_free(&e->creds);
    e->known = 0;
}

static void close_fd(vcl_engine *e)
{
    if (e->fd >= 0)
        close(e->fd);
    e->fd = -1;
}

void vcl_item_free(vcl_item *it)
{
    if (!it)
        return;
    reset_all(&it->e);
    close_fd(&it->e);
    free(it->path);
    free(it->abspath);
    free(it->record_file);
    free(it->title);
    free(it->description);
    free(it->tags);
    free(it->cover_url);
    free(it->user_data);
    free(it->template_group_id);
    free(it->storage_location);
    free(it->image_type);
    free(it->media_id);
    free(it->endpoint);
    free(it->bucket);
    free(it->object_key);
    vcl_addr_free(&it->pend_addr);
    vcl_creds_free(&it->pend_creds);
    free(it->pend_media);
    vcl_creds_free(&it->pend_auth_creds);
    vcl_result_free(&it->res);
    free(it);
}

/* Publishes what the worker learned (media id, address, bytes) to the [mu] fields. */
static void publish(vodup_client *c, vcl_item *it)
{
    vcl_engine *e = &it->e;
    lk(c);
    /* On oom a field simply stays as it was: only the snapshot is affected. */
    replace_str(&it->media_id, e->media_id);
    replace_str(&it->endpoint, e->addr.endpoint);
    replace_str(&it->bucket, e->addr.bucket);
    replace_str(&it->object_key, e->addr.key);
    it->size = e->size;
    it->bytes_done = e->acked;
    it->bytes_sent = e->sent_run;
    ulk(c);
}

static void save_record(vodup_client *c, vcl_item *it)
{
    vcl_engine *e = &it->e;
    if (!it->record_file)
        return;
    vcl_record r;
    memset(&r, 0, sizeof r);
    r.path = it->abspath;
    r.size = e->size;
    r.mtime_ns = e->mtime_ns;
    r.ctime_ns = e->ident.ctime_ns;
    r.dev = e->ident.dev;
    r.ino = e->ident.ino;
    memcpy(r.sample, e->sample, sizeof r.sample);
    r.type = it->type;
    r.media_id = e->media_id;
    r.endpoint = e->addr.endpoint;
    r.bucket = e->addr.bucket;
    r.key = e->addr.key;
    r.upload_id = e->upload_id;
    r.part_size = e->part_size;
    size_t nd = 0;
    for (size_t i = 0; i < e->nparts; i++)
        nd += e->parts[i].state == VCL_PART_DONE && !e->need_list;
    vcl_rec_part *rp = nd ? calloc(nd, sizeof *rp) : NULL;
    if (nd && !rp)
        return;   /* the next acknowledged part writes it */
    for (size_t i = 0; i < e->nparts && nd; i++)
        if (e->parts[i].state == VCL_PART_DONE)
            rp[r.nparts++] = (vcl_rec_part){(int)i + 1, e->parts[i].etag, e->parts[i].len, e->parts[i].crc};
    r.parts = rp;
    /* rec_mu orders this write against delete_file's unlink: once an item is deleted
     * no write may bring its record back. */
    pthread_mutex_lock(&c->rec_mu);
    lk(c);
    int deleted = it->deleted;
    ulk(c);
    if (!deleted)
        vcl_record_save(it->record_file, &r);   /* a failed write only costs resumability */
    pthread_mutex_unlock(&c->rec_mu);
    free(rp);
}

static void remove_record(vodup_client *c, vcl_item *it)
{
    if (!it->record_file)
        return;
    pthread_mutex_lock(&c->rec_mu);
    vcl_record_remove(it->record_file);
    pthread_mutex_unlock(&c->rec_mu);
}

/* Best effort: an upload we give up on should not keep its parts on the server. */
static void abort_detached(vodup_client *c, const vcl_addr *a, const vcl_creds *k, const char *upload_id)
{
    if (!upload_id || !a->endpoint || !k->ak)
        return;
    vcl_xfer *x = xfer_new(c, NULL, X_ABORT);
    if (!x)
        return;
    const char *q[] = {"uploadId", upload_id, NULL};
    if (vcl_oss_prepare(x, c, "DELETE", a, k, q, NULL) < 0 || xfer_start(c, x) < 0)
        vcl_xfer_free(x);
}

static void deactivate(vodup_client *c, vcl_item *it)
{
    drop_xfers(c, it);
    close_fd(&it->e);
    it->e.active = 0;
    it->e.phase = PH_IDLE;
    it->e.failing = 0;
}

/* Ends an item in FAIL (unless the application changed its status meanwhile). */
static void fail_item(vodup_client *c, vcl_item *it, int code, const char *msg)
{
    vcl_engine *e = &it->e;
    lk(c);
    int live = it->status == VODUP_STATUS_UPLOADING || it->status == VODUP_STATUS_PAUSING;
    if (live) {
        it->status = VODUP_STATUS_FAIL;
        it->last_error = code;
    }
    ulk(c);
    if (!live)
        return;
    if (code == VODUP_ECHANGED || code == VODUP_ECHECKSUM) {
        /* What is stored does not match the file: start clean next time. */
        drop_xfers(c, it);
        abort_detached(c, &e->addr, &e->creds, e->upload_id);
        reset_upload(e);
        e->known = 0;
        remove_record(c, it);
    }
    publish(c, it);
    emit(c, it, EV_FAILED, code, msg, 0, 0);
    deactivate(c, it);
}

static void succeed_item(vodup_client *c, vcl_item *it)
{
    vcl_engine *e = &it->e;
    e->acked = e->size;
    publish(c, it);
    lk(c);
    int ok = !it->deleted;
    if (ok) {
        it->status = VODUP_STATUS_SUCCESS;
        it->last_error = 0;
        it->bytes_done = e->size;
    }
    ulk(c);
    remove_record(c, it);
    /* No progress(size, size): on_upload_succeed is the 100%. */
    if (ok)
        emit(c, it, EV_SUCCEED, 0, NULL, 0, 0);
    reset_upload(e);
    e->known = 0;
    deactivate(c, it);
}

static uint64_t next_rand(vodup_client *c)
{
    /* xorshift64*: jitter only needs to spread retries, not to be unpredictable. */
    uint64_t x = c->rng;
    x ^= x >> 12;
    x ^= x << 25;
    x ^= x >> 27;
    c->rng = x;
    return x * 2685821657736338717ull;
}

/* 0.5 s doubling, capped at 30 s, with "equal jitter": half fixed, half random, so
 * clients that failed together do not come back together. */
static int64_t backoff_ms(vodup_client *c, int attempt)
{
    int64_t d = 500;
    for (int i = 1; i < attempt && d < 30000; i++)
        d *= 2;
    if (d > 30000)
        d = 30000;
    return d / 2 + (int64_t)(next_rand(c) % (uint64_t)(d / 2 + 1));
}

/* A request failed in a retryable way: schedule it again, or give up on the file. */
static void retry_later(vodup_client *c, vcl_item *it, int *attempts, int64_t *not_before, int code,
                        const char *msg)
{
    vcl_engine *e = &it->e;
    (*attempts)++;
    if (*attempts > c->o.max_retries) {
        fail_item(c, it, code, msg);
        return;
    }
    *not_before = vcl_now_ms() + backoff_ms(c, *attempts);
    /* Every failure that will be retried is reported (the header's contract: "a request
     * failed and will be retried"); the resume notice comes once, at the next success. */
    e->failing = 1;
    emit(c, it, EV_RETRY, code, msg, 0, 0);
}

static void request_ok(vodup_client *c, vcl_item *it)
{
    if (it->e.failing) {
        it->e.failing = 0;
        emit(c, it, EV_RETRY_RESUME, 0, NULL, 0, 0);
    }
}

/* ---- source changes ----------------------------------------------------------------- */

/* What one turn of the loop re-reads when verifying: small enough that transfers of
 * other files keep moving between turns (a few ms of disk), large enough to read fast. */
#define VCL_VERIFY_CHUNK (4 * MIB)

static void ident_of(const struct stat *st, vcl_ident *id)
{
    id->size = (uint64_t)st->st_size;
    id->mtime_ns = (int64_t)st->st_mtim.tv_sec * 1000000000 + st->st_mtim.tv_nsec;
    id->ctime_ns = (int64_t)st->st_ctim.tv_sec * 1000000000 + st->st_ctim.tv_nsec;
    id->dev = (uint64_t)st->st_dev;
    id->ino = (uint64_t)st->st_ino;
}

static int ident_eq(const vcl_ident *a, const vcl_ident *b)
{
    return a->size == b->size && a->mtime_ns == b->mtime_ns && a->ctime_ns == b->ctime_ns && a->dev == b->dev &&
           a->ino == b->ino;
}

/* Whether the file is still the version identify saw: the open descriptor's size and
 * times (any write moves mtime and ctime, and ctime cannot be set back), and the path
 * still naming that inode (a file replaced by a rename is a change too). 1 when it
 * changed (why says how), else 0. Two system calls: done before and after every part. */
static int source_changed(vcl_item *it, char *why, size_t whylen)
{
    vcl_engine *e = &it->e;
    struct stat st;
    vcl_ident now;
    if (e->fd < 0 || fstat(e->fd, &st) < 0) {
        snprintf(why, whylen, "it cannot be examined: %s", strerror(errno));
        return 1;
    }
    ident_of(&st, &now);
    if (now.size != e->ident.size) {
        snprintf(why, whylen, "its size went from %" PRIu64 " to %" PRIu64 " bytes", e->ident.size, now.size);
        return 1;
    }
    if (now.mtime_ns != e->ident.mtime_ns || now.ctime_ns != e->ident.ctime_ns) {
        snprintf(why, whylen, "it was written to: its modification or change time moved");
        return 1;
    }
    if (stat(it->path, &st) < 0) {
        snprintf(why, whylen, "its path is gone (%s): removed or renamed", strerror(errno));
        return 1;
    }
    if ((uint64_t)st.st_dev != e->ident.dev || (uint64_t)st.st_ino != e->ident.ino) {
        snprintf(why, whylen, "its path names another file now (replaced)");
        return 1;
    }
    return 0;
}

/* The file changed while it uploaded: what was sent may mix versions, so it is never
 * completed. With on_change = RESTART (up to VODUP_MAX_CHANGE_RESTARTS times in a row)
 * the partial upload is aborted and the file is identified again and uploaded from byte
 * 0 to the same address; otherwise the file fails with VODUP_ECHANGED. */
static void file_changed(vodup_client *c, vcl_item *it, const char *why)
{
    vcl_engine *e = &it->e;
    char msg[512];
    if (c->o.on_change == VODUP_CHANGE_RESTART && e->restarts < VODUP_MAX_CHANGE_RESTARTS) {
        e->restarts++;
        snprintf(msg, sizeof msg, "the file changed during the upload (%s): uploading it again from the start", why);
        drop_xfers(c, it);
        abort_detached(c, &e->addr, &e->creds, e->upload_id);
        reset_upload(e);
        close_fd(e);
        remove_record(c, it);
        e->restart = 1;
        e->phase = PH_IDENTIFY;
        e->op_attempts = 0;
        e->op_not_before = 0;
        e->reported = 0;
        e->failing = 1;   /* on_upload_retry_resume follows the next success */
        publish(c, it);
        emit(c, it, EV_RETRY, VODUP_ECHANGED, msg, 0, 0);
        return;
    }
    if (e->restarts)
        snprintf(msg, sizeof msg, "the file changed during the upload (%s), again after %d restarts", why,
                 e->restarts);
    else
        snprintf(msg, sizeof msg, "the file changed during the upload (%s)", why);
    fail_item(c, it, VODUP_ECHANGED, msg);
}

static void start_verify(vcl_item *it, uint64_t expect)
{
    vcl_engine *e = &it->e;
    e->verify_pos = 0;
    e->verify_crc = 0;
    e->verify_expect = expect;
    e->phase = PH_VERIFY;
}

/* The last check before an upload is declared complete: the file read again, its CRC-64
 * against that of the bytes sent. The metadata checks miss a write that lands within
 * the filesystem's timestamp granularity of the previous one (a few ms: the time is
 * taken from a coarse clock); this does not. One chunk per turn of the loop. */
static void verify_step(vodup_client *c, vcl_item *it)
{
    vcl_engine *e = &it->e;
    if (!e->verify_buf && !(e->verify_buf = malloc(VCL_VERIFY_CHUNK))) {
        fail_item(c, it, VODUP_ENOMEM, "out of memory");
        return;
    }
    uint64_t left = e->size - e->verify_pos;
    size_t n = left < VCL_VERIFY_CHUNK ? (size_t)left : (size_t)VCL_VERIFY_CHUNK;
    if (n) {
        ssize_t r;
        do
            r = pread(e->fd, e->verify_buf, n, (off_t)e->verify_pos);
        while (r < 0 && errno == EINTR);
        if (r < 0) {
            fail_item(c, it, VODUP_EIO, "reading the file again to verify it failed");
            return;
        }
        if (r == 0) {
            file_changed(c, it, "it got shorter");
            return;
        }
        e->verify_crc = vodup_crc64(e->verify_crc, e->verify_buf, (size_t)r);
        e->verify_pos += (uint64_t)r;
        if (e->verify_pos < e->size)
            return;
    }
    free(e->verify_buf);
    e->verify_buf = NULL;
    char why[256];
    if (source_changed(it, why, sizeof why)) {
        file_changed(c, it, why);
        return;
    }
    if (e->verify_crc != e->verify_expect) {
        file_changed(c, it, "its content differs from the bytes sent: CRC-64 of a re-read");
        return;
    }
    e->verified = 1;
    if (!e->multipart) {
        succeed_item(c, it);   /* PutObject: stored, and it is the file's content */
        return;
    }
    e->phase = PH_RUN;
}

/* ---- identify: the file, its record --------------------------------------------------- */

static uint64_t choose_part_size(const vodup_client *c, uint64_t size)
{
    /* Automatic: a part per 1/32 of the file, between 1 MiB and 8 MiB. Each part costs
     * the server two flushes and a commit, and the client a record write, so a 1 GiB file
     * in 1 MiB parts ran at a fifth of the disk's speed (bench/README.md); 8 MiB parts
     * reach it, while small files keep several parts to send in parallel and to resume. */
    uint64_t ps = c->o.part_size;
    if (!ps) {
        ps = size / 32;
        ps = ps < MIB ? MIB : ps > 8 * MIB ? 8 * MIB : ps;
    }
    /* Stay within 10000 parts, in 4 KiB multiples (friendly to page-cache reads), and
     * at least OSS's 100 KiB minimum for every part but the last. */
    uint64_t min = (size + 9999) / 10000;
    min = (min + 4095) & ~(uint64_t)4095;
    if (ps < min)
        ps = min;
    if (ps < 100 * KIB)
        ps = 100 * KIB;
    return ps;
}

static int plan_parts(vcl_engine *e, uint64_t part_size)
{
    free_parts(e);
    e->part_size = part_size;
    size_t n = (size_t)((e->size + part_size - 1) / part_size);
    if (n == 0 || n > 10000)
        return VODUP_EINVAL;
    e->parts = calloc(n, sizeof *e->parts);
    if (!e->parts)
        return VODUP_ENOMEM;
    e->nparts = n;
    for (size_t i = 0; i < n; i++) {
        e->parts[i].off = (uint64_t)i * part_size;
        e->parts[i].len = i + 1 < n ? part_size : e->size - (uint64_t)i * part_size;
    }
    return 0;
}

/* Decides PutObject or multipart for a file whose upload has not begun. */
static int plan(vodup_client *c, vcl_engine *e)
{
    reset_upload(e);
    e->multipart = e->size > 0 && e->size >= c->o.put_threshold;
    if (!e->multipart)
        return 0;
    return plan_parts(e, choose_part_size(c, e->size));
}

static int same_addr(const vcl_addr *a, const vcl_addr *b)
{
    return a->endpoint && b->endpoint && strcmp(a->endpoint, b->endpoint) == 0 && strcmp(a->bucket, b->bucket) == 0 &&
           strcmp(a->key, b->key) == 0;
}

static int adopt_record(vodup_client *c, vcl_item *it, vcl_record *r)
{
    vcl_engine *e = &it->e;
    reset_all(e);
    e->media_id = r->media_id;
    r->media_id = NULL;
    if (r->endpoint && r->bucket && r->key) {
        e->addr.endpoint = r->endpoint;
        e->addr.bucket = r->bucket;
        e->addr.key = r->key;
        r->endpoint = r->bucket = r->key = NULL;
    }
    int rc = plan(c, e);
    if (rc)
        return rc;
    if (r->upload_id && e->addr.endpoint && r->part_size >= 100 * KIB) {
        e->multipart = 1;
        if ((rc = plan_parts(e, r->part_size)) != 0)
            return rc;
        e->upload_id = r->upload_id;
        r->upload_id = NULL;
        for (size_t i = 0; i < r->nparts; i++) {
            vcl_rec_part *p = &r->parts[i];
            if (p->n < 1 || (size_t)p->n > e->nparts || e->parts[p->n - 1].len != p->size)
                continue;
            vcl_part *q = &e->parts[p->n - 1];
            free(q->etag);
            q->etag = p->etag;
            p->etag = NULL;
            q->crc = p->crc64;
            q->state = VCL_PART_DONE;
        }
        e->need_list = 1;   /* the server is the authority on what it has */
    }
    return 0;
}

static void identify(vodup_client *c, vcl_item *it)
{
    vcl_engine *e = &it->e;
    struct stat st;
    if (e->fd < 0) {
        e->fd = open(it->path, O_RDONLY | O_CLOEXEC);
        if (e->fd < 0) {
            fail_item(c, it, errno == ENOENT ? VODUP_ENOENT : VODUP_EIO, strerror(errno));
            return;
        }
    }
    if (fstat(e->fd, &st) < 0 || !S_ISREG(st.st_mode)) {
        fail_item(c, it, VODUP_EIO, "not a readable regular file");
        return;
    }
    vcl_ident now;
    ident_of(&st, &now);
    uint64_t size = now.size;
    int64_t mtime = now.mtime_ns;
    int restarted = e->known && e->restart;

    if (e->known && !e->restart && ident_eq(&e->ident, &now)) {
        /* Same process, same file: go on from what this run already knows. */
    } else if (restarted) {
        /* Changed during the upload (file_changed): the new version goes to the same
         * address with the same credentials, from byte 0. */
        e->restart = 0;
        reset_upload(e);
        e->size = size;
        e->mtime_ns = mtime;
        e->ident = now;
        e->sample[0] = '\0';
        int rc = it->record_file ? vcl_file_sample(e->fd, size, e->sample) : 0;
        if (rc == 0)
            rc = plan(c, e);
        if (rc) {
            fail_item(c, it, rc, "planning the upload failed");
            return;
        }
        e->acked = 0;
    } else {
        if (e->known) {
            drop_xfers(c, it);
            abort_detached(c, &e->addr, &e->creds, e->upload_id);
        }
        reset_all(e);
        e->restart = 0;
        e->size = size;
        e->mtime_ns = mtime;
        e->ident = now;
        e->sample[0] = '\0';
        if (it->record_file) {
            int rc = vcl_file_sample(e->fd, size, e->sample);
            if (rc) {
                fail_item(c, it, rc, "reading the file failed");
                return;
            }
            vcl_record r;
            rc = vcl_record_load(it->record_file, &r);
            if (rc == 0) {
                /* ctime and inode too: a program can set mtime back after a write, not
                 * ctime. (The device number is left out: it may differ after a reboot.)
                 * The parts themselves are checked against the file before Complete. */
                int match = r.size == size && r.mtime_ns == mtime && r.ctime_ns == now.ctime_ns &&
                            r.ino == now.ino && strcmp(r.sample, e->sample) == 0 &&
                            r.type == (int)it->type && r.path && strcmp(r.path, it->abspath) == 0;
                if (match) {
                    rc = adopt_record(c, it, &r);
                } else {
                    /* The file changed since the record was written: restart cleanly. The old
                     * upload cannot be aborted without credentials for it; the server's
                     * expiry of abandoned uploads collects it. */
                    remove_record(c, it);
                    rc = plan(c, e);
                }
                vcl_record_free(&r);
            } else if (rc == VODUP_ENOMEM) {
                fail_item(c, it, rc, "out of memory");
                return;
            } else {
                rc = plan(c, e);
            }
            if (rc) {
                fail_item(c, it, rc, "planning the upload failed");
                return;
            }
        } else if (plan(c, e)) {
            fail_item(c, it, VODUP_ENOMEM, "planning the upload failed");
            return;
        }
        e->acked = 0;
        for (size_t i = 0; i < e->nparts; i++)
            if (e->parts[i].state == VCL_PART_DONE)
                e->acked += e->parts[i].len;
        e->known = 1;
    }
    publish(c, it);
    e->phase = e->creds.ak && e->addr.endpoint ? PH_RUN : PH_AUTH;
    e->op_attempts = 0;
    e->op_not_before = 0;
    if (!restarted)   /* a restart is announced by on_upload_retry (file_changed) */
        emit(c, it, EV_STARTED, 0, NULL, 0, 0);
}

/* ---- credentials ---------------------------------------------------------------------- */

/* Takes new address (may be NULL: unchanged), credentials and media id. Moves from the
 * arguments. */
static int adopt_auth(vodup_client *c, vcl_item *it, vcl_addr *addr, vcl_creds *k, char **media_id)
{
    vcl_engine *e = &it->e;
    if (addr && addr->endpoint) {
        if (e->addr.endpoint && !same_addr(&e->addr, addr)) {
            /* Another object: what was uploaded belongs to the old one. */
            drop_xfers(c, it);
            int rc = plan(c, e);
            if (rc)
                return rc;
            e->acked = 0;
        }
        vcl_addr_free(&e->addr);
        e->addr = *addr;
        memset(addr, 0, sizeof *addr);
    }
    if (!e->addr.endpoint)
        return VODUP_EINVAL;
    time_t old_expire = e->creds.expire;
    vcl_creds_free(&e->creds);
    e->creds = *k;
    memset(k, 0, sizeof *k);
    if (!e->creds.region && c->region)
        e->creds.region = xdup(c->region);
    e->creds_gen++;
    /* Credentials that do not outlive the old ones would trigger another refresh at
     * once: note that this generation was already refreshed. */
    e->expiry_notified = old_expire && e->creds.expire && e->creds.expire <= old_expire;
    if (media_id && *media_id) {
        free(e->media_id);
        e->media_id = *media_id;
        *media_id = NULL;
    }
    publish(c, it);
    save_record(c, it);
    e->phase = PH_RUN;
    return 0;
}

static const char *base_name(const char *p)
{
    const char *s = strrchr(p, '/');
    return s ? s + 1 : p;
}

static const char *jstr(json_t *o, const char *k)
{
    json_t *v = json_object_get(o, k);
    return json_is_string(v) ? json_string_value(v) : NULL;
}

/* Decodes a Create* or Refresh answer and adopts it. */
static int adopt_answer(vodup_client *c, vcl_item *it, const char *json, char *msg, size_t msglen)
{
    json_error_t jerr;
    json_t *j = json_loads(json, 0, &jerr);
    if (!json_is_object(j)) {
        json_decref(j);
        snprintf(msg, msglen, "the VOD answer is not JSON");
        return VODUP_ESERVER;
    }
    const char *id = jstr(j, it->type == VODUP_MEDIA_IMAGE ? "ImageId" : "VideoId");
    const char *ua = jstr(j, "UploadAddress"), *uauth = jstr(j, "UploadAuth");
    vcl_addr a;
    vcl_creds k;
    memset(&a, 0, sizeof a);
    memset(&k, 0, sizeof k);
    int rc = ua ? vcl_decode_upload_address(ua, &a, msg, msglen) : 0;
    if (rc == 0)
        rc = vcl_decode_upload_auth(uauth, &k, msg, msglen);
    char *mid = xdup(id);
    if (rc == 0)
        rc = adopt_auth(c, it, ua ? &a : NULL, &k, &mid);
    if (rc == VODUP_EINVAL)
        rc = VODUP_ESERVER;
    free(mid);
    vcl_addr_free(&a);
    vcl_creds_free(&k);
    json_decref(j);
    return rc;
}

static int is_retryable_rpc(int rc, long status)
{
    return rc == VODUP_ENETWORK || (rc == VODUP_ESERVER && status >= 500);
}

static const char *image_ext(const char *path)
{
    const char *dot = strrchr(base_name(path), '.');
    static const char *const ok[] = {"png", "jpg", "jpeg", "gif"};
    if (!dot)
        return NULL;
    for (size_t i = 0; i < sizeof ok / sizeof *ok; i++)
        if (strcasecmp(dot + 1, ok[i]) == 0)
            return ok[i];
    return NULL;
}

/* ---- calls on a helper thread ------------------------------------------------------- */

/* A VOD API call (STS / AccessKey mode), run on the RPC thread with copies of
 * everything it needs. */
typedef struct rpc_job {
    vcl_job base;
    int id;
    uint64_t serial;
    char *endpoint, *action, *user_agent, *ca_file;
    vcl_creds k;
    long connect_timeout_ms;
    char **params;          /* name, value, ..., NULL */
} rpc_job;

static void rpc_run(vodup_client *c, vcl_job *j)
{
    rpc_job *r = (rpc_job *)j;
    vcl_rpc rpc = {r->endpoint, r->k.ak, r->k.sk, r->k.token, r->user_agent, r->connect_timeout_ms, 60000,
                   &c->rpcq.quitting, r->ca_file};
    vcl_result res;
    memset(&res, 0, sizeof res);
    char msg[1024] = "";
    res.serial = r->serial;
    res.rc = vcl_rpc_call(&rpc, "2017-03-21", r->action, (const char *const *)r->params, &res.json, &res.code,
                          &res.status, msg, sizeof msg);
    res.msg = strdup(msg);
    post_result(c, r->id, &res);
}

static void rpc_drop(vcl_job *j)
{
    rpc_job *r = (rpc_job *)j;
    free(r->endpoint);
    free(r->action);
    free(r->user_agent);
    free(r->ca_file);
    vcl_creds_free(&r->k);
    for (size_t i = 0; r->params && r->params[i]; i++)
        free(r->params[i]);
    free(r->params);
    free(r);
}

/* Queues the call (phase PH_CALL until its result comes); params as vcl_rpc_call's, with
 * NULL values skipped. */
static void start_call(vodup_client *c, vcl_item *it, vcl_job *j, vcl_jobq *q, uint64_t *serial, int kind)
{
    vcl_engine *e = &it->e;
    *serial = ++c->call_serial;
    e->call_serial = *serial;
    e->call_kind = kind;
    e->call_phase = e->phase;
    e->phase = PH_CALL;
    vcl_jobq_push(q, j);
}

static void sts_begin(vodup_client *c, vcl_item *it, int refresh);

/* STS / AccessKey mode: CreateUploadVideo / CreateUploadImage, or refresh:
 * RefreshUploadVideo of the item's video. */
static void sts_begin(vodup_client *c, vcl_item *it, int refresh)
{
    vcl_engine *e = &it->e;
    rpc_job *j = calloc(1, sizeof *j);
    if (!j) {
        fail_item(c, it, VODUP_ENOMEM, "out of memory");
        return;
    }
    j->base.blocking = 1;
    j->base.run = rpc_run;
    j->base.drop = rpc_drop;
    j->id = it->id;
    j->connect_timeout_ms = c->o.connect_timeout_ms;
    lk(c);
    int bad = vcl_creds_copy(&j->k, &c->sts) != 0;
    j->endpoint = xdup(c->vod_endpoint);
    e->call_gen = c->sts_gen;
    ulk(c);
    char size[24], cate[24];
    snprintf(size, sizeof size, "%" PRIu64, e->size);
    snprintf(cate, sizeof cate, "%lld", it->cate_id);
    const char *title = it->title ? it->title : base_name(it->path);
    const char *cateid = it->cate_id >= 0 ? cate : NULL;
    const char *action;
    e->call_refresh = refresh && it->type == VODUP_MEDIA_VIDEO && e->media_id;
    const char *p[24] = {NULL};
    if (e->call_refresh) {
        action = "RefreshUploadVideo";
        const char *q[] = {"VideoId", e->media_id, NULL};
        memcpy(p, q, sizeof q);
    } else if (it->type == VODUP_MEDIA_IMAGE) {
        action = "CreateUploadImage";
        const char *q[] = {"ImageType", it->image_type ? it->image_type : "default", "ImageExt", image_ext(it->path),
                           "Title", title, "Description", it->description, "Tags", it->tags, "CateId", cateid,
                           "StorageLocation", it->storage_location, "UserData", it->user_data,
                           "OriginalFileName", base_name(it->path), NULL};
        memcpy(p, q, sizeof q);
    } else {
        action = "CreateUploadVideo";
        const char *q[] = {"Title", title, "FileName", base_name(it->path), "FileSize", size,
                           "Description", it->description, "CoverURL", it->cover_url, "CateId", cateid,
                           "Tags", it->tags, "TemplateGroupId", it->template_group_id,
                           "StorageLocation", it->storage_location, "UserData", it->user_data, NULL};
        memcpy(p, q, sizeof q);
    }
    /* Unset optional values are NULL: copy the set pairs only. */
    size_t n = 0;
    j->params = calloc(sizeof p / sizeof *p + 1, sizeof *j->params);
    bad |= !j->params;
    for (size_t i = 0; !bad && p[i]; i += 2)
        if (p[i + 1]) {
            bad |= !(j->params[n++] = strdup(p[i]));
            bad |= !(j->params[n++] = strdup(p[i + 1]));
        }
    j->action = strdup(action);
    j->user_agent = xdup(c->user_agent);
    j->ca_file = xdup(c->ca_file);
    bad |= !j->action || !j->endpoint || (c->user_agent && !j->user_agent) || (c->ca_file && !j->ca_file);
    if (bad) {
        rpc_drop(&j->base);
        fail_item(c, it, VODUP_ENOMEM, "out of memory");
        return;
    }
    start_call(c, it, &j->base, &c->rpcq, &j->serial, 1);   /* the RPC thread's now */
}

/* The VOD call's answer [worker]. */
static void sts_end(vodup_client *c, vcl_item *it, vcl_result *r)
{
    vcl_engine *e = &it->e;
    e->phase = e->call_phase;
    int rc = r->rc;
    char msg[1024];
    snprintf(msg, sizeof msg, "%s", r->msg ? r->msg : "");
    if (rc && e->call_refresh && r->code && strcmp(r->code, "InvalidVideo.NotFound") == 0 && e->phase == PH_AUTH) {
        /* The video of the record is gone: create a new one and start over. */
        reset_all(e);
        e->known = 1;
        if (plan(c, e) == 0)
            sts_begin(c, it, 0);
        else
            fail_item(c, it, VODUP_ENOMEM, "out of memory");
        return;
    }
    if (rc == 0) {
        request_ok(c, it);
        e->op_attempts = 0;
        rc = adopt_answer(c, it, r->json ? r->json : "", msg, sizeof msg);
        if (rc)
            fail_item(c, it, rc, msg);
    } else if (rc == VODUP_EEXPIRED) {
        /* The STS credentials themselves expired: only the application can renew them. */
        e->phase = PH_WAIT_APP;
        e->wait_kind = 3;
        e->sts_gen_seen = e->call_gen;
        emit(c, it, EV_EXPIRED, 0, NULL, 0, 0);
    } else if (is_retryable_rpc(rc, r->status)) {
        retry_later(c, it, &e->op_attempts, &e->op_not_before, rc, msg);
    } else {
        fail_item(c, it, rc, msg);
    }
}

/* The auth provider, on the callback thread (it is application code, like a callback,
 * and may block on the application's server). */
typedef struct prov_job {
    vcl_job base;
    int id;
    uint64_t serial;
    vodup_auth_kind kind;
    vodup_auth_provider_cb *p;
    void *pu;
    vodup_file_info *f;
} prov_job;

static void prov_run(vodup_client *c, vcl_job *j)
{
    prov_job *pj = (prov_job *)j;
    vodup_auth_result out = {NULL, NULL, NULL};
    vcl_result res;
    memset(&res, 0, sizeof res);
    res.serial = pj->serial;
    res.rc = pj->p(c, pj->f, pj->kind, &out, pj->pu);
    if (res.rc >= 0) {
        /* The strings are the provider's: copied now, as documented. */
        res.rc = 0;
        if ((out.upload_address && !(res.addr = strdup(out.upload_address))) ||
            (out.upload_auth && !(res.auth = strdup(out.upload_auth))) ||
            (out.media_id && !(res.media = strdup(out.media_id))))
            res.rc = VODUP_ENOMEM;
    }
    post_result(c, pj->id, &res);
}

static void prov_drop(vcl_job *j)
{
    prov_job *pj = (prov_job *)j;
    free(pj->f);
    free(pj);
}

static void provider_begin(vodup_client *c, vcl_item *it, vodup_auth_kind kind)
{
    vcl_engine *e = &it->e;
    prov_job *j = calloc(1, sizeof *j);
    if (!j) {
        fail_item(c, it, VODUP_ENOMEM, "out of memory");
        return;
    }
    j->base.blocking = 1;
    j->base.run = prov_run;
    j->base.drop = prov_drop;
    j->id = it->id;
    j->kind = kind;
    lk(c);
    j->p = c->provider;
    j->pu = c->provider_user;
    j->f = vcl_snapshot_locked(it);
    ulk(c);
    if (!j->f) {
        prov_drop(&j->base);
        fail_item(c, it, VODUP_ENOMEM, "out of memory");
        return;
    }
    e->call_refresh = kind == VODUP_AUTH_REFRESH;
    start_call(c, it, &j->base, &c->cbq, &j->serial, 2);
}

/* The provider's answer [worker]. */
static void provider_end(vodup_client *c, vcl_item *it, vcl_result *r)
{
    vcl_engine *e = &it->e;
    e->phase = e->call_phase;
    int rc = r->rc;
    char msg[512] = "";
    if (rc < 0) {
        if (e->call_refresh && e->phase == PH_AUTH) {
            /* Refreshing what a record named failed: create anew instead. */
            reset_all(e);
            e->known = 1;
            if (plan(c, e) == 0)
                provider_begin(c, it, VODUP_AUTH_CREATE);
            else
                fail_item(c, it, VODUP_ENOMEM, "out of memory");
            return;
        }
        snprintf(msg, sizeof msg, "the auth provider failed (%s)", vodup_strerror(rc));
        fail_item(c, it, rc, msg);
        return;
    }
    vcl_addr a;
    vcl_creds k;
    memset(&a, 0, sizeof a);
    memset(&k, 0, sizeof k);
    rc = r->addr ? vcl_decode_upload_address(r->addr, &a, msg, sizeof msg) : 0;
    if (rc == 0)
        rc = vcl_decode_upload_auth(r->auth, &k, msg, sizeof msg);
    char *mid = xdup(r->media);
    if (rc == 0)
        rc = adopt_auth(c, it, r->addr ? &a : NULL, &k, &mid);
    if (rc) {
        char m2[600];
        snprintf(m2, sizeof m2, "the auth provider's answer is unusable: %s", msg[0] ? msg : vodup_strerror(rc));
        fail_item(c, it, rc, m2);
    }
    free(mid);
    vcl_addr_free(&a);
    vcl_creds_free(&k);
}

/* Takes credentials the application handed over (set_upload_auth, resume_with_auth). */
static int take_pending(vodup_client *c, vcl_item *it)
{
    vcl_engine *e = &it->e;
    lk(c);
    int full = it->pend_full, auth = it->pend_auth;
    vcl_addr a = it->pend_addr;
    vcl_creds k = it->pend_creds, k2 = it->pend_auth_creds;
    char *m = it->pend_media;
    memset(&it->pend_addr, 0, sizeof it->pend_addr);
    memset(&it->pend_creds, 0, sizeof it->pend_creds);
    memset(&it->pend_auth_creds, 0, sizeof it->pend_auth_creds);
    it->pend_media = NULL;
    it->pend_full = it->pend_auth = 0;
    ulk(c);
    int took = 0;
    if (full) {
        int rc = adopt_auth(c, it, &a, &k, &m);
        if (rc) {
            fail_item(c, it, rc, "the upload address is unusable");
            took = -1;
        } else {
            took = 1;
        }
    }
    if (auth && took >= 0 && e->addr.endpoint) {
        adopt_auth(c, it, NULL, &k2, NULL);
        took = 1;
    } else if (auth && took >= 0) {
        /* New credentials without an address yet: keep them for when one arrives. */
        lk(c);
        if (!it->pend_auth) {
            it->pend_auth_creds = k2;
            memset(&k2, 0, sizeof k2);
            it->pend_auth = 1;
        }
        ulk(c);
    }
    vcl_addr_free(&a);
    vcl_creds_free(&k);
    vcl_creds_free(&k2);
    free(m);
    return took;
}

/* When to renew credentials before they expire: refresh_before_s ahead, but never
 * earlier than half their lifetime, or short-lived credentials would be renewed in a
 * loop. */
static int expiring(const vodup_client *c, const vcl_engine *e)
{
    if (!e->creds.expire)
        return 0;
    time_t now = time(NULL);
    time_t life = e->creds.expire - e->creds.received;
    time_t margin = c->o.refresh_before_s;
    if (life > 0 && margin > life / 2)
        margin = life / 2;
    return now >= e->creds.expire - margin;
}

/* ---- requests ------------------------------------------------------------------------- */

static const char *mime_of(const char *path)
{
    const char *dot = strrchr(base_name(path), '.');
    static const char *const map[][2] = {
        {"mp4", "video/mp4"},  {"mov", "video/quicktime"}, {"webm", "video/webm"}, {"mkv", "video/x-matroska"},
        {"flv", "video/x-flv"}, {"ts", "video/mp2t"},      {"mp3", "audio/mpeg"},  {"m4a", "audio/mp4"},
        {"wav", "audio/wav"},  {"png", "image/png"},      {"jpg", "image/jpeg"},  {"jpeg", "image/jpeg"},
        {"gif", "image/gif"},
    };
    if (dot)
        for (size_t i = 0; i < sizeof map / sizeof *map; i++)
            if (strcasecmp(dot + 1, map[i][0]) == 0)
                return map[i][1];
    return "application/octet-stream";
}

static int start_op(vodup_client *c, vcl_item *it, int kind, int marker)
{
    vcl_engine *e = &it->e;
    vcl_xfer *x = xfer_new(c, it, kind);
    if (!x)
        return VODUP_ENOMEM;
    int rc = 0;
    char num[24];
    switch (kind) {
    case X_PUT: {
        rc = vcl_oss_prepare(x, c, "PUT", &e->addr, &e->creds, NULL, mime_of(it->path));
        if (rc == 0)
            body_from_file(x, e->fd, 0, e->size);
        break;
    }
    case X_INIT: {
        const char *q[] = {"uploads", NULL, NULL};
        rc = vcl_oss_prepare(x, c, "POST", &e->addr, &e->creds, q, mime_of(it->path));
        if (rc == 0)
            body_from_mem(x);
        break;
    }
    case X_LIST: {
        snprintf(num, sizeof num, "%d", marker);
        const char *q[] = {"uploadId", e->upload_id, "max-parts", "1000", "part-number-marker", num, NULL};
        if (!marker)
            q[4] = NULL;
        x->list_marker = marker;
        rc = vcl_oss_prepare(x, c, "GET", &e->addr, &e->creds, q, NULL);
        if (rc == 0)
            curl_easy_setopt(x->easy, CURLOPT_HTTPGET, 1L);
        break;
    }
    case X_COMPLETE: {
        vbuf_puts(&x->out, "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<CompleteMultipartUpload>");
        for (size_t i = 0; i < e->nparts; i++) {
            snprintf(num, sizeof num, "%zu", i + 1);
            vbuf_puts(&x->out, "<Part>");
            vodup_xml_elem(&x->out, "PartNumber", num, strlen(num));
            vodup_xml_elem(&x->out, "ETag", e->parts[i].etag, strlen(e->parts[i].etag));
            vbuf_puts(&x->out, "</Part>");
        }
        vbuf_puts(&x->out, "</CompleteMultipartUpload>");
        if (x->out.oom) {
            rc = VODUP_ENOMEM;
            break;
        }
        const char *q[] = {"uploadId", e->upload_id, NULL};
        rc = vcl_oss_prepare(x, c, "POST", &e->addr, &e->creds, q, "application/xml");
        if (rc == 0)
            body_from_mem(x);
        break;
    }
    }
    if (rc == 0)
        rc = xfer_start(c, x);
    if (rc) {
        vcl_xfer_free(x);
        return rc;
    }
    e->op = x;
    return 0;
}

/* 1 when the file changed (handled: the caller stops), 0 started, or an error code. */
static int start_part(vodup_client *c, vcl_item *it, size_t i)
{
    vcl_engine *e = &it->e;
    char why[256];
    if (source_changed(it, why, sizeof why)) {
        file_changed(c, it, why);
        return 1;
    }
    vcl_xfer *x = xfer_new(c, it, X_PART);
    if (!x)
        return VODUP_ENOMEM;
    char num[24];
    snprintf(num, sizeof num, "%zu", i + 1);
    const char *q[] = {"partNumber", num, "uploadId", e->upload_id, NULL};
    int rc = vcl_oss_prepare(x, c, "PUT", &e->addr, &e->creds, q, NULL);
    if (rc == 0) {
        body_from_file(x, e->fd, e->parts[i].off, e->parts[i].len);
        x->part = i;
        rc = xfer_start(c, x);
    }
    if (rc) {
        vcl_xfer_free(x);
        return rc;
    }
    e->parts[i].state = VCL_PART_INFLIGHT;
    e->inflight++;
    return 0;
}

/* Issues what can go now; returns the earliest time something waits for (or -1). */
static int64_t pump(vodup_client *c, vcl_item *it)
{
    vcl_engine *e = &it->e;
    int64_t now = vcl_now_ms(), wake = -1;
    int rc = 0;
    if (expiring(c, e) && !e->expiry_notified) {
        lk(c);
        int mode = c->mode;
        ulk(c);
        if (mode == VCL_MODE_UPLOAD_AUTH) {
            /* Ahead of expiry only a notice: the upload goes on until the server
             * refuses, and new credentials are taken whenever they come. */
            e->expiry_notified = 1;
            emit(c, it, EV_EXPIRED, 0, NULL, 0, 0);
        } else {
            e->phase = PH_REFRESH;
            return 0;
        }
    }
#define READY(nb) ((nb) <= now ? 1 : (wake = wake < 0 || (nb) < wake ? (nb) : wake, 0))
    if (!e->multipart) {
        if (!e->op && READY(e->op_not_before))
            rc = start_op(c, it, X_PUT, 0);
    } else if (!e->upload_id) {
        if (!e->op && READY(e->op_not_before))
            rc = start_op(c, it, X_INIT, 0);
    } else if (e->need_list) {
        if (!e->op && READY(e->op_not_before))
            rc = start_op(c, it, X_LIST, 0);
    } else {
        int all = 1;
        for (size_t i = 0; i < e->nparts && rc == 0; i++) {
            vcl_part *p = &e->parts[i];
            if (p->state != VCL_PART_DONE)
                all = 0;
            if (p->state == VCL_PART_TODO && e->inflight < c->o.parallel && READY(p->not_before))
                rc = start_part(c, it, i);
        }
        if (rc > 0)
            return -1;   /* the file changed: file_changed took over */
        if (all && rc == 0 && !e->op && READY(e->op_not_before)) {
            char why[256];
            if (source_changed(it, why, sizeof why)) {
                file_changed(c, it, why);
                return -1;
            }
            if (!e->verified && c->o.verify_reread) {
                uint64_t crc = 0;
                for (size_t i = 0; i < e->nparts; i++)
                    crc = vodup_crc64_combine(crc, e->parts[i].crc, e->parts[i].len);
                start_verify(it, crc);
                return 0;
            }
            e->verified = 1;
            rc = start_op(c, it, X_COMPLETE, 0);
        }
    }
#undef READY
    if (rc)
        fail_item(c, it, rc, rc == VODUP_ENOMEM ? "out of memory" : "building a request failed");
    return wake;
}

/* Advances one UPLOADING item as far as it goes without waiting. */
static int64_t step(vodup_client *c, vcl_item *it)
{
    vcl_engine *e = &it->e;
    int64_t wake = -1;
    for (int guard = 0; guard < 8 && e->active; guard++) {
        lk(c);
        int live = it->status == VODUP_STATUS_UPLOADING && !it->deleted && !vcl_paused_locked(c);
        int pending = it->pend_full || it->pend_auth;
        int mode = c->mode, sts_gen = c->sts_gen;
        ulk(c);
        if (!live)
            return -1;
        int phase = e->phase;
        if (pending && phase != PH_IDENTIFY) {
            int t = take_pending(c, it);
            if (t < 0)
                return -1;
            if (t > 0 && (phase == PH_AUTH || phase == PH_WAIT_APP || phase == PH_REFRESH))
                e->phase = PH_RUN;
        }
        phase = e->phase;
        switch (phase) {
        case PH_IDENTIFY:
            identify(c, it);
            /* on_upload_started goes before any auth step: the application may hand
             * credentials over from it. */
            dispatch(c);
            break;
        case PH_AUTH:
            if (e->op_not_before > vcl_now_ms())
                return e->op_not_before;
            if (mode == VCL_MODE_NONE)
                fail_item(c, it, VODUP_ENOAUTH, "no authorization mode: call vodup_client_use_*");
            else if (mode == VCL_MODE_UPLOAD_AUTH) {
                e->phase = PH_WAIT_APP;
                e->wait_kind = 1;
            } else if (mode == VCL_MODE_STS)
                sts_begin(c, it, e->media_id != NULL);
            else
                provider_begin(c, it, e->media_id ? VODUP_AUTH_REFRESH : VODUP_AUTH_CREATE);
            break;
        case PH_REFRESH:
            if (e->op_not_before > vcl_now_ms())
                return e->op_not_before;
            if (mode == VCL_MODE_PROVIDER) {
                provider_begin(c, it, VODUP_AUTH_REFRESH);
            } else if (mode == VCL_MODE_STS && it->type == VODUP_MEDIA_VIDEO) {
                sts_begin(c, it, 1);
            } else if (mode == VCL_MODE_STS) {
                /* Images have no refresh action: a new image, uploaded anew (they are small). */
                drop_xfers(c, it);
                reset_all(e);
                e->known = 1;
                if (plan(c, e) == 0) {
                    e->phase = PH_AUTH;
                } else {
                    fail_item(c, it, VODUP_ENOMEM, "out of memory");
                }
            } else {
                e->phase = PH_WAIT_APP;
                e->wait_kind = 2;
                if (!e->expiry_notified) {
                    e->expiry_notified = 1;
                    emit(c, it, EV_EXPIRED, 0, NULL, 0, 0);
                }
            }
            break;
        case PH_WAIT_APP:
            if (e->wait_kind == 3 && sts_gen != e->sts_gen_seen)
                e->phase = e->creds.ak ? PH_REFRESH : PH_AUTH;
            else if (e->wait_kind == 3 && mode != VCL_MODE_STS)
                e->phase = PH_AUTH;
            else
                return -1;
            break;
        case PH_RUN:
            wake = pump(c, it);
            if (e->phase == PH_RUN)
                return wake;
            break;
        case PH_CALL: {
            vcl_result r;
            if (!take_result(c, it, &r))
                return -1;   /* the helper wakes the loop when it posts */
            if (e->call_kind == 1)
                sts_end(c, it, &r);
            else
                provider_end(c, it, &r);
            vcl_result_free(&r);
            break;
        }
        case PH_VERIFY:
            verify_step(c, it);
            if (e->active && e->phase == PH_VERIFY)
                return 0;   /* the next chunk at the next turn, after the transfers */
            break;
        default:
            return -1;
        }
        if (e->phase == phase && phase != PH_RUN)
            return e->op_not_before > vcl_now_ms() ? e->op_not_before : -1;
    }
    return wake;
}

/* ---- answers -------------------------------------------------------------------------- */

typedef struct list_ctx {
    vcl_engine *e;
    int oom;
} list_ctx;

static int etag_eq(const char *a, const char *b)
{
    while (*a == '"')
        a++;
    while (*b == '"')
        b++;
    size_t la = strlen(a), lb = strlen(b);
    while (la && a[la - 1] == '"')
        la--;
    while (lb && b[lb - 1] == '"')
        lb--;
    return la == lb && strncasecmp(a, b, la) == 0;
}

static int on_listed(void *u, int n, const char *etag, uint64_t size, int has_crc, uint64_t crc)
{
    list_ctx *lc = u;
    vcl_engine *e = lc->e;
    if (n < 1 || (size_t)n > e->nparts)
        return 0;
    vcl_part *p = &e->parts[n - 1];
    /* A stored part counts only if it is the one we sent: same ETag and size, and, when
     * the server says, the same CRC as ours. Anything else is sent again. */
    if (p->state == VCL_PART_DONE && p->etag && etag_eq(p->etag, etag) && p->len == size &&
        (!has_crc || crc == p->crc))
        p->not_before = -1;   /* marks "confirmed" during the listing */
    return 0;
}

static void http_error_msg(vcl_xfer *x, const char *what, char *code, size_t codelen, char *msg, size_t msglen)
{
    char m[256];
    vcl_oss_error(&x->resp, code, codelen, m, sizeof m);
    snprintf(msg, msglen, "%s: HTTP %ld %s%s%s", what, x->status, code[0] ? code : "", m[0] ? ": " : "", m);
}

static const char *kind_name(int k)
{
    switch (k) {
    case X_PUT: return "PutObject";
    case X_INIT: return "InitiateMultipartUpload";
    case X_PART: return "UploadPart";
    case X_LIST: return "ListParts";
    case X_COMPLETE: return "CompleteMultipartUpload";
    case X_ABORT: return "AbortMultipartUpload";
    }
    return "request";
}

static void on_done(vodup_client *c, vcl_xfer *x, CURLcode cc)
{
    xfer_unlink(c, x);
    vcl_item *it = x->it;
    if (!it) {
        vcl_xfer_free(x);
        return;
    }
    vcl_engine *e = &it->e;
    curl_easy_getinfo(x->easy, CURLINFO_RESPONSE_CODE, &x->status);
    vcl_part *part = x->kind == X_PART && x->part < e->nparts ? &e->parts[x->part] : NULL;
    if (part) {
        e->inflight--;
        if (part->state == VCL_PART_INFLIGHT)
            part->state = VCL_PART_TODO;
    } else if (e->op == x) {
        e->op = NULL;
    }
    int *attempts = part ? &part->attempts : &e->op_attempts;
    int64_t *not_before = part ? &part->not_before : &e->op_not_before;
    char msg[600], code[128] = "";
    const char *what = kind_name(x->kind);

    if (x->kind == X_COMPLETE && (cc != CURLE_OK || x->status >= 500))
        e->complete_maybe = 1;
    if (cc != CURLE_OK) {
        if (x->read_error == 2) {
            file_changed(c, it, "it got shorter");
        } else if (x->read_error == 1) {
            fail_item(c, it, VODUP_EIO, "reading the file failed");
        } else if (cc == CURLE_OUT_OF_MEMORY) {
            fail_item(c, it, VODUP_ENOMEM, "out of memory");
        } else {
            if (x->stalled)
                snprintf(msg, sizeof msg, "%s: stalled (under %" PRIu64 " bytes/s for %ld s)", what, x->low_limit,
                         c->o.low_speed_time_s);
            else
                snprintf(msg, sizeof msg, "%s: %s", what, x->errbuf[0] ? x->errbuf : curl_easy_strerror(cc));
            retry_later(c, it, attempts, not_before, VODUP_ENETWORK, msg);
        }
        vcl_xfer_free(x);
        return;
    }
    if (x->status < 200 || x->status >= 300) {
        http_error_msg(x, what, code, sizeof code, msg, sizeof msg);
        int sts_key = e->creds.ak && strncmp(e->creds.ak, "STS.", 4) == 0;
        if (x->status == 403 && (strcmp(code, "SecurityTokenExpired") == 0 ||
                                 (sts_key && strcmp(code, "InvalidAccessKeyId") == 0))) {
            /* Not a failure of the request: it goes again with new credentials. */
            if (e->phase == PH_RUN && x->creds_gen == e->creds_gen)
                e->phase = PH_REFRESH;
        } else if (x->kind == X_COMPLETE && x->status == 404 && strcmp(code, "NoSuchUpload") == 0 &&
                   e->complete_maybe) {
            /* An earlier Complete was dropped (stop, pause) or lost its answer after the
             * server applied it: the upload is gone because the object is complete.
             * (Upload credentials allow no HeadObject to confirm it, nor its CRC.) */
            request_ok(c, it);
            succeed_item(c, it);
        } else if (x->status >= 500 || x->status == 408 || x->status == 429 ||
                   strcmp(code, "RequestTimeTooSkewed") == 0) {
            retry_later(c, it, attempts, not_before, VODUP_ESERVER, msg);
        } else if (x->status == 404 && strcmp(code, "NoSuchUpload") == 0 && x->kind != X_COMPLETE) {
            /* The multipart upload is gone (expired, aborted): begin a new one. */
            drop_xfers(c, it);
            uint64_t ps = e->part_size;
            reset_upload(e);
            e->multipart = 1;
            if (plan_parts(e, ps) < 0)
                fail_item(c, it, VODUP_ENOMEM, "out of memory");
            else
                retry_later(c, it, &e->op_attempts, &e->op_not_before, VODUP_ESERVER, msg);
        } else {
            fail_item(c, it, x->status == 403 ? VODUP_EAUTH : VODUP_ESERVER, msg);
        }
        vcl_xfer_free(x);
        return;
    }

    /* 2xx */
    int verify = c->o.verify_crc64;
    switch (x->kind) {
    case X_PUT:
        if (verify && x->has_crc && x->resp_crc != x->crc) {
            fail_item(c, it, VODUP_ECHECKSUM, "PutObject: the server's CRC-64 differs from the bytes sent");
            break;
        }
        request_ok(c, it);
        e->sent_run += e->size;
        {
            char why[256];
            if (source_changed(it, why, sizeof why))
                file_changed(c, it, why);
            else if (c->o.verify_reread)
                start_verify(it, x->crc);   /* verify_step declares the success */
            else
                succeed_item(c, it);
        }
        break;
    case X_INIT: {
        char *id = vcl_oss_upload_id(&x->resp);
        if (!id) {
            fail_item(c, it, VODUP_ESERVER, "InitiateMultipartUpload: no UploadId in the answer");
            break;
        }
        request_ok(c, it);
        e->op_attempts = 0;
        free(e->upload_id);
        e->upload_id = id;
        save_record(c, it);
        break;
    }
    case X_LIST: {
        list_ctx lc = {e, 0};
        int next = 0;
        if (x->list_marker == 0)
            for (size_t i = 0; i < e->nparts; i++)
                if (e->parts[i].not_before == -1)
                    e->parts[i].not_before = 0;
        int rc = vcl_oss_list_parts(&x->resp, on_listed, &lc, &next);
        if (rc == VODUP_ENOMEM) {
            fail_item(c, it, rc, "out of memory");
            break;
        }
        if (rc < 0) {
            fail_item(c, it, VODUP_ESERVER, "ListParts: malformed answer");
            break;
        }
        request_ok(c, it);
        e->op_attempts = 0;
        if (next > x->list_marker) {
            if (start_op(c, it, X_LIST, next) < 0)
                fail_item(c, it, VODUP_ENOMEM, "out of memory");
            break;
        }
        e->acked = 0;
        for (size_t i = 0; i < e->nparts; i++) {
            vcl_part *p = &e->parts[i];
            if (p->state == VCL_PART_DONE && p->not_before == -1) {
                e->acked += p->len;
            } else if (p->state == VCL_PART_DONE) {
                p->state = VCL_PART_TODO;
                free(p->etag);
                p->etag = NULL;
            }
            p->not_before = 0;
        }
        e->need_list = 0;
        publish(c, it);
        save_record(c, it);
        break;
    }
    case X_PART:
        if (!x->etag[0]) {
            fail_item(c, it, VODUP_ESERVER, "UploadPart: no ETag in the answer");
            break;
        }
        if (verify && x->has_crc && x->resp_crc != x->crc) {
            fail_item(c, it, VODUP_ECHECKSUM, "UploadPart: the server's CRC-64 differs from the bytes sent");
            break;
        }
        {
            /* The part was read from the version identify saw only if nothing changed
             * while it was read (checked before it started, and now). */
            char why[256];
            if (source_changed(it, why, sizeof why)) {
                file_changed(c, it, why);
                break;
            }
        }
        request_ok(c, it);
        free(part->etag);
        part->etag = strdup(x->etag);
        if (!part->etag) {
            fail_item(c, it, VODUP_ENOMEM, "out of memory");
            break;
        }
        part->crc = x->crc;
        part->state = VCL_PART_DONE;
        part->attempts = 0;
        e->acked += part->len;
        e->sent_run += part->len;
        publish(c, it);
        save_record(c, it);
        break;
    case X_COMPLETE: {
        uint64_t crc = 0;
        for (size_t i = 0; i < e->nparts; i++)
            crc = vodup_crc64_combine(crc, e->parts[i].crc, e->parts[i].len);
        if (verify && x->has_crc && x->resp_crc != crc) {
            fail_item(c, it, VODUP_ECHECKSUM, "CompleteMultipartUpload: the object's CRC-64 differs from the file's");
            break;
        }
        request_ok(c, it);
        succeed_item(c, it);
        break;
    }
    }
    vcl_xfer_free(x);
}

/* ---- the loop ----------------------------------------------------------------------- */

static int ended(vodup_status s)
{
    return s == VODUP_STATUS_SUCCESS || s == VODUP_STATUS_FAIL || s == VODUP_STATUS_CANCELED;
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
                drop_xfers(c, it);
                it->status = VODUP_STATUS_PAUSED;
            }
            break;
        case VODUP_STATUS_PAUSING:
        case VODUP_STATUS_PAUSED:
            drop_xfers(c, it);
            it->status = paused ? VODUP_STATUS_PAUSED : VODUP_STATUS_UPLOADING;
            break;
        default:   /* INIT (stopped), CANCELED, FAIL, SUCCESS: give the slot back */
            drop_xfers(c, it);
            close_fd(e);
            e->active = 0;
            e->phase = PH_IDLE;
            e->failing = 0;
            break;
        }
    }
    c->nitems = w;
    if (!c->started || paused)
        return;
    int active = 0;
    for (size_t i = 0; i < c->nitems; i++)
        active += c->items[i]->e.active;
    for (size_t i = 0; i < c->nitems && active < c->o.files_at_once; i++) {
        vcl_item *it = c->items[i];
        if (it->deleted || it->e.active || it->status != VODUP_STATUS_INIT)
            continue;
        it->status = VODUP_STATUS_UPLOADING;
        it->last_error = 0;
        it->e.active = 1;
        it->e.phase = PH_IDENTIFY;
        it->e.restarts = 0;
        active++;
    }
}

static void teardown_deleted(vodup_client *c, vcl_item *it)
{
    vcl_engine *e = &it->e;
    drop_xfers(c, it);
    abort_detached(c, &e->addr, &e->creds, e->upload_id);
    remove_record(c, it);
    vcl_item_free(it);
}

static void progress(vodup_client *c, vcl_item *it, int64_t now, int64_t *wake)
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
    emit(c, it, EV_PROGRESS, 0, NULL, e->acked, e->size);
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

static void check_list_done(vodup_client *c)
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
            int64_t w = step(c, act[i]);
            if (w >= 0 && (wake < 0 || w < wake))
                wake = w;
        }
        dispatch(c);
        resplit_rate(c);

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
                on_done(c, x, cc);
                done++;
            }
        }
        dispatch(c);
        int64_t now = vcl_now_ms();
        for (size_t i = 0; i < nact; i++)
            progress(c, act[i], now, &wake);
        dispatch(c);
        check_list_done(c);

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
        drop_xfers(c, c->items[i]);
        close_fd(&c->items[i]->e);
    }
    ulk(c);
    while (c->xfers) {
        vcl_xfer *x = c->xfers;
        xfer_unlink(c, x);
        vcl_xfer_free(x);
    }
    dispatch(c);
    free(act);
    free(trash);
    return NULL;
}
