/* blob_s3.c - the byte store on an S3-compatible cluster (blob_s3.h), with libcurl and
 * SigV4 (common/sigv4.c, the code that verifies S3 requests also signs these).
 *
 * A blob is the object <prefix>blobs/<id>, written once and never overwritten. A writer
 * buffers up to part_size bytes: a blob that fits is one PutObject at commit; a bigger one
 * becomes a multipart upload whose parts leave as the buffer fills (the writer API is
 * synchronous: it runs on worker threads, so a part's upload blocks the writer that filled
 * it and nothing else). The object appears only when the upload completes, atomically,
 * which is what commit means: a committed blob is whole and durable (the cluster answered
 * 200 only after storing it), an aborted or crashed one never appears under its name.
 * Bodies are signed with their SHA-256, so the cluster refuses bytes altered on the way.
 *
 * Nodes. Ids begin with the writer's node tag (blob_s3.h). recover() lists only keys
 * <prefix>blobs/<tag>...: it aborts this node's unfinished multipart uploads (a crash's
 * leftovers: no other node writes under this tag) and removes this node's blobs the
 * database does not know. It runs before the node serves, so none of them is in flight.
 *
 * No fds: open_fd is NULL, and GET bodies come through read(), one ranged GetObject each.
 *
 * Connections: finished easy handles go back to a small pool (pool_mu), so that requests
 * reuse their TCP (and TLS) connections; every other field of the store is read-only
 * after open, so writers on many threads share it without further locks.
 */
#include "server/store/blob_s3.h"

#include "common/buf.h"
#include "common/codec.h"
#include "common/digest.h"
#include "common/sigv4.h"
#include "common/xml.h"

#include <curl/curl.h>
#include <ini.h>
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define POOL_MAX 32
#define MAX_PARTS 10000          /* S3's limit on parts of one multipart upload */
#define LIST_BODY_MAX (16u * 1024 * 1024)

typedef struct s3_store {
    vodup_blobstore base;
    char *endpoint;     /* no trailing '/'; what messages name */
    char *scheme;       /* "http://" or "https://" */
    char *host;         /* the Host header: the endpoint's host, after "BUCKET." in vhost style */
    char *bucket, *region, *akid, *secret, *prefix;
    char *token;        /* session token or NULL */
    int vhost;
    char tag[VODUP_BLOB_S3_TAG_LEN + 1];
    size_t part_size;
    long timeout_s;
    int part_threads;   /* full parts leave on a thread of their own (blob_s3.h) */
    pthread_mutex_t pool_mu;
    CURL *pool[POOL_MAX];
    int npool;
} s3_store;

typedef struct s3_writer {
    vodup_blob_writer base;   /* first: the vodup_blob_* wrappers reach the ops through it */
    s3_store *s;
    char id[VODUP_BLOB_ID_LEN + 1];
    vbuf key;               /* its object key */
    unsigned char *buf;     /* part_size bytes: the part being filled */
    size_t len;
    unsigned char *spare;   /* a part buffer free for reuse, or NULL */
    /* With part_threads: the one part in flight on its own thread (bg_buf, bg_len), and
     * what its upload returned once joined. Everything below is touched by that thread
     * alone while it runs, and by the writer's caller after the join. */
    pthread_t bg;
    int bg_running, failed, bg_errno;
    unsigned char *bg_buf;
    size_t bg_len;
    char *upload_id;        /* the multipart upload, once the first part left; else NULL */
    vbuf etags;             /* the CompleteMultipartUpload body, built part by part */
    int parts;
} s3_writer;

/* What one request gives back. */
typedef struct s3_resp {
    long status;
    vbuf body;              /* the response body, when no sink is given */
    unsigned char *sink;    /* else: the body goes here, at most sink_cap bytes */
    size_t sink_cap, sink_len;
    size_t body_max;        /* 0: no bound on body */
    char etag[128];
    char curl_err[128];     /* why no answer came (s3_request returned VODUP_BLOB_EIO) */
    CURL *h;                /* while the request runs */
} s3_resp;

/* ---- helpers ---------------------------------------------------------------------- */

static int key_chars_ok(const char *s)
{
    for (; *s; s++)
        if (!((*s >= 'a' && *s <= 'z') || (*s >= 'A' && *s <= 'Z') || (*s >= '0' && *s <= '9') ||
              *s == '_' || *s == '.' || *s == '-' || *s == '/'))
            return 0;
    return 1;
}

static int bucket_ok(const char *b)
{
    size_t n = strlen(b);
    if (n < 3 || n > 63)
        return 0;
    for (; *b; b++)
        if (!((*b >= 'a' && *b <= 'z') || (*b >= '0' && *b <= '9') || *b == '.' || *b == '-'))
            return 0;
    return 1;
}

void vodup_blobstore_s3_node_tag(const char *node, char tag[VODUP_BLOB_S3_TAG_LEN + 1])
{
    unsigned char h[32];
    vodup_sha256(h, node, strlen(node));
    vodup_hex_lower(tag, h, VODUP_BLOB_S3_TAG_LEN / 2);
    tag[VODUP_BLOB_S3_TAG_LEN] = '\0';
}

static CURL *handle_get(s3_store *s)
{
    CURL *c = NULL;
    pthread_mutex_lock(&s->pool_mu);
    if (s->npool > 0)
        c = s->pool[--s->npool];
    pthread_mutex_unlock(&s->pool_mu);
    if (c) {
        curl_easy_reset(c);   /* keeps the connection cache */
        return c;
    }
    return curl_easy_init();
}

static void handle_put(s3_store *s, CURL *c)
{
    pthread_mutex_lock(&s->pool_mu);
    if (s->npool < POOL_MAX) {
        s->pool[s->npool++] = c;
        c = NULL;
    }
    pthread_mutex_unlock(&s->pool_mu);
    if (c)
        curl_easy_cleanup(c);
}

static size_t on_body(char *p, size_t size, size_t nmemb, void *u)
{
    s3_resp *r = u;
    size_t n = size * nmemb;
    long status = 0;
    curl_easy_getinfo(r->h, CURLINFO_RESPONSE_CODE, &status);
    /* Only a success's body is the blob's bytes; an error's XML goes to body. */
    if (r->sink && status / 100 == 2) {
        /* A ranged GET answers with the range asked for; more would be a server bug, and
         * is refused rather than written past the caller's buffer. */
        if (n > r->sink_cap - r->sink_len)
            return 0;
        memcpy(r->sink + r->sink_len, p, n);
        r->sink_len += n;
        return n;
    }
    if (r->body_max && r->body.len + n > r->body_max)
        return 0;
    return vbuf_append(&r->body, p, n) == 0 ? n : 0;
}

