/* ratelimit.h - requests per second per AccessKeyId (token buckets, bounded memory). */
#ifndef VODUPD_AUTH_RATELIMIT_H
#define VODUPD_AUTH_RATELIMIT_H

typedef struct auth_ratelimit auth_ratelimit;

/* A limiter allowing `rate` requests a second per key, with bursts of up to `burst`.
 * NULL when rate is not positive (no limit) or on oom. Thread-safe. */
auth_ratelimit *auth_ratelimit_new(double rate, double burst);
void auth_ratelimit_free(auth_ratelimit *rl);

/* Charges one request to key_id: 1 when it may go on, 0 when the key is over its rate
 * (*retry_after then says in how many seconds a request would pass). A NULL limiter
 * allows everything. */
int auth_ratelimit_take(auth_ratelimit *rl, const char *key_id, double *retry_after);

#endif
