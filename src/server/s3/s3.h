/* s3.h - the S3 dialect of the object store (docs/s3.md): routing, SigV4 authentication,
 * errors, and the operations over the same object core as OSS (core/core.h). */
#ifndef VODUPD_S3_H
#define VODUPD_S3_H

#include "server/core/core.h"
#include "server/core/ops.h"
#include "server/http/request.h"

/* The error vocabulary, with the HTTP statuses S3 gives them (s3/error.c). */
typedef enum s3_err {
    S3_ERR_AccessDenied,
    S3_ERR_AuthorizationHeaderMalformed,
    S3_ERR_BadDigest,
    S3_ERR_BucketAlreadyExists,
    S3_ERR_BucketAlreadyOwnedByYou,
    S3_ERR_BucketNotEmpty,
    S3_ERR_EntityTooLarge,
    S3_ERR_EntityTooSmall,
    S3_ERR_ExpiredToken,
    S3_ERR_IncompleteBody,
    S3_ERR_InternalError,
    S3_ERR_InvalidAccessKeyId,
    S3_ERR_InvalidArgument,
    S3_ERR_InvalidBucketName,
    S3_ERR_InvalidDigest,
    S3_ERR_InvalidPart,
    S3_ERR_InvalidPartOrder,
    S3_ERR_InvalidRange,
    S3_ERR_InvalidRequest,
    S3_ERR_InvalidToken,
    S3_ERR_KeyTooLongError,
    S3_ERR_MalformedXML,
    S3_ERR_MethodNotAllowed,
    S3_ERR_MissingContentLength,
    S3_ERR_NoSuchBucket,
    S3_ERR_NoSuchKey,
    S3_ERR_NoSuchUpload,
    S3_ERR_NotImplemented,
    S3_ERR_PreconditionFailed,
    S3_ERR_RequestTimeTooSkewed,
    S3_ERR_SignatureDoesNotMatch,
    S3_ERR_SlowDown,
    S3_ERR_ServiceUnavailable,
    S3_ERR_InsufficientStorage,
    S3_ERR_XAmzContentSHA256Mismatch,
    S3_ERR_QuotaExceeded,
    S3_ERR__COUNT
} s3_err;

/* Answers r with e: the XML error body (Code, Message, Resource, RequestId; none for
 * HEAD, whose answer has no body), with the status S3 gives e. status 0: e's own. */
void s3_error(http_request *r, s3_err e, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
/* Same with an explicit HTTP status (the auth errors of common/sigv4.c carry their own)
 * and code spelled as a string. */
void s3_error_code(http_request *r, unsigned int status, const char *code, const char *msg);

/* e's code as S3 spells it ("NoSuchKey"). */
const char *s3_err_code(s3_err e);

/* The S3 dialect's one mapping of core statuses to its answers (s3/status.c). */
void s3_status_map(vodupd_status st, const vodupd_detail *d, s3_err *code, char *msg, size_t msg_len);
void s3_status_error(http_request *r, vodupd_status st, const vodupd_detail *d);
/* The code S3 spells for st ("NoSuchKey"), its message into msg. */
const char *s3_status_code(vodupd_status st, const vodupd_detail *d, char *msg, size_t n);

/* Handler helpers (s3/util.c). */
extern const core_rules s3_rules;
void s3_core(http_request *r, core *c);
int s3_check_key(http_request *r);                        /* answers on error */
int s3_require_bucket(http_request *r, vodup_meta_bucket *b); /* answers on error */
int s3_collect_user_meta(http_request *r, char **json);   /* x-amz-meta-* -> JSON; answers on error */
void s3_object_headers(http_response *resp, const vodup_meta_object *o);
void s3_xml_start(vbuf *b, const char *root);             /* <?xml ...?><root xmlns=...> */
/* 1 for encoding-type=url, 0 none; -1 after answering a bad value. */
int s3_url_encoding(http_request *r);
/* Collects an XML body up to r->body_limit (past it: MalformedXML, r->body_too_large). */
int s3_collect_xml(http_request *r, const char *p, size_t n);
/* Answers a listing's refusal: the argument core_list_query_init refused (bad; max_name
 * names the page-size parameter), else st as s3_status_error. */
void s3_list_error(http_request *r, vodupd_status st, const vodupd_detail *d, core_list_arg bad,
                   const char *max_name);
/* The key is valid and the bucket the caller's (multipart.c). 0, or -1 after answering. */
int s3_object_scope(http_request *r);
/* An UploadPart's (or UploadPartCopy's) target (multipart.c): the key, the bucket, the
 * partNumber and the ?uploadId of this object. 0, or -1 after answering. */
int s3_part_target(http_request *r, int *number, char upload_id[33]);

/* What authentication learnt about the body (router.c): the payload hash the signature
 * covers, checked by the writing operations against the bytes received. */
typedef struct s3_payload {
    int check_sha256;          /* x-amz-content-sha256 was a digest: verify it */
    unsigned char sha256[32];
} s3_payload;
/* The payload rules of r (set by authenticate; all zero for unsigned payloads). */
const s3_payload *s3_request_payload(const http_request *r);

/* Operations. */
extern const http_op s3_op_list_buckets, s3_op_create_bucket, s3_op_head_bucket,
    s3_op_list_objects, s3_op_put_object, s3_op_get_object, s3_op_head_object, s3_op_delete_object,
    s3_op_create_multipart, s3_op_upload_part, s3_op_complete_multipart, s3_op_abort_multipart, s3_op_list_parts,
    s3_op_get_bucket_location, s3_op_delete_objects, s3_op_list_uploads;
extern const http_op s3_op_copy_object, s3_op_upload_part_copy; /* copy.c */

#endif
