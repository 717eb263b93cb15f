/* read.h - an object's bytes on their way out, in no dialect's terms (read.c).
 *
 * A body is either one blob's open descriptor (the kernel moves the bytes, and they stay
 * readable if the object is overwritten or deleted meanwhile) or a reader across the
 * object's part blobs, which stay pinned against the collector until the reader is freed.
 * The dialects turn either into an HTTP body with http_response_core_body (response.h).
 */
#ifndef VODUPD_CORE_READ_H
#define VODUPD_CORE_READ_H

#include <stdint.h>
#include <sys/types.h>

#include "server/core/core.h"

typedef struct core_reader core_reader;

typedef struct core_body {
    int fd;              /* >= 0: the bytes are [off, off + len) of this descriptor (the body's) */
    uint64_t off;
    uint64_t len;
    core_reader *reader; /* fd < 0 and len > 0: read them from here */
} core_body;

/* The len bytes of o from offset first. Takes o's segments over when it must stream across
 * them (o is still cleared by the caller). Call while the caller's read pin (server.h's
 * vodupd_reader) still holds o's blobs. EIO (a blob cannot be opened), ENOMEM. A body of
 * len 0 has neither fd nor reader. */
vodupd_status core_object_body(const core *c, vodup_meta_object *o, uint64_t first, uint64_t len,
                               core_body *out, vodupd_detail *d);
/* Body bytes from position pos (0 is the body's first byte) into buf: the count (> 0),
 * 0 at the end, -1 when a blob cannot be read. Runs wherever the transport pulls bytes. */
ssize_t core_reader_read(core_reader *rd, uint64_t pos, char *buf, size_t max);
/* Closes its descriptor, unpins its blobs, frees it. NULL is fine. */
void core_reader_free(core_reader *rd);
/* Releases a body never handed to a transport. */
void core_body_clear(core_body *b);

#endif
