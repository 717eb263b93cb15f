/* fuzz_target.c - request targets, form bodies and OSS bucket addressing.
 *
 * The input is used three ways:
 *  - whole, as a request target (vodup_target_parse) and as a form body (vodup_form_parse);
 *  - split at the first '\n' into a Host header value and a path for vodup_oss_address,
 *    with the raw path and, when it parses, the decoded path as the server passes it.
 *    Whether the host is "own" is decided by the low bit of the last input byte.
 */
#include "fuzz.h"

#include "common/target.h"

static void check_target(const vodup_target *t, int rc, const char *raw, size_t n, int is_form)
{
    if (rc != 0) {
        /* On failure everything has been freed and zeroed. */
        FUZZ_CHECK(t->path == NULL && t->query == NULL && t->nquery == 0);
        return;
    }
    FUZZ_CHECK(t->path != NULL);
    if (is_form) {
        FUZZ_CHECK(t->path[0] == '\0' && t->path_len == 0);
    } else {
        FUZZ_CHECK(t->path[0] == '/');
        if (!memchr(raw, '\0', n))
            FUZZ_CHECK((memchr(t->path, '\0', t->path_len) != NULL) == (t->path_has_nul != 0));
        FUZZ_CHECK(t->path_len >= 1 && t->path_len <= n);
        FUZZ_CHECK(t->path[t->path_len] == '\0');
        /* path_has_nul reports a decoded %00; a raw NUL byte passes through unflagged
         * (the server hands over C strings, so it never sees one). */
        if (t->path_has_nul)
            FUZZ_CHECK(memchr(t->path, '\0', t->path_len) != NULL);
    }
    FUZZ_CHECK(t->nquery <= (n + 1) / 2); /* each needs a byte and a separator */
    for (size_t i = 0; i < t->nquery; i++) {
        const vodup_param *p = &t->query[i];
        FUZZ_CHECK(p->name != NULL);
        /* Documented: a name that decodes to "" or contains NUL (raw or %00) is refused,
         * so every accepted name is a non-empty C string (corpus/target/form-raw-nul-name). */
        FUZZ_CHECK(p->name[0] != '\0');
        FUZZ_CHECK(p->value && p->value_len <= n && p->value[p->value_len] == '\0');
        /* The first parameter of a name is the one vodup_target_get finds. */
        const char *v = vodup_target_get(t, p->name);
        FUZZ_CHECK(v != NULL);
        size_t first = 0;
        while (strcmp(t->query[first].name, p->name) != 0)
            first++;
        FUZZ_CHECK(first <= i && v == t->query[first].value);
    }
}

static int own_host(const char *host, void *cb_data)
{
    FUZZ_CHECK(host != NULL && host[0] != '\0');
    for (const char *c = host; *c; c++)
        FUZZ_CHECK(!(*c >= 'A' && *c <= 'Z')); /* lower-cased before the callback */
    return *(const int *)cb_data;
}

static void address(const char *host, const char *path, size_t path_len, int own)
{
    char *bucket = (char *)"x", *key = (char *)"x";
    size_t key_len = 12345;
    int rc = vodup_oss_address(host, path, path_len, own_host, &own, &bucket, &key, &key_len);
    if (rc != 0) {
        FUZZ_CHECK(rc == -1 || rc == -2);
        FUZZ_CHECK(bucket == NULL && key == NULL);
        return;
    }
    FUZZ_CHECK(bucket != NULL && key != NULL);
    FUZZ_CHECK(key_len <= path_len && key[key_len] == '\0');
    FUZZ_CHECK(strchr(bucket, '/') == NULL);
    free(bucket);
    free(key);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const char *s = (const char *)data;
    vodup_target t;

    int rc = vodup_target_parse(&t, s, size);
    FUZZ_CHECK(rc == 0 || rc == -1 || rc == -2);
    check_target(&t, rc, s, size, 0);
    vodup_target_free(&t);

    rc = vodup_form_parse(&t, s, size);
    FUZZ_CHECK(rc == 0 || rc == -1 || rc == -2);
    check_target(&t, rc, s, size, 1);
    vodup_target_free(&t);

    const char *nl = memchr(s, '\n', size);
    size_t hlen = nl ? (size_t)(nl - s) : size;
    char *host = fuzz_strndup(s, hlen);
    const char *path = nl ? nl + 1 : s + size;
    size_t plen = nl ? size - hlen - 1 : 0;
    int own = size ? data[size - 1] & 1 : 0;

    /* Raw bytes, exact-size copy so that reads past path_len are caught. */
    char *praw = malloc(plen ? plen : 1);
    if (!praw)
        abort();
    if (plen)
        memcpy(praw, path, plen);
    address(host, praw, plen, own);
    free(praw);

    /* What the server does: the decoded path of the parsed target. */
    if (vodup_target_parse(&t, path, plen) == 0) {
        address(host, t.path, t.path_len, own);
        vodup_target_free(&t);
    }
    free(host);
    return 0;
}
