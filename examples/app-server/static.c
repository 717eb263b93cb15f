/* static.c - the static folder (the web demo lives there), served under /.
 *
 * Nothing outside static_dir may be reached: a ".." segment is refused outright, and the
 * resolved path (symbolic links followed) must still lie inside static_dir; only regular
 * files are served. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "app.h"

static const char *content_type(const char *path)
{
    static const struct {
        const char *ext, *type;
    } types[] = {{".html", "text/html; charset=utf-8"}, {".htm", "text/html; charset=utf-8"},
                 {".js", "text/javascript; charset=utf-8"}, {".mjs", "text/javascript; charset=utf-8"},
                 {".css", "text/css; charset=utf-8"}, {".json", "application/json"},
                 {".svg", "image/svg+xml"}, {".png", "image/png"}, {".jpg", "image/jpeg"},
                 {".jpeg", "image/jpeg"}, {".gif", "image/gif"}, {".ico", "image/x-icon"},
                 {".txt", "text/plain; charset=utf-8"}, {".mp4", "video/mp4"}, {".wasm", "application/wasm"}};
    const char *dot = strrchr(path, '.');
    for (size_t i = 0; dot && i < sizeof types / sizeof types[0]; i++)
        if (strcasecmp(dot, types[i].ext) == 0)
            return types[i].type;
    return "application/octet-stream";
}

static int has_dotdot(const char *url)
{
    for (const char *s = url; *s;) {
        const char *e = strchr(s, '/');
        size_t n = e ? (size_t)(e - s) : strlen(s);
        if (n == 2 && s[0] == '.' && s[1] == '.')
            return 1;
        if (!e)
            break;
        s = e + 1;
    }
    return 0;
}

/* The web upload SDK comes from the VOD service (vodupd serves the one it was built with):
 * the browser is sent there, so a page of static_dir can import "/sdk/vodup-upload.mjs". */
static int redirect_sdk(const app *a, const char *url, app_reply *out)
{
    if (strcmp(url, "/sdk/vodup-upload.js") != 0 && strcmp(url, "/sdk/vodup-upload.mjs") != 0)
        return 0;
    const char *ep = a->cfg.vod_endpoint;
    size_t el = strlen(ep);
    while (el && ep[el - 1] == '/')
        el--;
    char *loc = malloc(el + strlen(url) + 1);
    out->raw = loc ? MHD_create_response_from_buffer(0, (void *)"", MHD_RESPMEM_PERSISTENT) : NULL;
    if (!out->raw) {
        free(loc);
        app_error(out, 500, "InternalError", "Out of memory.");
        return 1;
    }
    memcpy(loc, ep, el);
    memcpy(loc + el, url, strlen(url) + 1);
    MHD_add_response_header(out->raw, MHD_HTTP_HEADER_LOCATION, loc);
    MHD_add_response_header(out->raw, MHD_HTTP_HEADER_CACHE_CONTROL, "no-cache");
    free(loc);
    out->status = 302;
    return 1;
}

void app_serve_static(const app *a, const char *method, const char *url, app_reply *out)
{
    if ((strcmp(method, "GET") == 0 || strcmp(method, "HEAD") == 0) && redirect_sdk(a, url, out))
        return;
    if (!a->cfg.static_dir)
        return app_error(out, 404, "NotFound", "Not found.");
    if (strcmp(method, "GET") != 0 && strcmp(method, "HEAD") != 0)
        return app_error(out, 405, "MethodNotAllowed", "Use GET.");
    if (url[0] != '/' || has_dotdot(url) || strchr(url, '\\'))
        return app_error(out, 400, "InvalidPath", "The path may not contain \"..\".");
    size_t ul = strlen(url), dl = strlen(a->cfg.static_dir);
    int dir_index = url[ul - 1] == '/';
    size_t n = dl + ul + sizeof "index.html";
    char *path = malloc(n);
    if (!path)
        return app_error(out, 500, "InternalError", "Out of memory.");
    snprintf(path, n, "%s%s%s", a->cfg.static_dir, url, dir_index ? "index.html" : "");
    char *real = realpath(path, NULL);
    free(path);
    /* The resolved path must be static_dir itself plus "/...": a symlink out is not ours. */
    if (!real || strncmp(real, a->cfg.static_dir, dl) != 0 || real[dl] != '/') {
        free(real);
        return app_error(out, 404, "NotFound", "Not found.");
    }
    int fd = open(real, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
    struct stat sb;
    if (fd < 0 || fstat(fd, &sb) != 0 || !S_ISREG(sb.st_mode)) {
        if (fd >= 0)
            close(fd);
        free(real);
        return app_error(out, 404, "NotFound", "Not found.");
    }
    /* MHD owns fd from here and sends it with sendfile where it can. */
    out->raw = MHD_create_response_from_fd((uint64_t)sb.st_size, fd);
    if (!out->raw) {
        close(fd);
        free(real);
        return app_error(out, 500, "InternalError", "Out of memory.");
    }
    MHD_add_response_header(out->raw, MHD_HTTP_HEADER_CONTENT_TYPE, content_type(real));
    MHD_add_response_header(out->raw, MHD_HTTP_HEADER_CACHE_CONTROL, "no-cache");
    out->status = 200;
    free(real);
}
