/* test_events.c - event callbacks: the signature against VOD's documented vector, the
 * bodies of each event kind byte for byte (VOD's receivers parse them, and the field
 * spelling differs between kinds), the cases that drop an event, and the sender thread
 * end to end against a real metadata store and a small HTTP receiver that fails first.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>

#include "common/buf.h"
#include "common/timefmt.h"
#include "server/events/events.h"
#include "server/server.h"
#include "server/store/meta.h"
#include "server/store/meta_vod.h"
#include "store_harness.h"

#include <arpa/inet.h>
#include <curl/curl.h>
#include <jansson.h>
#include <microhttpd.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define MEDIA_ID "0123456789abcdef0123456789abcdef"
#define CFG_ON(url, list) \
    "{\"CallbackType\":\"HTTP\",\"CallbackURL\":\"" url "\",\"EventTypeList\":\"" list \
    "\",\"AuthSwitch\":\"on\",\"AuthKey\":\"Key123abc\"}"

/* ---- signature ------------------------------------------------------------------------ */

static void test_signature_doc_vector(void **state)
{
    (void)state;
    char sig[33];
    events_signature(sig, "https://www.example.com/your/callback", 1519375990, "test123");
    assert_string_equal(sig, "c72b60894140fa98920f1279219b7ed4");
    /* Every part counts. */
    events_signature(sig, "https://www.example.com/your/callback", 1519375991, "test123");
    assert_string_not_equal(sig, "c72b60894140fa98920f1279219b7ed4");
}

/* ---- events_build ----------------------------------------------------------------------- */

typedef struct built {
    int rc;
    char *body, *url, *key;
} built;

static void built_free(built *b)
{
    free(b->body);
    free(b->url);
    free(b->key);
    memset(b, 0, sizeof *b);
}

static built build_one(const char *type, const char *kind, const char *user_data, const char *cfg)
{
    vodupd s;
    memset(&s, 0, sizeof s);
    s.public_url = "http://vod.example:9000/";   /* trailing slash must not double */

    vodup_meta_event e;
    memset(&e, 0, sizeof e);
    e.id = 7;
    e.account_id = "acc1";
    e.media_id = MEDIA_ID;
    e.event_type = (char *)type;
    e.created = 1519375990;

    vodup_meta_media md;
    memset(&md, 0, sizeof md);
    snprintf(md.id, sizeof md.id, "%s", MEDIA_ID);
    snprintf(md.kind, sizeof md.kind, "%s", kind);
    md.account_id = "acc1";
    md.user_data = (char *)user_data;
    md.bucket = "outin-b";
    md.object_key = "sv/a b+c/\xe4\xb8\xad.mp4";
    md.size = 1439213;
    md.cate_id = -1;

    built b;
    memset(&b, 0, sizeof b);
    b.key = (char *)"sentinel";   /* must be overwritten even when dropped */
    b.rc = events_build(&s, &e, &md, cfg, &b.body, &b.url, &b.key);
    return b;
}

static void test_build_video(void **state)
{
    (void)state;
    built b = build_one("FileUploadComplete", "video", NULL,
                        CFG_ON("https://app.example/cb?x=1", "FileUploadComplete,ImageUploadComplete"));
    assert_int_equal(b.rc, 1);
    assert_string_equal(b.body,
                        "{\"EventTime\":\"2018-02-23T08:53:10Z\",\"EventType\":\"FileUploadComplete\","
                        "\"VideoId\":\"" MEDIA_ID "\",\"Status\":\"success\",\"Size\":1439213,"
                        "\"FileUrl\":\"http://vod.example:9000/outin-b/sv/a%20b%2Bc/%E4%B8%AD.mp4\"}");
    assert_string_equal(b.url, "https://app.example/cb?x=1");
    assert_string_equal(b.key, "Key123abc");
    built_free(&b);
}

static void test_build_image(void **state)
{
    (void)state;
    built b = build_one("ImageUploadComplete", "image", NULL, CFG_ON("https://app.example/cb", "ALL"));
    assert_int_equal(b.rc, 1);
    assert_string_equal(b.body,
                        "{\"EventTime\":\"2018-02-23T08:53:10Z\",\"EventType\":\"ImageUploadComplete\","
                        "\"ImageId\":\"" MEDIA_ID "\",\"Status\":\"success\",\"Size\":1439213,"
                        "\"FileURL\":\"http://vod.example:9000/outin-b/sv/a%20b%2Bc/%E4%B8%AD.mp4\"}");
    assert_null(strstr(b.body, "FileUrl"));
    built_free(&b);
}

static void test_build_attached(void **state)
{
    (void)state;
    /* Case-insensitive type and blanks in the list are tolerated; AuthSwitch off means
     * no signature even though a key is stored. */
    built b = build_one("AttachedMediaUploadComplete", "attached", NULL,
                        "{\"CallbackType\":\"http\",\"CallbackURL\":\"http://h/cb\","
                        "\"EventTypeList\":\"FileUploadComplete, AttachedMediaUploadComplete\","
                        "\"AuthSwitch\":\"off\",\"AuthKey\":\"Key123abc\"}");
    assert_int_equal(b.rc, 1);
    assert_string_equal(b.body,
                        "{\"EventTime\":\"2018-02-23T08:53:10Z\",\"EventType\":\"AttachedMediaUploadComplete\","
                        "\"AttachedMediaId\":\"" MEDIA_ID "\",\"Status\":\"success\",\"Size\":1439213,"
                        "\"FileURL\":\"http://vod.example:9000/outin-b/sv/a%20b%2Bc/%E4%B8%AD.mp4\"}");
    assert_string_equal(b.url, "http://h/cb");
    assert_null(b.key);
    built_free(&b);
}

