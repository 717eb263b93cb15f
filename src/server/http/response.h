/* response.h - building an answer without libmicrohttpd's types.
 *
 * Dialects and operations say what to answer (a status, headers, a body from a buffer,
 * from an open file's range, from a reader callback, or nothing); only http/ knows how
 * libmicrohttpd sends it. A response is built, given headers, then handed to http_reply,
 * which takes it over (also on every failure path), so a caller never frees one it
 * passed on.
 */
#ifndef VODUPD_HTTP_RESPONSE_H
#define VODUPD_HTTP_RESPONSE_H

#include <stdint.h>
#include <sys/types.h>

#include "common/buf.h"

typedef struct http_request http_request;
typedef struct http_response http_response;

/* A reader callback's answers besides a byte count (> 0). */
#define HTTP_BODY_END   ((ssize_t)-1) /* no more bytes */
#define HTTP_BODY_ERROR ((ssize_t)-2) /* the bytes cannot be read: the connection is cut */

/* Reads up to max bytes of the body, from body offset pos, into buf. */
typedef ssize_t http_body_reader(void *cls, uint64_t pos, char *buf, size_t max);

/* No body (Content-Length: 0). */
http_response *http_response_empty(void);
/* The bytes of body (taken over: body is left empty, also on failure); content_type may
 * be NULL. */
http_response *http_response_buf(const char *content_type, vbuf *body);
/* A body of static bytes (never freed). */
http_response *http_response_static(const char *content_type, const void *data, size_t len);
/* len bytes of fd from offset (fd taken over: closed with the response, or at once when
 * this fails). The kernel moves them (sendfile) where it can. */
http_response *http_response_fd(int fd, uint64_t offset, uint64_t len);
/* len bytes produced by read, in blocks of up to block bytes; free_cls (may be NULL) runs
 * when the response is released, also when this fails. */
http_response *http_response_reader(uint64_t len, size_t block, http_body_reader *read, void *cls,
                                    void (*free_cls)(void *));
/* An object's bytes from the core (core/read.h), taken over: its descriptor or its reader
 * (freed with the response, or at once when this fails). */
struct core_body;
http_response *http_response_core_body(struct core_body *b);
/* An answer to HEAD: Content-Length says len, and no body follows. */
http_response *http_response_head(uint64_t len);

/* Adds a header (NULL response: ignored). 0, or -1 when it could not be added. */
int http_response_header(http_response *resp, const char *name, const char *value);
/* Removes the header name with exactly this value. */
void http_response_del_header(http_response *resp, const char *name, const char *value);
/* Releases a response that was never handed to http_reply. */
void http_response_free(http_response *resp);

/* Answers r with status and resp (taken over; NULL: an empty body). The request's
 * dialect adds its common headers. Only the first answer counts: later ones are
 * dropped. The body's length is counted for the metrics. */
void http_reply(http_request *r, unsigned int status, http_response *resp);

/* Browsers upload straight into the store, so every answer (errors too: the browser
 * SDKs read their bodies) carries CORS headers for the requesting Origin, exposing the
 * headers listed in expose. Nothing when the request has no Origin. */
void http_cors_headers(const http_request *r, http_response *resp, const char *expose);

/* Shorthands: a buffer's bytes (taken over), or nothing. */
void http_respond_buf(http_request *r, unsigned int status, const char *content_type, vbuf *body);
void http_respond_empty(http_request *r, unsigned int status);

/* Content-Length of r: 1 and *len when given, 0 when absent (chunked), -1 when malformed. */
int http_content_length(const http_request *r, uint64_t *len);

#endif
