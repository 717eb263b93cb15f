/* file_state.c - the per-file state machine (step): phases, ending a file (fail, succeed),
 * retries with backoff.
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

void vcl_free_parts(vcl_engine *e)
{
    for (size_t i = 0; i < e->nparts; i++)
        free(e->parts[i].etag);
    free(e->parts);
    e->parts = NULL;
    e->nparts = 0;
    e->complete_ready = 0;
}

/* Forgets the multipart upload (not the address or credentials). */
void vcl_reset_upload(vcl_engine *e)
{
    free(e->upload_id);
    e->upload_id = NULL;
    vcl_free_parts(e);
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

void vcl_reset_all(vcl_engine *e)
{
    vcl_reset_upload(e);
    free(e->media_id);
    e->media_id = NULL;
    vcl_addr_free(&e->addr);
    vcl_creds_free(&e->creds);
    e->known = 0;
}

/* Closes what an item holds open: the source file, and its record's journal (the next
 * record write opens it again; an inactive item must not hold descriptors, as a list
 * of thousands of files would run out). */
void vcl_close_fd(vcl_engine *e)
{
    if (e->fd >= 0)
        close(e->fd);
    e->fd = -1;
    vcl_journal_close(&e->journal);
}

void vcl_item_free(vcl_item *it)
{
    if (!it)
        return;
    vcl_reset_all(&it->e);
    vcl_close_fd(&it->e);
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
void vcl_publish(vodup_client *c, vcl_item *it)
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

static void deactivate(vodup_client *c, vcl_item *it)
{
    vcl_drop_xfers(c, it);
    vcl_close_fd(&it->e);
    it->e.active = 0;
    it->e.phase = PH_IDLE;
    it->e.failing = 0;
}

/* Ends an item in FAIL (unless the application changed its status meanwhile). */
void vcl_fail_item(vodup_client *c, vcl_item *it, int code, const char *msg)
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
        vcl_drop_xfers(c, it);
        vcl_abort_detached(c, &e->addr, &e->creds, e->upload_id);
        vcl_reset_upload(e);
        e->known = 0;
        vcl_remove_record(c, it);
    }
    vcl_publish(c, it);
    vcl_emit(c, it, EV_FAILED, code, msg, 0, 0);
    deactivate(c, it);
}

void vcl_succeed_item(vodup_client *c, vcl_item *it)
{
    vcl_engine *e = &it->e;
    e->acked = e->size;
    vcl_publish(c, it);
    lk(c);
    int ok = !it->deleted;
    if (ok) {
        it->status = VODUP_STATUS_SUCCESS;
        it->last_error = 0;
        it->bytes_done = e->size;
    }
    ulk(c);
    vcl_remove_record(c, it);
    /* No vcl_report_progress(size, size): on_upload_succeed is the 100%. */
    if (ok)
        vcl_emit(c, it, EV_SUCCEED, 0, NULL, 0, 0);
    vcl_reset_upload(e);
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
void vcl_retry_later(vodup_client *c, vcl_item *it, int *attempts, int64_t *not_before, int code,
                        const char *msg)
{
    vcl_engine *e = &it->e;
    (*attempts)++;
    if (*attempts > c->o.max_retries) {
        vcl_fail_item(c, it, code, msg);
        return;
    }
    *not_before = vcl_now_ms() + backoff_ms(c, *attempts);
    /* Every failure that will be retried is reported (the header's contract: "a request
     * failed and will be retried"); the resume notice comes once, at the next success. */
    e->failing = 1;
    vcl_emit(c, it, EV_RETRY, code, msg, 0, 0);
}

void vcl_request_ok(vodup_client *c, vcl_item *it)
{
    if (it->e.failing) {
        it->e.failing = 0;
        vcl_emit(c, it, EV_RETRY_RESUME, 0, NULL, 0, 0);
    }
}

/* Advances one UPLOADING item as far as it goes without waiting. */
int64_t vcl_step(vodup_client *c, vcl_item *it)
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
            int t = vcl_take_pending(c, it);
            if (t < 0)
                return -1;
            if (t > 0 && (phase == PH_AUTH || phase == PH_WAIT_APP || phase == PH_REFRESH))
                e->phase = PH_RUN;
        }
        phase = e->phase;
        switch (phase) {
        case PH_IDENTIFY:
            vcl_identify(c, it);
            /* on_upload_started goes before any auth step: the application may hand
             * credentials over from it. */
            vcl_dispatch(c);
            break;
        case PH_AUTH:
            if (e->op_not_before > vcl_now_ms())
                return e->op_not_before;
            if (mode == VCL_MODE_NONE)
                vcl_fail_item(c, it, VODUP_ENOAUTH, "no authorization mode: call vodup_client_use_*");
            else if (mode == VCL_MODE_UPLOAD_AUTH) {
                e->phase = PH_WAIT_APP;
                e->wait_kind = 1;
            } else if (mode == VCL_MODE_STS)
                vcl_sts_begin(c, it, e->media_id != NULL);
            else
                vcl_provider_begin(c, it, e->media_id ? VODUP_AUTH_REFRESH : VODUP_AUTH_CREATE);
            break;
        case PH_REFRESH:
            if (e->op_not_before > vcl_now_ms())
                return e->op_not_before;
            if (mode == VCL_MODE_PROVIDER) {
                vcl_provider_begin(c, it, VODUP_AUTH_REFRESH);
            } else if (mode == VCL_MODE_STS && it->type == VODUP_MEDIA_VIDEO) {
                vcl_sts_begin(c, it, 1);
            } else if (mode == VCL_MODE_STS) {
                /* Images have no refresh action: a new image, uploaded anew (they are small). */
                vcl_drop_xfers(c, it);
                vcl_reset_all(e);
                e->known = 1;
                if (vcl_plan(c, e) == 0) {
                    e->phase = PH_AUTH;
                } else {
                    vcl_fail_item(c, it, VODUP_ENOMEM, "out of memory");
                }
            } else {
                e->phase = PH_WAIT_APP;
                e->wait_kind = 2;
                if (!e->expiry_notified) {
                    e->expiry_notified = 1;
                    vcl_emit(c, it, EV_EXPIRED, 0, NULL, 0, 0);
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
            wake = vcl_pump(c, it);
            if (e->phase == PH_RUN)
                return wake;
            break;
        case PH_CALL: {
            vcl_result r;
            if (!vcl_take_result(c, it, &r))
                return -1;   /* the helper wakes the loop when it posts */
            if (e->call_kind == 1)
                vcl_sts_end(c, it, &r);
            else
                vcl_provider_end(c, it, &r);
            vcl_result_free(&r);
            break;
        }
        case PH_VERIFY:
            vcl_verify_step(c, it);
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
