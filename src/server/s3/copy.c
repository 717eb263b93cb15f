/* copy.c - CopyObject and UploadPartCopy (a PUT with x-amz-copy-source): the request's
 * copy-source headers to the core's copies (core.h, "copies"), which read the source as
 * a GetObject by the same caller would, and the answers in S3's terms: a failed
 * x-amz-copy-source-if-* condition is 412 whichever it was, a copy onto itself must
 * REPLACE the metadata. The router authorized the destination as a write. Everything
 * runs in the head step, on a worker: the request has no body to wait for.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/timefmt.h"
#include "common/xml.h"
#include "server/s3/s3.h"

static core_copy_from copy_from(http_request *r)
{
    core_copy_from f = {&r->cred, http_header(r, "x-amz-copy-source"),
                        {http_header(r, "x-amz-copy-source-if-match"), http_header(r, "x-amz-copy-source-if-none-match"),
                         http_header(r, "x-amz-copy-source-if-modified-since"),
                         http_header(r, "x-amz-copy-source-if-unmodified-since")},
                        http_header(r, "x-amz-copy-source-range")};
    return f;
}

/* The answer to a copy: the refusal, or 200 with <root><LastModified/><ETag/></root>,
 * the ETag lower-case and quoted as S3 writes it. */
static void answer(http_request *r, vodupd_status st, const vodupd_detail *d, const core_copy_result *res,
                   const char *root)
{
    if (st != VODUPD_OK) {
        s3_status_error(r, st, d);
    } else if (res->stopped == 400) {
        s3_error(r, S3_ERR_InvalidArgument, "The x-amz-copy-source-range value must be of the form bytes=first-last "
                                            "where first and last are the zero-based offsets of the first and last "
                                            "bytes to copy");
    } else if (res->stopped == 416) {
        s3_error(r, S3_ERR_InvalidArgument, "Range specified is not valid for source object of size: %llu",
                 (unsigned long long)res->source_size);
    } else if (res->stopped) {
        s3_error(r, S3_ERR_PreconditionFailed, "At least one of the pre-conditions you specified did not hold");
    } else {
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
}

static int copy_begin(http_request *r)
{
    if (s3_object_scope(r) != 0)
        return 0;
    const char *dir = http_header(r, "x-amz-metadata-directive");
    int replace = dir && strcmp(dir, "REPLACE") == 0;
    char *user_meta = NULL;
    if (dir && !replace && strcmp(dir, "COPY") != 0) {
        s3_error(r, S3_ERR_InvalidArgument, "Unknown metadata directive '%s': COPY or REPLACE.", dir);
        return 0;
    }
    if (replace && s3_collect_user_meta(r, &user_meta) != 0)
        return 0;
    const char *ct = http_header(r, "Content-Type");
    core c;
    s3_core(r, &c);
    vodup_meta_guard g;
    core_copy p = {r->bucket, r->key, r->key_len, replace, ct && *ct ? ct : "binary/octet-stream", user_meta,
                   1 /* S3 refuses a copy onto itself that changes nothing */, s3_rules.max_put_size,
                   core_write_guard(&r->cred, &g)};
    core_copy_from from = copy_from(r);
    from.range = NULL; /* not CopyObject's header: ignored, as S3 does */
    core_copy_result res;
    vodupd_detail d = {0};
    answer(r, core_copy_object(&c, &from, &p, &res, &d), &d, &res, "CopyObjectResult");
    free(user_meta);
    return 0;
}

const http_op s3_op_copy_object = {"CopyObject", copy_begin, NULL, NULL, 1};

static int part_copy_begin(http_request *r)
{
    int number;
    char upload_id[33];
    if (s3_part_target(r, &number, upload_id) == 0) {
        core c;
        s3_core(r, &c);
        core_copy_from from = copy_from(r);
        vodup_meta_guard g;
        core_copy_result res;
        vodupd_detail d = {0};
        vodupd_status st = core_upload_part_copy(&c, &from, upload_id, number, s3_rules.max_part_size,
                                                 core_write_guard(&r->cred, &g), &res, &d);
        answer(r, st, &d, &res, "CopyPartResult");
    }
    return 0;
}

const http_op s3_op_upload_part_copy = {"UploadPartCopy", part_copy_begin, NULL, NULL, 1};
