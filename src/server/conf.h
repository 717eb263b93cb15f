/* conf.h - vodupd.conf, the configuration file, and how it, the environment and the
 * command line together decide each setting (docs/vodupd.conf.md).
 *
 * Every key of the file is a long option of `vodupd serve` under the same name, in a
 * section that groups it ([server] listen = ... is --listen); the environment variable
 * VODUPD_<NAME> (upper case, '-' as '_') sets it too. Precedence, lowest first: the
 * built-in default, the file, the environment, the command line. This module turns the
 * file and the environment into command-line arguments placed before the real ones, so
 * that one option parser (main.c) validates all three and the last value wins; a
 * repeatable key (trusted-proxy, callback-allow) is taken whole from the highest source
 * that names it, so a flag replaces the file's list instead of adding to it.
 */
#ifndef VODUPD_CONF_H
#define VODUPD_CONF_H

#include <stddef.h>
#include <stdio.h>

typedef struct conf_key {
    const char *section;   /* [section] of the file */
    const char *name;      /* the key, and the `vodupd serve` option --name */
    int is_bool;           /* true/false in the file; a flag without a value */
    int repeat;            /* may be given more than once (a list) */
    int secret;            /* `config check` prints it elided (metadata: its URL may hold a password) */
    const char *def;       /* the default, as `config check` shows it */
} conf_key;

extern const conf_key conf_keys[];
extern const size_t conf_nkeys;

/* Checks one setting as the option parser would: 0, or -1 with a message in err. */
typedef int (*conf_validate_fn)(const char *name, const char *value, char *err, size_t errlen);

typedef struct conf_setting {
    const conf_key *key;
    char *value;
    char origin[300];      /* "FILE:LINE" or "$VODUPD_NAME" */
    int from_env;
} conf_setting;

typedef struct conf {
    conf_setting *v;
    size_t n, cap;
    char *path;            /* the file read, or NULL */
    char **argv;           /* built by conf_merge; owned */
    char **strs;           /* strings argv points at; owned */
    size_t nstrs;
} conf;

/* Reads the file at path. 0, or -1 with err "PATH:LINE: what is wrong" (or why the file
 * cannot be read). Unknown sections and keys, a key outside its section, a key given
 * twice, a bad boolean and any value validate rejects are errors naming their line. */
int conf_load_file(conf *c, const char *path, conf_validate_fn validate, char *err, size_t errlen);
/* Adds the VODUPD_* environment variables (a repeatable key's variable holds a list
 * separated by commas or spaces). 0, or -1 with err naming the variable. */
int conf_load_env(conf *c, conf_validate_fn validate, char *err, size_t errlen);
/* The argument vector argv[0], file and environment settings as options, then argv[1..]:
 * only data-dir's, after argv[1..] and only when they do not name one, when data_dir_only
 * (commands that need nothing else, some with a verb first). NULL on oom. */
char **conf_merge(conf *c, int data_dir_only, int argc, char **argv, int *out_argc);
/* Prints the effective configuration as a file would say it, each line with where the
 * value came from; secrets elided. */
void conf_print(const conf *c, FILE *out);
void conf_free(conf *c);

#endif
