/* conf.c - vodupd.conf through libinih, and the merge with the environment and the
 * command line: see conf.h. docs/vodupd.conf.md says why INI and describes every key;
 * tests/integration/ops-config.test.mjs checks that every key below is documented there
 * and in dist/vodupd.conf. */
#include "server/conf.h"

#include <errno.h>
#include <ini.h>
#include <stdlib.h>
#include <string.h>

#define D_NONE "(none)"

/* The order here is the order `config check` prints. */
const conf_key conf_keys[] = {
    {"server", "data-dir", 0, 0, 0, "./vodup-data"},
    {"server", "metadata", 0, 0, 1, "(SQLite: data-dir/vodup.db)"},
    /* No secret: an s3:// URL names no credentials (they come from AWS_* or the AWS
     * credentials file), and main.c refuses one that tries. */
    {"server", "bytes", 0, 0, 0, "(files in data-dir/objects)"},
    {"server", "listen", 0, 0, 0, "127.0.0.1:9000"},
    {"server", "public-url", 0, 0, 0, "(http or https://, the listen or tls-listen address)"},
    {"server", "region", 0, 0, 0, "cn-hangzhou"},
    {"server", "threads", 0, 0, 0, "4"},
    {"server", "workers", 0, 0, 0, "8"},
    {"server", "probe-workers", 0, 0, 0, "2"},
    {"tls", "tls-listen", 0, 0, 0, D_NONE},
    {"tls", "tls-cert", 0, 0, 0, D_NONE},
    {"tls", "tls-key", 0, 0, 0, D_NONE},
    {"admin", "admin-listen", 0, 0, 0, D_NONE},
    {"uploads", "max-uploads", 0, 0, 0, "10000"},
    {"uploads", "upload-auth-ttl", 0, 0, 0, "3000"},
    {"uploads", "upload-cred-grace", 0, 0, 0, "(the larger of 3600 and upload-auth-ttl)"},
    {"uploads", "upload-expiry-days", 0, 0, 0, "7"},
    {"uploads", "disk-reserve", 0, 0, 0, "64M"},
    {"uploads", "storage-quota", 0, 0, 0, "0"},
    {"uploads", "serve-active-content", 1, 0, 0, "false"},
    {"events", "event-max-attempts", 0, 0, 0, "0"},
    {"events", "callback-allow", 0, 1, 0, D_NONE},
    {"events", "callback-allow-private", 1, 0, 0, "false"},
    {"limits", "max-connections", 0, 0, 0, "(from the open-file limit, at most 65536)"},
    {"limits", "max-connections-per-ip", 0, 0, 0, "256"},
    {"limits", "header-timeout", 0, 0, 0, "30"},
    {"limits", "idle-timeout", 0, 0, 0, "120"},
    {"limits", "min-body-rate", 0, 0, 0, "500"},
    {"limits", "body-rate-window", 0, 0, 0, "30"},
    {"limits", "rate-per-key", 0, 0, 0, "1000"},
    {"limits", "trusted-proxy", 0, 1, 0, D_NONE},
};
const size_t conf_nkeys = sizeof conf_keys / sizeof conf_keys[0];

static const conf_key *find_key(const char *name)
{
    for (size_t i = 0; i < conf_nkeys; i++)
        if (strcmp(conf_keys[i].name, name) == 0)
            return &conf_keys[i];
    return NULL;
}

static int parse_bool(const char *v, int *out)
{
    static const char *yes[] = {"true", "yes", "on", "1"}, *no[] = {"false", "no", "off", "0"};
    for (size_t i = 0; i < 4; i++) {
        if (strcasecmp(v, yes[i]) == 0)
            return *out = 1, 0;
        if (strcasecmp(v, no[i]) == 0)
            return *out = 0, 0;
    }
    return -1;
}

static int add_setting(conf *c, const conf_key *k, const char *value, const char *origin, int from_env)
{
    if (c->n == c->cap) {
        size_t cap = c->cap ? c->cap * 2 : 16;
        conf_setting *v = realloc(c->v, cap * sizeof *v);
        if (!v)
            return -1;
        c->v = v;
        c->cap = cap;
    }
    conf_setting *s = &c->v[c->n];
    memset(s, 0, sizeof *s);
    if (!(s->value = strdup(value)))
        return -1;
    s->key = k;
    s->from_env = from_env;
    snprintf(s->origin, sizeof s->origin, "%s", origin);
    c->n++;
    return 0;
}

/* Validates one (key, value); 0 or -1 with err. Booleans are checked here, the rest by
 * the option parser. */
static int check_value(const conf_key *k, const char *value, conf_validate_fn validate, char *err, size_t n)
{
    if (k->is_bool) {
        int b;
        if (parse_bool(value, &b) != 0) {
            snprintf(err, n, "%s wants true or false, got '%s'", k->name, value);
            return -1;
        }
        return 0;
    }
    if (!*value) {
        snprintf(err, n, "%s has no value", k->name);
        return -1;
    }
    return validate ? validate(k->name, value, err, n) : 0;
}

