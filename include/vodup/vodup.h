/* vodup.h - libvodup, the client upload SDK of vodup.
 *
 * Uploads media files (video, audio, images) from a program straight into a VOD
 * service's object storage (vodupd, or anything speaking ApsaraVideo VOD + OSS), with
 * short-lived credentials. Same model as the official Android/iOS/Web upload SDKs, in C:
 *
 *   vodup_client *c;
 *   vodup_listener l = VODUP_LISTENER_INIT;  l.on_upload_succeed = done;  l.user = app;
 *   vodup_client_new(&c, NULL, &l);
 *   vodup_client_use_sts(c, "http://vod.example.com", ak, sk, token);   (or another mode)
 *   vodup_vod_info info = VODUP_VOD_INFO_INIT;  info.title = "Holiday";
 *   vodup_client_add_file(c, &id, "holiday.mp4", VODUP_MEDIA_VIDEO, &info);
 *   vodup_client_start(c);
 *   vodup_client_wait(c, -1);
 *   vodup_client_free(c);
 *
 * Conventions (all functions):
 * - Errors: functions return int, VODUP_OK (0) or a negative vodup_error. Codes are only
 *   ever appended to. vodup_strerror names a code; vodup_client_last_error gives the
 *   message of the last call on a client (per thread of the caller): a call that
 *   succeeds clears it, so it always describes the latest call.
 * - Ownership: strings passed in are copied; what comes back through an out pointer is
 *   the caller's and is freed with the matching _free; pointers inside structs handed
 *   to callbacks are borrowed and valid only during the callback.
 * - Threads: every function may be called from any thread. Callbacks run on the
 *   client's own callback thread, one at a time, in order, and may call back into the
 *   client (e.g. vodup_client_set_upload_auth from on_upload_started) but must not call
 *   vodup_client_free or vodup_client_wait. Transfers run on another thread (the
 *   worker): a callback or an auth provider that blocks delays other callbacks, never
 *   the bytes of files already uploading.
 * - Structs passed in (options, listener, info) start with a version field: initialise
 *   them with their _INIT macro, so programs built against this header keep working
 *   when fields are appended.
 * - No global state besides libcurl's one-time initialisation (vodup_global_init).
 */
#ifndef VODUP_VODUP_H
#define VODUP_VODUP_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#if defined(VODUP_BUILDING) && defined(__GNUC__)
#define VODUP_EXTERN __attribute__((visibility("default")))
#else
#define VODUP_EXTERN
#endif

#define VODUP_VERSION_MAJOR 0
#define VODUP_VERSION_MINOR 1
#define VODUP_VERSION_PATCH 0
#define VODUP_VERSION_STRING "0.1.0"

/* ---- errors ---------------------------------------------------------------------- */

typedef enum vodup_error {
    VODUP_OK = 0,
    VODUP_EINVAL = -1,      /* a bad argument */
    VODUP_ENOMEM = -2,      /* out of memory */
    VODUP_ENOENT = -3,      /* no such file on disk, or no such item in the list */
    VODUP_ESTATE = -4,      /* not allowed in the current state */
    VODUP_EIO = -5,         /* reading the file or writing a resume record failed */
    VODUP_ENETWORK = -6,    /* the server could not be reached (after retries) */
    VODUP_EAUTH = -7,       /* credentials refused (bad key, signature, permission) */
    VODUP_EEXPIRED = -8,    /* credentials expired: refresh them and resume */
    VODUP_ESERVER = -9,     /* the server refused the request (its code is in the message) */
    VODUP_ECANCELED = -10,  /* canceled by the application */
    VODUP_ECHANGED = -11,   /* the source file changed during the upload */
    VODUP_ECHECKSUM = -12,  /* the CRC-64 the server computed differs from ours */
    VODUP_ENOAUTH = -13,    /* no credentials: no authorization mode was set up */
    VODUP_EEXIST = -14,     /* the file is already in the list and not yet uploaded */
    VODUP_ETIMEDOUT = -15   /* vodup_client_wait: the time ran out before the list completed */
} vodup_error;

