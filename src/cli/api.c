/* api.c - VOD/STS API calls for the CLI, with failures turned into sentences that
 * name the problem: the URL that could not be reached, the server's own Code and
 * Message when it refused, or that what answered is not a VOD service at all. */
#include <errno.h>
#include <stdarg.h>
#include <fcntl.h>
#include <netdb.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "cli.h"

#define PROBE_TIMEOUT_MS 3000 /* a first contact slower than this is not worth retrying blind */

int cli_json_errors;

static void json_error_row(const char *code, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void json_error_row(const char *code, const char *fmt, ...)
{
    if (!cli_json_errors)
        return;
    char msg[2048];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    json_t *o = json_pack("{s:s,s:s}", "ErrorCode", code, "Error", msg);
    if (o) {
        json_dumpf(o, stdout, JSON_COMPACT);
        putchar('\n');
        fflush(stdout);
    }
    json_decref(o);
}

vodup_api *cli_api_open(const cli_config *cfg, const char *cmd)
{
    vodup_api *a = NULL;
    int rc = vodup_api_new(&a, cfg->endpoint, cfg->access_key_id, cfg->access_key_secret, cfg->security_token);
    if (rc == VODUP_OK && cfg->ca_file)
        rc = vodup_api_set_ca_file(a, cfg->ca_file);
    if (rc != VODUP_OK) {
        fprintf(stderr, "%s: cannot use endpoint %s: %s\n", cmd, cfg->endpoint, vodup_strerror(rc));
        vodup_api_free(a);
        return NULL;
    }
    return a;
}

const char *cli_error_hint(int code, int upload_auth)
{
    switch (code) {
    case VODUP_EAUTH:
        return upload_auth ? "the upload credentials (--upload-auth) were refused: they belong to another video, or "
                             "were revoked; ask the application server for new ones"
                           : "check the AccessKey (VODUP_ACCESS_KEY_ID / VODUP_ACCESS_KEY_SECRET) and its permissions";
    case VODUP_EEXPIRED:
        return upload_auth ? "the upload credentials expired: get new ones from the application server "
                             "(RefreshUploadVideo) and run the same command again to resume"
                           : "the temporary credentials expired: get new ones (vodup sts assume-role)";
    case VODUP_ENETWORK:
        return "is the server running, and is the endpoint right?";
    default:
        return NULL;
    }
}

int cli_http_error(const char *msg, int *status, char *code, size_t n)
{
    *status = 0;
    if (n)
        code[0] = '\0';
    const char *h = msg ? strstr(msg, "HTTP ") : NULL;
    if (!h)
        return -1;
    char *end;
    long st = strtol(h + 5, &end, 10);
    if (end == h + 5 || st < 100 || st > 999)
        return -1;
    *status = (int)st;
    if (*end == ' ')
        end++;
    size_t k = 0;
    /* Codes are words with dots ("InvalidVideo.NotFound"); "(no code)" is none. */
    while (end[k] && end[k] != ':' && end[k] != ' ' && k + 1 < n)
        k++;
    if (n && end[0] != '(') {
        memcpy(code, end, k);
        code[k] = '\0';
    }
    return 0;
}

int cli_not_vod(int status, const char *code)
{
    /* A VOD service names every refusal with a Code of its own. Without one, or with a
     * web server's or object store's generic one, what answered is something else: a web
     * server, a proxy's default site, the OSS endpoint, a wrong path. */
    static const char *const generic[] = {"NotFound", "MethodNotAllowed", "NoSuchBucket", "NoSuchKey",
                                          "InvalidBucketName", "AccessDenied.Bucket", NULL};
    if (status != 404 && status != 405 && status != 501 && status != 400)
        return 0;
    if (!code || !*code)
        return 1;
    for (int i = 0; generic[i]; i++)
        if (strcmp(code, generic[i]) == 0)
            return 1;
    return 0;
}

void cli_print_not_vod(const char *who, const char *endpoint, const char *from, int status, const char *action)
{
    fprintf(stderr,
            "%s: the endpoint %s does not look like a VOD service: it answered %s with HTTP %d and no VOD error "
            "code. Check the endpoint%s%s%s (the URL vodupd serve prints, e.g. http://127.0.0.1:9000, with no path)\n",
            who, endpoint, action, status, from ? " (from " : "", from ? from : "", from ? ")" : "");
}

int cli_probe(const char *endpoint, char *why, size_t n)
{
    why[0] = '\0';
    const char *h = strstr(endpoint, "://");
    int tls = strncmp(endpoint, "https", 5) == 0;
    if (!h)
        return 0;
    /* Through a proxy (libcurl honours these) the endpoint's host may be unreachable
     * directly: leave the judgement to the real request. */
    static const char *const proxies[] = {"http_proxy", "HTTP_PROXY", "https_proxy", "HTTPS_PROXY", "all_proxy",
                                          "ALL_PROXY", NULL};
    for (int i = 0; proxies[i]; i++) {
        const char *v = getenv(proxies[i]);
        if (v && *v)
            return 0;
    }
    h += 3;
    char host[256], port[16];
    size_t hl;
    const char *p;
    if (*h == '[') {
        const char *close = strchr(h, ']');
        if (!close)
            return 0;
        hl = (size_t)(close - h - 1);
        if (hl >= sizeof host)
            return 0;
        memcpy(host, h + 1, hl);
        p = close + 1;
    } else {
        hl = strcspn(h, ":/?#");
        if (hl >= sizeof host)
            return 0;
        memcpy(host, h, hl);
        p = h + hl;
    }
    host[hl] = '\0';
    if (*p == ':') {
        size_t pl = strcspn(p + 1, "/?#");
        if (pl == 0 || pl >= sizeof port)
            return 0;
        memcpy(port, p + 1, pl);
        port[pl] = '\0';
    } else {
        snprintf(port, sizeof port, "%s", tls ? "443" : "80");
    }
    struct addrinfo hints, *res = NULL;
    memset(&hints, 0, sizeof hints);
    hints.ai_socktype = SOCK_STREAM;
    int g = getaddrinfo(host, port, &hints, &res);
    if (g != 0) {
        snprintf(why, n, "cannot resolve %s: %s", host, gai_strerror(g));
        return g == EAI_AGAIN ? 0 : -1; /* a resolver hiccup is for the retries to judge */
    }
    int ok = 0, err = 0;
    for (struct addrinfo *ai = res; ai && !ok; ai = ai->ai_next) {
        int fd = socket(ai->ai_family, ai->ai_socktype | SOCK_NONBLOCK | SOCK_CLOEXEC, ai->ai_protocol);
        if (fd < 0) {
            err = errno;
            continue;
        }
        if (connect(fd, ai->ai_addr, ai->ai_addrlen) == 0) {
            ok = 1;
        } else if (errno == EINPROGRESS) {
            struct pollfd pfd = {fd, POLLOUT, 0};
            int pr = poll(&pfd, 1, PROBE_TIMEOUT_MS);
            if (pr == 1) {
                int soerr = 0;
                socklen_t sl = sizeof soerr;
                getsockopt(fd, SOL_SOCKET, SO_ERROR, &soerr, &sl);
                ok = soerr == 0;
                err = soerr;
            } else {
                err = pr == 0 ? ETIMEDOUT : errno;
            }
        } else {
            err = errno;
        }
        close(fd);
    }
    freeaddrinfo(res);
    if (ok)
        return 0;
    snprintf(why, n, "connecting to %s port %s: %s", host, port,
             err == ETIMEDOUT ? "no answer within 3 s" : strerror(err));
    return -1;
}

int cli_api_call(vodup_api *a, const cli_config *cfg, const char *cmd, const char *version, const char *action,
                 const char *const *params, json_t **out)
{
    char *body = NULL;
    *out = NULL;
    int rc = vodup_api_call(a, version, action, params, &body);
    if (rc == VODUP_OK) {
        json_error_t jerr;
        json_t *j = body ? json_loads(body, 0, &jerr) : NULL;
        vodup_free(body);
        if (!json_is_object(j)) {
            json_decref(j);
            json_error_row("NotAVodService", "%s at %s answered something that is not a JSON object", action,
                           cfg->endpoint);
            fprintf(stderr,
                    "%s: %s at %s answered something that is not a JSON object: the endpoint does not look like a "
                    "VOD service (check --endpoint / VODUP_ENDPOINT)\n",
                    cmd, action, cfg->endpoint);
            return -1;
        }
        *out = j;
        return 0;
    }
    const char *msg = vodup_api_last_error(a);
    json_t *err = body ? json_loads(body, 0, NULL) : NULL;
    vodup_free(body);
    const char *ecode = json_string_value(json_object_get(err, "Code"));
    const char *emsg = json_string_value(json_object_get(err, "Message"));
    int status = 0;
    char pcode[128];
    cli_http_error(msg, &status, pcode, sizeof pcode);
    if (rc == VODUP_ENETWORK) {
        fprintf(stderr, "%s: cannot reach the VOD endpoint %s (from %s): %s\n", cmd, cfg->endpoint,
                cfg->endpoint_from ? cfg->endpoint_from : "?", msg && *msg ? msg : vodup_strerror(rc));
        json_error_row("EndpointUnreachable", "cannot reach the VOD endpoint %s: %s", cfg->endpoint,
                       msg && *msg ? msg : vodup_strerror(rc));
    } else if (cli_not_vod(status, ecode)) {
        cli_print_not_vod(cmd, cfg->endpoint, cfg->endpoint_from, status, action);
        json_error_row("NotAVodService", "the endpoint %s does not look like a VOD service: it answered %s with "
                       "HTTP %d", cfg->endpoint, action, status);
        json_decref(err);
        return -1;
    } else if (ecode) {
        const char *what = rc == VODUP_EAUTH      ? "credentials refused by"
                           : rc == VODUP_EEXPIRED ? "credentials expired, says"
                                                  : "request refused by";
        fprintf(stderr, "%s: %s %s: %s: %s\n", cmd, what, cfg->endpoint, ecode, emsg ? emsg : "(no message)");
        json_error_row(ecode, "%s", emsg ? emsg : "(no message)");
    } else {
        fprintf(stderr, "%s: %s failed at %s: %s\n", cmd, action, cfg->endpoint,
                msg && *msg ? msg : vodup_strerror(rc));
        json_error_row("ServerError", "%s", msg && *msg ? msg : vodup_strerror(rc));
    }
    const char *hint = cli_error_hint(rc, 0);
    if (hint)
        fprintf(stderr, "%s: %s\n", cmd, hint);
    json_decref(err);
    return -1;
}
