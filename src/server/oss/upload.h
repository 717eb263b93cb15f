/* upload.h - the OSS side of a request body that becomes an object or a part.
 *
 * The core streams the body into a new blob while its digests are computed
 * (core_ingest, core/core.h); this wraps it with what OSS brings: Content-Length and
 * Content-MD5 from the headers, the operation's details, and the answer OSS gives a
 * written body (ETag, CRC-64, Content-MD5).
 */
#ifndef VODUPD_OSS_UPLOAD_H
#define VODUPD_OSS_UPLOAD_H

#include <stdint.h>

#include "server/core/core.h"
#include "server/http/request.h"

typedef struct oss_upload {
    core_ingest *in;
    int failed;                 /* answered already; drop the rest */

    /* operation details (PutObject / UploadPart) */
    char *content_type;
    char *user_meta;
    int part_number;
    char upload_id[33];
} oss_upload;

/* Content-Length of r: 1 and *len when given, 0 when absent (chunked), -1 when malformed. */
int oss_content_length(http_request *r, uint64_t *len);

/* Checks size and Content-MD5, opens the ingest; installs the state on r (freed with r).
 * Returns the state, or NULL after answering. */
oss_upload *oss_upload_begin(http_request *r, uint64_t max_size);
/* The operations' body step: feeds the ingest; answers (and drops the rest) on failure. */
int oss_upload_body(http_request *r, const char *p, size_t n);
/* Answers 200 with the ETag, CRC-64 and Content-MD5 of a written body
 * (PutObject and UploadPart answer alike). */
void oss_reply_written(http_request *r, const oss_upload *u);

#endif
