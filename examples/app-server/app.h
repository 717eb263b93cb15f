/* app.h - the example application server: an authorization service for uploads.
 *
 * It is what an application deploys next to its own backend: it knows its users (here:
 * bearer tokens from the config file), holds the account AccessKey, and hands clients
 * upload credentials for one file at a time, so the AccessKey never leaves the server. */
#ifndef APP_SERVER_H
#define APP_SERVER_H

#include <jansson.h>
#include <microhttpd.h>
#include <pthread.h>

#include <vodup/vodup.h>

#if MHD_VERSION < 0x00097002
typedef int app_mhd_result;
#else
typedef enum MHD_Result app_mhd_result;
#endif

/* Limits: a request body is a small JSON document. */
#define APP_MAX_BODY (64 * 1024)
#define APP_MAX_TOKENS 1024
/* Videos whose credentials this server handed out, remembered so that a user can refresh
 * only their own (in memory: a real service keeps this in its database). */
#define APP_MAX_OWNED 4096
#define APP_MAX_CORS_ORIGINS 64

typedef struct app_user {
    unsigned char token_hash[32]; /* SHA-256 of the bearer token: compared in constant time */
    char *name;
} app_user;

typedef struct app_config {
    char *listen_host;
    unsigned port;
    char *vod_endpoint;
    char *access_key_id;
    char *access_key_secret;
    char *role_arn;       /* NULL: /api/sts answers 501 */
    char *static_dir;     /* NULL: no static files; else its realpath */
    app_user *users;
    size_t nusers;
    char **cors_origins;  /* web origins whose pages may call /api/ (CORS); NULL: none */
    size_t ncors;
} app_config;

typedef struct app_owned {
    char *media_id;
    const char *user;     /* borrowed from the config */
    int image;            /* 1: an ImageId (GetImageInfo), 0: a VideoId (GetVideoInfo) */
} app_owned;

typedef struct app {
    app_config cfg;
    vodup_api *api;
    pthread_mutex_t mu;   /* guards owned */
    app_owned owned[APP_MAX_OWNED];
    size_t nowned, next_owned;
} app;

/* A response being built: status, JSON body, and what the log line says. */
typedef struct app_reply {
    unsigned status;
    json_t *body;
    struct MHD_Response *raw;  /* static files: a ready response instead of body */
} app_reply;

/* config.c */
int app_config_load(app_config *cfg, const char *path);
void app_config_free(app_config *cfg);
/* The user whose token this is, or NULL. Looks at every token whatever the result, so
 * the time taken does not tell how close a guess was. */
const char *app_authenticate(const app_config *cfg, const char *token);
/* origin (the request's Origin header) when it is one of cors_origins, else NULL. */
const char *app_cors_origin(const app_config *cfg, const char *origin);

/* handlers.c: the /api/ endpoints. user is authenticated; body is the request's JSON;
 * conn gives GET endpoints their query arguments. */
void app_handle_api(app *a, struct MHD_Connection *conn, const char *method, const char *url, const char *user,
                    const char *body, size_t len, app_reply *out);
/* Fills out with {"Code","Message"} and status. */
void app_error(app_reply *out, unsigned status, const char *code, const char *message);

/* static.c: GET/HEAD of a file under static_dir. */
void app_serve_static(const app *a, const char *method, const char *url, app_reply *out);

#endif