/* Name of an error code ("VODUP_EAUTH: credentials refused"), never NULL. */
VODUP_EXTERN const char *vodup_strerror(int code);

/* Initialises libcurl once per process (call before any thread starts, as libcurl
 * requires); vodup_client_new calls it too if the program did not. 0 or VODUP_ENOMEM. */
VODUP_EXTERN int vodup_global_init(void);
VODUP_EXTERN void vodup_global_cleanup(void);

/* ---- the upload list's items -------------------------------------------------------- */

typedef enum vodup_media_type {
    VODUP_MEDIA_VIDEO = 0,  /* video or audio: CreateUploadVideo */
    VODUP_MEDIA_IMAGE = 1   /* image: CreateUploadImage */
} vodup_media_type;

typedef enum vodup_status {
    VODUP_STATUS_INIT = 0,      /* in the list, not started */
    VODUP_STATUS_UPLOADING,
    VODUP_STATUS_PAUSING,       /* pause asked, in-flight requests being dropped */
    VODUP_STATUS_PAUSED,
    VODUP_STATUS_SUCCESS,
    VODUP_STATUS_FAIL,
    VODUP_STATUS_CANCELED       /* can be resumed with vodup_client_resume_file */
} vodup_status;

/* Name of a status ("UPLOADING"), never NULL. */
VODUP_EXTERN const char *vodup_status_name(vodup_status s);

/* What the VOD service records about a file (CreateUploadVideo / CreateUploadImage
 * parameters). Every field optional; strings copied by vodup_client_add_file. */
#define VODUP_VOD_INFO_VERSION 1
typedef struct vodup_vod_info {
    unsigned int version;
    const char *title;              /* default: the file's name */
    const char *description;
    const char *tags;               /* comma-separated */
    const char *cover_url;
    const char *user_data;          /* JSON */
    const char *template_group_id;
    const char *storage_location;
    long long cate_id;              /* -1: none */
    const char *image_type;         /* images: "default" (default) or "cover" */
} vodup_vod_info;
#define VODUP_VOD_INFO_INIT {VODUP_VOD_INFO_VERSION, NULL, NULL, NULL, NULL, NULL, NULL, NULL, -1, NULL}

/* A snapshot of one item, as callbacks and vodup_client_get_file see it. */
typedef struct vodup_file_info {
    int id;                         /* the id vodup_client_add_file gave */
    const char *path;
    vodup_media_type type;
    vodup_status status;
    const char *media_id;           /* VideoId / ImageId once known, else NULL */
    const char *endpoint;           /* upload address once known, else NULL */
    const char *bucket;
    const char *object_key;
    uint64_t size;                  /* bytes of the file */
    uint64_t bytes_done;            /* bytes the server has acknowledged */
    uint64_t bytes_sent_this_run;   /* bytes of requests this process sent and the server acknowledged */
    int last_error;                 /* vodup_error of the last failure, 0 if none */
} vodup_file_info;

/* ---- callbacks -------------------------------------------------------------------- */

typedef struct vodup_client vodup_client;

/* Every callback gets the client, a snapshot of the item (borrowed, valid during the
 * call) and the listener's user pointer. Unset callbacks are skipped. */
