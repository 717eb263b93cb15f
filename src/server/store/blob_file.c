/* blob_file.c - the byte store on a local file system.
 *
 * A blob is a file <dir>/objects/<first 2 hex>/<id>. It is written under
 * <dir>/tmp/<node>.<id>, then fdatasync'ed, renamed into its shard and the shard directory
 * fsync'ed, so that a commit that returned OK survives a power loss: the data is on disk
 * before the name, and the name is on disk before we answer. What this node left in tmp/
 * after a crash was never acknowledged and is dropped by recover(); tmp files of other
 * nodes (the same byte store shared by several vodupd instances) are writes in flight that
 * recover leaves alone: each node cleans up its own at its own restart.
 *
 * Paths are only ever built from ids that passed vodup_blob_id_valid() (exactly 32
 * lower-case hex), so nothing a client sends can reach the file system. All access goes
 * through directory fds opened once (openat & co.), which keeps the paths short and the
 * store independent of the process's working directory. The store holds no mutable shared state: writers own
 * their fd, so concurrent use from many threads needs no lock.
 *
 * Free space (finding 14). A full file system must still accept deletes, or it can never
 * be emptied through the API: SQLite needs room in its WAL to record a delete before the
 * blob can be unlinked. Two things keep that room:
 *  - the floor: writers refuse (ENOSPC) to take free space below the reserve, checked
 *    before the first byte and again while writing, the more often the closer the floor
 *    is (so that many writers together overshoot it by little);
 *  - the headroom file: a fully allocated file in the data directory that is unlinked the
 *    moment the file system is found (nearly) full, e.g. filled by something else or by
 *    the database itself, and allocated again once free space is back above the floor.
 * The headroom state is the only mutable shared state; space_mu guards its changes.
 *
 * Large blobs bypass the page cache (O_DIRECT). On the machine of bench/ a buffered
 * write of 1 GiB cost 2.6 s of system CPU (page-cache allocation and the copy into it)
 * where O_DIRECT cost 0.4 s, and the fdatasync before the answer then has little left
 * to flush (docs/internals/commit-path.md). A writer starts buffered (a small object
 * never allocates anything), and once DIRECT_FROM bytes have come it collects the
 * following bytes in an aligned buffer of DIRECT_BUF and writes each full buffer
 * directly. The tail that is not a multiple of DIRECT_ALIGN goes through the page cache
 * at commit; fdatasync then covers both kinds of write (data, size, extents), so the
 * durability promise is the same. A file system that refuses O_DIRECT (tmpfs, some
 * FUSE) makes the writer stay buffered.
 */
#include "server/store/blob.h"

#include "common/codec.h"
#include "common/digest.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <unistd.h>

/* How often a writer re-reads the free space: after (free - floor) / SPACE_CHECK_DIV bytes,
 * kept within [SPACE_CHECK_MIN, SPACE_CHECK_MAX]. Near the floor every 64 KiB, so N
 * concurrent writers overshoot it by about N * 64 KiB at most. */
#define SPACE_CHECK_DIV 32
#define SPACE_CHECK_MIN (64ULL * 1024)
#define SPACE_CHECK_MAX (8ULL * 1024 * 1024)
#define RESERVE_MAX_PCT 50

/* Direct I/O: bytes written through the page cache before a writer turns to O_DIRECT
 * (below it an object costs no aligned buffer), the buffer a direct writer fills before
 * each write (one syscall per MiB; it exists only while a large blob is written), and
 * the alignment of offsets, lengths and buffer (4096 covers 512- and 4096-byte sectors;
 * a device wanting more fails the write with EINVAL, and the writer goes buffered). */
#define DIRECT_FROM  (256U * 1024)
#define DIRECT_BUF   (1024U * 1024)
#define DIRECT_ALIGN 4096U

typedef struct file_store {
    vodup_blobstore base;
    int objects_fd;     /* <dir>/objects */
    int tmp_fd;         /* <dir>/tmp */
    int root_fd;        /* <dir>: free space and the headroom file */
    uint64_t floor;     /* bytes blob writes leave free; 0: no floor */
    uint64_t headroom;  /* size of the headroom file; 0: none */
    pthread_mutex_t space_mu;
    atomic_int headroom_held;   /* the headroom file is allocated */
    atomic_int full;            /* last check found no room (to log changes only) */
    char node[VODUP_BLOB_NODE_MAX + 1];     /* this instance's node id: its tmp files' prefix */
} file_store;

