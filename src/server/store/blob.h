/* blob.h - the byte store: immutable blobs named by random, content-independent ids.
 *
 * Object bytes never live in files named after user keys (keys are arbitrary bytes; paths
 * are not). A blob is written once through a writer, made durable by commit, and then
 * only read or removed. Callers use the vodup_blob_* wrappers below (blob.c), never the
 * ops directly: the wrappers add what every back end shares (the off-loop check of
 * loop_guard.h, defaults for optional ops). blob_file.c is the one implementation today
 * (files in the data directory); an S3-cluster back end later provides the same ops.
 * The contract: docs/internals/store-contract.md.
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
    VODUP_BLOB_ENOMEM = -4,
    VODUP_BLOB_ENOTSUP = -5    /* the back end has no such operation (open_fd) */
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

/* Every back end's writer begins with this, so the writer wrappers reach the ops. */
struct vodup_blob_writer {
    vodup_blobstore *bs;
};

/* ---- the wrappers: one per operation, each with that operation's contract above ---- */
int vodup_blob_writer_open(vodup_blobstore *bs, vodup_blob_writer **w);
int vodup_blob_write(vodup_blob_writer *w, const void *p, size_t n);
int vodup_blob_commit(vodup_blob_writer *w, char id[VODUP_BLOB_ID_LEN + 1]);
void vodup_blob_abort(vodup_blob_writer *w);             /* NULL: no-op */
ssize_t vodup_blob_read(vodup_blobstore *bs, const char *id, uint64_t off, void *p, size_t n);
/* VODUP_BLOB_ENOTSUP when the back end has no fds (then read instead). */
int vodup_blob_open_fd(vodup_blobstore *bs, const char *id, int *fd);
/* 1 when vodup_blob_open_fd can succeed on this back end at all. */
int vodup_blob_has_fd(const vodup_blobstore *bs);
int vodup_blob_remove(vodup_blobstore *bs, const char *id);
long vodup_blob_recover(vodup_blobstore *bs, int (*is_live)(const char *id, void *u), void *u);
/* VODUP_BLOB_OK on a back end without a free-space policy. */
int vodup_blob_space_check(vodup_blobstore *bs, uint64_t need);
void vodup_blobstore_close(vodup_blobstore *bs);         /* NULL: no-op */

/* 1 when id is exactly VODUP_BLOB_ID_LEN lower-case hex chars (what writers produce),
 * else 0. Backends refuse any other id. */
int vodup_blob_id_valid(const char *id);

/* The file implementation: blobs under <dir>/objects/<2 hex>/<id>, writes under
 * <dir>/tmp/<node>.<id>. node names the vodupd instance writing (1 to
 * VODUP_BLOB_NODE_MAX chars of [a-z0-9-]): recover removes only tmp files of this node
 * (and names no node can have written), so that nodes sharing one byte store never
 * delete each other's writes in flight. Creates the directories. Returns NULL with errno
 * set on failure (EINVAL: a bad node id). */
vodup_blobstore *vodup_blobstore_file_open_node(const char *dir, const char *node);
/* As _open_node with this data directory's node id: the one in <data_dir>/node-id,
 * made (random) and made durable at the first open. */
vodup_blobstore *vodup_blobstore_file_open(const char *data_dir);

#define VODUP_BLOB_NODE_MAX 32
#define VODUP_BLOB_NODE_FILE "node-id"

/* The node id of <data_dir>/VODUP_BLOB_NODE_FILE into out, creating the file with a new
 * random id (16 lower-case hex) when there is none. 0, or -1 with errno set (EINVAL: the
 * file holds no valid id). */
int vodup_blob_node_id(const char *data_dir, char out[VODUP_BLOB_NODE_MAX + 1]);
/* 1 when node is a valid node id, else 0. */
int vodup_blob_node_valid(const char *node);

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
