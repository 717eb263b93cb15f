/* status.c - the S3 dialect's one mapping from core statuses (core/status.h) to its
 * answers, as a table: the error code (its HTTP status is error.c's) and the message
 * template core/status.c fills. */
#include <stdio.h>

#include "server/config.h"
#include "server/s3/s3.h"

/* The words S3 says for each core status (core/status.h: the template fields). */
static const vodupd_answers S3_ANSWERS = {
    .status = {
        /* VODUPD_OK is not an error (a caller's slip); ENOMEM has no words of its own */
        [VODUPD_OK] = {S3_ERR_InternalError, "We encountered an internal error. Please try again."},
        [VODUPD_ENOMEM] = {S3_ERR_InternalError, "We encountered an internal error. Please try again."},
        [VODUPD_ENOBUCKET] = {S3_ERR_NoSuchBucket, "The specified bucket does not exist"},
        [VODUPD_ENOKEY] = {S3_ERR_NoSuchKey, "The specified key does not exist."},
        [VODUPD_ENOUPLOAD] = {S3_ERR_NoSuchUpload, "The specified upload does not exist. The upload ID may be "
                                                   "invalid, or the upload may have been aborted or completed."},
        [VODUPD_EEXISTS] = {S3_ERR_BucketAlreadyExists, "The requested bucket name is not available."},
        [VODUPD_ENOTEMPTY] = {S3_ERR_BucketNotEmpty, "The bucket you tried to delete is not empty"},
        [VODUPD_EINVALIDPART] = {S3_ERR_InvalidPart,
                                 "One or more of the specified parts could not be found or the specified entity "
                                 "tag might not have matched the part's entity tag (part {part})."},
        [VODUPD_EPARTORDER] = {S3_ERR_InvalidPartOrder, "The list of parts was not in ascending order (part {part})."},
        [VODUPD_ETOOSMALL] = {S3_ERR_EntityTooSmall,
                              "Your proposed upload is smaller than the minimum allowed object size: every part "
                              "but the last must be at least {limit} bytes (part {part})."},
        [VODUPD_ETOOLARGE] = {S3_ERR_EntityTooLarge,
                              "Your proposed upload exceeds the maximum allowed size ({limit} bytes)."},
        [VODUPD_EBADDIGEST] = {S3_ERR_BadDigest, "The Content-MD5 you specified did not match what we received."},
        [VODUPD_EDENIED] = {S3_ERR_AccessDenied, "{deny}"},
        [VODUPD_EREVOKED] = {S3_ERR_AccessDenied, "The upload was revoked: its media has been deleted."},
        [VODUPD_ELIMIT] = {S3_ERR_InvalidRequest,
                           "Too many {what|open requests} (at most {limit}); complete or abort some."},
        [VODUPD_EQUOTA] = {S3_ERR_QuotaExceeded, "The account's storage quota of {limit} bytes would be exceeded "
                                                 "({used} in use); delete objects or media, or ask the operator "
                                                 "for more."},
        [VODUPD_ENOSPC] = {S3_ERR_InsufficientStorage, VODUP_STORAGE_FULL_MSG},
        [VODUPD_EINCOMPLETE] = {S3_ERR_IncompleteBody, "The body was not received whole; nothing was stored."},
        [VODUPD_EIO] = {S3_ERR_InternalError, "{what|The operation} failed."},
        [VODUPD_EBADREQUEST] = {S3_ERR_InvalidRequest, "{what|The request is malformed.}"},
        [VODUPD_ENOTIMPL] = {S3_ERR_NotImplemented,
                             "{what|A header you provided implies functionality that is not implemented.}"},
        [VODUPD_EBUSY] = {S3_ERR_SlowDown, "{what|Please reduce your request rate.}"},
        [VODUPD_EINTERNAL] = {S3_ERR_InternalError, "{what|We encountered an internal error. Please try again.}"},
    },
    .deny = {
        [VODUPD_DENY_NONE] = "Access Denied",
        [VODUPD_DENY_OWNER] = "Access Denied: the bucket belongs to another account.",
        [VODUPD_DENY_SCOPE] = "These temporary credentials may only upload the object they were issued for.",
        [VODUPD_DENY_COMPLETE] = "This media's upload is complete; get new credentials (RefreshUploadVideo) to "
                                 "upload it again.",
        [VODUPD_DENY_POLICY] = "Access Denied: your policies do not allow {what}.",
    },
    .digest_md5 = "Content-MD5",
    .digest_crc64 = "Content-MD5",
};

void s3_status_map(vodupd_status st, const vodupd_detail *d, s3_err *code, char *msg, size_t msg_len)
{
    *code = (s3_err)vodupd_answer_format(&S3_ANSWERS, st, d, msg, msg_len);
}

const char *s3_status_code(vodupd_status st, const vodupd_detail *d, char *msg, size_t n)
{
    return s3_err_code((s3_err)vodupd_answer_format(&S3_ANSWERS, st, d, msg, n));
}

void s3_status_error(http_request *r, vodupd_status st, const vodupd_detail *d)
{
    s3_err code;
    char msg[512];
    s3_status_map(st, d, &code, msg, sizeof msg);
    s3_error(r, code, "%s", msg);
}
