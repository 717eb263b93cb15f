/* vod_play.c - what the media probe found, as the VOD API shows it: GetPlayInfo and
 * GetMezzanineInfo, and the probe's fields of GetVideoInfo / GetVideoList (Duration, a
 * fetchable CoverURL). docs/internals/media-probe.md, "In the API".
 *
 * vodup does not transcode: the one stream to play is the stored file itself. Its
 * PlayURL (and FileURL, CoverURL) is an OSS V1 presigned GET of the object, signed with
 * the caller's own AccessKey (with its security-token when temporary), as the official
 * OSS SDKs' signatureUrl makes it: it expires after AuthTimeout seconds, never outlives
 * a temporary key, and stops working when the key is disabled or deleted.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "common/buf.h"
#include "common/codec.h"
#include "common/oss_sign.h"
#include "common/timefmt.h"
#include "server/auth/auth.h"
#include "server/core/media.h"
#include "server/rpc/rpc.h"
#include "server/rpc/status.h"
#include "server/rpc/vod.h"

#define PLAY_AUTH_TIMEOUT_DEFAULT 3600     /* GetPlayInfo's default */
#define MEZZANINE_AUTH_TIMEOUT_DEFAULT 1800
#define AUTH_TIMEOUT_MAX 2592000           /* 30 days */

/* Appends the presigned GET URL of bucket/key valid for ttl seconds to out. */
static void signed_url(rpc_call *c, const char *bucket, const char *key, long ttl, vbuf *out)
{
    const vodup_cred *cr = &c->r->cred;
    long long expires = (long long)c->now + ttl;
    if (cr->temporary && cr->expires > 0 && expires > (long long)cr->expires)
        expires = (long long)cr->expires;   /* a URL never outlives its key */
    const char *token = cr->temporary ? rpc_param(c, "SecurityToken") : NULL;
    vbuf sts = VBUF_INIT;
    /* V1: VERB \n Content-MD5 \n Content-Type \n Expires \n /bucket/key[?security-token=] */
    vbuf_printf(&sts, "GET\n\n\n%lld\n/%s/%s", expires, bucket, key);
    if (token && *token)
        vbuf_printf(&sts, "?security-token=%s", token);
    char sig[29];
    vodup_oss_sign_v1(sig, cr->secret, vbuf_cstr(&sts), sts.len);
    vod_file_url(c->r->srv, bucket, key, out);
    vbuf_puts(out, "?OSSAccessKeyId=");
    vodup_uri_encode(out, cr->key_id, strlen(cr->key_id), 0);
    vbuf_printf(out, "&Expires=%lld&Signature=", expires);
    vodup_uri_encode(out, sig, strlen(sig), 0);
    if (token && *token) {
        vbuf_puts(out, "&security-token=");
        vodup_uri_encode(out, token, strlen(token), 0);
    }
    vbuf_free(&sts);
}

/* The probe's fields of md (a JSON object, the caller's), or NULL when not probed. */
static json_t *probe_info(rpc_call *c, const vodup_meta_media *md)
{
    core co;
    rpc_core(c, &co);
    char *text = NULL;
    if (core_media_info_get(&co, md->id, &text, NULL) != VODUPD_OK || !text)
        return NULL;
    json_error_t err;
    json_t *j = json_loads(text, 0, &err);
    free(text);
    if (!json_is_object(j)) {
        json_decref(j);
        return NULL;
    }
    return j;
}

/* 1 when md's cover_url is the object URL of its own bucket (the probe's cover): then it
 * is handed out signed, with *key pointing at the key inside it (still %-encoded). */
static int own_cover(const vodupd *s, const vodup_meta_media *md, const char **key)
{
    if (!md->cover_url || !md->bucket)
        return 0;
    vbuf pre = VBUF_INIT;
    vod_file_url(s, md->bucket, "", &pre);
    int mine = !pre.oom && strncmp(md->cover_url, vbuf_cstr(&pre), pre.len) == 0;
    if (mine)
        *key = md->cover_url + pre.len;
    vbuf_free(&pre);
    return mine;
}

/* CoverURL of md for this caller: the probe's cover signed for ttl seconds; any other
 * (set with CreateUploadVideo's CoverURL) as given. The caller frees it; NULL: none. */
static char *cover_url(rpc_call *c, const vodup_meta_media *md, long ttl)
{
    const char *enc_key;
    if (!own_cover(c->r->srv, md, &enc_key))
        return md->cover_url && *md->cover_url ? strdup(md->cover_url) : NULL;
    /* Keys of covers are "<VideoId>/snapshots/cover-00001.jpg": nothing to decode. */
    vbuf u = VBUF_INIT;
    signed_url(c, md->bucket, enc_key, ttl, &u);
    char *r = u.oom ? NULL : strdup(vbuf_cstr(&u));
    vbuf_free(&u);
    return r;
}

