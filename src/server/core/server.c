/* server.c - the core of a running vodupd: its stores, its collector, its event sender. */
#include "server/core/core.h"

#include "server/config.h"
#include "server/events/events.h"
#include "server/probe_jobs.h"
#include "server/server.h"

static void kick_gc(void *u)
{
    vodupd_gc_kick(u);
}

static void kick_events(void *u)
{
    vodupd *s = u;
    if (s->events)
        events_kick(s->events);
    /* Kicked after commits that may complete a media: a video may now be waiting for its
     * probe too. */
    probe_jobs_kick(s->probe);
}

static int pin_blobs(void *u, const vodup_meta_segment *segs, size_t n)
{
    return vodupd_blobs_pin(u, segs, n);
}

static void unpin_blobs(void *u, const vodup_meta_segment *segs, size_t n)
{
    vodupd_blobs_unpin(u, segs, n);
}

void core_of_server(core *c, vodupd *s)
{
    c->meta = s->meta;
    c->blobs = s->blobs;
    c->gc_kick = kick_gc;
    c->events_kick = kick_events;
    c->kick_user = s;
    c->pin = pin_blobs;
    c->unpin = unpin_blobs;
    c->max_uploads_per_account = s->max_uploads_per_account;
    c->storage_quota = s->storage_quota;
    c->max_uploads_per_credential_key = VODUPD_MAX_UPLOADS_PER_CREDENTIAL_KEY;
}
