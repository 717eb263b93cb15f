/* sigv4.h - AWS Signature Version 4 (AWS4-HMAC-SHA256) for the S3 dialect: the
 * Authorization header form and the presigned query form (X-Amz-*), parse, compute,
 * verify and sign. The canonicalisation is v4sign.c, shared with OSS V4.
 *
 * The same code signs (libvodup) and verifies (vodupd). Parsing never reads the clock:
 * vodup_s3_auth_check_time takes "now" from the caller.
 */
#ifndef VODUP_COMMON_SIGV4_H
#define VODUP_COMMON_SIGV4_H

#include <stddef.h>
#include <time.h>
#include "common/buf.h"
#include "common/target.h"
#include "common/v4sign.h"

/* Limits and constants of the protocol. */
#define VODUP_S3_MAX_EXPIRES 604800          /* X-Amz-Expires: one week at most */
#define VODUP_S3_MAX_SKEW 900                /* 15 minutes between client and server clocks */
#define VODUP_S3_EMPTY_SHA256 "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"

typedef struct vodup_s3_request {
    const char *method;                 /* "PUT", ... */
    const char *path;                   /* decoded path as sent, starts with '/' (the bucket
                                           is in it for path style, not for virtual host) */
    size_t path_len;
    const vodup_param *query;           /* decoded query, wire order */
    size_t nquery;
    const vodup_header *headers;        /* all request headers */
    size_t nheaders;
} vodup_s3_request;

enum vodup_s3_auth_kind {
    VODUP_S3_AUTH_NONE = 0,   /* anonymous */
    VODUP_S3_AUTH_HEADER,     /* Authorization: AWS4-HMAC-SHA256 Credential=... */
    VODUP_S3_AUTH_QUERY       /* ?X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Credential=... */
};

/* What x-amz-content-sha256 says about the body. */
enum vodup_s3_payload {
    VODUP_S3_PAYLOAD_SHA256 = 0,        /* hex digest of the body in payload_hash: check it */
    VODUP_S3_PAYLOAD_UNSIGNED,          /* UNSIGNED-PAYLOAD (always so for presigned URLs) */
    VODUP_S3_PAYLOAD_STREAMING,         /* STREAMING-AWS4-HMAC-SHA256-PAYLOAD */
    VODUP_S3_PAYLOAD_STREAMING_TRAILER, /* STREAMING-AWS4-HMAC-SHA256-PAYLOAD-TRAILER */
    VODUP_S3_PAYLOAD_UNSIGNED_TRAILER   /* STREAMING-UNSIGNED-PAYLOAD-TRAILER */
};

typedef struct vodup_s3_auth {
    int kind;
    char access_key_id[129];
    char signature[65];              /* as sent: 64 lower-case hex digits */
    const char *security_token;      /* borrowed: X-Amz-Security-Token header or query; or NULL */
    time_t date;                     /* the signed request time (X-Amz-Date) */
    char amz_date[17];               /* the same as sent: yyyymmddThhmmssZ */
    time_t expires;                  /* presigned: date + X-Amz-Expires; else 0 */
    char scope_date[9];              /* yyyymmdd */
    char region[64];
    char service[32];                /* "s3" for S3; the dialect checks it */
    char signed_headers[1024];       /* as sent, ';'-joined lower-case names, sorted */
    int payload;                     /* enum vodup_s3_payload */
    char payload_hash[65];           /* the x-amz-content-sha256 value as sent (or
                                        UNSIGNED-PAYLOAD): the canonical request's last line */
} vodup_s3_auth;

