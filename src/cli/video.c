/* video.c - `vodup video info|list|delete`: GetVideoInfo, GetVideoList, DeleteVideo. */
#include <stdlib.h>
#include <string.h>

#include "cli.h"

#define VOD_VERSION "2017-03-21"
/* GetVideoList answers at most 100 a page, DeleteVideo takes at most 20 ids a call. */
#define LIST_PAGE_SIZE 100
#define DELETE_BATCH 20

static const char USAGE_VIDEO[] =
    "usage: vodup video <info|list|delete> ...\n"
    "\n"
    "  vodup video info ID [--json]     media info of one video (GetVideoInfo)\n"
    "  vodup video list [--json]        every video, newest first (GetVideoList)\n"
    "  vodup video delete ID...         delete videos and their stored files (DeleteVideo)\n";

static const char USAGE_INFO[] =
    "usage: vodup video info ID [--json]\n"
    "\n"
    "Prints the media info of video ID (GetVideoInfo): one `Field: value` line each, the\n"
    "status last. --json prints the API's response instead.\n";

static const char USAGE_LIST[] =
    "usage: vodup video list [--status S] [--json]\n"
    "\n"
    "Lists videos (GetVideoList, every page): VideoId, status, size, creation time, title.\n"
    "  --status S   only videos in status S, comma-separated: Uploading, UploadFail,\n"
    "               UploadSucc, Transcoding, TranscodeFail, Checking, Blocked, Normal, ProduceFail\n"
    "  --json       one JSON object {\"Total\",\"VideoList\":[...]}\n";

static const char USAGE_DELETE[] =
    "usage: vodup video delete ID...\n"
    "\n"
    "Deletes videos (DeleteVideo). Fails (status 1) if any of them does not exist or may\n"
    "not be deleted with this AccessKey.\n";

/* Parses the options of a video subcommand; sets *json. Returns -1 to continue, or an
 * exit status. */
static int parse(int argc, char **argv, const char *cmd, const char *usage, int *json, const char **status,
                 cli_flags *flags)
{
    static const struct option opts[] = {
        CLI_COMMON_OPTIONS, {"json", no_argument, NULL, 'j'}, {"status", required_argument, NULL, 's'}, {NULL, 0, NULL, 0}};
    int c;
    while ((c = getopt_long(argc, argv, ":hj", opts, NULL)) != -1) {
        if (cli_flags_take(flags, c, optarg))
            continue;
        if (c == 'h')
            return cli_usage(usage, 1);
        if (c == 'j' && json) {
            *json = 1;
            cli_json_errors = 1;
        } else if (c == 's' && status) {
            *status = optarg;
        } else {
            return cli_bad_option(cmd, usage, argv, c);
        }
    }
    return -1;
}

static const char *str(json_t *o, const char *k)
{
    const char *s = json_string_value(json_object_get(o, k));
    return s ? s : "";
}

static void print_field(const char *name, json_t *v)
{
    if (!v || json_is_null(v))
        return;
    if (json_is_string(v)) {
        if (!*json_string_value(v))
            return;
        printf("%-17s %s\n", name, json_string_value(v));
    } else if (json_is_integer(v)) {
        printf("%-17s %lld\n", name, (long long)json_integer_value(v));
    } else if (json_is_real(v)) {
        printf("%-17s %.3f\n", name, json_real_value(v));   /* Duration: seconds */
    } else {
        char *s = json_dumps(v, JSON_COMPACT);
        printf("%-17s %s\n", name, s ? s : "");
        free(s);
    }
}

