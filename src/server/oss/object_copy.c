/* object_copy.c - CopyObject and UploadPartCopy (a PUT with x-oss-copy-source): the
 * request's copy-source headers to the core's copies (core.h, "copies"), which read the
 * source as a GetObject by the same caller would, and the answers in OSS's terms. Unlike
 * S3, OSS copies an object onto itself with COPY too (its time moves), answers a
 * CopyObject whose if-none-match or if-modified-since condition fails 304 (ali-oss takes
 * it as success) and an UploadPartCopy whose condition fails 412. The router authorized
 * the destination as a write. Everything runs in the head step, on a worker: there is no
 * body to wait for.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/timefmt.h"
#include "common/xml.h"
#include "server/oss/oss.h"

static const char *const COND_HEADERS[4] = {
    "x-oss-copy-source-if-match", "x-oss-copy-source-if-none-match", "x-oss-copy-source-if-modified-since",
    "x-oss-copy-source-if-unmodified-since",
};

static void reply(http_request *r, const core_copy_result *res, int part);

/* Answers a copy: the refusal, 304, or what was made. */
static void answer(http_request *r, vodupd_status st, const vodupd_detail *d, const core_copy_result *res, int part)
{
    if (st != VODUPD_OK) {
        oss_status_error(r, st, d);
    } else if (res->stopped == 304 && !part) {
        http_reply(r, 304, http_response_empty());
    } else if (res->stopped == 400) {
        oss_error(r, OSS_ERR_InvalidArgument, "x-oss-copy-source-range must be bytes=first-last (zero-based, "
                                              "inclusive).");
    } else if (res->stopped == 416) {
        oss_error(r, OSS_ERR_InvalidArgument, "x-oss-copy-source-range is not within the source object of %llu bytes.",
                  (unsigned long long)res->source_size);
    } else if (res->stopped) {
        oss_error(r, OSS_ERR_PreconditionFailed, "At least one of the pre-conditions you specified did not hold.");
    } else {
        reply(r, res, part);
    }
}

/* 200 with <root> holding the ETag (quoted, as OSS writes it) and LastModified; an
 * UploadPartCopy's ETag also in the header, where ali-oss reads it. */
static void reply(http_request *r, const core_copy_result *res, int part)
{
    const char *root = part ? "CopyPartResult" : "CopyObjectResult";
    char date[25], etag[68], crc[24];
    vodup_time_iso_ms(date, res->mtime);
    snprintf(etag, sizeof etag, "\"%s\"", res->etag);
    snprintf(crc, sizeof crc, "%llu", (unsigned long long)res->crc64);
    vbuf x = VBUF_INIT;
    oss_xml_start(&x, root);
    vodup_xml_elem(&x, "ETag", etag, strlen(etag));
    vodup_xml_elem(&x, "LastModified", date, strlen(date));
    vbuf_printf(&x, "</%s>\n", root);
    http_response *resp = http_response_buf("application/xml", &x);
    vbuf_free(&x);
    if (!resp) {
        oss_status_error(r, VODUPD_ENOMEM, NULL);
        return;
    }
    if (part)
        http_response_header(resp, "ETag", etag);
    http_response_header(resp, "x-oss-hash-crc64ecma", crc);
    http_reply(r, 200, resp);
}

/* Both operations: the destination's checks, then the core. */
static int copy_begin(http_request *r)
{
    int part = r->op == &oss_op_upload_part_copy, number = 0, replace = 0;
    char upload_id[33], *user_meta = NULL;
    vodup_meta_bucket b;
    if (part ? oss_part_target(r, &number, upload_id) != 0 : oss_check_key(r) != 0 || oss_require_bucket(r, &b) != 0)
        return 0;
    if (!part) {
        vodup_meta_bucket_clear(&b);
        const char *dir = http_header(r, "x-oss-metadata-directive");
        replace = dir && strcmp(dir, "REPLACE") == 0;
        if (dir && !replace && strcmp(dir, "COPY") != 0) {
            oss_error(r, OSS_ERR_InvalidArgument, "x-oss-metadata-directive must be COPY or REPLACE.");
            return 0;
        }
        if (replace && oss_collect_user_meta(r, &user_meta) != 0)
            return 0;
    }
    core c;
    oss_core(r, &c);
    core_copy_from from = {&r->cred, http_header(r, "x-oss-copy-source"), {NULL, NULL, NULL, NULL},
                           part ? http_header(r, "x-oss-copy-source-range") : NULL};
    from.cond.if_match = http_header(r, COND_HEADERS[0]);
    from.cond.if_none_match = http_header(r, COND_HEADERS[1]);
    from.cond.if_modified_since = http_header(r, COND_HEADERS[2]);
    from.cond.if_unmodified_since = http_header(r, COND_HEADERS[3]);
    vodup_meta_guard g;
    const vodup_meta_guard *guard = core_write_guard(&r->cred, &g);
    core_copy_result res;
    vodupd_detail d = {0};
    vodupd_status st;
    if (part) {
        st = core_upload_part_copy(&c, &from, upload_id, number, oss_rules.max_part_size, guard, &res, &d);
    } else {
        const char *ct = http_header(r, "Content-Type");
        core_copy p = {r->bucket, r->key, r->key_len, replace, ct && *ct ? ct : "application/octet-stream", user_meta,
                       0 /* OSS copies an object onto itself either way */, oss_rules.max_put_size, guard};
        st = core_copy_object(&c, &from, &p, &res, &d);
    }
    answer(r, st, &d, &res, part);
    free(user_meta);
    return 0;
}

const http_op oss_op_copy_object = {"CopyObject", copy_begin, NULL, NULL, 1};
const http_op oss_op_upload_part_copy = {"UploadPartCopy", copy_begin, NULL, NULL, 1};