static size_t on_header(char *p, size_t size, size_t nmemb, void *u)
{
    s3_resp *r = u;
    size_t n = size * nmemb;
    if (n > 5 && strncasecmp(p, "etag:", 5) == 0) {
        const char *v = p + 5;
        size_t vl = n - 5;
        while (vl && (*v == ' ' || *v == '\t'))
            v++, vl--;
        while (vl && (v[vl - 1] == '\r' || v[vl - 1] == '\n' || v[vl - 1] == ' '))
            vl--;
        if (vl < sizeof r->etag) {
            memcpy(r->etag, v, vl);
            r->etag[vl] = '\0';
        }
    }
    return n;
}

/* One signed request. key: the object key (safe chars only, see key_chars_ok) or NULL for
 * the bucket. query: decoded name/value pairs (nq of them), encoded here for the URL.
 * Returns 0 when an HTTP answer came (its status in resp->status), VODUP_BLOB_EIO (errno
 * EIO) when none did, VODUP_BLOB_ENOMEM. */
static int s3_request(s3_store *s, const char *method, const char *key, const vodup_param *query,
                      size_t nq, const void *body, size_t body_len, const char *range, s3_resp *resp)
{
    int rc = VODUP_BLOB_ENOMEM;
    vbuf path = VBUF_INIT, url = VBUF_INIT, authz = VBUF_INIT, hv = VBUF_INIT;
    struct curl_slist *hdrs = NULL;
    CURL *c = NULL;

    /* Path style names the bucket in the path, vhost style in the Host. */
    if ((s->vhost ? vbuf_printf(&path, "/%s", key ? key : "")
                  : vbuf_printf(&path, "/%s%s%s", s->bucket, key ? "/" : "", key ? key : "")) != 0)
        goto out;
    if (vbuf_printf(&url, "%s%s%s", s->scheme, s->host, vbuf_cstr(&path)) != 0)
        goto out;
    for (size_t i = 0; i < nq; i++) {
        if (vbuf_putc(&url, i ? '&' : '?') != 0 ||
            vodup_uri_encode(&url, query[i].name, strlen(query[i].name), 0) != 0 ||
            vbuf_putc(&url, '=') != 0 ||
            vodup_uri_encode(&url, query[i].value, query[i].value_len, 0) != 0)
            goto out;
    }

    char hash[65];
    if (body_len) {
        unsigned char h[32];
        vodup_sha256(h, body, body_len);
        vodup_hex_lower(hash, h, 32);
        hash[64] = '\0';
    } else {
        memcpy(hash, VODUP_S3_EMPTY_SHA256, 65);
    }
    char amz_date[17];
    time_t now = time(NULL);
    struct tm tm;
    gmtime_r(&now, &tm);
    strftime(amz_date, sizeof amz_date, "%Y%m%dT%H%M%SZ", &tm);

    /* Temporary credentials sign their token too (sorted: it comes last). */
    vodup_header sh[4] = {{"host", s->host},
                          {"x-amz-content-sha256", hash},
                          {"x-amz-date", amz_date},
                          {"x-amz-security-token", s->token}};
    vodup_s3_request r = {.method = method, .path = vbuf_cstr(&path), .path_len = path.len,
                          .query = query, .nquery = nq, .headers = sh, .nheaders = s->token ? 4 : 3};
    if (vodup_s3_sign_header(&authz, &r, s->akid, s->secret, s->region, "s3",
                             s->token ? "host;x-amz-content-sha256;x-amz-date;x-amz-security-token"
                                      : "host;x-amz-content-sha256;x-amz-date") != 0)
        goto out;

    struct curl_slist *t;
#define HDR(...)                                                                    \
    do {                                                                            \
        vbuf_reset(&hv);                                                            \
        if (vbuf_printf(&hv, __VA_ARGS__) != 0 ||                                   \
            !(t = curl_slist_append(hdrs, vbuf_cstr(&hv))))                         \
            goto out;                                                               \
        hdrs = t;                                                                   \
    } while (0)
    HDR("Host: %s", s->host);
    HDR("x-amz-content-sha256: %s", hash);
    HDR("x-amz-date: %s", amz_date);
    HDR("Authorization: %s", vbuf_cstr(&authz));
    if (s->token)
        HDR("x-amz-security-token: %s", s->token);
    HDR("Expect:");   /* no 100-continue round trip: the body is in memory and signed */
    if (range)
        HDR("Range: %s", range);
    if (!strcmp(method, "PUT") || !strcmp(method, "POST"))
        HDR("Content-Type: application/octet-stream");
#undef HDR

    if (!(c = handle_get(s)))
        goto out;
    curl_easy_setopt(c, CURLOPT_URL, vbuf_cstr(&url));
    curl_easy_setopt(c, CURLOPT_HTTPHEADER, hdrs);
    curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(c, CURLOPT_TIMEOUT, s->timeout_s);
    curl_easy_setopt(c, CURLOPT_CONNECTTIMEOUT, 10L);
    curl_easy_setopt(c, CURLOPT_PROTOCOLS_STR, "http,https");
    curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, on_body);
    curl_easy_setopt(c, CURLOPT_WRITEDATA, resp);
    curl_easy_setopt(c, CURLOPT_HEADERFUNCTION, on_header);
    curl_easy_setopt(c, CURLOPT_HEADERDATA, resp);
    if (!strcmp(method, "GET")) {
        curl_easy_setopt(c, CURLOPT_HTTPGET, 1L);
    } else if (!strcmp(method, "HEAD")) {
        curl_easy_setopt(c, CURLOPT_NOBODY, 1L);
    } else {
        curl_easy_setopt(c, CURLOPT_CUSTOMREQUEST, method);
        if (!strcmp(method, "PUT") || !strcmp(method, "POST")) {
            curl_easy_setopt(c, CURLOPT_POSTFIELDS, body ? (const char *)body : "");
            curl_easy_setopt(c, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)body_len);
        }
    }
    resp->h = c;
    CURLcode cc = curl_easy_perform(c);
    if (cc != CURLE_OK) {
        /* The endpoint, never the URL's query or a header: nothing secret. */
        fprintf(stderr, "vodup blob s3: %s %s: %s\n", method, s->endpoint, curl_easy_strerror(cc));
        snprintf(resp->curl_err, sizeof resp->curl_err, "%s", curl_easy_strerror(cc));
        errno = EIO;
        rc = VODUP_BLOB_EIO;
        curl_easy_cleanup(c);   /* its connection may be half used: not back to the pool */
        c = NULL;
        goto out;
    }
    curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &resp->status);
    rc = 0;
