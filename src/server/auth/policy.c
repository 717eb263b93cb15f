/* policy.c - RAM-style policy documents: grammar, built-ins, --policy arguments and
 * deny-first evaluation.
 *
 * Policies arrive from operators (files, inline JSON) and travel inside security tokens,
 * so everything here treats a document as untrusted: the grammar is closed (unknown keys
 * such as Condition are refused rather than silently ignored, since ignoring a condition
 * would grant more than its author meant), sizes are bounded, and evaluation refuses any
 * document that does not validate. Wildcard matching is iterative with one backtrack
 * point, so a hostile pattern costs at most O(len(pattern) * len(subject)).
 */
#include "server/auth/policy.h"

#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/codec.h"
#include "common/digest.h"

#define POLICY_MAX_STATEMENTS 100
#define POLICY_MAX_ITEMS 256         /* entries of one Action / Resource array */
#define POLICY_MAX_STRING 512        /* bytes of one action or resource pattern */
#define POLICY_MAX_FILE (64 * 1024)

static void set_err(char *err, size_t errlen, const char *fmt, ...) __attribute__((format(printf, 3, 4)));

static void set_err(char *err, size_t errlen, const char *fmt, ...)
{
    if (!err || errlen == 0)
        return;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(err, errlen, fmt, ap);
    va_end(ap);
}

/* ---- wildcard matching ------------------------------------------------------ */

static unsigned char fold(unsigned char c, int nocase)
{
    /* ASCII only: actions are ASCII, and locale-dependent folding would make the same
     * policy decide differently on differently configured nodes. */
    return (nocase && c >= 'A' && c <= 'Z') ? (unsigned char)(c - 'A' + 'a') : c;
}

/* Length of the UTF-8 sequence starting at s: its lead byte plus continuation bytes.
 * '?' and star backtracking step by whole characters so that "?" means one character
 * of an object key, not one byte of it. Invalid UTF-8 degrades to byte steps. */
static size_t char_len(const unsigned char *s)
{
    size_t n = 1;
    while (s[n] && (s[n] & 0xC0) == 0x80 && n < 4)
        n++;
    return n;
}

int policy_match(const char *pattern, const char *s, int nocase)
{
    if (!pattern || !s)
        return 0;
    const unsigned char *p = (const unsigned char *)pattern;
    const unsigned char *t = (const unsigned char *)s;
    /* The classic glob: remember only the latest '*' and where its run would resume.
     * An earlier star never needs revisiting, because the latest star can absorb
     * anything an earlier one could; this keeps the cost polynomial. */
    const unsigned char *star_p = NULL, *star_t = NULL;
    while (*t) {
        if (*p == '*') {
            while (*p == '*')
                p++;
            if (!*p)
                return 1; /* a trailing star swallows the rest */
            star_p = p;
            star_t = t;
        } else if (*p == '?') {
            p++;
            t += char_len(t);
        } else if (*p && fold(*p, nocase) == fold(*t, nocase)) {
            p++;
            t++;
        } else if (star_p) {
            star_t += char_len(star_t);
            p = star_p;
            t = star_t;
        } else {
            return 0;
        }
    }
    while (*p == '*')
        p++;
    return *p == '\0';
}

/* ---- grammar ----------------------------------------------------------------- */

static int check_patterns(const json_t *v, const char *what, size_t idx, char *err, size_t errlen)
{
    if (json_is_string(v)) {
        size_t n = json_string_length(v);
        if (n == 0 || n > POLICY_MAX_STRING) {
            set_err(err, errlen, "Statement[%zu].%s: must be 1..%d bytes", idx, what, POLICY_MAX_STRING);
            return -1;
        }
        /* jansson allows embedded NULs; a pattern cut at one would match more than shown. */
        if (strlen(json_string_value(v)) != n) {
            set_err(err, errlen, "Statement[%zu].%s: contains a NUL character", idx, what);
            return -1;
        }
        return 0;
    }
    if (!json_is_array(v) || json_array_size(v) == 0) {
        set_err(err, errlen, "Statement[%zu].%s: must be a string or a non-empty array of strings", idx,
                what);
        return -1;
    }
    if (json_array_size(v) > POLICY_MAX_ITEMS) {
        set_err(err, errlen, "Statement[%zu].%s: more than %d entries", idx, what, POLICY_MAX_ITEMS);
        return -1;
    }
    size_t i;
    const json_t *e;
    json_array_foreach(v, i, e) {
        if (!json_is_string(e)) {
            set_err(err, errlen, "Statement[%zu].%s[%zu]: must be a string", idx, what, i);
            return -1;
        }
        if (check_patterns(e, what, idx, err, errlen) != 0)
            return -1;
    }
    return 0;
}

