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

void vcl_save_record(vodup_client *c, vcl_item *it)
{
    vcl_engine *e = &it->e;
    if (!it->record_file)
        return;
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
     * no write may bring its record back. */
    pthread_mutex_lock(&c->rec_mu);
    lk(c);
    int deleted = it->deleted;
    ulk(c);
    if (!deleted)
        vcl_record_save(it->record_file, &r);   /* a failed write only costs resumability */
    pthread_mutex_unlock(&c->rec_mu);
    free(rp);
}

void vcl_remove_record(vodup_client *c, vcl_item *it)
{
    if (!it->record_file)
        return;
    pthread_mutex_lock(&c->rec_mu);
    vcl_record_remove(it->record_file);
    pthread_mutex_unlock(&c->rec_mu);
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
