/* quota_cmd.c - `vodupd quota show|set`: see quota_cmd.h. Prints JSON, as the other
 * operator commands (admin.c). Works also while vodupd serves the directory: the quota
 * is read from the store on each write. */
#include "server/quota_cmd.h"

#include <errno.h>
#include <getopt.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "server/store/meta.h"
#include "server/store/meta_quota.h"

static const char USAGE_QUOTA[] =
    "usage: vodupd quota show [ACCOUNT] [--storage-quota SIZE] [--data-dir DIR]\n"
    "       vodupd quota set ACCOUNT BYTES|SIZE|none|default [--data-dir DIR]\n"
    "\n"
    "An account's storage: the bytes its objects and open uploads' parts take, and its quota.\n"
    "ACCOUNT is an AccountId (default: the root account). `show` prints {\"AccountId\",\n"
    "\"UsedBytes\",\"Quota\"}: Quota is the account's own limit in bytes, \"none\" (no limit),\n"
    "or \"default (N)\" when the server's storage-quota applies (N from --storage-quota or\n"
    "the configuration, \"none\" when it is 0). `set` gives the account its own limit (SIZE\n"
    "as 10G, 500M; none: no limit whatever the default; default: back to the server's).\n"
    "A serving vodupd applies it from the next write on; usage above a lowered limit is\n"
    "kept, only new writes are refused (QuotaExceeded).\n";

int vodupd_parse_size(const char *s, uint64_t *bytes, unsigned *pct, int allow_pct)
{
    char *end;
    if (*s < '0' || *s > '9') /* strtoull would take " -1" */
        return -1;
    errno = 0;
    unsigned long long v = strtoull(s, &end, 10);
    if (errno)
        return -1;
    *pct = 0;
    if (*end == '%' && end[1] == '\0') {
        if (!allow_pct || v < 1 || v > 50)
            return -1;
        *pct = (unsigned)v;
        *bytes = 0;
        return 0;
    }
    unsigned shift = 0;
    switch (*end) {
    case '\0': break;
    case 'K': case 'k': shift = 10; break;
    case 'M': case 'm': shift = 20; break;
    case 'G': case 'g': shift = 30; break;
    case 'T': case 't': shift = 40; break;
    default: return -1;
    }
    if (*end && end[1] != '\0' && !((end[1] == 'i' || end[1] == 'B') && end[2] == '\0'))
        return -1;
    if (shift && v > (UINT64_MAX >> shift))
        return -1;
    *bytes = (uint64_t)v << shift;
    return 0;
}

/* Prints the account's usage and quota; 0 or the exit status. */
static int show(vodup_meta *m, const char *account, uint64_t def)
{
    uint64_t used = 0;
    int64_t own = -1;
    int r = vodup_meta_usage_get(m, account, &used, &own);
    if (r == VODUP_META_ENOTFOUND) {
        fprintf(stderr, "vodupd quota: no account '%s' in this data directory\n", account);
        return 1;
    }
    if (r != VODUP_META_OK) {
        fprintf(stderr, "vodupd quota: reading the account's storage failed\n");
        return 1;
    }
    json_t *q;
    char buf[64];
    if (own > 0) {
        q = json_integer(own);
    } else if (own == 0) {
        q = json_string("none");
    } else {
        if (def)
            snprintf(buf, sizeof buf, "default (%llu)", (unsigned long long)def);
        else
            snprintf(buf, sizeof buf, "default (none)");
        q = json_string(buf);
    }
    json_t *j = json_pack("{s:s,s:I,s:o}", "AccountId", account, "UsedBytes", (json_int_t)used, "Quota", q);
    char *s = j ? json_dumps(j, JSON_COMPACT | JSON_PRESERVE_ORDER) : NULL;
    if (s)
        printf("%s\n", s);
    free(s);
    json_decref(j);
    return s ? 0 : 1;
}