typedef struct load_ctx {
    conf *c;
    conf_validate_fn validate;
    char err[512];          /* the first error; ini_parse reports its line */
    int failed;
    FILE *f;
    int line;               /* lines read so far: the handler's entry is on the last one */
} load_ctx;

/* fgets for ini_parse_stream, counting lines: inih passes no line numbers to handlers
 * (INI_HANDLER_LINENO is 0 in Debian's build), and `config check` shows each value's. */
static char *read_line(char *str, int num, void *stream)
{
    load_ctx *l = stream;
    char *r = fgets(str, num, l->f);
    if (r && (strchr(r, '\n') || feof(l->f)))
        l->line++;
    return r;
}

static int on_entry(void *user, const char *section, const char *name, const char *value)
{
    load_ctx *l = user;
    char msg[512];
    const conf_key *k = find_key(name);
    if (!k) {
        snprintf(msg, sizeof msg, "unknown key '%s'", name);
    } else if (strcmp(section, k->section) != 0) {
        if (*section)
            snprintf(msg, sizeof msg, "'%s' belongs in [%s], not [%s]", name, k->section, section);
        else
            snprintf(msg, sizeof msg, "'%s' must be inside its section [%s]", name, k->section);
    } else {
        msg[0] = '\0';
        if (!k->repeat)
            for (size_t i = 0; i < l->c->n; i++)
                if (l->c->v[i].key == k && !l->c->v[i].from_env) {
                    snprintf(msg, sizeof msg, "'%s' is set twice (first at %s)", name, l->c->v[i].origin);
                    break;
                }
        if (!msg[0] && check_value(k, value, l->validate, msg, sizeof msg) == 0) {
            char origin[300];
            snprintf(origin, sizeof origin, "%s:%d", l->c->path, l->line);
            if (add_setting(l->c, k, value, origin, 0) != 0) {
                snprintf(msg, sizeof msg, "out of memory");
            } else {
                return 1;
            }
        }
    }
    if (!l->failed) {
        snprintf(l->err, sizeof l->err, "%s", msg);
        l->failed = 1;
    }
    return 0; /* ini_parse returns the line of the first entry refused */
}

int conf_load_file(conf *c, const char *path, conf_validate_fn validate, char *err, size_t errlen)
{
    free(c->path);
    if (!(c->path = strdup(path))) {
        snprintf(err, errlen, "out of memory");
        return -1;
    }
    FILE *f = fopen(path, "re");
    if (!f) {
        snprintf(err, errlen, "cannot read %s: %s", path, strerror(errno));
        return -1;
    }
    load_ctx l = {c, validate, "", 0, f, 0};
    int r = ini_parse_stream(read_line, &l, on_entry, &l);
    fclose(f);
    if (r == 0)
        return 0;
    if (r < 0)
        snprintf(err, errlen, "cannot read %s", path);
    else if (l.failed)
        snprintf(err, errlen, "%s:%d: %s", path, r, l.err);
    else /* inih's own: no '=', an unclosed [section], a line over its 200 characters */
        snprintf(err, errlen, "%s:%d: not 'key = value', '[section]' or a comment (lines are at most 199 characters)",
                 path, r);
    return -1;
}

int conf_load_env(conf *c, conf_validate_fn validate, char *err, size_t errlen)
{
    for (size_t i = 0; i < conf_nkeys; i++) {
        const conf_key *k = &conf_keys[i];
        char var[64] = "VODUPD_";
        size_t o = strlen(var);
        for (const char *p = k->name; *p && o + 1 < sizeof var; p++)
            var[o++] = *p == '-' ? '_' : (char)(*p >= 'a' && *p <= 'z' ? *p - 32 : *p);
        var[o] = '\0';
        const char *v = getenv(var);
        if (!v)
            continue;
        char origin[80];
        snprintf(origin, sizeof origin, "$%s", var);
        char *copy = strdup(v);
        if (!copy) {
            snprintf(err, errlen, "out of memory");
            return -1;
        }
        int rc = 0;
        char msg[512];
        /* A list in one variable: its items one by one, as repeated keys. */
        char *save = NULL;
        char *item = k->repeat ? strtok_r(copy, ", ", &save) : copy;
        for (; item && rc == 0; item = k->repeat ? strtok_r(NULL, ", ", &save) : NULL) {
            if (check_value(k, item, validate, msg, sizeof msg) != 0) {
                snprintf(err, errlen, "%s: %s", origin, msg);
                rc = -1;
            } else if (add_setting(c, k, item, origin, 1) != 0) {
                snprintf(err, errlen, "out of memory");
                rc = -1;
            }
        }
        free(copy);
        if (rc != 0)
            return rc;
    }
    return 0;
}

/* 1 when args (the command line) set the option name: --name, --name=V, or the short
 * forms this is asked about (-C of callback-allow, -d of data-dir). */
