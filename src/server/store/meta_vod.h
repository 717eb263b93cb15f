/* meta_vod.h - the metadata of the VOD side: RAM users and roles, media records, the
 * per-account callback configuration, the event outbox and the nonce ledger.
 *
 * Same conventions as meta.h (one transaction per call, strings owned by the struct and
 * released with the _clear function, VODUP_META_* codes, wrappers over the back end's ops
 * table of meta_ops.h). The SQLite back end implements them in meta_sqlite_vod.c.
 *
 * The link between the object store and media is made inside the store's own
 * transactions: when vodup_meta_object_put or vodup_meta_upload_complete writes an
 * object that a media record points at, the same transaction sets the media's status
 * (video: UploadSucc, image and attached media: Normal), size, CRC-64 and modification
 * time, and appends an event to the outbox. So "the object is complete" and "the
 * application will be told" can never be separated by a crash.
 */
#ifndef VODUP_STORE_META_VOD_H
#define VODUP_STORE_META_VOD_H

#include <stddef.h>
#include <stdint.h>
#include <time.h>

#include "server/store/meta.h"

/* --- RAM users and roles --------------------------------------------------------- */
typedef struct vodup_meta_principal {
    char *account_id;
    char *name;
    char *arn;          /* roles: acs:ram::<account>:role/<name>; users: acs:ram::<account>:user/<name> */
    char *policies;     /* JSON array of {"PolicyName":..., "PolicyDocument":{...}} */
    int max_session;    /* roles: the longest DurationSeconds allowed (3600 by default) */
    time_t created;
} vodup_meta_principal;

/* kind is "user" or "role". EEXISTS when the name is taken in the account. */
int vodup_meta_principal_create(vodup_meta *m, const char *kind, const vodup_meta_principal *p);
int vodup_meta_principal_get(vodup_meta *m, const char *kind, const char *account_id, const char *name,
                             vodup_meta_principal *out);
int vodup_meta_principal_list(vodup_meta *m, const char *kind, const char *account_id,
                              int (*cb)(const vodup_meta_principal *p, void *u), void *u);
/* Deleting a user also deletes its access keys. ENOTFOUND when absent. */
int vodup_meta_principal_delete(vodup_meta *m, const char *kind, const char *account_id, const char *name);
void vodup_meta_principal_clear(vodup_meta_principal *p);

/* Access keys of a principal ("root" or the user name), for listing. cb gets key ids. */
int vodup_meta_key_list(vodup_meta *m, const char *account_id, const char *principal,
                        int (*cb)(const char *key_id, int active, time_t created, void *u), void *u);

/* --- replay protection -------------------------------------------------------------- */
/* Records (key_id, nonce) as used at now. EEXISTS when it was used within ttl seconds.
 * Entries older than ttl are purged as a side effect (bounded work per call). */
int vodup_meta_nonce_use(vodup_meta *m, const char *key_id, const char *nonce, time_t now, int ttl);

/* --- media ------------------------------------------------------------------------------ */
typedef struct vodup_meta_media {
    char id[33];            /* 32 lower-case hex */
    char kind[12];          /* "video", "image", "attached" */
    char status[20];        /* video: Uploading|UploadSucc|...; image/attached: Uploading|Normal */
    char *account_id;
    char *title;
    char *description;
    char *tags;
    char *cover_url;
    char *user_data;        /* UserData JSON as given */
    char *template_group_id;
    char *app_id;
    char *file_name;        /* as the client named it */
    char *storage_location;
    char *image_type;       /* images: default|cover */
    char *business_type;    /* attached media: watermark|subtitle|material */
    char *ext;              /* file extension, lower case, no dot */
    long long cate_id;      /* -1 when none */
    uint64_t file_size;     /* as declared at creation, 0 when unknown */
    char *bucket;
    char *object_key;
    uint64_t size;          /* as stored, when complete */
    uint64_t crc64;
    time_t created;
    time_t modified;
} vodup_meta_media;

int vodup_meta_media_create(vodup_meta *m, const vodup_meta_media *md);
/* ENOTFOUND when absent or owned by another account. */
int vodup_meta_media_get(vodup_meta *m, const char *account_id, const char *id, vodup_meta_media *out);
/* The media whose object is bucket/key (for checking that an upload is still wanted). */
int vodup_meta_media_find_object(vodup_meta *m, const char *bucket, const char *key, size_t key_len,
                                 vodup_meta_media *out);

