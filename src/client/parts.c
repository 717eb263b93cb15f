/* parts.c - what to send: PutObject or multipart, part size, the parts in flight (pump),
 * building each request through the item's dialect.
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

static uint64_t choose_part_size(const vodup_client *c, const vcl_engine *e, uint64_t size)
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
     * at least the dialect's minimum for every part but the last (OSS 100 KiB, S3 5 MiB;
     * before the address is known, OSS's: credentials.c plans again when it comes). */
    uint64_t min = (size + 9999) / 10000;
    min = (min + 4095) & ~(uint64_t)4095;
    if (ps < min)
        ps = min;
    uint64_t dmin = vcl_dialect_for(&e->addr)->min_part_size;
    if (ps < dmin)
        ps = dmin;
    return ps;
}

int vcl_plan_parts(vcl_engine *e, uint64_t part_size)
{
    vcl_free_parts(e);
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
int vcl_plan(vodup_client *c, vcl_engine *e)
{
    vcl_reset_upload(e);
    e->multipart = e->size > 0 && e->size >= c->o.put_threshold;
    if (!e->multipart)
        return 0;
    return vcl_plan_parts(e, choose_part_size(c, e, e->size));
}

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

int vcl_start_op(vodup_client *c, vcl_item *it, int kind, int marker)
{
    vcl_engine *e = &it->e;
    vcl_xfer *x = vcl_xfer_new(c, it, kind);
    if (!x)
        return VODUP_ENOMEM;
    vcl_request rq = {kind, &e->addr, &e->creds, e->upload_id, 0, marker, NULL};
    int rc = 0;
    switch (kind) {
    case X_PUT:
        rq.content_type = mime_of(it->path);
        rc = vcl_request_prepare(x, c, &rq);
        if (rc == 0)
            vcl_body_from_file(x, e->fd, 0, e->size);
        break;
    case X_INIT:
        rq.content_type = mime_of(it->path);
        rc = vcl_request_prepare(x, c, &rq);
        if (rc == 0)
            vcl_body_from_mem(x);
        break;
    case X_LIST:
        x->list_marker = marker;
        rc = vcl_request_prepare(x, c, &rq);
        break;
    case X_COMPLETE: {
        /* The body first: a dialect may sign it. */
        char **etags = calloc(e->nparts ? e->nparts : 1, sizeof *etags);
        if (!etags) {
            rc = VODUP_ENOMEM;
            break;
        }
        for (size_t i = 0; i < e->nparts; i++)
            etags[i] = e->parts[i].etag;
        rc = vcl_dialect_for(&e->addr)->complete_body(&x->out, etags, e->nparts);
        free(etags);
        if (rc == 0)
            rc = vcl_request_prepare(x, c, &rq);
        if (rc == 0)
            vcl_body_from_mem(x);
        break;
    }
    default:
        rc = VODUP_EINVAL;
    }
    if (rc == 0)
        rc = vcl_xfer_start(c, x);
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
    if (vcl_source_changed(it, why, sizeof why)) {
        vcl_file_changed(c, it, why);
        return 1;
    }
    vcl_xfer *x = vcl_xfer_new(c, it, X_PART);
    if (!x)
        return VODUP_ENOMEM;
    vcl_request rq = {X_PART, &e->addr, &e->creds, e->upload_id, (int)i + 1, 0, NULL};
    int rc = vcl_request_prepare(x, c, &rq);
    if (rc == 0) {
        vcl_body_from_file(x, e->fd, e->parts[i].off, e->parts[i].len);
        x->part = i;
        rc = vcl_xfer_start(c, x);
    }
    if (rc) {
        vcl_xfer_free(x);
        return rc;
    }
    e->parts[i].state = VCL_PART_INFLIGHT;
    e->parts[i].reread = 0;
    e->inflight++;
    return 0;
}

/* Issues what can go now; returns the earliest time something waits for (or -1). */
int64_t vcl_pump(vodup_client *c, vcl_item *it)
{
    vcl_engine *e = &it->e;
    int64_t now = vcl_now_ms(), wake = -1;
    int rc = 0;
    if (vcl_expiring(c, e) && !e->expiry_notified) {
        lk(c);
        int mode = c->mode;
        ulk(c);
        if (mode == VCL_MODE_UPLOAD_AUTH) {
            /* Ahead of expiry only a notice: the upload goes on until the server
             * refuses, and new credentials are taken whenever they come. */
            e->expiry_notified = 1;
            vcl_emit(c, it, EV_EXPIRED, 0, NULL, 0, 0);
        } else {
            e->phase = PH_REFRESH;
            return 0;
        }
    }
#define READY(nb) ((nb) <= now ? 1 : (wake = wake < 0 || (nb) < wake ? (nb) : wake, 0))
    if (!e->multipart) {
        if (!e->op && READY(e->op_not_before))
            rc = vcl_start_op(c, it, X_PUT, 0);
    } else if (!e->upload_id) {
        if (!e->op && READY(e->op_not_before))
            rc = vcl_start_op(c, it, X_INIT, 0);
    } else if (e->need_list) {
        if (!e->op && READY(e->op_not_before))
            rc = vcl_start_op(c, it, X_LIST, 0);
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
            if (vcl_source_changed(it, why, sizeof why)) {
                vcl_file_changed(c, it, why);
                return -1;
            }
            int all_reread = 1;
            for (size_t i = 0; i < e->nparts && all_reread; i++)
                all_reread = e->parts[i].reread;
            if (!e->verified && c->o.verify_reread && !all_reread) {
                uint64_t crc = 0;
                for (size_t i = 0; i < e->nparts; i++)
                    crc = vodup_crc64_combine(crc, e->parts[i].crc, e->parts[i].len);
                vcl_start_verify(it, crc);
                return 0;
            }
            e->verified = 1;
            rc = vcl_start_op(c, it, X_COMPLETE, 0);
        }
    }
#undef READY
    if (rc)
        vcl_fail_item(c, it, rc, rc == VODUP_ENOMEM ? "out of memory" : "building a request failed");
    return wake;
}
