/* internal.h - libvodup's private structures, shared by the files of src/client.
 *
 * Ownership rule that keeps the client free of data races (see docs/internals/libvodup.md):
 * - fields marked [mu] are read and written only with vodup_client.mu held, by any thread;
 * - fields marked [worker] (the whole vcl_engine, the transfers) belong to the worker
 *   thread alone: API calls never touch them, they ask through [mu] fields and wake it;
 * - fields marked [const] are set before the item or client is published and never change.
 */
#ifndef VODUP_CLIENT_INTERNAL_H
#define VODUP_CLIENT_INTERNAL_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <time.h>
#include <curl/curl.h>

#include "client/dialect.h"
#include "common/buf.h"
#include "vodup/vodup.h"

/* Internal names all start with vcl_: the static library is linked next to vodupd's
 * objects in the tests, so nothing here may collide with the server's names. */

/* ---- error.c ------------------------------------------------------------------------ */

/* Remembers msg as the last error of key (a client or an api handle) for this thread,
 * and returns code, so that failures read `return vcl_fail(c, c->serial, code, "...")`. */
int vcl_error_set(const void *key, uint64_t serial, int code, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
const char *vcl_error_get(const void *key, uint64_t serial);
/* A call that succeeded: this thread's last error of key becomes "" (returns 0). */
int vcl_error_clear(const void *key, uint64_t serial);
uint64_t vcl_new_serial(void);

/* ---- time --------------------------------------------------------------------------- */

int64_t vcl_now_ms(void);        /* monotonic */

/* ---- auth.c: UploadAddress / UploadAuth -------------------------------------------- */

typedef struct vcl_addr {
    char *endpoint;     /* with scheme, no trailing '/' */
    char *bucket;
    char *key;
} vcl_addr;

typedef struct vcl_creds {
    char *ak, *sk, *token;  /* token NULL for long-term keys */
    char *region;           /* may be NULL */
    time_t expire;          /* wall clock; 0 when unknown */
    time_t received;        /* when we got them (to bound proactive refresh) */
} vcl_creds;

void vcl_addr_free(vcl_addr *a);
void vcl_creds_free(vcl_creds *c);
int vcl_addr_copy(vcl_addr *dst, const vcl_addr *src);
int vcl_creds_copy(vcl_creds *dst, const vcl_creds *src);
/* Decoders of the base64 JSON blobs: 0, VODUP_EINVAL (msg says why) or VODUP_ENOMEM. */
int vcl_decode_upload_address(const char *b64, vcl_addr *out, char *msg, size_t msglen);
int vcl_decode_upload_auth(const char *b64, vcl_creds *out, char *msg, size_t msglen);

/* ---- api.c: the RPC client ------------------------------------------------------------ */

typedef struct vcl_rpc {
    const char *endpoint, *ak, *sk, *token;
    const char *user_agent;
    long connect_timeout_ms;
    long timeout_ms;            /* whole request; 0: none */
    const _Atomic int *cancel;  /* may be NULL; set: the request is abandoned (VODUP_ECANCELED) */
    const char *ca_file;        /* CAs to trust for https (vodup_options.ca_file); NULL: the system's */
    int reuse;                  /* keep this thread's curl handle, and so its connection, for the
                                 * next call (helper threads: vcl_rpc_thread_done frees it) */
} vcl_rpc;

/* One signed POST. 0 on HTTP 2xx with *json (caller frees) set; otherwise a vodup_error
 * with msg filled (and *json the error body when there was one). *code_out (may be NULL)
 * receives a malloc'd copy of the API error Code, or NULL. http_status may be NULL. */
int vcl_rpc_call(const vcl_rpc *r, const char *version, const char *action, const char *const *params,
                 char **json, char **code_out, long *http_status, char *msg, size_t msglen);
/* Frees the calling thread's kept handle (vcl_rpc.reuse); a helper thread calls it as it ends. */
void vcl_rpc_thread_done(void);

/* ---- record.c: resume records ----------------------------------------------------------- */

typedef struct vcl_rec_part {
    int n;
    char *etag;
    uint64_t size;
    uint64_t crc64;
} vcl_rec_part;

/* What identifies one version of a source file: a write changes the size or the
 * times (ctime cannot be set back by a program), a replacement the inode. */
typedef struct vcl_ident {
    uint64_t size;
    int64_t mtime_ns, ctime_ns;
    uint64_t dev, ino;
} vcl_ident;

typedef struct vcl_record {
    char *path;
    uint64_t size;
    int64_t mtime_ns;
    int64_t ctime_ns;       /* 0 in records of older versions: they never match */
    uint64_t dev, ino;
    char sample[65];
    int type;
    char *media_id;
    char *endpoint, *bucket, *key;
    char *upload_id;
    uint64_t part_size;
    vcl_rec_part *parts;
    size_t nparts;
} vcl_record;

void vcl_record_free(vcl_record *r);
/* The record file of abspath under dir (malloc'd), or NULL on oom. */
char *vcl_record_file(const char *dir, const char *abspath);
/* 0 loaded, VODUP_ENOENT none (or unreadable / not ours: treated as none), VODUP_ENOMEM. */
int vcl_record_load(const char *file, vcl_record *out);
/* The same from text (the fuzz target's entry). */
int vcl_record_parse(const char *text, size_t len, vcl_record *out);
/* The record as JSON text (malloc'd), or NULL on oom. */
char *vcl_record_dump(const vcl_record *r);
struct vcl_job;

/* An open record file: the worker appends acknowledged parts to it; the sync thread
 * flushes it. Reference-counted: a queued flush keeps it alive after the worker let go. */
typedef struct vcl_journal {
    _Atomic int refs;
    _Atomic int queued;     /* a flush job is queued and not yet begun */
    _Atomic int dir_dirty;  /* the directory changed (the rename, an unlink): flush it too */
    _Atomic int gone;       /* the file was removed: nothing of it to flush */
    int fd;                 /* -1: only the directory */
    char *file;
} vcl_journal;

/* Atomic replace of the record with r (parts included), the journal emptied. Without
 * jn_out: flushed before it returns (tmp, rename, directory). With jn_out: *jn_out is
 * the file open for vcl_journal_append, not flushed yet (vcl_journal_flush_job). 0 or
 * VODUP_EIO / VODUP_ENOMEM. */
int vcl_record_save(const char *file, const vcl_record *r, vcl_journal **jn_out);
/* Appends one acknowledged part: one write(2), no flush. 0, VODUP_EIO, VODUP_ENOMEM. */
int vcl_journal_append(vcl_journal *jn, const vcl_rec_part *p);
/* A job for the sync thread that flushes what jn has written so far (fdatasync, and the
 * directory after a rename or unlink), or NULL when one is already queued (it will
 * cover this write) or out of memory. */
struct vcl_job *vcl_journal_flush_job(vcl_journal *jn);
/* The record of jn was removed: a flush only syncs the directory. */
void vcl_journal_gone(vcl_journal *jn);
void vcl_journal_close(vcl_journal **jn);
/* Removes the record file now; returns the job that flushes its directory (NULL: there
 * was none, or out of memory). */
struct vcl_job *vcl_record_unlink_job(const char *file);
/* Removes the record file and flushes its directory here. 0 or VODUP_EIO. */
int vcl_record_remove(const char *file);
/* The content sample: hex SHA-256 of size(8 bytes big-endian) || first 64 KiB ||
 * middle 64 KiB || last 64 KiB. 0 or VODUP_EIO. */
int vcl_file_sample(int fd, uint64_t size, char out[65]);

/* ---- jobs.c: helper threads ------------------------------------------------------------ */

struct vodup_client;

typedef struct vcl_job {
    struct vcl_job *next;
    int blocking;           /* waits on the application or the network: dropped at quit */
    void (*run)(struct vodup_client *c, struct vcl_job *j);
    void (*drop)(struct vcl_job *j);    /* frees the job (after run, or instead of it) */
} vcl_job;

#define VCL_JOBQ_MAX_THREADS 16

typedef struct vcl_jobq {
    pthread_t th[VCL_JOBQ_MAX_THREADS];
    int nth;                /* threads running (set before any job is pushed) */
    int started;
    pthread_mutex_t mu;
    pthread_cond_t cv;
    vcl_job *head, *tail;   /* [q.mu] */
    int quit;               /* [q.mu] */
    _Atomic int quitting;
    struct vodup_client *c;
} vcl_jobq;

/* Starts threads (1..VCL_JOBQ_MAX_THREADS) taking q's jobs: one keeps them in order. */
int vcl_jobq_start(vcl_jobq *q, struct vodup_client *c, int threads);
void vcl_jobq_push(vcl_jobq *q, vcl_job *j);
/* Runs what is queued (dropping blocking jobs) and joins the thread. */
void vcl_jobq_stop(vcl_jobq *q);
int vcl_jobq_is_self(const vcl_jobq *q);

/* What a helper thread's call (VOD API call or auth provider) gave, for the worker. */
typedef struct vcl_result {
    uint64_t serial;        /* the vcl_engine.call_serial it answers */
    int rc;
    long status;
    char *json, *code, *msg;        /* VOD call */
    char *addr, *auth, *media;      /* auth provider */
} vcl_result;

void vcl_result_free(vcl_result *r);

/* ---- the client ------------------------------------------------------------------------- */

enum vcl_mode { VCL_MODE_NONE = 0, VCL_MODE_UPLOAD_AUTH, VCL_MODE_STS, VCL_MODE_PROVIDER };

enum vcl_phase {
    PH_IDLE = 0,    /* not active */
    PH_IDENTIFY,    /* stat, sample, record */
    PH_AUTH,        /* get address and credentials (API call, provider, or the app) */
    PH_RUN,         /* requests */
    PH_REFRESH,     /* credentials must be renewed before more requests go */
    PH_WAIT_APP,    /* waiting for the application (set_upload_auth / resume_with_*) */
    PH_VERIFY,      /* re-reading the file to compare its CRC-64 with the bytes sent */
    PH_CALL         /* a helper thread runs a VOD call or the auth provider for it */
};

enum vcl_part_state { VCL_PART_TODO = 0, VCL_PART_INFLIGHT, VCL_PART_DONE };

typedef struct vcl_part {
    uint64_t off, len;
    int state;
    char *etag;
    uint64_t crc;           /* ours, once done */
    int reread;             /* its bytes read again after its answer and found equal (vcl_reread_part) */
    int attempts;
    int64_t not_before;     /* monotonic ms */
} vcl_part;

struct vcl_xfer;

/* What the worker knows of an item's upload [worker]. */
typedef struct vcl_engine {
    int active;             /* holds one of the files_at_once slots */
    int phase;
    int fd;
    uint64_t size;
    int64_t mtime_ns;
    vcl_ident ident;        /* the version of the file being uploaded (fd's, at identify) */
    char sample[65];
    int known;              /* identity, address and parts below describe the file */
    int restart;            /* the file changed: identify it anew, keep address and credentials */
    int restarts;           /* change restarts in a row (on_change = RESTART) */
    int verified;           /* the re-read matched what was sent: Complete may go */
    uint64_t verify_pos, verify_crc, verify_expect;
    unsigned char *verify_buf;

    char *media_id;
    vcl_addr addr;          /* endpoint NULL until known */
    vcl_creds creds;        /* ak NULL until known */
    int creds_gen;          /* bumped when creds change */
    int expiry_notified;    /* on_upload_token_expired sent for creds_gen */

    int multipart;
    char *upload_id;
    uint64_t part_size;
    vcl_part *parts;
    size_t nparts;
    int need_list;          /* parts came from a record: check them with ListParts */
    int complete_ready;     /* every part acknowledged */
    int complete_maybe;     /* a Complete went out without a clear answer */

    int op_attempts;        /* the item-level request (init/list/complete/put) or auth call */
    int64_t op_not_before;
    struct vcl_xfer *op;    /* that request in flight */
    int inflight;           /* part requests in flight */

    int failing;            /* on_upload_retry sent, waiting for a success */
    uint64_t call_serial;   /* PH_CALL: the call whose result is awaited */
    int call_phase;         /* the phase the call was made from (restored with its result) */
    int call_kind;          /* 1 VOD call (call_refresh says which), 2 auth provider */
    int call_refresh;
    int call_gen;           /* sts_gen when the VOD call was made */
    int wait_kind;          /* PH_WAIT_APP: 1 address+auth, 2 new auth, 3 new STS */
    int sts_gen_seen;
    uint64_t acked;         /* bytes acknowledged */
    uint64_t sent_run;      /* bytes acknowledged in requests of this process */
    uint64_t reported;      /* last progress value sent */
    int64_t reported_at;
    vcl_journal *journal;   /* the record file, open for appends (NULL: rewrite it first) */
} vcl_engine;

typedef struct vcl_item {
    /* [const] */
    int id;
    char *path, *abspath;
    char *record_file;      /* NULL without record_dir */
    uint64_t dev, ino;      /* the file's identity when added (duplicate check) */
    vodup_media_type type;
    char *title, *description, *tags, *cover_url, *user_data, *template_group_id, *storage_location,
        *image_type;
    long long cate_id;

    /* [mu] */
    vodup_status status;
    int deleted;
    char *media_id, *endpoint, *bucket, *object_key;
    uint64_t size, bytes_done, bytes_sent;
    int last_error;
    int pend_full;          /* set_upload_auth given, not yet taken by the worker */
    vcl_addr pend_addr;
    vcl_creds pend_creds;
    char *pend_media;
    int pend_auth;          /* resume_with_auth given */
    vcl_creds pend_auth_creds;
    int has_res;            /* a helper thread's result for the worker */
    vcl_result res;

    vcl_engine e;           /* [worker] */
} vcl_item;

typedef struct vcl_event vcl_event;

struct vodup_client {
    /* [const] */
    uint64_t serial;
    vodup_options o;        /* strings below owned */
    char *record_dir, *region, *user_agent, *ca_file;
    vodup_listener l;
    pthread_t thread;
    vcl_jobq cbq;           /* callbacks and the auth provider, in order */
    vcl_jobq rpcq;          /* VOD API calls (STS mode): one thread per file slot, so the
                             * files starting together make their Create calls together */
    vcl_jobq syncq;         /* flushes of resume records (record.c), off the transfer loop */
    CURLM *multi;

    pthread_mutex_t mu;
    pthread_cond_t cv;          /* wait(): list_done changes */
    pthread_mutex_t rec_mu;     /* orders record writes against delete_file's unlink */

    /* [mu] */
    int quit;
    int mode;
    char *vod_endpoint;
    vcl_creds sts;
    int sts_gen;
    vodup_auth_provider_cb *provider;
    void *provider_user;
    vcl_item **items;
    size_t nitems, cap;
    int next_id;
    int started;
    int ever_started;           /* start was called once: the auth mode is fixed */
    int user_paused;
    vodup_network net;
    int list_gen;               /* bumped by any API change that un-ends the list */
    int list_done;              /* on_list_completed was delivered for list_gen */

    /* [worker] */
    struct vcl_xfer *xfers;     /* every easy handle in the multi */
    int body_xfers;             /* transfers sending a body (for limit_rate) */
    int rate_split;             /* body_xfers when speeds were last set */
    uint64_t rng;
    vcl_event *events;
    size_t nevents, capevents;
    uint64_t call_serial;
    int list_fired, list_fired_gen;   /* on_list_completed queued for list_fired_gen */
};

/* Whether the caller is one of c's own threads (the worker, or a helper running a
 * callback): such a caller must not wait for or free the client. */
int vcl_on_own_thread(const vodup_client *c);

/* The worker's (engine.h lists its files): the thread's main (loop.c); the effective
 * pause, user pause or network policy [mu] (loop.c); a snapshot of an item into a
 * caller-owned vodup_file_info, strings malloc'd along (events.c); an item's end
 * (file_state.c). */
void *vcl_worker_main(void *arg);
int vcl_paused_locked(const vodup_client *c);
vodup_file_info *vcl_snapshot_locked(const vcl_item *it);
void vcl_item_free(vcl_item *it);

/* ---- transfers (transfers.c; built by a dialect, dialect.h) ------------------------ */

typedef struct vcl_xfer {
    struct vcl_xfer *next;
    vodup_client *c;
    vcl_item *it;           /* NULL when detached (an abort after delete) */
    int kind;               /* vcl_xfer_kind */
    const vcl_dialect *dialect;     /* the one that built it, and reads its answer */
    CURL *easy;
    struct curl_slist *hdrs;
    char errbuf[CURL_ERROR_SIZE];
    /* body from the file */
    int fd;
    uint64_t off, len, pos;
    uint64_t crc;
    int read_error;         /* 1 I/O error, 2 short read (file changed) */
    size_t part;            /* index in e.parts */
    /* body from memory */
    vbuf out;
    size_t out_pos;
    /* answer */
    vbuf resp;
    char etag[130];
    int has_crc;
    uint64_t resp_crc;
    long status;
    int list_marker;        /* ListParts paging */
    int creds_gen;          /* the credentials it was signed with (vcl_engine.creds_gen) */
    /* stall detection (transfers.c on_xferinfo) */
    uint64_t low_limit;     /* bytes per second below which a window counts as stalled */
    int64_t mark_ms;
    uint64_t mark_bytes;
    int stalled;
} vcl_xfer;

void vcl_xfer_free(vcl_xfer *x);

#endif
