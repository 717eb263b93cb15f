/* list.c - ListObjects (V1) and ListObjectsV2 (list-type=2) over the core's listing
 * (core_object_list: byte order, common prefixes). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/timefmt.h"
#include "common/xml.h"
#include "server/core/route.h"
#include "server/core/xml.h"
#include "server/s3/s3.h"

#define S3_MAX_KEYS 1000

typedef struct lister {
    vbuf *items;
    int url;
    int owner;          /* V1 always, V2 with fetch-owner=true */
    const char *account;
} lister;

static void list_cb(const core_list_entry *e, void *u)
{
    lister *l = u;
    if (!e->object) {
        core_xml_common_prefix(l->items, e, l->url);
        return;
    }
    const vodup_meta_object *o = e->object;
    char when[25], etag[64];
    vodup_time_iso_ms(when, o->mtime);
    size_t i = 0;
    for (; o->etag[i] && i < sizeof etag - 1; i++)
        etag[i] = (char)(o->etag[i] >= 'A' && o->etag[i] <= 'Z' ? o->etag[i] + 32 : o->etag[i]);
    etag[i] = 0;
    vbuf_puts(l->items, "<Contents>");
    core_xml_key(l->items, "Key", o->key, o->key_len, l->url);
    vbuf_printf(l->items,
                "<LastModified>%s</LastModified><ETag>&quot;%s&quot;</ETag><Size>%llu</Size>"
                "<StorageClass>STANDARD</StorageClass>",
                when, etag, (unsigned long long)o->size);
    if (l->owner)
        vbuf_printf(l->items, "<Owner><ID>%s</ID><DisplayName>%s</DisplayName></Owner>", l->account, l->account);
    vbuf_puts(l->items, "</Contents>");
}

static int list_begin(http_request *r)
{
    vodup_meta_bucket b;
    if (s3_require_bucket(r, &b) != 0)
        return 0;
    vodup_meta_bucket_clear(&b);
    const char *lt = http_query(r, "list-type");
    int v2 = lt && strcmp(lt, "2") == 0;
    if (lt && !v2) {
        s3_error(r, S3_ERR_InvalidArgument, "list-type must be 2 when given.");
        return 0;
    }
    int url = s3_url_encoding(r);
    if (url < 0)
        return 0;
    const char *marker = v2 ? http_query(r, "start-after") : http_query(r, "marker");
    const char *token = v2 ? http_query(r, "continuation-token") : NULL;
    const char *fo = http_query(r, "fetch-owner");
    vbuf items = VBUF_INIT;
    lister l = {&items, url, !v2 || (fo && strcmp(fo, "true") == 0), r->cred.account_id};
    core_http_listing ls = {.args = {http_query(r, "prefix"), http_query(r, "delimiter"), marker, token, 1, NULL,
                             http_query(r, "max-keys"), S3_MAX_KEYS, S3_MAX_KEYS},
                            .uploads = 0, .cb = list_cb, .u = &l, .refuse = s3_list_error, .max_name = "max-keys"};
    if (core_http_list(r, &ls) == 0) {
        const core_list_query *q = &ls.q;
        const core_list_result *res = &ls.res;
        vbuf x = VBUF_INIT;
        s3_xml_start(&x, "ListBucketResult");
        vodup_xml_elem(&x, "Name", r->bucket, strlen(r->bucket));
        core_xml_key(&x, "Prefix", q->prefix, q->prefix_len, url);
        if (!v2)
            core_xml_key(&x, "Marker", marker ? marker : "", marker ? strlen(marker) : 0, url);
        else if (marker)
            core_xml_key(&x, "StartAfter", marker, strlen(marker), url);
        if (token)
            vodup_xml_elem(&x, "ContinuationToken", token, strlen(token));
        if (v2)
            vbuf_printf(&x, "<KeyCount>%d</KeyCount>", res->count);
        vbuf_printf(&x, "<MaxKeys>%d</MaxKeys>", q->max);
        if (q->delim_len)
            core_xml_key(&x, "Delimiter", q->delim, q->delim_len, url);
        if (url)
            vbuf_puts(&x, "<EncodingType>url</EncodingType>");
        vbuf_printf(&x, "<IsTruncated>%s</IsTruncated>", res->truncated ? "true" : "false");
        if (res->truncated && v2)
            core_xml_token(&x, res);
        else if (res->truncated && q->delim_len) /* V1 names the next marker only with a delimiter */
            core_xml_key(&x, "NextMarker", res->last ? res->last : "", res->last_len, url);
        core_http_reply_xml(r, &x, &items, "ListBucketResult");
    }
    core_http_listing_clear(&ls);
    vbuf_free(&items);
    return 0;
}

const http_op s3_op_list_objects = {"ListObjectsV2", list_begin, NULL, NULL, 0};
