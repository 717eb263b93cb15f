/* multipart.c - InitiateMultipartUpload, UploadPart, CompleteMultipartUpload,
 * AbortMultipartUpload, ListParts, ListMultipartUploads.
 * The handlers are core/multipart_ops.c's under OSS's words (oss_mp); this file keeps the
 * key and bucket checks, how the body is read, and OSS's own argument errors.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/timefmt.h"
#include "common/xml.h"
#include "server/config.h"
#include "server/core/multipart_ops.h"
#include "server/core/route.h"
#include "server/oss/oss.h"
#include "server/oss/upload.h"

static void mp_invalid(http_request *r, const char *msg)
{
    oss_error(r, OSS_ERR_InvalidArgument, "%s", msg);
}

static void mp_malformed(http_request *r, const char *msg)
{
    oss_error(r, OSS_ERR_MalformedXML, "%s", msg);
}

/* Complete's object: its ETag and CRC-64 as headers too, as OSS SDKs read them. */
static void mp_complete_headers(http_response *resp, const vodup_meta_object *o)
{
    char buf[96];
    snprintf(buf, sizeof buf, "\"%s\"", o->etag);
    http_response_header(resp, "ETag", buf);
    snprintf(buf, sizeof buf, "%llu", (unsigned long long)o->crc64);
    http_response_header(resp, "x-oss-hash-crc64ecma", buf);
}

/* What OSS says differently in the handlers both dialects share (core/multipart_ops.c). */
static const core_mp_words oss_mp = {
    .rules = &oss_rules,
    .check_key = oss_check_key,
    .xml_start = oss_xml_start,
    .storage_class = "Standard",
    .part_crc64 = 1,
    .id_missing = "uploadId is required.",
    .invalid = mp_invalid,
    .malformed = mp_malformed,
    .complete_headers = mp_complete_headers,
};

/* ---- InitiateMultipartUpload ---------------------------------------------------- */

typedef struct init_state {
    char *content_type;
    char *user_meta;
    int url;
} init_state;

static void init_free(void *p)
{
    init_state *s = p;
    if (!s)
        return;
    free(s->content_type);
    free(s->user_meta);
    free(s);
}

static int initiate_begin(http_request *r)
{
    if (core_http_object_scope(r, &oss_mp) != 0)
        return 0;
    int url = oss_url_encoding(r);
    if (url < 0)
        return 0;
    init_state *s = calloc(1, sizeof *s);
    if (!s) {
        oss_error(r, OSS_ERR_InternalError, "Out of memory.");
        return 0;
    }
    r->op_state = s;
    r->op_free = init_free;
    s->url = url;
    if (oss_collect_user_meta(r, &s->user_meta) != 0)
        return 0;
    const char *ct = http_header(r, "Content-Type");
    s->content_type = strdup(ct && *ct ? ct : "application/octet-stream");
    if (!s->content_type) {
        oss_status_error(r, VODUPD_ENOMEM, NULL);
        return 0;
    }
    r->body_limit = VODUPD_MAX_SMALL_BODY;
    return 0;
}

static void initiate_finish(http_request *r)
{
    init_state *s = r->op_state;
    if (s && s->content_type)
        core_http_initiate(r, &oss_mp, s->content_type, s->user_meta, s->url);
}

const http_op oss_op_initiate = {"InitiateMultipartUpload", initiate_begin, oss_collect_body, initiate_finish, 1};

/* ---- UploadPart ------------------------------------------------------------------- */

int oss_part_target(http_request *r, int *number, char upload_id[33])
{
    if (core_http_object_scope(r, &oss_mp) != 0)
        return -1;
    const char *pn = http_query(r, "partNumber");
    long v = core_part_number(pn, OSS_MAX_PART_NUMBER);
    if (v == 0) {
        oss_error(r, OSS_ERR_InvalidArgument, "partNumber is required for UploadPart.");
        return -1;
    }
    if (v < 0) {
        vbuf x = VBUF_INIT;
        vbuf_puts(&x, "<ArgumentName>PartNumber</ArgumentName>\n  ");
        vodup_xml_elem(&x, "ArgumentValue", pn, strlen(pn));
        oss_error_x(r, OSS_ERR_InvalidArgument, vbuf_cstr(&x),
                    "Part number must be an integer between 1 and %d, inclusive.", OSS_MAX_PART_NUMBER);
        vbuf_free(&x);
        return -1;
    }
    vodup_meta_upload up;
    if (core_http_upload_get(r, &oss_mp, &up) != 0)
        return -1;
    *number = (int)v;
    memcpy(upload_id, up.upload_id, 33);
    vodup_meta_upload_clear(&up);
    return 0;
}

static int part_begin(http_request *r)
{
    int number;
    char upload_id[33];
    if (oss_part_target(r, &number, upload_id) != 0)
        return 0;
    oss_upload *u = oss_upload_begin(r, oss_rules.max_part_size);
    if (u) {
        u->part_number = number;
        memcpy(u->upload_id, upload_id, sizeof u->upload_id);
    }
    return 0;
}

static void part_finish(http_request *r)
{
    oss_upload *u = r->op_state;
    if (u && !u->failed && core_http_part_put(r, u->upload_id, u->part_number, u->in) == 0)
        oss_reply_written(r, u);
}