static int video_info(int argc, char **argv)
{
    const char *cmd = "vodup video info";
    cli_flags flags = cli_global_flags;
    int json = 0;
    int rc = parse(argc, argv, cmd, USAGE_INFO, &json, NULL, &flags);
    if (rc >= 0)
        return rc;
    if (optind + 1 != argc)
        return cli_bad_usage(cmd, USAGE_INFO, optind >= argc ? "which video? give its ID" : "one ID only");
    cli_config cfg;
    if ((rc = cli_config_load(&cfg, &flags)) != EXIT_OK || (rc = cli_config_require(&cfg, cmd)) != EXIT_OK) {
        cli_config_free(&cfg);
        return rc;
    }
    rc = EXIT_FAILED;
    vodup_api *a = cli_api_open(&cfg, cmd);
    json_t *resp = NULL, *play = NULL, *mezz = NULL;
    const char *params[] = {"VideoId", argv[optind], NULL};
    /* The id in every message: with several commands in a script, which video failed? */
    char what[256];
    snprintf(what, sizeof what, "%s %s", cmd, argv[optind]);
    if (a && cli_api_call(a, &cfg, what, VOD_VERSION, "GetVideoInfo", params, &resp) == 0) {
        json_t *v = json_object_get(resp, "Video");
        /* A probed video (Normal) also has its stream and the file's streams: GetPlayInfo
         * and GetMezzanineInfo, added to the answer under their own names. */
        if (!strcmp(str(v, "Status"), "Normal")) {
            if (cli_api_call(a, &cfg, what, VOD_VERSION, "GetPlayInfo", params, &play) == 0)
                json_object_set(resp, "PlayInfoList", json_object_get(play, "PlayInfoList"));
            if (cli_api_call(a, &cfg, what, VOD_VERSION, "GetMezzanineInfo", params, &mezz) == 0)
                json_object_set(resp, "Mezzanine", json_object_get(mezz, "Mezzanine"));
        }
        json_t *pi = json_array_get(json_object_get(json_object_get(resp, "PlayInfoList"), "PlayInfo"), 0);
        json_t *mz = json_object_get(resp, "Mezzanine");
        if (json) {
            json_dumpf(resp, stdout, JSON_COMPACT);
            putchar('\n');
        } else {
            /* The well-known fields in a fixed order, anything else after them, and
             * the status last: it is what people (and `make demo`) look for. */
            static const char *const known[] = {"VideoId", "Title", "Description", "Size", "Duration", "CateId",
                                                "CateName", "Tags", "CoverURL", "StorageLocation",
                                                "CreationTime", "ModificationTime", NULL};
            for (int i = 0; known[i]; i++)
                print_field(known[i], json_object_get(v, known[i]));
            const char *k;
            json_t *val;
            json_object_foreach(v, k, val) {
                int seen = strcmp(k, "Status") == 0;
                for (int i = 0; known[i] && !seen; i++)
                    seen = strcmp(k, known[i]) == 0;
                if (!seen)
                    print_field(k, val);
            }
            if (pi) {
                char line[128];
                long long w = json_integer_value(json_object_get(pi, "Width"));
                long long h = json_integer_value(json_object_get(pi, "Height"));
                if (w > 0) {
                    snprintf(line, sizeof line, "%lldx%lld, %s fps", w, h, str(pi, "Fps"));
                    printf("%-17s %s\n", "Video", line);
                }
                printf("%-17s %s kbps, %s\n", "Bitrate", str(pi, "Bitrate"), str(pi, "Format"));
            }
            json_t *vs = json_array_get(json_object_get(json_object_get(mz, "VideoStreamList"), "VideoStream"), 0);
            json_t *as = json_array_get(json_object_get(json_object_get(mz, "AudioStreamList"), "AudioStream"), 0);
            if (vs)
                printf("%-17s %s\n", "VideoCodec", str(vs, "CodecName"));
            if (as)
                printf("%-17s %s, %s channel(s), %s Hz\n", "AudioCodec", str(as, "CodecName"), str(as, "Channels"),
                       str(as, "SampleRate"));
            if (pi)
                print_field("PlayURL", json_object_get(pi, "PlayURL"));
            print_field("Status", json_object_get(v, "Status"));
        }
        rc = EXIT_OK;
    }
    json_decref(resp);
    json_decref(play);
    json_decref(mezz);
    vodup_api_free(a);
    cli_config_free(&cfg);
    return rc;
}

/* The statuses of a video in ApsaraVideo VOD (GetVideoList's Status filter). */
static const char *const VIDEO_STATUSES[] = {"Uploading",     "UploadFail", "UploadSucc", "Transcoding", "TranscodeFail",
                                             "Checking",      "Blocked",    "Normal",     "ProduceFail", NULL};