static void expect_drop(const char *type, const char *user_data, const char *cfg)
{
    built b = build_one(type, "video", user_data, cfg);
    assert_int_equal(b.rc, 0);
    assert_null(b.body);
    assert_null(b.url);
    assert_null(b.key);
}

static void test_build_dropped(void **state)
{
    (void)state;
    expect_drop("FileUploadComplete", NULL, NULL);                                   /* no config */
    expect_drop("FileUploadComplete", NULL, CFG_ON("http://h/cb", "ImageUploadComplete"));
    expect_drop("FileUploadComplete", NULL, CFG_ON("http://h/cb", ""));              /* none */
    expect_drop("FileUploadComplete", NULL, CFG_ON("http://h/cb", "FileUploadCompleteX"));
    expect_drop("FileUploadComplete", NULL,
                "{\"CallbackType\":\"MNS\",\"MnsEndpoint\":\"http://mns\",\"MnsQueueName\":\"q\","
                "\"EventTypeList\":\"ALL\"}");
    expect_drop("FileUploadComplete", NULL, CFG_ON("", "ALL"));                      /* no URL */
    expect_drop("FileUploadComplete", NULL, "not json");
    expect_drop("SomethingElse", NULL, CFG_ON("http://h/cb", "ALL"));
    /* An empty override does not count as a URL either. */
    expect_drop("FileUploadComplete", "{\"MessageCallback\":{\"CallbackURL\":\"\"}}", CFG_ON("", "ALL"));
}

static void test_build_userdata(void **state)
{
    (void)state;
    /* Override of the URL for this media, and Extend passed on as a JSON string. */
    built b = build_one("FileUploadComplete", "video",
                        "{\"MessageCallback\":{\"CallbackURL\":\"https://other.example/hook\"},"
                        "\"Extend\":{\"test\":\"your extend data\",\"n\":1}}",
                        CFG_ON("https://app.example/cb", "ALL"));
    assert_int_equal(b.rc, 1);
    assert_string_equal(b.url, "https://other.example/hook");
    assert_string_equal(b.key, "Key123abc");
    json_error_t err;
    json_t *j = json_loads(b.body, 0, &err);
    assert_non_null(j);
    assert_string_equal(json_string_value(json_object_get(j, "Extend")),
                        "{\"test\":\"your extend data\",\"n\":1}");
    assert_string_equal(json_string_value(json_object_get(j, "EventType")), "FileUploadComplete");
    json_decref(j);
    built_free(&b);

    /* Extend given as a string stays that string. A broken UserData is ignored. */
    b = build_one("FileUploadComplete", "video", "{\"Extend\":\"plain\"}", CFG_ON("http://h/cb", "ALL"));
    assert_int_equal(b.rc, 1);
    assert_non_null(strstr(b.body, ",\"Extend\":\"plain\"}"));
    assert_string_equal(b.url, "http://h/cb");
    built_free(&b);
    b = build_one("FileUploadComplete", "video", "{broken", CFG_ON("http://h/cb", "ALL"));
    assert_int_equal(b.rc, 1);
    assert_null(strstr(b.body, "Extend"));
    assert_string_equal(b.url, "http://h/cb");
    built_free(&b);
}

/* ---- the receiver ------------------------------------------------------------------------ */

#define MAX_REQS 8

typedef struct req {
    char *body;
    char *ts, *sig, *ctype;
    char method[8];
} req;

typedef struct receiver {
    struct MHD_Daemon *d;
    unsigned short port;
    pthread_mutex_t mu;
    int fail_first;        /* answer 500 to this many requests, 200 after */
    int n;
    req reqs[MAX_REQS];
} receiver;

static char *dup_hdr(struct MHD_Connection *c, const char *name)
{
    const char *v = MHD_lookup_connection_value(c, MHD_HEADER_KIND, name);
    return v ? strdup(v) : NULL;
}

static enum MHD_Result on_request(void *cls, struct MHD_Connection *c, const char *url,
                                  const char *method, const char *version, const char *data,
                                  size_t *data_size, void **con_cls)
{
    receiver *r = cls;
    (void)url;
    (void)version;
    vbuf *b = *con_cls;
    if (!b) {
        b = calloc(1, sizeof *b);
        if (!b)
            return MHD_NO;
        *con_cls = b;
        return MHD_YES;
    }
    if (*data_size) {
        vbuf_append(b, data, *data_size);
        *data_size = 0;
        return MHD_YES;
    }
    pthread_mutex_lock(&r->mu);
    int i = r->n++;
    if (i < MAX_REQS) {
        req *q = &r->reqs[i];
        q->body = strdup(vbuf_cstr(b));
        q->ts = dup_hdr(c, "X-VOD-TIMESTAMP");
        q->sig = dup_hdr(c, "X-VOD-SIGNATURE");
        q->ctype = dup_hdr(c, "Content-Type");
        snprintf(q->method, sizeof q->method, "%s", method);
    }
    unsigned status = i < r->fail_first ? 500 : 200;
    pthread_mutex_unlock(&r->mu);
    struct MHD_Response *resp = MHD_create_response_from_buffer(2, (void *)"ok", MHD_RESPMEM_PERSISTENT);
    enum MHD_Result rc = MHD_queue_response(c, status, resp);
    MHD_destroy_response(resp);
    return rc;
}

