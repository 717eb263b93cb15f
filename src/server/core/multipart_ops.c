/* multipart_ops.c - see multipart_ops.h. Parts are blobs like any object; Complete only
 * rewrites metadata (the object becomes the ordered list of its part blobs), so
 * completing a 48 TB upload copies nothing. */
#include "server/core/multipart_ops.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/codec.h"
#include "common/timefmt.h"
#include "common/xml.h"
#include "server/config.h"
#include "server/core/xml.h"

int core_http_upload_get(http_request *r, const core_mp_words *w, vodup_meta_upload *u)
{
    const char *id = http_query(r, "uploadId");
    if ((!id || !*id) && w->id_missing) {
        w->invalid(r, w->id_missing);
        return -1;
    }
    core c;
    core_of_server(&c, r->srv);
    vodupd_detail d = {0};
    return core_http_status(r, core_upload_get(&c, id ? id : "", r->bucket, r->key, r->key_len, u, &d), &d);
}

int core_http_object_scope(http_request *r, const core_mp_words *w)
{
    vodup_meta_bucket b;
    if (w->check_key(r) != 0 || core_http_require_bucket(r, &b) != 0)
        return -1;
    vodup_meta_bucket_clear(&b);
    return 0;
}

int core_http_upload_scope(http_request *r, const core_mp_words *w)
{
    vodup_meta_upload up;
    if (core_http_object_scope(r, w) != 0 || core_http_upload_get(r, w, &up) != 0)
        return -1;
    vodup_meta_upload_clear(&up);
    return 0;
}

long core_part_number(const char *pn, int max)
{
    if (!pn || !*pn)
        return 0;
    char *end;
    long v = strtol(pn, &end, 10);
    if (*end || pn[0] == '-' || pn[0] == '+' || strlen(pn) > 6 || v < 1 || v > max)
        return -1;
    return v;
}

/* The ETag as the dialect prints it: the core's, or lower-cased (S3). */
static void etag_words(char *out, size_t n, const char *etag, const core_mp_words *w)
{
    size_t i = 0;
    for (; etag[i] && i < n - 1; i++)
        out[i] = (char)(w->etag_lower && etag[i] >= 'A' && etag[i] <= 'Z' ? etag[i] + 32 : etag[i]);
    out[i] = '\0';
}

/* The root opened, then what every multipart answer starts with. */
static void result_head(vbuf *x, http_request *r, const core_mp_words *w, const char *root, int url, int location)
{
    w->xml_start(x, root);
    if (url)
        vbuf_puts(x, "<EncodingType>url</EncodingType>");
    if (location) {
        vbuf loc = VBUF_INIT;
        vbuf_printf(&loc, "%s/%s/", r->srv->public_url ? r->srv->public_url : "", r->bucket);
        vodup_uri_encode(&loc, r->key, r->key_len, 1);
        vodup_xml_elem(x, "Location", vbuf_cstr(&loc), loc.len);
        vbuf_free(&loc);
    }
    vodup_xml_elem(x, "Bucket", r->bucket, strlen(r->bucket));
    core_xml_key(x, "Key", r->key, r->key_len, url);
}

void core_http_initiate(http_request *r, const core_mp_words *w, const char *content_type, const char *user_meta,
                        int url)
{
    core c;
    core_of_server(&c, r->srv);
    vodup_meta_guard g;
    core_initiate in = {r->bucket, r->key, r->key_len, r->cred.account_id, content_type, user_meta,
                        core_write_guard(&r->cred, &g)};
    char upload_id[33];
    vodupd_detail d = {0};
    if (core_http_status(r, core_upload_initiate(&c, &in, upload_id, &d), &d) != 0)
        return;
    vbuf x = VBUF_INIT;
    result_head(&x, r, w, "InitiateMultipartUploadResult", url, 0);
    vodup_xml_elem(&x, "UploadId", upload_id, strlen(upload_id));
    core_http_reply_xml(r, &x, NULL, "InitiateMultipartUploadResult");
}

