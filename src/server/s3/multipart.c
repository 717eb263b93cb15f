/* multipart.c - CreateMultipartUpload, UploadPart, CompleteMultipartUpload,
 * AbortMultipartUpload, ListParts over the core, under S3's rules (s3_rules: parts of
 * 5 MiB at least but the last; the object's ETag "md5-of-md5s-N", made by the core). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/codec.h"
#include "common/timefmt.h"
#include "common/xml.h"
#include "server/config.h"
#include "server/core/route.h"
#include "server/core/xml.h"
#include "server/s3/complete_xml.h"
#include "server/s3/s3.h"
#include "server/s3/state.h"

/* The upload named by ?uploadId, of this bucket and key. 0, or -1 after answering. */
static int load_upload(http_request *r, vodup_meta_upload *u)
{
    const char *id = http_query(r, "uploadId");
    core c;
    s3_core(r, &c);
    vodupd_detail d = {0};
    vodupd_status st = core_upload_get(&c, id ? id : "", r->bucket, r->key, r->key_len, u, &d);
    if (st != VODUPD_OK) {
        s3_status_error(r, st, &d);
        return -1;
    }
    return 0;
}

int s3_object_scope(http_request *r)
{
    if (s3_check_key(r) != 0)
        return -1;
    vodup_meta_bucket b;
    if (s3_require_bucket(r, &b) != 0)
        return -1;
    vodup_meta_bucket_clear(&b);
    return 0;
}

static void xml_result_head(vbuf *x, http_request *r, const char *root)
{
    s3_xml_start(x, root);
    vodup_xml_elem(x, "Bucket", r->bucket, strlen(r->bucket));
    vodup_xml_elem(x, "Key", r->key, r->key_len);
}

/* ---- CreateMultipartUpload ----------------------------------------------------------- */

static int create_begin(http_request *r)
{
    if (s3_object_scope(r) != 0)
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
    core c;
    s3_core(r, &c);
    vodup_meta_guard g;
    core_initiate in = {r->bucket, r->key, r->key_len, r->cred.account_id, s->content_type, s->user_meta,
                        core_write_guard(&r->cred, &g)};
    char upload_id[33];
    vodupd_detail d = {0};
    vodupd_status st = core_upload_initiate(&c, &in, upload_id, &d);
    if (st != VODUPD_OK) {
        s3_status_error(r, st, &d);
        return;
    }
    vbuf x = VBUF_INIT;
    xml_result_head(&x, r, "InitiateMultipartUploadResult");
    vodup_xml_elem(&x, "UploadId", upload_id, strlen(upload_id));
    vbuf_puts(&x, "</InitiateMultipartUploadResult>\n");
    http_respond_buf(r, 200, "application/xml", &x);
    vbuf_free(&x);
}

const http_op s3_op_create_multipart = {"CreateMultipartUpload", create_begin, NULL, create_finish, 1};

/* ---- UploadPart ---------------------------------------------------------------------- */

int s3_part_target(http_request *r, int *number, char upload_id[33])
{
    if (s3_object_scope(r) != 0)
        return -1;
    const char *pn = http_query(r, "partNumber");
    char *end = NULL;
    long v = pn && *pn ? strtol(pn, &end, 10) : 0;
    if (!pn || !*pn || *end || pn[0] == '+' || strlen(pn) > 6 || v < 1 || v > s3_rules.max_part_number) {
        s3_error(r, S3_ERR_InvalidArgument, "Part number must be an integer between 1 and %d, inclusive",
                 s3_rules.max_part_number);
        return -1;
    }
    vodup_meta_upload up;
    if (load_upload(r, &up) != 0)
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
    if (s3_body_end(r) != 0)
        return;
    core c;
    s3_core(r, &c);
    vodup_meta_guard g;
    vodupd_detail d = {0};
    vodupd_status st = core_part_put(&c, s->upload_id, s->part_number, s->in, core_write_guard(&r->cred, &g), &d);
    if (st != VODUPD_OK) {
        s3_status_error(r, st, &d);
        return;
    }
    s3_reply_written(r, s);
}

const http_op s3_op_upload_part = {"UploadPart", part_begin, s3_body_chunk, part_finish, 1};

/* ---- CompleteMultipartUpload --------------------------------------------------------- */

static int complete_begin(http_request *r)
{
    if (s3_object_scope(r) != 0)
        return 0;
    vodup_meta_upload up;
    if (load_upload(r, &up) != 0)
        return 0;
    vodup_meta_upload_clear(&up);
    r->body_limit = VODUPD_MAX_XML_BODY;
    return 0;
}

