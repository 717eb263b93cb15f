/* object_copy.c - CopyObject and UploadPartCopy (a PUT with x-oss-copy-source) over the
 * core's copies (core.h, "copies"). The source is read as a GetObject by the same caller
 * would read it, under the x-oss-copy-source-if-* conditions; the destination is written
 * as a PutObject or UploadPart (authorized by the router). Unlike S3, OSS lets an object
 * be copied onto itself with COPY too (its metadata stays, its time moves), and answers a
 * CopyObject whose if-none-match or if-modified-since condition fails 304, an
 * UploadPartCopy 412. Everything runs in the head step, on a worker: there is no body.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/timefmt.h"
#include "common/xml.h"
#include "server/core/cond.h"
#include "server/oss/oss.h"

/* Opens the source for r with its conditions: 0 (go on), 304 or 412 in *verdict, the
 * source pinned only for 0. 0, or -1 after answering a refusal of the core. */
static int open_source(http_request *r, const core *c, core_copy_source *src, int *verdict)
{
    const char *names[4] = {"x-oss-copy-source-if-match", "x-oss-copy-source-if-none-match",
                            "x-oss-copy-source-if-modified-since", "x-oss-copy-source-if-unmodified-since"};
    core_conditions cond = {http_header(r, names[0]), http_header(r, names[1]), http_header(r, names[2]),
                            http_header(r, names[3])};
    /* registered before the source's metadata is read: its blobs stay until pinned */
    vodupd_reader *reader = vodupd_reader_begin(r->srv);
    vodupd_detail d = {0};
    vodupd_status st = reader ? core_copy_source_open(c, &r->cred, http_header(r, "x-oss-copy-source"), &cond, src,
                                                      verdict, &d)
                              : VODUPD_ENOMEM;
    if (reader)
        vodupd_reader_end(r->srv, reader);
    if (st == VODUPD_OK)
        return 0;
    oss_status_error(r, st, &d);
    return -1;
}

/* <root> with the ETag (quoted, as OSS writes it) and LastModified of what was made. */
static void reply(http_request *r, const char *root, const core_copy_result *res, int etag_header)
{
    char date[25], etag[68], crc[24];
    vodup_time_iso_ms(date, res->mtime);
    snprintf(etag, sizeof etag, "\"%s\"", res->etag);
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
    if (etag_header) /* ali-oss takes an UploadPartCopy's ETag from the header */
        http_response_header(resp, "ETag", etag);
    snprintf(crc, sizeof crc, "%llu", (unsigned long long)res->crc64);
    http_response_header(resp, "x-oss-hash-crc64ecma", crc);
    http_reply(r, 200, resp);
}

/* ---- CopyObject ---------------------------------------------------------------------- */

static int copy_begin(http_request *r)
{
    if (oss_check_key(r) != 0)
        return 0;
    vodup_meta_bucket b;
    if (oss_require_bucket(r, &b) != 0)
        return 0;
    vodup_meta_bucket_clear(&b);
    const char *dir = http_header(r, "x-oss-metadata-directive");
    int replace = dir && strcmp(dir, "REPLACE") == 0;
    if (dir && !replace && strcmp(dir, "COPY") != 0) {
        oss_error(r, OSS_ERR_InvalidArgument, "x-oss-metadata-directive must be COPY or REPLACE.");
        return 0;
    }
    char *user_meta = NULL;
    const char *ct = http_header(r, "Content-Type");
    if (replace && oss_collect_user_meta(r, &user_meta) != 0)
        return 0;
    core c;
    oss_core(r, &c);
    core_copy_source src;
    int verdict = 0;
    if (open_source(r, &c, &src, &verdict) != 0) {
        free(user_meta);
        return 0;
    }
    if (verdict == 304) {
        http_reply(r, 304, http_response_empty());
    } else if (verdict) {
        oss_error(r, OSS_ERR_PreconditionFailed, "At least one of the pre-conditions you specified did not hold.");
    } else {
        vodup_meta_guard g;
        core_copy p = {r->bucket, r->key, r->key_len, replace, ct && *ct ? ct : "application/octet-stream", user_meta,
                       0 /* OSS copies an object onto itself either way */, oss_rules.max_put_size,
                       core_write_guard(&r->cred, &g)};
        core_copy_result res;
        vodupd_detail d = {0};
        vodupd_status st = core_copy_object(&c, &p, &src, &res, &d);
        core_copy_source_close(&c, &src);
        if (st != VODUPD_OK)
            oss_status_error(r, st, &d);
        else
            reply(r, "CopyObjectResult", &res, 0);
    }
    free(user_meta);
    return 0;
}

const http_op oss_op_copy_object = {"CopyObject", copy_begin, NULL, NULL, 1};

/* ---- UploadPartCopy ------------------------------------------------------------------ */

static int part_copy_begin(http_request *r)
{
    int number;
    char upload_id[33];
    if (oss_part_target(r, &number, upload_id) != 0)
        return 0;
    core c;
    oss_core(r, &c);
    core_copy_source src;
    int verdict = 0;
    if (open_source(r, &c, &src, &verdict) != 0)
        return 0;
    if (verdict) { /* every failed condition of a part copy is 412 in OSS's table */
        oss_error(r, OSS_ERR_PreconditionFailed, "At least one of the pre-conditions you specified did not hold.");
        return 0;
    }
    const char *range = http_header(r, "x-oss-copy-source-range");
    int rc = range ? core_copy_source_narrow(&src, range) : 0;
    if (rc != 0) {
        if (rc == -1)
            oss_error(r, OSS_ERR_InvalidArgument, "x-oss-copy-source-range must be bytes=first-last (zero-based, "
                                                  "inclusive).");
        else
            oss_error(r, OSS_ERR_InvalidArgument, "x-oss-copy-source-range is not within the source object of %llu "
                      "bytes.", (unsigned long long)src.obj.size);
        core_copy_source_close(&c, &src);
        return 0;
    }
    vodup_meta_guard g;
    core_copy_result res;
    vodupd_detail d = {0};
    vodupd_status st = core_upload_part_copy(&c, upload_id, number, &src, oss_rules.max_part_size,
                                             core_write_guard(&r->cred, &g), &res, &d);
    core_copy_source_close(&c, &src);
    if (st != VODUPD_OK)
        oss_status_error(r, st, &d);
    else
        reply(r, "CopyPartResult", &res, 1);
    return 0;
}

const http_op oss_op_upload_part_copy = {"UploadPartCopy", part_copy_begin, NULL, NULL, 1};
