/* probe_main.c - vodupd-probe: the media probe as a throw-away child process.
 *
 *   vodupd-probe [--fd N | --segments N | PATH] [--deadline-ms MS] [--cpu-seconds S] [--as-mib M]
 *
 * --segments N: the object is the files open on fds 3 .. 3+N-1 read as one, in order
 * (a multipart object's parts, as vodup_probe_run_segments passes them).
 * Reads the object from fd N (default 0, with pread: the parent's file offset is not
 * moved) or PATH, probes it with vodup_probe under tight limits, and writes to stdout one
 * JSON line (the fields of vodup_media_info, status by name, "cover_size") followed by
 * exactly cover_size bytes of JPEG. Exit 0 whenever that answer was written, whatever the
 * status; 2 for bad usage; 1 when it could not answer.
 *
 * Before touching the input it lowers its own limits: address space (a hostile header that
 * makes libav* allocate gigabytes gets ENOMEM, i.e. TOO_LARGE), CPU seconds (a decoder
 * spinning gets SIGXCPU), no file writes (RLIMIT_FSIZE 0 when stdout is a pipe), a few file
 * descriptors. The parent adds a wall-clock kill. VODUP_PROBE_TEST_SLEEP_MS=<ms> in the
 * environment makes it sleep that long first, VODUP_PROBE_TEST_SPIN=1 spin on the CPU: the
 * tests' way to exercise the kill and the CPU limit (harmless: either only ends the child).
 */
#include "server/media/probe.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <jansson.h>
#include <libavutil/log.h>
#include <libavutil/mem.h>

#define PROBE_CHILD_AS_MIB 1024      /* RLIMIT_AS */
#define PROBE_CHILD_CPU_S 30         /* RLIMIT_CPU */
#define PROBE_CHILD_NOFILE 16        /* RLIMIT_NOFILE */
/* One av_malloc may not ask for more than this (libav*'s own default is INT_MAX). */
#define PROBE_CHILD_MAX_ALLOC (256u << 20)
#define PROBE_TEST_SLEEP_MAX_MS 600000

/* AddressSanitizer maps terabytes of shadow memory at start-up: under it an address-space
 * limit would fail every later allocation, so sanitizer builds (tests only) skip that one. */
#if defined(__SANITIZE_ADDRESS__)
#define PROBE_HAVE_ASAN 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define PROBE_HAVE_ASAN 1
#endif
#endif
#ifndef PROBE_HAVE_ASAN
#define PROBE_HAVE_ASAN 0
#endif

static ssize_t fd_read(void *user, uint64_t off, void *buf, size_t n)
{
    int fd = *(int *)user;
    for (;;) {
        ssize_t got = pread(fd, buf, n, (off_t)off);
        if (got < 0 && errno == EINTR)
            continue;
        return got;
    }
}

/* The object as segments: fds 3.. with their sizes and start offsets. */
typedef struct seg_reader {
    int n;
    int fd[VODUP_PROBE_MAX_SEGMENTS];
    uint64_t start[VODUP_PROBE_MAX_SEGMENTS + 1];   /* start[n] = the total size */
} seg_reader;

static ssize_t seg_read(void *user, uint64_t off, void *buf, size_t n)
{
    seg_reader *r = user;
    if (off >= r->start[r->n] || n == 0)
        return 0;
    /* The segment holding off (binary search over the starts). */
    int lo = 0, hi = r->n - 1;
    while (lo < hi) {
        int mid = (lo + hi + 1) / 2;
        if (r->start[mid] <= off)
            lo = mid;
        else
            hi = mid - 1;
    }
    uint64_t in = off - r->start[lo], left = r->start[lo + 1] - r->start[lo] - in;
    if (n > left)
        n = (size_t)left;   /* a short read; the caller asks again for the rest */
    int fd = r->fd[lo];
    return fd_read(&fd, in, buf, n);
}