/* tmp/<node>.<id> */
#define TMP_NAME_MAX (VODUP_BLOB_NODE_MAX + 1 + VODUP_BLOB_ID_LEN + 1)

typedef struct file_writer {
    vodup_blob_writer base;
    file_store *fs;
    int fd;
    uint64_t written;
    uint64_t check_at;  /* re-read the free space before writing past this */
    int direct;         /* 0: buffered so far, 1: O_DIRECT on fd, -1: stays buffered */
    unsigned char *dbuf;    /* direct: bytes not yet written, DIRECT_ALIGN-aligned */
    size_t dlen;
    char id[VODUP_BLOB_ID_LEN + 1];
    char tmp[TMP_NAME_MAX];
} file_writer;

int vodup_blob_id_valid(const char *id)
{
    if (!id)
        return 0;
    for (int i = 0; i < VODUP_BLOB_ID_LEN; i++) {
        char c = id[i];
        if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f')))
            return 0;
    }
    return id[VODUP_BLOB_ID_LEN] == '\0';
}

/* "xx/<id>" relative to objects_fd. */
static void object_rel(char out[VODUP_BLOB_ID_LEN + 4], const char *id)
{
    out[0] = id[0];
    out[1] = id[1];
    out[2] = '/';
    memcpy(out + 3, id, VODUP_BLOB_ID_LEN + 1);
}

static int space_error(int e)
{
    return e == ENOSPC || e == EDQUOT;
}

static int fsync_dir_at(int parent, const char *name)
{
    int fd = openat(parent, name, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd < 0)
        return -1;
    int rc = fsync(fd);
    int e = errno;
    close(fd);
    errno = e;
    return rc;
}

/* Bytes an unprivileged writer may still use (f_bavail: root's 5% of ext4 are left
 * alone, which errs on the safe side). -1 when the file system cannot tell. */
static int avail_bytes(const file_store *fs, uint64_t *avail, uint64_t *total)
{
    struct statvfs st;
    if (fstatvfs(fs->root_fd, &st) != 0)
        return -1;
    uint64_t unit = st.f_frsize ? st.f_frsize : st.f_bsize;
    *avail = (uint64_t)st.f_bavail * unit;
    if (total)
        *total = (uint64_t)st.f_blocks * unit;
    return 0;
}

static void note_full(file_store *fs, int full, uint64_t avail)
{
    if (atomic_exchange(&fs->full, full) == full)
        return;
    if (full)
        fprintf(stderr, "vodup blob: only %llu bytes free, below the reserve of %llu: uploads are refused "
                        "until space is freed (deletes still work)\n",
                (unsigned long long)avail, (unsigned long long)fs->floor);
    else
        fprintf(stderr, "vodup blob: %llu bytes free again, above the reserve: uploads accepted\n",
                (unsigned long long)avail);
}

/* Allocates the headroom file; 0 or -1 (nothing left behind). Caller holds space_mu. */
static int headroom_take(file_store *fs)
{
    int fd = openat(fs->root_fd, VODUP_BLOB_HEADROOM_NAME, O_WRONLY | O_CREAT | O_CLOEXEC, 0600);
    if (fd < 0)
        return -1;
    /* posix_fallocate reserves real blocks (a sparse file would reserve nothing); where
     * the file system cannot, glibc writes zeros instead. */
    int rc = posix_fallocate(fd, 0, (off_t)fs->headroom);
    close(fd);
    if (rc != 0) {
        unlinkat(fs->root_fd, VODUP_BLOB_HEADROOM_NAME, 0);
        return -1;
    }
    return 0;
}

/* Releases the headroom when the file system is nearly full, takes it back when free
 * space is above floor + headroom (so taking it never brings us below the floor, and
 * releasing never happens above it: floor >= 2 * headroom). Updates *avail. */
