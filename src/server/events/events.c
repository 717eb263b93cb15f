/* events.c - the callback sender: takes due events from the outbox, builds each body
 * once, POSTs it to its callback URL and forgets it on HTTP 200.
 *
 * The outbox lives in the metadata store (meta_vod.h) and stays the source of truth: an
 * event leaves it only after a 200 (or when dropped), and every other outcome (retry at T,
 * with the reason) is written back as soon as it is known. Delivery is at-least-once; a
 * receiver may see an event twice when we crash between its 200 and our bookkeeping.
 *
 * Sending is concurrent (one thread driving a curl multi handle) so that slow or dead
 * receivers cost the others nothing:
 *   - events are queued per destination (scheme://host:port of their URL); a destination
 *     that answered its last request (any HTTP status) has up to EVENTS_DEST_INFLIGHT
 *     deliveries in progress; one that has not answered yet, or whose last attempt got no
 *     answer (refused, timed out), is on probation: one at a time, and all destinations on
 *     probation together at most EVENTS_PROBATION_INFLIGHT, so that however many receivers
 *     are dead, the rest of EVENTS_MAX_INFLIGHT stays free for those that answer; free
 *     slots go round-robin over the destinations with work;
 *   - the events held in memory (waiting or in flight) are leased in the store (next_at
 *     pushed EVENTS_LEASE ahead by event_due itself, so nodes sharing a store never take
 *     the same event, and renewed while held; after a crash they wait at most that long,
 *     a clean stop gives them back at once) so the due query keeps returning the others; a
 *     destination's queue holds at most EVENTS_DEST_QUEUE, the excess is deferred in the
 *     store for EVENTS_BUSY_DEFER seconds without counting an attempt;
 *   - a failed attempt backs off per event: 1 s, 2 s, 4 s ... capped at 10 min, plus
 *     random jitter of up to a quarter (--event-max-attempts gives up after N).
 * Order: events to one destination start in outbox order, but nothing more is promised
 * (as before: a retried event may arrive after later ones, and deliveries to one
 * destination run in parallel). Receivers order by EventTime.
 *
 * Callback URLs are tenant input (SetMessageCallback, and each upload's UserData), so
 * requests may only connect to public unicast addresses unless the operator allows more
 * (--callback-allow CIDR, --callback-allow-private): the check is on the address curl is
 * about to connect to, after DNS, so a name resolving to 127.0.0.1 or a rebinding DNS
 * server does not get around it. No redirects are followed (a 3xx is a failure, as at
 * VOD), no proxy is taken from the environment, only http and https.
 */
#include "server/events/events.h"

#include "common/buf.h"
#include "common/codec.h"
#include "common/digest.h"
#include "common/timefmt.h"
#include "server/auth/auth.h"
#include "server/store/meta_vod.h"

#include <curl/curl.h>
#include <jansson.h>
#include <netinet/in.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <time.h>

#define EVENTS_BATCH 32              /* due events read from the store per query */
#define EVENTS_IDLE_WAIT 10          /* seconds: re-check the outbox at least this often */
#define EVENTS_BACKOFF_CAP 600       /* seconds: 10 min, the longest pause between tries */
#define EVENTS_HTTP_TIMEOUT 5L       /* seconds: VOD's own receiver timeout */
#define EVENTS_MAX_INFLIGHT 256      /* deliveries in progress, all destinations together */
#define EVENTS_DEST_INFLIGHT 4       /* ... to one destination that answers */
#define EVENTS_PROBATION_INFLIGHT 192 /* ... to destinations that have not answered (yet), together */
#define EVENTS_DEST_KEEP 60          /* seconds a destination's standing is remembered when idle */
#define EVENTS_DEST_QUEUE 64         /* events held for one destination (waiting + in flight) */
#define EVENTS_MAX_HELD 2048         /* events held in memory in all */
#define EVENTS_LEASE VODUP_META_EVENT_LEASE /* seconds a held event is kept out of the due query */
#define EVENTS_BUSY_DEFER 5          /* seconds: destination queue full, look again then */
#define EVENTS_IDLE_CONNS 64         /* idle keep-alive connections kept for reuse */

/* A random number of seconds in 0..max, so that events failing (or deferred) together do
 * not come back together. */
