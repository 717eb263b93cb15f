/* fuzz_policy.c - RAM policy documents (auth/policy.c): the grammar, evaluation and the
 * wildcard matcher. Documents come from operators and from AssumeRole's Policy parameter,
 * i.e. from any RAM user allowed to assume a role, so everything here is hostile input.
 *
 * The whole input is parsed as JSON (duplicate keys refused, as the server does) and, when
 * it is a document, validated and evaluated against a fixed set of requests. Properties:
 *   - validate answers 0 or -1, and -1 comes with a reason;
 *   - a document that does not validate allows nothing (policy_eval_doc is DENY);
 *   - a set of one document decides as the document does;
 *   - appending a "Deny * on *" statement to a valid document denies everything;
 *   - a valid document dumped and reloaded is still valid and decides the same.
 * The input is also split at its first '\n' into a pattern and a subject for
 * policy_match: a pattern without wildcards matches exactly the equal subject, "*"
 * matches everything, and the match finishes (libFuzzer's timeout catches blow-ups).
 * An input starting with '{' also goes through policy_resolve_arg (inline --policy).
 */
#include "fuzz.h"

#include <jansson.h>

#include "server/auth/policy.h"

static const char *const REQUESTS[][2] = {
    {"vod:CreateUploadVideo", "acs:vod:cn-hangzhou:1234567890:*"},
    {"vod:GetVideoInfo", "acs:vod:cn-hangzhou:1234567890:video/0123456789abcdef0123456789abcdef"},
    {"vod:DeleteVideo", "acs:vod:cn-hangzhou:1234567890:video/x"},
    {"VOD:getimageinfo", "acs:vod:cn-hangzhou:1234567890:image/abc"},
    {"sts:AssumeRole", "acs:ram::1234567890:role/uploader"},
    {"oss:PutObject", "acs:oss:*:1234567890:bucket/some/key \xc3\xa9"},
    {"", ""},
};
#define NREQ (sizeof REQUESTS / sizeof REQUESTS[0])

static json_t *as_set(json_t *doc)
{
    json_t *set = json_pack("[{s:s,s:O}]", "PolicyName", "fuzz", "PolicyDocument", doc);
    FUZZ_CHECK(set != NULL);
    return set;
}

static void check_doc(json_t *doc)
{
    char err[256];
    err[0] = '\0';
    int v = policy_validate(doc, err, sizeof err);
    FUZZ_CHECK(v == 0 || v == -1);
    FUZZ_CHECK(memchr(err, '\0', sizeof err) != NULL);
    if (v != 0)
        FUZZ_CHECK(err[0] != '\0');

    json_t *set = as_set(doc);
    int decided[NREQ];
    for (size_t i = 0; i < NREQ; i++) {
        int d = policy_eval_doc(doc, REQUESTS[i][0], REQUESTS[i][1]);
        FUZZ_CHECK(d == POLICY_ALLOW || d == POLICY_DENY);
        if (v != 0)
            FUZZ_CHECK(d == POLICY_DENY);
        FUZZ_CHECK(policy_eval_set(set, REQUESTS[i][0], REQUESTS[i][1]) == d);
        decided[i] = d;
    }
    json_decref(set);
    if (v != 0)
        return;

    /* dumped and reloaded: same verdicts */
    char *text = json_dumps(doc, JSON_COMPACT);
    FUZZ_CHECK(text != NULL);
    json_t *again = json_loads(text, JSON_REJECT_DUPLICATES, NULL);
    free(text);
    FUZZ_CHECK(again != NULL && policy_validate(again, NULL, 0) == 0);
    for (size_t i = 0; i < NREQ; i++)
        FUZZ_CHECK(policy_eval_doc(again, REQUESTS[i][0], REQUESTS[i][1]) == decided[i]);

    /* a deny-everything statement wins over whatever allows (when there is room for it) */
    json_t *st = json_object_get(again, "Statement");
    if (json_array_size(st) < 100) {
        json_array_append_new(st, json_pack("{s:s,s:s,s:s}", "Effect", "Deny", "Action", "*", "Resource", "*"));
        FUZZ_CHECK(policy_validate(again, NULL, 0) == 0);
        for (size_t i = 0; i < NREQ; i++)
            FUZZ_CHECK(policy_eval_doc(again, REQUESTS[i][0], REQUESTS[i][1]) == POLICY_DENY);
    }
    json_decref(again);
}

static int has_wildcard(const char *s)
{
    return strpbrk(s, "*?") != NULL;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    json_t *doc = json_loadb((const char *)data, size, JSON_REJECT_DUPLICATES, NULL);
    if (doc) {
        check_doc(doc);
        json_decref(doc);
    }

    char *s = fuzz_strndup(data, size);
    char *nl = strchr(s, '\n');
    const char *pattern = s, *subject = "";
    if (nl) {
        *nl = '\0';
        subject = nl + 1;
    }
    for (int nocase = 0; nocase <= 1; nocase++) {
        int m = policy_match(pattern, subject, nocase);
        FUZZ_CHECK(m == 0 || m == 1);
        FUZZ_CHECK(policy_match("*", subject, nocase) == 1);
        if (!has_wildcard(pattern) && !nocase)
            FUZZ_CHECK(m == (strcmp(pattern, subject) == 0));
        if (!has_wildcard(pattern))
            FUZZ_CHECK(policy_match(pattern, pattern, nocase) == 1);
    }
    if (nl)
        *nl = '\n';

    if (size && data[0] == '{') {
        char err[512];
        json_t *named = policy_resolve_arg(s, err, sizeof err);
        if (named) {
            FUZZ_CHECK(json_is_string(json_object_get(named, "PolicyName")));
            FUZZ_CHECK(policy_validate(json_object_get(named, "PolicyDocument"), NULL, 0) == 0);
            json_decref(named);
        } else {
            FUZZ_CHECK(memchr(err, '\0', sizeof err) != NULL);
        }
    }
    free(s);
    return 0;
}
