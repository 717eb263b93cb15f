/* router.c - from a raw request to an S3 operation: detection, addressing, SigV4
 * authentication, authorization, dispatch (docs/s3.md).
 *
 * Detection looks for S3's own signs only (an AWS4-HMAC-SHA256 Authorization, an
 * X-Amz-Algorithm query, an x-amz-* header), so it sits before OSS, which takes the
 * rest. Addressing is OSS's (common/target.h): our own host means path style, any other
 * Host names the bucket in its first label. The signature is checked by common/sigv4.c
 * (V4 canonicalisation shared with OSS V4); the caller's key, temporary credentials and
 * upload-credential scope by the same auth/ and core functions as OSS.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include <openssl/crypto.h>

#include "common/codec.h"
#include "common/digest.h"
#include "common/sigv4.h"
#include "common/target.h"
#include "server/auth/ratelimit.h"
#include "server/core/media.h"
#include "server/core/route.h"
#include "server/dialect.h"
#include "server/s3/s3.h"

/* The per-request state of the dialect, installed by authenticate and extended by the
 * operations that stream a body (object.c): r->op_state of every S3 request. */
#include "server/s3/state.h"

const s3_payload *s3_request_payload(const http_request *r)
{
    static const s3_payload none;
    const s3_state *s = r->op_state;
    return s ? &s->payload : &none;
}

/* Sub-resources vodupd does not offer yet: NotImplemented rather than silently a plain
 * bucket or object request. */
static const char *const UNSUPPORTED[] = {
    "acl", "cors", "logging", "website", "lifecycle", "tagging", "restore", "versioning",
    "versions", "versionId", "policy", "policyStatus", "encryption", "replication", "inventory",
    "notification", "requestPayment", "accelerate", "analytics", "metrics", "ownershipControls",
    "publicAccessBlock", "object-lock", "retention", "legal-hold", "torrent", "select", "attributes",
    "intelligent-tiering", NULL,
};

enum { S = CORE_AT_SERVICE, B = CORE_AT_BUCKET, O = CORE_AT_OBJECT };

/* Which operation a request means: the first route it matches (core/route.h). */
static const core_route ROUTES[] = {
    {B, "POST", "delete", NULL, &s3_op_delete_objects, NULL},
    {S | B | O, NULL, "delete", NULL, NULL, "The 'delete' sub-resource is not implemented by vodupd."},
    {S, "GET", NULL, NULL, &s3_op_list_buckets, NULL},
    {B, "GET", "uploads", NULL, &s3_op_list_uploads, NULL},
    {B, "GET", "location", NULL, &s3_op_get_bucket_location, NULL},
    {B, "GET", NULL, NULL, &s3_op_list_objects, NULL},
    {B, "HEAD", NULL, NULL, &s3_op_head_bucket, NULL},
    {B, "PUT", NULL, NULL, &s3_op_create_bucket, NULL},
    {B, "DELETE", NULL, NULL, &core_op_delete_bucket, NULL},
    {B, "POST", NULL, NULL, NULL, "This POST operation is not implemented by vodupd."},
    {O, "PUT", "uploadId|partNumber", "x-amz-copy-source", &s3_op_upload_part_copy, NULL},
    {O, "PUT", NULL, "x-amz-copy-source", &s3_op_copy_object, NULL},
    {O, "PUT", "uploadId|partNumber", NULL, &s3_op_upload_part, NULL},
    {O, "PUT", NULL, NULL, &s3_op_put_object, NULL},
    {O, "GET", "uploadId", NULL, &s3_op_list_parts, NULL},
    {O, "GET", NULL, NULL, &s3_op_get_object, NULL},
    {O, "HEAD", NULL, NULL, &s3_op_head_object, NULL},
    {O, "DELETE", "uploadId", NULL, &s3_op_abort_multipart, NULL},
    {O, "DELETE", NULL, NULL, &s3_op_delete_object, NULL},
    {O, "POST", "uploads", NULL, &s3_op_create_multipart, NULL},
    {O, "POST", "uploadId", NULL, &s3_op_complete_multipart, NULL},
    {O, "POST", NULL, NULL, NULL, "This POST operation is not implemented by vodupd."},
    {0, NULL, NULL, NULL, NULL, NULL},
};

static void refuse(http_request *r, int why, const char *msg)
{
    if (why == CORE_REFUSE_NUL_KEY)
        s3_error(r, S3_ERR_InvalidArgument, "The object key must not contain NUL bytes.");
    else
        s3_error(r, why == CORE_REFUSE_METHOD ? S3_ERR_MethodNotAllowed : S3_ERR_NotImplemented, "%s", msg);
}

static const core_router ROUTER = {
    ROUTES, NULL, UNSUPPORTED, "The '%s' sub-resource is not implemented by vodupd.", refuse,
};