static time_t jitter(time_t max)
{
    uint32_t r = 0;
    if (max <= 0 || vodup_random(&r, sizeof r) != 0)
        return 0;
    return (time_t)(r % (uint32_t)(max + 1));
}

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
    /* The probe's (server/probe_jobs.c): no file URL or size; Status says whether the
     * video is usable; SnapshotComplete carries CoverUrl. */
    {"VideoAnalysisComplete", "VideoId", NULL},
    {"SnapshotComplete", "VideoId", NULL},
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
    int failed = !strcmp(md->status, "TranscodeFail") && !k->url_field;
    bad |= json_object_set_new(out, "Status", json_string(failed ? "fail" : "success"));
    if (k->url_field)
        bad |= json_object_set_new(out, "Size", json_integer((json_int_t)md->size));
    if (!strcmp(k->type, "SnapshotComplete") && md->cover_url)
        bad |= json_object_set_new(out, "CoverUrl", json_string(md->cover_url));
    if (k->url_field && md->bucket && md->object_key && s->public_url) {
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

/* ---- AuthKeys at rest ---------------------------------------------------------------------- */

/* The store calls these to seal and open AuthKeys (vodup_meta_sealer): AES-256-GCM under
 * the data directory's master key, as for AccessKey secrets (auth_seal), in base64. */
static char *seal_text(void *ctx, const char *aad, const char *secret)
{
    const vodupd *s = ctx;
    unsigned char *sealed = NULL;
    size_t n = 0;
    if (auth_seal(s->master_key, aad, secret, strlen(secret), &sealed, &n) != 0)
        return NULL;
    vbuf b = VBUF_INIT;
    int bad = vodup_base64_encode(&b, sealed, n);
    free(sealed);
    if (bad || b.oom) {
        vbuf_free(&b);
        return NULL;
    }
    return vbuf_steal(&b);
}

static char *open_text(void *ctx, const char *aad, const char *text)
{
    const vodupd *s = ctx;
    size_t n = strlen(text);
    unsigned char *raw = malloc(n / 4 * 3 + 3);
    if (!raw)
        return NULL;
    long len = vodup_base64_decode(raw, text, n);
    char *plain = NULL;
    size_t plen = 0;
    if (len < 0 || auth_unseal(s->master_key, aad, raw, (size_t)len, &plain, &plen) != 0)
        plain = NULL;
    free(raw);
    return plain;
}

int events_seal_install(vodupd *s)
{
    vodup_meta_sealer sl = {seal_text, open_text, s};
    vodup_meta_set_sealer(s->meta, &sl);
    int n = vodup_meta_callback_seal_all(s->meta);
    if (n < 0)
        return -1;
    if (n > 0)
        fprintf(stderr, "vodupd: sealed the callback AuthKey of %d account(s) stored by an earlier version\n", n);
    return 0;
}

/* ---- the sender -------------------------------------------------------------------------- */

typedef struct dest dest;

typedef struct job {
    vodup_meta_event e;
    dest *d;
    struct job *next;              /* in d's waiting queue */
    struct events *ev;
    CURL *easy;                    /* while in flight */
    struct curl_slist *hdrs;
    char errbuf[CURL_ERROR_SIZE];
    char refused[256];             /* the address check's reason, when it refused one */
    int probation;                 /* counted in inflight_probation */
} job;

struct dest {
    char *key;                     /* scheme://host:port */
    job *head, *tail;              /* waiting, in outbox order */
    int held;                      /* waiting + in flight */
    int inflight;
    int answers;                   /* its last request got an HTTP answer: out of probation */
    time_t last_used;              /* for forgetting idle destinations */
    dest *next;
};

struct events {
    vodupd *s;
    pthread_t thread;
    CURLM *multi;
    atomic_int kicked;
    atomic_int stop;
    dest *dests;
    dest *rr;                      /* where the round-robin over destinations resumes */
    job *held[EVENTS_MAX_HELD];
    int nheld;
    int inflight;
    int inflight_probation;        /* of which to destinations on probation */
    int trouble;                   /* the store failed in this round: pause before the next */
    time_t check_at;               /* when to look at the outbox again */
};

/* An event becomes due again at t: look at the outbox by then. */
static void recheck_by(events *ev, time_t t)
{
    if (t < ev->check_at)
        ev->check_at = t;
}

static void ev_free(vodup_meta_event *e)
{
    vodup_meta_event_clear(e);
}

static char *dup_or_null(const char *p, int *oom)
{
    if (!p)
        return NULL;
    char *d = strdup(p);
    if (!d)
        *oom = 1;
    return d;
}

typedef struct batch {
    vodup_meta_event ev[EVENTS_BATCH];
    size_t n;
    int oom;
} batch;

/* Copies, because the store owns the struct only for the duration of the callback. */
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
    c->auth_key = NULL;            /* never used: see current_key */
    c->last_error = dup_or_null(e->last_error, &oom);
    if (oom) {
        ev_free(c);
        bt->oom = 1;
        return 1;
    }
    bt->n++;
    return 0;
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
    return base + jitter(base / 4);
}

