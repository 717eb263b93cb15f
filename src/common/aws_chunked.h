/* aws_chunked.h - a streaming decoder for S3's aws-chunked bodies:
 *   STREAMING-AWS4-HMAC-SHA256-PAYLOAD          signed chunks
 *   STREAMING-AWS4-HMAC-SHA256-PAYLOAD-TRAILER  signed chunks, trailers, trailer signature
 *   STREAMING-UNSIGNED-PAYLOAD-TRAILER          plain chunks, trailers
 *
 * It is fed the body in slices of any size (as they come off the socket) and hands the
 * decoded bytes to a sink as it goes; it never holds more than one framing line. A
 * chunk's signature can only be checked after its last byte, so bytes given to the
 * sink are provisional until vodup_chunked_finish returns 0: the caller writes them
 * where a failed request leaves no trace (the object is committed only after finish).
 * The chunk signing functions are the ones a client (libvodup) uses to produce a body.
 */
#ifndef VODUP_COMMON_AWS_CHUNKED_H
#define VODUP_COMMON_AWS_CHUNKED_H

#include <stddef.h>
#include <stdint.h>
#include "common/buf.h"
#include "common/digest.h"
#include "common/sigv4.h"

#define VODUP_CHUNKED_MAX_LINE 256            /* one chunk-size or trailer line, CRLF excluded */
#define VODUP_CHUNKED_MAX_CHUNKS (1u << 20)   /* 5 GiB in 8 KiB chunks is 655360 */
#define VODUP_CHUNKED_MAX_TRAILER_BYTES 1024  /* all trailer lines together */
#define VODUP_CHUNKED_MAX_TRAILERS 8

enum {
    VODUP_CHUNKED_OK = 0,
    VODUP_CHUNKED_EFORMAT = -1,    /* framing malformed (400 InvalidRequest) */
    VODUP_CHUNKED_ESIGNATURE = -2, /* a chunk or trailer signature does not match (403) */
    VODUP_CHUNKED_ELENGTH = -3,    /* x-amz-decoded-content-length missing, malformed or not
                                      what the chunks add up to (400 IncompleteBody) */
    VODUP_CHUNKED_ELIMIT = -4,     /* a line, the chunk count or the trailers too large (400) */
    VODUP_CHUNKED_ETRAILER = -5,   /* a trailer not announced by x-amz-trailer, repeated,
                                      missing, or unsigned (400 MalformedTrailerError) */
    VODUP_CHUNKED_ETRUNCATED = -6, /* the body ended before the final chunk (400 IncompleteBody) */
    VODUP_CHUNKED_ESINK = -7,      /* the sink refused the data */
    VODUP_CHUNKED_ENOMEM = -8
};

typedef int (*vodup_chunked_sink)(void *ctx, const void *p, size_t n); /* 0 ok */

typedef struct vodup_chunked_trailer {
    char name[64];      /* lower case */
    char value[128];    /* trimmed */
} vodup_chunked_trailer;

typedef struct vodup_chunked {
    int mode;                       /* VODUP_S3_PAYLOAD_STREAMING* / _UNSIGNED_TRAILER */
    int state;
    int err;                        /* sticky: once failed, always failed */
    unsigned char key[32];          /* the SigV4 signing key (signed modes) */
    char amz_date[17];
    char scope[160];
    char prev_sig[65];              /* seed: the request's signature */
    char chunk_sig[65];             /* as sent for the chunk being read */
    vodup_sha256_ctx *sha;          /* over the chunk being read */
    uint64_t remaining;             /* bytes of the current chunk still to come */
    uint64_t decoded;               /* decoded bytes so far */
    uint64_t decoded_length;        /* x-amz-decoded-content-length */
    uint32_t chunks;
    int crlf;                       /* bytes of a CRLF after data already seen */
    char line[VODUP_CHUNKED_MAX_LINE + 1];
    size_t line_len;
    char announced[256];            /* x-amz-trailer, lower case, ',' separated, no spaces */
    vbuf trailer_canon;             /* "name:value\n" per trailer: what the trailer signs */
    size_t trailer_bytes;
    vodup_chunked_trailer trailers[VODUP_CHUNKED_MAX_TRAILERS];
    size_t ntrailers;
    int trailer_signed;
} vodup_chunked;

/* Sets up d for the request authenticated by a (a->payload one of the STREAMING modes;
 * a->signature seeds the chain), key the signing key from vodup_s3_verify (NULL allowed
 * for the unsigned mode), x_amz_trailer and decoded_length the header values (trailer
 * may be NULL; decoded_length is required). */
int vodup_chunked_init(vodup_chunked *d, const vodup_s3_auth *a, const unsigned char key[32],
                       const char *x_amz_trailer, const char *decoded_length);
/* Decodes in[0..n), passing data to sink. 0, or a negative error (sticky). */
int vodup_chunked_feed(vodup_chunked *d, const void *in, size_t n, vodup_chunked_sink sink,
                       void *ctx);
/* At the end of the body: 0 when the final chunk and trailers were complete and every
 * signature and the decoded length matched; else an error. */
int vodup_chunked_finish(vodup_chunked *d);
/* A trailer's value after finish ("x-amz-checksum-crc32", any case), or NULL. */
const char *vodup_chunked_get_trailer(const vodup_chunked *d, const char *name);
void vodup_chunked_free(vodup_chunked *d);

/* The S3 error of rc: code, HTTP status, message. */
void vodup_chunked_error(int rc, const char **code, int *status, const char **message);

/* Signing (shared by the decoder and the client): the signature of a chunk (data may be
 * empty: the final chunk) and of the trailer block ("name:value\n"...), chained on prev. */
void vodup_chunked_sign_chunk(char out[65], const unsigned char key[32], const char *amz_date,
                              const char *scope, const char *prev, const void *data, size_t n);
void vodup_chunked_sign_chunk_hash(char out[65], const unsigned char key[32],
                                   const char *amz_date, const char *scope, const char *prev,
                                   const unsigned char sha256[32]);
void vodup_chunked_sign_trailer(char out[65], const unsigned char key[32], const char *amz_date,
                                const char *scope, const char *prev, const void *canon,
                                size_t n);

#endif
