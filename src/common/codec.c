/* codec.c - base64, hex and percent-encoding.
 *
 * Everything here handles bytes from the network, so the decoders are strict: a
 * signature that only matches after lenient decoding is a signature over different
 * bytes than the client meant. Encoders append to a vbuf and rely on its sticky oom.
 */
#include "common/codec.h"

#include <string.h>

static const char b64_alphabet[] =
    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

int vodup_base64_encode(vbuf *out, const void *in, size_t n)
{
    const unsigned char *p = in;
    char q[4];
    size_t i = 0;
    for (; i + 3 <= n; i += 3) {
        unsigned v = (unsigned)p[i] << 16 | (unsigned)p[i + 1] << 8 | p[i + 2];
        q[0] = b64_alphabet[v >> 18 & 63];
        q[1] = b64_alphabet[v >> 12 & 63];
        q[2] = b64_alphabet[v >> 6 & 63];
        q[3] = b64_alphabet[v & 63];
        vbuf_append(out, q, 4);
    }
    if (i < n) {
        unsigned v = (unsigned)p[i] << 16;
        if (i + 1 < n)
            v |= (unsigned)p[i + 1] << 8;
        q[0] = b64_alphabet[v >> 18 & 63];
        q[1] = b64_alphabet[v >> 12 & 63];
        q[2] = i + 1 < n ? b64_alphabet[v >> 6 & 63] : '=';
        q[3] = '=';
        vbuf_append(out, q, 4);
    }
    vbuf_append(out, "", 0); /* the empty input still yields a NUL-terminated buffer */
    return out->oom ? -1 : 0;
}

static int b64_value(char c)
{
    if (c >= 'A' && c <= 'Z')
        return c - 'A';
    if (c >= 'a' && c <= 'z')
        return c - 'a' + 26;
    if (c >= '0' && c <= '9')
        return c - '0' + 52;
    if (c == '+')
        return 62;
    if (c == '/')
        return 63;
    return -1;
}

long vodup_base64_decode(unsigned char *out, const char *in, size_t n)
{
    if (n % 4)
        return -1;
    size_t o = 0;
    for (size_t i = 0; i < n; i += 4) {
        int last = i + 4 == n;
        int pad = 0;
        if (last && in[i + 3] == '=')
            pad = in[i + 2] == '=' ? 2 : 1;
        int v[4];
        for (int k = 0; k < 4 - pad; k++) {
            v[k] = b64_value(in[i + k]);
            if (v[k] < 0)
                return -1;
        }
        unsigned w = (unsigned)v[0] << 18 | (unsigned)v[1] << 12;
        if (pad < 2)
            w |= (unsigned)v[2] << 6;
        if (pad < 1)
            w |= (unsigned)v[3];
        /* Non-canonical encodings (stray low bits before the padding) would let two
         * different strings decode to the same bytes; refuse them. */
        if ((pad == 2 && (w & 0xFFFF)) || (pad == 1 && (w & 0xFF)))
            return -1;
        out[o++] = (unsigned char)(w >> 16);
        if (pad < 2)
            out[o++] = (unsigned char)(w >> 8);
        if (pad < 1)
            out[o++] = (unsigned char)w;
    }
    return (long)o;
}

static void hex_with(char *out, const unsigned char *in, size_t n, const char *digits)
{
    for (size_t i = 0; i < n; i++) {
        out[2 * i] = digits[in[i] >> 4];
        out[2 * i + 1] = digits[in[i] & 15];
    }
    out[2 * n] = '\0';
}

void vodup_hex_lower(char *out, const unsigned char *in, size_t n)
{
    hex_with(out, in, n, "0123456789abcdef");
}

void vodup_hex_upper(char *out, const unsigned char *in, size_t n)
{
    hex_with(out, in, n, "0123456789ABCDEF");
}

static int is_unreserved(unsigned char c)
{
    return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
           c == '-' || c == '_' || c == '.' || c == '~';
}

int vodup_uri_encode(vbuf *out, const char *in, size_t n, int keep_slash)
{
    static const char digits[] = "0123456789ABCDEF";
    size_t run = 0; /* start of the pending run of bytes that pass unchanged */
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)in[i];
        if (is_unreserved(c) || (keep_slash && c == '/'))
            continue;
        vbuf_append(out, in + run, i - run);
        char esc[3] = {'%', digits[c >> 4], digits[c & 15]};
        vbuf_append(out, esc, 3);
        run = i + 1;
    }
    vbuf_append(out, in + run, n - run);
    return out->oom ? -1 : 0;
}

int vodup_hex_digit(char c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return -1;
}

int vodup_uri_decode(vbuf *out, const char *in, size_t n, int plus_is_space, int *has_nul)
{
    if (has_nul)
        *has_nul = 0;
    vbuf_append(out, "", 0); /* an empty input still yields a NUL-terminated buffer */
    size_t run = 0;
    for (size_t i = 0; i < n; i++) {
        char c = in[i];
        if (c == '+' && plus_is_space) {
            vbuf_append(out, in + run, i - run);
            vbuf_putc(out, ' ');
            run = i + 1;
        } else if (c == '%') {
            if (n - i < 3)
                return -1;
            int h = vodup_hex_digit(in[i + 1]), l = vodup_hex_digit(in[i + 2]);
            if (h < 0 || l < 0)
                return -1;
            vbuf_append(out, in + run, i - run);
            char d = (char)(h << 4 | l);
            if (d == '\0' && has_nul)
                *has_nul = 1;
            vbuf_putc(out, d);
            i += 2;
            run = i + 1;
        }
    }
    vbuf_append(out, in + run, n - run);
    return out->oom ? -1 : 0;
}
