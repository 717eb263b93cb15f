/* source.c - the source file: identify it (open, stat, sample, record), detect changes
 * during the upload, re-read it before Complete.
 *
 * Part of the worker (see engine.h and docs/internals/libvodup.md). */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "client/engine.h"
#include "common/crc.h"
#include "common/xml.h"

/* What one turn of the loop re-reads when verifying: small enough that transfers of
 * other files keep moving between turns (a few ms of disk), large enough to read fast. */
#define VCL_VERIFY_CHUNK (4 * MIB)

static void ident_of(const struct stat *st, vcl_ident *id)
{
    id->size = (uint64_t)st->st_size;
    id->mtime_ns = (int64_t)st->st_mtim.tv_sec * 1000000000 + st->st_mtim.tv_nsec;
    id->ctime_ns = (int64_t)st->st_ctim.tv_sec * 1000000000 + st->st_ctim.tv_nsec;
    id->dev = (uint64_t)st->st_dev;
    id->ino = (uint64_t)st->st_ino;
}

static int ident_eq(const vcl_ident *a, const vcl_ident *b)
{
    return a->size == b->size && a->mtime_ns == b->mtime_ns && a->ctime_ns == b->ctime_ns && a->dev == b->dev &&
           a->ino == b->ino;
}

/* Whether the file is still the version identify saw: the open descriptor's size and
 * times (any write moves mtime and ctime, and ctime cannot be set back), and the path
 * still naming that inode (a file replaced by a rename is a change too). 1 when it
 * changed (why says how), else 0. Two system calls: done before and after every part. */
int vcl_source_changed(vcl_item *it, char *why, size_t whylen)
{
    vcl_engine *e = &it->e;
    struct stat st;
    vcl_ident now;
    if (e->fd < 0 || fstat(e->fd, &st) < 0) {
        snprintf(why, whylen, "it cannot be examined: %s", strerror(errno));
        return 1;
    }
    ident_of(&st, &now);
    if (now.size != e->ident.size) {
        snprintf(why, whylen, "its size went from %" PRIu64 " to %" PRIu64 " bytes", e->ident.size, now.size);
        return 1;
    }
    if (now.mtime_ns != e->ident.mtime_ns || now.ctime_ns != e->ident.ctime_ns) {
        snprintf(why, whylen, "it was written to: its modification or change time moved");
        return 1;
    }
    if (stat(it->path, &st) < 0) {
        snprintf(why, whylen, "its path is gone (%s): removed or renamed", strerror(errno));
        return 1;
    }
    if ((uint64_t)st.st_dev != e->ident.dev || (uint64_t)st.st_ino != e->ident.ino) {
        snprintf(why, whylen, "its path names another file now (replaced)");
        return 1;
    }
    return 0;
}

/* The file changed while it uploaded: what was sent may mix versions, so it is never
 * completed. With on_change = RESTART (up to VODUP_MAX_CHANGE_RESTARTS times in a row)
 * the partial upload is aborted and the file is identified again and uploaded from byte
 * 0 to the same address; otherwise the file fails with VODUP_ECHANGED. */
void vcl_file_changed(vodup_client *c, vcl_item *it, const char *why)
{
    vcl_engine *e = &it->e;
    char msg[512];
    if (c->o.on_change == VODUP_CHANGE_RESTART && e->restarts < VODUP_MAX_CHANGE_RESTARTS) {
        e->restarts++;
        snprintf(msg, sizeof msg, "the file changed during the upload (%s): uploading it again from the start", why);
        vcl_drop_xfers(c, it);
        vcl_abort_detached(c, &e->addr, &e->creds, e->upload_id);
        vcl_reset_upload(e);
        vcl_close_fd(e);
        vcl_remove_record(c, it);
        e->restart = 1;
        e->phase = PH_IDENTIFY;
        e->op_attempts = 0;
        e->op_not_before = 0;
        e->reported = 0;
        e->failing = 1;   /* on_upload_retry_resume follows the next success */
        vcl_publish(c, it);
        vcl_emit(c, it, EV_RETRY, VODUP_ECHANGED, msg, 0, 0);
        return;
    }
    if (e->restarts)
        snprintf(msg, sizeof msg, "the file changed during the upload (%s), again after %d restarts", why,
                 e->restarts);
    else
        snprintf(msg, sizeof msg, "the file changed during the upload (%s)", why);
    vcl_fail_item(c, it, VODUP_ECHANGED, msg);
}

