/* ratelimit.c - requests per second per AccessKeyId.
 *
 * One credential must not be able to take the whole server: a leaked upload credential or a
 * runaway client loop would otherwise keep every worker busy. Each AccessKeyId (long-term or
 * temporary) gets a token bucket: `rate` tokens a second, at most `burst` saved up. It is
 * charged only after the request's signature verified, so nobody can spend another key's
 * budget by sending requests in its name.
 *
 * The table is a fixed array of stripes, each a small open hash under its own mutex, so that
 * the check costs one short lock and no allocation. A stripe that fills up forgets its
 * fullest buckets first (a full bucket is the same as a forgotten one), so the memory is
 * bounded whatever the number of keys.
 */
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "server/auth/ratelimit.h"

#define STRIPES 64
#define SLOTS 256            /* buckets a stripe holds: 16,384 keys in all */
#define KEY_MAX 64           /* longer key ids are cut (STS ids are ~30 characters) */

typedef struct {
    char key[KEY_MAX];       /* "" when the slot is free */
    double tokens;
    double last;             /* seconds, CLOCK_MONOTONIC */
} bucket;

typedef struct {
    pthread_mutex_t mu;
    bucket b[SLOTS];
} stripe;

struct auth_ratelimit {
    double rate, burst;
    stripe s[STRIPES];
};

static double dmin(double a, double b)
{
    return a < b ? a : b;
}

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static unsigned long hash(const char *k)
{
    unsigned long h = 1469598103934665603UL; /* FNV-1a */
    for (; *k; k++)
        h = (h ^ (unsigned char)*k) * 1099511628211UL;
    return h;
}

auth_ratelimit *auth_ratelimit_new(double rate, double burst)
{
    if (!(rate > 0))
        return NULL;
    auth_ratelimit *rl = calloc(1, sizeof *rl);
    if (!rl)
        return NULL;
    rl->rate = rate;
    rl->burst = burst >= 1 ? burst : 1;
    for (int i = 0; i < STRIPES; i++)
        pthread_mutex_init(&rl->s[i].mu, NULL);
    return rl;
}

void auth_ratelimit_free(auth_ratelimit *rl)
{
    if (!rl)
        return;
    for (int i = 0; i < STRIPES; i++)
        pthread_mutex_destroy(&rl->s[i].mu);
    free(rl);
}

int auth_ratelimit_take(auth_ratelimit *rl, const char *key_id, double *retry_after)
{
    if (!rl || !key_id || !*key_id)
        return 1;
    char k[KEY_MAX];
    size_t n = strlen(key_id);
    if (n >= KEY_MAX)
        n = KEY_MAX - 1;
    memcpy(k, key_id, n);
    k[n] = '\0';
    unsigned long h = hash(k);
    stripe *s = &rl->s[h % STRIPES];
    double t = now_s();
    pthread_mutex_lock(&s->mu);
    /* Linear probing over the stripe; remember the free slot and the fullest bucket met on
     * the way, either of which may take the new key. */
    bucket *found = NULL, *victim = NULL;
    double victim_tokens = -1;
    for (unsigned i = 0; i < SLOTS && !found; i++) {
        bucket *b = &s->b[(h / STRIPES + i) % SLOTS];
        if (b->key[0] == '\0') {
            victim = b; /* a free slot ends the probe: the key is not further on */
            break;
        }
        if (strcmp(b->key, k) == 0) {
            found = b;
            break;
        }
        double tok = dmin(rl->burst, b->tokens + (t - b->last) * rl->rate);
        if (tok > victim_tokens) {
            victim = b;
            victim_tokens = tok;
        }
    }
    if (!found) {
        /* A new key, or one forgotten while its bucket was full: it starts full. Taking
         * the fullest bucket's slot forgets nothing that mattered. Evicting a slot in the
         * middle of a probe chain could hide keys behind it; they then start full again,
         * which errs on the side of letting a request through. */
        found = victim;
        memcpy(found->key, k, n + 1);
        found->tokens = rl->burst;
        found->last = t;
    }
    found->tokens = dmin(rl->burst, found->tokens + (t - found->last) * rl->rate);
    found->last = t;
    int ok = found->tokens >= 1;
    if (ok)
        found->tokens -= 1;
    else if (retry_after)
        *retry_after = (1 - found->tokens) / rl->rate;
    pthread_mutex_unlock(&s->mu);
    return ok;
}
