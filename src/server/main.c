/* main.c - the vodupd command line: init, serve, help. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <sys/file.h>
#include <getopt.h>
#include <limits.h>
#include <jansson.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <curl/curl.h>

#include "server/probe_jobs.h"
#include "server/admin.h"
#include "server/auth/auth.h"
#include "server/auth/ratelimit.h"
#include "server/auth/token.h"
#include "server/check.h"
#include "server/conf.h"
#include "server/config.h"
#include "server/events/events.h"
#include "server/http/request.h"
#include "server/http/tls.h"
#include "server/http/metrics.h"
#include "server/quota_cmd.h"
#include "server/server.h"
#include "server/store/blob_s3.h"

static const char USAGE[] =
    "usage: vodupd [--config FILE] <command> [options]\n"
    "\n"
    "Self-hosted video-on-demand upload service (OSS-compatible object store).\n"
    "\n"
    "commands:\n"
    "  init    create a data directory and its root account; prints the root AccessKey once\n"
    "  serve   run the service\n"
    "  user    create, list, delete RAM users (and their AccessKeys)\n"
    "  role    create, list, delete RAM roles (for STS AssumeRole)\n"
    "  key     create, list, disable, enable, delete AccessKeys (root or a RAM user; two each)\n"
    "  keys    rotate the server key that seals temporary credentials (picked up live)\n"
    "  events  list, retry or drop upload events not yet delivered\n"
    "  check   verify that the database and the object files agree (also while serving)\n"
    "  config  check the configuration file and print the effective configuration\n"
    "  backup  copy a data directory consistently, also while it is served\n"
    "  gc      abort abandoned uploads and expire media stuck in Uploading now\n"
    "  quota   show an account's storage usage and quota, or set its own quota\n"
    "  help    show this text, or `vodupd help <command>`\n"
    "\n"
    "`vodupd <command> --help` describes each command's options. --config FILE (or\n"
    "$VODUPD_CONFIG) reads settings from an INI file, VODUPD_<OPTION> variables override it,\n"
    "flags override both (man vodupd.conf).\n";

static const char USAGE_INIT[] =
    "usage: vodupd init [--data-dir DIR] [--metadata postgres://...] [--bytes s3://...]\n"
    "\n"
    "Creates DIR (default ./vodup-data, mode 0700) with its database, server key and a root\n"
    "account, and prints once, as JSON, the root account's AccessKey:\n"
    "  {\"AccountId\":\"...\",\"AccessKeyId\":\"...\",\"AccessKeySecret\":\"...\"}\n"
    "The secret is not shown again: keep it. When standard output is a file others could\n"
    "read, it is made private (0600) first; or run `umask 077` before `init > root.json`.\n"
    "DIR is built under a temporary name beside it and renamed into place: a failed init\n"
    "leaves nothing behind that stops a retry. DIR must not exist or be empty.\n"
    "--metadata postgres://USER:PASSWORD@HOST:PORT/DB (or postgresql://, any libpq URL) keeps\n"
    "the metadata in that PostgreSQL database instead of DIR/vodup.db: init creates its\n"
    "schema and the root account there, and refuses a database that already has one.\n"
    "--bytes s3://BUCKET[/PREFIX]?endpoint=URL[&region=R][&style=path|vhost] keeps the object\n"
    "bytes in that bucket of an S3 cluster instead of DIR/objects: init checks that the\n"
    "cluster answers and the key may write there (credentials: AWS_ACCESS_KEY_ID and\n"
    "AWS_SECRET_ACCESS_KEY, or the AWS credentials file; docs/scale-out.md) and records\n"
    "the choice, so that serve refuses another byte store by mistake.\n";

static const char USAGE_SERVE[] =
    "usage: vodupd serve [--data-dir DIR] [--listen HOST:PORT] [--public-url URL] [--region R]\n"
    "                    [--threads N] [--workers N] [connection guards, below]\n"
    "\n"
    "  --data-dir DIR     data directory made by `vodupd init` (default ./vodup-data)\n"
    "  --metadata URL     postgres://USER:PASSWORD@HOST:PORT/DB: the metadata in that\n"
    "                     PostgreSQL database (the one `vodupd init --metadata` set up)\n"
    "                     instead of DIR/vodup.db (docs/scale-out.md); never logged\n"
    "  --bytes s3://BUCKET[/PREFIX]?endpoint=URL[&region=R][&style=path|vhost]\n"
    "                     the object bytes in that bucket of an S3 cluster (radosgw, MinIO,\n"
    "                     AWS S3) instead of DIR/objects; the key from AWS_ACCESS_KEY_ID and\n"
    "                     AWS_SECRET_ACCESS_KEY (AWS_SESSION_TOKEN) or the AWS credentials\n"
    "                     file; checked at start (docs/scale-out.md)\n"
    "  --listen HOST:PORT address to listen on (default 127.0.0.1:9000; port 0 picks a free one)\n"
    "  --public-url URL   how clients reach this server (default http://HOST:PORT)\n"
    "  --region R         region name reported to clients (default cn-hangzhou)\n"
    "  --tls-listen HOST:PORT  also serve HTTPS there (TLS 1.3/1.2 only), beside --listen;\n"
    "                     the default --public-url is then https://HOST:PORT\n"
    "  --tls-cert FILE    PEM certificate chain for --tls-listen (leaf first)\n"
    "  --tls-key FILE     its unencrypted PEM private key. SIGHUP reads both files again:\n"
    "                     new handshakes use them, open connections are not touched\n"
    "  --admin-listen HOST:PORT  serve GET /healthz and /metrics (Prometheus) there: a\n"
    "                     listener of their own, for monitoring only (default: none)\n"
    "  --threads N        HTTP event-loop threads (default 4)\n"
    "  --workers N        threads for flushes and commits (default 8)\n"
    "  --max-uploads N    open multipart uploads per account (default 10000)\n"
    "  --upload-auth-ttl S  lifetime of UploadAuth credentials in seconds (default 3000)\n"
    "  --upload-cred-grace S  a multipart upload opened by UploadAuth credentials is aborted\n"
    "                     S seconds after the newest credential that wrote to it expired\n"
    "                     (default: the larger of 3600 and --upload-auth-ttl)\n"
    "  --upload-expiry-days N  abort multipart uploads unfinished after N days, and mark media\n"
    "                     Uploading for as long UploadFail (default 7; 0 never)\n"
    "  --callback-allow CIDR  let event callbacks reach this range too (repeatable), e.g.\n"
    "                     10.1.2.0/24; by default they reach public unicast addresses only\n"
    "                     (never loopback, private, link-local, CGNAT, ULA, multicast ...)\n"
    "  --callback-allow-private  let event callbacks reach any address (development only:\n"
    "                     callback URLs come from clients)\n"
    "  --callback-deny-private  the default now; accepted for compatibility\n"
    "  --probe-workers N  media probes at once after uploads (default 2; 0: none)\n"
    "  --event-max-attempts N  give up on an event callback after N failed tries\n"
    "                     (default 0: keep trying, with backoff up to 10 minutes)\n"
    "  --serve-active-content  serve objects of active types (HTML, SVG, XML, JavaScript, ...)\n"
    "                     inline; by default GetObject answers them as attachments\n"
    "  --disk-reserve SIZE  free space uploads must leave on the data directory's file\n"
    "                     system, so deletes always work: bytes with an optional K/M/G suffix\n"
    "                     (powers of 1024) or a percentage of the file system, e.g. 5%%\n"
    "                     (default 64M; 0 turns the floor off). Below it, uploads get\n"
    "                     507 InsufficientStorage\n"
    "  --storage-quota SIZE  bytes each account may store (objects and open uploads' parts)\n"
    "                     unless `vodupd quota set` gave it its own; 0: no limit (default)\n"
    "\n"
    "connection guards (docs/reliability.md; S: seconds, decimals allowed; 0 turns a timeout,\n"
    "the per-address limit or the body rate off):\n"
    "  --max-connections N   connections in all (default: from the open-file limit, which\n"
    "                     vodupd raises to its hard limit; at most 65536)\n"
    "  --max-connections-per-ip N  per client address, IPv6 per /64 (default 256; 0 no limit);\n"
    "                     when full, the address's newest idle connection makes room\n"
    "  --header-timeout S    from accept (or the previous answer) to the end of the request\n"
    "                     headers (default 30)\n"
    "  --idle-timeout S      no byte either way for S seconds closes a connection (default 120)\n"
    "  --min-body-rate B     a request body must average B bytes/s ... (default 500)\n"
    "  --body-rate-window S  ... over each window of S seconds (default 30)\n"
    "  --trusted-proxy CIDR  a reverse proxy (repeatable): its requests are counted against,\n"
    "                     and logged with, the client named in X-Forwarded-For\n"
    "  --rate-per-key N      signed requests per second one AccessKeyId may make, bursts of\n"
    "                     2N (default 1000; 0 no limit); over it: OSS 429 QpsLimitExceeded,\n"
    "                     RPC 400 Throttling.User\n"
    "\n"
    "Logs one line per request to stderr (never a secret). SIGTERM or SIGINT stops it\n"
    "gracefully: no new connections, requests in flight finish, then it exits 0.\n";

/* Creates dir's parents (0755, like mkdir -p); dir itself is not made. */
static int make_parents(const char *dir)
{
    char buf[4096];
    size_t n = strlen(dir);
    if (n == 0 || n >= sizeof buf)
        return -1;
    memcpy(buf, dir, n + 1);
    for (char *p = buf + 1; *p; p++) {
        if (*p != '/')
            continue;
        *p = '\0';
        if (mkdir(buf, 0755) != 0 && errno != EEXIST)
            return -1;
        *p = '/';
    }
    return 0;
}

