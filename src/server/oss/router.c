/* router.c - from a raw request to an OSS operation: addressing, authentication, dispatch.
 *
 * Addressing follows ali-oss (reference item 1): a Host that is not vodupd's own names the
 * bucket in its first label; our own address (or an IP literal) means path style.
 * Authentication accepts V1 and V4 signatures, in headers or presigned query strings,
 * and the checks run cheapest first: form, time, key, then the HMAC.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "common/codec.h"
#include "common/oss_sign.h"
#include "common/timefmt.h"
#include "common/xml.h"
#include "server/config.h"
#include "server/auth/ratelimit.h"
#include "server/core/route.h"
#include "server/dialect.h"
#include "server/core/media.h"
#include "server/oss/oss.h"
#include "server/oss/upload.h"
#include "server/store/meta_vod.h"

/* Sub-resources whose operations vodupd does not offer: answered NotImplemented rather
 * than silently treated as a plain object or bucket request. */
static const char *const UNSUPPORTED[] = {
    "acl", "cors", "logging", "website", "referer", "lifecycle", "append", "tagging",
    "symlink", "restore", "versioning", "versions", "versionId", "policy", "encryption",
    "replication", "inventory", "worm", "requestPayment", "qos", "live", "img", "style",
    "x-oss-process", "stat", "comp", "vod", "asyncFetch", "transferAcceleration", "metaQuery",
    NULL,
};

enum { S = CORE_AT_SERVICE, B = CORE_AT_BUCKET, O = CORE_AT_OBJECT };

/* Which operation a request means: the first route it matches (core/route.h). */
static const core_route ROUTES[] = {
    {B, "POST", "delete", NULL, &oss_op_delete_objects, NULL},
    {S | B | O, NULL, "delete", NULL, NULL, "The sub-resource 'delete' is not supported by vodupd."},
    {S, "GET", NULL, NULL, &oss_op_list_buckets, NULL},
    {B, "GET", "uploads", NULL, &oss_op_list_uploads, NULL},
    {B, "GET", "bucketInfo|location", NULL, &oss_op_get_bucket_info, NULL},
    {B, "GET", NULL, NULL, &oss_op_list_objects, NULL},
    {B, "HEAD", NULL, NULL, &oss_op_get_bucket_info, NULL},
    {B, "PUT", NULL, NULL, &oss_op_put_bucket, NULL},
    {B, "DELETE", NULL, NULL, &core_op_delete_bucket, NULL},
    {O, "PUT", "uploadId|partNumber", "x-oss-copy-source", &oss_op_upload_part_copy, NULL},
    {O, "PUT", NULL, "x-oss-copy-source", &oss_op_copy_object, NULL},
    {O, "PUT", "uploadId|partNumber", NULL, &oss_op_upload_part, NULL},
    {O, "PUT", NULL, NULL, &oss_op_put_object, NULL},
    {O, "POST", "uploads", NULL, &oss_op_initiate, NULL},
    {O, "POST", "uploadId", NULL, &oss_op_complete, NULL},
    {O, "POST", NULL, NULL, NULL, "This POST operation is not supported by vodupd."},
    {O, "GET", "uploadId", NULL, &oss_op_list_parts, NULL},
    {O, "GET", NULL, NULL, &oss_op_get_object, NULL},
    {O, "HEAD", NULL, NULL, &oss_op_head_object, NULL},
    {O, "DELETE", "uploadId", NULL, &oss_op_abort, NULL},
    {O, "DELETE", NULL, NULL, &oss_op_delete_object, NULL},
    {0, NULL, NULL, NULL, NULL, NULL},
};

static void refuse(http_request *r, int why, const char *msg)
{
    if (why == CORE_REFUSE_NUL_KEY)
        oss_error(r, OSS_ERR_InvalidObjectName, "The object name must not contain NUL bytes.");
    else
        oss_error(r, why == CORE_REFUSE_METHOD ? OSS_ERR_MethodNotAllowed : OSS_ERR_NotImplemented, "%s", msg);
}