static void on_done(void *cls, struct MHD_Connection *c, void **con_cls, enum MHD_RequestTerminationCode t)
{
    (void)cls;
    (void)c;
    (void)t;
    vbuf *b = *con_cls;
    if (b) {
        vbuf_free(b);
        free(b);
        *con_cls = NULL;
    }
}

static void receiver_start(receiver *r, int fail_first)
{
    memset(r, 0, sizeof *r);
    pthread_mutex_init(&r->mu, NULL);
    r->fail_first = fail_first;
    struct sockaddr_in sa;
    memset(&sa, 0, sizeof sa);
    sa.sin_family = AF_INET;
    sa.sin_port = 0;
    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    r->d = MHD_start_daemon(MHD_USE_INTERNAL_POLLING_THREAD, 0, NULL, NULL, on_request, r,
                            MHD_OPTION_SOCK_ADDR, (struct sockaddr *)&sa,
                            MHD_OPTION_NOTIFY_COMPLETED, on_done, NULL, MHD_OPTION_END);
    assert_non_null(r->d);
    const union MHD_DaemonInfo *di = MHD_get_daemon_info(r->d, MHD_DAEMON_INFO_BIND_PORT);
    assert_non_null(di);
    r->port = di->port;
    assert_true(r->port != 0);
}

static int receiver_count(receiver *r)
{
    pthread_mutex_lock(&r->mu);
    int n = r->n;
    pthread_mutex_unlock(&r->mu);
    return n;
}

/* Waits (at most limit_s seconds) for the receiver to have seen n requests. */
static int receiver_wait(receiver *r, int n, int limit_s)
{
    for (int i = 0; i < limit_s * 20; i++) {
        if (receiver_count(r) >= n)
            return 1;
        usleep(50 * 1000);
    }
    return receiver_count(r) >= n;
}

static void receiver_stop(receiver *r)
{
    MHD_stop_daemon(r->d);
    for (int i = 0; i < MAX_REQS; i++) {
        free(r->reqs[i].body);
        free(r->reqs[i].ts);
        free(r->reqs[i].sig);
        free(r->reqs[i].ctype);
    }
    pthread_mutex_destroy(&r->mu);
}

/* ---- the store ---------------------------------------------------------------------------- */

typedef struct fx {
    char *dir;
    vodup_meta *m;
    vodupd s;
    receiver r;
    char cb_url[128];
} fx;

static int count_cb(const vodup_meta_event *e, void *u)
{
    (void)e;
    (*(int *)u)++;
    return 0;
}

static int pending(vodup_meta *m)
{
    int n = 0;
    assert_int_equal(vodup_meta_event_list(m, NULL, count_cb, &n), VODUP_META_OK);
    return n;
}

/* A store with account acc1, bucket vodb, a video media at vodb/"sv/a b.mp4", a signed
 * callback to the receiver, and then the object written: that queues the event. */
static void store_setup(fx *f, int fail_first)
{
    memset(f, 0, sizeof *f);
    f->dir = make_temp_dir("events");
    assert_non_null(f->dir);
    assert_int_equal(vodup_meta_open(&f->m, f->dir, 2), VODUP_META_OK);
    time_t now = time(NULL);
    assert_int_equal(vodup_meta_account_create(f->m, "acc1", "first", now), VODUP_META_OK);
    assert_int_equal(vodup_meta_bucket_create(f->m, "vodb", "acc1", now), VODUP_META_OK);

    vodup_meta_media md;
    memset(&md, 0, sizeof md);
    snprintf(md.id, sizeof md.id, "%s", MEDIA_ID);
    snprintf(md.kind, sizeof md.kind, "video");
    snprintf(md.status, sizeof md.status, "Uploading");
    md.account_id = "acc1";
    md.title = "clip";
    md.file_name = "a b.mp4";
    md.ext = "mp4";
    md.user_data = "{\"Extend\":{\"k\":\"v\"}}";
    md.cate_id = -1;
    md.file_size = 5;
    md.bucket = "vodb";
    md.object_key = "sv/a b.mp4";
    md.created = md.modified = now;
    assert_int_equal(vodup_meta_media_create(f->m, &md), VODUP_META_OK);

    receiver_start(&f->r, fail_first);
    snprintf(f->cb_url, sizeof f->cb_url, "http://127.0.0.1:%u/hook?from=vod", (unsigned)f->r.port);
    char cfg[512];
    snprintf(cfg, sizeof cfg,
             "{\"CallbackType\":\"HTTP\",\"CallbackURL\":\"%s\",\"EventTypeList\":\"FileUploadComplete\","
             "\"AuthSwitch\":\"on\",\"AuthKey\":\"Key123abc\"}",
             f->cb_url);
    assert_int_equal(vodup_meta_callback_set(f->m, "acc1", cfg), VODUP_META_OK);

    vodup_meta_object o;
    memset(&o, 0, sizeof o);
    vodup_meta_segment seg;
    memset(&seg, 0, sizeof seg);
    snprintf(seg.blob, sizeof seg.blob, "%s", "00000000000000000000000000000001");
    seg.size = 5;
    o.bucket = "vodb";
    o.key = "sv/a b.mp4";
    o.key_len = strlen(o.key);
    o.size = 5;
    snprintf(o.etag, sizeof o.etag, "0123456789ABCDEF0123456789ABCDEF");
    o.crc64 = 1;
    o.content_type = "video/mp4";
    snprintf(o.type, sizeof o.type, "Normal");
    o.mtime = now;
    o.segs = &seg;
    o.nsegs = 1;
    assert_int_equal(vodup_meta_object_put(f->m, &o), VODUP_META_OK);
    assert_int_equal(pending(f->m), 1);

    f->s.meta = f->m;
    f->s.public_url = "http://127.0.0.1:1";
    f->s.event_max_attempts = 0;
    /* The receiver is on loopback, which callbacks may not reach by default. */
    assert_int_equal(events_parse_cidr("127.0.0.1/32", &f->s.callback_allow[0]), 0);
    f->s.n_callback_allow = 1;
}