typedef struct vodup_meta_media_filter {
    const char *kind;           /* required */
    const char *statuses;       /* comma-separated, case-insensitive, NULL = any */
    long long cate_id;          /* -1 = any */
    time_t start, end;          /* creation time window, 0 = open */
    const char *storage_location; /* NULL = any */
    int ascending;              /* by creation time (then id) */
    size_t offset, limit;
} vodup_meta_media_filter;
/* Calls cb for each match in order; *total gets the number of all matches. */
int vodup_meta_media_list(vodup_meta *m, const char *account_id, const vodup_meta_media_filter *f,
                          int (*cb)(const vodup_meta_media *md, void *u), void *u, size_t *total);
/* Deletes the record, its object (blobs to the garbage list) and any open multipart
 * uploads of its key. ENOTFOUND when absent or not the account's. */
int vodup_meta_media_delete(vodup_meta *m, const char *account_id, const char *id);
/* Marks an existing record as being uploaded again (RefreshUploadVideo). */
int vodup_meta_media_set_status(vodup_meta *m, const char *id, const char *status, time_t now);
void vodup_meta_media_clear(vodup_meta_media *md);

/* --- event callbacks --------------------------------------------------------------- */
/* The account's SetMessageCallback configuration as JSON text (NULL/ENOTFOUND when none). */
int vodup_meta_callback_set(vodup_meta *m, const char *account_id, const char *config_json);
int vodup_meta_callback_get(vodup_meta *m, const char *account_id, char **config_json);

/* The AuthKey inside a callback configuration is a long-term secret: with a sealer
 * installed, callback_set stores it sealed (bound to the account) and callback_get opens it
 * again, so callers keep seeing plain JSON. The store holds no key material itself; the
 * server installs a sealer made from its master key (events_seal_install) before serving.
 * Without one (tests of the store alone) AuthKeys are stored as given. */
typedef struct vodup_meta_sealer {
    /* malloc'd printable text sealing secret under aad; NULL on failure */
    char *(*seal)(void *ctx, const char *aad, const char *secret);
    /* malloc'd secret from what seal made; NULL when it does not open */
    char *(*open)(void *ctx, const char *aad, const char *sealed);
    void *ctx;
} vodup_meta_sealer;
/* Installs (copies) the sealer; call before other threads use the store. NULL removes it. */
void vodup_meta_set_sealer(vodup_meta *m, const vodup_meta_sealer *sealer);
/* Migration: seals every AuthKey still stored in plain text (data dirs of earlier versions)
 * and forgets AuthKeys copied into the outbox; scrubs the freed bytes from the file.
 * Number of configurations sealed, or a VODUP_META_* error. Needs a sealer. */
int vodup_meta_callback_seal_all(vodup_meta *m);

typedef struct vodup_meta_event {
    long long id;
    char *account_id;
    char *media_id;
    char *event_type;       /* FileUploadComplete | ImageUploadComplete | AttachedMediaUploadComplete */
    char *body;             /* JSON, NULL until the sender first builds it */
    char *url;              /* where it goes, fixed with the body */
    char *auth_key;         /* no longer written (NULL): the sender signs with the account's current AuthKey */
    int attempts;
    time_t created;
    time_t next_at;
    char *last_error;
} vodup_meta_event;

/* Claims the events with next_at <= now, oldest first, at most max: in the same
 * transaction their next_at becomes now + VODUP_META_EVENT_LEASE (the value cb sees), so
 * callers polling at once (threads, or nodes sharing the store) never get the same event
 * within the lease. An event claimed and then neither done, retried nor deferred (its
 * sender crashed) is due again when the lease has passed. */
#define VODUP_META_EVENT_LEASE 120
int vodup_meta_event_due(vodup_meta *m, time_t now, size_t max,
                         int (*cb)(const vodup_meta_event *e, void *u), void *u);
/* All pending events of an account (NULL = all accounts), for operators. */
int vodup_meta_event_list(vodup_meta *m, const char *account_id,
                          int (*cb)(const vodup_meta_event *e, void *u), void *u);
/* Fixes body and url the first time an event is sent (auth_key: pass NULL). */
int vodup_meta_event_prepare(vodup_meta *m, long long id, const char *body, const char *url, const char *auth_key);
int vodup_meta_event_done(vodup_meta *m, long long id);            /* delivered or dropped */
int vodup_meta_event_retry(vodup_meta *m, long long id, time_t next_at, const char *error); /* attempts++ */
/* Moves next_at without counting an attempt: the sender's lease on events it holds in
 * memory, and its "destination busy, later" (ENOTFOUND when the event is gone). */
int vodup_meta_event_defer(vodup_meta *m, long long id, time_t next_at);
/* Earliest next_at of any pending event; ENOTFOUND when none. */
int vodup_meta_event_next(vodup_meta *m, time_t *next_at);
void vodup_meta_event_clear(vodup_meta_event *e);

#endif