/* "now" rounded up, so a backoff of 1 s never fires after a few milliseconds just because
 * the store keeps whole seconds. */
static time_t now_ceil(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return ts.tv_sec + (ts.tv_nsec > 0);
}

/* A bookkeeping result: a row that is gone was withdrawn (its media deleted) meanwhile,
 * which is no trouble of the store's. */
static void note(events *ev, int rc)
{
    if (rc != VODUP_META_OK && rc != VODUP_META_ENOTFOUND)
        ev->trouble = 1;
}

static void fail(events *ev, const vodup_meta_event *e, const char *err, int counts)
{
    vodupd *s = ev->s;
    if (!counts)
        ev->trouble = 1;
    if (counts && s->event_max_attempts > 0 && e->attempts + 1 >= s->event_max_attempts) {
        fprintf(stderr, "vodupd: event %lld dropped after %d attempts (last: %s)\n", e->id, e->attempts + 1, err);
        note(ev, vodup_meta_event_done(s->meta, e->id));
        return;
    }
    time_t at = now_ceil() + backoff(e->attempts);
    note(ev, vodup_meta_event_retry(s->meta, e->id, at, err));
    recheck_by(ev, at);
}

static void drop(events *ev, const vodup_meta_event *e, const char *reason)
{
    fprintf(stderr, "vodupd: event %lld dropped: %s\n", e->id, reason);
    note(ev, vodup_meta_event_done(ev->s->meta, e->id));
}

/* Builds and fixes the body of an event seen for the first time. 1 ready, 0 handled
 * (dropped or put back). */
static int prepare(events *ev, vodup_meta_event *e)
{
    vodupd *s = ev->s;
    vodup_meta_media md;
    memset(&md, 0, sizeof md);
    int r = vodup_meta_media_get(s->meta, e->account_id, e->media_id, &md);
    if (r == VODUP_META_ENOTFOUND) {
        drop(ev, e, "media deleted");
        return 0;
    }
    if (r != VODUP_META_OK) {
        /* The store's trouble is not the receiver's: it never makes us drop the event. */
        fail(ev, e, "metadata store error", 0);
        return 0;
    }
    char *cfg = NULL;
    r = vodup_meta_callback_get(s->meta, e->account_id, &cfg);
    if (r != VODUP_META_OK && r != VODUP_META_ENOTFOUND) {
        vodup_meta_media_clear(&md);
        fail(ev, e, "metadata store error", 0);
        return 0;
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
        return 0;
    }
    if (r < 0) {
        fail(ev, e, "out of memory", 0);
        return 0;
    }
    if (key) {
        /* The key is looked up at each attempt; it is not copied into the outbox. */
        memset(key, 0, strlen(key));
        free(key);
    }
    /* Fix the body before the first send, so every retry carries the same bytes. */
    if (vodup_meta_event_prepare(s->meta, e->id, body, url, NULL) != VODUP_META_OK) {
        free(body);
        free(url);
        fail(ev, e, "metadata store error", 0);
        return 0;
    }
    free(e->url);
    e->body = body;
    e->url = url;
    return 1;
}

/* The account's AuthKey when its configuration signs callbacks now (*key NULL when not).
 * Looked up at each attempt so that a new key applies to events still pending: the
 * receiver checks against the key it has now. -1 on store trouble. */
