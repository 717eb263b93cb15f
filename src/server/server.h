/* server.h - the state of one running vodupd, shared by every request. */
#ifndef VODUPD_SERVER_H
#define VODUPD_SERVER_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>

#include "server/store/blob.h"
#include "server/store/meta.h"
#include "server/workq.h"

#define VODUPD_PIN_BUCKETS 256

/* An address range (--callback-allow): family AF_INET or AF_INET6, the first bits of addr. */
#define VODUPD_MAX_CALLBACK_ALLOW 32
typedef struct vodupd_cidr {
    int family;
    unsigned char addr[16];
    int bits;
} vodupd_cidr;

typedef struct vodupd {
    char *data_dir;
    vodup_meta *meta;
    vodup_blobstore *blobs;
    workq *wq;                     /* blocking work: flushes, commits */
    unsigned char master_key[32];  /* seals long-term secrets at rest */
    char region[64];               /* e.g. "cn-hangzhou" */
    char *public_url;              /* how clients reach us, e.g. "http://127.0.0.1:9000" */
    char *own_hosts[8];            /* host names (lower case, no port) that mean "path style" */
    int n_own_hosts;
    int max_uploads_per_account;
    uint64_t storage_quota;     /* default bytes per account (core.h), 0 none */
    atomic_int active_requests;    /* requests between their first byte and their log line */
    int event_max_attempts;        /* 0: retry until delivered */
    int callback_allow_private;    /* development: callbacks may reach any address (events.c) */
    int n_callback_allow;          /* ranges callbacks may reach despite the default deny list */
    vodupd_cidr callback_allow[VODUPD_MAX_CALLBACK_ALLOW];
    int upload_auth_ttl;           /* seconds UploadAuth credentials live (3000) */
    long upload_cred_grace;        /* seconds past its credentials' expiry an upload of upload credentials lives */
    long upload_expiry;            /* seconds after which an unfinished multipart upload is aborted; 0 never */
    struct events *events;         /* the callback sender (events/events.h) */
    struct probe_jobs *probe;      /* the media probe workers (probe_jobs.h); NULL: none */
    struct token_keys *token_keys; /* seals temporary credentials (auth/token.h) */
    struct auth_ratelimit *ratelimit; /* requests per second per AccessKeyId (auth/ratelimit.h); NULL: none */
    int serve_active_content;      /* GetObject serves HTML/SVG/... inline (see object_get.c) */
    struct vodup_meta_revocations *revocations; /* revoked principals, cached (store/meta.h); NULL: read uncached */

    /* Garbage collection of unreferenced blobs runs on its own thread, kicked after
     * operations that free blobs. */
    pthread_t gc_thread;
    pthread_mutex_t gc_mu;
    pthread_cond_t gc_cv;
    int gc_kicked;
    int gc_stop;
    int gc_running;

    /* Readers in flight (GetObject between its metadata read and opening or pinning
     * its blobs), oldest first: a blob freed after a reader started may be in that
     * reader's segment list, so the collector leaves the blobs it took until every
     * reader older than its pass has opened or pinned what it needs (a short wait: no
     * network I/O happens in between). */
    pthread_mutex_t readers_mu;
    struct vodupd_reader *readers_head, *readers_tail;
    /* Blobs that streaming responses still have to open (multipart objects open their
     * part blobs one after the other), refcounted, under readers_mu. The collector
     * leaves these on the garbage list and removes every other one: one slow download
     * holds back only the blobs it reads. (An open fd needs no pin: an unlinked file
     * stays readable through it.) */
    struct vodupd_pin *pins[VODUPD_PIN_BUCKETS];
} vodupd;

typedef struct vodupd_reader {
    uint64_t started;       /* CLOCK_MONOTONIC ns */
    struct vodupd_reader *prev, *next;
} vodupd_reader;

/* Registers a reader before it reads an object's metadata; NULL on oom (the caller then
 * answers an error). End it once its blobs are open or no longer needed. */
vodupd_reader *vodupd_reader_begin(vodupd *s);
void vodupd_reader_end(vodupd *s, vodupd_reader *r);

/* Pins / unpins the blobs of segs (see vodupd.pins). Pin returns 0, or -1 on oom with
 * nothing pinned. */
int vodupd_blobs_pin(vodupd *s, const vodup_meta_segment *segs, size_t n);
void vodupd_blobs_unpin(vodupd *s, const vodup_meta_segment *segs, size_t n);

/* Removes every blob on the garbage list now (startup, tests). */
void vodupd_gc_run(vodupd *s);
/* Asks the collector thread for a pass soon. */
void vodupd_gc_kick(vodupd *s);
int vodupd_gc_start(vodupd *s);
void vodupd_gc_stop(vodupd *s);

/* 1 when host (lower case, no port) names this server, so requests use path style. */
int vodupd_is_own_host(const char *host, void *srv);

#endif
