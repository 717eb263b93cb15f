/* response.c - see response.h: the one place that turns an answer into libmicrohttpd's. */
#include "server/http/response.h"
#include "server/core/read.h"

#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "server/http/request.h"

_Static_assert(HTTP_BODY_END == MHD_CONTENT_READER_END_OF_STREAM, "reader end marker");
_Static_assert(HTTP_BODY_ERROR == MHD_CONTENT_READER_END_WITH_ERROR, "reader error marker");

struct http_response {
    struct MHD_Response *m;
    uint64_t bytes; /* body length, for the metrics */
};

static http_response *wrap(struct MHD_Response *m, uint64_t bytes)
{
    if (!m)
        return NULL;
    http_response *resp = malloc(sizeof *resp);
    if (!resp) {
        MHD_destroy_response(m);
        return NULL;
    }
    resp->m = m;
    resp->bytes = bytes;
    return resp;
}

http_response *http_response_empty(void)
{
    return wrap(MHD_create_response_from_buffer(0, (void *)"", MHD_RESPMEM_PERSISTENT), 0);
}

http_response *http_response_static(const char *content_type, const void *data, size_t len)
{
    http_response *resp = wrap(MHD_create_response_from_buffer(len, (void *)data, MHD_RESPMEM_PERSISTENT), len);
    if (resp && content_type && http_response_header(resp, "Content-Type", content_type) != 0) {
        http_response_free(resp);
        return NULL;
    }
    return resp;
}

http_response *http_response_buf(const char *content_type, vbuf *body)
{
    size_t n = body->len;
    char *p = vbuf_steal(body);
    struct MHD_Response *m =
        MHD_create_response_from_buffer(n, p ? p : (void *)"", p ? MHD_RESPMEM_MUST_FREE : MHD_RESPMEM_PERSISTENT);
    if (!m) {
        free(p);
        return NULL;
    }
    http_response *resp = wrap(m, n);
    if (resp && content_type && http_response_header(resp, "Content-Type", content_type) != 0) {
        http_response_free(resp);
        return NULL;
    }
    return resp;
}

http_response *http_response_fd(int fd, uint64_t offset, uint64_t len)
{
    struct MHD_Response *m = MHD_create_response_from_fd_at_offset64(len, fd, offset);
    if (!m) {
        close(fd);
        return NULL;
    }
    return wrap(m, len);
}

http_response *http_response_reader(uint64_t len, size_t block, http_body_reader *read, void *cls,
                                    void (*free_cls)(void *))
{
    struct MHD_Response *m = MHD_create_response_from_callback(len, block, read, cls, free_cls);
    if (!m) {
        if (free_cls)
            free_cls(cls);
        return NULL;
    }
    return wrap(m, len);
}

static ssize_t no_body(void *cls, uint64_t pos, char *buf, size_t max)
{
    (void)cls, (void)pos, (void)buf, (void)max;
    return MHD_CONTENT_READER_END_WITH_ERROR;
}

http_response *http_response_head(uint64_t len)
{
    /* A callback response, so that libmicrohttpd announces len; for HEAD it never reads.
     * Counted as the body it describes, as the metrics always have. */
    return wrap(MHD_create_response_from_callback(len, 4096, no_body, NULL, NULL), len);
}

int http_response_header(http_response *resp, const char *name, const char *value)
{
    if (!resp)
        return 0;
    return MHD_add_response_header(resp->m, name, value) == MHD_YES ? 0 : -1;
}

void http_response_del_header(http_response *resp, const char *name, const char *value)
{
    if (resp)
        MHD_del_response_header(resp->m, name, value);
}

void http_response_free(http_response *resp)
{
    if (!resp)
        return;
    MHD_destroy_response(resp->m);
    free(resp);
}

void http_respond(http_request *r, unsigned int status, struct MHD_Response *m)
{
    if (r->resp) { /* answered already: keep the first answer */
        if (m)
            MHD_destroy_response(m);
        return;
    }
    if (!m)
        m = MHD_create_response_from_buffer(0, (void *)"", MHD_RESPMEM_PERSISTENT);
    if (!m)
        return;
    http_response view = {m, 0};
    http_response_header(&view, "Server", "vodupd");
    if (r->dialect)
        r->dialect->common_headers(r, &view);
    r->resp = m;
    r->status = status;
}

void http_reply(http_request *r, unsigned int status, http_response *resp)
{
    if (r->resp) { /* answered already: keep the first answer */
        http_response_free(resp);
        return;
    }
    if (!resp && !(resp = http_response_empty()))
        return; /* out of memory: the front answers for it */
    struct MHD_Response *m = resp->m;
    r->resp_bytes = resp->bytes;
    free(resp);
    http_respond(r, status, m);
}

void http_cors_headers(const http_request *r, http_response *resp, const char *expose)
{
    const char *origin = http_header(r, "Origin");
    if (!origin || !*origin)
        return;
    http_response_header(resp, "Access-Control-Allow-Origin", origin);
    http_response_header(resp, "Access-Control-Expose-Headers", expose);
    http_response_header(resp, "Vary", "Origin");
}

void http_respond_buf(http_request *r, unsigned int status, const char *content_type, vbuf *body)
{
    http_reply(r, status, http_response_buf(content_type, body));
}

void http_respond_empty(http_request *r, unsigned int status)
{
    http_reply(r, status, NULL);
}

int http_content_length(const http_request *r, uint64_t *len)
{
    const char *cl = http_header(r, "Content-Length");
    if (!cl)
        return 0;
    if (!*cl || strlen(cl) > 19)
        return -1;
    uint64_t v = 0;
    for (const char *p = cl; *p; p++) {
        if (*p < '0' || *p > '9')
            return -1;
        v = v * 10 + (uint64_t)(*p - '0');
    }
    *len = v;
    return 1;
}

/* ---- an object's bytes from the core --------------------------------------------- */

static ssize_t core_body_read(void *cls, uint64_t pos, char *buf, size_t max)
{
    ssize_t n = core_reader_read(cls, pos, buf, max);
    return n > 0 ? n : n == 0 ? HTTP_BODY_END : HTTP_BODY_ERROR;
}

static void core_body_free(void *cls)
{
    core_reader_free(cls);
}

http_response *http_response_core_body(core_body *b)
{
    if (b->fd >= 0) {
        int fd = b->fd;
        b->fd = -1;
        return http_response_fd(fd, b->off, b->len); /* closes fd if it fails */
    }
    if (!b->reader)
        return http_response_empty();
    core_reader *rd = b->reader;
    b->reader = NULL;
    return http_response_reader(b->len, 256 * 1024, core_body_read, rd, core_body_free); /* frees rd if it fails */
}