static int parse_uint(const char *s, unsigned long max, unsigned long *out)
{
    char *end;
    errno = 0;
    if (!s || *s < '0' || *s > '9')
        return -1;
    unsigned long v = strtoul(s, &end, 10);
    if (errno || *end || v > max)
        return -1;
    *out = v;
    return 0;
}

static void usage(void)
{
    fputs("usage: vodupd-probe [--fd N | --segments N | PATH] [--deadline-ms MS] [--cpu-seconds S] [--as-mib M]\n", stderr);
}

static int write_all(int fd, const void *p, size_t n)
{
    const unsigned char *b = p;
    while (n) {
        ssize_t w = write(fd, b, n);
        if (w < 0 && errno == EINTR)
            continue;
        if (w <= 0)
            return -1;
        b += w;
        n -= (size_t)w;
    }
    return 0;
}

static void test_sleep(void)
{
    /* VODUP_PROBE_TEST_SPIN=1: burn CPU until RLIMIT_CPU ends it (the tests' decoder loop). */
    const char *spin = getenv("VODUP_PROBE_TEST_SPIN");
    if (spin && strcmp(spin, "1") == 0) {
        volatile unsigned long x = 0;
        for (;;)
            x++;
    }
    const char *s = getenv("VODUP_PROBE_TEST_SLEEP_MS");
    unsigned long ms;
    if (!s || parse_uint(s, PROBE_TEST_SLEEP_MAX_MS, &ms) < 0)
        return;
    struct timespec ts = {(time_t)(ms / 1000), (long)(ms % 1000) * 1000000L};
    while (nanosleep(&ts, &ts) < 0 && errno == EINTR) {
    }
}

