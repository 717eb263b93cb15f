/* meta_jobs.h - the durable queue of media probe jobs (issue 16;
 * docs/internals/media-probe.md, "The job queue").
 *
 * A job names a video whose object is complete and not yet probed. The completion hook
 * (meta_vod.h) queues one in the same transaction that marks a video UploadSucc, so "the
 * upload is complete" and "it will be probed" can never be separated by a crash. Workers
 * (server/probe_jobs.c) claim a job for their node with a lease: a job claimed by a node
 * that died is claimable again once its lease has passed, by this node after a restart or
 * by another node sharing the store. Finishing is one transaction that stores what the
 * probe found, creates the cover's image record, queues the events and drops the job, and
 * only if the finishing node still holds the lease (a job whose lease passed may be
 * probed twice, but its result is stored once).
 *
 * Conventions as meta.h (one transaction per call, VODUP_META_* codes, wrappers in meta.c
 * over the ops table of meta_ops.h). The SQLite back end: meta_sqlite_jobs.c.
 */
#ifndef VODUP_STORE_META_JOBS_H
#define VODUP_STORE_META_JOBS_H

#include <stddef.h>
#include <time.h>

#include "server/store/meta.h"
#include "server/store/meta_vod.h"

typedef struct vodup_meta_probe_job {
    char media_id[33];
    char account_id[64];    /* the media's account */
    int attempts;           /* claims so far, this one included */
    time_t lease_until;     /* the claim is the claimer's until then */
} vodup_meta_probe_job;

/* Queues a probe of media_id due at now; a queued or claimed job of it starts over
 * (attempts 0, unclaimed). ENOTFOUND when there is no such media. */
int vodup_meta_probe_job_add(vodup_meta *m, const char *media_id, time_t now);
/* Claims the oldest job that is due (queued with next_at <= now, or claimed with
 * lease_until < now) for node until now + lease_s: claimed_by = node, attempts + 1.
 * ENOTFOUND when none is due. Two callers never claim the same job within its lease. */
int vodup_meta_probe_job_claim(vodup_meta *m, const char *node, time_t now, int lease_s,
                               vodup_meta_probe_job *out);
/* Gives a claimed job back (the probe could not run: retry later): queued again at
 * next_at with error kept for operators. ENOTFOUND when node does not hold it. */
int vodup_meta_probe_job_release(vodup_meta *m, const char *media_id, const char *node,
                                 time_t next_at, const char *error);

/* Requeues (due at now) every job claimed by node: called by a node as it starts, when
 * whatever it held was claimed by its previous life (one vodupd per data directory and
 * node id), so a restart after a crash does not wait for the lease. The number of jobs
 * requeued, or a negative code. */
int vodup_meta_probe_job_requeue_node(vodup_meta *m, const char *node, time_t now);

/* What a finished probe leaves behind. */
typedef struct vodup_meta_probe_result {
    const char *media_id;
    const char *node;              /* must still hold the job */
    const char *status;            /* the video's new status: Normal, or a failure status */
    const char *info_json;         /* what the probe found (vodup_meta_media_info_get) */
    const char *cover_url;         /* NULL: the media's cover_url stays as it is */
    const vodup_meta_media *cover; /* NULL, or the cover's image record to create */
    const char *const *events;     /* event types to queue for the media (outbox) */
    size_t nevents;
    time_t now;
} vodup_meta_probe_result;

/* In one transaction: sets the media's status, cover_url and modified time, stores
 * info_json as its media info, creates the cover record, queues the events (due now) and
 * deletes the job. ENOTFOUND (nothing changed) when node no longer holds the job (its
 * lease passed and another claim took it, or the media was deleted). */
int vodup_meta_probe_job_finish(vodup_meta *m, const vodup_meta_probe_result *r);
/* Jobs not finished (queued or claimed), for tests and operators; or a negative code. */
int vodup_meta_probe_job_count(vodup_meta *m);
/* The media info JSON stored by probe_job_finish (*json malloc'd). ENOTFOUND when the
 * media was not probed (or does not exist). */
int vodup_meta_media_info_get(vodup_meta *m, const char *media_id, char **json);

#endif
