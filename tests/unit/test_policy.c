/* test_policy.c - policy grammar, built-ins, --policy argument resolution, wildcard
 * matching (including hostile patterns) and deny-first evaluation of documents and
 * sets. Files go to a mkdtemp directory under $VODUP_TEST_TMP. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "server/auth/policy.h"

static json_t *j(const char *text)
{
    json_t *v = json_loads(text, 0, NULL);
    assert_non_null(v);
    return v;
}

static int valid(const char *text)
{
    json_t *v = j(text);
    char err[256] = "";
    int r = policy_validate(v, err, sizeof err);
    if (r != 0)
        assert_true(err[0] != '\0'); /* a refusal always says why */
    json_decref(v);
    return r == 0;
}

static void test_grammar_accepts(void **state)
{
    (void)state;
    assert_true(valid("{\"Version\":\"1\",\"Statement\":[{\"Effect\":\"Allow\",\"Action\":\"vod:*\",\"Resource\":\"*\"}]}"));
    assert_true(valid("{\"Version\":\"1\",\"Statement\":[{\"Effect\":\"Deny\",\"Action\":[\"oss:PutObject\",\"oss:Get*\"],"
                      "\"Resource\":[\"acs:oss:*:123:b/*\"]},{\"Effect\":\"Allow\",\"Action\":\"*\",\"Resource\":\"*\"}]}"));
}

static void test_grammar_rejects(void **state)
{
    (void)state;
    const char *bad[] = {
        "[]",
        "{\"Statement\":[{\"Effect\":\"Allow\",\"Action\":\"a\",\"Resource\":\"*\"}]}",
        "{\"Version\":1,\"Statement\":[{\"Effect\":\"Allow\",\"Action\":\"a\",\"Resource\":\"*\"}]}",
        "{\"Version\":\"2\",\"Statement\":[{\"Effect\":\"Allow\",\"Action\":\"a\",\"Resource\":\"*\"}]}",
        "{\"Version\":\"1\"}",
        "{\"Version\":\"1\",\"Statement\":[]}",
        "{\"Version\":\"1\",\"Statement\":{\"Effect\":\"Allow\",\"Action\":\"a\",\"Resource\":\"*\"}}",
        "{\"Version\":\"1\",\"Statement\":[\"x\"]}",
        "{\"Version\":\"1\",\"Statement\":[{\"Effect\":\"allow\",\"Action\":\"a\",\"Resource\":\"*\"}]}",
        "{\"Version\":\"1\",\"Statement\":[{\"Action\":\"a\",\"Resource\":\"*\"}]}",
        "{\"Version\":\"1\",\"Statement\":[{\"Effect\":\"Allow\",\"Resource\":\"*\"}]}",
        "{\"Version\":\"1\",\"Statement\":[{\"Effect\":\"Allow\",\"Action\":\"a\"}]}",
        "{\"Version\":\"1\",\"Statement\":[{\"Effect\":\"Allow\",\"Action\":[],\"Resource\":\"*\"}]}",
        "{\"Version\":\"1\",\"Statement\":[{\"Effect\":\"Allow\",\"Action\":[1],\"Resource\":\"*\"}]}",
        "{\"Version\":\"1\",\"Statement\":[{\"Effect\":\"Allow\",\"Action\":\"a\",\"Resource\":5}]}",
        "{\"Version\":\"1\",\"Statement\":[{\"Effect\":\"Allow\",\"Action\":\"\",\"Resource\":\"*\"}]}",
        "{\"Version\":\"1\",\"Statement\":[{\"Effect\":\"Allow\",\"Action\":\"a\\u0000b\",\"Resource\":\"*\"}]}",
        /* a Condition we would ignore must be refused, not silently dropped */
        "{\"Version\":\"1\",\"Statement\":[{\"Effect\":\"Allow\",\"Action\":\"a\",\"Resource\":\"*\",\"Condition\":{}}]}",
        "{\"Version\":\"1\",\"Extra\":1,\"Statement\":[{\"Effect\":\"Allow\",\"Action\":\"a\",\"Resource\":\"*\"}]}",
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        json_t *v = json_loads(bad[i], JSON_ALLOW_NUL, NULL);
        assert_non_null(v);
        char err[256] = "";
        if (policy_validate(v, err, sizeof err) == 0)
            fail_msg("accepted: %s", bad[i]);
        assert_true(err[0] != '\0');
        json_decref(v);
    }
    assert_int_equal(policy_validate(NULL, NULL, 0), -1);
}

