/* v4sign.h - the canonicalisation and key chain that AWS SigV4 (AWS4-HMAC-SHA256) and
 * OSS V4 (OSS4-HMAC-SHA256) have in common, written once for both.
 *
 * The two schemes differ only in names and in a few choices, which are parameters here:
 *   - the algorithm name, the secret's prefix in the key chain ("AWS4" / "aliyun_v4") and
 *     the scope terminator ("aws4_request" / "aliyun_v4_request"): vodup_v4_algo;
 *   - an empty query value: AWS writes "k=", OSS the bare "k" (VODUP_V4_EMPTY_BARE);
 *   - header values: both trim, AWS also collapses runs of spaces (VODUP_V4_COLLAPSE);
 *   - which headers are signed: a predicate given by each scheme.
 * Everything else (RFC 3986 encoding of query names and values, byte-order sort, repeated
 * headers joined with ',', the string to sign, the HMAC chain, lower hex) is shared.
 */
#ifndef VODUP_COMMON_V4SIGN_H
#define VODUP_COMMON_V4SIGN_H

#include <stddef.h>
#include "common/buf.h"
#include "common/target.h"

typedef struct vodup_header {
    const char *name;   /* any case */
    const char *value;
} vodup_header;

typedef struct vodup_v4_algo {
    const char *name;        /* "AWS4-HMAC-SHA256" */
    const char *key_prefix;  /* "AWS4": prepended to the secret for the first HMAC */
    const char *terminator;  /* "aws4_request": last element of the scope */
} vodup_v4_algo;

extern const vodup_v4_algo vodup_v4_aws;
extern const vodup_v4_algo vodup_v4_oss;

enum {
    VODUP_V4_EMPTY_BARE = 1, /* query: an empty value is written "k", not "k=" */
    VODUP_V4_COLLAPSE = 2    /* headers: runs of spaces inside a value become one */
};

#define VODUP_V4_ENOMEM (-3)

/* A name/value pair; vodup_v4_put_pairs sorts them by bytes of name, then of value, and
 * appends `k=v` joined with '&' (with VODUP_V4_EMPTY_BARE an empty v gives "k"). */
typedef struct vodup_v4_pair {
    const char *k;
    size_t klen;
    const char *v;
    size_t vlen;
} vodup_v4_pair;
void vodup_v4_put_pairs(vbuf *out, vodup_v4_pair *pairs, size_t n, int flags);

/* Appends the canonical query string of q[0..n): names and values RFC 3986-encoded
 * from their decoded form, sorted by name then value, joined with '&'. The parameter
 * named skip (may be NULL) is left out (the signature of a presigned URL). */
int vodup_v4_canonical_query(vbuf *out, const vodup_param *q, size_t n, const char *skip,
                             int flags);

/* Appends `name:value\n` for every header h[i] with is_signed(lower-case name, ctx) true,
 * sorted by name; repeated names are joined with ',' in wire order; values trimmed. */
int vodup_v4_canonical_headers(vbuf *out, const vodup_header *h, size_t n,
                               int (*is_signed)(const char *lname, void *ctx), void *ctx,
                               int flags);

/* algo\ndate\nscope_date/region/service/terminator\nhex(sha256(creq)) */
int vodup_v4_string_to_sign(vbuf *out, const vodup_v4_algo *alg, const char *date,
                            size_t date_len, const char *scope_date, const char *region,
                            const char *service, const char *creq, size_t creq_len);

/* The derived signing key HMAC(HMAC(HMAC(HMAC(prefix+secret, date), region), service),
 * terminator). 0, or VODUP_V4_ENOMEM. The caller wipes it (OPENSSL_cleanse) when done. */
int vodup_v4_signing_key(unsigned char key[32], const vodup_v4_algo *alg, const char *secret,
                         const char *scope_date, const char *region, const char *service);
/* Lower hex of HMAC-SHA256(key, msg): a signature. */
void vodup_v4_signature(char out[65], const unsigned char key[32], const void *msg, size_t n);

/* Parses "AK/yyyymmdd/region/service/<terminator>" into the given fields (each NUL-
 * terminated; the sizes are those of the arrays). 0, or -1 when a part is missing, empty,
 * too long, the date not 8 digits or the terminator another. */
int vodup_v4_parse_credential(const char *s, size_t n, const char *terminator, char *ak,
                              size_t ak_size, char scope_date[9], char *region,
                              size_t region_size, char *service, size_t service_size);

/* 1 when name (any case) is an element of the ';'-separated list, else 0. */
int vodup_v4_in_list(const char *list, const char *name);

/* Request lookups both V4 dialects (and V1) share. */
typedef struct vodup_span {
    const char *p;
    size_t n;
} vodup_span;
/* s (NULL: "") without leading and trailing spaces and tabs; borrowed. */
vodup_span vodup_trim_ows(const char *s);
/* The value of the first header named name (any case; "" for a NULL value), or NULL. */
const char *vodup_header_find(const vodup_header *h, size_t n, const char *name);
/* The value of the first query parameter named exactly name, or NULL. */
const char *vodup_param_find(const vodup_param *q, size_t n, const char *name);

/* 1 when s[0..n) is exactly 64 lower-case hex digits. */
int vodup_v4_is_hex64(const char *s, size_t n);

#endif
