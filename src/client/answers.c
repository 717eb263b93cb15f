/* answers.c - what the answers mean: one finished request (on_done) moves its part or its
 * file on; errors classified by the dialect.
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

void vcl_on_done(vodup_client *c, vcl_xfer *x, CURLcode cc)
{
    vcl_xfer_unlink(c, x);
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
            vcl_file_changed(c, it, "it got shorter");
        } else if (x->read_error == 1) {
            vcl_fail_item(c, it, VODUP_EIO, "reading the file failed");
        } else if (cc == CURLE_OUT_OF_MEMORY) {
            vcl_fail_item(c, it, VODUP_ENOMEM, "out of memory");
        } else {
            if (x->stalled)
                snprintf(msg, sizeof msg, "%s: stalled (under %" PRIu64 " bytes/s for %ld s)", what, x->low_limit,
                         c->o.low_speed_time_s);
            else
                snprintf(msg, sizeof msg, "%s: %s", what, x->errbuf[0] ? x->errbuf : curl_easy_strerror(cc));
            vcl_retry_later(c, it, attempts, not_before, VODUP_ENETWORK, msg);
        }
        vcl_xfer_free(x);
        return;
    }
    if (x->status < 200 || x->status >= 300) {
        vcl_verdict v = x->dialect->classify(x, &e->creds, what, code, sizeof code, msg, sizeof msg);
        if (v == VCL_ANS_EXPIRED) {
            /* Not a failure of the request: it goes again with new credentials. */
            if (e->phase == PH_RUN && x->creds_gen == e->creds_gen)
                e->phase = PH_REFRESH;
        } else if (v == VCL_ANS_NO_UPLOAD && x->kind == X_COMPLETE && e->complete_maybe) {
            /* An earlier Complete was dropped (stop, pause) or lost its answer after the
             * server applied it: the upload is gone because the object is complete.
             * (Upload credentials allow no HeadObject to confirm it, nor its CRC.) */
            vcl_request_ok(c, it);
            vcl_succeed_item(c, it);
        } else if (v == VCL_ANS_RETRY) {
            vcl_retry_later(c, it, attempts, not_before, VODUP_ESERVER, msg);
        } else if (v == VCL_ANS_NO_UPLOAD && x->kind != X_COMPLETE) {
            /* The multipart upload is gone (expired, aborted): begin a new one. */
            vcl_drop_xfers(c, it);
            uint64_t ps = e->part_size;
            vcl_reset_upload(e);
            e->multipart = 1;
            if (vcl_plan_parts(e, ps) < 0)
                vcl_fail_item(c, it, VODUP_ENOMEM, "out of memory");
            else
                vcl_retry_later(c, it, &e->op_attempts, &e->op_not_before, VODUP_ESERVER, msg);
        } else {
            vcl_fail_item(c, it, v == VCL_ANS_DENIED ? VODUP_EAUTH : VODUP_ESERVER, msg);
        }
        vcl_xfer_free(x);
        return;
    }

    /* 2xx */
    int verify = c->o.verify_crc64;
    switch (x->kind) {
    case X_PUT:
        if (verify && x->has_crc && x->resp_crc != x->crc) {
            vcl_fail_item(c, it, VODUP_ECHECKSUM, "PutObject: the server's CRC-64 differs from the bytes sent");
            break;
        }
        vcl_request_ok(c, it);
        e->sent_run += e->size;
        {
            char why[256];
            if (vcl_source_changed(it, why, sizeof why))
                vcl_file_changed(c, it, why);
            else if (c->o.verify_reread)
                vcl_start_verify(it, x->crc);   /* verify_step declares the success */
            else
                vcl_succeed_item(c, it);
        }
        break;
    case X_INIT: {
        char *id = x->dialect->upload_id(&x->resp);
        if (!id) {
            vcl_fail_item(c, it, VODUP_ESERVER, "InitiateMultipartUpload: no UploadId in the answer");
            break;
        }
        vcl_request_ok(c, it);
        e->op_attempts = 0;
        free(e->upload_id);
        e->upload_id = id;
        vcl_save_record(c, it);
        break;
    }
    case X_LIST: {
        list_ctx lc = {e, 0};
        int next = 0;
        if (x->list_marker == 0)
            for (size_t i = 0; i < e->nparts; i++)
                if (e->parts[i].not_before == -1)
                    e->parts[i].not_before = 0;
        int rc = x->dialect->list_parts(&x->resp, on_listed, &lc, &next);
        if (rc == VODUP_ENOMEM) {
            vcl_fail_item(c, it, rc, "out of memory");
            break;
        }
        if (rc < 0) {
            vcl_fail_item(c, it, VODUP_ESERVER, "ListParts: malformed answer");
            break;
        }
        vcl_request_ok(c, it);
        e->op_attempts = 0;
        if (next > x->list_marker) {
            if (vcl_start_op(c, it, X_LIST, next) < 0)
                vcl_fail_item(c, it, VODUP_ENOMEM, "out of memory");
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
        vcl_publish(c, it);
        vcl_save_record(c, it);
        break;
    }
    case X_PART:
        if (!x->etag[0]) {
            vcl_fail_item(c, it, VODUP_ESERVER, "UploadPart: no ETag in the answer");
            break;
        }
        if (verify && x->has_crc && x->resp_crc != x->crc) {
            vcl_fail_item(c, it, VODUP_ECHECKSUM, "UploadPart: the server's CRC-64 differs from the bytes sent");
            break;
        }
        {
            /* The part was read from the version identify saw only if nothing changed
             * while it was read (checked before it started, and now). */
            char why[256];
            if (vcl_source_changed(it, why, sizeof why)) {
                vcl_file_changed(c, it, why);
                break;
            }
        }
        vcl_request_ok(c, it);
        free(part->etag);
        part->etag = strdup(x->etag);
        if (!part->etag) {
            vcl_fail_item(c, it, VODUP_ENOMEM, "out of memory");
            break;
        }
        part->crc = x->crc;
        part->state = VCL_PART_DONE;
        part->attempts = 0;
        e->acked += part->len;
        e->sent_run += part->len;
        if (c->o.verify_reread && vcl_reread_part(c, it, x->part) < 0)
            break;   /* the file changed: handled */
        vcl_publish(c, it);
        vcl_record_part(c, it, x->part);
        break;
    case X_COMPLETE: {
        uint64_t crc = 0;
        for (size_t i = 0; i < e->nparts; i++)
            crc = vodup_crc64_combine(crc, e->parts[i].crc, e->parts[i].len);
        if (verify && x->has_crc && x->resp_crc != crc) {
            vcl_fail_item(c, it, VODUP_ECHECKSUM, "CompleteMultipartUpload: the object's CRC-64 differs from the file's");
            break;
        }
        vcl_request_ok(c, it);
        vcl_succeed_item(c, it);
        break;
    }
    }
    vcl_xfer_free(x);
}
