/* route.h - the dispatch both object dialects share: a request's method, level (service,
 * bucket, object), sub-resources and headers matched against a dialect's table of
 * routes, first match wins. A dialect is then its table and its words; which operation
 * a request means is decided by this one function. With it, the handlers that are the
 * same in both dialects, answering through the request's dialect (r->dialect's
 * render_error). Not the core's calls (core.h): this sits beside them because OSS and S3
 * route alike. */
#ifndef VODUPD_CORE_ROUTE_H
#define VODUPD_CORE_ROUTE_H

#include "server/core/core.h"
#include "server/core/ops.h"
#include "server/http/request.h"

/* Where a request points. */
enum {
    CORE_AT_SERVICE = 1,    /* no bucket */
    CORE_AT_BUCKET = 2,     /* a bucket, no key */
    CORE_AT_OBJECT = 4      /* a key */
};

typedef struct core_route {
    unsigned at;            /* CORE_AT_* bits; 0 ends the table */
    const char *method;     /* "GET", ...; NULL: any */
    const char *query;      /* the request carries one of these parameters ("a|b"); NULL: any */
    const char *header;     /* the request carries this header; NULL: any */
    const http_op *op;      /* the operation; NULL: answered NotImplemented with `refusal` */
    const char *refusal;
} core_route;

typedef struct core_router {
    const core_route *routes;
    const http_op *preflight;           /* OPTIONS, before anything else (CORS); NULL: none */
    const char *const *unsupported;     /* sub-resources answered NotImplemented (NULL-ended) */
    const char *unsupported_fmt;        /* ... with this message, %s the sub-resource */
    /* Answers r: NotImplemented (CORE_REFUSE_NOTIMPL) or MethodNotAllowed with msg, or a
     * path with a NUL byte in its key (msg NULL: the dialect's words). */
    void (*refuse)(http_request *r, int why, const char *msg);
} core_router;

enum { CORE_REFUSE_NOTIMPL, CORE_REFUSE_METHOD, CORE_REFUSE_NUL_KEY };

/* The operation r asks for under rt, or NULL after answering a refusal. */
const http_op *core_route_pick(const core_router *rt, http_request *r);
/* A dialect's route (dialect.h): addressing as both dialects do it (common/target.h: our
 * own host means path style, any other names the bucket in its first label), then
 * core_route_pick into r->op. 0, or -1 after answering. */
int core_route_request(const core_router *rt, http_request *r);

/* ---- what both dialects handle alike (shared_ops.c) ----------------------------------- */

/* The bucket r names, when it exists and r's caller owns it (core_bucket_get): 0 with b
 * filled (the caller clears it), or -1 after answering through r's dialect. */
int core_http_require_bucket(http_request *r, vodup_meta_bucket *b);
/* 0 when st is OK, else -1 after answering it through r's dialect. */
int core_http_status(http_request *r, vodupd_status st, const vodupd_detail *d);

/* The start of a request with an XML body (DeleteObjects): r's bucket is owned by the
 * caller, a declared Content-Length is within VODUPD_MAX_XML_BODY (else ETOOLARGE), and
 * the body is collected up to that. 0, or -1 after answering through r's dialect. */
int core_http_xml_begin(http_request *r);

/* A listing as both dialects run it (objects or uploads): the client's arguments read by
 * the core (core_list_query_init), each entry handed to cb, where the page ended. */
typedef struct core_http_listing {
    core_list_args args;
    int uploads;                /* core_upload_list rather than core_object_list */
    void (*cb)(const core_list_entry *e, void *u);
    void *u;
    /* the dialect's answer to a refused argument (bad; max_name the page-size parameter's
     * name) or to a failed listing (st) */
    void (*refuse)(http_request *r, vodupd_status st, const vodupd_detail *d, core_list_arg bad,
                   const char *max_name);
    const char *max_name;
    core_list_query q;          /* out: the arguments as read */
    core_list_result res;       /* out */
    char *owned;
} core_http_listing;
/* Runs l for r's bucket: 0 with l->q and l->res set, or -1 after answering. Either way
 * release with core_http_listing_clear. */
int core_http_list(http_request *r, core_http_listing *l);
void core_http_listing_clear(core_http_listing *l);
/* Ends the XML document x (its items, then </root>) and answers 200 with it; frees x. */
void core_http_reply_xml(http_request *r, vbuf *x, const vbuf *items, const char *root);

/* DeleteObjects once the dialect has checked the body's digests: parses it (a document
 * that is not a <Delete>, or lists more than 1000 keys: malformed(r, why)), deletes
 * (core_object_delete_many), and answers 200 with head (the document's start, the root
 * element open) then <Deleted><Key/></Deleted> per deleted key (none when Quiet) and
 * <Error><Key/><Code/><Message/></Error> per refused one (code_of: the dialect's code
 * and message for a status), keys url-encoded when url is set. */
void core_http_delete_objects(http_request *r, const char *head, int url, void (*malformed)(http_request *r, const char *why),
                              const char *(*code_of)(vodupd_status st, const vodupd_detail *d, char *msg, size_t n));

/* User metadata: stored as one JSON object of lower-case names without the dialect's
 * header prefix ("x-oss-meta-", "x-amz-meta-"), so what one dialect wrote reads back
 * through the other. */
enum { CORE_META_OK, CORE_META_ETOOBIG, CORE_META_ENAME, CORE_META_EUTF8, CORE_META_ENOMEM };
/* r's headers named prefix* into *json (NULL when none; the caller frees it). The names
 * and values count against limit (count_prefix: the whole header name, as OSS counts;
 * else the name after the prefix, as S3 does); a name is 1 to max_name bytes after the
 * prefix. CORE_META_OK, or the first refusal (*json NULL). */
int core_http_user_meta(const http_request *r, const char *prefix, size_t limit, int count_prefix, size_t max_name,
                        char **json);
/* The stored user metadata json as prefix+name headers of resp (bad JSON: none). */
void core_http_user_meta_headers(http_response *resp, const char *json, const char *prefix);

/* DeleteBucket: an owned, empty bucket goes (204; also when already gone). */
extern const http_op core_op_delete_bucket;

#endif
