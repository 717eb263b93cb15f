/* media.c - the media core (media.h): media records, the account's VOD storage, callback
 * configuration, principals and nonces, over the metadata store. */
#include "server/core/media.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/codec.h"
#include "common/digest.h"
#include "server/core/internal.h"
#include "server/store/meta_jobs.h"

vodupd_status core_media_create(const core *c, const vodup_meta_media *md, vodupd_detail *d)
{
    if (vodup_meta_media_create(c->meta, md) != VODUP_META_OK)
        return core__fail(d, VODUPD_EIO, "Adding the media record");
    return VODUPD_OK;
}

vodupd_status core_media_get(const core *c, const char *account_id, const char *id, const char *kind,
                             vodup_meta_media *out, vodupd_detail *d)
{
    int rc = vodup_meta_media_get(c->meta, account_id, id, out);
    if (rc == VODUP_META_ENOTFOUND)
        return VODUPD_ENOKEY;
    if (rc != VODUP_META_OK)
        return core__fail(d, VODUPD_EIO, "Reading the media");
    /* An id of another kind is no media of this one: the same answer as none. */
    if (kind && strcmp(out->kind, kind) != 0) {
        vodup_meta_media_clear(out);
        return VODUPD_ENOKEY;
    }
    return VODUPD_OK;
}

vodupd_status core_media_delete(const core *c, const char *account_id, const char *id, const char *kind,
                                vodupd_detail *d)
{
    vodup_meta_media md;
    vodupd_status st = core_media_get(c, account_id, id, kind, &md, d);
    if (st != VODUPD_OK)
        return st;
    int video = strcmp(md.kind, "video") == 0;
    vodup_meta_media_clear(&md);
    int rc = vodup_meta_media_delete(c->meta, account_id, id);
    if (rc == VODUP_META_ENOTFOUND) /* deleted meanwhile */
        return VODUPD_ENOKEY;
    if (rc != VODUP_META_OK)
        return core__fail(d, VODUPD_EIO, "Deleting the media");
    if (video) {
        /* Its cover goes with it (record and object). A failure here leaves a cover nobody
         * points at, which is not worth failing a delete that has happened: say so. */
        char cover[33];
        core_media_cover_id(cover, id);
        rc = vodup_meta_media_delete(c->meta, account_id, cover);
        if (rc != VODUP_META_OK && rc != VODUP_META_ENOTFOUND)
            fprintf(stderr, "vodupd: deleting the cover of video %s failed; its image %s stays\n", id, cover);
    }
    core__kick_gc(c);
    return VODUPD_OK;
}

void core_media_cover_id(char out[33], const char *video_id)
{
    /* Hashed with a label so that no other id can be made to collide by choice. */
    char in[128];
    int n = snprintf(in, sizeof in, "vodup-cover-v1:%s", video_id);
    unsigned char h[16];
    vodup_md5(h, in, n < 0 ? 0 : (size_t)n < sizeof in ? (size_t)n : sizeof in - 1);
    vodup_hex_lower(out, h, sizeof h);
}

vodupd_status core_media_list(const core *c, const char *account_id, const vodup_meta_media_filter *f,
                              int (*cb)(const vodup_meta_media *md, void *u), void *u, size_t *total,
                              vodupd_detail *d)
{
    if (vodup_meta_media_list(c->meta, account_id, f, cb, u, total) != VODUP_META_OK)
        return core__fail(d, VODUPD_EIO, "Listing the media");
    return VODUPD_OK;
}

/* The setting naming account_id's VOD storage bucket. */
static void storage_setting(char out[96], const char *account_id)
{
    snprintf(out, 96, "vod_storage:%s", account_id);
}

/* The recorded storage: OK with bucket set, ENOBUCKET when none (or unusable), EIO. */
static vodupd_status storage_read(const core *c, const char *name, char bucket[64], vodupd_detail *d)
{
    char *v = NULL;
    int rc = vodup_meta_setting_get(c->meta, name, &v);
    vodupd_status st = VODUPD_ENOBUCKET;
    if (rc == VODUP_META_OK && v && strlen(v) < 64) {
        memcpy(bucket, v, strlen(v) + 1);
        st = VODUPD_OK;
    } else if (rc != VODUP_META_OK && rc != VODUP_META_ENOTFOUND) {
        st = core__fail(d, VODUPD_EIO, "The metadata store failed.");
    }
    free(v);
    return st;
}

