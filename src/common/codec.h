/* codec.h - base64, hex and percent-encoding as the OSS, VOD and S3 wire formats use them. */
#ifndef VODUP_COMMON_CODEC_H
#define VODUP_COMMON_CODEC_H

#include <stddef.h>
#include <stdint.h>
#include "common/buf.h"

/* Standard alphabet, padded, no line breaks. */
int vodup_base64_encode(vbuf *out, const void *in, size_t n);
/* Strict decode (standard alphabet, padding required, no whitespace). Returns decoded
 * length, or -1 on malformed input. out must hold at least n/4*3 bytes. */
long vodup_base64_decode(unsigned char *out, const char *in, size_t n);

/* Hex of n bytes into out (2n chars + NUL). */
/* The value of hex digit c (either case), or -1. */
int vodup_hex_digit(char c);
void vodup_hex_lower(char *out, const unsigned char *in, size_t n);
void vodup_hex_upper(char *out, const unsigned char *in, size_t n);

/* RFC 3986 percent-encoding: unreserved A-Z a-z 0-9 - _ . ~ pass, everything else %XX
 * (upper-case hex). keep_slash: '/' passes too (canonical URIs). */
int vodup_uri_encode(vbuf *out, const char *in, size_t n, int keep_slash);

/* Percent-decoding. plus_is_space: '+' decodes to ' ' (form bodies), otherwise it stays.
 * Appends to out. Returns 0, or -1 on a malformed escape (a '%' not followed by two hex
 * digits). *has_nul (may be NULL) is set when a %00 was decoded. */
int vodup_uri_decode(vbuf *out, const char *in, size_t n, int plus_is_space, int *has_nul);

#endif