int policy_validate(const json_t *doc, char *err, size_t errlen)
{
    if (!json_is_object(doc)) {
        set_err(err, errlen, "a policy document must be a JSON object");
        return -1;
    }
    const char *key;
    const json_t *val;
    json_object_foreach((json_t *)doc, key, val) {
        if (strcmp(key, "Version") != 0 && strcmp(key, "Statement") != 0) {
            set_err(err, errlen, "unsupported top-level field \"%.64s\"", key);
            return -1;
        }
    }
    const json_t *ver = json_object_get(doc, "Version");
    if (!json_is_string(ver) || strcmp(json_string_value(ver), "1") != 0) {
        set_err(err, errlen, "Version must be the string \"1\"");
        return -1;
    }
    const json_t *st = json_object_get(doc, "Statement");
    if (!json_is_array(st) || json_array_size(st) == 0) {
        set_err(err, errlen, "Statement must be a non-empty array");
        return -1;
    }
    if (json_array_size(st) > POLICY_MAX_STATEMENTS) {
        set_err(err, errlen, "more than %d statements", POLICY_MAX_STATEMENTS);
        return -1;
    }
    size_t i;
    const json_t *s;
    json_array_foreach(st, i, s) {
        if (!json_is_object(s)) {
            set_err(err, errlen, "Statement[%zu]: must be an object", i);
            return -1;
        }
        json_object_foreach((json_t *)s, key, val) {
            if (strcmp(key, "Effect") != 0 && strcmp(key, "Action") != 0 && strcmp(key, "Resource") != 0) {
                set_err(err, errlen, "Statement[%zu]: unsupported field \"%.64s\"", i, key);
                return -1;
            }
        }
        const json_t *eff = json_object_get(s, "Effect");
        if (!json_is_string(eff) ||
            (strcmp(json_string_value(eff), "Allow") != 0 && strcmp(json_string_value(eff), "Deny") != 0)) {
            set_err(err, errlen, "Statement[%zu].Effect: must be \"Allow\" or \"Deny\"", i);
            return -1;
        }
        const json_t *act = json_object_get(s, "Action");
        if (!act) {
            set_err(err, errlen, "Statement[%zu]: Action is missing", i);
            return -1;
        }
        if (check_patterns(act, "Action", i, err, errlen) != 0)
            return -1;
        const json_t *res = json_object_get(s, "Resource");
        if (!res) {
            set_err(err, errlen, "Statement[%zu]: Resource is missing", i);
            return -1;
        }
        if (check_patterns(res, "Resource", i, err, errlen) != 0)
            return -1;
    }
    return 0;
}

/* ---- built-ins ---------------------------------------------------------------- */

static const struct {
    const char *name;
    const char *doc;
} BUILTINS[] = {
    {"AliyunVODFullAccess",
     "{\"Version\":\"1\",\"Statement\":[{\"Effect\":\"Allow\",\"Action\":\"vod:*\",\"Resource\":\"*\"}]}"},
    {"AliyunVODReadOnlyAccess",
     "{\"Version\":\"1\",\"Statement\":[{\"Effect\":\"Allow\","
     "\"Action\":[\"vod:Get*\",\"vod:List*\",\"vod:Describe*\",\"vod:Search*\"],\"Resource\":\"*\"}]}"},
    {"AliyunSTSAssumeRoleAccess",
     "{\"Version\":\"1\",\"Statement\":[{\"Effect\":\"Allow\",\"Action\":\"sts:AssumeRole\",\"Resource\":\"*\"}]}"},
    {"AliyunOSSFullAccess",
     "{\"Version\":\"1\",\"Statement\":[{\"Effect\":\"Allow\",\"Action\":\"oss:*\",\"Resource\":\"*\"}]}"},
    {"AliyunOSSReadOnlyAccess",
     "{\"Version\":\"1\",\"Statement\":[{\"Effect\":\"Allow\","
     "\"Action\":[\"oss:Get*\",\"oss:List*\"],\"Resource\":\"*\"}]}"},
};