const http_op oss_op_upload_part = {"UploadPart", part_begin, oss_upload_body, part_finish, 1};

/* ---- CompleteMultipartUpload ------------------------------------------------------- */

static int complete_begin(http_request *r)
{
    if (core_http_object_scope(r, &oss_mp) != 0)
        return 0;
    if (oss_url_encoding(r) < 0)
        return 0;
    vodup_meta_upload up;
    if (core_http_upload_get(r, &oss_mp, &up) != 0)
        return 0;
    vodup_meta_upload_clear(&up);
    uint64_t len;
    if (oss_content_length(r, &len) == 1 && len > VODUPD_MAX_XML_BODY) {
        oss_error(r, OSS_ERR_EntityTooLarge, "The CompleteMultipartUpload body may be at most %d bytes.",
                  VODUPD_MAX_XML_BODY);
        return 0;
    }
    r->body_limit = VODUPD_MAX_XML_BODY;
    return 0;
}

static void complete_finish(http_request *r)
{
    core_http_complete(r, &oss_mp, oss_url_encoding(r) > 0);
}

const http_op oss_op_complete = {"CompleteMultipartUpload", complete_begin, oss_collect_body, complete_finish, 1};

/* ---- AbortMultipartUpload -------------------------------------------------------- */

static int abort_begin(http_request *r)
{
    core_http_upload_scope(r, &oss_mp);
    return 0;
}

const http_op oss_op_abort = {"AbortMultipartUpload", abort_begin, NULL, core_http_abort_finish, 1};

/* ---- ListParts ------------------------------------------------------------------- */

static int list_parts_begin(http_request *r)
{
    if (core_http_object_scope(r, &oss_mp) != 0)
        return 0;
    int url = oss_url_encoding(r);
    if (url >= 0)
        core_http_list_parts(r, &oss_mp, url);
    return 0;
}

const http_op oss_op_list_parts = {"ListParts", list_parts_begin, NULL, NULL, 0};

/* ---- ListMultipartUploads ------------------------------------------------------- */

typedef struct upload_list {
    vbuf *x;
    int url;
} upload_list;

static void list_upload_cb(const core_list_entry *e, void *user)
{
    upload_list *ul = user;
    if (!e->upload) {
        oss_xml_common_prefix(ul->x, e, ul->url);
        return;
    }
    const vodup_meta_upload *u = e->upload;
    char when[25];
    vodup_time_iso_ms(when, u->initiated);
    vbuf_puts(ul->x, "<Upload>");
    oss_xml_key(ul->x, "Key", u->key, u->key_len, ul->url);
    vbuf_printf(ul->x, "<UploadId>%s</UploadId><StorageClass>Standard</StorageClass><Initiated>%s</Initiated></Upload>",
                u->upload_id, when);
}

static int list_uploads_begin(http_request *r)
{
    vodup_meta_bucket b;
    if (oss_require_bucket(r, &b) != 0)
        return 0;
    vodup_meta_bucket_clear(&b);
    int url = oss_url_encoding(r);
    if (url < 0)
        return 0;
    vbuf items = VBUF_INIT;
    upload_list ul = {&items, url};
    core_http_listing ls = {.args = {http_query(r, "prefix"), http_query(r, "delimiter"), http_query(r, "key-marker"), NULL,
                             0, http_query(r, "upload-id-marker"), http_query(r, "max-uploads"), OSS_MAX_LIST_KEYS,
                             OSS_MAX_LIST_KEYS},
                            .uploads = 1, .cb = list_upload_cb, .u = &ul, .refuse = oss_list_error, .max_name = "max-uploads"};
    if (core_http_list(r, &ls) == 0) {
        const core_list_query *q = &ls.q;
        const core_list_result *res = &ls.res;
        vbuf x = VBUF_INIT;
        oss_xml_start(&x, "ListMultipartUploadsResult");
        if (url)
            vbuf_puts(&x, "<EncodingType>url</EncodingType>");
        vodup_xml_elem(&x, "Bucket", r->bucket, strlen(r->bucket));
        oss_xml_key(&x, "KeyMarker", q->after, q->after_len, url);
        vodup_xml_elem(&x, "UploadIdMarker", q->upload_id_after, strlen(q->upload_id_after));
        oss_xml_key(&x, "NextKeyMarker", res->truncated && res->last ? res->last : "",
                    res->truncated ? res->last_len : 0, url);
        vodup_xml_elem(&x, "NextUploadIdMarker", res->truncated ? res->last_upload_id : "",
                       res->truncated ? strlen(res->last_upload_id) : 0);
        oss_xml_key(&x, "Delimiter", q->delim, q->delim_len, url);
        oss_xml_key(&x, "Prefix", q->prefix, q->prefix_len, url);
        vbuf_printf(&x, "<MaxUploads>%d</MaxUploads><IsTruncated>%s</IsTruncated>", q->max,
                    res->truncated ? "true" : "false");
        core_http_reply_xml(r, &x, &items, "ListMultipartUploadsResult");
    }
    core_http_listing_clear(&ls);
    vbuf_free(&items);
    return 0;
}

const http_op oss_op_list_uploads = {"ListMultipartUploads", list_uploads_begin, NULL, NULL, 0};
