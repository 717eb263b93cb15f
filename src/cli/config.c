/* config.c - where the CLI's settings come from.
 *
 * Order: command-line flags, then the environment (VODUP_ENDPOINT, VODUP_ACCESS_KEY_ID,
 * VODUP_ACCESS_KEY_SECRET, VODUP_SECURITY_TOKEN, VODUP_RECORD_DIR), then the config file
 * (--config FILE, else $VODUP_CONFIG, else $XDG_CONFIG_HOME/vodup/config, else
 * ~/.config/vodup/config): lines of `key = value`, `#` comments. A key pair is taken as a
 * whole from one place, so that an id from the environment is never matched with a
 * secret from the file. */
#include <ctype.h>
#include <errno.h>
#include <limits.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "cli.h"

const char *cli_prog = "vodup";

const char CLI_COMMON_HELP[] =
    "connection (flags override the environment, which overrides the config file):\n"
    "  --endpoint URL             VOD endpoint, e.g. http://127.0.0.1:9000  [VODUP_ENDPOINT]\n"
    "  --access-key-id ID         AccessKey id                  [VODUP_ACCESS_KEY_ID]\n"
    "  --access-key-secret S      AccessKey secret              [VODUP_ACCESS_KEY_SECRET]\n"
    "                             (other users see flags in `ps`: prefer the variable, the\n"
    "                             config file, --access-key-secret-file, or `-` to read stdin)\n"
    "  --access-key-secret-file FILE   read the secret from FILE's first line\n"
    "  --security-token T         STS token, for temporary keys [VODUP_SECURITY_TOKEN]\n"
    "  --ca-file FILE             PEM certificate authorities to trust for https endpoints\n"
    "                             (a private CA), instead of the system's  [VODUP_CA_FILE]\n"
    "  --config FILE              config file (default ~/.config/vodup/config)\n";

int cli_flags_take(cli_flags *flags, int opt, const char *arg)
{
    switch (opt) {
    case CLI_OPT_ENDPOINT: flags->endpoint = arg; return 1;
    case CLI_OPT_AK_ID: flags->access_key_id = arg; return 1;
    case CLI_OPT_AK_SECRET: flags->access_key_secret = arg; return 1;
    case CLI_OPT_TOKEN: flags->security_token = arg; return 1;
    case CLI_OPT_CONFIG: flags->config = arg; return 1;
    case CLI_OPT_AK_SECRET_FILE: flags->access_key_secret_file = arg; return 1;
    case CLI_OPT_CA_FILE: flags->ca_file = arg; return 1;
    default: return 0;
    }
}

int cli_usage(const char *text, int ok)
{
    fputs(text, ok ? stdout : stderr);
    if (ok) {
        fputs("\n", stdout);
        fputs(CLI_COMMON_HELP, stdout);
    }
    return ok ? EXIT_OK : EXIT_USAGE;
}

int cli_bad_option(const char *cmd, const char *usage, char **argv, int c)
{
    const char *arg = optind > 0 ? argv[optind - 1] : "?";
    if (c == ':')
        return cli_bad_usage(cmd, usage, "option '%s' needs a value", arg);
    if (optopt && optopt < 128 && !(arg[0] == '-' && arg[1] == '-'))
        return cli_bad_usage(cmd, usage, "unknown option '-%c'", optopt);
    return cli_bad_usage(cmd, usage, "unknown option '%s'", arg);
}

int cli_bad_usage(const char *cmd, const char *usage, const char *fmt, ...)
{
    va_list ap;
    fprintf(stderr, "%s: ", cmd);
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    /* Only the first line of the usage text: the full help is one --help away. */
    const char *nl = strchr(usage, '\n');
    fprintf(stderr, "\n%.*s\n(see %s --help)\n", nl ? (int)(nl - usage) : (int)strlen(usage), usage, cmd);
    return EXIT_USAGE;
}

int cli_parse_long(const char *s, long long min, long long max, long long *out)
{
    if (!s || !*s)
        return -1;
    char *end;
    errno = 0;
    long long v = strtoll(s, &end, 10);
    if (errno || *end || v < min || v > max)
        return -1;
    *out = v;
    return 0;
}

