/* cli.h - shared pieces of the vodup command line: configuration, option parsing,
 * API calls with readable errors. Each command lives in its own file. */
#ifndef VODUP_CLI_H
#define VODUP_CLI_H

#include <getopt.h>
#include <jansson.h>
#include <stdint.h>
#include <stdio.h>

#include <vodup/vodup.h>

/* Exit statuses, documented in docs/cli.md. */
enum { EXIT_OK = 0, EXIT_FAILED = 1, EXIT_USAGE = 2, EXIT_INTERRUPTED = 130 };

/* Settings in force for one run. Each field is owned (malloc'd) or NULL, and says where
 * it came from so that error messages can tell the user which knob to turn. */
typedef struct cli_config {
    char *endpoint;
    char *access_key_id;
    char *access_key_secret;
    char *security_token;
    char *record_dir;
    char *ca_file;              /* CAs to trust for https endpoints; NULL: the system's */
    char *config_path;          /* the file read (or that would be read) */
    const char *endpoint_from;  /* "--endpoint", "VODUP_ENDPOINT", the config path */
    const char *key_from;
} cli_config;

/* Long options every command accepts (ids >= CLI_OPT_COMMON_BASE), so that the
 * connection can be given after the command name too. */
#define CLI_OPT_COMMON_BASE 1000
enum {
    CLI_OPT_ENDPOINT = CLI_OPT_COMMON_BASE,
    CLI_OPT_AK_ID,
    CLI_OPT_AK_SECRET,
    CLI_OPT_TOKEN,
    CLI_OPT_CONFIG,
    CLI_OPT_AK_SECRET_FILE,
    CLI_OPT_CA_FILE,
};
#define CLI_COMMON_OPTIONS                                                                                     \
    {"endpoint", required_argument, NULL, CLI_OPT_ENDPOINT},                                                  \
        {"access-key-id", required_argument, NULL, CLI_OPT_AK_ID},                                            \
        {"access-key-secret", required_argument, NULL, CLI_OPT_AK_SECRET},                                    \
        {"security-token", required_argument, NULL, CLI_OPT_TOKEN},                                           \
        {"access-key-secret-file", required_argument, NULL, CLI_OPT_AK_SECRET_FILE},                          \
        {"ca-file", required_argument, NULL, CLI_OPT_CA_FILE},                                                \
        {"config", required_argument, NULL, CLI_OPT_CONFIG}, { "help", no_argument, NULL, 'h' }

extern const char *cli_prog;        /* "vodup" */
extern const char CLI_COMMON_HELP[]; /* the text describing CLI_COMMON_OPTIONS */

/* Flags given on the command line, before the environment and the config file. */
typedef struct cli_flags {
    const char *endpoint, *access_key_id, *access_key_secret, *security_token, *config;
    const char *access_key_secret_file;
    const char *ca_file;
} cli_flags;

/* Flags given before the command name (`vodup --endpoint U upload ...`); commands
 * start from a copy of these. */
extern cli_flags cli_global_flags;

/* config.c */
/* Takes a common option into *flags; 1 if it was one, 0 if not. */
int cli_flags_take(cli_flags *flags, int opt, const char *arg);
/* Resolves flags > environment > config file into *cfg. Prints and returns EXIT_USAGE
 * when the config file is unreadable or malformed. */
int cli_config_load(cli_config *cfg, const cli_flags *flags);
void cli_config_free(cli_config *cfg);
/* Checks that an endpoint and an AccessKey are configured; prints how to set them. */
int cli_config_require(const cli_config *cfg, const char *cmd);
/* Parses "123", "64k", "8M", "1G" (binary multiples) into *out; -1 when malformed. */
int cli_parse_size(const char *s, uint64_t *out);
/* Parses a decimal integer in [min, max]; -1 when malformed or out of range. */
int cli_parse_long(const char *s, long long min, long long max, long long *out);
/* mkdir -p with mode 0700 for the last component. 0 or -1 (errno set). */
int cli_mkdirs(const char *dir);
/* "~/.cache/vodup/records" with $XDG_CACHE_HOME / $HOME; caller frees. */
char *cli_default_record_dir(void);

/* api.c */
/* Set by a command given --json: an API failure also prints {"ErrorCode","Error"} on stdout,
 * so that a script reading stdout sees why there is no answer. */
extern int cli_json_errors;
/* Opens an API client for cfg; prints and returns NULL on failure. */
vodup_api *cli_api_open(const cli_config *cfg, const char *cmd);
/* Calls the API; on success *out gets the parsed response. On failure prints a
 * message naming the problem (unreachable URL, refused credentials with the server's
 * Code and Message) prefixed by cmd, and returns -1. */
