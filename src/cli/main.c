/* main.c - the vodup command line: dispatches to the commands.
 *
 *   vodup [connection options] COMMAND [ARGS...]
 *
 * Connection options may come before or after the command name. */
#include <locale.h>
#include <stdio.h>
#include <string.h>

#include "cli.h"

cli_flags cli_global_flags;

static const char USAGE[] =
    "usage: vodup [options] <command> [args...]\n"
    "\n"
    "Command-line client of a VOD upload service (vodupd, or anything speaking ApsaraVideo VOD).\n"
    "\n"
    "commands:\n"
    "  upload FILE...               upload videos (resumable, with progress)\n"
    "  image upload FILE...         upload images\n"
    "  image url ID                 a URL that shows an uploaded image (presigned)\n"
    "  video info ID                show a video's media info\n"
    "  video list                   list videos\n"
    "  video delete ID...           delete videos\n"
    "  sts assume-role --role-arn ARN   get temporary credentials (STS AssumeRole)\n"
    "  s3 cp FILE s3://BUCKET/KEY --endpoint URL   upload a file to an S3-compatible store\n"
    "  help COMMAND                 the help of a command, e.g. `vodup help video list`\n"
    "\n"
    "  --version                    print the version\n"
    "  --help                       this text; `vodup COMMAND --help` (or `vodup help COMMAND`)\n"
    "                               describes each command\n"
    "\n";

static const char USAGE_IMAGE[] =
    "usage: vodup image <upload|url> ...\n"
    "\n"
    "  vodup image upload FILE...   upload PNG, JPEG or GIF images (CreateUploadImage);\n"
    "                               `vodup image upload --help` lists its options\n"
    "  vodup image url ID           a presigned URL that shows the image\n";

static int print_usage(int ok)
{
    FILE *out = ok ? stdout : stderr;
    fputs(USAGE, out);
    fputs(CLI_COMMON_HELP, out);
    fputs("\nexit status: 0 success, 1 an operation failed, 2 usage or configuration error,\n"
          "130 interrupted (uploads paused; run the same command again to resume).\n",
          out);
    return ok ? EXIT_OK : EXIT_USAGE;
}

int main(int argc, char **argv)
{
    static const struct option opts[] = {CLI_COMMON_OPTIONS, {"version", no_argument, NULL, 'V'}, {NULL, 0, NULL, 0}};
    int c;
    /* Only the character type: names are measured and shown in the user's encoding,
     * while numbers keep the C locale's format (scripts parse them). */
    setlocale(LC_CTYPE, "");
    opterr = 0;
    /* "+": stop at the command name; its own options are parsed by the command. */
    while ((c = getopt_long(argc, argv, "+hV", opts, NULL)) != -1) {
        if (cli_flags_take(&cli_global_flags, c, optarg))
            continue;
        if (c == 'h')
            return print_usage(1);
        if (c == 'V') {
            printf("vodup %s (libvodup %s)\n", VODUP_VERSION_STRING, VODUP_VERSION_STRING);
            return EXIT_OK;
        }
        fprintf(stderr, "vodup: unknown or incomplete option '%s'\n\n", argv[optind - 1]);
        return print_usage(0);
    }
    if (optind >= argc) {
        fputs("vodup: no command given\n\n", stderr);
        return print_usage(0);
    }
    /* `vodup help CMD [SUB]` is `vodup CMD [SUB] --help`. */
    char *help_argv[4];
    if (strcmp(argv[optind], "help") == 0) {
        int n = argc - optind - 1;
        if (n == 0)
            return print_usage(1);
        if (n > 2) {
            fputs("vodup help: give a command, e.g. `vodup help upload` or `vodup help video list`\n", stderr);
            return EXIT_USAGE;
        }
        for (int i = 0; i < n; i++)
            help_argv[i] = argv[optind + 1 + i];
        help_argv[n] = "--help";
        help_argv[n + 1] = NULL;
        argv = help_argv;
        argc = n + 1;
        optind = 0;
    }
    const char *cmd = argv[optind];
    /* Each command sees argv starting at its own name, with getopt reset. */
    int sub_argc = argc - optind;
    char **sub_argv = argv + optind;
    optind = 0;
    /* The commands name a bad option themselves (cli_bad_option), once. */
    opterr = 0;
    if (strcmp(cmd, "upload") == 0)
        return cmd_upload(sub_argc, sub_argv, VODUP_MEDIA_VIDEO);
    if (strcmp(cmd, "image") == 0)
        return cmd_image(sub_argc, sub_argv, USAGE_IMAGE);
    if (strcmp(cmd, "video") == 0)
        return cmd_video(sub_argc, sub_argv);
    if (strcmp(cmd, "sts") == 0)
        return cmd_sts(sub_argc, sub_argv);
    if (strcmp(cmd, "s3") == 0)
        return cmd_s3(sub_argc, sub_argv);
    fprintf(stderr, "vodup: unknown command '%s'\n\n", cmd);
    return print_usage(0);
}
