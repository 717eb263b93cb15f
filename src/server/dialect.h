/* dialect.h - the protocols vodupd speaks, as a table the HTTP front walks.
 *
 * The front (http/front.c) knows no protocol: it asks each dialect in turn whether a
 * request is its own (detect), and from then on hands every protocol decision to the
 * one that said yes: how the request id is spelled, addressing and the choice of the
 * operation (route), who the caller is (authenticate), how an error looks on the wire
 * (render_error) and what every answer carries (common_headers). Today the table holds
 * RPC (VOD + STS, rpc/rpc.c), S3 (s3/router.c) and OSS (oss/router.c); the last entry takes whatever the
 * others did not. docs/internals/server-pipeline.md walks through a request.
 */
#ifndef VODUPD_DIALECT_H
#define VODUPD_DIALECT_H

#include <stddef.h>

#include "server/core/status.h"

typedef struct http_request http_request;
typedef struct http_response http_response;

#define VODUP_REQUEST_ID_MAX 40 /* room for any dialect's spelling of an id, with its NUL */

typedef struct vodup_dialect {
    const char *name; /* "rpc", "oss": the metrics label */
    /* 1 when r (headers in, target parsed or r->target.path NULL when malformed) speaks
     * this dialect. Looks at the request only, never at a store. */
    int (*detect)(const http_request *r);
    /* Spells the request's random id (16 bytes) the way this protocol's clients expect. */
    void (*format_id)(char out[VODUP_REQUEST_ID_MAX], const unsigned char id[16]);
    /* Addressing and the choice of r->op; answers (render_error or the op's own error)
     * and returns -1 when the request goes no further. Touches no store. */
    int (*route)(http_request *r);
    /* Who the caller is and whether the op is allowed; may read the stores. 0, or -1
     * after answering. NULL: the dialect authenticates inside its op (RPC signs
     * parameters that may travel in the body). */
    int (*authenticate)(http_request *r);
    /* Answers r with st (detail d, may be NULL): the dialect's one mapping of the core's
     * statuses (core/status.h) to its HTTP status, code and message. The front's own
     * refusals come as EBADREQUEST, ENOTIMPL, EBUSY, EINTERNAL with d->what the message. */
    void (*render_error)(http_request *r, vodupd_status st, const vodupd_detail *d);
    /* Headers every answer in this dialect carries (request id, CORS). */
    void (*common_headers)(const http_request *r, http_response *resp);
} vodup_dialect;

/* The table, NULL-terminated, in the order the front asks (dialect.c). */
extern const vodup_dialect *const vodup_dialects[];

/* The entries (their own directories). */
extern const vodup_dialect vodup_dialect_rpc, vodup_dialect_oss, vodup_dialect_s3;

#endif
