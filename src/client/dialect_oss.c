/* dialect_oss.c - the OSS dialect (dialect.h): addressing, V1 signatures, the answers'
 * headers and XML, and what OSS's error codes mean. */
#include <ctype.h>
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>

#include "client/internal.h"
#include "common/codec.h"
#include "common/oss_sign.h"
#include "common/timefmt.h"
#include "common/xml.h"

#define VCL_MAX_OSS_ANSWER (16u << 20)

/* 1 when the endpoint is real OSS (virtual-host style), 0 for path style. */
static int virtual_host(const char *endpoint)
{
    /* Real OSS wants virtual-host style (<bucket>.<endpoint host>); vodupd answers path
     * style on its own address, which it always hands out (IP, localhost or its public
     * name). Only Alibaba Cloud's own domains are treated as virtual-host endpoints. */
    const char *h = strstr(endpoint, "://");
    h = h ? h + 3 : endpoint;
    size_t n = strcspn(h, ":/");
    const char *suffix = ".aliyuncs.com";
    size_t sl = strlen(suffix);
    return n > sl && strncasecmp(h + n - sl, suffix, sl) == 0;
}

static size_t on_header(char *p, size_t size, size_t nmemb, void *u)
{
    vcl_xfer *x = u;
    size_t n = size * nmemb;
    /* A new status line starts a new set of headers (after 100 Continue, redirects). */
    if (n >= 5 && memcmp(p, "HTTP/", 5) == 0) {
        x->etag[0] = '\0';
        x->has_crc = 0;
        return n;
    }
    const char *colon = memchr(p, ':', n);
    if (!colon)
        return n;
    size_t nl = (size_t)(colon - p);
    const char *v = colon + 1, *end = p + n;
    while (v < end && (*v == ' ' || *v == '\t'))
        v++;
    while (end > v && (end[-1] == '\r' || end[-1] == '\n' || end[-1] == ' '))
        end--;
    size_t vl = (size_t)(end - v);
    if (nl == 4 && strncasecmp(p, "ETag", 4) == 0 && vl < sizeof x->etag) {
        memcpy(x->etag, v, vl);
        x->etag[vl] = '\0';
    } else if (nl == 20 && strncasecmp(p, "x-oss-hash-crc64ecma", 20) == 0 && vl > 0 && vl < 24) {
        char tmp[24];
        memcpy(tmp, v, vl);
        tmp[vl] = '\0';
        char *e;
        errno = 0;
        unsigned long long c = strtoull(tmp, &e, 10);
        if (!errno && *e == '\0') {
            x->resp_crc = c;
            x->has_crc = 1;
        }
    }
    return n;
}

static size_t on_body(char *p, size_t size, size_t nmemb, void *u)
{
    vcl_xfer *x = u;
    size_t n = size * nmemb;
    if (x->resp.len + n > VCL_MAX_OSS_ANSWER || vbuf_append(&x->resp, p, n) < 0)
        return 0;
    return n;
}

static int add_header(vcl_xfer *x, const char *name, const char *value)
{
    vbuf b = VBUF_INIT;
    vbuf_printf(&b, "%s: %s", name, value);
    if (b.oom)
        return VODUP_ENOMEM;
    struct curl_slist *s = curl_slist_append(x->hdrs, b.data);
    vbuf_free(&b);
    if (!s)
        return VODUP_ENOMEM;
    x->hdrs = s;
    return 0;
}

/* Builds, signs and configures x->easy for an OSS request on address a with creds k.
 * query: NULL-terminated name, value pairs (value NULL: a bare sub-resource such as
 * "uploads"). */
