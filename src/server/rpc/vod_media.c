/* vod_media.c - the VOD actions that read and delete media, and the event callback
 * configuration: GetVideoInfo, GetImageInfo, GetVideoList, DeleteVideo,
 * SetMessageCallback, GetMessageCallback. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "common/timefmt.h"
#include "server/rpc/rpc.h"
#include "server/rpc/status.h"
#include "server/rpc/vod.h"
#include "server/store/meta_vod.h"

static void set_str(json_t *o, const char *k, const char *v)
{
    if (v && *v)
        json_object_set_new(o, k, json_string(v));
}

static json_t *video_json(const vodupd *s, const vodup_meta_media *md)
{
    char created[21], modified[21];
    vodup_time_iso(created, md->created);
    vodup_time_iso(modified, md->modified);
    json_t *v = json_object();
    json_object_set_new(v, "VideoId", json_string(md->id));
    set_str(v, "Title", md->title);
    set_str(v, "Description", md->description);
    set_str(v, "CoverURL", md->cover_url);
    json_object_set_new(v, "Status", json_string(md->status));
    json_object_set_new(v, "CreationTime", json_string(created));
    json_object_set_new(v, "ModificationTime", json_string(modified));
    json_object_set_new(v, "Size", json_integer((json_int_t)(md->size ? md->size : md->file_size)));
    if (md->cate_id >= 0)
        json_object_set_new(v, "CateId", json_integer(md->cate_id));
    set_str(v, "Tags", md->tags);
    set_str(v, "TemplateGroupId", md->template_group_id);
    set_str(v, "StorageLocation", md->storage_location);
    json_object_set_new(v, "RegionId", json_string(s->region));
    set_str(v, "AppId", md->app_id);
    set_str(v, "UserData", md->user_data);
    json_object_set_new(v, "StorageClass", json_string("Standard"));
    json_object_set_new(v, "AuditStatus", json_string("Normal"));
    json_object_set_new(v, "DownloadSwitch", json_string("on"));
    return v;
}

static int get_video_info(rpc_call *c)
{
    const char *id = rpc_param(c, "VideoId");
    if (!id || !*id)
        return rpc_missing(c, "VideoId");
    if (vod_authorize(c, "vod:GetVideoInfo", "video", id) != 0)
        return -1;
    vodup_meta_media md;
    if (vod_get_media(c, "VideoId", "video", &md) != 0)
        return -1;
    json_t *body = json_object();
    json_t *video = video_json(c->r->srv, &md);
    vod_probe_fields(c, video, &md);
    json_object_set_new(body, "Video", video);
    vodup_meta_media_clear(&md);
    return rpc_reply(c, body);
}

static int get_image_info(rpc_call *c)
{
    const char *id = rpc_param(c, "ImageId");
    if (!id || !*id)
        return rpc_missing(c, "ImageId");
    if (vod_authorize(c, "vod:GetImageInfo", "image", id) != 0)
        return -1;
    vodup_meta_media md;
    if (vod_get_media(c, "ImageId", "image", &md) != 0)
        return -1;
    char created[21];
    vodup_time_iso(created, md.created);
    vbuf url = VBUF_INIT;
    vod_file_url(c->r->srv, md.bucket, md.object_key, &url);
    json_t *info = json_object();
    json_object_set_new(info, "ImageId", json_string(md.id));
    set_str(info, "Title", md.title);
    set_str(info, "Description", md.description);
    json_object_set_new(info, "CreationTime", json_string(created));
    if (md.cate_id >= 0)
        json_object_set_new(info, "CateId", json_integer(md.cate_id));
    set_str(info, "Tags", md.tags);
    set_str(info, "StorageLocation", md.storage_location);
    json_object_set_new(info, "URL", json_string(vbuf_cstr(&url)));
    set_str(info, "ImageType", md.image_type);
    json_object_set_new(info, "Status", json_string(md.status));
    set_str(info, "AppId", md.app_id);
    json_t *mz = json_object();
    json_object_set_new(mz, "FileSize", json_integer((json_int_t)md.size));
    json_object_set_new(mz, "FileURL", json_string(vbuf_cstr(&url)));
    set_str(mz, "OriginalFileName", md.file_name);
    json_object_set_new(info, "Mezzanine", mz);
    vbuf_free(&url);
    vodup_meta_media_clear(&md);
    json_t *body = json_object();
    json_object_set_new(body, "ImageInfo", info);
    return rpc_reply(c, body);
}

typedef struct list_ctx {
    rpc_call *c;
    json_t *arr;
} list_ctx;

static int list_cb(const vodup_meta_media *md, void *u)
{
    list_ctx *l = u;
    json_t *video = video_json(l->c->r->srv, md);
    vod_probe_fields(l->c, video, md);
    json_array_append_new(l->arr, video);
    return 0;
}

static int parse_int_param(rpc_call *c, const char *name, long *out, long dflt, long lo, long hi)
{
    const char *v = rpc_param(c, name);
    *out = dflt;
    if (!v || !*v)
        return 0;
    char *end;
    long x = strtol(v, &end, 10);
    if (*end || x < lo || x > hi || strlen(v) > 10)
        return rpc_invalid(c, name);
    *out = x;
    return 0;
}

static int get_video_list(rpc_call *c)
{
    if (vod_authorize(c, "vod:GetVideoList", NULL, NULL) != 0)
        return -1;
    long page_no, page_size, cate;
    if (parse_int_param(c, "PageNo", &page_no, 1, 1, 1000000) != 0 ||
        parse_int_param(c, "PageSize", &page_size, 10, 1, 100) != 0 ||
        parse_int_param(c, "CateId", &cate, -1, 0, 2147483647) != 0)
        return -1;
    if (page_no * page_size > 5000)
        return rpc_error(c, 400, "VideoListExceededMax", "Only the first 5000 videos can be listed.");
    vodup_meta_media_filter f;
    memset(&f, 0, sizeof f);
    f.kind = "video";
    f.statuses = rpc_param(c, "Status");
    f.cate_id = cate;
    f.storage_location = rpc_param(c, "StorageLocation");
    const char *sort = rpc_param(c, "SortBy");
    if (sort && strcmp(sort, "CreationTime:Asc") == 0)
        f.ascending = 1;
    else if (sort && *sort && strcmp(sort, "CreationTime:Desc") != 0)
        return rpc_invalid(c, "SortBy");
    const char *st = rpc_param(c, "StartTime"), *et = rpc_param(c, "EndTime");
    if (st && *st && vodup_time_parse_iso(st, &f.start) != 0)
        return rpc_invalid(c, "StartTime");
    if (et && *et && vodup_time_parse_iso(et, &f.end) != 0)
        return rpc_invalid(c, "EndTime");
    f.offset = (size_t)((page_no - 1) * page_size);
    f.limit = (size_t)page_size;
    list_ctx l = {c, json_array()};
    size_t total = 0;
    core co;
    rpc_core(c, &co);
    if (core_media_list(&co, c->r->cred.account_id, &f, list_cb, &l, &total, NULL) != VODUPD_OK) {
        json_decref(l.arr);
        return rpc_error(c, 500, "InternalError", "The metadata store failed.");
    }
    json_t *body = json_pack("{s:I,s:{s:o}}", "Total", (json_int_t)total, "VideoList", "Video", l.arr);
    return rpc_reply(c, body);
}

#define DELETE_MAX_IDS 20

static int delete_video(rpc_call *c)
{
    const char *ids = rpc_param(c, "VideoIds");
    if (!ids || !*ids)
        return rpc_missing(c, "VideoIds");
    /* Split first, then authorize each id on its own resource (video/<id>) before any is
     * looked up or deleted: a caller allowed none of them gets Forbidden.RAM and learns
     * nothing about which exist; one allowed some gets the others in ForbiddenVideoIds. */
    char id[DELETE_MAX_IDS][64];
    int allowed[DELETE_MAX_IDS], count = 0, nallowed = 0, given = 0;
    json_t *missing = json_array(), *forbidden = json_array();
    const char *p = ids;
    while (*p) {
        size_t n = strcspn(p, ",");
        if (n > 0 && ++given > DELETE_MAX_IDS) {
            json_decref(missing);
            json_decref(forbidden);
            return rpc_error(c, 400, "VideoIdsExceededMax", "The VideoIds exceeded maximum (20).");
        }
        if (n > 0 && n < sizeof id[0]) {
            memcpy(id[count], p, n);
            id[count][n] = '\0';
            char res[256];
            allowed[count] = vod_resource(c, "video", id[count], res, sizeof res) == 0 &&
                             auth_authorize(&c->r->cred, "vod:DeleteVideo", res);
            nallowed += allowed[count];
            count++;
        } else if (n > 0) {
            /* Longer than any id: cannot exist, and names no resource anyone holds. */
            json_array_append_new(missing, json_stringn(p, 63));
        }
        p += n;
        if (*p == ',')
            p++;
    }
    if (nallowed == 0 && count > 0) {
        json_decref(missing);
        json_decref(forbidden);
        return rpc_error(c, 403, "Forbidden.RAM",
                         "User not authorized to operate on the specified resource, or this API doesn't support RAM.");
    }
    core co;
    rpc_core(c, &co);
    int deleted = 0;
    for (int i = 0; i < count; i++) {
        if (!allowed[i]) {
            json_array_append_new(forbidden, json_string(id[i]));
            continue;
        }
        /* The core kicks the collector and revokes the media's upload credentials. */
        vodupd_status st = core_media_delete(&co, c->r->cred.account_id, id[i], "video", NULL);
        if (st == VODUPD_OK)
            deleted++;
        else if (st == VODUPD_ENOKEY)
            json_array_append_new(missing, json_string(id[i]));
        else
            json_array_append_new(forbidden, json_string(id[i]));
    }
    if (deleted == 0 && json_array_size(forbidden) == 0) {
        json_decref(missing);
        json_decref(forbidden);
        return rpc_error(c, 404, "InvalidVideo.NotFound", "The video does not exist.");
    }
    json_t *body = json_pack("{s:o,s:o}", "NonExistVideoIds", missing, "ForbiddenVideoIds", forbidden);
    return rpc_reply(c, body);
}

