/* client.c - the public client API: handle, upload list, control, authorization modes.
 *
 * Every function here runs on the caller's thread: it checks arguments, changes [mu]
 * fields and wakes the worker (engine.c), which does the actual work. Nothing here
 * blocks on the network, so the API is safe to call from callbacks and UI threads. */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "client/internal.h"
#include "common/digest.h"

#define FAIL(c, code, ...) vcl_error_set((c), (c)->serial, (code), __VA_ARGS__)
/* Success clears this thread's last error: it always describes the latest call. */
#define DONE(c) vcl_error_clear((c), (c)->serial)
/* rc of a call that may have failed (its message already set) or succeeded. */
#define RET(c, rc) ((rc) == 0 ? DONE(c) : (rc))

static void lk(vodup_client *c) { pthread_mutex_lock(&c->mu); }
static void ulk(vodup_client *c) { pthread_mutex_unlock(&c->mu); }
static void wake(vodup_client *c) { curl_multi_wakeup(c->multi); }

/* The tail of every setter: the change is made [mu held], so release the lock and let
 * the worker see it. Returns 0 so that callers can end with `return unlock_wake(c)`. */
static int unlock_wake(vodup_client *c)
{
    ulk(c);
    wake(c);
    return DONE(c);
}

static int dup_opt(char **dst, const char *s)
{
    *dst = NULL;
    if (!s)
        return 0;
    *dst = strdup(s);
    return *dst ? 0 : -1;
}

/* Undoes the option copies of vodup_client_new while nothing else is set up yet
 * (client_destroy would also tear down the mutexes, which are not initialised). */
static void free_early(vodup_client *c)
{
    free(c->record_dir);
    free(c->region);
    free(c->user_agent);
    free(c->ca_file);
    free(c);
}

/* mkdir -p, 0700: resume records name the user's files. */
static int make_dirs(const char *dir)
{
    char *p = strdup(dir);
    if (!p)
        return VODUP_ENOMEM;
    int rc = 0;
    for (char *s = p + 1; rc == 0; s++) {
        if (*s == '/' || *s == '\0') {
            char saved = *s;
            *s = '\0';
            if (mkdir(p, 0700) < 0 && errno != EEXIST)
                rc = VODUP_EIO;
            *s = saved;
            if (saved == '\0')
                break;
        }
    }
    free(p);
    if (rc == 0) {
        struct stat st;
        if (stat(dir, &st) < 0 || !S_ISDIR(st.st_mode) || access(dir, W_OK | X_OK) < 0)
            rc = VODUP_EIO;
    }
    return rc;
}

static void client_destroy(vodup_client *c)
{
    for (size_t i = 0; i < c->nitems; i++)
        vcl_item_free(c->items[i]);
    free(c->items);
    free(c->events);
    if (c->multi)
        curl_multi_cleanup(c->multi);
    free(c->record_dir);
    free(c->region);
    free(c->user_agent);
    free(c->ca_file);
    free(c->vod_endpoint);
    vcl_creds_free(&c->sts);
    pthread_mutex_destroy(&c->mu);
    pthread_mutex_destroy(&c->rec_mu);
    pthread_cond_destroy(&c->cv);
    free(c);
}

