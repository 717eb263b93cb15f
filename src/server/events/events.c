/* events.c - the callback sender: takes due events from the outbox, builds each body
 * once, POSTs it to the account's callback URL and forgets it on HTTP 200.
 *
 * The outbox lives in the metadata store (meta_vod.h), so this thread keeps no state of
 * its own that a crash could lose: every decision (delivered, retry at T, dropped) is
 * written back before the next event is looked at. Delivery is at-least-once; a receiver
 * may see an event twice when we crash between its 200 and our bookkeeping.
 */
#include "server/events/events.h"

#include "common/buf.h"
#include "common/codec.h"
#include "common/digest.h"
#include "common/timefmt.h"
#include "server/store/meta_vod.h"

#include <curl/curl.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <errno.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#define EVENTS_BATCH 32
#define EVENTS_IDLE_WAIT 10          /* seconds: re-check the outbox at least this often */
#define EVENTS_BACKOFF_CAP 600       /* seconds: 10 min, the longest pause between tries */
#define EVENTS_HTTP_TIMEOUT 5L       /* seconds: VOD's own receiver timeout */

static curl_socket_t open_public_only(void *u, curlsocktype purpose, struct curl_sockaddr *addr);

struct events {
    vodupd *s;
    pthread_t thread;
    pthread_mutex_t mu;
    pthread_cond_t cv;
    int kicked;
    int stop;
    CURL *curl;
    char errbuf[CURL_ERROR_SIZE];
    int trouble;        /* the store failed in this round: pause before the next */
};

/* ---- building ------------------------------------------------------------------------ */

/* The per-kind spelling of the id and URL fields (VOD differs in case between them). */
typedef struct event_kind {
    const char *type;
    const char *id_field;
    const char *url_field;
} event_kind;

static const event_kind KINDS[] = {
    {"FileUploadComplete", "VideoId", "FileUrl"},
    {"ImageUploadComplete", "ImageId", "FileURL"},
    {"AttachedMediaUploadComplete", "AttachedMediaId", "FileURL"},
};

static const event_kind *kind_of(const char *type)
{
    for (size_t i = 0; type && i < sizeof KINDS / sizeof KINDS[0]; i++)
        if (!strcmp(KINDS[i].type, type))
            return &KINDS[i];
    return NULL;
}

/* 1 when type appears in list ("ALL", or comma-separated names; blanks around names are
 * tolerated because consoles and SDKs disagree about them). Empty list = nothing. */
static int subscribed(const char *list, const char *type)
{
    const char *p = list;
    size_t tlen = strlen(type);
    while (*p) {
        const char *end = strchr(p, ',');
        if (!end)
            end = p + strlen(p);
        const char *a = p, *b = end;
        while (a < b && (*a == ' ' || *a == '\t'))
            a++;
        while (b > a && (b[-1] == ' ' || b[-1] == '\t'))
            b--;
        size_t n = (size_t)(b - a);
        if ((n == 3 && !strncasecmp(a, "ALL", 3)) || (n == tlen && !strncasecmp(a, type, n)))
            return 1;
        p = *end ? end + 1 : end;
    }
    return 0;
}

static const char *obj_str(json_t *o, const char *name)
{
    json_t *v = json_is_object(o) ? json_object_get(o, name) : NULL;
    return json_is_string(v) ? json_string_value(v) : NULL;
}

