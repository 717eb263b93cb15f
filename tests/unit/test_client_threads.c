/* test_client_threads.c - the API hammered from several threads while uploads run:
 * add_file, cancel_file, resume_file, get_file, list_files, pause, resume, start,
 * set_network, from 4 threads for a few seconds. Every call returns a code the header
 * allows; afterwards, with the network back and everything resumed, every item ends
 * SUCCESS exactly once with the right bytes, and the list is consistent. Meant to run
 * under ThreadSanitizer too: the test's own shared state is atomics or mutex-protected. */
#include "client_harness.h"


static int cmp_int(const void *a, const void *b)
{
    int x = *(const int *)a, y = *(const int *)b;
    return (x > y) - (x < y);
}
static th_server g_srv;

#define NSRC 4
#define NTHREADS 4
#define HAMMER_MS 3000
#define MAXIDS 48

static char g_src[NSRC][1024];
static char g_md5[NSRC][33];
static const uint64_t g_sizes[NSRC] = {3 * MiB + 1, 2 * MiB, 700 * KiB, 4 * MiB + 17};

typedef struct shared {
    vodup_client *c;
    pthread_mutex_t mu;
    int ids[MAXIDS];
    int src_of[MAXIDS];
    int n;
    _Atomic int bad_codes;
    _Atomic int calls;
    _Atomic int stop;
    char bad[256];
} shared;

static int setup(void **state)
{
    (void)state;
    th_group_start(&g_srv, NULL, "client-threads", NULL);
    for (int i = 0; i < NSRC; i++) {
        snprintf(g_src[i], sizeof g_src[i], "%s/src%d.mp4", g_srv.dir, i);
        th_make_file(g_src[i], g_sizes[i], 70 + (uint64_t)i, g_md5[i]);
    }
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    th_group_stop(&g_srv, NULL);
    return 0;
}

static void note_bad(shared *s, const char *what, int rc)
{
    atomic_fetch_add(&s->bad_codes, 1);
    pthread_mutex_lock(&s->mu);
    if (!s->bad[0])
        snprintf(s->bad, sizeof s->bad, "%s returned %d (%s)", what, rc, vodup_strerror(rc));
    pthread_mutex_unlock(&s->mu);
}

static void check_rc(shared *s, const char *what, int rc, int allow_state, int allow_enoent)
{
    atomic_fetch_add(&s->calls, 1);
    if (rc == VODUP_OK || (allow_state && rc == VODUP_ESTATE) || (allow_enoent && rc == VODUP_ENOENT))
        return;
    note_bad(s, what, rc);
}

static int pick_id(shared *s, unsigned *seed)
{
    pthread_mutex_lock(&s->mu);
    int id = s->n ? s->ids[rand_r(seed) % (unsigned)s->n] : -1;
    pthread_mutex_unlock(&s->mu);
    return id;
}

static void count_cb(const vodup_file_info *f, void *u)
{
    int *n = u;
    (*n)++;
    if (f->bytes_done > f->size)
        (*n) += 1000; /* inconsistent snapshot: caught by the caller */
}

