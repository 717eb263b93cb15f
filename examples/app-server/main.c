/* main.c - vodup-app-server: an example authorization service for uploads.
 *
 *   vodup-app-server CONFIG.json
 *
 * GET /healthz answers 200 without a token; pages of the origins in cors_origins may
 * call /api/ from the browser (CORS preflights answered without a token).
 * Authenticates its users by bearer token, holds the account AccessKey, and offers
 * POST /api/upload-auth, /api/refresh-auth, /api/image-upload-auth and /api/sts, and
 * GET /api/media?id= (the user's own media only); serves static_dir under /. See README.md. Stops on SIGTERM or SIGINT. */
#include <netdb.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <time.h>

#include "app.h"

static const char USAGE[] =
    "usage: vodup-app-server CONFIG.json\n"
    "\n"
    "Example authorization service for vodup uploads: hands clients upload credentials for\n"
    "one file at a time, signing its VOD API calls with the account AccessKey it holds.\n"
    "CONFIG.json: {\"listen\":\"127.0.0.1:8080\",\"vod_endpoint\":\"http://127.0.0.1:9000\",\n"
    "  \"access_key_id\":\"...\",\"access_key_secret\":\"...\",\"tokens\":{\"TOKEN\":\"user\"},\n"
    "  \"role_arn\":\"...\" (optional), \"static_dir\":\"...\" (optional),\n"
    "  \"cors_origins\":[\"https://app.example.com\"] (optional)}\n"
    "See examples/app-server/README.md.\n";

/* Per request: the body as it arrives, and when it started (for the log). */
typedef struct request {
    char *body;
    size_t len;
    int too_big;
    const char *user;
    const char *cors;   /* the request's Origin when configured (cors_origins): answers say so */
    struct timespec t0;
} request;

static double ms_since(const struct timespec *t0)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)(t.tv_sec - t0->tv_sec) * 1e3 + (double)(t.tv_nsec - t0->tv_nsec) / 1e6;
}

static app_mhd_result send_reply(struct MHD_Connection *conn, const char *method, const char *url, request *rq,
                                 app_reply *rep)
{
    struct MHD_Response *resp = rep->raw;
    if (!resp) {
        char *text = rep->body ? json_dumps(rep->body, JSON_COMPACT) : NULL;
        const char *t = text ? text : "{\"Code\":\"InternalError\",\"Message\":\"Out of memory.\"}";
        resp = MHD_create_response_from_buffer(strlen(t), (void *)(uintptr_t)t, MHD_RESPMEM_MUST_COPY);
        free(text);
        if (!resp)
            return MHD_NO;
        MHD_add_response_header(resp, MHD_HTTP_HEADER_CONTENT_TYPE, "application/json");
        MHD_add_response_header(resp, MHD_HTTP_HEADER_CACHE_CONTROL, "no-store");
        if (rep->status == 401)
            MHD_add_response_header(resp, MHD_HTTP_HEADER_WWW_AUTHENTICATE, "Bearer realm=\"vodup-app-server\"");
    }
    /* Answers depend on Origin whenever CORS is configured, so caches must key on it. */
    if (rq && rq->cors)
        MHD_add_response_header(resp, "Access-Control-Allow-Origin", rq->cors);
    MHD_add_response_header(resp, "Vary", "Origin");
    app_mhd_result r = MHD_queue_response(conn, rep->status, resp);
    MHD_destroy_response(resp);
    json_decref(rep->body);
    /* One line per request, with its time (UTC, ms); the path has no query (MHD strips
     * it) and no secret. */
    struct timespec now;
    clock_gettime(CLOCK_REALTIME, &now);
    struct tm tm;
    gmtime_r(&now.tv_sec, &tm);
    char when[32];
    strftime(when, sizeof when, "%Y-%m-%dT%H:%M:%S", &tm);
    fprintf(stderr, "%s.%03ldZ %s %s %u user=%s %.1fms\n", when, now.tv_nsec / 1000000, method, url, rep->status,
            rq && rq->user ? rq->user : "-", rq ? ms_since(&rq->t0) : 0.0);
    return r;
}

