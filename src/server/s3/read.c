/* read.c - an object's bytes as a response body: one blob from its file descriptor (the
 * kernel moves the bytes), a multipart object streamed across its part blobs, pinned
 * until the response is released. Protocol-neutral: it belongs in the core (core.h)
 * beside core_object_get; oss/object_get.c has the same reader inline and should move
 * to this one when the core takes it. */
#include "server/s3/read.h"

#include <stdlib.h>
#include <string.h>
#include <unistd.h>

typedef struct seg_reader {
    vodupd *srv;
    vodup_meta_segment *segs;
    size_t nsegs;
    uint64_t start;   /* object offset of body byte 0 */
    size_t cur;       /* segment of the open fd */
    uint64_t cur_off; /* object offset where segs[cur] begins */
    int fd;
    int pinned;
} seg_reader;

static ssize_t seg_read(void *cls, uint64_t pos, char *buf, size_t max)
{
    seg_reader *sr = cls;
    uint64_t at = sr->start + pos;
    if (at < sr->cur_off) { /* bodies are read forward; rewind if ever asked for earlier bytes */
        if (sr->fd >= 0)
            close(sr->fd);
        sr->fd = -1;
        sr->cur = 0;
        sr->cur_off = 0;
    }
    while (sr->cur < sr->nsegs && at >= sr->cur_off + sr->segs[sr->cur].size) {
        sr->cur_off += sr->segs[sr->cur].size;
        sr->cur++;
        if (sr->fd >= 0)
            close(sr->fd);
        sr->fd = -1;
    }
    if (sr->cur >= sr->nsegs)
        return HTTP_BODY_END;
    vodup_blobstore *bs = sr->srv->blobs;
    uint64_t in_seg = at - sr->cur_off;
    uint64_t left = sr->segs[sr->cur].size - in_seg;
    if (max > left)
        max = (size_t)left;
    if (bs->ops->open_fd) {
        if (sr->fd < 0 && bs->ops->open_fd(bs, sr->segs[sr->cur].blob, &sr->fd) != 0) {
            sr->fd = -1;
            return HTTP_BODY_ERROR;
        }
        ssize_t n = pread(sr->fd, buf, max, (off_t)in_seg);
        return n > 0 ? n : HTTP_BODY_ERROR;
    }
    ssize_t n = bs->ops->read(bs, sr->segs[sr->cur].blob, in_seg, buf, max);
    return n > 0 ? n : HTTP_BODY_ERROR;
}

static void seg_free(void *cls)
{
    seg_reader *sr = cls;
    if (sr->pinned)
        vodupd_blobs_unpin(sr->srv, sr->segs, sr->nsegs);
    if (sr->fd >= 0)
        close(sr->fd);
    free(sr->segs);
    free(sr);
}

http_response *s3_object_body(vodupd *srv, vodup_meta_object *o, uint64_t first, uint64_t len)
{
    if (len == 0)
        return http_response_empty();
    vodup_blobstore *bs = srv->blobs;
    if (o->nsegs == 1 && bs->ops->open_fd) {
        int fd;
        if (bs->ops->open_fd(bs, o->segs[0].blob, &fd) != 0)
            return NULL;
        return http_response_fd(fd, first, len);
    }
    seg_reader *sr = calloc(1, sizeof *sr);
    if (!sr)
        return NULL;
    sr->srv = srv;
    sr->segs = o->segs; /* taken over */
    sr->nsegs = o->nsegs;
    o->segs = NULL;
    o->nsegs = 0;
    sr->start = first;
    sr->fd = -1;
    if (vodupd_blobs_pin(srv, sr->segs, sr->nsegs) != 0) {
        seg_free(sr);
        return NULL;
    }
    sr->pinned = 1;
    return http_response_reader(len, 256 * 1024, seg_read, sr, seg_free);
}
