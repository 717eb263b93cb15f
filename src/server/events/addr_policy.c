/* addr_policy.c - where event callbacks may connect (events.h).
 *
 * Callback URLs are tenant input (SetMessageCallback, and each upload's UserData, which
 * clients with upload credentials write themselves), so by default only public unicast
 * addresses are reachable: nothing of the server's own host or network (loopback,
 * RFC 1918, link-local with the cloud metadata service, CGNAT, ULA), no multicast,
 * broadcast, reserved or documentation ranges, and no IPv6 spelling of such an IPv4
 * address (mapped, NAT64, 6to4; IPv4-compatible and Teredo outright). The operator widens
 * this with --callback-allow CIDR (matched before the deny list; for the IPv6 forms that
 * embed IPv4, also against that IPv4 address) or --callback-allow-private.
 *
 * The sender applies this to every address curl is about to connect to, after DNS
 * (CURLOPT_OPENSOCKETFUNCTION), so names that resolve to a refused address, and DNS
 * answers that change between a check and the connection, are covered.
 */
#include "server/events/events.h"
#include "server/http/net.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

/* Why an IPv4 address is not a public unicast destination, or NULL when it is. */
static const char *v4_special(const unsigned char a[4])
{
    if (a[0] == 0)
        return "\"this network\" (0.0.0.0/8)";
    if (a[0] == 10)
        return "private (10.0.0.0/8)";
    if (a[0] == 100 && (a[1] & 0xC0) == 64)
        return "carrier-grade NAT (100.64.0.0/10)";
    if (a[0] == 127)
        return "loopback (127.0.0.0/8)";
    if (a[0] == 169 && a[1] == 254)
        return "link-local (169.254.0.0/16)";
    if (a[0] == 172 && (a[1] & 0xF0) == 16)
        return "private (172.16.0.0/12)";
    if (a[0] == 192 && a[1] == 0 && a[2] == 0)
        return "IETF protocol assignments (192.0.0.0/24)";
    if (a[0] == 192 && a[1] == 0 && a[2] == 2)
        return "documentation (192.0.2.0/24)";
    if (a[0] == 192 && a[1] == 88 && a[2] == 99)
        return "6to4 relay anycast (192.88.99.0/24)";
    if (a[0] == 192 && a[1] == 168)
        return "private (192.168.0.0/16)";
    if (a[0] == 198 && (a[1] & 0xFE) == 18)
        return "benchmarking (198.18.0.0/15)";
    if (a[0] == 198 && a[1] == 51 && a[2] == 100)
        return "documentation (198.51.100.0/24)";
    if (a[0] == 203 && a[1] == 0 && a[2] == 113)
        return "documentation (203.0.113.0/24)";
    if (a[0] >= 224 && a[0] < 240)
        return "multicast (224.0.0.0/4)";
    if (a[0] >= 240)
        return "reserved or broadcast (240.0.0.0/4)";
    return NULL;
}

static int prefix_is(const unsigned char *a, const unsigned char *p, int bits)
{
    int bytes = bits / 8, rest = bits % 8;
    if (memcmp(a, p, (size_t)bytes) != 0)
        return 0;
    if (rest == 0)
        return 1;
    unsigned char mask = (unsigned char)(0xFF << (8 - rest));
    return (a[bytes] & mask) == (p[bytes] & mask);
}

/* Why an IPv6 address is not a public unicast destination, or NULL. Forms that carry an
 * IPv4 address inside (mapped, NAT64, 6to4) are judged by that address: *v4 gets it and
 * *has_v4 is set, so that the allow list can name the IPv4 range too. */
