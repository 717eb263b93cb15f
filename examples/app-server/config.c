/* config.c - the app server's JSON config file and its users.
 *
 *   {"listen": "127.0.0.1:8080", "vod_endpoint": "http://127.0.0.1:9000",
 *    "access_key_id": "...", "access_key_secret": "...",
 *    "tokens": {"<bearer token>": "<user name>", ...},
 *    "role_arn": "acs:ram::...:role/uploader",      (optional: enables /api/sts)
 *    "static_dir": "public",                         (optional; relative to the file)
 *    "cors_origins": ["https://app.example.com"]}    (optional: pages that may call /api/)
 */
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include <openssl/crypto.h>
#include <openssl/sha.h>

#include "app.h"

static char *dup_field(json_t *root, const char *key, int required, const char *path)
{
    json_t *v = json_object_get(root, key);
    if (!v || json_is_null(v)) {
        if (required)
            fprintf(stderr, "app-server: %s: \"%s\" is required\n", path, key);
        return NULL;
    }
    if (!json_is_string(v) || !*json_string_value(v)) {
        fprintf(stderr, "app-server: %s: \"%s\" must be a non-empty string\n", path, key);
        return NULL;
    }
    return strdup(json_string_value(v));
}

/* "host:port", "[v6]:port" or ":port". */
static int parse_listen(app_config *cfg, const char *s)
{
    const char *colon = strrchr(s, ':');
    if (!colon)
        return -1;
    const char *h = s, *he = colon;
    if (*h == '[' && he > h && he[-1] == ']') {
        h++;
        he--;
    }
    char *end;
    errno = 0;
    unsigned long port = strtoul(colon + 1, &end, 10);
    if (errno || *end || colon[1] == '\0' || port > 65535)
        return -1;
    cfg->listen_host = strndup(h, (size_t)(he - h));
    cfg->port = (unsigned)port;
    return cfg->listen_host ? 0 : -1;
}

static char *resolve_dir(const char *dir, const char *config_path)
{
    char *joined = NULL;
    if (dir[0] != '/') {
        const char *slash = strrchr(config_path, '/');
        size_t dl = slash ? (size_t)(slash - config_path) : 1;
        size_t n = dl + 1 + strlen(dir) + 1;
        joined = malloc(n);
        if (!joined)
            return NULL;
        snprintf(joined, n, "%.*s/%s", (int)dl, slash ? config_path : ".", dir);
        dir = joined;
    }
    char *real = realpath(dir, NULL);
    struct stat sb;
    if (!real || stat(real, &sb) != 0 || !S_ISDIR(sb.st_mode)) {
        fprintf(stderr, "app-server: static_dir %s is not a directory: %s\n", dir, real ? "not a directory" : strerror(errno));
        free(real);
        real = NULL;
    }
    free(joined);
    return real;
}