int vodup_client_new(vodup_client **out, const vodup_options *opts, const vodup_listener *listener)
{
    if (!out)
        return VODUP_EINVAL;
    *out = NULL;
    vodup_options o = VODUP_OPTIONS_INIT;
    if (opts) {
        if (opts->version < 1)
            return VODUP_EINVAL;
        /* Only the fields of the caller's version: a program built against an older
         * header passes a shorter struct (the rest keeps its default), and a newer
         * caller's extra fields are beyond this struct and ignored. */
        size_t n = opts->version >= 4   ? sizeof o
                   : opts->version == 3 ? offsetof(vodup_options, small_files_at_once)
                   : opts->version == 2 ? offsetof(vodup_options, ca_file)
                                        : offsetof(vodup_options, on_change);
        memcpy(&o, opts, n);
        o.version = VODUP_OPTIONS_VERSION;
    }
    if ((o.on_change != VODUP_CHANGE_FAIL && o.on_change != VODUP_CHANGE_RESTART) || o.parallel < 1 || o.parallel > 32 || o.files_at_once < 1 || o.files_at_once > 64 || o.max_retries < 0 ||
        o.small_files_at_once < 1 || o.small_files_at_once > 64 ||
        o.progress_interval_ms < 0 || o.refresh_before_s < 0 ||
        (o.part_size && (o.part_size < 100 * 1024 || o.part_size > 5ull * 1024 * 1024 * 1024)))
        return VODUP_EINVAL;
    if (o.connect_timeout_ms <= 0)
        o.connect_timeout_ms = 10000;
    if (o.low_speed_time_s <= 0)
        o.low_speed_time_s = 30;
    if (vodup_global_init() < 0)
        return VODUP_ENOMEM;

    vodup_client *c = calloc(1, sizeof *c);
    if (!c)
        return VODUP_ENOMEM;
    c->serial = vcl_new_serial();
    c->o = o;
    if (dup_opt(&c->record_dir, o.record_dir) || dup_opt(&c->region, o.region ? o.region : "cn-hangzhou") ||
        dup_opt(&c->user_agent, o.user_agent) || dup_opt(&c->ca_file, o.ca_file)) {
        free_early(c);
        return VODUP_ENOMEM;
    }
    c->o.record_dir = c->record_dir;
    c->o.region = c->region;
    c->o.user_agent = c->user_agent;
    c->o.ca_file = c->ca_file;
    if (listener) {
        if (listener->version < 1) {
            free_early(c);
            return VODUP_EINVAL;
        }
        c->l = *listener;
    }
    pthread_mutex_init(&c->mu, NULL);
    pthread_mutex_init(&c->rec_mu, NULL);
    pthread_condattr_t ca;
    pthread_condattr_init(&ca);
    pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
    pthread_cond_init(&c->cv, &ca);
    pthread_condattr_destroy(&ca);
    c->next_id = 1;
    c->net = VODUP_NETWORK_WIFI;
    c->rng = vcl_new_serial();

    int rc = 0;
    if (c->record_dir && (rc = make_dirs(c->record_dir)) != 0) {
        client_destroy(c);
        return rc;
    }
    c->multi = curl_multi_init();
    if (!c->multi) {
        client_destroy(c);
        return VODUP_ENOMEM;
    }
    /* Keep enough idle connections for every part slot and small file, so that the next
     * parts and files reuse them. */
    curl_multi_setopt(c->multi, CURLMOPT_MAXCONNECTS,
                      (long)(o.parallel * o.files_at_once + o.small_files_at_once + 4));
    if (vcl_jobq_start(&c->cbq, c, 1) != 0) {
        client_destroy(c);
        return VODUP_ENOMEM;
    }
    /* A Create call per file starting: files that start together (small images, eight at
     * a time) do not wait in line for one another's answers. */
    int slots = o.files_at_once > o.small_files_at_once ? o.files_at_once : o.small_files_at_once;
    if (vcl_jobq_start(&c->rpcq, c, slots) != 0) {
        vcl_jobq_stop(&c->cbq);
        client_destroy(c);
        return VODUP_ENOMEM;
    }
    if (vcl_jobq_start(&c->syncq, c, 1) != 0) {
        vcl_jobq_stop(&c->rpcq);
        vcl_jobq_stop(&c->cbq);
        client_destroy(c);
        return VODUP_ENOMEM;
    }
    if (pthread_create(&c->thread, NULL, vcl_worker_main, c) != 0) {
        vcl_jobq_stop(&c->syncq);
        vcl_jobq_stop(&c->rpcq);
        vcl_jobq_stop(&c->cbq);
        client_destroy(c);
        return VODUP_ENOMEM;
    }
    *out = c;
    return 0;
}

void vodup_client_free(vodup_client *c)
{
    if (!c)
        return;
    /* From a callback this would join the calling thread itself: refuse (documented). */
    if (vcl_on_own_thread(c))
        return;
    lk(c);
    c->quit = 1;
    ulk(c);
    wake(c);
    pthread_join(c->thread, NULL);
    /* The worker is gone; VOD calls under way are abandoned, callbacks already queued
     * are delivered (an auth provider under way is waited for: it is the
     * application's code). */
    vcl_jobq_stop(&c->rpcq);
    vcl_jobq_stop(&c->cbq);
    vcl_jobq_stop(&c->syncq);   /* the record flushes queued are done first */
    client_destroy(c);
}

