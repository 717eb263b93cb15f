/* handlers.c - the /api/ endpoints: each turns an authenticated user's request into one
 * VOD or STS API call signed with the account AccessKey, and answers only what the
 * client needs for one upload (never the AccessKey). */
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "app.h"

#define VOD_VERSION "2017-03-21"
#define STS_VERSION "2015-04-01"
#define MAX_PARAMS 16

void app_error(app_reply *out, unsigned status, const char *code, const char *message)
{
    json_decref(out->body);
    out->status = status;
    out->body = json_pack("{s:s,s:s}", "Code", code, "Message", message);
}

/* Request fields passed through to the API as parameters, by the same names. */
typedef struct params {
    const char *v[2 * MAX_PARAMS + 1];
    char owned[MAX_PARAMS][32]; /* numbers rendered as text */
    int n;
} params;

static void add(params *p, const char *name, const char *value)
{
    if (!value || p->n >= MAX_PARAMS)
        return;
    p->v[2 * p->n] = name;
    p->v[2 * p->n + 1] = value;
    p->n++;
    p->v[2 * p->n] = NULL;
}

/* Copies body[name] (a string, or an integer rendered as text) into p. -1 when it has
 * another type. */
static int pass(params *p, json_t *body, const char *name)
{
    json_t *v = json_object_get(body, name);
    if (!v || json_is_null(v))
        return 0;
    if (json_is_string(v)) {
        add(p, name, json_string_value(v));
        return 0;
    }
    if (json_is_integer(v) && p->n < MAX_PARAMS) {
        snprintf(p->owned[p->n], sizeof p->owned[p->n], "%lld", (long long)json_integer_value(v));
        add(p, name, p->owned[p->n]);
        return 0;
    }
    return -1;
}

/* Calls the API; on failure fills out with an error that says whose fault it was. */
static json_t *call(app *a, const char *version, const char *action, const params *p, app_reply *out)
{
    char *body = NULL;
    int rc = vodup_api_call(a->api, version, action, p->v, &body);
    json_t *j = body ? json_loads(body, 0, NULL) : NULL;
    vodup_free(body);
    if (rc == VODUP_OK && json_is_object(j))
        return j;
    const char *code = json_string_value(json_object_get(j, "Code"));
    const char *msg = json_string_value(json_object_get(j, "Message"));
    char text[512];
    if (rc == VODUP_OK) {
        app_error(out, 502, "BadUpstreamResponse", "The VOD service answered something that is not JSON.");
    } else if (rc == VODUP_ENETWORK) {
        snprintf(text, sizeof text, "The VOD service at %s cannot be reached.", a->cfg.vod_endpoint);
        app_error(out, 502, "VodUnreachable", text);
    } else if (rc == VODUP_EAUTH || rc == VODUP_EEXPIRED) {
        /* The client cannot fix this: it is the server's AccessKey that was refused. */
        snprintf(text, sizeof text, "The VOD service refused this server's AccessKey: %s: %s", code ? code : "?",
                 msg ? msg : "");
        app_error(out, 502, "UpstreamAuthFailed", text);
    } else if (code) {
        /* Parameter errors are the client's to fix; anything else is the service's. */
        int client = strncmp(code, "Invalid", 7) == 0 || strncmp(code, "Missing", 7) == 0 ||
                     strcmp(code, "Forbidden") == 0 || strncmp(code, "NoSuch", 6) == 0 ||
                     strcmp(code, "InvalidVideo.NotFound") == 0;
        app_error(out, client ? 400 : 502, code, msg ? msg : "");
    } else {
        app_error(out, 502, "UpstreamError", vodup_api_last_error(a->api));
    }
    json_decref(j);
    return NULL;
}

static json_t *pick(json_t *from, const char *const *keys)
{
    json_t *o = json_object();
    for (int i = 0; keys[i]; i++) {
        json_t *v = json_object_get(from, keys[i]);
        if (v)
            json_object_set(o, keys[i], v);
    }
    return o;
}

static void remember(app *a, const char *media_id, const char *user, int image)
{
    if (!media_id)
        return;
    pthread_mutex_lock(&a->mu);
    /* A ring: the oldest entries go first, as they are the least likely to be refreshed. */
    app_owned *o = &a->owned[a->next_owned];
    free(o->media_id);
    o->media_id = strdup(media_id);
    o->user = user;
    o->image = image;
    a->next_owned = (a->next_owned + 1) % APP_MAX_OWNED;
    if (a->nowned < APP_MAX_OWNED)
        a->nowned++;
    pthread_mutex_unlock(&a->mu);
}

/* What user was handed credentials for media_id by this server as: 0 a video, 1 an image;
 * -1 if not (never, for someone else, or forgotten). */