vodupd_status core_media_storage(const core *c, const char *account_id, char bucket[64], vodupd_detail *d)
{
    char name[96];
    storage_setting(name, account_id);
    /* A store failure reading it is not told apart from none: the bucket creation or
     * the recording below fails then too, and says so. */
    if (storage_read(c, name, bucket, NULL) == VODUPD_OK)
        return VODUPD_OK;
    unsigned char rnd[16];
    char hex[33];
    if (vodup_random(rnd, sizeof rnd) != 0)
        return core__fail(d, VODUPD_EIO, "No randomness available.");
    vodup_hex_lower(hex, rnd, sizeof rnd);
    snprintf(bucket, 64, "outin-%s", hex);
    if (vodup_meta_bucket_create(c->meta, bucket, account_id, time(NULL)) != VODUP_META_OK)
        return core__fail(d, VODUPD_EIO, "Creating the account's VOD storage failed.");
    /* Concurrent first uploads each made a bucket: the first to record its own wins,
     * the others drop theirs (still empty) and use the winner's. */
    int rc = vodup_meta_setting_add(c->meta, name, bucket);
    if (rc == VODUP_META_EEXISTS) {
        vodup_meta_bucket_delete(c->meta, bucket);
        if (storage_read(c, name, bucket, NULL) == VODUPD_OK)
            return VODUPD_OK;
        rc = VODUP_META_EIO;
    }
    if (rc != VODUP_META_OK)
        return core__fail(d, VODUPD_EIO, "Recording the account's VOD storage failed.");
    return VODUPD_OK;
}

vodupd_status core_media_storage_check(const core *c, const char *account_id, const char *bucket,
                                       vodupd_detail *d)
{
    char name[96], vod[64];
    storage_setting(name, account_id);
    vodupd_status st = storage_read(c, name, vod, d);
    if (st != VODUPD_OK)
        return st;
    if (strcmp(vod, bucket) != 0)
        return VODUPD_ENOBUCKET;
    /* The setting was written for account_id; the bucket must also still exist and be
     * the account's (checked again rather than trusted). */
    vodup_meta_bucket b;
    if (vodup_meta_bucket_get(c->meta, bucket, &b) != VODUP_META_OK)
        return VODUPD_ENOBUCKET;
    int mine = strcmp(b.account_id, account_id) == 0;
    vodup_meta_bucket_clear(&b);
    return mine ? VODUPD_OK : VODUPD_ENOBUCKET;
}

vodupd_status core_callback_get(const core *c, const char *account_id, char **json, vodupd_detail *d)
{
    *json = NULL;
    int rc = vodup_meta_callback_get(c->meta, account_id, json);
    if (rc == VODUP_META_ENOTFOUND) {
        free(*json);
        *json = NULL;
        return VODUPD_OK;
    }
    if (rc != VODUP_META_OK)
        return core__fail(d, VODUPD_EIO, "Reading the callback configuration");
    return VODUPD_OK;
}

vodupd_status core_callback_set(const core *c, const char *account_id, const char *json, vodupd_detail *d)
{
    if (vodup_meta_callback_set(c->meta, account_id, json) != VODUP_META_OK)
        return core__fail(d, VODUPD_EIO, "Saving the callback configuration");
    core__kick_events(c);
    return VODUPD_OK;
}

vodupd_status core_principal_get(const core *c, const char *kind, const char *account_id, const char *name,
                                 vodup_meta_principal *out, vodupd_detail *d)
{
    int rc = vodup_meta_principal_get(c->meta, kind, account_id, name, out);
    if (rc == VODUP_META_ENOTFOUND)
        return VODUPD_ENOKEY;
    if (rc != VODUP_META_OK)
        return core__fail(d, VODUPD_EIO, "Reading the principal");
    return VODUPD_OK;
}

vodupd_status core_nonce_use(const core *c, const char *key_id, const char *nonce, time_t now, int ttl,
                             vodupd_detail *d)
{
    int rc = vodup_meta_nonce_use(c->meta, key_id, nonce, now, ttl);
    if (rc == VODUP_META_EEXISTS)
        return VODUPD_EEXISTS;
    if (rc != VODUP_META_OK)
        return core__fail(d, VODUPD_EIO, "Recording the nonce");
    return VODUPD_OK;
}

vodupd_status core_space_check(const core *c, uint64_t need, vodupd_detail *d)
{
    (void)d;
    return vodup_blob_space_check(c->blobs, need) == VODUP_BLOB_OK ? VODUPD_OK : VODUPD_ENOSPC;
}

vodupd_status core_media_info_get(const core *c, const char *id, char **json, vodupd_detail *d)
{
    int rc = vodup_meta_media_info_get(c->meta, id, json);
    if (rc == VODUP_META_ENOTFOUND)
        return VODUPD_OK;
    if (rc != VODUP_META_OK)
        return core__fail(d, VODUPD_EIO, "Reading the media info");
    return VODUPD_OK;
}
