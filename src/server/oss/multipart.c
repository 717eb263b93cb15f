/* multipart.c - InitiateMultipartUpload, UploadPart, CompleteMultipartUpload,
 * AbortMultipartUpload, ListParts, ListMultipartUploads.
 *
 * Parts are blobs like any object; Complete only rewrites metadata (the object becomes
 * the ordered list of its part blobs), so completing a 48 TB upload copies nothing.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/codec.h"
#include "common/digest.h"
#include "common/timefmt.h"
#include "common/xml.h"
#include "server/config.h"
#include "server/events/events.h"
#include "server/core/route.h"
#include "server/oss/oss.h"
#include "server/oss/upload.h"

/* Loads the upload named by ?uploadId and checks it belongs to this bucket and key.
 * 0 with *u filled, or -1 after answering. */
static int load_upload(http_request *r, vodup_meta_upload *u)
{
    const char *id = http_query(r, "uploadId");
    if (!id || !*id) {
        oss_error(r, OSS_ERR_InvalidArgument, "uploadId is required.");
        return -1;
    }
    core c;
    oss_core(r, &c);
    vodupd_detail d = {0};
    vodupd_status st = core_upload_get(&c, id, r->bucket, r->key, r->key_len, u, &d);
    if (st != VODUPD_OK) {
        oss_status_error(r, st, &d);
        return -1;
    }
    return 0;
}

static int object_scope(http_request *r)
{
    if (oss_check_key(r) != 0)
        return -1;
    vodup_meta_bucket b;
    if (oss_require_bucket(r, &b) != 0)
        return -1;
    vodup_meta_bucket_clear(&b);
    return 0;
}

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
    if (object_scope(r) != 0)
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
    if (!s || !s->content_type)
        return;
    core c;
    oss_core(r, &c);
    vodup_meta_guard g;
    core_initiate in = {r->bucket, r->key, r->key_len, r->cred.account_id, s->content_type, s->user_meta,
                        core_write_guard(&r->cred, &g)};
    char upload_id[33];
    vodupd_detail d = {0};
    vodupd_status st = core_upload_initiate(&c, &in, upload_id, &d);
    if (st != VODUPD_OK) {
        oss_status_error(r, st, &d);
        return;
    }
    vbuf x = VBUF_INIT;
    oss_xml_start(&x, "InitiateMultipartUploadResult");
    if (s->url)
        vbuf_puts(&x, "<EncodingType>url</EncodingType>");
    vodup_xml_elem(&x, "Bucket", r->bucket, strlen(r->bucket));
    oss_xml_key(&x, "Key", r->key, r->key_len, s->url);
    vodup_xml_elem(&x, "UploadId", upload_id, strlen(upload_id));
    vbuf_puts(&x, "</InitiateMultipartUploadResult>\n");
    http_respond_buf(r, 200, "application/xml", &x);
    vbuf_free(&x);
}

const http_op oss_op_initiate = {"InitiateMultipartUpload", initiate_begin, oss_collect_body, initiate_finish, 1};

/* ---- UploadPart ------------------------------------------------------------------- */

static int parse_part_number(http_request *r, int *out)
{
    const char *pn = http_query(r, "partNumber");
    if (!pn || !*pn) {
        oss_error(r, OSS_ERR_InvalidArgument, "partNumber is required for UploadPart.");
        return -1;
    }
    char *end;
    long v = strtol(pn, &end, 10);
    if (*end || pn[0] == '-' || pn[0] == '+' || strlen(pn) > 6 || v < 1 || v > OSS_MAX_PART_NUMBER) {
        vbuf x = VBUF_INIT;
        vbuf_puts(&x, "<ArgumentName>PartNumber</ArgumentName>\n  ");
        vodup_xml_elem(&x, "ArgumentValue", pn, strlen(pn));
        oss_error_x(r, OSS_ERR_InvalidArgument, vbuf_cstr(&x),
                    "Part number must be an integer between 1 and %d, inclusive.", OSS_MAX_PART_NUMBER);
        vbuf_free(&x);
        return -1;
    }
    *out = (int)v;
    return 0;
}

int oss_part_target(http_request *r, int *number, char upload_id[33])
{
    if (object_scope(r) != 0 || parse_part_number(r, number) != 0)
        return -1;
    vodup_meta_upload up;
    if (load_upload(r, &up) != 0)
        return -1;
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
    if (!u || u->failed)
        return;
    core c;
    oss_core(r, &c);
    vodup_meta_guard g;
    vodupd_detail d = {0};
    vodupd_status st = core_part_put(&c, u->upload_id, u->part_number, u->in, core_write_guard(&r->cred, &g), &d);
    if (st != VODUPD_OK) {
        oss_status_error(r, st, &d);
        return;
    }
    oss_reply_written(r, u);
}

const http_op oss_op_upload_part = {"UploadPart", part_begin, oss_upload_body, part_finish, 1};

/* ---- CompleteMultipartUpload ------------------------------------------------------- */