static int rm_entry(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
    (void)st, (void)ftw;
    return flag == FTW_DP ? rmdir(path) : unlink(path);
}

static void fsync_parent(const char *path)
{
    char dir[4096];
    snprintf(dir, sizeof dir, "%s", path);
    char *slash = strrchr(dir, '/');
    if (slash == dir)
        slash[1] = '\0';
    else if (slash)
        *slash = '\0';
    else
        snprintf(dir, sizeof dir, ".");
    int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd >= 0) {
        fsync(fd);
        close(fd);
    }
}

/* init's temporary directories: "<dir>.init-XXXXXX" beside a new data dir, or
 * "<dir>/.init-XXXXXX" inside an existing empty one. */
#define INIT_TMP_PREFIX ".init-"

/* An existing directory init may fill: empty but for what an earlier init left behind
 * (its temporary directories, removed here) and a file system's lost+found. 0 when it
 * may, -1 otherwise. */
static int init_clear_leftovers(const char *dir)
{
    DIR *d = opendir(dir);
    if (!d)
        return -1;
    int ok = 1;
    struct dirent *e;
    while (ok && (e = readdir(d)) != NULL) {
        if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0 || strcmp(e->d_name, "lost+found") == 0)
            continue;
        if (strncmp(e->d_name, INIT_TMP_PREFIX, sizeof INIT_TMP_PREFIX - 1) == 0) {
            char path[4200];
            snprintf(path, sizeof path, "%s/%s", dir, e->d_name);
            ok = nftw(path, rm_entry, 16, FTW_DEPTH | FTW_PHYS) == 0;
            continue;
        }
        ok = 0;
    }
    closedir(d);
    return ok ? 0 : -1;
}

/* 1 when spec names a PostgreSQL database (the metadata's other back end). */
static int metadata_is_postgres(const char *spec)
{
    return spec && (strncmp(spec, "postgres://", 11) == 0 || strncmp(spec, "postgresql://", 13) == 0);
}

/* The metadata store: PostgreSQL when spec names one, else SQLite in data_dir. */
static int metadata_open(vodup_meta **m, const char *spec, const char *data_dir, int pool)
{
    return metadata_is_postgres(spec) ? vodup_meta_open_postgres(m, spec, pool)
                                      : vodup_meta_open_sqlite(m, data_dir, pool);
}

/* The byte store's identity as recorded in the metadata (setting "byte_store"): "file" for
 * the data directory, "s3://BUCKET/PREFIX" for a cluster (the endpoint may differ between
 * nodes that reach one cluster by different addresses). serve refuses a byte store other
 * than the recorded one: objects would seem lost, and recovery would look in the wrong
 * place. 0, or -1 with err. */
static int bytes_identity(const char *spec, char *out, size_t n, char *err, size_t errlen)
{
    if (!spec) {
        snprintf(out, n, "file");
        return 0;
    }
    vodup_blobstore_s3_url u;
    if (vodup_blobstore_s3_url_parse(&u, spec, err, errlen) != 0) {
        vodup_blobstore_s3_url_free(&u);
        return -1;
    }
    snprintf(out, n, "s3://%s/%s", u.bucket, u.prefix);
    vodup_blobstore_s3_url_free(&u);
    return 0;
}

/* Opens the byte store: the S3 cluster spec names (--bytes), checked at once, or the
 * files of data_dir. Either way the node id is data_dir's (blob.h). NULL, said on stderr
 * with the command's name. */
static vodup_blobstore *bytes_open(const char *cmd, const char *spec, const char *data_dir)
{
    if (!spec) {
        vodup_blobstore *bs = vodup_blobstore_file_open(data_dir);
        if (!bs)
            fprintf(stderr, "vodupd %s: cannot open the object files in %s: %s\n", cmd, data_dir, strerror(errno));
        return bs;
    }
    char node[VODUP_BLOB_NODE_MAX + 1], err[1024];
    if (vodup_blob_node_id(data_dir, node) != 0) {
        fprintf(stderr, "vodupd %s: cannot read or make %s/%s: %s\n", cmd, data_dir, VODUP_BLOB_NODE_FILE,
                strerror(errno));
        return NULL;
    }
    vodup_blobstore *bs = vodup_blobstore_s3_open_url(spec, node, err, sizeof err);
    if (!bs) {
        fprintf(stderr, "vodupd %s: --bytes: %s\n", cmd, err);
        return NULL;
    }
    vodup_blobstore_s3_describe(bs, err, sizeof err);
    fprintf(stderr, "vodupd: object bytes in the S3 cluster: %s\n", err);
    return bs;
}

/* Checks the byte store against the one the metadata recorded, recording it when none
 * is (a store made before the setting existed). 0, or -1 (another byte store was
 * recorded) said on stderr. */
static int bytes_match(const char *cmd, vodup_meta *m, const char *spec)
{
    char id[512], err[512];
    if (bytes_identity(spec, id, sizeof id, err, sizeof err) != 0) {
        fprintf(stderr, "vodupd %s: %s\n", cmd, err);
        return -1;
    }
    char *have = NULL;
    int r = vodup_meta_setting_get(m, "byte_store", &have);
    if (r == VODUP_META_ENOTFOUND) {
        /* add: of two nodes racing to record it, the first wins and the other is checked */
        if (vodup_meta_setting_add(m, "byte_store", id) == VODUP_META_OK)
            return 0;
        /* The record is a guard against mistakes, not data: a store that cannot take it now
         * (a full disk) still serves, and is recorded at a later start. */
        if (vodup_meta_setting_get(m, "byte_store", &have) != VODUP_META_OK) {
            fprintf(stderr, "vodupd: warning: cannot record the byte store in the metadata (%s); going on\n", id);
            return 0;
        }
    } else if (r != VODUP_META_OK) {
        fprintf(stderr, "vodupd: warning: cannot read the byte store setting from the metadata; going on\n");
        return 0;
    }
    int same = strcmp(have, id) == 0;
    if (!same)
        fprintf(stderr,
                "vodupd %s: the metadata says the object bytes are in %s, but this run would use %s: give the "
                "same --bytes as `vodupd init` (%s)\n",
                cmd, strcmp(have, "file") ? have : "the data directory's files",
                strcmp(id, "file") ? id : "the data directory's files (no --bytes)",
                strcmp(have, "file") ? "--bytes s3://... with the same bucket and prefix" : "none");
    free(have);
    return same ? 0 : -1;
}

/* Moves what init built in tmp (a directory inside dir) into dir: every entry but the
 * database first, vodup.db last, so dir counts as initialised only once it is whole. */
