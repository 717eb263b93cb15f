/* meta.c - what every metadata back end shares: the vodup_meta_* wrappers that dispatch
 * through the ops table (meta_ops.h), and the helpers that know no back end (freeing
 * the structs the store hands out, the sealer).
 *
 * Each wrapper first checks that it is not running on an HTTP event-loop thread
 * (loop_guard.h: debug builds abort there, release builds compile the check out), so no
 * back end has to, and a slow store can never stall a loop unnoticed in the tests.
 */
#include "server/store/meta_ops.h"
#include "server/store/loop_guard.h"

#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define STORE_CALL() VODUP_STORE_OFF_LOOP(__func__)

int vodup_meta_init(vodup_meta *m, const vodup_meta_ops *ops)
{
    if (!ops || ops->version < VODUP_META_OPS_MIN_VERSION || ops->version > VODUP_META_OPS_VERSION) {
        fprintf(stderr, "vodup meta: back end %s implements ops version %u, this vodupd %u\n",
                ops && ops->name ? ops->name : "(unnamed)", ops ? ops->version : 0,
                (unsigned)VODUP_META_OPS_VERSION);
        return VODUP_META_EIO;
    }
    memset(m, 0, sizeof *m);
    m->ops = ops;
    return VODUP_META_OK;
}

int vodup_meta_revocations_init(vodup_meta_revocations *r, const vodup_meta_ops *ops)
{
    vodup_meta probe;
    int rc = vodup_meta_init(&probe, ops);
    if (rc == VODUP_META_OK)
        r->ops = ops;
    return rc;
}

int vodup_meta_supports(const vodup_meta *m, unsigned version)
{
    return m && m->ops->version >= version;
}

/* The wrappers of calls added after VODUP_META_OPS_MIN_VERSION: an older back end has no
 * such member. */
#define SINCE(v)                                \
    do {                                        \
        if (m->ops->version < (v))              \
            return VODUP_META_ENOTSUP;          \
    } while (0)

void vodup_meta_close(vodup_meta *m)
{
    if (!m)
        return;
    STORE_CALL();
    m->ops->close(m);
}

/* ---- the sealer: kept in the common part, used by the back end's callback_set/get ---- */

void vodup_meta_set_sealer(vodup_meta *m, const vodup_meta_sealer *sealer)
{
    if (sealer)
        m->sealer = *sealer;
    else
        memset(&m->sealer, 0, sizeof m->sealer);
}

const vodup_meta_sealer *vodup_meta_sealer_of(const vodup_meta *m)
{
    return m->sealer.seal && m->sealer.open ? &m->sealer : NULL;
}

/* ---- the wrappers ---------------------------------------------------------------------- */

int vodup_meta_account_create(vodup_meta *m, const char *account_id, const char *name, time_t now)
{
    STORE_CALL();
    return m->ops->account_create(m, account_id, name, now);
}

int vodup_meta_key_create(vodup_meta *m, const char *key_id, const char *account_id,
                          const char *principal, const void *secret_sealed, size_t sealed_len,
                          time_t now)
{
    STORE_CALL();
    return m->ops->key_create(m, key_id, account_id, principal, secret_sealed, sealed_len, now);
}

int vodup_meta_key_get(vodup_meta *m, const char *key_id, vodup_meta_key *out)
{
    STORE_CALL();
    return m->ops->key_get(m, key_id, out);
}

int vodup_meta_setting_get(vodup_meta *m, const char *name, char **value)
{
    STORE_CALL();
    return m->ops->setting_get(m, name, value);
}

int vodup_meta_setting_set(vodup_meta *m, const char *name, const char *value)
{
    STORE_CALL();
    return m->ops->setting_set(m, name, value);
}

int vodup_meta_setting_add(vodup_meta *m, const char *name, const char *value)
{
    STORE_CALL();
    return m->ops->setting_add(m, name, value);
}

int vodup_meta_bucket_create(vodup_meta *m, const char *name, const char *account_id, time_t now)
{
    STORE_CALL();
    return m->ops->bucket_create(m, name, account_id, now);
}

