/* state.h - the S3 dialect's per-request state (r->op_state of every authenticated S3
 * request): what authentication learnt about the payload, and a written body's ingest. */
#ifndef VODUPD_S3_STATE_H
#define VODUPD_S3_STATE_H

#include "common/aws_chunked.h"
#include "common/digest.h"
#include "common/s3_checksum.h"
#include "server/s3/s3.h"

typedef struct s3_state {
    s3_payload payload;
    core_ingest *in;            /* PutObject / UploadPart: the body's ingest */
    vodup_sha256_ctx *sha;      /* its SHA-256, when payload.check_sha256 */
    int failed;                 /* answered already: drop the rest */
    char *content_type;
    char *user_meta;
    int part_number;            /* UploadPart */
    char upload_id[33];
    vodup_chunked *chunked;     /* an aws-chunked body's decoder (authenticate sets it up) */
    vodup_s3_checksum ck;       /* x-amz-checksum-* declared in headers or trailers */
    unsigned ck_algs;           /* ... the algorithms being computed (0: none) */
} s3_state;

/* A written body (object.c), for PutObject and UploadPart alike. begin opens the ingest
 * for at most max_size bytes after checking Content-Length and Content-MD5; chunk feeds
 * it (and the SHA-256 of a signed payload); end finishes it and checks the digests the
 * client declared. begin and end: 0, or -1 after answering. */
int s3_body_begin(http_request *r, uint64_t max_size);
int s3_body_chunk(http_request *r, const char *p, size_t n);
int s3_body_end(http_request *r);
/* 200 with the written body's ETag (lower-case MD5 hex, quoted). */
void s3_reply_written(http_request *r, const s3_state *s);

#endif