const char *vodup_client_last_error(vodup_client *c)
{
    return c ? vcl_error_get(c, c->serial) : "";
}

/* ---- authorization modes --------------------------------------------------------------- */

/* The mode is picked before start: files under way depend on it. */
static int mode_fixed(vodup_client *c)
{
    lk(c);
    int fixed = c->ever_started;
    ulk(c);
    return fixed ? FAIL(c, VODUP_ESTATE, "the authorization mode is picked before start") : 0;
}

int vodup_client_use_upload_auth(vodup_client *c)
{
    if (!c)
        return VODUP_EINVAL;
    if (mode_fixed(c))
        return VODUP_ESTATE;
    lk(c);
    c->mode = VCL_MODE_UPLOAD_AUTH;
    return unlock_wake(c);
}

static int set_sts(vodup_client *c, const char *ep, const char *ak, const char *sk, const char *tok)
{
    vcl_creds k;
    memset(&k, 0, sizeof k);
    char *e = NULL;
    if (dup_opt(&k.ak, ak) || dup_opt(&k.sk, sk) || dup_opt(&k.token, tok && *tok ? tok : NULL) ||
        (ep && dup_opt(&e, ep))) {
        vcl_creds_free(&k);
        free(e);
        return FAIL(c, VODUP_ENOMEM, "out of memory");
    }
    if (e) {
        size_t n = strlen(e);
        while (n && e[n - 1] == '/')
            e[--n] = '\0';
    }
    lk(c);
    vcl_creds_free(&c->sts);
    c->sts = k;
    if (e) {
        free(c->vod_endpoint);
        c->vod_endpoint = e;
    }
    c->mode = VCL_MODE_STS;
    c->sts_gen++;
    return unlock_wake(c);
}

int vodup_client_use_sts(vodup_client *c, const char *vod_endpoint, const char *access_key_id,
                         const char *access_key_secret, const char *security_token)
{
    if (!c)
        return VODUP_EINVAL;
    if (!vod_endpoint || !*vod_endpoint)
        return FAIL(c, VODUP_EINVAL, "vod_endpoint is required (e.g. \"http://127.0.0.1:9000\")");
    if (strncmp(vod_endpoint, "http://", 7) != 0 && strncmp(vod_endpoint, "https://", 8) != 0)
        return FAIL(c, VODUP_EINVAL, "vod_endpoint \"%.200s\" lacks its scheme: write http://%.200s or https://%.200s",
                    vod_endpoint, vod_endpoint, vod_endpoint);
    if (!access_key_id || !*access_key_id || !access_key_secret || !*access_key_secret)
        return FAIL(c, VODUP_EINVAL, "access_key_id and access_key_secret are required");
    if (mode_fixed(c))
        return VODUP_ESTATE;
    return set_sts(c, vod_endpoint, access_key_id, access_key_secret, security_token);
}

int vodup_client_resume_with_sts(vodup_client *c, const char *access_key_id, const char *access_key_secret,
                                 const char *security_token)
{
    if (!c)
        return VODUP_EINVAL;
    if (!access_key_id || !*access_key_id || !access_key_secret || !*access_key_secret)
        return FAIL(c, VODUP_EINVAL, "access_key_id and access_key_secret are required");
    lk(c);
    int mode = c->mode;
    ulk(c);
    if (mode != VCL_MODE_STS)
        return FAIL(c, VODUP_ESTATE, "not in STS mode (vodup_client_use_sts)");
    return set_sts(c, NULL, access_key_id, access_key_secret, security_token);
}

int vodup_client_use_auth_provider(vodup_client *c, vodup_auth_provider_cb *provider, void *user)
{
    if (!c)
        return VODUP_EINVAL;
    if (!provider)
        return FAIL(c, VODUP_EINVAL, "provider is required");
    if (mode_fixed(c))
        return VODUP_ESTATE;
    lk(c);
    c->mode = VCL_MODE_PROVIDER;
    c->provider = provider;
    c->provider_user = user;
    return unlock_wake(c);
}