static int args_name(int argc, char **argv, const char *name)
{
    size_t n = strlen(name);
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (strcmp(a, "--") == 0)
            break;
        if (a[0] == '-' && a[1] == '-' && strncmp(a + 2, name, n) == 0 && (a[2 + n] == '\0' || a[2 + n] == '='))
            return 1;
        if ((strcmp(name, "callback-allow") == 0 && strncmp(a, "-C", 2) == 0) ||
            (strcmp(name, "data-dir") == 0 && strncmp(a, "-d", 2) == 0))
            return 1;
    }
    return 0;
}

static char *keep(conf *c, char *s)
{
    if (!s)
        return NULL;
    char **v = realloc(c->strs, (c->nstrs + 1) * sizeof *v);
    if (!v) {
        free(s);
        return NULL;
    }
    c->strs = v;
    c->strs[c->nstrs++] = s;
    return s;
}

char **conf_merge(conf *c, int data_dir_only, int argc, char **argv, int *out_argc)
{
    free(c->argv);
    c->argv = calloc(c->n + (size_t)argc + 1, sizeof *c->argv);
    if (!c->argv)
        return NULL;
    int n = 0;
    c->argv[n++] = argv[0];
    if (data_dir_only) {
        /* Commands with a verb (`user list`) want it first: the data dir goes last, and
         * only when the command line does not name one (it would win anyway). */
        for (int i = 1; i < argc; i++)
            c->argv[n++] = argv[i];
        const conf_setting *dd = NULL;
        for (size_t i = 0; i < c->n; i++)
            if (strcmp(c->v[i].key->name, "data-dir") == 0 && (!dd || c->v[i].from_env >= dd->from_env))
                dd = &c->v[i];
        if (dd && !args_name(argc, argv, "data-dir")) {
            size_t len = strlen(dd->value) + 12;
            char *a = malloc(len);
            if (a)
                snprintf(a, len, "--data-dir=%s", dd->value);
            if (!keep(c, a))
                return NULL;
            c->argv[n++] = a;
        }
        c->argv[n] = NULL;
        *out_argc = n;
        return c->argv;
    }
    /* File entries first, then the environment's: the option parser keeps the last. */
    for (int pass = 0; pass < 2; pass++) {
        for (size_t i = 0; i < c->n; i++) {
            const conf_setting *s = &c->v[i];
            if (s->from_env != pass)
                continue;
            if (s->key->repeat) {
                /* a list comes whole from the highest source that names it */
                int env_has = 0;
                for (size_t j = 0; j < c->n && !pass; j++)
                    env_has |= c->v[j].key == s->key && c->v[j].from_env;
                if (env_has || args_name(argc, argv, s->key->name))
                    continue;
            }
            char *a;
            if (s->key->is_bool) {
                int b = 0;
                parse_bool(s->value, &b);
                if (!b)
                    continue;
                size_t len = strlen(s->key->name) + 3;
                if ((a = malloc(len)))
                    snprintf(a, len, "--%s", s->key->name);
            } else {
                size_t len = strlen(s->key->name) + strlen(s->value) + 4;
                if ((a = malloc(len)))
                    snprintf(a, len, "--%s=%s", s->key->name, s->value);
            }
            if (!keep(c, a))
                return NULL;
            c->argv[n++] = a;
        }
    }
    for (int i = 1; i < argc; i++)
        c->argv[n++] = argv[i];
    c->argv[n] = NULL;
    *out_argc = n;
    return c->argv;
}

void conf_print(const conf *c, FILE *out)
{
    fprintf(out, "# vodupd: effective configuration (%s%s; environment VODUPD_*)\n",
            c->path ? "file " : "no file", c->path ? c->path : "");
    const char *section = "";
    for (size_t i = 0; i < conf_nkeys; i++) {
        const conf_key *k = &conf_keys[i];
        if (strcmp(section, k->section) != 0) {
            section = k->section;
            fprintf(out, "\n[%s]\n", section);
        }
        /* The environment outranks the file; for a list, the highest source's items. */
        int from_env = 0, any = 0;
        for (size_t j = 0; j < c->n; j++)
            if (c->v[j].key == k) {
                any = 1;
                from_env |= c->v[j].from_env;
            }
        if (!any) {
            if (k->def[0] == '(')
                fprintf(out, "# %s = %s\n", k->name, k->def);
            else
                fprintf(out, "%s = %s  ; default\n", k->name, k->def);
            continue;
        }
        const conf_setting *last = NULL;
        for (size_t j = 0; j < c->n; j++) {
            const conf_setting *s = &c->v[j];
            if (s->key != k || s->from_env != from_env)
                continue;
            if (k->repeat)
                fprintf(out, "%s = %s  ; %s\n", k->name, k->secret ? "(secret, not shown)" : s->value, s->origin);
            last = s;
        }
        if (!k->repeat && last)
            fprintf(out, "%s = %s  ; %s\n", k->name, k->secret ? "(secret, not shown)" : last->value, last->origin);
    }
}

void conf_free(conf *c)
{
    for (size_t i = 0; i < c->n; i++)
        free(c->v[i].value);
    free(c->v);
    for (size_t i = 0; i < c->nstrs; i++)
        free(c->strs[i]);
    free(c->strs);
    free(c->argv);
    free(c->path);
    memset(c, 0, sizeof *c);
}