static const core_router ROUTER = {
    ROUTES, &oss_op_options, UNSUPPORTED, "The sub-resource '%s' is not supported by vodupd.", refuse,
};

static void signature_mismatch(http_request *r, const vodup_oss_auth *auth, const vbuf *sts)
{
    vbuf x = VBUF_INIT;
    vodup_xml_elem(&x, "OSSAccessKeyId", auth->access_key_id, strlen(auth->access_key_id));
    vbuf_puts(&x, "\n  ");
    vodup_xml_elem(&x, "SignatureProvided", auth->signature, strlen(auth->signature));
    vbuf_puts(&x, "\n  ");
    vodup_xml_elem(&x, "StringToSign", sts->data ? sts->data : "", sts->len);
    vbuf_puts(&x, "\n  <StringToSignBytes>");
    for (size_t i = 0; i < sts->len && i < 4096; i++)
        vbuf_printf(&x, i ? " %02x" : "%02x", (unsigned char)sts->data[i]);
    vbuf_puts(&x, "</StringToSignBytes>");
    oss_error_x(r, OSS_ERR_SignatureDoesNotMatch, vbuf_cstr(&x),
                "The request signature we calculated does not match the signature you provided. "
                "Check your key and signing method.");
    vbuf_free(&x);
}

/* Browsers cannot set Host, so a browser given an IP endpoint reaches our own address
 * with a bucket-less path ("/sv/x/y.mp4"), which path style would misread as bucket
 * "sv". Credentials scoped to one object say which bucket is meant: when the whole path
 * is exactly the scoped key, take the bucket from the scope (reference item 1). */
static void rescope_browser_request(http_request *r)
{
    const vodup_cred *c = &r->cred;
    if (!c->has_scope || strcmp(r->bucket, c->scope_bucket) == 0)
        return;
    /* Only a path-style request (our own address) can lack its bucket; a virtual-host
     * request names its bucket in the Host and keeps it, right or wrong. In virtual-host
     * style the key is the whole path. */
    if (r->key_len + 1 == r->target.path_len)
        return;
    if (r->target.path_len != c->scope_key_len + 1 || memcmp(r->target.path + 1, c->scope_key, c->scope_key_len) != 0)
        return;
    char *b = strdup(c->scope_bucket);
    char *k = malloc(c->scope_key_len + 1);
    if (!b || !k) {
        free(b);
        free(k);
        return;
    }
    memcpy(k, c->scope_key, c->scope_key_len + 1);
    free(r->bucket);
    free(r->key);
    r->bucket = b;
    r->key = k;
    r->key_len = c->scope_key_len;
}

/* What the authenticated caller may do with this operation. Root keys own their
 * account's buckets (checked by the handlers); RAM users and roles need a policy that
 * allows "oss:<Operation>" on "acs:oss:*:<account>:<bucket>[/<key>]"; upload
 * credentials may run only the writing operations on their one object, and only while
 * the media they were issued for still exists. */
static int authorize(http_request *r)
{
    if (r->op == &oss_op_delete_objects) /* one request, many keys: checked per key (core/delete.c) */
        return 0;
    core co;
    oss_core(r, &co);
    core_write w = r->op == &oss_op_put_object  ? CORE_WRITE_PUT
                   : r->op == &oss_op_complete ? CORE_WRITE_COMPLETE
                                               : CORE_WRITE_OTHER;
    core_scope_result res;
    vodupd_detail d = {0};
    vodupd_status st = core_authorize(&co, &r->cred, r->op->name, w, r->bucket, r->key, r->key_len,
                                      http_query(r, "uploadId"), &res, &d);
    if (st != VODUPD_OK) {
        oss_status_error(r, st, &d);
        return -1;
    }
    r->replay_only = res.replay_only;
    return 0;
}