/* The visible (not deleted) item of id [mu held]. */
static vcl_item *find_locked(vodup_client *c, int id)
{
    for (size_t i = 0; i < c->nitems; i++)
        if (c->items[i]->id == id && !c->items[i]->deleted)
            return c->items[i];
    return NULL;
}

/* Why item id (it, as found under mu) cannot take new credentials or be canceled: it
 * is gone, or it already succeeded. Sets the error and returns its code; 0 if it can. */
static int check_unfinished(vodup_client *c, const vcl_item *it, int id)
{
    if (!it)
        return FAIL(c, VODUP_ENOENT, "no item %d", id);
    if (it->status == VODUP_STATUS_SUCCESS)
        return FAIL(c, VODUP_ESTATE, "item %d already succeeded", id);
    return 0;
}

/* Checks that id names an item that may take upload credentials (upload-auth mode, not
 * yet succeeded), before the credentials are even decoded, so errors say what is wrong
 * with the call rather than with the blobs. */
static int auth_target_ok(vodup_client *c, int id)
{
    lk(c);
    int rc = c->mode != VCL_MODE_UPLOAD_AUTH
                 ? FAIL(c, VODUP_ESTATE, "not in upload-auth mode (vodup_client_use_upload_auth)")
                 : check_unfinished(c, find_locked(c, id), id);
    ulk(c);
    return rc;
}

static int set_target(vodup_client *c, int id, vcl_addr *ap, vcl_creds *kp, const char *media_id);

int vodup_client_set_upload_auth(vodup_client *c, int id, const char *upload_address, const char *upload_auth,
                                 const char *media_id)
{
    if (!c)
        return VODUP_EINVAL;
    int rc = auth_target_ok(c, id);
    if (rc)
        return rc;
    char msg[256] = "";
    vcl_addr a;
    vcl_creds k;
    rc = vcl_decode_upload_address(upload_address, &a, msg, sizeof msg);
    if (rc)
        return FAIL(c, rc, "UploadAddress: %s", msg);
    rc = vcl_decode_upload_auth(upload_auth, &k, msg, sizeof msg);
    if (rc) {
        vcl_addr_free(&a);
        return FAIL(c, rc, "UploadAuth: %s", msg);
    }
    return set_target(c, id, &a, &k, media_id);
}

/* Gives item id its address and credentials (moved from a and k). */
static int set_target(vodup_client *c, int id, vcl_addr *ap, vcl_creds *kp, const char *media_id)
{
    vcl_addr a = *ap;
    vcl_creds k = *kp;
    int rc;
    char *m = NULL;
    if (media_id && *media_id && !(m = strdup(media_id))) {
        vcl_addr_free(&a);
        vcl_creds_free(&k);
        return FAIL(c, VODUP_ENOMEM, "out of memory");
    }
    /* Checked again: the item may have been deleted or finished meanwhile. */
    lk(c);
    vcl_item *it = find_locked(c, id);
    if ((rc = check_unfinished(c, it, id)) != 0) {
        ulk(c);
        vcl_addr_free(&a);
        vcl_creds_free(&k);
        free(m);
        return rc;
    }
    vcl_addr_free(&it->pend_addr);
    vcl_creds_free(&it->pend_creds);
    free(it->pend_media);
    it->pend_addr = a;
    it->pend_creds = k;
    it->pend_media = m;
    it->pend_full = 1;
    return unlock_wake(c);
}

