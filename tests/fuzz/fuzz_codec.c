/* fuzz_codec.c - base64, percent-encoding and the wire date formats.
 *
 * Decoders get the raw input; properties checked:
 *  - base64: decoded length within the documented bound (n/4*3), and the decoder being
 *    strict, whatever it accepts re-encodes to exactly the input; encode then decode
 *    gives the input back.
 *  - percent-encoding: decode (both '+' modes) stays within the input length and reports
 *    %00; encode (with and without keep_slash) emits only unreserved bytes, '%XX' and
 *    '/', and decodes back to the input in both modes.
 *  - dates: what a parser accepts formats back to the same text (the ISO form modulo its
 *    optional milliseconds).
 */
#include "fuzz.h"

#include "common/codec.h"
#include "common/timefmt.h"

static void base64(const uint8_t *data, size_t size)
{
    const char *s = (const char *)data;
    size_t bound = size / 4 * 3;
    unsigned char *out = malloc(bound ? bound : 1); /* exactly the documented size */
    if (!out)
        abort();
    long n = vodup_base64_decode(out, s, size);
    FUZZ_CHECK(n >= -1 && n <= (long)bound);
    if (n >= 0) {
        vbuf again = VBUF_INIT;
        FUZZ_CHECK(vodup_base64_encode(&again, out, (size_t)n) == 0);
        FUZZ_CHECK(again.len == size && memcmp(vbuf_cstr(&again), s, size) == 0);
        vbuf_free(&again);
    }
    free(out);

    vbuf enc = VBUF_INIT;
    FUZZ_CHECK(vodup_base64_encode(&enc, data, size) == 0);
    FUZZ_CHECK(enc.len == (size + 2) / 3 * 4 && enc.data && enc.data[enc.len] == '\0');
    unsigned char *dec = malloc(enc.len / 4 * 3 + 1);
    if (!dec)
        abort();
    n = vodup_base64_decode(dec, enc.data, enc.len);
    FUZZ_CHECK(n == (long)size && (size == 0 || memcmp(dec, data, size) == 0));
    free(dec);
    vbuf_free(&enc);
}

static int is_unreserved(unsigned char c)
{
    return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
           c == '-' || c == '_' || c == '.' || c == '~';
}

static void uri(const uint8_t *data, size_t size)
{
    const char *s = (const char *)data;
    for (int plus = 0; plus <= 1; plus++) {
        vbuf out = VBUF_INIT;
        int has_nul = -1;
        int rc = vodup_uri_decode(&out, s, size, plus, &has_nul);
        FUZZ_CHECK(rc == 0 || rc == -1);
        FUZZ_CHECK(has_nul == 0 || has_nul == 1);
        if (rc == 0) {
            FUZZ_CHECK(out.len <= size && out.data && out.data[out.len] == '\0');
            if (has_nul)
                FUZZ_CHECK(memchr(out.data, '\0', out.len) != NULL);
            /* Without %-escapes or (in form mode) '+', decoding is the identity. */
            if (!memchr(s, '%', size) && (!plus || !memchr(s, '+', size)))
                FUZZ_CHECK(out.len == size && (size == 0 || memcmp(out.data, s, size) == 0));
        }
        vbuf_reset(&out);
        FUZZ_CHECK(vodup_uri_decode(&out, s, size, plus, NULL) == rc);
        vbuf_free(&out);
    }

    for (int keep_slash = 0; keep_slash <= 1; keep_slash++) {
        vbuf enc = VBUF_INIT;
        FUZZ_CHECK(vodup_uri_encode(&enc, s, size, keep_slash) == 0);
        for (size_t i = 0; i < enc.len; i++) {
            unsigned char c = (unsigned char)enc.data[i];
            if (c == '%') {
                FUZZ_CHECK(i + 2 < enc.len);
                for (int k = 1; k <= 2; k++) {
                    char h = enc.data[i + (size_t)k];
                    FUZZ_CHECK((h >= '0' && h <= '9') || (h >= 'A' && h <= 'F'));
                }
                i += 2;
            } else {
                FUZZ_CHECK(is_unreserved(c) || (keep_slash && c == '/'));
            }
        }
        for (int plus = 0; plus <= 1; plus++) {
            vbuf dec = VBUF_INIT;
            int has_nul = 0;
            FUZZ_CHECK(vodup_uri_decode(&dec, vbuf_cstr(&enc), enc.len, plus, &has_nul) == 0);
            FUZZ_CHECK(dec.len == size && (size == 0 || memcmp(dec.data, s, size) == 0));
            FUZZ_CHECK(has_nul == (memchr(s, '\0', size) != NULL));
            vbuf_free(&dec);
        }
        vbuf_free(&enc);
    }
}

static void dates(const uint8_t *data, size_t size)
{
    char *s = fuzz_strndup(data, size);
    time_t t = 0;
    if (vodup_time_parse_http(s, &t) == 0) {
        char out[30];
        vodup_time_http(out, t);
        FUZZ_CHECK(strcmp(out, s) == 0);
    }
    if (vodup_time_parse_iso(s, &t) == 0) {
        char out[25];
        vodup_time_iso_ms(out, t);
        /* YYYY-MM-DDTHH:MM:SS then "Z" or ".fffZ" */
        FUZZ_CHECK(strncmp(out, s, 19) == 0);
        FUZZ_CHECK(strcmp(s + 19, "Z") == 0 || (strlen(s) == 24 && s[19] == '.' && s[23] == 'Z'));
        char iso[21];
        vodup_time_iso(iso, t);
        FUZZ_CHECK(strncmp(iso, s, 19) == 0);
    }
    if (vodup_time_parse_compact(s, &t) == 0) {
        char out[17];
        vodup_time_compact(out, t);
        FUZZ_CHECK(strcmp(out, s) == 0);
    }
    free(s);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    base64(data, size);
    uri(data, size);
    dates(data, size);
    return 0;
}
