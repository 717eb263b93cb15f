/* slow_sync.c - a slow disk for tests, LD_PRELOADed into vodupd: every fsync and
 * fdatasync first sleeps VODUP_SLOW_SYNC_MS milliseconds (default 20), as on a busy
 * spinning disk or network storage. The one fault the commit-race test cannot cause
 * otherwise (tests/integration/commit-races.test.mjs). */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE /* RTLD_NEXT */
#endif
#include <dlfcn.h>
#include <stdlib.h>
#include <time.h>
#include <unistd.h>

static void pause_ms(void)
{
    const char *v = getenv("VODUP_SLOW_SYNC_MS");
    long ms = v ? strtol(v, NULL, 10) : 20;
    if (ms <= 0)
        return;
    struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};
    while (nanosleep(&ts, &ts) != 0)
        ;
}

int fsync(int fd)
{
    static int (*real)(int);
    if (!real)
        real = (int (*)(int))dlsym(RTLD_NEXT, "fsync");
    pause_ms();
    return real(fd);
}

int fdatasync(int fd)
{
    static int (*real)(int);
    if (!real)
        real = (int (*)(int))dlsym(RTLD_NEXT, "fdatasync");
    pause_ms();
    return real(fd);
}