int vodup_client_set_s3_target(vodup_client *c, int id, const vodup_s3_target *t)
{
    if (!c)
        return VODUP_EINVAL;
    if (!t || t->version < 1 || !t->endpoint || !t->bucket || !*t->bucket || !t->key || !*t->key ||
        !t->access_key_id || !*t->access_key_id || !t->secret_access_key || !*t->secret_access_key)
        return FAIL(c, VODUP_EINVAL, "an S3 target needs endpoint, bucket, key, access_key_id and secret_access_key");
    if (strncmp(t->endpoint, "http://", 7) != 0 && strncmp(t->endpoint, "https://", 8) != 0)
        return FAIL(c, VODUP_EINVAL, "S3 endpoint \"%.200s\" must start with http:// or https://", t->endpoint);
    int rc = auth_target_ok(c, id);
    if (rc)
        return rc;
    /* The dialect rides on the endpoint's scheme (dialect.h), so that resume records
     * keep it. */
    vcl_addr a;
    vcl_creds k;
    memset(&a, 0, sizeof a);
    memset(&k, 0, sizeof k);
    size_t n = strlen(t->endpoint);
    while (n && t->endpoint[n - 1] == '/')
        n--;
    const char *prefix = t->virtual_host ? "s3-vhost+" : "s3+";
    a.endpoint = malloc(strlen(prefix) + n + 1);
    if (a.endpoint)
        snprintf(a.endpoint, strlen(prefix) + n + 1, "%s%.*s", prefix, (int)n, t->endpoint);
    a.bucket = strdup(t->bucket);
    a.key = strdup(t->key);
    k.ak = strdup(t->access_key_id);
    k.sk = strdup(t->secret_access_key);
    k.token = t->session_token && *t->session_token ? strdup(t->session_token) : NULL;
    k.region = strdup(t->region && *t->region ? t->region : "us-east-1");
    k.received = time(NULL);
    if (!a.endpoint || !a.bucket || !a.key || !k.ak || !k.sk || !k.region ||
        (t->session_token && *t->session_token && !k.token)) {
        vcl_addr_free(&a);
        vcl_creds_free(&k);
        return FAIL(c, VODUP_ENOMEM, "out of memory");
    }
    return set_target(c, id, &a, &k, NULL);
}

int vodup_client_resume_with_auth(vodup_client *c, int id, const char *upload_auth)
{
    if (!c)
        return VODUP_EINVAL;
    int rc = auth_target_ok(c, id);
    if (rc)
        return rc;
    char msg[256] = "";
    vcl_creds k;
    rc = vcl_decode_upload_auth(upload_auth, &k, msg, sizeof msg);
    if (rc)
        return FAIL(c, rc, "UploadAuth: %s", msg);
    /* Checked again: the item may have been deleted or finished meanwhile. */
    lk(c);
    vcl_item *it = find_locked(c, id);
    if ((rc = check_unfinished(c, it, id)) != 0) {
        ulk(c);
        vcl_creds_free(&k);
        return rc;
    }
    vcl_creds_free(&it->pend_auth_creds);
    it->pend_auth_creds = k;
    it->pend_auth = 1;
    return unlock_wake(c);
}

/* ---- the list --------------------------------------------------------------------------- */

