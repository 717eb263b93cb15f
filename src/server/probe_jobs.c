/* probe_jobs.c - the media probe workers (probe_jobs.h).
 *
 * Each worker loops: claim the oldest due job for this node (a lease of
 * PROBE_LEASE_S, longer than a probe may take), probe, finish. When nothing is due it
 * sleeps until kicked (an upload completed: core/server.c) or PROBE_POLL_S passed, which
 * is how jobs whose claimer died (a SIGKILLed vodupd, another node) are taken again once
 * their lease ran out, and jobs released for a retry come back.
 *
 * The object is read through the byte store: its segments (one per multipart part) are
 * opened as fds (vodup_blob_open_fd) and handed to the child, which reads them as one
 * file. A byte store without fds (an S3 cluster, blob_s3.c) cannot be probed yet: the job
 * is released with that reason and retried hourly (docs/internals/media-probe.md).
 */
#include "server/probe_jobs.h"

#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <jansson.h>

#include "common/buf.h"
#include "common/codec.h"
#include "common/digest.h"
#include "server/core/core.h"
#include "server/core/media.h"
#include "server/media/probe.h"
#include "server/server.h"
#include "server/store/meta_jobs.h"

/* Seconds a claim is the claimer's: twice the probe's wall-clock limit and then some,
 * so a live worker never loses its job to another. */
#define PROBE_LEASE_S (2 * VODUP_PROBE_RUN_TIMEOUT_MS / 1000 + 30)
/* An idle worker looks for due jobs this often even when not kicked. */
#define PROBE_POLL_S 2
/* Failures of the machinery (the child could not start, crashed, timed out, an I/O
 * error) are retried this many times, then the video gets the failure status. */
#define PROBE_MAX_ATTEMPTS 3
#define PROBE_RETRY_S 10
/* A byte store without fds: try again this much later. */
#define PROBE_NO_FD_RETRY_S 3600
/* The status of a video whose file is not usable media (docs: the VOD status list has
 * no "ProbeFail"; a real service fails such a file in transcoding). */
#define PROBE_FAIL_STATUS "TranscodeFail"

struct probe_jobs {
    vodupd *s;
    char *exe;
    char node[VODUP_BLOB_NODE_MAX + 1];
    int n;
    pthread_t *threads;
    pthread_mutex_t mu;
    pthread_cond_t cv;
    int kicked, stop;
};

static void set_num(json_t *o, const char *k, double v)
{
    json_object_set_new(o, k, json_real(v));
}

/* The probe's findings as stored (media_info) and returned by GetVideoInfo. */
static char *info_json(const vodup_media_info *mi, uint64_t size)
{
    json_t *o = json_object();
    if (!o)
        return NULL;
    json_object_set_new(o, "ProbeStatus", json_string(vodup_probe_status_name(mi->status)));
    if (mi->message[0])
        json_object_set_new(o, "Message", json_string(mi->message));
    json_object_set_new(o, "Size", json_integer((json_int_t)size));
    if (mi->status == VODUP_PROBE_OK) {
        set_num(o, "Duration", mi->duration);
        json_object_set_new(o, "Format", json_string(mi->format));
        json_object_set_new(o, "Bitrate", json_integer((json_int_t)mi->bitrate));
        json_object_set_new(o, "Width", json_integer(mi->width));
        json_object_set_new(o, "Height", json_integer(mi->height));
        set_num(o, "Fps", mi->fps);
        json_object_set_new(o, "VideoCodec", json_string(mi->video_codec));
        json_object_set_new(o, "AudioCodec", json_string(mi->audio_codec));
        json_object_set_new(o, "AudioChannels", json_integer(mi->audio_channels));
        json_object_set_new(o, "SampleRate", json_integer(mi->sample_rate));
        if (mi->cover_len) {
            json_object_set_new(o, "CoverWidth", json_integer(mi->cover_width));
            json_object_set_new(o, "CoverHeight", json_integer(mi->cover_height));
            set_num(o, "CoverTime", mi->cover_time);
        }
    }
    char *t = json_dumps(o, JSON_COMPACT | JSON_PRESERVE_ORDER);
    json_decref(o);
    return t;
}

