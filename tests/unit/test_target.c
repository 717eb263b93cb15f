/* test_target.c - request-target parsing, form bodies and OSS bucket addressing. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdlib.h>
#include <string.h>

#include "common/target.h"

static int parse(vodup_target *t, const char *s)
{
    return vodup_target_parse(t, s, strlen(s));
}

static void test_basic(void **state)
{
    (void)state;
    vodup_target t;
    assert_int_equal(parse(&t, "/a%20b/c+d?x=1&uploads=&flag&y=a%2Bb+c"), 0);
    assert_string_equal(t.path, "/a b/c+d");
    assert_int_equal(t.path_len, 8);
    assert_int_equal(t.path_has_nul, 0);
    assert_int_equal(t.nquery, 4);
    assert_string_equal(t.query[0].name, "x");
    assert_string_equal(t.query[0].value, "1");
    assert_string_equal(t.query[1].name, "uploads");
    assert_string_equal(t.query[1].value, "");
    assert_int_equal(t.query[1].value_len, 0);
    assert_string_equal(t.query[2].name, "flag");
    assert_string_equal(t.query[2].value, "");
    /* '+' is literal in a target */
    assert_string_equal(vodup_target_get(&t, "y"), "a+b+c");
    assert_non_null(vodup_target_get(&t, "uploads"));
    assert_null(vodup_target_get(&t, "upload"));
    assert_null(vodup_target_get(&t, "X"));
    vodup_target_free(&t);
    vodup_target_free(&t); /* harmless twice */
}

static void test_uploads_forms(void **state)
{
    (void)state;
    vodup_target t;
    assert_int_equal(parse(&t, "/k?uploads="), 0);
    assert_int_equal(t.nquery, 1);
    assert_string_equal(vodup_target_get(&t, "uploads"), "");
    vodup_target_free(&t);
    assert_int_equal(parse(&t, "/k?uploads"), 0);
    assert_string_equal(vodup_target_get(&t, "uploads"), "");
    vodup_target_free(&t);
    assert_int_equal(parse(&t, "/k"), 0);
    assert_null(vodup_target_get(&t, "uploads"));
    assert_int_equal(t.nquery, 0);
    vodup_target_free(&t);
    /* empty query, empty segments */
    assert_int_equal(parse(&t, "/k?"), 0);
    assert_int_equal(t.nquery, 0);
    vodup_target_free(&t);
    assert_int_equal(parse(&t, "/k?&a=1&&b&"), 0);
    assert_int_equal(t.nquery, 2);
    vodup_target_free(&t);
    /* '=' inside a value, repeated names keep wire order */
    assert_int_equal(parse(&t, "/?a=b=c&a=2"), 0);
    assert_string_equal(t.path, "/");
    assert_string_equal(t.query[0].value, "b=c");
    assert_string_equal(t.query[1].value, "2");
    assert_string_equal(vodup_target_get(&t, "a"), "b=c");
    vodup_target_free(&t);
    /* a '?' inside the query is data */
    assert_int_equal(parse(&t, "/k?a=?x"), 0);
    assert_string_equal(vodup_target_get(&t, "a"), "?x");
    vodup_target_free(&t);
}

static void test_bad(void **state)
{
    (void)state;
    vodup_target t;
    assert_int_equal(parse(&t, ""), -1);
    assert_int_equal(parse(&t, "k"), -1);
    assert_int_equal(parse(&t, "http://h/k"), -1);
    assert_int_equal(parse(&t, "/a%2"), -1);
    assert_int_equal(parse(&t, "/a%"), -1);
    assert_int_equal(parse(&t, "/a%zz"), -1);
    assert_int_equal(parse(&t, "/a%g0"), -1);
    assert_int_equal(parse(&t, "/k?a=%4"), -1);
    assert_int_equal(parse(&t, "/k?%zz=1"), -1);
    assert_int_equal(parse(&t, "/k?=1"), -1);
    assert_int_equal(parse(&t, "/k?a=1&=2"), -1);
    assert_int_equal(parse(&t, "/k?a%00b=1"), -1);
    assert_null(t.path);
    assert_int_equal(t.nquery, 0);
}

static void test_nul(void **state)
{
    (void)state;
    vodup_target t;
    assert_int_equal(parse(&t, "/a%00b"), 0);
    assert_int_equal(t.path_has_nul, 1);
    assert_int_equal(t.path_len, 4);
    assert_memory_equal(t.path, "/a\0b", 5);
    vodup_target_free(&t);
    /* %00 in a value is data, reported by the length */
    assert_int_equal(parse(&t, "/a?v=x%00y"), 0);
    assert_int_equal(t.path_has_nul, 0);
    assert_int_equal(t.query[0].value_len, 3);
    vodup_target_free(&t);
    /* explicit length: bytes after n are not read */
    const char raw[] = "/abc?x=1";
    assert_int_equal(vodup_target_parse(&t, raw, 4), 0);
    assert_string_equal(t.path, "/abc");
    assert_int_equal(t.nquery, 0);
    vodup_target_free(&t);
    /* upper and lower hex, non-ASCII bytes */
    assert_int_equal(parse(&t, "/%e4%B8%ad"), 0);
    assert_string_equal(t.path, "/\xe4\xb8\xad");
    vodup_target_free(&t);
}