int core_http_part_put(http_request *r, const char *upload_id, int number, core_ingest *in)
{
    core c;
    core_of_server(&c, r->srv);
    vodup_meta_guard g;
    vodupd_detail d = {0};
    return core_http_status(r, core_part_put(&c, upload_id, number, in, core_write_guard(&r->cred, &g), &d), &d);
}

void core_http_complete(http_request *r, const core_mp_words *w, int url)
{
    if (r->body_too_large)
        return;
    vodup_meta_complete_part *parts;
    size_t n;
    char why[160];
    int rc = core_complete_parse(r->body.data, r->body.len, w->rules->max_part_number, &parts, &n, why, sizeof why);
    if (rc != 0) {
        if (rc == -2)
            core_http_status(r, VODUPD_ENOMEM, NULL);
        else
            w->malformed(r, why);
        return;
    }
    vodup_meta_object o;
    memset(&o, 0, sizeof o);
    core c;
    core_of_server(&c, r->srv);
    vodup_meta_guard g;
    vodupd_detail d = {0};
    vodupd_status st = core_upload_complete(&c, w->rules, http_query(r, "uploadId"), parts, n,
                                            core_write_guard(&r->cred, &g), &o, &d);
    free(parts);
    if (core_http_status(r, st, &d) != 0) {
        vodup_meta_object_clear(&o);
        return;
    }
    char etag[64];
    etag_words(etag, sizeof etag, o.etag, w);
    vbuf x = VBUF_INIT;
    result_head(&x, r, w, "CompleteMultipartUploadResult", url, 1);
    vbuf_printf(&x, "<ETag>&quot;%s&quot;</ETag></CompleteMultipartUploadResult>\n", etag);
    http_response *resp = http_response_buf("application/xml", &x);
    if (w->complete_headers)
        w->complete_headers(resp, &o);
    http_reply(r, 200, resp);
    vbuf_free(&x);
    vodup_meta_object_clear(&o);
}

void core_http_abort_finish(http_request *r)
{
    core c;
    core_of_server(&c, r->srv);
    vodupd_detail d = {0};
    if (core_http_status(r, core_upload_abort(&c, http_query(r, "uploadId"), &d), &d) == 0)
        http_respond_empty(r, 204);
}

typedef struct part_list {
    vbuf *x;
    const core_mp_words *w;
    int count;
    int last;
} part_list;

static int list_part_cb(const vodup_meta_part *p, void *u)
{
    part_list *pl = u;
    char when[25], etag[33];
    vodup_time_iso_ms(when, p->mtime);
    etag_words(etag, sizeof etag, p->etag, pl->w);
    vbuf_printf(pl->x, "<Part><PartNumber>%d</PartNumber><LastModified>%s</LastModified><ETag>&quot;%s&quot;</ETag>",
                p->number, when, etag);
    if (pl->w->part_crc64)
        vbuf_printf(pl->x, "<HashCrc64ecma>%llu</HashCrc64ecma>", (unsigned long long)p->crc64);
    vbuf_printf(pl->x, "<Size>%llu</Size></Part>", (unsigned long long)p->size);
    pl->count++;
    pl->last = p->number;
    return 0;
}

