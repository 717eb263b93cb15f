/* oss_sign.h - OSS request signatures: V1 (HMAC-SHA1) and V4 (OSS4-HMAC-SHA256), in the
 * Authorization header and in presigned query strings. Compute and verify.
 *
 * The same code signs (libvodup, tests) and verifies (vodupd), so the two can never
 * disagree about a canonical form. It never looks at the clock: the caller checks
 * a->date and a->expires against its own time.
 */
#ifndef VODUP_COMMON_OSS_SIGN_H
#define VODUP_COMMON_OSS_SIGN_H

#include <stddef.h>
#include <time.h>
#include "common/buf.h"
#include "common/target.h"
#include "common/v4sign.h"   /* vodup_header, and the V4 machinery shared with S3 */

typedef struct vodup_oss_request {
    const char *method;                 /* "PUT", ... */
    const char *bucket;                 /* "" when none */
    const char *key;                    /* decoded; "" when none */
    size_t key_len;
    const vodup_param *query;           /* decoded query, wire order */
    size_t nquery;
    const vodup_header *headers;        /* all request headers */
    size_t nheaders;
} vodup_oss_request;

enum vodup_oss_auth_kind {
    VODUP_OSS_AUTH_NONE = 0,    /* anonymous */
    VODUP_OSS_AUTH_V1,          /* Authorization: OSS ak:sig */
    VODUP_OSS_AUTH_V4,          /* Authorization: OSS4-HMAC-SHA256 Credential=... */
    VODUP_OSS_AUTH_V1_QUERY,    /* ?OSSAccessKeyId=&Expires=&Signature= */
    VODUP_OSS_AUTH_V4_QUERY     /* ?x-oss-signature-version=OSS4-HMAC-SHA256&... */
};

typedef struct vodup_oss_auth {
    int kind;
    char access_key_id[129];
    char signature[129];           /* as sent (decoded from the query for presigned forms) */
    const char *security_token;    /* borrowed from the request: x-oss-security-token header,
                                      or security-token / x-oss-security-token query; NULL if none */
    time_t date;                   /* signed request time; 0 for V1 presigned (it has none) */
    time_t expires;                /* presigned: instant after which it is void; else 0 */
    char scope_date[9];            /* V4: yyyymmdd */
    char region[64];               /* V4 */
    char product[32];              /* V4: "oss" */
    char additional_headers[512];  /* V4: as sent, ';'-joined lower-case names; "" if none */
} vodup_oss_auth;

enum {
    VODUP_OSS_SIGN_OK = 0,
    VODUP_OSS_EAUTH_FORMAT = -1,   /* Authorization / presign parameters malformed: 400 InvalidArgument */
    VODUP_OSS_EAUTH_DATE = -2,     /* date missing or malformed: 403 AccessDenied */
    VODUP_OSS_EAUTH_NOMEM = -3
};

/* Finds and parses the credentials of a request (header forms first, then query).
 * kind NONE with return 0 when the request carries none. V4: checks that the scope's
 * date equals x-oss-date's day and that x-oss-content-sha256 is UNSIGNED-PAYLOAD
 * when present (else FORMAT). */
int vodup_oss_auth_parse(vodup_oss_auth *a, const vodup_oss_request *r);

/* The string to sign of r under a (V1: VERB\nMD5\nType\nDate\nheaders+resource;
 * V4: OSS4-HMAC-SHA256\ndate\nscope\nhex(sha256(canonical request))). */
int vodup_oss_string_to_sign(vbuf *out, const vodup_oss_request *r, const vodup_oss_auth *a);
/* V4 only: the canonical request (for error messages and tests). */
int vodup_oss_canonical_request(vbuf *out, const vodup_oss_request *r, const vodup_oss_auth *a);

/* Signatures over a string to sign. v1: base64 HMAC-SHA1 with the secret (29 chars incl.
 * NUL). v4: lower hex of HMAC-SHA256 under the derived key (65 incl. NUL). */
void vodup_oss_sign_v1(char out[29], const char *secret, const char *sts, size_t n);
void vodup_oss_sign_v4(char out[65], const char *secret, const char *scope_date,
                       const char *region, const char *product, const char *sts, size_t n);

/* Verifies a against r with secret: recomputes and compares in constant time.
 * 1 match, 0 mismatch, negative error. sts (may be NULL) receives the string to sign. */
int vodup_oss_verify(const vodup_oss_request *r, const vodup_oss_auth *a,
                     const char *secret, vbuf *sts);

/* 1 when name is a V1 sub-resource (signed in the canonical resource), else 0. */
int vodup_oss_is_subresource(const char *name);

#endif
