/* upload.h - streaming a request body into a new blob.
 *
 * Bodies go straight to the byte store while MD5 and CRC-64 are computed in the same
 * pass: no second read, no whole-body buffer. The blob becomes durable only in
 * oss_upload_commit, which the handler runs on the worker pool.
 */
#ifndef VODUPD_OSS_UPLOAD_H
#define VODUPD_OSS_UPLOAD_H

#include <stdint.h>

#include "common/digest.h"
#include "server/http/request.h"

/* The blob id recorded for an empty body: no file is written for it, the store's blob
 * ids are never empty, and the collector skips it. */
#define OSS_BLOB_EMPTY ""

typedef struct oss_upload {
    vodup_blobstore *bs;
    vodup_blob_writer *w;
    vodup_md5_ctx *md5;
    uint64_t crc;
    uint64_t size;
    uint64_t limit;
    int failed;                 /* answered already; drop the rest */
    unsigned char want_md5[16];
    int has_want_md5;
    unsigned char md5sum[16];
    int digested;               /* md5sum is final */
    char blob[33];              /* set by commit */
    int committed;

    /* operation details (PutObject / UploadPart) */
    char *content_type;
    char *user_meta;
    int part_number;
    char upload_id[33];
} oss_upload;

/* Content-Length of r: 1 and *len when given, 0 when absent (chunked), -1 when malformed. */
int oss_content_length(http_request *r, uint64_t *len);

/* Checks size and Content-MD5, opens the blob; installs the state on r (freed with r).
 * Returns the state, or NULL after answering. */
oss_upload *oss_upload_begin(http_request *r, uint64_t max_size, const char *what);
int oss_upload_body(http_request *r, const char *p, size_t n);
/* Finishes the body's MD5 (into u->md5sum) without storing anything; idempotent.
 * 0, or -1 after answering (the body was cut short or could not be written). */
int oss_upload_digest(http_request *r, oss_upload *u);
/* Verifies the digest and makes the blob durable. 0, or -1 after answering. */
int oss_upload_commit(http_request *r, oss_upload *u);
/* Removes a committed blob whose metadata could not be recorded. */
void oss_upload_discard(http_request *r, oss_upload *u);
/* Answers 200 with the ETag, CRC-64 and Content-MD5 of a written blob
 * (PutObject and UploadPart answer alike). */
void oss_reply_written(http_request *r, const oss_upload *u);

#endif
