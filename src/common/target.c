/* target.c - the request target as it came on the wire, and OSS bucket addressing.
 *
 * Parsing is done here rather than by the HTTP library because signatures are over
 * exact bytes: `?uploads=` and `?uploads` must both be seen as a present, empty
 * parameter; '+' in a target is a literal plus (OSS and S3 clients send spaces as %20);
 * and a key may hold any byte, so %00 is decoded and reported, not silently cut.
 */
#include "common/target.h"

#include "common/buf.h"
#include "common/codec.h"

#include <arpa/inet.h>
#include <stdlib.h>
#include <string.h>

void vodup_target_free(vodup_target *t)
{
    if (!t)
        return;
    free(t->path);
    for (size_t i = 0; i < t->nquery; i++) {
        free(t->query[i].name);
        free(t->query[i].value);
    }
    free(t->query);
    memset(t, 0, sizeof *t);
}

/* Decodes in[0..n) into a fresh string. -1 bad escape, -2 oom. */
static int decode_dup(const char *in, size_t n, int plus_is_space, char **out, size_t *len,
                      int *has_nul)
{
    vbuf b = VBUF_INIT;
    if (vodup_uri_decode(&b, in, n, plus_is_space, has_nul) < 0) {
        int rc = b.oom ? -2 : -1;
        vbuf_free(&b);
        return rc;
    }
    *len = b.len;
    *out = vbuf_steal(&b);
    return *out ? 0 : -2;
}

/* Adds one "name[=value]" segment. */
static int add_param(vodup_target *t, size_t *cap, const char *seg, size_t n, int plus_is_space)
{
    const char *eq = memchr(seg, '=', n);
    size_t nlen = eq ? (size_t)(eq - seg) : n;
    if (t->nquery == *cap) {
        size_t ncap = *cap ? *cap * 2 : 8;
        vodup_param *q = realloc(t->query, ncap * sizeof *q);
        if (!q)
            return -2;
        t->query = q;
        *cap = ncap;
    }
    vodup_param *p = &t->query[t->nquery];
    size_t name_len;
    int nul = 0;
    int rc = decode_dup(seg, nlen, plus_is_space, &p->name, &name_len, &nul);
    if (rc < 0)
        return rc;
    /* A NUL in a name, raw or %00, would make it read as another (shorter) name to every
     * C-string user: a body "Signature\0x=1" must not look like "Signature". */
    if (name_len == 0 || nul || memchr(p->name, '\0', name_len)) {
        free(p->name);
        return -1;
    }
    const char *v = eq ? eq + 1 : seg + n;
    rc = decode_dup(v, (size_t)(seg + n - v), plus_is_space, &p->value, &p->value_len, NULL);
    if (rc < 0) {
        free(p->name);
        return rc;
    }
    t->nquery++;
    return 0;
}

/* Splits a query string on '&'. Empty segments ("a=1&&b", a trailing '&') carry no
 * parameter and are skipped, as the SDKs' own parsers do. */
static int parse_query(vodup_target *t, const char *q, size_t n, int plus_is_space)
{
    size_t cap = 0;
    const char *end = q + n;
    while (q < end) {
        const char *amp = memchr(q, '&', (size_t)(end - q));
        const char *seg_end = amp ? amp : end;
        if (seg_end > q) {
            int rc = add_param(t, &cap, q, (size_t)(seg_end - q), plus_is_space);
            if (rc < 0)
                return rc;
        }
        q = seg_end + 1;
    }
    return 0;
}

int vodup_target_parse(vodup_target *t, const char *raw, size_t n)
{
    memset(t, 0, sizeof *t);
    if (n == 0 || raw[0] != '/')
        return -1;
    const char *qm = memchr(raw, '?', n);
    size_t plen = qm ? (size_t)(qm - raw) : n;
    int rc = decode_dup(raw, plen, 0, &t->path, &t->path_len, &t->path_has_nul);
    if (rc == 0 && qm)
        rc = parse_query(t, qm + 1, (size_t)(raw + n - qm - 1), 0);
    if (rc < 0)
        vodup_target_free(t);
    return rc;
}

int vodup_form_parse(vodup_target *t, const char *body, size_t n)
{
    memset(t, 0, sizeof *t);
    t->path = calloc(1, 1);
    if (!t->path)
        return -2;
    int rc = parse_query(t, body, n, 1);
    if (rc < 0)
        vodup_target_free(t);
    return rc;
}