static int current_key(events *ev, const char *account_id, char **key)
{
    *key = NULL;
    char *text = NULL;
    int r = vodup_meta_callback_get(ev->s->meta, account_id, &text);
    if (r == VODUP_META_ENOTFOUND)
        return 0;
    if (r != VODUP_META_OK)
        return -1;
    json_t *cfg = json_loads(text, 0, NULL);
    free(text);
    const char *sw = obj_str(cfg, "AuthSwitch");
    const char *k = obj_str(cfg, "AuthKey");
    int rc = 0;
    if (sw && !strcasecmp(sw, "on") && k && *k) {
        *key = strdup(k);
        rc = *key ? 0 : -1;
    }
    json_decref(cfg);
    return rc;
}

/* scheme://host:port of url (lower case, default ports filled in), NULL when it is not
 * an http(s) URL we can send to. */
static char *dest_key(const char *url)
{
    CURLU *u = curl_url();
    char *scheme = NULL, *host = NULL, *port = NULL, *out = NULL;
    if (u && curl_url_set(u, CURLUPART_URL, url, 0) == CURLUE_OK &&
        curl_url_get(u, CURLUPART_SCHEME, &scheme, 0) == CURLUE_OK &&
        curl_url_get(u, CURLUPART_HOST, &host, 0) == CURLUE_OK &&
        curl_url_get(u, CURLUPART_PORT, &port, CURLU_DEFAULT_PORT) == CURLUE_OK &&
        (!strcasecmp(scheme, "http") || !strcasecmp(scheme, "https"))) {
        vbuf b = VBUF_INIT;
        vbuf_printf(&b, "%s://%s:%s", scheme, host, port);
        if (!b.oom) {
            out = vbuf_steal(&b);
            for (char *p = out; *p; p++)
                if (*p >= 'A' && *p <= 'Z')
                    *p = (char)(*p + 32);
        }
        vbuf_free(&b);
    }
    curl_free(scheme);
    curl_free(host);
    curl_free(port);
    curl_url_cleanup(u);
    return out;
}

static dest *dest_get(events *ev, const char *key)
{
    for (dest *d = ev->dests; d; d = d->next)
        if (!strcmp(d->key, key))
            return d;
    dest *d = calloc(1, sizeof *d);
    if (!d)
        return NULL;
    d->key = strdup(key);
    if (!d->key) {
        free(d);
        return NULL;
    }
    d->next = ev->dests;
    ev->dests = d;
    return d;
}

/* Forgets destinations idle for a while, so a tenant cycling through URLs does not grow
 * the list for ever. */
static void dests_prune(events *ev, time_t now)
{
    dest **pp = &ev->dests;
    while (*pp) {
        dest *d = *pp;
        if (d->held == 0 && (now - d->last_used >= EVENTS_DEST_KEEP || now < d->last_used)) {
            *pp = d->next;
            if (ev->rr == d)
                ev->rr = NULL;
            free(d->key);
            free(d);
        } else
            pp = &d->next;
    }
}

static int held_index(const events *ev, long long id)
{
    for (int i = 0; i < ev->nheld; i++)
        if (ev->held[i]->e.id == id)
            return i;
    return -1;
}

static void job_release(events *ev, job *j)
{
    int i = held_index(ev, j->e.id);
    if (i >= 0)
        ev->held[i] = ev->held[--ev->nheld];
    j->d->held--;
    ev_free(&j->e);
    free(j);
}

/* Takes one due event into memory, or leaves it to a later round. */
static void admit(events *ev, vodup_meta_event *e, time_t now)
{
    vodupd *s = ev->s;
    int i = held_index(ev, e->id);
    if (i >= 0) {
        /* Held longer than its lease (a slow queue): renew it so it stays out of the due query. */
        note(ev, vodup_meta_event_defer(s->meta, e->id, now + EVENTS_LEASE));
        return;
    }
    if (!e->body && !prepare(ev, e))
        return;
    if (!e->url) {
        drop(ev, e, "no callback URL");
        return;
    }
    char *key = dest_key(e->url);
    if (!key) {
        drop(ev, e, "the callback URL is not an http or https URL");
        return;
    }
    dest *d = dest_get(ev, key);
    free(key);
    if (!d) {
        fail(ev, e, "out of memory", 0);
        return;
    }
    if (d->held >= EVENTS_DEST_QUEUE || ev->nheld >= EVENTS_MAX_HELD) {
        /* Busy: not an attempt, just later. */
        time_t at = now + EVENTS_BUSY_DEFER + jitter(EVENTS_BUSY_DEFER);
        note(ev, vodup_meta_event_defer(s->meta, e->id, at));
        recheck_by(ev, at);
        return;
    }
    job *j = calloc(1, sizeof *j);
    if (!j) {
        fail(ev, e, "out of memory", 0);
        return;
    }
    int r = vodup_meta_event_defer(s->meta, e->id, now + EVENTS_LEASE);
    if (r != VODUP_META_OK) {
        free(j);
        if (r != VODUP_META_ENOTFOUND)   /* gone: withdrawn meanwhile */
            fail(ev, e, "metadata store error", 0);
        return;
    }
    j->e = *e;
    memset(e, 0, sizeof *e);     /* the job owns the strings now */
    j->ev = ev;
    j->d = d;
    d->held++;
    if (d->tail)
        d->tail->next = j;
    else
        d->head = j;
    d->tail = j;
    ev->held[ev->nheld++] = j;
}

