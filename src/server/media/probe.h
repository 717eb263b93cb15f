/* probe.h - media understanding: what an uploaded object is (duration, size, codecs) and a
 * JPEG cover from a frame near 10% of its duration.
 *
 * Two layers. vodup_probe() runs libavformat/libavcodec/libswscale in the calling process
 * over a reader callback (so it reads through the blob store, never a temporary copy),
 * within limits on bytes, streams, frame size and wall-clock time. It is what the
 * separate vodupd-probe executable (probe_main.c) and the fuzz target run. vodupd itself
 * never calls it: it calls vodup_probe_run() (probe_run.c), which spawns vodupd-probe under
 * resource limits and a wall-clock kill, so a hostile file can cost a child process, never
 * vodupd. docs/internals/media-probe.md has the design.
 */
#ifndef VODUP_MEDIA_PROBE_H
#define VODUP_MEDIA_PROBE_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

/* Status codes; appended to, never renumbered (the child reports them by name). */
enum {
    VODUP_PROBE_OK = 0,           /* media; audio-only media has no cover and is still OK */
    VODUP_PROBE_NOT_MEDIA = -1,   /* no known audio/video format (also: a still image) */
    VODUP_PROBE_CORRUPT = -2,     /* a known format, but truncated or damaged */
    VODUP_PROBE_TOO_LARGE = -3,   /* over a limit: bytes, frame size, memory, streams */
    VODUP_PROBE_TIMEOUT = -4,     /* the wall-clock deadline or the CPU limit passed */
    VODUP_PROBE_EIO = -5,         /* the reader failed */
    VODUP_PROBE_CRASHED = -6,     /* vodup_probe_run: the child died or answered nonsense */
    VODUP_PROBE_INTERNAL = -7     /* could not run at all (spawn failed, out of memory here) */
};

/* Reads up to n bytes at off into buf; returns the bytes read (0 at the end) or < 0. */
typedef ssize_t vodup_media_read_cb(void *user, uint64_t off, void *buf, size_t n);

typedef struct vodup_media_reader {
    vodup_media_read_cb *read;
    uint64_t size;   /* the object's size in bytes */
    void *user;
} vodup_media_reader;

typedef struct vodup_probe_limits {
    uint64_t max_input;          /* bytes of object; larger -> TOO_LARGE without reading */
    uint64_t max_read;           /* bytes read in all (seeks re-read): a looping demuxer stops */
    int64_t probesize;           /* libavformat probesize: bytes find_stream_info may read */
    int64_t analyze_us;          /* libavformat analyzeduration, microseconds of media */
    unsigned max_streams;        /* streams a file may declare */
    unsigned max_width, max_height;  /* frame size any stream may claim or decode to */
    unsigned deadline_ms;        /* wall clock for the whole probe; 0 = none */
    unsigned cover_max_width;    /* cover width cap (aspect kept); 0 = make no cover */
    unsigned max_cover_packets;  /* packets decoded looking for the cover frame */
} vodup_probe_limits;

#define VODUP_PROBE_MAX_INPUT (64ULL << 30)     /* 64 GiB */
#define VODUP_PROBE_MAX_READ (256ULL << 20)     /* 256 MiB read for one probe */
#define VODUP_PROBE_PROBESIZE (32LL << 20)      /* 32 MiB */
#define VODUP_PROBE_ANALYZE_US (10LL * 1000000) /* 10 s of media */
#define VODUP_PROBE_MAX_STREAMS 32
#define VODUP_PROBE_MAX_DIM 8192                /* 8K: 8192 x 8192 */
#define VODUP_PROBE_DEADLINE_MS 20000
#define VODUP_PROBE_COVER_MAX_WIDTH 1280
#define VODUP_PROBE_MAX_COVER_PACKETS 600

#define VODUP_PROBE_LIMITS_INIT                                                                 \
    { VODUP_PROBE_MAX_INPUT, VODUP_PROBE_MAX_READ, VODUP_PROBE_PROBESIZE,                       \
      VODUP_PROBE_ANALYZE_US, VODUP_PROBE_MAX_STREAMS, VODUP_PROBE_MAX_DIM, VODUP_PROBE_MAX_DIM, \
      VODUP_PROBE_DEADLINE_MS, VODUP_PROBE_COVER_MAX_WIDTH, VODUP_PROBE_MAX_COVER_PACKETS }