static void store_teardown(fx *f)
{
    receiver_stop(&f->r);
    vodup_meta_close(f->m);
    rm_rf(f->dir);
    free(f->dir);
}

static void check_signed(const fx *f, const req *q)
{
    assert_non_null(q->ts);
    assert_non_null(q->sig);
    assert_int_equal(strlen(q->ts), 10);
    char *end = NULL;
    long long ts = strtoll(q->ts, &end, 10);
    assert_true(end && *end == '\0');
    assert_true(llabs(ts - (long long)time(NULL)) < 60);
    char want[33];
    events_signature(want, f->cb_url, ts, "Key123abc");
    assert_string_equal(q->sig, want);
}

static void test_sender_retries_until_200(void **state)
{
    (void)state;
    fx f;
    store_setup(&f, 1);
    events *ev = events_start(&f.s);
    assert_non_null(ev);
    events_kick(ev);
    int got = receiver_wait(&f.r, 2, 15);
    events_stop(ev);   /* lets the attempt in flight record its outcome */
    assert_true(got);
    assert_int_equal(receiver_count(&f.r), 2);

    const req *a = &f.r.reqs[0], *b = &f.r.reqs[1];
    assert_string_equal(a->method, "POST");
    assert_non_null(a->ctype);
    assert_string_equal(a->ctype, "application/json");
    /* The retry carries the very bytes of the first try. */
    assert_non_null(a->body);
    assert_non_null(b->body);
    assert_string_equal(a->body, b->body);
    check_signed(&f, a);
    check_signed(&f, b);

    json_error_t err;
    json_t *j = json_loads(a->body, 0, &err);
    assert_non_null(j);
    assert_string_equal(json_string_value(json_object_get(j, "EventType")), "FileUploadComplete");
    assert_string_equal(json_string_value(json_object_get(j, "VideoId")), MEDIA_ID);
    assert_string_equal(json_string_value(json_object_get(j, "Status")), "success");
    assert_int_equal(json_integer_value(json_object_get(j, "Size")), 5);
    assert_string_equal(json_string_value(json_object_get(j, "FileUrl")), "http://127.0.0.1:1/vodb/sv/a%20b.mp4");
    assert_string_equal(json_string_value(json_object_get(j, "Extend")), "{\"k\":\"v\"}");
    time_t t;
    assert_int_equal(vodup_time_parse_iso(json_string_value(json_object_get(j, "EventTime")), &t), 0);
    assert_true(llabs((long long)(t - time(NULL))) < 60);
    json_decref(j);

    assert_int_equal(pending(f.m), 0);
    store_teardown(&f);
}

static void test_sender_gives_up(void **state)
{
    (void)state;
    fx f;
    store_setup(&f, 1000);
    f.s.event_max_attempts = 2;
    events *ev = events_start(&f.s);
    assert_non_null(ev);
    int got = receiver_wait(&f.r, 2, 15);
    events_stop(ev);
    assert_true(got);
    assert_int_equal(pending(f.m), 0);
    /* Dropped, so nothing more is tried even after a while. */
    ev = events_start(&f.s);
    assert_non_null(ev);
    usleep(1500 * 1000);
    events_stop(ev);
    assert_int_equal(receiver_count(&f.r), 2);
    store_teardown(&f);
}

static void test_sender_drops_unsubscribed(void **state)
{
    (void)state;
    /* The account switched its events off before the sender got to it: the event is
     * dropped without a request, and stopping does not wait out the idle period. */
    fx f;
    store_setup(&f, 0);
    char cfg[512];
    snprintf(cfg, sizeof cfg,
             "{\"CallbackType\":\"HTTP\",\"CallbackURL\":\"%s\",\"EventTypeList\":\"\","
             "\"AuthSwitch\":\"off\",\"AuthKey\":\"\"}",
             f.cb_url);
    assert_int_equal(vodup_meta_callback_set(f.m, "acc1", cfg), VODUP_META_OK);
    struct timespec t0, t1;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    events *ev = events_start(&f.s);
    assert_non_null(ev);
    for (int i = 0; i < 100 && pending(f.m) > 0; i++)
        usleep(50 * 1000);
    events_kick(ev);
    events_stop(ev);
    clock_gettime(CLOCK_MONOTONIC, &t1);
    assert_true(t1.tv_sec - t0.tv_sec < 8);
    assert_int_equal(pending(f.m), 0);
    assert_int_equal(receiver_count(&f.r), 0);
    store_teardown(&f);
}