/* The body and destination of one event. *reason (static text) tells why it was dropped. */
static int build(const vodupd *s, const vodup_meta_event *e, const vodup_meta_media *md,
                 const char *config_json, char **body, char **url, char **auth_key,
                 const char **reason)
{
    *body = *url = *auth_key = NULL;
    *reason = NULL;
    if (!config_json) {
        *reason = "no callback configured";
        return 0;
    }
    const event_kind *k = kind_of(e->event_type);
    if (!k) {
        *reason = "unknown event type";
        return 0;
    }
    json_error_t jerr;
    json_t *cfg = json_loads(config_json, 0, &jerr);
    json_t *ud = NULL, *out = NULL;
    char *b = NULL, *u = NULL, *ak = NULL;
    vbuf fu = VBUF_INIT;
    int rc = -1;
    if (!json_is_object(cfg)) {
        /* Retrying cannot repair a stored configuration; only a new SetMessageCallback can. */
        *reason = "callback configuration unreadable";
        rc = 0;
        goto out;
    }
    const char *type = obj_str(cfg, "CallbackType");
    if (!type || strcasecmp(type, "HTTP") != 0) {
        *reason = "callback type is not HTTP";
        rc = 0;
        goto out;
    }
    const char *list = obj_str(cfg, "EventTypeList");
    if (!list || !subscribed(list, e->event_type)) {
        *reason = "event type not subscribed";
        rc = 0;
        goto out;
    }

    /* UserData is the client's text; a malformed one just contributes nothing. */
    if (md->user_data && *md->user_data)
        ud = json_loads(md->user_data, 0, &jerr);
    json_t *mc = json_is_object(ud) ? json_object_get(ud, "MessageCallback") : NULL;
    const char *dest = obj_str(mc, "CallbackURL");
    if (!dest || !*dest)
        dest = obj_str(cfg, "CallbackURL");
    if (!dest || !*dest) {
        *reason = "no callback URL";
        rc = 0;
        goto out;
    }

    const char *sw = obj_str(cfg, "AuthSwitch");
    const char *key = obj_str(cfg, "AuthKey");
    if (sw && !strcasecmp(sw, "on") && key && *key) {
        ak = strdup(key);
        if (!ak)
            goto out;
    }
    u = strdup(dest);
    if (!u)
        goto out;

    char when[21];
    vodup_time_iso(when, e->created);
    out = json_object();
    if (!out)
        goto out;
    /* Field order follows VOD's samples; jansson keeps it with JSON_PRESERVE_ORDER. */
    int bad = 0;
    bad |= json_object_set_new(out, "EventTime", json_string(when));
    bad |= json_object_set_new(out, "EventType", json_string(k->type));
    bad |= json_object_set_new(out, k->id_field, json_string(md->id));
    bad |= json_object_set_new(out, "Status", json_string("success"));
    bad |= json_object_set_new(out, "Size", json_integer((json_int_t)md->size));
    if (md->bucket && md->object_key && s->public_url) {
        const char *pub = s->public_url;
        size_t plen = strlen(pub);
        while (plen > 0 && pub[plen - 1] == '/')   /* "http://h/" + "/" would double it */
            plen--;
        vbuf_append(&fu, pub, plen);
        vbuf_putc(&fu, '/');
        vbuf_puts(&fu, md->bucket);
        vbuf_putc(&fu, '/');
        vodup_uri_encode(&fu, md->object_key, strlen(md->object_key), 1);
        if (fu.oom)
            goto out;
        bad |= json_object_set_new(out, k->url_field, json_string(vbuf_cstr(&fu)));
    }
    json_t *ext = json_is_object(ud) ? json_object_get(ud, "Extend") : NULL;
    if (json_is_string(ext)) {
        bad |= json_object_set_new(out, "Extend", json_string(json_string_value(ext)));
    } else if (ext && !json_is_null(ext)) {
        /* VOD passes Extend on as a JSON string of the object, not as an object. */
        char *t = json_dumps(ext, JSON_COMPACT | JSON_PRESERVE_ORDER | JSON_ENCODE_ANY);
        if (!t)
            goto out;
        bad |= json_object_set_new(out, "Extend", json_string(t));
        free(t);
    }
    if (bad)
        goto out;
    b = json_dumps(out, JSON_COMPACT | JSON_PRESERVE_ORDER);
    if (!b)
        goto out;
    *body = b;
    *url = u;
    *auth_key = ak;
    b = u = ak = NULL;
    rc = 1;
out:
    free(b);
    free(u);
    free(ak);
    vbuf_free(&fu);
    json_decref(out);
    json_decref(ud);
    json_decref(cfg);
    return rc;
}