int vodup_client_add_file(vodup_client *c, int *id, const char *path, vodup_media_type type,
                          const vodup_vod_info *info)
{
    if (!c)
        return VODUP_EINVAL;
    if (id)
        *id = 0;
    if (!id || !path || !*path || (type != VODUP_MEDIA_VIDEO && type != VODUP_MEDIA_IMAGE) ||
        (info && info->version < 1))
        return FAIL(c, VODUP_EINVAL, "id, path and a valid type are required");
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return FAIL(c, errno == ENOMEM ? VODUP_ENOMEM : VODUP_ENOENT, "%s: %s", path, strerror(errno));
    struct stat st;
    int ok = fstat(fd, &st) == 0 && S_ISREG(st.st_mode);
    close(fd);
    if (!ok)
        return FAIL(c, VODUP_ENOENT, "%s: not a regular file", path);
    if ((uint64_t)st.st_size > 10000ull * 5 * 1024 * 1024 * 1024)
        return FAIL(c, VODUP_EINVAL, "%s: larger than 10000 parts of 5 GiB", path);

    vcl_item *it = calloc(1, sizeof *it);
    if (!it)
        return FAIL(c, VODUP_ENOMEM, "out of memory");
    it->e.fd = -1;
    it->dev = (uint64_t)st.st_dev;
    it->ino = (uint64_t)st.st_ino;
    it->type = type;
    it->cate_id = -1;
    it->size = (uint64_t)st.st_size;
    it->status = VODUP_STATUS_INIT;
    int bad = dup_opt(&it->path, path);
    it->abspath = realpath(path, NULL);
    bad |= !it->abspath;
    if (info) {
        bad |= dup_opt(&it->title, info->title) | dup_opt(&it->description, info->description) |
               dup_opt(&it->tags, info->tags) | dup_opt(&it->cover_url, info->cover_url) |
               dup_opt(&it->user_data, info->user_data) | dup_opt(&it->template_group_id, info->template_group_id) |
               dup_opt(&it->storage_location, info->storage_location) | dup_opt(&it->image_type, info->image_type);
        it->cate_id = info->cate_id;
    }
    if (!bad && c->record_dir) {
        it->record_file = vcl_record_file(c->record_dir, it->abspath);
        bad |= !it->record_file;
    }
    if (bad) {
        vcl_item_free(it);
        return FAIL(c, VODUP_ENOMEM, "out of memory");
    }
    lk(c);
    /* The same file twice would upload twice to one object (one record, one upload id)
     * and end with one of them refused: the first item is the one to resume. A file
     * that succeeded may be uploaded again as a new item. */
    for (size_t i = 0; i < c->nitems; i++) {
        const vcl_item *o = c->items[i];
        if (o->deleted || o->status == VODUP_STATUS_SUCCESS)
            continue;
        if (strcmp(o->abspath, it->abspath) == 0 || (o->dev == it->dev && o->ino == it->ino)) {
            int other = o->id;
            vodup_status ost = o->status;
            ulk(c);
            vcl_item_free(it);
            return FAIL(c, VODUP_EEXIST, "%s is already in the list as item %d (%s): resume or delete that one",
                        path, other, vodup_status_name(ost));
        }
    }
    if (c->nitems == c->cap) {
        size_t n = c->cap ? c->cap * 2 : 8;
        vcl_item **ni = realloc(c->items, n * sizeof *ni);
        if (!ni) {
            ulk(c);
            vcl_item_free(it);
            return FAIL(c, VODUP_ENOMEM, "out of memory");
        }
        c->items = ni;
        c->cap = n;
    }
    it->id = c->next_id++;
    c->items[c->nitems++] = it;
    c->list_gen++;
    c->list_done = 0;
    *id = it->id;
    return unlock_wake(c);
}

int vodup_client_delete_file(vodup_client *c, int id)
{
    if (!c)
        return VODUP_EINVAL;
    lk(c);
    vcl_item *it = find_locked(c, id);
    if (!it) {
        ulk(c);
        return FAIL(c, VODUP_ENOENT, "no item %d", id);
    }
    it->deleted = 1;
    char *rec = it->record_file ? strdup(it->record_file) : NULL;
    int oom = it->record_file && !rec;
    pthread_cond_broadcast(&c->cv);
    ulk(c);
    /* The record goes now, not when the worker gets to it, so the caller can rely on
     * it being gone; rec_mu keeps a concurrent record write from bringing it back. */
    if (rec) {
        pthread_mutex_lock(&c->rec_mu);
        vcl_record_remove(rec);
        pthread_mutex_unlock(&c->rec_mu);
        free(rec);
    }
    (void)oom;   /* the worker removes it too */
    wake(c);
    return DONE(c);
}

int vodup_client_cancel_file(vodup_client *c, int id)
{
    if (!c)
        return VODUP_EINVAL;
    lk(c);
    vcl_item *it = find_locked(c, id);
    int rc = check_unfinished(c, it, id);
    if (rc == 0) {
        it->status = VODUP_STATUS_CANCELED;
        it->last_error = VODUP_ECANCELED;
    }
    ulk(c);
    wake(c);
    return RET(c, rc);
}

