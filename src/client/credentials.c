/* credentials.c - where a file's address and credentials come from: VOD calls (STS mode)
 * and the auth provider on helper threads, grants the application hands over, expiry.
 *
 * Part of the worker (see engine.h and docs/internals/libvodup.md). */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

#include "client/engine.h"
#include "common/crc.h"
#include "common/xml.h"

void vcl_result_free(vcl_result *r)
{
    free(r->json);
    free(r->code);
    free(r->msg);
    free(r->addr);
    free(r->auth);
    free(r->media);
    memset(r, 0, sizeof *r);
}

/* A helper thread's result for item id: kept [mu] until the worker takes it (a result
 * for a deleted item, or one the worker no longer waits for, is simply dropped). */
static void post_result(vodup_client *c, int id, vcl_result *r)
{
    lk(c);
    vcl_item *it = NULL;
    for (size_t i = 0; i < c->nitems && !it; i++)
        if (c->items[i]->id == id && !c->items[i]->deleted)
            it = c->items[i];
    if (it) {
        vcl_result_free(&it->res);
        it->res = *r;
        it->has_res = 1;
        memset(r, 0, sizeof *r);
    }
    ulk(c);
    vcl_result_free(r);
    curl_multi_wakeup(c->multi);
}

/* The worker takes the result of its call, if it came [worker]. */
int vcl_take_result(vodup_client *c, vcl_item *it, vcl_result *out)
{
    int got = 0;
    lk(c);
    if (it->has_res && it->res.serial == it->e.call_serial) {
        *out = it->res;
        memset(&it->res, 0, sizeof it->res);
        it->has_res = 0;
        got = 1;
    }
    ulk(c);
    return got;
}

static int same_addr(const vcl_addr *a, const vcl_addr *b)
{
    return a->endpoint && b->endpoint && strcmp(a->endpoint, b->endpoint) == 0 && strcmp(a->bucket, b->bucket) == 0 &&
           strcmp(a->key, b->key) == 0;
}

/* Takes new address (may be NULL: unchanged), credentials and media id. Moves from the
 * arguments. */
static int adopt_auth(vodup_client *c, vcl_item *it, vcl_addr *addr, vcl_creds *k, char **media_id)
{
    vcl_engine *e = &it->e;
    if (addr && addr->endpoint) {
        if (e->addr.endpoint && !same_addr(&e->addr, addr)) {
            /* Another object: what was uploaded belongs to the old one. */
            vcl_drop_xfers(c, it);
            int rc = vcl_plan(c, e);
            if (rc)
                return rc;
            e->acked = 0;
        }
        int first = !e->addr.endpoint;
        vcl_addr_free(&e->addr);
        e->addr = *addr;
        memset(addr, 0, sizeof *addr);
        /* The plan made before the address was known assumed OSS's part sizes; the
         * address's dialect may want others (S3: 5 MiB). Nothing was sent yet. */
        if (first && !e->upload_id) {
            int rc = vcl_plan(c, e);
            if (rc)
                return rc;
        }
    }
    if (!e->addr.endpoint)
        return VODUP_EINVAL;
    time_t old_expire = e->creds.expire;
    vcl_creds_free(&e->creds);
    e->creds = *k;
    memset(k, 0, sizeof *k);
    if (!e->creds.region && c->region)
        e->creds.region = xdup(c->region);
    e->creds_gen++;
    /* Credentials that do not outlive the old ones would trigger another refresh at
     * once: note that this generation was already refreshed. */
    e->expiry_notified = old_expire && e->creds.expire && e->creds.expire <= old_expire;
    if (media_id && *media_id) {
        free(e->media_id);
        e->media_id = *media_id;
        *media_id = NULL;
    }
    vcl_publish(c, it);
    vcl_save_record(c, it);
    e->phase = PH_RUN;
    return 0;
}

static const char *jstr(json_t *o, const char *k)
{
    json_t *v = json_object_get(o, k);
    return json_is_string(v) ? json_string_value(v) : NULL;
}

/* Decodes a Create* or Refresh answer and adopts it. */
static int adopt_answer(vodup_client *c, vcl_item *it, const char *json, char *msg, size_t msglen)
{
    json_error_t jerr;
    json_t *j = json_loads(json, 0, &jerr);
    if (!json_is_object(j)) {
        json_decref(j);
        snprintf(msg, msglen, "the VOD answer is not JSON");
        return VODUP_ESERVER;
    }
    const char *id = jstr(j, it->type == VODUP_MEDIA_IMAGE ? "ImageId" : "VideoId");
    const char *ua = jstr(j, "UploadAddress"), *uauth = jstr(j, "UploadAuth");
    vcl_addr a;
    vcl_creds k;
    memset(&a, 0, sizeof a);
    memset(&k, 0, sizeof k);
    int rc = ua ? vcl_decode_upload_address(ua, &a, msg, msglen) : 0;
    if (rc == 0)
        rc = vcl_decode_upload_auth(uauth, &k, msg, msglen);
    char *mid = xdup(id);
    if (rc == 0)
        rc = adopt_auth(c, it, ua ? &a : NULL, &k, &mid);
    if (rc == VODUP_EINVAL)
        rc = VODUP_ESERVER;
    free(mid);
    vcl_addr_free(&a);
    vcl_creds_free(&k);
    json_decref(j);
    return rc;
}