#define VODUP_LISTENER_VERSION 1
typedef struct vodup_listener {
    unsigned int version;
    /* A file starts. In upload-auth mode (vodup_client_use_upload_auth) the application
     * gets an upload address and credentials for it from its server and calls
     * vodup_client_set_upload_auth, here or later; the file waits until then. When a
     * resume record already names the file's media (f->media_id set), the application's
     * server should call RefreshUploadVideo for it rather than create a new video. */
    void (*on_upload_started)(vodup_client *c, const vodup_file_info *f, void *user);
    /* Bytes acknowledged by the server so far; throttled (progress_interval_ms), only
     * while the item is UPLOADING, and never equal to the total: on_upload_succeed is the
     * 100%. */
    void (*on_upload_progress)(vodup_client *c, const vodup_file_info *f, uint64_t done, uint64_t total,
                               void *user);
    void (*on_upload_succeed)(vodup_client *c, const vodup_file_info *f, void *user);
    void (*on_upload_failed)(vodup_client *c, const vodup_file_info *f, int code, const char *message,
                             void *user);
    /* The file's credentials expired (or are about to): provide new ones with
     * vodup_client_resume_with_auth (upload-auth mode) or vodup_client_resume_with_sts
     * (STS mode). The file keeps its stored parts meanwhile. */
    void (*on_upload_token_expired)(vodup_client *c, const vodup_file_info *f, void *user);
    /* A request failed and will be retried (code and message say why): once per retried
     * failure. / The next request succeeded after such failures, and the upload goes on. */
    void (*on_upload_retry)(vodup_client *c, const vodup_file_info *f, int code, const char *message, void *user);
    void (*on_upload_retry_resume)(vodup_client *c, const vodup_file_info *f, void *user);
    /* Every file of the list has ended (success, failure or canceled). */
    void (*on_list_completed)(vodup_client *c, void *user);
    void *user;
} vodup_listener;
#define VODUP_LISTENER_INIT {VODUP_LISTENER_VERSION, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL}

/* ---- the client ------------------------------------------------------------------- */

/* What happens when a source file changes while it uploads (vodup_options.on_change). */
typedef enum vodup_change_policy {
    VODUP_CHANGE_FAIL = 0,      /* the file fails with VODUP_ECHANGED (its partial upload is aborted) */
    VODUP_CHANGE_RESTART = 1    /* the partial upload is aborted and the file is uploaded again from
                                 * byte 0 (on_upload_retry with VODUP_ECHANGED tells); after
                                 * VODUP_MAX_CHANGE_RESTARTS restarts in a row it fails as above */
} vodup_change_policy;
#define VODUP_MAX_CHANGE_RESTARTS 5

#define VODUP_OPTIONS_VERSION 4
typedef struct vodup_options {
    unsigned int version;
    const char *record_dir;         /* where resume records live; NULL: no resume across processes */
    int parallel;                   /* parts in flight per file (default 4, max 32) */
    int files_at_once;              /* files uploading at the same time (default 2; 1..64); small
                                     * files may run more at once: small_files_at_once */
    uint64_t part_size;             /* 0: automatic (1/32 of the file within 1..8 MiB, raised to keep within 10000 parts) */
    uint64_t put_threshold;         /* files smaller than this use one PutObject (default 1 MiB) */
    int max_retries;                /* per request (default 5); backoff 0.5 s doubling, with jitter, max 30 s */
    long connect_timeout_ms;        /* default 10000 */
    long low_speed_time_s;          /* abort a request slower than 1 KiB/s for this long (default 30) */
    uint64_t limit_rate;            /* bytes per second for the whole client, 0: unlimited */
    int pause_on_cellular;          /* pause while the network is cellular (default 0) */
    long progress_interval_ms;      /* at most one progress callback per file per interval (default 200) */
    int verify_crc64;               /* compare x-oss-hash-crc64ecma end to end (default 1; S3 stores
                                     * give no CRC-64: verify_reread checks those) */
    long refresh_before_s;          /* ask for new credentials this long before they expire (default 300) */
    const char *region;             /* for signing when the credentials do not say (default "cn-hangzhou") */
    const char *user_agent;
    /* version 2 */
    int on_change;                  /* vodup_change_policy (default VODUP_CHANGE_FAIL) */
    int verify_reread;              /* before completing, read the file again and compare its CRC-64
                                     * with the bytes sent (default 1; 0: size, times and inode only) */
    /* version 3 */
    const char *ca_file;            /* PEM file of the certificate authorities to trust for https
                                     * endpoints (a private CA's, say); NULL: the system's store */
    /* version 4 */
    int small_files_at_once;        /* files below put_threshold (one PutObject each) uploading at
                                     * the same time (default 8; 1..64). Each costs the service two
                                     * commits and the client one connection, not parts in flight,
                                     * so many images go faster side by side. Larger files still
                                     * keep within files_at_once; all together within the greater
                                     * of the two. */
} vodup_options;
#define VODUP_OPTIONS_INIT                                                                                  \
    {VODUP_OPTIONS_VERSION, NULL, 4, 2, 0, 1024 * 1024, 5, 10000, 30, 0, 0, 200, 1, 300, NULL, NULL,      \
     VODUP_CHANGE_FAIL, 1, NULL, 8}