int cli_parse_size(const char *s, uint64_t *out)
{
    if (!s || !isdigit((unsigned char)*s))
        return -1;
    char *end;
    errno = 0;
    unsigned long long v = strtoull(s, &end, 10);
    if (errno)
        return -1;
    unsigned shift = 0;
    switch (*end) {
    case '\0': break;
    case 'k': case 'K': shift = 10; end++; break;
    case 'm': case 'M': shift = 20; end++; break;
    case 'g': case 'G': shift = 30; end++; break;
    default: return -1;
    }
    /* Accept "8MiB", "8MB" and "8M" alike: people type all three. */
    if (shift && (*end == 'i' || *end == 'I'))
        end++;
    if (shift && (*end == 'b' || *end == 'B'))
        end++;
    if (*end || (shift && v > (ULLONG_MAX >> shift)))
        return -1;
    *out = (uint64_t)v << shift;
    return 0;
}

int cli_mkdirs(const char *dir)
{
    size_t n = strlen(dir);
    char *buf = malloc(n + 1);
    if (!buf) {
        errno = ENOMEM;
        return -1;
    }
    memcpy(buf, dir, n + 1);
    for (char *p = buf + 1; *p; p++) {
        if (*p != '/')
            continue;
        *p = '\0';
        if (mkdir(buf, 0755) != 0 && errno != EEXIST) {
            int e = errno;
            free(buf);
            errno = e;
            return -1;
        }
        *p = '/';
    }
    int rc = mkdir(buf, 0700) != 0 && errno != EEXIST ? -1 : 0;
    int e = errno;
    free(buf);
    errno = e;
    return rc;
}

static char *join(const char *a, const char *b)
{
    size_t la = strlen(a), lb = strlen(b);
    char *s = malloc(la + lb + 1);
    if (!s)
        return NULL;
    memcpy(s, a, la);
    memcpy(s + la, b, lb + 1);
    return s;
}

static char *dup_or_null(const char *s)
{
    return s ? strdup(s) : NULL;
}

char *cli_default_record_dir(void)
{
    const char *xdg = getenv("XDG_CACHE_HOME");
    if (xdg && *xdg)
        return join(xdg, "/vodup/records");
    const char *home = getenv("HOME");
    return join(home && *home ? home : ".", "/.cache/vodup/records");
}

static char *default_config_path(void)
{
    const char *env = getenv("VODUP_CONFIG");
    if (env && *env)
        return strdup(env);
    const char *xdg = getenv("XDG_CONFIG_HOME");
    if (xdg && *xdg)
        return join(xdg, "/vodup/config");
    const char *home = getenv("HOME");
    return join(home && *home ? home : ".", "/.config/vodup/config");
}

static char *trim(char *s)
{
    while (isspace((unsigned char)*s))
        s++;
    size_t n = strlen(s);
    while (n && isspace((unsigned char)s[n - 1]))
        s[--n] = '\0';
    /* Values may be quoted, so that one with leading spaces or a '#' survives. */
    if (n >= 2 && (s[0] == '"' || s[0] == '\'') && s[n - 1] == s[0]) {
        s[n - 1] = '\0';
        s++;
    }
    return s;
}

typedef struct file_values {
    char *endpoint, *access_key_id, *access_key_secret, *security_token, *record_dir, *ca_file;
} file_values;

static void file_values_free(file_values *v)
{
    free(v->endpoint);
    free(v->access_key_id);
    free(v->access_key_secret);
    free(v->security_token);
    free(v->record_dir);
    free(v->ca_file);
}

/* Reads the config file. A missing file is fine unless it was named explicitly. */
/* Warns when a file holding a secret can be read by other users (as ssh does for keys):
 * the secret is only as private as the file. */
static void warn_if_shared(FILE *f, const char *path, const char *what)
{
    struct stat sb;
    if (fstat(fileno(f), &sb) == 0 && S_ISREG(sb.st_mode) && (sb.st_mode & 077))
        fprintf(stderr, "%s: warning: %s %s can be read by other users (mode %03o): chmod 600 %s\n", cli_prog, what,
                path, (unsigned)(sb.st_mode & 0777), path);
}

