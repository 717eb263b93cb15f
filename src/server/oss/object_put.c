/* object_put.c - PutObject: stream the body into a blob, then record the object.
 *
 * The reply is sent only after the blob is durable and the metadata committed; both
 * happen on the worker pool. Overwriting a key frees the old blob through the garbage
 * list, so a reader that already opened the old object keeps reading valid bytes.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/codec.h"
#include "server/config.h"
#include "server/events/events.h"
#include "server/oss/oss.h"
#include "server/oss/upload.h"

static int put_begin(http_request *r)
{
    if (oss_check_key(r) != 0)
        return 0;
    vodup_meta_bucket b;
    if (oss_require_bucket(r, &b) != 0)
        return 0;
    vodup_meta_bucket_clear(&b);
    char *user_meta;
    if (oss_collect_user_meta(r, &user_meta) != 0)
        return 0;
    oss_upload *u = oss_upload_begin(r, OSS_MAX_PUT_SIZE, "PutObject");
    if (!u) {
        free(user_meta);
        return 0;
    }
    u->user_meta = user_meta;
    const char *ct = http_header(r, "Content-Type");
    u->content_type = strdup(ct && *ct ? ct : "application/octet-stream");
    return 0;
}

/* ETag, CRC and Content-MD5 of a freshly written blob, as PutObject and UploadPart answer. */
static void reply_written(http_request *r, const oss_upload *u)
{
    char hex[33], buf[64];
    vodup_hex_upper(hex, u->md5sum, 16);
    struct MHD_Response *resp = MHD_create_response_from_buffer(0, (void *)"", MHD_RESPMEM_PERSISTENT);
    if (!resp)
        return;
    snprintf(buf, sizeof buf, "\"%s\"", hex);
    MHD_add_response_header(resp, "ETag", buf);
    snprintf(buf, sizeof buf, "%llu", (unsigned long long)u->crc);
    MHD_add_response_header(resp, "x-oss-hash-crc64ecma", buf);
    vbuf b64 = VBUF_INIT;
    vodup_base64_encode(&b64, u->md5sum, 16);
    MHD_add_response_header(resp, "Content-MD5", vbuf_cstr(&b64));
    vbuf_free(&b64);
    http_respond(r, 200, resp);
}

/* The object stored at the key has exactly the bytes of this (digested) upload. */
static int put_matches_stored(http_request *r, const oss_upload *u)
{
    vodup_meta_object o;
    int same = 0;
    if (vodup_meta_object_get(r->srv->meta, r->bucket, r->key, r->key_len, &o) == VODUP_META_OK) {
        same = o.has_md5 && o.size == u->size && memcmp(o.md5, u->md5sum, 16) == 0;
        vodup_meta_object_clear(&o);
    }
    return same;
}

/* A PutObject allowed only as a retry of what is stored: the same bytes get the same
 * answer and change nothing; other bytes are refused. Nothing is written either way. */
static void put_replay(http_request *r, oss_upload *u)
{
    if (oss_upload_digest(r, u) != 0)
        return;
    if (u->has_want_md5 && memcmp(u->md5sum, u->want_md5, 16) != 0) {
        oss_error(r, OSS_ERR_InvalidDigest, "The Content-MD5 you specified did not match what was received.");
        return;
    }
    if (!put_matches_stored(r, u)) {
        oss_error(r, OSS_ERR_AccessDenied,
                  "This media's upload is complete; get new credentials (RefreshUploadVideo) to upload it again.");
        return;
    }
    reply_written(r, u);
}

static void put_finish(http_request *r)
{
    oss_upload *u = r->op_state;
    if (u && r->replay_only) {
        put_replay(r, u);
        return;
    }
    if (!u || oss_upload_commit(r, u) != 0)
        return;
    vodup_meta_segment seg;
    memcpy(seg.blob, u->blob, sizeof seg.blob);
    seg.size = u->size;
    vodup_meta_object o;
    memset(&o, 0, sizeof o);
    o.bucket = r->bucket;
    o.key = r->key;
    o.key_len = r->key_len;
    o.size = u->size;
    vodup_hex_upper(o.etag, u->md5sum, 16);
    o.crc64 = u->crc;
    memcpy(o.md5, u->md5sum, 16);
    o.has_md5 = 1;
    o.content_type = u->content_type;
    o.user_meta = u->user_meta;
    memcpy(o.type, "Normal", 7);
    o.mtime = time(NULL);
    o.segs = &seg;
    o.nsegs = 1;
    vodup_meta_guard g;
    int rc = vodup_meta_object_put_guarded(r->srv->meta, &o, oss_write_guard(r, &g));
    if (rc != VODUP_META_OK) {
        oss_upload_discard(r, u);
        /* A retry that overlapped its own earlier attempt (the client gave up waiting
         * for that one's answer, but it still arrived and completed the media while
         * this one was in flight) is a replay too: the same bytes get the same answer. */
        if (rc == VODUP_META_EDENIED && put_matches_stored(r, u)) {
            reply_written(r, u);
            return;
        }
        if (!oss_guard_refused(r, rc))
            oss_error(r, OSS_ERR_InternalError, "Recording the object failed; nothing was stored.");
        return;
    }
    vodupd_gc_kick(r->srv);
    /* the object may complete a media record: its event is in the outbox now */
    if (r->srv->events)
        events_kick(r->srv->events);
    reply_written(r, u);
}

const http_op oss_op_put_object = {"PutObject", put_begin, oss_upload_body, put_finish, 1};

void oss_reply_written(http_request *r, const oss_upload *u)
{
    reply_written(r, u);
}
