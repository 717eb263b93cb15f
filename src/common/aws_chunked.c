/* aws_chunked.c - streaming decoder of aws-chunked bodies. See aws_chunked.h.
 *
 * Wire form (CRLF line ends):
 *   signed:    <hex-size>;chunk-signature=<64 hex>CRLF <data> CRLF ... 0;chunk-signature=<sig>CRLF
 *   unsigned:  <hex-size>CRLF <data> CRLF ... 0CRLF
 * then trailer lines `name:value`CRLF (the -TRAILER modes; the signed one ends them with
 * `x-amz-trailer-signature:<sig>`CRLF) and an empty line.
 *
 * Signatures chain: chunk i signs
 *   AWS4-HMAC-SHA256-PAYLOAD\n<date>\n<scope>\n<signature i-1>\n<sha256("")>\n<sha256(data)>
 * with signature 0 the request's own; the trailer signs
 *   AWS4-HMAC-SHA256-TRAILER\n<date>\n<scope>\n<final chunk's signature>\n<sha256(block)>
 * where block is every trailer as `name:value\n`.
 *
 * States: SIZE (reading a size line) -> DATA (remaining bytes to the sink) -> DATA_CRLF
 * -> SIZE ... ; the 0-size chunk leads to TRAILER (reading lines until an empty one)
 * -> DONE, after which any byte is an error.
 */
#include "common/aws_chunked.h"

#include "common/codec.h"

#include <openssl/crypto.h>
#include <string.h>
#include <strings.h>

enum { ST_SIZE, ST_DATA, ST_DATA_CRLF, ST_TRAILER, ST_DONE };

#define SIG_EXT ";chunk-signature="
#define TRAILER_SIG "x-amz-trailer-signature"

/* ---- signing ------------------------------------------------------------ */

void vodup_chunked_sign_chunk_hash(char out[65], const unsigned char key[32],
                                   const char *amz_date, const char *scope, const char *prev,
                                   const unsigned char sha256[32])
{
    char hex[65];
    vodup_hex_lower(hex, sha256, 32);
    vbuf s = VBUF_INIT;
    vbuf_printf(&s, "AWS4-HMAC-SHA256-PAYLOAD\n%s\n%s\n%s\n" VODUP_S3_EMPTY_SHA256 "\n%s",
                amz_date, scope, prev, hex);
    if (s.oom)
        out[0] = '\0';
    else
        vodup_v4_signature(out, key, s.data, s.len);
    vbuf_free(&s);
}

void vodup_chunked_sign_chunk(char out[65], const unsigned char key[32], const char *amz_date,
                              const char *scope, const char *prev, const void *data, size_t n)
{
    unsigned char h[32];
    vodup_sha256(h, data, n);
    vodup_chunked_sign_chunk_hash(out, key, amz_date, scope, prev, h);
}

void vodup_chunked_sign_trailer(char out[65], const unsigned char key[32], const char *amz_date,
                                const char *scope, const char *prev, const void *canon,
                                size_t n)
{
    unsigned char h[32];
    char hex[65];
    vodup_sha256(h, canon, n);
    vodup_hex_lower(hex, h, 32);
    vbuf s = VBUF_INIT;
    vbuf_printf(&s, "AWS4-HMAC-SHA256-TRAILER\n%s\n%s\n%s\n%s", amz_date, scope, prev, hex);
    if (s.oom)
        out[0] = '\0';
    else
        vodup_v4_signature(out, key, s.data, s.len);
    vbuf_free(&s);
}

/* ---- set-up --------------------------------------------------------------- */

static int is_signed(const vodup_chunked *d)
{
    return d->mode != VODUP_S3_PAYLOAD_UNSIGNED_TRAILER;
}

static int has_trailers(const vodup_chunked *d)
{
    return d->mode != VODUP_S3_PAYLOAD_STREAMING;
}

/* Decimal, digits only, at most 19 of them (below 2^63). */
static int parse_u64(const char *s, uint64_t *out)
{
    size_t n = s ? strlen(s) : 0;
    while (n && (s[n - 1] == ' ' || s[n - 1] == '\t'))
        n--;
    while (n && (*s == ' ' || *s == '\t')) {
        s++;
        n--;
    }
    if (n == 0 || n > 19)
        return -1;
    uint64_t v = 0;
    for (size_t i = 0; i < n; i++) {
        if (s[i] < '0' || s[i] > '9')
            return -1;
        v = v * 10 + (uint64_t)(s[i] - '0');
    }
    *out = v;
    return 0;
}