/* Creates a client. opts and listener may be NULL (defaults, no callbacks); both are
 * copied. *out is freed with vodup_client_free. Errors: VODUP_EINVAL (bad options),
 * VODUP_ENOMEM, VODUP_EIO (record_dir cannot be created). Starts the client's threads
 * (the worker, which runs the transfers; the callback thread; the VOD-call threads, one per
 * file that may run at once, up to 16; the thread that flushes resume records). */
VODUP_EXTERN int vodup_client_new(vodup_client **out, const vodup_options *opts, const vodup_listener *listener);
/* Stops every transfer (records are kept, so a later client resumes), joins the client's
 * threads and frees the client: callbacks already queued are delivered first, a callback
 * or auth provider under way is waited for, a VOD call under way is abandoned. NULL is
 * fine. Called from a callback (or the provider) it does nothing. */
VODUP_EXTERN void vodup_client_free(vodup_client *c);
/* The message of the last error returned to this thread by a call on c: "" if none, or
 * if this thread's latest call on c succeeded (a success clears it). Borrowed: valid
 * until this thread's next call on c. */
VODUP_EXTERN const char *vodup_client_last_error(vodup_client *c);

/* ---- authorization modes (pick one before start) -------------------------------------- */

/* Upload-auth mode: the application's server calls CreateUploadVideo and hands the
 * client UploadAddress and UploadAuth (base64 JSON, as VOD returns them) per file, from
 * on_upload_started, through vodup_client_set_upload_auth. The use_* calls choose the
 * mode once, before the first start: afterwards they answer VODUP_ESTATE. */
VODUP_EXTERN int vodup_client_use_upload_auth(vodup_client *c);
/* Sets the address and credentials of item id (base64 strings as the VOD API returns
 * them; media_id is the VideoId/ImageId). VODUP_ENOENT for an unknown id, VODUP_EINVAL
 * when they do not decode, VODUP_ESTATE outside upload-auth mode (resume_with_auth too). */
VODUP_EXTERN int vodup_client_set_upload_auth(vodup_client *c, int id, const char *upload_address,
                                              const char *upload_auth, const char *media_id);
/* An object in any S3-compatible store, and the keys to write it: what
 * vodup_client_set_s3_target gives an item in place of UploadAddress and UploadAuth.
 *
 * The same can come as an UploadAddress: an Endpoint whose scheme is "s3+http://" or
 * "s3+https://" (path style) or "s3-vhost+http(s)://" (virtual-host style) speaks S3,
 * signed with SigV4 for the UploadAuth's Region (default "us-east-1"); any other Endpoint
 * speaks OSS. S3 parts are at least 5 MiB (every part but the last), whatever part_size
 * says, and S3 stores give no CRC-64: verify_reread is then the end-to-end check. */
#define VODUP_S3_TARGET_VERSION 1
typedef struct vodup_s3_target {
    unsigned int version;
    const char *endpoint;           /* "http://host:port" or "https://host" (required) */
    const char *bucket, *key;       /* required */
    const char *region;             /* the SigV4 scope's region (NULL: "us-east-1") */
    const char *access_key_id;      /* required */
    const char *secret_access_key;  /* required */
    const char *session_token;      /* temporary credentials' token (NULL: long-term keys) */
    int virtual_host;               /* 1: <bucket>.<host>/<key>; 0 (default): <host>/<bucket>/<key> */
} vodup_s3_target;
#define VODUP_S3_TARGET_INIT {VODUP_S3_TARGET_VERSION, NULL, NULL, NULL, NULL, NULL, NULL, NULL, 0}

