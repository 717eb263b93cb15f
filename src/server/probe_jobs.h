/* probe_jobs.h - the media probe workers of a running vodupd (issue 16).
 *
 * N threads claim probe jobs from the metadata store (store/meta_jobs.h) for this node,
 * probe the object in a vodupd-probe child (media/probe.h), store the cover as an image
 * of the video, and finish the job: the video's fields, status Normal (or TranscodeFail
 * for a file that is not usable media) and the VideoAnalysisComplete / SnapshotComplete
 * events, in one transaction. Design: docs/internals/media-probe.md, "The job queue".
 */
#ifndef VODUPD_PROBE_JOBS_H
#define VODUPD_PROBE_JOBS_H

struct vodupd;
typedef struct probe_jobs probe_jobs;

/* Default number of workers (probe-workers). */
#define VODUPD_DEFAULT_PROBE_WORKERS 2

/* Starts n workers (0: none, NULL returned and nothing probed) running exe (the
 * vodupd-probe executable). NULL with n > 0 on failure. */
probe_jobs *probe_jobs_start(struct vodupd *s, int n, const char *exe);
/* A job may be waiting (an upload completed): wake an idle worker. NULL ok. */
void probe_jobs_kick(probe_jobs *p);
/* Lets probes in flight finish (each bounded by the probe's timeout) and stops. NULL ok. */
void probe_jobs_stop(probe_jobs *p);

#endif