static void *hammer(void *arg)
{
    shared *s = arg;
    unsigned seed = (unsigned)(uintptr_t)pthread_self() ^ (unsigned)th_now_ms();
    while (!atomic_load(&s->stop)) {
        int op = (int)(rand_r(&seed) % 12);
        int id = pick_id(s, &seed);
        switch (op) {
        case 0: {
            pthread_mutex_lock(&s->mu);
            int room = s->n < MAXIDS;
            pthread_mutex_unlock(&s->mu);
            if (!room)
                break;
            int src = (int)(rand_r(&seed) % NSRC), nid = -1;
            int rc = vodup_client_add_file(s->c, &nid, g_src[src], VODUP_MEDIA_VIDEO, NULL);
            /* EEXIST: that source is in the list and not yet uploaded */
            check_rc(s, "add_file", rc == VODUP_EEXIST ? VODUP_OK : rc, 0, 0);
            if (rc == VODUP_OK) {
                pthread_mutex_lock(&s->mu);
                s->src_of[s->n] = src;
                s->ids[s->n++] = nid;
                pthread_mutex_unlock(&s->mu);
            }
            break;
        }
        case 1:
        case 2:
            check_rc(s, "cancel_file", vodup_client_cancel_file(s->c, id), 1, 0);
            break;
        case 3:
        case 4:
            check_rc(s, "resume_file", vodup_client_resume_file(s->c, id), 1, 0);
            break;
        case 5: {
            vodup_file_info *f = NULL;
            int rc = vodup_client_get_file(s->c, id, &f);
            check_rc(s, "get_file", rc, 0, 0);
            if (rc == VODUP_OK) {
                if (f->id != id || f->bytes_done > f->size || f->status > VODUP_STATUS_CANCELED)
                    note_bad(s, "get_file snapshot", 0);
                vodup_file_info_free(f);
            }
            break;
        }
        case 6: {
            int n = 0;
            check_rc(s, "list_files", vodup_client_list_files(s->c, count_cb, &n), 0, 0);
            if (n >= 1000)
                note_bad(s, "list_files snapshot", 0);
            break;
        }
        case 7:
            check_rc(s, "pause", vodup_client_pause(s->c), 1, 0);
            break;
        case 8:
            check_rc(s, "resume", vodup_client_resume(s->c), 1, 0);
            break;
        case 9:
            check_rc(s, "start", vodup_client_start(s->c), 1, 0);
            break;
        case 10: {
            vodup_network nets[] = {VODUP_NETWORK_WIFI, VODUP_NETWORK_CELLULAR, VODUP_NETWORK_NONE};
            check_rc(s, "set_network", vodup_client_set_network(s->c, nets[rand_r(&seed) % 3]), 0, 0);
            break;
        }
        default: {
            const char *m = vodup_client_last_error(s->c);
            if (!m)
                note_bad(s, "last_error NULL", 0);
            break;
        }
        }
        if (rand_r(&seed) % 4 == 0)
            th_sleep_ms(1 + (long)(rand_r(&seed) % 5));
    }
    return NULL;
}

static int all_success(shared *s)
{
    for (int k = 0; k < s->n; k++)
        if (th_status(s->c, s->ids[k]) != VODUP_STATUS_SUCCESS)
            return 0;
    return 1;
}

