/* multipart.c - CreateMultipartUpload, UploadPart, CompleteMultipartUpload,
 * AbortMultipartUpload, ListParts: core/multipart_ops.c's handlers under S3's words (s3_mp)
 * and rules (s3_rules: parts of 5 MiB at least but the last; the object's ETag
 * "md5-of-md5s-N", made by the core); ListMultipartUploads. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/timefmt.h"
#include "common/xml.h"
#include "server/config.h"
#include "server/core/multipart_ops.h"
#include "server/core/route.h"
#include "server/core/xml.h"
#include "server/s3/s3.h"
#include "server/s3/state.h"

static void mp_invalid(http_request *r, const char *msg)
{
    s3_error(r, S3_ERR_InvalidArgument, "%s", msg);
}

static void mp_malformed(http_request *r, const char *msg)
{
    s3_error(r, S3_ERR_MalformedXML, "%s", msg);
}

/* What S3 says differently in the handlers both dialects share (core/multipart_ops.c):
 * its namespace, lower-case ETags, no CRC-64, and a missing uploadId is NoSuchUpload. */
static const core_mp_words s3_mp = {
    .rules = &s3_rules,
    .check_key = s3_check_key,
    .xml_start = s3_xml_start,
    .storage_class = "STANDARD",
    .etag_lower = 1,
    .invalid = mp_invalid,
    .malformed = mp_malformed,
};

int s3_object_scope(http_request *r)
{
    return core_http_object_scope(r, &s3_mp);
}

/* ---- CreateMultipartUpload ----------------------------------------------------------- */

static int create_begin(http_request *r)
{
    if (core_http_object_scope(r, &s3_mp) != 0)
        return 0;
    s3_state *s = r->op_state;
    if (s3_collect_user_meta(r, &s->user_meta) != 0)
        return 0;
    const char *ct = http_header(r, "Content-Type");
    if (!(s->content_type = strdup(ct && *ct ? ct : "binary/octet-stream")))
        s3_status_error(r, VODUPD_ENOMEM, NULL);
    return 0;
}

static void create_finish(http_request *r)
{
    s3_state *s = r->op_state;
    core_http_initiate(r, &s3_mp, s->content_type, s->user_meta, 0);
}

const http_op s3_op_create_multipart = {"CreateMultipartUpload", create_begin, NULL, create_finish, 1};

/* ---- UploadPart ---------------------------------------------------------------------- */

int s3_part_target(http_request *r, int *number, char upload_id[33])
{
    if (core_http_object_scope(r, &s3_mp) != 0)
        return -1;
    long v = core_part_number(http_query(r, "partNumber"), s3_rules.max_part_number);
    if (v <= 0) {
        s3_error(r, S3_ERR_InvalidArgument, "Part number must be an integer between 1 and %d, inclusive",
                 s3_rules.max_part_number);
        return -1;
    }
    vodup_meta_upload up;
    if (core_http_upload_get(r, &s3_mp, &up) != 0)
        return -1;
    *number = (int)v;
    memcpy(upload_id, up.upload_id, 33);
    vodup_meta_upload_clear(&up);
    return 0;
}

static int part_begin(http_request *r)
{
    s3_state *s = r->op_state;
    if (s3_part_target(r, &s->part_number, s->upload_id) == 0)
        s3_body_begin(r, s3_rules.max_part_size);
    return 0;
}

static void part_finish(http_request *r)
{
    s3_state *s = r->op_state;
    if (s3_body_end(r) == 0 && core_http_part_put(r, s->upload_id, s->part_number, s->in) == 0)
        s3_reply_written(r, s);
}

const http_op s3_op_upload_part = {"UploadPart", part_begin, s3_body_chunk, part_finish, 1};

/* ---- CompleteMultipartUpload --------------------------------------------------------- */

static int complete_begin(http_request *r)
{
    if (core_http_upload_scope(r, &s3_mp) == 0)
        r->body_limit = VODUPD_MAX_XML_BODY;
    return 0;
}

static void complete_finish(http_request *r)
{
    core_http_complete(r, &s3_mp, 0);
}

const http_op s3_op_complete_multipart = {"CompleteMultipartUpload", complete_begin, s3_collect_xml, complete_finish, 1};

/* ---- AbortMultipartUpload ------------------------------------------------------------ */

