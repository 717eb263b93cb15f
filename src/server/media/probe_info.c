/* probe_info.c - the parts of the probe's vocabulary both sides share: status names (the
 * child reports them as words) and freeing a vodup_media_info. No libav* here, so vodupd
 * links it without FFmpeg. */
#include "server/media/probe.h"

#include <stdlib.h>
#include <string.h>

void vodup_media_info_clear(vodup_media_info *out)
{
    if (!out)
        return;
    free(out->cover);
    memset(out, 0, sizeof *out);
}

static const struct {
    int code;
    const char *name;
} status_names[] = {
    {VODUP_PROBE_OK, "ok"},           {VODUP_PROBE_NOT_MEDIA, "not_media"},
    {VODUP_PROBE_CORRUPT, "corrupt"}, {VODUP_PROBE_TOO_LARGE, "too_large"},
    {VODUP_PROBE_TIMEOUT, "timeout"}, {VODUP_PROBE_EIO, "io_error"},
    {VODUP_PROBE_CRASHED, "crashed"}, {VODUP_PROBE_INTERNAL, "internal"},
};

const char *vodup_probe_status_name(int status)
{
    for (size_t i = 0; i < sizeof status_names / sizeof status_names[0]; i++)
        if (status_names[i].code == status)
            return status_names[i].name;
    return "internal";
}

int vodup_probe_status_from_name(const char *name)
{
    for (size_t i = 0; name && i < sizeof status_names / sizeof status_names[0]; i++)
        if (strcmp(status_names[i].name, name) == 0)
            return status_names[i].code;
    return VODUP_PROBE_CRASHED;
}
