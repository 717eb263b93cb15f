/* sts.c - `vodup sts assume-role`: temporary credentials from STS AssumeRole, printed
 * as shell `export` lines (for eval) or JSON. */
#include <stdlib.h>
#include <string.h>

#include "cli.h"

#define STS_VERSION "2015-04-01"

static const char USAGE_STS[] =
    "usage: vodup sts assume-role --role-arn ARN [--session-name NAME] [--duration SECONDS] [--json]\n"
    "\n"
    "Gets temporary credentials for role ARN (STS AssumeRole), signed with the configured\n"
    "AccessKey (a RAM user's: root accounts may not assume roles). Prints them as\n"
    "  export VODUP_ACCESS_KEY_ID='STS....'\n"
    "  export VODUP_ACCESS_KEY_SECRET='...'\n"
    "  export VODUP_SECURITY_TOKEN='...'\n"
    "so that `eval \"$(vodup sts assume-role --role-arn ARN)\"` makes later vodup commands use\n"
    "them; with --json, as the Credentials object of the response.\n"
    "\n"
    "  --role-arn ARN        acs:ram::ACCOUNT:role/NAME (vodupd role create prints it)\n"
    "  --session-name NAME   RoleSessionName, 2-64 of [A-Za-z0-9.@_-] (default vodup-cli)\n"
    "  --duration SECONDS    lifetime, 900..43200 (default 3600), capped by the role's maximum\n"
    "                        session: on vodupd its --max-session, at most 3600\n"
    "  --json                print JSON\n";

/* Single-quotes s for a POSIX shell: 'it'\''s'. */
static void print_shell_quoted(const char *s)
{
    putchar('\'');
    for (; *s; s++) {
        if (*s == '\'')
            fputs("'\\''", stdout);
        else
            putchar(*s);
    }
    putchar('\'');
}

int cmd_sts(int argc, char **argv)
{
    const char *cmd = "vodup sts assume-role";
    if (argc < 2)
        return cli_bad_usage("vodup sts", USAGE_STS, "which subcommand? assume-role");
    if (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0)
        return cli_usage(USAGE_STS, 1);
    if (strcmp(argv[1], "assume-role") != 0)
        return cli_bad_usage("vodup sts", USAGE_STS, "unknown subcommand '%s'", argv[1]);
    argc--;
    argv++;

    static const struct option opts[] = {CLI_COMMON_OPTIONS,
                                         {"role-arn", required_argument, NULL, 'r'},
                                         {"session-name", required_argument, NULL, 'n'},
                                         {"duration", required_argument, NULL, 'd'},
                                         {"json", no_argument, NULL, 'j'},
                                         {NULL, 0, NULL, 0}};
    cli_flags flags = cli_global_flags;
    const char *role = NULL, *session = "vodup-cli", *duration = NULL;
    int json = 0, c;
    while ((c = getopt_long(argc, argv, ":h", opts, NULL)) != -1) {
        if (cli_flags_take(&flags, c, optarg))
            continue;
        long long d;
        switch (c) {
        case 'h': return cli_usage(USAGE_STS, 1);
        case 'r': role = optarg; break;
        case 'n': session = optarg; break;
        case 'j': json = 1; cli_json_errors = 1; break;
        case 'd':
            if (cli_parse_long(optarg, 900, 43200, &d) != 0)
                return cli_bad_usage(cmd, USAGE_STS, "--duration must be a number of seconds in 900..43200, not '%s'",
                                     optarg);
            duration = optarg;
            break;
        default: return cli_bad_option(cmd, USAGE_STS, argv, c);
        }
    }
    if (optind != argc)
        return cli_bad_usage(cmd, USAGE_STS, "unexpected argument '%s'", argv[optind]);
    if (!role)
        return cli_bad_usage(cmd, USAGE_STS, "--role-arn is required");

    cli_config cfg;
    int rc;
    if ((rc = cli_config_load(&cfg, &flags)) != EXIT_OK || (rc = cli_config_require(&cfg, cmd)) != EXIT_OK) {
        cli_config_free(&cfg);
        return rc;
    }
    rc = EXIT_FAILED;
    vodup_api *a = cli_api_open(&cfg, cmd);
    const char *params[] = {"RoleArn", role, "RoleSessionName", session, duration ? "DurationSeconds" : NULL, duration,
                            NULL};
    json_t *resp = NULL;
    if (a && cli_api_call(a, &cfg, cmd, STS_VERSION, "AssumeRole", params, &resp) == 0) {
        json_t *cr = json_object_get(resp, "Credentials");
        const char *ak = json_string_value(json_object_get(cr, "AccessKeyId"));
        const char *sk = json_string_value(json_object_get(cr, "AccessKeySecret"));
        const char *tok = json_string_value(json_object_get(cr, "SecurityToken"));
        const char *exp = json_string_value(json_object_get(cr, "Expiration"));
        if (!ak || !sk || !tok) {
            fprintf(stderr, "%s: the answer of %s has no complete Credentials\n", cmd, cfg.endpoint);
        } else if (json) {
            json_dumpf(cr, stdout, JSON_COMPACT);
            putchar('\n');
            rc = EXIT_OK;
        } else {
            printf("# temporary credentials for %s, valid until %s\n", role, exp ? exp : "?");
            fputs("export VODUP_ACCESS_KEY_ID=", stdout);
            print_shell_quoted(ak);
            fputs("\nexport VODUP_ACCESS_KEY_SECRET=", stdout);
            print_shell_quoted(sk);
            fputs("\nexport VODUP_SECURITY_TOKEN=", stdout);
            print_shell_quoted(tok);
            putchar('\n');
            rc = EXIT_OK;
        }
    }
    json_decref(resp);
    vodup_api_free(a);
    cli_config_free(&cfg);
    return rc;
}
