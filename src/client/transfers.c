/* transfers.c - easy handles in the multi: start, unlink, drop; request bodies read from
 * the file (CRC-64 of the bytes sent); stall detection and the client-wide rate split.
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
void vcl_resplit_rate(vodup_client *c)
{
    if (!c->o.limit_rate || c->rate_split == c->body_xfers)
        return;
    for (vcl_xfer *x = c->xfers; x; x = x->next)
        set_speed(c, x);
    c->rate_split = c->body_xfers;
}

vcl_xfer *vcl_xfer_new(vodup_client *c, vcl_item *it, int kind)
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

int vcl_xfer_start(vodup_client *c, vcl_xfer *x)
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
void vcl_xfer_unlink(vodup_client *c, vcl_xfer *x)
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
void vcl_drop_xfers(vodup_client *c, vcl_item *it)
{
    vcl_engine *e = &it->e;
    vcl_xfer *x = c->xfers;
    while (x) {
        vcl_xfer *next = x->next;
        if (x->it == it) {
            vcl_xfer_unlink(c, x);
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

void vcl_body_from_file(vcl_xfer *x, int fd, uint64_t off, uint64_t len)
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

void vcl_body_from_mem(vcl_xfer *x)
{
    curl_easy_setopt(x->easy, CURLOPT_POST, 1L);
    curl_easy_setopt(x->easy, CURLOPT_POSTFIELDS, x->out.data ? x->out.data : "");
    curl_easy_setopt(x->easy, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)x->out.len);
}

/* Best effort: an upload we give up on should not keep its parts on the server. */
void vcl_abort_detached(vodup_client *c, const vcl_addr *a, const vcl_creds *k, const char *upload_id)
{
    if (!upload_id || !a->endpoint || !k->ak)
        return;
    vcl_xfer *x = vcl_xfer_new(c, NULL, X_ABORT);
    if (!x)
        return;
    vcl_request rq = {X_ABORT, a, k, upload_id, 0, 0, NULL};
    if (vcl_request_prepare(x, c, &rq) < 0 || vcl_xfer_start(c, x) < 0)
        vcl_xfer_free(x);
}

void vcl_xfer_free(vcl_xfer *x)
{
    if (!x)
        return;
    if (x->easy)
        curl_easy_cleanup(x->easy);
    curl_slist_free_all(x->hdrs);
    vbuf_free(&x->out);
    vbuf_free(&x->resp);
    free(x);
}

int vcl_request_prepare(vcl_xfer *x, const vodup_client *c, const vcl_request *rq)
{
    x->dialect = vcl_dialect_for(rq->addr);
    return x->dialect->prepare(x, c, rq);
}