/* The token of "Authorization: Bearer TOKEN", or NULL. */
static const char *bearer(struct MHD_Connection *conn)
{
    const char *h = MHD_lookup_connection_value(conn, MHD_HEADER_KIND, MHD_HTTP_HEADER_AUTHORIZATION);
    if (!h || strncasecmp(h, "Bearer ", 7) != 0)
        return NULL;
    h += 7;
    while (*h == ' ')
        h++;
    return *h ? h : NULL;
}

static app_mhd_result handle(void *cls, struct MHD_Connection *conn, const char *url, const char *method,
                             const char *version, const char *upload_data, size_t *upload_data_size, void **con_cls)
{
    (void)version;
    app *a = cls;
    request *rq = *con_cls;
    app_reply rep = {0, NULL, NULL};
    int is_api = strncmp(url, "/api/", 5) == 0 || strcmp(url, "/api") == 0;

    if (!rq) {
        /* First call: the headers are in, the body not yet. Refuse the unauthenticated
         * before reading a byte of their body. */
        rq = calloc(1, sizeof *rq);
        if (!rq)
            return MHD_NO;
        clock_gettime(CLOCK_MONOTONIC, &rq->t0);
        *con_cls = rq;
        if (strcmp(url, "/healthz") == 0) {
            /* Liveness for a load balancer or systemd: no token, no VOD call. */
            if (strcmp(method, "GET") != 0 && strcmp(method, "HEAD") != 0)
                app_error(&rep, 405, "MethodNotAllowed", "GET /healthz.");
            else
                rep.status = 200, rep.body = json_pack("{s:s}", "status", "ok");
            return send_reply(conn, method, url, rq, &rep);
        }
        rq->cors = is_api ? app_cors_origin(&a->cfg, MHD_lookup_connection_value(conn, MHD_HEADER_KIND, "Origin"))
                          : NULL;
        if (is_api && strcmp(method, "OPTIONS") == 0) {
            /* A CORS preflight carries no credentials (browsers never send Authorization
             * with it): allowed origins get the permission, others a 403 without it. */
            if (!rq->cors) {
                app_error(&rep, 403, "CorsOriginNotAllowed",
                          "This origin may not call the API (cors_origins in the configuration).");
                return send_reply(conn, method, url, rq, &rep);
            }
            struct MHD_Response *resp = MHD_create_response_from_buffer(0, (void *)"", MHD_RESPMEM_PERSISTENT);
            if (!resp)
                return MHD_NO;
            MHD_add_response_header(resp, "Access-Control-Allow-Methods", "GET, POST, OPTIONS");
            MHD_add_response_header(resp, "Access-Control-Allow-Headers", "Authorization, Content-Type");
            MHD_add_response_header(resp, "Access-Control-Max-Age", "600");
            rep.status = 204;
            rep.raw = resp;
            return send_reply(conn, method, url, rq, &rep);
        }
        if (is_api) {
            rq->user = app_authenticate(&a->cfg, bearer(conn));
            if (!rq->user) {
                app_error(&rep, 401, "Unauthorized", "Send Authorization: Bearer <token>.");
                return send_reply(conn, method, url, rq, &rep);
            }
        }
        return MHD_YES;
    }
    if (*upload_data_size) {
        if (rq->len + *upload_data_size > APP_MAX_BODY) {
            rq->too_big = 1;
        } else if (!rq->too_big) {
            char *nb = realloc(rq->body, rq->len + *upload_data_size + 1);
            if (!nb)
                return MHD_NO;
            memcpy(nb + rq->len, upload_data, *upload_data_size);
            rq->body = nb;
            rq->len += *upload_data_size;
            rq->body[rq->len] = '\0';
        }
        *upload_data_size = 0;
        return MHD_YES;
    }
    if (is_api && !rq->user)
        return MHD_YES; /* already answered 401; MHD discards the rest */
    if (rq->too_big)
        app_error(&rep, 413, "RequestTooLarge", "The body may be at most 64 KiB.");
    else if (is_api)
        app_handle_api(a, conn, method, url, rq->user, rq->body ? rq->body : "", rq->len, &rep);
    else
        app_serve_static(a, method, url, &rep);
    return send_reply(conn, method, url, rq, &rep);
}

