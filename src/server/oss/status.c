/* status.c - the OSS dialect's one mapping from core statuses (core/status.h) to its
 * answers: a table (the error code, whose HTTP status error.c keeps, and the message
 * template core/status.c fills) and the elements OSS adds to some errors (BucketName,
 * Key, UploadId). Every handler answers a core refusal through oss_status_error, so one
 * status reads the same everywhere.
 */
#include <stdio.h>
#include <string.h>

#include "common/xml.h"
#include "server/config.h"
#include "server/oss/oss.h"

/* The words OSS says for each core status (core/status.h: the template fields). */
static const vodupd_answers OSS_ANSWERS = {
    .status = {
        [VODUPD_OK] = {OSS_ERR_InternalError, "Internal error."}, /* not an error: a caller's slip */
        [VODUPD_ENOBUCKET] = {OSS_ERR_NoSuchBucket, "The specified bucket does not exist."},
        [VODUPD_ENOKEY] = {OSS_ERR_NoSuchKey, "The specified key does not exist."},
        [VODUPD_ENOUPLOAD] = {OSS_ERR_NoSuchUpload, "The specified upload does not exist. The upload ID may be "
                                                    "invalid, or the upload may have been aborted or completed."},
        [VODUPD_EEXISTS] = {OSS_ERR_BucketAlreadyExists, "The requested bucket name is not available."},
        [VODUPD_ENOTEMPTY] = {OSS_ERR_BucketNotEmpty, "The bucket has objects. Please delete them first."},
        [VODUPD_EINVALIDPART] = {OSS_ERR_InvalidPart,
                                 "One or more of the specified parts could not be found or the specified entity "
                                 "tag might not have matched the part's entity tag (part {part})."},
        [VODUPD_EPARTORDER] = {OSS_ERR_InvalidPartOrder, "The list of parts was not in ascending order. Parts must "
                                                         "be ordered by part number (part {part})."},
        [VODUPD_ETOOSMALL] = {OSS_ERR_EntityTooSmall,
                              "Your proposed upload is smaller than the minimum allowed size: every part but the "
                              "last must be at least {limit} bytes (part {part})."},
        [VODUPD_ETOOLARGE] = {OSS_ERR_EntityTooLarge, "The body exceeds {limit} bytes."},
        [VODUPD_EBADDIGEST] = {OSS_ERR_InvalidDigest, "The {digest} you specified did not match what was received."},
        [VODUPD_EDENIED] = {OSS_ERR_AccessDenied, "{deny}"},
        [VODUPD_EREVOKED] = {OSS_ERR_AccessDenied, "The upload was revoked: its media has been deleted."},
        [VODUPD_ELIMIT] = {OSS_ERR_InvalidArgument,
                           "Too many {what|open requests} (at most {limit}); complete or abort some."},
        [VODUPD_EQUOTA] = {OSS_ERR_QuotaExceeded, "The account's storage quota of {limit} bytes would be exceeded "
                                                  "({used} in use); delete objects or media, or ask the operator "
                                                  "for more."},
        [VODUPD_ENOSPC] = {OSS_ERR_StorageFull, VODUP_STORAGE_FULL_MSG},
        [VODUPD_EIO] = {OSS_ERR_InternalError, "{what|The operation} failed."},
        [VODUPD_ENOMEM] = {OSS_ERR_InternalError, "Out of memory."},
        [VODUPD_EINCOMPLETE] = {OSS_ERR_InternalError, "The body was not received whole; nothing was stored."},
        [VODUPD_EBADREQUEST] = {OSS_ERR_InvalidArgument, "{what|The request is malformed.}"},
        [VODUPD_ENOTIMPL] = {OSS_ERR_NotImplemented, "{what|Not implemented.}"},
        [VODUPD_EBUSY] = {OSS_ERR_ServiceUnavailable, "{what|Please try again later.}"},
        [VODUPD_EINTERNAL] = {OSS_ERR_InternalError, "{what|Internal error.}"},
    },
    .deny = {
        [VODUPD_DENY_NONE] = "Access denied.",
        [VODUPD_DENY_OWNER] = "You have no right to access this bucket.",
        [VODUPD_DENY_SCOPE] = "These temporary credentials may only upload the object they were issued for.",
        [VODUPD_DENY_COMPLETE] = "This media's upload is complete; get new credentials (RefreshUploadVideo) to "
                                 "upload it again.",
        [VODUPD_DENY_POLICY] = "You are not authorized to do this action by your policies.",
    },
    .digest_md5 = "Content-MD5",
    .digest_crc64 = "x-oss-hash-crc64ecma",
};

void oss_status_map(vodupd_status st, const vodupd_detail *d, oss_err *code, char *msg, size_t msg_len)
{
    *code = (oss_err)vodupd_answer_format(&OSS_ANSWERS, st, d, msg, msg_len);
}

const char *oss_status_code(vodupd_status st, const vodupd_detail *d, char *msg, size_t n)
{
    return oss_err_code((oss_err)vodupd_answer_format(&OSS_ANSWERS, st, d, msg, n));
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