int events_build(const vodupd *s, const vodup_meta_event *e, const vodup_meta_media *md,
                 const char *config_json, char **body, char **url, char **auth_key)
{
    const char *reason;
    return build(s, e, md, config_json, body, url, auth_key, &reason);
}

void events_signature(char out[33], const char *url, long long timestamp, const char *auth_key)
{
    vbuf b = VBUF_INIT;
    unsigned char d[16];
    vbuf_printf(&b, "%s|%lld|%s", url, timestamp, auth_key);
    vodup_md5(d, vbuf_cstr(&b), b.len);
    vodup_hex_lower(out, d, sizeof d);
    vbuf_free(&b);
}

/* ---- the outbox batch ------------------------------------------------------------------ */

typedef struct batch {
    vodup_meta_event ev[EVENTS_BATCH];
    size_t n;
    int oom;
} batch;

static char *dup_or_null(const char *p, int *oom)
{
    if (!p)
        return NULL;
    char *d = strdup(p);
    if (!d)
        *oom = 1;
    return d;
}

static void ev_free(vodup_meta_event *e)
{
    free(e->account_id);
    free(e->media_id);
    free(e->event_type);
    free(e->body);
    free(e->url);
    free(e->auth_key);
    free(e->last_error);
    memset(e, 0, sizeof *e);
}

/* Copies, because the store owns the struct only for the duration of the callback and
 * the sends (up to 5 s each) should not hold anything of the store's. */
static int take_cb(const vodup_meta_event *e, void *u)
{
    batch *bt = u;
    if (bt->n >= EVENTS_BATCH)
        return 1;
    vodup_meta_event *c = &bt->ev[bt->n];
    int oom = 0;
    *c = *e;
    c->account_id = dup_or_null(e->account_id, &oom);
    c->media_id = dup_or_null(e->media_id, &oom);
    c->event_type = dup_or_null(e->event_type, &oom);
    c->body = dup_or_null(e->body, &oom);
    c->url = dup_or_null(e->url, &oom);
    c->auth_key = dup_or_null(e->auth_key, &oom);
    c->last_error = dup_or_null(e->last_error, &oom);
    if (oom) {
        ev_free(c);
        bt->oom = 1;
        return 1;
    }
    bt->n++;
    return 0;
}

/* ---- sending ----------------------------------------------------------------------------- */

static size_t discard(char *p, size_t size, size_t n, void *u)
{
    (void)p;
    (void)u;
    return size * n;   /* the receiver's body means nothing to VOD either */
}

/* One POST. Returns 0 on HTTP 200; otherwise fills err with a short reason. */
static int post(events *ev, const vodup_meta_event *e, char *err, size_t errlen)
{
    CURL *c = ev->curl;
    struct curl_slist *h = NULL, *t;
    char line[128];
    int rc = -1;

    curl_easy_reset(c);
    ev->errbuf[0] = '\0';
    h = curl_slist_append(h, "Content-Type: application/json");
    /* No "Expect: 100-continue" round trip: receivers are simple web hooks. */
    if (h && (t = curl_slist_append(h, "Expect:")) != NULL)
        h = t;
    else if (h) {
        curl_slist_free_all(h);
        h = NULL;
    }
    if (h && e->auth_key) {
        long long now = (long long)time(NULL);
        char sig[33];
        events_signature(sig, e->url, now, e->auth_key);
        snprintf(line, sizeof line, "X-VOD-TIMESTAMP: %lld", now);
        t = curl_slist_append(h, line);
        if (t) {
            h = t;
            snprintf(line, sizeof line, "X-VOD-SIGNATURE: %s", sig);
            t = curl_slist_append(h, line);
        }
        if (t)
            h = t;
        else {
            curl_slist_free_all(h);
            h = NULL;
        }
    }
    if (!h) {
        snprintf(err, errlen, "out of memory");
        return -1;
    }

    curl_easy_setopt(c, CURLOPT_URL, e->url);
    curl_easy_setopt(c, CURLOPT_POST, 1L);
    curl_easy_setopt(c, CURLOPT_POSTFIELDS, e->body);
    curl_easy_setopt(c, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)strlen(e->body));
    curl_easy_setopt(c, CURLOPT_HTTPHEADER, h);
    curl_easy_setopt(c, CURLOPT_TIMEOUT, EVENTS_HTTP_TIMEOUT);
    curl_easy_setopt(c, CURLOPT_CONNECTTIMEOUT, EVENTS_HTTP_TIMEOUT);
    /* VOD counts a 301/302 as a failure and does not follow it; so do we. */
    curl_easy_setopt(c, CURLOPT_FOLLOWLOCATION, 0L);
    /* The URL is tenant input: never let it reach file://, gopher:// and the like. */