/* Probes bucket/key: opens its segments' fds under a reader registration (so the
 * collector removes none of them in between) and runs the child. -1 with *why set when
 * it could not even start (no fds on this byte store, store errors): retry later. */
static int probe_object(probe_jobs *p, const vodup_meta_media *md, vodup_media_info *mi, const char **why)
{
    vodupd *s = p->s;
    if (!vodup_blob_has_fd(s->blobs)) {
        *why = "the byte store gives no files to probe";
        return -1;
    }
    vodupd_reader *rd = vodupd_reader_begin(s);
    if (!rd) {
        *why = "out of memory";
        return -1;
    }
    vodup_meta_object o;
    memset(&o, 0, sizeof o);
    int rc = vodup_meta_object_get(s->meta, md->bucket, md->object_key, strlen(md->object_key), &o);
    if (rc != VODUP_META_OK) {
        vodupd_reader_end(s, rd);
        *why = rc == VODUP_META_ENOTFOUND ? "the video's object is gone" : "reading the object failed";
        return -1;
    }
    int *fds = calloc(o.nsegs ? o.nsegs : 1, sizeof *fds);
    size_t opened = 0;
    for (; fds && opened < o.nsegs; opened++)
        if (vodup_blob_open_fd(s->blobs, o.segs[opened].blob, &fds[opened]) != VODUP_BLOB_OK)
            break;
    vodupd_reader_end(s, rd);   /* an open fd needs no pin */
    int ret = 0;
    if (!fds || opened < o.nsegs) {
        *why = "opening the object's files failed";
        ret = -1;
    } else {
        vodup_probe_run_opts ro = {p->exe, 0, 0, 0};
        vodup_probe_run_segments(mi, fds, o.nsegs, &ro);
    }
    for (size_t i = 0; fds && i < opened; i++)
        close(fds[i]);
    free(fds);
    vodup_meta_object_clear(&o);
    return ret;
}

/* Stores the cover JPEG as the object <VideoId>/snapshots/cover-00001.jpg of the video's
 * bucket (the real service's snapshot naming), fills the image record *img and the URL.
 * 0 or -1. */
static int store_cover(probe_jobs *p, const vodup_meta_media *md, const vodup_media_info *mi,
                       vodup_meta_media *img, char **key_out, char **url_out)
{
    core c;
    core_of_server(&c, p->s);
    char key[128];
    snprintf(key, sizeof key, "%s/snapshots/cover-00001.jpg", md->id);
    /* The cover of an earlier probe (the video was uploaded again) goes first, record and
     * object, so that the video keeps one cover: the new one, at the same key and id. */
    char cover_id[33];
    core_media_cover_id(cover_id, md->id);
    int rc = vodup_meta_media_delete(c.meta, md->account_id, cover_id);
    if (rc != VODUP_META_OK && rc != VODUP_META_ENOTFOUND)
        return -1;
    core_ingest *in = NULL;
    vodupd_detail d;
    memset(&d, 0, sizeof d);
    if (core_ingest_open(&in, &c, mi->cover_len, 0, &d) != VODUPD_OK)
        return -1;
    core_put put = {md->bucket, key, strlen(key), "image/jpeg", NULL, NULL};
    int ok = core_ingest_write(in, mi->cover, mi->cover_len, &d) == VODUPD_OK &&
             core_ingest_finish(in, &d) == VODUPD_OK && core_object_put(&c, &put, in, &d) == VODUPD_OK;
    core_ingest_free(in);
    if (!ok)
        return -1;
    memset(img, 0, sizeof *img);
    core_media_cover_id(img->id, md->id);
    snprintf(img->kind, sizeof img->kind, "image");
    snprintf(img->status, sizeof img->status, "Normal");
    img->account_id = md->account_id;
    img->title = md->title;
    img->image_type = "cover";
    img->ext = "jpg";
    img->storage_location = md->storage_location;
    img->app_id = md->app_id;
    img->cate_id = -1;
    img->bucket = md->bucket;
    img->file_size = img->size = mi->cover_len;
    img->created = img->modified = time(NULL);
    /* The URL of the object as FileUrl in events has it; GetVideoInfo signs it. */
    vbuf u = VBUF_INIT;
    const char *pub = p->s->public_url ? p->s->public_url : "";
    size_t plen = strlen(pub);
    while (plen > 0 && pub[plen - 1] == '/')
        plen--;
    vbuf_append(&u, pub, plen);
    vbuf_putc(&u, '/');
    vbuf_puts(&u, md->bucket);
    vbuf_putc(&u, '/');
    vodup_uri_encode(&u, key, strlen(key), 1);
    *key_out = strdup(key);
    *url_out = u.oom ? NULL : strdup(vbuf_cstr(&u));
    vbuf_free(&u);
    if (!*key_out || !*url_out) {
        free(*key_out);
        free(*url_out);
        return -1;
    }
    img->object_key = *key_out;
    return 0;
}