/* x-amz-trailer: "a, b" -> "a,b" lower case; -1 when too long or malformed. */
static int set_announced(vodup_chunked *d, const char *s)
{
    size_t o = 0;
    int need_name = 1;
    for (const char *p = s; *p; p++) {
        char c = *p;
        if (c == ' ' || c == '\t')
            continue;
        if (c == ',') {
            if (need_name)
                return -1;
            need_name = 1;
        } else {
            need_name = 0;
            if (c >= 'A' && c <= 'Z')
                c = (char)(c - 'A' + 'a');
        }
        if (o + 1 >= sizeof d->announced)
            return -1;
        d->announced[o++] = c;
    }
    if (o && need_name)
        return -1;
    d->announced[o] = '\0';
    return 0;
}

static int announced(const vodup_chunked *d, const char *name)
{
    size_t n = strlen(name);
    for (const char *p = d->announced; *p;) {
        const char *comma = strchr(p, ',');
        size_t len = comma ? (size_t)(comma - p) : strlen(p);
        if (len == n && memcmp(p, name, n) == 0)
            return 1;
        if (!comma)
            break;
        p = comma + 1;
    }
    return 0;
}

int vodup_chunked_init(vodup_chunked *d, const vodup_s3_auth *a, const unsigned char key[32],
                       const char *x_amz_trailer, const char *decoded_length)
{
    memset(d, 0, sizeof *d);
    d->state = ST_SIZE;
    d->mode = a->payload;
    if (d->mode != VODUP_S3_PAYLOAD_STREAMING && d->mode != VODUP_S3_PAYLOAD_STREAMING_TRAILER &&
        d->mode != VODUP_S3_PAYLOAD_UNSIGNED_TRAILER)
        return d->err = VODUP_CHUNKED_EFORMAT;
    if (parse_u64(decoded_length, &d->decoded_length) < 0)
        return d->err = VODUP_CHUNKED_ELENGTH;
    if (x_amz_trailer && (!has_trailers(d) || set_announced(d, x_amz_trailer) < 0))
        return d->err = VODUP_CHUNKED_ETRAILER;
    if (is_signed(d)) {
        if (!key || a->kind == VODUP_S3_AUTH_NONE)
            return d->err = VODUP_CHUNKED_ESIGNATURE;
        memcpy(d->key, key, 32);
        memcpy(d->amz_date, a->amz_date, sizeof d->amz_date);
        vodup_s3_scope(d->scope, sizeof d->scope, a);
        memcpy(d->prev_sig, a->signature, sizeof d->prev_sig);
        d->sha = vodup_sha256_new();
        if (!d->sha)
            return d->err = VODUP_CHUNKED_ENOMEM;
    }
    return 0;
}

void vodup_chunked_free(vodup_chunked *d)
{
    if (d->sha)
        vodup_sha256_free(d->sha);
    d->sha = NULL;
    vbuf_free(&d->trailer_canon);
    OPENSSL_cleanse(d->key, sizeof d->key);
}

/* ---- lines ------------------------------------------------------------------ */

static int size_line(vodup_chunked *d)
{
    const char *s = d->line;
    size_t n = d->line_len, i = 0;
    uint64_t size = 0;
    while (i < n && vodup_hex_digit(s[i]) >= 0) {
        if (i >= 16)
            return VODUP_CHUNKED_EFORMAT;
        size = size << 4 | (uint64_t)vodup_hex_digit(s[i]);
        i++;
    }
    if (i == 0)
        return VODUP_CHUNKED_EFORMAT;
    if (is_signed(d)) {
        size_t el = strlen(SIG_EXT);
        if (n - i != el + 64 || memcmp(s + i, SIG_EXT, el) != 0 ||
            !vodup_v4_is_hex64(s + i + el, 64))
            return VODUP_CHUNKED_EFORMAT;
        memcpy(d->chunk_sig, s + i + el, 64);
        d->chunk_sig[64] = '\0';
    } else if (i != n) {
        return VODUP_CHUNKED_EFORMAT;
    }
    if (++d->chunks > VODUP_CHUNKED_MAX_CHUNKS)
        return VODUP_CHUNKED_ELIMIT;
    if (size > d->decoded_length - d->decoded)
        return VODUP_CHUNKED_ELENGTH;
    d->remaining = size;
    if (size > 0) {
        d->state = ST_DATA;
        return 0;
    }
    /* the final chunk */
    if (d->decoded != d->decoded_length)
        return VODUP_CHUNKED_ELENGTH;
    if (is_signed(d)) {
        char want[65];
        vodup_chunked_sign_chunk(want, d->key, d->amz_date, d->scope, d->prev_sig, "", 0);
        if (!vodup_ct_equal(want, 64, d->chunk_sig, 64))
            return VODUP_CHUNKED_ESIGNATURE;
        memcpy(d->prev_sig, d->chunk_sig, sizeof d->prev_sig);
    }
    d->state = ST_TRAILER;
    return 0;
}

