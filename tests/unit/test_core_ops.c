/* test_core_ops.c - what the two object dialects share in the core (core/ops.h, xml.h,
 * status.h): a dialect's answers as a table, a listing's arguments, the DeleteObjects body
 * and its per-key rights, over the in-memory metadata store (fake_meta.h). */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fake_meta.h"
#include "server/auth/auth.h"
#include "server/core/ops.h"
#include "server/core/status.h"
#include "server/core/xml.h"

/* ---- answers: the template fields, cut at the buffer, unknown statuses ---------------- */

static const vodupd_answers ANSWERS = {
    .status = {
        [VODUPD_OK] = {1, "fallback"},
        [VODUPD_ETOOSMALL] = {2, "part {part} below {limit} ({used} used)"},
        [VODUPD_EIO] = {3, "{what|The operation} failed."},
        [VODUPD_EDENIED] = {4, "{deny}"},
        [VODUPD_EBADDIGEST] = {5, "The {digest} differs."},
    },
    .deny = {
        [VODUPD_DENY_NONE] = "denied",
        [VODUPD_DENY_POLICY] = "your policies do not allow {what}; {deny}",
    },
    .digest_md5 = "Content-MD5",
    .digest_crc64 = "x-crc",
};

static void test_answer_format(void **state)
{
    (void)state;
    char msg[64];
    vodupd_detail d = {.part = 3, .limit = 5242880, .used = 7};
    assert_int_equal(vodupd_answer_format(&ANSWERS, VODUPD_ETOOSMALL, &d, msg, sizeof msg), 2);
    assert_string_equal(msg, "part 3 below 5242880 (7 used)");
    assert_int_equal(vodupd_answer_format(&ANSWERS, VODUPD_EIO, NULL, msg, sizeof msg), 3);
    assert_string_equal(msg, "The operation failed.");
    d.what = "Recording the part";
    vodupd_answer_format(&ANSWERS, VODUPD_EIO, &d, msg, sizeof msg);
    assert_string_equal(msg, "Recording the part failed.");
    /* a deny text is a template too, one level deep; an unknown reason is NONE's */
    d.deny = VODUPD_DENY_POLICY;
    d.what = "DeleteObject";
    vodupd_answer_format(&ANSWERS, VODUPD_EDENIED, &d, msg, sizeof msg);
    assert_string_equal(msg, "your policies do not allow DeleteObject; ");
    d.deny = (vodupd_deny)99;
    vodupd_answer_format(&ANSWERS, VODUPD_EDENIED, &d, msg, sizeof msg);
    assert_string_equal(msg, "denied");
    d.digest = VODUPD_DIGEST_CRC64;
    vodupd_answer_format(&ANSWERS, VODUPD_EBADDIGEST, &d, msg, sizeof msg);
    assert_string_equal(msg, "The x-crc differs.");
    /* statuses without words, and values out of range, answer as [VODUPD_OK] */
    assert_int_equal(vodupd_answer_format(&ANSWERS, VODUPD_ENOKEY, &d, msg, sizeof msg), 1);
    assert_string_equal(msg, "fallback");
    assert_int_equal(vodupd_answer_format(&ANSWERS, (vodupd_status)1000, &d, msg, sizeof msg), 1);
    /* cut at the buffer, always terminated */
    char small[8];
    vodupd_answer_format(&ANSWERS, VODUPD_EIO, &d, small, sizeof small);
    assert_string_equal(small, "DeleteO");
}

/* ---- a listing's arguments --------------------------------------------------------- */