static int init_move_in(const char *tmp, const char *dir, int has_db)
{
    static const char db_name[] = "vodup.db";
    DIR *d = opendir(tmp);
    if (!d)
        return -1;
    int rc = 0;
    struct dirent *e;
    char from[4400], to[4400];
    while (rc == 0 && (e = readdir(d)) != NULL) {
        if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0 || strcmp(e->d_name, db_name) == 0)
            continue;
        snprintf(from, sizeof from, "%s/%s", tmp, e->d_name);
        snprintf(to, sizeof to, "%s/%s", dir, e->d_name);
        rc = rename(from, to);
    }
    closedir(d);
    if (rc == 0 && has_db) {
        fsync_parent(to);
        snprintf(from, sizeof from, "%s/%s", tmp, db_name);
        snprintf(to, sizeof to, "%s/%s", dir, db_name);
        rc = rename(from, to);
    }
    if (rc != 0)
        fprintf(stderr, "vodupd init: cannot move %s to %s: %s\n", from, to, strerror(errno));
    return rc;
}

/* The root account of a new data directory at dir: master key, database, account, key. */
static int init_build(const char *dir, const char *metadata, const char *bytes, char account[17], char key_id[25],
                      char secret[31])
{
    vodupd s;
    memset(&s, 0, sizeof s);
    s.data_dir = (char *)dir;
    if (auth_master_key_create(dir, s.master_key) != 0) {
        fprintf(stderr, "vodupd init: cannot write the master key in %s: %s\n", dir, strerror(errno));
        return -1;
    }
    if (metadata_open(&s.meta, metadata, dir, 1) != VODUP_META_OK) {
        if (metadata_is_postgres(metadata))
            fprintf(stderr, "vodupd init: cannot open or set up the PostgreSQL database of --metadata\n");
        else
            fprintf(stderr, "vodupd init: cannot create the database in %s\n", dir);
        return -1;
    }
    /* A shared database is set up once: a second root account there would be sealed
     * with another master key. */
    char *have = NULL;
    int rc = vodup_meta_setting_get(s.meta, "root_account", &have) == VODUP_META_ENOTFOUND ? 0 : -1;
    if (rc != 0)
        fprintf(stderr, "vodupd init: the metadata database already has a root account (%s)\n",
                have ? have : "or could not be read");
    free(have);
    if (rc == 0)
        rc = auth_random_id(account, 16, "0123456789");
    if (rc == 0 && account[0] == '0')
        account[0] = '1';
    if (rc == 0)
        rc = vodup_meta_account_create(s.meta, account, "root", time(NULL)) == VODUP_META_OK ? 0 : -1;
    /* add, not set: of two inits racing on one database, one wins. */
    if (rc == 0)
        rc = vodup_meta_setting_add(s.meta, "root_account", account) == VODUP_META_OK ? 0 : -1;
    if (rc == 0)
        rc = auth_key_create(&s, account, "root", key_id, secret);
    if (rc == 0)
        rc = bytes_match("init", s.meta, bytes);
    vodup_meta_close(s.meta);
    memset(s.master_key, 0, sizeof s.master_key);
    if (rc != 0)
        fprintf(stderr, "vodupd init: creating the root account failed\n");
    return rc;
}

static int cmd_init(int argc, char **argv)
{
    const char *data_dir = "./vodup-data", *metadata = NULL, *bytes = NULL;
    static const struct option opts[] = {{"data-dir", required_argument, NULL, 'd'},
                                         {"metadata", required_argument, NULL, 'M'},
                                         {"bytes", required_argument, NULL, 'B'},
                                         {"help", no_argument, NULL, 'h'},
                                         {NULL, 0, NULL, 0}};
    int c;
    while ((c = getopt_long(argc, argv, "d:h", opts, NULL)) != -1) {
        if (c == 'd') {
            data_dir = optarg;
        } else if (c == 'M' && metadata_is_postgres(optarg)) {
            metadata = optarg;
        } else if (c == 'M') {
            /* Not echoed: it may be a mistyped URL holding a password. */
            fprintf(stderr, "vodupd init: --metadata wants a postgres:// or postgresql:// URL\n");
            return 2;
        } else if (c == 'B') {
            char err[512], id[512];
            if (bytes_identity(optarg, id, sizeof id, err, sizeof err) != 0) {
                fprintf(stderr, "vodupd init: %s\n", err);
                return 2;
            }
            bytes = optarg;
        } else if (c == 'h') {
            fputs(USAGE_INIT, stdout);
            return 0;
        } else {
            fputs(USAGE_INIT, stderr);
            return 2;
        }
    }
    if (optind < argc) {
        fprintf(stderr, "vodupd init: unexpected argument '%s'\n%s", argv[optind], USAGE_INIT);
        return 2;
    }
    char dir[4000];
    size_t dl = strlen(data_dir);
    while (dl > 1 && data_dir[dl - 1] == '/') /* "d/" and "d" are one directory */
        dl--;
    if (dl == 0 || dl >= sizeof dir) {
        fprintf(stderr, "vodupd init: bad --data-dir '%s'\n", data_dir);
        return 2;
    }
    memcpy(dir, data_dir, dl);
    dir[dl] = '\0';
    /* The directory appears complete or not at all: it is built under a temporary name
     * beside it and renamed into place, so a failed init (a full disk, a kill) leaves
     * nothing that stops the next one. An existing empty directory (one made by hand, by
     * systemd's StateDirectory, or a file system mounted there, which cannot be renamed
     * over) is filled from a temporary directory inside it, vodup.db moved in last: serve
     * accepts nothing without it, and init takes such a directory again. */
    struct stat st;
    int in_place = 0;
    if (stat(dir, &st) == 0) {
        char db[4096];
        snprintf(db, sizeof db, "%s/vodup.db", dir);
        if (access(db, F_OK) == 0) {
            fprintf(stderr, "vodupd init: %s is already initialised (found %s)\n", dir, db);
            return 1;
        }
        if (!S_ISDIR(st.st_mode) || init_clear_leftovers(dir) != 0) {
            fprintf(stderr, "vodupd init: %s exists and is not an empty directory; init wants a new or empty one\n",
                    dir);
            return 1;
        }
        in_place = 1;
    } else if (errno != ENOENT || make_parents(dir) != 0) {
        fprintf(stderr, "vodupd init: cannot create %s: %s\n", dir, strerror(errno));
        return 1;
    }
    char tmp[4096];
    snprintf(tmp, sizeof tmp, in_place ? "%s/" INIT_TMP_PREFIX "XXXXXX" : "%s" INIT_TMP_PREFIX "XXXXXX", dir);
    if (!mkdtemp(tmp)) { /* mode 0700 */
        fprintf(stderr, "vodupd init: cannot create a directory %s %s: %s\n", in_place ? "in" : "beside", dir,
                strerror(errno));
        return 1;
    }
    char account[17], key_id[25], secret[31];
    /* The cluster is asked first (it makes tmp's node id): a wrong endpoint or key fails
     * init before a database exists. */
    int rc = 0;
    if (bytes) {
        vodup_blobstore *bs = bytes_open("init", bytes, tmp);
        rc = bs ? 0 : -1;
        vodup_blobstore_close(bs);
    }
    if (rc == 0)
        rc = init_build(tmp, metadata, bytes, account, key_id, secret);
    if (rc == 0 && in_place)
        rc = init_move_in(tmp, dir, !metadata);
    else if (rc == 0 && rename(tmp, dir) != 0) {
        fprintf(stderr, "vodupd init: cannot rename %s to %s: %s\n", tmp, dir, strerror(errno));
        rc = -1;
    }
    if (rc != 0) {
        nftw(tmp, rm_entry, 16, FTW_DEPTH | FTW_PHYS);
        memset(secret, 0, sizeof secret);
        return 1;
    }
    if (in_place) {
        rmdir(tmp);
        fsync_parent(tmp); /* dir itself, now holding vodup.db */
    } else {
        fsync_parent(dir);
    }
    /* `init > root.json` would leave the secret as readable as the shell's umask makes
     * the file: a regular file others may read is made private before it is written. */
    if (fstat(STDOUT_FILENO, &st) == 0 && S_ISREG(st.st_mode) && (st.st_mode & 077) &&
        fchmod(STDOUT_FILENO, st.st_mode & 0700) == 0)
        fprintf(stderr, "vodupd: made the output file private (mode 0%o): it holds the root secret\n",
                (unsigned)(st.st_mode & 0700));
    json_t *j = json_pack("{s:s,s:s,s:s}", "AccountId", account, "AccessKeyId", key_id, "AccessKeySecret", secret);
    char *out = j ? json_dumps(j, JSON_COMPACT) : NULL;
    if (!out) {
        json_decref(j);
        return 1;
    }
    printf("%s\n", out);
    int flushed = fflush(stdout) == 0;
    memset(out, 0, strlen(out));
    free(out);
    json_decref(j);
    memset(secret, 0, sizeof secret);
    if (!flushed) {
        fprintf(stderr, "vodupd init: writing the root AccessKey failed: %s (the data directory %s is made; its "
                        "root secret is lost: remove it and run init again)\n",
                strerror(errno), dir);
        return 1;
    }
    fprintf(stderr, "vodupd: initialised %s; the AccessKeySecret above is shown only once\n", dir);
    return 0;
}

