/* dialect.h - the object-store protocol a file's requests speak, as a table.
 *
 * The engine knows the steps of an upload (PutObject, or Initiate, parts, ListParts,
 * Complete, Abort) and what their answers mean for the file; a dialect knows how each
 * step is said on the wire: the URL and addressing style, the signature, the Complete
 * body, the answers' headers and XML, and which error answers are transient, expired
 * credentials or a lost upload. Two dialects: OSS (dialect_oss.c, V1 signatures) and
 * S3 (dialect_s3.c, SigV4 from src/common/sigv4.c); what they say alike (the answers'
 * capture, the curl set-up, the multipart XML) is dialect_common.c.
 *
 * vcl_dialect_for picks the table for an address by its endpoint's scheme (auth.c):
 * "s3+http://", "s3+https://" (path style) and "s3-vhost+http(s)://" (virtual-host
 * style) speak S3; every other endpoint OSS. The scheme travels with the address into
 * resume records, so a resumed upload speaks what it began with.
 */
#ifndef VODUP_CLIENT_DIALECT_H
#define VODUP_CLIENT_DIALECT_H

#include <stddef.h>
#include <stdint.h>
#include <time.h>
#include <curl/curl.h>

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
    /* The answer header with the store's CRC-64/XZ (ECMA) of what it stored, or NULL when
     * the dialect's stores give none (then only the re-read of the file checks it). */
    const char *crc_header;
    /* The least size of every part but the last (OSS 100 KiB, S3 5 MiB). */
    uint64_t min_part_size;
} vcl_dialect;

extern const vcl_dialect vcl_dialect_oss;
extern const vcl_dialect vcl_dialect_s3;

/* The dialect of an upload address (auth.c; the rule above). a may be NULL or have no
 * endpoint yet: OSS. */
const vcl_dialect *vcl_dialect_for(const struct vcl_addr *a);
/* The endpoint without the dialect's scheme prefix ("s3+"...), and whether it asks for
 * virtual-host style (*vhost, may be NULL). */
const char *vcl_endpoint_url(const char *endpoint, int *vhost);

/* ---- dialect_common.c: what the dialects share ---------------------------------------- */

struct vodup_param;
/* Appends the object URL of a to url: path style (<endpoint>/<bucket>/<key>) or virtual
 * host (<scheme>://<bucket>.<host>/<key>), then query (NULL-terminated name, value pairs;
 * a NULL value is a bare sub-resource such as "uploads"), whose decoded pairs go to qp
 * (at most maxq, *nq of them) for the signature. 0, VODUP_EINVAL or VODUP_ENOMEM. */
int vcl_object_url(vbuf *url, struct vodup_param *qp, size_t *nq, size_t maxq, const char *endpoint, int vhost,
                   const struct vcl_addr *a, const char *const *query);
/* Adds "name: value" to x->hdrs (value NULL: "name:", which stops curl adding its own). */
int vcl_add_header(struct vcl_xfer *x, const char *name, const char *value);
/* The easy-handle options every request shares: url, method, x->hdrs, the capture of the
 * answer (ETag, the dialect's crc_header, the body into x->resp), timeouts, user agent, CAs. */
void vcl_easy_setup(struct vcl_xfer *x, const struct vodup_client *c, const char *url, const char *method);
/* <Error><Code>, <Message> of an error answer ("" when none). */
void vcl_xml_error(const vbuf *body, char *code, size_t codelen, char *message, size_t msglen);
/* The OSS and S3 spelling of: Initiate's UploadId, ListPartsResult, CompleteMultipartUpload. */
char *vcl_xml_upload_id(const vbuf *body);
int vcl_xml_list_parts(const vbuf *body, vcl_list_cb *cb, void *u, int *next_marker);
int vcl_xml_complete_body(vbuf *out, char *const *etags, size_t n);
/* What both dialects agree on: 5xx, 408, 429, RequestTimeTooSkewed and SlowDown retry;
 * 404 NoSuchUpload is a lost upload; any other 403 is denied, the rest refused. */
vcl_verdict vcl_common_verdict(long status, const char *code);

/* ---- dialect_s3.c ----------------------------------------------------------------------- */

/* One S3 request to sign (the unit tests sign the captured vectors through it). */
typedef struct vcl_s3_msg {
    const char *method;
    const struct vcl_addr *addr;        /* endpoint with or without the "s3+" scheme prefix */
    const char *const *query;           /* as vcl_object_url's */
    const struct vodup_header *headers; /* more headers to send and sign (Content-Type, x-amz-*) */
    size_t nheaders;
    const char *payload_hash;           /* hex SHA-256 of the body, or "UNSIGNED-PAYLOAD" */
    time_t now;
} vcl_s3_msg;

/* Signs m with k (region: k->region, else "us-east-1"): *url the request URL, *hdrs the
 * header lines to send ("Name: value": Host, X-Amz-Date, X-Amz-Content-SHA256,
 * X-Amz-Security-Token when k has a token, m's, Authorization). 0, VODUP_EINVAL or
 * VODUP_ENOMEM. */
int vcl_s3_sign(const vcl_s3_msg *m, const struct vcl_creds *k, vbuf *url, struct curl_slist **hdrs);

#endif
