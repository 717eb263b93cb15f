/* route.c - the dispatch both object dialects share (route.h). */
#include "server/core/route.h"

#include <stdio.h>
#include <string.h>

#include "common/target.h"
#include "server/dialect.h"
#include "server/server.h"

/* One of the '|'-separated parameter names in names is in r's query. */
static int has_any_query(const http_request *r, const char *names)
{
    char name[64];
    while (*names) {
        size_t n = strcspn(names, "|");
        if (n < sizeof name) {
            memcpy(name, names, n);
            name[n] = '\0';
            if (http_has_query(r, name))
                return 1;
        }
        names += n + (names[n] == '|');
    }
    return 0;
}

const http_op *core_route_pick(const core_router *rt, http_request *r)
{
    const char *m = r->method;
    if (rt->preflight && strcmp(m, "OPTIONS") == 0)
        return rt->preflight;
    for (int i = 0; rt->unsupported && rt->unsupported[i]; i++)
        if (http_has_query(r, rt->unsupported[i])) {
            /* the dialect's words around the name: fmt's one "%s" (a table's, not a format
             * string handed to printf) */
            const char *fmt = rt->unsupported_fmt, *pct = strstr(fmt, "%s");
            size_t head = pct ? (size_t)(pct - fmt) : strlen(fmt);
            char msg[160];
            snprintf(msg, sizeof msg, "%.*s%s%s", (int)head, fmt, pct ? rt->unsupported[i] : "", pct ? pct + 2 : "");
            rt->refuse(r, CORE_REFUSE_NOTIMPL, msg);
            return NULL;
        }
    unsigned at = !(r->bucket && r->bucket[0]) ? CORE_AT_SERVICE : r->key_len == 0 ? CORE_AT_BUCKET : CORE_AT_OBJECT;
    for (const core_route *e = rt->routes; e->at; e++) {
        if (!(e->at & at) || (e->method && strcmp(e->method, m) != 0) || (e->query && !has_any_query(r, e->query)) ||
            (e->header && !http_header(r, e->header)))
            continue;
        if (!e->op)
            rt->refuse(r, CORE_REFUSE_NOTIMPL, e->refusal);
        return e->op;
    }
    rt->refuse(r, CORE_REFUSE_METHOD, "The specified method is not allowed against this resource.");
    return NULL;
}

int core_route_request(const core_router *rt, http_request *r)
{
    vodupd_detail d = {0};
    if (!r->target.path) {
        d.what = "The request target is malformed.";
        return core_http_status(r, VODUPD_EBADREQUEST, &d);
    }
    const char *host = r->host && *r->host ? r->host : "localhost";
    int rc = vodup_oss_address(host, r->target.path, r->target.path_len, vodupd_is_own_host, r->srv, &r->bucket,
                               &r->key, &r->key_len);
    if (rc != 0) {
        d.what = rc == -1 ? "The Host header is malformed." : "Out of memory.";
        return core_http_status(r, rc == -1 ? VODUPD_EBADREQUEST : VODUPD_EINTERNAL, &d);
    }
    if (r->target.path_has_nul) {
        rt->refuse(r, CORE_REFUSE_NUL_KEY, NULL);
        return -1;
    }
    r->op = core_route_pick(rt, r);
    return r->op ? 0 : -1;
}