static int is_live(const char *id, void *u)
{
    int r = vodup_meta_blob_is_live(u, id);
    return r != 0; /* on error keep the blob */
}

/* "HOST:PORT", "[V6]:PORT", or ":PORT" for every IPv4 address (as nginx and Go servers
 * read it; every IPv6 address is "[::]:PORT"). */
static int parse_listen(const char *s, char *host, size_t hn, int *port)
{
    const char *colon = strrchr(s, ':');
    if (!colon)
        return -1;
    size_t n = (size_t)(colon - s);
    if (n == 0)
        s = "0.0.0.0", n = 7;
    if (s[0] == '[' && colon[-1] == ']') {
        s++;
        n -= 2;
    }
    if (n >= hn)
        return -1;
    memcpy(host, s, n);
    host[n] = '\0';
    char *end;
    long p = strtol(colon + 1, &end, 10);
    if (!colon[1] || *end || p < 0 || p > 65535)
        return -1;
    *port = (int)p;
    return 0;
}

static void add_own_host(vodupd *s, const char *h, size_t n)
{
    if (s->n_own_hosts >= (int)(sizeof s->own_hosts / sizeof s->own_hosts[0]) || n == 0)
        return;
    char *c = strndup(h, n);
    if (!c)
        return;
    for (char *p = c; *p; p++)
        if (*p >= 'A' && *p <= 'Z')
            *p = (char)(*p + 32);
    s->own_hosts[s->n_own_hosts++] = c;
}

/* Why the data directory's master key could not be read, from what really failed:
 * missing directory, not a directory, no key (not initialised), no permission, damage. */
static void explain_data_dir(const char *data_dir)
{
    char key[4096];
    struct stat st;
    snprintf(key, sizeof key, "%s/keys/master.key", data_dir);
    if (stat(data_dir, &st) != 0) {
        fprintf(stderr, "vodupd serve: cannot use the data directory %s: %s%s%s%s\n", data_dir, strerror(errno),
                errno == ENOENT ? " (create it with `vodupd init --data-dir " : "", errno == ENOENT ? data_dir : "",
                errno == ENOENT ? "`)" : "");
        return;
    }
    if (!S_ISDIR(st.st_mode)) {
        fprintf(stderr, "vodupd serve: %s is not a directory\n", data_dir);
        return;
    }
    int fd = open(key, O_RDONLY | O_CLOEXEC);
    if (fd < 0 && errno == ENOENT) {
        fprintf(stderr, "vodupd serve: %s is not a vodupd data directory: it has no keys/master.key (run `vodupd "
                        "init --data-dir %s`)\n",
                data_dir, data_dir);
        return;
    }
    if (fd < 0) {
        int e = errno;
        fprintf(stderr, "vodupd serve: cannot read %s: %s%s\n", key, strerror(e),
                e == EACCES ? " (run vodupd as the user that owns the data directory)" : "");
        return;
    }
    off_t size = fstat(fd, &st) == 0 ? st.st_size : -1;
    close(fd);
    fprintf(stderr, "vodupd serve: %s is damaged: %lld bytes, 32 expected (restore it from a backup)\n", key,
            (long long)size);
}

/* Everything `vodupd serve` is told, from its options (after conf_merge: the file, the
 * environment, the command line). */
typedef struct serve_opts {
    const char *data_dir, *listen, *public_url, *region, *metadata, *bytes;
    int threads, workers, max_uploads, auth_ttl, max_attempts, expiry_days, probe_workers;
    int allow_private, n_allow, serve_active;
    vodupd_cidr allow[VODUPD_MAX_CALLBACK_ALLOW];
    uint64_t disk_reserve;
    uint64_t storage_quota;     /* bytes per account without its own quota, 0 none */
    unsigned reserve_pct;
    http_limits lim;
    const char *trusted[VODUPD_MAX_TRUSTED_PROXIES];
    size_t ntrusted;
    long cred_grace, rate_per_key;
    const char *tls_listen, *tls_cert, *tls_key, *admin_listen;
    char host[256], tls_host[256], admin_host[256];
    int port, tls_port, admin_port;
} serve_opts;

/* Where serve_parse's complaints go: stderr as "vodupd serve: ...", or, while a
 * configuration value is checked on its own (serve_validate), a buffer that the
 * configuration loader prefixes with the file and line. */
static char *perr_buf;
static size_t perr_len;

