/* status.c - the OSS dialect's one mapping from core statuses (core/status.h) to its
 * answers: the error code (and with it the HTTP status, error.c), the message, and the
 * elements OSS adds to some errors (BucketName, Key, UploadId). Every handler answers a
 * core refusal through oss_status_error, so one status reads the same everywhere.
 */
#include <stdio.h>
#include <string.h>

#include "common/xml.h"
#include "server/oss/oss.h"

void oss_status_map(vodupd_status st, const vodupd_detail *d, oss_err *code, char *msg, size_t msg_len)
{
    static const vodupd_detail none;
    if (!d)
        d = &none;
    const char *what = d->what ? d->what : "The operation";
    switch (st) {
    case VODUPD_OK: /* not an error: a caller's slip, answered as one */
    case VODUPD_STATUS__COUNT:
        *code = OSS_ERR_InternalError;
        snprintf(msg, msg_len, "Internal error.");
        return;
    case VODUPD_ENOBUCKET:
        *code = OSS_ERR_NoSuchBucket;
        snprintf(msg, msg_len, "The specified bucket does not exist.");
        return;
    case VODUPD_ENOKEY:
        *code = OSS_ERR_NoSuchKey;
        snprintf(msg, msg_len, "The specified key does not exist.");
        return;
    case VODUPD_ENOUPLOAD:
        *code = OSS_ERR_NoSuchUpload;
        snprintf(msg, msg_len, "The specified upload does not exist. The upload ID may be invalid, or the upload may "
                               "have been aborted or completed.");
        return;
    case VODUPD_EEXISTS:
        *code = OSS_ERR_BucketAlreadyExists;
        snprintf(msg, msg_len, "The requested bucket name is not available.");
        return;
    case VODUPD_ENOTEMPTY:
        *code = OSS_ERR_BucketNotEmpty;
        snprintf(msg, msg_len, "The bucket has objects. Please delete them first.");
        return;
    case VODUPD_EINVALIDPART:
        *code = OSS_ERR_InvalidPart;
        snprintf(msg, msg_len, "One or more of the specified parts could not be found or the specified entity tag "
                               "might not have matched the part's entity tag (part %d).", d->part);
        return;
    case VODUPD_EPARTORDER:
        *code = OSS_ERR_InvalidPartOrder;
        snprintf(msg, msg_len, "The list of parts was not in ascending order. Parts must be ordered by part number "
                               "(part %d).", d->part);
        return;
    case VODUPD_ETOOSMALL:
        *code = OSS_ERR_EntityTooSmall;
        snprintf(msg, msg_len, "Your proposed upload is smaller than the minimum allowed size: every part but the "
                               "last must be at least %llu bytes (part %d).", (unsigned long long)d->limit, d->part);
        return;
    case VODUPD_ETOOLARGE:
        *code = OSS_ERR_EntityTooLarge;
        snprintf(msg, msg_len, "The body exceeds %llu bytes.", (unsigned long long)d->limit);
        return;
    case VODUPD_EBADDIGEST:
        *code = OSS_ERR_InvalidDigest;
        snprintf(msg, msg_len, "The %s you specified did not match what was received.",
                 d->digest == VODUPD_DIGEST_CRC64 ? "x-oss-hash-crc64ecma" : "Content-MD5");
        return;
    case VODUPD_EDENIED:
        *code = OSS_ERR_AccessDenied;
        snprintf(msg, msg_len, "%s",
                 d->deny == VODUPD_DENY_OWNER  ? "You have no right to access this bucket."
                 : d->deny == VODUPD_DENY_SCOPE ? "These temporary credentials may only upload the object they were "
                                                  "issued for."
                 : d->deny == VODUPD_DENY_COMPLETE
                     ? "This media's upload is complete; get new credentials (RefreshUploadVideo) to upload it again."
                     : "Access denied.");
        return;
    case VODUPD_EREVOKED:
        *code = OSS_ERR_AccessDenied;
        snprintf(msg, msg_len, "The upload was revoked: its media has been deleted.");
        return;
    case VODUPD_ELIMIT:
        *code = OSS_ERR_InvalidArgument;
        snprintf(msg, msg_len, "Too many %s (at most %llu); complete or abort some.",
                 d->what ? d->what : "open requests", (unsigned long long)d->limit);
        return;
    case VODUPD_EQUOTA:
        *code = OSS_ERR_QuotaExceeded;
        snprintf(msg, msg_len, "The account's storage quota of %llu bytes would be exceeded (%llu in use); delete "
                 "objects or media, or ask the operator for more.", (unsigned long long)d->limit, (unsigned long long)d->used);
        return;
    case VODUPD_ENOSPC:
        *code = OSS_ERR_StorageFull;
        snprintf(msg, msg_len, "%s", VODUP_STORAGE_FULL_MSG);
        return;
    case VODUPD_EIO:
        *code = OSS_ERR_InternalError;
        snprintf(msg, msg_len, "%s failed.", what);
        return;
    case VODUPD_ENOMEM:
        *code = OSS_ERR_InternalError;
        snprintf(msg, msg_len, "Out of memory.");
        return;
    case VODUPD_EINCOMPLETE:
        *code = OSS_ERR_InternalError;
        snprintf(msg, msg_len, "The body was not received whole; nothing was stored.");
        return;
    case VODUPD_EBADREQUEST:
        *code = OSS_ERR_InvalidArgument;
        snprintf(msg, msg_len, "%s", d->what ? d->what : "The request is malformed.");
        return;
    case VODUPD_ENOTIMPL:
        *code = OSS_ERR_NotImplemented;
        snprintf(msg, msg_len, "%s", d->what ? d->what : "Not implemented.");
        return;
    case VODUPD_EBUSY:
        *code = OSS_ERR_ServiceUnavailable;
        snprintf(msg, msg_len, "%s", d->what ? d->what : "Please try again later.");
        return;
    case VODUPD_EINTERNAL:
        *code = OSS_ERR_InternalError;
        snprintf(msg, msg_len, "%s", d->what ? d->what : "Internal error.");
        return;
    }
    *code = OSS_ERR_InternalError;
    snprintf(msg, msg_len, "Internal error.");
}

void oss_status_error(http_request *r, vodupd_status st, const vodupd_detail *d)
{
    oss_err code;
    char msg[512];
    oss_status_map(st, d, &code, msg, sizeof msg);
    vbuf x = VBUF_INIT;
    if (st == VODUPD_ENOBUCKET || st == VODUPD_ENOTEMPTY) {
        vodup_xml_elem(&x, "BucketName", r->bucket ? r->bucket : "", r->bucket ? strlen(r->bucket) : 0);
    } else if (st == VODUPD_ENOKEY) {
        vodup_xml_elem(&x, "Key", r->key ? r->key : "", r->key_len);
    } else if (st == VODUPD_ENOUPLOAD) {
        const char *id = http_query(r, "uploadId");
        vodup_xml_elem(&x, "UploadId", id ? id : "", id ? strlen(id) : 0);
    }
    oss_error_x(r, code, vbuf_cstr(&x), "%s", msg);
    vbuf_free(&x);
}
