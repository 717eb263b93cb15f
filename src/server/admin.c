/* admin.c - `vodupd user|role|keys|events ...`: see admin.h. Every command prints JSON. */
#include "server/admin.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <getopt.h>
#include <jansson.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "common/timefmt.h"
#include "server/auth/auth.h"
#include "server/auth/policy.h"
#include "server/auth/token.h"
#include "server/config.h"
#include "server/server.h"
#include "server/store/meta_admin.h"
#include "server/store/meta_vod.h"

static const char USAGE_USER[] =
    "usage: vodupd user create NAME [--policy P]... [--data-dir DIR]\n"
    "       vodupd user list [--data-dir DIR]\n"
    "       vodupd user delete NAME [--data-dir DIR]\n"
    "\n"
    "RAM users of the root account. `create` prints {\"UserName\",\"AccessKeyId\",\"AccessKeySecret\"}\n"
    "once. P is a built-in policy (AliyunVODFullAccess, AliyunVODReadOnlyAccess,\n"
    "AliyunSTSAssumeRoleAccess, AliyunOSSFullAccess, AliyunOSSReadOnlyAccess), an inline\n"
    "JSON document, or a path to one. `delete` also deletes the user's keys and revokes the\n"
    "temporary credentials issued through it (role sessions it assumed, upload credentials).\n";

static const char USAGE_ROLE[] =
    "usage: vodupd role create NAME [--policy P]... [--max-session SECONDS] [--data-dir DIR]\n"
    "       vodupd role list [--data-dir DIR]\n"
    "       vodupd role delete NAME [--data-dir DIR]\n"
    "\n"
    "RAM roles of the root account, for STS AssumeRole. `create` prints {\"RoleName\",\"Arn\"}.\n"
    "--max-session caps DurationSeconds (900..3600, default 3600). `delete` revokes the role's\n"
    "sessions and the upload credentials issued to them, effective at their next request.\n";

static const char USAGE_KEYS[] =
    "usage: vodupd keys rotate [--data-dir DIR]\n"
    "\n"
    "Adds a new server key for temporary credentials and makes it current. Credentials\n"
    "sealed with older keys stay valid until they expire; delete an old keys/token-N.key\n"
    "file to revoke everything it sealed (then restart: a serving vodupd forgets no key).\n"
    "A serving vodupd picks the new key up within 5 seconds, or at once on SIGHUP; other\n"
    "nodes need the new file copied into their keys/ directory.\n";

static const char USAGE_KEY[] =
    "usage: vodupd key create (--root | --user NAME) [--data-dir DIR]\n"
    "       vodupd key list (--root | --user NAME) [--data-dir DIR]\n"
    "       vodupd key disable|enable|delete KEYID [--data-dir DIR]\n"
    "\n"
    "AccessKeys of the root account (--root) or of a RAM user, at most two each, as in RAM:\n"
    "create the new key, move the clients to it, then disable and delete the old one.\n"
    "`create` prints {\"Principal\",\"AccessKeyId\",\"AccessKeySecret\"} once. A disabled key\n"
    "is refused from the next request on (InvalidAccessKeyId.Inactive), also by a serving\n"
    "vodupd; `enable` takes it back into use.\n";

static const char USAGE_EVENTS[] =
    "usage: vodupd events list [--data-dir DIR]\n"
    "       vodupd events retry|drop ID [--data-dir DIR]\n"
    "\n"
    "Lists upload events not yet delivered to the application's callback URL, with their\n"
    "attempts, next try and last error. `retry` makes event ID due now (a serving vodupd\n"
    "sends it within 10 seconds, without counting the wait as an attempt); `drop` deletes it\n"
    "undelivered. An event whose callback is being sent at that moment may still arrive\n"
    "(callbacks are at-least-once).\n";

typedef struct admin {
    vodupd s;
    char *account;
} admin;

/* Opens the data dir's database and master key; finds the root account. */
static int admin_open(admin *a, const char *data_dir)
{
    memset(a, 0, sizeof *a);
    a->s.data_dir = (char *)data_dir;
    if (auth_master_key_load(data_dir, a->s.master_key) != 0) {
        fprintf(stderr, "vodupd: %s is not a vodupd data directory (run `vodupd init --data-dir %s`)\n", data_dir,
                data_dir);
        return -1;
    }
    if (vodup_meta_open_sqlite(&a->s.meta, data_dir, 1) != VODUP_META_OK) {
        fprintf(stderr, "vodupd: cannot open the database in %s\n", data_dir);
        return -1;
    }
    if (vodup_meta_setting_get(a->s.meta, "root_account", &a->account) != VODUP_META_OK || !a->account) {
        fprintf(stderr, "vodupd: %s has no root account\n", data_dir);
        vodup_meta_close(a->s.meta);
        return -1;
    }
    return 0;
}

static void admin_close(admin *a)
{
    if (a->s.meta)
        vodup_meta_close(a->s.meta);
    free(a->account);
    memset(a->s.master_key, 0, sizeof a->s.master_key);
}

