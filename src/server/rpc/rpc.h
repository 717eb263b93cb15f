/* rpc.h - the Alibaba Cloud RPC front (VOD 2017-03-21, STS 2015-04-01).
 *
 * A request is RPC when its path is "/" and it names an Action (in the query, or in an
 * application/x-www-form-urlencoded POST body). Parameters are checked in this order:
 * form (required common parameters, no duplicates), Version, Timestamp window, the key,
 * the HMAC-SHA1 signature, then the nonce is spent; only then does the action run.
 * Answers are JSON (or XML with Format=XML) with a RequestId (the request's one id,
 * also in x-acs-request-id and the log line); errors are
 * {"RequestId","HostId","Code","Message"} with the statuses the real gateway uses.
 */
#ifndef VODUPD_RPC_H
#define VODUPD_RPC_H

#include <jansson.h>

#include "server/http/request.h"

typedef struct rpc_call {
    http_request *r;
    vodup_target form;          /* POST body parameters */
    vodup_param *params;        /* query + body, borrowed from r->target and form */
    size_t nparams;
    const char *action;
    const char *version;
    int xml;                    /* Format=XML */
    time_t now;
} rpc_call;

extern const http_op rpc_op;

/* Parameter value, or NULL when absent. */
const char *rpc_param(const rpc_call *c, const char *name);
/* Answers an error; msg is printf-style. Always returns -1 (for `return rpc_error(...)`). */
int rpc_error(rpc_call *c, unsigned int status, const char *code, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
int rpc_missing(rpc_call *c, const char *param);
int rpc_invalid(rpc_call *c, const char *param);
/* Answers 200 with body (taken over), adding RequestId. Returns 0. */
int rpc_reply(rpc_call *c, json_t *body);
/* Checks that the caller may run action (e.g. "vod:GetVideoInfo") on resource;
 * answers Forbidden.RAM and returns -1 when not. */
int rpc_authorize(rpc_call *c, const char *action, const char *resource);

typedef struct rpc_action {
    const char *name;
    int (*run)(rpc_call *c);
} rpc_action;

/* NULL-terminated tables of each product's actions (rpc/vod_*.c, rpc/sts.c). */
extern const rpc_action vod_upload_actions[];
extern const rpc_action vod_media_actions[];
extern const rpc_action vod_play_actions[];
extern const rpc_action sts_actions[];

#endif