int vodup_client_resume_file(vodup_client *c, int id)
{
    if (!c)
        return VODUP_EINVAL;
    lk(c);
    vcl_item *it = find_locked(c, id);
    int rc = 0;
    if (!it)
        rc = FAIL(c, VODUP_ENOENT, "no item %d", id);
    else if (it->status != VODUP_STATUS_CANCELED && it->status != VODUP_STATUS_FAIL)
        rc = FAIL(c, VODUP_ESTATE, "item %d is %s, not CANCELED or FAIL", id, vodup_status_name(it->status));
    else {
        it->status = VODUP_STATUS_INIT;
        it->last_error = 0;
        c->list_gen++;
        c->list_done = 0;
        /* Back in the queue means uploading again if the list ever ran (it may have
         * finished meanwhile, which leaves it idle). */
        c->started = c->ever_started;
    }
    ulk(c);
    wake(c);
    return RET(c, rc);
}

int vodup_client_get_file(vodup_client *c, int id, vodup_file_info **out)
{
    if (!c)
        return VODUP_EINVAL;
    if (!out)
        return FAIL(c, VODUP_EINVAL, "out is required");
    *out = NULL;
    lk(c);
    vcl_item *it = find_locked(c, id);
    vodup_file_info *f = it ? vcl_snapshot_locked(it) : NULL;
    ulk(c);
    if (!it)
        return FAIL(c, VODUP_ENOENT, "no item %d", id);
    if (!f)
        return FAIL(c, VODUP_ENOMEM, "out of memory");
    *out = f;
    return DONE(c);
}

void vodup_file_info_free(vodup_file_info *f)
{
    free(f);
}

int vodup_client_list_files(vodup_client *c, void (*cb)(const vodup_file_info *f, void *user), void *user)
{
    if (!c)
        return VODUP_EINVAL;
    if (!cb)
        return FAIL(c, VODUP_EINVAL, "cb is required");
    /* Snapshots first, callbacks after: cb may call into the client. */
    lk(c);
    size_t n = 0;
    vodup_file_info **v = c->nitems ? calloc(c->nitems, sizeof *v) : NULL;
    int oom = c->nitems && !v;
    for (size_t i = 0; i < c->nitems && !oom; i++) {
        if (c->items[i]->deleted)
            continue;
        if (!(v[n] = vcl_snapshot_locked(c->items[i])))
            oom = 1;
        else
            n++;
    }
    ulk(c);
    if (!oom)
        for (size_t i = 0; i < n; i++)
            cb(v[i], user);
    for (size_t i = 0; i < n; i++)
        free(v[i]);
    free(v);
    return oom ? FAIL(c, VODUP_ENOMEM, "out of memory") : DONE(c);
}

int vodup_client_clear_files(vodup_client *c)
{
    if (!c)
        return VODUP_EINVAL;
    lk(c);
    size_t n = 0;
    int *ids = c->nitems ? calloc(c->nitems, sizeof *ids) : NULL;
    if (c->nitems && !ids) {
        ulk(c);
        return FAIL(c, VODUP_ENOMEM, "out of memory");
    }
    for (size_t i = 0; i < c->nitems; i++)
        if (!c->items[i]->deleted)
            ids[n++] = c->items[i]->id;
    ulk(c);
    for (size_t i = 0; i < n; i++)
        vodup_client_delete_file(c, ids[i]);
    free(ids);
    return DONE(c);
}

/* ---- control ------------------------------------------------------------------------------ */

/* Statuses follow the effective pause at once [mu held]: UPLOADING items become
 * PAUSING (the worker drops their requests, then marks them PAUSED), and back. */
static void apply_pause_locked(vodup_client *c)
{
    int paused = vcl_paused_locked(c);
    for (size_t i = 0; i < c->nitems; i++) {
        vcl_item *it = c->items[i];
        if (paused && it->status == VODUP_STATUS_UPLOADING)
            it->status = VODUP_STATUS_PAUSING;
        else if (!paused && (it->status == VODUP_STATUS_PAUSING || it->status == VODUP_STATUS_PAUSED))
            it->status = VODUP_STATUS_UPLOADING;
    }
}

/* start, pause and resume: set the user's pause (start also marks the list running, in
 * the same critical section) and let the statuses follow at once. */
static int set_user_paused(vodup_client *c, int paused, int start)
{
    if (!c)
        return VODUP_EINVAL;
    lk(c);
    if (start) {
        c->started = 1;
        c->ever_started = 1;
    }
    c->user_paused = paused;
    apply_pause_locked(c);
    return unlock_wake(c);
}