static void print_json(json_t *j)
{
    char *s = j ? json_dumps(j, JSON_COMPACT | JSON_PRESERVE_ORDER) : NULL;
    if (s)
        printf("%s\n", s);
    free(s);
    json_decref(j);
}

/* Parses NAME, --policy (repeatable), --max-session, --data-dir after the verb. */
typedef struct args {
    const char *data_dir;
    const char *name;
    json_t *policies;
    long max_session;
} args;

static int parse_args(int argc, char **argv, args *o, const char *usage, int want_name)
{
    static const struct option opts[] = {{"data-dir", required_argument, NULL, 'd'},
                                         {"policy", required_argument, NULL, 'p'},
                                         {"max-session", required_argument, NULL, 'm'},
                                         {"help", no_argument, NULL, 'h'},
                                         {NULL, 0, NULL, 0}};
    o->data_dir = "./vodup-data";
    o->policies = json_array();
    o->max_session = 3600;
    optind = 1;
    int c;
    while ((c = getopt_long(argc, argv, "d:p:m:h", opts, NULL)) != -1) {
        char err[256], *end;
        json_t *p;
        switch (c) {
        case 'd':
            o->data_dir = optarg;
            break;
        case 'p':
            p = policy_resolve_arg(optarg, err, sizeof err);
            if (!p) {
                fprintf(stderr, "vodupd: --policy %s: %s\n", optarg, err);
                return -1;
            }
            json_array_append_new(o->policies, p);
            break;
        case 'm':
            o->max_session = strtol(optarg, &end, 10);
            if (*end || o->max_session < 900 || o->max_session > 3600) {
                fprintf(stderr, "vodupd: --max-session must be 900..3600\n");
                return -1;
            }
            break;
        case 'h':
            fputs(usage, stdout);
            return 1;
        default:
            fputs(usage, stderr);
            return -1;
        }
    }
    if (want_name) {
        if (optind >= argc) {
            fprintf(stderr, "vodupd: a NAME is needed\n%s", usage);
            return -1;
        }
        o->name = argv[optind++];
        size_t n = strlen(o->name);
        int ok = n >= 1 && n <= 64;
        for (const char *p = o->name; *p && ok; p++)
            ok = (*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') || (*p >= '0' && *p <= '9') || *p == '-' ||
                 *p == '_' || *p == '.' || *p == '@';
        if (!ok) {
            fprintf(stderr, "vodupd: NAME must be 1 to 64 of letters, digits, '-', '_', '.', '@'\n");
            return -1;
        }
    }
    if (optind < argc) {
        fprintf(stderr, "vodupd: unexpected argument '%s'\n%s", argv[optind], usage);
        return -1;
    }
    return 0;
}

static json_t *policy_names(const char *policies)
{
    json_t *set = json_loads(policies ? policies : "[]", 0, NULL), *names = json_array();
    size_t i;
    json_t *p;
    json_array_foreach(set, i, p) {
        const char *n = json_string_value(json_object_get(p, "PolicyName"));
        if (n)
            json_array_append_new(names, json_string(n));
    }
    json_decref(set);
    return names;
}

static int key_cb(const char *key_id, int active, time_t created, void *u)
{
    (void)created;
    json_t *o = json_pack("{s:s,s:s}", "AccessKeyId", key_id, "Status", active ? "Active" : "Inactive");
    json_array_append_new(u, o);
    return 0;
}

typedef struct list_ctx {
    admin *a;
    json_t *out;
    int user;
} list_ctx;

static int principal_cb(const vodup_meta_principal *p, void *u)
{
    list_ctx *l = u;
    char when[21];
    vodup_time_iso(when, p->created);
    json_t *o = json_pack("{s:s,s:s,s:o,s:s}", l->user ? "UserName" : "RoleName", p->name, "Arn", p->arn ? p->arn : "",
                          "Policies", policy_names(p->policies), "CreateDate", when);
    if (l->user) {
        json_t *keys = json_array();
        vodup_meta_key_list(l->a->s.meta, p->account_id, p->name, key_cb, keys);
        json_object_set_new(o, "AccessKeys", keys);
    } else {
        json_object_set_new(o, "MaxSessionDuration", json_integer(p->max_session));
    }
    json_array_append_new(l->out, o);
    return 0;
}

static int principal_cmd(int argc, char **argv, const char *kind, const char *usage)
{
    if (argc < 2 || strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0) {
        fputs(usage, argc < 2 ? stderr : stdout);
        return argc < 2 ? 2 : 0;
    }
    const char *verb = argv[1];
    int is_user = strcmp(kind, "user") == 0;
    int want_name = strcmp(verb, "create") == 0 || strcmp(verb, "delete") == 0;
    if (!want_name && strcmp(verb, "list") != 0) {
        fprintf(stderr, "vodupd %s: unknown verb '%s'\n%s", kind, verb, usage);
        return 2;
    }
    args o;
    memset(&o, 0, sizeof o);
    int pr = parse_args(argc - 1, argv + 1, &o, usage, want_name);
    if (pr != 0) {
        json_decref(o.policies);
        return pr > 0 ? 0 : 2;
    }
    /* "root" names the account's own keys (access_keys.principal): a user of that name
     * would share them. */
    if (is_user && o.name && strcmp(o.name, "root") == 0) {
        fprintf(stderr, "vodupd user: 'root' is reserved for the account's own keys\n");
        json_decref(o.policies);
        return 2;
    }
    admin a;
    if (admin_open(&a, o.data_dir) != 0) {
        json_decref(o.policies);
        return 1;
    }
    int rc = 0;
    if (strcmp(verb, "list") == 0) {
        list_ctx l = {&a, json_array(), is_user};
        if (vodup_meta_principal_list(a.s.meta, kind, a.account, principal_cb, &l) != VODUP_META_OK)
            rc = 1;
        print_json(l.out);
    } else if (strcmp(verb, "delete") == 0) {
        /* Also revokes every temporary credential derived from it (role sessions, and
         * upload credentials issued to them or to the user), at once, in the serving
         * vodupd too: it checks the generations at each request. */
        int r = vodup_meta_principal_delete_revoking(a.s.meta, kind, a.account, o.name);
        if (r == VODUP_META_ENOTFOUND) {
            fprintf(stderr, "vodupd %s delete: no %s named '%s'\n", kind, kind, o.name);
            rc = 1;
        } else if (r != VODUP_META_OK) {
            fprintf(stderr, "vodupd %s delete: the database failed\n", kind);
            rc = 1;
        } else {
            print_json(json_pack("{s:s,s:b}", is_user ? "UserName" : "RoleName", o.name, "Deleted", 1));
        }
    } else {
        char arn[256];
        snprintf(arn, sizeof arn, "acs:ram::%s:%s/%s", a.account, kind, o.name);
        char *pol = json_dumps(o.policies, JSON_COMPACT | JSON_PRESERVE_ORDER);
        vodup_meta_principal p = {a.account, (char *)o.name, arn, pol, (int)o.max_session, time(NULL)};
        int r = pol ? vodup_meta_principal_create(a.s.meta, kind, &p) : VODUP_META_ENOMEM;
        free(pol);
        if (r == VODUP_META_EEXISTS) {
            fprintf(stderr, "vodupd %s create: a %s named '%s' exists already\n", kind, kind, o.name);
            rc = 1;
        } else if (r != VODUP_META_OK) {
            fprintf(stderr, "vodupd %s create: the database failed\n", kind);
            rc = 1;
        } else if (is_user) {
            char key_id[25], secret[31];
            if (auth_key_create(&a.s, a.account, o.name, key_id, secret) != 0) {
                fprintf(stderr, "vodupd user create: creating the AccessKey failed\n");
                vodup_meta_principal_delete(a.s.meta, kind, a.account, o.name);
                rc = 1;
            } else {
                print_json(json_pack("{s:s,s:s,s:s}", "UserName", o.name, "AccessKeyId", key_id, "AccessKeySecret",
                                     secret));
                memset(secret, 0, sizeof secret);
            }
        } else {
            print_json(json_pack("{s:s,s:s}", "RoleName", o.name, "Arn", arn));
        }
    }
    json_decref(o.policies);
    admin_close(&a);
    return rc;
}

int admin_user(int argc, char **argv)
{
    return principal_cmd(argc, argv, "user", USAGE_USER);
}

int admin_role(int argc, char **argv)
{
    return principal_cmd(argc, argv, "role", USAGE_ROLE);
}

/* The commands with one verb and only --data-dir: checks the verb, parses the options
 * and opens the data directory. 0 with *a open, or the exit status to return (> 0, or
 * -1 for a successful --help). */
static int open_single_verb(int argc, char **argv, const char *verb, const char *usage, admin *a)
{
    if (argc < 2 || strcmp(argv[1], verb) != 0) {
        int help = argc >= 2 && (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0);
        fputs(usage, help ? stdout : stderr);
        return help ? -1 : 2;
    }
    args o;
    memset(&o, 0, sizeof o);
    int pr = parse_args(argc - 1, argv + 1, &o, usage, 0);
    json_decref(o.policies);
    if (pr != 0)
        return pr > 0 ? -1 : 2;
    return admin_open(a, o.data_dir) != 0 ? 1 : 0;
}

int admin_keys(int argc, char **argv)
{
    admin a;
    int rc = open_single_verb(argc, argv, "rotate", USAGE_KEYS, &a);
    if (rc != 0)
        return rc < 0 ? 0 : rc;
    token_keys *k = token_keys_load(a.s.data_dir);
    int id = k ? token_keys_rotate(k, a.s.data_dir) : -1;
    token_keys_free(k);
    admin_close(&a);
    if (id < 0) {
        fprintf(stderr, "vodupd keys rotate: writing a new key failed\n");
        return 1;
    }
    print_json(json_pack("{s:i}", "TokenKeyId", id));
    return 0;
}

static int event_cb(const vodup_meta_event *e, void *u)
{
    char created[21], next[21];
    vodup_time_iso(created, e->created);
    vodup_time_iso(next, e->next_at);
    json_array_append_new(u, json_pack("{s:I,s:s,s:s,s:s,s:i,s:s,s:s,s:s?,s:s?}", "Id", (json_int_t)e->id, "EventType",
                                       e->event_type ? e->event_type : "", "MediaId", e->media_id ? e->media_id : "",
                                       "AccountId", e->account_id ? e->account_id : "", "Attempts", e->attempts,
                                       "Created", created, "NextAttempt", next, "Url", e->url, "LastError",
                                       e->last_error));
    return 0;
}

int admin_events(int argc, char **argv)
{
    if (argc >= 2 && (strcmp(argv[1], "retry") == 0 || strcmp(argv[1], "drop") == 0)) {
        int retry = strcmp(argv[1], "retry") == 0;
        args o;
        memset(&o, 0, sizeof o);
        int pr = parse_args(argc - 1, argv + 1, &o, USAGE_EVENTS, 1);
        json_decref(o.policies);
        if (pr != 0)
            return pr > 0 ? 0 : 2;
        char *end;
        long long id = strtoll(o.name, &end, 10);
        if (*end || id <= 0) {
            fprintf(stderr, "vodupd events %s: ID is an event's Id (a number), got '%s'\n", argv[1], o.name);
            return 2;
        }
        admin a;
        if (admin_open(&a, o.data_dir) != 0)
            return 1;
        int found = 0;
        json_t *all = json_array();
        int rc = vodup_meta_event_list(a.s.meta, NULL, event_cb, all);
        size_t i;
        json_t *e;
        json_array_foreach(all, i, e) found |= json_integer_value(json_object_get(e, "Id")) == id;
        json_decref(all);
        if (rc == VODUP_META_OK && !found)
            rc = VODUP_META_ENOTFOUND;
        if (rc == VODUP_META_OK)
            rc = retry ? vodup_meta_event_defer(a.s.meta, id, time(NULL)) : vodup_meta_event_done(a.s.meta, id);
        admin_close(&a);
        if (rc == VODUP_META_ENOTFOUND) {
            fprintf(stderr, "vodupd events %s: no pending event %lld (delivered or dropped already?)\n", argv[1], id);
            return 1;
        }
        if (rc != VODUP_META_OK) {
            fprintf(stderr, "vodupd events %s: the database failed\n", argv[1]);
            return 1;
        }
        print_json(json_pack("{s:I,s:b}", "Id", (json_int_t)id, retry ? "Retrying" : "Dropped", 1));
        return 0;
    }
    admin a;
    int rc = open_single_verb(argc, argv, "list", USAGE_EVENTS, &a);
    if (rc != 0)
        return rc < 0 ? 0 : rc;
    json_t *out = json_array();
    rc = vodup_meta_event_list(a.s.meta, NULL, event_cb, out) == VODUP_META_OK ? 0 : 1;
    print_json(out);
    admin_close(&a);
    return rc;
}

/* `vodupd key ...`: --root or --user NAME for create and list, KEYID for the others. */
int admin_key(int argc, char **argv)
{
    if (argc < 2 || strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0) {
        fputs(USAGE_KEY, argc < 2 ? stderr : stdout);
        return argc < 2 ? 2 : 0;
    }
    const char *verb = argv[1];
    int by_principal = strcmp(verb, "create") == 0 || strcmp(verb, "list") == 0;
    int active = strcmp(verb, "enable") == 0;
    if (!by_principal && strcmp(verb, "disable") != 0 && !active && strcmp(verb, "delete") != 0) {
        fprintf(stderr, "vodupd key: unknown verb '%s'\n%s", verb, USAGE_KEY);
        return 2;
    }
    /* --root and --user are this command's own; the rest is parse_args's. */
    const char *user = NULL;
    int root = 0;
    char **rest = calloc((size_t)argc + 1, sizeof *rest);
    if (!rest)
        return 1;
    int n = 0;
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--root") == 0) {
            root = 1;
        } else if (strcmp(argv[i], "--user") == 0 && i + 1 < argc) {
            user = argv[++i];
        } else if (strncmp(argv[i], "--user=", 7) == 0) {
            user = argv[i] + 7;
        } else {
            rest[n++] = argv[i];
        }
    }
    args o;
    memset(&o, 0, sizeof o);
    int pr = parse_args(n, rest, &o, USAGE_KEY, !by_principal);
    json_decref(o.policies);
    free(rest);
    if (pr != 0)
        return pr > 0 ? 0 : 2;
    if (by_principal && root == !!user) {
        fprintf(stderr, "vodupd key %s: say whose keys: --root or --user NAME\n", verb);
        return 2;
    }
    if (!by_principal && (root || user)) {
        fprintf(stderr, "vodupd key %s: takes a KEYID only (the key says whose it is)\n", verb);
        return 2;
    }
    if (user && strcmp(user, "root") == 0) {
        fprintf(stderr, "vodupd key: 'root' is not a user name; use --root\n");
        return 2;
    }
    admin a;
    if (admin_open(&a, o.data_dir) != 0)
        return 1;
    const char *principal = root ? "root" : user;
    int rc = 0;
    if (by_principal && user) {
        vodup_meta_principal p;
        int r = vodup_meta_principal_get(a.s.meta, "user", a.account, user, &p);
        if (r == VODUP_META_OK)
            vodup_meta_principal_clear(&p);
        if (r != VODUP_META_OK) {
            fprintf(stderr, r == VODUP_META_ENOTFOUND ? "vodupd key %s: no user named '%s'\n"
                                                      : "vodupd key %s: the database failed (%s)\n",
                    verb, user);
            admin_close(&a);
            return 1;
        }
    }
    if (strcmp(verb, "list") == 0) {
        json_t *keys = json_array();
        rc = vodup_meta_key_list(a.s.meta, a.account, principal, key_cb, keys) == VODUP_META_OK ? 0 : 1;
        print_json(keys);
    } else if (strcmp(verb, "create") == 0) {
        char key_id[25], secret[31];
        int r = auth_key_create_max(&a.s, a.account, principal, VODUPD_MAX_KEYS_PER_PRINCIPAL, key_id, secret);
        if (r == -2) {
            fprintf(stderr, "vodupd key create: %s has %d AccessKeys already, the most allowed; delete one first "
                            "(vodupd key list %s%s)\n",
                    root ? "the root account" : user, VODUPD_MAX_KEYS_PER_PRINCIPAL, root ? "--root" : "--user ",
                    root ? "" : user);
            rc = 1;
        } else if (r != 0) {
            fprintf(stderr, "vodupd key create: creating the AccessKey failed\n");
            rc = 1;
        } else {
            print_json(json_pack("{s:s,s:s,s:s}", "Principal", principal, "AccessKeyId", key_id, "AccessKeySecret",
                                 secret));
        }
        memset(secret, 0, sizeof secret);
    } else {
        int r = strcmp(verb, "delete") == 0 ? vodup_meta_key_delete(a.s.meta, a.account, o.name)
                                            : vodup_meta_key_set_active(a.s.meta, a.account, o.name, active);
        if (r == VODUP_META_ENOTFOUND) {
            fprintf(stderr, "vodupd key %s: no AccessKey '%s' in this data directory\n", verb, o.name);
            rc = 1;
        } else if (r != VODUP_META_OK) {
            fprintf(stderr, "vodupd key %s: the database failed\n", verb);
            rc = 1;
        } else if (strcmp(verb, "delete") == 0) {
            print_json(json_pack("{s:s,s:b}", "AccessKeyId", o.name, "Deleted", 1));
        } else {
            print_json(json_pack("{s:s,s:s}", "AccessKeyId", o.name, "Status", active ? "Active" : "Inactive"));
        }
    }
    admin_close(&a);
    return rc;
}