static int owned_kind(app *a, const char *media_id, const char *user)
{
    int kind = -1;
    pthread_mutex_lock(&a->mu);
    for (size_t i = 0; i < a->nowned && kind < 0; i++)
        if (a->owned[i].media_id && strcmp(a->owned[i].media_id, media_id) == 0 && strcmp(a->owned[i].user, user) == 0)
            kind = a->owned[i].image;
    pthread_mutex_unlock(&a->mu);
    return kind;
}

/* 1 if user was handed credentials for media_id by this server. */
static int owns(app *a, const char *media_id, const char *user)
{
    return owned_kind(a, media_id, user) >= 0;
}

static void upload_auth(app *a, const char *user, json_t *body, app_reply *out)
{
    static const char *const fields[] = {"Title", "FileName", "FileSize", "Description", "CoverURL", "CateId",
                                         "Tags", "TemplateGroupId", "UserData", "StorageLocation", "WorkflowId",
                                         NULL};
    if (!json_is_string(json_object_get(body, "Title")) || !json_is_string(json_object_get(body, "FileName")))
        return app_error(out, 400, "MissingParameter", "Title and FileName are required strings.");
    params p = {.n = 0};
    for (int i = 0; fields[i]; i++)
        if (pass(&p, body, fields[i]) != 0)
            return app_error(out, 400, "InvalidParameter", "A field has the wrong type.");
    json_t *r = call(a, VOD_VERSION, "CreateUploadVideo", &p, out);
    if (!r)
        return;
    static const char *const keys[] = {"VideoId", "UploadAddress", "UploadAuth", "RequestId", NULL};
    out->status = 200;
    out->body = pick(r, keys);
    remember(a, json_string_value(json_object_get(r, "VideoId")), user, 0);
    json_decref(r);
}

static void refresh_auth(app *a, const char *user, json_t *body, app_reply *out)
{
    const char *id = json_string_value(json_object_get(body, "VideoId"));
    if (!id || !*id)
        return app_error(out, 400, "MissingParameter", "VideoId is required.");
    /* Without this check any user could take over another's upload. */
    if (!owns(a, id, user))
        return app_error(out, 403, "Forbidden", "This video's upload was not started by you through this server.");
    params p = {.n = 0};
    add(&p, "VideoId", id);
    json_t *r = call(a, VOD_VERSION, "RefreshUploadVideo", &p, out);
    if (!r)
        return;
    static const char *const keys[] = {"VideoId", "UploadAddress", "UploadAuth", "RequestId", NULL};
    out->status = 200;
    out->body = pick(r, keys);
    json_decref(r);
}

static void image_upload_auth(app *a, const char *user, json_t *body, app_reply *out)
{
    static const char *const fields[] = {"ImageType", "ImageExt", "Title", "Tags", "Description", "CateId",
                                         "StorageLocation", "UserData", NULL};
    params p = {.n = 0};
    for (int i = 0; fields[i]; i++)
        if (pass(&p, body, fields[i]) != 0)
            return app_error(out, 400, "InvalidParameter", "A field has the wrong type.");
    if (!json_object_get(body, "ImageType"))
        add(&p, "ImageType", "default");
    json_t *r = call(a, VOD_VERSION, "CreateUploadImage", &p, out);
    if (!r)
        return;
    static const char *const keys[] = {"ImageId", "ImageURL", "FileURL", "UploadAddress", "UploadAuth", "RequestId",
                                       NULL};
    out->status = 200;
    out->body = pick(r, keys);
    remember(a, json_string_value(json_object_get(r, "ImageId")), user, 1);
    json_decref(r);
}

/* GET /api/media?id=: what VOD says of one of the user's own media (GetVideoInfo or
 * GetImageInfo), flattened to {VideoId|ImageId, Status, Size, Title, CreationTime, ...}.
 * Media the user did not start through this server answer 404 exactly as unknown ids
 * do, so that nobody can learn whether someone else's id exists. */
static void media(app *a, const char *user, json_t *body, app_reply *out)
{
    const char *id = json_string_value(json_object_get(body, "id"));
    if (!id || !*id)
        return app_error(out, 400, "MissingParameter", "The query argument id (a VideoId or ImageId) is required.");
    int image = owned_kind(a, id, user);
    if (image < 0)
        return app_error(out, 404, "NotFound", "You have no media with this id.");
    params p = {.n = 0};
    add(&p, image ? "ImageId" : "VideoId", id);
    json_t *r = call(a, VOD_VERSION, image ? "GetImageInfo" : "GetVideoInfo", &p, out);
    if (!r)
        return;
    if (image) {
        static const char *const keys[] = {"ImageId", "Status", "Title", "CreationTime", "ImageType", "URL", NULL};
        json_t *info = json_object_get(r, "ImageInfo");
        out->body = pick(info, keys);
        /* Images keep their size with their original file, videos at the top. */
        json_t *size = json_object_get(json_object_get(info, "Mezzanine"), "FileSize");
        if (size)
            json_object_set(out->body, "Size", size);
    } else {
        static const char *const keys[] = {"VideoId", "Status", "Size", "Title", "CreationTime", "Duration",
                                           "CoverURL", NULL};
        out->body = pick(json_object_get(r, "Video"), keys);
    }
    json_object_set(out->body, "RequestId", json_object_get(r, "RequestId"));
    out->status = 200;
    json_decref(r);
}

