/* list_objects.c - ListObjects (V1) and ListObjectsV2 (list-type=2): the query
 * parameters in, the core's listing (core_object_list: byte order, common prefixes) out
 * as XML.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/codec.h"
#include "common/timefmt.h"
#include "common/xml.h"
#include "server/config.h"
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
    int max = OSS_DEFAULT_LIST_KEYS;
    const char *mk = http_query(r, "max-keys");
    if (mk) {
        char *end;
        long v = strtol(mk, &end, 10);
        if (!*mk || *end || v < 0 || strlen(mk) > 9) {
            vodup_meta_bucket_clear(&b);
            oss_error(r, OSS_ERR_InvalidArgument, "max-keys must be an integer between 0 and %d.", OSS_MAX_LIST_KEYS);
            return 0;
        }
        max = v > OSS_MAX_LIST_KEYS ? OSS_MAX_LIST_KEYS : (int)v;
    }
    const char *prefix = http_query(r, "prefix");
    const char *delim = http_query(r, "delimiter");
    prefix = prefix ? prefix : "";
    delim = delim ? delim : "";

    /* Where to start: V1 marker; V2 the later of start-after and the continuation token. */
    vbuf after = VBUF_INIT;
    const char *marker = v2 ? http_query(r, "start-after") : http_query(r, "marker");
    if (marker)
        vbuf_puts(&after, marker);
    const char *token = v2 ? http_query(r, "continuation-token") : NULL;
    if (token && *token) {
        size_t tl = strlen(token);
        unsigned char *dec = malloc(tl / 4 * 3 + 4);
        long dl = dec ? vodup_base64_decode(dec, token, tl) : -1;
        if (dl < 0) {
            free(dec);
            vbuf_free(&after);
            vodup_meta_bucket_clear(&b);
            oss_error(r, OSS_ERR_InvalidArgument, "The continuation token is not valid.");
            return 0;
        }
        if ((size_t)dl > after.len || memcmp(dec, after.data ? after.data : "", (size_t)dl) > 0) {
            vbuf_reset(&after);
            vbuf_append(&after, dec, (size_t)dl);
        }
        free(dec);
    }
    size_t dlen = strlen(delim);
    vbuf items = VBUF_INIT;
    lister l = {&items, url, v2, 0, b.account_id};
    const char *fo = http_query(r, "fetch-owner");
    l.fetch_owner = fo && strcmp(fo, "true") == 0;
    core c;
    oss_core(r, &c);
    core_list_query q = {prefix, strlen(prefix), delim, dlen, after.data ? after.data : "", after.len, NULL, max};
    core_list_result res;
    vodupd_detail d = {0};
    vodupd_status st = core_object_list(&c, r->bucket, &q, list_cb, &l, &res, &d);
    if (st != VODUPD_OK) {
        oss_status_error(r, st, &d);
        goto out;
    }
    vbuf x = VBUF_INIT;
    oss_xml_start(&x, "ListBucketResult");
    if (url)
        vbuf_puts(&x, "<EncodingType>url</EncodingType>");
    vodup_xml_elem(&x, "Name", r->bucket, strlen(r->bucket));
    oss_xml_key(&x, "Prefix", prefix, strlen(prefix), url);
    if (!v2)
        oss_xml_key(&x, "Marker", marker ? marker : "", marker ? strlen(marker) : 0, url);
    else if (marker)
        oss_xml_key(&x, "StartAfter", marker, strlen(marker), url);
    if (v2 && token)
        vodup_xml_elem(&x, "ContinuationToken", token, strlen(token));
    vbuf_printf(&x, "<MaxKeys>%d</MaxKeys>", max);
    oss_xml_key(&x, "Delimiter", delim, dlen, url);
    vbuf_printf(&x, "<IsTruncated>%s</IsTruncated>", res.truncated ? "true" : "false");
    if (v2)
        vbuf_printf(&x, "<KeyCount>%d</KeyCount>", res.count);
    if (res.truncated) {
        if (v2) {
            vbuf tok = VBUF_INIT;
            vodup_base64_encode(&tok, res.last, res.last_len);
            vodup_xml_elem(&x, "NextContinuationToken", vbuf_cstr(&tok), tok.len);
            vbuf_free(&tok);
        } else {
            oss_xml_key(&x, "NextMarker", res.last ? res.last : "", res.last_len, url);
        }
    }
    vbuf_append(&x, items.data ? items.data : "", items.len);
    vbuf_puts(&x, "</ListBucketResult>\n");
    http_respond_buf(r, 200, "application/xml", &x);
    vbuf_free(&x);
    core_list_result_clear(&res);
out:
    vbuf_free(&items);
    vbuf_free(&after);
    vodup_meta_bucket_clear(&b);
    return 0;
}

const http_op oss_op_list_objects = {"ListObjects", list_begin, NULL, NULL, 0};