static int is_retryable_rpc(int rc, long status)
{
    return rc == VODUP_ENETWORK || (rc == VODUP_ESERVER && status >= 500);
}

static const char *image_ext(const char *path)
{
    const char *dot = strrchr(base_name(path), '.');
    static const char *const ok[] = {"png", "jpg", "jpeg", "gif"};
    if (!dot)
        return NULL;
    for (size_t i = 0; i < sizeof ok / sizeof *ok; i++)
        if (strcasecmp(dot + 1, ok[i]) == 0)
            return ok[i];
    return NULL;
}

/* A VOD API call (STS / AccessKey mode), run on the RPC thread with copies of
 * everything it needs. */
typedef struct rpc_job {
    vcl_job base;
    int id;
    uint64_t serial;
    char *endpoint, *action, *user_agent, *ca_file;
    vcl_creds k;
    long connect_timeout_ms;
    char **params;          /* name, value, ..., NULL */
} rpc_job;

static void rpc_run(vodup_client *c, vcl_job *j)
{
    rpc_job *r = (rpc_job *)j;
    vcl_rpc rpc = {r->endpoint, r->k.ak, r->k.sk, r->k.token, r->user_agent, r->connect_timeout_ms, 60000,
                   &c->rpcq.quitting, r->ca_file, 1};
    vcl_result res;
    memset(&res, 0, sizeof res);
    char msg[1024] = "";
    res.serial = r->serial;
    res.rc = vcl_rpc_call(&rpc, "2017-03-21", r->action, (const char *const *)r->params, &res.json, &res.code,
                          &res.status, msg, sizeof msg);
    res.msg = strdup(msg);
    post_result(c, r->id, &res);
}

static void rpc_drop(vcl_job *j)
{
    rpc_job *r = (rpc_job *)j;
    free(r->endpoint);
    free(r->action);
    free(r->user_agent);
    free(r->ca_file);
    vcl_creds_free(&r->k);
    for (size_t i = 0; r->params && r->params[i]; i++)
        free(r->params[i]);
    free(r->params);
    free(r);
}

/* Queues the call (phase PH_CALL until its result comes); params as vcl_rpc_call's, with
 * NULL values skipped. */
static void start_call(vodup_client *c, vcl_item *it, vcl_job *j, vcl_jobq *q, uint64_t *serial, int kind)
{
    vcl_engine *e = &it->e;
    *serial = ++c->call_serial;
    e->call_serial = *serial;
    e->call_kind = kind;
    e->call_phase = e->phase;
    e->phase = PH_CALL;
    vcl_jobq_push(q, j);
}

/* STS / AccessKey mode: CreateUploadVideo / CreateUploadImage, or refresh:
 * RefreshUploadVideo of the item's video. */