/* Errors, each with its S3 error code (vodup_s3_auth_error). */
enum {
    VODUP_S3_SIGN_OK = 0,
    VODUP_S3_EAUTH_MALFORMED = -1,  /* Authorization / X-Amz-* malformed (400) */
    VODUP_S3_EAUTH_ALGORITHM = -2,  /* not AWS4-HMAC-SHA256 (400) */
    VODUP_S3_EAUTH_SCOPE = -3,      /* credential scope malformed or its date not the request's (400) */
    VODUP_S3_EAUTH_DATE = -4,       /* X-Amz-Date (or Date) missing or malformed (403) */
    VODUP_S3_EAUTH_EXPIRED = -5,    /* presigned URL past its expiry (403) */
    VODUP_S3_EAUTH_SKEW = -6,       /* request time too far from now (403) */
    VODUP_S3_EAUTH_PAYLOAD = -7,    /* x-amz-content-sha256 missing or not a valid value (400) */
    VODUP_S3_EAUTH_EXPIRES = -8,    /* X-Amz-Expires not in 1..604800 (400) */
    VODUP_S3_EAUTH_NOMEM = -9
};

/* The S3 error of rc: code ("AuthorizationHeaderMalformed"...), HTTP status, and an
 * English message for the Message element. */
void vodup_s3_auth_error(int rc, int kind, const char **code, int *status, const char **message);

/* Finds and parses the credentials of a request: the Authorization header first, then
 * the X-Amz-* query. kind NONE with return 0 when there are none. Checks the scope's date
 * against X-Amz-Date, the signed-headers list (sorted, lower case, includes host) and
 * x-amz-content-sha256 (required in the header form). */
int vodup_s3_auth_parse(vodup_s3_auth *a, const vodup_s3_request *r);

/* Time checks against the caller's clock: header form: |now - date| <= 15 min (else SKEW);
 * presigned: date <= now + 15 min (else SKEW) and now <= expires (else EXPIRED). */
int vodup_s3_auth_check_time(const vodup_s3_auth *a, time_t now);

/* The name of the first x-amz-* header present but not among a's signed headers, or NULL.
 * S3 wants every x-amz-* header signed (else 403 AccessDenied "There were headers present
 * in the request which were not signed"): an unsigned one could be added by anyone who
 * holds a presigned URL or sits on the path. The dialect refuses such requests. */
const char *vodup_s3_unsigned_amz_header(const vodup_s3_request *r, const vodup_s3_auth *a);

int vodup_s3_canonical_request(vbuf *out, const vodup_s3_request *r, const vodup_s3_auth *a);
int vodup_s3_string_to_sign(vbuf *out, const vodup_s3_request *r, const vodup_s3_auth *a);

/* "yyyymmdd/region/service/aws4_request" */
void vodup_s3_scope(char *out, size_t size, const vodup_s3_auth *a);

/* Verifies a against r with secret (constant-time comparison). 1 match, 0 mismatch,
 * negative error. sts (may be NULL) receives the string to sign. When key is not NULL it
 * receives the derived signing key, which the aws-chunked decoder needs (wipe it after). */
int vodup_s3_verify(const vodup_s3_request *r, const vodup_s3_auth *a, const char *secret,
                    vbuf *sts, unsigned char key[32]);

/* Signing (the client side). r carries Host, X-Amz-Date, X-Amz-Content-SHA256 and the
 * rest of the headers to sign; signed_headers names them (sorted, ';'-joined, lower case).
 * Appends the Authorization header value to out. */
int vodup_s3_sign_header(vbuf *out, const vodup_s3_request *r, const char *access_key_id,
                         const char *secret, const char *region, const char *service,
                         const char *signed_headers);

/* Appends the presign parameters (encoded, '&'-joined, no leading '&', no signature):
 * X-Amz-Algorithm, -Credential, -Date, -Expires, -SignedHeaders, and -Security-Token when
 * token is not NULL. The caller puts them on the target, parses it into r and calls
 * vodup_s3_presign_signature for the X-Amz-Signature value. */
int vodup_s3_presign_params(vbuf *out, const char *access_key_id, time_t date,
                            const char *region, const char *service, long expires,
                            const char *signed_headers, const char *token);
int vodup_s3_presign_signature(char sig[65], const vodup_s3_request *r, const char *secret);

#endif