static void test_media_delete_withdraws_event(void **state)
{
    (void)state;
    /* Deleting the media takes its pending event along, so nothing is ever sent. */
    fx f;
    store_setup(&f, 0);
    assert_int_equal(vodup_meta_media_delete(f.m, "acc1", MEDIA_ID), VODUP_META_OK);
    events *ev = events_start(&f.s);
    assert_non_null(ev);
    usleep(300 * 1000);
    events_stop(ev);
    assert_int_equal(pending(f.m), 0);
    assert_int_equal(receiver_count(&f.r), 0);
    store_teardown(&f);
}

/* ---- where callbacks may connect ------------------------------------------------------------ */

/* 1 when s refuses text (an IPv4 or IPv6 literal); why gets the reason. */
static int refused(const vodupd *s, const char *text, char *why, size_t n)
{
    struct sockaddr_storage ss;
    memset(&ss, 0, sizeof ss);
    struct sockaddr_in *in = (struct sockaddr_in *)&ss;
    struct sockaddr_in6 *in6 = (struct sockaddr_in6 *)&ss;
    if (inet_pton(AF_INET, text, &in->sin_addr) == 1)
        in->sin_family = AF_INET;
    else {
        assert_int_equal(inet_pton(AF_INET6, text, &in6->sin6_addr), 1);
        in6->sin6_family = AF_INET6;
    }
    why[0] = '\0';
    return events_address_refused(s, (struct sockaddr *)&ss, why, n);
}

static void test_address_policy_default(void **state)
{
    (void)state;
    vodupd s;
    memset(&s, 0, sizeof s);
    char why[256];
    static const char *const denied[] = {
        "127.0.0.1", "127.9.9.9", "10.0.0.1", "10.255.255.255", "172.16.0.1", "172.31.255.255", "192.168.1.1",
        "169.254.169.254", "100.64.0.1", "100.127.255.255", "0.0.0.0", "0.1.2.3", "224.0.0.1", "239.255.255.250",
        "255.255.255.255", "240.0.0.1", "192.0.0.170", "198.18.0.1", "192.0.2.1",
        "::", "::1", "::ffff:127.0.0.1", "::ffff:10.1.2.3", "::ffff:169.254.169.254", "::127.0.0.1",
        "64:ff9b::7f00:1", "64:ff9b::a00:1", "64:ff9b:1::1", "2002:7f00:1::1", "2002:c0a8:101::1", "2002:a9fe:a9fe::",
        "fe80::1", "febf::1", "fc00::1", "fd12:3456::1", "ff02::1", "fec0::1", "2001:db8::1", "2001:0:4136:e378::1",
        "100::1", "::ffff:0:7f00:1",
    };
    for (size_t i = 0; i < sizeof denied / sizeof denied[0]; i++) {
        if (!refused(&s, denied[i], why, sizeof why))
            fail_msg("%s was allowed", denied[i]);
        assert_non_null(strstr(why, "refused"));
    }
    assert_true(refused(&s, "127.0.0.1", why, sizeof why));
    assert_non_null(strstr(why, "127.0.0.1"));
    assert_non_null(strstr(why, "loopback"));
    assert_true(refused(&s, "::ffff:10.1.2.3", why, sizeof why));
    assert_non_null(strstr(why, "IPv4-mapped"));
    assert_non_null(strstr(why, "private (10.0.0.0/8)"));

    static const char *const allowed[] = {
        "8.8.8.8", "1.1.1.1", "172.32.0.1", "172.15.255.255", "100.128.0.1", "169.253.1.1", "192.169.0.1",
        "11.0.0.1", "223.255.255.254", "::ffff:8.8.8.8", "64:ff9b::808:808", "2002:808:808::1",
        "2606:4700:4700::1111", "2a00:1450:4001::1",
    };
    for (size_t i = 0; i < sizeof allowed / sizeof allowed[0]; i++)
        if (refused(&s, allowed[i], why, sizeof why))
            fail_msg("%s was refused: %s", allowed[i], why);
}

static void test_address_policy_allow(void **state)
{
    (void)state;
    vodupd s;
    memset(&s, 0, sizeof s);
    char why[256];
    assert_int_equal(events_parse_cidr("10.1.2.0/24", &s.callback_allow[s.n_callback_allow++]), 0);
    assert_int_equal(events_parse_cidr("127.0.0.1", &s.callback_allow[s.n_callback_allow++]), 0);
    assert_int_equal(events_parse_cidr("fd00:1::/32", &s.callback_allow[s.n_callback_allow++]), 0);
    assert_false(refused(&s, "10.1.2.200", why, sizeof why));
    assert_true(refused(&s, "10.1.3.1", why, sizeof why));
    assert_false(refused(&s, "127.0.0.1", why, sizeof why));
    assert_true(refused(&s, "127.0.0.2", why, sizeof why));
    assert_false(refused(&s, "::ffff:127.0.0.1", why, sizeof why));   /* the same host */
    assert_false(refused(&s, "fd00:1:ffff::1", why, sizeof why));
    assert_true(refused(&s, "fd00:2::1", why, sizeof why));
    assert_true(refused(&s, "169.254.169.254", why, sizeof why));
    s.callback_allow_private = 1;
    assert_false(refused(&s, "169.254.169.254", why, sizeof why));
    assert_false(refused(&s, "::1", why, sizeof why));

    vodupd_cidr c;
    assert_int_equal(events_parse_cidr("0.0.0.0/0", &c), 0);
    assert_int_equal(c.bits, 0);
    assert_int_equal(events_parse_cidr("::/0", &c), 0);
    assert_int_equal(events_parse_cidr("10.0.0.0/33", &c), -1);
    assert_int_equal(events_parse_cidr("10.0.0.0/", &c), -1);
    assert_int_equal(events_parse_cidr("10.0.0.0/8x", &c), -1);
    assert_int_equal(events_parse_cidr("fe80::/129", &c), -1);
    assert_int_equal(events_parse_cidr("example.com", &c), -1);
    assert_int_equal(events_parse_cidr("", &c), -1);
}

