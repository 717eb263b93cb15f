/* probe_run.c - vodupd's side of the media probe: spawn vodupd-probe, wait with a
 * wall-clock limit, parse its answer.
 *
 * No shell and no libav* here: vodupd never links FFmpeg's demuxers, so a hostile file
 * can only crash, hang or bloat the child. The child gets the object as its stdin (the fd
 * is shared, it reads with pread) and answers on a pipe; the parent reads at most
 * VODUP_PROBE_MAX_JSON + VODUP_PROBE_MAX_COVER bytes and kills it (SIGKILL) at the
 * deadline. How the child ended decides the status when its answer is missing.
 */
#include "server/media/probe.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <jansson.h>

extern char **environ;

/* The child's own deadline is this much shorter than the kill, so that it normally answers
 * TIMEOUT itself, with its words. */
#define PROBE_RUN_GRACE_MS 2000

static int64_t now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static int fail(vodup_media_info *out, int status, const char *msg)
{
    snprintf(out->message, sizeof out->message, "%s", msg);
    out->status = status;
    return status;
}

static void get_str(json_t *j, const char *key, char *dst, size_t cap)
{
    const char *s = json_string_value(json_object_get(j, key));
    snprintf(dst, cap, "%s", s ? s : "");
}

static double get_num(json_t *j, const char *key)
{
    json_t *v = json_object_get(j, key);
    return json_is_number(v) ? json_number_value(v) : 0;
}

static int get_int(json_t *j, const char *key)
{
    json_int_t v = json_integer_value(json_object_get(j, key));
    return v < 0 || v > 1000000000 ? 0 : (int)v;
}

/* Parses "JSON line\n" + cover bytes. Returns 0 or -1 (nonsense). */
static int parse_answer(vodup_media_info *out, const unsigned char *buf, size_t n)
{
    const unsigned char *nl = memchr(buf, '\n', n < VODUP_PROBE_MAX_JSON ? n : VODUP_PROBE_MAX_JSON);
    if (!nl)
        return -1;
    size_t jlen = (size_t)(nl - buf);
    json_error_t err;
    json_t *j = json_loadb((const char *)buf, jlen, 0, &err);
    if (!json_is_object(j)) {
        json_decref(j);
        return -1;
    }
    json_int_t cover = json_integer_value(json_object_get(j, "cover_size"));
    size_t rest = n - jlen - 1;
    if (!json_is_string(json_object_get(j, "status")) || cover < 0 || (uint64_t)cover != rest) {
        json_decref(j);
        return -1;
    }
    out->status = vodup_probe_status_from_name(json_string_value(json_object_get(j, "status")));
    get_str(j, "message", out->message, sizeof out->message);
    get_str(j, "format", out->format, sizeof out->format);
    get_str(j, "video_codec", out->video_codec, sizeof out->video_codec);
    get_str(j, "audio_codec", out->audio_codec, sizeof out->audio_codec);
    out->duration = get_num(j, "duration");
    out->fps = get_num(j, "fps");
    out->cover_time = get_num(j, "cover_time");
    json_int_t br = json_integer_value(json_object_get(j, "bitrate"));
    out->bitrate = br > 0 ? br : 0;
    out->width = get_int(j, "width");
    out->height = get_int(j, "height");
    out->audio_channels = get_int(j, "audio_channels");
    out->sample_rate = get_int(j, "sample_rate");
    out->cover_width = get_int(j, "cover_width");
    out->cover_height = get_int(j, "cover_height");
    json_decref(j);
    if (rest) {
        if (out->status != VODUP_PROBE_OK)
            return -1;
        out->cover = malloc(rest);
        if (!out->cover)
            return -1;
        memcpy(out->cover, nl + 1, rest);
        out->cover_len = rest;
    }
    return 0;
}

/* nseg 0: the object is fd, given as stdin (--fd 0). nseg > 0: the object is the
 * concatenation of the files open on segs[0..nseg-1], given as fds 3.. (--segments). */
