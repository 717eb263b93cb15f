/* blob_s3.h - the byte store on an S3-compatible cluster (Ceph's radosgw, AWS S3, MinIO...),
 * behind the same ops as the file store (blob.h). docs/scale-out.md says how to run it.
 *
 * Every node of a scaled-out vodupd opens its own store on the same bucket, each with its
 * own node name: blob ids begin with the node's tag (VODUP_BLOB_S3_TAG_LEN hex digits of
 * SHA-256(node)), so that a node's crash recovery finds, and only removes, what that node
 * wrote (its unfinished multipart uploads, its blobs the database does not know), never
 * another node's writes in flight. Any node reads and removes any blob.
 */
#ifndef VODUP_STORE_BLOB_S3_H
#define VODUP_STORE_BLOB_S3_H

#include <stddef.h>
#include "server/store/blob.h"

#define VODUP_BLOB_S3_TAG_LEN 8                 /* hex digits of an id that name its node */
#define VODUP_BLOB_S3_MIN_PART (5u * 1024 * 1024) /* S3's smallest part but the last */
#define VODUP_BLOB_S3_DEFAULT_PART (8u * 1024 * 1024)

typedef struct vodup_blobstore_s3_config {
    const char *endpoint;       /* "http://host:port" or "https://host", no path: path-style
                                   requests (/bucket/key) go there */
    const char *bucket;         /* [a-z0-9.-], 3..63 chars */
    const char *region;         /* signing region, e.g. "us-east-1" (radosgw accepts any) */
    const char *access_key_id;
    const char *secret;         /* never logged */
    const char *prefix;         /* key prefix ("" or e.g. "vodup/"): [A-Za-z0-9/_.-] only */
    const char *node;           /* this node's id, unique among the nodes sharing the bucket
                                   (vodup_blob_node_valid: the file store's rule) */
    size_t part_size;           /* a writer buffers this much, then sends it as one part of a
                                   multipart upload; smaller blobs go in one PutObject.
                                   0: VODUP_BLOB_S3_DEFAULT_PART; at least VODUP_BLOB_S3_MIN_PART */
    long timeout_s;             /* per request; 0: 60 */
    int vhost;                  /* 1: virtual-hosted style (Host: bucket.host, path /key),
                                   as AWS S3 prefers; 0: path style, as radosgw and MinIO
                                   take by default */
    const char *session_token;  /* temporary credentials' token (x-amz-security-token), or
                                   NULL; never logged */
    int part_threads;           /* 1: a full part leaves on a thread of its own while the
                                   next one fills (vodupd: request bodies are written on
                                   its event-loop threads, which must not wait on the
                                   cluster); a writer then holds up to two part buffers and
                                   a part's failure shows at the next write or at commit.
                                   0: writer_write sends a full part itself */
} vodup_blobstore_s3_config;

/* Opens the store (no request is made: a wrong endpoint or key shows at the first write;
 * vodup_blobstore_s3_check asks at once). Copies what it needs from cfg. NULL with errno
 * EINVAL for a bad config, ENOMEM. */
vodup_blobstore *vodup_blobstore_s3_open(const vodup_blobstore_s3_config *cfg);

/* ---- vodupd --bytes s3://BUCKET[/PREFIX]?endpoint=URL[&region=R][&style=path|vhost] ---- */

#define VODUP_BLOB_S3_SCHEME "s3://"

/* What a --bytes URL names; no credentials (those come from the environment or the AWS
 * credentials file, vodup_blobstore_s3_creds_load), so the URL is no secret. */
typedef struct vodup_blobstore_s3_url {
    char *endpoint;   /* "http(s)://host[:port]", no trailing '/' */
    char *bucket;
    char *prefix;     /* "" or "PREFIX/" */
    char *region;     /* default "us-east-1" */
    int vhost;
} vodup_blobstore_s3_url;

/* Parses url. 0, or -1 with a message in err (which never repeats the URL: a mistyped
 * one may hold a secret). Unknown parameters, user:password@ and key parameters are
 * refused. Free with vodup_blobstore_s3_url_free (also after a failure). */
int vodup_blobstore_s3_url_parse(vodup_blobstore_s3_url *u, const char *url, char *err, size_t errlen);
void vodup_blobstore_s3_url_free(vodup_blobstore_s3_url *u);

/* Credentials for the cluster: AWS_ACCESS_KEY_ID + AWS_SECRET_ACCESS_KEY (and
 * AWS_SESSION_TOKEN) from the environment when both are set, else the profile
 * $AWS_PROFILE (default "default") of the credentials file $AWS_SHARED_CREDENTIALS_FILE
 * (default ~/.aws/credentials): aws_access_key_id, aws_secret_access_key,
 * aws_session_token, the AWS tools' format. */
typedef struct vodup_blobstore_s3_creds {
    char *access_key_id, *secret, *session_token;   /* session_token may be NULL */
    char source[320];                               /* where they came from, for messages */
} vodup_blobstore_s3_creds;

/* 0, or -1 with err saying what is missing. Free (wipes the secret) with _creds_free. */
int vodup_blobstore_s3_creds_load(vodup_blobstore_s3_creds *c, char *err, size_t errlen);
void vodup_blobstore_s3_creds_free(vodup_blobstore_s3_creds *c);

/* Opens the store a --bytes URL names, for node, with vodup_blobstore_s3_creds_load's
 * credentials, then checks it (vodup_blobstore_s3_check). NULL with err on any failure. */
vodup_blobstore *vodup_blobstore_s3_open_url(const char *url, const char *node, char *err, size_t errlen);

/* One request that proves the store usable before anything depends on it: the endpoint
 * answers, the bucket exists, the key is known and its secret right, and it may list and
 * write this node's keys (a small probe object, written and removed). 0, or -1 with err
 * naming the endpoint and bucket and what is wrong (never the secret). */
int vodup_blobstore_s3_check(vodup_blobstore *bs, char *err, size_t errlen);

/* "bucket B, prefix P/, at ENDPOINT, node tag T" into out: for the start-up log. */
void vodup_blobstore_s3_describe(const vodup_blobstore *bs, char *out, size_t n);

/* 1 when bs is an S3 byte store. */
int vodup_blobstore_is_s3(const vodup_blobstore *bs);

/* The node tag cfg.node gives: the first VODUP_BLOB_S3_TAG_LEN chars of the ids it writes. */
void vodup_blobstore_s3_node_tag(const char *node, char tag[VODUP_BLOB_S3_TAG_LEN + 1]);

#endif
