/* net.c - see net.h. */
#include "server/http/net.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>

static void map_v4(http_addr *out, const void *v4)
{
    memset(out->b, 0, 10);
    out->b[10] = 0xff;
    out->b[11] = 0xff;
    memcpy(out->b + 12, v4, 4);
}

static int is_v4_mapped(const http_addr *a)
{
    static const uint8_t prefix[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};
    return memcmp(a->b, prefix, 12) == 0;
}

int http_addr_parse(http_addr *out, const char *s, size_t n)
{
    char buf[64];
    while (n && (*s == ' ' || *s == '\t'))
        s++, n--;
    while (n && (s[n - 1] == ' ' || s[n - 1] == '\t'))
        n--;
    if (n == 0 || n >= sizeof buf)
        return -1;
    if (s[0] == '[') { /* [v6] or [v6]:port */
        const char *close = memchr(s, ']', n);
        if (!close)
            return -1;
        size_t rest = n - (size_t)(close - s) - 1;
        if (rest && close[1] != ':')
            return -1;
        s++;
        n = (size_t)(close - s);
        memcpy(buf, s, n);
        buf[n] = '\0';
        struct in6_addr a6;
        if (inet_pton(AF_INET6, buf, &a6) != 1)
            return -1;
        memcpy(out->b, &a6, 16);
        return 0;
    }
    memcpy(buf, s, n);
    buf[n] = '\0';
    struct in6_addr a6;
    if (inet_pton(AF_INET6, buf, &a6) == 1) {
        memcpy(out->b, &a6, 16);
        return 0;
    }
    char *colon = strchr(buf, ':'); /* a.b.c.d:port */
    if (colon)
        *colon = '\0';
    struct in_addr a4;
    if (inet_pton(AF_INET, buf, &a4) != 1)
        return -1;
    map_v4(out, &a4);
    return 0;
}

int http_addr_from_sockaddr(http_addr *out, const struct sockaddr *sa)
{
    if (!sa)
        return -1;
    if (sa->sa_family == AF_INET) {
        map_v4(out, &((const struct sockaddr_in *)(const void *)sa)->sin_addr);
        return 0;
    }
    if (sa->sa_family == AF_INET6) {
        memcpy(out->b, &((const struct sockaddr_in6 *)(const void *)sa)->sin6_addr, 16);
        return 0;
    }
    return -1;
}

void http_addr_format(const http_addr *a, char *buf, size_t n)
{
    const char *ok = is_v4_mapped(a) ? inet_ntop(AF_INET, a->b + 12, buf, (socklen_t)n)
                                     : inet_ntop(AF_INET6, a->b, buf, (socklen_t)n);
    if (!ok && n)
        snprintf(buf, n, "-");
}

http_addr http_addr_limit_key(const http_addr *a)
{
    http_addr k = *a;
    if (!is_v4_mapped(a))
        memset(k.b + 8, 0, 8);
    return k;
}

int http_cidr_parse(http_cidr *out, const char *s)
{
    const char *slash = strchr(s, '/');
    size_t n = slash ? (size_t)(slash - s) : strlen(s);
    char buf[64];
    if (n == 0 || n >= sizeof buf)
        return -1;
    memcpy(buf, s, n);
    buf[n] = '\0';
    int v4;
    struct in_addr a4;
    struct in6_addr a6;
    if (inet_pton(AF_INET, buf, &a4) == 1) {
        map_v4(&out->net, &a4);
        v4 = 1;
    } else if (inet_pton(AF_INET6, buf, &a6) == 1) {
        memcpy(out->net.b, &a6, 16);
        v4 = 0;
    } else {
        return -1;
    }
    int max = v4 ? 32 : 128;
    int bits = max;
    if (slash) {
        const char *p = slash + 1;
        if (!*p)
            return -1;
        bits = 0;
        for (; *p; p++) {
            if (*p < '0' || *p > '9' || bits > 128)
                return -1;
            bits = bits * 10 + (*p - '0');
        }
        if (bits > max)
            return -1;
    }
    out->bits = v4 ? bits + 96 : bits;
    /* Clear the host bits, so "10.1.2.3/8" means 10.0.0.0/8. */
    for (int i = 0; i < 16; i++) {
        int keep = out->bits - i * 8;
        if (keep >= 8)
            continue;
        out->net.b[i] &= keep <= 0 ? 0 : (uint8_t)(0xff << (8 - keep));
    }
    return 0;
}

int http_cidr_match(const http_cidr *c, const http_addr *a)
{
    for (int i = 0; i < 16; i++) {
        int keep = c->bits - i * 8;
        if (keep <= 0)
            return 1;
        uint8_t mask = keep >= 8 ? 0xff : (uint8_t)(0xff << (8 - keep));
        if ((a->b[i] & mask) != c->net.b[i])
            return 0;
    }
    return 1;
}

int http_cidr_match_any(const http_cidr *list, size_t n, const http_addr *a)
{
    for (size_t i = 0; i < n; i++)
        if (http_cidr_match(&list[i], a))
            return 1;
    return 0;
}

int http_xff_client(http_addr *client, const char *const *values, size_t nvalues, const http_cidr *trusted,
                    size_t ntrusted)
{
    int have = 0;
    http_addr last;
    for (size_t v = nvalues; v-- > 0;) {
        const char *s = values[v];
        size_t end = strlen(s);
        while (end > 0) {
            size_t start = end;
            while (start > 0 && s[start - 1] != ',')
                start--;
            size_t len = end - start;
            const char *item = s + start;
            end = start > 0 ? start - 1 : 0;
            int blank = 1;
            for (size_t i = 0; i < len; i++)
                if (item[i] != ' ' && item[i] != '\t')
                    blank = 0;
            if (blank) {
                if (start == 0)
                    break;
                continue;
            }
            http_addr a;
            if (http_addr_parse(&a, item, len) != 0)
                return have ? (*client = last, 0) : -1; /* a hop we cannot read: stop at what we trust */
            if (!http_cidr_match_any(trusted, ntrusted, &a)) {
                *client = a;
                return 0;
            }
            last = a;
            have = 1;
            if (start == 0)
                break;
        }
    }
    if (have) { /* every hop is a trusted proxy: the first one is the client */
        *client = last;
        return 0;
    }
    return -1;
}

static int is_tchar(unsigned char c)
{
    if ((c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z'))
        return 1;
    return c && strchr("!#$%&'*+-.^_`|~", c) != NULL;
}

int http_is_token(const char *s, size_t n)
{
    if (n == 0)
        return 0;
    for (size_t i = 0; i < n; i++)
        if (!is_tchar((unsigned char)s[i]))
            return 0;
    return 1;
}

int http_value_ok(const char *s, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        if ((c < 0x20 && c != '\t') || c == 0x7f)
            return 0;
    }
    return 1;
}

void http_log_escape(vbuf *out, const char *s, size_t n, size_t max)
{
    for (size_t i = 0; i < n; i++) {
        if (i >= max) {
            vbuf_puts(out, "...");
            return;
        }
        unsigned char c = (unsigned char)s[i];
        if (c < 0x21 || c > 0x7e || c == '"' || c == '\\')
            vbuf_printf(out, "\\x%02x", c);
        else
            vbuf_putc(out, (char)c);
    }
}
