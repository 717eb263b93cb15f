/* util.c - small pieces the S3 handlers share: rules, name checks, ownership, metadata
 * headers and the XML prologue. */
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "common/codec.h"
#include "common/digest.h"
#include "common/timefmt.h"
#include "server/config.h"
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
    core c;
    s3_core(r, &c);
    vodupd_detail d = {0};
    vodupd_status st = core_bucket_get(&c, r->bucket, r->cred.account_id, b, &d);
    if (st != VODUPD_OK) {
        s3_status_error(r, st, &d);
        return -1;
    }
    return 0;
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
    *out = NULL;
    json_t *j = NULL;
    size_t total = 0;
    for (size_t i = 0; i < r->nheaders; i++) {
        const char *n = r->headers[i].name;
        if (strncasecmp(n, "x-amz-meta-", 11) != 0)
            continue;
        const char *v = r->headers[i].value;
        size_t nl = strlen(n + 11);
        total += nl + strlen(v);
        if (total > S3_MAX_USER_META) {
            json_decref(j);
            s3_error(r, S3_ERR_InvalidArgument, "Your metadata headers exceed the maximum allowed metadata size.");
            return -1;
        }
        char lower[S3_MAX_USER_META + 1];
        if (nl == 0) {
            json_decref(j);
            s3_error(r, S3_ERR_InvalidArgument, "A user metadata header needs a name after x-amz-meta-.");
            return -1;
        }
        for (size_t k = 0; k <= nl; k++) {
            char ch = n[11 + k];
            lower[k] = (char)(ch >= 'A' && ch <= 'Z' ? ch + 32 : ch);
        }
        json_t *s = json_string(v);
        if ((!j && !(j = json_object())) || !s) {
            json_decref(s);
            json_decref(j);
            s3_error(r, S3_ERR_InvalidArgument, "User metadata values must be UTF-8.");
            return -1;
        }
        json_object_set_new(j, lower, s);
    }
    if (j) {
        *out = json_dumps(j, JSON_COMPACT | JSON_SORT_KEYS);
        json_decref(j);
        if (!*out) {
            s3_error(r, S3_ERR_InternalError, "Out of memory.");
            return -1;
        }
    }
    return 0;
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
    if (!o->user_meta)
        return;
    json_t *j = json_loads(o->user_meta, 0, NULL);
    const char *k;
    json_t *v;
    if (j && json_is_object(j)) {
        json_object_foreach(j, k, v) {
            if (!json_is_string(v))
                continue;
            vbuf name = VBUF_INIT;
            vbuf_printf(&name, "x-amz-meta-%s", k);
            http_response_header(resp, vbuf_cstr(&name), json_string_value(v));
            vbuf_free(&name);
        }
    }
    json_decref(j);
}