void core_http_list_parts(http_request *r, const core_mp_words *w, int url)
{
    long max = OSS_MAX_LIST_KEYS, marker = 0;
    const char *mp = http_query(r, "max-parts"), *m = http_query(r, "part-number-marker");
    char *end, msg[96];
    if (mp && (!*mp || (max = strtol(mp, &end, 10), *end) || max < 0 || strlen(mp) > 9)) {
        snprintf(msg, sizeof msg, "max-parts must be an integer between 0 and %d.", OSS_MAX_LIST_KEYS);
        w->invalid(r, msg);
        return;
    }
    if (m && *m && ((marker = strtol(m, &end, 10), *end) || marker < 0 || marker > w->rules->max_part_number)) {
        snprintf(msg, sizeof msg, "part-number-marker must be an integer between 0 and %d.", w->rules->max_part_number);
        w->invalid(r, msg);
        return;
    }
    if (max > OSS_MAX_LIST_KEYS)
        max = OSS_MAX_LIST_KEYS;
    vodup_meta_upload up;
    if (core_http_upload_get(r, w, &up) != 0)
        return;
    vbuf parts = VBUF_INIT;
    part_list pl = {&parts, w, 0, 0};
    core c;
    core_of_server(&c, r->srv);
    int truncated;
    vodupd_detail d = {0};
    vodupd_status st = core_part_list(&c, up.upload_id, (int)marker, (int)max, list_part_cb, &pl, &truncated, &d);
    if (core_http_status(r, st, &d) == 0) {
        vbuf x = VBUF_INIT;
        result_head(&x, r, w, "ListPartsResult", url, 0);
        vodup_xml_elem(&x, "UploadId", up.upload_id, strlen(up.upload_id));
        vbuf_printf(&x, "<StorageClass>%s</StorageClass><PartNumberMarker>%ld</PartNumberMarker>"
                        "<NextPartNumberMarker>%d</NextPartNumberMarker><MaxParts>%ld</MaxParts>"
                        "<IsTruncated>%s</IsTruncated>",
                    w->storage_class, marker, pl.count ? pl.last : (int)marker, max, truncated ? "true" : "false");
        core_http_reply_xml(r, &x, &parts, "ListPartsResult");
    }
    vbuf_free(&parts);
    vodup_meta_upload_clear(&up);
}

static int space(char c)
{
    return c == ' ' || c == '\n' || c == '\t' || c == '\r';
}

int core_complete_parse(const char *body, size_t len, int max_part_number, vodup_meta_complete_part **out, size_t *n,
                        char *why, size_t why_len)
{
    *out = NULL;
    *n = 0;
    snprintf(why, why_len, "The XML you provided was not well-formed or did not validate against our published schema.");
    vodup_xml_node *root = NULL;
    vodup_xml_limits lim = {VODUPD_MAX_XML_BODY, 8, 4 * (size_t)max_part_number + 16};
    int rc = len ? vodup_xml_parse(&root, body, len, &lim) : VODUP_XML_EMALFORMED;
    if (rc != VODUP_XML_OK || strcmp(root->name, "CompleteMultipartUpload") != 0) {
        vodup_xml_free(root);
        return -1;
    }
    size_t cap = 0;
    for (const vodup_xml_node *p = vodup_xml_child(root, "Part"); p; p = vodup_xml_next(p, "Part"))
        cap++;
    if (cap == 0 || cap > (size_t)max_part_number) {
        vodup_xml_free(root);
        snprintf(why, why_len, "CompleteMultipartUpload must list between 1 and %d parts.", max_part_number);
        return -1;
    }
    vodup_meta_complete_part *parts = calloc(cap, sizeof *parts);
    if (!parts) {
        vodup_xml_free(root);
        return -2;
    }
    size_t i = 0;
    for (const vodup_xml_node *p = vodup_xml_child(root, "Part"); p; p = vodup_xml_next(p, "Part"), i++) {
        const vodup_xml_node *num = vodup_xml_child(p, "PartNumber");
        const vodup_xml_node *etag = vodup_xml_child(p, "ETag");
        char *end;
        long v = num ? strtol(num->text, &end, 10) : 0;
        if (!num || !etag || !*num->text || *end || v < 1 || v > max_part_number) {
            free(parts);
            vodup_xml_free(root);
            snprintf(why, why_len, "Each Part needs a PartNumber between 1 and %d and an ETag.", max_part_number);
            return -1;
        }
        parts[i].number = (int)v;
        const char *e = etag->text;
        size_t el = etag->text_len;
        while (el && space(*e))
            e++, el--;
        while (el && space(e[el - 1]))
            el--;
        if (el >= 2 && e[0] == '"' && e[el - 1] == '"')
            e++, el -= 2;
        if (el >= sizeof parts[i].etag) /* cannot be one of ours: InvalidPart at Complete, not malformed */
            el = 0;
        memcpy(parts[i].etag, e, el);
        parts[i].etag[el] = '\0';
    }
    vodup_xml_free(root);
    *out = parts;
    *n = cap;
    return 0;
}
