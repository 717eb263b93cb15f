/* dialect_oss.c - the OSS dialect (dialect.h): addressing, V1 signatures, the answers'
 * signature headers and what OSS's error codes mean; the answers' capture and the XML
 * OSS shares with S3 are dialect_common.c's. */
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

    if (vcl_object_url(&url, qp, &nq, 4, a->endpoint, virtual_host(a->endpoint), a, query) < 0)
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
        if (vcl_add_header(x, h[i].name, h[i].value) < 0)
            goto out;
    if (vcl_add_header(x, "Authorization", tmp.data) < 0)
        goto out;
    /* curl would add a form Content-Type to POSTs; an unsigned header breaks the V1
     * signature, so say "none" explicitly when we sign none. */
    if (!content_type && vcl_add_header(x, "Content-Type", NULL) < 0)
        goto out;

    vcl_easy_setup(x, c, url.data, method);
    rc = 0;
out:
    vbuf_free(&url);
    vbuf_free(&sts);
    if (tmp.data)
        memset(tmp.data, 0, tmp.len);
    vbuf_free(&tmp);
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

static vcl_verdict oss_classify(const vcl_xfer *x, const vcl_creds *k, const char *what, char *code, size_t codelen,
                                char *msg, size_t msglen)
{
    char m[256];
    vcl_xml_error(&x->resp, code, codelen, m, sizeof m);
    snprintf(msg, msglen, "%s: HTTP %ld %s%s%s", what, x->status, code[0] ? code : "", m[0] ? ": " : "", m);
    /* OSS names an expired STS key InvalidAccessKeyId once its token is gone. */
    int sts_key = k->ak && strncmp(k->ak, "STS.", 4) == 0;
    if (x->status == 403 &&
        (strcmp(code, "SecurityTokenExpired") == 0 || (sts_key && strcmp(code, "InvalidAccessKeyId") == 0)))
        return VCL_ANS_EXPIRED;
    return vcl_common_verdict(x->status, code);
}

const vcl_dialect vcl_dialect_oss = {
    "oss", oss_prepare, vcl_xml_complete_body, oss_classify, vcl_xml_upload_id, vcl_xml_list_parts,
    "x-oss-hash-crc64ecma", 100 * 1024,
};
