/* test_client_load.c - faults under load (issue 8): 200 libvodup uploads at once (4
 * clients x 50 files_at_once, one connection per file) through the fault-injecting proxy
 * of client_harness.h, batch after batch for VODUP_SOAK_SECONDS (default 60 s; 20 s in a
 * sanitizer build). While a batch runs the proxy keeps resetting requests mid-body,
 * stalling them past the client's low-speed timeout, reading them slowly and cutting
 * answers short (each fault re-armed a few MiB after it fired). Every upload must end
 * SUCCESS with the right bytes (GetObject MD5) and VOD record, the faults must really have
 * happened (proxy counters, on_upload_retry), and vodupd's open descriptors and resident
 * memory, measured before the first batch and after the last (once the connections
 * closed), must stay within bounds: what a loaded server takes it gives back. */
#define TH_PROXY_MAXCONN 512 /* 200 uploads + RPC + connections a stall keeps open */
#include "client_harness.h"

#if defined(__SANITIZE_ADDRESS__) || defined(__SANITIZE_THREAD__)
#define LD_SANITIZED 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer) || __has_feature(thread_sanitizer)
#define LD_SANITIZED 1
#endif
#endif
#ifndef LD_SANITIZED
#define LD_SANITIZED 0
#endif

#define N_CLIENTS 4
#define FILES_PER_CLIENT 50 /* files_at_once allows 64, the recording listener 64 items */
#define N_FILES (N_CLIENTS * FILES_PER_CLIENT)
#define PART (256 * KiB)          /* small parts: many requests per multipart file */
#define PUT_THRESHOLD (1 * MiB)   /* below: one PutObject */
#define SOAK_DEFAULT_S (LD_SANITIZED ? 20 : 60)
#define BATCH_TIMEOUT_MS 300000L
/* fault schedule: upstream bytes between one fault firing and the next of its kind */
#define RESET_EVERY (5 * MiB)
#define STALL_EVERY (23 * MiB)
#define SLOW_EVERY (9 * MiB)
#define TRUNCATE_EVERY (17 * MiB)
#define STALL_MS 6000L /* > 2 x low_speed_time_s, see test_client_faults.c */
#define SLOW_MS 3000L
/* bounds on vodupd after the soak, over its figures before it */
#define FD_SLACK 8
#define FD_SETTLED 2 /* how close to the baseline the wait for closing connections hopes to get */
#define RSS_SLACK_KIB (LD_SANITIZED ? 768 * 1024LL : 96 * 1024LL) /* ASan's quarantine alone is 256 MiB */
#define IDLE_WAIT_MS 30000L

static th_server g_srv;
static th_proxy g_px;
static char g_path[N_FILES][1024];
static char g_md5[N_FILES][33];
static uint64_t g_size[N_FILES];

/* Even files fit one PutObject, odd ones take 5-10 parts: ~230 MiB in all. */
static uint64_t file_size(int i)
{
    if (i % 2 == 0)
        return 200 * KiB + (uint64_t)((i * 37) % 800) * KiB;
    return PUT_THRESHOLD + 64 * KiB + (uint64_t)((i * 53) % 1472) * KiB;
}

static int setup(void **state)
{
    (void)state;
    th_group_start(&g_srv, &g_px, "client-load", NULL);
    for (int i = 0; i < N_FILES; i++) {
        char name[32];
        snprintf(name, sizeof name, "f%03d.mp4", i);
        g_size[i] = file_size(i);
        th_make_source(&g_srv, g_path[i], sizeof g_path[i], name, g_size[i], 800 + (uint64_t)i, g_md5[i]);
    }
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    th_group_stop(&g_srv, &g_px);
    return 0;
}

static long soak_seconds(void)
{
    const char *v = getenv("VODUP_SOAK_SECONDS");
    if (!v || !*v)
        return SOAK_DEFAULT_S;
    char *e = NULL;
    errno = 0;
    long s = strtol(v, &e, 10);
    if (errno || *e || s < 1 || s > 24 * 3600)
        fail_msg("VODUP_SOAK_SECONDS=%s: want whole seconds, 1 to 86400", v);
    return s;
}

/* Open descriptors of pid (entries of /proc/<pid>/fd). */
static int fd_count(pid_t pid)
{
    char p[64];
    snprintf(p, sizeof p, "/proc/%d/fd", (int)pid);
    DIR *d = opendir(p);
    assert_non_null(d);
    int n = 0;
    struct dirent *e;
    while ((e = readdir(d)) != NULL)
        if (e->d_name[0] != '.')
            n++;
    closedir(d);
    return n;
}