static void test_grammar_limits(void **state)
{
    (void)state;
    json_t *st = json_array();
    for (int i = 0; i < 100; i++)
        json_array_append_new(st, json_pack("{s:s,s:s,s:s}", "Effect", "Allow", "Action", "a", "Resource", "*"));
    json_t *doc = json_pack("{s:s,s:O}", "Version", "1", "Statement", st);
    assert_int_equal(policy_validate(doc, NULL, 0), 0);
    json_array_append_new(st, json_pack("{s:s,s:s,s:s}", "Effect", "Allow", "Action", "a", "Resource", "*"));
    json_decref(doc);
    doc = json_pack("{s:s,s:o}", "Version", "1", "Statement", st);
    char err[256];
    assert_int_equal(policy_validate(doc, err, sizeof err), -1);
    json_decref(doc);

    char s512[513], s513[514];
    memset(s512, 'a', 512);
    s512[512] = '\0';
    memset(s513, 'a', 513);
    s513[513] = '\0';
    doc = json_pack("{s:s,s:[{s:s,s:s,s:s}]}", "Version", "1", "Statement", "Effect", "Allow", "Action", "a",
                    "Resource", s512);
    assert_int_equal(policy_validate(doc, NULL, 0), 0);
    json_decref(doc);
    doc = json_pack("{s:s,s:[{s:s,s:[s],s:s}]}", "Version", "1", "Statement", "Effect", "Allow", "Action", s513,
                    "Resource", "*");
    assert_int_equal(policy_validate(doc, err, sizeof err), -1);
    json_decref(doc);
}

static void test_builtins(void **state)
{
    (void)state;
    const char *names[] = {"AliyunVODFullAccess", "AliyunVODReadOnlyAccess", "AliyunSTSAssumeRoleAccess",
                           "AliyunOSSFullAccess", "AliyunOSSReadOnlyAccess"};
    for (size_t i = 0; i < 5; i++) {
        json_t *d = policy_builtin(names[i]);
        assert_non_null(d);
        assert_int_equal(policy_validate(d, NULL, 0), 0);
        json_decref(d);
    }
    assert_null(policy_builtin("AliyunNothing"));
    assert_null(policy_builtin("aliyunvodfullaccess"));
    assert_null(policy_builtin(NULL));

    json_t *d = policy_builtin("AliyunVODFullAccess");
    assert_int_equal(policy_eval_doc(d, "vod:CreateUploadVideo", "*"), POLICY_ALLOW);
    assert_int_equal(policy_eval_doc(d, "vod:DeleteVideo", "acs:vod:*:1:video/x"), POLICY_ALLOW);
    assert_int_equal(policy_eval_doc(d, "oss:PutObject", "acs:oss:*:1:b/k"), POLICY_DENY);
    assert_int_equal(policy_eval_doc(d, "sts:AssumeRole", "*"), POLICY_DENY);
    json_decref(d);

    d = policy_builtin("AliyunVODReadOnlyAccess");
    assert_int_equal(policy_eval_doc(d, "vod:GetVideoInfo", "*"), POLICY_ALLOW);
    assert_int_equal(policy_eval_doc(d, "vod:ListVideo", "*"), POLICY_ALLOW);
    assert_int_equal(policy_eval_doc(d, "vod:DescribeVodDomain", "*"), POLICY_ALLOW);
    assert_int_equal(policy_eval_doc(d, "vod:SearchMedia", "*"), POLICY_ALLOW);
    assert_int_equal(policy_eval_doc(d, "vod:CreateUploadVideo", "*"), POLICY_DENY);
    assert_int_equal(policy_eval_doc(d, "vod:DeleteVideo", "*"), POLICY_DENY);
    json_decref(d);

    d = policy_builtin("AliyunSTSAssumeRoleAccess");
    assert_int_equal(policy_eval_doc(d, "sts:AssumeRole", "acs:ram::123:role/uploader"), POLICY_ALLOW);
    assert_int_equal(policy_eval_doc(d, "sts:GetCallerIdentity", "*"), POLICY_DENY);
    assert_int_equal(policy_eval_doc(d, "vod:GetVideoInfo", "*"), POLICY_DENY);
    json_decref(d);

    d = policy_builtin("AliyunOSSFullAccess");
    assert_int_equal(policy_eval_doc(d, "oss:PutObject", "acs:oss:*:1:b/k"), POLICY_ALLOW);
    assert_int_equal(policy_eval_doc(d, "vod:GetVideoInfo", "*"), POLICY_DENY);
    json_decref(d);

    d = policy_builtin("AliyunOSSReadOnlyAccess");
    assert_int_equal(policy_eval_doc(d, "oss:GetObject", "acs:oss:*:1:b/k"), POLICY_ALLOW);
    assert_int_equal(policy_eval_doc(d, "oss:ListObjects", "acs:oss:*:1:b"), POLICY_ALLOW);
    assert_int_equal(policy_eval_doc(d, "oss:PutObject", "acs:oss:*:1:b/k"), POLICY_DENY);
    assert_int_equal(policy_eval_doc(d, "oss:DeleteObject", "acs:oss:*:1:b/k"), POLICY_DENY);
    json_decref(d);
}