#define VIDEO_STATUSES_TEXT "Uploading, UploadFail, UploadSucc, Transcoding, TranscodeFail, Checking, Blocked, Normal, ProduceFail"

/* Every comma-separated word of s is a known status; else *bad points at the first that is not. */
static int statuses_ok(const char *s, char *bad, size_t n)
{
    while (*s) {
        size_t len = strcspn(s, ",");
        int known = 0;
        for (int i = 0; VIDEO_STATUSES[i] && !known; i++)
            known = strlen(VIDEO_STATUSES[i]) == len && strncmp(VIDEO_STATUSES[i], s, len) == 0;
        if (!known) {
            snprintf(bad, n, "%.*s", (int)len, s);
            return 0;
        }
        s += len;
        if (*s == ',')
            s++;
    }
    return 1;
}

static int video_list(int argc, char **argv)
{
    const char *cmd = "vodup video list";
    cli_flags flags = cli_global_flags;
    int json = 0;
    const char *status = NULL;
    int rc = parse(argc, argv, cmd, USAGE_LIST, &json, &status, &flags);
    if (rc >= 0)
        return rc;
    if (optind != argc)
        return cli_bad_usage(cmd, USAGE_LIST, "unexpected argument '%s'", argv[optind]);
    char bad[64];
    if (status && !statuses_ok(status, bad, sizeof bad))
        return cli_bad_usage(cmd, USAGE_LIST, "unknown status '%s' (valid: %s)", bad, VIDEO_STATUSES_TEXT);
    cli_config cfg;
    if ((rc = cli_config_load(&cfg, &flags)) != EXIT_OK || (rc = cli_config_require(&cfg, cmd)) != EXIT_OK) {
        cli_config_free(&cfg);
        return rc;
    }
    rc = EXIT_FAILED;
    vodup_api *a = cli_api_open(&cfg, cmd);
    json_t *all = json_array();
    long long total = 0;
    int ok = a != NULL && all != NULL;
    for (int page = 1; ok; page++) {
        char page_s[24], size_s[24];
        snprintf(page_s, sizeof page_s, "%d", page);
        snprintf(size_s, sizeof size_s, "%d", LIST_PAGE_SIZE);
        const char *params[] = {"PageNo", page_s, "PageSize", size_s, status ? "Status" : NULL, status, NULL};
        json_t *resp = NULL;
        if (cli_api_call(a, &cfg, cmd, VOD_VERSION, "GetVideoList", params, &resp) != 0) {
            ok = 0;
            break;
        }
        total = json_integer_value(json_object_get(resp, "Total"));
        json_t *arr = json_object_get(json_object_get(resp, "VideoList"), "Video");
        size_t n = json_array_size(arr);
        json_array_extend(all, arr);
        json_decref(resp);
        /* The service lists at most 5000; stop at a short page or when all are in. */
        if (n < LIST_PAGE_SIZE || (long long)json_array_size(all) >= total || page * LIST_PAGE_SIZE >= 5000)
            break;
    }
    if (ok) {
        if (json) {
            json_t *o = json_pack("{s:I,s:O}", "Total", (json_int_t)total, "VideoList", all);
            json_dumpf(o, stdout, JSON_COMPACT);
            putchar('\n');
            json_decref(o);
        } else {
            size_t i;
            json_t *v;
            if (json_array_size(all))
                printf("%-34s %-12s %12s  %-20s  %s\n", "VideoId", "Status", "Size", "CreationTime", "Title");
            json_array_foreach(all, i, v) {
                printf("%-34s %-12s %12lld  %-20s  %s\n", str(v, "VideoId"), str(v, "Status"),
                       (long long)json_integer_value(json_object_get(v, "Size")), str(v, "CreationTime"),
                       str(v, "Title"));
            }
            printf("%lld video%s\n", total, total == 1 ? "" : "s");
        }
        rc = EXIT_OK;
    }
    json_decref(all);
    vodup_api_free(a);
    cli_config_free(&cfg);
    return rc;
}