int cli_api_call(vodup_api *a, const cli_config *cfg, const char *cmd, const char *version, const char *action,
                 const char *const *params, json_t **out);
/* Explains a libvodup error code for a person; upload_auth: the credentials came from
 * --upload-auth (no AccessKey involved). NULL when there is nothing to add. */
const char *cli_error_hint(int code, int upload_auth);
/* From a libvodup message "Action: HTTP 404 Code: message": the HTTP status and the
 * service's Code ("" when it gave none). 0, or -1 when msg holds no HTTP status. */
int cli_http_error(const char *msg, int *status, char *code, size_t n);
/* 1 when an error answer (HTTP status, Code or NULL) cannot have come from a VOD service. */
int cli_not_vod(int status, const char *code);
/* "WHO: the endpoint E does not look like a VOD service: ..." on stderr. */
void cli_print_not_vod(const char *who, const char *endpoint, const char *from, int status, const char *action);
/* Opens (and closes) a TCP connection to the endpoint's host and port, waiting at most a
 * few seconds: 0 when it connects (or cannot be judged), -1 with a reason in why when
 * nothing listens there, so that a wrong endpoint is named at once instead of after
 * the retries meant for a network that fails mid-upload. */
int cli_probe(const char *endpoint, char *why, size_t n);

/* Prints usage text and returns the status: EXIT_OK for --help (stdout, followed by the
 * connection options every command takes), EXIT_USAGE otherwise (stderr). */
int cli_usage(const char *text, int ok);
/* For getopt_long's '?' or ':' (optstring starting with ':'): names the unknown option,
 * or the option that lacks its value, once (opterr is 0), and returns EXIT_USAGE. */
int cli_bad_option(const char *cmd, const char *usage, char **argv, int c);
/* "vodup video info: unexpected argument 'x'" and the usage line, EXIT_USAGE. */
int cli_bad_usage(const char *cmd, const char *usage, const char *fmt, ...) __attribute__((format(printf, 3, 4)));

/* Commands. */
int cmd_upload(int argc, char **argv, vodup_media_type type);
int cmd_video(int argc, char **argv);
/* `vodup image upload|url`; usage is the group's help text. */
int cmd_image(int argc, char **argv, const char *usage);
int cmd_sts(int argc, char **argv);
/* `vodup s3 cp` (s3.c). */
int cmd_s3(int argc, char **argv);
/* `vodup upload`'s engine with the file going to the S3 object t (s3 NULL: the VOD
 * service): argv as upload's (the files and the upload options); cmd and usage name the
 * command in messages. Resume records, parts, progress and --json rows as upload's. */
int cli_upload_run(int argc, char **argv, vodup_media_type type, const char *cmd, const char *usage,
                   const vodup_s3_target *s3);

/* progress.c - the terminal view of an upload: one bar per file and a total line. */
typedef struct cli_progress cli_progress;
cli_progress *cli_progress_new(int nfiles, FILE *out, int tty);
void cli_progress_file(cli_progress *p, int i, const char *name, uint64_t size);
/* The --limit-rate in force (0: none): the speed shown never exceeds it. */
void cli_progress_set_limit(cli_progress *p, uint64_t bytes_per_second);
/* Called from any thread: file i started (its speed is measured from now). */
void cli_progress_start(cli_progress *p, int i);
/* Called from any thread: records bytes acknowledged for file i, of which sent by this run. */
void cli_progress_update(cli_progress *p, int i, uint64_t done, uint64_t total, uint64_t sent);
/* Marks file i ended with a short status word ("done", "failed", "paused"). */
void cli_progress_end(cli_progress *p, int i, const char *word);
/* Redraws if at least 200 ms passed since the last draw (or force). Main thread only. */
void cli_progress_draw(cli_progress *p, int force);
/* Leaves the cursor below the bars so that later output does not overwrite them. */
void cli_progress_finish(cli_progress *p);
void cli_progress_free(cli_progress *p);
/* s as it may be shown on a terminal: control characters and bytes that are not
 * characters of the locale's encoding escaped (\n, \x1b). Caller frees; NULL on ENOMEM. */
char *cli_display_text(const char *s);
/* Columns cli_display_text(s) takes on a terminal. */
int cli_display_width(const char *s);
/* "12.3 MiB" into buf. */
const char *cli_human_bytes(char *buf, size_t n, double bytes);

#endif