static void test_match(void **state)
{
    (void)state;
    assert_true(policy_match("vod:*", "VOD:CreateUploadVideo", 1));
    assert_false(policy_match("vod:*", "VOD:CreateUploadVideo", 0));
    assert_true(policy_match("oss:Put*", "oss:PutObject", 1));
    assert_true(policy_match("oss:put*", "OSS:PUTOBJECT", 1));
    assert_false(policy_match("oss:Put*", "oss:GetObject", 1));
    assert_true(policy_match("*", "", 0));
    assert_true(policy_match("", "", 0));
    assert_false(policy_match("", "a", 0));
    assert_false(policy_match("?", "", 0));
    assert_true(policy_match("a*", "a", 0));
    assert_true(policy_match("*b", "aab", 0));
    assert_false(policy_match("*b", "aba", 0));
    assert_true(policy_match("a*b*c", "axxbyyc", 0));
    assert_false(policy_match("a*b*c", "axxbyy", 0));

    const char *r = "acs:oss:*:123:bucket/dir/*";
    assert_true(policy_match(r, "acs:oss:*:123:bucket/dir/a.mp4", 0));
    assert_true(policy_match(r, "acs:oss:*:123:bucket/dir/sub/deep/x", 0));
    assert_true(policy_match(r, "acs:oss:*:123:bucket/dir/", 0));
    assert_false(policy_match(r, "acs:oss:*:123:bucket/dir", 0));
    assert_false(policy_match(r, "acs:oss:*:123:bucket/other/a", 0));
    assert_false(policy_match(r, "acs:oss:*:456:bucket/dir/a", 0));
    assert_false(policy_match(r, "acs:oss:*:123:bucket2/dir/a", 0));
    /* resources are case-sensitive */
    assert_false(policy_match(r, "acs:oss:*:123:Bucket/dir/a", 0));

    assert_true(policy_match("file?.mp4", "file1.mp4", 0));
    assert_false(policy_match("file?.mp4", "file.mp4", 0));
    assert_false(policy_match("file?.mp4", "file12.mp4", 0));
    assert_true(policy_match("file??.mp4", "file12.mp4", 0));
    /* '?' is one character, also when that character is multi-byte UTF-8 */
    assert_true(policy_match("k?", "k\xc3\xa9", 0));
    assert_false(policy_match("k??", "k\xc3\xa9", 0));
    assert_true(policy_match("*?", "\xc3\xa9", 0));
    assert_false(policy_match("x*??", "x\xc3\xa9", 0));
    assert_true(policy_match("*\xc3\xa9", "ab\xc3\xa9", 0));
}

static void test_pathological(void **state)
{
    (void)state;
    size_t n = 200000;
    char *s = malloc(n + 1);
    assert_non_null(s);
    memset(s, 'a', n);
    s[n] = '\0';
    struct timespec t0, t1;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    assert_false(policy_match("*a*a*a*a*a*b", s, 0));
    assert_false(policy_match("*a*a*a*a*a*a*a*a*a*a*a*a*a*a*a*a*a*a*a*a*b", s, 1));
    assert_false(policy_match("*?*?*?*?*?*?*?*?*?*?*?*?*?b", s, 0));
    assert_true(policy_match("*a*a*a*a*a*a", s, 0));
    clock_gettime(CLOCK_MONOTONIC, &t1);
    double secs = (double)(t1.tv_sec - t0.tv_sec) + (double)(t1.tv_nsec - t0.tv_nsec) / 1e9;
    /* Backtracking over every star would take ages; linear-ish work is milliseconds,
     * generous headroom for sanitizer builds. */
    assert_true(secs < 2.0);
    free(s);
}

