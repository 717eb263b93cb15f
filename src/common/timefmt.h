/* timefmt.h - the date formats of the wire: RFC 1123 (HTTP Date), ISO 8601 with and
 * without milliseconds, and the compact form of V4 signatures. All UTC. */
#ifndef VODUP_COMMON_TIMEFMT_H
#define VODUP_COMMON_TIMEFMT_H

#include <stddef.h>
#include <time.h>

/* "Tue, 24 Nov 2026 23:08:23 GMT"; out holds 30 bytes. */
void vodup_time_http(char out[30], time_t t);
/* "2026-11-24T23:08:23.000Z"; out holds 25 bytes. */
void vodup_time_iso_ms(char out[25], time_t t);
/* "2026-11-24T23:08:23Z"; out holds 21 bytes. */
void vodup_time_iso(char out[21], time_t t);
/* "20261124T230823Z"; out holds 17 bytes. */
void vodup_time_compact(char out[17], time_t t);

/* Parsers: 0 and *t set, or -1 when the text is not exactly of that form
 * (fields range-checked: month 1-12, day valid for the month, hour < 24, ...). */
int vodup_time_parse_http(const char *s, time_t *t);     /* RFC 1123, "GMT" required */
int vodup_time_parse_iso(const char *s, time_t *t);      /* YYYY-MM-DDTHH:MM:SSZ, optional .fff */
int vodup_time_parse_compact(const char *s, time_t *t);  /* YYYYMMDDTHHMMSSZ */

#endif
