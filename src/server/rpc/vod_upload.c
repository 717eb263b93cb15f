/* vod_upload.c - the VOD actions that hand out upload addresses and credentials:
 * CreateUploadVideo, RefreshUploadVideo, CreateUploadImage, CreateUploadAttachedMedia.
 *
 * Each creates (or finds) a media record pointing at one object in the account's VOD
 * storage bucket, and issues temporary credentials scoped to exactly that object and
 * the operations that write it (auth/token.h). The object's completion flips the
 * media's status and queues the event, inside the store's own transaction.
 */
#include <openssl/crypto.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "common/codec.h"
#include "common/digest.h"
#include "common/timefmt.h"
#include "server/auth/token.h"
#include "server/rpc/rpc.h"
#include "server/rpc/status.h"
#include "server/rpc/vod.h"
#include "server/store/meta_vod.h"

static const char *const VIDEO_EXTS[] = {
    "mp4", "ts", "3gp", "mpg", "mpeg", "mpe", "dat", "vob", "asf", "avi", "wmv", "flv", "f4v", "rm", "rmvb",
    "mov", "mkv", "m3u8", "dv", "gif", "m2t", "m4v", "mj2", "mjpeg", "mts", "ogg", "qt", "swf", "webm",
    /* audio */
    "mp3", "wma", "wav", "aac", "ra", "m4a", "flac", "ape", "ac3", "amr", "caf", "acm", NULL};
static const char *const IMAGE_EXTS[] = {"png", "jpg", "jpeg", "gif", NULL};
static const char *const WATERMARK_EXTS[] = {"png", "gif", "apng", "mov", NULL};
static const char *const SUBTITLE_EXTS[] = {"srt", "ass", "stl", "ttml", "vtt", NULL};
static const char *const MATERIAL_EXTS[] = {"jpg", "gif", "png", "mp4", "mat", "zip", "apk", NULL};

/* The writing operations an upload credential may run on its object. */
static const char *const UPLOAD_OPS[] = {"PutObject", "InitiateMultipartUpload", "UploadPart",
                                         "CompleteMultipartUpload", "AbortMultipartUpload", "ListParts", NULL};

static int in_list(const char *const *list, const char *s)
{
    for (; *list; list++)
        if (strcasecmp(*list, s) == 0)
            return 1;
    return 0;
}

/* Lower-case copy of an extension parameter into out (n bytes). */
static void lower_ext(char *out, size_t n, const char *in)
{
    snprintf(out, n, "%s", in);
    for (char *p = out; *p; p++)
        *p = (char)((*p >= 'A' && *p <= 'Z') ? *p + 32 : *p);
}

/* Lower-case extension of name (after the last '.'), "" when none. */
static void file_ext(const char *name, char *out, size_t n)
{
    const char *dot = strrchr(name, '.');
    const char *slash = strrchr(name, '/');
    const char *bs = strrchr(name, '\\');
    out[0] = '\0';
    if (!dot || (slash && slash > dot) || (bs && bs > dot) || !dot[1] || strlen(dot + 1) >= n)
        return;
    size_t i = 0;
    for (const char *p = dot + 1; *p; p++)
        out[i++] = (char)((*p >= 'A' && *p <= 'Z') ? *p + 32 : *p);
    out[i] = '\0';
}

/* ---- parameter checks shared by the Create* actions ----------------------------- */

static size_t utf8_chars(const char *s)
{
    size_t n = 0;
    for (; *s; s++)
        if (((unsigned char)*s & 0xC0) != 0x80)
            n++;
    return n;
}

/* Emoji and other 4-byte UTF-8 (the real service refuses them with IllegalCharacters). */
static int has_4byte_utf8(const char *s)
{
    for (; *s; s++)
        if (((unsigned char)*s & 0xF8) == 0xF0)
            return 1;
    return 0;
}

int vod_check_text(rpc_call *c, const char *name, size_t max_chars, int required)
{
    const char *v = rpc_param(c, name);
    if (!v || !*v)
        return required ? rpc_missing(c, name) : 0;
    if (has_4byte_utf8(v))
        return rpc_error(c, 400, "IllegalCharacters",
                         "The specified %s contains illegal emoticon or special characters.", name);
    if (utf8_chars(v) > max_chars)
        return rpc_error(c, 400, "LengthExceededMax", "The specified %s length has exceeded %zu.", name, max_chars);
    return 0;
}