int app_config_load(app_config *cfg, const char *path)
{
    memset(cfg, 0, sizeof *cfg);
    json_error_t jerr;
    json_t *root = json_load_file(path, 0, &jerr);
    if (!json_is_object(root)) {
        fprintf(stderr, "app-server: %s:%d: %s\n", path, jerr.line, root ? "not a JSON object" : jerr.text);
        json_decref(root);
        return -1;
    }
    int rc = -1;
    char *listen = dup_field(root, "listen", 0, path);
    if (parse_listen(cfg, listen ? listen : "127.0.0.1:8080") != 0) {
        fprintf(stderr, "app-server: %s: \"listen\" must be HOST:PORT, not \"%s\"\n", path, listen);
        goto out;
    }
    cfg->vod_endpoint = dup_field(root, "vod_endpoint", 1, path);
    cfg->access_key_id = dup_field(root, "access_key_id", 1, path);
    cfg->access_key_secret = dup_field(root, "access_key_secret", 1, path);
    if (!cfg->vod_endpoint || !cfg->access_key_id || !cfg->access_key_secret)
        goto out;
    if (json_object_get(root, "role_arn") && !(cfg->role_arn = dup_field(root, "role_arn", 0, path)))
        goto out;
    if (json_object_get(root, "static_dir")) {
        char *dir = dup_field(root, "static_dir", 0, path);
        cfg->static_dir = dir ? resolve_dir(dir, path) : NULL;
        free(dir);
        if (!cfg->static_dir)
            goto out;
    }
    json_t *origins = json_object_get(root, "cors_origins");
    if (origins) {
        size_t i, n = json_array_size(origins);
        json_t *o;
        if (!json_is_array(origins) || n > APP_MAX_CORS_ORIGINS) {
            fprintf(stderr, "app-server: %s: \"cors_origins\" must be an array of at most %d origins\n", path,
                    APP_MAX_CORS_ORIGINS);
            goto out;
        }
        if (n && !(cfg->cors_origins = calloc(n, sizeof *cfg->cors_origins)))
            goto out;
        json_array_foreach(origins, i, o) {
            /* An origin is scheme://host[:port], nothing after: what browsers send. */
            const char *v = json_string_value(o);
            const char *host = v ? strstr(v, "://") : NULL;
            if (!host || (strncmp(v, "http://", 7) != 0 && strncmp(v, "https://", 8) != 0) || !host[3] ||
                strchr(host + 3, '/')) {
                fprintf(stderr, "app-server: %s: cors_origins[%zu] must be an origin like \"https://app.example.com\"\n",
                        path, i);
                goto out;
            }
            if (!(cfg->cors_origins[cfg->ncors++] = strdup(v)))
                goto out;
        }
    }
    json_t *tokens = json_object_get(root, "tokens");
    if (!json_is_object(tokens) || json_object_size(tokens) == 0 || json_object_size(tokens) > APP_MAX_TOKENS) {
        fprintf(stderr, "app-server: %s: \"tokens\" must be an object of 1..%d {\"token\": \"user name\"}\n", path,
                APP_MAX_TOKENS);
        goto out;
    }
    cfg->users = calloc(json_object_size(tokens), sizeof *cfg->users);
    if (!cfg->users)
        goto out;
    const char *tok;
    json_t *name;
    json_object_foreach(tokens, tok, name) {
        if (strlen(tok) < 16 || !json_is_string(name) || !*json_string_value(name)) {
            fprintf(stderr, "app-server: %s: every token must be at least 16 characters and map to a user name\n",
                    path);
            goto out;
        }
        app_user *u = &cfg->users[cfg->nusers++];
        SHA256((const unsigned char *)tok, strlen(tok), u->token_hash);
        if (!(u->name = strdup(json_string_value(name))))
            goto out;
    }
    rc = 0;
out:
    free(listen);
    json_decref(root);
    if (rc)
        app_config_free(cfg);
    return rc;
}

void app_config_free(app_config *cfg)
{
    free(cfg->listen_host);
    free(cfg->vod_endpoint);
    free(cfg->access_key_id);
    if (cfg->access_key_secret)
        OPENSSL_cleanse(cfg->access_key_secret, strlen(cfg->access_key_secret));
    free(cfg->access_key_secret);
    free(cfg->role_arn);
    free(cfg->static_dir);
    for (size_t i = 0; i < cfg->nusers; i++)
        free(cfg->users[i].name);
    free(cfg->users);
    for (size_t i = 0; i < cfg->ncors; i++)
        free(cfg->cors_origins[i]);
    free(cfg->cors_origins);
    memset(cfg, 0, sizeof *cfg);
}

const char *app_authenticate(const app_config *cfg, const char *token)
{
    if (!token)
        return NULL;
    /* Hashing first makes every comparison the same length, so neither the token's
     * length nor its common prefix with a real one shows in the timing. */
    unsigned char h[32];
    SHA256((const unsigned char *)token, strlen(token), h);
    const char *found = NULL;
    for (size_t i = 0; i < cfg->nusers; i++) {
        if (CRYPTO_memcmp(h, cfg->users[i].token_hash, sizeof h) == 0)
            found = cfg->users[i].name;
    }
    return found;
}

const char *app_cors_origin(const app_config *cfg, const char *origin)
{
    if (!origin)
        return NULL;
    for (size_t i = 0; i < cfg->ncors; i++)
        if (strcmp(cfg->cors_origins[i], origin) == 0) /* exact: origins are case-normalised by browsers */
            return cfg->cors_origins[i];
    return NULL;
}