static void trim(const char **p, size_t *n)
{
    while (*n && (**p == ' ' || **p == '\t')) {
        (*p)++;
        (*n)--;
    }
    while (*n && ((*p)[*n - 1] == ' ' || (*p)[*n - 1] == '\t'))
        (*n)--;
}

static int trailer_end(vodup_chunked *d)
{
    if (d->mode == VODUP_S3_PAYLOAD_STREAMING_TRAILER && !d->trailer_signed)
        return VODUP_CHUNKED_ETRAILER;
    /* every announced trailer came */
    for (const char *p = d->announced; *p;) {
        const char *comma = strchr(p, ',');
        size_t len = comma ? (size_t)(comma - p) : strlen(p);
        int found = 0;
        for (size_t i = 0; i < d->ntrailers; i++)
            if (strlen(d->trailers[i].name) == len && memcmp(d->trailers[i].name, p, len) == 0)
                found = 1;
        if (!found)
            return VODUP_CHUNKED_ETRAILER;
        if (!comma)
            break;
        p = comma + 1;
    }
    d->state = ST_DONE;
    return 0;
}

static int trailer_line(vodup_chunked *d)
{
    if (d->line_len == 0)
        return trailer_end(d);
    if (!has_trailers(d) || d->trailer_signed)
        return VODUP_CHUNKED_ETRAILER; /* none expected, or one after the signature */
    d->trailer_bytes += d->line_len + 2;
    if (d->trailer_bytes > VODUP_CHUNKED_MAX_TRAILER_BYTES)
        return VODUP_CHUNKED_ELIMIT;
    const char *colon = memchr(d->line, ':', d->line_len);
    if (!colon || colon == d->line)
        return VODUP_CHUNKED_EFORMAT;
    size_t nlen = (size_t)(colon - d->line);
    const char *v = colon + 1;
    size_t vlen = d->line_len - nlen - 1;
    char name[64];
    if (nlen >= sizeof name)
        return VODUP_CHUNKED_ETRAILER;
    for (size_t i = 0; i < nlen; i++) {
        char c = d->line[i];
        name[i] = c >= 'A' && c <= 'Z' ? (char)(c - 'A' + 'a') : c;
    }
    name[nlen] = '\0';
    if (strcmp(name, TRAILER_SIG) == 0) {
        if (d->mode != VODUP_S3_PAYLOAD_STREAMING_TRAILER)
            return VODUP_CHUNKED_ETRAILER;
        trim(&v, &vlen);
        if (!vodup_v4_is_hex64(v, vlen))
            return VODUP_CHUNKED_EFORMAT;
        char want[65];
        vodup_chunked_sign_trailer(want, d->key, d->amz_date, d->scope, d->prev_sig,
                                   vbuf_cstr(&d->trailer_canon), d->trailer_canon.len);
        if (!vodup_ct_equal(want, 64, v, 64))
            return VODUP_CHUNKED_ESIGNATURE;
        d->trailer_signed = 1;
        return 0;
    }
    if (!announced(d, name))
        return VODUP_CHUNKED_ETRAILER;
    for (size_t i = 0; i < d->ntrailers; i++)
        if (strcmp(d->trailers[i].name, name) == 0)
            return VODUP_CHUNKED_ETRAILER;
    if (d->ntrailers == VODUP_CHUNKED_MAX_TRAILERS)
        return VODUP_CHUNKED_ELIMIT;
    /* The signed block is the line as sent; the value kept is trimmed. */
    vbuf_append(&d->trailer_canon, d->line, d->line_len);
    vbuf_putc(&d->trailer_canon, '\n');
    if (d->trailer_canon.oom)
        return VODUP_CHUNKED_ENOMEM;
    trim(&v, &vlen);
    vodup_chunked_trailer *t = &d->trailers[d->ntrailers];
    if (vlen >= sizeof t->value)
        return VODUP_CHUNKED_ELIMIT;
    memcpy(t->name, name, nlen + 1);
    memcpy(t->value, v, vlen);
    t->value[vlen] = '\0';
    d->ntrailers++;
    return 0;
}

/* ---- feeding ------------------------------------------------------------------ */

/* Takes bytes of a CRLF-terminated line from *p; 1 when the line is complete (in
 * d->line, without CRLF), 0 when more input is needed, negative on error. A bare LF, a
 * CR not before LF, a NUL, or a line longer than the limit is an error. */
