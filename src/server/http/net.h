/* net.h - small pure helpers of the HTTP front: addresses, CIDR ranges, the client
 * address behind a trusted proxy, what a well-formed header looks like, and the one
 * escaper every logged field goes through. No state, no I/O: unit-tested alone
 * (tests/unit/test_http_net.c).
 */
#ifndef VODUPD_HTTP_NET_H
#define VODUPD_HTTP_NET_H

#include <stddef.h>
#include <stdint.h>

#include "common/buf.h"

struct sockaddr;

/* An IP address, IPv4 kept as IPv4-mapped IPv6 (::ffff:a.b.c.d) so one compare serves both. */
typedef struct http_addr {
    uint8_t b[16];
} http_addr;

/* A range: the first `bits` bits of net (bits counted on the 128-bit form). */
typedef struct http_cidr {
    http_addr net;
    int bits;
} http_cidr;

/* Text ("1.2.3.4", "::1", "[::1]", "1.2.3.4:5678", "[::1]:80") to an address; 0 ok, -1 not an address. */
int http_addr_parse(http_addr *out, const char *s, size_t n);
/* From a socket address (AF_INET/AF_INET6); 0 ok, -1 other families. */
int http_addr_from_sockaddr(http_addr *out, const struct sockaddr *sa);
/* "1.2.3.4" or "2001:db8::1" into buf (at least 46 bytes). */
void http_addr_format(const http_addr *a, char *buf, size_t n);
/* The key a per-address limit counts under: the address itself for IPv4, its /64 for
 * IPv6 (one subscriber usually holds a whole /64, so counting single IPv6 addresses
 * would let one host multiply its share). */
http_addr http_addr_limit_key(const http_addr *a);

/* "10.0.0.0/8", "192.168.1.7" (a /32), "2001:db8::/32", "::1"; 0 ok, -1 malformed. */
int http_cidr_parse(http_cidr *out, const char *s);
int http_cidr_match(const http_cidr *c, const http_addr *a);
int http_cidr_match_any(const http_cidr *list, size_t n, const http_addr *a);

/* The client behind trusted proxies: X-Forwarded-For values (in header order, each a
 * comma-separated list, the nearest hop last) are walked from the right, skipping the
 * trusted proxies; the first address that is not a trusted proxy is the client (so a
 * client cannot name itself by sending its own X-Forwarded-For: the proxy appends the
 * real peer). Returns 0 with *client set, or -1 when the header holds no usable address
 * (absent, malformed at the hop that matters) - the caller then keeps the peer. */
int http_xff_client(http_addr *client, const char *const *values, size_t nvalues, const http_cidr *trusted,
                    size_t ntrusted);

/* RFC 9110 token (method, header name): 1 when s[0..n) is one, n > 0. */
int http_is_token(const char *s, size_t n);
/* 1 when a header value has no control byte (anything below 0x20 but HTAB, and DEL).
 * Bytes from 0x80 on (obs-text: UTF-8 metadata) are allowed. */
int http_value_ok(const char *s, size_t n);

/* Appends s (at most max bytes of it) for a log line: printable ASCII but space,
 * '"' and '\\' as is, every other byte (controls, space, quote, backslash, anything
 * from 0x7f, so any non-ASCII and non-UTF-8) as \xNN; a cut field ends in "...".
 * A logged field can thus never hold a line break or end its quotes early. */
void http_log_escape(vbuf *out, const char *s, size_t n, size_t max);

#endif
