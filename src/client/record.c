/* record.c - resume records: one file per source file, a JSON line replaced atomically
 * when the upload's shape changes (its address, its UploadId, the parts a listing
 * confirmed), followed by a journal of parts acknowledged since: one JSON line each,
 * appended by the worker as each part's answer comes (a write(2) to the page cache, so
 * a killed process loses at most the parts in flight). Flushing to the disk is the sync
 * thread's (vcl_journal_flush_job), batched: one fdatasync covers every line appended
 * before it began, and none stalls the transfers. The format is in
 * docs/internals/libvodup.md; it never holds a secret (credentials are asked for again
 * on resume). */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <jansson.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "client/internal.h"
#include "common/codec.h"
#include "common/digest.h"

void vcl_record_free(vcl_record *r)
{
    free(r->path);
    free(r->media_id);
    free(r->endpoint);
    free(r->bucket);
    free(r->key);
    free(r->upload_id);
    for (size_t i = 0; i < r->nparts; i++)
        free(r->parts[i].etag);
    free(r->parts);
    memset(r, 0, sizeof *r);
}

char *vcl_record_file(const char *dir, const char *abspath)
{
    unsigned char h[VODUP_SHA256_LEN];
    char hex[VODUP_SHA256_LEN * 2 + 1];
    vodup_sha256(h, abspath, strlen(abspath));
    vodup_hex_lower(hex, h, sizeof h);
    vbuf b = VBUF_INIT;
    vbuf_printf(&b, "%s/%s.json", dir, hex);
    if (b.oom) {
        vbuf_free(&b);
        return NULL;
    }
    return vbuf_steal(&b);
}

static int read_full(int fd, void *buf, size_t n, uint64_t off)
{
    size_t got = 0;
    while (got < n) {
        ssize_t r = pread(fd, (char *)buf + got, n - got, (off_t)(off + got));
        if (r < 0 && errno == EINTR)
            continue;
        if (r <= 0)
            return -1;
        got += (size_t)r;
    }
    return 0;
}

int vcl_file_sample(int fd, uint64_t size, char out[65])
{
    /* Size plus three 64 KiB windows: cheap (192 KiB read whatever the size) and it sees
     * the edits that matter in practice (a re-encode, a truncation, an append), which a
     * name-and-date key does not. */
    enum { W = 64 * 1024 };
    unsigned char *buf = malloc(W);
    vodup_sha256_ctx *h = vodup_sha256_new();
    int rc = VODUP_EIO;
    if (!buf || !h) {
        rc = VODUP_ENOMEM;
        goto done;
    }
    unsigned char be[8];
    for (int i = 0; i < 8; i++)
        be[i] = (unsigned char)(size >> (56 - 8 * i));
    vodup_sha256_update(h, be, 8);
    uint64_t offs[3] = {0, size > W ? size / 2 - W / 2 : 0, size > W ? size - W : 0};
    for (int i = 0; i < 3; i++) {
        size_t n = size < W ? (size_t)size : W;
        if (n && read_full(fd, buf, n, offs[i]) < 0)
            goto done;
        vodup_sha256_update(h, buf, n);
    }
    unsigned char d[32];
    vodup_sha256_final(h, d);
    vodup_hex_lower(out, d, 32);
    rc = 0;
done:
    free(buf);
    vodup_sha256_free(h);
    return rc;
}

static const char *jstr(json_t *o, const char *k)
{
    json_t *v = json_object_get(o, k);
    return json_is_string(v) ? json_string_value(v) : NULL;
}

static int jdup(char **dst, json_t *o, const char *k)
{
    const char *s = jstr(o, k);
    *dst = NULL;
    if (!s || !*s)
        return 0;
    *dst = strdup(s);
    return *dst ? 0 : -1;
}

static int parse_u64(const char *s, uint64_t *out)
{
    if (!s || !*s)
        return -1;
    char *end;
    errno = 0;
    unsigned long long v = strtoull(s, &end, 10);
    if (errno || *end || s[0] == '-')
        return -1;
    *out = v;
    return 0;
}