int admin_quota(int argc, char **argv)
{
    if (argc < 2 || strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0) {
        fputs(USAGE_QUOTA, argc < 2 ? stderr : stdout);
        return argc < 2 ? 2 : 0;
    }
    const char *verb = argv[1];
    int is_set = strcmp(verb, "set") == 0;
    if (!is_set && strcmp(verb, "show") != 0) {
        fprintf(stderr, "vodupd quota: unknown verb '%s'\n%s", verb, USAGE_QUOTA);
        return 2;
    }
    static const struct option opts[] = {{"data-dir", required_argument, NULL, 'd'},
                                         {"storage-quota", required_argument, NULL, 'q'},
                                         {"help", no_argument, NULL, 'h'},
                                         {NULL, 0, NULL, 0}};
    const char *data_dir = "./vodup-data";
    uint64_t def = 0;
    unsigned pct;
    optind = 1;
    int c;
    while ((c = getopt_long(argc - 1, argv + 1, "d:q:h", opts, NULL)) != -1) {
        switch (c) {
        case 'd': data_dir = optarg; break;
        case 'q':
            if (vodupd_parse_size(optarg, &def, &pct, 0) != 0) {
                fprintf(stderr, "vodupd quota: --storage-quota wants a size (10G, 500M, 0 for none), got '%s'\n",
                        optarg);
                return 2;
            }
            break;
        case 'h': fputs(USAGE_QUOTA, stdout); return 0;
        default: fputs(USAGE_QUOTA, stderr); return 2;
        }
    }
    char **pos = argv + 1 + optind;
    int npos = argc - 1 - optind;
    if (is_set ? npos != 2 : npos > 1) {
        fprintf(stderr, "vodupd quota %s: %s\n%s", verb, is_set ? "wants ACCOUNT and a limit" : "takes one ACCOUNT at most",
                USAGE_QUOTA);
        return 2;
    }
    int64_t quota = -1;
    if (is_set) {
        uint64_t b;
        if (strcmp(pos[1], "none") == 0)
            quota = 0;
        else if (strcmp(pos[1], "default") == 0)
            quota = -1;
        else if (vodupd_parse_size(pos[1], &b, &pct, 0) == 0 && b <= (uint64_t)INT64_MAX)
            quota = (int64_t)b;
        else {
            fprintf(stderr, "vodupd quota set: the limit is BYTES, a SIZE (10G, 500M), none or default, not '%s'\n",
                    pos[1]);
            return 2;
        }
    }
    vodup_meta *m = NULL;
    if (vodup_meta_open_sqlite(&m, data_dir, 1) != VODUP_META_OK) {
        fprintf(stderr, "vodupd quota: cannot open the database in %s (run `vodupd init --data-dir %s`?)\n",
                data_dir, data_dir);
        return 1;
    }
    int rc = 0;
    char *root = NULL;
    const char *account = npos >= 1 ? pos[0] : NULL;
    if (!vodup_meta_supports(m, 5)) {
        fprintf(stderr, "vodupd quota: this metadata store keeps no storage usage nor quotas (it needs the SQLite "
                        "store)\n");
        rc = 1;
    } else if (!account && (vodup_meta_setting_get(m, "root_account", &root) != VODUP_META_OK || !root)) {
        fprintf(stderr, "vodupd quota: %s has no root account\n", data_dir);
        rc = 1;
    }
    if (rc == 0 && !account)
        account = root;
    if (rc == 0 && is_set) {
        int r = vodup_meta_quota_set(m, account, quota);
        if (r == VODUP_META_ENOTFOUND) {
            fprintf(stderr, "vodupd quota: no account '%s' in this data directory\n", account);
            rc = 1;
        } else if (r != VODUP_META_OK) {
            fprintf(stderr, "vodupd quota set: the database failed\n");
            rc = 1;
        }
    }
    if (rc == 0)
        rc = show(m, account, def);
    free(root);
    vodup_meta_close(m);
    return rc;
}