static int take_line(vodup_chunked *d, const unsigned char **p, const unsigned char *end)
{
    while (*p < end) {
        unsigned char c = *(*p)++;
        if (c == '\n') {
            if (d->line_len == 0 || d->line[d->line_len - 1] != '\r')
                return VODUP_CHUNKED_EFORMAT;
            d->line_len--;
            d->line[d->line_len] = '\0';
            return 1;
        }
        if (c == '\0' || (d->line_len && d->line[d->line_len - 1] == '\r'))
            return VODUP_CHUNKED_EFORMAT;
        /* +1: room for the CR that precedes LF */
        if (d->line_len >= VODUP_CHUNKED_MAX_LINE)
            return VODUP_CHUNKED_ELIMIT;
        d->line[d->line_len++] = (char)c;
    }
    return 0;
}

static int end_of_data(vodup_chunked *d)
{
    if (is_signed(d)) {
        unsigned char h[32];
        char want[65];
        vodup_sha256_final(d->sha, h);
        vodup_chunked_sign_chunk_hash(want, d->key, d->amz_date, d->scope, d->prev_sig, h);
        if (!vodup_ct_equal(want, 64, d->chunk_sig, 64))
            return VODUP_CHUNKED_ESIGNATURE;
        memcpy(d->prev_sig, d->chunk_sig, sizeof d->prev_sig);
    }
    d->state = ST_DATA_CRLF;
    d->crlf = 0;
    return 0;
}

int vodup_chunked_feed(vodup_chunked *d, const void *in, size_t n, vodup_chunked_sink sink,
                       void *ctx)
{
    const unsigned char *p = in, *end = p + n;
    if (d->err)
        return d->err;
    int rc = 0;
    while (p < end && rc == 0) {
        switch (d->state) {
        case ST_SIZE:
        case ST_TRAILER:
            rc = take_line(d, &p, end);
            if (rc == 1) {
                rc = d->state == ST_SIZE ? size_line(d) : trailer_line(d);
                d->line_len = 0;
            }
            break;
        case ST_DATA: {
            size_t take = (size_t)(end - p) < d->remaining ? (size_t)(end - p) : (size_t)d->remaining;
            if (d->sha)
                vodup_sha256_update(d->sha, p, take);
            if (sink && sink(ctx, p, take) != 0)
                rc = VODUP_CHUNKED_ESINK;
            p += take;
            d->remaining -= take;
            d->decoded += take;
            if (rc == 0 && d->remaining == 0)
                rc = end_of_data(d);
            break;
        }
        case ST_DATA_CRLF:
            if (*p++ != (d->crlf == 0 ? '\r' : '\n'))
                rc = VODUP_CHUNKED_EFORMAT;
            else if (++d->crlf == 2)
                d->state = ST_SIZE;
            break;
        default: /* ST_DONE: nothing may follow the final empty line */
            rc = VODUP_CHUNKED_EFORMAT;
            break;
        }
    }
    if (rc < 0)
        d->err = rc;
    return rc < 0 ? rc : 0;
}

int vodup_chunked_finish(vodup_chunked *d)
{
    if (d->err)
        return d->err;
    if (d->state != ST_DONE)
        return d->err = VODUP_CHUNKED_ETRUNCATED;
    return 0;
}

const char *vodup_chunked_get_trailer(const vodup_chunked *d, const char *name)
{
    if (d->state != ST_DONE || d->err)
        return NULL;
    for (size_t i = 0; i < d->ntrailers; i++)
        if (strcasecmp(d->trailers[i].name, name) == 0)
            return d->trailers[i].value;
    return NULL;
}

void vodup_chunked_error(int rc, const char **code, int *status, const char **message)
{
    *status = 400;
    switch (rc) {
    case VODUP_CHUNKED_ESIGNATURE:
        *code = "SignatureDoesNotMatch";
        *status = 403;
        *message = "The chunk signature we calculated does not match the signature you provided.";
        break;
    case VODUP_CHUNKED_ELENGTH:
        *code = "IncompleteBody";
        *message = "The decoded body does not have the length x-amz-decoded-content-length gives.";
        break;
    case VODUP_CHUNKED_ETRUNCATED:
        *code = "IncompleteBody";
        *message = "The aws-chunked body ended before its final chunk.";
        break;
    case VODUP_CHUNKED_ETRAILER:
        *code = "MalformedTrailerError";
        *message = "The trailers do not match x-amz-trailer, or their signature is missing.";
        break;
    case VODUP_CHUNKED_ELIMIT:
        *code = "InvalidRequest";
        *message = "An aws-chunked line, the number of chunks or the trailers exceed vodupd's limits.";
        break;
    case VODUP_CHUNKED_ENOMEM:
    case VODUP_CHUNKED_ESINK:
        *code = "InternalError";
        *status = 500;
        *message = "We encountered an internal error. Please try again.";
        break;
    default:
        *code = "InvalidRequest";
        *message = "The aws-chunked body is malformed.";
        break;
    }
}