static int record_from_json(json_t *j, vcl_record *out);

/* {"n":1,"etag":"…","size":1048576,"crc64":"123"}: 0, -1 not a part, VODUP_ENOMEM. */
static int part_from_json(json_t *p, vcl_rec_part *rp)
{
    json_t *pn = json_object_get(p, "n"), *psz = json_object_get(p, "size");
    const char *etag = jstr(p, "etag");
    uint64_t crc;
    if (!json_is_integer(pn) || !json_is_integer(psz) || !etag || parse_u64(jstr(p, "crc64"), &crc) < 0)
        return -1;
    rp->n = (int)json_integer_value(pn);
    rp->size = (uint64_t)json_integer_value(psz);
    rp->crc64 = crc;
    rp->etag = strdup(etag);
    return rp->etag ? 0 : VODUP_ENOMEM;
}

/* A record is small: the base line (~400 bytes + ~90 per part) and ~90 bytes per journal
 * line; 10000 parts, each in the base and journaled a few times over, stay far below. */
#define VCL_MAX_RECORD (16u << 20)

int vcl_record_load(const char *file, vcl_record *out)
{
    memset(out, 0, sizeof *out);
    int fd = open(file, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return VODUP_ENOENT;
    vbuf b = VBUF_INIT;
    char buf[16384];
    int rc = 0;
    for (;;) {
        ssize_t n = read(fd, buf, sizeof buf);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0 || b.len + (size_t)n > VCL_MAX_RECORD) {
            rc = VODUP_ENOENT;   /* unreadable or not ours: as none */
            break;
        }
        if (n == 0)
            break;
        if (vbuf_append(&b, buf, (size_t)n) < 0) {
            rc = VODUP_ENOMEM;
            break;
        }
    }
    close(fd);
    if (rc == 0)
        rc = vcl_record_parse(b.data ? b.data : "", b.len, out);
    vbuf_free(&b);
    return rc;
}

/* The journal after the base line: one part per line, a later line for the same part
 * replacing the earlier. The first line that does not parse ends it (a write cut short
 * by a crash, or garbage): what came before stands. */
static int apply_journal(const char *text, size_t len, vcl_record *out)
{
    size_t pos = 0;
    while (pos < len) {
        const char *nl = memchr(text + pos, '\n', len - pos);
        size_t end = nl ? (size_t)(nl - text) : len;
        if (end == pos) {
            pos = end + 1;
            continue;
        }
        json_error_t jerr;
        json_t *p = json_loadb(text + pos, end - pos, 0, &jerr);
        vcl_rec_part rp;
        int rc = p ? part_from_json(p, &rp) : -1;
        json_decref(p);
        if (rc == VODUP_ENOMEM)
            return rc;
        if (rc < 0 || rp.n < 1 || rp.n > 10000) {
            if (rc == 0)
                free(rp.etag);
            return 0;
        }
        size_t i = 0;
        while (i < out->nparts && out->parts[i].n != rp.n)
            i++;
        if (i < out->nparts) {
            free(out->parts[i].etag);
            out->parts[i] = rp;
        } else if (out->nparts < 10000) {
            vcl_rec_part *np = realloc(out->parts, (out->nparts + 1) * sizeof *np);
            if (!np) {
                free(rp.etag);
                return VODUP_ENOMEM;
            }
            out->parts = np;
            out->parts[out->nparts++] = rp;
        } else {
            free(rp.etag);
        }
        pos = end + 1;
    }
    return 0;
}

int vcl_record_parse(const char *text, size_t len, vcl_record *out)
{
    memset(out, 0, sizeof *out);
    json_error_t jerr;
    /* The base is the first line (older versions wrote only it, without a newline). */
    const char *nl = memchr(text, '\n', len);
    size_t blen = nl ? (size_t)(nl - text) : len;
    json_t *j = json_loadb(text, blen, 0, &jerr);
    if (!j)
        return VODUP_ENOENT;
    int rc = record_from_json(j, out);
    if (rc == 0 && nl && (rc = apply_journal(nl + 1, len - blen - 1, out)) != 0)
        vcl_record_free(out);
    return rc;
}

