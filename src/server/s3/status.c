/* status.c - the S3 dialect's one mapping from core statuses (core/status.h) to its
 * answers: the error code (its HTTP status is error.c's) and the message. */
#include <stdio.h>

#include "server/config.h"
#include "server/s3/s3.h"

void s3_status_map(vodupd_status st, const vodupd_detail *d, s3_err *code, char *msg, size_t msg_len)
{
    static const vodupd_detail none;
    if (!d)
        d = &none;
    switch (st) {
    case VODUPD_ENOBUCKET:
        *code = S3_ERR_NoSuchBucket;
        snprintf(msg, msg_len, "The specified bucket does not exist");
        return;
    case VODUPD_ENOKEY:
        *code = S3_ERR_NoSuchKey;
        snprintf(msg, msg_len, "The specified key does not exist.");
        return;
    case VODUPD_ENOUPLOAD:
        *code = S3_ERR_NoSuchUpload;
        snprintf(msg, msg_len, "The specified upload does not exist. The upload ID may be invalid, or the upload may "
                               "have been aborted or completed.");
        return;
    case VODUPD_EEXISTS:
        *code = S3_ERR_BucketAlreadyExists;
        snprintf(msg, msg_len, "The requested bucket name is not available.");
        return;
    case VODUPD_ENOTEMPTY:
        *code = S3_ERR_BucketNotEmpty;
        snprintf(msg, msg_len, "The bucket you tried to delete is not empty");
        return;
    case VODUPD_EINVALIDPART:
        *code = S3_ERR_InvalidPart;
        snprintf(msg, msg_len, "One or more of the specified parts could not be found or the specified entity tag "
                               "might not have matched the part's entity tag (part %d).", d->part);
        return;
    case VODUPD_EPARTORDER:
        *code = S3_ERR_InvalidPartOrder;
        snprintf(msg, msg_len, "The list of parts was not in ascending order (part %d).", d->part);
        return;
    case VODUPD_ETOOSMALL:
        *code = S3_ERR_EntityTooSmall;
        snprintf(msg, msg_len, "Your proposed upload is smaller than the minimum allowed object size: every part "
                               "but the last must be at least %llu bytes (part %d).",
                 (unsigned long long)d->limit, d->part);
        return;
    case VODUPD_ETOOLARGE:
        *code = S3_ERR_EntityTooLarge;
        snprintf(msg, msg_len, "Your proposed upload exceeds the maximum allowed size (%llu bytes).",
                 (unsigned long long)d->limit);
        return;
    case VODUPD_EBADDIGEST:
        *code = S3_ERR_BadDigest;
        snprintf(msg, msg_len, "The Content-MD5 you specified did not match what we received.");
        return;
    case VODUPD_EDENIED:
        *code = S3_ERR_AccessDenied;
        snprintf(msg, msg_len, "%s",
                 d->deny == VODUPD_DENY_OWNER  ? "Access Denied: the bucket belongs to another account."
                 : d->deny == VODUPD_DENY_SCOPE ? "These temporary credentials may only upload the object they were "
                                                  "issued for."
                 : d->deny == VODUPD_DENY_COMPLETE
                     ? "This media's upload is complete; get new credentials (RefreshUploadVideo) to upload it again."
                     : "Access Denied");
        return;
    case VODUPD_EREVOKED:
        *code = S3_ERR_AccessDenied;
        snprintf(msg, msg_len, "The upload was revoked: its media has been deleted.");
        return;
    case VODUPD_ELIMIT:
        *code = S3_ERR_InvalidRequest;
        snprintf(msg, msg_len, "Too many %s (at most %llu); complete or abort some.",
                 d->what ? d->what : "open requests", (unsigned long long)d->limit);
        return;
    case VODUPD_EQUOTA:
        *code = S3_ERR_QuotaExceeded;
        snprintf(msg, msg_len, "The account's storage quota of %llu bytes would be exceeded (%llu in use); delete "
                 "objects or media, or ask the operator for more.", (unsigned long long)d->limit, (unsigned long long)d->used);
        return;
    case VODUPD_ENOSPC:
        *code = S3_ERR_InsufficientStorage;
        snprintf(msg, msg_len, "%s", VODUP_STORAGE_FULL_MSG);
        return;
    case VODUPD_EINCOMPLETE:
        *code = S3_ERR_IncompleteBody;
        snprintf(msg, msg_len, "The body was not received whole; nothing was stored.");
        return;
    case VODUPD_EIO:
        *code = S3_ERR_InternalError;
        snprintf(msg, msg_len, "%s failed.", d->what ? d->what : "The operation");
        return;
    case VODUPD_EBADREQUEST:
        *code = S3_ERR_InvalidRequest;
        snprintf(msg, msg_len, "%s", d->what ? d->what : "The request is malformed.");
        return;
    case VODUPD_ENOTIMPL:
        *code = S3_ERR_NotImplemented;
        snprintf(msg, msg_len, "%s", d->what ? d->what : "A header you provided implies functionality that is not implemented.");
        return;
    case VODUPD_EBUSY:
        *code = S3_ERR_SlowDown;
        snprintf(msg, msg_len, "%s", d->what ? d->what : "Please reduce your request rate.");
        return;
    case VODUPD_EINTERNAL:
        *code = S3_ERR_InternalError;
        snprintf(msg, msg_len, "%s", d->what ? d->what : "We encountered an internal error. Please try again.");
        return;
    case VODUPD_ENOMEM:
    case VODUPD_OK: /* not an error: a caller's slip, answered as one */
    case VODUPD_STATUS__COUNT:
        break;
    }
    *code = S3_ERR_InternalError;
    snprintf(msg, msg_len, "We encountered an internal error. Please try again.");
}

void s3_status_error(http_request *r, vodupd_status st, const vodupd_detail *d)
{
    s3_err code;
    char msg[512];
    s3_status_map(st, d, &code, msg, sizeof msg);
    s3_error(r, code, "%s", msg);
}