/* VmRSS of pid in KiB. */
static long long rss_kib(pid_t pid)
{
    char p[64], line[256];
    snprintf(p, sizeof p, "/proc/%d/status", (int)pid);
    FILE *f = fopen(p, "r");
    assert_non_null(f);
    long long kib = -1;
    while (fgets(line, sizeof line, f))
        if (strncmp(line, "VmRSS:", 6) == 0)
            kib = strtoll(line + 6, NULL, 10);
    fclose(f);
    assert_true(kib > 0);
    return kib;
}

/* Re-arms each fault that fired, a stretch of upstream bytes further on. */
static void arm_faults(void)
{
    unsigned long long up = atomic_load(&g_px.up_bytes);
    unsigned long long zero = 0ULL;
    unsigned long long v = up + RESET_EVERY;
    atomic_compare_exchange_strong(&g_px.reset_at, &zero, v);
    zero = 0ULL;
    v = up + STALL_EVERY;
    atomic_compare_exchange_strong(&g_px.stall_at, &zero, v);
    zero = 0ULL;
    v = up + SLOW_EVERY;
    atomic_compare_exchange_strong(&g_px.slow_at, &zero, v);
    zero = 0ULL;
    v = up + TRUNCATE_EVERY;
    atomic_compare_exchange_strong(&g_px.truncate_at, &zero, v);
}

static void disarm_faults(void)
{
    atomic_store(&g_px.reset_at, 0ULL);
    atomic_store(&g_px.stall_at, 0ULL);
    atomic_store(&g_px.slow_at, 0ULL);
    atomic_store(&g_px.truncate_at, 0ULL);
}

typedef struct soak_totals {
    int batches, uploads, retries, retry_resumes;
    int peak_fds;
    long long peak_rss;
} soak_totals;

/* One batch: 200 uploads at once through the faults, then every one checked. */
static void run_batch(vodup_api *api, soak_totals *t)
{
    static th_rec rec[N_CLIENTS];
    vodup_client *c[N_CLIENTS];
    int ids[N_FILES];
    vodup_options o = VODUP_OPTIONS_INIT;
    o.parallel = 1; /* 200 connections for 200 files: within vodupd's 256 per address */
    o.files_at_once = FILES_PER_CLIENT;
    o.part_size = PART;
    o.put_threshold = PUT_THRESHOLD;
    o.low_speed_time_s = 2;
    o.connect_timeout_ms = 10000;
    for (int k = 0; k < N_CLIENTS; k++) {
        th_rec_init(&rec[k]);
        /* Half the clients in upload-auth mode with every grant handed over before the
         * start, as an app server that created the media up front would: their uploads all
         * begin at once. The other half in STS mode, creating the media themselves (the
         * client's one VOD-call thread lets those in one by one). */
        int sts = k >= N_CLIENTS / 2;
        if (sts) {
            c[k] = th_sts_client(&g_srv, &o, &rec[k]);
        } else {
            vodup_listener l = th_listener(&rec[k]);
            assert_int_equal(vodup_client_new(&c[k], &o, &l), VODUP_OK);
            assert_int_equal(vodup_client_use_upload_auth(c[k]), VODUP_OK);
        }
        for (int j = 0; j < FILES_PER_CLIENT; j++) {
            int i = k * FILES_PER_CLIENT + j;
            int rc = vodup_client_add_file(c[k], &ids[i], g_path[i], VODUP_MEDIA_VIDEO, NULL);
            if (rc != VODUP_OK)
                fail_msg("add_file %s: %d %s", g_path[i], rc, vodup_client_last_error(c[k]));
            if (sts)
                continue;
            th_upload_grant g;
            const char *name = strrchr(g_path[i], '/') + 1;
            th_create_upload_video(api, name, name, g_size[i], &g);
            rc = vodup_client_set_upload_auth(c[k], ids[i], g.address, g.auth, g.media_id);
            if (rc != VODUP_OK)
                fail_msg("set_upload_auth %s: %d %s", g_path[i], rc, vodup_client_last_error(c[k]));
        }
    }
    arm_faults();
    for (int k = 0; k < N_CLIENTS; k++)
        assert_int_equal(vodup_client_start(c[k]), VODUP_OK);
    int done[N_CLIENTS] = {0}, rcs[N_CLIENTS] = {0}, ndone = 0;
    long long dl = th_now_ms() + BATCH_TIMEOUT_MS;
    while (ndone < N_CLIENTS) {
        arm_faults();
        for (int k = 0; k < N_CLIENTS; k++) {
            if (done[k])
                continue;
            int rc = vodup_client_wait(c[k], 25);
            if (rc != VODUP_ETIMEDOUT) {
                done[k] = 1;
                rcs[k] = rc;
                ndone++;
            }
        }
        int fds = fd_count(g_srv.pid);
        long long rss = rss_kib(g_srv.pid);
        if (fds > t->peak_fds)
            t->peak_fds = fds;
        if (rss > t->peak_rss)
            t->peak_rss = rss;
        if (th_now_ms() > dl)
            fail_msg("batch %d: %d of %d clients still uploading after %ld ms", t->batches + 1,
                     N_CLIENTS - ndone, N_CLIENTS, BATCH_TIMEOUT_MS);
    }
    disarm_faults();
    for (int k = 0; k < N_CLIENTS; k++) {
        if (rcs[k] != VODUP_OK)
            fail_msg("batch %d, client %d: wait answered %d (%s)", t->batches + 1, k, rcs[k],
                     vodup_client_last_error(c[k]));
        for (int j = 0; j < FILES_PER_CLIENT; j++) {
            int i = k * FILES_PER_CLIENT + j;
            vodup_status st = th_status(c[k], ids[i]);
            if (st != VODUP_STATUS_SUCCESS)
                fail_msg("batch %d: %s (%llu bytes) ended %s", t->batches + 1, g_path[i],
                         (unsigned long long)g_size[i], vodup_status_name(st));
            th_check_callbacks(&rec[k], ids[i]);
            th_check_object(&g_srv, &rec[k], ids[i], g_md5[i]);
            th_item it = th_get(&rec[k], ids[i]);
            th_check_video(api, it.media_id, g_size[i]);
            t->retries += it.retry;
            t->retry_resumes += it.retry_resume;
            t->uploads++;
        }
        vodup_client_free(c[k]);
        th_rec_destroy(&rec[k]);
    }
    t->batches++;
}

