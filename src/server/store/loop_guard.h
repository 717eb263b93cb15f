/* loop_guard.h - the off-loop guard: store calls must not run on an HTTP event-loop thread.
 *
 * A store call blocks (a disk flush, later a database across the network); on an
 * event-loop thread it stalls every connection that loop serves. So the threads that
 * run an event loop mark themselves, and every vodup_meta_* and vodup_blob_* wrapper
 * checks the mark first: in debug builds (NDEBUG not defined, as in the ASan build the
 * tests run) a store call on a marked thread aborts with a message naming the call, so a
 * test that takes such a path fails at once; release builds compile the check out.
 *
 * The mark is per thread and costs one thread-local read.
 */
#ifndef VODUP_STORE_LOOP_GUARD_H
#define VODUP_STORE_LOOP_GUARD_H

/* Marks (on != 0) or unmarks the calling thread as an HTTP event-loop thread. */
void vodup_thread_mark_event_loop(int on);
/* 1 when the calling thread is marked, else 0. */
int vodup_thread_is_event_loop(void);

/* Aborts with "<fn> called on an HTTP event-loop thread" when the calling thread is
 * marked; returns otherwise. Use VODUP_STORE_OFF_LOOP, which is compiled out in release
 * builds. */
void vodup_store_off_loop_check(const char *fn);

#ifndef NDEBUG
#define VODUP_STORE_OFF_LOOP(fn) vodup_store_off_loop_check(fn)
#else
#define VODUP_STORE_OFF_LOOP(fn) ((void)0)
#endif

#endif