int vodup_client_start(vodup_client *c)
{
    return set_user_paused(c, 0, 1);
}

int vodup_client_stop(vodup_client *c)
{
    if (!c)
        return VODUP_EINVAL;
    lk(c);
    c->started = 0;
    c->user_paused = 0;
    for (size_t i = 0; i < c->nitems; i++) {
        vcl_item *it = c->items[i];
        if (it->status == VODUP_STATUS_UPLOADING || it->status == VODUP_STATUS_PAUSING ||
            it->status == VODUP_STATUS_PAUSED)
            it->status = VODUP_STATUS_INIT;
    }
    c->list_gen++;
    return unlock_wake(c);
}

int vodup_client_pause(vodup_client *c)
{
    return set_user_paused(c, 1, 0);
}

int vodup_client_resume(vodup_client *c)
{
    return set_user_paused(c, 0, 0);
}

int vodup_client_set_network(vodup_client *c, vodup_network n)
{
    if (!c)
        return VODUP_EINVAL;
    if (n != VODUP_NETWORK_WIFI && n != VODUP_NETWORK_CELLULAR && n != VODUP_NETWORK_NONE)
        return FAIL(c, VODUP_EINVAL, "unknown network %d", (int)n);
    lk(c);
    c->net = n;
    apply_pause_locked(c);
    return unlock_wake(c);
}

/* Done when the worker has delivered on_list_completed for the current list (or nothing
 * is left in it), so that a caller returning from wait sees every callback already
 * made [mu held]. */
static int list_settled_locked(const vodup_client *c)
{
    size_t live = 0;
    for (size_t i = 0; i < c->nitems; i++)
        live += !c->items[i]->deleted;
    return live == 0 || c->list_done;
}

int vodup_client_wait(vodup_client *c, long timeout_ms)
{
    if (!c)
        return VODUP_EINVAL;
    if (vcl_on_own_thread(c))
        return FAIL(c, VODUP_ESTATE, "vodup_client_wait cannot be called from a callback");
    struct timespec dl;
    clock_gettime(CLOCK_MONOTONIC, &dl);
    if (timeout_ms >= 0) {
        dl.tv_sec += timeout_ms / 1000;
        dl.tv_nsec += (timeout_ms % 1000) * 1000000L;
        if (dl.tv_nsec >= 1000000000L) {
            dl.tv_sec++;
            dl.tv_nsec -= 1000000000L;
        }
    }
    int rc = 0;
    lk(c);
    for (;;) {
        if (list_settled_locked(c))
            break;
        if (timeout_ms < 0) {
            pthread_cond_wait(&c->cv, &c->mu);
        } else if (pthread_cond_timedwait(&c->cv, &c->mu, &dl) == ETIMEDOUT) {
            /* It may have settled just as the time ran out. */
            if (!list_settled_locked(c))
                rc = VODUP_ETIMEDOUT;
            break;
        }
    }
    if (rc) {
        ulk(c);
        return FAIL(c, rc, "timed out after %ld ms waiting for the list to complete", timeout_ms);
    }
    /* Complete: say whether everything made it, so that a caller who only waits does
     * not take a failed or canceled file for an uploaded one. */
    int nfail = 0, ncanceled = 0, first_fail = 0, first_id = 0;
    for (size_t i = 0; i < c->nitems; i++) {
        const vcl_item *it = c->items[i];
        if (it->deleted)
            continue;
        if (it->status == VODUP_STATUS_FAIL && nfail++ == 0) {
            first_fail = it->last_error ? it->last_error : VODUP_ESERVER;
            first_id = it->id;
        }
        ncanceled += it->status == VODUP_STATUS_CANCELED;
    }
    ulk(c);
    if (nfail)
        return FAIL(c, first_fail, "%d item(s) failed (the first, item %d: %s), %d canceled", nfail, first_id,
                    vodup_strerror(first_fail), ncanceled);
    if (ncanceled)
        return FAIL(c, VODUP_ECANCELED, "%d item(s) canceled", ncanceled);
    return DONE(c);
}
