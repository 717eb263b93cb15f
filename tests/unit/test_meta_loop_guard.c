/* test_meta_loop_guard.c - the off-loop guard (store/loop_guard.h): in debug builds every
 * vodup_meta_* and vodup_blob_* wrapper aborts, naming itself, when it runs on a thread
 * marked as an HTTP event-loop thread; unmarked threads (another thread of the same
 * process included) call the store as usual; release builds compile the check out.
 *
 * Each aborting call runs in a forked child whose stderr the parent reads. The sweep
 * calls every wrapper with a fake handle whose ops table is empty: a wrapper without the
 * check would dereference it and die of SIGSEGV instead of the guard's SIGABRT and
 * message, so the sweep fails for it.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>

#include "server/store/blob.h"
#include "server/store/loop_guard.h"
#include "server/store/meta_ops.h"
#include "store_harness.h"

#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

/* Every wrapper, with arguments that only a missing check would ever look at. */
#define WRAPPER_CALLS \
    X(vodup_meta_account_create(m, 0, 0, 0)) \
    X(vodup_meta_key_create(m, 0, 0, 0, 0, 0, 0)) \
    X(vodup_meta_key_get(m, 0, 0)) \
    X(vodup_meta_setting_get(m, 0, 0)) \
    X(vodup_meta_setting_set(m, 0, 0)) \
    X(vodup_meta_setting_add(m, 0, 0)) \
    X(vodup_meta_bucket_create(m, 0, 0, 0)) \
    X(vodup_meta_bucket_get(m, 0, 0)) \
    X(vodup_meta_bucket_delete(m, 0)) \
    X(vodup_meta_bucket_list(m, 0, 0, 0)) \
    X(vodup_meta_object_put(m, 0)) \
    X(vodup_meta_object_get(m, 0, 0, 0, 0)) \
    X(vodup_meta_object_delete(m, 0, 0, 0)) \
    X(vodup_meta_object_list(m, 0, 0, 0, 0, 0, 0, 0, 0)) \
    X(vodup_meta_upload_create(m, 0, 0, 0)) \
    X(vodup_meta_upload_get(m, 0, 0)) \
    X(vodup_meta_part_put(m, 0, 0)) \
    X(vodup_meta_part_list(m, 0, 0, 0, 0, 0)) \
    X(vodup_meta_upload_abort(m, 0)) \
    X(vodup_meta_upload_expire(m, 0, 0)) \
    X(vodup_meta_upload_list(m, 0, 0, 0, 0, 0, 0, 0, 0, 0)) \
    X(vodup_meta_upload_complete(m, 0, 0, 0, 0, 0, 0, 0)) \
    X(vodup_meta_gc_take(m, 0, 0)) \
    X(vodup_meta_gc_done(m, 0, 0)) \
    X(vodup_meta_blob_is_live(m, 0)) \
    X(vodup_meta_object_put_guarded(m, 0, 0)) \
    X(vodup_meta_part_put_guarded(m, 0, 0, 0)) \
    X(vodup_meta_upload_complete_guarded(m, 0, 0, 0, 0, 0, 0, 0, 0)) \
    X(vodup_meta_upload_create_guarded(m, 0, 0, 0, 0, 0, 0)) \
    X(vodup_meta_upload_expire_creds(m, 0, 0)) \
    X(vodup_meta_gc_take_after(m, 0, 0, 0)) \
    X(vodup_meta_principal_delete_revoking(m, 0, 0, 0)) \
    X(vodup_meta_revocation_get(m, 0, 0, 0)) \
    X(vodup_meta_principal_create(m, 0, 0)) \
    X(vodup_meta_principal_get(m, 0, 0, 0, 0)) \
    X(vodup_meta_principal_list(m, 0, 0, 0, 0)) \
    X(vodup_meta_principal_delete(m, 0, 0, 0)) \
    X(vodup_meta_key_list(m, 0, 0, 0, 0)) \
    X(vodup_meta_nonce_use(m, 0, 0, 0, 0)) \
    X(vodup_meta_media_create(m, 0)) \
    X(vodup_meta_media_get(m, 0, 0, 0)) \
    X(vodup_meta_media_find_object(m, 0, 0, 0, 0)) \
    X(vodup_meta_media_list(m, 0, 0, 0, 0, 0)) \
    X(vodup_meta_media_delete(m, 0, 0)) \
    X(vodup_meta_media_set_status(m, 0, 0, 0)) \
    X(vodup_meta_callback_set(m, 0, 0)) \
    X(vodup_meta_callback_get(m, 0, 0)) \
    X(vodup_meta_callback_seal_all(m)) \
    X(vodup_meta_event_due(m, 0, 0, 0, 0)) \
    X(vodup_meta_event_list(m, 0, 0, 0)) \
    X(vodup_meta_event_prepare(m, 0, 0, 0, 0)) \
    X(vodup_meta_event_done(m, 0)) \
    X(vodup_meta_event_retry(m, 0, 0, 0)) \
    X(vodup_meta_event_defer(m, 0, 0)) \
    X(vodup_meta_event_next(m, 0)) \
    X(vodup_meta_revocations_get(r, 0, 0, 0)) \
    X(vodup_meta_revocations_close(r)) \
    X(vodup_meta_close(m)) \
    X(vodup_blob_writer_open(bs, 0)) \
    X(vodup_blob_write(w, 0, 0)) \
    X(vodup_blob_commit(w, 0)) \
    X(vodup_blob_abort(w)) \
    X(vodup_blob_read(bs, 0, 0, 0, 0)) \
    X(vodup_blob_open_fd(bs, 0, 0)) \
    X(vodup_blob_remove(bs, 0)) \
    X(vodup_blob_recover(bs, 0, 0)) \
    X(vodup_blob_space_check(bs, 0)) \
    X(vodup_blobstore_close(bs))

