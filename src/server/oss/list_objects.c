/* list_objects.c - ListObjects (V1) and ListObjectsV2 (list-type=2): the query
 * parameters in, the core's listing (core_object_list: byte order, common prefixes) out
 * as XML.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/timefmt.h"
#include "common/xml.h"
#include "server/config.h"
#include "server/core/route.h"
#include "server/core/xml.h"
#include "server/oss/oss.h"

typedef struct lister {
    vbuf *items;
    int url;
    int v2;
    int fetch_owner;
    const char *owner;
} lister;

static void list_cb(const core_list_entry *e, void *u)
{
    lister *l = u;
    if (!e->object) {
        oss_xml_common_prefix(l->items, e, l->url);
        return;
    }
    const vodup_meta_object *o = e->object;
    char when[25];
    vodup_time_iso_ms(when, o->mtime);
    vbuf_puts(l->items, "<Contents>");
    oss_xml_key(l->items, "Key", o->key, o->key_len, l->url);
    vbuf_printf(l->items,
                "<LastModified>%s</LastModified><ETag>&quot;%s&quot;</ETag><Type>%s</Type><Size>%llu</Size>"
                "<StorageClass>Standard</StorageClass>",
                when, o->etag, o->type, (unsigned long long)o->size);
    if (!l->v2 || l->fetch_owner)
        vbuf_printf(l->items, "<Owner><ID>%s</ID><DisplayName>%s</DisplayName></Owner>", l->owner, l->owner);
    vbuf_puts(l->items, "</Contents>");
}

static int list_begin(http_request *r)
{
    vodup_meta_bucket b;
    if (oss_require_bucket(r, &b) != 0)
        return 0;
    int v2 = 0;
    const char *lt = http_query(r, "list-type");
    if (lt && strcmp(lt, "2") == 0)
        v2 = 1;
    else if (lt && *lt) {
        vodup_meta_bucket_clear(&b);
        oss_error(r, OSS_ERR_InvalidArgument, "list-type must be 2 when given.");
        return 0;
    }
    int url = oss_url_encoding(r);
    if (url < 0) {
        vodup_meta_bucket_clear(&b);
        return 0;
    }
    const char *marker = v2 ? http_query(r, "start-after") : http_query(r, "marker");
    const char *token = v2 ? http_query(r, "continuation-token") : NULL;
    const char *fo = http_query(r, "fetch-owner");
    vbuf items = VBUF_INIT;
    lister l = {&items, url, v2, fo && strcmp(fo, "true") == 0, b.account_id};
    core_http_listing ls = {.args = {http_query(r, "prefix"), http_query(r, "delimiter"), marker, token, 0, NULL,
                             http_query(r, "max-keys"), OSS_DEFAULT_LIST_KEYS, OSS_MAX_LIST_KEYS},
                            .uploads = 0, .cb = list_cb, .u = &l, .refuse = oss_list_error, .max_name = "max-keys"};
    if (core_http_list(r, &ls) == 0) {
        const core_list_query *q = &ls.q;
        const core_list_result *res = &ls.res;
        vbuf x = VBUF_INIT;
        oss_xml_start(&x, "ListBucketResult");
        if (url)
            vbuf_puts(&x, "<EncodingType>url</EncodingType>");
        vodup_xml_elem(&x, "Name", r->bucket, strlen(r->bucket));
        oss_xml_key(&x, "Prefix", q->prefix, q->prefix_len, url);
        if (!v2)
            oss_xml_key(&x, "Marker", marker ? marker : "", marker ? strlen(marker) : 0, url);
        else if (marker)
            oss_xml_key(&x, "StartAfter", marker, strlen(marker), url);
        if (v2 && token)
            vodup_xml_elem(&x, "ContinuationToken", token, strlen(token));
        vbuf_printf(&x, "<MaxKeys>%d</MaxKeys>", q->max);
        oss_xml_key(&x, "Delimiter", q->delim, q->delim_len, url);
        vbuf_printf(&x, "<IsTruncated>%s</IsTruncated>", res->truncated ? "true" : "false");
        if (v2)
            vbuf_printf(&x, "<KeyCount>%d</KeyCount>", res->count);
        if (res->truncated && v2)
            core_xml_token(&x, res);
        else if (res->truncated)
            oss_xml_key(&x, "NextMarker", res->last ? res->last : "", res->last_len, url);
        core_http_reply_xml(r, &x, &items, "ListBucketResult");
    }
    core_http_listing_clear(&ls);
    vbuf_free(&items);
    vodup_meta_bucket_clear(&b);
    return 0;
}

const http_op oss_op_list_objects = {"ListObjects", list_begin, NULL, NULL, 0};
