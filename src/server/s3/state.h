/* state.h - the S3 dialect's per-request state (r->op_state of every authenticated S3
 * request): what authentication learnt about the payload, and a written body's ingest. */
#ifndef VODUPD_S3_STATE_H
#define VODUPD_S3_STATE_H

#include "common/digest.h"
#include "server/s3/s3.h"

typedef struct s3_state {
    s3_payload payload;
    core_ingest *in;            /* PutObject / UploadPart: the body's ingest */
    vodup_sha256_ctx *sha;      /* its SHA-256, when payload.check_sha256 */
    int failed;                 /* answered already: drop the rest */
    char *content_type;
    char *user_meta;
} s3_state;

#endif