static const char *v6_special(const unsigned char a[16], unsigned char v4[4], int *has_v4)
{
    static const unsigned char zero[16] = {0};
    static const unsigned char mapped[16] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xFF, 0xFF};
    static const unsigned char nat64[16] = {0, 0x64, 0xFF, 0x9B, 0, 0, 0, 0, 0, 0, 0, 0};
    static const unsigned char nat64_local[16] = {0, 0x64, 0xFF, 0x9B, 0, 1};
    static const unsigned char six2four[16] = {0x20, 0x02};
    static const unsigned char teredo[16] = {0x20, 0x01, 0, 0};
    static const unsigned char doc[16] = {0x20, 0x01, 0x0D, 0xB8};
    static const unsigned char doc2[16] = {0x3F, 0xFF};
    *has_v4 = 0;
    if (!memcmp(a, zero, 16))
        return "unspecified (::)";
    if (!memcmp(a, zero, 15) && a[15] == 1)
        return "loopback (::1)";
    const char *why = NULL;
    if (!memcmp(a, mapped, 12)) {
        memcpy(v4, a + 12, 4);
        why = "IPv4-mapped (::ffff:0:0/96) of a ";
    } else if (!memcmp(a, nat64, 12)) {
        memcpy(v4, a + 12, 4);
        why = "NAT64 (64:ff9b::/96) of a ";
    } else if (prefix_is(a, six2four, 16)) {
        memcpy(v4, a + 2, 4);
        why = "6to4 (2002::/16) of a ";
    }
    if (why) {
        *has_v4 = 1;
        return v4_special(v4) ? why : NULL;   /* the caller appends the IPv4 reason */
    }
    if (!memcmp(a, zero, 12))
        return "IPv4-compatible (::/96, deprecated)";
    if (prefix_is(a, nat64_local, 48))
        return "local-use NAT64 (64:ff9b:1::/48)";
    if ((a[0] & 0xFE) == 0xFC)
        return "unique local (fc00::/7)";
    if (a[0] == 0xFE && (a[1] & 0xC0) == 0x80)
        return "link-local (fe80::/10)";
    if (a[0] == 0xFE && (a[1] & 0xC0) == 0xC0)
        return "site-local (fec0::/10)";
    if (a[0] == 0xFF)
        return "multicast (ff00::/8)";
    if (prefix_is(a, teredo, 32))
        return "Teredo (2001::/32), whose embedded IPv4 address cannot be checked";
    if (prefix_is(a, doc, 32) || prefix_is(a, doc2, 20))
        return "documentation (2001:db8::/32, 3fff::/20)";
    if ((a[0] & 0xE0) != 0x20)
        return "not global unicast (outside 2000::/3)";
    return NULL;
}

static int in_allow_list(const vodupd *s, int family, const unsigned char *a)
{
    for (int i = 0; i < s->n_callback_allow; i++)
        if (s->callback_allow[i].family == family && prefix_is(a, s->callback_allow[i].addr, s->callback_allow[i].bits))
            return 1;
    return 0;
}

int events_address_refused(const vodupd *s, const struct sockaddr *sa, char *why, size_t n)
{
    char text[INET6_ADDRSTRLEN] = "?";
    const char *reason = NULL, *v4reason = NULL;
    if (sa->sa_family == AF_INET) {
        const struct sockaddr_in *in = (const struct sockaddr_in *)(const void *)sa;
        const unsigned char *a = (const unsigned char *)&in->sin_addr;
        if (s->callback_allow_private || in_allow_list(s, AF_INET, a))
            return 0;
        reason = v4_special(a);
        inet_ntop(AF_INET, &in->sin_addr, text, sizeof text);
    } else if (sa->sa_family == AF_INET6) {
        const struct sockaddr_in6 *in6 = (const struct sockaddr_in6 *)(const void *)sa;
        const unsigned char *a = in6->sin6_addr.s6_addr;
        unsigned char v4[4];
        int has_v4;
        if (s->callback_allow_private || in_allow_list(s, AF_INET6, a))
            return 0;
        reason = v6_special(a, v4, &has_v4);
        if (reason && has_v4) {
            if (in_allow_list(s, AF_INET, v4))
                return 0;
            v4reason = v4_special(v4);
        }
        inet_ntop(AF_INET6, &in6->sin6_addr, text, sizeof text);
    } else {
        reason = "not an IP address";
    }
    if (!reason)
        return 0;
    snprintf(why, n, "callback address %s refused: %s%s; vodupd serve --callback-allow CIDR permits it", text,
             reason, v4reason ? v4reason : "");
    return 1;
}

int events_parse_cidr(const char *text, vodupd_cidr *out)
{
    /* One parser of address ranges in vodupd (the front's, for --trusted-proxy); it keeps
     * IPv4 as IPv4-mapped IPv6, which the policy's own form splits back out. */
    http_cidr c;
    memset(out, 0, sizeof *out);
    if (http_cidr_parse(&c, text) != 0)
        return -1;
    static const unsigned char mapped[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};
    if (c.bits >= 96 && memcmp(c.net.b, mapped, sizeof mapped) == 0 && !strchr(text, ':')) {
        out->family = AF_INET;
        memcpy(out->addr, c.net.b + 12, 4);
        out->bits = c.bits - 96;
    } else {
        out->family = AF_INET6;
        memcpy(out->addr, c.net.b, 16);
        out->bits = c.bits;
    }
    return 0;
}

