/* check.c - `vodupd check`: do the database and the object files agree?
 *
 * It reads, never writes: the database through a read-only SQLite connection (so it
 * also sees what a killed server left in the WAL), the files through directory fds. It
 * may therefore run beside a serving vodupd, whose work in flight it must not mistake
 * for damage:
 *  - the files are listed first and the database read after, in one snapshot: a blob is
 *    renamed into place before its row is committed, so a blob recorded in that
 *    snapshot was on disk before the listing only if it is really there;
 *  - what looks wrong is looked at again in a fresh snapshot (a blob deleted and
 *    collected meanwhile is no longer referenced; one recorded meanwhile now is);
 *  - while the server runs (its lock is held), files in tmp/ are uploads in progress and
 *    an unreferenced blob younger than CHECK_GRACE_S may be waiting for its row: both
 *    are reported as notes, not problems. Blobs on the garbage list are waiting for the
 *    collector (or the next start) and are notes too.
 *
 * Problems: a referenced blob missing or of another size than recorded; a blob file
 * nothing references; a leftover temporary file; a stray entry in objects/; an object
 * whose segments do not add up to its size; rows whose object or upload is gone; a
 * database that fails SQLite's own check; with --deep, content whose MD5 or CRC-64
 * differs from the recorded one.
 */
#include "server/check.h"

#include "common/buf.h"
#include "common/codec.h"
#include "common/crc.h"
#include "common/digest.h"
#include "server/store/blob.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <sqlite3.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#define CHECK_GRACE_S 120           /* an unreferenced blob this young may be a write in flight */
#define CHECK_BUSY_MS 10000         /* wait for a busy database this long */
#define CHECK_READ_CHUNK (1 << 20)  /* --deep reads blobs in chunks of this */

static const char USAGE_CHECK[] =
    "usage: vodupd check [--data-dir DIR] [--deep]\n"
    "\n"
    "Verifies that the database and the object files of DIR (default ./vodup-data) agree:\n"
    "every blob the metadata references exists with the recorded size, no blob file is\n"
    "unreferenced, no temporary file is left over, every object's parts add up to its size,\n"
    "and the database passes SQLite's quick_check. --deep also reads every blob and\n"
    "compares its MD5 and CRC-64 with the recorded ones (and runs SQLite's integrity_check).\n"
    "Read-only: it may run while vodupd serves (work in flight is then reported as notes).\n"
    "Prints one line per problem and a summary; exits 0 when clean, 1 on any problem,\n"
    "2 when DIR cannot be read.\n";

typedef struct obj {
    sqlite3_int64 rowid;
    char *label;            /* "bucket/key", printable */
    uint64_t size, crc;
    unsigned char md5[16];
    int has_md5;
    size_t seg0, nseg;      /* its segments in segs[] */
} obj;

typedef struct seg {
    char id[VODUP_BLOB_ID_LEN + 1];
    uint64_t size;
} seg;

typedef struct part {
    char id[VODUP_BLOB_ID_LEN + 1];
    uint64_t size, crc;
    char etag[33];
    char *label;            /* "upload ID part N of bucket/key" */
} part;

typedef struct ref {
    char id[VODUP_BLOB_ID_LEN + 1];
    uint64_t size;
    const char *label;
} ref;

typedef struct file_ent {
    char id[VODUP_BLOB_ID_LEN + 1];
    uint64_t size;
    time_t ctime;
} file_ent;

typedef struct checker {
    const char *dir;
    sqlite3 *db;
    int objects_fd, tmp_fd;
    int running, deep;
    long problems, notes;
    obj *objs;
    size_t nobjs;
    seg *segs;
    size_t nsegs;
    part *parts;
    size_t nparts;
    ref *refs;
    size_t nrefs;
    file_ent *files;
    size_t nfiles;
    char (*gc)[VODUP_BLOB_ID_LEN + 1];
    size_t ngc;
} checker;

