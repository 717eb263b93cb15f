/* fuzz_probe.c - the in-process media probe (vodup_probe) on malformed containers.
 *
 * Input: the whole object, read through the same reader callback vodupd-probe uses (here
 * over memory), under tight limits so one input stays cheap: 1 MiB probesize, 4 MiB of
 * reading, 1024x1024 frames, a 64-pixel-wide cover, a 3 s deadline. Properties: the status
 * is one of the codes; a non-OK status has a message and no cover; an OK one has sizes
 * within the limits and, when a cover was made, a JPEG (SOI marker) no wider than the cap.
 * The system's FFmpeg is not instrumented, so libFuzzer steers by probe.c alone; ASan still
 * sees what the libraries do with the memory this side hands them.
 */
#include "fuzz.h"

#include <libavutil/log.h>
#include <libavutil/mem.h>

#include "server/media/probe.h"

struct mem {
    const uint8_t *p;
    size_t n;
};

static ssize_t mem_read(void *user, uint64_t off, void *buf, size_t n)
{
    const struct mem *m = user;
    if (off >= m->n)
        return 0;
    if (n > m->n - off)
        n = (size_t)(m->n - off);
    memcpy(buf, m->p + off, n);
    return (ssize_t)n;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static int once;
    if (!once) {
        av_log_set_level(AV_LOG_QUIET);
        av_max_alloc(64u << 20);   /* as vodupd-probe caps one allocation, tighter */
        once = 1;
    }
    vodup_probe_limits lim = VODUP_PROBE_LIMITS_INIT;
    lim.max_read = 4u << 20;
    lim.probesize = 1 << 20;
    lim.analyze_us = 1000000;
    lim.max_streams = 8;
    lim.max_width = lim.max_height = 1024;
    lim.deadline_ms = 3000;
    lim.cover_max_width = 64;
    lim.max_cover_packets = 50;

    struct mem m = {data, size};
    vodup_media_reader r = {mem_read, size, &m};
    vodup_media_info info;
    int rc = vodup_probe(&info, &r, &lim);
    FUZZ_CHECK(rc == info.status);
    FUZZ_CHECK(rc <= VODUP_PROBE_OK && rc >= VODUP_PROBE_INTERNAL && rc != VODUP_PROBE_CRASHED);
    FUZZ_CHECK(memchr(info.message, '\0', sizeof info.message) != NULL);
    FUZZ_CHECK(vodup_probe_status_from_name(vodup_probe_status_name(rc)) == rc);
    if (rc != VODUP_PROBE_OK) {
        FUZZ_CHECK(info.message[0] != '\0');
        FUZZ_CHECK(info.cover == NULL && info.cover_len == 0);
    } else {
        FUZZ_CHECK(info.width >= 0 && info.width <= 1024 && info.height >= 0 && info.height <= 1024);
        FUZZ_CHECK(info.duration >= 0 && info.bitrate >= 0 && info.fps >= 0);
        FUZZ_CHECK(info.video_codec[0] != '\0' || info.audio_codec[0] != '\0');
        if (info.cover) {
            FUZZ_CHECK(info.cover_len >= 2 && info.cover[0] == 0xff && info.cover[1] == 0xd8);
            FUZZ_CHECK(info.cover_width >= 2 && info.cover_width <= 64 && info.cover_height >= 2);
        } else {
            FUZZ_CHECK(info.cover_len == 0);
        }
    }
    vodup_media_info_clear(&info);
    return 0;
}
