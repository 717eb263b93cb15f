/* object.c - PutObject, GetObject, HeadObject, DeleteObject over the core.
 *
 * A written body streams into the core's ingest (MD5 and CRC-64 in the same pass); when
 * the signature covers a payload hash (x-amz-content-sha256 a digest), its SHA-256 is
 * computed alongside and compared before anything is committed, so a body changed on
 * the way is refused (XAmzContentSHA256Mismatch) and nothing is stored.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/codec.h"
#include "common/digest.h"
#include "server/oss/oss.h" /* oss_parse_range: protocol-neutral, belongs in common/ */
#include "server/core/cond.h"
#include "server/core/read.h"
#include "server/s3/s3.h"
#include "server/s3/state.h"

/* The x-amz-checksum-* values the client declares, in headers or (aws-chunked) as
 * trailers announced by x-amz-trailer: computed over the body and compared at its end. */
static int checksums_begin(http_request *r, s3_state *s)
{
    unsigned algs = 0;
    for (size_t i = 0; i < r->nheaders; i++)
        algs |= vodup_s3_checksum_from_header(r->headers[i].name);
    const char *t = http_header(r, "x-amz-trailer");
    if (t && s->chunked) {
        char name[64];
        while (*t) {
            size_t k = strcspn(t, ",");
            size_t a = 0, b = k;
            while (a < b && t[a] == ' ')
                a++;
            while (b > a && t[b - 1] == ' ')
                b--;
            if (b - a < sizeof name) {
                memcpy(name, t + a, b - a);
                name[b - a] = 0;
                algs |= vodup_s3_checksum_from_header(name);
            }
            t += k + (t[k] == ',');
        }
    }
    if (!algs)
        return 0;
    if (vodup_s3_checksum_init(&s->ck, algs) != 0) {
        s3_status_error(r, VODUPD_ENOMEM, NULL);
        return -1;
    }
    s->ck_algs = algs;
    return 0;
}

static int checksums_end(http_request *r, s3_state *s)
{
    if (!s->ck_algs)
        return 0;
    vodup_s3_checksum_final(&s->ck);
    for (unsigned alg = 1; alg <= VODUP_S3_CK_ALL; alg <<= 1) {
        if (!(s->ck_algs & alg))
            continue;
        const char *name = vodup_s3_checksum_header(alg);
        const char *v = http_header(r, name);
        if (!v && s->chunked)
            v = vodup_chunked_get_trailer(s->chunked, name);
        if (!v) {
            s3_error(r, S3_ERR_InvalidRequest, "The %s trailer announced by x-amz-trailer was not sent.", name);
            return -1;
        }
        if (!vodup_s3_checksum_matches(&s->ck, alg, v)) {
            s3_error(r, S3_ERR_BadDigest, "The %s you specified did not match the calculated checksum.", name);
            return -1;
        }
    }
    return 0;
}

int s3_body_begin(http_request *r, uint64_t max_size)
{
    s3_state *s = r->op_state;
    uint64_t len = 0;
    int has_len = http_content_length(r, &len);
    if (has_len < 0) {
        s3_error(r, S3_ERR_InvalidArgument, "Content-Length is malformed.");
        return -1;
    }
    if (s->chunked) { /* the object's size is the decoded one; the framing comes on top */
        len = s->chunked->decoded_length;
        has_len = 1;
    }
    if (has_len == 0) {
        s3_error(r, S3_ERR_MissingContentLength, "You must provide the Content-Length HTTP header.");
        return -1;
    }
    vodupd_detail d = {0};
    if (len > max_size) {
        d.limit = max_size;
        s3_status_error(r, VODUPD_ETOOLARGE, &d);
        return -1;
    }
    unsigned char want[16];
    const char *md5 = http_header(r, "Content-MD5");
    if (md5) {
        unsigned char raw[64];
        size_t n = strlen(md5);
        if (n > 80 || vodup_base64_decode(raw, md5, n) != 16) {
            s3_error(r, S3_ERR_InvalidDigest, "The Content-MD5 you specified is not valid.");
            return -1;
        }
        memcpy(want, raw, 16);
    }
    if (checksums_begin(r, s) != 0)
        return -1;
    if (s->payload.check_sha256 && !(s->sha = vodup_sha256_new())) {
        s3_status_error(r, VODUPD_ENOMEM, NULL);
        return -1;
    }
    core c;
    s3_core(r, &c);
    vodupd_status st = core_ingest_open(&s->in, &c, max_size, VODUPD_DIGEST_MD5 | VODUPD_DIGEST_CRC64, &d);
    if (st == VODUPD_OK && md5)
        st = core_ingest_expect(s->in, VODUPD_DIGEST_MD5, want, 16);
    if (st != VODUPD_OK) {
        s3_status_error(r, st, &d);
        return -1;
    }
    return 0;
}