void vcl_sts_begin(vodup_client *c, vcl_item *it, int refresh)
{
    vcl_engine *e = &it->e;
    rpc_job *j = calloc(1, sizeof *j);
    if (!j) {
        vcl_fail_item(c, it, VODUP_ENOMEM, "out of memory");
        return;
    }
    j->base.blocking = 1;
    j->base.run = rpc_run;
    j->base.drop = rpc_drop;
    j->id = it->id;
    j->connect_timeout_ms = c->o.connect_timeout_ms;
    lk(c);
    int bad = vcl_creds_copy(&j->k, &c->sts) != 0;
    j->endpoint = xdup(c->vod_endpoint);
    e->call_gen = c->sts_gen;
    ulk(c);
    char size[24], cate[24];
    snprintf(size, sizeof size, "%" PRIu64, e->size);
    snprintf(cate, sizeof cate, "%lld", it->cate_id);
    const char *title = it->title ? it->title : base_name(it->path);
    const char *cateid = it->cate_id >= 0 ? cate : NULL;
    const char *action;
    e->call_refresh = refresh && it->type == VODUP_MEDIA_VIDEO && e->media_id;
    const char *p[24] = {NULL};
    if (e->call_refresh) {
        action = "RefreshUploadVideo";
        const char *q[] = {"VideoId", e->media_id, NULL};
        memcpy(p, q, sizeof q);
    } else if (it->type == VODUP_MEDIA_IMAGE) {
        action = "CreateUploadImage";
        const char *q[] = {"ImageType", it->image_type ? it->image_type : "default", "ImageExt", image_ext(it->path),
                           "Title", title, "Description", it->description, "Tags", it->tags, "CateId", cateid,
                           "StorageLocation", it->storage_location, "UserData", it->user_data,
                           "OriginalFileName", base_name(it->path), NULL};
        memcpy(p, q, sizeof q);
    } else {
        action = "CreateUploadVideo";
        const char *q[] = {"Title", title, "FileName", base_name(it->path), "FileSize", size,
                           "Description", it->description, "CoverURL", it->cover_url, "CateId", cateid,
                           "Tags", it->tags, "TemplateGroupId", it->template_group_id,
                           "StorageLocation", it->storage_location, "UserData", it->user_data, NULL};
        memcpy(p, q, sizeof q);
    }
    /* Unset optional values are NULL: copy the set pairs only. */
    size_t n = 0;
    j->params = calloc(sizeof p / sizeof *p + 1, sizeof *j->params);
    bad |= !j->params;
    for (size_t i = 0; !bad && p[i]; i += 2)
        if (p[i + 1]) {
            bad |= !(j->params[n++] = strdup(p[i]));
            bad |= !(j->params[n++] = strdup(p[i + 1]));
        }
    j->action = strdup(action);
    j->user_agent = xdup(c->user_agent);
    j->ca_file = xdup(c->ca_file);
    bad |= !j->action || !j->endpoint || (c->user_agent && !j->user_agent) || (c->ca_file && !j->ca_file);
    if (bad) {
        rpc_drop(&j->base);
        vcl_fail_item(c, it, VODUP_ENOMEM, "out of memory");
        return;
    }
    start_call(c, it, &j->base, &c->rpcq, &j->serial, 1);   /* the RPC thread's now */
}

/* The VOD call's answer [worker]. */
void vcl_sts_end(vodup_client *c, vcl_item *it, vcl_result *r)
{
    vcl_engine *e = &it->e;
    e->phase = e->call_phase;
    int rc = r->rc;
    char msg[1024];
    snprintf(msg, sizeof msg, "%s", r->msg ? r->msg : "");
    if (rc && e->call_refresh && r->code && strcmp(r->code, "InvalidVideo.NotFound") == 0 && e->phase == PH_AUTH) {
        /* The video of the record is gone: create a new one and start over. */
        vcl_reset_all(e);
        e->known = 1;
        if (vcl_plan(c, e) == 0)
            vcl_sts_begin(c, it, 0);
        else
            vcl_fail_item(c, it, VODUP_ENOMEM, "out of memory");
        return;
    }
    if (rc == 0) {
        vcl_request_ok(c, it);
        e->op_attempts = 0;
        rc = adopt_answer(c, it, r->json ? r->json : "", msg, sizeof msg);
        if (rc)
            vcl_fail_item(c, it, rc, msg);
    } else if (rc == VODUP_EEXPIRED) {
        /* The STS credentials themselves expired: only the application can renew them. */
        e->phase = PH_WAIT_APP;
        e->wait_kind = 3;
        e->sts_gen_seen = e->call_gen;
        vcl_emit(c, it, EV_EXPIRED, 0, NULL, 0, 0);
    } else if (is_retryable_rpc(rc, r->status)) {
        vcl_retry_later(c, it, &e->op_attempts, &e->op_not_before, rc, msg);
    } else {
        vcl_fail_item(c, it, rc, msg);
    }
}

/* The auth provider, on the callback thread (it is application code, like a callback,
 * and may block on the application's server). */
typedef struct prov_job {
    vcl_job base;
    int id;
    uint64_t serial;
    vodup_auth_kind kind;
    vodup_auth_provider_cb *p;
    void *pu;
    vodup_file_info *f;
} prov_job;

static void prov_run(vodup_client *c, vcl_job *j)
{
    prov_job *pj = (prov_job *)j;
    vodup_auth_result out = {NULL, NULL, NULL};
    vcl_result res;
    memset(&res, 0, sizeof res);
    res.serial = pj->serial;
    res.rc = pj->p(c, pj->f, pj->kind, &out, pj->pu);
    if (res.rc >= 0) {
        /* The strings are the provider's: copied now, as documented. */
        res.rc = 0;
        if ((out.upload_address && !(res.addr = strdup(out.upload_address))) ||
            (out.upload_auth && !(res.auth = strdup(out.upload_auth))) ||
            (out.media_id && !(res.media = strdup(out.media_id))))
            res.rc = VODUP_ENOMEM;
    }
    post_result(c, pj->id, &res);
}

static void prov_drop(vcl_job *j)
{
    prov_job *pj = (prov_job *)j;
    free(pj->f);
    free(pj);
}

