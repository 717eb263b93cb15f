/* blob.h - the byte store: immutable blobs named by random, content-independent ids.
 *
 * Object bytes never live in files named after user keys (keys are arbitrary bytes; paths
 * are not). A blob is written once through a writer, made durable by commit, and then
 * only read or removed. This header is the interface the handlers see; blob_file.c is
 * the one implementation today (files in the data directory). An S3-cluster backend
 * later provides the same ops.
 */
#ifndef VODUP_STORE_BLOB_H
#define VODUP_STORE_BLOB_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#define VODUP_BLOB_ID_LEN 32   /* lower-case hex chars of 16 random bytes */

typedef struct vodup_blobstore vodup_blobstore;
typedef struct vodup_blob_writer vodup_blob_writer;

enum {
    VODUP_BLOB_OK = 0,
    VODUP_BLOB_EIO = -1,       /* errno has the cause */
    VODUP_BLOB_ENOSPC = -2,    /* the disk is full */
    VODUP_BLOB_ENOENT = -3,
    VODUP_BLOB_ENOMEM = -4
};

typedef struct vodup_blobstore_ops {
    const char *name;
    /* Starts a new blob. The bytes are invisible until commit. */
    int (*writer_open)(vodup_blobstore *bs, vodup_blob_writer **w);
    int (*writer_write)(vodup_blob_writer *w, const void *p, size_t n);
    /* Makes the blob durable (data flushed to stable storage, then named) and writes
     * its id (NUL-terminated) into id. Frees w whatever the result. */
    int (*writer_commit)(vodup_blob_writer *w, char id[VODUP_BLOB_ID_LEN + 1]);
    /* Discards the blob. Frees w. */
    void (*writer_abort)(vodup_blob_writer *w);
    /* Reads up to n bytes at off; returns bytes read (0 at end) or a negative error. */
    ssize_t (*read)(vodup_blobstore *bs, const char *id, uint64_t off, void *p, size_t n);
    /* Optional fast path: an fd open for reading (caller closes), for sendfile. NULL if
     * the backend has no fds. */
    int (*open_fd)(vodup_blobstore *bs, const char *id, int *fd);
    int (*remove)(vodup_blobstore *bs, const char *id);   /* ENOENT is not an error */
    /* Startup recovery: drops half-written blobs, then calls is_live for every stored
     * blob and removes those for which it returns 0. Returns the number removed, or <0. */
    long (*recover)(vodup_blobstore *bs, int (*is_live)(const char *id, void *u), void *u);
    void (*close)(vodup_blobstore *bs);
} vodup_blobstore_ops;

struct vodup_blobstore {
    const vodup_blobstore_ops *ops;
};

/* 1 when id is exactly VODUP_BLOB_ID_LEN lower-case hex chars (what writers produce),
 * else 0. Backends refuse any other id. */
int vodup_blob_id_valid(const char *id);

/* The file implementation: blobs under <dir>/objects/<2 hex>/<id>, writes under <dir>/tmp.
 * Creates the directories. Returns NULL with errno set on failure. */
vodup_blobstore *vodup_blobstore_file_open(const char *data_dir);

#endif
