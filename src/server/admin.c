/* admin.c - `vodupd user|role|keys|events ...`: see admin.h. Every command prints JSON. */
#include "server/admin.h"

#include <getopt.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "common/timefmt.h"
#include "server/auth/auth.h"
#include "server/auth/policy.h"
#include "server/auth/token.h"
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
    "file to revoke everything it sealed. Restart vodupd (every node) to pick the key up.\n";

static const char USAGE_EVENTS[] =
    "usage: vodupd events list [--data-dir DIR]\n"
    "\n"
    "Lists upload events not yet delivered to the application's callback URL, with their\n"
    "attempts, next try and last error.\n";

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
