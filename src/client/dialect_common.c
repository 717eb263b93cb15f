/* dialect_common.c - what the object-store dialects (dialect.h) say alike: the capture of
 * an answer (ETag, the dialect's CRC-64 header, the body), the libcurl set-up every
 * request shares, and the XML that OSS and S3 spell the same way (Error, UploadId,
 * ListPartsResult, CompleteMultipartUpload). Each dialect keeps only what differs: its
 * addressing, its signature and what its error codes mean. */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "client/internal.h"
#include "common/codec.h"
#include "common/target.h"
#include "common/xml.h"

#define VCL_MAX_ANSWER (16u << 20)

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
    /* The dialect names the header that carries the store's CRC-64/XZ of the body, if
     * its stores give one (OSS: x-oss-hash-crc64ecma; S3 has none). */
    const char *crc_name = x->dialect ? x->dialect->crc_header : NULL;
    if (nl == 4 && strncasecmp(p, "ETag", 4) == 0 && vl < sizeof x->etag) {
        memcpy(x->etag, v, vl);
        x->etag[vl] = '\0';
    } else if (crc_name && nl == strlen(crc_name) && strncasecmp(p, crc_name, nl) == 0 && vl > 0 && vl < 24) {
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
    if (x->resp.len + n > VCL_MAX_ANSWER || vbuf_append(&x->resp, p, n) < 0)
        return 0;
    return n;
}

int vcl_add_header(vcl_xfer *x, const char *name, const char *value)
{
    vbuf b = VBUF_INIT;
    /* A NULL value removes a header curl would add by itself ("Name:"). */
    vbuf_printf(&b, "%s:%s%s", name, value ? " " : "", value ? value : "");
    if (b.oom)
        return VODUP_ENOMEM;
    struct curl_slist *s = curl_slist_append(x->hdrs, b.data);
    vbuf_free(&b);
    if (!s)
        return VODUP_ENOMEM;
    x->hdrs = s;
    return 0;
}

void vcl_easy_setup(vcl_xfer *x, const vodup_client *c, const char *url, const char *method)
{
    CURL *e = x->easy;
    curl_easy_setopt(e, CURLOPT_URL, url);
    /* The path is sent as signed: curl must not squash "/./" or "/../" in a key. */
    curl_easy_setopt(e, CURLOPT_PATH_AS_IS, 1L);
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
}

int vcl_object_url(vbuf *url, vodup_param *qp, size_t *nq, size_t maxq, const char *endpoint, int vhost,
                   const vcl_addr *a, const char *const *query)
{
    *nq = 0;
    const char *hostp = strstr(endpoint, "://");
    if (!hostp || !a->bucket || !a->key)
        return VODUP_EINVAL;
    if (vhost) {
        vbuf_append(url, endpoint, (size_t)(hostp + 3 - endpoint));
        vbuf_puts(url, a->bucket);
        vbuf_putc(url, '.');
        vbuf_puts(url, hostp + 3);
    } else {
        vbuf_puts(url, endpoint);
        vbuf_putc(url, '/');
        vodup_uri_encode(url, a->bucket, strlen(a->bucket), 0);
    }
    vbuf_putc(url, '/');
    vodup_uri_encode(url, a->key, strlen(a->key), 1);
    for (size_t i = 0; query && query[i * 2] && *nq < maxq; i++) {
        const char *n = query[i * 2], *v = query[i * 2 + 1];
        vbuf_putc(url, *nq ? '&' : '?');
        vodup_uri_encode(url, n, strlen(n), 0);
        if (v) {
            vbuf_putc(url, '=');
            vodup_uri_encode(url, v, strlen(v), 0);
        }
        qp[*nq].name = (char *)n;
        qp[*nq].value = (char *)(v ? v : "");
        qp[*nq].value_len = v ? strlen(v) : 0;
        (*nq)++;
    }
    return url->oom ? VODUP_ENOMEM : 0;
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

void vcl_xml_error(const vbuf *body, char *code, size_t codelen, char *message, size_t msglen)
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

char *vcl_xml_upload_id(const vbuf *body)
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

int vcl_xml_list_parts(const vbuf *body, vcl_list_cb *cb, void *u, int *next_marker)
{
    *next_marker = 0;
    vodup_xml_node *root = NULL;
    vodup_xml_limits lim = {VCL_MAX_ANSWER, 16, 200000};
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
        /* OSS lists each part's CRC-64; S3 stores list none (or other checksums). */
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

int vcl_xml_complete_body(vbuf *out, char *const *etags, size_t n)
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

vcl_verdict vcl_common_verdict(long status, const char *code)
{
    if (status >= 500 || status == 408 || status == 429 || strcmp(code, "RequestTimeTooSkewed") == 0 ||
        strcmp(code, "SlowDown") == 0)
        return VCL_ANS_RETRY;
    if (status == 404 && strcmp(code, "NoSuchUpload") == 0)
        return VCL_ANS_NO_UPLOAD;
    return status == 403 ? VCL_ANS_DENIED : VCL_ANS_REFUSED;
}
