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
    /* Free-space policy; NULL for a backend without a local disk. VODUP_BLOB_OK when need
     * more bytes fit and the reserve (vodup_blobstore_file_set_reserve) still stays free,
     * else VODUP_BLOB_ENOSPC. Called before anything that makes the store grow, so that
     * such requests are refused before a byte is written. It also keeps the metadata
     * headroom: hands it back to the file system when that is (nearly) full, takes it
     * again once there is room; so calling it before a delete is useful too. */
    int (*space_check)(vodup_blobstore *bs, uint64_t need);
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

/* The file store's free-space floor. reserve: bytes that blob writes must leave free on
 * the data directory's file system; pct (0..50), when non-zero, a share of the file
 * system's size instead. 0 and 0: no floor. Writers refuse to go below it (ENOSPC),
 * checking as they write (more often the closer they are). With a floor, a headroom file
 * <dir>/VODUP_BLOB_HEADROOM_NAME of min(VODUP_BLOB_HEADROOM_MAX, floor / 2) bytes is
 * allocated while there is room and released when the file system runs out, so that the
 * database can still record deletes and aborts when something else filled the disk.
 * Call once, before the store is shared (and before the database is opened: a full disk
 * gets its headroom back here). Returns the floor in bytes. */
uint64_t vodup_blobstore_file_set_reserve(vodup_blobstore *bs, uint64_t reserve, unsigned pct);

/* What a client is told when space_check or a write says ENOSPC (OSS 507
 * InsufficientStorage, and the same code on the RPC side). */
#define VODUP_STORAGE_FULL_MSG                                                                    \
    "The server's storage is full: nothing was stored. Uploads are refused until space is freed " \
    "(deleting objects or media frees it) or added."

#define VODUP_BLOB_HEADROOM_NAME "space.reserve"
#define VODUP_BLOB_HEADROOM_MAX (8ULL * 1024 * 1024)

#endif
