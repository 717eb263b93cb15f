/* fuzz_client_record.c - libvodup's resume-record parser (the JSON file a client reads
 * back from record_dir: anything may be there after a crash, a disk error or an edit).
 *
 * Properties:
 *  - the result is 0, VODUP_ENOENT (not a record of ours) or VODUP_ENOMEM, and a
 *    failed parse leaves nothing allocated (LeakSanitizer) and the struct zeroed;
 *  - a parsed record has a 64-character sample, at most 10000 parts, each with an ETag;
 *  - what parses dumps back to text that parses to the same record (round trip).
 */
#include "fuzz.h"

#include "client/internal.h"

static int streq(const char *a, const char *b)
{
    return (!a && !b) || (a && b && strcmp(a, b) == 0);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    vcl_record r;
    int rc = vcl_record_parse((const char *)data, size, &r);
    FUZZ_CHECK(rc == 0 || rc == VODUP_ENOENT || rc == VODUP_ENOMEM);
    if (rc != 0) {
        FUZZ_CHECK(!r.path && !r.parts && r.nparts == 0);
        return 0;
    }
    FUZZ_CHECK(strlen(r.sample) == 64);
    FUZZ_CHECK(r.nparts <= 10000);
    for (size_t i = 0; i < r.nparts; i++)
        FUZZ_CHECK(r.parts[i].etag != NULL);

    char *text = vcl_record_dump(&r);
    FUZZ_CHECK(text != NULL);
    vcl_record r2;
    rc = vcl_record_parse(text, strlen(text), &r2);
    FUZZ_CHECK(rc == 0);
    FUZZ_CHECK(r2.size == r.size && r2.mtime_ns == r.mtime_ns && r2.ctime_ns == r.ctime_ns && r2.dev == r.dev &&
               r2.ino == r.ino && r2.type == r.type && r2.part_size == r.part_size);
    FUZZ_CHECK(strcmp(r2.sample, r.sample) == 0);
    FUZZ_CHECK(streq(r2.path, r.path) && streq(r2.media_id, r.media_id) && streq(r2.endpoint, r.endpoint) &&
               streq(r2.bucket, r.bucket) && streq(r2.key, r.key) && streq(r2.upload_id, r.upload_id));
    FUZZ_CHECK(r2.nparts == r.nparts);
    for (size_t i = 0; i < r.nparts; i++)
        FUZZ_CHECK(r2.parts[i].n == r.parts[i].n && r2.parts[i].size == r.parts[i].size &&
                   r2.parts[i].crc64 == r.parts[i].crc64 && strcmp(r2.parts[i].etag, r.parts[i].etag) == 0);
    free(text);
    vcl_record_free(&r2);
    vcl_record_free(&r);
    return 0;
}