static void test_list_args(void **state)
{
    (void)state;
    core_list_query q;
    char *owned;
    core_list_arg bad;
    core_list_args a = {NULL, NULL, NULL, NULL, 0, NULL, NULL, 100, 1000};
    assert_int_equal(core_list_query_init(&q, &owned, &a, &bad), VODUPD_OK);
    assert_string_equal(q.prefix, "");
    assert_string_equal(q.delim, "");
    assert_int_equal(q.after_len, 0);
    assert_int_equal(q.max, 100);
    assert_null(owned);
    a.max = "5000";
    assert_int_equal(core_list_query_init(&q, &owned, &a, &bad), VODUPD_OK);
    assert_int_equal(q.max, 1000);
    const char *bad_max[] = {"", "-1", "1x", "1234567890"};
    for (size_t i = 0; i < sizeof bad_max / sizeof *bad_max; i++) {
        a.max = bad_max[i];
        assert_int_equal(core_list_query_init(&q, &owned, &a, &bad), VODUPD_EBADREQUEST);
        assert_int_equal(bad, CORE_LIST_ARG_MAX);
    }
    a.max = NULL;
    /* the later of start-after and the token ("Yi9j": the base64 of "b/c") */
    a.marker = "a";
    a.token = "Yi9j";
    assert_int_equal(core_list_query_init(&q, &owned, &a, &bad), VODUPD_OK);
    assert_int_equal(q.after_len, 3);
    assert_memory_equal(q.after, "b/c", 3);
    assert_ptr_equal(q.after, owned);
    free(owned);
    a.marker = "zz";
    assert_int_equal(core_list_query_init(&q, &owned, &a, &bad), VODUPD_OK);
    assert_string_equal(q.after, "zz");
    assert_null(owned);
    a.token = "!!";
    assert_int_equal(core_list_query_init(&q, &owned, &a, &bad), VODUPD_EBADREQUEST);
    assert_int_equal(bad, CORE_LIST_ARG_TOKEN);
    /* an empty token: ignored (OSS), or refused (S3) */
    a.token = "";
    assert_int_equal(core_list_query_init(&q, &owned, &a, &bad), VODUPD_OK);
    a.empty_token_invalid = 1;
    assert_int_equal(core_list_query_init(&q, &owned, &a, &bad), VODUPD_EBADREQUEST);
    /* the upload-id marker: only after a key marker, and not after a common prefix */
    core_list_args u = {"", "/", NULL, NULL, 0, "ABC", NULL, 1000, 1000};
    assert_int_equal(core_list_query_init(&q, &owned, &u, &bad), VODUPD_OK);
    assert_string_equal(q.upload_id_after, "");
    u.marker = "a/1";
    assert_int_equal(core_list_query_init(&q, &owned, &u, &bad), VODUPD_OK);
    assert_string_equal(q.upload_id_after, "ABC");
    u.marker = "a/";
    assert_int_equal(core_list_query_init(&q, &owned, &u, &bad), VODUPD_OK);
    assert_string_equal(q.upload_id_after, "");
}

/* ---- the DeleteObjects body ----------------------------------------------------------- */

static char *delete_doc(int n, int quiet)
{
    vbuf b = VBUF_INIT;
    vbuf_printf(&b, "<?xml version=\"1.0\"?><Delete><Quiet>%s</Quiet>", quiet ? "true" : "false");
    for (int i = 0; i < n; i++)
        vbuf_printf(&b, "<Object><Key>k/%d</Key><VersionId>v</VersionId></Object>", i);
    vbuf_puts(&b, "</Delete>");
    return vbuf_steal(&b);
}

static void test_delete_body(void **state)
{
    (void)state;
    core_delete_body del;
    const char *why;
    char *doc = delete_doc(CORE_DELETE_MAX_KEYS, 1);
    assert_int_equal(core_delete_body_parse(&del, doc, strlen(doc), &why), 0);
    assert_int_equal(del.n, CORE_DELETE_MAX_KEYS);
    assert_true(del.quiet);
    assert_int_equal(del.items[999].key_len, 5);
    assert_memory_equal(del.items[999].key, "k/999", 5);
    core_delete_body_clear(&del);
    free(doc);
    doc = delete_doc(CORE_DELETE_MAX_KEYS + 1, 0);
    assert_int_equal(core_delete_body_parse(&del, doc, strlen(doc), &why), -1);
    core_delete_body_clear(&del);
    free(doc);
    const char *bad[] = {"", "<Delete>", "<Remove><Object><Key>a</Key></Object></Remove>", "<Delete></Delete>",
                         "<Delete><Object><VersionId>v</VersionId></Object></Delete>",
                         "<Delete><Quiet>maybe</Quiet><Object><Key>a</Key></Object></Delete>"};
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
        assert_int_equal(core_delete_body_parse(&del, bad[i], strlen(bad[i]), &why), -1);
        assert_non_null(why);
        core_delete_body_clear(&del);
    }
    /* a key's spaces are its own */
    const char *sp = "<Delete><Object><Key> a b </Key></Object></Delete>";
    assert_int_equal(core_delete_body_parse(&del, sp, strlen(sp), &why), 0);
    assert_int_equal(del.items[0].key_len, 5);
    assert_false(del.quiet);
    core_delete_body_clear(&del);
}

static int count_gc;
static void on_gc(void *u)
{
    (void)u;
    count_gc++;
}