static void test_deny_first(void **state)
{
    (void)state;
    json_t *d = j("{\"Version\":\"1\",\"Statement\":["
                  "{\"Effect\":\"Allow\",\"Action\":\"oss:*\",\"Resource\":\"acs:oss:*:123:b/*\"},"
                  "{\"Effect\":\"Deny\",\"Action\":[\"oss:Delete*\"],\"Resource\":\"acs:oss:*:123:b/keep/*\"}]}");
    assert_int_equal(policy_eval_doc(d, "oss:PutObject", "acs:oss:*:123:b/keep/x"), POLICY_ALLOW);
    assert_int_equal(policy_eval_doc(d, "oss:DeleteObject", "acs:oss:*:123:b/tmp/x"), POLICY_ALLOW);
    assert_int_equal(policy_eval_doc(d, "oss:DeleteObject", "acs:oss:*:123:b/keep/x"), POLICY_DENY);
    assert_int_equal(policy_eval_doc(d, "OSS:deleteobject", "acs:oss:*:123:b/keep/x"), POLICY_DENY);
    /* implicit deny: nothing matches */
    assert_int_equal(policy_eval_doc(d, "oss:GetObject", "acs:oss:*:123:c/x"), POLICY_DENY);
    assert_int_equal(policy_eval_doc(d, "vod:GetVideoInfo", "*"), POLICY_DENY);
    assert_int_equal(policy_eval_doc(d, NULL, "*"), POLICY_DENY);
    json_decref(d);

    /* an invalid document grants nothing */
    d = j("{\"Version\":\"1\",\"Statement\":[{\"Effect\":\"Allow\",\"Action\":\"*\",\"Resource\":\"*\",\"Condition\":{}}]}");
    assert_int_equal(policy_eval_doc(d, "oss:GetObject", "x"), POLICY_DENY);
    json_decref(d);
    assert_int_equal(policy_eval_doc(NULL, "oss:GetObject", "x"), POLICY_DENY);
}

static void test_sets(void **state)
{
    (void)state;
    json_t *set = json_array();
    assert_int_equal(policy_eval_set(set, "vod:GetVideoInfo", "*"), POLICY_DENY);
    json_array_append_new(set, json_pack("{s:s,s:o}", "PolicyName", "AliyunVODReadOnlyAccess", "PolicyDocument",
                                         policy_builtin("AliyunVODReadOnlyAccess")));
    json_array_append_new(set, json_pack("{s:s,s:o}", "PolicyName", "AliyunOSSFullAccess", "PolicyDocument",
                                         policy_builtin("AliyunOSSFullAccess")));
    /* any of the set allows */
    assert_int_equal(policy_eval_set(set, "vod:GetVideoInfo", "*"), POLICY_ALLOW);
    assert_int_equal(policy_eval_set(set, "oss:PutObject", "acs:oss:*:1:b/k"), POLICY_ALLOW);
    assert_int_equal(policy_eval_set(set, "vod:DeleteVideo", "*"), POLICY_DENY);
    /* a Deny in any member wins, wherever it sits in the set */
    json_array_append_new(set, json_pack("{s:s,s:o}", "PolicyName", "no-put", "PolicyDocument",
                                         j("{\"Version\":\"1\",\"Statement\":[{\"Effect\":\"Deny\","
                                           "\"Action\":\"oss:PutObject\",\"Resource\":\"*\"}]}")));
    assert_int_equal(policy_eval_set(set, "oss:PutObject", "acs:oss:*:1:b/k"), POLICY_DENY);
    assert_int_equal(policy_eval_set(set, "oss:GetObject", "acs:oss:*:1:b/k"), POLICY_ALLOW);
    json_decref(set);

    assert_int_equal(policy_eval_set(NULL, "a", "b"), POLICY_DENY);
    json_t *notarr = policy_builtin("AliyunOSSFullAccess");
    assert_int_equal(policy_eval_set(notarr, "oss:GetObject", "x"), POLICY_DENY);
    json_decref(notarr);
}

static char *scratch_dir(void)
{
    const char *base = getenv("VODUP_TEST_TMP");
    if (!base || !*base)
        base = "/tmp";
    mkdir(base, 0700);
    size_t n = strlen(base) + 32;
    char *d = malloc(n);
    assert_non_null(d);
    snprintf(d, n, "%s/policy-XXXXXX", base);
    assert_non_null(mkdtemp(d));
    return d;
}

static void write_file(const char *path, const char *text)
{
    FILE *f = fopen(path, "w");
    assert_non_null(f);
    fputs(text, f);
    fclose(f);
}

