/* oss.h - the OSS dialect of the object store: routing, errors, the operations. */
#ifndef VODUPD_OSS_H
#define VODUPD_OSS_H

#include "server/core/core.h"
#include "server/core/ops.h"
#include "server/http/request.h"

/* The error vocabulary, with the HTTP statuses the real service uses. */
typedef enum oss_err {
    OSS_ERR_AccessDenied,
    OSS_ERR_BadRequest,
    OSS_ERR_BucketAlreadyExists,
    OSS_ERR_BucketNotEmpty,
    OSS_ERR_EntityTooLarge,
    OSS_ERR_EntityTooSmall,
    OSS_ERR_InternalError,
    OSS_ERR_InvalidAccessKeyId,
    OSS_ERR_InvalidArgument,
    OSS_ERR_InvalidBucketName,
    OSS_ERR_InvalidDigest,
    OSS_ERR_InvalidObjectName,
    OSS_ERR_InvalidPart,
    OSS_ERR_InvalidPartOrder,
    OSS_ERR_InvalidRange,
    OSS_ERR_InvalidSecurityToken,
    OSS_ERR_MalformedXML,
    OSS_ERR_MethodNotAllowed,
    OSS_ERR_MissingContentLength,
    OSS_ERR_NoSuchBucket,
    OSS_ERR_NoSuchKey,
    OSS_ERR_NoSuchUpload,
    OSS_ERR_NotImplemented,
    OSS_ERR_PreconditionFailed,
    OSS_ERR_RequestTimeTooSkewed,
    OSS_ERR_SecurityTokenExpired,
    OSS_ERR_SignatureDoesNotMatch,
    OSS_ERR_TooManyBuckets,
    OSS_ERR_AccessKeyIdAndSecurityTokenNotMatch,
    OSS_ERR_StorageFull,
    OSS_ERR_QpsLimitExceeded,
    OSS_ERR_ServiceUnavailable,
    OSS_ERR_QuotaExceeded,
    OSS_ERR_MissingArgument,
    OSS_ERR__COUNT
} oss_err;

/* Answers r with the error: XML body (none for HEAD: it goes base64 in x-oss-err),
 * Code, Message (printf-style), RequestId, HostId. */
void oss_error(http_request *r, oss_err e, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
/* Same, with extra XML elements (already escaped) placed after HostId. */
void oss_error_x(http_request *r, oss_err e, const char *extra_xml, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

/* e's code as OSS spells it ("NoSuchKey"). */
const char *oss_err_code(oss_err e);

/* The dialect's entry (routing, authentication) is vodup_dialect_oss (dialect.h). */

/* The one mapping of core statuses to OSS answers (status.c): the code (whose HTTP
 * status error.c keeps) and the message for st with detail d (may be NULL). */
void oss_status_map(vodupd_status st, const vodupd_detail *d, oss_err *code, char *msg, size_t msg_len);
/* The code OSS spells for st ("NoSuchKey"), its message into msg. */
const char *oss_status_code(vodupd_status st, const vodupd_detail *d, char *msg, size_t n);
/* Answers r with that error, adding the element OSS gives it (BucketName, Key, UploadId). */
void oss_status_error(http_request *r, vodupd_status st, const vodupd_detail *d);

/* Shared helpers for the handlers (oss_util.c). */
int oss_check_key(http_request *r);                 /* validates r->key; answers on error */
int oss_require_bucket(http_request *r, vodup_meta_bucket *b); /* exists and caller owns it; answers on error */
/* The OSS rules the core applies (part sizes and numbers). */
extern const core_rules oss_rules;
/* The core of r's server (core_of_server). */
void oss_core(http_request *r, core *c);
void oss_xml_start(vbuf *b, const char *root);      /* <?xml ...?><root> */
void oss_xml_key(vbuf *b, const char *elem, const char *key, size_t n, int url_encode);
/* <CommonPrefixes><Prefix>...</Prefix></CommonPrefixes> for a listing's prefix entry. */
void oss_xml_common_prefix(vbuf *b, const core_list_entry *e, int url_encode);
void oss_xml_u64(vbuf *b, const char *elem, unsigned long long v);
void oss_add_object_headers(http_response *resp, const vodup_meta_object *o);
int oss_collect_user_meta(http_request *r, char **json);   /* x-oss-meta-* -> JSON; answers on error */
/* Body collection for XML and ignored bodies, with r->body_limit. */
int oss_collect_body(http_request *r, const char *p, size_t n);
/* Answers a listing's refusal: the argument core_list_query_init refused (bad; max_name
 * names the page-size parameter), else st as oss_status_error. */
void oss_list_error(http_request *r, vodupd_status st, const vodupd_detail *d, core_list_arg bad,
                    const char *max_name);
/* 1 for encoding-type=url, 0 none; -1 after answering a bad value. */
int oss_url_encoding(http_request *r);
/* Parses a Range header value against size: 1 valid (*first..*last inclusive), 0 when h is
 * NULL, -1 unsatisfiable or malformed. clip lets the end run past the size
 * (x-oss-range-behavior: standard); otherwise such a range is invalid (OSS then ignores it). */
int oss_parse_range(const char *h, uint64_t size, int clip, uint64_t *first, uint64_t *last);
/* An UploadPart's (or UploadPartCopy's) target (multipart.c): the key, the bucket, the
 * partNumber and the ?uploadId of this object. 0, or -1 after answering. */
int oss_part_target(http_request *r, int *number, char upload_id[33]);

/* Operations. */
extern const http_op oss_op_list_buckets, oss_op_put_bucket,
    oss_op_get_bucket_info, oss_op_list_objects, oss_op_list_uploads,
    oss_op_put_object, oss_op_get_object, oss_op_head_object, oss_op_delete_object,
    oss_op_initiate, oss_op_upload_part, oss_op_complete, oss_op_abort, oss_op_list_parts,
    oss_op_options, oss_op_delete_objects;
extern const http_op oss_op_copy_object, oss_op_upload_part_copy; /* object_copy.c */

#endif