/* The decoded bytes: hashed and handed to the ingest. 0, or -1 after answering (st
 * ETOOLARGE: the caller drops the connection). */
static int sink(void *ctx, const void *p, size_t n)
{
    http_request *r = ctx;
    s3_state *s = r->op_state;
    if (s->sha)
        vodup_sha256_update(s->sha, p, n);
    if (s->ck_algs)
        vodup_s3_checksum_update(&s->ck, p, n);
    vodupd_detail d = {0};
    vodupd_status st = core_ingest_write(s->in, p, n, &d);
    if (st == VODUPD_OK)
        return 0;
    s->failed = 1;
    s3_status_error(r, st, &d);
    return st == VODUPD_ETOOLARGE ? -2 : -1;
}

static void chunked_error(http_request *r, int rc)
{
    const char *code, *msg;
    int status;
    vodup_chunked_error(rc, &code, &status, &msg);
    s3_error_code(r, (unsigned)status, code, msg);
}

int s3_body_chunk(http_request *r, const char *p, size_t n)
{
    s3_state *s = r->op_state;
    if (!s || s->failed || !s->in)
        return 0;
    if (!s->chunked)
        return sink(r, p, n) == -2 ? -1 : 0;
    int rc = vodup_chunked_feed(s->chunked, p, n, sink, r);
    if (rc == 0 || s->failed) /* ESINK: the sink answered */
        return 0;
    s->failed = 1;
    chunked_error(r, rc);
    return 0;
}

int s3_body_end(http_request *r)
{
    s3_state *s = r->op_state;
    if (!s || s->failed || !s->in || r->resp)
        return -1;
    if (s->chunked) {
        int rc = vodup_chunked_finish(s->chunked);
        if (rc != 0) {
            chunked_error(r, rc);
            return -1;
        }
    }
    vodupd_detail d = {0};
    vodupd_status st = core_ingest_finish(s->in, &d);
    if (st != VODUPD_OK) {
        s3_status_error(r, st, &d);
        return -1;
    }
    if (s->sha) {
        unsigned char got[32];
        vodup_sha256_final(s->sha, got);
        if (!vodup_ct_equal(got, 32, s->payload.sha256, 32)) {
            s3_error(r, S3_ERR_XAmzContentSHA256Mismatch,
                     "The provided 'x-amz-content-sha256' header does not match what was computed.");
            return -1;
        }
    }
    return checksums_end(r, s);
}

void s3_reply_written(http_request *r, const s3_state *s)
{
    char hex[33], etag[40];
    vodup_hex_lower(hex, core_ingest_md5(s->in), 16);
    snprintf(etag, sizeof etag, "\"%s\"", hex);
    http_response *resp = http_response_empty();
    http_response_header(resp, "ETag", etag);
    for (unsigned alg = 1; alg <= VODUP_S3_CK_ALL; alg <<= 1) {
        char v[VODUP_S3_CK_B64_MAX];
        if ((s->ck_algs & alg) && vodup_s3_checksum_value(&s->ck, alg, v) == 0)
            http_response_header(resp, vodup_s3_checksum_header(alg), v);
    }
    http_reply(r, 200, resp);
}

static int put_begin(http_request *r)
{
    if (s3_check_key(r) != 0)
        return 0;
    vodup_meta_bucket b;
    if (s3_require_bucket(r, &b) != 0)
        return 0;
    vodup_meta_bucket_clear(&b);
    s3_state *s = r->op_state;
    if (s3_collect_user_meta(r, &s->user_meta) != 0)
        return 0;
    const char *ct = http_header(r, "Content-Type");
    if (!(s->content_type = strdup(ct && *ct ? ct : "binary/octet-stream"))) {
        s3_status_error(r, VODUPD_ENOMEM, NULL);
        return 0;
    }
    s3_body_begin(r, s3_rules.max_put_size);
    return 0;
}

static void put_finish(http_request *r)
{
    s3_state *s = r->op_state;
    if (s3_body_end(r) != 0)
        return;
    core c;
    s3_core(r, &c);
    vodupd_detail d = {0};
    vodupd_status st;
    if (r->replay_only) { /* see core_scope_check */
        st = core_object_replay(&c, r->bucket, r->key, r->key_len, s->in, &d);
    } else {
        vodup_meta_guard g;
        core_put p = {r->bucket, r->key, r->key_len, s->content_type, s->user_meta, core_write_guard(&r->cred, &g)};
        st = core_object_put(&c, &p, s->in, &d);
    }
    if (st != VODUPD_OK) {
        s3_status_error(r, st, &d);
        return;
    }
    s3_reply_written(r, s);
}

const http_op s3_op_put_object = {"PutObject", put_begin, s3_body_chunk, put_finish, 1};