static int check_tags(rpc_call *c)
{
    const char *t = rpc_param(c, "Tags");
    if (!t || !*t)
        return 0;
    int count = 0;
    const char *p = t;
    while (*p) {
        const char *comma = strchr(p, ',');
        size_t len = comma ? (size_t)(comma - p) : strlen(p);
        char tag[512];
        if (len >= sizeof tag)
            return rpc_error(c, 400, "LengthExceededMax", "The specified Tags length has exceeded 32.");
        memcpy(tag, p, len);
        tag[len] = '\0';
        if (utf8_chars(tag) > 32)
            return rpc_error(c, 400, "LengthExceededMax", "The specified Tags length has exceeded 32.");
        if (++count > 16)
            return rpc_error(c, 400, "TagsExceededMax", "The specified Tags count has exceeded 16.");
        p += len;
        if (*p == ',')
            p++;
    }
    return 0;
}

static int check_user_data(rpc_call *c)
{
    const char *u = rpc_param(c, "UserData");
    if (!u || !*u)
        return 0;
    if (strlen(u) > 4096)
        return rpc_error(c, 400, "LengthExceededMax", "The specified UserData length has exceeded 4096.");
    json_t *j = json_loads(u, 0, NULL);
    int ok = json_is_object(j);
    /* A per-media callback URL gets the same checks as SetMessageCallback's. */
    json_t *mc = ok ? json_object_get(j, "MessageCallback") : NULL;
    json_t *cb = json_is_object(mc) ? json_object_get(mc, "CallbackURL") : NULL;
    if (mc && (!json_is_object(mc) || (cb && !vod_valid_callback_url(json_string_value(cb)))))
        ok = 0;
    json_t *ext = ok ? json_object_get(j, "Extend") : NULL;
    if (ext) {
        char *s = json_is_string(ext) ? NULL : json_dumps(ext, JSON_COMPACT);
        size_t n = s ? strlen(s) : json_string_length(ext);
        free(s);
        if (n > 512)
            ok = 0;
    }
    json_decref(j);
    return ok ? 0 : rpc_invalid(c, "UserData");
}

static int parse_long(rpc_call *c, const char *name, long long *out, long long dflt)
{
    const char *v = rpc_param(c, name);
    *out = dflt;
    if (!v || !*v)
        return 0;
    char *end;
    long long x = strtoll(v, &end, 10);
    if (*end || x < 0 || strlen(v) > 18)
        return rpc_invalid(c, name);
    *out = x;
    return 0;
}

int vod_valid_callback_url(const char *url)
{
    if (!url)
        return 0;
    size_t n = strlen(url);
    return n > 0 && n <= 256 && (strncmp(url, "http://", 7) == 0 || strncmp(url, "https://", 8) == 0) &&
           !strpbrk(url, " ,\r\n\t");
}

/* ---- authorization ------------------------------------------------------------------- */

int vod_resource(const rpc_call *c, const char *type, const char *id, char *out, size_t n)
{
    const vodupd *s = c->r->srv;
    int r = type ? snprintf(out, n, "acs:vod:%s:%s:%s/%s", s->region, c->r->cred.account_id, type, id ? id : "")
                 : snprintf(out, n, "acs:vod:%s:%s:*", s->region, c->r->cred.account_id);
    /* Never evaluate a cut resource: "video/<allowed id><more>" cut after the allowed id
     * would match a policy naming that id. */
    return r < 0 || (size_t)r >= n ? -1 : 0;
}

int vod_authorize(rpc_call *c, const char *action, const char *type, const char *id)
{
    char res[256];
    if (vod_resource(c, type, id, res, sizeof res) != 0)
        return rpc_error(c, 403, "Forbidden.RAM",
                         "User not authorized to operate on the specified resource, or this API doesn't support RAM.");
    return rpc_authorize(c, action, res);
}

/* ---- storage and credentials ------------------------------------------------------- */