#ifndef NDEBUG
static const char *const wrapper_calls[] = {
#define X(call) #call,
    WRAPPER_CALLS
#undef X
};
#define NCALLS (sizeof wrapper_calls / sizeof wrapper_calls[0])

static vodup_meta fake_meta;                /* ops NULL: any use crashes */
static vodup_meta_revocations fake_revocations;
static vodup_blobstore fake_blobs;
static vodup_blob_writer fake_writer = { &fake_blobs };

/* Runs wrapper i (in a child). */
static void call_wrapper(size_t i)
{
    vodup_meta *m = &fake_meta;
    vodup_meta_revocations *r = &fake_revocations;
    vodup_blobstore *bs = &fake_blobs;
    vodup_blob_writer *w = &fake_writer;
    (void)m, (void)r, (void)bs, (void)w;
    size_t k = 0;
#define X(call)         \
    if (k++ == i) {     \
        (void)(call);   \
        return;         \
    }
    WRAPPER_CALLS
#undef X
}

static void run_wrapper(void *arg)
{
    call_wrapper(*(size_t *)arg);
}
#endif

typedef struct child_result {
    int status;         /* waitpid's */
    char err[1024];     /* the child's stderr, cut */
} child_result;

/* Forks; the child marks its thread when mark, runs fn(arg) and exits 0. */
static void in_child(int mark, void (*fn)(void *), void *arg, child_result *out)
{
    int p[2];
    assert_int_equal(pipe(p), 0);
    fflush(NULL);
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        close(p[0]);
        dup2(p[1], 2);
        if (mark)
            vodup_thread_mark_event_loop(1);
        fn(arg);
        _exit(0);
    }
    close(p[1]);
    size_t n = 0;
    ssize_t k;
    while ((k = read(p[0], out->err + n, sizeof out->err - 1 - n)) > 0)
        n += (size_t)k;
    out->err[n] = '\0';
    close(p[0]);
    assert_int_equal(waitpid(pid, &out->status, 0), pid);
}

static void test_mark_is_per_thread_flag(void **state)
{
    (void)state;
    assert_int_equal(vodup_thread_is_event_loop(), 0);
    vodup_thread_mark_event_loop(1);
    assert_int_equal(vodup_thread_is_event_loop(), 1);
    vodup_thread_mark_event_loop(0);
    assert_int_equal(vodup_thread_is_event_loop(), 0);
}

