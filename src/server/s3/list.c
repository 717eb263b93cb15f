/* list.c - ListObjects (V1) and ListObjectsV2 (list-type=2) over the core's listing
 * (core_object_list: byte order, common prefixes). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/codec.h"
#include "common/timefmt.h"
#include "common/xml.h"
#include "server/s3/s3.h"

#define S3_MAX_KEYS 1000

typedef struct lister {
    vbuf *items;
    int url;
    int owner;          /* V1 always, V2 with fetch-owner=true */
    const char *account;
} lister;

static void xml_key(vbuf *b, const char *elem, const char *key, size_t n, int url)
{
    if (!url) {
        vodup_xml_elem(b, elem, key, n);
        return;
    }
    vbuf enc = VBUF_INIT;
    vodup_uri_encode(&enc, key, n, 1);
    vodup_xml_elem(b, elem, vbuf_cstr(&enc), enc.len);
    vbuf_free(&enc);
}

static void list_cb(const core_list_entry *e, void *u)
{
    lister *l = u;
    if (!e->object) {
        vbuf_puts(l->items, "<CommonPrefixes>");
        xml_key(l->items, "Prefix", e->prefix, e->prefix_len, l->url);
        vbuf_puts(l->items, "</CommonPrefixes>");
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
    xml_key(l->items, "Key", o->key, o->key_len, l->url);
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
    const char *enc = http_query(r, "encoding-type");
    if (enc && *enc && strcmp(enc, "url") != 0) {
        s3_error(r, S3_ERR_InvalidArgument, "Invalid Encoding Method specified in Request");
        return 0;
    }
    int url = enc && *enc;
    int max = S3_MAX_KEYS;
    const char *mk = http_query(r, "max-keys");
    if (mk) {
        char *end;
        long v = strtol(mk, &end, 10);
        if (!*mk || *end || v < 0 || strlen(mk) > 9) {
            s3_error(r, S3_ERR_InvalidArgument, "Provided max-keys not an integer or within integer range");
            return 0;
        }
        max = v > S3_MAX_KEYS ? S3_MAX_KEYS : (int)v;
    }
    const char *prefix = http_query(r, "prefix");
    const char *delim = http_query(r, "delimiter");
    prefix = prefix ? prefix : "";
    delim = delim ? delim : "";

    /* Where to start: V1 marker; V2 the later of start-after and the continuation token
     * (the base64 of the last key or prefix of the page before). */
    vbuf after = VBUF_INIT;
    const char *marker = v2 ? http_query(r, "start-after") : http_query(r, "marker");
    if (marker)
        vbuf_puts(&after, marker);
    const char *token = v2 ? http_query(r, "continuation-token") : NULL;
    if (token) {
        size_t tl = strlen(token);
        unsigned char *dec = malloc(tl / 4 * 3 + 4);
        long dl = dec && *token ? vodup_base64_decode(dec, token, tl) : -1;
        if (dl <= 0) {
            free(dec);
            vbuf_free(&after);
            s3_error(r, S3_ERR_InvalidArgument, "The continuation token provided is incorrect");
            return 0;
        }
        if ((size_t)dl > after.len || memcmp(dec, after.data ? after.data : "", (size_t)dl) > 0) {
            vbuf_reset(&after);
            vbuf_append(&after, dec, (size_t)dl);
        }
        free(dec);
    }
    const char *fo = http_query(r, "fetch-owner");
    vbuf items = VBUF_INIT;
    lister l = {&items, url, !v2 || (fo && strcmp(fo, "true") == 0), r->cred.account_id};
    core c;
    s3_core(r, &c);
    size_t dlen = strlen(delim);
    core_list_query q = {prefix, strlen(prefix), delim, dlen, after.data ? after.data : "", after.len, NULL, max};
    core_list_result res;
    vodupd_detail d = {0};
    vodupd_status st = core_object_list(&c, r->bucket, &q, list_cb, &l, &res, &d);
    if (st != VODUPD_OK) {
        s3_status_error(r, st, &d);
        goto out;
    }
    vbuf x = VBUF_INIT;
    s3_xml_start(&x, "ListBucketResult");
    vodup_xml_elem(&x, "Name", r->bucket, strlen(r->bucket));
    xml_key(&x, "Prefix", prefix, strlen(prefix), url);
    if (!v2)
        xml_key(&x, "Marker", marker ? marker : "", marker ? strlen(marker) : 0, url);
    else if (marker)
        xml_key(&x, "StartAfter", marker, strlen(marker), url);
    if (token)
        vodup_xml_elem(&x, "ContinuationToken", token, strlen(token));
    if (v2)
        vbuf_printf(&x, "<KeyCount>%d</KeyCount>", res.count);
    vbuf_printf(&x, "<MaxKeys>%d</MaxKeys>", max);
    if (dlen)
        xml_key(&x, "Delimiter", delim, dlen, url);
    if (url)
        vbuf_puts(&x, "<EncodingType>url</EncodingType>");
    vbuf_printf(&x, "<IsTruncated>%s</IsTruncated>", res.truncated ? "true" : "false");
    if (res.truncated) {
        if (v2) {
            vbuf tok = VBUF_INIT;
            vodup_base64_encode(&tok, res.last, res.last_len);
            vodup_xml_elem(&x, "NextContinuationToken", vbuf_cstr(&tok), tok.len);
            vbuf_free(&tok);
        } else if (dlen) { /* V1 names the next marker only with a delimiter */
            xml_key(&x, "NextMarker", res.last ? res.last : "", res.last_len, url);
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
    return 0;
}

const http_op s3_op_list_objects = {"ListObjectsV2", list_begin, NULL, NULL, 0};