/* The bucket an upload goes to: StorageLocation ("<bucket>" or "<bucket>.<host>") when
 * given, which must be a bucket enabled for VOD in the caller's account; otherwise the
 * account's default VOD storage, created on first use as "outin-<32 hex>".
 *
 * "Enabled for VOD" is the bucket vodupd created as the account's VOD storage (the
 * setting vod_storage:<account>), not any bucket of the account: an uploader allowed
 * only vod:CreateUpload* must not be able to write media objects (and have events and
 * media records made for them) into the application's other buckets, e.g. the one its
 * web site is served from. */
int vod_storage(rpc_call *c, char bucket[64])
{
    core co;
    rpc_core(c, &co);
    vodupd_detail d = {0};
    const char *acct = c->r->cred.account_id;
    const char *loc = rpc_param(c, "StorageLocation");
    if (loc && *loc) {
        size_t n = strcspn(loc, ".");
        if (n == 0 || n >= 64)
            return rpc_error(c, 404, "InvalidStorage.NotFound", "The StorageLocation does not exist.");
        memcpy(bucket, loc, n);
        bucket[n] = '\0';
        vodupd_status st = core_media_storage_check(&co, acct, bucket, &d);
        if (st == VODUPD_ENOBUCKET)
            return rpc_error(c, 404, "InvalidStorage.NotFound",
                             "The StorageLocation does not exist or is not enabled for VOD.");
        return st == VODUPD_OK ? 0 : rpc_status_error(c, st, &d, "The metadata store failed.");
    }
    vodupd_status st = core_media_storage(&co, acct, bucket, &d);
    return st == VODUPD_OK ? 0 : rpc_status_error(c, st, &d, NULL);
}

void vod_storage_location(const vodupd *s, const char *bucket, char *out, size_t n)
{
    /* "<bucket>.<our host>", the shape of the real service's "outin-….oss-cn-….aliyuncs.com" */
    const char *h = s->public_url ? strstr(s->public_url, "://") : NULL;
    h = h ? h + 3 : "localhost";
    size_t hl = strcspn(h, ":/");
    snprintf(out, n, "%s.%.*s", bucket, (int)hl, h);
}

void vod_file_url(const vodupd *s, const char *bucket, const char *key, vbuf *out)
{
    vbuf_printf(out, "%s/%s/", s->public_url ? s->public_url : "", bucket);
    vodup_uri_encode(out, key, strlen(key), 1);
}

/* Adds UploadAddress and UploadAuth for md's object to body. */
static int add_upload_credentials(rpc_call *c, const vodup_meta_media *md, json_t *body)
{
    vodupd *s = c->r->srv;
    long long now = (long long)c->now, exp = now + s->upload_auth_ttl;
    json_t *ops = json_array();
    for (int i = 0; UPLOAD_OPS[i]; i++)
        json_array_append_new(ops, json_string(UPLOAD_OPS[i]));
    char prn[64];
    snprintf(prn, sizeof prn, "vod/%s", md->id);
    /* Milliseconds too: the object store compares them with the media's completion to
     * tell credentials issued before it (spent) from a refresh after it (valid). */
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    long long now_ms = (long long)ts.tv_sec * 1000LL + ts.tv_nsec / 1000000L;
    json_t *claims = json_pack("{s:s,s:s,s:I,s:I,s:I,s:{s:s,s:s,s:o}}", "acct", md->account_id, "prn", prn, "iat", now,
                               "iatms", now_ms, "exp", exp, "scope", "bucket", md->bucket, "key", md->object_key,
                               "ops", ops);
    /* Upload credentials derive from the caller's: deleting the RAM user or role behind
     * it revokes them too (auth.h, vodup_cred.rev). */
    if (claims && c->r->cred.rev && json_object_set_new(claims, "rev", json_deep_copy(c->r->cred.rev)) != 0) {
        json_decref(claims);
        claims = NULL;
    }
    char *ak = NULL, *sk = NULL, *token = NULL;
    int rc = claims ? token_issue(s->token_keys, claims, &ak, &sk, &token) : -1;
    json_decref(claims);
    if (rc != 0)
        return rpc_error(c, 500, "InternalError", "Issuing upload credentials failed.");
    char expire_utc[21], ttl[24];
    vodup_time_iso(expire_utc, (time_t)exp);
    snprintf(ttl, sizeof ttl, "%d", s->upload_auth_ttl);
    /* Key order as the real service writes them; clients parse them either way. */
    json_t *auth = json_pack("{s:s,s:s,s:s,s:s,s:s,s:s}", "SecurityToken", token, "AccessKeyId", ak, "ExpireUTCTime",
                             expire_utc, "AccessKeySecret", sk, "Expiration", ttl, "Region", s->region);
    json_t *addr = json_pack("{s:s,s:s,s:s}", "Endpoint", s->public_url ? s->public_url : "", "Bucket", md->bucket,
                             "FileName", md->object_key);
    OPENSSL_cleanse(sk, strlen(sk));
    free(ak);
    free(sk);
    free(token);
    char *auth_s = auth ? json_dumps(auth, JSON_COMPACT | JSON_PRESERVE_ORDER) : NULL;
    char *addr_s = addr ? json_dumps(addr, JSON_COMPACT | JSON_PRESERVE_ORDER) : NULL;
    json_decref(auth);
    json_decref(addr);
    vbuf a = VBUF_INIT, b = VBUF_INIT;
    if (auth_s && addr_s) {
        vodup_base64_encode(&a, addr_s, strlen(addr_s));
        vodup_base64_encode(&b, auth_s, strlen(auth_s));
    }
    if (auth_s) {
        OPENSSL_cleanse(auth_s, strlen(auth_s));
        free(auth_s);
    }
    free(addr_s);
    int ok = a.len && b.len && !a.oom && !b.oom;
    if (ok) {
        json_object_set_new(body, "UploadAddress", json_string(vbuf_cstr(&a)));
        json_object_set_new(body, "UploadAuth", json_string(vbuf_cstr(&b)));
    }
    vbuf_free(&a);
    vbuf_free(&b);
    return ok ? 0 : rpc_error(c, 500, "InternalError", "Issuing upload credentials failed.");
}

