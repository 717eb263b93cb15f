/* cond.c - conditional requests on GET and HEAD, shared by the OSS and S3 dialects. */
#include <string.h>
#include <strings.h>

#include "common/timefmt.h"
#include "server/core/cond.h"

int core_etag_matches(const char *cond, const char *etag)
{
    const char *p = cond;
    size_t el = strlen(etag);
    while (*p) {
        while (*p == ' ' || *p == ',')
            p++;
        if (*p == '*')
            return 1;
        const char *s = p;
        while (*p && *p != ',')
            p++;
        const char *e = p;
        while (e > s && e[-1] == ' ')
            e--;
        if (e - s >= 2 && *s == '"' && e[-1] == '"')
            s++, e--;
        if ((size_t)(e - s) == el && strncasecmp(s, etag, el) == 0)
            return 1;
    }
    return 0;
}

int core_conditions_check(const core_conditions *c, const char *etag, time_t mtime)
{
    time_t t;
    if (c->if_match && !core_etag_matches(c->if_match, etag))
        return 412;
    /* If-Unmodified-Since counts only without If-Match (RFC 9110 13.1.4; S3 documents the same:
     * If-Match true and If-Unmodified-Since false is 200) */
    if (!c->if_match && c->if_unmodified_since && vodup_time_parse_http(c->if_unmodified_since, &t) == 0 &&
        mtime > t)
        return 412;
    if (c->if_none_match && core_etag_matches(c->if_none_match, etag))
        return 304;
    /* S3 documents If-Modified-Since as still counting when If-None-Match is present and
     * does not match (304), unlike RFC 9110 13.1.3; OSS tests agree, so both do it. */
    if (c->if_modified_since && vodup_time_parse_http(c->if_modified_since, &t) == 0 &&
        mtime <= t)
        return 304;
    return 0;
}