static void completed(void *cls, struct MHD_Connection *conn, void **con_cls, enum MHD_RequestTerminationCode toe)
{
    (void)cls;
    (void)conn;
    (void)toe;
    request *rq = *con_cls;
    if (rq) {
        free(rq->body);
        free(rq);
        *con_cls = NULL;
    }
}

int main(int argc, char **argv)
{
    if (argc != 2 || strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0) {
        fputs(USAGE, argc == 2 ? stdout : stderr);
        return argc == 2 ? 0 : 2;
    }
    static app a; /* large (the ownership ring): not on the stack */
    if (app_config_load(&a.cfg, argv[1]) != 0)
        return 2;
    pthread_mutex_init(&a.mu, NULL);
    int rc = 1;
    struct MHD_Daemon *d = NULL;
    struct addrinfo *ai = NULL;
    if (vodup_global_init() != 0 ||
        vodup_api_new(&a.api, a.cfg.vod_endpoint, a.cfg.access_key_id, a.cfg.access_key_secret, NULL) != 0) {
        fprintf(stderr, "app-server: cannot set up the VOD API client for %s\n", a.cfg.vod_endpoint);
        goto out;
    }

    struct addrinfo hints;
    memset(&hints, 0, sizeof hints);
    hints.ai_family = AF_UNSPEC;
    hints.ai_socktype = SOCK_STREAM;
    hints.ai_flags = AI_PASSIVE;
    char port[8];
    snprintf(port, sizeof port, "%u", a.cfg.port);
    int gai = getaddrinfo(*a.cfg.listen_host ? a.cfg.listen_host : NULL, port, &hints, &ai);
    if (gai != 0) {
        fprintf(stderr, "app-server: cannot resolve listen address %s: %s\n", a.cfg.listen_host, gai_strerror(gai));
        goto out;
    }

    /* Signals are taken by sigwait below: block them before MHD starts its threads so
     * that every thread inherits the mask. */
    sigset_t sigs;
    sigemptyset(&sigs);
    sigaddset(&sigs, SIGTERM);
    sigaddset(&sigs, SIGINT);
    pthread_sigmask(SIG_BLOCK, &sigs, NULL);
    signal(SIGPIPE, SIG_IGN);

    /* A thread per connection: the handlers block on VOD API calls, and an example
     * should be easy to read more than it should scale. */
    unsigned flags = MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_THREAD_PER_CONNECTION | MHD_USE_ERROR_LOG;
    if (ai->ai_family == AF_INET6)
        flags |= MHD_USE_IPv6;
    d = MHD_start_daemon(flags, 0, NULL, NULL, handle, &a, MHD_OPTION_SOCK_ADDR, ai->ai_addr,
                         MHD_OPTION_NOTIFY_COMPLETED, completed, NULL, MHD_OPTION_CONNECTION_TIMEOUT,
                         (unsigned)30, MHD_OPTION_END);
    if (!d) {
        fprintf(stderr, "app-server: cannot listen on %s:%u\n", a.cfg.listen_host, a.cfg.port);
        goto out;
    }
    const union MHD_DaemonInfo *info = MHD_get_daemon_info(d, MHD_DAEMON_INFO_BIND_PORT);
    unsigned bound = info ? info->port : a.cfg.port;
    int v6 = ai->ai_family == AF_INET6;
    fprintf(stderr, "listening on http://%s%s%s:%u\n", v6 ? "[" : "", a.cfg.listen_host, v6 ? "]" : "", bound);

    int sig = 0;
    sigwait(&sigs, &sig);
    fprintf(stderr, "app-server: %s: stopping\n", sig == SIGTERM ? "SIGTERM" : "SIGINT");
    rc = 0;
out:
    if (d)
        MHD_stop_daemon(d);
    if (ai)
        freeaddrinfo(ai);
    vodup_api_free(a.api);
    for (size_t i = 0; i < a.nowned; i++)
        free(a.owned[i].media_id);
    pthread_mutex_destroy(&a.mu);
    app_config_free(&a.cfg);
    vodup_global_cleanup();
    return rc;
}