static void test_resolve(void **state)
{
    (void)state;
    char err[512];
    json_t *p = policy_resolve_arg("AliyunVODFullAccess", err, sizeof err);
    assert_non_null(p);
    assert_string_equal(json_string_value(json_object_get(p, "PolicyName")), "AliyunVODFullAccess");
    assert_int_equal(policy_validate(json_object_get(p, "PolicyDocument"), NULL, 0), 0);
    json_decref(p);

    const char *inl = "{\"Version\":\"1\",\"Statement\":[{\"Effect\":\"Allow\",\"Action\":\"oss:PutObject\","
                      "\"Resource\":\"acs:oss:*:*:b/*\"}]}";
    p = policy_resolve_arg(inl, err, sizeof err);
    assert_non_null(p);
    const char *name = json_string_value(json_object_get(p, "PolicyName"));
    assert_int_equal(strlen(name), 15);
    assert_memory_equal(name, "inline-", 7);
    for (int i = 7; i < 15; i++)
        assert_non_null(strchr("0123456789abcdef", name[i]));
    assert_int_equal(policy_eval_doc(json_object_get(p, "PolicyDocument"), "oss:PutObject", "acs:oss:*:*:b/k"),
                     POLICY_ALLOW);
    /* the same text gets the same name */
    json_t *p2 = policy_resolve_arg(inl, err, sizeof err);
    assert_string_equal(json_string_value(json_object_get(p2, "PolicyName")), name);
    json_decref(p2);
    json_decref(p);

    err[0] = '\0';
    assert_null(policy_resolve_arg("{\"Version\":\"1\",", err, sizeof err));
    assert_true(err[0] != '\0');
    err[0] = '\0';
    assert_null(policy_resolve_arg("{\"Version\":\"1\",\"Statement\":[]}", err, sizeof err));
    assert_true(err[0] != '\0');
    err[0] = '\0';
    /* duplicate keys are ambiguous and refused */
    assert_null(policy_resolve_arg("{\"Version\":\"1\",\"Statement\":[{\"Effect\":\"Deny\",\"Effect\":\"Allow\","
                                   "\"Action\":\"*\",\"Resource\":\"*\"}]}",
                                   err, sizeof err));
    assert_true(err[0] != '\0');
    err[0] = '\0';
    assert_null(policy_resolve_arg("NoSuchPolicy", err, sizeof err));
    assert_non_null(strstr(err, "NoSuchPolicy"));
    assert_null(policy_resolve_arg("", err, sizeof err));
    assert_null(policy_resolve_arg(NULL, err, sizeof err));

    char *dir = scratch_dir();
    char path[4096];
    snprintf(path, sizeof path, "%s/uploader.json", dir);
    write_file(path, "{\"Version\":\"1\",\"Statement\":[{\"Effect\":\"Allow\",\"Action\":[\"vod:CreateUploadVideo\"],"
                     "\"Resource\":\"*\"}]}\n");
    p = policy_resolve_arg(path, err, sizeof err);
    assert_non_null(p);
    assert_string_equal(json_string_value(json_object_get(p, "PolicyName")), "uploader");
    assert_int_equal(policy_eval_doc(json_object_get(p, "PolicyDocument"), "vod:createuploadvideo", "*"),
                     POLICY_ALLOW);
    json_decref(p);
    unlink(path);

    snprintf(path, sizeof path, "%s/missing.json", dir);
    err[0] = '\0';
    assert_null(policy_resolve_arg(path, err, sizeof err));
    assert_true(err[0] != '\0');

    snprintf(path, sizeof path, "%s/broken.json", dir);
    write_file(path, "{\"Version\":\"1\",\"Statement\":[{]}");
    err[0] = '\0';
    assert_null(policy_resolve_arg(path, err, sizeof err));
    assert_true(err[0] != '\0');
    unlink(path);

    /* invalid grammar in a file */
    snprintf(path, sizeof path, "%s/bad.json", dir);
    write_file(path, "{\"Version\":\"2\",\"Statement\":[{\"Effect\":\"Allow\",\"Action\":\"*\",\"Resource\":\"*\"}]}");
    err[0] = '\0';
    assert_null(policy_resolve_arg(path, err, sizeof err));
    assert_non_null(strstr(err, "Version"));
    unlink(path);

    /* over the size limit */
    snprintf(path, sizeof path, "%s/big.json", dir);
    FILE *f = fopen(path, "w");
    assert_non_null(f);
    fputs("{\"Version\":\"1\",\"Statement\":[{\"Effect\":\"Allow\",\"Action\":\"*\",\"Resource\":\"*\"}]", f);
    for (int i = 0; i < 70 * 1024; i++)
        fputc(' ', f);
    fputs("}", f);
    fclose(f);
    err[0] = '\0';
    assert_null(policy_resolve_arg(path, err, sizeof err));
    assert_true(err[0] != '\0');
    unlink(path);

    /* a directory is not a policy file */
    err[0] = '\0';
    assert_null(policy_resolve_arg(dir, err, sizeof err));
    assert_true(err[0] != '\0');

    rmdir(dir);
    free(dir);
}