static void put_object(vodup_meta *m, const char *key)
{
    vodup_meta_segment seg; /* an empty body: no segment, but a list to copy none from */
    memset(&seg, 0, sizeof seg);
    vodup_meta_object o;
    memset(&o, 0, sizeof o);
    o.segs = &seg;
    o.bucket = (char *)"media";
    o.key = (char *)key;
    o.key_len = strlen(key);
    o.content_type = (char *)"text/plain";
    snprintf(o.type, sizeof o.type, "Normal");
    assert_int_equal(vodup_meta_object_put_guarded(m, &o, NULL), VODUP_META_OK);
}

static int exists(vodup_meta *m, const char *key)
{
    vodup_meta_object o;
    if (vodup_meta_object_get(m, "media", key, strlen(key), &o) != VODUP_META_OK)
        return 0;
    vodup_meta_object_clear(&o);
    return 1;
}

/* Each key is checked as its own DeleteObject: credentials scoped to one object may
 * delete that one (when their operations include it) and get AccessDenied for the rest. */
static void test_delete_many_per_key(void **state)
{
    (void)state;
    core c = {0};
    c.meta = fake_meta_new();
    assert_non_null(c.meta);
    c.gc_kick = on_gc;
    assert_int_equal(vodup_meta_bucket_create(c.meta, "media", "acc1", 1), VODUP_META_OK);
    put_object(c.meta, "sv/x.mp4");
    put_object(c.meta, "sv/y.mp4");
    fake_meta_set_media(c.meta, "media", "sv/x.mp4", "Uploading", 1);
    /* upload credentials of sv/x.mp4 whose operations include DeleteObject */
    vodup_cred cred = {.has_scope = 1, .scope_bucket = "media", .scope_key_len = 8, .issued_ms = 2000};
    cred.scope_key = strdup("sv/x.mp4");
    cred.scope_ops = json_pack("[ss]", "PutObject", "DeleteObject");
    assert_non_null(cred.scope_key);
    core_delete_item items[3] = {{"sv/y.mp4", 8, 0, {0}}, {"sv/x.mp4", 8, 0, {0}}, {"sv/none", 7, 0, {0}}};
    vodupd_detail d = {0};
    count_gc = 0;
    assert_int_equal(core_object_delete_many(&c, &cred, "media", items, 3, &d), VODUPD_OK);
    assert_int_equal(items[0].st, VODUPD_EDENIED);
    assert_int_equal(items[0].d.deny, VODUPD_DENY_SCOPE);
    assert_int_equal(items[1].st, VODUPD_OK);
    assert_int_equal(items[2].st, VODUPD_EDENIED);
    assert_false(exists(c.meta, "sv/x.mp4"));
    assert_true(exists(c.meta, "sv/y.mp4"));
    assert_int_equal(count_gc, 1);
    /* without DeleteObject among their operations (UploadAuth's): every key refused */
    json_decref(cred.scope_ops);
    cred.scope_ops = json_pack("[s]", "PutObject");
    put_object(c.meta, "sv/x.mp4");
    core_delete_item own = {"sv/x.mp4", 8, 0, {0}};
    assert_int_equal(core_object_delete_many(&c, &cred, "media", &own, 1, &d), VODUPD_OK);
    assert_int_equal(own.st, VODUPD_EDENIED);
    assert_true(exists(c.meta, "sv/x.mp4"));
    /* a root key deletes all; a missing key is deleted too */
    vodup_cred root = {.account_id = "acc1"};
    for (int i = 0; i < 3; i++)
        items[i].st = VODUPD_EIO;
    assert_int_equal(core_object_delete_many(&c, &root, "media", items, 3, &d), VODUPD_OK);
    for (int i = 0; i < 3; i++)
        assert_int_equal(items[i].st, VODUPD_OK);
    assert_false(exists(c.meta, "sv/x.mp4"));
    assert_false(exists(c.meta, "sv/y.mp4"));
    /* the request's own limits */
    assert_int_equal(core_object_delete_many(&c, &root, "media", items, 0, &d), VODUPD_EBADREQUEST);
    assert_int_equal(core_object_delete_many(&c, &root, "media", items, CORE_DELETE_MAX_KEYS + 1, &d),
                     VODUPD_ETOOLARGE);
    assert_int_equal(d.limit, CORE_DELETE_MAX_KEYS);
    free(cred.scope_key);
    json_decref(cred.scope_ops);
    vodup_meta_close(c.meta);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_answer_format),
        cmocka_unit_test(test_list_args),
        cmocka_unit_test(test_delete_body),
        cmocka_unit_test(test_delete_many_per_key),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
