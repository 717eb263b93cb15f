/* blob_file.c - the byte store on a local file system.
 *
 * A blob is a file <dir>/objects/<first 2 hex>/<id>. It is written under <dir>/tmp/<id>,
 * then fdatasync'ed, renamed into its shard and the shard directory fsync'ed, so that a
 * commit that returned OK survives a power loss: the data is on disk before the name, and
 * the name is on disk before we answer. Anything left in tmp/ after a crash was never
 * acknowledged and is dropped by recover().
 *
 * Paths are only ever built from ids that passed vodup_blob_id_valid() (exactly 32
 * lower-case hex), so nothing a client sends can reach the file system. All access goes
 * through directory fds opened once (openat & co.), which keeps the paths short and the
 * store independent of the process's working directory. The store holds no mutable shared state: writers own
 * their fd, so concurrent use from many threads needs no lock.
 */
#include "server/store/blob.h"

#include "common/codec.h"
#include "common/digest.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

typedef struct file_store {
    vodup_blobstore base;
    int objects_fd;     /* <dir>/objects */
    int tmp_fd;         /* <dir>/tmp */
} file_store;

struct vodup_blob_writer {
    file_store *fs;
    int fd;
    char id[VODUP_BLOB_ID_LEN + 1];
};

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

static int fw_open(vodup_blobstore *bs, vodup_blob_writer **out)
{
    file_store *fs = (file_store *)bs;
    vodup_blob_writer *w = calloc(1, sizeof *w);
    if (!w)
        return VODUP_BLOB_ENOMEM;
    w->fs = fs;
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
        w->fd = openat(fs->tmp_fd, w->id, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
        if (w->fd >= 0) {
            *out = w;
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

static int fw_write(vodup_blob_writer *w, const void *p, size_t n)
{
    const unsigned char *c = p;
    while (n > 0) {
        ssize_t k = write(w->fd, c, n > SSIZE_MAX ? SSIZE_MAX : n);
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

static int fw_commit(vodup_blob_writer *w, char id[VODUP_BLOB_ID_LEN + 1])
{
    file_store *fs = w->fs;
    char rel[VODUP_BLOB_ID_LEN + 4];
    char shard[3] = { w->id[0], w->id[1], '\0' };
    int renamed = 0, rc = VODUP_BLOB_EIO, e = 0;

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
    if (renameat(fs->tmp_fd, w->id, fs->objects_fd, rel) != 0) {
        e = errno;
        goto fail;
    }
    renamed = 1;
    if (fsync_dir_at(fs->objects_fd, shard) != 0) {
        e = errno;
        goto fail;
    }
    memcpy(id, w->id, VODUP_BLOB_ID_LEN + 1);
    free(w);
    return VODUP_BLOB_OK;

fail:
    /* The caller will not record this id, so the file must not survive either. */
    if (renamed)
        unlinkat(fs->objects_fd, rel, 0);
    else
        unlinkat(fs->tmp_fd, w->id, 0);
    if (space_error(e))
        rc = VODUP_BLOB_ENOSPC;
    free(w);
    errno = e;
    return rc;
}

static void fw_abort(vodup_blob_writer *w)
{
    if (!w)
        return;
    int e = errno;
    close(w->fd);
    unlinkat(w->fs->tmp_fd, w->id, 0);
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

static long fs_recover(vodup_blobstore *bs, int (*is_live)(const char *id, void *u), void *u)
{
    file_store *fs = (file_store *)bs;
    long removed = 0;

    DIR *dir = dir_of(fs->tmp_fd, ".");
    if (!dir)
        return -1;
    struct dirent *de;
    while ((de = readdir(dir)) != NULL) {
        if (!strcmp(de->d_name, ".") || !strcmp(de->d_name, ".."))
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
};

static int subdir(int root, const char *name)
{
    if (mkdirat(root, name, 0700) != 0 && errno != EEXIST)
        return -1;
    return openat(root, name, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
}

vodup_blobstore *vodup_blobstore_file_open(const char *data_dir)
{
    if (!data_dir || !*data_dir) {
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
    fs->objects_fd = subdir(root, "objects");
    fs->tmp_fd = fs->objects_fd >= 0 ? subdir(root, "tmp") : -1;
    int e = errno;
    /* The new directory names must survive a crash before any blob relies on them. */
    if (fs->tmp_fd >= 0 && fsync(root) != 0) {
        e = errno;
        close(fs->tmp_fd);
        fs->tmp_fd = -1;
    }
    close(root);
    if (fs->objects_fd < 0 || fs->tmp_fd < 0) {
        if (fs->objects_fd >= 0)
            close(fs->objects_fd);
        free(fs);
        errno = e;
        return NULL;
    }
    return &fs->base;
}