static int read_config_file(const char *path, int explicit_path, file_values *v)
{
    FILE *f = fopen(path, "r");
    if (!f) {
        if (errno == ENOENT && !explicit_path)
            return 0;
        fprintf(stderr, "%s: cannot read config file %s: %s\n", cli_prog, path, strerror(errno));
        return -1;
    }
    char line[8192];
    int lineno = 0, rc = 0;
    while (fgets(line, sizeof line, f)) {
        lineno++;
        char *s = trim(line);
        if (!*s || *s == '#' || *s == ';')
            continue;
        char *eq = strchr(s, '=');
        if (!eq) {
            fprintf(stderr, "%s: %s:%d: expected `key = value`, got \"%s\"\n", cli_prog, path, lineno, s);
            rc = -1;
            break;
        }
        *eq = '\0';
        char *key = trim(s), *val = trim(eq + 1);
        char **slot = NULL;
        if (strcmp(key, "endpoint") == 0)
            slot = &v->endpoint;
        else if (strcmp(key, "access_key_id") == 0)
            slot = &v->access_key_id;
        else if (strcmp(key, "access_key_secret") == 0)
            slot = &v->access_key_secret;
        else if (strcmp(key, "security_token") == 0)
            slot = &v->security_token;
        else if (strcmp(key, "record_dir") == 0)
            slot = &v->record_dir;
        else if (strcmp(key, "ca_file") == 0)
            slot = &v->ca_file;
        if (!slot) {
            fprintf(stderr, "%s: %s:%d: unknown key \"%s\" (known: endpoint, access_key_id, access_key_secret, "
                            "security_token, record_dir, ca_file)\n",
                    cli_prog, path, lineno, key);
            rc = -1;
            break;
        }
        free(*slot);
        *slot = strdup(val);
    }
    if (rc == 0 && v->access_key_secret)
        warn_if_shared(f, path, "the config file, which holds access_key_secret,");
    fclose(f);
    return rc;
}

/* The first line of f, without its line end; NULL when empty or unreadable. */
static char *read_secret_line(FILE *f)
{
    char buf[1024];
    if (!fgets(buf, sizeof buf, f))
        return NULL;
    size_t n = strcspn(buf, "\r\n");
    buf[n] = '\0';
    char *s = n ? strdup(buf) : NULL;
    memset(buf, 0, sizeof buf);
    return s;
}

/* The secret from --access-key-secret-file FILE or --access-key-secret - (stdin), so that
 * it never needs to be on the command line, where other users see it. -1 on failure
 * (printed). */
static int secret_from_file(const cli_flags *flags, char **out)
{
    const char *path = flags->access_key_secret_file;
    int from_stdin = !path && flags->access_key_secret && strcmp(flags->access_key_secret, "-") == 0;
    *out = NULL;
    if (!path && !from_stdin)
        return 0;
    FILE *f = from_stdin ? stdin : fopen(path, "r");
    if (!f) {
        fprintf(stderr, "%s: cannot read --access-key-secret-file %s: %s\n", cli_prog, path, strerror(errno));
        return -1;
    }
    *out = read_secret_line(f);
    if (!from_stdin) {
        warn_if_shared(f, path, "the secret file");
        fclose(f);
    }
    if (!*out) {
        fprintf(stderr, "%s: %s holds no secret (its first line is empty)\n", cli_prog,
                from_stdin ? "standard input (--access-key-secret -)" : path);
        return -1;
    }
    return 0;
}

static const char *env(const char *name)
{
    const char *v = getenv(name);
    return v && *v ? v : NULL;
}