out:
    if (c) {
        curl_easy_setopt(c, CURLOPT_HTTPHEADER, NULL);
        handle_put(s, c);
    }
    curl_slist_free_all(hdrs);
    vbuf_free(&path);
    vbuf_free(&url);
    if (hv.len)   /* may have held the session token */
        memset(hv.data, 0, hv.len);
    vbuf_free(&hv);
    if (authz.len)
        memset(authz.data, 0, authz.len);
    vbuf_free(&authz);
    return rc;
}

/* The S3 error code of an answer's body (<Code>...</Code>) into code, "" if none. */
static void error_code(const s3_resp *r, char code[64])
{
    const char *c = strstr(vbuf_cstr(&r->body), "<Code>");
    const char *end = c ? strstr(c + 6, "</Code>") : NULL;
    size_t n = end && end - (c + 6) < 64 ? (size_t)(end - (c + 6)) : 0;
    if (n)
        memcpy(code, c + 6, n);
    code[n] = '\0';
}

/* An answer that is not the expected one: logged with its S3 error code (no secrets in
 * those), EIO to the caller. */
static int s3_fail(const char *what, const s3_resp *r)
{
    char code[64];
    error_code(r, code);
    fprintf(stderr, "vodup blob s3: %s: HTTP %ld %s\n", what, r->status, code);
    errno = EIO;
    return VODUP_BLOB_EIO;
}

static int blob_key(vbuf *k, const s3_store *s, const char *id)
{
    return vbuf_printf(k, "%sblobs/%s", s->prefix, id);
}

/* ---- writer ------------------------------------------------------------------------ */

static int s3_writer_open(vodup_blobstore *bs, vodup_blob_writer **wp)
{
    s3_store *s = (s3_store *)bs;
    s3_writer *w = calloc(1, sizeof *w);
    if (!w || !(w->buf = malloc(s->part_size))) {
        free(w);
        return VODUP_BLOB_ENOMEM;
    }
    w->base.bs = bs;
    w->s = s;
    unsigned char raw[(VODUP_BLOB_ID_LEN - VODUP_BLOB_S3_TAG_LEN) / 2];
    if (vodup_random(raw, sizeof raw) != 0) {
        free(w->buf);
        free(w);
        errno = EIO;
        return VODUP_BLOB_EIO;
    }
    memcpy(w->id, s->tag, VODUP_BLOB_S3_TAG_LEN);
    vodup_hex_lower(w->id + VODUP_BLOB_S3_TAG_LEN, raw, sizeof raw);
    w->id[VODUP_BLOB_ID_LEN] = '\0';
    if (blob_key(&w->key, s, w->id) != 0) {
        vbuf_free(&w->key);
        free(w->buf);
        free(w);
        return VODUP_BLOB_ENOMEM;
    }
    *wp = &w->base;
    return VODUP_BLOB_OK;
}

/* Sends data (len bytes) as the next part, starting the multipart upload first if need be. */
static int send_part(s3_writer *w, const unsigned char *data, size_t len)
{
    s3_store *s = w->s;
    const char *key = vbuf_cstr(&w->key);
    s3_resp r = {.body_max = 1 << 20};
    int rc;
    if (!w->upload_id) {
        vodup_param q[] = {{"uploads", "", 0}};
        if ((rc = s3_request(s, "POST", key, q, 1, NULL, 0, NULL, &r)) != 0)
            goto out;
        vodup_xml_node *root = NULL;
        const vodup_xml_node *id = NULL;
        if (r.status == 200 && vodup_xml_parse(&root, r.body.data, r.body.len, NULL) == 0)
            id = vodup_xml_child(root, "UploadId");
        if (!id || !id->text_len) {
            vodup_xml_free(root);
            rc = s3_fail("InitiateMultipartUpload", &r);
            goto out;
        }
        w->upload_id = strdup(id->text);
        vodup_xml_free(root);
        rc = VODUP_BLOB_ENOMEM;
        if (!w->upload_id || vbuf_puts(&w->etags, "<CompleteMultipartUpload>") != 0)
            goto out;
        vbuf_reset(&r.body);
        r.etag[0] = '\0';
    }
    /* S3's limit: a blob of more than MAX_PARTS parts (80 GB at the default part size). */
    if (w->parts >= MAX_PARTS) {
        errno = EFBIG;
        rc = VODUP_BLOB_EIO;
        goto out;
    }
    char num[16];
    snprintf(num, sizeof num, "%d", w->parts + 1);
    vodup_param q[] = {{"partNumber", num, strlen(num)},
                       {"uploadId", w->upload_id, strlen(w->upload_id)}};
    if ((rc = s3_request(s, "PUT", key, q, 2, data, len, NULL, &r)) != 0)
        goto out;
    if (r.status != 200 || !r.etag[0]) {
        rc = s3_fail("UploadPart", &r);
        goto out;
    }
    rc = VODUP_BLOB_ENOMEM;
    if (vbuf_printf(&w->etags, "<Part><PartNumber>%s</PartNumber><ETag>", num) != 0 ||
        vodup_xml_escape(&w->etags, r.etag, strlen(r.etag)) != 0 ||
        vbuf_puts(&w->etags, "</ETag></Part>") != 0)
        goto out;
    w->parts++;
    rc = VODUP_BLOB_OK;
out:
    vbuf_free(&r.body);
    return rc;
}

static void *part_thread(void *u)
{
    s3_writer *w = u;
    w->failed = send_part(w, w->bg_buf, w->bg_len);
    w->bg_errno = errno;   /* errno is per thread: handed over at the join */
    return NULL;
}

/* Waits for the part in flight, if any; its buffer becomes the spare. Its result, and any
 * earlier failure, sticks: VODUP_BLOB_OK or the error. */
static int wait_part(s3_writer *w)
{
    if (w->bg_running) {
        pthread_join(w->bg, NULL);
        w->bg_running = 0;
        if (!w->spare) {
            w->spare = w->bg_buf;
            w->bg_buf = NULL;
        }
        if (w->failed)
            errno = w->bg_errno;
    }
    return w->failed;
}

/* The full buffer leaves as the next part. Request bodies are written on an event-loop
 * thread (http/front.c), so with part_threads the upload runs on a thread of its own
 * while the next part fills: the caller waits on the cluster only when it fills a part
 * before the previous one has left. At most two part buffers per writer. */