static int abort_begin(http_request *r)
{
    core_http_upload_scope(r, &s3_mp);
    return 0;
}

const http_op s3_op_abort_multipart = {"AbortMultipartUpload", abort_begin, NULL, core_http_abort_finish, 1};

/* ---- ListParts ------------------------------------------------------------------------ */

static int list_parts_begin(http_request *r)
{
    if (core_http_object_scope(r, &s3_mp) == 0)
        core_http_list_parts(r, &s3_mp, 0);
    return 0;
}

const http_op s3_op_list_parts = {"ListParts", list_parts_begin, NULL, NULL, 0};

/* ---- ListMultipartUploads --------------------------------------------------------------
 * The open uploads of a bucket, by key then upload id, with common prefixes: the core's
 * listing (core_upload_list) from the arguments as the core reads them. */

typedef struct upload_list {
    vbuf *x;
    int url;
    const char *owner;
} upload_list;

static void list_upload_cb(const core_list_entry *e, void *user)
{
    upload_list *ul = user;
    if (!e->upload) {
        core_xml_common_prefix(ul->x, e, ul->url);
        return;
    }
    const vodup_meta_upload *u = e->upload;
    char when[25];
    vodup_time_iso_ms(when, u->initiated);
    vbuf_puts(ul->x, "<Upload>");
    core_xml_key(ul->x, "Key", u->key, u->key_len, ul->url);
    vbuf_printf(ul->x,
                "<UploadId>%s</UploadId><Initiator><ID>%s</ID><DisplayName>%s</DisplayName></Initiator>"
                "<Owner><ID>%s</ID><DisplayName>%s</DisplayName></Owner><StorageClass>STANDARD</StorageClass>"
                "<Initiated>%s</Initiated></Upload>",
                u->upload_id, ul->owner, ul->owner, ul->owner, ul->owner, when);
}

static int list_uploads_begin(http_request *r)
{
    vodup_meta_bucket b;
    if (s3_require_bucket(r, &b) != 0)
        return 0;
    vodup_meta_bucket_clear(&b);
    int url = s3_url_encoding(r);
    if (url < 0)
        return 0;
    vbuf items = VBUF_INIT;
    upload_list ul = {&items, url, r->cred.account_id};
    core_http_listing ls = {.args = {http_query(r, "prefix"), http_query(r, "delimiter"), http_query(r, "key-marker"), NULL,
                             0, http_query(r, "upload-id-marker"), http_query(r, "max-uploads"), 1000, 1000},
                            .uploads = 1, .cb = list_upload_cb, .u = &ul, .refuse = s3_list_error, .max_name = "max-uploads"};
    if (core_http_list(r, &ls) == 0) {
        const core_list_query *q = &ls.q;
        const core_list_result *res = &ls.res;
        vbuf x = VBUF_INIT;
        s3_xml_start(&x, "ListMultipartUploadsResult");
        vodup_xml_elem(&x, "Bucket", r->bucket, strlen(r->bucket));
        core_xml_key(&x, "KeyMarker", q->after, q->after_len, url);
        vodup_xml_elem(&x, "UploadIdMarker", q->upload_id_after, strlen(q->upload_id_after));
        if (res->truncated) { /* S3 names where the next page starts only when there is one */
            core_xml_key(&x, "NextKeyMarker", res->last ? res->last : "", res->last_len, url);
            vodup_xml_elem(&x, "NextUploadIdMarker", res->last_upload_id, strlen(res->last_upload_id));
        }
        if (q->prefix_len)
            core_xml_key(&x, "Prefix", q->prefix, q->prefix_len, url);
        if (q->delim_len)
            core_xml_key(&x, "Delimiter", q->delim, q->delim_len, url);
        vbuf_printf(&x, "<MaxUploads>%d</MaxUploads><IsTruncated>%s</IsTruncated>", q->max,
                    res->truncated ? "true" : "false");
        if (url)
            vbuf_puts(&x, "<EncodingType>url</EncodingType>");
        core_http_reply_xml(r, &x, &items, "ListMultipartUploadsResult");
    }
    core_http_listing_clear(&ls);
    vbuf_free(&items);
    return 0;
}

const http_op s3_op_list_uploads = {"ListMultipartUploads", list_uploads_begin, NULL, NULL, 0};