static int complete_begin(http_request *r)
{
    if (object_scope(r) != 0)
        return 0;
    if (oss_url_encoding(r) < 0)
        return 0;
    vodup_meta_upload up;
    if (load_upload(r, &up) != 0)
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

/* Reads the part list. 0 ok, or -1 after answering MalformedXML. */
static int parse_complete(http_request *r, vodup_meta_complete_part **out, size_t *n)
{
    *out = NULL;
    *n = 0;
    vodup_xml_node *root = NULL;
    vodup_xml_limits lim = {VODUPD_MAX_XML_BODY, 8, 4 * OSS_MAX_PART_NUMBER + 16};
    int rc = r->body.len ? vodup_xml_parse(&root, r->body.data, r->body.len, &lim) : VODUP_XML_EMALFORMED;
    if (rc != VODUP_XML_OK || strcmp(root->name, "CompleteMultipartUpload") != 0) {
        vodup_xml_free(root);
        oss_error(r, OSS_ERR_MalformedXML, "The XML you provided was not well-formed or did not validate against our published schema.");
        return -1;
    }
    size_t cap = 0;
    for (const vodup_xml_node *p = vodup_xml_child(root, "Part"); p; p = vodup_xml_next(p, "Part"))
        cap++;
    if (cap == 0 || cap > OSS_MAX_PART_NUMBER) {
        vodup_xml_free(root);
        oss_error(r, OSS_ERR_MalformedXML, "CompleteMultipartUpload must list between 1 and %d parts.", OSS_MAX_PART_NUMBER);
        return -1;
    }
    vodup_meta_complete_part *parts = calloc(cap, sizeof *parts);
    if (!parts) {
        vodup_xml_free(root);
        oss_error(r, OSS_ERR_InternalError, "Out of memory.");
        return -1;
    }
    size_t i = 0;
    for (const vodup_xml_node *p = vodup_xml_child(root, "Part"); p; p = vodup_xml_next(p, "Part"), i++) {
        const vodup_xml_node *num = vodup_xml_child(p, "PartNumber");
        const vodup_xml_node *etag = vodup_xml_child(p, "ETag");
        char *end;
        long v = num ? strtol(num->text, &end, 10) : 0;
        if (!num || !etag || !*num->text || *end || v < 1 || v > OSS_MAX_PART_NUMBER) {
            free(parts);
            vodup_xml_free(root);
            oss_error(r, OSS_ERR_MalformedXML, "Each Part needs a PartNumber between 1 and %d and an ETag.",
                      OSS_MAX_PART_NUMBER);
            return -1;
        }
        parts[i].number = (int)v;
        const char *e = etag->text;
        size_t el = etag->text_len;
        while (el && (*e == ' ' || *e == '\n' || *e == '\t' || *e == '\r'))
            e++, el--;
        while (el && (e[el - 1] == ' ' || e[el - 1] == '\n' || e[el - 1] == '\t' || e[el - 1] == '\r'))
            el--;
        if (el >= 2 && e[0] == '"' && e[el - 1] == '"')
            e++, el -= 2;
        /* An ETag that cannot be one of ours still gets InvalidPart, not MalformedXML. */
        if (el >= sizeof parts[i].etag)
            el = 0;
        memcpy(parts[i].etag, e, el);
        parts[i].etag[el] = '\0';
    }
    vodup_xml_free(root);
    *out = parts;
    *n = cap;
    return 0;
}

static void complete_finish(http_request *r)
{
    if (r->body_too_large)
        return;
    vodup_meta_complete_part *parts;
    size_t n;
    if (parse_complete(r, &parts, &n) != 0)
        return;
    const char *id = http_query(r, "uploadId");
    vodup_meta_object o;
    memset(&o, 0, sizeof o);
    core c;
    oss_core(r, &c);
    vodup_meta_guard g;
    vodupd_detail d = {0};
    vodupd_status st = core_upload_complete(&c, &oss_rules, id, parts, n, core_write_guard(&r->cred, &g), &o, &d);
    if (st != VODUPD_OK) {
        oss_status_error(r, st, &d);
        goto out;
    }
    int url = oss_url_encoding(r) > 0;
    vbuf x = VBUF_INIT;
    oss_xml_start(&x, "CompleteMultipartUploadResult");
    if (url)
        vbuf_puts(&x, "<EncodingType>url</EncodingType>");
    vbuf loc = VBUF_INIT;
    vbuf_printf(&loc, "%s/%s/", r->srv->public_url ? r->srv->public_url : "", r->bucket);
    vodup_uri_encode(&loc, r->key, r->key_len, 1);
    vodup_xml_elem(&x, "Location", vbuf_cstr(&loc), loc.len);
    vbuf_free(&loc);
    vodup_xml_elem(&x, "Bucket", r->bucket, strlen(r->bucket));
    oss_xml_key(&x, "Key", r->key, r->key_len, url);
    vbuf_printf(&x, "<ETag>&quot;%s&quot;</ETag>", o.etag);
    vbuf_puts(&x, "</CompleteMultipartUploadResult>\n");
    http_response *resp = http_response_buf("application/xml", &x);
    char buf[96];
    snprintf(buf, sizeof buf, "\"%s\"", o.etag);
    http_response_header(resp, "ETag", buf);
    snprintf(buf, sizeof buf, "%llu", (unsigned long long)o.crc64);
    http_response_header(resp, "x-oss-hash-crc64ecma", buf);
    http_reply(r, 200, resp);
out:
    vodup_meta_object_clear(&o);
    free(parts);
}

const http_op oss_op_complete = {"CompleteMultipartUpload", complete_begin, oss_collect_body, complete_finish, 1};

/* ---- AbortMultipartUpload -------------------------------------------------------- */

static int abort_begin(http_request *r)
{
    if (object_scope(r) != 0)
        return 0;
    vodup_meta_upload up;
    if (load_upload(r, &up) != 0)
        return 0;
    vodup_meta_upload_clear(&up);
    return 0;
}

static void abort_finish(http_request *r)
{
    core c;
    oss_core(r, &c);
    vodupd_detail d = {0};
    vodupd_status st = core_upload_abort(&c, http_query(r, "uploadId"), &d);
    if (st != VODUPD_OK) {
        oss_status_error(r, st, &d);
        return;
    }
    http_respond_empty(r, 204);
}

const http_op oss_op_abort = {"AbortMultipartUpload", abort_begin, NULL, abort_finish, 1};

/* ---- ListParts ------------------------------------------------------------------- */

static int parse_max(http_request *r, const char *name, int *out)
{
    const char *v = http_query(r, name);
    *out = OSS_MAX_LIST_KEYS;
    if (!v)
        return 0;
    char *end;
    long n = strtol(v, &end, 10);
    if (!*v || *end || n < 0 || strlen(v) > 9) {
        oss_error(r, OSS_ERR_InvalidArgument, "%s must be an integer between 0 and %d.", name, OSS_MAX_LIST_KEYS);
        return -1;
    }
    *out = n > OSS_MAX_LIST_KEYS ? OSS_MAX_LIST_KEYS : (int)n;
    return 0;
}

typedef struct part_list {
    vbuf *x;
    int count;
    int last;
} part_list;

static int list_part_cb(const vodup_meta_part *p, void *u)
{
    part_list *pl = u;
    char when[25];
    vodup_time_iso_ms(when, p->mtime);
    vbuf_printf(pl->x,
                "<Part><PartNumber>%d</PartNumber><LastModified>%s</LastModified><ETag>&quot;%s&quot;</ETag>"
                "<HashCrc64ecma>%llu</HashCrc64ecma><Size>%llu</Size></Part>",
                p->number, when, p->etag, (unsigned long long)p->crc64, (unsigned long long)p->size);
    pl->count++;
    pl->last = p->number;
    return 0;
}

static int list_parts_begin(http_request *r)
{
    if (object_scope(r) != 0)
        return 0;
    int url = oss_url_encoding(r);
    if (url < 0)
        return 0;
    int max;
    if (parse_max(r, "max-parts", &max) != 0)
        return 0;
    const char *m = http_query(r, "part-number-marker");
    long marker = 0;
    if (m && *m) {
        char *end;
        marker = strtol(m, &end, 10);
        if (*end || marker < 0 || marker > OSS_MAX_PART_NUMBER) {
            oss_error(r, OSS_ERR_InvalidArgument, "part-number-marker must be an integer between 0 and %d.",
                      OSS_MAX_PART_NUMBER);
            return 0;
        }
    }
    vodup_meta_upload up;
    if (load_upload(r, &up) != 0)
        return 0;
    vbuf parts = VBUF_INIT;
    part_list pl = {&parts, 0, 0};
    core c;
    oss_core(r, &c);
    int truncated;
    vodupd_detail d = {0};
    vodupd_status st = core_part_list(&c, up.upload_id, (int)marker, max, list_part_cb, &pl, &truncated, &d);
    if (st != VODUPD_OK) {
        vbuf_free(&parts);
        vodup_meta_upload_clear(&up);
        oss_status_error(r, st, &d);
        return 0;
    }
    vbuf x = VBUF_INIT;
    oss_xml_start(&x, "ListPartsResult");
    if (url)
        vbuf_puts(&x, "<EncodingType>url</EncodingType>");
    vodup_xml_elem(&x, "Bucket", r->bucket, strlen(r->bucket));
    oss_xml_key(&x, "Key", r->key, r->key_len, url);
    vodup_xml_elem(&x, "UploadId", up.upload_id, strlen(up.upload_id));
    vbuf_printf(&x, "<StorageClass>Standard</StorageClass><PartNumberMarker>%ld</PartNumberMarker>"
                    "<NextPartNumberMarker>%d</NextPartNumberMarker><MaxParts>%d</MaxParts>"
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