void vcl_start_verify(vcl_item *it, uint64_t expect)
{
    vcl_engine *e = &it->e;
    e->verify_pos = 0;
    e->verify_crc = 0;
    e->verify_expect = expect;
    e->phase = PH_VERIFY;
}

/* The last check before an upload is declared complete: the file read again, its CRC-64
 * against that of the bytes sent. The metadata checks miss a write that lands within
 * the filesystem's timestamp granularity of the previous one (a few ms: the time is
 * taken from a coarse clock); this does not. One chunk per turn of the loop. */
void vcl_verify_step(vodup_client *c, vcl_item *it)
{
    vcl_engine *e = &it->e;
    if (!e->verify_buf && !(e->verify_buf = malloc(VCL_VERIFY_CHUNK))) {
        vcl_fail_item(c, it, VODUP_ENOMEM, "out of memory");
        return;
    }
    uint64_t left = e->size - e->verify_pos;
    size_t n = left < VCL_VERIFY_CHUNK ? (size_t)left : (size_t)VCL_VERIFY_CHUNK;
    if (n) {
        ssize_t r;
        do
            r = pread(e->fd, e->verify_buf, n, (off_t)e->verify_pos);
        while (r < 0 && errno == EINTR);
        if (r < 0) {
            vcl_fail_item(c, it, VODUP_EIO, "reading the file again to verify it failed");
            return;
        }
        if (r == 0) {
            vcl_file_changed(c, it, "it got shorter");
            return;
        }
        e->verify_crc = vodup_crc64(e->verify_crc, e->verify_buf, (size_t)r);
        e->verify_pos += (uint64_t)r;
        if (e->verify_pos < e->size)
            return;
    }
    free(e->verify_buf);
    e->verify_buf = NULL;
    char why[256];
    if (vcl_source_changed(it, why, sizeof why)) {
        vcl_file_changed(c, it, why);
        return;
    }
    if (e->verify_crc != e->verify_expect) {
        vcl_file_changed(c, it, "its content differs from the bytes sent: CRC-64 of a re-read");
        return;
    }
    e->verified = 1;
    if (!e->multipart) {
        vcl_succeed_item(c, it);   /* PutObject: stored, and it is the file's content */
        return;
    }
    e->phase = PH_RUN;
}

/* Parts re-read as they are answered: at most this long (a few ms of reading on the
 * worker); a longer part (a large --part-size) is left to the re-read before Complete. */
#define VCL_REREAD_PART_MAX (4 * VCL_VERIFY_CHUNK)
/* How old the file's change time must be for a re-read to stand for the rest of the
 * upload: longer than any file system's timestamp step (FAT's 2 s, the coarse clock's
 * few ms on ext4), so that a write after the re-read moves ctime off identify's. */
#define VCL_REREAD_MARGIN_NS (3LL * 1000000000)

/* Re-reads part i, just answered, and compares its CRC-64 with that of the bytes sent,
 * while the other parts are still on the wire: when every part passed, the re-read
 * before Complete (vcl_verify_step) has nothing left to do, and the server is not left
 * idle for the time of reading the whole file again at the end (bench/README.md).
 * Its guarantee is the same as the end's: a change before this read shows in the CRC;
 * a change after it moves ctime, which the check before Complete compares with
 * identify's, provided the clock has left the tick of the file's last change, which
 * the margin above makes sure of (otherwise the part is left for the end).
 * 1: the part is verified; 0: left for the end; -1: the file changed (handled). */
int vcl_reread_part(vodup_client *c, vcl_item *it, size_t i)
{
    vcl_engine *e = &it->e;
    vcl_part *p = &e->parts[i];
    struct timespec now;
    if (p->len > VCL_REREAD_PART_MAX || clock_gettime(CLOCK_REALTIME, &now) != 0 ||
        (int64_t)now.tv_sec * 1000000000 + now.tv_nsec < e->ident.ctime_ns + VCL_REREAD_MARGIN_NS)
        return 0;
    /* Its own buffer, freed here: verify_buf lives as long as the item, which for a file
     * that failed is until the client is freed. */
    enum { CHUNK = 256 * 1024 };
    unsigned char *buf = malloc(CHUNK);
    if (!buf)
        return 0;   /* the end's re-read will say it */
    uint64_t crc = 0, pos = 0;
    while (pos < p->len) {
        uint64_t left = p->len - pos;
        size_t n = left < CHUNK ? (size_t)left : (size_t)CHUNK;
        ssize_t r;
        do
            r = pread(e->fd, buf, n, (off_t)(p->off + pos));
        while (r < 0 && errno == EINTR);
        if (r <= 0) {
            free(buf);
            if (r == 0)
                vcl_file_changed(c, it, "it got shorter");
            else
                vcl_fail_item(c, it, VODUP_EIO, "reading the file again to verify it failed");
            return -1;
        }
        crc = vodup_crc64(crc, buf, (size_t)r);
        pos += (uint64_t)r;
    }
    free(buf);
    if (crc != p->crc) {
        vcl_file_changed(c, it, "its content differs from the bytes sent: CRC-64 of a re-read");
        return -1;
    }
    p->reread = 1;
    return 1;
}