static void run_job(probe_jobs *p, const vodup_meta_probe_job *j)
{
    vodupd *s = p->s;
    vodup_meta_media md;
    if (vodup_meta_media_get(s->meta, j->account_id, j->media_id, &md) != VODUP_META_OK)
        return; /* deleted meanwhile: its job went with it */
    vodup_media_info mi;
    memset(&mi, 0, sizeof mi);
    const char *why = NULL;
    if (!md.bucket || !md.object_key) {
        why = "the video has no object";
    } else if (probe_object(p, &md, &mi, &why) == 0) {
        int machinery = mi.status == VODUP_PROBE_TIMEOUT || mi.status == VODUP_PROBE_CRASHED ||
                        mi.status == VODUP_PROBE_INTERNAL || mi.status == VODUP_PROBE_EIO;
        if (machinery && j->attempts < PROBE_MAX_ATTEMPTS)
            why = mi.message; /* retried: a killed or unstartable child is not the file's verdict */
    }
    if (why) {
        time_t retry = time(NULL) + (vodup_blob_has_fd(s->blobs) ? PROBE_RETRY_S * j->attempts
                                                                 : PROBE_NO_FD_RETRY_S);
        fprintf(stderr, "vodupd: probe of video %s (attempt %d) failed, retrying: %s\n", j->media_id,
                j->attempts, why);
        vodup_meta_probe_job_release(s->meta, j->media_id, p->node, retry, why);
        vodup_media_info_clear(&mi);
        vodup_meta_media_clear(&md);
        return;
    }

    vodup_meta_media img;
    char *cover_key = NULL, *cover_url = NULL;
    int have_cover = mi.status == VODUP_PROBE_OK && mi.cover_len &&
                     store_cover(p, &md, &mi, &img, &cover_key, &cover_url) == 0;
    if (mi.status == VODUP_PROBE_OK && mi.cover_len && !have_cover)
        fprintf(stderr, "vodupd: storing the cover of video %s failed; the video has none\n", j->media_id);
    char *info = info_json(&mi, md.size);
    const char *evs[2];
    size_t nev = 0;
    evs[nev++] = "VideoAnalysisComplete";
    if (have_cover)
        evs[nev++] = "SnapshotComplete";
    vodup_meta_probe_result r = {
        .media_id = j->media_id,
        .node = p->node,
        .status = mi.status == VODUP_PROBE_OK ? "Normal" : PROBE_FAIL_STATUS,
        .info_json = info,
        .cover_url = have_cover ? cover_url : NULL,
        .cover = have_cover ? &img : NULL,
        .events = evs,
        .nevents = nev,
        .now = time(NULL),
    };
    int rc = info ? vodup_meta_probe_job_finish(s->meta, &r) : VODUP_META_ENOMEM;
    if (rc == VODUP_META_OK) {
        fprintf(stderr, "vodupd: probed video %s: %s%s%s\n", j->media_id, r.status,
                mi.message[0] ? ": " : "", mi.message);
        if (s->events) {
            core c;
            core_of_server(&c, s);
            if (c.events_kick)
                c.events_kick(c.kick_user);
        }
    } else if (rc != VODUP_META_ENOTFOUND) {
        fprintf(stderr, "vodupd: recording the probe of video %s failed; it is probed again later\n",
                j->media_id);
    }
    /* A cover stored for a result that was not recorded is an object nobody points at:
     * the next probe of the video replaces it (same key). */
    free(info);
    free(cover_key);
    free(cover_url);
    vodup_media_info_clear(&mi);
    vodup_meta_media_clear(&md);
}

