/* vod.h - helpers shared by the VOD actions (rpc/vod_upload.c, rpc/vod_media.c). */
#ifndef VODUPD_RPC_VOD_H
#define VODUPD_RPC_VOD_H

#include "server/rpc/rpc.h"
#include "server/store/meta_vod.h"

/* Checks an optional (or required) text parameter: no 4-byte UTF-8, at most max_chars
 * characters. 0, or -1 after answering. */
int vod_check_text(rpc_call *c, const char *name, size_t max_chars, int required);
/* The bucket an upload goes to (StorageLocation or the account's default). */
int vod_storage(rpc_call *c, char bucket[64]);
/* "<bucket>.<public host>", the StorageLocation clients see. */
void vod_storage_location(const vodupd *s, const char *bucket, char *out, size_t n);
/* Loads the media named by parameter param (required) of the caller's account, which must
 * be of kind ("video" or "image"). 0 with *md filled (clear it), or -1 after answering
 * MissingParameter or the kind's not-found error (InvalidVideo.NotFound, NoSuchResource). */
int vod_get_media(rpc_call *c, const char *param, const char *kind, vodup_meta_media *md);
/* 1 when url is acceptable as an event callback URL: http(s), at most 256 bytes, no
 * spaces, commas or line breaks. */
int vod_valid_callback_url(const char *url);
/* Public URL of bucket/key (key %-encoded, '/' kept), appended to out. */
void vod_file_url(const vodupd *s, const char *bucket, const char *key, vbuf *out);

/* The RAM resource of one media: "acs:vod:<region>:<account>:<type>/<id>" with type
 * "video", "image" or "attachedmedia"; with type NULL the account's own resource
 * "acs:vod:<region>:<account>:*" (actions that create media, list them, or configure the
 * account). 0, or -1 when it does not fit in n bytes (an id no media can have). */
int vod_resource(const rpc_call *c, const char *type, const char *id, char *out, size_t n);
/* rpc_authorize on vod_resource(type, id): 0 when allowed, else -1 after answering
 * Forbidden.RAM. Called before the media is looked up, so a refused caller learns
 * nothing about whether it exists. */
int vod_authorize(rpc_call *c, const char *action, const char *type, const char *id);

/* The media probe's fields of a video (rpc/vod_play.c): Duration, and CoverURL signed
 * for the caller when it is the probe's cover. */
void vod_probe_fields(rpc_call *c, json_t *video, const vodup_meta_media *md);

#endif
