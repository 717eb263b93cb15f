/* loop_guard.c - the per-thread event-loop mark (loop_guard.h). */
#include "server/store/loop_guard.h"

#include <stdio.h>
#include <stdlib.h>

static _Thread_local int on_event_loop;

void vodup_thread_mark_event_loop(int on)
{
    on_event_loop = on != 0;
}

int vodup_thread_is_event_loop(void)
{
    return on_event_loop;
}

void vodup_store_off_loop_check(const char *fn)
{
    if (!on_event_loop)
        return;
    /* Not a recoverable error: a code path does blocking store work on an event loop. */
    fprintf(stderr, "vodup: store call %s on an HTTP event-loop thread (store work belongs on the "
                    "worker pool)\n", fn);
    fflush(stderr);
    abort();
}