int vodup_meta_bucket_get(vodup_meta *m, const char *name, vodup_meta_bucket *out)
{
    STORE_CALL();
    return m->ops->bucket_get(m, name, out);
}

int vodup_meta_bucket_delete(vodup_meta *m, const char *name)
{
    STORE_CALL();
    return m->ops->bucket_delete(m, name);
}

int vodup_meta_bucket_list(vodup_meta *m, const char *account_id,
                           int (*cb)(const vodup_meta_bucket *b, void *u), void *u)
{
    STORE_CALL();
    return m->ops->bucket_list(m, account_id, cb, u);
}

int vodup_meta_object_put(vodup_meta *m, const vodup_meta_object *o)
{
    STORE_CALL();
    return m->ops->object_put(m, o);
}

int vodup_meta_object_get(vodup_meta *m, const char *bucket, const char *key, size_t key_len,
                          vodup_meta_object *out)
{
    STORE_CALL();
    return m->ops->object_get(m, bucket, key, key_len, out);
}

int vodup_meta_object_delete(vodup_meta *m, const char *bucket, const char *key, size_t key_len)
{
    STORE_CALL();
    return m->ops->object_delete(m, bucket, key, key_len);
}

int vodup_meta_object_list(vodup_meta *m, const char *bucket, const char *prefix, size_t prefix_len,
                           const char *after, size_t after_len, size_t limit,
                           int (*cb)(const vodup_meta_object *o, void *u), void *u)
{
    STORE_CALL();
    return m->ops->object_list(m, bucket, prefix, prefix_len, after, after_len, limit, cb, u);
}

int vodup_meta_upload_create(vodup_meta *m, const vodup_meta_upload *u, const char *account_id,
                             int max_open)
{
    STORE_CALL();
    return m->ops->upload_create(m, u, account_id, max_open);
}

int vodup_meta_upload_get(vodup_meta *m, const char *upload_id, vodup_meta_upload *out)
{
    STORE_CALL();
    return m->ops->upload_get(m, upload_id, out);
}

int vodup_meta_part_put(vodup_meta *m, const char *upload_id, const vodup_meta_part *p)
{
    STORE_CALL();
    return m->ops->part_put(m, upload_id, p);
}

int vodup_meta_part_list(vodup_meta *m, const char *upload_id, int marker, size_t limit,
                         int (*cb)(const vodup_meta_part *p, void *u), void *u)
{
    STORE_CALL();
    return m->ops->part_list(m, upload_id, marker, limit, cb, u);
}

int vodup_meta_upload_abort(vodup_meta *m, const char *upload_id)
{
    STORE_CALL();
    return m->ops->upload_abort(m, upload_id);
}

int vodup_meta_upload_expire(vodup_meta *m, time_t before, int max)
{
    STORE_CALL();
    return m->ops->upload_expire(m, before, max);
}

int vodup_meta_upload_list(vodup_meta *m, const char *bucket, const char *prefix, size_t prefix_len,
                           const char *key_marker, size_t key_marker_len,
                           const char *upload_id_marker, size_t limit,
                           int (*cb)(const vodup_meta_upload *u, void *user), void *user)
{
    STORE_CALL();
    return m->ops->upload_list(m, bucket, prefix, prefix_len, key_marker, key_marker_len,
                               upload_id_marker, limit, cb, user);
}

int vodup_meta_upload_complete(vodup_meta *m, const char *upload_id,
                               const vodup_meta_complete_part *parts, size_t nparts,
                               uint64_t min_part_size, time_t now, vodup_meta_object *out,
                               size_t *bad_index)
{
    STORE_CALL();
    return m->ops->upload_complete(m, upload_id, parts, nparts, min_part_size, now, out, bad_index);
}

int vodup_meta_gc_take(vodup_meta *m, char (*ids)[VODUP_BLOB_ID_LEN + 1], int max)
{
    STORE_CALL();
    return m->ops->gc_take(m, ids, max);
}

int vodup_meta_gc_done(vodup_meta *m, char (*ids)[VODUP_BLOB_ID_LEN + 1], int n)
{
    STORE_CALL();
    return m->ops->gc_done(m, ids, n);
}