/* Common part of the three Create actions: checks, storage, the record. */
static int create_media(rpc_call *c, vodup_meta_media *md, const char *kind, const char *ext)
{
    if (check_tags(c) != 0 || check_user_data(c) != 0 || vod_check_text(c, "Description", 1024, 0) != 0)
        return -1;
    long long cate;
    if (parse_long(c, "CateId", &cate, -1) != 0)
        return -1;
    long long fsize;
    if (parse_long(c, "FileSize", &fsize, 0) != 0)
        return -1;
    const char *cover = rpc_param(c, "CoverURL");
    if (cover && strlen(cover) > 1024)
        return rpc_error(c, 400, "LengthExceededMax", "The specified CoverURL length has exceeded 1024.");
    char bucket[64];
    if (vod_storage(c, bucket) != 0)
        return -1;
    unsigned char rnd[16];
    if (vodup_random(rnd, sizeof rnd) != 0)
        return rpc_error(c, 500, "InternalError", "No randomness available.");
    vodup_hex_lower(md->id, rnd, sizeof rnd);
    snprintf(md->kind, sizeof md->kind, "%s", kind);
    snprintf(md->status, sizeof md->status, "Uploading");
    md->account_id = c->r->cred.account_id;
    md->title = (char *)rpc_param(c, "Title");
    md->description = (char *)rpc_param(c, "Description");
    md->tags = (char *)rpc_param(c, "Tags");
    md->cover_url = (char *)cover;
    md->user_data = (char *)rpc_param(c, "UserData");
    md->template_group_id = (char *)rpc_param(c, "TemplateGroupId");
    md->app_id = (char *)(rpc_param(c, "AppId") ? rpc_param(c, "AppId") : "app-1000000");
    md->ext = (char *)ext;
    md->cate_id = cate;
    md->file_size = (uint64_t)fsize;
    md->bucket = strdup(bucket);
    if (!md->bucket)
        return rpc_error(c, 500, "InternalError", "Out of memory.");
    char loc[192];
    vod_storage_location(c->r->srv, bucket, loc, sizeof loc);
    md->storage_location = strdup(loc);
    md->created = md->modified = c->now;
    return 0;
}