/* ---- backup ----------------------------------------------------------------------------- */

static const char USAGE_BACKUP[] =
    "usage: vodupd backup --to DIR [--data-dir DATA]\n"
    "\n"
    "Copies the data directory DATA into DIR (which must not exist), also while vodupd\n"
    "serves it: the database through SQLite's online backup API (one consistent moment),\n"
    "then every blob file that copy references, hard-linked (blob files are never changed\n"
    "after they are written) or, on another file system, copied; and keys/. Blobs freed\n"
    "after that moment and collected before they were linked make it take the database\n"
    "again. DIR is built under a temporary name beside it and renamed when complete, and\n"
    "is itself a data directory: restore by serving it (docs/operating.md). A backup\n"
    "hard-linked on the same file system does not survive the disk: copy it elsewhere\n"
    "(tar, or rsync -H). Prints {\"Backup\",\"Blobs\",\"Linked\",\"Copied\",\"Bytes\"}.\n";

#define BACKUP_TRIES 10

/* The backup's error message / a path, through vsnprintf: paths are checked against the
 * buffer where it matters (pathf answers -1 when cut), messages may be cut. */
static int pathf(char *out, size_t n, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static int pathf(char *out, size_t n, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    int r = vsnprintf(out, n, fmt, ap);
    va_end(ap);
    return r < 0 || (size_t)r >= n ? -1 : 0;
}

typedef struct backup_ctx {
    const char *src, *dst;   /* data dir, staging dir */
    long blobs, linked, copied, missing;
    unsigned long long bytes;
    char **ids;              /* what the final copy references, sorted, for the sweep */
    size_t nids, capids;
    char err[512];
} backup_ctx;

/* Copies src to dst (new, 0600) and fsyncs it: blobs across file systems, and the keys. */
static void berr(backup_ctx *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void berr(backup_ctx *b, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(b->err, sizeof b->err, fmt, ap);
    va_end(ap);
}

static int copy_file(const char *src, const char *dst, unsigned long long *bytes)
{
    int in = open(src, O_RDONLY | O_CLOEXEC);
    if (in < 0)
        return -1;
    int out = open(dst, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
    if (out < 0) {
        int e = errno;
        close(in);
        errno = e;
        return -1;
    }
    char buf[1 << 16];
    ssize_t n;
    int rc = 0;
    while ((n = read(in, buf, sizeof buf)) > 0) {
        for (ssize_t off = 0; off < n;) {
            ssize_t w = write(out, buf + off, (size_t)(n - off));
            if (w < 0) {
                rc = -1;
                break;
            }
            off += w;
        }
        if (rc)
            break;
        if (bytes)
            *bytes += (unsigned long long)n;
    }
    if (n < 0 || fsync(out) != 0)
        rc = -1;
    int e = errno;
    close(in);
    if (close(out) != 0)
        rc = -1;
    if (rc)
        unlink(dst);
    errno = e;
    return rc;
}

static int blob_link(const char *blob, void *u)
{
    backup_ctx *b = u;
    size_t len = strlen(blob);
    if (len < 3 || strchr(blob, '/') || blob[0] == '.') {
        berr(b, "the database names a blob '%s' that is not a blob id", blob);
        return -1;
    }
    if (b->nids == b->capids) {
        size_t cap = b->capids ? b->capids * 2 : 1024;
        char **v = realloc(b->ids, cap * sizeof *v);
        if (!v)
            return -1;
        b->ids = v;
        b->capids = cap;
    }
    if (!(b->ids[b->nids] = strdup(blob)))
        return -1;
    b->nids++;
    char from[4096], to[4096], shard[4096];
    if (pathf(from, sizeof from, "%s/objects/%.2s/%s", b->src, blob, blob) != 0 ||
        pathf(shard, sizeof shard, "%s/objects/%.2s", b->dst, blob) != 0 ||
        pathf(to, sizeof to, "%s/%s", shard, blob) != 0) {
        berr(b, "a path is too long");
        return -1;
    }
    struct stat st;
    if (lstat(to, &st) == 0) /* linked by an earlier try */
        return 0;
    if (mkdir(shard, 0700) != 0 && errno != EEXIST) {
        berr(b, "cannot create %s: %s", shard, strerror(errno));
        return -1;
    }
    if (link(from, to) == 0) {
        b->linked++;
        if (stat(to, &st) == 0)
            b->bytes += (unsigned long long)st.st_size;
        return 0;
    }
    if (errno == ENOENT) { /* freed and collected after the database was copied */
        b->missing++;
        return 0;
    }
    if ((errno == EXDEV || errno == EPERM || errno == EMLINK) && copy_file(from, to, &b->bytes) == 0) {
        b->copied++;
        return 0;
    }
    if (errno == ENOENT) {
        b->missing++;
        return 0;
    }
    berr(b, "cannot link or copy %s: %s", from, strerror(errno));
    return -1;
}

static int cmp_str(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

/* Removes the staging dir's blobs that the final copy does not reference (linked by an
 * earlier try whose database still had them). */
static void sweep_unreferenced(backup_ctx *b)
{
    qsort(b->ids, b->nids, sizeof *b->ids, cmp_str);
    char objects[4096];
    pathf(objects, sizeof objects, "%s/objects", b->dst);
    DIR *d = opendir(objects);
    struct dirent *e;
    while (d && (e = readdir(d)) != NULL) {
        if (e->d_name[0] == '.')
            continue;
        char shard[4096];
        pathf(shard, sizeof shard, "%s/%s", objects, e->d_name);
        DIR *s = opendir(shard);
        struct dirent *f;
        while (s && (f = readdir(s)) != NULL) {
            const char *name = f->d_name;
            if (name[0] == '.' || bsearch(&name, b->ids, b->nids, sizeof *b->ids, cmp_str))
                continue;
            char path[4096];
            pathf(path, sizeof path, "%s/%s", shard, name);
            if (unlink(path) == 0)
                b->blobs--;
        }
        if (s)
            closedir(s);
    }
    if (d)
        closedir(d);
}

/* keys/: the master key and the token keys, copied (they are small, and a backup
 * restored on another machine needs its own files). */
static int backup_keys(backup_ctx *b)
{
    char from[4096], to[4096];
    pathf(from, sizeof from, "%s/keys", b->src);
    pathf(to, sizeof to, "%s/keys", b->dst);
    if (mkdir(to, 0700) != 0) {
        berr(b, "cannot create %s: %s", to, strerror(errno));
        return -1;
    }
    DIR *d = opendir(from);
    if (!d) {
        berr(b, "cannot read %s: %s", from, strerror(errno));
        return -1;
    }
    struct dirent *e;
    int rc = 0;
    while (rc == 0 && (e = readdir(d)) != NULL) {
        size_t n = strlen(e->d_name);
        if (e->d_name[0] == '.' || n < 5 || strcmp(e->d_name + n - 4, ".key") != 0)
            continue;
        char f[4096], t[4096];
        pathf(f, sizeof f, "%s/%s", from, e->d_name);
        pathf(t, sizeof t, "%s/%s", to, e->d_name);
        if (copy_file(f, t, NULL) != 0) {
            berr(b, "cannot copy %s: %s", f, strerror(errno));
            rc = -1;
        }
    }
    closedir(d);
    return rc;
}

static int rm_tree_entry(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
    (void)st, (void)ftw;
    return flag == FTW_DP ? rmdir(path) : unlink(path);
}

int admin_backup(int argc, char **argv)
{
    const char *data_dir = "./vodup-data", *to = NULL;
    static const struct option opts[] = {{"data-dir", required_argument, NULL, 'd'},
                                         {"to", required_argument, NULL, 'o'},
                                         {"help", no_argument, NULL, 'h'},
                                         {NULL, 0, NULL, 0}};
    optind = 1;
    int c;
    while ((c = getopt_long(argc, argv, "d:o:h", opts, NULL)) != -1) {
        if (c == 'd') {
            data_dir = optarg;
        } else if (c == 'o') {
            to = optarg;
        } else if (c == 'h') {
            fputs(USAGE_BACKUP, stdout);
            return 0;
        } else {
            fputs(USAGE_BACKUP, stderr);
            return 2;
        }
    }
    if (optind < argc || !to || !*to) {
        fprintf(stderr, "vodupd backup: %s\n%s", optind < argc ? "unexpected argument" : "--to DIR is needed",
                USAGE_BACKUP);
        return 2;
    }
    char dst[4000];
    size_t tl = strlen(to);
    while (tl > 1 && to[tl - 1] == '/')
        tl--;
    if (tl >= sizeof dst) {
        fprintf(stderr, "vodupd backup: --to is too long\n");
        return 2;
    }
    memcpy(dst, to, tl);
    dst[tl] = '\0';
    struct stat st;
    if (lstat(dst, &st) == 0) {
        fprintf(stderr, "vodupd backup: %s exists; a backup goes to a new directory\n", dst);
        return 1;
    }
    admin a; /* checks that data_dir is a data directory, before anything is made */
    if (admin_open(&a, data_dir) != 0)
        return 1;
    admin_close(&a);
    char stage[4096];
    pathf(stage, sizeof stage, "%s.partial-XXXXXX", dst);
    if (!mkdtemp(stage)) {
        fprintf(stderr, "vodupd backup: cannot create a directory beside %s: %s\n", dst, strerror(errno));
        return 1;
    }
    backup_ctx b;
    memset(&b, 0, sizeof b);
    b.src = data_dir;
    b.dst = stage;
    char path[4200], db[4200];
    pathf(db, sizeof db, "%s/vodup.db", stage);
    int rc = backup_keys(&b);
    for (const char *sub = "objects"; rc == 0 && sub; sub = strcmp(sub, "objects") == 0 ? "tmp" : NULL) {
        pathf(path, sizeof path, "%s/%s", stage, sub);
        if (mkdir(path, 0700) != 0) {
            berr(&b, "cannot create %s: %s", path, strerror(errno));
            rc = -1;
        }
    }
    int tries = 0;
    while (rc == 0) {
        unlink(db);
        for (size_t i = 0; i < b.nids; i++)
            free(b.ids[i]);
        b.nids = 0;
        b.missing = 0;
        if (vodup_meta_backup_db(data_dir, db, b.err, sizeof b.err) != 0 ||
            vodup_meta_backup_blobs(db, blob_link, &b, b.err, sizeof b.err) != 0) {
            if (!b.err[0])
                berr(&b, "out of memory");
            rc = -1;
            break;
        }
        if (b.missing == 0)
            break;
        if (++tries >= BACKUP_TRIES) {
            berr(&b, "blobs kept disappearing before they could be linked (%d tries); try again",
                     tries);
            rc = -1;
        }
    }
    if (rc == 0) {
        b.blobs = (long)b.nids;
        sweep_unreferenced(&b);
        b.blobs = (long)b.nids;
        if (rename(stage, dst) != 0) {
            berr(&b, "cannot rename %s to %s: %s", stage, dst, strerror(errno));
            rc = -1;
        }
    }
    for (size_t i = 0; i < b.nids; i++)
        free(b.ids[i]);
    free(b.ids);
    if (rc != 0) {
        fprintf(stderr, "vodupd backup: %s\n", b.err);
        nftw(stage, rm_tree_entry, 16, FTW_DEPTH | FTW_PHYS);
        return 1;
    }
    int fd = open(dst, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd >= 0) {
        fsync(fd);
        close(fd);
    }
    print_json(json_pack("{s:s,s:I,s:I,s:I,s:I,s:i}", "Backup", dst, "Blobs", (json_int_t)b.blobs, "Linked",
                         (json_int_t)b.linked, "Copied", (json_int_t)b.copied, "Bytes", (json_int_t)b.bytes,
                         "DatabaseCopies", tries + 1));
    return 0;
}

/* ---- gc -------------------------------------------------------------------------------- */

static const char USAGE_GC[] =
    "usage: vodupd gc [--older-than AGE] [--data-dir DIR]\n"
    "\n"
    "Clean-up that a serving vodupd also does on its own (hourly, with its\n"
    "--upload-expiry-days), now: aborts multipart uploads initiated longer than AGE ago\n"
    "(their parts' files go to the garbage list), and marks media that have been Uploading\n"
    "for longer than AGE UploadFail (their upload credentials can no longer write them;\n"
    "RefreshUploadVideo starts them again). AGE: a number with s, m, h or d (default 7d).\n"
    "When no vodupd serves DIR, it also removes the garbage list's files; otherwise the\n"
    "server's collector does within a minute. Prints {\"UploadsAborted\",\"MediaExpired\",\n"
    "\"FilesRemoved\"}.\n";

/* "90s", "15m", "12h", "7d", "3600": seconds, or -1. */
static long parse_age(const char *s)
{
    char *end;
    if (*s < '0' || *s > '9')
        return -1;
    long long v = strtoll(s, &end, 10);
    long long unit = *end == '\0' || strcmp(end, "s") == 0 ? 1
                     : strcmp(end, "m") == 0               ? 60
                     : strcmp(end, "h") == 0               ? 3600
                     : strcmp(end, "d") == 0               ? 86400
                                                           : 0;
    if (!unit || v < 0 || v > 3650LL * 86400 / unit)
        return -1;
    return (long)(v * unit);
}

int admin_gc(int argc, char **argv)
{
    const char *data_dir = "./vodup-data";
    long age = 7 * 86400;
    static const struct option opts[] = {{"data-dir", required_argument, NULL, 'd'},
                                         {"older-than", required_argument, NULL, 'o'},
                                         {"help", no_argument, NULL, 'h'},
                                         {NULL, 0, NULL, 0}};
    optind = 1;
    int c;
    while ((c = getopt_long(argc, argv, "d:o:h", opts, NULL)) != -1) {
        if (c == 'd') {
            data_dir = optarg;
        } else if (c == 'o') {
            if ((age = parse_age(optarg)) < 0) {
                fprintf(stderr, "vodupd gc: --older-than wants a number with s, m, h or d (e.g. 7d), got '%s'\n",
                        optarg);
                return 2;
            }
        } else if (c == 'h') {
            fputs(USAGE_GC, stdout);
            return 0;
        } else {
            fputs(USAGE_GC, stderr);
            return 2;
        }
    }
    if (optind < argc) {
        fprintf(stderr, "vodupd gc: unexpected argument '%s'\n%s", argv[optind], USAGE_GC);
        return 2;
    }
    admin a;
    if (admin_open(&a, data_dir) != 0)
        return 1;
    /* Removing files is the serving vodupd's job while it runs: its downloads in flight
     * hold blobs back (server.h, "pins") that another process cannot see. Its lock says. */
    char lock_path[4096];
    int lock_fd = -1, serving = 1;
    if (pathf(lock_path, sizeof lock_path, "%s/vodupd.lock", data_dir) == 0 &&
        (lock_fd = open(lock_path, O_RDWR | O_CREAT | O_CLOEXEC, 0600)) >= 0)
        serving = flock(lock_fd, LOCK_EX | LOCK_NB) != 0;
    time_t now = time(NULL), before = now - (time_t)age;
    long uploads = 0, media = 0;
    int n, rc = 0;
    while ((n = vodup_meta_upload_expire(a.s.meta, before, 1000)) > 0 && (uploads += n) && n == 1000)
        ;
    if (n < 0)
        rc = 1;
    while (rc == 0 && (n = vodup_meta_media_expire_uploading(a.s.meta, before, now, 1000)) > 0 && (media += n) &&
           n == 1000)
        ;
    if (n < 0)
        rc = 1;
    int removed = 0;
    if (rc == 0 && !serving) {
        pthread_mutex_init(&a.s.readers_mu, NULL);
        a.s.blobs = vodup_blobstore_file_open(data_dir);
        if (a.s.blobs) {
            vodupd_gc_run(&a.s);
            a.s.blobs->ops->close(a.s.blobs);
            removed = 1;
        } else {
            fprintf(stderr, "vodupd gc: cannot open the object files in %s: %s\n", data_dir, strerror(errno));
            rc = 1;
        }
        pthread_mutex_destroy(&a.s.readers_mu);
    }
    if (lock_fd >= 0)
        close(lock_fd);
    admin_close(&a);
    if (rc != 0) {
        fprintf(stderr, "vodupd gc: the database failed\n");
        return 1;
    }
    print_json(json_pack("{s:I,s:I,s:b}", "UploadsAborted", (json_int_t)uploads, "MediaExpired", (json_int_t)media,
                         "FilesRemoved", removed));
    return 0;
}