/* The session policy of /api/sts credentials. The role may allow much more (the README's
 * example attaches AliyunVODFullAccess); AssumeRole's Policy parameter intersects, so the
 * credentials a browser or phone holds can only start uploads into the account's VOD
 * storage. Everything that acts on existing media (RefreshUploadVideo, GetVideoInfo,
 * DeleteVideo, ...) or on the account (GetVideoList, Get/SetMessageCallback) is refused
 * to them, so one user's credentials cannot refresh (take over), read or delete another
 * user's media, list the account's media or read or redirect its callbacks. A per-user
 * scope ("the media this user created") cannot be written as a policy, because a media's
 * id exists only after its creation. So STS-mode clients upload within the lifetime of
 * the UploadAuth that CreateUpload* returned them (vodupd --upload-auth-ttl, 3000 s by
 * default); longer uploads, and resuming one after that, use /api/upload-auth and
 * /api/refresh-auth, where this server records which user started which upload and
 * refreshes only for that user. */
static const char STS_SESSION_POLICY[] =
    "{\"Version\":\"1\",\"Statement\":[{\"Effect\":\"Allow\","
    "\"Action\":[\"vod:CreateUploadVideo\",\"vod:CreateUploadImage\"],\"Resource\":\"*\"}]}";

static void sts(app *a, const char *user, json_t *body, app_reply *out)
{
    if (!a->cfg.role_arn)
        return app_error(out, 501, "NotConfigured", "This server has no role_arn: STS credentials are not offered.");
    /* RoleSessionName is 2-64 of [A-Za-z0-9.@_-]: the user's name, made to fit, so the
     * service's records show who uploaded. */
    char session[65];
    size_t n = 0;
    for (const char *s = user; *s && n < 64; s++)
        session[n++] = isalnum((unsigned char)*s) || strchr(".@_-", *s) ? *s : '_';
    while (n < 2)
        session[n++] = '_';
    session[n] = '\0';
    params p = {.n = 0};
    add(&p, "RoleArn", a->cfg.role_arn);
    add(&p, "RoleSessionName", session);
    add(&p, "Policy", STS_SESSION_POLICY);
    if (pass(&p, body, "DurationSeconds") != 0)
        return app_error(out, 400, "InvalidParameter", "DurationSeconds must be a number.");
    json_t *r = call(a, STS_VERSION, "AssumeRole", &p, out);
    if (!r)
        return;
    static const char *const keys[] = {"AccessKeyId", "AccessKeySecret", "SecurityToken", "Expiration", NULL};
    out->status = 200;
    out->body = pick(json_object_get(r, "Credentials"), keys);
    /* The client in STS mode calls the VOD API itself: tell it where. */
    json_object_set_new(out->body, "Endpoint", json_string(a->cfg.vod_endpoint));
    json_decref(r);
}

void app_handle_api(app *a, struct MHD_Connection *conn, const char *method, const char *url, const char *user,
                    const char *body, size_t len, app_reply *out)
{
    static const struct {
        const char *path;
        const char *method;
        void (*fn)(app *, const char *, json_t *, app_reply *);
    } routes[] = {{"/api/upload-auth", "POST", upload_auth},
                  {"/api/refresh-auth", "POST", refresh_auth},
                  {"/api/image-upload-auth", "POST", image_upload_auth},
                  {"/api/sts", "POST", sts},
                  {"/api/media", "GET", media}};
    for (size_t i = 0; i < sizeof routes / sizeof routes[0]; i++) {
        if (strcmp(url, routes[i].path) != 0)
            continue;
        if (strcmp(method, routes[i].method) != 0)
            return app_error(out, 405, "MethodNotAllowed", routes[i].method[0] == 'G' ? "Use GET." : "Use POST.");
        if (routes[i].method[0] == 'G') {
            /* A GET's fields are its query arguments (MHD has decoded them). */
            const char *id = MHD_lookup_connection_value(conn, MHD_GET_ARGUMENT_KIND, "id");
            json_t *q = json_pack("{s:s?}", "id", id);
            routes[i].fn(a, user, q, out);
            json_decref(q);
            return;
        }
        json_error_t jerr;
        json_t *j = len ? json_loadb(body, len, 0, &jerr) : json_object();
        if (!json_is_object(j)) {
            json_decref(j);
            return app_error(out, 400, "InvalidJSON", "The body must be a JSON object.");
        }
        routes[i].fn(a, user, j, out);
        json_decref(j);
        return;
    }
    app_error(out, 404, "NotFound", "No such API.");
}