static void *worker(void *arg)
{
    probe_jobs *p = arg;
    for (;;) {
        pthread_mutex_lock(&p->mu);
        int stop = p->stop;
        p->kicked = 0;
        pthread_mutex_unlock(&p->mu);
        if (stop)
            break;
        vodup_meta_probe_job j;
        int rc = vodup_meta_probe_job_claim(p->s->meta, p->node, time(NULL), PROBE_LEASE_S, &j);
        if (rc == VODUP_META_OK) {
            run_job(p, &j);
            continue;
        }
        pthread_mutex_lock(&p->mu);
        if (!p->kicked && !p->stop) {
            struct timespec until;
            clock_gettime(CLOCK_REALTIME, &until);
            until.tv_sec += PROBE_POLL_S;
            pthread_cond_timedwait(&p->cv, &p->mu, &until);
        }
        pthread_mutex_unlock(&p->mu);
    }
    return NULL;
}

probe_jobs *probe_jobs_start(vodupd *s, int n, const char *exe)
{
    if (n <= 0)
        return NULL;
    probe_jobs *p = calloc(1, sizeof *p);
    if (!p)
        return NULL;
    p->s = s;
    p->exe = strdup(exe);
    p->threads = calloc((size_t)n, sizeof *p->threads);
    if (!p->exe || !p->threads || vodup_blob_node_id(s->data_dir, p->node) != 0) {
        free(p->exe);
        free(p->threads);
        free(p);
        return NULL;
    }
    /* Jobs this node held when it last stopped (a crash, a SIGKILL) are nobody's now. */
    int back = vodup_meta_probe_job_requeue_node(s->meta, p->node, time(NULL));
    if (back > 0)
        fprintf(stderr, "vodupd: %d media probe(s) interrupted by the last stop queued again\n", back);
    pthread_mutex_init(&p->mu, NULL);
    pthread_cond_init(&p->cv, NULL);
    for (; p->n < n; p->n++)
        if (pthread_create(&p->threads[p->n], NULL, worker, p) != 0)
            break;
    if (p->n == 0) {
        probe_jobs_stop(p);
        return NULL;
    }
    return p;
}

void probe_jobs_kick(probe_jobs *p)
{
    if (!p)
        return;
    pthread_mutex_lock(&p->mu);
    p->kicked = 1;
    pthread_cond_signal(&p->cv);
    pthread_mutex_unlock(&p->mu);
}

void probe_jobs_stop(probe_jobs *p)
{
    if (!p)
        return;
    pthread_mutex_lock(&p->mu);
    p->stop = 1;
    pthread_cond_broadcast(&p->cv);
    pthread_mutex_unlock(&p->mu);
    for (int i = 0; i < p->n; i++)
        pthread_join(p->threads[i], NULL);
    pthread_mutex_destroy(&p->mu);
    pthread_cond_destroy(&p->cv);
    free(p->threads);
    free(p->exe);
    free(p);
}