static size_t discard(char *p, size_t size, size_t n, void *u)
{
    (void)p;
    (void)u;
    return size * n;   /* the receiver's body means nothing to VOD either */
}

/* Every connection curl is about to open passes here, after DNS. */
static curl_socket_t open_checked(void *u, curlsocktype purpose, struct curl_sockaddr *addr)
{
    job *j = u;
    if (purpose != CURLSOCKTYPE_IPCXN) {
        snprintf(j->refused, sizeof j->refused, "callback connection of an unexpected kind refused");
        return CURL_SOCKET_BAD;
    }
    if (events_address_refused(j->ev->s, &addr->addr, j->refused, sizeof j->refused))
        return CURL_SOCKET_BAD;
    return socket(addr->family, addr->socktype, addr->protocol);
}

/* Sets up j's POST and adds it to the multi handle. -1 with *err when it cannot start. */
static int start(events *ev, job *j, const char **err)
{
    char *key = NULL;
    if (current_key(ev, j->e.account_id, &key) != 0) {
        *err = "metadata store error";
        return -1;
    }
    struct curl_slist *h = NULL, *t;
    const char *lines[4] = {"Content-Type: application/json", "Expect:", NULL, NULL};
    char ts_line[64], sig_line[64];
    if (key) {
        long long now = (long long)time(NULL);
        char sig[33];
        events_signature(sig, j->e.url, now, key);
        memset(key, 0, strlen(key));
        free(key);
        snprintf(ts_line, sizeof ts_line, "X-VOD-TIMESTAMP: %lld", now);
        snprintf(sig_line, sizeof sig_line, "X-VOD-SIGNATURE: %s", sig);
        lines[2] = ts_line;
        lines[3] = sig_line;
    }
    for (int i = 0; i < 4 && lines[i]; i++) {
        t = curl_slist_append(h, lines[i]);
        if (!t) {
            curl_slist_free_all(h);
            *err = "out of memory";
            return -1;
        }
        h = t;
    }
    CURL *c = curl_easy_init();
    if (!c) {
        curl_slist_free_all(h);
        *err = "out of memory";
        return -1;
    }
    j->hdrs = h;
    j->easy = c;
    j->errbuf[0] = j->refused[0] = '\0';
    curl_easy_setopt(c, CURLOPT_PRIVATE, j);
    curl_easy_setopt(c, CURLOPT_URL, j->e.url);
    curl_easy_setopt(c, CURLOPT_POST, 1L);
    curl_easy_setopt(c, CURLOPT_POSTFIELDS, j->e.body);
    curl_easy_setopt(c, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)strlen(j->e.body));
    curl_easy_setopt(c, CURLOPT_HTTPHEADER, h);
    curl_easy_setopt(c, CURLOPT_TIMEOUT, EVENTS_HTTP_TIMEOUT);
    curl_easy_setopt(c, CURLOPT_CONNECTTIMEOUT, EVENTS_HTTP_TIMEOUT);
    /* VOD counts a 301/302 as a failure and does not follow it; so do we (a redirect
     * would also be a way around the address check of the first hop's name). */
    curl_easy_setopt(c, CURLOPT_FOLLOWLOCATION, 0L);
    /* The URL is tenant input: never let it reach file://, gopher:// and the like. */
#if LIBCURL_VERSION_NUM >= 0x075500
    curl_easy_setopt(c, CURLOPT_PROTOCOLS_STR, "http,https");
