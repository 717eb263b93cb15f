/* resume.c - the engine side of resume records: the base record, the journal of
 * acknowledged parts, adopting a record on start.
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
#include <unistd.h>

#include "client/engine.h"
#include "common/crc.h"
#include "common/xml.h"

/* Hands a flush to the sync thread (NULL: nothing to do). */
static void queue_flush(vodup_client *c, vcl_job *j)
{
    if (j)
        vcl_jobq_push(&c->syncq, j);
}

/* Rewrites the record: when the upload's shape changes (address and credentials
 * adopted, an UploadId, the parts a listing confirmed). The new file stays open as the
 * journal of the parts acknowledged from now on. */
void vcl_save_record(vodup_client *c, vcl_item *it)
{
    vcl_engine *e = &it->e;
    if (!it->record_file)
        return;
    vcl_journal_close(&e->journal);
    vcl_record r;
    memset(&r, 0, sizeof r);
    r.path = it->abspath;
    r.size = e->size;
    r.mtime_ns = e->mtime_ns;
    r.ctime_ns = e->ident.ctime_ns;
    r.dev = e->ident.dev;
    r.ino = e->ident.ino;
    memcpy(r.sample, e->sample, sizeof r.sample);
    r.type = it->type;
    r.media_id = e->media_id;
    r.endpoint = e->addr.endpoint;
    r.bucket = e->addr.bucket;
    r.key = e->addr.key;
    r.upload_id = e->upload_id;
    r.part_size = e->part_size;
    size_t nd = 0;
    for (size_t i = 0; i < e->nparts; i++)
        nd += e->parts[i].state == VCL_PART_DONE && !e->need_list;
    vcl_rec_part *rp = nd ? calloc(nd, sizeof *rp) : NULL;
    if (nd && !rp)
        return;   /* the next acknowledged part writes it */
    for (size_t i = 0; i < e->nparts && nd; i++)
        if (e->parts[i].state == VCL_PART_DONE)
            rp[r.nparts++] = (vcl_rec_part){(int)i + 1, e->parts[i].etag, e->parts[i].len, e->parts[i].crc};
    r.parts = rp;
    /* rec_mu orders this write against delete_file's unlink: once an item is deleted
     * no write may bring its record back (appends go to the open file, never to the
     * path, so they cannot either). */
    pthread_mutex_lock(&c->rec_mu);
    lk(c);
    int deleted = it->deleted;
    ulk(c);
    if (!deleted)
        vcl_record_save(it->record_file, &r, &e->journal);   /* a failed write only costs resumability */
    pthread_mutex_unlock(&c->rec_mu);
    free(rp);
    if (e->journal)
        queue_flush(c, vcl_journal_flush_job(e->journal));
}

/* Part i was acknowledged: one line in the journal (a write, no flush: the sync thread
 * flushes in batches). Without an open journal the whole record is rewritten. */
void vcl_record_part(vodup_client *c, vcl_item *it, size_t i)
{
    vcl_engine *e = &it->e;
    if (!it->record_file)
        return;
    if (!e->journal) {
        vcl_save_record(c, it);
        return;
    }
    vcl_part *p = &e->parts[i];
    vcl_rec_part rp = {(int)i + 1, p->etag, p->len, p->crc};
    if (vcl_journal_append(e->journal, &rp) != 0) {
        vcl_save_record(c, it);   /* a write that failed half way must not stay the tail */
        return;
    }
    queue_flush(c, vcl_journal_flush_job(e->journal));
}

void vcl_remove_record(vodup_client *c, vcl_item *it)
{
    if (!it->record_file)
        return;
    pthread_mutex_lock(&c->rec_mu);
    vcl_job *j = vcl_record_unlink_job(it->record_file);
    pthread_mutex_unlock(&c->rec_mu);
    if (it->e.journal)
        vcl_journal_gone(it->e.journal);   /* a flush queued for it has nothing left to write */
    vcl_journal_close(&it->e.journal);
    queue_flush(c, j);
}

int vcl_adopt_record(vodup_client *c, vcl_item *it, vcl_record *r)
{
    vcl_engine *e = &it->e;
    vcl_reset_all(e);
    e->media_id = r->media_id;
    r->media_id = NULL;
    if (r->endpoint && r->bucket && r->key) {
        e->addr.endpoint = r->endpoint;
        e->addr.bucket = r->bucket;
        e->addr.key = r->key;
        r->endpoint = r->bucket = r->key = NULL;
    }
    int rc = vcl_plan(c, e);
    if (rc)
        return rc;
    if (r->upload_id && e->addr.endpoint && r->part_size >= 100 * KIB) {
        e->multipart = 1;
        if ((rc = vcl_plan_parts(e, r->part_size)) != 0)
            return rc;
        e->upload_id = r->upload_id;
        r->upload_id = NULL;
        for (size_t i = 0; i < r->nparts; i++) {
            vcl_rec_part *p = &r->parts[i];
            if (p->n < 1 || (size_t)p->n > e->nparts || e->parts[p->n - 1].len != p->size)
                continue;
            vcl_part *q = &e->parts[p->n - 1];
            free(q->etag);
            q->etag = p->etag;
            p->etag = NULL;
            q->crc = p->crc64;
            q->state = VCL_PART_DONE;
        }
        e->need_list = 1;   /* the server is the authority on what it has */
    }
    return 0;
}