int cli_config_load(cli_config *cfg, const cli_flags *flags)
{
    memset(cfg, 0, sizeof *cfg);
    cfg->config_path = flags->config ? strdup(flags->config) : default_config_path();
    file_values fv;
    memset(&fv, 0, sizeof fv);
    if (!cfg->config_path || read_config_file(cfg->config_path, flags->config != NULL, &fv) != 0) {
        file_values_free(&fv);
        return EXIT_USAGE;
    }

    if (flags->endpoint) {
        cfg->endpoint = strdup(flags->endpoint);
        cfg->endpoint_from = "--endpoint";
    } else if (env("VODUP_ENDPOINT")) {
        cfg->endpoint = strdup(env("VODUP_ENDPOINT"));
        cfg->endpoint_from = "VODUP_ENDPOINT";
    } else if (fv.endpoint) {
        cfg->endpoint = dup_or_null(fv.endpoint);
        cfg->endpoint_from = cfg->config_path;
    }

    char *file_secret = NULL;
    if (secret_from_file(flags, &file_secret) != 0) {
        file_values_free(&fv);
        return EXIT_USAGE;
    }
    if (flags->access_key_id || flags->access_key_secret || file_secret) {
        cfg->access_key_id = dup_or_null(flags->access_key_id);
        cfg->access_key_secret = file_secret ? file_secret : dup_or_null(flags->access_key_secret);
        file_secret = NULL;
        if (flags->access_key_secret && strcmp(flags->access_key_secret, "-") != 0) {
            /* Blank the secret in argv, so that `ps` stops showing it from now on
             * (it was visible until here: the help says to prefer the other ways). */
            memset((char *)flags->access_key_secret, 'x', strlen(flags->access_key_secret));
        }
        cfg->security_token = dup_or_null(flags->security_token);
        cfg->key_from = "--access-key-id/--access-key-secret";
    } else if (env("VODUP_ACCESS_KEY_ID") || env("VODUP_ACCESS_KEY_SECRET")) {
        cfg->access_key_id = dup_or_null(env("VODUP_ACCESS_KEY_ID"));
        cfg->access_key_secret = dup_or_null(env("VODUP_ACCESS_KEY_SECRET"));
        cfg->security_token = dup_or_null(flags->security_token ? flags->security_token : env("VODUP_SECURITY_TOKEN"));
        cfg->key_from = "VODUP_ACCESS_KEY_ID/VODUP_ACCESS_KEY_SECRET";
    } else if (fv.access_key_id || fv.access_key_secret) {
        cfg->access_key_id = dup_or_null(fv.access_key_id);
        cfg->access_key_secret = dup_or_null(fv.access_key_secret);
        cfg->security_token = dup_or_null(flags->security_token ? flags->security_token : fv.security_token);
        cfg->key_from = cfg->config_path;
    }

    if (env("VODUP_RECORD_DIR"))
        cfg->record_dir = strdup(env("VODUP_RECORD_DIR"));
    else if (fv.record_dir)
        cfg->record_dir = strdup(fv.record_dir);
    const char *ca = flags->ca_file ? flags->ca_file : env("VODUP_CA_FILE") ? env("VODUP_CA_FILE") : fv.ca_file;
    cfg->ca_file = dup_or_null(ca);
    file_values_free(&fv);
    return EXIT_OK;
}

void cli_config_free(cli_config *cfg)
{
    free(cfg->endpoint);
    free(cfg->access_key_id);
    free(cfg->access_key_secret);
    free(cfg->security_token);
    free(cfg->record_dir);
    free(cfg->ca_file);
    free(cfg->config_path);
    memset(cfg, 0, sizeof *cfg);
}

int cli_config_require(const cli_config *cfg, const char *cmd)
{
    if (!cfg->endpoint || !*cfg->endpoint) {
        fprintf(stderr,
                "%s: no endpoint configured: pass --endpoint URL, set VODUP_ENDPOINT, or put `endpoint = URL` in %s\n",
                cmd, cfg->config_path);
        return EXIT_USAGE;
    }
    if (strncmp(cfg->endpoint, "http://", 7) != 0 && strncmp(cfg->endpoint, "https://", 8) != 0) {
        fprintf(stderr, "%s: endpoint \"%s\" (from %s) must start with http:// or https://\n", cmd, cfg->endpoint,
                cfg->endpoint_from);
        return EXIT_USAGE;
    }
    if (!cfg->access_key_id || !*cfg->access_key_id || !cfg->access_key_secret || !*cfg->access_key_secret) {
        fprintf(stderr,
                "%s: no AccessKey configured%s%s%s: set VODUP_ACCESS_KEY_ID and VODUP_ACCESS_KEY_SECRET, put "
                "access_key_id and access_key_secret in %s, or pass --access-key-id and --access-key-secret\n",
                cmd, cfg->key_from ? " (only half of the pair in " : "", cfg->key_from ? cfg->key_from : "",
                cfg->key_from ? ")" : "", cfg->config_path);
        return EXIT_USAGE;
    }
    return EXIT_OK;
}