static int run_child(vodup_media_info *out, int fd, const int *segs, size_t nseg,
                     const vodup_probe_run_opts *opts)
{
    memset(out, 0, sizeof *out);
    if (nseg > VODUP_PROBE_MAX_SEGMENTS)
        return fail(out, VODUP_PROBE_TOO_LARGE, "the object has more parts than the media probe reads");
    char nseg_s[16];
    snprintf(nseg_s, sizeof nseg_s, "%zu", nseg);
    unsigned timeout = opts->timeout_ms ? opts->timeout_ms : VODUP_PROBE_RUN_TIMEOUT_MS;
    unsigned child_deadline = timeout > 2 * PROBE_RUN_GRACE_MS ? timeout - PROBE_RUN_GRACE_MS : timeout / 2;
    char deadline_s[16], cpu_s[16], as_s[16];
    snprintf(deadline_s, sizeof deadline_s, "%u", child_deadline);
    snprintf(cpu_s, sizeof cpu_s, "%u", opts->cpu_seconds);
    snprintf(as_s, sizeof as_s, "%u", opts->as_mib);
    char *argv[12];
    int ac = 0;
    argv[ac++] = (char *)opts->exe;
    if (nseg) {
        argv[ac++] = "--segments";
        argv[ac++] = nseg_s;
    } else {
        argv[ac++] = "--fd";
        argv[ac++] = "0";
    }
    argv[ac++] = "--deadline-ms";
    argv[ac++] = deadline_s;
    if (opts->cpu_seconds) {
        argv[ac++] = "--cpu-seconds";
        argv[ac++] = cpu_s;
    }
    if (opts->as_mib) {
        argv[ac++] = "--as-mib";
        argv[ac++] = as_s;
    }
    argv[ac] = NULL;

    int p[2];
    if (pipe2(p, O_CLOEXEC) < 0)
        return fail(out, VODUP_PROBE_INTERNAL, "could not start the media probe (pipe)");
    /* Segment i becomes the child's fd 3 + i. Duplicated first above that range, so that
     * no dup2 overwrites a source still to be moved, and never src == target (a dup2 to
     * itself would keep close-on-exec set). */
    int dups[VODUP_PROBE_MAX_SEGMENTS];
    size_t ndups = 0;
    for (; ndups < nseg; ndups++) {
        dups[ndups] = fcntl(segs[ndups], F_DUPFD_CLOEXEC, (int)(3 + nseg));
        if (dups[ndups] < 0)
            break;
    }
    if (ndups < nseg) {
        for (size_t i = 0; i < ndups; i++)
            close(dups[i]);
        close(p[0]);
        close(p[1]);
        return fail(out, VODUP_PROBE_INTERNAL, "could not start the media probe (dup)");
    }
    posix_spawn_file_actions_t fa;
    posix_spawn_file_actions_init(&fa);
    posix_spawn_file_actions_adddup2(&fa, p[1], STDOUT_FILENO);
    if (nseg)
        posix_spawn_file_actions_addopen(&fa, STDIN_FILENO, "/dev/null", O_RDONLY, 0);
    else
        posix_spawn_file_actions_adddup2(&fa, fd, STDIN_FILENO);
    for (size_t i = 0; i < nseg; i++)
        posix_spawn_file_actions_adddup2(&fa, dups[i], (int)(3 + i));
    /* The child's environment: only the test hooks, nothing of vodupd's (no secrets, no
     * FFREPORT or AV_LOG_FORCE_* steering libav*). */
    char *envp[8];
    size_t ne = 0;
    for (char **e = environ; e && *e && ne + 1 < sizeof envp / sizeof envp[0]; e++)
        if (strncmp(*e, "VODUP_PROBE_TEST_", 17) == 0)
            envp[ne++] = *e;
    envp[ne] = NULL;
    pid_t pid;
    int rc = posix_spawn(&pid, opts->exe, &fa, NULL, argv, envp);
    posix_spawn_file_actions_destroy(&fa);
    for (size_t i = 0; i < nseg; i++)
        close(dups[i]);
    close(p[1]);
    if (rc != 0) {
        close(p[0]);
        char m[VODUP_PROBE_MSG_LEN];
        snprintf(m, sizeof m, "could not start the media probe %s: %s", opts->exe, strerror(rc));
        return fail(out, VODUP_PROBE_INTERNAL, m);
    }

    size_t cap = VODUP_PROBE_MAX_JSON + VODUP_PROBE_MAX_COVER, n = 0;
    unsigned char *buf = malloc(cap);
    int64_t deadline = now_ms() + timeout;
    int killed = 0, overflow = 0;
    while (buf) {
        int64_t left = deadline - now_ms();
        if (left <= 0) {
            kill(pid, SIGKILL);
            killed = 1;
            break;
        }
        struct pollfd pfd = {p[0], POLLIN, 0};
        int pr = poll(&pfd, 1, (int)left);
        if (pr < 0 && errno == EINTR)
            continue;
        if (pr <= 0)
            continue;   /* timeout: the next turn kills */
        if (n == cap) {
            kill(pid, SIGKILL);
            overflow = 1;
            break;
        }
        ssize_t got = read(p[0], buf + n, cap - n);
        if (got < 0 && errno == EINTR)
            continue;
        if (got <= 0)
            break;
        n += (size_t)got;
    }
    if (!buf)
        kill(pid, SIGKILL);
    close(p[0]);

    /* The child closed its stdout (or was killed): it is exiting. Wait with the same
     * deadline, in case it closed stdout and kept running. */
    int wst = 0;
    for (;;) {
        pid_t w = waitpid(pid, &wst, killed ? 0 : WNOHANG);
        if (w == pid)
            break;
        if (w < 0 && errno != EINTR) {
            wst = 0;
            break;
        }
        if (w == 0) {
            if (now_ms() >= deadline) {
                kill(pid, SIGKILL);
                killed = 1;
                continue;
            }
            struct timespec ts = {0, 2 * 1000000L};
            nanosleep(&ts, NULL);
        }
    }

    char m[VODUP_PROBE_MSG_LEN];
    if (!buf) {
        rc = fail(out, VODUP_PROBE_INTERNAL, "out of memory");
    } else if (killed) {
        snprintf(m, sizeof m, "probing took longer than %u ms: the probe was killed", timeout);
        rc = fail(out, VODUP_PROBE_TIMEOUT, m);
    } else if (overflow) {
        rc = fail(out, VODUP_PROBE_CRASHED, "the media probe wrote more than it may: killed");
    } else if (WIFSIGNALED(wst)) {
        int sig = WTERMSIG(wst);
        if (sig == SIGXCPU || sig == SIGKILL) {   /* RLIMIT_CPU: soft, then hard */
            rc = fail(out, VODUP_PROBE_TIMEOUT, "probing used more CPU time than allowed: the probe was killed");
        } else {
            snprintf(m, sizeof m, "the media probe crashed (signal %d): the file is not usable media", sig);
            rc = fail(out, VODUP_PROBE_CRASHED, m);
        }
    } else if (!WIFEXITED(wst) || WEXITSTATUS(wst) != 0 || parse_answer(out, buf, n) < 0) {
        vodup_media_info_clear(out);
        snprintf(m, sizeof m, "the media probe failed (exit %d) without a usable answer",
                 WIFEXITED(wst) ? WEXITSTATUS(wst) : -1);
        rc = fail(out, VODUP_PROBE_CRASHED, m);
    } else {
        rc = out->status;
    }
    free(buf);
    return rc;
}

int vodup_probe_run(vodup_media_info *out, int fd, const vodup_probe_run_opts *opts)
{
    return run_child(out, fd, NULL, 0, opts);
}

int vodup_probe_run_segments(vodup_media_info *out, const int *fds, size_t n,
                             const vodup_probe_run_opts *opts)
{
    if (n == 0) {
        memset(out, 0, sizeof *out);
        return fail(out, VODUP_PROBE_NOT_MEDIA, "the object is empty");
    }
    return run_child(out, -1, fds, n, opts);
}
