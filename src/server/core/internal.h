/* internal.h - what the core's files share and nobody else needs. */
#ifndef VODUPD_CORE_INTERNAL_H
#define VODUPD_CORE_INTERNAL_H

#include "server/core/core.h"

/* The blob id recorded for an empty body: no blob is written for it (the store's ids are
 * never empty, readers never open a zero-size segment, the collector skips it). */
#define CORE_BLOB_EMPTY ""

static inline void core__kick_gc(const core *c)
{
    if (c->gc_kick)
        c->gc_kick(c->kick_user);
}

static inline void core__kick_events(const core *c)
{
    if (c->events_kick)
        c->events_kick(c->kick_user);
}

/* Sets d->what for EIO/ENOMEM and returns s. */
static inline vodupd_status core__fail(vodupd_detail *d, vodupd_status s, const char *what)
{
    if (d)
        d->what = what;
    return s;
}

/* A store's guard refusal as a status: EDENIED (DENY_COMPLETE), EREVOKED, or OK when rc
 * is neither. */
vodupd_status core__guard_status(int rc, vodupd_detail *d);

/* The quota check of a write of size bytes to bucket/key: the object it replaces, if
 * any, gives its bytes back (core_quota_check). */
vodupd_status core__put_quota(const core *c, const char *bucket, const char *key, size_t key_len, uint64_t size,
                              vodupd_detail *d);

/* core_object_put with the object's modification time given (a copy reports it). */
vodupd_status core__object_put_at(const core *c, const core_put *p, core_ingest *in, time_t mtime, vodupd_detail *d);

/* The ingest's blob made durable (or the empty-body id): OK, ENOSPC, EIO, or what
 * core_ingest_finish says. id gets the blob id. */
vodupd_status core__ingest_commit(core_ingest *in, char id[VODUP_BLOB_ID_LEN + 1], vodupd_detail *d);
/* Removes the committed blob whose metadata could not be recorded. */
void core__ingest_discard(core_ingest *in);

#endif