int main(int argc, char **argv)
{
    unsigned long fdnum = 0, nseg = 0, deadline = VODUP_PROBE_DEADLINE_MS, cpu = PROBE_CHILD_CPU_S,
                  as_mib = PROBE_CHILD_AS_MIB;
    const char *path = NULL;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        unsigned long *dst = NULL, max = 0;
        if (strcmp(a, "--fd") == 0)
            dst = &fdnum, max = 1023;
        else if (strcmp(a, "--segments") == 0)
            dst = &nseg, max = VODUP_PROBE_MAX_SEGMENTS;
        else if (strcmp(a, "--deadline-ms") == 0)
            dst = &deadline, max = 3600000;
        else if (strcmp(a, "--cpu-seconds") == 0)
            dst = &cpu, max = 3600;
        else if (strcmp(a, "--as-mib") == 0)
            dst = &as_mib, max = 1 << 20;
        else if (strcmp(a, "--help") == 0) {
            usage();
            return 0;
        } else if (a[0] == '-' || path) {
            usage();
            return 2;
        } else {
            path = a;
            continue;
        }
        if (i + 1 >= argc || parse_uint(argv[i + 1], max, dst) < 0) {
            fprintf(stderr, "vodupd-probe: %s wants a number up to %lu\n", a, max);
            return 2;
        }
        i++;
    }
    int fd = (int)fdnum;
    if (path) {
        fd = open(path, O_RDONLY | O_CLOEXEC);
        if (fd < 0) {
            fprintf(stderr, "vodupd-probe: %s: %s\n", path, strerror(errno));
            return 1;
        }
    }
    static seg_reader segs;
    if (nseg) {
        /* The parts on 3..3+nseg-1, every one a regular file; nothing else stays open. */
        close_range((unsigned)(3 + nseg), ~0u, 0);
        segs.n = (int)nseg;
        for (int i = 0; i < segs.n; i++) {
            struct stat sst;
            segs.fd[i] = 3 + i;
            if (fstat(segs.fd[i], &sst) < 0 || !S_ISREG(sst.st_mode)) {
                fprintf(stderr, "vodupd-probe: segment %d is not a regular file\n", i);
                return 1;
            }
            segs.start[i + 1] = segs.start[i] + (uint64_t)sst.st_size;
        }
        fd = -1;
    }
    /* Whatever else the parent left open (sockets, the database) is not the probe's. */
    if (nseg) {
        /* closed above */
    } else if (fd < 3) {
        close_range(3, ~0u, 0);
    } else {
        if (fd > 3)
            close_range(3, (unsigned)fd - 1, 0);
        close_range((unsigned)fd + 1, ~0u, 0);
    }
    struct stat st;
    if (nseg) {
        memset(&st, 0, sizeof st);
        st.st_size = (off_t)segs.start[segs.n];
    } else if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode)) {
        fprintf(stderr, "vodupd-probe: the input must be a regular file\n");
        return 1;
    }

    /* Limits first, input second. */
    struct stat out_st;
    int out_is_file = fstat(STDOUT_FILENO, &out_st) == 0 && S_ISREG(out_st.st_mode);
    rlim_t fsize = out_is_file ? (rlim_t)VODUP_PROBE_MAX_JSON + VODUP_PROBE_MAX_COVER : 0;
    struct rlimit lims[] = {
        {(rlim_t)as_mib << 20, (rlim_t)as_mib << 20},
        {(rlim_t)cpu, (rlim_t)cpu + 1},   /* soft: SIGXCPU; hard one second later: SIGKILL */
        {fsize, fsize},
        {PROBE_CHILD_NOFILE + nseg, PROBE_CHILD_NOFILE + nseg},
    };
    const int which[] = {RLIMIT_AS, RLIMIT_CPU, RLIMIT_FSIZE, RLIMIT_NOFILE};
    for (size_t i = PROBE_HAVE_ASAN ? 1 : 0; i < sizeof which / sizeof which[0]; i++) {
        if (setrlimit(which[i], &lims[i]) < 0) {
            fprintf(stderr, "vodupd-probe: setrlimit: %s\n", strerror(errno));
            return 1;
        }
    }
    av_log_set_level(AV_LOG_QUIET);
    av_max_alloc(PROBE_CHILD_MAX_ALLOC);
    test_sleep();

    vodup_probe_limits lim = VODUP_PROBE_LIMITS_INIT;
    lim.deadline_ms = (unsigned)deadline;
    vodup_media_reader r = {fd_read, (uint64_t)st.st_size, &fd};
    if (nseg)
        r = (vodup_media_reader){seg_read, segs.start[segs.n], &segs};
    vodup_media_info info;
    vodup_probe(&info, &r, &lim);

    json_t *j = json_pack("{s:s, s:s, s:f, s:s, s:I, s:i, s:i, s:f, s:s, s:s, s:i, s:i, s:I, s:i, s:i, s:f}",
                          "status", vodup_probe_status_name(info.status), "message", info.message,
                          "duration", info.duration, "format", info.format, "bitrate", (json_int_t)info.bitrate,
                          "width", info.width, "height", info.height, "fps", info.fps,
                          "video_codec", info.video_codec, "audio_codec", info.audio_codec,
                          "audio_channels", info.audio_channels, "sample_rate", info.sample_rate,
                          "cover_size", (json_int_t)info.cover_len, "cover_width", info.cover_width,
                          "cover_height", info.cover_height, "cover_time", info.cover_time);
    /* Names from a hostile file could be invalid UTF-8 (jansson refuses them): say so. */
    char *line = j ? json_dumps(j, JSON_COMPACT) : NULL;
    json_decref(j);
    int rc = 0;
    if (!line) {
        fprintf(stderr, "vodupd-probe: could not encode the answer\n");
        rc = 1;
    } else if (strlen(line) + 1 > VODUP_PROBE_MAX_JSON || write_all(STDOUT_FILENO, line, strlen(line)) < 0 ||
               write_all(STDOUT_FILENO, "\n", 1) < 0 ||
               (info.cover_len && write_all(STDOUT_FILENO, info.cover, info.cover_len) < 0)) {
        fprintf(stderr, "vodupd-probe: could not write the answer\n");
        rc = 1;
    }
    free(line);
    vodup_media_info_clear(&info);
    if (path)
        close(fd);
    return rc;
}