json_t *policy_builtin(const char *name)
{
    if (!name)
        return NULL;
    for (size_t i = 0; i < sizeof BUILTINS / sizeof BUILTINS[0]; i++)
        if (strcmp(name, BUILTINS[i].name) == 0)
            return json_loads(BUILTINS[i].doc, 0, NULL);
    return NULL;
}

/* ---- --policy arguments ------------------------------------------------------- */

static json_t *named(const char *name, json_t *doc)
{
    /* Built by hand rather than with json_pack("o"), whose reference handling on
     * failure differs between jansson versions; doc is consumed either way. */
    json_t *o = json_object();
    if (!o || json_object_set_new(o, "PolicyName", json_string(name)) != 0 ||
        json_object_set(o, "PolicyDocument", doc) != 0) {
        json_decref(o);
        json_decref(doc);
        return NULL;
    }
    json_decref(doc);
    return o;
}

static json_t *parse_checked(const char *text, size_t n, const char *origin, char *err, size_t errlen)
{
    json_error_t je;
    /* Duplicate keys are refused: with two "Effect"s the reader and the evaluator
     * could disagree about which one counts. */
    json_t *doc = json_loadb(text, n, JSON_REJECT_DUPLICATES, &je);
    if (!doc) {
        set_err(err, errlen, "%s: invalid JSON at line %d column %d: %s", origin, je.line, je.column, je.text);
        return NULL;
    }
    char why[256];
    if (policy_validate(doc, why, sizeof why) != 0) {
        set_err(err, errlen, "%s: %s", origin, why);
        json_decref(doc);
        return NULL;
    }
    return doc;
}

/* Reads at most POLICY_MAX_FILE bytes of a regular file; NULL with err otherwise. */
static char *read_small_file(const char *path, size_t *len, char *err, size_t errlen)
{
    /* O_NONBLOCK so a FIFO given by mistake fails the S_ISREG check below instead of
     * hanging the command; it has no effect on regular files. */
    int fd = open(path, O_RDONLY | O_CLOEXEC | O_NONBLOCK);
    if (fd < 0) {
        set_err(err, errlen, "%s: %s", path, strerror(errno));
        return NULL;
    }
    struct stat st;
    if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
        set_err(err, errlen, "%s: not a regular file", path);
        close(fd);
        return NULL;
    }
    if (st.st_size > POLICY_MAX_FILE) {
        set_err(err, errlen, "%s: larger than %d bytes", path, POLICY_MAX_FILE);
        close(fd);
        return NULL;
    }
    char *buf = malloc(POLICY_MAX_FILE + 1);
    if (!buf) {
        set_err(err, errlen, "out of memory");
        close(fd);
        return NULL;
    }
    /* Read up to one byte past the limit: the file may have grown since fstat. */
    size_t n = 0;
    while (n < POLICY_MAX_FILE + 1) {
        ssize_t r = read(fd, buf + n, POLICY_MAX_FILE + 1 - n);
        if (r < 0 && errno == EINTR)
            continue;
        if (r < 0) {
            set_err(err, errlen, "%s: %s", path, strerror(errno));
            free(buf);
            close(fd);
            return NULL;
        }
        if (r == 0)
            break;
        n += (size_t)r;
    }
    close(fd);
    if (n > POLICY_MAX_FILE) {
        set_err(err, errlen, "%s: larger than %d bytes", path, POLICY_MAX_FILE);
        free(buf);
        return NULL;
    }
    buf[n] = '\0';
    *len = n;
    return buf;
}