typedef struct first_event {
    int n;
    int attempts;
    char err[512];
} first_event;

static int first_cb(const vodup_meta_event *e, void *u)
{
    first_event *fe = u;
    if (fe->n++ == 0) {
        fe->attempts = e->attempts;
        snprintf(fe->err, sizeof fe->err, "%s", e->last_error ? e->last_error : "");
    }
    return 0;
}

static void test_sender_refuses_loopback_by_default(void **state)
{
    (void)state;
    /* Without an allow list the receiver on 127.0.0.1 is never connected to; the event
     * stays in the outbox with the reason. */
    fx f;
    store_setup(&f, 0);
    f.s.n_callback_allow = 0;
    events *ev = events_start(&f.s);
    assert_non_null(ev);
    first_event fe = {0};
    for (int i = 0; i < 100; i++) {
        memset(&fe, 0, sizeof fe);
        assert_int_equal(vodup_meta_event_list(f.m, NULL, first_cb, &fe), VODUP_META_OK);
        if (fe.attempts >= 1)
            break;
        usleep(50 * 1000);
    }
    events_stop(ev);
    assert_int_equal(fe.n, 1);
    assert_true(fe.attempts >= 1);
    assert_non_null(strstr(fe.err, "callback address 127.0.0.1 refused: loopback"));
    assert_int_equal(receiver_count(&f.r), 0);
    store_teardown(&f);
}

/* A second video of acc1 at vodb/<key> whose UserData names callback_url, uploaded: that
 * queues its event. */
static void add_video(fx *f, int n, const char *callback_url)
{
    time_t now = time(NULL);
    char id[33], key[64], ud[256];
    snprintf(id, sizeof id, "%032x", 0x1000 + n);
    snprintf(key, sizeof key, "sv/extra-%d.mp4", n);
    snprintf(ud, sizeof ud, "{\"MessageCallback\":{\"CallbackURL\":\"%s\"}}", callback_url);
    vodup_meta_media md;
    memset(&md, 0, sizeof md);
    snprintf(md.id, sizeof md.id, "%s", id);
    snprintf(md.kind, sizeof md.kind, "video");
    snprintf(md.status, sizeof md.status, "Uploading");
    md.account_id = "acc1";
    md.title = "extra";
    md.file_name = "x.mp4";
    md.ext = "mp4";
    md.user_data = ud;
    md.cate_id = -1;
    md.file_size = 5;
    md.bucket = "vodb";
    md.object_key = key;
    md.created = md.modified = now;
    assert_int_equal(vodup_meta_media_create(f->m, &md), VODUP_META_OK);
    vodup_meta_object o;
    memset(&o, 0, sizeof o);
    vodup_meta_segment seg;
    memset(&seg, 0, sizeof seg);
    snprintf(seg.blob, sizeof seg.blob, "%032x", 0x2000 + n);
    seg.size = 5;
    o.bucket = "vodb";
    o.key = key;
    o.key_len = strlen(key);
    o.size = 5;
    snprintf(o.etag, sizeof o.etag, "0123456789ABCDEF0123456789ABCDEF");
    o.crc64 = 1;
    o.content_type = "video/mp4";
    snprintf(o.type, sizeof o.type, "Normal");
    o.mtime = now;
    o.segs = &seg;
    o.nsegs = 1;
    assert_int_equal(vodup_meta_object_put(f->m, &o), VODUP_META_OK);
}

#define DEAD_RECEIVERS 100

static void test_dead_receivers_cost_others_nothing(void **state)
{
    (void)state;
    /* A hundred receivers that accept connections and never answer (listening sockets
     * nobody accepts from: the kernel completes the handshake), each with an event queued
     * before the healthy receiver's: the healthy one still gets its event at once. */
    fx f;
    store_setup(&f, 0);
    /* The healthy receiver's event must come last in the outbox: take the queued one out
     * and queue it again after the dead ones. */
    assert_int_equal(vodup_meta_event_done(f.m, 1), VODUP_META_OK);
    int socks[DEAD_RECEIVERS];
    for (int i = 0; i < DEAD_RECEIVERS; i++) {
        socks[i] = socket(AF_INET, SOCK_STREAM, 0);
        assert_true(socks[i] >= 0);
        struct sockaddr_in sa;
        memset(&sa, 0, sizeof sa);
        sa.sin_family = AF_INET;
        sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
        assert_int_equal(bind(socks[i], (struct sockaddr *)&sa, sizeof sa), 0);
        assert_int_equal(listen(socks[i], 16), 0);
        socklen_t len = sizeof sa;
        assert_int_equal(getsockname(socks[i], (struct sockaddr *)&sa, &len), 0);
        char url[64];
        snprintf(url, sizeof url, "http://127.0.0.1:%u/dead", (unsigned)ntohs(sa.sin_port));
        add_video(&f, i, url);
    }
    add_video(&f, DEAD_RECEIVERS, f.cb_url);
    assert_int_equal(pending(f.m), DEAD_RECEIVERS + 1);

    struct timespec t0, t1;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    events *ev = events_start(&f.s);
    assert_non_null(ev);
    int got = receiver_wait(&f.r, 1, 10);
    clock_gettime(CLOCK_MONOTONIC, &t1);
    double took = (double)(t1.tv_sec - t0.tv_sec) + (double)(t1.tv_nsec - t0.tv_nsec) / 1e9;
    /* The dead ones are still pending (the outbox lists them) while in flight. */
    int still = pending(f.m);
    events_stop(ev);
    assert_true(got);
    if (took > 1.5)
        fail_msg("the healthy receiver waited %.2f s behind %d dead ones", took, DEAD_RECEIVERS);
    assert_true(still >= DEAD_RECEIVERS);
    assert_int_equal(pending(f.m), DEAD_RECEIVERS);
    for (int i = 0; i < DEAD_RECEIVERS; i++)
        close(socks[i]);
    store_teardown(&f);
}