static void headroom_keep(file_store *fs, uint64_t *avail)
{
    if (!fs->headroom)
        return;
    int held = atomic_load(&fs->headroom_held);
    if (held && *avail >= fs->headroom)
        return;
    if (!held && *avail < fs->floor + fs->headroom)
        return;
    pthread_mutex_lock(&fs->space_mu);
    held = atomic_load(&fs->headroom_held);
    if (held && *avail < fs->headroom) {
        if (unlinkat(fs->root_fd, VODUP_BLOB_HEADROOM_NAME, 0) == 0 || errno == ENOENT) {
            atomic_store(&fs->headroom_held, 0);
            fprintf(stderr, "vodup blob: the file system is full (%llu bytes free): released the %llu-byte "
                            "headroom file so that the database can record deletes\n",
                    (unsigned long long)*avail, (unsigned long long)fs->headroom);
        }
    } else if (!held && *avail >= fs->floor + fs->headroom) {
        if (headroom_take(fs) == 0)
            atomic_store(&fs->headroom_held, 1);
    }
    pthread_mutex_unlock(&fs->space_mu);
    uint64_t a;
    if (avail_bytes(fs, &a, NULL) == 0)
        *avail = a;
}

/* Bytes a writer may go on writing before it looks again, given avail. */
static uint64_t check_step(const file_store *fs, uint64_t avail)
{
    uint64_t room = avail > fs->floor ? avail - fs->floor : 0;
    uint64_t step = room / SPACE_CHECK_DIV;
    return step < SPACE_CHECK_MIN ? SPACE_CHECK_MIN : step > SPACE_CHECK_MAX ? SPACE_CHECK_MAX : step;
}

static int fs_space_check(vodup_blobstore *bs, uint64_t need)
{
    file_store *fs = (file_store *)bs;
    uint64_t avail;
    if (!fs->floor)
        return VODUP_BLOB_OK;
    if (avail_bytes(fs, &avail, NULL) != 0)
        return VODUP_BLOB_OK;  /* cannot tell: the write itself will report ENOSPC */
    headroom_keep(fs, &avail);
    int full = avail < fs->floor || avail - fs->floor < need;
    note_full(fs, avail < fs->floor, avail);
    return full ? VODUP_BLOB_ENOSPC : VODUP_BLOB_OK;
}