int vodup_meta_blob_is_live(vodup_meta *m, const char *blob)
{
    STORE_CALL();
    return m->ops->blob_is_live(m, blob);
}

int vodup_meta_object_put_guarded(vodup_meta *m, const vodup_meta_object *o,
                                  const vodup_meta_guard *g)
{
    STORE_CALL();
    return m->ops->object_put_guarded(m, o, g);
}

int vodup_meta_part_put_guarded(vodup_meta *m, const char *upload_id, const vodup_meta_part *p,
                                const vodup_meta_guard *g)
{
    STORE_CALL();
    return m->ops->part_put_guarded(m, upload_id, p, g);
}

int vodup_meta_upload_complete_guarded(vodup_meta *m, const char *upload_id,
                                       const vodup_meta_complete_part *parts, size_t nparts,
                                       uint64_t min_part_size, time_t now, vodup_meta_object *out,
                                       size_t *bad_index, const vodup_meta_guard *g)
{
    STORE_CALL();
    return m->ops->upload_complete_guarded(m, upload_id, parts, nparts, min_part_size, now, out,
                                           bad_index, g);
}

int vodup_meta_upload_commit(vodup_meta *m, const char *upload_id, const vodup_meta_part *parts,
                             size_t nparts, const vodup_meta_object *fields, const vodup_meta_guard *g,
                             vodup_meta_object *out, size_t *bad_index)
{
    STORE_CALL();
    return m->ops->upload_commit(m, upload_id, parts, nparts, fields, g, out, bad_index);
}

int vodup_meta_upload_create_guarded(vodup_meta *m, const vodup_meta_upload *u,
                                     const char *account_id, int max_open,
                                     const vodup_meta_guard *g, int max_per_key, int *evicted)
{
    STORE_CALL();
    return m->ops->upload_create_guarded(m, u, account_id, max_open, g, max_per_key, evicted);
}

int vodup_meta_upload_expire_creds(vodup_meta *m, time_t before, int max)
{
    STORE_CALL();
    return m->ops->upload_expire_creds(m, before, max);
}

int vodup_meta_gc_take_after(vodup_meta *m, const char *after, char (*ids)[VODUP_BLOB_ID_LEN + 1],
                             int max)
{
    STORE_CALL();
    return m->ops->gc_take_after(m, after, ids, max);
}

int vodup_meta_principal_delete_revoking(vodup_meta *m, const char *kind, const char *account_id,
                                         const char *name)
{
    STORE_CALL();
    return m->ops->principal_delete_revoking(m, kind, account_id, name);
}

int vodup_meta_revocation_get(vodup_meta *m, const char *account_id, const char *principal,
                              long long *gen)
{
    STORE_CALL();
    return m->ops->revocation_get(m, account_id, principal, gen);
}

int vodup_meta_principal_create(vodup_meta *m, const char *kind, const vodup_meta_principal *p)
{
    STORE_CALL();
    return m->ops->principal_create(m, kind, p);
}

int vodup_meta_principal_get(vodup_meta *m, const char *kind, const char *account_id,
                             const char *name, vodup_meta_principal *out)
{
    STORE_CALL();
    return m->ops->principal_get(m, kind, account_id, name, out);
}

int vodup_meta_principal_list(vodup_meta *m, const char *kind, const char *account_id,
                              int (*cb)(const vodup_meta_principal *p, void *u), void *u)
{
    STORE_CALL();
    return m->ops->principal_list(m, kind, account_id, cb, u);
}

int vodup_meta_principal_delete(vodup_meta *m, const char *kind, const char *account_id,
                                const char *name)
{
    STORE_CALL();
    return m->ops->principal_delete(m, kind, account_id, name);
}

int vodup_meta_key_list(vodup_meta *m, const char *account_id, const char *principal,
                        int (*cb)(const char *key_id, int active, time_t created, void *u), void *u)
{
    STORE_CALL();
    return m->ops->key_list(m, account_id, principal, cb, u);
}