static int flush_part(s3_writer *w)
{
    if (!w->s->part_threads) {
        int rc = send_part(w, w->buf, w->len);
        w->len = 0;
        return rc;
    }
    int rc = wait_part(w);
    if (rc != VODUP_BLOB_OK)
        return rc;
    unsigned char *next = w->spare ? w->spare : malloc(w->s->part_size);
    if (!next)
        return VODUP_BLOB_ENOMEM;
    w->spare = NULL;
    free(w->bg_buf);
    w->bg_buf = w->buf;
    w->bg_len = w->len;
    w->buf = next;
    w->len = 0;
    if (pthread_create(&w->bg, NULL, part_thread, w) != 0) {
        /* no thread to be had: send it here */
        w->failed = send_part(w, w->bg_buf, w->bg_len);
        return w->failed;
    }
    w->bg_running = 1;
    return VODUP_BLOB_OK;
}

static int s3_writer_write(vodup_blob_writer *wp, const void *p, size_t n)
{
    s3_writer *w = (s3_writer *)wp;
    const unsigned char *b = p;
    /* A part that left on its own thread failed: the blob cannot be whole. (failed is the
     * thread's to write until it is joined.) */
    if (!w->bg_running && w->failed)
        return w->failed;
    while (n) {
        size_t room = w->s->part_size - w->len;
        size_t k = n < room ? n : room;
        memcpy(w->buf + w->len, b, k);
        w->len += k;
        b += k;
        n -= k;
        /* A full buffer leaves only once more bytes come: the last part may be any size,
         * and a blob of exactly part_size stays one PutObject. */
        if (n && w->len == w->s->part_size) {
            int rc = flush_part(w);
            if (rc != 0)
                return rc;
        }
    }
    return VODUP_BLOB_OK;
}

static void abort_upload(s3_store *s, const char *key, const char *upload_id)
{
    vodup_param q[] = {{"uploadId", (char *)upload_id, strlen(upload_id)}};
    s3_resp r = {.body_max = 1 << 16};
    if (s3_request(s, "DELETE", key, q, 1, NULL, 0, NULL, &r) == 0 && r.status != 204 &&
        r.status != 200 && r.status != 404)
        s3_fail("AbortMultipartUpload", &r);
    vbuf_free(&r.body);
}

static void writer_free(s3_writer *w)
{
    free(w->buf);
    free(w->spare);
    free(w->bg_buf);
    free(w->upload_id);
    vbuf_free(&w->key);
    vbuf_free(&w->etags);
    free(w);
}

static int s3_writer_commit(vodup_blob_writer *wp, char id[VODUP_BLOB_ID_LEN + 1])
{
    s3_writer *w = (s3_writer *)wp;
    s3_store *s = w->s;
    const char *key = vbuf_cstr(&w->key);
    s3_resp r = {.body_max = 1 << 20};
    int rc = wait_part(w);
    if (rc != VODUP_BLOB_OK)
        goto out;
    if (!w->upload_id) {
        if ((rc = s3_request(s, "PUT", key, NULL, 0, w->buf, w->len, NULL, &r)) != 0)
            goto out;
        if (r.status != 200) {
            rc = s3_fail("PutObject", &r);
            goto out;
        }
    } else {
        if (w->len && (rc = send_part(w, w->buf, w->len)) != 0)
            goto out;
        rc = VODUP_BLOB_ENOMEM;
        if (vbuf_puts(&w->etags, "</CompleteMultipartUpload>") != 0)
            goto out;
        vodup_param q[] = {{"uploadId", w->upload_id, strlen(w->upload_id)}};
        if ((rc = s3_request(s, "POST", key, q, 1, w->etags.data, w->etags.len, NULL,
                             &r)) != 0)
            goto out;
        /* S3 may answer 200 with an <Error> body when it failed after sending the status. */
        if (r.status != 200 || strstr(vbuf_cstr(&r.body), "<Error>")) {
            rc = s3_fail("CompleteMultipartUpload", &r);
            goto out;
        }
    }
    memcpy(id, w->id, VODUP_BLOB_ID_LEN + 1);
    rc = VODUP_BLOB_OK;
out:
    if (rc != VODUP_BLOB_OK && w->upload_id)
        abort_upload(s, key, w->upload_id);
    vbuf_free(&r.body);
    writer_free(w);
    return rc;
}

static void s3_writer_abort(vodup_blob_writer *wp)
{
    s3_writer *w = (s3_writer *)wp;
    wait_part(w);   /* its upload may be the one that started the multipart upload */
    if (w->upload_id)
        abort_upload(w->s, vbuf_cstr(&w->key), w->upload_id);
    writer_free(w);
}

/* ---- read, remove ------------------------------------------------------------------- */

static ssize_t s3_read(vodup_blobstore *bs, const char *id, uint64_t off, void *p, size_t n)
{
    s3_store *s = (s3_store *)bs;
    if (!vodup_blob_id_valid(id))
        return VODUP_BLOB_ENOENT;
    if (n == 0)
        return 0;
    vbuf key = VBUF_INIT;
    char range[64];
    snprintf(range, sizeof range, "bytes=%llu-%llu", (unsigned long long)off,
             (unsigned long long)(off + n - 1));
    s3_resp r = {.sink = p, .sink_cap = n};
    ssize_t rc = VODUP_BLOB_ENOMEM;
    if (blob_key(&key, s, id) != 0)
        goto out;
    if ((rc = s3_request(s, "GET", vbuf_cstr(&key), NULL, 0, NULL, 0, range, &r)) != 0)
        goto out;
    if (r.status == 206 || r.status == 200)
        rc = (ssize_t)r.sink_len;   /* 200: a blob shorter than the range, whole */
    else if (r.status == 416)
        rc = 0;                     /* off at or past the end */
    else if (r.status == 404)
        rc = VODUP_BLOB_ENOENT;
    else
        rc = s3_fail("GetObject", &r);
    if (r.status == 200 && off > 0)   /* the whole blob from 0: not what was asked */
        rc = s3_fail("GetObject ignored Range", &r);
out:
    vbuf_free(&key);
    vbuf_free(&r.body);
    return rc;
}

static int s3_remove(vodup_blobstore *bs, const char *id)
{
    s3_store *s = (s3_store *)bs;
    if (!vodup_blob_id_valid(id))
        return VODUP_BLOB_ENOENT;
    vbuf key = VBUF_INIT;
    s3_resp r = {.body_max = 1 << 16};
    int rc = VODUP_BLOB_ENOMEM;
    if (blob_key(&key, s, id) == 0 &&
        (rc = s3_request(s, "DELETE", vbuf_cstr(&key), NULL, 0, NULL, 0, NULL, &r)) == 0 &&
        r.status != 204 && r.status != 200 && r.status != 404)
        rc = s3_fail("DeleteObject", &r);
    vbuf_free(&key);
    vbuf_free(&r.body);
    return rc;
}