/* Takes j (decref'd here). Anything not shaped as a record of ours: VODUP_ENOENT. */
static int record_from_json(json_t *j, vcl_record *out)
{
    int rc = VODUP_ENOENT;
    json_t *v = json_object_get(j, "version");
    if (!json_is_integer(v) || json_integer_value(v) != 1)
        goto bad;
    json_t *sz = json_object_get(j, "size"), *mt = json_object_get(j, "mtime"), *ty = json_object_get(j, "type"),
           *ps = json_object_get(j, "part_size");
    const char *sample = jstr(j, "sample");
    if (!json_is_integer(sz) || !json_is_integer(mt) || !sample || strlen(sample) != 64)
        goto bad;
    out->size = (uint64_t)json_integer_value(sz);
    out->mtime_ns = json_integer_value(mt);
    json_t *ct = json_object_get(j, "ctime");
    uint64_t dev = 0, ino = 0;
    out->ctime_ns = json_is_integer(ct) ? json_integer_value(ct) : 0;
    /* dev and ino as decimal strings: a 64-bit inode does not fit a JSON integer. */
    if (parse_u64(jstr(j, "dev"), &dev) == 0 && parse_u64(jstr(j, "ino"), &ino) == 0) {
        out->dev = dev;
        out->ino = ino;
    }
    memcpy(out->sample, sample, 65);
    out->type = json_is_integer(ty) ? (int)json_integer_value(ty) : 0;
    out->part_size = json_is_integer(ps) ? (uint64_t)json_integer_value(ps) : 0;
    if (jdup(&out->path, j, "path") || jdup(&out->media_id, j, "media_id") || jdup(&out->endpoint, j, "endpoint") ||
        jdup(&out->bucket, j, "bucket") || jdup(&out->key, j, "key") || jdup(&out->upload_id, j, "upload_id")) {
        rc = VODUP_ENOMEM;
        goto bad;
    }
    json_t *parts = json_object_get(j, "parts");
    if (json_is_array(parts) && json_array_size(parts) > 0) {
        size_t n = json_array_size(parts);
        if (n > 10000)
            goto bad;
        out->parts = calloc(n, sizeof *out->parts);
        if (!out->parts) {
            rc = VODUP_ENOMEM;
            goto bad;
        }
        for (size_t i = 0; i < n; i++) {
            int prc = part_from_json(json_array_get(parts, i), &out->parts[out->nparts]);
            if (prc == VODUP_ENOMEM)
                rc = prc;
            if (prc)
                goto bad;
            out->nparts++;
        }
    }
    json_decref(j);
    return 0;
bad:
    json_decref(j);
    vcl_record_free(out);
    return rc;
}

