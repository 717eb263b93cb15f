/* status.h - the one status vocabulary of the server's core.
 *
 * Every core call (core.h) answers with a vodupd_status and, for the statuses that need
 * it, fills a vodupd_detail: which part was at fault, which limit was hit, which digest
 * differed. Statuses say what happened in the store's terms, never on the wire: each
 * dialect maps them to its own HTTP status, code and message in exactly one function
 * (oss/status.c for OSS). Append only; never renumber (logs and tests name them).
 *
 * Not the client library's vodup_status (include/vodup/vodup.h): that one is a file's
 * progress in libvodup; this one is the server's answer vocabulary.
 */
#ifndef VODUPD_CORE_STATUS_H
#define VODUPD_CORE_STATUS_H

#include <stddef.h>
#include <stdint.h>

typedef enum vodupd_status {
    VODUPD_OK = 0,
    VODUPD_ENOBUCKET,       /* the bucket does not exist */
    VODUPD_ENOKEY,          /* the object does not exist */
    VODUPD_ENOUPLOAD,       /* the multipart upload does not exist (here) */
    VODUPD_EEXISTS,         /* the name belongs to someone else already (bucket) */
    VODUPD_ENOTEMPTY,       /* the bucket still holds objects or uploads */
    VODUPD_EINVALIDPART,    /* Complete: a part is missing or its ETag differs; detail.part */
    VODUPD_EPARTORDER,      /* Complete: part numbers do not ascend; detail.part */
    VODUPD_ETOOSMALL,       /* Complete: a part but the last is below the minimum; detail.part, .limit */
    VODUPD_ETOOLARGE,       /* a body passed its maximum size; detail.limit */
    VODUPD_EBADDIGEST,      /* a body's digest differs from the one the client declared; detail.digest */
    VODUPD_EDENIED,         /* refused for the caller; detail.deny says why */
    VODUPD_EREVOKED,        /* upload credentials whose media has been deleted */
    VODUPD_ELIMIT,          /* a quota was reached; detail.limit */
    VODUPD_ENOSPC,          /* the byte store is full (below its reserve): nothing was stored */
    VODUPD_EIO,             /* a store failed (logged where it failed); detail.what */
    VODUPD_ENOMEM,
    VODUPD_EINCOMPLETE,     /* a body ended before it was whole, or its writer failed earlier */
    /* What the HTTP front refuses itself, before or around any operation (http/front.c);
     * detail.what is the whole message. */
    VODUPD_EBADREQUEST,     /* the message cannot be trusted or parsed: framing, header syntax, target */
    VODUPD_ENOTIMPL,        /* the request asks for something the server does not do */
    VODUPD_EBUSY,           /* over a server limit (connections from one address) */
    VODUPD_EINTERNAL,       /* the server cannot answer it (shutting down, no answer made) */
    VODUPD_EQUOTA,          /* the account's storage quota would be passed; detail.limit, .used */
    VODUPD_STATUS__COUNT
} vodupd_status;

/* Why VODUPD_EDENIED. */
typedef enum vodupd_deny {
    VODUPD_DENY_NONE = 0,
    VODUPD_DENY_OWNER,      /* the bucket is another account's */
    VODUPD_DENY_SCOPE,      /* upload credentials used outside their one object or operations */
    VODUPD_DENY_COMPLETE,   /* upload credentials of a media whose upload is complete */
    VODUPD_DENY_POLICY      /* the caller's RAM policies do not allow it; detail.what: the action */
} vodupd_deny;

/* The digests a body can be checked against (core_ingest). */
typedef enum vodupd_digest {
    VODUPD_DIGEST_MD5 = 1u << 0,
    VODUPD_DIGEST_CRC64 = 1u << 1     /* CRC-64/XZ (OSS's crc64ecma) */
    /* CRC-32C and SHA-256 come with the S3 dialect (common/crc.h, common/digest.h). */
} vodupd_digest;

#define VODUPD_DIGEST_MAX_LEN 32

/* What a status is about. Only the fields its status names are set; the rest stay 0. */
typedef struct vodupd_detail {
    int part;               /* EINVALIDPART, EPARTORDER, ETOOSMALL: the part number at fault */
    uint64_t limit;         /* ETOOSMALL, ETOOLARGE, ELIMIT, EQUOTA: the limit that applied */
    uint64_t used;          /* EQUOTA: the bytes the account holds already */
    vodupd_deny deny;       /* EDENIED */
    vodupd_digest digest;   /* EBADDIGEST: which one */
    unsigned char expected[VODUPD_DIGEST_MAX_LEN];  /* EBADDIGEST: as declared */
    unsigned char actual[VODUPD_DIGEST_MAX_LEN];    /* EBADDIGEST: as received */
    size_t digest_len;
    const char *what;       /* EIO, ENOMEM: static text naming what failed ("Recording the part");
                               EBADREQUEST, ENOTIMPL, EBUSY, EINTERNAL: the message */
} vodupd_detail;

/* "OK", "ENOBUCKET", ... for logs and tests; "?" for a value out of range. */
const char *vodupd_status_name(vodupd_status s);

/* ---- a dialect's answers, as data ------------------------------------------------------
 * Each dialect keeps one vodupd_answers table: for every status its error (an index into
 * the dialect's own error table, which gives the code and the HTTP status) and its message.
 * A message is a template whose fields come from the detail:
 *   {part} {limit} {used}   the numbers
 *   {what|default}          detail.what, or the default text after '|' when it is NULL
 *   {deny}                  the table's deny[] template for detail.deny (EDENIED)
 *   {digest}                the table's name of detail.digest (EBADDIGEST)
 * so that which words a dialect says is data, and how they are put together is this one
 * function's. */
typedef struct vodupd_answer {
    int err;                /* the dialect's error enum value */
    const char *msg;        /* template */
} vodupd_answer;

typedef struct vodupd_answers {
    /* by status; [VODUPD_OK] answers an OK passed by mistake and any value out of range */
    vodupd_answer status[VODUPD_STATUS__COUNT];
    const char *deny[VODUPD_DENY_POLICY + 1];       /* templates too; [VODUPD_DENY_NONE] for any other value */
    const char *digest_md5, *digest_crc64;
} vodupd_answers;

/* Looks st up in t, writes the message for detail d (may be NULL) into msg (always
 * NUL-terminated, cut at msg_len) and returns the dialect's error. */
int vodupd_answer_format(const vodupd_answers *t, vodupd_status st, const vodupd_detail *d, char *msg,
                         size_t msg_len);

#endif
