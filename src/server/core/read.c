/* read.c - see read.h: an object's bytes as one descriptor or a reader across its parts. */
#include "server/core/read.h"

#include <stdlib.h>
#include <unistd.h>

struct core_reader {
    vodup_meta_segment *segs; /* pinned (core.pin) until the reader is freed */
    size_t nsegs;
    uint64_t start;   /* object offset of body byte 0 */
    size_t cur;       /* segment of the open fd */
    uint64_t cur_off; /* object offset where segs[cur] begins */
    int fd;
    int pinned;
    core copy;        /* the core outlives no request: keep what the reader needs */
};

ssize_t core_reader_read(core_reader *rd, uint64_t pos, char *buf, size_t max)
{
    uint64_t at = rd->start + pos;
    /* Bodies are read forward; rewind only if the transport ever asks for earlier bytes. */
    if (at < rd->cur_off) {
        if (rd->fd >= 0)
            close(rd->fd);
        rd->fd = -1;
        rd->cur = 0;
        rd->cur_off = 0;
    }
    while (rd->cur < rd->nsegs && at >= rd->cur_off + rd->segs[rd->cur].size) {
        rd->cur_off += rd->segs[rd->cur].size;
        rd->cur++;
        if (rd->fd >= 0)
            close(rd->fd);
        rd->fd = -1;
    }
    if (rd->cur >= rd->nsegs)
        return 0;
    vodup_blobstore *bs = rd->copy.blobs;
    uint64_t in_seg = at - rd->cur_off;
    uint64_t left = rd->segs[rd->cur].size - in_seg;
    if (max > left)
        max = (size_t)left;
    ssize_t n;
    if (vodup_blob_has_fd(bs)) {
        if (rd->fd < 0 && vodup_blob_open_fd(bs, rd->segs[rd->cur].blob, &rd->fd) != 0) {
            rd->fd = -1;
            return -1;
        }
        n = pread(rd->fd, buf, max, (off_t)in_seg);
    } else {
        n = vodup_blob_read(bs, rd->segs[rd->cur].blob, in_seg, buf, max);
    }
    return n > 0 ? n : -1;
}

void core_reader_free(core_reader *rd)
{
    if (!rd)
        return;
    if (rd->pinned && rd->copy.unpin)
        rd->copy.unpin(rd->copy.kick_user, rd->segs, rd->nsegs);
    if (rd->fd >= 0)
        close(rd->fd);
    free(rd->segs);
    free(rd);
}

void core_body_clear(core_body *b)
{
    if (b->fd >= 0)
        close(b->fd);
    core_reader_free(b->reader);
    b->fd = -1;
    b->reader = NULL;
}

vodupd_status core_object_body(const core *c, vodup_meta_object *o, uint64_t first, uint64_t len,
                               core_body *out, vodupd_detail *d)
{
    out->fd = -1;
    out->off = first;
    out->len = len;
    out->reader = NULL;
    if (len == 0)
        return VODUPD_OK;
    if (o->nsegs == 1 && vodup_blob_has_fd(c->blobs)) {
        if (vodup_blob_open_fd(c->blobs, o->segs[0].blob, &out->fd) != 0) {
            out->fd = -1;
            if (d)
                d->what = "Opening the object's bytes";
            return VODUPD_EIO;
        }
        return VODUPD_OK;
    }
    core_reader *rd = calloc(1, sizeof *rd);
    if (!rd)
        return VODUPD_ENOMEM;
    rd->copy = *c;
    rd->segs = o->segs; /* taken over */
    rd->nsegs = o->nsegs;
    o->segs = NULL;
    o->nsegs = 0;
    rd->start = first;
    rd->fd = -1;
    if (c->pin && c->pin(c->kick_user, rd->segs, rd->nsegs) != 0) {
        core_reader_free(rd);
        return VODUPD_ENOMEM;
    }
    rd->pinned = c->pin != NULL;
    out->reader = rd;
    return VODUPD_OK;
}