/* The resources the VOD actions evaluate (rpc/vod_upload.c, vod_resource): one media's
 * "acs:vod:<region>:<account>:<type>/<id>", the account's "acs:vod:<region>:<account>:*".
 * A policy naming one video grants that video and nothing else: not a longer id with the
 * same prefix, not another type with the same id, not the account-level actions. */
static void test_media_resources(void **state)
{
    (void)state;
    json_t *d = j("{\"Version\":\"1\",\"Statement\":[{\"Effect\":\"Allow\","
                  "\"Action\":[\"vod:GetVideoInfo\",\"vod:DeleteVideo\"],"
                  "\"Resource\":\"acs:vod:*:*:video/0123456789abcdef0123456789abcdef\"},"
                  "{\"Effect\":\"Allow\",\"Action\":\"vod:GetImageInfo\",\"Resource\":\"acs:vod:*:1234:image/*\"}]}");
    const char *mine = "acs:vod:cn-hangzhou:1234:video/0123456789abcdef0123456789abcdef";
    assert_int_equal(policy_eval_doc(d, "vod:GetVideoInfo", mine), POLICY_ALLOW);
    assert_int_equal(policy_eval_doc(d, "vod:DeleteVideo", mine), POLICY_ALLOW);
    assert_int_equal(policy_eval_doc(d, "vod:RefreshUploadVideo", mine), POLICY_DENY);
    assert_int_equal(policy_eval_doc(d, "vod:GetVideoInfo", "acs:vod:cn-hangzhou:1234:video/0123456789abcdef0123456789abcdef0"),
                     POLICY_DENY);
    assert_int_equal(policy_eval_doc(d, "vod:GetVideoInfo", "acs:vod:cn-hangzhou:1234:video/ffff"), POLICY_DENY);
    assert_int_equal(policy_eval_doc(d, "vod:GetVideoInfo", "acs:vod:cn-hangzhou:1234:image/0123456789abcdef0123456789abcdef"),
                     POLICY_DENY);
    assert_int_equal(policy_eval_doc(d, "vod:GetVideoInfo", "acs:vod:cn-hangzhou:1234:*"), POLICY_DENY);
    /* images of account 1234 only */
    assert_int_equal(policy_eval_doc(d, "vod:GetImageInfo", "acs:vod:cn-hangzhou:1234:image/abc"), POLICY_ALLOW);
    assert_int_equal(policy_eval_doc(d, "vod:GetImageInfo", "acs:vod:cn-hangzhou:9999:image/abc"), POLICY_DENY);
    json_decref(d);
    /* "*" and the account pattern cover every media and the account resource */
    json_t *all = j("{\"Version\":\"1\",\"Statement\":[{\"Effect\":\"Allow\",\"Action\":\"vod:*\","
                    "\"Resource\":\"acs:vod:*:1234:*\"}]}");
    assert_int_equal(policy_eval_doc(all, "vod:GetVideoList", "acs:vod:cn-hangzhou:1234:*"), POLICY_ALLOW);
    assert_int_equal(policy_eval_doc(all, "vod:GetVideoInfo", mine), POLICY_ALLOW);
    assert_int_equal(policy_eval_doc(all, "vod:GetVideoInfo", "acs:vod:cn-hangzhou:9999:video/x"), POLICY_DENY);
    json_decref(all);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_grammar_accepts), cmocka_unit_test(test_grammar_rejects),
        cmocka_unit_test(test_grammar_limits),  cmocka_unit_test(test_builtins),
        cmocka_unit_test(test_match),           cmocka_unit_test(test_pathological),
        cmocka_unit_test(test_deny_first),      cmocka_unit_test(test_sets),
        cmocka_unit_test(test_resolve),         cmocka_unit_test(test_media_resources),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
