/* copy.c - CopyObject and UploadPartCopy (a PUT with x-amz-copy-source) over the core's
 * copies (core.h, "copies"): the source named by x-amz-copy-source is read as a GetObject
 * by the same caller would read it, under the x-amz-copy-source-if-* conditions; the
 * destination is written as a PutObject or UploadPart (authorized by the router).
 * Everything runs in the head step, on a worker: the request has no body to wait for.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/timefmt.h"
#include "common/xml.h"
#include "server/core/cond.h"
#include "server/s3/s3.h"

/* Opens the source for r and checks its conditions (any failing one is 412, as S3
 * documents for copies). 0, or -1 after answering. */
static int open_source(http_request *r, const core *c, core_copy_source *src)
{
    core_conditions cond = {http_header(r, "x-amz-copy-source-if-match"),
                            http_header(r, "x-amz-copy-source-if-none-match"),
                            http_header(r, "x-amz-copy-source-if-modified-since"),
                            http_header(r, "x-amz-copy-source-if-unmodified-since")};
    /* registered before the source's metadata is read: its blobs stay until pinned */
    vodupd_reader *reader = vodupd_reader_begin(r->srv);
    if (!reader) {
        s3_status_error(r, VODUPD_ENOMEM, NULL);
        return -1;
    }
    int verdict = 0;
    vodupd_detail d = {0};
    vodupd_status st = core_copy_source_open(c, &r->cred, http_header(r, "x-amz-copy-source"), &cond, src,
                                             &verdict, &d);
    vodupd_reader_end(r->srv, reader);
    if (st != VODUPD_OK) {
        s3_status_error(r, st, &d);
        return -1;
    }
    if (verdict) {
        s3_error(r, S3_ERR_PreconditionFailed, "At least one of the pre-conditions you specified did not hold");
        return -1;
    }
    return 0;
}

/* 200 with <root><LastModified/><ETag/></root>, the ETag lower-case and quoted as S3's. */
static void reply(http_request *r, const char *root, const core_copy_result *res)
{
    char date[25], etag[68];
    vodup_time_iso_ms(date, res->mtime);
    size_t n = 0;
    etag[n++] = '"';
    for (const char *p = res->etag; *p && n < sizeof etag - 2; p++)
        etag[n++] = (char)(*p >= 'A' && *p <= 'Z' ? *p + 32 : *p);
    etag[n++] = '"';
    etag[n] = '\0';
    vbuf x = VBUF_INIT;
    s3_xml_start(&x, root);
    vodup_xml_elem(&x, "LastModified", date, strlen(date));
    vodup_xml_elem(&x, "ETag", etag, n);
    vbuf_printf(&x, "</%s>\n", root);
    http_respond_buf(r, 200, "application/xml", &x);
    vbuf_free(&x);
}

/* ---- CopyObject ---------------------------------------------------------------------- */

static int copy_begin(http_request *r)
{
    if (s3_check_key(r) != 0)
        return 0;
    vodup_meta_bucket b;
    if (s3_require_bucket(r, &b) != 0)
        return 0;
    vodup_meta_bucket_clear(&b);
    const char *dir = http_header(r, "x-amz-metadata-directive");
    int replace = dir && strcmp(dir, "REPLACE") == 0;
    if (dir && !replace && strcmp(dir, "COPY") != 0) {
        s3_error(r, S3_ERR_InvalidArgument, "Unknown metadata directive '%s': COPY or REPLACE.", dir);
        return 0;
    }
    char *user_meta = NULL;
    const char *ct = http_header(r, "Content-Type");
    if (replace && s3_collect_user_meta(r, &user_meta) != 0)
        return 0;
    core c;
    s3_core(r, &c);
    core_copy_source src;
    if (open_source(r, &c, &src) == 0) {
        vodup_meta_guard g;
        core_copy p = {r->bucket, r->key, r->key_len, replace, ct && *ct ? ct : "binary/octet-stream", user_meta,
                       1 /* S3 refuses a copy onto itself that changes nothing */, s3_rules.max_put_size,
                       core_write_guard(&r->cred, &g)};
        core_copy_result res;
        vodupd_detail d = {0};
        vodupd_status st = core_copy_object(&c, &p, &src, &res, &d);
        core_copy_source_close(&c, &src);
        if (st != VODUPD_OK)
            s3_status_error(r, st, &d);
        else
            reply(r, "CopyObjectResult", &res);
    }
    free(user_meta);
    return 0;
}

const http_op s3_op_copy_object = {"CopyObject", copy_begin, NULL, NULL, 1};

/* ---- UploadPartCopy ------------------------------------------------------------------ */

static int part_copy_begin(http_request *r)
{
    int number;
    char upload_id[33];
    if (s3_part_target(r, &number, upload_id) != 0)
        return 0;
    core c;
    s3_core(r, &c);
    core_copy_source src;
    if (open_source(r, &c, &src) != 0)
        return 0;
    const char *range = http_header(r, "x-amz-copy-source-range");
    int rc = range ? core_copy_source_narrow(&src, range) : 0;
    if (rc == -1)
        s3_error(r, S3_ERR_InvalidArgument, "The x-amz-copy-source-range value must be of the form bytes=first-last "
                                            "where first and last are the zero-based offsets of the first and last "
                                            "bytes to copy");
    else if (rc != 0)
        s3_error(r, S3_ERR_InvalidArgument, "Range specified is not valid for source object of size: %llu",
                 (unsigned long long)src.obj.size);
    if (rc != 0) {
        core_copy_source_close(&c, &src);
        return 0;
    }
    vodup_meta_guard g;
    core_copy_result res;
    vodupd_detail d = {0};
    vodupd_status st = core_upload_part_copy(&c, upload_id, number, &src, s3_rules.max_part_size,
                                             core_write_guard(&r->cred, &g), &res, &d);
    core_copy_source_close(&c, &src);
    if (st != VODUPD_OK)
        s3_status_error(r, st, &d);
    else
        reply(r, "CopyPartResult", &res);
    return 0;
}

const http_op s3_op_upload_part_copy = {"UploadPartCopy", part_copy_begin, NULL, NULL, 1};