static int oss_request(vcl_xfer *x, const vodup_client *c, const char *method, const vcl_addr *a,
                       const vcl_creds *k, const char *const *query, const char *content_type)
{
    vbuf url = VBUF_INIT, sts = VBUF_INIT, tmp = VBUF_INIT;
    vodup_param qp[4];
    size_t nq = 0;
    int rc = VODUP_ENOMEM;
    if (!a->endpoint || !a->bucket || !a->key || !k->ak || !k->sk)
        return VODUP_EINVAL;

    /* URL */
    const char *ep = a->endpoint;
    const char *hostp = strstr(ep, "://");
    if (!hostp)
        return VODUP_EINVAL;
    if (virtual_host(ep)) {
        vbuf_append(&url, ep, (size_t)(hostp + 3 - ep));
        vbuf_puts(&url, a->bucket);
        vbuf_putc(&url, '.');
        vbuf_puts(&url, hostp + 3);
    } else {
        vbuf_puts(&url, ep);
        vbuf_putc(&url, '/');
        vodup_uri_encode(&url, a->bucket, strlen(a->bucket), 0);
    }
    vbuf_putc(&url, '/');
    vodup_uri_encode(&url, a->key, strlen(a->key), 1);
    for (size_t i = 0; query && query[i * 2] && nq < 4; i++) {
        const char *n = query[i * 2], *v = query[i * 2 + 1];
        vbuf_putc(&url, nq ? '&' : '?');
        vodup_uri_encode(&url, n, strlen(n), 0);
        if (v) {
            vbuf_putc(&url, '=');
            vodup_uri_encode(&url, v, strlen(v), 0);
        }
        qp[nq].name = (char *)n;
        qp[nq].value = (char *)(v ? v : "");
        qp[nq].value_len = v ? strlen(v) : 0;
        nq++;
    }
    if (url.oom)
        goto out;

    /* headers and signature */
    char date[30];
    vodup_time_http(date, time(NULL));
    vodup_header h[3];
    size_t nh = 0;
    h[nh++] = (vodup_header){"x-oss-date", date};
    if (content_type)
        h[nh++] = (vodup_header){"Content-Type", content_type};
    if (k->token)
        h[nh++] = (vodup_header){"x-oss-security-token", k->token};
    vodup_oss_request r = {method, a->bucket, a->key, strlen(a->key), qp, nq, h, nh};
    vodup_oss_auth au;
    memset(&au, 0, sizeof au);
    au.kind = VODUP_OSS_AUTH_V1;
    au.date = time(NULL);
    if (vodup_oss_string_to_sign(&sts, &r, &au) < 0 || sts.oom)
        goto out;
    char sig[29];
    vodup_oss_sign_v1(sig, k->sk, sts.data, sts.len);
    vbuf_printf(&tmp, "OSS %s:%s", k->ak, sig);
    if (tmp.oom)
        goto out;
    for (size_t i = 0; i < nh; i++)
        if (add_header(x, h[i].name, h[i].value) < 0)
            goto out;
    if (add_header(x, "Authorization", tmp.data) < 0)
        goto out;
    /* curl would add a form Content-Type to POSTs; an unsigned header breaks the V1
     * signature, so say "none" explicitly when we sign none. */
    if (!content_type) {
        struct curl_slist *s = curl_slist_append(x->hdrs, "Content-Type:");
        if (!s)
            goto out;
        x->hdrs = s;
    }

    CURL *e = x->easy;
    curl_easy_setopt(e, CURLOPT_URL, url.data);
    curl_easy_setopt(e, CURLOPT_HTTPHEADER, x->hdrs);
    curl_easy_setopt(e, CURLOPT_CUSTOMREQUEST, method);
    if (strcmp(method, "HEAD") == 0)
        curl_easy_setopt(e, CURLOPT_NOBODY, 1L);
    curl_easy_setopt(e, CURLOPT_HEADERFUNCTION, on_header);
    curl_easy_setopt(e, CURLOPT_HEADERDATA, x);
    curl_easy_setopt(e, CURLOPT_WRITEFUNCTION, on_body);
    curl_easy_setopt(e, CURLOPT_WRITEDATA, x);
    curl_easy_setopt(e, CURLOPT_ERRORBUFFER, x->errbuf);
    curl_easy_setopt(e, CURLOPT_PRIVATE, x);
    curl_easy_setopt(e, CURLOPT_NOSIGNAL, 1L);
    /* HTTP/1.1 on separate connections: parallel parts each get their own TCP stream;
     * the multi handle keeps them alive for the next parts. */
    curl_easy_setopt(e, CURLOPT_HTTP_VERSION, (long)CURL_HTTP_VERSION_1_1);
    curl_easy_setopt(e, CURLOPT_CONNECTTIMEOUT_MS, c->o.connect_timeout_ms);
    /* Stalls are detected by transfers.c's progress callback, not CURLOPT_LOW_SPEED_*. */
    curl_easy_setopt(e, CURLOPT_TCP_KEEPALIVE, 1L);
    curl_easy_setopt(e, CURLOPT_USERAGENT, c->user_agent ? c->user_agent : "libvodup/" VODUP_VERSION_STRING);
    if (c->ca_file)
        curl_easy_setopt(e, CURLOPT_CAINFO, c->ca_file);
    rc = 0;
out:
    vbuf_free(&url);
    vbuf_free(&sts);
    if (tmp.data)
        memset(tmp.data, 0, tmp.len);
    vbuf_free(&tmp);
    return rc;
}

