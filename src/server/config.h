/* config.h - every limit a client can push against, named in one place.
 *
 * The OSS limits are the real service's (see docs/limits in the README); the rest are
 * vodupd's own guards against memory and disk exhaustion by a single client.
 */
#ifndef VODUPD_CONFIG_H
#define VODUPD_CONFIG_H

#include <stdint.h>

#define VODUPD_VERSION "0.1.0"

/* OSS object and multipart limits. */
#define OSS_MAX_KEY_LEN          1023
#define OSS_MAX_PUT_SIZE         (5ULL * 1024 * 1024 * 1024)   /* PutObject body */
#define OSS_MAX_PART_SIZE        (5ULL * 1024 * 1024 * 1024)   /* one UploadPart body */
#define OSS_MIN_PART_SIZE        (100ULL * 1024)               /* all parts but the last, checked at Complete */
#define OSS_MAX_PART_NUMBER      10000
#define OSS_MAX_USER_META        8192                          /* x-oss-meta-* names + values */
#define OSS_MAX_LIST_KEYS        1000                          /* max-keys / max-parts / max-uploads cap */
#define OSS_DEFAULT_LIST_KEYS    100
#define OSS_MAX_TIME_SKEW        (15 * 60)                     /* seconds, signed request time vs clock */

/* Request-shape guards. */
#define VODUPD_MAX_XML_BODY      (2 * 1024 * 1024)  /* Complete with 10000 parts is ~1 MiB */
#define VODUPD_MAX_SMALL_BODY    (64 * 1024)        /* bodies we read and ignore (PutBucket config) */
#define VODUPD_MAX_DRAIN         (1024 * 1024)      /* a refused body up to this is read before answering */
#define VODUPD_MAX_HEADERS       200
#define VODUPD_CONN_MEMORY       (256 * 1024)       /* per-connection buffer: headers + read chunk */
#define VODUPD_CONN_TIMEOUT      120                /* idle seconds before a connection is dropped */
#define VODUPD_MAX_CONNECTIONS   1024
#define VODUPD_MAX_PER_IP        256
#define VODUPD_DEFAULT_MAX_UPLOADS 10000            /* open multipart uploads per account */
/* Open multipart uploads that upload credentials (UploadAuth) may have on their one
 * object: a resumable client needs one, a few leave room for restarts; initiating one
 * more aborts the least recently written, so one credential cannot fill the account's
 * --max-uploads (nor keep their parts). */
#define VODUPD_MAX_UPLOADS_PER_CREDENTIAL_KEY 4

#endif
