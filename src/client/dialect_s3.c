/* dialect_s3.c - the S3 dialect (dialect.h): path-style or virtual-host addressing,
 * SigV4 signatures (the canonicalisation is src/common/sigv4.c and v4sign.c, the same
 * code vodupd verifies with), x-amz-content-sha256, x-amz-security-token for temporary
 * keys, and what S3's error codes mean. The multipart XML is OSS's spelling too
 * (dialect_common.c).
 *
 * Bodies read from the file (PutObject, UploadPart) go as UNSIGNED-PAYLOAD: hashing a
 * part before sending it would read it twice, and the bytes are checked anyway (the
 * ETag of each part, the re-read CRC-64 before Complete). The Complete body is built
 * before prepare, so it is hashed and signed; bodiless requests sign the empty hash. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "client/internal.h"
#include "common/codec.h"
#include "common/digest.h"
#include "common/sigv4.h"

#define S3_DEFAULT_REGION "us-east-1"
#define S3_MAX_QUERY 4
#define S3_MAX_HEADERS 12

static int cmp_str(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

int vcl_s3_sign(const vcl_s3_msg *m, const vcl_creds *k, vbuf *url, struct curl_slist **hdrs)
{
    const vcl_addr *a = m->addr;
    if (!a || !a->endpoint || !a->bucket || !a->key || !k->ak || !k->sk || m->nheaders > S3_MAX_HEADERS - 5)
        return VODUP_EINVAL;
    int vhost = 0;
    const char *ep = vcl_endpoint_url(a->endpoint, &vhost);
    vodup_param qp[S3_MAX_QUERY];
    size_t nq = 0;
    int rc = vcl_object_url(url, qp, &nq, S3_MAX_QUERY, ep, vhost, a, m->query);
    if (rc)
        return rc;

    /* Host: the endpoint's authority (with the bucket in front for virtual host), sent
     * explicitly so that what curl sends is what was signed. */
    const char *auth = strstr(ep, "://") + 3;
    size_t alen = strcspn(auth, "/");
    vbuf host = VBUF_INIT, path = VBUF_INIT, authz = VBUF_INIT, line = VBUF_INIT, names = VBUF_INIT;
    if (vhost)
        vbuf_printf(&host, "%s.", a->bucket);
    vbuf_append(&host, auth, alen);
    /* The canonical URI is the decoded path; sigv4.c encodes it as the URL does. An
     * endpoint with a path (a store behind a proxy's prefix) puts it in front. */
    vbuf_puts(&path, auth + alen);
    if (!vhost) {
        vbuf_putc(&path, '/');
        vbuf_puts(&path, a->bucket);
    }
    vbuf_putc(&path, '/');
    vbuf_puts(&path, a->key);

    char amz_date[17];
    struct tm tm;
    gmtime_r(&m->now, &tm);
    strftime(amz_date, sizeof amz_date, "%Y%m%dT%H%M%SZ", &tm);

    vodup_header h[S3_MAX_HEADERS];
    size_t nh = 0;
    h[nh++] = (vodup_header){"Host", vbuf_cstr(&host)};
    h[nh++] = (vodup_header){"X-Amz-Date", amz_date};
    h[nh++] = (vodup_header){"X-Amz-Content-SHA256", m->payload_hash};
    if (k->token)
        h[nh++] = (vodup_header){"X-Amz-Security-Token", k->token};
    for (size_t i = 0; i < m->nheaders; i++)
        h[nh++] = m->headers[i];

    /* Every header sent is signed: its lower-case names, sorted, ';'-joined. */
    char *lower[S3_MAX_HEADERS];
    size_t nl = 0;
    rc = VODUP_ENOMEM;
    for (size_t i = 0; i < nh; i++) {
        if (!(lower[nl] = strdup(h[i].name)))
            goto out;
        for (char *p = lower[nl]; *p; p++)
            if (*p >= 'A' && *p <= 'Z')
                *p = (char)(*p - 'A' + 'a');
        nl++;
    }
    qsort(lower, nl, sizeof *lower, cmp_str);
    for (size_t i = 0; i < nl; i++) {
        if (i)
            vbuf_putc(&names, ';');
        vbuf_puts(&names, lower[i]);
    }
    if (host.oom || path.oom || names.oom)
        goto out;

    vodup_s3_request r = {m->method, path.data, path.len, qp, nq, h, nh};
    const char *region = k->region && *k->region ? k->region : S3_DEFAULT_REGION;
    int src = vodup_s3_sign_header(&authz, &r, k->ak, k->sk, region, "s3", names.data);
    if (src == VODUP_S3_EAUTH_NOMEM)
        goto out;
    if (src < 0) {
        rc = VODUP_EINVAL;
        goto out;
    }
    for (size_t i = 0; i <= nh; i++) {
        vbuf_reset(&line);
        if (i < nh)
            vbuf_printf(&line, "%s: %s", h[i].name, h[i].value);
        else
            vbuf_printf(&line, "Authorization: %s", vbuf_cstr(&authz));
        struct curl_slist *s = line.oom ? NULL : curl_slist_append(*hdrs, line.data);
        if (!s)
            goto out;
        *hdrs = s;
    }
    rc = 0;