int vodup_meta_nonce_use(vodup_meta *m, const char *key_id, const char *nonce, time_t now, int ttl)
{
    STORE_CALL();
    return m->ops->nonce_use(m, key_id, nonce, now, ttl);
}

int vodup_meta_media_create(vodup_meta *m, const vodup_meta_media *md)
{
    STORE_CALL();
    return m->ops->media_create(m, md);
}

int vodup_meta_media_get(vodup_meta *m, const char *account_id, const char *id,
                         vodup_meta_media *out)
{
    STORE_CALL();
    return m->ops->media_get(m, account_id, id, out);
}

int vodup_meta_media_find_object(vodup_meta *m, const char *bucket, const char *key, size_t key_len,
                                 vodup_meta_media *out)
{
    STORE_CALL();
    return m->ops->media_find_object(m, bucket, key, key_len, out);
}

int vodup_meta_media_list(vodup_meta *m, const char *account_id, const vodup_meta_media_filter *f,
                          int (*cb)(const vodup_meta_media *md, void *u), void *u, size_t *total)
{
    STORE_CALL();
    return m->ops->media_list(m, account_id, f, cb, u, total);
}

int vodup_meta_media_delete(vodup_meta *m, const char *account_id, const char *id)
{
    STORE_CALL();
    return m->ops->media_delete(m, account_id, id);
}

int vodup_meta_media_set_status(vodup_meta *m, const char *id, const char *status, time_t now)
{
    STORE_CALL();
    return m->ops->media_set_status(m, id, status, now);
}

int vodup_meta_callback_set(vodup_meta *m, const char *account_id, const char *config_json)
{
    STORE_CALL();
    return m->ops->callback_set(m, account_id, config_json);
}

int vodup_meta_callback_get(vodup_meta *m, const char *account_id, char **config_json)
{
    STORE_CALL();
    return m->ops->callback_get(m, account_id, config_json);
}

int vodup_meta_callback_seal_all(vodup_meta *m)
{
    STORE_CALL();
    return m->ops->callback_seal_all(m);
}

int vodup_meta_event_due(vodup_meta *m, time_t now, size_t max,
                         int (*cb)(const vodup_meta_event *e, void *u), void *u)
{
    STORE_CALL();
    return m->ops->event_due(m, now, max, cb, u);
}

int vodup_meta_event_list(vodup_meta *m, const char *account_id,
                          int (*cb)(const vodup_meta_event *e, void *u), void *u)
{
    STORE_CALL();
    return m->ops->event_list(m, account_id, cb, u);
}

int vodup_meta_event_prepare(vodup_meta *m, long long id, const char *body, const char *url,
                             const char *auth_key)
{
    STORE_CALL();
    return m->ops->event_prepare(m, id, body, url, auth_key);
}

int vodup_meta_event_done(vodup_meta *m, long long id)
{
    STORE_CALL();
    return m->ops->event_done(m, id);
}

int vodup_meta_event_retry(vodup_meta *m, long long id, time_t next_at, const char *error)
{
    STORE_CALL();
    return m->ops->event_retry(m, id, next_at, error);
}

int vodup_meta_event_defer(vodup_meta *m, long long id, time_t next_at)
{
    STORE_CALL();
    return m->ops->event_defer(m, id, next_at);
}

int vodup_meta_event_next(vodup_meta *m, time_t *next_at)
{
    STORE_CALL();
    return m->ops->event_next(m, next_at);
}
int vodup_meta_revocations_get(vodup_meta_revocations *r, const char *account_id, const char *principal,
                               long long *gen)
{
    STORE_CALL();
    return r->ops->revocations_get(r, account_id, principal, gen);
}

void vodup_meta_revocations_close(vodup_meta_revocations *r)
{
    if (!r)
        return;
    STORE_CALL();
    r->ops->revocations_close(r);
}

/* ---- callback AuthKeys at rest: the same sealed form in every back end ------------- */

/* A sealed AuthKey is stored as this prefix and the sealer's text. Real AuthKeys are
 * letters and digits only (SetMessageCallback checks), so the prefix cannot be one. */