void vcl_identify(vodup_client *c, vcl_item *it)
{
    vcl_engine *e = &it->e;
    struct stat st;
    if (e->fd < 0) {
        e->fd = open(it->path, O_RDONLY | O_CLOEXEC);
        if (e->fd < 0) {
            vcl_fail_item(c, it, errno == ENOENT ? VODUP_ENOENT : VODUP_EIO, strerror(errno));
            return;
        }
    }
    if (fstat(e->fd, &st) < 0 || !S_ISREG(st.st_mode)) {
        vcl_fail_item(c, it, VODUP_EIO, "not a readable regular file");
        return;
    }
    vcl_ident now;
    ident_of(&st, &now);
    uint64_t size = now.size;
    int64_t mtime = now.mtime_ns;
    int restarted = e->known && e->restart;

    if (e->known && !e->restart && ident_eq(&e->ident, &now)) {
        /* Same process, same file: go on from what this run already knows. */
    } else if (restarted) {
        /* Changed during the upload (file_changed): the new version goes to the same
         * address with the same credentials, from byte 0. */
        e->restart = 0;
        vcl_reset_upload(e);
        e->size = size;
        e->mtime_ns = mtime;
        e->ident = now;
        e->sample[0] = '\0';
        int rc = it->record_file ? vcl_file_sample(e->fd, size, e->sample) : 0;
        if (rc == 0)
            rc = vcl_plan(c, e);
        if (rc) {
            vcl_fail_item(c, it, rc, "planning the upload failed");
            return;
        }
        e->acked = 0;
    } else {
        if (e->known) {
            vcl_drop_xfers(c, it);
            vcl_abort_detached(c, &e->addr, &e->creds, e->upload_id);
        }
        vcl_reset_all(e);
        e->restart = 0;
        e->size = size;
        e->mtime_ns = mtime;
        e->ident = now;
        e->sample[0] = '\0';
        if (it->record_file) {
            int rc = vcl_file_sample(e->fd, size, e->sample);
            if (rc) {
                vcl_fail_item(c, it, rc, "reading the file failed");
                return;
            }
            vcl_record r;
            rc = vcl_record_load(it->record_file, &r);
            if (rc == 0) {
                /* ctime and inode too: a program can set mtime back after a write, not
                 * ctime. (The device number is left out: it may differ after a reboot.)
                 * The parts themselves are checked against the file before Complete. */
                int match = r.size == size && r.mtime_ns == mtime && r.ctime_ns == now.ctime_ns &&
                            r.ino == now.ino && strcmp(r.sample, e->sample) == 0 &&
                            r.type == (int)it->type && r.path && strcmp(r.path, it->abspath) == 0;
                if (match) {
                    rc = vcl_adopt_record(c, it, &r);
                } else {
                    /* The file changed since the record was written: restart cleanly. The old
                     * upload cannot be aborted without credentials for it; the server's
                     * expiry of abandoned uploads collects it. */
                    vcl_remove_record(c, it);
                    rc = vcl_plan(c, e);
                }
                vcl_record_free(&r);
            } else if (rc == VODUP_ENOMEM) {
                vcl_fail_item(c, it, rc, "out of memory");
                return;
            } else {
                rc = vcl_plan(c, e);
            }
            if (rc) {
                vcl_fail_item(c, it, rc, "planning the upload failed");
                return;
            }
        } else if (vcl_plan(c, e)) {
            vcl_fail_item(c, it, VODUP_ENOMEM, "planning the upload failed");
            return;
        }
        e->acked = 0;
        for (size_t i = 0; i < e->nparts; i++)
            if (e->parts[i].state == VCL_PART_DONE)
                e->acked += e->parts[i].len;
        e->known = 1;
    }
    vcl_publish(c, it);
    e->phase = e->creds.ak && e->addr.endpoint ? PH_RUN : PH_AUTH;
    e->op_attempts = 0;
    e->op_not_before = 0;
    if (!restarted)   /* a restart is announced by on_upload_retry (file_changed) */
        vcl_emit(c, it, EV_STARTED, 0, NULL, 0, 0);
}