/* Upload-auth mode: item id goes to the S3 object t names, signed with t's keys (strings
 * copied), typically from on_upload_started. Resume records, parallel parts, retries and
 * progress work as for OSS; new keys after on_upload_token_expired come through
 * vodup_client_resume_with_auth (an UploadAuth with AccessKeyId, AccessKeySecret,
 * SecurityToken, Region) or another call of this function. Errors: VODUP_EINVAL (a
 * required field missing, an endpoint that is not http:// or https://), VODUP_ENOENT
 * (no such item), VODUP_ESTATE (not upload-auth mode, or the item ended), VODUP_ENOMEM. */
VODUP_EXTERN int vodup_client_set_s3_target(vodup_client *c, int id, const vodup_s3_target *t);
/* After on_upload_token_expired in upload-auth mode: new UploadAuth (e.g. from
 * RefreshUploadVideo) for item id, and the upload goes on from its stored parts. */
VODUP_EXTERN int vodup_client_resume_with_auth(vodup_client *c, int id, const char *upload_auth);

/* STS mode: the client calls CreateUploadVideo / CreateUploadImage (and
 * RefreshUploadVideo) itself at vod_endpoint ("http://host:port"), signed with these
 * temporary credentials. security_token NULL means a long-term AccessKey (trusted
 * programs such as the CLI). */
VODUP_EXTERN int vodup_client_use_sts(vodup_client *c, const char *vod_endpoint, const char *access_key_id,
                                      const char *access_key_secret, const char *security_token);
/* New STS credentials (after on_upload_token_expired, or any time). Every waiting file
 * goes on. */
VODUP_EXTERN int vodup_client_resume_with_sts(vodup_client *c, const char *access_key_id,
                                              const char *access_key_secret, const char *security_token);

/* Auth-provider mode (what the official SDKs' newest generation does): the client
 * calls provider whenever it needs credentials for an item — to create them
 * (VODUP_AUTH_CREATE) or, ahead of expiry, to refresh them (VODUP_AUTH_REFRESH) — on
 * the callback thread, in turn with the callbacks. The provider fills *out (strings
 * copied after it returns) and returns 0, or a negative code to fail the file. It may
 * block (e.g. on an HTTP call to the application's server): files already uploading go
 * on meanwhile; only callbacks wait. */
typedef enum vodup_auth_kind { VODUP_AUTH_CREATE = 0, VODUP_AUTH_REFRESH = 1 } vodup_auth_kind;
typedef struct vodup_auth_result {
    const char *upload_address;     /* base64 JSON; may be NULL on REFRESH (unchanged) */
    const char *upload_auth;        /* base64 JSON */
    const char *media_id;
} vodup_auth_result;
typedef int vodup_auth_provider_cb(vodup_client *c, const vodup_file_info *f, vodup_auth_kind kind,
                                   vodup_auth_result *out, void *user);
VODUP_EXTERN int vodup_client_use_auth_provider(vodup_client *c, vodup_auth_provider_cb *provider, void *user);

/* ---- the upload list -------------------------------------------------------------------- */

/* Adds a file (copied path; info may be NULL). *id gets its id. The file's size is taken
 * now. Errors: VODUP_ENOENT (no such readable file), VODUP_EINVAL, VODUP_EEXIST (the same
 * file - same path, or same device and inode - is already in the list and has not
 * succeeded: resume or delete that item instead; both would go to one upload). */
VODUP_EXTERN int vodup_client_add_file(vodup_client *c, int *id, const char *path, vodup_media_type type,
                                       const vodup_vod_info *info);
/* Removes an item (stopping its transfer and deleting its resume record). */
VODUP_EXTERN int vodup_client_delete_file(vodup_client *c, int id);
/* Stops an item's transfer and marks it CANCELED; its stored parts and record stay, so
 * vodup_client_resume_file can go on later. */
VODUP_EXTERN int vodup_client_cancel_file(vodup_client *c, int id);
/* Puts a CANCELED or FAIL item back in the queue (it goes on from its stored parts). */
VODUP_EXTERN int vodup_client_resume_file(vodup_client *c, int id);
/* Snapshot of one item: *out is the caller's, freed with vodup_file_info_free. */
VODUP_EXTERN int vodup_client_get_file(vodup_client *c, int id, vodup_file_info **out);
VODUP_EXTERN void vodup_file_info_free(vodup_file_info *f);
/* Calls cb for every item in the order added (snapshots, borrowed during the call). */
VODUP_EXTERN int vodup_client_list_files(vodup_client *c,
                                         void (*cb)(const vodup_file_info *f, void *user), void *user);