json_t *policy_resolve_arg(const char *arg, char *err, size_t errlen)
{
    if (!arg || !*arg) {
        set_err(err, errlen, "empty policy argument");
        return NULL;
    }
    json_t *doc = policy_builtin(arg);
    if (doc)
        return named(arg, doc);

    if (arg[0] == '{') {
        size_t n = strlen(arg);
        doc = parse_checked(arg, n, "inline policy", err, errlen);
        if (!doc)
            return NULL;
        /* A stable name derived from the text, so re-attaching the same inline policy
         * yields the same name and listings stay readable. */
        unsigned char h[VODUP_SHA256_LEN];
        char hex[2 * VODUP_SHA256_LEN + 1], name[32];
        vodup_sha256(h, arg, n);
        vodup_hex_lower(hex, h, sizeof h);
        snprintf(name, sizeof name, "inline-%.8s", hex);
        return named(name, doc);
    }

    size_t n = 0;
    char fe[512];
    char *text = read_small_file(arg, &n, fe, sizeof fe);
    if (!text) {
        if (!strchr(arg, '/') && access(arg, F_OK) != 0)
            set_err(err, errlen,
                    "no built-in policy or file named \"%.128s\" (built-ins: AliyunVODFullAccess, "
                    "AliyunVODReadOnlyAccess, AliyunSTSAssumeRoleAccess, AliyunOSSFullAccess, "
                    "AliyunOSSReadOnlyAccess)",
                    arg);
        else
            set_err(err, errlen, "%s", fe);
        return NULL;
    }
    doc = parse_checked(text, n, arg, err, errlen);
    free(text);
    if (!doc)
        return NULL;

    const char *base = strrchr(arg, '/');
    base = base ? base + 1 : arg;
    size_t bl = strlen(base);
    if (bl > 5 && strcmp(base + bl - 5, ".json") == 0)
        bl -= 5;
    if (bl == 0 || bl > 128) {
        set_err(err, errlen, "%s: cannot derive a policy name from the file name", arg);
        json_decref(doc);
        return NULL;
    }
    char name[129];
    memcpy(name, base, bl);
    name[bl] = '\0';
    return named(name, doc);
}

/* ---- evaluation ---------------------------------------------------------------- */

enum { NO_MATCH = 0, MATCH_ALLOW = 1, MATCH_DENY = -1 };

static int any_match(const json_t *v, const char *s, int nocase)
{
    if (json_is_string(v))
        return policy_match(json_string_value(v), s, nocase);
    size_t i;
    const json_t *e;
    json_array_foreach(v, i, e) {
        if (policy_match(json_string_value(e), s, nocase))
            return 1;
    }
    return 0;
}

/* Tri-state result of one document; an invalid document counts as an explicit deny so
 * that a corrupted policy can only take permissions away. */
static int eval_doc(const json_t *doc, const char *action, const char *resource)
{
    if (!action || !resource || policy_validate(doc, NULL, 0) != 0)
        return MATCH_DENY;
    int allowed = 0;
    size_t i;
    const json_t *s;
    json_array_foreach(json_object_get(doc, "Statement"), i, s) {
        if (!any_match(json_object_get(s, "Action"), action, 1) ||
            !any_match(json_object_get(s, "Resource"), resource, 0))
            continue;
        if (strcmp(json_string_value(json_object_get(s, "Effect")), "Deny") == 0)
            return MATCH_DENY;
        allowed = 1;
    }
    return allowed ? MATCH_ALLOW : NO_MATCH;
}

int policy_eval_doc(const json_t *doc, const char *action, const char *resource)
{
    return eval_doc(doc, action, resource) == MATCH_ALLOW ? POLICY_ALLOW : POLICY_DENY;
}

int policy_eval_set(const json_t *set, const char *action, const char *resource)
{
    if (!json_is_array(set))
        return POLICY_DENY;
    int allowed = 0;
    size_t i;
    const json_t *p;
    json_array_foreach(set, i, p) {
        /* Every member is evaluated even after an Allow: a Deny in any attached policy
         * must win, whatever the order of attachment. */
        int r = eval_doc(json_object_get(p, "PolicyDocument"), action, resource);
        if (r == MATCH_DENY)
            return POLICY_DENY;
        if (r == MATCH_ALLOW)
            allowed = 1;
    }
    return allowed ? POLICY_ALLOW : POLICY_DENY;
}
