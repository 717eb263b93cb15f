/* image.c - `vodup image url ID`: a URL that shows an uploaded image.
 *
 * The ImageURL that CreateUploadImage and GetImageInfo answer is the object's plain URL,
 * and the bucket is private: a plain GET gets 403. This command asks GetImageInfo for the
 * URL and presigns it (OSS V1 query signature: OSSAccessKeyId, Expires, Signature, and
 * security-token for temporary credentials) with the configured AccessKey, so that a
 * browser or `curl` can fetch it until it expires. */
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "cli.h"

#define VOD_VERSION "2017-03-21"
#define URL_EXPIRES_DEFAULT 3600
#define URL_EXPIRES_MAX (7 * 86400) /* what OSS allows a presigned URL */

static const char USAGE_URL[] =
    "usage: vodup image url ID [--expires SECONDS] [--json]\n"
    "\n"
    "Prints a URL that shows image ID for SECONDS (default 3600, at most 604800): the\n"
    "image's URL (GetImageInfo) presigned with the configured AccessKey. The plain URL\n"
    "answers 403: the bucket is private.\n"
    "  --expires SECONDS   lifetime of the URL\n"
    "  --json              {\"ImageId\",\"URL\",\"Expires\"}\n";

static int hexval(int c)
{
    return c >= '0' && c <= '9' ? c - '0' : c >= 'a' && c <= 'f' ? c - 'a' + 10 : c >= 'A' && c <= 'F' ? c - 'A' + 10 : -1;
}

/* Percent-decodes s[0..n) into a new string (the key as signed: raw). */
static char *pct_decode(const char *s, size_t n)
{
    char *o = malloc(n + 1);
    if (!o)
        return NULL;
    size_t k = 0;
    for (size_t i = 0; i < n; i++) {
        if (s[i] == '%' && i + 2 < n && hexval(s[i + 1]) >= 0 && hexval(s[i + 2]) >= 0) {
            o[k++] = (char)(hexval(s[i + 1]) * 16 + hexval(s[i + 2]));
            i += 2;
        } else {
            o[k++] = s[i];
        }
    }
    o[k] = '\0';
    return o;
}

/* Appends s percent-encoded as a query value. */
static void put_query_value(const char *s)
{
    for (; *s; s++) {
        unsigned char c = (unsigned char)*s;
        if ((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' || c == '_' ||
            c == '.' || c == '~')
            putchar(c);
        else
            printf("%%%02X", c);
    }
}

static int image_url(int argc, char **argv)
{
    const char *cmd = "vodup image url";
    static const struct option opts[] = {
        CLI_COMMON_OPTIONS, {"expires", required_argument, NULL, 'e'}, {"json", no_argument, NULL, 'j'}, {NULL, 0, NULL, 0}};
    cli_flags flags = cli_global_flags;
    long long expires = URL_EXPIRES_DEFAULT;
    int json = 0, c;
    while ((c = getopt_long(argc, argv, ":h", opts, NULL)) != -1) {
        if (cli_flags_take(&flags, c, optarg))
            continue;
        if (c == 'h')
            return cli_usage(USAGE_URL, 1);
        if (c == 'j') {
            json = 1;
            cli_json_errors = 1;
        } else if (c == 'e') {
            if (cli_parse_long(optarg, 1, URL_EXPIRES_MAX, &expires) != 0)
                return cli_bad_usage(cmd, USAGE_URL, "--expires must be seconds in 1..%d, not '%s'", URL_EXPIRES_MAX,
                                     optarg);
        } else {
            return cli_bad_option(cmd, USAGE_URL, argv, c);
        }
    }
    if (optind + 1 != argc)
        return cli_bad_usage(cmd, USAGE_URL, optind >= argc ? "which image? give its ImageId" : "one ID only");
    cli_config cfg;
    int rc;
    if ((rc = cli_config_load(&cfg, &flags)) != EXIT_OK || (rc = cli_config_require(&cfg, cmd)) != EXIT_OK) {
        cli_config_free(&cfg);
        return rc;
    }
    rc = EXIT_FAILED;
    vodup_api *a = cli_api_open(&cfg, cmd);
    json_t *resp = NULL;
    const char *params[] = {"ImageId", argv[optind], NULL};
    if (a && cli_api_call(a, &cfg, cmd, VOD_VERSION, "GetImageInfo", params, &resp) == 0) {
        const char *url = json_string_value(json_object_get(json_object_get(resp, "ImageInfo"), "URL"));
        /* http(s)://host[:port]/bucket/key: the resource signed is /bucket/key, raw. */
        const char *host = url ? strstr(url, "://") : NULL;
        const char *path = host ? strchr(host + 3, '/') : NULL;
        char *resource = path ? pct_decode(path, strcspn(path, "?#")) : NULL;
        if (!resource || !strchr(resource + 1, '/')) {
            fprintf(stderr, "%s: GetImageInfo gave no usable URL for %s\n", cmd, argv[optind]);
        } else {
            long long exp = (long long)time(NULL) + expires;
            char to_sign[8192];
            int n = cfg.security_token
                        ? snprintf(to_sign, sizeof to_sign, "GET\n\n\n%lld\n%s?security-token=%s", exp, resource,
                                   cfg.security_token)
                        : snprintf(to_sign, sizeof to_sign, "GET\n\n\n%lld\n%s", exp, resource);
            unsigned char mac[EVP_MAX_MD_SIZE];
            unsigned int maclen = 0;
            unsigned char b64[4 * ((EVP_MAX_MD_SIZE + 2) / 3) + 1];
            if (n > 0 && (size_t)n < sizeof to_sign &&
                HMAC(EVP_sha1(), cfg.access_key_secret, (int)strlen(cfg.access_key_secret),
                     (const unsigned char *)to_sign, (size_t)n, mac, &maclen) != NULL) {
                EVP_EncodeBlock(b64, mac, (int)maclen);
                if (json)
                    printf("{\"ImageId\":\"%s\",\"Expires\":%lld,\"URL\":\"", argv[optind], exp);
                printf("%.*s?OSSAccessKeyId=", (int)strcspn(url, "?#"), url);
                put_query_value(cfg.access_key_id);
                printf("&Expires=%lld&Signature=", exp);
                put_query_value((const char *)b64);
                if (cfg.security_token) {
                    fputs("&security-token=", stdout);
                    put_query_value(cfg.security_token);
                }
                puts(json ? "\"}" : "");
                rc = EXIT_OK;
            }
        }
        free(resource);
    }
    json_decref(resp);
    vodup_api_free(a);
    cli_config_free(&cfg);
    return rc;
}

int cmd_image(int argc, char **argv, const char *usage)
{
    if (argc >= 2 && strcmp(argv[1], "url") == 0)
        return image_url(argc - 1, argv + 1);
    if (argc >= 2 && strcmp(argv[1], "upload") == 0)
        return cmd_upload(argc - 1, argv + 1, VODUP_MEDIA_IMAGE);
    if (argc < 2 || strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0)
        return cli_usage(usage, argc >= 2);
    return cli_bad_usage("vodup image", usage, "unknown subcommand '%s' (upload or url)", argv[1]);
}
