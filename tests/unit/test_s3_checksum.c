/* test_s3_checksum.c - x-amz-checksum-* values: the catalogue check values ("123456789")
 * and the empty string for each algorithm, the values boto3 sent with the captured
 * bodies (tests/vectors/s3-sigv4.requests.jsonl), and the same result however the stream
 * is cut. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/codec.h"
#include "common/crc.h"
#include "common/s3_checksum.h"

static void value_of(unsigned alg, const char *data, size_t n, char out[VODUP_S3_CK_B64_MAX])
{
    vodup_s3_checksum c;
    assert_int_equal(vodup_s3_checksum_init(&c, alg), 0);
    vodup_s3_checksum_update(&c, data, n);
    vodup_s3_checksum_final(&c);
    assert_int_equal(vodup_s3_checksum_value(&c, alg, out), 0);
    vodup_s3_checksum_free(&c);
}

static void test_known_values(void **state)
{
    (void)state;
    static const struct {
        unsigned alg;
        const char *check, *empty;
    } cases[] = {
        /* CRC-32 0xCBF43926, CRC-32C 0xE3069283: the catalogue check values */
        {VODUP_S3_CK_CRC32, "y/Q5Jg==", "AAAAAA=="},
        {VODUP_S3_CK_CRC32C, "4waSgw==", "AAAAAA=="},
        {VODUP_S3_CK_SHA1, "98O8HYCOBHMq32eZZczDTKeuNEE=", "2jmj7l5rSw0yVb/vlWAYkK/YBwk="},
        {VODUP_S3_CK_SHA256, "FeKw08M4keuw8e9gnsQZQgwg4yDOlMZfvIwzEkSOsiU=",
         "47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU="},
    };
    char v[VODUP_S3_CK_B64_MAX];
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
        value_of(cases[i].alg, "123456789", 9, v);
        assert_string_equal(v, cases[i].check);
        value_of(cases[i].alg, "", 0, v);
        assert_string_equal(v, cases[i].empty);
    }
    assert_int_equal(vodup_crc32(0, "123456789", 9), 0xCBF43926u);
    assert_int_equal(vodup_crc32(vodup_crc32(0, "1234", 4), "56789", 5), 0xCBF43926u);
}

/* All four at once, fed in every split of the input into two pieces and byte by byte. */
static void test_streaming_all(void **state)
{
    (void)state;
    static const char data[] = "The quick brown fox jumps over the lazy dog, 0123456789.";
    size_t n = sizeof data - 1;
    char want[4][VODUP_S3_CK_B64_MAX];
    static const unsigned algs[4] = {VODUP_S3_CK_CRC32, VODUP_S3_CK_CRC32C, VODUP_S3_CK_SHA1,
                                     VODUP_S3_CK_SHA256};
    for (int k = 0; k < 4; k++)
        value_of(algs[k], data, n, want[k]);
    for (size_t cut = 0; cut <= n + 1; cut++) {
        vodup_s3_checksum c;
        assert_int_equal(vodup_s3_checksum_init(&c, VODUP_S3_CK_ALL), 0);
        if (cut <= n) {
            vodup_s3_checksum_update(&c, data, cut);
            vodup_s3_checksum_update(&c, data + cut, n - cut);
        } else {
            for (size_t i = 0; i < n; i++)
                vodup_s3_checksum_update(&c, data + i, 1);
        }
        vodup_s3_checksum_final(&c);
        for (int k = 0; k < 4; k++) {
            char v[VODUP_S3_CK_B64_MAX];
            assert_int_equal(vodup_s3_checksum_value(&c, algs[k], v), 0);
            assert_string_equal(v, want[k]);
            assert_int_equal(vodup_s3_checksum_matches(&c, algs[k], want[k]), 1);
        }
        assert_int_equal(vodup_s3_checksum_matches(&c, VODUP_S3_CK_CRC32, "AAAAAA=="), 0);
        assert_int_equal(vodup_s3_checksum_matches(&c, VODUP_S3_CK_CRC32, NULL), 0);
        vodup_s3_checksum_free(&c);
    }
    /* a value not computed is not available */
    vodup_s3_checksum c;
    assert_int_equal(vodup_s3_checksum_init(&c, VODUP_S3_CK_CRC32), 0);
    vodup_s3_checksum_final(&c);
    char v[VODUP_S3_CK_B64_MAX];
    assert_int_equal(vodup_s3_checksum_value(&c, VODUP_S3_CK_SHA1, v), -1);
    assert_int_equal(vodup_s3_checksum_matches(&c, VODUP_S3_CK_SHA1, "2jmj7l5rSw0yVb/vlWAYkK/YBwk="), 0);
    vodup_s3_checksum_free(&c);
    assert_int_equal(vodup_s3_checksum_init(&c, 0), -1);
    assert_int_equal(vodup_s3_checksum_init(&c, 16), -1);
}