static void copy_text(char *dst, size_t dstlen, const vodup_xml_node *n)
{
    if (!dstlen)
        return;
    dst[0] = '\0';
    if (!n)
        return;
    snprintf(dst, dstlen, "%s", n->text);
}

static void oss_error(const vbuf *body, char *code, size_t codelen, char *message, size_t msglen)
{
    if (codelen)
        code[0] = '\0';
    if (msglen)
        message[0] = '\0';
    if (!body->len)
        return;
    vodup_xml_node *root = NULL;
    if (vodup_xml_parse(&root, body->data, body->len, NULL) == 0 && root && strcmp(root->name, "Error") == 0) {
        copy_text(code, codelen, vodup_xml_child(root, "Code"));
        copy_text(message, msglen, vodup_xml_child(root, "Message"));
    }
    vodup_xml_free(root);
}

static char *oss_upload_id(const vbuf *body)
{
    vodup_xml_node *root = NULL;
    char *id = NULL;
    if (body->len && vodup_xml_parse(&root, body->data, body->len, NULL) == 0 && root) {
        const vodup_xml_node *n = vodup_xml_child(root, "UploadId");
        if (n && n->text_len)
            id = strdup(n->text);
    }
    vodup_xml_free(root);
    return id;
}

static int parse_num(const vodup_xml_node *n, uint64_t *out)
{
    if (!n || !n->text_len)
        return -1;
    char *e;
    errno = 0;
    unsigned long long v = strtoull(n->text, &e, 10);
    if (errno || *e || n->text[0] == '-')
        return -1;
    *out = v;
    return 0;
}

static int oss_list_parts(const vbuf *body, vcl_list_cb *cb, void *u, int *next_marker)
{
    *next_marker = 0;
    vodup_xml_node *root = NULL;
    vodup_xml_limits lim = {VCL_MAX_OSS_ANSWER, 16, 200000};
    int rc = body->len ? vodup_xml_parse(&root, body->data, body->len, &lim) : -1;
    if (rc == VODUP_XML_ENOMEM)
        return VODUP_ENOMEM;
    if (rc || !root || strcmp(root->name, "ListPartsResult") != 0) {
        vodup_xml_free(root);
        return -1;
    }
    rc = 0;
    for (const vodup_xml_node *p = vodup_xml_child(root, "Part"); p && rc == 0; p = vodup_xml_next(p, "Part")) {
        uint64_t num, size, crc = 0;
        const vodup_xml_node *et = vodup_xml_child(p, "ETag");
        if (parse_num(vodup_xml_child(p, "PartNumber"), &num) < 0 || parse_num(vodup_xml_child(p, "Size"), &size) < 0 ||
            !et || num < 1 || num > 10000)
            continue;
        int has_crc = parse_num(vodup_xml_child(p, "HashCrc64ecma"), &crc) == 0;
        rc = cb(u, (int)num, et->text, size, has_crc, crc);
    }
    const vodup_xml_node *tr = vodup_xml_child(root, "IsTruncated");
    uint64_t nm;
    if (rc == 0 && tr && strcmp(tr->text, "true") == 0 &&
        parse_num(vodup_xml_child(root, "NextPartNumberMarker"), &nm) == 0 && nm > 0 && nm <= 10000)
        *next_marker = (int)nm;
    vodup_xml_free(root);
    return rc;
}