static void test_hammer(void **state)
{
    (void)state;
    th_rec rec;
    th_rec_init(&rec);
    vodup_options o = VODUP_OPTIONS_INIT;
    o.parallel = 4;
    o.files_at_once = 3;
    o.part_size = 512 * KiB;
    o.put_threshold = 1 * MiB;
    o.limit_rate = 16 * MiB;
    o.pause_on_cellular = 1;
    o.progress_interval_ms = 10;
    vodup_listener l = th_listener(&rec);
    shared *s = calloc(1, sizeof *s);
    assert_non_null(s);
    pthread_mutex_init(&s->mu, NULL);
    atomic_init(&s->bad_codes, 0);
    atomic_init(&s->calls, 0);
    atomic_init(&s->stop, 0);
    assert_int_equal(vodup_client_new(&s->c, &o, &l), VODUP_OK);
    assert_int_equal(vodup_client_use_sts(s->c, g_srv.client_endpoint, g_srv.ak, g_srv.sk, NULL), VODUP_OK);
    for (int i = 0; i < NSRC; i++) { /* one item per source: a second one is refused */
        int id = -1;
        assert_int_equal(vodup_client_add_file(s->c, &id, g_src[i % NSRC], VODUP_MEDIA_VIDEO, NULL), VODUP_OK);
        s->src_of[s->n] = i % NSRC;
        s->ids[s->n++] = id;
    }
    assert_int_equal(vodup_client_start(s->c), VODUP_OK);
    pthread_t th[NTHREADS];
    for (int i = 0; i < NTHREADS; i++)
        assert_int_equal(pthread_create(&th[i], NULL, hammer, s), 0);
    long long end = th_now_ms() + HAMMER_MS;
    while (th_now_ms() < end) /* the main thread waits in between, with short timeouts */
        (void)vodup_client_wait(s->c, 50);
    atomic_store(&s->stop, 1);
    for (int i = 0; i < NTHREADS; i++)
        pthread_join(th[i], NULL);
    if (atomic_load(&s->bad_codes))
        fail_msg("%d of %d calls returned codes the header does not allow; first: %s", atomic_load(&s->bad_codes),
                 atomic_load(&s->calls), s->bad);
    assert_true(atomic_load(&s->calls) > 100);

    /* bring everything home */
    assert_int_equal(vodup_client_set_network(s->c, VODUP_NETWORK_WIFI), VODUP_OK);
    int rc = vodup_client_resume(s->c);
    assert_true(rc == VODUP_OK || rc == VODUP_ESTATE);
    for (int k = 0; k < s->n; k++) {
        vodup_status st = th_status(s->c, s->ids[k]);
        if (st == VODUP_STATUS_CANCELED || st == VODUP_STATUS_FAIL)
            assert_int_equal(vodup_client_resume_file(s->c, s->ids[k]), VODUP_OK);
    }
    rc = vodup_client_start(s->c);
    assert_true(rc == VODUP_OK || rc == VODUP_ESTATE);
    int ok = 0;
    TH_WAIT(ok, all_success(s), 120000);
    (void)ok; /* the list check below says which item did not make it */
    th_list_acc la = th_list(s->c);
    assert_int_equal(la.n, s->n);
    /* Threads that added at the same moment may have recorded their ids in the other
     * order; the list is in id order (the order the library handed them out). */
    qsort(s->ids, (size_t)s->n, sizeof s->ids[0], cmp_int);
    for (int k = 0; k < s->n; k++) {
        assert_int_equal(la.ids[k], s->ids[k]);
        if (la.st[k] != VODUP_STATUS_SUCCESS)
            fail_msg("item %d ended %s", s->ids[k], vodup_status_name(la.st[k]));
    }
    assert_int_equal(vodup_client_wait(s->c, 10000), VODUP_OK);
    for (int k = 0; k < s->n; k++) {
        int id = s->ids[k];
        th_item it = th_get(&rec, id);
        assert_int_equal(it.succeed, 1);
        assert_int_equal(it.progress_nonmono, 0);
        assert_int_equal(it.progress_full, 0);
        assert_int_equal(it.after_end, 0);
        th_check_object(&g_srv, &rec, id, g_md5[s->src_of[k]]);
        uint64_t done = 0;
        th_file_counts(s->c, id, &done, NULL);
        assert_int_equal(done, g_sizes[s->src_of[k]]);
    }
    assert_true(th_list_completed(&rec) >= 1);
    vodup_client_free(s->c);
    pthread_mutex_destroy(&s->mu);
    free(s);
    th_rec_destroy(&rec);
}

/* Many clients at once, each from its own thread (no shared state but the process). */
static void *one_client(void *arg)
{
    int *result = arg;
    th_rec rec;
    th_rec_init(&rec);
    vodup_listener l = th_listener(&rec);
    vodup_client *c = NULL;
    int id = -1;
    *result = -100;
    if (vodup_client_new(&c, NULL, &l) != VODUP_OK)
        return NULL;
    if (vodup_client_use_sts(c, g_srv.client_endpoint, g_srv.ak, g_srv.sk, NULL) == VODUP_OK &&
        vodup_client_add_file(c, &id, g_src[1], VODUP_MEDIA_VIDEO, NULL) == VODUP_OK &&
        vodup_client_start(c) == VODUP_OK && vodup_client_wait(c, 60000) == VODUP_OK) {
        th_item it = th_get(&rec, id);
        *result = it.succeed == 1 && it.failed == 0 ? 0 : -1;
    }
    vodup_client_free(c);
    th_rec_destroy(&rec);
    return NULL;
}

static void test_clients_in_threads(void **state)
{
    (void)state;
    pthread_t th[4];
    int res[4];
    for (int i = 0; i < 4; i++)
        assert_int_equal(pthread_create(&th[i], NULL, one_client, &res[i]), 0);
    for (int i = 0; i < 4; i++) {
        pthread_join(th[i], NULL);
        assert_int_equal(res[i], 0);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_hammer),
        cmocka_unit_test(test_clients_in_threads),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
