/* media.h - the media core: what the RPC dialect (VOD, STS) asks of the stores.
 *
 * Media records, the account's VOD storage, the event-callback configuration, the
 * principals STS assumes and the request-nonce ledger. Like core.h, every call answers
 * a vodupd_status (status.h) with detail.what naming what failed on EIO / ENOMEM, and
 * knows no wire format: the dialect picks its codes and messages (rpc/status.c). A
 * record that does not exist (or is another account's, or of another kind) is ENOKEY.
 *
 * Threads and ownership as core.h: blocking calls for a worker thread; structs filled
 * through out parameters are the caller's (vodup_meta_*_clear), strings out are malloc'd.
 */
#ifndef VODUPD_CORE_MEDIA_H
#define VODUPD_CORE_MEDIA_H

#include <stddef.h>
#include <time.h>

#include "server/core/core.h"
#include "server/store/meta_vod.h"

/* Records a new media (md filled by the dialect, status the uploading one). EIO. */
vodupd_status core_media_create(const core *c, const vodup_meta_media *md, vodupd_detail *d);
/* The media id of account_id, of kind ("video", "image", ...; NULL: any). ENOKEY, EIO. */
vodupd_status core_media_get(const core *c, const char *account_id, const char *id, const char *kind,
                             vodup_meta_media *out, vodupd_detail *d);
/* Deletes the media id of account_id when it is of kind (NULL: any): its record, its
 * object and open uploads (blobs to the collector, which is kicked). Its upload
 * credentials are revoked with it: their next write finds no media (EREVOKED, scope.c).
 * ENOKEY, EIO. */
vodupd_status core_media_delete(const core *c, const char *account_id, const char *id, const char *kind,
                                vodupd_detail *d);
/* The id of the cover image record the probe makes for video_id: derived from it, so that
 * a second probe replaces the first one's cover instead of adding another, and deleting
 * the video finds its cover (core_media_delete of a video removes it too). */
void core_media_cover_id(char out[33], const char *video_id);
/* A page of account_id's media matching f (meta_vod.h), cb per record; *total all that
 * match. EIO. */
vodupd_status core_media_list(const core *c, const char *account_id, const vodup_meta_media_filter *f,
                              int (*cb)(const vodup_meta_media *md, void *u), void *u, size_t *total,
                              vodupd_detail *d);

/* The bucket account_id's uploads go to by default, created ("outin-<32 hex>") and
 * recorded on first use; concurrent first uses agree on one. EIO, ENOMEM. */
vodupd_status core_media_storage(const core *c, const char *account_id, char bucket[64], vodupd_detail *d);
/* OK when bucket is account_id's VOD storage (recorded as such, and still the
 * account's); ENOBUCKET when not. EIO. */
vodupd_status core_media_storage_check(const core *c, const char *account_id, const char *bucket,
                                       vodupd_detail *d);

/* The account's callback configuration (JSON text, *json NULL when none set). EIO. */
vodupd_status core_callback_get(const core *c, const char *account_id, char **json, vodupd_detail *d);
/* Replaces it and kicks the event sender (events waiting on a callback may go). EIO. */
vodupd_status core_callback_set(const core *c, const char *account_id, const char *json, vodupd_detail *d);

/* The principal kind ("role", "user") name of account_id. ENOKEY, EIO. */
vodupd_status core_principal_get(const core *c, const char *kind, const char *account_id, const char *name,
                                 vodup_meta_principal *out, vodupd_detail *d);
/* Records nonce as used by key_id for ttl seconds: EEXISTS when it was already, EIO. */
vodupd_status core_nonce_use(const core *c, const char *key_id, const char *nonce, time_t now, int ttl,
                             vodupd_detail *d);
/* What the media probe found for media id (JSON text, *json malloc'd; NULL when it was
 * not probed: OK). EIO. */
vodupd_status core_media_info_get(const core *c, const char *id, char **json, vodupd_detail *d);

/* OK while the byte store takes need more bytes (0: any new body) above its reserve;
 * ENOSPC otherwise. */
vodupd_status core_space_check(const core *c, uint64_t need, vodupd_detail *d);

#endif