/* AuthKey rules of the real service: at most 32 characters with upper- and lower-case
 * letters and digits. */
static int valid_auth_key(const char *k)
{
    int up = 0, lo = 0, dig = 0;
    size_t n = strlen(k);
    if (n == 0 || n > 32)
        return 0;
    for (const char *p = k; *p; p++) {
        if (*p >= 'A' && *p <= 'Z')
            up = 1;
        else if (*p >= 'a' && *p <= 'z')
            lo = 1;
        else if (*p >= '0' && *p <= '9')
            dig = 1;
        else
            return 0;
    }
    return up && lo && dig;
}

static int set_message_callback(rpc_call *c)
{
    if (vod_authorize(c, "vod:SetMessageCallback", NULL, NULL) != 0)
        return -1;
    const char *type = rpc_param(c, "CallbackType");
    const char *url = rpc_param(c, "CallbackURL");
    const char *event_list = rpc_param(c, "EventTypeList");
    const char *sw = rpc_param(c, "AuthSwitch");
    const char *key = rpc_param(c, "AuthKey");
    type = type && *type ? type : "HTTP";
    if (strcasecmp(type, "HTTP") != 0)
        return rpc_error(c, 400, "InvalidParameter",
                         "The specified parameter \"CallbackType\" is not valid: vodupd delivers HTTP callbacks only.");
    if (url && *url && !vod_valid_callback_url(url))
        return rpc_invalid(c, "CallbackURL");
    if (sw && *sw && strcmp(sw, "on") != 0 && strcmp(sw, "off") != 0)
        return rpc_invalid(c, "AuthSwitch");
    if (key && *key && !valid_auth_key(key))
        return rpc_error(c, 400, "InvalidParameter",
                         "The specified parameter \"AuthKey\" is not valid: at most 32 characters, with upper-case, "
                         "lower-case letters and digits.");
    /* Unset fields keep their previous values, as a partial update. */
    core co;
    rpc_core(c, &co);
    char *old = NULL;
    json_t *cfg = NULL;
    if (core_callback_get(&co, c->r->cred.account_id, &old, NULL) == VODUPD_OK && old)
        cfg = json_loads(old, 0, NULL);
    free(old);
    if (!json_is_object(cfg)) {
        json_decref(cfg);
        cfg = json_pack("{s:s,s:s,s:s,s:s,s:s}", "CallbackType", "HTTP", "CallbackURL", "", "EventTypeList", "ALL",
                        "AuthSwitch", "off", "AuthKey", "");
    }
    json_object_set_new(cfg, "CallbackType", json_string("HTTP"));
    if (url)
        json_object_set_new(cfg, "CallbackURL", json_string(url));
    if (event_list)
        json_object_set_new(cfg, "EventTypeList", json_string(event_list));
    if (sw && *sw)
        json_object_set_new(cfg, "AuthSwitch", json_string(sw));
    if (key)
        json_object_set_new(cfg, "AuthKey", json_string(key));
    const char *app = rpc_param(c, "AppId");
    json_object_set_new(cfg, "AppId", json_string(app && *app ? app : "app-1000000"));
    char *text = json_dumps(cfg, JSON_COMPACT | JSON_PRESERVE_ORDER);
    json_decref(cfg);
    /* The core kicks the event sender: events waiting for a callback may go now. */
    vodupd_detail d = {0};
    vodupd_status st = text ? core_callback_set(&co, c->r->cred.account_id, text, &d) : VODUPD_ENOMEM;
    free(text);
    if (st != VODUPD_OK)
        return rpc_status_error(c, st, &d, "Saving the callback configuration failed.");
    return rpc_reply(c, json_object());
}

static int get_message_callback(rpc_call *c)
{
    if (vod_authorize(c, "vod:GetMessageCallback", NULL, NULL) != 0)
        return -1;
    core co;
    rpc_core(c, &co);
    char *text = NULL;
    vodupd_detail d = {0};
    vodupd_status st = core_callback_get(&co, c->r->cred.account_id, &text, &d);
    if (st != VODUPD_OK)
        return rpc_status_error(c, st, &d, "The metadata store failed.");
    json_t *cfg = text ? json_loads(text, 0, NULL) : NULL;
    free(text);
    json_t *body = json_object();
    if (json_is_object(cfg))
        json_object_set(body, "MessageCallback", cfg);
    json_decref(cfg);
    return rpc_reply(c, body);
}

const rpc_action vod_media_actions[] = {
    {"GetVideoInfo", get_video_info},
    {"GetImageInfo", get_image_info},
    {"GetVideoList", get_video_list},
    {"DeleteVideo", delete_video},
    {"SetMessageCallback", set_message_callback},
    {"GetMessageCallback", get_message_callback},
    {NULL, NULL},
};