void vod_probe_fields(rpc_call *c, json_t *video, const vodup_meta_media *md)
{
    char *cu = cover_url(c, md, PLAY_AUTH_TIMEOUT_DEFAULT);
    if (cu)
        json_object_set_new(video, "CoverURL", json_string(cu));
    free(cu);
    json_t *info = probe_info(c, md);
    json_t *d = info ? json_object_get(info, "Duration") : NULL;
    if (json_is_number(d))
        json_object_set_new(video, "Duration", json_real(json_number_value(d)));
    json_decref(info);
}

static int auth_timeout(rpc_call *c, long dflt, long *out)
{
    const char *v = rpc_param(c, "AuthTimeout");
    *out = dflt;
    if (!v || !*v)
        return 0;
    char *end;
    long x = strtol(v, &end, 10);
    if (*end || x < 1 || x > AUTH_TIMEOUT_MAX || strlen(v) > 10)
        return rpc_invalid(c, "AuthTimeout");
    *out = x;
    return 0;
}

static double num(json_t *info, const char *k)
{
    json_t *v = json_object_get(info, k);
    return json_is_number(v) ? json_number_value(v) : 0;
}

static const char *str(json_t *info, const char *k)
{
    json_t *v = json_object_get(info, k);
    return json_is_string(v) ? json_string_value(v) : "";
}

/* "mp4" for libavformat's "mov,mp4,m4a,3gp,3g2,mj2": the file's extension when it is
 * one of the demuxer's names, else the demuxer's first name. */
static void format_name(const vodup_meta_media *md, json_t *info, char *out, size_t n)
{
    const char *f = str(info, "Format");
    if (md->ext && *md->ext) {
        size_t el = strlen(md->ext);
        for (const char *p = f; *p;) {
            size_t l = strcspn(p, ",");
            if (l == el && strncmp(p, md->ext, l) == 0) {
                snprintf(out, n, "%s", md->ext);
                return;
            }
            p += l + (p[l] == ',');
        }
    }
    snprintf(out, n, "%.*s", (int)strcspn(f, ","), f);
}

/* The video named by VideoId, authorized for action; with its probe info (NULL when not
 * probed). 0, or -1 after answering. */
static int load(rpc_call *c, const char *action, vodup_meta_media *md, json_t **info)
{
    const char *id = rpc_param(c, "VideoId");
    if (!id || !*id)
        return rpc_missing(c, "VideoId");
    if (vod_authorize(c, action, "video", id) != 0)
        return -1;
    if (vod_get_media(c, "VideoId", "video", md) != 0)
        return -1;
    *info = probe_info(c, md);
    return 0;
}

static int get_play_info(rpc_call *c)
{
    long ttl;
    if (auth_timeout(c, PLAY_AUTH_TIMEOUT_DEFAULT, &ttl) != 0)
        return -1;
    vodup_meta_media md;
    json_t *info;
    if (load(c, "vod:GetPlayInfo", &md, &info) != 0)
        return -1;
    /* Only a probed, playable video has a stream (the service's answer for one still
     * uploading, transcoding or failed). */
    if (strcmp(md.status, "Normal") != 0 || !info || !md.bucket || !md.object_key) {
        json_decref(info);
        vodup_meta_media_clear(&md);
        return rpc_error(c, 404, "InvalidVideo.NoneStream", "The video has no stream to play (status %s).",
                         md.status);
    }
    char created[21], modified[21], fmt[32], buf[32];
    vodup_time_iso(created, md.created);
    vodup_time_iso(modified, md.modified);
    format_name(&md, info, fmt, sizeof fmt);
    vbuf url = VBUF_INIT;
    signed_url(c, md.bucket, md.object_key, ttl, &url);
    json_t *pi = json_object();
    json_object_set_new(pi, "Width", json_integer((json_int_t)num(info, "Width")));
    json_object_set_new(pi, "Height", json_integer((json_int_t)num(info, "Height")));
    json_object_set_new(pi, "Size", json_integer((json_int_t)md.size));
    json_object_set_new(pi, "PlayURL", json_string(vbuf_cstr(&url)));
    snprintf(buf, sizeof buf, "%.3f", num(info, "Bitrate") / 1000.0);   /* Kbps, as text */
    json_object_set_new(pi, "Bitrate", json_string(buf));
    json_object_set_new(pi, "Definition", json_string("OD"));           /* the original */
    snprintf(buf, sizeof buf, "%.4f", num(info, "Duration"));
    json_object_set_new(pi, "Duration", json_string(buf));
    json_object_set_new(pi, "Format", json_string(fmt));
    snprintf(buf, sizeof buf, "%g", num(info, "Fps"));
    json_object_set_new(pi, "Fps", json_string(buf));
    json_object_set_new(pi, "Encrypt", json_integer(0));
    json_object_set_new(pi, "StreamType", json_string(num(info, "Width") > 0 ? "video" : "audio"));
    json_object_set_new(pi, "Status", json_string("Normal"));
    json_object_set_new(pi, "CreationTime", json_string(created));
    json_object_set_new(pi, "ModificationTime", json_string(modified));
    vbuf_free(&url);

    json_t *base = json_object();
    char *cu = cover_url(c, &md, ttl);
    if (cu)
        json_object_set_new(base, "CoverURL", json_string(cu));
    free(cu);
    snprintf(buf, sizeof buf, "%.4f", num(info, "Duration"));
    json_object_set_new(base, "Duration", json_string(buf));
    json_object_set_new(base, "Status", json_string(md.status));
    if (md.title)
        json_object_set_new(base, "Title", json_string(md.title));
    json_object_set_new(base, "VideoId", json_string(md.id));
    json_object_set_new(base, "MediaType", json_string(num(info, "Width") > 0 ? "video" : "audio"));
    json_object_set_new(base, "CreationTime", json_string(created));
    json_decref(info);
    vodup_meta_media_clear(&md);
    json_t *body = json_pack("{s:o,s:{s:[o]}}", "VideoBase", base, "PlayInfoList", "PlayInfo", pi);
    return rpc_reply(c, body);
}