static void problem(checker *ck, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void problem(checker *ck, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    fputs("problem: ", stdout);
    vprintf(fmt, ap);
    fputc('\n', stdout);
    va_end(ap);
    ck->problems++;
}

static void note(checker *ck, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void note(checker *ck, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    fputs("note: ", stdout);
    vprintf(fmt, ap);
    fputc('\n', stdout);
    va_end(ap);
    ck->notes++;
}

/* Bytes that may be anything (object keys) made safe for a terminal. */
static void put_printable(vbuf *b, const void *p, size_t n)
{
    const unsigned char *c = p;
    for (size_t i = 0; i < n; i++) {
        if (c[i] >= 0x20 && c[i] < 0x7f && c[i] != '\\')
            vbuf_putc(b, (char)c[i]);
        else
            vbuf_printf(b, "\\x%02x", c[i]);
    }
}

static char *label_of(sqlite3_stmt *st, int bucket_col, int key_col, const char *prefix)
{
    vbuf b = VBUF_INIT;
    if (prefix)
        vbuf_puts(&b, prefix);
    const unsigned char *bucket = sqlite3_column_text(st, bucket_col);
    if (!bucket) {
        vbuf_puts(&b, "(gone)");
        return vbuf_steal(&b);
    }
    put_printable(&b, bucket, (size_t)sqlite3_column_bytes(st, bucket_col));
    vbuf_putc(&b, '/');
    const void *key = sqlite3_column_blob(st, key_col);
    put_printable(&b, key, (size_t)sqlite3_column_bytes(st, key_col));
    return b.oom ? NULL : vbuf_steal(&b);
}

static void *grow(void *p, size_t *cap, size_t n, size_t elem)
{
    if (n < *cap)
        return p;
    size_t nc = *cap ? *cap * 2 : 256;
    void *q = realloc(p, nc * elem);
    if (q)
        *cap = nc;
    return q;
}

static int copy_id(char out[VODUP_BLOB_ID_LEN + 1], sqlite3_stmt *st, int col)
{
    const unsigned char *t = sqlite3_column_text(st, col);
    if (!t || sqlite3_column_bytes(st, col) != VODUP_BLOB_ID_LEN)
        return -1;
    memcpy(out, t, VODUP_BLOB_ID_LEN + 1);
    return 0;
}

/* An empty body is recorded with the blob id "" and no file (core/internal.h CORE_BLOB_EMPTY):
 * nothing to check, and nothing to count among the referenced blobs. */
static int is_empty_body(sqlite3_stmt *st, int id_col, int size_col)
{
    return sqlite3_column_type(st, id_col) == SQLITE_TEXT && sqlite3_column_bytes(st, id_col) == 0 &&
           sqlite3_column_int64(st, size_col) == 0;
}

static int db_error(checker *ck, const char *what)
{
    fprintf(stderr, "vodupd check: %s: %s\n", what, sqlite3_errmsg(ck->db));
    return -1;
}

/* ---- the database ------------------------------------------------------------------- */

static int sqlite_self_check(checker *ck)
{
    sqlite3_stmt *st;
    const char *sql = ck->deep ? "PRAGMA integrity_check" : "PRAGMA quick_check";
    if (sqlite3_prepare_v2(ck->db, sql, -1, &st, NULL) != SQLITE_OK)
        return db_error(ck, sql);
    int rc;
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
        const char *t = (const char *)sqlite3_column_text(st, 0);
        if (t && strcmp(t, "ok") != 0)
            problem(ck, "database: %s", t);
    }
    sqlite3_finalize(st);
    return rc == SQLITE_DONE ? 0 : db_error(ck, sql);
}

/* Everything that references blobs, in one read snapshot. */
static int load_metadata(checker *ck)
{
    static const char *const SQL[] = {
        "SELECT id, bucket, key, size, crc64, md5 FROM objects ORDER BY id",
        "SELECT object_id, blob, size FROM segments ORDER BY object_id, seq",
        ("SELECT p.blob, p.size, p.etag, p.crc64, p.upload_id, p.number, u.bucket, u.key"
         " FROM parts p LEFT JOIN uploads u ON u.id = p.upload_id"),
        "SELECT blob FROM blob_gc",
    };
    size_t cap_o = 0, cap_s = 0, cap_p = 0, cap_g = 0;
    if (sqlite3_exec(ck->db, "BEGIN", NULL, NULL, NULL) != SQLITE_OK)
        return db_error(ck, "BEGIN");
    int ret = -1;
    sqlite3_stmt *st = NULL;
    for (int q = 0; q < 4; q++) {
        if (sqlite3_prepare_v2(ck->db, SQL[q], -1, &st, NULL) != SQLITE_OK) {
            db_error(ck, SQL[q]);
            goto out;
        }
        size_t cur = 0; /* objects: where the segments' object is looked for next */
        int rc;
        while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
            if (q == 0) {
                obj *o = grow(ck->objs, &cap_o, ck->nobjs, sizeof *o);
                if (!o)
                    goto oom;
                ck->objs = o;
                o = &ck->objs[ck->nobjs];
                memset(o, 0, sizeof *o);
                o->rowid = sqlite3_column_int64(st, 0);
                o->label = label_of(st, 1, 2, NULL);
                if (!o->label)
                    goto oom;
                ck->nobjs++;
                o->size = (uint64_t)sqlite3_column_int64(st, 3);
                o->crc = (uint64_t)sqlite3_column_int64(st, 4);
                if (sqlite3_column_type(st, 5) == SQLITE_BLOB && sqlite3_column_bytes(st, 5) == 16) {
                    memcpy(o->md5, sqlite3_column_blob(st, 5), 16);
                    o->has_md5 = 1;
                }
            } else if (q == 1) {
                if (is_empty_body(st, 1, 2))
                    continue;
                seg *s = grow(ck->segs, &cap_s, ck->nsegs, sizeof *s);
                if (!s)
                    goto oom;
                ck->segs = s;
                s = &ck->segs[ck->nsegs];
                sqlite3_int64 oid = sqlite3_column_int64(st, 0);
                if (copy_id(s->id, st, 1) != 0) {
                    problem(ck, "a segment of object #%lld names no valid blob", (long long)oid);
                    continue;
                }
                s->size = (uint64_t)sqlite3_column_int64(st, 2);
                while (cur < ck->nobjs && ck->objs[cur].rowid < oid)
                    cur++;
                if (cur < ck->nobjs && ck->objs[cur].rowid == oid) {
                    if (ck->objs[cur].nseg == 0)
                        ck->objs[cur].seg0 = ck->nsegs;
                    ck->objs[cur].nseg++;
                } else {
                    problem(ck, "blob %s is a segment of object #%lld, which does not exist", s->id, (long long)oid);
                }
                ck->nsegs++;
            } else if (q == 2) {
                if (is_empty_body(st, 0, 1))
                    continue;
                part *p = grow(ck->parts, &cap_p, ck->nparts, sizeof *p);
                if (!p)
                    goto oom;
                ck->parts = p;
                p = &ck->parts[ck->nparts];
                memset(p, 0, sizeof *p);
                if (copy_id(p->id, st, 0) != 0) {
                    problem(ck, "a part of upload %s names no valid blob", (const char *)sqlite3_column_text(st, 4));
                    continue;
                }
                p->size = (uint64_t)sqlite3_column_int64(st, 1);
                const unsigned char *etag = sqlite3_column_text(st, 2);
                snprintf(p->etag, sizeof p->etag, "%s", etag ? (const char *)etag : "");
                p->crc = (uint64_t)sqlite3_column_int64(st, 3);
                char prefix[128];
                snprintf(prefix, sizeof prefix, "upload %.40s part %d of ", (const char *)sqlite3_column_text(st, 4),
                         sqlite3_column_int(st, 5));
                p->label = label_of(st, 6, 7, prefix);
                if (!p->label)
                    goto oom;
                ck->nparts++;
                if (sqlite3_column_type(st, 6) == SQLITE_NULL)
                    problem(ck, "blob %s is %s: the upload does not exist", p->id, p->label);
            } else {
                char (*g)[VODUP_BLOB_ID_LEN + 1] = grow(ck->gc, &cap_g, ck->ngc, sizeof *g);
                if (!g)
                    goto oom;
                ck->gc = g;
                if (copy_id(ck->gc[ck->ngc], st, 0) == 0)
                    ck->ngc++;
            }
        }
        sqlite3_finalize(st);
        st = NULL;
        if (rc != SQLITE_DONE) {
            db_error(ck, SQL[q]);
            goto out;
        }
    }
    ret = 0;
    goto out;
oom:
    fprintf(stderr, "vodupd check: out of memory\n");
out:
    sqlite3_finalize(st);
    sqlite3_exec(ck->db, "COMMIT", NULL, NULL, NULL);
    return ret;
}

