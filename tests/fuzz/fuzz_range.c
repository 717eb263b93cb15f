/* fuzz_range.c - the Range header (oss_parse_range).
 *
 * Input: 8 bytes of object size (little-endian; fewer bytes are zero-extended, and a
 * short input is taken as all size), 1 byte whose low bit is the clip flag, the rest
 * the header value (NUL-terminated copy; an embedded NUL ends it, as in a C string).
 * An accepted range must lie within the object: first <= last < size. A header too
 * short to exist is also tried as absent (h == NULL -> 0).
 */
#include "fuzz.h"

#include "server/oss/oss.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    uint64_t osize = 0;
    size_t take = size < 8 ? size : 8;
    for (size_t i = 0; i < take; i++)
        osize |= (uint64_t)data[i] << (8 * i);
    int clip = size > 8 ? data[8] & 1 : 0;
    size_t off = size > 9 ? 9 : size;
    char *h = fuzz_strndup(data + off, size - off);

    uint64_t first = 0xdeadbeef, last = 0xdeadbeef;
    if (size - off == 0)
        FUZZ_CHECK(oss_parse_range(NULL, osize, clip, &first, &last) == 0);

    int rc = oss_parse_range(h, osize, clip, &first, &last);
    FUZZ_CHECK(rc == 1 || rc == -1);
    if (rc == 1) {
        FUZZ_CHECK(first <= last && last < osize);
        /* Clipping only ever widens what is accepted, and agrees where both accept. */
        uint64_t f2 = 0, l2 = 0;
        int rc2 = oss_parse_range(h, osize, !clip, &f2, &l2);
        if (clip)
            FUZZ_CHECK(rc2 == -1 || (f2 == first && l2 == last));
        else
            FUZZ_CHECK(rc2 == 1 && f2 == first && l2 == last);
    }
    free(h);
    return 0;
}