static void test_faults_under_load(void **state)
{
    (void)state;
    long secs = soak_seconds();
    vodup_api *api = th_api_root(&g_srv);
    /* the figures before: vodupd serving, nothing uploaded yet */
    int fds0 = fd_count(g_srv.pid);
    long long rss0 = rss_kib(g_srv.pid);
    atomic_store(&g_px.stall_ms, STALL_MS);
    atomic_store(&g_px.slow_ms, SLOW_MS);
    int r0 = atomic_load(&g_px.resets), s0 = atomic_load(&g_px.stalls), w0 = atomic_load(&g_px.slows),
        t0 = atomic_load(&g_px.truncates);
    unsigned long long up0 = atomic_load(&g_px.up_bytes);
    soak_totals tot;
    memset(&tot, 0, sizeof tot);
    long long start = th_now_ms();
    do
        run_batch(api, &tot);
    while (th_now_ms() - start < secs * 1000);
    long long took = th_now_ms() - start;
    vodup_api_free(api);
    /* every client is gone, so every connection closes; those a stall holds, once the
     * proxy looks at them again */
    int fds1 = fd_count(g_srv.pid);
    int settled = 0;
    TH_WAIT(settled, (fds1 = fd_count(g_srv.pid)) <= fds0 + FD_SETTLED, IDLE_WAIT_MS);
    (void)settled; /* judged below, against the looser FD_SLACK */
    int ok = fds1 <= fds0 + FD_SLACK;
    long long rss1 = rss_kib(g_srv.pid);
    int resets = atomic_load(&g_px.resets) - r0, stalls = atomic_load(&g_px.stalls) - s0,
        slows = atomic_load(&g_px.slows) - w0, truncs = atomic_load(&g_px.truncates) - t0;
    fprintf(stderr,
            "[load] %d batches, %d uploads in %lld ms (%llu MiB sent through the proxy); faults: %d resets, "
            "%d stalls, %d slow reads, %d truncated answers; on_upload_retry %d, on_upload_retry_resume %d; "
            "vodupd fds %d before, %d peak, %d after; VmRSS %lld KiB before, %lld KiB peak, %lld KiB after\n",
            tot.batches, tot.uploads, took, (atomic_load(&g_px.up_bytes) - up0) / MiB, resets, stalls, slows,
            truncs, tot.retries, tot.retry_resumes, fds0, tot.peak_fds, fds1, rss0, tot.peak_rss, rss1);
    assert_int_equal(tot.uploads, tot.batches * N_FILES);
    /* the faults really happened, and the client saw them */
    assert_true(resets >= 1);
    assert_true(stalls >= 1);
    assert_true(slows >= 1);
    assert_true(tot.retries >= 1);
    if (!ok)
        fail_msg("vodupd holds %d descriptors up to %ld ms after the last upload, %d before the soak", fds1,
                 IDLE_WAIT_MS, fds0);
    if (rss1 > rss0 + RSS_SLACK_KIB)
        fail_msg("vodupd's VmRSS grew from %lld KiB to %lld KiB over the soak (bound: +%lld KiB)", rss0, rss1,
                 (long long)RSS_SLACK_KIB);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_faults_under_load),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
