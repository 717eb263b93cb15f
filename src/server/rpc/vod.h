/* vod.h - helpers shared by the VOD actions (rpc/vod_upload.c, rpc/vod_media.c). */
#ifndef VODUPD_RPC_VOD_H
#define VODUPD_RPC_VOD_H

#include "server/rpc/rpc.h"

/* Checks an optional (or required) text parameter: no 4-byte UTF-8, at most max_chars
 * characters. 0, or -1 after answering. */
int vod_check_text(rpc_call *c, const char *name, size_t max_chars, int required);
/* The bucket an upload goes to (StorageLocation or the account's default). */
int vod_storage(rpc_call *c, char bucket[64]);
/* "<bucket>.<public host>", the StorageLocation clients see. */
void vod_storage_location(const vodupd *s, const char *bucket, char *out, size_t n);
/* Public URL of bucket/key (key %-encoded, '/' kept), appended to out. */
void vod_file_url(const vodupd *s, const char *bucket, const char *key, vbuf *out);

#endif