void vcl_provider_begin(vodup_client *c, vcl_item *it, vodup_auth_kind kind)
{
    vcl_engine *e = &it->e;
    prov_job *j = calloc(1, sizeof *j);
    if (!j) {
        vcl_fail_item(c, it, VODUP_ENOMEM, "out of memory");
        return;
    }
    j->base.blocking = 1;
    j->base.run = prov_run;
    j->base.drop = prov_drop;
    j->id = it->id;
    j->kind = kind;
    lk(c);
    j->p = c->provider;
    j->pu = c->provider_user;
    j->f = vcl_snapshot_locked(it);
    ulk(c);
    if (!j->f) {
        prov_drop(&j->base);
        vcl_fail_item(c, it, VODUP_ENOMEM, "out of memory");
        return;
    }
    e->call_refresh = kind == VODUP_AUTH_REFRESH;
    start_call(c, it, &j->base, &c->cbq, &j->serial, 2);
}

/* The provider's answer [worker]. */
void vcl_provider_end(vodup_client *c, vcl_item *it, vcl_result *r)
{
    vcl_engine *e = &it->e;
    e->phase = e->call_phase;
    int rc = r->rc;
    char msg[512] = "";
    if (rc < 0) {
        if (e->call_refresh && e->phase == PH_AUTH) {
            /* Refreshing what a record named failed: create anew instead. */
            vcl_reset_all(e);
            e->known = 1;
            if (vcl_plan(c, e) == 0)
                vcl_provider_begin(c, it, VODUP_AUTH_CREATE);
            else
                vcl_fail_item(c, it, VODUP_ENOMEM, "out of memory");
            return;
        }
        snprintf(msg, sizeof msg, "the auth provider failed (%s)", vodup_strerror(rc));
        vcl_fail_item(c, it, rc, msg);
        return;
    }
    vcl_addr a;
    vcl_creds k;
    memset(&a, 0, sizeof a);
    memset(&k, 0, sizeof k);
    rc = r->addr ? vcl_decode_upload_address(r->addr, &a, msg, sizeof msg) : 0;
    if (rc == 0)
        rc = vcl_decode_upload_auth(r->auth, &k, msg, sizeof msg);
    char *mid = xdup(r->media);
    if (rc == 0)
        rc = adopt_auth(c, it, r->addr ? &a : NULL, &k, &mid);
    if (rc) {
        char m2[600];
        snprintf(m2, sizeof m2, "the auth provider's answer is unusable: %s", msg[0] ? msg : vodup_strerror(rc));
        vcl_fail_item(c, it, rc, m2);
    }
    free(mid);
    vcl_addr_free(&a);
    vcl_creds_free(&k);
}

/* Takes credentials the application handed over (set_upload_auth, resume_with_auth). */
int vcl_take_pending(vodup_client *c, vcl_item *it)
{
    vcl_engine *e = &it->e;
    lk(c);
    int full = it->pend_full, auth = it->pend_auth;
    vcl_addr a = it->pend_addr;
    vcl_creds k = it->pend_creds, k2 = it->pend_auth_creds;
    char *m = it->pend_media;
    memset(&it->pend_addr, 0, sizeof it->pend_addr);
    memset(&it->pend_creds, 0, sizeof it->pend_creds);
    memset(&it->pend_auth_creds, 0, sizeof it->pend_auth_creds);
    it->pend_media = NULL;
    it->pend_full = it->pend_auth = 0;
    ulk(c);
    int took = 0;
    if (full) {
        int rc = adopt_auth(c, it, &a, &k, &m);
        if (rc) {
            vcl_fail_item(c, it, rc, "the upload address is unusable");
            took = -1;
        } else {
            took = 1;
        }
    }
    if (auth && took >= 0 && e->addr.endpoint) {
        adopt_auth(c, it, NULL, &k2, NULL);
        took = 1;
    } else if (auth && took >= 0) {
        /* New credentials without an address yet: keep them for when one arrives. */
        lk(c);
        if (!it->pend_auth) {
            it->pend_auth_creds = k2;
            memset(&k2, 0, sizeof k2);
            it->pend_auth = 1;
        }
        ulk(c);
    }
    vcl_addr_free(&a);
    vcl_creds_free(&k);
    vcl_creds_free(&k2);
    free(m);
    return took;
}

/* When to renew credentials before they expire: refresh_before_s ahead, but never
 * earlier than half their lifetime, or short-lived credentials would be renewed in a
 * loop. */
int vcl_expiring(const vodup_client *c, const vcl_engine *e)
{
    if (!e->creds.expire)
        return 0;
    time_t now = time(NULL);
    time_t life = e->creds.expire - e->creds.received;
    time_t margin = c->o.refresh_before_s;
    if (life > 0 && margin > life / 2)
        margin = life / 2;
    return now >= e->creds.expire - margin;
}
