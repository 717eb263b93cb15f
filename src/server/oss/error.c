/* error.c - OSS error answers: the codes, their HTTP statuses and the XML shape.
 *
 * HEAD answers carry no body, so, as OSS does, the error XML travels base64-encoded in
 * the x-oss-err header (ali-oss decodes it there).
 */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "common/codec.h"
#include "common/xml.h"
#include "server/oss/oss.h"

static const struct {
    const char *code;
    unsigned int status;
} ERRS[OSS_ERR__COUNT] = {
    [OSS_ERR_AccessDenied] = {"AccessDenied", 403},
    [OSS_ERR_BadRequest] = {"BadRequest", 400},
    [OSS_ERR_BucketAlreadyExists] = {"BucketAlreadyExists", 409},
    [OSS_ERR_BucketNotEmpty] = {"BucketNotEmpty", 409},
    [OSS_ERR_EntityTooLarge] = {"EntityTooLarge", 400},
    [OSS_ERR_EntityTooSmall] = {"EntityTooSmall", 400},
    [OSS_ERR_InternalError] = {"InternalError", 500},
    [OSS_ERR_InvalidAccessKeyId] = {"InvalidAccessKeyId", 403},
    [OSS_ERR_InvalidArgument] = {"InvalidArgument", 400},
    [OSS_ERR_InvalidBucketName] = {"InvalidBucketName", 400},
    [OSS_ERR_InvalidDigest] = {"InvalidDigest", 400},
    [OSS_ERR_InvalidObjectName] = {"InvalidObjectName", 400},
    [OSS_ERR_InvalidPart] = {"InvalidPart", 400},
    [OSS_ERR_InvalidPartOrder] = {"InvalidPartOrder", 400},
    [OSS_ERR_InvalidRange] = {"InvalidRange", 416},
    [OSS_ERR_InvalidSecurityToken] = {"InvalidSecurityToken", 403},
    [OSS_ERR_MalformedXML] = {"MalformedXML", 400},
    [OSS_ERR_MethodNotAllowed] = {"MethodNotAllowed", 405},
    [OSS_ERR_MissingContentLength] = {"MissingContentLength", 411},
    [OSS_ERR_NoSuchBucket] = {"NoSuchBucket", 404},
    [OSS_ERR_NoSuchKey] = {"NoSuchKey", 404},
    [OSS_ERR_NoSuchUpload] = {"NoSuchUpload", 404},
    [OSS_ERR_NotImplemented] = {"NotImplemented", 501},
    [OSS_ERR_PreconditionFailed] = {"PreconditionFailed", 412},
    [OSS_ERR_RequestTimeTooSkewed] = {"RequestTimeTooSkewed", 403},
    [OSS_ERR_SecurityTokenExpired] = {"SecurityTokenExpired", 403},
    [OSS_ERR_SignatureDoesNotMatch] = {"SignatureDoesNotMatch", 403},
    [OSS_ERR_TooManyBuckets] = {"TooManyBuckets", 400},
    [OSS_ERR_AccessKeyIdAndSecurityTokenNotMatch] = {"AccessKeyIdAndSecurityTokenNotMatch", 403},
    [OSS_ERR_StorageFull] = {"InsufficientStorage", 507},  /* no OSS equivalent: HTTP's own name */
    [OSS_ERR_QuotaExceeded] = {"QuotaExceeded", 403},      /* the account's storage quota; radosgw's name */
    [OSS_ERR_QpsLimitExceeded] = {"QpsLimitExceeded", 429},
    [OSS_ERR_ServiceUnavailable] = {"ServiceUnavailable", 503},
    [OSS_ERR_MissingArgument] = {"MissingArgument", 400},
};

const char *oss_err_code(oss_err e)
{
    return ERRS[(size_t)e < OSS_ERR__COUNT ? e : OSS_ERR_InternalError].code;
}

static void oss_verror(http_request *r, oss_err e, const char *extra, const char *fmt, va_list ap)
    __attribute__((format(printf, 4, 0)));

static void oss_verror(http_request *r, oss_err e, const char *extra, const char *fmt, va_list ap)
{
    if (r->resp)
        return;
    char msg[1024];
    vsnprintf(msg, sizeof msg, fmt, ap);
    vbuf x = VBUF_INIT;
    vbuf_puts(&x, "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<Error>\n  ");
    vodup_xml_elem(&x, "Code", ERRS[e].code, strlen(ERRS[e].code));
    vbuf_puts(&x, "\n  ");
    vodup_xml_elem(&x, "Message", msg, strlen(msg));
    vbuf_puts(&x, "\n  ");
    vodup_xml_elem(&x, "RequestId", r->request_id, strlen(r->request_id));
    vbuf_puts(&x, "\n  ");
    const char *host = r->host ? r->host : "";
    vodup_xml_elem(&x, "HostId", host, strlen(host));
    if (extra && *extra) {
        vbuf_puts(&x, "\n  ");
        vbuf_puts(&x, extra);
    }
    vbuf_puts(&x, "\n</Error>\n");
    r->err_code = ERRS[e].code;
    if (r->method && strcmp(r->method, "HEAD") == 0) {
        vbuf b64 = VBUF_INIT;
        vodup_base64_encode(&b64, x.data, x.len);
        http_response *resp = http_response_empty();
        if (resp) {
            http_response_header(resp, "x-oss-err", vbuf_cstr(&b64));
            http_reply(r, ERRS[e].status, resp);
        }
        vbuf_free(&b64);
    } else {
        http_respond_buf(r, ERRS[e].status, "application/xml", &x);
    }
    vbuf_free(&x);
}

void oss_error(http_request *r, oss_err e, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    oss_verror(r, e, NULL, fmt, ap);
    va_end(ap);
}

void oss_error_x(http_request *r, oss_err e, const char *extra_xml, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    oss_verror(r, e, extra_xml, fmt, ap);
    va_end(ap);
}