static int get_mezzanine_info(rpc_call *c)
{
    long ttl;
    if (auth_timeout(c, MEZZANINE_AUTH_TIMEOUT_DEFAULT, &ttl) != 0)
        return -1;
    vodup_meta_media md;
    json_t *info;
    if (load(c, "vod:GetMezzanineInfo", &md, &info) != 0)
        return -1;
    char created[21], buf[32];
    vodup_time_iso(created, md.created);
    json_t *mz = json_object();
    json_object_set_new(mz, "VideoId", json_string(md.id));
    if (md.file_name)
        json_object_set_new(mz, "FileName", json_string(md.file_name));
    json_object_set_new(mz, "Size", json_integer((json_int_t)md.size));
    /* The mezzanine's own status: the file is there once the upload completed. */
    int stored = strcmp(md.status, "Uploading") != 0 && strcmp(md.status, "UploadFail") != 0;
    json_object_set_new(mz, "Status", json_string(stored ? "Normal" : md.status));
    json_object_set_new(mz, "CreationTime", json_string(created));
    json_object_set_new(mz, "OutputType", json_string("oss"));
    if (stored && md.bucket && md.object_key) {
        vbuf u = VBUF_INIT;
        signed_url(c, md.bucket, md.object_key, ttl, &u);
        json_object_set_new(mz, "FileURL", json_string(vbuf_cstr(&u)));
        vbuf_free(&u);
    }
    if (info) {
        snprintf(buf, sizeof buf, "%.4f", num(info, "Duration"));
        json_object_set_new(mz, "Duration", json_string(buf));
        json_object_set_new(mz, "Bitrate", json_string((snprintf(buf, sizeof buf, "%.3f", num(info, "Bitrate") / 1000.0), buf)));
        json_object_set_new(mz, "Width", json_integer((json_int_t)num(info, "Width")));
        json_object_set_new(mz, "Height", json_integer((json_int_t)num(info, "Height")));
        snprintf(buf, sizeof buf, "%g", num(info, "Fps"));
        json_object_set_new(mz, "Fps", json_string(buf));
        json_t *vs = json_array(), *as = json_array();
        if (*str(info, "VideoCodec")) {
            json_t *v = json_object();
            json_object_set_new(v, "Index", json_string("0"));
            json_object_set_new(v, "CodecName", json_string(str(info, "VideoCodec")));
            json_object_set_new(v, "Width", json_string((snprintf(buf, sizeof buf, "%d", (int)num(info, "Width")), buf)));
            json_object_set_new(v, "Height", json_string((snprintf(buf, sizeof buf, "%d", (int)num(info, "Height")), buf)));
            json_object_set_new(v, "Fps", json_string((snprintf(buf, sizeof buf, "%g", num(info, "Fps")), buf)));
            json_array_append_new(vs, v);
        }
        if (*str(info, "AudioCodec")) {
            json_t *a = json_object();
            json_object_set_new(a, "Index", json_string(*str(info, "VideoCodec") ? "1" : "0"));
            json_object_set_new(a, "CodecName", json_string(str(info, "AudioCodec")));
            json_object_set_new(a, "Channels", json_string((snprintf(buf, sizeof buf, "%d", (int)num(info, "AudioChannels")), buf)));
            json_object_set_new(a, "SampleRate", json_string((snprintf(buf, sizeof buf, "%d", (int)num(info, "SampleRate")), buf)));
            json_array_append_new(as, a);
        }
        json_object_set_new(mz, "VideoStreamList", json_pack("{s:o}", "VideoStream", vs));
        json_object_set_new(mz, "AudioStreamList", json_pack("{s:o}", "AudioStream", as));
    }
    json_decref(info);
    vodup_meta_media_clear(&md);
    json_t *body = json_object();
    json_object_set_new(body, "Mezzanine", mz);
    return rpc_reply(c, body);
}

const rpc_action vod_play_actions[] = {
    {"GetPlayInfo", get_play_info},
    {"GetMezzanineInfo", get_mezzanine_info},
    {NULL, NULL},
};