#if LIBCURL_VERSION_NUM >= 0x075500
    curl_easy_setopt(c, CURLOPT_PROTOCOLS_STR, "http,https");
#else
    curl_easy_setopt(c, CURLOPT_PROTOCOLS, (long)(CURLPROTO_HTTP | CURLPROTO_HTTPS));
#endif
    /* Signals and threads do not mix; DNS timeouts then rely on the threaded resolver. */
    curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, discard);
    curl_easy_setopt(c, CURLOPT_ERRORBUFFER, ev->errbuf);
    curl_easy_setopt(c, CURLOPT_USERAGENT, "vodupd-events/1");
    if (ev->s->callback_deny_private) {
        curl_easy_setopt(c, CURLOPT_OPENSOCKETFUNCTION, open_public_only);
        curl_easy_setopt(c, CURLOPT_OPENSOCKETDATA, NULL);
    }

    CURLcode cc = curl_easy_perform(c);
    if (cc != CURLE_OK) {
        snprintf(err, errlen, "%s", ev->errbuf[0] ? ev->errbuf : curl_easy_strerror(cc));
    } else {
        long status = 0;
        curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &status);
        if (status == 200)
            rc = 0;
        else
            snprintf(err, errlen, "HTTP %ld", status);
    }
    /* The handle keeps a pointer to the list until the next reset; drop it now. */
    curl_easy_setopt(c, CURLOPT_HTTPHEADER, NULL);
    curl_slist_free_all(h);
    return rc;
}

/* With --callback-deny-private, callbacks may only reach public addresses: the check is
 * on the address curl actually connects to (after DNS), so a name that resolves to
 * loopback, a private network or link-local (cloud metadata) is refused too. */
static int private_address(const struct sockaddr *sa)
{
    if (sa->sa_family == AF_INET) {
        const unsigned char *a = (const unsigned char *)&((const struct sockaddr_in *)(const void *)sa)->sin_addr;
        return a[0] == 127 || a[0] == 10 || a[0] == 0 || (a[0] == 172 && (a[1] & 0xF0) == 16) ||
               (a[0] == 192 && a[1] == 168) || (a[0] == 169 && a[1] == 254) || (a[0] == 100 && (a[1] & 0xC0) == 64);
    }
    if (sa->sa_family == AF_INET6) {
        const struct in6_addr *a = &((const struct sockaddr_in6 *)(const void *)sa)->sin6_addr;
        if (IN6_IS_ADDR_V4MAPPED(a)) {
            struct sockaddr_in v4;
            memset(&v4, 0, sizeof v4);
            v4.sin_family = AF_INET;
            memcpy(&v4.sin_addr, &a->s6_addr[12], 4);
            return private_address((const struct sockaddr *)&v4);
        }
        return IN6_IS_ADDR_LOOPBACK(a) || IN6_IS_ADDR_UNSPECIFIED(a) || IN6_IS_ADDR_LINKLOCAL(a) ||
               (a->s6_addr[0] & 0xFE) == 0xFC;
    }
    return 1;
}