#define VODUP_PROBE_NAME_LEN 64
#define VODUP_PROBE_MSG_LEN 200

typedef struct vodup_media_info {
    int status;                          /* VODUP_PROBE_* (also the return value) */
    char message[VODUP_PROBE_MSG_LEN];   /* human words for a non-OK status, or a note */
    double duration;                     /* seconds; 0 when unknown */
    char format[VODUP_PROBE_NAME_LEN];   /* libavformat's names, e.g. "mov,mp4,m4a,3gp,3g2,mj2" */
    int64_t bitrate;                     /* bits per second; 0 when unknown */
    int width, height;                   /* of the video stream; 0 without one */
    double fps;                          /* frames per second; 0 when unknown */
    char video_codec[VODUP_PROBE_NAME_LEN];  /* "h264", ""; without a video stream */
    char audio_codec[VODUP_PROBE_NAME_LEN];
    int audio_channels, sample_rate;
    unsigned char *cover;                /* JPEG bytes (malloc'd) or NULL; vodup_media_info_clear */
    size_t cover_len;
    int cover_width, cover_height;
    double cover_time;                   /* seconds into the media of the cover frame */
} vodup_media_info;

/* Probes the object that r reads, within lim (NULL: VODUP_PROBE_LIMITS_INIT). Fills *out
 * (cleared first) and returns out->status. Reentrant; libav* global state untouched (the
 * caller picks av_log_set_level / av_max_alloc). Ownership: out->cover is the caller's,
 * freed by vodup_media_info_clear. */
int vodup_probe(vodup_media_info *out, const vodup_media_reader *r, const vodup_probe_limits *lim);

/* Frees out->cover and zeroes *out. NULL harmless. */
void vodup_media_info_clear(vodup_media_info *out);

/* "ok", "not_media", "corrupt", "too_large", "timeout", "io_error", "crashed", "internal". */
const char *vodup_probe_status_name(int status);
/* The inverse; VODUP_PROBE_CRASHED for an unknown name. */
int vodup_probe_status_from_name(const char *name);

/* --- probe_run.c: the probe in a child process (what vodupd calls) ------------------ */

typedef struct vodup_probe_run_opts {
    const char *exe;          /* path of vodupd-probe */
    unsigned timeout_ms;      /* wall clock before SIGKILL; the child's own deadline is less */
    unsigned cpu_seconds;     /* RLIMIT_CPU of the child; 0 = its default */
    unsigned as_mib;          /* RLIMIT_AS of the child in MiB; 0 = its default */
} vodup_probe_run_opts;

#define VODUP_PROBE_RUN_TIMEOUT_MS 30000
/* Largest stdout a child may write: the JSON line plus a cover. */
#define VODUP_PROBE_MAX_JSON 8192
#define VODUP_PROBE_MAX_COVER (8u << 20)

/* Probes the file open on fd (read from offset 0 with pread; the fd is not closed or
 * moved) in a vodupd-probe child: no shell, fd given as the child's stdin, stdout a pipe.
 * Fills *out as vodup_probe does and returns out->status: TIMEOUT when the child was
 * killed for time (ours or its CPU limit), CRASHED when it died otherwise or its answer
 * did not parse, INTERNAL when it could not be started. Blocking: call off the event
 * loop. Thread-safe. */
int vodup_probe_run(vodup_media_info *out, int fd, const vodup_probe_run_opts *opts);

/* Parts of an object the child may be given (one fd each, RLIMIT_NOFILE raised to fit). */
#define VODUP_PROBE_MAX_SEGMENTS 1000
/* As vodup_probe_run for an object stored as n files in order (a multipart upload's
 * parts: the blob store's segments), fds[i] open on part i; the child reads them as one
 * (vodupd-probe --segments). TOO_LARGE over VODUP_PROBE_MAX_SEGMENTS. */
int vodup_probe_run_segments(vodup_media_info *out, const int *fds, size_t n,
                             const vodup_probe_run_opts *opts);

#endif