static int store_and_answer(rpc_call *c, vodup_meta_media *md, json_t *body)
{
    if (!md->storage_location || !md->object_key) {
        json_decref(body);
        return rpc_error(c, 500, "InternalError", "Out of memory.");
    }
    core co;
    rpc_core(c, &co);
    if (core_media_create(&co, md, NULL) != VODUPD_OK) {
        json_decref(body);
        return rpc_error(c, 503, "AddVideoFailed", "Adding the media record has failed.");
    }
    if (add_upload_credentials(c, md, body) != 0) {
        json_decref(body);
        return -1;
    }
    return rpc_reply(c, body);
}

/* Frees only what create_media and the actions allocated (the rest is borrowed). */
static void media_release(vodup_meta_media *md)
{
    free(md->bucket);
    free(md->object_key);
    free(md->storage_location);
}

/* "sv/<8 hex>-<creation ms in hex>/<same>.<ext>", the real service's shape. */
static char *video_key(const vodup_meta_media *md, time_t now, const char *ext)
{
    char part[64];
    snprintf(part, sizeof part, "%.8s-%llx", md->id, (unsigned long long)now * 1000ULL);
    vbuf k = VBUF_INIT;
    vbuf_printf(&k, "sv/%s/%s.%s", part, part, ext);
    return k.oom ? (vbuf_free(&k), NULL) : vbuf_steal(&k);
}

static int create_upload_video(rpc_call *c)
{
    if (vod_authorize(c, "vod:CreateUploadVideo", NULL, NULL) != 0)
        return -1;
    if (vod_check_text(c, "Title", 128, 1) != 0)
        return -1;
    const char *fname = rpc_param(c, "FileName");
    if (!fname || !*fname)
        return rpc_missing(c, "FileName");
    if (strlen(fname) > 1024)
        return rpc_error(c, 400, "LengthExceededMax", "The specified FileName length has exceeded 1024.");
    char ext[16];
    file_ext(fname, ext, sizeof ext);
    if (!*ext || !in_list(VIDEO_EXTS, ext))
        return rpc_error(c, 400, "InvalidFileName.Extension", "The specified FileName's extension is illegal.");
    vodup_meta_media md;
    memset(&md, 0, sizeof md);
    md.file_name = (char *)fname;
    int rc = create_media(c, &md, "video", ext);
    if (rc == 0) {
        md.object_key = video_key(&md, c->now, ext);
        json_t *body = json_pack("{s:s}", "VideoId", md.id);
        rc = store_and_answer(c, &md, body);
    }
    media_release(&md);
    return rc;
}

int vod_get_media(rpc_call *c, const char *param, const char *kind, vodup_meta_media *md)
{
    const char *id = rpc_param(c, param);
    if (!id || !*id)
        return rpc_missing(c, param);
    core co;
    rpc_core(c, &co);
    vodupd_detail d = {0};
    vodupd_status st = core_media_get(&co, c->r->cred.account_id, id, kind, md, &d);
    if (st == VODUPD_ENOKEY)
        return strcmp(kind, "video") == 0
                   ? rpc_error(c, 404, "InvalidVideo.NotFound", "The video does not exist.")
                   : rpc_error(c, 404, "NoSuchResource", "The specified resource does not exist.");
    if (st != VODUPD_OK)
        return rpc_status_error(c, st, &d, "The metadata store failed.");
    return 0;
}

static int refresh_upload_video(rpc_call *c)
{
    const char *id = rpc_param(c, "VideoId");
    if (!id || !*id)
        return rpc_missing(c, "VideoId");
    if (vod_authorize(c, "vod:RefreshUploadVideo", "video", id) != 0)
        return -1;
    vodup_meta_media md;
    if (vod_get_media(c, "VideoId", "video", &md) != 0)
        return -1;
    /* Refreshing a complete video gives credentials for a new upload of its source, as
     * VOD does: issued after the completion, they may write (oss/router.c); the status
     * stays until that upload completes. */
    int rc;
    json_t *body = json_pack("{s:s}", "VideoId", md.id);
    rc = add_upload_credentials(c, &md, body);
    vodup_meta_media_clear(&md);
    if (rc != 0) {
        json_decref(body);
        return -1;
    }
    return rpc_reply(c, body);
}

/* Images and attached media answer their id, their URL under two names (the CDN-or-OSS
 * one and the plain OSS one: the same here) and the upload address and credentials. */
