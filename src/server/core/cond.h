/* cond.h - the HTTP conditional-request rules (RFC 9110 section 13) both dialects apply to
 * GET and HEAD (If-Match, If-Unmodified-Since, If-None-Match, If-Modified-Since), protocol
 * neutral: the dialect passes the header values and renders the outcome its own way. */
#ifndef VODUP_SERVER_CORE_COND_H
#define VODUP_SERVER_CORE_COND_H

#include <time.h>

typedef struct core_conditions {
    const char *if_match, *if_none_match;         /* NULL when absent */
    const char *if_modified_since, *if_unmodified_since;
} core_conditions;

/* 1 when the condition value (a list of quoted or bare entity tags, or "*") names etag. */
int core_etag_matches(const char *cond, const char *etag);

/* 0 when the request goes on, 412 when If-Match or If-Unmodified-Since fails, 304 when
 * If-None-Match or If-Modified-Since says the client's copy is current. Dates that do not
 * parse are ignored, as HTTP says; If-Unmodified-Since is ignored beside If-Match. */
int core_conditions_check(const core_conditions *c, const char *etag, time_t mtime);

#endif