#define SEALED_PREFIX "vodup-sealed:1:"
#define SEAL_AAD_PREFIX "callback-authkey:"

static int is_sealed(const char *v)
{
    return strncmp(v, SEALED_PREFIX, sizeof SEALED_PREFIX - 1) == 0;
}

/* The sealing is bound to the account, so a sealed key copied to another account's row
 * does not open there. */
static int seal_aad(char *aad, size_t n, const char *account_id)
{
    int r = snprintf(aad, n, "%s%s", SEAL_AAD_PREFIX, account_id);
    return r < 0 || (size_t)r >= n ? -1 : 0;
}

int vodup_meta_auth_key_rewrite(const vodup_meta_sealer *sl, const char *account_id, const char *config,
                                int seal, char **out)
{
    *out = NULL;
    json_t *cfg = json_loads(config, 0, NULL);
    json_t *k = json_is_object(cfg) ? json_object_get(cfg, "AuthKey") : NULL;
    const char *v = json_is_string(k) ? json_string_value(k) : NULL;
    if (!v || !*v || (seal ? is_sealed(v) : !is_sealed(v))) {
        json_decref(cfg);
        return VODUP_META_OK;
    }
    char aad[200];
    if (seal_aad(aad, sizeof aad, account_id) != 0) {
        json_decref(cfg);
        return VODUP_META_EIO;
    }
    int rc = VODUP_META_ENOMEM;
    char *nv = NULL, *tmp = NULL;
    if (seal) {
        tmp = sl->seal(sl->ctx, aad, v);
        size_t n = tmp ? sizeof SEALED_PREFIX + strlen(tmp) : 0;
        nv = tmp ? malloc(n) : NULL;
        if (nv)
            snprintf(nv, n, "%s%s", SEALED_PREFIX, tmp);
    } else {
        nv = sl->open(sl->ctx, aad, v + sizeof SEALED_PREFIX - 1);
        if (!nv) {
            /* Never the key or the sealed text: only whose it is. */
            fprintf(stderr, "vodupd: the callback AuthKey of account %s does not open with this data dir's "
                            "master key\n", account_id);
            rc = VODUP_META_EIO;
        }
    }
    free(tmp);
    if (nv && json_object_set_new(cfg, "AuthKey", json_string(nv)) == 0) {
        *out = json_dumps(cfg, JSON_COMPACT | JSON_PRESERVE_ORDER);
        rc = *out ? VODUP_META_OK : VODUP_META_ENOMEM;
    }
    if (nv) {
        memset(nv, 0, strlen(nv));
        free(nv);
    }
    json_decref(cfg);   /* jansson frees its own copies of the key without wiping them */
    return rc;
}

/* ---- freeing what the store hands out ------------------------------------------------ */

void vodup_meta_key_clear(vodup_meta_key *k)
{
    if (!k)
        return;
    free(k->key_id);
    free(k->account_id);
    free(k->principal);
    if (k->sealed) {
        /* Sealed, but still nothing to leave lying around in freed memory. */
        volatile unsigned char *p = k->sealed;
        for (size_t i = 0; i < k->sealed_len; i++)
            p[i] = 0;
    }
    free(k->sealed);
    memset(k, 0, sizeof *k);
}

void vodup_meta_bucket_clear(vodup_meta_bucket *b)
{
    if (!b)
        return;
    free(b->name);
    free(b->account_id);
    memset(b, 0, sizeof *b);
}

void vodup_meta_object_clear(vodup_meta_object *o)
{
    if (!o)
        return;
    free(o->bucket);
    free(o->key);
    free(o->content_type);
    free(o->user_meta);
    free(o->segs);
    memset(o, 0, sizeof *o);
}

void vodup_meta_upload_clear(vodup_meta_upload *up)
{
    if (!up)
        return;
    free(up->bucket);
    free(up->key);
    free(up->content_type);
    free(up->user_meta);
    memset(up, 0, sizeof *up);
}

void vodup_meta_principal_clear(vodup_meta_principal *p)
{
    if (!p)
        return;
    free(p->account_id);
    free(p->name);
    free(p->arn);
    free(p->policies);
    memset(p, 0, sizeof *p);
}

