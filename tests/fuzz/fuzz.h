/* fuzz.h - shared bits of the fuzz targets (tests/fuzz/fuzz_<name>.c).
 *
 * Each target defines LLVMFuzzerTestOneInput. It is linked either with libFuzzer
 * (-fsanitize=fuzzer, `make fuzz`) or with replay.c, which feeds it the committed corpus
 * in every normal build (ctest fuzz-replay.<name>).
 *
 * Properties are checked with FUZZ_CHECK, which aborts (so libFuzzer records a crash and
 * the replay test fails) whatever NDEBUG says.
 */
#ifndef VODUP_TESTS_FUZZ_H
#define VODUP_TESTS_FUZZ_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define FUZZ_CHECK(cond)                                                              \
    do {                                                                              \
        if (!(cond)) {                                                                \
            fprintf(stderr, "%s:%d: property failed: %s\n", __FILE__, __LINE__, #cond); \
            abort();                                                                  \
        }                                                                             \
    } while (0)

/* A NUL-terminated copy of p[0..n) (embedded NULs kept; C-string users see a prefix).
 * Never NULL: aborts when out of memory, which only a fuzzer's -rss_limit can cause. */
static inline char *fuzz_strndup(const void *p, size_t n)
{
    char *s = malloc(n + 1);
    if (!s)
        abort();
    if (n)
        memcpy(s, p, n);
    s[n] = '\0';
    return s;
}

#endif