static int get_begin(http_request *r)
{
    if (s3_check_key(r) != 0)
        return 0;
    vodup_meta_bucket b;
    if (s3_require_bucket(r, &b) != 0)
        return 0;
    vodup_meta_bucket_clear(&b);
    /* Registered before the metadata is read: the blobs it names must outlive an
     * overwrite or delete while they are streamed. */
    vodupd_reader *reader = vodupd_reader_begin(r->srv);
    if (!reader) {
        s3_status_error(r, VODUPD_ENOMEM, NULL);
        return 0;
    }
    vodup_meta_object o;
    core c;
    s3_core(r, &c);
    vodupd_detail d = {0};
    vodupd_status st = core_object_get(&c, r->bucket, r->key, r->key_len, &o, &d);
    if (st != VODUPD_OK) {
        vodupd_reader_end(r->srv, reader);
        s3_status_error(r, st, &d);
        return 0;
    }
    core_conditions cond = {http_header(r, "If-Match"), http_header(r, "If-None-Match"),
                            http_header(r, "If-Modified-Since"), http_header(r, "If-Unmodified-Since")};
    int verdict = core_conditions_check(&cond, o.etag, o.mtime);
    if (verdict == 412) {
        vodup_meta_object_clear(&o);
        vodupd_reader_end(r->srv, reader);
        s3_error(r, S3_ERR_PreconditionFailed, "At least one of the pre-conditions you specified did not hold");
        return 0;
    }
    if (verdict == 304) { /* no body; the validators say what the client's copy is */
        http_response *nm = http_response_empty();
        if (nm)
            s3_object_headers(nm, &o);
        vodup_meta_object_clear(&o);
        vodupd_reader_end(r->srv, reader);
        if (nm)
            http_reply(r, 304, nm);
        else
            s3_status_error(r, VODUPD_ENOMEM, NULL);
        return 0;
    }
    int head = strcmp(r->method, "HEAD") == 0;
    unsigned status = 200;
    uint64_t first = 0, last = 0, len = o.size;
    /* S3 reads a range whose end passes the size up to the end; a start past it is 416;
     * a Range that is not one byte range is ignored (the whole object). */
    const char *range = http_header(r, "Range");
    int pr = oss_parse_range(range, o.size, 1, &first, &last);
    if (pr == 1) {
        status = 206;
        len = last - first + 1;
    } else if (pr < 0 && range && strncmp(range, "bytes=", 6) == 0 && !strchr(range, ',')) {
        uint64_t size = o.size;
        vodup_meta_object_clear(&o);
        vodupd_reader_end(r->srv, reader);
        s3_error(r, S3_ERR_InvalidRange, "The requested range is not satisfiable (object size %llu).",
                 (unsigned long long)size);
        return 0;
    } else {
        first = 0;
    }
    http_response *resp = NULL;
    core_body body;
    if (head)
        resp = http_response_head(len);
    else if (core_object_body(&c, &o, first, len, &body, NULL) == VODUPD_OK)
        resp = http_response_core_body(&body);
    if (!resp) {
        vodup_meta_object_clear(&o);
        vodupd_reader_end(r->srv, reader);
        s3_error(r, S3_ERR_InternalError, "The object's data could not be opened.");
        return 0;
    }
    s3_object_headers(resp, &o);
    http_response_header(resp, "Accept-Ranges", "bytes");
    if (status == 206) {
        char cr[96];
        snprintf(cr, sizeof cr, "bytes %llu-%llu/%llu", (unsigned long long)first, (unsigned long long)last,
                 (unsigned long long)o.size);
        http_response_header(resp, "Content-Range", cr);
    }
    /* User content from our origin: never sniffed into something a browser runs. */
    http_response_header(resp, "X-Content-Type-Options", "nosniff");
    r->resp_bytes = head ? 0 : len;
    vodup_meta_object_clear(&o);
    vodupd_reader_end(r->srv, reader); /* the body holds its fd or pins its blobs now */
    http_reply(r, status, resp);
    return 0;
}

const http_op s3_op_get_object = {"GetObject", get_begin, NULL, NULL, 0};
const http_op s3_op_head_object = {"HeadObject", get_begin, NULL, NULL, 0};

static int delete_begin(http_request *r)
{
    if (s3_check_key(r) != 0)
        return 0;
    vodup_meta_bucket b;
    if (s3_require_bucket(r, &b) == 0)
        vodup_meta_bucket_clear(&b);
    return 0;
}

static void delete_finish(http_request *r)
{
    core c;
    s3_core(r, &c);
    vodupd_detail d = {0};
    vodupd_status st = core_object_delete(&c, r->bucket, r->key, r->key_len, &d);
    if (st != VODUPD_OK) {
        s3_status_error(r, st, &d);
        return;
    }
    http_respond_empty(r, 204);
}

const http_op s3_op_delete_object = {"DeleteObject", delete_begin, NULL, delete_finish, 1};