static void test_form(void **state)
{
    (void)state;
    vodup_target t;
    const char *body = "Action=CreateUploadVideo&Title=a+b%2Bc&Empty=&Flag";
    assert_int_equal(vodup_form_parse(&t, body, strlen(body)), 0);
    assert_string_equal(t.path, "");
    assert_int_equal(t.nquery, 4);
    assert_string_equal(vodup_target_get(&t, "Title"), "a b+c");
    assert_string_equal(vodup_target_get(&t, "Empty"), "");
    assert_string_equal(vodup_target_get(&t, "Flag"), "");
    vodup_target_free(&t);
    assert_int_equal(vodup_form_parse(&t, "", 0), 0);
    assert_int_equal(t.nquery, 0);
    vodup_target_free(&t);
    assert_int_equal(vodup_form_parse(&t, "a=%", 3), -1);
    assert_int_equal(vodup_form_parse(&t, "+=1", 3), 0); /* " " is a name */
    assert_string_equal(t.query[0].name, " ");
    vodup_target_free(&t);
}

/* ---- addressing ---------------------------------------------------------- */

static int own(const char *host, void *cb)
{
    const char *me = cb;
    return strcmp(host, me) == 0;
}

static void addr_ok(const char *host, const char *path, const char *bucket, const char *key)
{
    char *b, *k;
    size_t kl;
    int rc = vodup_oss_address(host, path, strlen(path), own, (void *)"vod.example.com", &b, &k, &kl);
    if (rc != 0)
        fail_msg("%s %s: rc %d", host, path, rc);
    if (strcmp(b, bucket) != 0 || strcmp(k, key) != 0)
        fail_msg("%s %s: got bucket '%s' key '%s', want '%s' '%s'", host, path, b, k, bucket, key);
    assert_int_equal(kl, strlen(key));
    free(b);
    free(k);
}

static void addr_bad(const char *host)
{
    char *b = (char *)1, *k = (char *)1;
    size_t kl;
    int rc = vodup_oss_address(host, "/x", 2, own, (void *)"vod.example.com", &b, &k, &kl);
    if (rc != -1)
        fail_msg("host '%s' accepted", host ? host : "(null)");
    assert_null(b);
    assert_null(k);
}

static void test_address(void **state)
{
    (void)state;
    /* virtual host: what ali-oss sends, even when its endpoint is an IP */
    addr_ok("outin-vodup.oss-cn-shanghai.aliyuncs.com", "/sv/5f1b/a b.mp4", "outin-vodup",
            "sv/5f1b/a b.mp4");
    addr_ok("outin-vodup.oss-cn-shanghai.aliyuncs.com", "/", "outin-vodup", "");
    addr_ok("Outin-Vodup.OSS-cn-shanghai.aliyuncs.com:443", "/k", "outin-vodup", "k");
    addr_ok("b.localhost:9", "/k/x", "b", "k/x");
    addr_ok("b.vod.example.com", "/k", "b", "k");
    /* ListBuckets through ali-oss: the bucket label is literally "undefined" */
    addr_ok("undefined.oss-cn-hangzhou.aliyuncs.com", "/", "undefined", "");
    /* ... and with no bucket at all, an empty first label */
    addr_ok(".oss-cn-hangzhou.aliyuncs.com", "/", "", "");
    /* path style */
    addr_ok("127.0.0.1:8080", "/b/k/x", "b", "k/x");
    addr_ok("127.0.0.1", "/b", "b", "");
    addr_ok("127.0.0.1", "/b/", "b", "");
    addr_ok("127.0.0.1", "/", "", "");
    addr_ok("10.1.2.3:80", "/b//k", "b", "/k");
    addr_ok("[::1]:8080", "/b/k", "b", "k");
    addr_ok("[2001:db8::1]", "/b/k", "b", "k");
    addr_ok("localhost:8080", "/b/k", "b", "k");
    addr_ok("LOCALHOST", "/b/k", "b", "k");
    addr_ok("vod.example.com", "/b/k", "b", "k");
    addr_ok("vod.example.com:8443", "/b/k", "b", "k");
    addr_ok("vodupd:8080", "/b/k", "b", "k");
    /* keys with odd bytes */
    char *b, *k;
    size_t kl;
    assert_int_equal(vodup_oss_address("127.0.0.1", "/b/a\0c", 6, NULL, NULL, &b, &k, &kl), 0);
    assert_int_equal(kl, 3);
    assert_memory_equal(k, "a\0c", 3);
    free(b);
    free(k);
    /* malformed hosts */
    addr_bad(NULL);
    addr_bad("");
    addr_bad(":80");
    addr_bad("a b.example.com");
    addr_bad("b.example.com:");
    addr_bad("b.example.com:8o");
    addr_bad("b.example.com:123456");
    addr_bad("b.example.com:80:80");
    addr_bad("b/x.example.com");
    addr_bad("[::1");
    addr_bad("[::1]x");
    addr_bad("[zz::1]");
    addr_bad("[]");
    addr_bad("b.ex\xc3\xa4mple.com");
    addr_bad("user@b.example.com");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_basic),   cmocka_unit_test(test_uploads_forms),
        cmocka_unit_test(test_bad),     cmocka_unit_test(test_nul),
        cmocka_unit_test(test_form),    cmocka_unit_test(test_address),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