typedef struct tally {
    int n, untried, max_attempts;
    time_t max_next;
    time_t due_by;      /* when set: count only events due by then */
} tally;

static int tally_cb(const vodup_meta_event *e, void *u)
{
    tally *t = u;
    if (t->due_by && e->next_at > t->due_by)
        return 0;
    t->n++;
    if (e->attempts == 0)
        t->untried++;
    if (e->attempts > t->max_attempts)
        t->max_attempts = e->attempts;
    if (e->next_at > t->max_next)
        t->max_next = e->next_at;
    return 0;
}

static void test_one_dead_receiver_many_events(void **state)
{
    (void)state;
    /* More events to one dead receiver than its queue holds: the excess waits in the outbox
     * without counting attempts, the healthy receiver is served at once, and a stop gives
     * every event not being sent back to the outbox, due now. */
    fx f;
    store_setup(&f, 0);
    assert_int_equal(vodup_meta_event_done(f.m, 1), VODUP_META_OK);
    int sock = socket(AF_INET, SOCK_STREAM, 0);
    assert_true(sock >= 0);
    struct sockaddr_in sa;
    memset(&sa, 0, sizeof sa);
    sa.sin_family = AF_INET;
    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    assert_int_equal(bind(sock, (struct sockaddr *)&sa, sizeof sa), 0);
    assert_int_equal(listen(sock, 128), 0);
    socklen_t len = sizeof sa;
    assert_int_equal(getsockname(sock, (struct sockaddr *)&sa, &len), 0);
    char url[64];
    snprintf(url, sizeof url, "http://127.0.0.1:%u/dead", (unsigned)ntohs(sa.sin_port));
    for (int i = 0; i < 100; i++)
        add_video(&f, i, url);
    add_video(&f, 100, f.cb_url);

    events *ev = events_start(&f.s);
    assert_non_null(ev);
    int got = receiver_wait(&f.r, 1, 2);
    usleep(300 * 1000);
    tally during = {0};
    assert_int_equal(vodup_meta_event_list(f.m, NULL, tally_cb, &during), VODUP_META_OK);
    events_stop(ev);
    tally after = {0};
    assert_int_equal(vodup_meta_event_list(f.m, NULL, tally_cb, &after), VODUP_META_OK);
    close(sock);

    assert_true(got);
    assert_int_equal(during.n, 100);
    /* One delivery at a time to a receiver that has not answered: nothing was counted yet
     * (the first attempt is still waiting for its timeout). */
    assert_int_equal(during.max_attempts, 0);
    /* Held (leased) or deferred: none is due now while the sender runs. */
    assert_true(during.max_next > time(NULL));
    assert_int_equal(after.n, 100);
    assert_true(after.max_attempts <= 1);
    assert_true(after.untried >= 99);
    /* The events held in memory are given back by the stop, due now, not after their
     * lease (minutes); those the full queue turned away are due within seconds. The one
     * attempt that timed out waits for its backoff. */
    time_t now = time(NULL);
    tally now_due = { .due_by = now + 1 }, soon_due = { .due_by = now + 15 };
    /* Listed, not claimed with event_due: that would lease the first tally's events. */
    assert_int_equal(vodup_meta_event_list(f.m, NULL, tally_cb, &now_due), VODUP_META_OK);
    assert_int_equal(vodup_meta_event_list(f.m, NULL, tally_cb, &soon_due), VODUP_META_OK);
    assert_true(now_due.n >= 50);
    assert_true(now_due.n < 99);
    assert_true(soon_due.n >= 99);
    store_teardown(&f);
}

/* ---- AuthKeys at rest ------------------------------------------------------------------------ */

/* 1 when needle occurs in any file directly in dir (the database and its WAL). */
static int dir_contains(const char *dir, const char *needle)
{
    static const char *const names[] = {"vodup.db", "vodup.db-wal", "vodup.db-journal"};
    size_t nl = strlen(needle);
    for (size_t i = 0; i < sizeof names / sizeof names[0]; i++) {
        char path[1024];
        snprintf(path, sizeof path, "%s/%s", dir, names[i]);
        FILE *fp = fopen(path, "rb");
        if (!fp)
            continue;
        vbuf b = VBUF_INIT;
        char chunk[65536];
        size_t n;
        while ((n = fread(chunk, 1, sizeof chunk, fp)) > 0)
            vbuf_append(&b, chunk, n);
        fclose(fp);
        int found = 0;
        for (size_t k = 0; !found && b.len >= nl && k <= b.len - nl; k++)
            found = memcmp(b.data + k, needle, nl) == 0;
        vbuf_free(&b);
        if (found)
            return 1;
    }
    return 0;
}