out:
    for (size_t i = 0; i < nl; i++)
        free(lower[i]);
    vbuf_free(&host);
    vbuf_free(&path);
    vbuf_free(&authz);
    vbuf_free(&names);
    vbuf_free(&line);
    return rc;
}

/* Signs and configures x->easy for one S3 request. payload: the body's hex SHA-256, or
 * NULL for UNSIGNED-PAYLOAD. */
static int s3_request(vcl_xfer *x, const vodup_client *c, const char *method, const vcl_request *rq,
                      const char *const *query, const char *content_type, const char *payload)
{
    vodup_header extra[1];
    size_t ne = 0;
    if (content_type)
        extra[ne++] = (vodup_header){"Content-Type", content_type};
    vcl_s3_msg m = {method, rq->addr, query, extra, ne, payload ? payload : "UNSIGNED-PAYLOAD", time(NULL)};
    vbuf url = VBUF_INIT;
    int rc = vcl_s3_sign(&m, rq->creds, &url, &x->hdrs);
    /* curl would add a form Content-Type to POSTs: none unless one is meant. */
    if (rc == 0 && !content_type)
        rc = vcl_add_header(x, "Content-Type", NULL);
    if (rc == 0)
        vcl_easy_setup(x, c, url.data, method);
    vbuf_free(&url);
    return rc;
}

static int s3_prepare(vcl_xfer *x, const vodup_client *c, const vcl_request *rq)
{
    char num[24];
    const char *empty = VODUP_S3_EMPTY_SHA256;
    switch (rq->kind) {
    case X_PUT:
        return s3_request(x, c, "PUT", rq, NULL, rq->content_type, NULL);
    case X_INIT: {
        const char *q[] = {"uploads", NULL, NULL};
        return s3_request(x, c, "POST", rq, q, rq->content_type, empty);
    }
    case X_PART: {
        snprintf(num, sizeof num, "%d", rq->part_number);
        const char *q[] = {"partNumber", num, "uploadId", rq->upload_id, NULL};
        return s3_request(x, c, "PUT", rq, q, NULL, NULL);
    }
    case X_LIST: {
        snprintf(num, sizeof num, "%d", rq->list_marker);
        const char *q[] = {"uploadId", rq->upload_id, "max-parts", "1000", "part-number-marker", num, NULL};
        if (!rq->list_marker)
            q[4] = NULL;
        int rc = s3_request(x, c, "GET", rq, q, NULL, empty);
        if (rc == 0)
            curl_easy_setopt(x->easy, CURLOPT_HTTPGET, 1L);
        return rc;
    }
    case X_COMPLETE: {
        /* The body is x->out already (dialect.h): sign its hash. */
        unsigned char d[32];
        char hex[65];
        vodup_sha256(d, x->out.data ? x->out.data : "", x->out.len);
        vodup_hex_lower(hex, d, sizeof d);
        const char *q[] = {"uploadId", rq->upload_id, NULL};
        return s3_request(x, c, "POST", rq, q, "application/xml", hex);
    }
    case X_ABORT: {
        const char *q[] = {"uploadId", rq->upload_id, NULL};
        return s3_request(x, c, "DELETE", rq, q, NULL, empty);
    }
    }
    return VODUP_EINVAL;
}

static vcl_verdict s3_classify(const vcl_xfer *x, const vcl_creds *k, const char *what, char *code, size_t codelen,
                               char *msg, size_t msglen)
{
    (void)k;
    char m[256];
    vcl_xml_error(&x->resp, code, codelen, m, sizeof m);
    snprintf(msg, msglen, "%s: HTTP %ld %s%s%s", what, x->status, code[0] ? code : "", m[0] ? ": " : "", m);
    /* S3 says ExpiredToken for temporary credentials past their time (some stores
     * TokenRefreshRequired); vodupd's S3 dialect says the same. */
    if (x->status == 400 || x->status == 403) {
        if (strcmp(code, "ExpiredToken") == 0 || strcmp(code, "TokenRefreshRequired") == 0)
            return VCL_ANS_EXPIRED;
    }
    return vcl_common_verdict(x->status, code);
}

const vcl_dialect vcl_dialect_s3 = {
    "s3", s3_prepare, vcl_xml_complete_body, s3_classify, vcl_xml_upload_id, vcl_xml_list_parts,
    NULL, 5 * 1024 * 1024,
};