static int oss_prepare(vcl_xfer *x, const vodup_client *c, const vcl_request *rq)
{
    char num[24];
    switch (rq->kind) {
    case X_PUT:
        return oss_request(x, c, "PUT", rq->addr, rq->creds, NULL, rq->content_type);
    case X_INIT: {
        const char *q[] = {"uploads", NULL, NULL};
        return oss_request(x, c, "POST", rq->addr, rq->creds, q, rq->content_type);
    }
    case X_PART: {
        snprintf(num, sizeof num, "%d", rq->part_number);
        const char *q[] = {"partNumber", num, "uploadId", rq->upload_id, NULL};
        return oss_request(x, c, "PUT", rq->addr, rq->creds, q, NULL);
    }
    case X_LIST: {
        snprintf(num, sizeof num, "%d", rq->list_marker);
        const char *q[] = {"uploadId", rq->upload_id, "max-parts", "1000", "part-number-marker", num, NULL};
        if (!rq->list_marker)
            q[4] = NULL;
        int rc = oss_request(x, c, "GET", rq->addr, rq->creds, q, NULL);
        if (rc == 0)
            curl_easy_setopt(x->easy, CURLOPT_HTTPGET, 1L);
        return rc;
    }
    case X_COMPLETE: {
        const char *q[] = {"uploadId", rq->upload_id, NULL};
        return oss_request(x, c, "POST", rq->addr, rq->creds, q, "application/xml");
    }
    case X_ABORT: {
        const char *q[] = {"uploadId", rq->upload_id, NULL};
        return oss_request(x, c, "DELETE", rq->addr, rq->creds, q, NULL);
    }
    }
    return VODUP_EINVAL;
}

static int oss_complete_body(vbuf *out, char *const *etags, size_t n)
{
    char num[24];
    vbuf_puts(out, "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<CompleteMultipartUpload>");
    for (size_t i = 0; i < n; i++) {
        snprintf(num, sizeof num, "%zu", i + 1);
        vbuf_puts(out, "<Part>");
        vodup_xml_elem(out, "PartNumber", num, strlen(num));
        vodup_xml_elem(out, "ETag", etags[i], strlen(etags[i]));
        vbuf_puts(out, "</Part>");
    }
    vbuf_puts(out, "</CompleteMultipartUpload>");
    return out->oom ? VODUP_ENOMEM : 0;
}

static vcl_verdict oss_classify(const vcl_xfer *x, const vcl_creds *k, const char *what, char *code, size_t codelen,
                                char *msg, size_t msglen)
{
    char m[256];
    oss_error(&x->resp, code, codelen, m, sizeof m);
    snprintf(msg, msglen, "%s: HTTP %ld %s%s%s", what, x->status, code[0] ? code : "", m[0] ? ": " : "", m);
    /* OSS names an expired STS key InvalidAccessKeyId once its token is gone. */
    int sts_key = k->ak && strncmp(k->ak, "STS.", 4) == 0;
    if (x->status == 403 &&
        (strcmp(code, "SecurityTokenExpired") == 0 || (sts_key && strcmp(code, "InvalidAccessKeyId") == 0)))
        return VCL_ANS_EXPIRED;
    if (x->status == 404 && strcmp(code, "NoSuchUpload") == 0)
        return VCL_ANS_NO_UPLOAD;
    if (x->status >= 500 || x->status == 408 || x->status == 429 || strcmp(code, "RequestTimeTooSkewed") == 0)
        return VCL_ANS_RETRY;
    return x->status == 403 ? VCL_ANS_DENIED : VCL_ANS_REFUSED;
}

const vcl_dialect vcl_dialect_oss = {
    "oss", oss_prepare, oss_complete_body, oss_classify, oss_upload_id, oss_list_parts,
};

const vcl_dialect *vcl_dialect_for(const vcl_addr *a)
{
    (void)a;
    return &vcl_dialect_oss;
}
