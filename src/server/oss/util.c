/* util.c - small pieces the OSS handlers share: name checks, ownership, XML and headers. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "common/codec.h"
#include "common/timefmt.h"
#include "common/xml.h"
#include "server/config.h"
#include "server/core/route.h"
#include "server/core/xml.h"
#include "server/oss/oss.h"

static int valid_utf8(const unsigned char *s, size_t n)
{
    size_t i = 0;
    while (i < n) {
        unsigned char c = s[i];
        size_t len;
        unsigned int cp;
        if (c < 0x80) {
            i++;
            continue;
        } else if ((c & 0xE0) == 0xC0) {
            len = 2, cp = c & 0x1F;
        } else if ((c & 0xF0) == 0xE0) {
            len = 3, cp = c & 0x0F;
        } else if ((c & 0xF8) == 0xF0) {
            len = 4, cp = c & 0x07;
        } else {
            return 0;
        }
        if (i + len > n)
            return 0;
        for (size_t k = 1; k < len; k++) {
            if ((s[i + k] & 0xC0) != 0x80)
                return 0;
            cp = (cp << 6) | (s[i + k] & 0x3F);
        }
        /* overlong forms, surrogates and values past U+10FFFF are not UTF-8 */
        if ((len == 2 && cp < 0x80) || (len == 3 && cp < 0x800) || (len == 4 && cp < 0x10000) ||
            cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF))
            return 0;
        i += len;
    }
    return 1;
}

int oss_check_key(http_request *r)
{
    if (r->key_len == 0 || r->key_len > OSS_MAX_KEY_LEN) {
        oss_error(r, OSS_ERR_InvalidObjectName, "The object name must be 1 to %d bytes long.", OSS_MAX_KEY_LEN);
        return -1;
    }
    if (r->key[0] == '/' || r->key[0] == '\\') {
        oss_error(r, OSS_ERR_InvalidObjectName, "The object name must not start with '/' or '\\'.");
        return -1;
    }
    if (!valid_utf8((const unsigned char *)r->key, r->key_len)) {
        oss_error(r, OSS_ERR_InvalidObjectName, "The object name must be valid UTF-8.");
        return -1;
    }
    return 0;
}

const core_rules oss_rules = {
    .max_put_size = OSS_MAX_PUT_SIZE,
    .max_part_size = OSS_MAX_PART_SIZE,
    .min_part_size = OSS_MIN_PART_SIZE,
    .max_part_number = OSS_MAX_PART_NUMBER,
    .multipart_etag = core_etag_md5_of_hex,
};

void oss_core(http_request *r, core *c)
{
    core_of_server(c, r->srv);
}

int oss_require_bucket(http_request *r, vodup_meta_bucket *b)
{
    return core_http_require_bucket(r, b);
}

void oss_xml_start(vbuf *b, const char *root)
{
    vbuf_printf(b, "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<%s>", root);
}

void oss_xml_key(vbuf *b, const char *elem, const char *key, size_t n, int url_encode)
{
    core_xml_key(b, elem, key, n, url_encode);
}

void oss_xml_common_prefix(vbuf *b, const core_list_entry *e, int url_encode)
{
    core_xml_common_prefix(b, e, url_encode);
}

void oss_xml_u64(vbuf *b, const char *elem, unsigned long long v)
{
    vbuf_printf(b, "<%s>%llu</%s>", elem, v, elem);
}

void oss_add_object_headers(http_response *resp, const vodup_meta_object *o)
{
    char buf[96];
    snprintf(buf, sizeof buf, "\"%s\"", o->etag);
    http_response_header(resp, "ETag", buf);
    snprintf(buf, sizeof buf, "%llu", (unsigned long long)o->crc64);
    http_response_header(resp, "x-oss-hash-crc64ecma", buf);
    http_response_header(resp, "x-oss-object-type", o->type);
    http_response_header(resp, "x-oss-storage-class", "Standard");
    char date[30];
    vodup_time_http(date, o->mtime);
    http_response_header(resp, "Last-Modified", date);
    http_response_header(resp, "Content-Type",
                            o->content_type && *o->content_type ? o->content_type : "application/octet-stream");
    if (o->has_md5) {
        vbuf b64 = VBUF_INIT;
        vodup_base64_encode(&b64, o->md5, 16);
        http_response_header(resp, "Content-MD5", vbuf_cstr(&b64));
        vbuf_free(&b64);
    }
    core_http_user_meta_headers(resp, o->user_meta, "x-oss-meta-");
}

