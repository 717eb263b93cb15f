/* probe_run_tool.c - vodup_probe_run() from the command line, for the tests
 * (tests/integration/media-probe.test.mjs): the parent side as vodupd uses it.
 *
 *   probe-run-tool PROBE_EXE FILE TIMEOUT_MS [COVER_OUT [CPU_SECONDS]]
 *
 * Prints the parsed vodup_media_info as one JSON object; writes the cover to COVER_OUT.
 * Exit 0 whenever it printed, whatever the probe's status.
 */
#include "server/media/probe.h"

#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <jansson.h>

int main(int argc, char **argv)
{
    if (argc < 4) {
        fputs("usage: probe-run-tool PROBE_EXE FILE TIMEOUT_MS [COVER_OUT]\n", stderr);
        return 2;
    }
    int fd = open(argv[2], O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
        perror(argv[2]);
        return 1;
    }
    vodup_probe_run_opts opts = {.exe = argv[1], .timeout_ms = (unsigned)strtoul(argv[3], NULL, 10)};
    if (argc > 5)
        opts.cpu_seconds = (unsigned)strtoul(argv[5], NULL, 10);
    vodup_media_info info;
    int rc = vodup_probe_run(&info, fd, &opts);
    /* The parent's fd is intact and its offset unmoved: the child used pread. */
    off_t pos = lseek(fd, 0, SEEK_CUR);
    close(fd);
    if (argc > 4 && argv[4][0] && info.cover_len) {
        FILE *f = fopen(argv[4], "wb");
        if (!f || fwrite(info.cover, 1, info.cover_len, f) != info.cover_len || fclose(f) != 0) {
            perror(argv[4]);
            return 1;
        }
    }
    json_t *j = json_pack("{s:s, s:i, s:s, s:f, s:s, s:I, s:i, s:i, s:f, s:s, s:s, s:i, s:i, s:I, s:i, s:i, s:f, s:I}",
                          "status", vodup_probe_status_name(info.status), "rc", rc, "message", info.message,
                          "duration", info.duration, "format", info.format, "bitrate", (json_int_t)info.bitrate,
                          "width", info.width, "height", info.height, "fps", info.fps,
                          "video_codec", info.video_codec, "audio_codec", info.audio_codec,
                          "audio_channels", info.audio_channels, "sample_rate", info.sample_rate,
                          "cover_size", (json_int_t)info.cover_len, "cover_width", info.cover_width,
                          "cover_height", info.cover_height, "cover_time", info.cover_time,
                          "fd_offset", (json_int_t)pos);
    char *s = json_dumps(j, JSON_COMPACT);
    json_decref(j);
    if (!s)
        return 1;
    puts(s);
    free(s);
    vodup_media_info_clear(&info);
    return 0;
}
