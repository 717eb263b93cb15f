/* util.c - small pieces the S3 handlers share: rules, name checks, ownership, metadata
 * headers and the XML prologue. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "common/codec.h"
#include "common/digest.h"
#include "common/timefmt.h"
#include "server/config.h"
#include "server/core/route.h"
#include "server/core/xml.h"
#include "server/s3/s3.h"

/* S3's multipart ETag: "HEX-N", the MD5 of the parts' binary MD5s concatenated (what
 * S3 clients compute to check a multipart object), stored upper-case like every ETag. */
static void s3_multipart_etag(char out[64], const vodup_meta_part *parts, size_t n)
{
    unsigned char *bin = malloc(n ? n * 16 : 1);
    if (!bin) {
        out[0] = '\0';
        return;
    }
    for (size_t i = 0; i < n; i++)
        for (size_t j = 0; j < 16; j++) {
            int hi = vodup_hex_digit(parts[i].etag[2 * j]), lo = hi < 0 ? -1 : vodup_hex_digit(parts[i].etag[2 * j + 1]);
            bin[i * 16 + j] = (unsigned char)(hi < 0 || lo < 0 ? 0 : hi << 4 | lo);
        }
    unsigned char dg[16];
    char hex[33];
    vodup_md5(dg, bin, n * 16);
    free(bin);
    vodup_hex_upper(hex, dg, 16);
    snprintf(out, 64, "%s-%zu", hex, n);
}

/* S3's limits: parts of 5 MiB at least (but the last), 5 GiB at most, 10000 of them. */
const core_rules s3_rules = {
    .max_put_size = 5ULL * 1024 * 1024 * 1024,
    .max_part_size = 5ULL * 1024 * 1024 * 1024,
    .min_part_size = 5ULL * 1024 * 1024,
    .max_part_number = 10000,
    .multipart_etag = s3_multipart_etag,
};

#define S3_MAX_KEY_LEN 1024
#define S3_MAX_USER_META 2048 /* x-amz-meta-* names and values, as S3 counts them */

void s3_core(http_request *r, core *c)
{
    core_of_server(c, r->srv);
}

int s3_check_key(http_request *r)
{
    if (r->key_len == 0) {
        s3_error(r, S3_ERR_InvalidArgument, "The object key must not be empty.");
        return -1;
    }
    if (r->key_len > S3_MAX_KEY_LEN) {
        s3_error(r, S3_ERR_KeyTooLongError, "Your key is too long (at most %d bytes).", S3_MAX_KEY_LEN);
        return -1;
    }
    return 0;
}

int s3_require_bucket(http_request *r, vodup_meta_bucket *b)
{
    return core_http_require_bucket(r, b);
}

void s3_xml_start(vbuf *b, const char *root)
{
    vbuf_printf(b, "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<%s xmlns=\"http://s3.amazonaws.com/doc/2006-03-01/\">",
                root);
}

/* User metadata is stored as one JSON object of lower-case names without the dialect's
 * prefix, so x-amz-meta-a written here reads back as x-oss-meta-a through OSS. */
int s3_collect_user_meta(http_request *r, char **out)
{
    switch (core_http_user_meta(r, "x-amz-meta-", S3_MAX_USER_META, 0, S3_MAX_USER_META, out)) {
    case CORE_META_OK:
        return 0;
    case CORE_META_ETOOBIG:
        s3_error(r, S3_ERR_InvalidArgument, "Your metadata headers exceed the maximum allowed metadata size.");
        return -1;
    case CORE_META_ENAME:
        s3_error(r, S3_ERR_InvalidArgument, "A user metadata header needs a name after x-amz-meta-.");
        return -1;
    case CORE_META_EUTF8:
        s3_error(r, S3_ERR_InvalidArgument, "User metadata values must be UTF-8.");
        return -1;
    default:
        s3_error(r, S3_ERR_InternalError, "Out of memory.");
        return -1;
    }
}

/* ETag, Last-Modified, Content-Type, the user metadata: what GET and HEAD answer. The
 * ETag is the core's (MD5 hex, or md5-of-md5s-N for a multipart object), quoted. */
void s3_object_headers(http_response *resp, const vodup_meta_object *o)
{
    char buf[96];
    vbuf lower = VBUF_INIT;
    for (const char *p = o->etag; *p; p++)
        vbuf_putc(&lower, (char)(*p >= 'A' && *p <= 'Z' ? *p + 32 : *p));
    snprintf(buf, sizeof buf, "\"%s\"", vbuf_cstr(&lower));
    vbuf_free(&lower);
    http_response_header(resp, "ETag", buf);
    char date[30];
    vodup_time_http(date, o->mtime);
    http_response_header(resp, "Last-Modified", date);
    http_response_header(resp, "Content-Type",
                         o->content_type && *o->content_type ? o->content_type : "application/octet-stream");
    core_http_user_meta_headers(resp, o->user_meta, "x-amz-meta-");
}

int s3_url_encoding(http_request *r)
{
    int url = core_url_encoding(http_query(r, "encoding-type"));
    if (url < 0)
        s3_error(r, S3_ERR_InvalidArgument, "Invalid Encoding Method specified in Request");
    return url;
}

void s3_list_error(http_request *r, vodupd_status st, const vodupd_detail *d, core_list_arg bad,
                   const char *max_name)
{
    if (bad == CORE_LIST_ARG_MAX)
        s3_error(r, S3_ERR_InvalidArgument, "Provided %s not an integer or within integer range", max_name);
    else if (bad == CORE_LIST_ARG_TOKEN)
        s3_error(r, S3_ERR_InvalidArgument, "The continuation token provided is incorrect");
    else
        s3_status_error(r, st, d);
}

int s3_collect_xml(http_request *r, const char *p, size_t n)
{
    if (r->body.len + n > r->body_limit) {
        r->body_too_large = 1;
        s3_error(r, S3_ERR_MalformedXML, "The request body exceeds %zu bytes.", r->body_limit);
        return 0;
    }
    if (vbuf_append(&r->body, p, n) != 0)
        s3_status_error(r, VODUPD_ENOMEM, NULL);
    return 0;
}