static curl_socket_t open_public_only(void *u, curlsocktype purpose, struct curl_sockaddr *addr)
{
    (void)u;
    if (purpose != CURLSOCKTYPE_IPCXN || private_address(&addr->addr))
        return CURL_SOCKET_BAD;
    return socket(addr->family, addr->socktype, addr->protocol);
}

/* Seconds before try number attempts+2: 1, 2, 4 ... capped, plus up to a quarter more
 * so that many events failing together do not come back together. */
static time_t backoff(int attempts)
{
    time_t base = EVENTS_BACKOFF_CAP;
    if (attempts >= 0 && attempts < 10)
        base = (time_t)1 << attempts;
    if (base > EVENTS_BACKOFF_CAP)
        base = EVENTS_BACKOFF_CAP;
    uint32_t r = 0;
    if (base >= 4 && vodup_random(&r, sizeof r) == 0)
        base += (time_t)(r % (uint32_t)(base / 4 + 1));
    return base;
}

/* "now" rounded up, so a backoff of 1 s never fires after a few milliseconds just because
 * the store keeps whole seconds. */
static time_t now_ceil(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return ts.tv_sec + (ts.tv_nsec > 0);
}

static void fail(events *ev, const vodup_meta_event *e, const char *err, int counts)
{
    vodupd *s = ev->s;
    if (!counts)
        ev->trouble = 1;
    if (counts && s->event_max_attempts > 0 && e->attempts + 1 >= s->event_max_attempts) {
        fprintf(stderr, "vodupd: event %lld dropped after %d attempts (last: %s)\n", e->id,
                e->attempts + 1, err);
        if (vodup_meta_event_done(s->meta, e->id) != VODUP_META_OK)
            ev->trouble = 1;
        return;
    }
    if (vodup_meta_event_retry(s->meta, e->id, now_ceil() + backoff(e->attempts), err) != VODUP_META_OK)
        ev->trouble = 1;
}

static void drop(events *ev, const vodup_meta_event *e, const char *reason)
{
    fprintf(stderr, "vodupd: event %lld dropped: %s\n", e->id, reason);
    if (vodup_meta_event_done(ev->s->meta, e->id) != VODUP_META_OK)
        ev->trouble = 1;
}

static void handle(events *ev, vodup_meta_event *e)
{
    vodupd *s = ev->s;
    char err[CURL_ERROR_SIZE + 32];

    if (!e->body) {
        vodup_meta_media md;
        memset(&md, 0, sizeof md);
        int r = vodup_meta_media_get(s->meta, e->account_id, e->media_id, &md);
        if (r == VODUP_META_ENOTFOUND) {
            drop(ev, e, "media deleted");
            return;
        }
        if (r != VODUP_META_OK) {
            /* The store's trouble is not the receiver's: it never makes us drop the event. */
            fail(ev, e, "metadata store error", 0);
            return;
        }
        char *cfg = NULL;
        r = vodup_meta_callback_get(s->meta, e->account_id, &cfg);
        if (r != VODUP_META_OK && r != VODUP_META_ENOTFOUND) {
            vodup_meta_media_clear(&md);
            fail(ev, e, "metadata store error", 0);
            return;
        }
        if (r == VODUP_META_ENOTFOUND) {
            free(cfg);
            cfg = NULL;
        }
        const char *reason = NULL;
        char *body, *url, *key;
        r = build(s, e, &md, cfg, &body, &url, &key, &reason);
        free(cfg);
        vodup_meta_media_clear(&md);
        if (r == 0) {
            drop(ev, e, reason);
            return;
        }
        if (r < 0) {
            fail(ev, e, "out of memory", 0);
            return;
        }
        /* Fix the body before the first send, so every retry carries the same bytes. */
        if (vodup_meta_event_prepare(s->meta, e->id, body, url, key) != VODUP_META_OK) {
            free(body);
            free(url);
            free(key);
            fail(ev, e, "metadata store error", 0);
            return;
        }
        free(e->url);
        free(e->auth_key);
        e->body = body;
        e->url = url;
        e->auth_key = key;
    }
    if (!e->url) {
        drop(ev, e, "no callback URL");
        return;
    }
    if (post(ev, e, err, sizeof err) == 0) {
        if (vodup_meta_event_done(s->meta, e->id) != VODUP_META_OK)
            ev->trouble = 1;
    } else
        fail(ev, e, err, 1);
}

