/* rpc.c - see rpc.h: parsing, authentication and answers of RPC-style requests. */
#include "server/rpc/rpc.h"
#include "server/rpc/rpc_params.h"
#include "server/rpc/status.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "common/digest.h"
#include "common/pop_sign.h"
#include "common/timefmt.h"
#include "common/xml.h"
#include "server/config.h"
#include "server/auth/ratelimit.h"
#include "server/dialect.h"
#include "server/store/meta_vod.h"

static void render_error(http_request *r, vodupd_status st, const vodupd_detail *d);

#define RPC_MAX_BODY (64 * 1024)
/* How long a used SignatureNonce is remembered. It must outlive the whole timestamp
 * window, and also every temporary credential that may sign a request without a
 * Timestamp (see authenticate): such a request is bound to no time but its
 * credential's, so its nonce must stay in the ledger until the credential is dead. */
#define RPC_UNTIMED_MAX_LIFE 3600 /* seconds a credential signing without Timestamp may still live */
#define RPC_NONCE_TTL (RPC_UNTIMED_MAX_LIFE + 2 * OSS_MAX_TIME_SKEW)

static int rpc_detect(const http_request *r)
{
    if (!r->target.path || r->target.path_len != 1 || r->target.path[0] != '/')
        return 0;
    if (http_has_query(r, "Action"))
        return 1;
    const char *ct = http_header(r, "Content-Type");
    return strcmp(r->method, "POST") == 0 && ct &&
           strncasecmp(ct, "application/x-www-form-urlencoded", 33) == 0;
}

const char *rpc_param(const rpc_call *c, const char *name)
{
    for (size_t i = 0; i < c->nparams; i++)
        if (strcmp(c->params[i].name, name) == 0)
            return c->params[i].value;
    return NULL;
}

/* ---- answers ------------------------------------------------------------------------ */

static void json_to_xml(vbuf *x, const char *name, const json_t *v)
{
    if (json_is_array(v)) {
        size_t i;
        json_t *item;
        json_array_foreach(v, i, item) json_to_xml(x, name, item);
        return;
    }
    vbuf_printf(x, "<%s>", name);
    if (json_is_object(v)) {
        const char *k;
        json_t *child;
        json_object_foreach((json_t *)v, k, child) json_to_xml(x, k, child);
    } else if (json_is_string(v)) {
        vodup_xml_escape(x, json_string_value(v), json_string_length(v));
    } else if (json_is_integer(v)) {
        vbuf_printf(x, "%lld", (long long)json_integer_value(v));
    } else if (json_is_real(v)) {
        vbuf_printf(x, "%g", json_real_value(v));
    } else if (json_is_boolean(v)) {
        vbuf_puts(x, json_is_true(v) ? "true" : "false");
    }
    vbuf_printf(x, "</%s>", name);
}

static void send_body(http_request *r, int xml, unsigned int status, json_t *body, const char *root)
{
    vbuf out = VBUF_INIT;
    const char *ctype;
    if (xml) {
        vbuf_puts(&out, "<?xml version='1.0' encoding='UTF-8'?>");
        json_to_xml(&out, root, body);
        ctype = "text/xml;charset=utf-8";
    } else {
        char *s = json_dumps(body, JSON_COMPACT | JSON_PRESERVE_ORDER);
        if (s)
            vbuf_puts(&out, s);
        free(s);
        ctype = "application/json;charset=utf-8";
    }
    json_decref(body);
    http_response *resp = http_response_buf(ctype, &out);
    vbuf_free(&out);
    http_reply(r, status, resp);
}

/* The gateway's error body, {"RequestId","HostId","Code","Message"}: every RPC error,
 * the action's and the front's, takes this shape. */
static void error_body(http_request *r, int xml, unsigned int status, const char *code, const char *msg)
{
    const char *host = r->host ? r->host : "";
    json_t *body = json_pack("{s:s,s:s,s:s,s:s}", "RequestId", r->request_id, "HostId", host, "Code", code,
                             "Message", msg);
    r->err_code = code;
    if (body)
        send_body(r, xml, status, body, "Error");
}