/* In a fresh snapshot: 1 when some segment or part references id, 2 when it is on the
 * garbage list, 0 when neither, -1 on error. */
static int db_blob_state(checker *ck, const char *id)
{
    sqlite3_stmt *st;
    const char *sql = "SELECT EXISTS(SELECT 1 FROM segments WHERE blob = ?1) OR EXISTS(SELECT 1 FROM parts WHERE blob = ?1),"
                      " EXISTS(SELECT 1 FROM blob_gc WHERE blob = ?1)";
    if (sqlite3_prepare_v2(ck->db, sql, -1, &st, NULL) != SQLITE_OK)
        return db_error(ck, "looking up a blob");
    sqlite3_bind_text(st, 1, id, -1, SQLITE_STATIC);
    int r = -1;
    if (sqlite3_step(st) == SQLITE_ROW)
        r = sqlite3_column_int(st, 0) ? 1 : sqlite3_column_int(st, 1) ? 2 : 0;
    else
        db_error(ck, "looking up a blob");
    sqlite3_finalize(st);
    return r;
}

/* ---- the files ---------------------------------------------------------------------- */

static DIR *open_dir_at(int fd, const char *name)
{
    int d = openat(fd, name, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (d < 0)
        return NULL;
    DIR *dir = fdopendir(d);
    if (!dir)
        close(d);
    return dir;
}

static int is_hex2(const char *n)
{
    static const char hex[] = "0123456789abcdef";
    return n[0] && strchr(hex, n[0]) && n[1] && strchr(hex, n[1]) && n[2] == '\0';
}

static int scan_shard(checker *ck, const char *shard, size_t *cap)
{
    DIR *dir = open_dir_at(ck->objects_fd, shard);
    if (!dir) {
        fprintf(stderr, "vodupd check: cannot open objects/%s: %s\n", shard, strerror(errno));
        return -1;
    }
    struct dirent *de;
    while ((errno = 0, de = readdir(dir)) != NULL) {
        if (!strcmp(de->d_name, ".") || !strcmp(de->d_name, ".."))
            continue;
        struct stat st;
        if (fstatat(dirfd(dir), de->d_name, &st, AT_SYMLINK_NOFOLLOW) != 0)
            continue; /* removed meanwhile (the collector) */
        if (!S_ISREG(st.st_mode) || !vodup_blob_id_valid(de->d_name) || de->d_name[0] != shard[0] ||
            de->d_name[1] != shard[1]) {
            problem(ck, "objects/%s/%.255s is not a blob file of this shard", shard, de->d_name);
            continue;
        }
        file_ent *f = grow(ck->files, cap, ck->nfiles, sizeof *f);
        if (!f) {
            closedir(dir);
            return -1;
        }
        ck->files = f;
        f = &ck->files[ck->nfiles++];
        memcpy(f->id, de->d_name, VODUP_BLOB_ID_LEN + 1);
        f->size = (uint64_t)st.st_size;
        f->ctime = st.st_ctime;
    }
    int e = errno;
    closedir(dir);
    if (e) {
        fprintf(stderr, "vodupd check: reading objects/%s: %s\n", shard, strerror(e));
        return -1;
    }
    return 0;
}

static int scan_files(checker *ck)
{
    size_t cap = 0;
    if (ck->objects_fd >= 0) {
        DIR *dir = open_dir_at(ck->objects_fd, ".");
        if (!dir)
            return -1;
        struct dirent *de;
        while ((de = readdir(dir)) != NULL) {
            if (!strcmp(de->d_name, ".") || !strcmp(de->d_name, ".."))
                continue;
            struct stat st;
            if (fstatat(dirfd(dir), de->d_name, &st, AT_SYMLINK_NOFOLLOW) != 0)
                continue;
            if (!is_hex2(de->d_name) || !S_ISDIR(st.st_mode)) {
                problem(ck, "objects/%.255s does not belong in the object store", de->d_name);
                continue;
            }
            if (scan_shard(ck, de->d_name, &cap) != 0) {
                closedir(dir);
                return -1;
            }
        }
        closedir(dir);
    }
    if (ck->tmp_fd >= 0) {
        DIR *dir = open_dir_at(ck->tmp_fd, ".");
        if (!dir)
            return -1;
        struct dirent *de;
        long in_flight = 0;
        while ((de = readdir(dir)) != NULL) {
            if (!strcmp(de->d_name, ".") || !strcmp(de->d_name, ".."))
                continue;
            if (ck->running)
                in_flight++;
            else
                problem(ck, "tmp/%.255s is a leftover temporary file (vodupd removes it at its next start)", de->d_name);
        }
        closedir(dir);
        if (in_flight)
            note(ck, "%ld file(s) in tmp/: uploads in progress", in_flight);
    }
    return 0;
}

static int file_cmp(const void *a, const void *b)
{
    return strcmp(((const file_ent *)a)->id, ((const file_ent *)b)->id);
}

static int ref_cmp(const void *a, const void *b)
{
    return strcmp(((const ref *)a)->id, ((const ref *)b)->id);
}

static int id_cmp(const void *a, const void *b)
{
    return strcmp((const char *)a, (const char *)b);
}

/* 1 exists (with *size), 0 absent, -1 error. */
static int stat_blob(checker *ck, const char *id, uint64_t *size)
{
    char rel[VODUP_BLOB_ID_LEN + 4] = {id[0], id[1], '/'};
    memcpy(rel + 3, id, VODUP_BLOB_ID_LEN + 1);
    struct stat st;
    if (ck->objects_fd < 0)
        return 0;
    if (fstatat(ck->objects_fd, rel, &st, AT_SYMLINK_NOFOLLOW) != 0)
        return errno == ENOENT ? 0 : -1;
    *size = (uint64_t)st.st_size;
    return 1;
}

/* ---- comparing ---------------------------------------------------------------------- */

/* qsort and bsearch want a non-NULL base even for no elements. */
static void sort(void *base, size_t n, size_t size, int (*cmp)(const void *, const void *))
{
    if (n)
        qsort(base, n, size, cmp);
}

static const void *find(const void *key, const void *base, size_t n, size_t size,
                        int (*cmp)(const void *, const void *))
{
    return n ? bsearch(key, base, n, size, cmp) : NULL;
}

static int build_refs(checker *ck)
{
    ck->refs = calloc(ck->nsegs + ck->nparts + 1, sizeof *ck->refs);
    if (!ck->refs)
        return -1;
    for (size_t i = 0; i < ck->nobjs; i++)
        for (size_t k = 0; k < ck->objs[i].nseg; k++) {
            ref *r = &ck->refs[ck->nrefs++];
            memcpy(r->id, ck->segs[ck->objs[i].seg0 + k].id, sizeof r->id);
            r->size = ck->segs[ck->objs[i].seg0 + k].size;
            r->label = ck->objs[i].label;
        }
    for (size_t i = 0; i < ck->nparts; i++) {
        ref *r = &ck->refs[ck->nrefs++];
        memcpy(r->id, ck->parts[i].id, sizeof r->id);
        r->size = ck->parts[i].size;
        r->label = ck->parts[i].label;
    }
    sort(ck->refs, ck->nrefs, sizeof *ck->refs, ref_cmp);
    sort(ck->files, ck->nfiles, sizeof *ck->files, file_cmp);
    sort(ck->gc, ck->ngc, sizeof *ck->gc, id_cmp);
    return 0;
}

static void compare(checker *ck)
{
    for (size_t i = 0; i < ck->nobjs; i++) {
        const obj *o = &ck->objs[i];
        uint64_t sum = 0;
        for (size_t k = 0; k < o->nseg; k++)
            sum += ck->segs[o->seg0 + k].size;
        if (sum != o->size)
            problem(ck, "object %s: its %zu segment(s) hold %llu bytes, the object %llu", o->label, o->nseg,
                    (unsigned long long)sum, (unsigned long long)o->size);
    }

    /* Referenced blobs: present, with their size. */
    for (size_t i = 0; i < ck->nrefs; i++) {
        const ref *r = &ck->refs[i];
        file_ent key;
        memcpy(key.id, r->id, sizeof key.id);
        const file_ent *f = find(&key, ck->files, ck->nfiles, sizeof *ck->files, file_cmp);
        if (f && f->size == r->size)
            continue;
        if (f) {
            problem(ck, "blob %s of %s has %llu bytes, the metadata says %llu", r->id, r->label,
                    (unsigned long long)f->size, (unsigned long long)r->size);
            continue;
        }
        /* Not there when listed: still referenced now, and still absent? */
        uint64_t size;
        int there = stat_blob(ck, r->id, &size);
        int state = there == 1 ? 1 : db_blob_state(ck, r->id);
        if (there == 1 && size != r->size)
            problem(ck, "blob %s of %s has %llu bytes, the metadata says %llu", r->id, r->label,
                    (unsigned long long)size, (unsigned long long)r->size);
        else if (there == 0 && state == 1)
            problem(ck, "blob %s of %s is missing (objects/%.2s/%s)", r->id, r->label, r->id, r->id);
    }

    /* Files: referenced, or at least on their way out or in. */
    long pending_gc = 0, young = 0;
    time_t now = time(NULL);
    for (size_t i = 0; i < ck->nfiles; i++) {
        const file_ent *f = &ck->files[i];
        ref key;
        memcpy(key.id, f->id, sizeof key.id);
        if (find(&key, ck->refs, ck->nrefs, sizeof *ck->refs, ref_cmp))
            continue;
        if (find(f->id, ck->gc, ck->ngc, sizeof *ck->gc, id_cmp)) {
            pending_gc++;
            continue;
        }
        uint64_t size;
        if (stat_blob(ck, f->id, &size) == 0)
            continue; /* gone meanwhile */
        int state = db_blob_state(ck, f->id);
        if (state == 1)
            continue; /* recorded meanwhile */
        if (state == 2) {
            pending_gc++;
            continue;
        }
        if (ck->running && now - f->ctime < CHECK_GRACE_S) {
            young++;
            continue;
        }
        problem(ck, "blob file objects/%.2s/%s (%llu bytes) is not referenced by any object or part", f->id, f->id,
                (unsigned long long)f->size);
    }
    if (pending_gc)
        note(ck, "%ld blob file(s) are on the garbage list, waiting for removal", pending_gc);
    if (young)
        note(ck, "%ld unreferenced blob file(s) younger than %d s: writes being recorded", young, CHECK_GRACE_S);
}

/* ---- --deep ----------------------------------------------------------------------------- */

/* Feeds blob id to md5 and *crc. 1 read, 0 gone (reported elsewhere), -1 error. */
static int digest_blob(checker *ck, const char *id, vodup_md5_ctx *md5, uint64_t *crc, unsigned char *buf)
{
    char rel[VODUP_BLOB_ID_LEN + 4] = {id[0], id[1], '/'};
    memcpy(rel + 3, id, VODUP_BLOB_ID_LEN + 1);
    int fd = ck->objects_fd >= 0 ? openat(ck->objects_fd, rel, O_RDONLY | O_CLOEXEC) : -1;
    if (fd < 0)
        return errno == ENOENT || ck->objects_fd < 0 ? 0 : -1;
    for (;;) {
        ssize_t k = read(fd, buf, CHECK_READ_CHUNK);
        if (k < 0 && errno == EINTR)
            continue;
        if (k <= 0) {
            int e = errno;
            close(fd);
            errno = e;
            return k == 0 ? 1 : -1;
        }
        vodup_md5_update(md5, buf, (size_t)k);
        *crc = vodup_crc64(*crc, buf, (size_t)k);
    }
}

static int deep_check(checker *ck)
{
    unsigned char *buf = malloc(CHECK_READ_CHUNK);
    vodup_md5_ctx *md5 = vodup_md5_new();
    if (!buf || !md5) {
        free(buf);
        vodup_md5_free(md5);
        return -1;
    }
    unsigned char sum[16];
    char hex[33];
    for (size_t i = 0; i < ck->nparts; i++) {
        part *p = &ck->parts[i];
        uint64_t crc = 0;
        int rc = digest_blob(ck, p->id, md5, &crc, buf);
        vodup_md5_final(md5, sum);
        if (rc < 0)
            problem(ck, "blob %s of %s cannot be read: %s", p->id, p->label, strerror(errno));
        if (rc <= 0)
            continue;
        vodup_hex_upper(hex, sum, 16);
        if (strcasecmp(hex, p->etag) != 0)
            problem(ck, "blob %s of %s: its MD5 is %s, the recorded ETag %s", p->id, p->label, hex, p->etag);
        if (crc != p->crc)
            problem(ck, "blob %s of %s: its CRC-64 is %llu, the recorded one %llu", p->id, p->label,
                    (unsigned long long)crc, (unsigned long long)p->crc);
    }
    for (size_t i = 0; i < ck->nobjs; i++) {
        obj *o = &ck->objs[i];
        uint64_t crc = 0;
        int complete = 1;
        for (size_t k = 0; k < o->nseg && complete; k++) {
            int rc = digest_blob(ck, ck->segs[o->seg0 + k].id, md5, &crc, buf);
            if (rc < 0)
                problem(ck, "blob %s of %s cannot be read: %s", ck->segs[o->seg0 + k].id, o->label, strerror(errno));
            complete = rc == 1;
        }
        vodup_md5_final(md5, sum);
        if (!complete)
            continue;
        if (crc != o->crc)
            problem(ck, "object %s: its content's CRC-64 is %llu, the recorded one %llu", o->label,
                    (unsigned long long)crc, (unsigned long long)o->crc);
        if (o->has_md5 && memcmp(sum, o->md5, 16) != 0) {
            char want[33];
            vodup_hex_upper(hex, sum, 16);
            vodup_hex_upper(want, o->md5, 16);
            problem(ck, "object %s: its content's MD5 is %s, the recorded one %s", o->label, hex, want);
        }
    }
    free(buf);
    vodup_md5_free(md5);
    return 0;
}

/* ---- the command ------------------------------------------------------------------------ */

/* 1 when a vodupd serves dir (holds its lock), else 0. The lock is only tested: holding it
 * would keep a starting server out. */
static int server_running(const char *dir)
{
    char path[4096];
    snprintf(path, sizeof path, "%s/vodupd.lock", dir);
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return 0;
    int running = flock(fd, LOCK_SH | LOCK_NB) != 0 && errno == EWOULDBLOCK;
    close(fd); /* drops our lock, if we got it */
    return running;
}

static void checker_free(checker *ck)
{
    for (size_t i = 0; i < ck->nobjs; i++)
        free(ck->objs[i].label);
    for (size_t i = 0; i < ck->nparts; i++)
        free(ck->parts[i].label);
    free(ck->objs);
    free(ck->segs);
    free(ck->parts);
    free(ck->refs);
    free(ck->files);
    free(ck->gc);
    if (ck->db)
        sqlite3_close(ck->db);
    if (ck->objects_fd >= 0)
        close(ck->objects_fd);
    if (ck->tmp_fd >= 0)
        close(ck->tmp_fd);
}

int vodupd_check(int argc, char **argv)
{
    checker ck;
    memset(&ck, 0, sizeof ck);
    ck.dir = "./vodup-data";
    ck.objects_fd = ck.tmp_fd = -1;
    static const struct option opts[] = {{"data-dir", required_argument, NULL, 'd'},
                                         {"deep", no_argument, NULL, 'D'},
                                         {"help", no_argument, NULL, 'h'},
                                         {NULL, 0, NULL, 0}};
    int c;
    while ((c = getopt_long(argc, argv, "d:h", opts, NULL)) != -1) {
        switch (c) {
        case 'd': ck.dir = optarg; break;
        case 'D': ck.deep = 1; break;
        case 'h': fputs(USAGE_CHECK, stdout); return 0;
        default: fputs(USAGE_CHECK, stderr); return 2;
        }
    }
    if (optind < argc) {
        fprintf(stderr, "vodupd check: unexpected argument '%s'\n%s", argv[optind], USAGE_CHECK);
        return 2;
    }
    char db[4096];
    snprintf(db, sizeof db, "%s/vodup.db", ck.dir);
    if (access(db, R_OK) != 0) {
        fprintf(stderr, "vodupd check: %s is not a vodupd data directory (no readable vodup.db)\n", ck.dir);
        return 2;
    }
    int root = open(ck.dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (root < 0) {
        fprintf(stderr, "vodupd check: cannot open %s: %s\n", ck.dir, strerror(errno));
        return 2;
    }
    /* A data directory that never stored a blob has no objects/ or tmp/ yet. */
    ck.objects_fd = openat(root, "objects", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    ck.tmp_fd = openat(root, "tmp", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    close(root);
    ck.running = server_running(ck.dir);

    int rc = 2;
    /* A read-only connection still creates -wal and -shm when they are missing. With no
     * server and no WAL there is nothing but the main file to read, and "immutable" opens
     * it without creating anything (a server starting meanwhile could at worst make us
     * report something it was writing). */
    char wal[4200];
    snprintf(wal, sizeof wal, "%s-wal", db);
    vbuf uri = VBUF_INIT;
    int immutable = !ck.running && access(wal, F_OK) != 0;
    if (immutable) {
        vbuf_puts(&uri, "file:");
        for (const unsigned char *p = (const unsigned char *)db; *p; p++) {
            if ((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') || (*p >= '0' && *p <= '9') || strchr("/-._~", *p))
                vbuf_putc(&uri, (char)*p);
            else
                vbuf_printf(&uri, "%%%02X", *p);
        }
        vbuf_puts(&uri, "?immutable=1");
    }
    int orc = sqlite3_open_v2(immutable ? vbuf_cstr(&uri) : db, &ck.db,
                              SQLITE_OPEN_READONLY | (immutable ? SQLITE_OPEN_URI : 0), NULL);
    vbuf_free(&uri);
    if (orc != SQLITE_OK) {
        fprintf(stderr, "vodupd check: cannot open %s: %s\n", db, ck.db ? sqlite3_errmsg(ck.db) : "out of memory");
        goto out;
    }
    sqlite3_busy_timeout(ck.db, CHECK_BUSY_MS);
    if (sqlite_self_check(&ck) != 0)
        goto out;
    /* Files before the database: see the comment at the top. */
    if (scan_files(&ck) != 0 || load_metadata(&ck) != 0 || build_refs(&ck) != 0)
        goto out;
    compare(&ck);
    if (ck.deep && deep_check(&ck) != 0)
        goto out;
    printf("vodupd check: %s%zu object(s), %zu upload part(s), %zu blob file(s): %ld problem(s), %ld note(s)\n",
           ck.running ? "(vodupd is serving) " : "", ck.nobjs, ck.nparts, ck.nfiles, ck.problems, ck.notes);
    rc = ck.problems ? 1 : 0;
out:
    fflush(stdout);
    checker_free(&ck);
    return rc;
}