/* The RAM action an S3 operation needs: the OSS name of the same operation, so that one
 * policy governs one namespace whichever dialect reaches it. */
static const char *policy_action(const http_op *op)
{
    if (op == &s3_op_create_bucket)
        return "PutBucket";
    if (op == &s3_op_head_bucket || op == &s3_op_get_bucket_location)
        return "GetBucketInfo"; /* OSS answers ?location within GetBucketInfo */
    if (op == &s3_op_list_objects)
        return "ListObjects";
    if (op == &s3_op_create_multipart)
        return "InitiateMultipartUpload";
    return op->name; /* the same name in both dialects */
}

/* Upload credentials may run only the writing operations on their one object (core
 * scope check, as in OSS); RAM users and roles need a policy allowing the action. */
static int authorize(http_request *r)
{
    if (r->op == &s3_op_delete_objects) /* one request, many keys: checked per key (core/delete.c) */
        return 0;
    core co;
    s3_core(r, &co);
    core_write w = r->op == &s3_op_put_object           ? CORE_WRITE_PUT
                   : r->op == &s3_op_complete_multipart ? CORE_WRITE_COMPLETE
                                                        : CORE_WRITE_OTHER;
    core_scope_result res;
    vodupd_detail d = {0};
    vodupd_status st = core_authorize(&co, &r->cred, policy_action(r->op), w, r->bucket, r->key, r->key_len,
                                      http_query(r, "uploadId"), &res, &d);
    if (st != VODUPD_OK) {
        s3_status_error(r, st, &d);
        return -1;
    }
    r->replay_only = res.replay_only;
    return 0;
}

static void state_free(void *p)
{
    s3_state *s = p;
    if (!s)
        return;
    core_ingest_free(s->in);
    vodup_sha256_free(s->sha);
    if (s->chunked) {
        vodup_chunked_free(s->chunked);
        free(s->chunked);
    }
    if (s->ck_algs)
        vodup_s3_checksum_free(&s->ck);
    free(s->content_type);
    free(s->user_meta);
    free(s);
}

/* What the signature says about the body, into the request's state: a payload hash to
 * check, or an aws-chunked body to decode (its chunk signatures chained on the request's,
 * with the signing key). 0, or -1 after answering. */
static int payload_rules(http_request *r, const vodup_s3_auth *a, const unsigned char key[32])
{
    s3_state *s = calloc(1, sizeof *s);
    if (!s) {
        s3_error(r, S3_ERR_InternalError, "Out of memory.");
        return -1;
    }
    r->op_state = s;
    r->op_free = state_free;
    switch (a->payload) {
    case VODUP_S3_PAYLOAD_SHA256:
        /* the parser checked the form: 64 hex digits */
        for (int i = 0; i < 32; i++)
            s->payload.sha256[i] = (unsigned char)(vodup_hex_digit(a->payload_hash[2 * i]) << 4 |
                                                   vodup_hex_digit(a->payload_hash[2 * i + 1]));
        s->payload.check_sha256 = 1;
        return 0;
    case VODUP_S3_PAYLOAD_UNSIGNED:
        return 0;
    default:
        break;
    }
    if (!(s->chunked = malloc(sizeof *s->chunked))) {
        s3_error(r, S3_ERR_InternalError, "Out of memory.");
        return -1;
    }
    int rc = vodup_chunked_init(s->chunked, a, key, http_header(r, "x-amz-trailer"),
                                http_header(r, "x-amz-decoded-content-length"));
    if (rc != 0) {
        const char *code, *msg;
        int status;
        vodup_chunked_error(rc, &code, &status, &msg);
        s3_error_code(r, (unsigned)status, code, msg);
        return -1;
    }
    return 0;
}