static void complete_finish(http_request *r)
{
    if (r->body_too_large)
        return;
    vodup_meta_complete_part *parts;
    size_t n;
    const char *why;
    int rc = complete_xml_parse(r->body.data, r->body.len, s3_rules.max_part_number, &parts, &n, &why);
    if (rc != 0) {
        if (rc == -2)
            s3_status_error(r, VODUPD_ENOMEM, NULL);
        else
            s3_error(r, S3_ERR_MalformedXML, "%s", why);
        return;
    }
    vodup_meta_object o;
    memset(&o, 0, sizeof o);
    core c;
    s3_core(r, &c);
    vodup_meta_guard g;
    vodupd_detail d = {0};
    vodupd_status st = core_upload_complete(&c, &s3_rules, http_query(r, "uploadId"), parts, n,
                                            core_write_guard(&r->cred, &g), &o, &d);
    free(parts);
    if (st != VODUPD_OK) {
        s3_status_error(r, st, &d);
        return;
    }
    char etag[64];
    size_t i = 0;
    for (; o.etag[i] && i < sizeof etag - 1; i++)
        etag[i] = (char)(o.etag[i] >= 'A' && o.etag[i] <= 'Z' ? o.etag[i] + 32 : o.etag[i]);
    etag[i] = 0;
    vbuf x = VBUF_INIT;
    s3_xml_start(&x, "CompleteMultipartUploadResult");
    vbuf loc = VBUF_INIT;
    vbuf_printf(&loc, "%s/%s/", r->srv->public_url ? r->srv->public_url : "", r->bucket);
    vodup_uri_encode(&loc, r->key, r->key_len, 1);
    vodup_xml_elem(&x, "Location", vbuf_cstr(&loc), loc.len);
    vbuf_free(&loc);
    vodup_xml_elem(&x, "Bucket", r->bucket, strlen(r->bucket));
    vodup_xml_elem(&x, "Key", r->key, r->key_len);
    vbuf_printf(&x, "<ETag>&quot;%s&quot;</ETag></CompleteMultipartUploadResult>\n", etag);
    vodup_meta_object_clear(&o);
    http_respond_buf(r, 200, "application/xml", &x);
    vbuf_free(&x);
}

const http_op s3_op_complete_multipart = {"CompleteMultipartUpload", complete_begin, s3_collect_xml, complete_finish, 1};

/* ---- AbortMultipartUpload ------------------------------------------------------------ */

static int abort_begin(http_request *r)
{
    vodup_meta_upload up;
    if (s3_object_scope(r) == 0 && load_upload(r, &up) == 0)
        vodup_meta_upload_clear(&up);
    return 0;
}

static void abort_finish(http_request *r)
{
    core c;
    s3_core(r, &c);
    vodupd_detail d = {0};
    vodupd_status st = core_upload_abort(&c, http_query(r, "uploadId"), &d);
    if (st != VODUPD_OK) {
        s3_status_error(r, st, &d);
        return;
    }
    http_respond_empty(r, 204);
}

const http_op s3_op_abort_multipart = {"AbortMultipartUpload", abort_begin, NULL, abort_finish, 1};

/* ---- ListParts ------------------------------------------------------------------------ */

typedef struct part_list {
    vbuf *x;
    int count;
    int last;
} part_list;

static int list_part_cb(const vodup_meta_part *p, void *u)
{
    part_list *pl = u;
    char when[25], etag[33];
    vodup_time_iso_ms(when, p->mtime);
    size_t i = 0;
    for (; p->etag[i] && i < sizeof etag - 1; i++)
        etag[i] = (char)(p->etag[i] >= 'A' && p->etag[i] <= 'Z' ? p->etag[i] + 32 : p->etag[i]);
    etag[i] = 0;
    vbuf_printf(pl->x,
                "<Part><PartNumber>%d</PartNumber><LastModified>%s</LastModified><ETag>&quot;%s&quot;</ETag>"
                "<Size>%llu</Size></Part>",
                p->number, when, etag, (unsigned long long)p->size);
    pl->count++;
    pl->last = p->number;
    return 0;
}

static int list_parts_begin(http_request *r)
{
    if (s3_object_scope(r) != 0)
        return 0;
    long max = 1000, marker = 0;
    const char *mp = http_query(r, "max-parts"), *m = http_query(r, "part-number-marker");
    char *end;
    if (mp && (!*mp || (max = strtol(mp, &end, 10), *end) || max < 0 || strlen(mp) > 9)) {
        s3_error(r, S3_ERR_InvalidArgument, "max-parts must be an integer between 0 and 1000.");
        return 0;
    }
    if (m && *m && ((marker = strtol(m, &end, 10), *end) || marker < 0 || marker > s3_rules.max_part_number)) {
        s3_error(r, S3_ERR_InvalidArgument, "part-number-marker must be an integer between 0 and %d.",
                 s3_rules.max_part_number);
        return 0;
    }
    if (max > 1000)
        max = 1000;
    vodup_meta_upload up;
    if (load_upload(r, &up) != 0)
        return 0;
    vbuf parts = VBUF_INIT;
    part_list pl = {&parts, 0, 0};
    core c;
    s3_core(r, &c);
    int truncated;
    vodupd_detail d = {0};
    vodupd_status st = core_part_list(&c, up.upload_id, (int)marker, (int)max, list_part_cb, &pl, &truncated, &d);
    if (st != VODUPD_OK) {
        vbuf_free(&parts);
        vodup_meta_upload_clear(&up);
        s3_status_error(r, st, &d);
        return 0;
    }
    vbuf x = VBUF_INIT;
    xml_result_head(&x, r, "ListPartsResult");
    vodup_xml_elem(&x, "UploadId", up.upload_id, strlen(up.upload_id));
    vbuf_printf(&x, "<StorageClass>STANDARD</StorageClass><PartNumberMarker>%ld</PartNumberMarker>"
                    "<NextPartNumberMarker>%d</NextPartNumberMarker><MaxParts>%ld</MaxParts>"
                    "<IsTruncated>%s</IsTruncated>",
                marker, pl.count ? pl.last : (int)marker, max, truncated ? "true" : "false");
    vbuf_append(&x, parts.data ? parts.data : "", parts.len);
    vbuf_puts(&x, "</ListPartsResult>\n");
    vbuf_free(&parts);
    vodup_meta_upload_clear(&up);
    http_respond_buf(r, 200, "application/xml", &x);
    vbuf_free(&x);
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