void vodup_meta_media_clear(vodup_meta_media *md)
{
    if (!md)
        return;
    free(md->account_id);
    free(md->title);
    free(md->description);
    free(md->tags);
    free(md->cover_url);
    free(md->user_data);
    free(md->template_group_id);
    free(md->app_id);
    free(md->file_name);
    free(md->storage_location);
    free(md->image_type);
    free(md->business_type);
    free(md->ext);
    free(md->bucket);
    free(md->object_key);
    memset(md, 0, sizeof *md);
}

void vodup_meta_event_clear(vodup_meta_event *e)
{
    if (!e)
        return;
    free(e->account_id);
    free(e->media_id);
    free(e->event_type);
    free(e->body);
    free(e->url);
    free(e->auth_key);
    free(e->last_error);
    memset(e, 0, sizeof *e);
}

/* ---- meta_admin.h (ops version 3) ---- */

int vodup_meta_key_create_max(vodup_meta *m, const char *key_id, const char *account_id, const char *principal,
                              const void *secret_sealed, size_t sealed_len, time_t now, int max)
{
    STORE_CALL();
    return m->ops->key_create_max(m, key_id, account_id, principal, secret_sealed, sealed_len, now, max);
}

int vodup_meta_key_set_active(vodup_meta *m, const char *account_id, const char *key_id, int active)
{
    STORE_CALL();
    return m->ops->key_set_active(m, account_id, key_id, active);
}

int vodup_meta_key_delete(vodup_meta *m, const char *account_id, const char *key_id)
{
    STORE_CALL();
    return m->ops->key_delete(m, account_id, key_id);
}

int vodup_meta_media_expire_uploading(vodup_meta *m, time_t before, time_t now, int max)
{
    STORE_CALL();
    return m->ops->media_expire_uploading(m, before, now, max);
}

/* ---- meta_jobs.h (ops version 4, probe jobs) ---- */

int vodup_meta_probe_job_add(vodup_meta *m, const char *media_id, time_t now)
{
    STORE_CALL();
    SINCE(4);
    return m->ops->probe_job_add(m, media_id, now);
}

int vodup_meta_probe_job_claim(vodup_meta *m, const char *node, time_t now, int lease_s,
                               vodup_meta_probe_job *out)
{
    STORE_CALL();
    memset(out, 0, sizeof *out);
    SINCE(4);
    return m->ops->probe_job_claim(m, node, now, lease_s, out);
}

int vodup_meta_probe_job_release(vodup_meta *m, const char *media_id, const char *node,
                                 time_t next_at, const char *error)
{
    STORE_CALL();
    SINCE(4);
    return m->ops->probe_job_release(m, media_id, node, next_at, error);
}

int vodup_meta_probe_job_finish(vodup_meta *m, const vodup_meta_probe_result *r)
{
    STORE_CALL();
    SINCE(4);
    return m->ops->probe_job_finish(m, r);
}

int vodup_meta_probe_job_count(vodup_meta *m)
{
    STORE_CALL();
    SINCE(4);
    return m->ops->probe_job_count(m);
}

int vodup_meta_media_info_get(vodup_meta *m, const char *media_id, char **json)
{
    STORE_CALL();
    *json = NULL;
    SINCE(4);
    return m->ops->media_info_get(m, media_id, json);
}

int vodup_meta_probe_job_requeue_node(vodup_meta *m, const char *node, time_t now)
{
    STORE_CALL();
    SINCE(4);
    return m->ops->probe_job_requeue_node(m, node, now);
}

int vodup_meta_usage_get(vodup_meta *m, const char *account_id, uint64_t *used, int64_t *quota)
{
    STORE_CALL();
    SINCE(5);
    return m->ops->usage_get(m, account_id, used, quota);
}

int vodup_meta_quota_set(vodup_meta *m, const char *account_id, int64_t quota)
{
    STORE_CALL();
    SINCE(5);
    /* Every negative value means "the default": back ends see -1 only. */
    return m->ops->quota_set(m, account_id, quota < 0 ? -1 : quota);
}
