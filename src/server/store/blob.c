/* blob.c - what every byte store back end shares: the vodup_blob_* wrappers over the ops
 * table (blob.h), with the off-loop check (loop_guard.h) and the defaults of the optional
 * ops, so that callers never reach into ops themselves. */
#include "server/store/blob.h"
#include "server/store/loop_guard.h"

#include <errno.h>

#define STORE_CALL() VODUP_STORE_OFF_LOOP(__func__)

int vodup_blob_writer_open(vodup_blobstore *bs, vodup_blob_writer **w)
{
    STORE_CALL();
    return bs->ops->writer_open(bs, w);
}

int vodup_blob_write(vodup_blob_writer *w, const void *p, size_t n)
{
    STORE_CALL();
    return w->bs->ops->writer_write(w, p, n);
}

int vodup_blob_commit(vodup_blob_writer *w, char id[VODUP_BLOB_ID_LEN + 1])
{
    STORE_CALL();
    return w->bs->ops->writer_commit(w, id);
}

void vodup_blob_abort(vodup_blob_writer *w)
{
    if (!w)
        return;
    STORE_CALL();
    w->bs->ops->writer_abort(w);
}

ssize_t vodup_blob_read(vodup_blobstore *bs, const char *id, uint64_t off, void *p, size_t n)
{
    STORE_CALL();
    return bs->ops->read(bs, id, off, p, n);
}

int vodup_blob_open_fd(vodup_blobstore *bs, const char *id, int *fd)
{
    STORE_CALL();
    if (!bs->ops->open_fd) {
        errno = ENOTSUP;
        return VODUP_BLOB_ENOTSUP;
    }
    return bs->ops->open_fd(bs, id, fd);
}

int vodup_blob_has_fd(const vodup_blobstore *bs)
{
    return bs->ops->open_fd != NULL;
}

int vodup_blob_remove(vodup_blobstore *bs, const char *id)
{
    STORE_CALL();
    return bs->ops->remove(bs, id);
}

long vodup_blob_recover(vodup_blobstore *bs, int (*is_live)(const char *id, void *u), void *u)
{
    STORE_CALL();
    return bs->ops->recover(bs, is_live, u);
}

int vodup_blob_space_check(vodup_blobstore *bs, uint64_t need)
{
    STORE_CALL();
    return bs->ops->space_check ? bs->ops->space_check(bs, need) : VODUP_BLOB_OK;
}

void vodup_blobstore_close(vodup_blobstore *bs)
{
    if (!bs)
        return;
    STORE_CALL();
    bs->ops->close(bs);
}