/* Removes every item (as delete_file on each). */
VODUP_EXTERN int vodup_client_clear_files(vodup_client *c);

/* ---- control of the whole list ---------------------------------------------------------- */

/* Starts uploading the INIT items (files_at_once at a time). Once every item has ended
 * the list is idle: a file added later waits for the next start (resume_file, though,
 * restarts the list by itself). */
VODUP_EXTERN int vodup_client_start(vodup_client *c);
/* Stops all transfers; UPLOADING items go back to INIT (records kept). start again resumes. */
VODUP_EXTERN int vodup_client_stop(vodup_client *c);
/* Pauses at once: in-flight requests are dropped (their parts are sent again later),
 * nothing stored is lost. Items become PAUSED. */
VODUP_EXTERN int vodup_client_pause(vodup_client *c);
VODUP_EXTERN int vodup_client_resume(vodup_client *c);
/* Blocks until every item has ended (on_list_completed) or timeout_ms passes (-1:
 * forever). Not from a callback (VODUP_ESTATE). When the list is complete: 0 if every
 * item succeeded; otherwise the error of the first item (in list order) that ended FAIL,
 * or VODUP_ECANCELED if none failed but some ended CANCELED (the last error counts
 * them). VODUP_ETIMEDOUT when timeout_ms passed first (older libvodup said VODUP_ESTATE). */
VODUP_EXTERN int vodup_client_wait(vodup_client *c, long timeout_ms);

/* ---- network policy ------------------------------------------------------------------ */

typedef enum vodup_network {
    VODUP_NETWORK_WIFI = 0,         /* or wired: unmetered */
    VODUP_NETWORK_CELLULAR = 1,     /* metered: uploads pause if pause_on_cellular is set */
    VODUP_NETWORK_NONE = 2          /* offline: uploads wait, and go on when a network returns */
} vodup_network;
/* Tells the client what network the device is on now. */
VODUP_EXTERN int vodup_client_set_network(vodup_client *c, vodup_network n);

/* ---- the VOD / STS API client (for application servers and tools) --------------------- */

typedef struct vodup_api vodup_api;

/* A client of the RPC API at endpoint ("http://host:port"), signing with the given
 * AccessKey (security_token NULL for long-term keys). Thread-safe; calls block. */
VODUP_EXTERN int vodup_api_new(vodup_api **out, const char *endpoint, const char *access_key_id,
                               const char *access_key_secret, const char *security_token);
VODUP_EXTERN void vodup_api_free(vodup_api *a);
/* Calls action (e.g. "CreateUploadVideo") of version ("2017-03-21" VOD, "2015-04-01"
 * STS) with params, a NULL-terminated array of name, value, name, value..., as POST.
 * On HTTP success *json_out gets the response body (caller frees with vodup_free) and 0
 * returns. On an API error: VODUP_EAUTH / VODUP_EEXPIRED / VODUP_ESERVER, *json_out the
 * error body (with Code and Message), and vodup_api_last_error tells. */
VODUP_EXTERN int vodup_api_call(vodup_api *a, const char *version, const char *action, const char *const *params,
                                char **json_out);
/* The message of this thread's latest failed call on a ("" after a success). */
VODUP_EXTERN const char *vodup_api_last_error(vodup_api *a);
/* Trusts the certificate authorities in ca_file (PEM; copied) instead of the system's store
 * for https endpoints; NULL goes back to the system's. Not while a call on a is under way.
 * Errors: VODUP_EINVAL (a NULL), VODUP_ENOMEM. */
VODUP_EXTERN int vodup_api_set_ca_file(vodup_api *a, const char *ca_file);
VODUP_EXTERN void vodup_free(void *p);

#ifdef __cplusplus
}
#endif
#endif