int rpc_error(rpc_call *c, unsigned int status, const char *code, const char *fmt, ...)
{
    char msg[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    error_body(c->r, c->xml, status, code, msg);
    return -1;
}

int rpc_missing(rpc_call *c, const char *param)
{
    return rpc_error(c, 400, "MissingParameter",
                     "The input parameter \"%s\" that is mandatory for processing this request is not supplied.", param);
}

int rpc_invalid(rpc_call *c, const char *param)
{
    return rpc_error(c, 400, "InvalidParameter", "The specified parameter \"%s\" is not valid.", param);
}

int rpc_reply(rpc_call *c, json_t *body)
{
    if (!body)
        return rpc_error(c, 500, "InternalError", "The request processing has failed due to some unknown error.");
    json_t *out = json_object();
    json_object_set_new(out, "RequestId", json_string(c->r->request_id));
    json_object_update(out, body);
    json_decref(body);
    char root[128];
    snprintf(root, sizeof root, "%sResponse", c->action);
    send_body(c->r, c->xml, 200, out, root);
    return 0;
}

int rpc_authorize(rpc_call *c, const char *action, const char *resource)
{
    if (auth_authorize(&c->r->cred, action, resource))
        return 0;
    return rpc_error(c, 403, "Forbidden.RAM",
                     "User not authorized to operate on the specified resource, or this API doesn't support RAM.");
}

/* ---- authentication --------------------------------------------------------------- */

static int check_common(rpc_call *c)
{
    static const char *const required[] = {"Action", "Version", "AccessKeyId", "Signature", "SignatureMethod",
                                           "SignatureVersion", "SignatureNonce", NULL};
    const char *dup;
    if (vodup_pop_duplicate(c->params, c->nparams, &dup) == 1)
        return rpc_error(c, 400, "InvalidParameter", "The parameter \"%s\" appears more than once.", dup);
    for (int i = 0; required[i]; i++)
        if (!rpc_param(c, required[i]) || !*rpc_param(c, required[i]))
            return rpc_missing(c, required[i]);
    if (strcmp(rpc_param(c, "SignatureMethod"), "HMAC-SHA1") != 0)
        return rpc_error(c, 400, "InvalidSignatureMethod", "Specified signature method is not supported.");
    if (strcmp(rpc_param(c, "SignatureVersion"), "1.0") != 0)
        return rpc_error(c, 400, "InvalidSignatureVersion", "Specified signature version is not supported.");
    const char *f = rpc_param(c, "Format");
    if (f && strcasecmp(f, "XML") == 0)
        c->xml = 1;
    else if (f && strcasecmp(f, "JSON") != 0)
        return rpc_invalid(c, "Format");
    if (strlen(rpc_param(c, "SignatureNonce")) > 128)
        return rpc_invalid(c, "SignatureNonce");
    /* Timestamp may be absent (authenticate says when); present, it must be well formed. */
    return 0;
}

static int authenticate(rpc_call *c)
{
    http_request *r = c->r;
    /* The official web SDK (1.5.x, STS mode) and the iOS SDK sign their VOD calls without
     * a Timestamp. Such a request is accepted when its signature and its nonce are, and
     * only with temporary credentials that die before the nonce leaves the ledger
     * (checked below), so it can never be replayed. A Timestamp that is there is checked. */
    const char *timestamp = rpc_param(c, "Timestamp");
    time_t ts = c->now;
    if (timestamp) {
        if (vodup_time_parse_iso(timestamp, &ts) != 0)
            return rpc_error(c, 400, "InvalidTimeStamp.Format",
                             "Specified time stamp or date value is not well formatted.");
        double skew = difftime(ts, c->now);
        if (skew > OSS_MAX_TIME_SKEW || skew < -OSS_MAX_TIME_SKEW)
            return rpc_error(c, 400, "InvalidTimeStamp.Expired",
                             "Specified time stamp or date value is expired (it must be within 15 minutes of the "
                             "server's time).");
    }
    const char *ak = rpc_param(c, "AccessKeyId");
    const char *token = rpc_param(c, "SecurityToken");
    if (strlen(ak) >= sizeof r->cred.key_id)
        return rpc_error(c, 404, "InvalidAccessKeyId.NotFound", "Specified access key is not found.");
    switch (auth_resolve(r->srv, ak, token, c->now, &r->cred)) {
    case AUTH_OK:
        break;
    case AUTH_ENOKEY:
        return rpc_error(c, 404, "InvalidAccessKeyId.NotFound", "Specified access key is not found.");
    case AUTH_EINACTIVE:
        return rpc_error(c, 400, "InvalidAccessKeyId.Inactive", "Specified access key is disabled.");
    case AUTH_ENOTOKEN:
        return rpc_error(c, 400, "MissingSecurityToken", "SecurityToken is mandatory for this access key.");
    case AUTH_ETOKEN:
        return rpc_error(c, 400, "InvalidSecurityToken.Malformed", "Specified SecurityToken is malformed.");
    case AUTH_ETOKEN_EXPIRED:
        return rpc_error(c, 403, "InvalidSecurityToken.Expired", "Specified SecurityToken is expired.");
    case AUTH_ETOKEN_MISMATCH:
        return rpc_error(c, 400, "InvalidSecurityToken.MismatchWithAccessKey",
                         "Specified SecurityToken mismatch with the AccessKey.");
    default:
        return rpc_error(c, 500, "InternalError", "Credentials could not be checked.");
    }
    /* A token must not outlive the request it signs either: its expiry is checked
     * against the request's own signed time as well as the clock. */
    if (r->cred.temporary && r->cred.expires < ts) {
        auth_cred_clear(&r->cred);
        return rpc_error(c, 403, "InvalidSecurityToken.Expired", "Specified SecurityToken is expired.");
    }
    if (!timestamp && (!r->cred.temporary || difftime(r->cred.expires, c->now) > RPC_UNTIMED_MAX_LIFE)) {
        auth_cred_clear(&r->cred);
        return rpc_error(c, 400, "MissingParameter",
                         "The input parameter \"Timestamp\" that is mandatory for processing this request is not "
                         "supplied (only temporary credentials living at most %d seconds may sign without it).",
                         RPC_UNTIMED_MAX_LIFE);
    }
    vbuf sts = VBUF_INIT;
    int ok = vodup_pop_verify(r->method, c->params, c->nparams, r->cred.secret, &sts);
    if (ok != 1) {
        rpc_error(c, 400, "SignatureDoesNotMatch",
                  "Specified signature is not matched with our calculation. server string to sign is:%s",
                  vbuf_cstr(&sts));
        vbuf_free(&sts);
        auth_cred_clear(&r->cred);
        return -1;
    }
    vbuf_free(&sts);
    /* Before the nonce is recorded: a throttled request may be sent again as it is. */
    if (!auth_ratelimit_take(r->srv->ratelimit, ak, NULL)) {
        auth_cred_clear(&r->cred);
        return rpc_error(c, 400, "Throttling.User", "Request was denied due to user flow control.");
    }
    core co;
    rpc_core(c, &co);
    vodupd_detail d = {0};
    vodupd_status n = core_nonce_use(&co, ak, rpc_param(c, "SignatureNonce"), c->now, RPC_NONCE_TTL, &d);
    if (n == VODUPD_EEXISTS)
        return rpc_error(c, 400, "SignatureNonceUsed", "Specified signature nonce was used already.");
    if (n != VODUPD_OK)
        return rpc_status_error(c, n, &d, "The request processing has failed due to some unknown error.");
    r->authenticated = 1;
    return 0;
}

/* ---- the op ------------------------------------------------------------------------- */

static void call_free(void *p)
{
    rpc_call *c = p;
    if (!c)
        return;
    free(c->params);
    vodup_target_free(&c->form);
    free(c);
}

static int rpc_begin(http_request *r)
{
    rpc_call *c = calloc(1, sizeof *c);
    if (!c) {
        render_error(r, VODUPD_ENOMEM, NULL);
        return 0;
    }
    r->op_state = c;
    r->op_free = call_free;
    c->r = r;
    uint64_t len;
    if (http_content_length(r, &len) == 1 && len > RPC_MAX_BODY) {
        rpc_error(c, 400, "InvalidParameter", "The request body may be at most %d bytes.", RPC_MAX_BODY);
        return 0;
    }
    r->body_limit = RPC_MAX_BODY;
    return 0;
}

static int rpc_body(http_request *r, const char *p, size_t n)
{
    rpc_call *c = r->op_state;
    if (r->body.len + n > r->body_limit) {
        r->body_too_large = 1;
        rpc_error(c, 400, "InvalidParameter", "The request body may be at most %d bytes.", RPC_MAX_BODY);
        return 0;
    }
    if (vbuf_append(&r->body, p, n) != 0)
        rpc_error(c, 500, "InternalError", "Out of memory.");
    return 0;
}

static const rpc_action *find_action(const rpc_action *table, const char *name)
{
    for (const rpc_action *a = table; a->name; a++)
        if (strcmp(a->name, name) == 0)
            return a;
    return NULL;
}

/* Below the disk reserve no new upload is handed out (finding 14; the OSS side refuses
 * the bytes themselves): 507 InsufficientStorage, as for OSS. Other actions still run.
 * Looked at before authentication, which records the nonce: on a full disk the look
 * hands the database its headroom back first (store/blob.h). */
static int storage_full(rpc_call *c)
{
    core co;
    rpc_core(c, &co);
    return core_space_check(&co, 0, NULL) != VODUPD_OK;
}

static int refused_for_space(rpc_call *c, int full)
{
    static const char *const GROWS[] = {"CreateUploadVideo", "CreateUploadImage", "CreateUploadAttachedMedia", NULL};
    for (int i = 0; full && GROWS[i]; i++)
        if (strcmp(c->action, GROWS[i]) == 0) {
            render_error(c->r, VODUPD_ENOSPC, NULL);
            return 1;
        }
    return 0;
}

static void rpc_finish(http_request *r)
{
    rpc_call *c = r->op_state;
    c->now = time(NULL);
    if (strcmp(r->method, "GET") != 0 && strcmp(r->method, "POST") != 0) {
        rpc_error(c, 400, "UnsupportedHTTPMethod", "Specified HTTP method is not supported: use GET or POST.");
        return;
    }
    switch (rpc_params_collect(&r->target, r->body.data, r->body.len, &c->form, &c->params, &c->nparams)) {
    case RPC_PARAMS_OK:
        break;
    case RPC_PARAMS_EFORM:
        rpc_error(c, 400, "InvalidParameter", "The form body is malformed.");
        return;
    case RPC_PARAMS_ETOOMANY:
        rpc_error(c, 400, "InvalidParameter", "Too many parameters (at most %d).", RPC_MAX_PARAMS);
        return;
    default:
        rpc_error(c, 500, "InternalError", "Out of memory.");
        return;
    }
    if (check_common(c) != 0)
        return;
    c->action = rpc_param(c, "Action");
    r->op_name = c->action;
    c->version = rpc_param(c, "Version");
    const rpc_action *a;
    if (strcmp(c->version, "2017-03-21") == 0) {
        a = find_action(vod_upload_actions, c->action);
        if (!a)
            a = find_action(vod_media_actions, c->action);
        if (!a)
            a = find_action(vod_play_actions, c->action);
    } else if (strcmp(c->version, "2015-04-01") == 0) {
        a = find_action(sts_actions, c->action);
    } else {
        rpc_error(c, 400, "InvalidVersion", "Specified parameter Version is not valid.");
        return;
    }
    if (!a) {
        rpc_error(c, 404, "InvalidAction.NotFound", "Specified api is not found, please check your url and method.");
        return;
    }
    int full = storage_full(c);
    if (authenticate(c) != 0 || refused_for_space(c, full))
        return;
    a->run(c);
    if (!r->resp)
        rpc_error(c, 500, "InternalError", "The request processing has failed due to some unknown error.");
}

const http_op rpc_op = {"RPC", rpc_begin, rpc_body, rpc_finish, 1};

/* ---- the dialect ------------------------------------------------------------------ */

/* The gateway's ids are upper-case UUIDs. */
static void format_id(char out[VODUP_REQUEST_ID_MAX], const unsigned char id[16])
{
    snprintf(out, VODUP_REQUEST_ID_MAX, "%02X%02X%02X%02X-%02X%02X-%02X%02X-%02X%02X-%02X%02X%02X%02X%02X%02X", id[0],
             id[1], id[2], id[3], id[4], id[5], id[6], id[7], id[8], id[9], id[10], id[11], id[12], id[13], id[14],
             id[15]);
}

static int route(http_request *r)
{
    r->op = &rpc_op;
    return 0;
}

/* The one mapping of the core's statuses (core/status.h) to the gateway's answers: the
 * HTTP status, the code and the message. The front's own refusals arrive here too. */
static void render_error(http_request *r, vodupd_status st, const vodupd_detail *d)
{
    static const vodupd_detail none;
    if (!d)
        d = &none;
    rpc_call *c = r->op == &rpc_op ? r->op_state : NULL;
    int xml = c ? c->xml : 0;
    const char *what = d->what;
    switch (st) {
    case VODUPD_EBADREQUEST:
        error_body(r, xml, 400, "InvalidParameter", what ? what : "The request is malformed.");
        return;
    case VODUPD_ENOTIMPL:
        error_body(r, xml, 501, "InvalidParameter", what ? what : "The request is not supported.");
        return;
    case VODUPD_EBUSY:
        error_body(r, xml, 503, "ServiceUnavailable", what ? what : "Please try again later.");
        return;
    case VODUPD_ENOSPC:
        error_body(r, xml, 507, "InsufficientStorage", VODUP_STORAGE_FULL_MSG);
        return;
    case VODUPD_ENOMEM:
        error_body(r, xml, 500, "InternalError", "Out of memory.");
        return;
    case VODUPD_EINTERNAL:
        error_body(r, xml, 500, "InternalError", what ? what : "The request processing has failed due to some unknown error.");
        return;
    default:
        error_body(r, xml, 500, "InternalError", "The request processing has failed due to some unknown error.");
        return;
    }
}

static void common_headers(const http_request *r, http_response *resp)
{
    http_response_header(resp, "x-acs-request-id", r->request_id);
    /* Answers have always carried the OSS header too; it holds the same id. */
    http_response_header(resp, "x-oss-request-id", r->request_id);
    http_cors_headers(r, resp, "x-acs-request-id, x-oss-request-id, Content-Length");
}

const vodup_dialect vodup_dialect_rpc = {
    .name = "rpc",
    .detect = rpc_detect,
    .format_id = format_id,
    .route = route,
    .authenticate = NULL, /* in rpc_finish: the signed parameters may be in the body */
    .render_error = render_error,
    .common_headers = common_headers,
};
