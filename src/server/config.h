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
#define VODUPD_CONN_MEMORY       (256 * 1024)       /* per-connection buffer: request head + read chunk */

/* Connection guards (src/server/http; each one also a `vodupd serve` option). */
#define VODUPD_CONN_TIMEOUT      120                /* idle seconds (no byte either way) before a close */
#define VODUPD_HEAD_TIMEOUT      30                 /* seconds from accept (or the previous answer) to the
                                                       end of the request headers: slowloris */
#define VODUPD_MIN_BODY_RATE     500                /* bytes/s a body must average over each window ... */
#define VODUPD_BODY_RATE_WINDOW  30                 /* ... of this many seconds: slow bodies */
#define VODUPD_MAX_CONNECTIONS   65536              /* default ceiling of connections in all; the default
                                                       itself follows RLIMIT_NOFILE (raised to its hard limit) */
#define VODUPD_MIN_CONNECTIONS   64
#define VODUPD_FD_RESERVE        256                /* descriptors kept for the server's own files */
#define VODUPD_FDS_PER_CONN      2                  /* a socket, and an upload or download file */
#define VODUPD_MAX_PER_IP        256                /* connections per client address (IPv6: per /64) */
#define VODUPD_LISTEN_BACKLOG    4096               /* the kernel caps it at net.core.somaxconn */
#define VODUPD_MAX_TRUSTED_PROXIES 32               /* --trusted-proxy ranges */
#define VODUPD_DEFAULT_MAX_UPLOADS 10000            /* open multipart uploads per account */
/* Open multipart uploads that upload credentials (UploadAuth) may have on their one
 * object: a resumable client needs one, a few leave room for restarts; initiating one
 * more aborts the least recently written, so one credential cannot fill the account's
 * --max-uploads (nor keep their parts). */
#define VODUPD_MAX_UPLOADS_PER_CREDENTIAL_KEY 4
/* Free space that uploads must leave on the data directory's file system (--disk-reserve),
 * so that deletes, aborts and metadata can always be recorded (see store/blob.h). */
#define VODUPD_DEFAULT_DISK_RESERVE (64ULL * 1024 * 1024)

/* Signed requests per second one AccessKeyId may make (--rate-per-key), with bursts of twice
 * that: far above what an uploading client needs, low enough that one leaked or looping
 * credential cannot keep every worker busy. */
#define VODUPD_DEFAULT_RATE_PER_KEY 1000

/* HTTPS (--tls-listen). TLS 1.3 and 1.2 only (1.0/1.1 are deprecated by RFC 8996), and in
 * 1.2 only forward-secret ECDHE key exchange with AEAD ciphers (AES-GCM, ChaCha20-Poly1305):
 * roughly Mozilla's "intermediate" profile, which every browser and SDK of the last decade
 * speaks; the server's order wins so clients cannot steer it to the weakest. */
#define VODUPD_TLS_PRIORITIES \
    "SECURE128:-VERS-ALL:+VERS-TLS1.3:+VERS-TLS1.2:-CIPHER-ALL:+AES-256-GCM:+CHACHA20-POLY1305:" \
    "+AES-128-GCM:-MAC-ALL:+AEAD:-KX-ALL:+ECDHE-ECDSA:+ECDHE-RSA:%SERVER_PRECEDENCE"
#define VODUPD_TLS_MAX_CHAIN 16 /* certificates in --tls-cert: leaf and intermediates */

/* How long a multipart upload opened by upload credentials outlives the newest credential
 * that wrote to it (--upload-cred-grace): time for a client that paused or queued the file
 * to fetch fresh credentials (RefreshUploadVideo) and go on. At least this, and at least
 * one --upload-auth-ttl. */
#define VODUPD_DEFAULT_UPLOAD_CRED_GRACE 3600

/* AccessKeys one principal (the root account, a RAM user) may hold: two, as in RAM, so a
 * key can be replaced without downtime (create the new one, move clients, delete the old). */
#define VODUPD_MAX_KEYS_PER_PRINCIPAL 2

/* How often a serving vodupd looks for token keys added by `vodupd keys rotate` (seconds;
 * SIGHUP looks at once). */
#define VODUPD_TOKEN_KEYS_REFRESH 5

#endif
