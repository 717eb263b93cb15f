/* upload.c - see upload.h. */
#include "server/oss/upload.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/codec.h"
#include "server/oss/oss.h"

int oss_content_length(http_request *r, uint64_t *len)
{
    return http_content_length(r, len);
}

static void upload_free(void *p)
{
    oss_upload *u = p;
    if (!u)
        return;
    core_ingest_free(u->in);
    free(u->content_type);
    free(u->user_meta);
    free(u);
}

oss_upload *oss_upload_begin(http_request *r, uint64_t max_size)
{
    uint64_t len = 0;
    int has_len = oss_content_length(r, &len);
    if (has_len < 0) {
        oss_error(r, OSS_ERR_InvalidArgument, "Content-Length is malformed.");
        return NULL;
    }
    vodupd_detail d = {0};
    if (has_len && len > max_size) {
        d.limit = max_size;
        oss_status_error(r, VODUPD_ETOOLARGE, &d);
        return NULL;
    }
    oss_upload *u = calloc(1, sizeof *u);
    if (!u) {
        oss_status_error(r, VODUPD_ENOMEM, NULL);
        return NULL;
    }
    r->op_state = u;
    r->op_free = upload_free;

    unsigned char want[16];
    int has_want = 0;
    const char *md5 = http_header(r, "Content-MD5");
    if (md5) {
        unsigned char raw[64];
        size_t n = strlen(md5);
        if (n > 80 || vodup_base64_decode(raw, md5, n) != 16) {
            oss_error(r, OSS_ERR_InvalidDigest, "The Content-MD5 you specified was invalid.");
            return NULL;
        }
        memcpy(want, raw, 16);
        has_want = 1;
    }
    core c;
    oss_core(r, &c);
    vodupd_status st = core_ingest_open(&u->in, &c, max_size, VODUPD_DIGEST_MD5 | VODUPD_DIGEST_CRC64, &d);
    if (st == VODUPD_OK && has_want)
        st = core_ingest_expect(u->in, VODUPD_DIGEST_MD5, want, 16);
    if (st != VODUPD_OK) {
        oss_status_error(r, st, &d);
        return NULL;
    }
    return u;
}

int oss_upload_body(http_request *r, const char *p, size_t n)
{
    oss_upload *u = r->op_state;
    if (!u || u->failed || !u->in)
        return 0;
    vodupd_detail d = {0};
    vodupd_status st = core_ingest_write(u->in, p, n, &d);
    if (st == VODUPD_OK)
        return 0;
    u->failed = 1;
    oss_status_error(r, st, &d);
    /* Past the limit only a chunked body gets here (a declared length was checked up
     * front): we cannot answer mid-body, so the connection is dropped. */
    return st == VODUPD_ETOOLARGE ? -1 : 0;
}

void oss_reply_written(http_request *r, const oss_upload *u)
{
    char hex[33], buf[64];
    const unsigned char *md5 = core_ingest_md5(u->in);
    vodup_hex_upper(hex, md5, 16);
    http_response *resp = http_response_empty();
    snprintf(buf, sizeof buf, "\"%s\"", hex);
    http_response_header(resp, "ETag", buf);
    snprintf(buf, sizeof buf, "%llu", (unsigned long long)core_ingest_crc64(u->in));
    http_response_header(resp, "x-oss-hash-crc64ecma", buf);
    vbuf b64 = VBUF_INIT;
    vodup_base64_encode(&b64, md5, 16);
    http_response_header(resp, "Content-MD5", vbuf_cstr(&b64));
    vbuf_free(&b64);
    http_reply(r, 200, resp);
}