static void test_authkey_sealed_and_migrated(void **state)
{
    (void)state;
    /* A data dir of an earlier version: the AuthKey in the configuration and copied into a
     * pending event, both in plain text. Installing the sealer seals them; the API still
     * answers the key, and the files no longer hold it. */
    fx f;
    store_setup(&f, 0);
    static const char KEY[] = "Key123abc";
    assert_int_equal(vodup_meta_event_prepare(f.m, 1, "{}", f.cb_url, KEY), VODUP_META_OK);
    vodup_meta_close(f.m);
    assert_true(dir_contains(f.dir, KEY));
    assert_int_equal(vodup_meta_open(&f.m, f.dir, 2), VODUP_META_OK);
    f.s.meta = f.m;
    for (size_t i = 0; i < sizeof f.s.master_key; i++)
        f.s.master_key[i] = (unsigned char)(i * 7 + 3);
    assert_int_equal(events_seal_install(&f.s), 0);

    char *cfg = NULL;
    assert_int_equal(vodup_meta_callback_get(f.m, "acc1", &cfg), VODUP_META_OK);
    json_t *j = json_loads(cfg, 0, NULL);
    assert_non_null(j);
    assert_string_equal(json_string_value(json_object_get(j, "AuthKey")), KEY);
    json_decref(j);
    free(cfg);
    /* A new configuration is sealed on the way in too. */
    assert_int_equal(vodup_meta_callback_set(f.m, "acc1",
                                             "{\"CallbackType\":\"HTTP\",\"CallbackURL\":\"http://x\",\"AuthSwitch\":"
                                             "\"on\",\"AuthKey\":\"NewKey789xyz\"}"),
                     VODUP_META_OK);
    vodup_meta_close(f.m);
    assert_false(dir_contains(f.dir, KEY));
    assert_false(dir_contains(f.dir, "NewKey789xyz"));
    assert_true(dir_contains(f.dir, "vodup-sealed:1:"));

    /* Reopened without the sealer the row shows only sealed text; with a wrong master key it
     * does not open (an error, never an empty key). */
    assert_int_equal(vodup_meta_open(&f.m, f.dir, 2), VODUP_META_OK);
    f.s.meta = f.m;
    assert_int_equal(vodup_meta_callback_get(f.m, "acc1", &cfg), VODUP_META_OK);
    assert_null(strstr(cfg, "NewKey789xyz"));
    assert_non_null(strstr(cfg, "vodup-sealed:1:"));
    free(cfg);
    f.s.master_key[0] ^= 1;
    assert_int_equal(events_seal_install(&f.s), 0);
    assert_int_equal(vodup_meta_callback_get(f.m, "acc1", &cfg), VODUP_META_EIO);
    assert_null(cfg);
    f.s.master_key[0] ^= 1;
    assert_int_equal(vodup_meta_callback_get(f.m, "acc1", &cfg), VODUP_META_OK);
    assert_non_null(strstr(cfg, "\"NewKey789xyz\""));
    free(cfg);
    store_teardown(&f);
}

static void test_sender_signs_with_sealed_key(void **state)
{
    (void)state;
    /* Sealed at rest, the key still signs: the receiver's signature checks out. */
    fx f;
    store_setup(&f, 0);
    for (size_t i = 0; i < sizeof f.s.master_key; i++)
        f.s.master_key[i] = (unsigned char)(i + 1);
    assert_int_equal(events_seal_install(&f.s), 0);
    events *ev = events_start(&f.s);
    assert_non_null(ev);
    int got = receiver_wait(&f.r, 1, 15);
    events_stop(ev);
    assert_true(got);
    check_signed(&f, &f.r.reqs[0]);
    assert_int_equal(pending(f.m), 0);
    vodup_meta_close(f.m);
    assert_false(dir_contains(f.dir, "Key123abc"));
    assert_int_equal(vodup_meta_open(&f.m, f.dir, 2), VODUP_META_OK);
    store_teardown(&f);
}

int main(void)
{
    if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK)
        return 1;
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_signature_doc_vector),
        cmocka_unit_test(test_build_video),
        cmocka_unit_test(test_build_image),
        cmocka_unit_test(test_build_attached),
        cmocka_unit_test(test_build_dropped),
        cmocka_unit_test(test_build_userdata),
        cmocka_unit_test(test_sender_retries_until_200),
        cmocka_unit_test(test_sender_gives_up),
        cmocka_unit_test(test_sender_drops_unsubscribed),
        cmocka_unit_test(test_media_delete_withdraws_event),
        cmocka_unit_test(test_address_policy_default),
        cmocka_unit_test(test_address_policy_allow),
        cmocka_unit_test(test_sender_refuses_loopback_by_default),
        cmocka_unit_test(test_dead_receivers_cost_others_nothing),
        cmocka_unit_test(test_one_dead_receiver_many_events),
        cmocka_unit_test(test_authkey_sealed_and_migrated),
        cmocka_unit_test(test_sender_signs_with_sealed_key),
    };
    int rc = cmocka_run_group_tests(tests, NULL, NULL);
    curl_global_cleanup();
    return rc;
}
