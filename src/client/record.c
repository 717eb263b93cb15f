/* record.c - resume records: one JSON file per source file, replaced atomically.
 *
 * Written after every acknowledged part, so that a killed process loses at most the
 * parts in flight. The format is in docs/internals/libvodup.md; it never holds a secret
 * (credentials are asked for again on resume). */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <jansson.h>
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

int vcl_record_load(const char *file, vcl_record *out)
{
    memset(out, 0, sizeof *out);
    json_error_t jerr;
    json_t *j = json_load_file(file, 0, &jerr);
    if (!j)
        return VODUP_ENOENT;
    return record_from_json(j, out);
}

int vcl_record_parse(const char *text, size_t len, vcl_record *out)
{
    memset(out, 0, sizeof *out);
    json_error_t jerr;
    json_t *j = json_loadb(text, len, 0, &jerr);
    if (!j)
        return VODUP_ENOENT;
    return record_from_json(j, out);
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
            json_t *p = json_array_get(parts, i);
            json_t *pn = json_object_get(p, "n"), *psz = json_object_get(p, "size");
            const char *etag = jstr(p, "etag");
            uint64_t crc;
            if (!json_is_integer(pn) || !json_is_integer(psz) || !etag || parse_u64(jstr(p, "crc64"), &crc) < 0)
                goto bad;
            vcl_rec_part *rp = &out->parts[out->nparts++];
            rp->n = (int)json_integer_value(pn);
            rp->size = (uint64_t)json_integer_value(psz);
            rp->crc64 = crc;
            rp->etag = strdup(etag);
            if (!rp->etag) {
                rc = VODUP_ENOMEM;
                goto bad;
            }
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

int vcl_record_save(const char *file, const vcl_record *r)
{
    char *text = vcl_record_dump(r);
    if (!text)
        return VODUP_ENOMEM;

    /* tmp in the same directory, fsync, rename, fsync the directory: a crash leaves
     * either the old record or the new one, never a torn file. */
    unsigned int rnd = 0;
    vodup_random(&rnd, sizeof rnd);
    vbuf tmp = VBUF_INIT;
    vbuf_printf(&tmp, "%s.%ld.%08x.tmp", file, (long)getpid(), rnd);
    if (tmp.oom) {
        free(text);
        vbuf_free(&tmp);
        return VODUP_ENOMEM;
    }
    int rc = VODUP_EIO;
    int fd = open(tmp.data, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
    if (fd >= 0) {
        size_t n = strlen(text), done = 0;
        while (done < n) {
            ssize_t w = write(fd, text + done, n - done);
            if (w < 0 && errno == EINTR)
                continue;
            if (w <= 0)
                break;
            done += (size_t)w;
        }
        int ok = done == n && fsync(fd) == 0;
        ok = (close(fd) == 0) && ok;
        if (ok && rename(tmp.data, file) == 0) {
            fsync_dir_of(file);
            rc = 0;
        } else {
            unlink(tmp.data);
        }
    }
    free(text);
    vbuf_free(&tmp);
    return rc;
}

int vcl_record_remove(const char *file)
{
    if (unlink(file) < 0 && errno != ENOENT)
        return VODUP_EIO;
    fsync_dir_of(file);
    return 0;
}
