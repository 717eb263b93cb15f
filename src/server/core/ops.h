/* ops.h - what the two object dialects (OSS, S3) share beyond core.h: reading a listing's
 * arguments, DeleteObjects, and the one authorization rule of an operation. Like core.h,
 * no wire format: the dialects parse and render (core/xml.h holds the XML they spell
 * alike). Threads and ownership as core.h. */
#ifndef VODUPD_CORE_OPS_H
#define VODUPD_CORE_OPS_H

#include "common/buf.h"
#include "server/core/core.h"

/* ---- buckets (bucket.c) ---------------------------------------------------------------- */

/* 1 when n may name a bucket: 3 to 63 of a-z, 0-9 and '-', starting and ending with a
 * letter or digit (OSS's rule; S3's allows '.' too, which vodupd does not, so that every
 * bucket is reachable through both dialects). */
int core_bucket_name_valid(const char *n);

/* ---- a listing's arguments (list.c) ---------------------------------------------------
 * Both dialects name and read them alike. */

/* As the client sent them (NULL: absent). */
typedef struct core_list_args {
    const char *prefix;
    const char *delimiter;
    const char *marker;         /* V1 marker, V2 start-after, or the uploads' key-marker */
    const char *token;          /* V2 continuation-token: core_list_token of the page before */
    int empty_token_invalid;    /* a present but empty token is refused (S3) or ignored (OSS) */
    const char *upload_id_marker; /* uploads: meaningful after a key-marker only */
    const char *max;            /* max-keys / max-uploads */
    int max_default;
    int max_limit;              /* larger values are cut to this */
} core_list_args;

/* Which argument core_list_query_init refused. */
typedef enum core_list_arg {
    CORE_LIST_ARG_NONE = 0,
    CORE_LIST_ARG_MAX,          /* not a whole number from 0 (9 digits at most) */
    CORE_LIST_ARG_TOKEN         /* not a token of ours */
} core_list_arg;

/* Fills q from a: prefix and delimiter ("" when absent), where to start (the later of
 * marker and token), the upload-id marker as it applies (none after a common prefix),
 * the page size. q's strings are a's, or *owned (malloc'd, the caller frees it; NULL
 * when none, also after a failure). EBADREQUEST with *bad set, ENOMEM. */
vodupd_status core_list_query_init(core_list_query *q, char **owned, const core_list_args *a, core_list_arg *bad);
/* A truncated page's continuation token (the base64 of res->last), appended to out. */
void core_list_token(vbuf *out, const core_list_result *res);

/* ---- deleting many objects (delete.c) ------------------------------------------------ */

#define CORE_DELETE_MAX_KEYS 1000   /* keys in one request, as OSS and S3 allow */

typedef struct core_delete_item {
    const char *key;
    size_t key_len;
    vodupd_status st;           /* out: OK (deleted, or not there), EDENIED, EREVOKED, EIO */
    vodupd_detail d;            /* out */
} core_delete_item;

struct vodup_cred;
/* Deletes each item's key from bucket as cred may, one key at a time: a refusal or a
 * failure on one key is that key's status and the others go on. Per key, cred must be
 * allowed DeleteObject there (core_authorize: upload credentials only within their
 * scope, RAM users and roles by policy); the bucket's ownership is the caller's check
 * (core_bucket_get). ETOOLARGE (detail.limit) for more than CORE_DELETE_MAX_KEYS keys,
 * EBADREQUEST for none; else OK with every item's status set. Kicks the collector. */
vodupd_status core_object_delete_many(const core *c, const struct vodup_cred *cred, const char *bucket,
                                      core_delete_item *items, size_t n, vodupd_detail *d);

/* ---- authorization of one operation (delete.c) ---------------------------------------
 * One rule for both dialects, which name operations alike (OSS's names, so that one
 * policy governs one namespace whichever dialect reaches it). Upload credentials: the
 * scope check (core_scope_check; w and upload_id as there, res->replay_only may be set).
 * RAM users, roles and temporary keys: a policy allowing "oss:<action>" on
 * "acs:oss:*:<account>:<bucket>[/<key>]" (bucket "*" when empty). Root keys: all (their
 * buckets' ownership is the handlers' check). EDENIED (DENY_SCOPE, DENY_COMPLETE, or
 * DENY_POLICY with detail.what = action), EREVOKED, EIO. */
vodupd_status core_authorize(const core *c, const struct vodup_cred *cred, const char *action, core_write w,
                             const char *bucket, const char *key, size_t key_len, const char *upload_id,
                             core_scope_result *res, vodupd_detail *d);

#endif