static int store_with_url(rpc_call *c, vodup_meta_media *md, vbuf *key, const char *id_field,
                          const char *url_field)
{
    md->object_key = key->oom ? NULL : vbuf_steal(key);
    vbuf url = VBUF_INIT;
    vod_file_url(c->r->srv, md->bucket, md->object_key ? md->object_key : "", &url);
    json_t *body = json_pack("{s:s,s:s,s:s}", id_field, md->id, url_field, vbuf_cstr(&url), "FileURL",
                             vbuf_cstr(&url));
    vbuf_free(&url);
    return store_and_answer(c, md, body);
}

static int create_upload_image(rpc_call *c)
{
    if (vod_authorize(c, "vod:CreateUploadImage", NULL, NULL) != 0)
        return -1;
    const char *type = rpc_param(c, "ImageType");
    if (!type || !*type)
        return rpc_missing(c, "ImageType");
    if (strcmp(type, "default") != 0 && strcmp(type, "cover") != 0)
        return rpc_invalid(c, "ImageType");
    const char *ext_in = rpc_param(c, "ImageExt");
    char ext[16];
    lower_ext(ext, sizeof ext, ext_in && *ext_in ? ext_in : "png");
    if (!in_list(IMAGE_EXTS, ext))
        return rpc_invalid(c, "ImageExt");
    if (vod_check_text(c, "Title", 128, 0) != 0)
        return -1;
    vodup_meta_media md;
    memset(&md, 0, sizeof md);
    md.image_type = (char *)type;
    md.file_name = (char *)rpc_param(c, "OriginalFileName");
    int rc = create_media(c, &md, "image", ext);
    if (rc == 0) {
        char hex[33];
        snprintf(hex, sizeof hex, "%s", md.id);
        for (char *p = hex; *p; p++)
            *p = (char)((*p >= 'a' && *p <= 'f') ? *p - 32 : *p);
        vbuf k = VBUF_INIT;
        vbuf_printf(&k, "image/%s/%s.%s", type, hex, ext);
        rc = store_with_url(c, &md, &k, "ImageId", "ImageURL");
        vbuf_free(&k);
    }
    media_release(&md);
    return rc;
}

static int create_upload_attached_media(rpc_call *c)
{
    if (vod_authorize(c, "vod:CreateUploadAttachedMedia", NULL, NULL) != 0)
        return -1;
    const char *bt = rpc_param(c, "BusinessType");
    if (!bt || !*bt)
        return rpc_missing(c, "BusinessType");
    const char *const *exts = strcmp(bt, "watermark") == 0  ? WATERMARK_EXTS
                              : strcmp(bt, "subtitle") == 0 ? SUBTITLE_EXTS
                              : strcmp(bt, "material") == 0 ? MATERIAL_EXTS
                                                            : NULL;
    if (!exts)
        return rpc_invalid(c, "BusinessType");
    char ext[16];
    const char *me = rpc_param(c, "MediaExt");
    const char *fname = rpc_param(c, "FileName");
    if (me && *me) {
        lower_ext(ext, sizeof ext, me);
    } else if (fname && *fname) {
        file_ext(fname, ext, sizeof ext);
    } else {
        return rpc_missing(c, "MediaExt");
    }
    if (!in_list(exts, ext))
        return rpc_invalid(c, "MediaExt");
    if (vod_check_text(c, "Title", 128, 0) != 0)
        return -1;
    vodup_meta_media md;
    memset(&md, 0, sizeof md);
    md.business_type = (char *)bt;
    md.file_name = (char *)fname;
    int rc = create_media(c, &md, "attached", ext);
    if (rc == 0) {
        vbuf k = VBUF_INIT;
        vbuf_printf(&k, "%s/%s.%s", bt, md.id, ext);
        rc = store_with_url(c, &md, &k, "MediaId", "MediaURL");
        vbuf_free(&k);
    }
    media_release(&md);
    return rc;
}

const rpc_action vod_upload_actions[] = {
    {"CreateUploadVideo", create_upload_video},
    {"RefreshUploadVideo", refresh_upload_video},
    {"CreateUploadImage", create_upload_image},
    {"CreateUploadAttachedMedia", create_upload_attached_media},
    {NULL, NULL},
};