/* ---- recover -------------------------------------------------------------------------- */

/* One page of a listing of this node's keys: ListMultipartUploads (uploads = 1) or
 * ListObjectsV2. *marker (key, and upload id for uploads) carries the position between
 * pages; "" at the start. Calls fn for each entry; sets *more. */
static int list_page(s3_store *s, int uploads, vbuf *marker, vbuf *marker2,
                     int (*fn)(s3_store *s, const char *key, const char *upload_id, void *u),
                     void *u, int *more)
{
    vbuf prefix = VBUF_INIT;
    s3_resp r = {.body_max = LIST_BODY_MAX};
    vodup_xml_node *root = NULL;
    vodup_xml_limits lim = {LIST_BODY_MAX, 16, 200000};
    int rc = VODUP_BLOB_ENOMEM;
    *more = 0;
    if (vbuf_printf(&prefix, "%sblobs/%s", s->prefix, s->tag) != 0)
        goto out;
    vodup_param q[4];
    size_t nq = 0;
    if (uploads) {
        if (marker->len) {
            q[nq++] = (vodup_param){"key-marker", (char *)vbuf_cstr(marker), marker->len};
            q[nq++] = (vodup_param){"upload-id-marker", (char *)vbuf_cstr(marker2), marker2->len};
        }
        q[nq++] = (vodup_param){"prefix", (char *)vbuf_cstr(&prefix), prefix.len};
        q[nq++] = (vodup_param){"uploads", "", 0};
    } else {
        if (marker->len)
            q[nq++] = (vodup_param){"continuation-token", (char *)vbuf_cstr(marker), marker->len};
        q[nq++] = (vodup_param){"list-type", "2", 1};
        q[nq++] = (vodup_param){"prefix", (char *)vbuf_cstr(&prefix), prefix.len};
    }
    if ((rc = s3_request(s, "GET", NULL, q, nq, NULL, 0, NULL, &r)) != 0)
        goto out;
    if (r.status != 200 || vodup_xml_parse(&root, r.body.data, r.body.len, &lim) != 0) {
        rc = s3_fail(uploads ? "ListMultipartUploads" : "ListObjectsV2", &r);
        goto out;
    }
    const char *item = uploads ? "Upload" : "Contents";
    for (const vodup_xml_node *e = vodup_xml_child(root, item); e; e = vodup_xml_next(e, item)) {
        const vodup_xml_node *k = vodup_xml_child(e, "Key");
        const vodup_xml_node *id = uploads ? vodup_xml_child(e, "UploadId") : NULL;
        if (!k || (uploads && !id))
            continue;
        if ((rc = fn(s, k->text, id ? id->text : NULL, u)) < 0)
            goto out;
    }
    const vodup_xml_node *trunc = vodup_xml_child(root, "IsTruncated");
    *more = trunc && !strcmp(trunc->text, "true");
    if (*more) {
        const vodup_xml_node *m1 = vodup_xml_child(root, uploads ? "NextKeyMarker" : "NextContinuationToken");
        const vodup_xml_node *m2 = uploads ? vodup_xml_child(root, "NextUploadIdMarker") : NULL;
        vbuf_reset(marker);
        vbuf_reset(marker2);
        if (!m1 || !m1->text_len || (uploads && !m2)) {
            rc = s3_fail("listing: truncated without a marker", &r);
            goto out;
        }
        if (vbuf_append(marker, m1->text, m1->text_len) != 0 ||
            (m2 && vbuf_append(marker2, m2->text, m2->text_len) != 0)) {
            rc = VODUP_BLOB_ENOMEM;
            goto out;
        }
    }
    rc = 0;
out:
    vodup_xml_free(root);
    vbuf_free(&prefix);
    vbuf_free(&r.body);
    return rc;
}

typedef struct recover_ctx {
    int (*is_live)(const char *id, void *u);
    void *u;
    long removed;
} recover_ctx;

static int drop_upload(s3_store *s, const char *key, const char *upload_id, void *u)
{
    recover_ctx *rc = u;
    abort_upload(s, key, upload_id);
    rc->removed++;
    return 0;
}

static int sweep_blob(s3_store *s, const char *key, const char *upload_id, void *u)
{
    (void)upload_id;
    recover_ctx *rc = u;
    size_t pl = strlen(s->prefix) + strlen("blobs/");
    if (strlen(key) < pl)
        return 0;
    const char *id = key + pl;
    /* Under our tag but not an id we write: not ours to judge; leave it for a human. */
    if (!vodup_blob_id_valid(id))
        return 0;
    int live = rc->is_live(id, rc->u);
    if (live < 0)
        return -1;   /* without a reliable answer, deleting could lose acknowledged data */
    if (live)
        return 0;
    if (s3_remove(&s->base, id) != 0)
        return -1;
    rc->removed++;
    return 0;
}

static long s3_recover(vodup_blobstore *bs, int (*is_live)(const char *id, void *u), void *u)
{
    s3_store *s = (s3_store *)bs;
    recover_ctx ctx = {is_live, u, 0};
    vbuf m1 = VBUF_INIT, m2 = VBUF_INIT;
    long rc = 0;
    int more = 1;
    while (more && rc == 0)
        rc = list_page(s, 1, &m1, &m2, drop_upload, &ctx, &more);
    vbuf_reset(&m1);
    vbuf_reset(&m2);
    more = 1;
    while (more && rc == 0)
        rc = list_page(s, 0, &m1, &m2, sweep_blob, &ctx, &more);
    vbuf_free(&m1);
    vbuf_free(&m2);
    return rc == 0 ? ctx.removed : -1;
}

/* ---- open, close ---------------------------------------------------------------------- */

static void s3_close(vodup_blobstore *bs)
{
    s3_store *s = (s3_store *)bs;
    if (!s)
        return;
    for (int i = 0; i < s->npool; i++)
        curl_easy_cleanup(s->pool[i]);
    pthread_mutex_destroy(&s->pool_mu);
    if (s->secret)
        memset(s->secret, 0, strlen(s->secret));
    if (s->token)
        memset(s->token, 0, strlen(s->token));
    free(s->token);
    free(s->endpoint);
    free(s->scheme);
    free(s->host);
    free(s->bucket);
    free(s->region);
    free(s->akid);
    free(s->secret);
    free(s->prefix);
    free(s);
}