static int fw_open(vodup_blobstore *bs, vodup_blob_writer **out)
{
    file_store *fs = (file_store *)bs;
    uint64_t avail = 0;
    if (fs->floor && avail_bytes(fs, &avail, NULL) == 0) {
        if (avail < fs->floor) {
            note_full(fs, 1, avail);
            errno = ENOSPC;
            return VODUP_BLOB_ENOSPC;
        }
    }
    file_writer *w = calloc(1, sizeof *w);
    if (!w)
        return VODUP_BLOB_ENOMEM;
    w->base.bs = bs;
    w->fs = fs;
    w->check_at = fs->floor ? check_step(fs, avail) : UINT64_MAX;
    /* A collision of 128 random bits is not expected; the retry only guards against a
     * leftover tmp file of the same name (O_EXCL refuses to reuse it). */
    for (int attempt = 0; attempt < 4; attempt++) {
        unsigned char raw[VODUP_BLOB_ID_LEN / 2];
        if (vodup_random(raw, sizeof raw) != 0) {
            free(w);
            errno = EIO;
            return VODUP_BLOB_EIO;
        }
        vodup_hex_lower(w->id, raw, sizeof raw);
        snprintf(w->tmp, sizeof w->tmp, "%s.%s", fs->node, w->id);
        w->fd = openat(fs->tmp_fd, w->tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
        if (w->fd >= 0) {
            *out = &w->base;
            return VODUP_BLOB_OK;
        }
        if (errno != EEXIST)
            break;
    }
    int e = errno;
    free(w);
    errno = e;
    return space_error(e) ? VODUP_BLOB_ENOSPC : VODUP_BLOB_EIO;
}

/* write(2) of all n bytes at the file offset. */
static int write_all(int fd, const unsigned char *c, size_t n)
{
    while (n > 0) {
        ssize_t k = write(fd, c, n > SSIZE_MAX ? SSIZE_MAX : n);
        if (k < 0) {
            if (errno == EINTR)
                continue;
            return space_error(errno) ? VODUP_BLOB_ENOSPC : VODUP_BLOB_EIO;
        }
        if (k == 0) {
            errno = EIO;
            return VODUP_BLOB_EIO;
        }
        c += k;
        n -= (size_t)k;
    }
    return VODUP_BLOB_OK;
}

/* Leaves direct mode: later writes (and the rest of dbuf) go through the page cache. */
static int direct_off(file_writer *w)
{
    int fl = fcntl(w->fd, F_GETFL);
    if (fl < 0 || fcntl(w->fd, F_SETFL, fl & ~O_DIRECT) != 0)
        return VODUP_BLOB_EIO;
    w->direct = -1;
    return VODUP_BLOB_OK;
}

/* Writes the DIRECT_ALIGN multiple at the head of dbuf directly (all of it when tail),
 * keeping the rest; with tail, the unaligned rest goes buffered. A refusal of O_DIRECT
 * itself (EINVAL: alignment the device does not take) writes it buffered instead. */
static int direct_flush(file_writer *w, int tail)
{
    size_t whole = w->dlen / DIRECT_ALIGN * DIRECT_ALIGN;
    if (whole && w->direct == 1) {
        int rc = write_all(w->fd, w->dbuf, whole);
        if (rc != VODUP_BLOB_OK && errno == EINVAL) {
            /* A partial direct write may have moved the offset; nothing is lost by
             * writing the whole buffer again where it began. */
            off_t at = lseek(w->fd, 0, SEEK_CUR);
            if (at < 0 || direct_off(w) != VODUP_BLOB_OK)
                return VODUP_BLOB_EIO;
            off_t start = (off_t)(w->written - w->dlen);
            if (at != start && lseek(w->fd, start, SEEK_SET) != start)
                return VODUP_BLOB_EIO;
            whole = 0;  /* all of it, buffered, below */
        } else if (rc != VODUP_BLOB_OK) {
            return rc;
        } else {
            memmove(w->dbuf, w->dbuf + whole, w->dlen - whole);
            w->dlen -= whole;
        }
    }
    if (tail && w->dlen) {
        if (w->direct == 1 && direct_off(w) != VODUP_BLOB_OK)
            return VODUP_BLOB_EIO;
        int rc = write_all(w->fd, w->dbuf, w->dlen);
        if (rc != VODUP_BLOB_OK)
            return rc;
        w->dlen = 0;
    } else if (w->direct == -1 && w->dlen) {
        int rc = write_all(w->fd, w->dbuf, w->dlen);
        if (rc != VODUP_BLOB_OK)
            return rc;
        w->dlen = 0;
    }
    return VODUP_BLOB_OK;
}

/* Buffered so far and DIRECT_FROM reached at an aligned offset: tries to go direct. */
static void direct_on(file_writer *w)
{
    w->direct = -1;
    void *b = NULL;
    if (posix_memalign(&b, DIRECT_ALIGN, DIRECT_BUF) != 0)
        return;     /* no memory for it: buffered writes work as well */
    int fl = fcntl(w->fd, F_GETFL);
    if (fl < 0 || fcntl(w->fd, F_SETFL, fl | O_DIRECT) != 0) {
        free(b);
        return;
    }
    w->dbuf = b;
    w->dlen = 0;
    w->direct = 1;
}

static int fw_write(vodup_blob_writer *bw, const void *p, size_t n)
{
    file_writer *w = (file_writer *)bw;
    const unsigned char *c = p;
    file_store *fs = w->fs;
    if (fs->floor && w->written + n > w->check_at) {
        uint64_t avail;
        if (avail_bytes(fs, &avail, NULL) == 0) {
            if (avail < fs->floor || avail - fs->floor < n) {
                note_full(fs, 1, avail);
                errno = ENOSPC;
                return VODUP_BLOB_ENOSPC;
            }
            w->check_at = w->written + n + check_step(fs, avail);
        }
    }
    if (w->direct == 0 && w->written + n >= DIRECT_FROM) {
        /* The buffered part ends on an aligned offset, so direct writes can follow it. */
        uint64_t end = w->written + n;
        size_t head = (size_t)(end / DIRECT_ALIGN * DIRECT_ALIGN - w->written);
        if (head > n)   /* cannot happen: end >= DIRECT_FROM >= DIRECT_ALIGN */
            head = n;
        int rc = write_all(w->fd, c, head);
        if (rc != VODUP_BLOB_OK)
            return rc;
        w->written += head;
        c += head;
        n -= head;
        direct_on(w);
    }
    while (w->direct == 1 && n > 0) {
        size_t k = DIRECT_BUF - w->dlen < n ? DIRECT_BUF - w->dlen : n;
        memcpy(w->dbuf + w->dlen, c, k);
        w->dlen += k;
        w->written += k;
        c += k;
        n -= k;
        if (w->dlen == DIRECT_BUF) {
            int rc = direct_flush(w, 0);
            if (rc != VODUP_BLOB_OK)
                return rc;
        }
    }
    if (n == 0)
        return VODUP_BLOB_OK;
    w->written += n;
    return write_all(w->fd, c, n);
}

static int fw_commit(vodup_blob_writer *bw, char id[VODUP_BLOB_ID_LEN + 1])
{
    file_writer *w = (file_writer *)bw;
    file_store *fs = w->fs;
    char rel[VODUP_BLOB_ID_LEN + 4];
    char shard[3] = { w->id[0], w->id[1], '\0' };
    int renamed = 0, rc = VODUP_BLOB_EIO, e = 0;

    if (w->dbuf) {
        rc = direct_flush(w, 1);
        if (rc != VODUP_BLOB_OK) {
            e = errno;
            close(w->fd);
            goto fail;
        }
    }
    if (fdatasync(w->fd) != 0) {
        e = errno;
        close(w->fd);
        goto fail;
    }
    if (close(w->fd) != 0) {
        /* close can report a deferred write error (NFS and the like). */
        e = errno;
        goto fail;
    }
    int created = 0;
    if (mkdirat(fs->objects_fd, shard, 0700) == 0)
        created = 1;
    else if (errno != EEXIST) {
        e = errno;
        goto fail;
    }
    /* A new shard's own name must be durable too, or the blob vanishes with it. */
    if (created && fsync(fs->objects_fd) != 0) {
        e = errno;
        goto fail;
    }
    object_rel(rel, w->id);
    if (renameat(fs->tmp_fd, w->tmp, fs->objects_fd, rel) != 0) {
        e = errno;
        goto fail;
    }
    renamed = 1;
    if (fsync_dir_at(fs->objects_fd, shard) != 0) {
        e = errno;
        goto fail;
    }
    memcpy(id, w->id, VODUP_BLOB_ID_LEN + 1);
    free(w->dbuf);
    free(w);
    return VODUP_BLOB_OK;

fail:
    /* The caller will not record this id, so the file must not survive either. */
    if (renamed)
        unlinkat(fs->objects_fd, rel, 0);
    else
        unlinkat(fs->tmp_fd, w->tmp, 0);
    rc = space_error(e) ? VODUP_BLOB_ENOSPC : VODUP_BLOB_EIO;
    free(w->dbuf);
    free(w);
    errno = e;
    return rc;
}

static void fw_abort(vodup_blob_writer *bw)
{
    file_writer *w = (file_writer *)bw;
    if (!w)
        return;
    int e = errno;
    close(w->fd);
    unlinkat(w->fs->tmp_fd, w->tmp, 0);
    free(w->dbuf);
    free(w);
    errno = e;
}

static int open_blob(file_store *fs, const char *id, int *fd)
{
    if (!vodup_blob_id_valid(id)) {
        errno = EINVAL;
        return VODUP_BLOB_EIO;
    }
    char rel[VODUP_BLOB_ID_LEN + 4];
    object_rel(rel, id);
    *fd = openat(fs->objects_fd, rel, O_RDONLY | O_CLOEXEC);
    if (*fd < 0)
        return errno == ENOENT ? VODUP_BLOB_ENOENT : VODUP_BLOB_EIO;
    return VODUP_BLOB_OK;
}

static ssize_t fs_read(vodup_blobstore *bs, const char *id, uint64_t off, void *p, size_t n)
{
    int fd;
    int rc = open_blob((file_store *)bs, id, &fd);
    if (rc != VODUP_BLOB_OK)
        return rc;
    if (off > (uint64_t)INT64_MAX) {
        close(fd);
        return 0;
    }
    if (n > SSIZE_MAX)
        n = SSIZE_MAX;
    size_t got = 0;
    while (got < n) {
        ssize_t k = pread(fd, (unsigned char *)p + got, n - got, (off_t)(off + got));
        if (k < 0) {
            if (errno == EINTR)
                continue;
            int e = errno;
            close(fd);
            errno = e;
            return VODUP_BLOB_EIO;
        }
        if (k == 0)
            break;
        got += (size_t)k;
    }
    close(fd);
    return (ssize_t)got;
}

static int fs_open_fd(vodup_blobstore *bs, const char *id, int *fd)
{
    return open_blob((file_store *)bs, id, fd);
}

static int fs_remove(vodup_blobstore *bs, const char *id)
{
    file_store *fs = (file_store *)bs;
    if (!vodup_blob_id_valid(id)) {
        errno = EINVAL;
        return VODUP_BLOB_EIO;
    }
    char rel[VODUP_BLOB_ID_LEN + 4];
    object_rel(rel, id);
    if (unlinkat(fs->objects_fd, rel, 0) != 0 && errno != ENOENT)
        return VODUP_BLOB_EIO;
    return VODUP_BLOB_OK;
}

static int is_shard_name(const char *n)
{
    static const char hex[] = "0123456789abcdef";
    return n[0] && strchr(hex, n[0]) && n[1] && strchr(hex, n[1]) && n[2] == '\0';
}

static int entry_is_dir(int dirfd, const struct dirent *de)
{
    if (de->d_type == DT_DIR)
        return 1;
    if (de->d_type != DT_UNKNOWN)
        return 0;
    struct stat st;
    return fstatat(dirfd, de->d_name, &st, AT_SYMLINK_NOFOLLOW) == 0 && S_ISDIR(st.st_mode);
}

/* Opens a DIR* on a duplicate of fd, so closedir leaves the store's own fd alone. */
static DIR *dir_of(int fd, const char *name)
{
    int d = openat(fd, name, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (d < 0)
        return NULL;
    DIR *dir = fdopendir(d);
    if (!dir)
        close(d);
    return dir;
}

static long recover_shard(int objects_fd, const char *shard,
                          int (*is_live)(const char *id, void *u), void *u)
{
    DIR *dir = dir_of(objects_fd, shard);
    if (!dir) {
        fprintf(stderr, "vodup blob: recover: cannot open objects/%s: %s\n", shard, strerror(errno));
        return -1;
    }
    int dfd = dirfd(dir);
    long removed = 0;
    struct dirent *de;
    while ((errno = 0, de = readdir(dir)) != NULL) {
        if (!strcmp(de->d_name, ".") || !strcmp(de->d_name, ".."))
            continue;
        if (entry_is_dir(dfd, de))
            continue;   /* never ours; leave it for a human */
        int keep;
        if (!vodup_blob_id_valid(de->d_name) || de->d_name[0] != shard[0] ||
            de->d_name[1] != shard[1])
            keep = 0;
        else {
            keep = is_live(de->d_name, u);
            if (keep < 0) {
                /* Without a reliable answer, deleting could lose acknowledged data. */
                closedir(dir);
                return -1;
            }
        }
        if (!keep) {
            if (unlinkat(dfd, de->d_name, 0) == 0)
                removed++;
            else if (errno != ENOENT)
                fprintf(stderr, "vodup blob: recover: cannot remove objects/%s/%s: %s\n",
                        shard, de->d_name, strerror(errno));
        }
    }
    int e = errno;
    closedir(dir);
    if (e) {
        fprintf(stderr, "vodup blob: recover: reading objects/%s: %s\n", shard, strerror(e));
        return -1;
    }
    return removed;
}

/* Whether recover may remove tmp/<name>: this node's own (<node>.<id>), and names no live
 * writer of any node can have (junk, and the bare <id> of versions before node ids, which
 * ran alone on their data directory). A well-formed name of another node is a write in
 * flight there. */
static int tmp_is_ours(const file_store *fs, const char *name)
{
    const char *dot = strrchr(name, '.');
    if (!dot || !vodup_blob_id_valid(dot + 1))
        return 1;
    size_t nlen = (size_t)(dot - name);
    char node[VODUP_BLOB_NODE_MAX + 1];
    if (nlen == 0 || nlen > VODUP_BLOB_NODE_MAX)
        return 1;
    memcpy(node, name, nlen);
    node[nlen] = '\0';
    if (!vodup_blob_node_valid(node))
        return 1;
    return strcmp(node, fs->node) == 0;
}

static long fs_recover(vodup_blobstore *bs, int (*is_live)(const char *id, void *u), void *u)
{
    file_store *fs = (file_store *)bs;
    long removed = 0;

    DIR *dir = dir_of(fs->tmp_fd, ".");
    if (!dir)
        return -1;
    struct dirent *de;
    while ((de = readdir(dir)) != NULL) {
        if (!strcmp(de->d_name, ".") || !strcmp(de->d_name, "..") ||
            !tmp_is_ours(fs, de->d_name))
            continue;
        if (unlinkat(dirfd(dir), de->d_name, 0) == 0)
            removed++;
        else if (errno != ENOENT)
            fprintf(stderr, "vodup blob: recover: cannot remove tmp/%s: %s\n", de->d_name,
                    strerror(errno));
    }
    closedir(dir);

    dir = dir_of(fs->objects_fd, ".");
    if (!dir)
        return -1;
    while ((de = readdir(dir)) != NULL) {
        if (!is_shard_name(de->d_name) || !entry_is_dir(dirfd(dir), de))
            continue;
        long r = recover_shard(fs->objects_fd, de->d_name, is_live, u);
        if (r < 0) {
            closedir(dir);
            return -1;
        }
        removed += r;
    }
    closedir(dir);
    return removed;
}

static void fs_close(vodup_blobstore *bs)
{
    file_store *fs = (file_store *)bs;
    if (!fs)
        return;
    close(fs->objects_fd);
    close(fs->tmp_fd);
    close(fs->root_fd);
    pthread_mutex_destroy(&fs->space_mu);
    free(fs);
}

static const vodup_blobstore_ops file_ops = {
    .name = "file",
    .writer_open = fw_open,
    .writer_write = fw_write,
    .writer_commit = fw_commit,
    .writer_abort = fw_abort,
    .read = fs_read,
    .open_fd = fs_open_fd,
    .remove = fs_remove,
    .recover = fs_recover,
    .close = fs_close,
    .space_check = fs_space_check,
};

static int subdir(int root, const char *name)
{
    if (mkdirat(root, name, 0700) != 0 && errno != EEXIST)
        return -1;
    return openat(root, name, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
}

int vodup_blob_node_valid(const char *node)
{
    size_t n = node ? strlen(node) : 0;
    if (n == 0 || n > VODUP_BLOB_NODE_MAX)
        return 0;
    for (size_t i = 0; i < n; i++) {
        char c = node[i];
        if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-'))
            return 0;
    }
    return 1;
}

/* Reads <root>/node-id into out; 0, -1 with errno (ENOENT: none yet, EINVAL: not an id). */
static int node_read(int root, char out[VODUP_BLOB_NODE_MAX + 1])
{
    int fd = openat(root, VODUP_BLOB_NODE_FILE, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return -1;
    char buf[VODUP_BLOB_NODE_MAX + 2];
    ssize_t n = read(fd, buf, sizeof buf - 1);
    int e = errno;
    close(fd);
    if (n < 0) {
        errno = e;
        return -1;
    }
    buf[n] = '\0';
    if (n > 0 && buf[n - 1] == '\n')
        buf[--n] = '\0';
    if (!vodup_blob_node_valid(buf)) {
        fprintf(stderr, "vodup blob: %s does not hold a node id (1 to %d of a-z 0-9 -)\n",
                VODUP_BLOB_NODE_FILE, VODUP_BLOB_NODE_MAX);
        errno = EINVAL;
        return -1;
    }
    memcpy(out, buf, (size_t)n + 1);
    return 0;
}

/* Writes a new random id durably (tmp file, fsync, link without replacing, fsync the
 * directory): two processes opening a new data directory at once agree on the winner's. */
static int node_create(int root, char out[VODUP_BLOB_NODE_MAX + 1])
{
    unsigned char raw[8];
    char id[2 * sizeof raw + 2], tmp[64];
    if (vodup_random(raw, sizeof raw) != 0) {
        errno = EIO;
        return -1;
    }
    vodup_hex_lower(id, raw, sizeof raw);
    snprintf(tmp, sizeof tmp, VODUP_BLOB_NODE_FILE ".%s.new", id);
    int fd = openat(root, tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
    if (fd < 0)
        return -1;
    size_t len = strlen(id);
    id[len] = '\n';
    int ok = write(fd, id, len + 1) == (ssize_t)(len + 1) && fsync(fd) == 0;
    int e = errno;
    ok = close(fd) == 0 && ok;
    if (ok && linkat(root, tmp, root, VODUP_BLOB_NODE_FILE, 0) != 0) {
        e = errno;
        ok = 0;
    }
    unlinkat(root, tmp, 0);
    if (!ok) {
        if (e == EEXIST)
            return node_read(root, out);   /* another process made it first */
        errno = e;
        return -1;
    }
    if (fsync(root) != 0)
        return -1;
    return node_read(root, out);
}

static int node_of(int root, char out[VODUP_BLOB_NODE_MAX + 1])
{
    if (node_read(root, out) == 0)
        return 0;
    return errno == ENOENT ? node_create(root, out) : -1;
}

int vodup_blob_node_id(const char *data_dir, char out[VODUP_BLOB_NODE_MAX + 1])
{
    int root = open(data_dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (root < 0)
        return -1;
    int rc = node_of(root, out);
    int e = errno;
    close(root);
    errno = e;
    return rc;
}

vodup_blobstore *vodup_blobstore_file_open(const char *data_dir)
{
    char node[VODUP_BLOB_NODE_MAX + 1];
    if (!data_dir || !*data_dir) {
        errno = EINVAL;
        return NULL;
    }
    if (mkdir(data_dir, 0700) != 0 && errno != EEXIST)
        return NULL;
    if (vodup_blob_node_id(data_dir, node) != 0)
        return NULL;
    return vodup_blobstore_file_open_node(data_dir, node);
}

vodup_blobstore *vodup_blobstore_file_open_node(const char *data_dir, const char *node)
{
    if (!data_dir || !*data_dir || !vodup_blob_node_valid(node)) {
        errno = EINVAL;
        return NULL;
    }
    if (mkdir(data_dir, 0700) != 0 && errno != EEXIST)
        return NULL;
    int root = open(data_dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (root < 0)
        return NULL;
    file_store *fs = calloc(1, sizeof *fs);
    if (!fs) {
        close(root);
        errno = ENOMEM;
        return NULL;
    }
    fs->base.ops = &file_ops;
    snprintf(fs->node, sizeof fs->node, "%s", node);
    pthread_mutex_init(&fs->space_mu, NULL);
    fs->objects_fd = subdir(root, "objects");
    fs->tmp_fd = fs->objects_fd >= 0 ? subdir(root, "tmp") : -1;
    int e = errno;
    /* The new directory names must survive a crash before any blob relies on them. */
    if (fs->tmp_fd >= 0 && fsync(root) != 0) {
        e = errno;
        close(fs->tmp_fd);
        fs->tmp_fd = -1;
    }
    if (fs->objects_fd < 0 || fs->tmp_fd < 0) {
        close(root);
        if (fs->objects_fd >= 0)
            close(fs->objects_fd);
        pthread_mutex_destroy(&fs->space_mu);
        free(fs);
        errno = e;
        return NULL;
    }
    fs->root_fd = root;
    return &fs->base;
}

uint64_t vodup_blobstore_file_set_reserve(vodup_blobstore *bs, uint64_t reserve, unsigned pct)
{
    file_store *fs = (file_store *)bs;
    uint64_t avail = 0, total = 0;
    int known = avail_bytes(fs, &avail, &total) == 0;
    if (pct > RESERVE_MAX_PCT)
        pct = RESERVE_MAX_PCT;
    if (pct)
        reserve = known ? total / 100 * pct : 0;
    fs->floor = reserve;
    fs->headroom = reserve / 2 < VODUP_BLOB_HEADROOM_MAX ? reserve / 2 : VODUP_BLOB_HEADROOM_MAX;
    /* A headroom file left by an earlier run counts as held when it has the size wanted
     * now; otherwise (no floor any more, another reserve) it goes. */
    struct stat st;
    int exists = fstatat(fs->root_fd, VODUP_BLOB_HEADROOM_NAME, &st, 0) == 0;
    if (exists && (!fs->headroom || (uint64_t)st.st_size != fs->headroom)) {
        unlinkat(fs->root_fd, VODUP_BLOB_HEADROOM_NAME, 0);
        exists = 0;
        known = avail_bytes(fs, &avail, &total) == 0;
    }
    atomic_store(&fs->headroom_held, exists);
    /* On a full disk this releases the headroom at once, before the database opens. */
    if (known)
        headroom_keep(fs, &avail);
    return fs->floor;
}