int oss_collect_user_meta(http_request *r, char **out)
{
    switch (core_http_user_meta(r, "x-oss-meta-", OSS_MAX_USER_META, 1, 255, out)) {
    case CORE_META_OK:
        return 0;
    case CORE_META_ETOOBIG:
        oss_error(r, OSS_ERR_InvalidArgument, "User metadata (x-oss-meta-*) exceeds %d bytes.", OSS_MAX_USER_META);
        return -1;
    case CORE_META_ENAME:
        oss_error(r, OSS_ERR_InvalidArgument, "Invalid user metadata header name.");
        return -1;
    case CORE_META_EUTF8:
        oss_error(r, OSS_ERR_InvalidArgument, "User metadata values must be UTF-8.");
        return -1;
    default:
        oss_error(r, OSS_ERR_InternalError, "Out of memory.");
        return -1;
    }
}

int oss_collect_body(http_request *r, const char *p, size_t n)
{
    if (r->body.len + n > r->body_limit) {
        r->body_too_large = 1;
        oss_error(r, OSS_ERR_EntityTooLarge, "The request body exceeds %zu bytes.", r->body_limit);
        return 0;
    }
    if (vbuf_append(&r->body, p, n) != 0)
        oss_error(r, OSS_ERR_InternalError, "Out of memory.");
    return 0;
}

void oss_list_error(http_request *r, vodupd_status st, const vodupd_detail *d, core_list_arg bad,
                    const char *max_name)
{
    if (bad == CORE_LIST_ARG_MAX)
        oss_error(r, OSS_ERR_InvalidArgument, "%s must be an integer between 0 and %d.", max_name, OSS_MAX_LIST_KEYS);
    else if (bad == CORE_LIST_ARG_TOKEN)
        oss_error(r, OSS_ERR_InvalidArgument, "The continuation token is not valid.");
    else
        oss_status_error(r, st, d);
}

int oss_url_encoding(http_request *r)
{
    int url = core_url_encoding(http_query(r, "encoding-type"));
    if (url < 0)
        oss_error(r, OSS_ERR_InvalidArgument, "encoding-type must be 'url'.");
    return url;
}

/* Parses a single "bytes=" range against size. 1 valid (*first, *last inclusive),
 * 0 absent, -1 present but unsatisfiable or malformed. clip: the end may pass the size
 * (x-oss-range-behavior: standard). */
int oss_parse_range(const char *h, uint64_t size, int clip, uint64_t *first, uint64_t *last)
{
    if (!h)
        return 0;
    if (strncmp(h, "bytes=", 6) != 0)
        return -1;
    const char *p = h + 6;
    if (strchr(p, ','))
        return -1; /* multi-range: not supported, treated as invalid */
    const char *dash = strchr(p, '-');
    if (!dash)
        return -1;
    char *end;
    if (dash == p) { /* suffix: last n bytes */
        if (!dash[1] || dash[1] < '0' || dash[1] > '9')
            return -1;
        unsigned long long n = strtoull(dash + 1, &end, 10);
        if (*end || n == 0 || size == 0)
            return -1;
        if (n > size) {
            if (!clip)
                return -1;
            n = size;
        }
        *first = size - n;
        *last = size - 1;
        return 1;
    }
    if (*p < '0' || *p > '9')
        return -1;
    unsigned long long a = strtoull(p, &end, 10);
    if (end != dash)
        return -1;
    unsigned long long b;
    if (!dash[1]) {
        b = size ? size - 1 : 0;
    } else {
        if (dash[1] < '0' || dash[1] > '9')
            return -1;
        b = strtoull(dash + 1, &end, 10);
        if (*end)
            return -1;
    }
    if (a >= size || b < a)
        return -1;
    if (b >= size) {
        if (!clip)
            return -1;
        b = size - 1;
    }
    *first = a;
    *last = b;
    return 1;
}