static const vodup_blobstore_ops s3_ops = {
    .name = "s3",
    .writer_open = s3_writer_open,
    .writer_write = s3_writer_write,
    .writer_commit = s3_writer_commit,
    .writer_abort = s3_writer_abort,
    .read = s3_read,
    .open_fd = NULL,        /* no local fds: callers read through read() */
    .remove = s3_remove,
    .recover = s3_recover,
    .close = s3_close,
    .space_check = NULL,    /* the cluster's space is the cluster's: it answers full itself */
};

vodup_blobstore *vodup_blobstore_s3_open(const vodup_blobstore_s3_config *cfg)
{
    const char *ep = cfg ? cfg->endpoint : NULL;
    const char *hostp = NULL;
    if (ep && !strncmp(ep, "http://", 7))
        hostp = ep + 7;
    else if (ep && !strncmp(ep, "https://", 8))
        hostp = ep + 8;
    size_t part = cfg && cfg->part_size ? cfg->part_size : VODUP_BLOB_S3_DEFAULT_PART;
    const char *prefix = cfg && cfg->prefix ? cfg->prefix : "";
    /* host[:port] and at most a trailing '/': requests go to /bucket/key or /key */
    const char *slash = hostp ? strchr(hostp, '/') : NULL;
    if (!hostp || !*hostp || *hostp == '/' || (slash && slash[strspn(slash, "/")]) ||
        strpbrk(hostp, "@?#") || !cfg->bucket ||
        !bucket_ok(cfg->bucket) || !key_chars_ok(prefix) || !cfg->region ||
        !cfg->access_key_id || !cfg->secret || !cfg->node || !vodup_blob_node_valid(cfg->node) ||
        part < VODUP_BLOB_S3_MIN_PART) {
        errno = EINVAL;
        return NULL;
    }
    s3_store *s = calloc(1, sizeof *s);
    if (!s) {
        errno = ENOMEM;
        return NULL;
    }
    s->base.ops = &s3_ops;
    pthread_mutex_init(&s->pool_mu, NULL);
    size_t el = strlen(ep);
    while (el > 0 && ep[el - 1] == '/')
        el--;
    s->endpoint = strndup(ep, el);
    s->scheme = strndup(ep, (size_t)(hostp - ep));
    s->vhost = cfg->vhost != 0;
    if (s->vhost) {
        /* A bucket name with dots would not match a wildcard certificate; S3 wants path
         * style for those anyway. */
        size_t hl = strlen(hostp);
        while (hl > 0 && hostp[hl - 1] == '/')
            hl--;
        size_t n = strlen(cfg->bucket) + hl + 2;
        if ((s->host = malloc(n)))
            snprintf(s->host, n, "%s.%.*s", cfg->bucket, (int)hl, hostp);
    } else {
        s->host = strndup(hostp, strcspn(hostp, "/"));
    }
    s->token = cfg->session_token && *cfg->session_token ? strdup(cfg->session_token) : NULL;
    s->bucket = strdup(cfg->bucket);
    s->region = strdup(cfg->region);
    s->akid = strdup(cfg->access_key_id);
    s->secret = strdup(cfg->secret);
    s->prefix = strdup(prefix);
    s->part_size = part;
    s->timeout_s = cfg->timeout_s > 0 ? cfg->timeout_s : 60;
    s->part_threads = cfg->part_threads != 0;
    vodup_blobstore_s3_node_tag(cfg->node, s->tag);
    if (!s->endpoint || !s->scheme || !s->host || !s->bucket || !s->region || !s->akid ||
        !s->secret || !s->prefix || (cfg->session_token && *cfg->session_token && !s->token)) {
        s3_close(&s->base);
        errno = ENOMEM;
        return NULL;
    }
    return &s->base;
}

void vodup_blobstore_s3_describe(const vodup_blobstore *bs, char *out, size_t n)
{
    const s3_store *s = (const s3_store *)bs;
    snprintf(out, n, "bucket %s, prefix %s, at %s (%s style), node tag %s", s->bucket, *s->prefix ? s->prefix : "(none)",
             s->endpoint, s->vhost ? "vhost" : "path", s->tag);
}

int vodup_blobstore_is_s3(const vodup_blobstore *bs)
{
    return bs && bs->ops == &s3_ops;
}

/* ---- --bytes URLs and credentials ------------------------------------------------------ */

void vodup_blobstore_s3_url_free(vodup_blobstore_s3_url *u)
{
    free(u->endpoint);
    free(u->bucket);
    free(u->prefix);
    free(u->region);
    memset(u, 0, sizeof *u);
}

/* A query parameter's name that asks for a credential in the URL. */
static int names_credential(const char *n)
{
    static const char *words[] = {"key", "secret", "token", "password", "credential"};
    for (size_t i = 0; i < sizeof words / sizeof words[0]; i++)
        if (strcasestr(n, words[i]))
            return 1;
    return 0;
}

#define URL_ERR(...) (snprintf(err, errlen, __VA_ARGS__), vodup_blobstore_s3_url_free(u), -1)