#else
    curl_easy_setopt(c, CURLOPT_PROTOCOLS, (long)(CURLPROTO_HTTP | CURLPROTO_HTTPS));
#endif
    /* No proxy from http_proxy & co.: the address check must see the receiver itself. */
    curl_easy_setopt(c, CURLOPT_PROXY, "");
    curl_easy_setopt(c, CURLOPT_OPENSOCKETFUNCTION, open_checked);
    curl_easy_setopt(c, CURLOPT_OPENSOCKETDATA, j);
    /* Signals and threads do not mix; DNS timeouts then rely on the threaded resolver. */
    curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, discard);
    curl_easy_setopt(c, CURLOPT_ERRORBUFFER, j->errbuf);
    curl_easy_setopt(c, CURLOPT_USERAGENT, "vodupd-events/1");
    if (curl_multi_add_handle(ev->multi, c) != CURLM_OK) {
        curl_easy_cleanup(c);
        curl_slist_free_all(h);
        j->easy = NULL;
        j->hdrs = NULL;
        *err = "out of memory";
        return -1;
    }
    j->d->inflight++;
    j->d->last_used = time(NULL);
    ev->inflight++;
    if (!j->d->answers)
        ev->inflight_probation++;
    j->probation = !j->d->answers;
    return 0;
}

/* Starts waiting jobs while there is room, one destination at a time round-robin, so
 * that a destination with a long queue does not take every free slot. */
static void dispatch(events *ev)
{
    int progress = 1;
    while (progress && ev->inflight < EVENTS_MAX_INFLIGHT && ev->dests) {
        progress = 0;
        dest *first = ev->rr ? ev->rr : ev->dests;
        dest *d = first;
        do {
            dest *after = d->next ? d->next : ev->dests;
            int room = d->answers ? d->inflight < EVENTS_DEST_INFLIGHT
                                  : d->inflight < 1 && ev->inflight_probation < EVENTS_PROBATION_INFLIGHT;
            if (d->head && room && ev->inflight < EVENTS_MAX_INFLIGHT) {
                job *j = d->head;
                d->head = j->next;
                if (!d->head)
                    d->tail = NULL;
                j->next = NULL;
                const char *err = NULL;
                if (start(ev, j, &err) != 0) {
                    fail(ev, &j->e, err, 0);
                    job_release(ev, j);
                }
                ev->rr = after;   /* the next free slot goes to the next destination */
                progress = 1;
            }
            d = after;
        } while (d != first);
    }
}

/* Records the outcome of finished transfers. */
static void reap(events *ev)
{
    CURLMsg *msg;
    int left;
    while ((msg = curl_multi_info_read(ev->multi, &left)) != NULL) {
        if (msg->msg != CURLMSG_DONE)
            continue;
        CURL *c = msg->easy_handle;
        CURLcode cc = msg->data.result;
        char *pj = NULL;
        curl_easy_getinfo(c, CURLINFO_PRIVATE, &pj);
        job *j = (job *)(void *)pj;
        long status = 0;
        if (cc == CURLE_OK)
            curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &status);
        curl_multi_remove_handle(ev->multi, c);
        curl_easy_cleanup(c);
        curl_slist_free_all(j->hdrs);
        j->easy = NULL;
        j->hdrs = NULL;
        j->d->inflight--;
        ev->inflight--;
        if (j->probation)
            ev->inflight_probation--;
        /* Any HTTP answer shows the receiver is there; no answer puts it on probation. */
        j->d->answers = cc == CURLE_OK;
        if (cc == CURLE_OK && status == 200) {
            note(ev, vodup_meta_event_done(ev->s->meta, j->e.id));
        } else {
            char err[CURL_ERROR_SIZE + 64];
            if (cc != CURLE_OK) {
                snprintf(err, sizeof err, "%s", j->refused[0] && cc == CURLE_COULDNT_CONNECT ? j->refused
                                                 : j->errbuf[0]                             ? j->errbuf
                                                                                             : curl_easy_strerror(cc));
            } else {
                snprintf(err, sizeof err, "HTTP %ld", status);
            }
            fail(ev, &j->e, err, 1);
        }
        job_release(ev, j);
    }
}