static int verify(http_request *r)
{
    vodup_oss_auth auth_, *auth = &auth_;
    vodup_oss_request q = {
        .method = r->method, .bucket = r->bucket, .key = r->key, .key_len = r->key_len,
        .query = r->target.query, .nquery = r->target.nquery,
        .headers = r->headers, .nheaders = r->nheaders,
    };
    int rc = vodup_oss_auth_parse(auth, &q);
    if (rc == VODUP_OSS_EAUTH_FORMAT) {
        oss_error(r, OSS_ERR_InvalidArgument, "Authorization header or presigned parameters are malformed.");
        return -1;
    }
    if (rc == VODUP_OSS_EAUTH_DATE) {
        oss_error(r, OSS_ERR_AccessDenied, "OSS authentication requires a valid Date or x-oss-date.");
        return -1;
    }
    if (rc != VODUP_OSS_SIGN_OK) {
        oss_error(r, OSS_ERR_InternalError, "Out of memory.");
        return -1;
    }
    if (auth->kind == VODUP_OSS_AUTH_NONE) {
        oss_error(r, OSS_ERR_AccessDenied, "You have no right to access this resource: anonymous access is not allowed.");
        return -1;
    }

    time_t now = time(NULL);
    char server_time[25];
    vodup_time_iso_ms(server_time, now);
    if (auth->kind == VODUP_OSS_AUTH_V1 || auth->kind == VODUP_OSS_AUTH_V4) {
        double skew = difftime(auth->date, now);
        if (skew > OSS_MAX_TIME_SKEW || skew < -OSS_MAX_TIME_SKEW) {
            char req_time[25], extra[256];
            vodup_time_iso_ms(req_time, auth->date);
            snprintf(extra, sizeof extra,
                     "<RequestTime>%s</RequestTime>\n  <ServerTime>%s</ServerTime>\n  "
                     "<MaxAllowedSkewMilliseconds>%d</MaxAllowedSkewMilliseconds>",
                     req_time, server_time, OSS_MAX_TIME_SKEW * 1000);
            oss_error_x(r, OSS_ERR_RequestTimeTooSkewed, extra,
                        "The difference between the request time and the current time is too large.");
            return -1;
        }
    } else {
        if (auth->kind == VODUP_OSS_AUTH_V4_QUERY && difftime(auth->date, now) > OSS_MAX_TIME_SKEW) {
            oss_error(r, OSS_ERR_AccessDenied, "Request is not valid yet: x-oss-date is in the future.");
            return -1;
        }
        if (auth->kind == VODUP_OSS_AUTH_V4_QUERY && auth->expires - auth->date > 7 * 24 * 3600) {
            oss_error(r, OSS_ERR_InvalidArgument, "x-oss-expires must not exceed 604800 seconds.");
            return -1;
        }
        if (auth->expires < now) {
            char exp[25], extra[160];
            vodup_time_iso_ms(exp, auth->expires);
            snprintf(extra, sizeof extra, "<Expires>%s</Expires>\n  <ServerTime>%s</ServerTime>", exp, server_time);
            oss_error_x(r, OSS_ERR_AccessDenied, extra, "Request has expired.");
            return -1;
        }
    }

    switch (auth_resolve(r->srv, auth->access_key_id, auth->security_token, now, &r->cred)) {
    case AUTH_OK:
        break;
    case AUTH_ENOKEY:
    case AUTH_EINACTIVE: {
        vbuf x = VBUF_INIT;
        vodup_xml_elem(&x, "OSSAccessKeyId", auth->access_key_id, strlen(auth->access_key_id));
        oss_error_x(r, OSS_ERR_InvalidAccessKeyId, vbuf_cstr(&x),
                    "The OSS Access Key Id you provided does not exist in our records.");
        vbuf_free(&x);
        return -1;
    }
    case AUTH_ETOKEN:
        oss_error(r, OSS_ERR_InvalidSecurityToken, "The security token you provided is invalid.");
        return -1;
    case AUTH_ETOKEN_EXPIRED:
        oss_error(r, OSS_ERR_SecurityTokenExpired, "The security token you provided has expired.");
        return -1;
    case AUTH_ETOKEN_MISMATCH:
        oss_error(r, OSS_ERR_AccessKeyIdAndSecurityTokenNotMatch,
                  "The access key id and the security token do not belong together.");
        return -1;
    case AUTH_ENOTOKEN:
        oss_error(r, OSS_ERR_InvalidAccessKeyId, "A temporary AccessKeyId needs its security token.");
        return -1;
    default:
        oss_error(r, OSS_ERR_InternalError, "Credentials could not be checked.");
        return -1;
    }
    if (r->cred.temporary && auth->date && r->cred.expires < auth->date) {
        auth_cred_clear(&r->cred);
        oss_error(r, OSS_ERR_SecurityTokenExpired, "The security token you provided has expired.");
        return -1;
    }
    rescope_browser_request(r);
    q.bucket = r->bucket; /* the request may have been re-addressed just above */
    q.key = r->key;
    q.key_len = r->key_len;
    vbuf sts = VBUF_INIT;
    int ok = vodup_oss_verify(&q, auth, r->cred.secret, &sts);
    if (ok != 1) {
        if (ok < 0)
            oss_error(r, OSS_ERR_InternalError, "Out of memory.");
        else
            signature_mismatch(r, auth, &sts);
        vbuf_free(&sts);
        auth_cred_clear(&r->cred);
        return -1;
    }
    vbuf_free(&sts);
    if (!auth_ratelimit_take(r->srv->ratelimit, auth->access_key_id, NULL)) {
        auth_cred_clear(&r->cred);
        oss_error(r, OSS_ERR_QpsLimitExceeded, "Please reduce your request rate.");
        return -1;
    }
    r->authenticated = 1;
    return 0;
}