static void perr(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static void perr(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    if (perr_buf) {
        vsnprintf(perr_buf, perr_len, fmt, ap);
        size_t n = strlen(perr_buf);
        if (n && perr_buf[n - 1] == '\n') /* one line, the caller adds the place */
            perr_buf[n - 1] = '\0';
    } else {
        fputs("vodupd serve: ", stderr);
        vfprintf(stderr, fmt, ap);
    }
    va_end(ap);
}

/* Parses and checks every option. 0 ok, 1 when --help was answered, 2 on a bad option
 * (said through perr). nofile: the descriptor limit the connection ceiling follows. */
static int serve_parse(int argc, char **argv, serve_opts *o, long nofile)
{
    memset(o, 0, sizeof *o);
    o->data_dir = "./vodup-data";
    o->listen = "127.0.0.1:9000";
    o->region = "cn-hangzhou";
    o->threads = 4;
    o->workers = 8;
    o->probe_workers = VODUPD_DEFAULT_PROBE_WORKERS;
    o->max_uploads = VODUPD_DEFAULT_MAX_UPLOADS;
    o->auth_ttl = 3000;
    o->expiry_days = 7;
    o->disk_reserve = VODUPD_DEFAULT_DISK_RESERVE;
    o->cred_grace = -1;
    o->rate_per_key = VODUPD_DEFAULT_RATE_PER_KEY;
    /* Connection guards (http/request.h). */
    http_limits_default(&o->lim, nofile);
    http_limits *lim = &o->lim;
    enum { OPT_MAX_CONN = 0x100, OPT_MAX_PER_IP, OPT_HEAD_TIMEOUT, OPT_IDLE_TIMEOUT, OPT_MIN_BODY_RATE,
           OPT_BODY_WINDOW, OPT_TRUSTED_PROXY, OPT_RATE_PER_KEY, OPT_TLS_LISTEN, OPT_TLS_CERT, OPT_TLS_KEY, OPT_ADMIN_LISTEN, OPT_CRED_GRACE, OPT_PROBE_WORKERS, OPT_STORAGE_QUOTA, OPT_METADATA, OPT_BYTES };
    static const struct option opts[] = {{"data-dir", required_argument, NULL, 'd'},
                                         {"metadata", required_argument, NULL, OPT_METADATA},
                                         {"bytes", required_argument, NULL, OPT_BYTES},
                                         {"listen", required_argument, NULL, 'l'},
                                         {"public-url", required_argument, NULL, 'u'},
                                         {"region", required_argument, NULL, 'r'},
                                         {"threads", required_argument, NULL, 't'},
                                         {"workers", required_argument, NULL, 'w'},
                                         {"max-uploads", required_argument, NULL, 'm'},
                                         {"upload-auth-ttl", required_argument, NULL, 'a'},
                                         {"event-max-attempts", required_argument, NULL, 'e'},
                                         {"upload-expiry-days", required_argument, NULL, 'x'},
                                         {"callback-deny-private", no_argument, NULL, 'P'},
                                         {"callback-allow", required_argument, NULL, 'C'},
                                         {"callback-allow-private", no_argument, NULL, 'A'},
                                         {"serve-active-content", no_argument, NULL, 'V'},
                                         {"disk-reserve", required_argument, NULL, 'R'},
                                         {"storage-quota", required_argument, NULL, OPT_STORAGE_QUOTA},
                                         {"max-connections", required_argument, NULL, OPT_MAX_CONN},
                                         {"max-connections-per-ip", required_argument, NULL, OPT_MAX_PER_IP},
                                         {"header-timeout", required_argument, NULL, OPT_HEAD_TIMEOUT},
                                         {"idle-timeout", required_argument, NULL, OPT_IDLE_TIMEOUT},
                                         {"min-body-rate", required_argument, NULL, OPT_MIN_BODY_RATE},
                                         {"body-rate-window", required_argument, NULL, OPT_BODY_WINDOW},
                                         {"trusted-proxy", required_argument, NULL, OPT_TRUSTED_PROXY},
                                         {"rate-per-key", required_argument, NULL, OPT_RATE_PER_KEY},
                                         {"upload-cred-grace", required_argument, NULL, OPT_CRED_GRACE},
                                         {"tls-listen", required_argument, NULL, OPT_TLS_LISTEN},
                                         {"tls-cert", required_argument, NULL, OPT_TLS_CERT},
                                         {"tls-key", required_argument, NULL, OPT_TLS_KEY},
                                         {"admin-listen", required_argument, NULL, OPT_ADMIN_LISTEN},
                                         {"probe-workers", required_argument, NULL, OPT_PROBE_WORKERS},
                                         {"help", no_argument, NULL, 'h'},
                                         {NULL, 0, NULL, 0}};
    int c;
    optind = 0; /* parsed more than once per process (each configuration value, then all) */
    opterr = !perr_buf;
    while ((c = getopt_long(argc, argv, "d:l:u:r:t:w:m:a:e:x:PC:AVR:h", opts, NULL)) != -1) {
        char *end = NULL;
        switch (c) {
        case 'd': o->data_dir = optarg; break;
        case OPT_METADATA:
            if (!metadata_is_postgres(optarg)) {
                /* Not echoed: it may be a mistyped URL holding a password. */
                perr("--metadata wants a postgres:// or postgresql:// URL\n");
                return 2;
            }
            o->metadata = optarg;
            break;
        case OPT_BYTES: {
            char err[512], id[512];
            if (bytes_identity(optarg, id, sizeof id, err, sizeof err) != 0) {
                perr("%s\n", err);   /* never the URL itself */
                return 2;
            }
            o->bytes = optarg;
            break;
        }
        case 'l': o->listen = optarg; break;
        case 'u': o->public_url = optarg; break;
        case 'r': o->region = optarg; break;
        case 't': o->threads = (int)strtol(optarg, &end, 10); break;
        case 'w': o->workers = (int)strtol(optarg, &end, 10); break;
        case 'm': o->max_uploads = (int)strtol(optarg, &end, 10); break;
        case 'a': o->auth_ttl = (int)strtol(optarg, &end, 10); break;
        case 'e': o->max_attempts = (int)strtol(optarg, &end, 10); break;
        case 'x': o->expiry_days = (int)strtol(optarg, &end, 10); break;
        case 'P': break;   /* denying private addresses is the default */
        case 'A': o->allow_private = 1; break;
        case 'V': o->serve_active = 1; break;
        case 'C':
            if (o->n_allow >= VODUPD_MAX_CALLBACK_ALLOW || events_parse_cidr(optarg, &o->allow[o->n_allow]) != 0) {
                perr("--callback-allow wants an address or CIDR range (at most %d), got '%s'\n",
                     VODUPD_MAX_CALLBACK_ALLOW, optarg);
                return 2;
            }
            o->n_allow++;
            break;
        case 'R':
            if (vodupd_parse_size(optarg, &o->disk_reserve, &o->reserve_pct, 1) != 0) {
                perr("--disk-reserve wants a size (64M, 1G, 0) or 1%%..50%%, got '%s'\n", optarg);
                return 2;
            }
            break;
        case OPT_STORAGE_QUOTA: {
            unsigned pct = 0;
            if (vodupd_parse_size(optarg, &o->storage_quota, &pct, 0) != 0) {
                perr("--storage-quota wants a size (10G, 500M, 0 for none), got '%s'\n", optarg);
                return 2;
            }
            break;
        }
        case OPT_MAX_CONN: case OPT_MAX_PER_IP: case OPT_MIN_BODY_RATE: {
            long long v = strtoll(optarg, &end, 10);
            if (v < 0 || v > 100000000 || (c == OPT_MAX_CONN && v < 1)) {
                perr("'%s' is out of range for --%s\n", optarg,
                     c == OPT_MAX_CONN ? "max-connections" : c == OPT_MAX_PER_IP ? "max-connections-per-ip"
                                                                                : "min-body-rate");
                return 2;
            }
            if (c == OPT_MAX_CONN)
                lim->max_connections = (unsigned)v;
            else if (c == OPT_MAX_PER_IP)
                lim->max_per_ip = (unsigned)v;
            else
                lim->min_body_rate = (unsigned long)v;
            break;
        }
        case OPT_HEAD_TIMEOUT: case OPT_IDLE_TIMEOUT: case OPT_BODY_WINDOW: {
            double v = strtod(optarg, &end);
            if (!(v >= 0 && v <= 86400)) {
                perr("'%s' is not 0..86400 seconds\n", optarg);
                return 2;
            }
            long ms = (long)(v * 1000 + 0.5);
            if (c == OPT_HEAD_TIMEOUT)
                lim->head_timeout_ms = ms;
            else if (c == OPT_IDLE_TIMEOUT)
                lim->idle_timeout_ms = ms;
            else
                lim->body_rate_window_ms = ms;
            break;
        }
        case OPT_TRUSTED_PROXY:
            if (http_check_cidr(optarg) != 0 || o->ntrusted >= VODUPD_MAX_TRUSTED_PROXIES) {
                perr("--trusted-proxy wants an address or CIDR range (at most %d), got '%s'\n",
                     VODUPD_MAX_TRUSTED_PROXIES, optarg);
                return 2;
            }
            o->trusted[o->ntrusted++] = optarg;
            break;
        case OPT_CRED_GRACE:
            o->cred_grace = strtol(optarg, &end, 10);
            if (o->cred_grace < 1 || o->cred_grace > 30L * 86400) {
                perr("--upload-cred-grace wants 1..2592000 seconds, got '%s'\n", optarg);
                return 2;
            }
            break;
        case OPT_RATE_PER_KEY:
            o->rate_per_key = strtol(optarg, &end, 10);
            if (o->rate_per_key < 0 || o->rate_per_key > 1000000) {
                perr("--rate-per-key wants 0..1000000, got '%s'\n", optarg);
                return 2;
            }
            break;
        case OPT_TLS_LISTEN: o->tls_listen = optarg; break;
        case OPT_TLS_CERT: o->tls_cert = optarg; break;
        case OPT_TLS_KEY: o->tls_key = optarg; break;
        case OPT_ADMIN_LISTEN: o->admin_listen = optarg; break;
        case OPT_PROBE_WORKERS: o->probe_workers = (int)strtol(optarg, &end, 10); break;
        case 'h': fputs(USAGE_SERVE, stdout); return 1;
        default:
            if (perr_buf)
                perr("not an option of vodupd serve");
            else
                fputs(USAGE_SERVE, stderr);
            return 2;
        }
        if (end && (*end || end == optarg)) {
            perr("'%s' is not a number\n", optarg);
            return 2;
        }
    }
    if (optind < argc) {
        perr("unexpected argument '%s'\n", argv[optind]);
        return 2;
    }
    const struct {
        const char *name;
        long v, lo, hi;
    } ranges[] = {{"threads", o->threads, 1, 256},          {"workers", o->workers, 1, 256},
                  {"max-uploads", o->max_uploads, 0, INT_MAX}, {"upload-auth-ttl", o->auth_ttl, 5, 43200},
                  {"event-max-attempts", o->max_attempts, 0, INT_MAX},
                  {"upload-expiry-days", o->expiry_days, 0, 3650},
                  {"probe-workers", o->probe_workers, 0, 64}};
    for (size_t i = 0; i < sizeof ranges / sizeof ranges[0]; i++)
        if (ranges[i].v < ranges[i].lo || ranges[i].v > ranges[i].hi) {
            perr("--%s wants %ld..%ld, got %ld\n", ranges[i].name, ranges[i].lo, ranges[i].hi, ranges[i].v);
            return 2;
        }
    if (strlen(o->region) > 60) {
        perr("--region is at most 60 characters\n");
        return 2;
    }
    if (parse_listen(o->listen, o->host, sizeof o->host, &o->port) != 0) {
        perr("--listen wants HOST:PORT (or :PORT for every IPv4 address), got '%s'\n", o->listen);
        return 2;
    }
    /* One value checked alone (a configuration line): the combinations are checked once
     * everything is merged. */
    if (perr_buf)
        return 0;
    if ((o->tls_listen || o->tls_cert || o->tls_key) && !(o->tls_listen && o->tls_cert && o->tls_key)) {
        perr("HTTPS needs all three of --tls-listen, --tls-cert and --tls-key\n");
        return 2;
    }
    if (o->tls_listen && parse_listen(o->tls_listen, o->tls_host, sizeof o->tls_host, &o->tls_port) != 0) {
        perr("--tls-listen wants HOST:PORT, got '%s'\n", o->tls_listen);
        return 2;
    }
    if (o->admin_listen && parse_listen(o->admin_listen, o->admin_host, sizeof o->admin_host, &o->admin_port) != 0) {
        perr("--admin-listen wants HOST:PORT, got '%s'\n", o->admin_listen);
        return 2;
    }
    return 0;
}

/* conf_validate_fn: one configuration value through the option parser. */
static int serve_validate(const char *name, const char *value, char *err, size_t errlen)
{
    char arg[4200];
    snprintf(arg, sizeof arg, "--%s=%s", name, value);
    char *argv[] = {"vodupd", arg, NULL};
    serve_opts o;
    err[0] = '\0';
    perr_buf = err;
    perr_len = errlen;
    int r = serve_parse(2, argv, &o, 1024);
    perr_buf = NULL;
    if (r != 0 && !err[0])
        snprintf(err, errlen, "bad value for %s", name);
    return r == 0 ? 0 : -1;
}

static int cmd_serve(int argc, char **argv)
{
    serve_opts opt, *o = &opt;
    /* The descriptor limit is raised first, since the default connection ceiling follows it. */
    int pr = serve_parse(argc, argv, o, http_raise_nofile());
    if (pr != 0)
        return pr == 1 ? 0 : 2;
    const char *data_dir = o->data_dir, *listen = o->listen, *public_url = o->public_url;
    const char *tls_listen = o->tls_listen, *tls_cert = o->tls_cert, *tls_key = o->tls_key;
    const char *admin_listen = o->admin_listen;
    const char *host = o->host, *tls_host = o->tls_host, *admin_host = o->admin_host;
    int threads = o->threads, workers = o->workers, port = o->port, tls_port = o->tls_port, admin_port = o->admin_port;
    http_limits lim = o->lim;
    if (tls_listen && !http_tls_supported()) {
        fprintf(stderr, "vodupd serve: this libmicrohttpd was built without HTTPS support\n");
        return 1;
    }
    /* The certificate is read before anything else starts: a wrong path or a key that
     * does not match fails the start, with the reason. */
    http_tls *tls = NULL;
    if (tls_listen) {
        char err[512];
        if (!(tls = http_tls_new(tls_cert, tls_key, err, sizeof err))) {
            fprintf(stderr, "vodupd serve: --tls-cert/--tls-key: %s\n", err);
            return 1;
        }
    }
    /* Signals are taken by sigwait below; every thread started from here inherits the mask. */
    sigset_t sigs;
    sigemptyset(&sigs);
    sigaddset(&sigs, SIGTERM);
    sigaddset(&sigs, SIGINT);
    sigaddset(&sigs, SIGHUP);
    pthread_sigmask(SIG_BLOCK, &sigs, NULL);
    signal(SIGPIPE, SIG_IGN);

    vodupd s;
    memset(&s, 0, sizeof s);
    pthread_mutex_init(&s.readers_mu, NULL);
    s.data_dir = (char *)data_dir;
    s.max_uploads_per_account = o->max_uploads;
    s.storage_quota = o->storage_quota;
    s.upload_auth_ttl = o->auth_ttl;
    s.upload_cred_grace = o->cred_grace > 0                                ? o->cred_grace
                          : o->auth_ttl > VODUPD_DEFAULT_UPLOAD_CRED_GRACE ? o->auth_ttl
                                                                           : VODUPD_DEFAULT_UPLOAD_CRED_GRACE;
    s.event_max_attempts = o->max_attempts;
    s.upload_expiry = (long)o->expiry_days * 86400L;
    s.callback_allow_private = o->allow_private;
    s.n_callback_allow = o->n_allow;
    memcpy(s.callback_allow, o->allow, (size_t)o->n_allow * sizeof o->allow[0]);
    s.serve_active_content = o->serve_active;
    snprintf(s.region, sizeof s.region, "%s", o->region);
    if (auth_master_key_load(data_dir, s.master_key) != 0) {
        explain_data_dir(data_dir);
        return 1;
    }
    /* One server per data directory: startup recovery removes what it does not know
     * about, which would be another live server's writes in progress. */
    char lock_path[4096];
    snprintf(lock_path, sizeof lock_path, "%s/vodupd.lock", data_dir);
    int lock_fd = open(lock_path, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
    if (lock_fd < 0 || flock(lock_fd, LOCK_EX | LOCK_NB) != 0) {
        /* Only a held lock means another server; anything else is the directory's fault. */
        if (lock_fd >= 0 && errno == EWOULDBLOCK)
            fprintf(stderr, "vodupd serve: %s is in use by another vodupd (it holds %s)\n", data_dir, lock_path);
        else
            fprintf(stderr, "vodupd serve: cannot %s the lock file %s: %s (vodupd needs to write in its data "
                            "directory)\n",
                    lock_fd < 0 ? "create" : "lock", lock_path, strerror(errno));
        if (lock_fd >= 0)
            close(lock_fd);
        return 1;
    }
    /* The byte store first: on a full disk it hands back its headroom, which the
     * database may need to open (WAL) and to record deletes. */
    if (!(s.blobs = bytes_open("serve", o->bytes, data_dir)))
        return 1;
    /* The disk reserve guards the data directory's disk, where a cluster's bytes are not. */
    if (!o->bytes)
        vodup_blobstore_file_set_reserve(s.blobs, o->disk_reserve, o->reserve_pct);
    if (metadata_open(&s.meta, o->metadata, data_dir, threads + workers + 2) != VODUP_META_OK) {
        if (o->metadata)
            fprintf(stderr, "vodupd serve: cannot open the PostgreSQL database of --metadata\n");
        else
            fprintf(stderr, "vodupd serve: cannot open the database in %s\n", data_dir);
        vodup_blobstore_close(s.blobs);
        return 1;
    }
    if (bytes_match("serve", s.meta, o->bytes) != 0) {
        vodup_meta_close(s.meta);
        vodup_blobstore_close(s.blobs);
        return 1;
    }
    /* What a crash left half done: unfinished writes, blobs written but never recorded,
     * blobs freed but not yet removed. */
    vodupd_gc_run(&s);
    long removed = vodup_blob_recover(s.blobs, is_live, s.meta);
    if (removed > 0)
        fprintf(stderr, "vodupd: recovery removed %ld unreferenced blob(s)\n", removed);

    if (s.storage_quota && !vodup_meta_supports(s.meta, 5)) {
        fprintf(stderr, "vodupd serve: this metadata store keeps no storage usage yet: "
                        "storage-quota needs the SQLite store\n");
        return 1;
    }
    /* Callback AuthKeys are sealed at rest like AccessKey secrets; older data dirs get theirs sealed now. */
    if (events_seal_install(&s) != 0) {
        fprintf(stderr, "vodupd serve: cannot seal the callback AuthKeys in %s\n", data_dir);
        return 1;
    }
    s.token_keys = token_keys_load(data_dir);
    if (!s.token_keys) {
        fprintf(stderr, "vodupd serve: cannot load or create the token keys in %s/keys: %s\n", data_dir, strerror(errno));
        return 1;
    }
    if (o->rate_per_key > 0 &&
        !(s.ratelimit = auth_ratelimit_new((double)o->rate_per_key, 2.0 * (double)o->rate_per_key))) {
        fprintf(stderr, "vodupd serve: out of memory\n");
        return 1;
    }
    s.revocations = o->metadata ? vodup_meta_revocations_open_postgres(o->metadata)
                                : vodup_meta_revocations_open_sqlite(data_dir);
    if (!s.revocations) {
        fprintf(stderr, "vodupd serve: cannot open the revocation cache in %s\n", data_dir);
        return 1;
    }
    s.wq = workq_new(workers);
    if (!s.wq || vodupd_gc_start(&s) != 0) {
        fprintf(stderr, "vodupd serve: cannot start threads\n");
        return 1;
    }
    add_own_host(&s, host, strlen(host));
    add_own_host(&s, "localhost", 9);
    int bound = 0;
    int lfd = http_bind(host, port, &bound);
    if (lfd < 0) {
        fprintf(stderr, "vodupd serve: cannot listen on %s: %s\n", listen, strerror(errno));
        return 1;
    }
    int tls_lfd = -1, tls_bound = 0;
    if (tls && (tls_lfd = http_bind(tls_host, tls_port, &tls_bound)) < 0) {
        fprintf(stderr, "vodupd serve: cannot listen on %s: %s\n", tls_listen, strerror(errno));
        close(lfd);
        return 1;
    }
    if (tls)
        add_own_host(&s, tls_host, strlen(tls_host));
    char url[512];
    if (public_url) {
        snprintf(url, sizeof url, "%s", public_url);
        const char *h = strstr(url, "://");
        h = h ? h + 3 : url;
        size_t hl = strcspn(h, ":/");
        add_own_host(&s, h, hl);
    } else if (tls) {
        /* Clients handed an https endpoint can upload from https pages and over networks
         * the operator does not trust; the plain listener stays for local use. */
        snprintf(url, sizeof url, strchr(tls_host, ':') ? "https://[%s]:%d" : "https://%s:%d", tls_host, tls_bound);
    } else {
        snprintf(url, sizeof url, strchr(host, ':') ? "http://[%s]:%d" : "http://%s:%d", host, bound);
    }
    s.public_url = url;
    if (!public_url && (strstr(url, "//0.0.0.0:") || strstr(url, "//[::]:")))
        fprintf(stderr, "vodupd: warning: listening on every address; clients are handed %s, which they cannot "
                        "reach: set --public-url (public-url in vodupd.conf)\n",
                url);
    /* Everything request threads read is settled before the first request arrives. */
    s.events = events_start(&s);
    if (!s.events) {
        fprintf(stderr, "vodupd serve: cannot start the event sender\n");
        close(lfd);
        return 1;
    }
    /* The probe child lives next to vodupd (make install puts both in bindir). */
    if (o->probe_workers > 0 && !vodup_blob_has_fd(s.blobs))
        /* The probe child reads files (probe_jobs.c); a cluster's objects are none. */
        fprintf(stderr, "vodupd: media probe off: the S3 byte store (--bytes) gives the probe no files; uploaded "
                        "videos stay UploadSucc (docs/scale-out.md)\n");
    else if (o->probe_workers > 0 && !vodup_meta_supports(s.meta, 4))
        fprintf(stderr, "vodupd: this metadata store keeps no probe jobs yet: uploaded videos stay "
                        "UploadSucc (docs/internals/media-probe.md)\n");
    else if (o->probe_workers > 0) {
        char exe[4096], probe_exe[4200];
        ssize_t el = readlink("/proc/self/exe", exe, sizeof exe - 1);
        exe[el > 0 ? el : 0] = '\0';
        char *slash = strrchr(exe, '/');
        if (slash)
            *slash = '\0';
        snprintf(probe_exe, sizeof probe_exe, "%s/vodupd-probe", slash ? exe : ".");
        if (access(probe_exe, X_OK) != 0)
            fprintf(stderr, "vodupd: warning: %s: %s; uploaded videos stay UploadSucc until it exists\n",
                    probe_exe, strerror(errno));
        s.probe = probe_jobs_start(&s, o->probe_workers, probe_exe);
        if (!s.probe) {
            fprintf(stderr, "vodupd serve: cannot start the media probe workers\n");
            close(lfd);
            return 1;
        }
    }
    lim.threads = threads;
    lim.trusted_proxies = o->trusted;
    lim.ntrusted = o->ntrusted;
    http_front *front = http_start(&s, lfd, &lim);
    if (!front) {
        fprintf(stderr, "vodupd serve: cannot start the HTTP front on %s\n", listen);
        events_stop(s.events);
        close(lfd);
        return 1;
    }
    http_front *tls_front = NULL;
    if (tls) {
        http_limits tlim = lim;
        tlim.tls = tls;
        tls_front = http_start(&s, tls_lfd, &tlim);
        if (!tls_front) {
            fprintf(stderr, "vodupd serve: cannot start the HTTPS front on %s\n", tls_listen);
            http_stop(front);
            events_stop(s.events);
            close(tls_lfd);
            return 1;
        }
        fprintf(stderr, "vodupd: listening on https://%s%s%s:%d\n", strchr(tls_host, ':') ? "[" : "", tls_host,
                strchr(tls_host, ':') ? "]" : "", tls_bound);
    }
    metrics_add_front(front, "http");
    metrics_add_front(tls_front, "https");
    metrics_admin *admin = NULL;
    if (admin_listen) {
        int abound = 0, afd = http_bind(admin_host, admin_port, &abound);
        if (afd < 0 || !(admin = metrics_admin_start(&s, afd, o->disk_reserve, o->reserve_pct))) {
            fprintf(stderr, "vodupd serve: cannot serve --admin-listen %s: %s\n", admin_listen,
                    afd < 0 ? strerror(errno) : "the admin listener did not start");
            return 1;
        }
        fprintf(stderr, "vodupd: admin (/healthz, /metrics) on http://%s%s%s:%d\n", strchr(admin_host, ':') ? "[" : "",
                admin_host, strchr(admin_host, ':') ? "]" : "", abound);
    }
    fprintf(stderr, "vodupd %s: listening on http://%s%s%s:%d (data dir %s, public url %s)\n", VODUPD_VERSION,
            strchr(host, ':') ? "[" : "", host, strchr(host, ':') ? "]" : "", bound, data_dir, url);

    int sig = 0;
    for (;;) {
        /* Between signals, token keys added by `vodupd keys rotate` (another process) are
         * picked up, so rotation needs no restart. */
        struct timespec every = {VODUPD_TOKEN_KEYS_REFRESH, 0};
        sig = sigtimedwait(&sigs, NULL, &every);
        if (sig < 0 || sig == SIGHUP) {
            int r = token_keys_refresh(s.token_keys, data_dir);
            if (r > 0)
                fprintf(stderr, "vodupd: a new token key (vodupd keys rotate) now seals temporary credentials\n");
            else if (r < 0 && sig == SIGHUP)
                fprintf(stderr, "vodupd: SIGHUP: reading the token keys in %s/keys failed: %s\n", data_dir,
                        strerror(errno));
        }
        if (sig < 0)
            continue;
        if (sig != SIGHUP)
            break;
        if (!tls) {
            fprintf(stderr, "vodupd: SIGHUP received; token keys re-read, no certificate to reload (no --tls-listen)\n");
            continue;
        }
        char err[512];
        if (http_tls_reload(tls, err, sizeof err) == 0)
            fprintf(stderr, "vodupd: SIGHUP: reloaded the TLS certificate %s\n", tls_cert);
        else
            fprintf(stderr, "vodupd: SIGHUP: kept the previous TLS certificate: %s\n", err);
    }
    fprintf(stderr, "vodupd: %s received, finishing requests in flight\n", sig == SIGTERM ? "SIGTERM" : "SIGINT");

    /* Stop accepting, let requests in flight finish (bounded), then stop. Idle
     * keep-alive connections are no reason to wait: they are simply closed. */
    http_quiesce(front);
    http_quiesce(tls_front);
    for (int i = 0; i < 100; i++) {
        if (atomic_load(&s.active_requests) == 0)
            break;
        struct timespec ts = {0, 100 * 1000 * 1000};
        nanosleep(&ts, NULL);
    }
    metrics_admin_stop(admin);
    workq_free(s.wq);
    http_stop(front);
    http_stop(tls_front);
    http_tls_free(tls);
    probe_jobs_stop(s.probe);
    events_stop(s.events);
    vodupd_gc_stop(&s);
    vodupd_gc_run(&s);
    vodup_blobstore_close(s.blobs);
    vodup_meta_close(s.meta);
    token_keys_free(s.token_keys);
    auth_ratelimit_free(s.ratelimit);
    vodup_meta_revocations_close(s.revocations);
    for (int i = 0; i < s.n_own_hosts; i++)
        free(s.own_hosts[i]);
    memset(s.master_key, 0, sizeof s.master_key);
    fprintf(stderr, "vodupd: stopped\n");
    return 0;
}

static const char USAGE_CONFIG[] =
    "usage: vodupd [--config FILE] config check [--config FILE]\n"
    "\n"
    "Reads the configuration file (--config, else $VODUPD_CONFIG; none: defaults only) and\n"
    "the VODUPD_* environment variables, checks every value as `vodupd serve` would, and\n"
    "prints the effective configuration, each value with where it came from. A bad file is\n"
    "refused with its line: `FILE:LINE: what is wrong`, exit status 2. Keys and defaults:\n"
    "docs/vodupd.conf.md, man vodupd.conf.\n";

/* The configuration of this run: the file (--config FILE before the command, or
 * $VODUPD_CONFIG) and the environment, checked value by value. 0, or 2 said on stderr. */
static int load_config(conf *c, const char *path)
{
    char err[1024];
    if (!path)
        path = getenv("VODUPD_CONFIG");
    if (path && *path && conf_load_file(c, path, serve_validate, err, sizeof err) != 0) {
        fprintf(stderr, "vodupd: %s\n", err);
        return 2;
    }
    if (conf_load_env(c, serve_validate, err, sizeof err) != 0) {
        fprintf(stderr, "vodupd: %s\n", err);
        return 2;
    }
    return 0;
}

static int cmd_config(conf *c, const char *path, int argc, char **argv)
{
    if (argc >= 2 && (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0)) {
        fputs(USAGE_CONFIG, stdout);
        return 0;
    }
    if (argc < 2 || strcmp(argv[1], "check") != 0) {
        fputs(USAGE_CONFIG, stderr);
        return 2;
    }
    for (int i = 2; i < argc; i++) {
        if (strcmp(argv[i], "--config") == 0 && i + 1 < argc) {
            path = argv[++i];
        } else if (strncmp(argv[i], "--config=", 9) == 0) {
            path = argv[i] + 9;
        } else {
            fprintf(stderr, "vodupd config check: unexpected argument '%s'\n%s", argv[i], USAGE_CONFIG);
            return 2;
        }
    }
    int rc = load_config(c, path);
    if (rc != 0)
        return rc;
    /* Each value passed alone; now the combinations (all three TLS keys, ...). */
    int n;
    char *prog = "vodupd";
    char **merged = conf_merge(c, 0, 1, &prog, &n);
    serve_opts o;
    if (!merged || serve_parse(n, merged, &o, 1024) != 0) {
        fprintf(stderr, "vodupd config check: the configuration%s%s is not usable (above)\n", c->path ? " in " : "",
                c->path ? c->path : "");
        return 2;
    }
    if (o.tls_listen) {
        char err[512];
        http_tls *t = http_tls_new(o.tls_cert, o.tls_key, err, sizeof err);
        if (!t) {
            fprintf(stderr, "vodupd config check: tls-cert/tls-key: %s\n", err);
            return 2;
        }
        http_tls_free(t);
    }
    conf_print(c, stdout);
    return 0;
}

int main(int argc, char **argv)
{
    /* Everything vodupd writes (database, keys, object files) is for its own eyes. */
    umask(077);
    /* vodupd [--config FILE] <command> ... */
    const char *config_path = NULL;
    if (argc >= 2 && strncmp(argv[1], "--config=", 9) == 0) {
        config_path = argv[1] + 9;
        argv[1] = argv[0];
        argc--, argv++;
    } else if (argc >= 3 && strcmp(argv[1], "--config") == 0) {
        config_path = argv[2];
        argv[2] = argv[0];
        argc -= 2, argv += 2;
    }
    if (argc < 2 || strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0 || strcmp(argv[1], "help") == 0) {
        if (argc >= 3 && strcmp(argv[1], "help") == 0) {
            if (strcmp(argv[2], "init") == 0) {
                fputs(USAGE_INIT, stdout);
                return 0;
            }
            if (strcmp(argv[2], "serve") == 0) {
                fputs(USAGE_SERVE, stdout);
                return 0;
            }
            if (strcmp(argv[2], "config") == 0) {
                fputs(USAGE_CONFIG, stdout);
                return 0;
            }
        }
        fputs(USAGE, argc < 2 ? stderr : stdout);
        return argc < 2 ? 2 : 0;
    }
    if (strcmp(argv[1], "--version") == 0) {
        printf("vodupd %s\n", VODUPD_VERSION);
        return 0;
    }
    conf c;
    memset(&c, 0, sizeof c);
    const char *cmd = argv[1];
    if (strcmp(cmd, "config") == 0) {
        int rc = cmd_config(&c, config_path, argc - 1, argv + 1);
        conf_free(&c);
        return rc;
    }
    typedef int (*command_fn)(int, char **);
    static const struct {
        const char *name;
        command_fn fn;
    } commands[] = {{"init", cmd_init},         {"serve", NULL},           {"user", admin_user},
                    {"role", admin_role},       {"key", admin_key},        {"keys", admin_keys},      {"events", admin_events},
                    {"check", vodupd_check},    {"backup", admin_backup},
                    {"gc", admin_gc},         {"quota", admin_quota}};
    size_t ci = 0, nc = sizeof commands / sizeof commands[0];
    while (ci < nc && strcmp(commands[ci].name, cmd) != 0)
        ci++;
    if (ci == nc) {
        fprintf(stderr, "vodupd: unknown command '%s'\n\n%s", cmd, USAGE);
        return 2;
    }
    /* The file and the environment come first as options, the command line's own after
     * them: the last value wins. Only serve takes every key; the others take data-dir. */
    int rc = load_config(&c, config_path);
    int is_serve = commands[ci].fn == NULL;
    int n = 0;
    char **merged = rc == 0 ? conf_merge(&c, !is_serve, argc - 1, argv + 1, &n) : NULL;
    if (rc == 0 && !merged) {
        fprintf(stderr, "vodupd: out of memory\n");
        rc = 1;
    }
    /* `quota show` names the server's default, which is serve's storage-quota: the file's
     * or the environment's goes right after the verb, so the command line's still wins. */
    char quota_def[128];
    if (rc == 0 && merged && commands[ci].fn == admin_quota && n >= 2) {
        const conf_setting *q = NULL;
        for (size_t i = 0; i < c.n; i++)
            if (strcmp(c.v[i].key->name, "storage-quota") == 0 && (!q || c.v[i].from_env >= q->from_env))
                q = &c.v[i];
        if (q && snprintf(quota_def, sizeof quota_def, "--storage-quota=%s", q->value) < (int)sizeof quota_def) {
            /* conf_merge leaves room: its vector has a slot for every setting */
            memmove(merged + 3, merged + 2, (size_t)(n - 1) * sizeof *merged);
            merged[2] = quota_def;
            n++;
        }
    }
    if (rc == 0 && is_serve) {
        curl_global_init(CURL_GLOBAL_DEFAULT);
        rc = cmd_serve(n, merged);
        curl_global_cleanup();
    } else if (rc == 0) {
        optind = 0; /* checking the configuration ran getopt already */
        rc = commands[ci].fn(n, merged);
    }
    conf_free(&c);
    return rc;
}