static int fsync_dir_of(const char *file)
{
    const char *slash = strrchr(file, '/');
    vbuf d = VBUF_INIT;
    if (slash)
        vbuf_append(&d, file, (size_t)(slash - file) + (slash == file));
    else
        vbuf_putc(&d, '.');
    if (d.oom) {
        vbuf_free(&d);
        return -1;
    }
    int fd = open(d.data, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    vbuf_free(&d);
    if (fd < 0)
        return -1;
    int rc = fsync(fd);
    close(fd);
    return rc;
}

char *vcl_record_dump(const vcl_record *r)
{
    json_t *j = json_object();
    json_t *parts = json_array();
    if (!j || !parts) {
        json_decref(j);
        json_decref(parts);
        return NULL;
    }
    int bad = 0;
#define SETS(k, v) bad |= json_object_set_new(j, k, (v) ? json_string(v) : json_null())
    bad |= json_object_set_new(j, "version", json_integer(1));
    SETS("path", r->path);
    bad |= json_object_set_new(j, "size", json_integer((json_int_t)r->size));
    bad |= json_object_set_new(j, "mtime", json_integer((json_int_t)r->mtime_ns));
    bad |= json_object_set_new(j, "ctime", json_integer((json_int_t)r->ctime_ns));
    char num[24];
    snprintf(num, sizeof num, "%" PRIu64, r->dev);
    bad |= json_object_set_new(j, "dev", json_string(num));
    snprintf(num, sizeof num, "%" PRIu64, r->ino);
    bad |= json_object_set_new(j, "ino", json_string(num));
    SETS("sample", r->sample);
    bad |= json_object_set_new(j, "type", json_integer(r->type));
    SETS("media_id", r->media_id);
    SETS("endpoint", r->endpoint);
    SETS("bucket", r->bucket);
    SETS("key", r->key);
    SETS("upload_id", r->upload_id);
    bad |= json_object_set_new(j, "part_size", json_integer((json_int_t)r->part_size));
#undef SETS
    for (size_t i = 0; i < r->nparts && !bad; i++) {
        char crc[24];
        snprintf(crc, sizeof crc, "%" PRIu64, r->parts[i].crc64);
        json_t *p = json_pack("{s:i,s:s,s:I,s:s}", "n", r->parts[i].n, "etag", r->parts[i].etag, "size",
                              (json_int_t)r->parts[i].size, "crc64", crc);
        bad |= !p || json_array_append_new(parts, p);
    }
    bad |= json_object_set_new(j, "parts", parts);
    char *text = bad ? NULL : json_dumps(j, JSON_COMPACT);
    json_decref(j);
    return text;
}

static int write_all(int fd, const char *p, size_t n)
{
    size_t done = 0;
    while (done < n) {
        ssize_t w = write(fd, p + done, n - done);
        if (w < 0 && errno == EINTR)
            continue;
        if (w <= 0)
            return -1;
        done += (size_t)w;
    }
    return 0;
}

static void journal_unref(vcl_journal *jn)
{
    if (!jn || atomic_fetch_sub(&jn->refs, 1) != 1)
        return;
    if (jn->fd >= 0)
        close(jn->fd);
    free(jn->file);
    free(jn);
}

void vcl_journal_close(vcl_journal **jn)
{
    journal_unref(*jn);
    *jn = NULL;
}

int vcl_record_save(const char *file, const vcl_record *r, vcl_journal **jn_out)
{
    if (jn_out)
        *jn_out = NULL;
    char *text = vcl_record_dump(r);
    if (!text)
        return VODUP_ENOMEM;

    /* A tmp file in the same directory, renamed over the record: a process killed at any
     * point leaves the old record or the new one, never a torn file. Without jn_out the
     * flushes happen here (tmp before the rename, then the directory); with it the
     * caller gets the file open for the journal, and the flushes are the sync thread's
     * (vcl_journal_flush_job): until then a power cut may cost the record (an empty or
     * missing file is no record: the upload restarts clean, nothing stored is trusted
     * without ListParts), never a wrong one. */
    unsigned int rnd = 0;
    vodup_random(&rnd, sizeof rnd);
    vbuf tmp = VBUF_INIT;
    vbuf_printf(&tmp, "%s.%ld.%08x.tmp", file, (long)getpid(), rnd);
    vcl_journal *jn = jn_out ? calloc(1, sizeof *jn) : NULL;
    char *fcopy = jn_out ? strdup(file) : NULL;
    if (tmp.oom || (jn_out && (!jn || !fcopy))) {
        free(text);
        free(jn);
        free(fcopy);
        vbuf_free(&tmp);
        return VODUP_ENOMEM;
    }
    int rc = VODUP_EIO;
    int fd = open(tmp.data, O_WRONLY | O_CREAT | O_EXCL | O_APPEND | O_CLOEXEC, 0600);
    if (fd >= 0) {
        int ok = write_all(fd, text, strlen(text)) == 0 && write_all(fd, "\n", 1) == 0;
        if (ok && !jn_out)
            ok = fsync(fd) == 0;
        if (ok && rename(tmp.data, file) == 0) {
            rc = 0;
            if (jn_out) {
                atomic_init(&jn->refs, 1);
                atomic_init(&jn->queued, 0);
                atomic_init(&jn->dir_dirty, 1);
                atomic_init(&jn->gone, 0);
                jn->fd = fd;
                jn->file = fcopy;
                *jn_out = jn;
                jn = NULL;
                fcopy = NULL;
                fd = -1;
            } else {
                fsync_dir_of(file);
            }
        } else {
            unlink(tmp.data);
        }
        if (fd >= 0)
            close(fd);
    }
    free(jn);
    free(fcopy);
    free(text);
    vbuf_free(&tmp);
    return rc;
}

int vcl_journal_append(vcl_journal *jn, const vcl_rec_part *p)
{
    char line[256];
    /* One write of one line: a kill lands before or after it (a cut line, possible only
     * with a power cut, ends the journal when it is read back). */
    int n = snprintf(line, sizeof line, "{\"n\":%d,\"etag\":", p->n);
    json_t *et = json_string(p->etag);
    char *ets = et ? json_dumps(et, JSON_ENCODE_ANY) : NULL;
    json_decref(et);
    if (!ets)
        return VODUP_ENOMEM;
    vbuf b = VBUF_INIT;
    vbuf_append(&b, line, (size_t)n);
    vbuf_printf(&b, "%s,\"size\":%" PRIu64 ",\"crc64\":\"%" PRIu64 "\"}\n", ets, p->size, p->crc64);
    free(ets);
    int rc = b.oom ? VODUP_ENOMEM : write_all(jn->fd, b.data, b.len) == 0 ? 0 : VODUP_EIO;
    vbuf_free(&b);
    return rc;
}

/* ---- the sync thread's flushes ----------------------------------------------------------- */

typedef struct flush_job {
    vcl_job base;
    vcl_journal *jn;
} flush_job;

static void flush_run(struct vodup_client *c, vcl_job *j)
{
    (void)c;
    vcl_journal *jn = ((flush_job *)j)->jn;
    /* Cleared first: a line appended from now on queues another flush. */
    atomic_store(&jn->queued, 0);
    if (!atomic_load(&jn->gone))
        fdatasync(jn->fd);
    if (atomic_exchange(&jn->dir_dirty, 0))
        fsync_dir_of(jn->file);
}

static void flush_drop(vcl_job *j)
{
    journal_unref(((flush_job *)j)->jn);
    free(j);
}

vcl_job *vcl_journal_flush_job(vcl_journal *jn)
{
    if (atomic_exchange(&jn->queued, 1))
        return NULL;   /* one is queued already, and will cover what was just written */
    flush_job *j = calloc(1, sizeof *j);
    if (!j) {
        atomic_store(&jn->queued, 0);
        return NULL;   /* the next line tries again; a kill loses nothing written */
    }
    atomic_fetch_add(&jn->refs, 1);
    j->base.run = flush_run;
    j->base.drop = flush_drop;
    j->jn = jn;
    return &j->base;
}

void vcl_journal_gone(vcl_journal *jn)
{
    atomic_store(&jn->gone, 1);
    atomic_store(&jn->dir_dirty, 1);
}

vcl_job *vcl_record_unlink_job(const char *file)
{
    if (unlink(file) < 0)
        return NULL;   /* none (or not removable: it stays, as a failed write would) */
    vcl_journal *jn = calloc(1, sizeof *jn);
    if (!jn || !(jn->file = strdup(file))) {
        free(jn);
        return NULL;   /* the unlink stands; only its flush is left to the kernel */
    }
    jn->fd = -1;
    atomic_init(&jn->refs, 1);
    atomic_init(&jn->queued, 0);
    atomic_init(&jn->dir_dirty, 1);
    atomic_init(&jn->gone, 1);
    vcl_job *j = vcl_journal_flush_job(jn);
    journal_unref(jn);   /* the job holds it now (or it is freed) */
    return j;
}

int vcl_record_remove(const char *file)
{
    if (unlink(file) < 0 && errno != ENOENT)
        return VODUP_EIO;
    fsync_dir_of(file);
    return 0;
}