int vodup_blobstore_s3_url_parse(vodup_blobstore_s3_url *u, const char *url, char *err, size_t errlen)
{
    memset(u, 0, sizeof *u);
    static const char creds_hint[] =
        "--bytes takes no credentials: set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY (or the AWS credentials file)";
    if (strncmp(url, VODUP_BLOB_S3_SCHEME, strlen(VODUP_BLOB_S3_SCHEME)) != 0)
        return URL_ERR("--bytes wants s3://BUCKET?endpoint=URL");
    const char *p = url + strlen(VODUP_BLOB_S3_SCHEME);
    size_t pl = strcspn(p, "?#");
    if (p[pl] == '#')
        return URL_ERR("--bytes: a URL fragment ('#') is not allowed");
    if (memchr(p, '@', pl))
        return URL_ERR("%s", creds_hint);
    size_t bl = strcspn(p, "/?#");
    if (!(u->bucket = strndup(p, bl)))
        return URL_ERR("out of memory");
    if (!bucket_ok(u->bucket))
        return URL_ERR("--bytes: the bucket name must be 3 to 63 of a-z, 0-9, '.' and '-'");
    /* s3://BUCKET/PREFIX: every key under PREFIX/, so that vodupd can share a bucket. */
    const char *pre = p + bl + (p[bl] == '/');
    size_t prl = pl - (size_t)(pre - p);
    while (prl > 0 && pre[prl - 1] == '/')
        prl--;
    if (!(u->prefix = malloc(prl + 2)))
        return URL_ERR("out of memory");
    memcpy(u->prefix, pre, prl);
    if (prl)
        u->prefix[prl++] = '/';
    u->prefix[prl] = '\0';
    if (!key_chars_ok(u->prefix) || u->prefix[0] == '/' || strstr(u->prefix, "//"))
        return URL_ERR("--bytes: the key prefix after the bucket may hold only A-Z a-z 0-9 _ . - and single '/'");
    const char *q = p[pl] == '?' ? p + pl + 1 : "";
    const char *style = NULL;
    while (*q) {
        size_t il = strcspn(q, "&"), nl = strcspn(q, "=&");
        char name[33];
        snprintf(name, sizeof name, "%.*s", (int)(nl < 32 ? nl : 32), q);
        vbuf v = VBUF_INIT;
        int has_nul = 0;
        const char *val = q + nl + (nl < il);
        size_t vl = il - (size_t)(val - q);
        if (vodup_uri_decode(&v, val, vl, 0, &has_nul) != 0 || vbuf_putc(&v, '\0') != 0) {
            vbuf_free(&v);
            return URL_ERR("--bytes: a parameter is not percent-encoded properly");
        }
        char **slot = NULL;
        int known = 1;
        if (!strcmp(name, "endpoint"))
            slot = &u->endpoint;
        else if (!strcmp(name, "region"))
            slot = &u->region;
        else if (!strcmp(name, "style"))
            slot = (char **)&style;
        else
            known = 0;
        if (!known || has_nul || (slot && *slot) || !v.len || !v.data[0]) {
            vbuf_free(&v);
            if (has_nul)
                return URL_ERR("--bytes: a parameter holds a NUL byte");
            if (!known && names_credential(name))
                return URL_ERR("%s", creds_hint);
            if (!known)
                return URL_ERR("--bytes: unknown parameter '%s' (endpoint, region and style are known)", name);
            if (*slot)
                return URL_ERR("--bytes: %s is given twice", name);
            return URL_ERR("--bytes: %s has no value", name);
        }
        *slot = v.data;   /* NUL-terminated above; owned now */
        q += il + (q[il] == '&');
    }
    int bad_style = style && strcmp(style, "path") && strcmp(style, "vhost");
    u->vhost = style && !strcmp(style, "vhost");
    free((char *)style);
    if (bad_style)
        return URL_ERR("--bytes: style is path or vhost");
    if (!u->endpoint)
        return URL_ERR("--bytes wants the cluster's address: s3://BUCKET?endpoint=http://HOST:PORT");
    const char *e = u->endpoint, *h = NULL;
    if (!strncmp(e, "http://", 7))
        h = e + 7;
    else if (!strncmp(e, "https://", 8))
        h = e + 8;
    size_t el = strlen(e);
    while (el > 0 && e[el - 1] == '/')
        u->endpoint[--el] = '\0';
    if (!h || !*h || strpbrk(h, "@"))
        return URL_ERR(strpbrk(e, "@") ? "%s" : "--bytes: endpoint wants http://HOST[:PORT] or https://HOST[:PORT]",
                       creds_hint);
    if (strpbrk(h, "/?#"))
        return URL_ERR("--bytes: endpoint is the cluster's address alone, without a path (%s)", u->endpoint);
    if (!u->region && !(u->region = strdup("us-east-1")))
        return URL_ERR("out of memory");
    for (const char *r = u->region; *r; r++)
        if (!((*r >= 'a' && *r <= 'z') || (*r >= '0' && *r <= '9') || *r == '-') || r - u->region >= 40)
            return URL_ERR("--bytes: region is a-z, 0-9 and '-' (at most 40)");
    return 0;
}
#undef URL_ERR

void vodup_blobstore_s3_creds_free(vodup_blobstore_s3_creds *c)
{
    if (c->secret)
        memset(c->secret, 0, strlen(c->secret));
    if (c->session_token)
        memset(c->session_token, 0, strlen(c->session_token));
    free(c->access_key_id);
    free(c->secret);
    free(c->session_token);
    memset(c, 0, sizeof *c);
}

typedef struct creds_file_ctx {
    const char *profile;
    vodup_blobstore_s3_creds *c;
    int seen, oom;
} creds_file_ctx;

static int on_creds_entry(void *user, const char *section, const char *name, const char *value)
{
    creds_file_ctx *x = user;
    if (strcmp(section, x->profile) != 0)
        return 1;
    x->seen = 1;
    char **slot = !strcmp(name, "aws_access_key_id")       ? &x->c->access_key_id
                  : !strcmp(name, "aws_secret_access_key") ? &x->c->secret
                  : !strcmp(name, "aws_session_token")     ? &x->c->session_token
                                                           : NULL;
    if (slot && *value) {
        if (*slot) {
            memset(*slot, 0, strlen(*slot));
            free(*slot);
        }
        if (!(*slot = strdup(value)))
            x->oom = 1;
    }
    return 1;
}

int vodup_blobstore_s3_creds_load(vodup_blobstore_s3_creds *c, char *err, size_t errlen)
{
    memset(c, 0, sizeof *c);
    const char *ak = getenv("AWS_ACCESS_KEY_ID"), *sk = getenv("AWS_SECRET_ACCESS_KEY");
    const char *tok = getenv("AWS_SESSION_TOKEN");
    if ((ak && *ak) || (sk && *sk)) {
        if (!ak || !*ak || !sk || !*sk) {
            snprintf(err, errlen, "%s is set but %s is not: the S3 byte store wants both",
                     ak && *ak ? "AWS_ACCESS_KEY_ID" : "AWS_SECRET_ACCESS_KEY",
                     ak && *ak ? "AWS_SECRET_ACCESS_KEY" : "AWS_ACCESS_KEY_ID");
            return -1;
        }
        c->access_key_id = strdup(ak);
        c->secret = strdup(sk);
        c->session_token = tok && *tok ? strdup(tok) : NULL;
        snprintf(c->source, sizeof c->source, "AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY");
        if (!c->access_key_id || !c->secret || (tok && *tok && !c->session_token)) {
            vodup_blobstore_s3_creds_free(c);
            snprintf(err, errlen, "out of memory");
            return -1;
        }
        return 0;
    }
    const char *path = getenv("AWS_SHARED_CREDENTIALS_FILE"), *home = getenv("HOME");
    const char *profile = getenv("AWS_PROFILE");
    char buf[300];
    if (!path || !*path) {
        snprintf(buf, sizeof buf, "%s/.aws/credentials", home && *home ? home : "");
        path = buf;
    }
    if (!profile || !*profile)
        profile = "default";
    snprintf(c->source, sizeof c->source, "%s [%s]", path, profile);
    FILE *f = fopen(path, "re");
    if (!f) {
        int e = errno;
        snprintf(err, errlen,
                 "no credentials for the S3 byte store: set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY, "
                 "or put them in %s (%s)",
                 path, strerror(e));
        return -1;
    }
    creds_file_ctx x = {profile, c, 0, 0};
    int r = ini_parse_file(f, on_creds_entry, &x);
    fclose(f);
    if (r != 0 || x.oom || !c->access_key_id || !c->secret) {
        snprintf(err, errlen, "%s: %s", c->source,
                 x.oom    ? "out of memory"
                 : r != 0 ? "not an AWS credentials file (line unreadable)"
                 : !x.seen ? "no such profile"
                          : "wants aws_access_key_id and aws_secret_access_key");
        vodup_blobstore_s3_creds_free(c);
        return -1;
    }
    return 0;
}