static void test_names(void **state)
{
    (void)state;
    assert_int_equal(vodup_s3_checksum_from_header("X-Amz-Checksum-CRC32"), VODUP_S3_CK_CRC32);
    assert_int_equal(vodup_s3_checksum_from_header("x-amz-checksum-crc32c"), VODUP_S3_CK_CRC32C);
    assert_int_equal(vodup_s3_checksum_from_header("x-amz-checksum-sha1"), VODUP_S3_CK_SHA1);
    assert_int_equal(vodup_s3_checksum_from_header("x-amz-checksum-sha256"), VODUP_S3_CK_SHA256);
    assert_int_equal(vodup_s3_checksum_from_header("x-amz-checksum-crc64nvme"), 0);
    assert_int_equal(vodup_s3_checksum_from_header("x-amz-checksum-mode"), 0);
    assert_int_equal(vodup_s3_checksum_from_name("crc32"), VODUP_S3_CK_CRC32);
    assert_int_equal(vodup_s3_checksum_from_name("SHA256"), VODUP_S3_CK_SHA256);
    assert_int_equal(vodup_s3_checksum_from_name("MD5"), 0);
    assert_string_equal(vodup_s3_checksum_header(VODUP_S3_CK_CRC32C), "x-amz-checksum-crc32c");
    assert_null(vodup_s3_checksum_header(3));
}

/* boto3's own x-amz-checksum-crc32 and x-amz-content-sha256 over the captured bodies. */
static void test_vector_bodies(void **state)
{
    (void)state;
    const char *dir = getenv("VODUP_VECTORS");
    char path[4096];
    snprintf(path, sizeof path, "%s/s3-sigv4.requests.jsonl", dir ? dir : "tests/vectors");
    FILE *f = fopen(path, "r");
    if (!f)
        fail_msg("cannot open %s", path);
    char *line = NULL;
    size_t cap = 0;
    int checked = 0;
    while (getline(&line, &cap, f) > 0) {
        json_t *j = json_loads(line, 0, NULL);
        assert_non_null(j);
        const char *b64 = json_string_value(json_object_get(j, "body_base64"));
        const char *crc = NULL;
        json_t *h;
        size_t i;
        json_array_foreach(json_object_get(j, "headers"), i, h) {
            if (vodup_s3_checksum_from_header(json_string_value(json_array_get(h, 0))) ==
                VODUP_S3_CK_CRC32)
                crc = json_string_value(json_array_get(h, 1));
        }
        if (b64 && crc) {
            size_t n = strlen(b64);
            unsigned char *body = malloc(n / 4 * 3 + 1);
            long len = vodup_base64_decode(body, b64, n);
            assert_true(len > 0);
            vodup_s3_checksum c;
            assert_int_equal(vodup_s3_checksum_init(&c, VODUP_S3_CK_CRC32 | VODUP_S3_CK_SHA256), 0);
            vodup_s3_checksum_update(&c, body, (size_t)len / 3);
            vodup_s3_checksum_update(&c, body + len / 3, (size_t)(len - len / 3));
            vodup_s3_checksum_final(&c);
            assert_int_equal(vodup_s3_checksum_matches(&c, VODUP_S3_CK_CRC32, crc), 1);
            /* x-amz-content-sha256 is hex, the checksum header base64: same digest */
            unsigned char want[32];
            const char *hex = json_string_value(json_object_get(j, "body_sha256"));
            for (int k = 0; k < 32; k++) {
                unsigned v;
                sscanf(hex + 2 * k, "%2x", &v);
                want[k] = (unsigned char)v;
            }
            assert_memory_equal(c.sha256_out, want, 32);
            vodup_s3_checksum_free(&c);
            free(body);
            checked++;
        }
        json_decref(j);
    }
    free(line);
    fclose(f);
    assert_true(checked >= 4);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_known_values),
        cmocka_unit_test(test_streaming_all),
        cmocka_unit_test(test_names),
        cmocka_unit_test(test_vector_bodies),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