const char *vodup_target_get(const vodup_target *t, const char *name)
{
    for (size_t i = 0; i < t->nquery; i++)
        if (strcmp(t->query[i].name, name) == 0)
            return t->query[i].value;
    return NULL;
}

/* ---- addressing ---------------------------------------------------------- */

static int is_host_char(char c)
{
    return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' || c == '.' || c == '_';
}

static int is_port(const char *p, size_t n)
{
    if (n == 0 || n > 5)
        return 0;
    for (size_t i = 0; i < n; i++)
        if (p[i] < '0' || p[i] > '9')
            return 0;
    return 1;
}

/* Splits off ":port" and lower-cases. *is_ip set for IP literals. -1 malformed. */
static int host_name(const char *host, char *out, size_t outsz, int *is_ip)
{
    size_t n = strlen(host);
    *is_ip = 0;
    if (n == 0)
        return -1;
    if (host[0] == '[') {
        const char *rb = memchr(host, ']', n);
        if (!rb)
            return -1;
        size_t hn = (size_t)(rb - host) + 1;
        size_t rest = n - hn;
        if (rest && (rb[1] != ':' || !is_port(rb + 2, rest - 1)))
            return -1;
        char addr[64];
        struct in6_addr a6;
        if (hn - 2 == 0 || hn - 2 >= sizeof addr || hn >= outsz)
            return -1;
        memcpy(addr, host + 1, hn - 2);
        addr[hn - 2] = '\0';
        if (inet_pton(AF_INET6, addr, &a6) != 1)
            return -1;
        memcpy(out, host, hn);
        out[hn] = '\0';
        *is_ip = 1;
        return 0;
    }
    const char *colon = memchr(host, ':', n);
    size_t hn = colon ? (size_t)(colon - host) : n;
    if (colon && !is_port(colon + 1, n - hn - 1))
        return -1;
    if (hn == 0 || hn >= outsz)
        return -1;
    for (size_t i = 0; i < hn; i++) {
        char c = host[i];
        if (c >= 'A' && c <= 'Z')
            c = (char)(c - 'A' + 'a');
        if (!is_host_char(c))
            return -1;
        out[i] = c;
    }
    out[hn] = '\0';
    struct in_addr a4;
    *is_ip = inet_pton(AF_INET, out, &a4) == 1;
    return 0;
}

static char *dup_n(const char *p, size_t n)
{
    char *s = malloc(n + 1);
    if (s) {
        if (n)
            memcpy(s, p, n);
        s[n] = '\0';
    }
    return s;
}

int vodup_oss_address(const char *host, const char *path, size_t path_len,
                      int (*own_host)(const char *host, void *cb_data), void *cb_data,
                      char **bucket, char **key, size_t *key_len)
{
    char name[256];
    int is_ip;
    *bucket = NULL;
    *key = NULL;
    *key_len = 0;
    if (!host || host_name(host, name, sizeof name, &is_ip) < 0)
        return -1;
    /* Skip the leading '/' of the path; a bare "" path is treated like "/". */
    const char *p = path;
    size_t n = path_len;
    if (n && p[0] == '/') {
        p++;
        n--;
    }
    const char *dot = strchr(name, '.');
    /* A name without a dot cannot be "<bucket>.<endpoint>": it is this server under a
     * local name (a container or machine name), so it gets path style too. */
    int path_style = is_ip || !dot || strcmp(name, "localhost") == 0 ||
                     (own_host && own_host(name, cb_data));
    const char *b;
    size_t blen;
    if (path_style) {
        const char *slash = memchr(p, '/', n);
        b = p;
        blen = slash ? (size_t)(slash - p) : n;
        p += slash ? blen + 1 : n;
        n -= slash ? blen + 1 : n;
    } else {
        /* ali-oss, given an IP endpoint and no bucket (ListBuckets), sends
         * ".oss-<region>.aliyuncs.com": an empty first label means "no bucket". */
        b = name;
        blen = (size_t)(dot - name);
    }
    *bucket = dup_n(b, blen);
    *key = dup_n(p, n);
    if (!*bucket || !*key) {
        free(*bucket);
        free(*key);
        *bucket = *key = NULL;
        return -2;
    }
    *key_len = n;
    return 0;
}