#ifndef NDEBUG
/* Every wrapper aborts on a marked thread, before touching the store, naming itself. */
static void test_every_wrapper_aborts_on_a_loop_thread(void **state)
{
    (void)state;
    for (size_t i = 0; i < NCALLS; i++) {
        child_result res;
        in_child(1, run_wrapper, &i, &res);
        char fn[128];
        size_t len = strcspn(wrapper_calls[i], "(");
        snprintf(fn, sizeof fn, "store call %.*s on an HTTP event-loop thread", (int)len, wrapper_calls[i]);
        if (!WIFSIGNALED(res.status) || WTERMSIG(res.status) != SIGABRT || !strstr(res.err, fn))
            fail_msg("%s: status %#x, stderr \"%s\", wanted SIGABRT and \"%s\"", wrapper_calls[i],
                     res.status, res.err, fn);
    }
}
#else
/* Release builds: the check is compiled out, so even a marked thread reaches the store
 * (here: a real one, which answers). */
static void marked_call_real_store(void *arg)
{
    vodup_meta_bucket b;
    if (vodup_meta_bucket_get(arg, "bkt", &b) != VODUP_META_OK)
        _exit(3);
    vodup_meta_bucket_clear(&b);
}

static void test_release_build_has_no_check(void **state)
{
    store_fx *f = *state;
    child_result res;
    in_child(1, marked_call_real_store, f->m, &res);
    assert_true(WIFEXITED(res.status));
    assert_int_equal(WEXITSTATUS(res.status), 0);
}
#endif

/* An unmarked thread calls the store as usual, also while another thread is marked. */
typedef struct unmarked_arg {
    store_fx *f;
    vodup_blobstore *bs;
    char blob[VODUP_BLOB_ID_LEN + 1];
    int ok;
} unmarked_arg;

static void *unmarked_thread(void *p)
{
    unmarked_arg *a = p;
    vodup_meta_bucket b;
    char c = 0;
    a->ok = !vodup_thread_is_event_loop() &&
            vodup_meta_bucket_get(a->f->m, "bkt", &b) == VODUP_META_OK &&
            vodup_blob_read(a->bs, a->blob, 0, &c, 1) == 1 && c == 'x';
    if (a->ok)
        vodup_meta_bucket_clear(&b);
    return NULL;
}

static void unmarked_calls(void *p)
{
    unmarked_arg *a = p;
    /* this (the child's) thread is marked; a new thread is not */
    pthread_t t;
    if (pthread_create(&t, NULL, unmarked_thread, a) != 0 || pthread_join(t, NULL) != 0 || !a->ok)
        _exit(4);
    /* and once unmarked, this thread may call again */
    vodup_thread_mark_event_loop(0);
    unmarked_thread(a);
    if (!a->ok)
        _exit(5);
}

static void test_unmarked_threads_call_the_store(void **state)
{
    store_fx *f = *state;
    unmarked_arg a = { .f = f };
    a.bs = vodup_blobstore_file_open(f->dir);
    assert_non_null(a.bs);
    vodup_blob_writer *w = NULL;
    assert_int_equal(vodup_blob_writer_open(a.bs, &w), VODUP_BLOB_OK);
    assert_int_equal(vodup_blob_write(w, "x", 1), VODUP_BLOB_OK);
    assert_int_equal(vodup_blob_commit(w, a.blob), VODUP_BLOB_OK);
    child_result res;
    in_child(1, unmarked_calls, &a, &res);
    if (!WIFEXITED(res.status) || WEXITSTATUS(res.status) != 0)
        fail_msg("status %#x, stderr \"%s\"", res.status, res.err);
    vodup_blobstore_close(a.bs);
}

static int setup(void **state)
{
    return store_fx_setup(state, "loopguard", 2, "bkt");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_mark_is_per_thread_flag),
#ifndef NDEBUG
        cmocka_unit_test(test_every_wrapper_aborts_on_a_loop_thread),
#else
        cmocka_unit_test_setup_teardown(test_release_build_has_no_check, setup, store_fx_teardown),
#endif
        cmocka_unit_test_setup_teardown(test_unmarked_threads_call_the_store, setup, store_fx_teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
