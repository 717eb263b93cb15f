/* error.c - S3 error answers: the codes, their HTTP statuses and the XML shape
 * (<Error><Code/><Message/><Resource/><RequestId/></Error>). HEAD answers carry no body:
 * S3 clients read the status alone there. */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "common/xml.h"
#include "server/s3/s3.h"

static const struct {
    const char *code;
    unsigned int status;
} ERRS[S3_ERR__COUNT] = {
    [S3_ERR_AccessDenied] = {"AccessDenied", 403},
    [S3_ERR_AuthorizationHeaderMalformed] = {"AuthorizationHeaderMalformed", 400},
    [S3_ERR_BadDigest] = {"BadDigest", 400},
    [S3_ERR_BucketAlreadyExists] = {"BucketAlreadyExists", 409},
    [S3_ERR_BucketAlreadyOwnedByYou] = {"BucketAlreadyOwnedByYou", 409},
    [S3_ERR_BucketNotEmpty] = {"BucketNotEmpty", 409},
    [S3_ERR_EntityTooLarge] = {"EntityTooLarge", 400},
    [S3_ERR_EntityTooSmall] = {"EntityTooSmall", 400},
    [S3_ERR_ExpiredToken] = {"ExpiredToken", 400},
    [S3_ERR_IncompleteBody] = {"IncompleteBody", 400},
    [S3_ERR_InternalError] = {"InternalError", 500},
    [S3_ERR_InvalidAccessKeyId] = {"InvalidAccessKeyId", 403},
    [S3_ERR_InvalidArgument] = {"InvalidArgument", 400},
    [S3_ERR_InvalidBucketName] = {"InvalidBucketName", 400},
    [S3_ERR_InvalidDigest] = {"InvalidDigest", 400},
    [S3_ERR_InvalidPart] = {"InvalidPart", 400},
    [S3_ERR_InvalidPartOrder] = {"InvalidPartOrder", 400},
    [S3_ERR_InvalidRange] = {"InvalidRange", 416},
    [S3_ERR_InvalidRequest] = {"InvalidRequest", 400},
    [S3_ERR_InvalidToken] = {"InvalidToken", 400},
    [S3_ERR_KeyTooLongError] = {"KeyTooLongError", 400},
    [S3_ERR_MalformedXML] = {"MalformedXML", 400},
    [S3_ERR_MethodNotAllowed] = {"MethodNotAllowed", 405},
    [S3_ERR_MissingContentLength] = {"MissingContentLength", 411},
    [S3_ERR_NoSuchBucket] = {"NoSuchBucket", 404},
    [S3_ERR_NoSuchKey] = {"NoSuchKey", 404},
    [S3_ERR_NoSuchUpload] = {"NoSuchUpload", 404},
    [S3_ERR_NotImplemented] = {"NotImplemented", 501},
    [S3_ERR_PreconditionFailed] = {"PreconditionFailed", 412},
    [S3_ERR_RequestTimeTooSkewed] = {"RequestTimeTooSkewed", 403},
    [S3_ERR_SignatureDoesNotMatch] = {"SignatureDoesNotMatch", 403},
    [S3_ERR_SlowDown] = {"SlowDown", 503},
    [S3_ERR_ServiceUnavailable] = {"ServiceUnavailable", 503},
    [S3_ERR_InsufficientStorage] = {"InsufficientStorage", 507},
    [S3_ERR_QuotaExceeded] = {"QuotaExceeded", 403},   /* as radosgw answers a user quota */
    [S3_ERR_XAmzContentSHA256Mismatch] = {"XAmzContentSHA256Mismatch", 400},
};

void s3_error_code(http_request *r, unsigned int status, const char *code, const char *msg)
{
    if (r->resp)
        return;
    r->err_code = code;
    if (r->method && strcmp(r->method, "HEAD") == 0) {
        http_reply(r, status, http_response_empty());
        return;
    }
    vbuf x = VBUF_INIT;
    vbuf_puts(&x, "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<Error>");
    vodup_xml_elem(&x, "Code", code, strlen(code));
    vodup_xml_elem(&x, "Message", msg, strlen(msg));
    /* The resource as addressed: /bucket/key, or / */
    vbuf res = VBUF_INIT;
    vbuf_putc(&res, '/');
    if (r->bucket && *r->bucket) {
        vbuf_puts(&res, r->bucket);
        if (r->key_len) {
            vbuf_putc(&res, '/');
            vbuf_append(&res, r->key, r->key_len);
        }
    }
    vodup_xml_elem(&x, "Resource", res.data, res.len);
    vbuf_free(&res);
    vodup_xml_elem(&x, "RequestId", r->request_id, strlen(r->request_id));
    vbuf_puts(&x, "</Error>\n");
    http_respond_buf(r, status, "application/xml", &x);
    vbuf_free(&x);
}

void s3_error(http_request *r, s3_err e, const char *fmt, ...)
{
    char msg[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    if ((size_t)e >= S3_ERR__COUNT)
        e = S3_ERR_InternalError;
    s3_error_code(r, ERRS[e].status, ERRS[e].code, msg);
}

const char *s3_err_code(s3_err e)
{
    return ERRS[(size_t)e < S3_ERR__COUNT ? e : S3_ERR_InternalError].code;
}