static void *sender_main(void *p)
{
    events *ev = p;
    vodupd *s = ev->s;
    batch bt;

    pthread_mutex_lock(&ev->mu);
    while (!ev->stop) {
        ev->kicked = 0;
        pthread_mutex_unlock(&ev->mu);

        memset(&bt, 0, sizeof bt);
        ev->trouble = 0;
        int r = vodup_meta_event_due(s->meta, time(NULL), EVENTS_BATCH, take_cb, &bt);
        for (size_t i = 0; i < bt.n; i++) {
            /* An attempt in progress finishes; the rest wait for the next start. */
            pthread_mutex_lock(&ev->mu);
            int stopping = ev->stop;
            pthread_mutex_unlock(&ev->mu);
            if (!stopping)
                handle(ev, &bt.ev[i]);
            ev_free(&bt.ev[i]);
        }
        int full = r == VODUP_META_OK && !bt.oom && bt.n == EVENTS_BATCH;

        /* Sleep until the next event is due, a kick, or the idle re-check. */
        time_t now = time(NULL);
        time_t until = now + EVENTS_IDLE_WAIT;
        time_t next;
        if (r != VODUP_META_OK || bt.oom || ev->trouble)
            until = now + 1;     /* store trouble: do not spin (or re-send) on it */
        else if (full)
            until = now;         /* more may be due right away */
        else if (vodup_meta_event_next(s->meta, &next) == VODUP_META_OK && next < until)
            until = next;
        /* Something due that the batch did not return would otherwise spin this loop. */
        if (until <= now && bt.n == 0)
            until = now + 1;
        pthread_mutex_lock(&ev->mu);
        if (until > now) {
            struct timespec ts = {.tv_sec = until, .tv_nsec = 0};
            while (!ev->stop && !ev->kicked) {
                if (pthread_cond_timedwait(&ev->cv, &ev->mu, &ts) == ETIMEDOUT)
                    break;
            }
        }
    }
    pthread_mutex_unlock(&ev->mu);
    return NULL;
}

events *events_start(vodupd *s)
{
    events *ev = calloc(1, sizeof *ev);
    if (!ev)
        return NULL;
    ev->s = s;
    ev->curl = curl_easy_init();
    if (!ev->curl) {
        free(ev);
        return NULL;
    }
    pthread_mutex_init(&ev->mu, NULL);
    pthread_cond_init(&ev->cv, NULL);
    if (pthread_create(&ev->thread, NULL, sender_main, ev) != 0) {
        pthread_cond_destroy(&ev->cv);
        pthread_mutex_destroy(&ev->mu);
        curl_easy_cleanup(ev->curl);
        free(ev);
        return NULL;
    }
    return ev;
}

void events_kick(events *ev)
{
    if (!ev)
        return;
    pthread_mutex_lock(&ev->mu);
    ev->kicked = 1;
    pthread_cond_signal(&ev->cv);
    pthread_mutex_unlock(&ev->mu);
}

void events_stop(events *ev)
{
    if (!ev)
        return;
    pthread_mutex_lock(&ev->mu);
    ev->stop = 1;
    pthread_cond_signal(&ev->cv);
    pthread_mutex_unlock(&ev->mu);
    pthread_join(ev->thread, NULL);
    pthread_cond_destroy(&ev->cv);
    pthread_mutex_destroy(&ev->mu);
    curl_easy_cleanup(ev->curl);
    free(ev);
}
