/* s3.c - `vodup s3 cp FILE s3://BUCKET/KEY --endpoint URL`: a file into any S3-compatible
 * store, through libvodup's S3 dialect, with `vodup upload`'s engine (upload.c): the same
 * resume records, parallel parts, progress and --json rows.
 *
 * This file only reads what is S3's own (the s3:// address, --region, --virtual-host)
 * and hands the rest to cli_upload_run, whose option parser knows the upload options and
 * the connection flags (--endpoint, --access-key-id, --access-key-secret,
 * --security-token). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"

static const char USAGE_S3[] =
    "usage: vodup s3 cp FILE s3://BUCKET/KEY --endpoint URL [options]\n"
    "\n"
    "Uploads FILE to an S3-compatible object store (vodupd's S3 dialect, radosgw, MinIO, AWS\n"
    "S3, ...), in parts of at least 5 MiB when it is 1 MiB or more, signed with SigV4. A\n"
    "KEY ending in '/' (or none) gets FILE's name appended. Ctrl-C pauses; running the same\n"
    "command again resumes from the parts already stored (also after a crash or a kill).\n"
    "\n"
    "  --endpoint URL       the store, http:// or https:// (else AWS_ENDPOINT_URL)\n"
    "  --region R           the SigV4 scope's region (default us-east-1, or AWS_REGION)\n"
    "  --virtual-host       address BUCKET.host/KEY (default: path style, host/BUCKET/KEY)\n"
    "  --parallel N         parts in flight, 1..32 (default 4)\n"
    "  --part-size SIZE     part size (default: automatic; at least 5M for S3)\n"
    "  --limit-rate RATE    at most RATE bytes per second, e.g. 500k, 2M\n"
    "  --record-dir DIR     resume records (default ~/.cache/vodup/records)\n"
    "  -q, --quiet          results and failures only\n"
    "  -v, --verbose        say the endpoint and record dir, and every retry\n"
    "  --json               one JSON object per file on stdout (as `vodup upload`'s)\n"
    "\n"
    "Keys: AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY and, for temporary keys,\n"
    "AWS_SESSION_TOKEN; or --access-key-id, --access-key-secret, --security-token.\n";

static const char USAGE_S3_GROUP[] =
    "usage: vodup s3 cp FILE s3://BUCKET/KEY --endpoint URL [options]\n"
    "\n"
    "  vodup s3 cp ...      upload a file to an S3-compatible store; `vodup s3 cp --help`\n";

#define S3_MAX_ARGS 64

int cmd_s3(int argc, char **argv)
{
    const char *cmd = "vodup s3 cp";
    if (argc < 2 || strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0)
        return cli_usage(USAGE_S3_GROUP, argc >= 2);
    if (strcmp(argv[1], "cp") != 0)
        return cli_bad_usage("vodup s3", USAGE_S3_GROUP, "unknown s3 command '%s' (only cp)", argv[1]);
    if (argc - 1 > S3_MAX_ARGS)
        return cli_bad_usage(cmd, USAGE_S3, "too many arguments");

    vodup_s3_target t = VODUP_S3_TARGET_INIT;
    t.region = getenv("AWS_REGION");
    const char *dest = NULL;
    /* What goes on to the upload engine: "s3 cp" as its name, then everything but ours. */
    char *rest[S3_MAX_ARGS + 2];
    int n = 0;
    rest[n++] = argv[1];
    for (int i = 2; i < argc; i++) {
        const char *a = argv[i];
        if (strcmp(a, "--") == 0) {
            for (i++; i < argc; i++)
                rest[n++] = argv[i];
            break;
        }
        if (strcmp(a, "--help") == 0 || strcmp(a, "-h") == 0)
            return cli_usage(USAGE_S3, 1);
        if (strcmp(a, "--virtual-host") == 0) {
            t.virtual_host = 1;
        } else if (strcmp(a, "--region") == 0 || strncmp(a, "--region=", 9) == 0) {
            if (a[8] == '=')
                t.region = a + 9;
            else if (i + 1 < argc)
                t.region = argv[++i];
            else
                return cli_bad_usage(cmd, USAGE_S3, "--region needs a value");
            if (!*t.region)
                return cli_bad_usage(cmd, USAGE_S3, "--region must not be empty");
        } else if (strncmp(a, "s3://", 5) == 0) {
            if (dest)
                return cli_bad_usage(cmd, USAGE_S3, "one s3:// destination only");
            dest = a;
        } else {
            rest[n++] = argv[i];
        }
    }
    rest[n] = NULL;
    if (!dest)
        return cli_bad_usage(cmd, USAGE_S3, "where to? give s3://BUCKET/KEY");

    /* s3://bucket/key; a key that is empty or ends in '/' takes the file's name. */
    const char *b = dest + 5, *slash = strchr(b, '/');
    size_t bl = slash ? (size_t)(slash - b) : strlen(b);
    if (bl == 0)
        return cli_bad_usage(cmd, USAGE_S3, "'%s' names no bucket", dest);
    const char *key = slash ? slash + 1 : "";
    const char *file = NULL;
    static const char *const with_value[] = {"--parallel", "--part-size", "--limit-rate", "--record-dir",
                                             "--endpoint", "--access-key-id", "--access-key-secret",
                                             "--security-token", "--access-key-secret-file", "--ca-file",
                                             "--config", "--size", "--stdin-name", NULL};
    for (int i = 1; i < n && !file; i++) {
        int takes = 0;
        for (int k = 0; with_value[k]; k++)
            takes |= strcmp(rest[i], with_value[k]) == 0;
        if (takes)
            i++;
        else if (rest[i][0] != '-' || strcmp(rest[i], "-") == 0)
            file = rest[i];
    }
    char *bucket = strndup(b, bl), *full = NULL;
    if (!bucket)
        return EXIT_FAILED;
    if (!*key || key[strlen(key) - 1] == '/') {
        const char *base = file ? strrchr(file, '/') : NULL;
        base = base ? base + 1 : file ? file : "";
        size_t len = strlen(key) + strlen(base) + 1;
        if (!*base || !(full = malloc(len))) {
            free(bucket);
            return cli_bad_usage(cmd, USAGE_S3, "'%s' names no key", dest);
        }
        snprintf(full, len, "%s%s", key, base);
        key = full;
    }
    t.bucket = bucket;
    t.key = key;
    optind = 0;
    int rc = cli_upload_run(n, rest, VODUP_MEDIA_VIDEO, cmd, USAGE_S3, &t);
    free(bucket);
    free(full);
    return rc;
}