/* ---- the start-up check ------------------------------------------------------------------ */

/* Says what an unexpected answer to the check's request `what` means, in err. */
static void explain(const s3_store *s, const char *what, const s3_resp *r, char *err, size_t errlen)
{
    char code[64], why[200];
    error_code(r, code);
    if (!strcmp(code, "NoSuchBucket") || (r->status == 404 && !code[0]))
        snprintf(why, sizeof why, "the bucket does not exist (create it with the cluster's tools, e.g. `aws s3 mb`)");
    else if (!strcmp(code, "InvalidAccessKeyId"))
        snprintf(why, sizeof why, "the cluster does not know the access key (AWS_ACCESS_KEY_ID)");
    else if (!strcmp(code, "SignatureDoesNotMatch"))
        snprintf(why, sizeof why, "the secret does not match the access key (AWS_SECRET_ACCESS_KEY)");
    else if (!strcmp(code, "InvalidToken") || !strcmp(code, "ExpiredToken"))
        snprintf(why, sizeof why, "the session token (AWS_SESSION_TOKEN) is not valid");
    else if (!strcmp(code, "AuthorizationHeaderMalformed") || !strcmp(code, "PermanentRedirect") || r->status == 301)
        snprintf(why, sizeof why, "the bucket wants another region (region=) or style (style=)");
    else if (!strcmp(code, "AccessDenied") || r->status == 403)
        snprintf(why, sizeof why, "the key may not %s", what);
    else
        snprintf(why, sizeof why, "%s failed", what);
    snprintf(err, errlen, "the S3 byte store %s, bucket %s: %s: HTTP %ld%s%s", s->endpoint, s->bucket, why,
             r->status, code[0] ? " " : "", code);
}

int vodup_blobstore_s3_check(vodup_blobstore *bs, char *err, size_t errlen)
{
    s3_store *s = (s3_store *)bs;
    vbuf key = VBUF_INIT, prefix = VBUF_INIT;
    s3_resp r = {.body_max = 1 << 16};
    int rc = -1;
    static const char body[] = "vodupd: byte store check; removed at once\n";
    /* A key under this node's tag that no blob id can be: recover leaves it alone. */
    if (vbuf_printf(&key, "%sblobs/%s.check", s->prefix, s->tag) != 0 ||
        vbuf_printf(&prefix, "%sblobs/%s", s->prefix, s->tag) != 0) {
        snprintf(err, errlen, "out of memory");
        goto out;
    }
    const char *k = vbuf_cstr(&key);
    if (s3_request(s, "PUT", k, NULL, 0, body, sizeof body - 1, NULL, &r) != 0) {
        snprintf(err, errlen, "cannot reach the S3 byte store at %s: %s", s->endpoint,
                 r.curl_err[0] ? r.curl_err : "out of memory");
        goto out;
    }
    if (r.status != 200) {
        explain(s, "write (PutObject)", &r, err, errlen);
        goto out;
    }
    vodup_param q[] = {{"list-type", "2", 1}, {"max-keys", "1", 1},
                       {"prefix", (char *)vbuf_cstr(&prefix), prefix.len}};
    vbuf_reset(&r.body);
    r.curl_err[0] = '\0';
    if (s3_request(s, "GET", NULL, q, 3, NULL, 0, NULL, &r) != 0 || r.status != 200) {
        if (r.curl_err[0])
            snprintf(err, errlen, "cannot reach the S3 byte store at %s: %s", s->endpoint, r.curl_err);
        else
            explain(s, "list (ListObjectsV2, which startup recovery needs)", &r, err, errlen);
        s3_request(s, "DELETE", k, NULL, 0, NULL, 0, NULL, &(s3_resp){.body_max = 1 << 16});
        goto out;
    }
    vbuf_reset(&r.body);
    if (s3_request(s, "DELETE", k, NULL, 0, NULL, 0, NULL, &r) != 0 ||
        (r.status != 204 && r.status != 200)) {
        if (r.curl_err[0])
            snprintf(err, errlen, "cannot reach the S3 byte store at %s: %s", s->endpoint, r.curl_err);
        else
            explain(s, "delete (DeleteObject, which the collector needs)", &r, err, errlen);
        goto out;
    }
    rc = 0;
out:
    vbuf_free(&key);
    vbuf_free(&prefix);
    vbuf_free(&r.body);
    return rc;
}

vodup_blobstore *vodup_blobstore_s3_open_url(const char *url, const char *node, char *err, size_t errlen)
{
    vodup_blobstore_s3_url u;
    vodup_blobstore_s3_creds c;
    if (vodup_blobstore_s3_url_parse(&u, url, err, errlen) != 0)
        return NULL;
    if (vodup_blobstore_s3_creds_load(&c, err, errlen) != 0) {
        vodup_blobstore_s3_url_free(&u);
        return NULL;
    }
    vodup_blobstore_s3_config cfg = {.endpoint = u.endpoint, .bucket = u.bucket, .region = u.region,
                                     .access_key_id = c.access_key_id, .secret = c.secret,
                                     .session_token = c.session_token, .prefix = u.prefix,
                                     .node = node, .vhost = u.vhost, .part_threads = 1};
    vodup_blobstore *bs = vodup_blobstore_s3_open(&cfg);
    if (!bs)
        snprintf(err, errlen, "cannot open the S3 byte store %s: %s", u.endpoint,
                 errno == EINVAL ? "a bad setting" : strerror(errno));
    vodup_blobstore_s3_creds_free(&c);
    vodup_blobstore_s3_url_free(&u);
    if (bs && vodup_blobstore_s3_check(bs, err, errlen) != 0) {
        s3_close(bs);
        return NULL;
    }
    return bs;
}