/* Below the disk reserve nothing that makes the store grow is started (finding 14), so
 * that it is refused before a byte is written; deletes and aborts still run, and their
 * check hands the headroom back to a full file system (store/blob.h). */
static int refused_for_space(http_request *r)
{
    const http_op *op = r->op;
    if (!op->offload)
        return 0;
    int grows = op == &oss_op_put_object || op == &oss_op_upload_part || op == &oss_op_initiate ||
                op == &oss_op_put_bucket;
    uint64_t need = 0;
    if (grows && http_content_length(r, &need) != 1)
        need = 0;
    core c;
    oss_core(r, &c);
    if (core_space_check(&c, need, NULL) == VODUPD_OK || !grows)
        return 0;
    oss_error(r, OSS_ERR_StorageFull, VODUP_STORAGE_FULL_MSG);
    return 1;
}

/* ---- the dialect ------------------------------------------------------------------ */

/* OSS takes every request the dialects before it in the table left (dialect.c). */
static int detect(const http_request *r)
{
    (void)r;
    return 1;
}

/* OSS ids: 24 upper-case hex digits (the first 12 bytes). */
static void format_id(char out[VODUP_REQUEST_ID_MAX], const unsigned char id[16])
{
    vodup_hex_upper(out, id, 12);
}

static int route(http_request *r)
{
    return core_route_request(&ROUTER, r);
}

/* Signature, credentials, policy, and the disk reserve: everything that decides whether
 * the picked operation may start. Reads the stores (keys, the media of scoped
 * credentials). */
static int authenticate(http_request *r)
{
    if (r->op == &oss_op_options) /* CORS preflight: browsers send it unsigned */
        return 0;
    if (verify(r) != 0 || authorize(r) != 0 || refused_for_space(r))
        return -1;
    return 0;
}

static const char CORS_EXPOSE[] =
    "ETag, x-oss-request-id, x-oss-hash-crc64ecma, x-oss-object-type, x-oss-storage-class, "
    "x-oss-err, x-oss-ec, x-oss-next-append-position, Content-MD5, Content-Length, Content-Range, "
    "Last-Modified, x-oss-version-id";

static void common_headers(const http_request *r, http_response *resp)
{
    http_response_header(resp, "x-oss-request-id", r->request_id);
    http_cors_headers(r, resp, CORS_EXPOSE);
}

const vodup_dialect vodup_dialect_oss = {
    .name = "oss",
    .detect = detect,
    .format_id = format_id,
    .route = route,
    .authenticate = authenticate,
    .render_error = oss_status_error, /* status.c: the one mapping */
    .common_headers = common_headers,
};
