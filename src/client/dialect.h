/* dialect.h - the object-store protocol a file's requests speak, as a table.
 *
 * The engine knows the steps of an upload (PutObject, or Initiate, parts, ListParts,
 * Complete, Abort) and what their answers mean for the file; a dialect knows how each
 * step is said on the wire: the URL and addressing style, the signature, the Complete
 * body, the answers' headers and XML, and which error answers are transient, expired
 * credentials or a lost upload. OSS (dialect_oss.c, V1 signatures) is the one dialect
 * today. An S3 dialect fits the same table: path- or virtual-host addressing, SigV4
 * from src/common/sigv4.c in prepare (it may hash x->out, the Complete body, which is
 * built before prepare is called), ExpiredToken / NoSuchUpload / SlowDown in classify.
 * vcl_dialect_for picks the table for an address; the UploadAddress decoder is where an
 * S3 address would be told apart.
 */
#ifndef VODUP_CLIENT_DIALECT_H
#define VODUP_CLIENT_DIALECT_H

#include <stddef.h>
#include <stdint.h>

#include "common/buf.h"

struct vodup_client;
struct vcl_xfer;
struct vcl_addr;
struct vcl_creds;

/* The steps of an upload (vcl_xfer.kind). */
enum vcl_xfer_kind { X_PUT = 1, X_INIT, X_PART, X_LIST, X_COMPLETE, X_ABORT };

/* One request of an upload, as the engine asks for it. */
typedef struct vcl_request {
    int kind;                       /* vcl_xfer_kind */
    const struct vcl_addr *addr;
    const struct vcl_creds *creds;
    const char *upload_id;          /* every multipart step but X_INIT */
    int part_number;                /* X_PART: 1..10000 */
    int list_marker;                /* X_LIST: the part number to list after (0: from the start) */
    const char *content_type;       /* X_PUT, X_INIT: the object's (NULL: none) */
} vcl_request;

/* What an error answer (not 2xx) means for the request, whatever the dialect. */
typedef enum vcl_verdict {
    VCL_ANS_RETRY = 1,      /* transient (5xx, 408, 429, clock skew): again after a backoff */
    VCL_ANS_EXPIRED,        /* the credentials expired: renew them, then again (not a retry) */
    VCL_ANS_NO_UPLOAD,      /* the multipart upload is gone (expired, aborted, or completed) */
    VCL_ANS_DENIED,         /* refused for good: credentials or permission (VODUP_EAUTH) */
    VCL_ANS_REFUSED         /* refused for good otherwise (VODUP_ESERVER) */
} vcl_verdict;

/* Per part of a part listing: number, ETag, size, and the store's CRC-64 when it gives one. */
typedef int vcl_list_cb(void *u, int n, const char *etag, uint64_t size, int has_crc, uint64_t crc);

typedef struct vcl_dialect {
    const char *name;
    /* Sets up x->easy for rq (on behalf of c: timeouts, user agent, CAs): URL, method,
     * signed headers, and the capture of the answer (x->etag, x->resp_crc, x->resp). The
     * request body is the engine's (set after this; x->out already holds the Complete
     * body). 0, VODUP_ENOMEM or VODUP_EINVAL. */
    int (*prepare)(struct vcl_xfer *x, const struct vodup_client *c, const vcl_request *rq);
    /* The CompleteMultipartUpload body for parts 1..n with these ETags. 0 or VODUP_ENOMEM. */
    int (*complete_body)(vbuf *out, char *const *etags, size_t n);
    /* An error answer x (x->status, x->resp) to a request signed with k: its verdict,
     * with the error code (code, "" when none) and a message "<what>: HTTP ..." for the
     * application. */
    vcl_verdict (*classify)(const struct vcl_xfer *x, const struct vcl_creds *k, const char *what, char *code,
                            size_t codelen, char *msg, size_t msglen);
    /* The UploadId of an Initiate answer (malloc'd) or NULL. */
    char *(*upload_id)(const vbuf *body);
    /* A ListParts answer: cb per part; *next_marker the marker of the next page (0 at the
     * end). 0, -1 malformed, VODUP_ENOMEM, or what cb returned (non-zero stops). */
    int (*list_parts)(const vbuf *body, vcl_list_cb *cb, void *u, int *next_marker);
} vcl_dialect;

extern const vcl_dialect vcl_dialect_oss;

/* The dialect of an upload address (OSS for every address today). */
const vcl_dialect *vcl_dialect_for(const struct vcl_addr *a);

#endif