/* Checks the signature and resolves the caller; fills r->cred and the payload rules. */
static int verify(http_request *r)
{
    vodup_s3_request q = {
        .method = r->method, .path = r->target.path, .path_len = r->target.path_len,
        .query = r->target.query, .nquery = r->target.nquery,
        .headers = r->headers, .nheaders = r->nheaders,
    };
    vodup_s3_auth a;
    int rc = vodup_s3_auth_parse(&a, &q);
    if (rc == 0 && a.kind == VODUP_S3_AUTH_NONE) {
        s3_error(r, S3_ERR_AccessDenied, "Access Denied: anonymous access is not allowed.");
        return -1;
    }
    time_t now = time(NULL);
    if (rc == 0)
        rc = vodup_s3_auth_check_time(&a, now);
    if (rc != 0) {
        const char *code, *msg;
        int status;
        vodup_s3_auth_error(rc, a.kind, &code, &status, &msg);
        s3_error_code(r, (unsigned)status, code, msg);
        return -1;
    }
    if (strcmp(a.service, "s3") != 0) {
        s3_error(r, S3_ERR_AuthorizationHeaderMalformed, "The credential scope names service '%s'; expecting 's3'.",
                 a.service);
        return -1;
    }
    const char *unsigned_h = vodup_s3_unsigned_amz_header(&q, &a);
    if (unsigned_h) {
        s3_error(r, S3_ERR_AccessDenied, "There were headers present in the request which were not signed: %s",
                 unsigned_h);
        return -1;
    }
    switch (auth_resolve(r->srv, a.access_key_id, a.security_token, now, &r->cred)) {
    case AUTH_OK:
        break;
    case AUTH_ENOKEY:
    case AUTH_EINACTIVE:
        s3_error(r, S3_ERR_InvalidAccessKeyId, "The AWS Access Key Id you provided does not exist in our records.");
        return -1;
    case AUTH_ENOTOKEN:
        s3_error(r, S3_ERR_InvalidAccessKeyId, "A temporary access key id needs its session token.");
        return -1;
    case AUTH_ETOKEN:
    case AUTH_ETOKEN_MISMATCH:
        s3_error(r, S3_ERR_InvalidToken, "The provided token is malformed or otherwise invalid.");
        return -1;
    case AUTH_ETOKEN_EXPIRED:
        s3_error(r, S3_ERR_ExpiredToken, "The provided token has expired.");
        return -1;
    default:
        s3_error(r, S3_ERR_InternalError, "Credentials could not be checked.");
        return -1;
    }
    if (r->cred.temporary && r->cred.expires < a.date) {
        auth_cred_clear(&r->cred);
        s3_error(r, S3_ERR_ExpiredToken, "The provided token has expired.");
        return -1;
    }
    unsigned char key[32]; /* the signing key: the aws-chunked decoder checks chunks with it */
    int ok = vodup_s3_verify(&q, &a, r->cred.secret, NULL, key);
    if (ok != 1) {
        auth_cred_clear(&r->cred);
        if (ok < 0)
            s3_error(r, S3_ERR_InternalError, "Out of memory.");
        else
            s3_error(r, S3_ERR_SignatureDoesNotMatch, "The request signature we calculated does not match the "
                                                      "signature you provided. Check your key and signing method.");
        OPENSSL_cleanse(key, sizeof key);
        return -1;
    }
    int rc2 = payload_rules(r, &a, key);
    OPENSSL_cleanse(key, sizeof key);
    if (rc2 != 0)
        return -1;
    if (!auth_ratelimit_take(r->srv->ratelimit, a.access_key_id, NULL)) {
        auth_cred_clear(&r->cred);
        s3_error(r, S3_ERR_SlowDown, "Please reduce your request rate.");
        return -1;
    }
    r->authenticated = 1;
    return 0;
}

/* Below the disk reserve nothing that makes the store grow starts (store/blob.h). */
static int refused_for_space(http_request *r)
{
    if ((r->op != &s3_op_put_object && r->op != &s3_op_upload_part &&
                                     r->op != &s3_op_create_multipart && r->op != &s3_op_create_bucket))
        return 0;
    uint64_t need = 0;
    if (http_content_length(r, &need) != 1)
        need = 0;
    core c;
    core_of_server(&c, r->srv);
    if (core_space_check(&c, need, NULL) == VODUPD_OK)
        return 0;
    s3_error(r, S3_ERR_InsufficientStorage, VODUP_STORAGE_FULL_MSG);
    return 1;
}

/* ---- the dialect ------------------------------------------------------------------ */

static int detect(const http_request *r)
{
    const char *a = http_header(r, "Authorization");
    if (a && strncmp(a, "AWS4-HMAC-SHA256", 16) == 0)
        return 1;
    if (r->target.path && http_has_query(r, "X-Amz-Algorithm"))
        return 1;
    for (size_t i = 0; i < r->nheaders; i++)
        if (strncasecmp(r->headers[i].name, "x-amz-", 6) == 0)
            return 1;
    return 0;
}

/* S3 request ids: 16 upper-case hex digits. */
static void format_id(char out[VODUP_REQUEST_ID_MAX], const unsigned char id[16])
{
    vodup_hex_upper(out, id, 8);
}

static int route(http_request *r)
{
    return core_route_request(&ROUTER, r);
}

static int authenticate(http_request *r)
{
    if (verify(r) != 0 || authorize(r) != 0 || refused_for_space(r))
        return -1;
    return 0;
}

static void common_headers(const http_request *r, http_response *resp)
{
    http_response_header(resp, "x-amz-request-id", r->request_id);
}

const vodup_dialect vodup_dialect_s3 = {
    .name = "s3",
    .detect = detect,
    .format_id = format_id,
    .route = route,
    .authenticate = authenticate,
    .render_error = s3_status_error,
    .common_headers = common_headers,
};