static int video_delete(int argc, char **argv)
{
    const char *cmd = "vodup video delete";
    cli_flags flags = cli_global_flags;
    int rc = parse(argc, argv, cmd, USAGE_DELETE, NULL, NULL, &flags);
    if (rc >= 0)
        return rc;
    if (optind >= argc)
        return cli_bad_usage(cmd, USAGE_DELETE, "which videos? give their IDs");
    cli_config cfg;
    if ((rc = cli_config_load(&cfg, &flags)) != EXIT_OK || (rc = cli_config_require(&cfg, cmd)) != EXIT_OK) {
        cli_config_free(&cfg);
        return rc;
    }
    vodup_api *a = cli_api_open(&cfg, cmd);
    rc = a ? EXIT_OK : EXIT_FAILED;
    for (int i = optind; a && i < argc; i += DELETE_BATCH) {
        /* VideoIds is one comma-separated parameter. */
        size_t len = 1;
        int end = i + DELETE_BATCH < argc ? i + DELETE_BATCH : argc;
        for (int k = i; k < end; k++)
            len += strlen(argv[k]) + 1;
        char *ids = malloc(len);
        if (!ids) {
            rc = EXIT_FAILED;
            break;
        }
        size_t off = 0;
        for (int k = i; k < end; k++) {
            size_t l = strlen(argv[k]);
            if (k > i)
                ids[off++] = ',';
            memcpy(ids + off, argv[k], l);
            off += l;
        }
        ids[off] = '\0';
        const char *params[] = {"VideoIds", ids, NULL};
        json_t *resp = NULL;
        if (cli_api_call(a, &cfg, cmd, VOD_VERSION, "DeleteVideo", params, &resp) != 0) {
            fprintf(stderr, "%s: not deleted: %s\n", cmd, ids);
            rc = EXIT_FAILED;
        } else {
            size_t j;
            json_t *v;
            int bad = 0;
            json_array_foreach(json_object_get(resp, "NonExistVideoIds"), j, v) {
                fprintf(stderr, "%s: no such video: %s\n", cmd, json_string_value(v));
                bad = 1;
            }
            json_array_foreach(json_object_get(resp, "ForbiddenVideoIds"), j, v) {
                fprintf(stderr, "%s: not allowed to delete %s with this AccessKey\n", cmd, json_string_value(v));
                bad = 1;
            }
            for (int k = i; k < end; k++) {
                int failed = 0;
                json_array_foreach(json_object_get(resp, "NonExistVideoIds"), j, v)
                    failed |= strcmp(json_string_value(v) ? json_string_value(v) : "", argv[k]) == 0;
                json_array_foreach(json_object_get(resp, "ForbiddenVideoIds"), j, v)
                    failed |= strcmp(json_string_value(v) ? json_string_value(v) : "", argv[k]) == 0;
                if (!failed)
                    printf("deleted %s\n", argv[k]);
            }
            if (bad)
                rc = EXIT_FAILED;
        }
        json_decref(resp);
        free(ids);
    }
    vodup_api_free(a);
    cli_config_free(&cfg);
    return rc;
}

int cmd_video(int argc, char **argv)
{
    if (argc < 2)
        return cli_bad_usage("vodup video", USAGE_VIDEO, "which subcommand? info, list or delete");
    const char *sub = argv[1];
    if (strcmp(sub, "--help") == 0 || strcmp(sub, "-h") == 0 || strcmp(sub, "help") == 0)
        return cli_usage(USAGE_VIDEO, 1);
    /* getopt scans from index 1 of the array it is given: hand it the subcommand's. */
    if (strcmp(sub, "info") == 0)
        return video_info(argc - 1, argv + 1);
    if (strcmp(sub, "list") == 0)
        return video_list(argc - 1, argv + 1);
    if (strcmp(sub, "delete") == 0)
        return video_delete(argc - 1, argv + 1);
    return cli_bad_usage("vodup video", USAGE_VIDEO, "unknown subcommand '%s'", sub);
}
