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
} vodup_blobstore_s3_config;

/* Opens the store (no request is made: a wrong endpoint or key shows at the first write).
 * Copies what it needs from cfg. NULL with errno EINVAL for a bad config, ENOMEM. */
vodup_blobstore *vodup_blobstore_s3_open(const vodup_blobstore_s3_config *cfg);

/* The node tag cfg.node gives: the first VODUP_BLOB_S3_TAG_LEN chars of the ids it writes. */
void vodup_blobstore_s3_node_tag(const char *node, char tag[VODUP_BLOB_S3_TAG_LEN + 1]);

#endif