static time_t next_check(events *ev, time_t now, int r, const batch *bt)
{
    time_t until = now + EVENTS_IDLE_WAIT;
    time_t next;
    if (r != VODUP_META_OK || bt->oom || ev->trouble)
        return now + 1;     /* store trouble: do not spin (or re-send) on it */
    if (bt->n == EVENTS_BATCH && ev->nheld < EVENTS_MAX_HELD)
        return now;         /* more may be due right away */
    if (vodup_meta_event_next(ev->s->meta, &next) == VODUP_META_OK && next < until)
        until = next;
    /* Something due that the batch did not return would otherwise spin this loop. */
    if (until <= now && bt->n == 0)
        until = now + 1;
    return until;
}

static void *sender_main(void *p)
{
    events *ev = p;
    vodupd *s = ev->s;
    batch bt;

    while (!atomic_load(&ev->stop)) {
        time_t now = time(NULL);
        if (atomic_exchange(&ev->kicked, 0) || now >= ev->check_at) {
            memset(&bt, 0, sizeof bt);
            ev->trouble = 0;
            int r = VODUP_META_OK;
            if (ev->nheld < EVENTS_MAX_HELD)
                r = vodup_meta_event_due(s->meta, now, EVENTS_BATCH, take_cb, &bt);
            ev->check_at = now + EVENTS_IDLE_WAIT;   /* admit may bring it forward */
            for (size_t i = 0; i < bt.n; i++) {
                admit(ev, &bt.ev[i], now);
                ev_free(&bt.ev[i]);
            }
            recheck_by(ev, next_check(ev, now, r, &bt));
            dests_prune(ev, now);
        }
        dispatch(ev);
        int running = 0;
        curl_multi_perform(ev->multi, &running);
        reap(ev);
        dispatch(ev);   /* slots freed by reap */

        /* Wait for socket activity (curl shortens the wait to its own timeouts), a kick,
         * or the next look at the outbox. */
        struct timespec ts;
        clock_gettime(CLOCK_REALTIME, &ts);
        long long ms = (long long)ev->check_at * 1000 - ((long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000);
        if (ms > EVENTS_IDLE_WAIT * 1000L)
            ms = EVENTS_IDLE_WAIT * 1000L;
        if (ms > 0)
            curl_multi_poll(ev->multi, NULL, 0, (int)ms, NULL);
    }

    /* Stopping: attempts in progress finish (bounded by their timeout) and record their
     * outcome; events still waiting go back to the outbox, due at once for the next start. */
    while (ev->inflight > 0) {
        int running = 0;
        curl_multi_perform(ev->multi, &running);
        reap(ev);
        if (ev->inflight > 0)
            curl_multi_poll(ev->multi, NULL, 0, 1000, NULL);
    }
    time_t now = time(NULL);
    for (dest *d = ev->dests; d; d = d->next) {
        while (d->head) {
            job *j = d->head;
            d->head = j->next;
            vodup_meta_event_defer(s->meta, j->e.id, now);
            job_release(ev, j);
        }
        d->tail = NULL;
    }
    dests_prune(ev, now + EVENTS_DEST_KEEP);
    return NULL;
}

events *events_start(vodupd *s)
{
    events *ev = calloc(1, sizeof *ev);
    if (!ev)
        return NULL;
    ev->s = s;
    ev->multi = curl_multi_init();
    if (!ev->multi) {
        free(ev);
        return NULL;
    }
    /* Bounded sockets: EVENTS_MAX_INFLIGHT in use (our own cap) and this many idle; curl's
     * default cache would keep 4 idle connections per transfer. */
    curl_multi_setopt(ev->multi, CURLMOPT_MAXCONNECTS, (long)EVENTS_IDLE_CONNS);
    atomic_init(&ev->kicked, 1);
    atomic_init(&ev->stop, 0);
    if (pthread_create(&ev->thread, NULL, sender_main, ev) != 0) {
        curl_multi_cleanup(ev->multi);
        free(ev);
        return NULL;
    }
    return ev;
}

void events_kick(events *ev)
{
    if (!ev)
        return;
    atomic_store(&ev->kicked, 1);
    curl_multi_wakeup(ev->multi);
}

void events_stop(events *ev)
{
    if (!ev)
        return;
    atomic_store(&ev->stop, 1);
    curl_multi_wakeup(ev->multi);
    pthread_join(ev->thread, NULL);
    curl_multi_cleanup(ev->multi);
    free(ev);
}
