/* buf.c - the growable byte buffer behind every canonical string and XML body.
 *
 * Failure is sticky (b->oom) so that long chains of appends need one check at the end
 * instead of one per call. Capacity doubles, so n appends cost O(n) copies overall, and
 * one byte is always reserved for the terminating NUL, which lets callers hand
 * vbuf_cstr() to string functions at any point.
 */
#include "common/buf.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void vbuf_init(vbuf *b)
{
    b->data = NULL;
    b->len = 0;
    b->cap = 0;
    b->oom = 0;
}

void vbuf_free(vbuf *b)
{
    free(b->data);
    vbuf_init(b);
}

void vbuf_reset(vbuf *b)
{
    b->len = 0;
    if (b->data)
        b->data[0] = '\0';
}

/* Makes room for extra more bytes plus the NUL. */
static int vbuf_reserve(vbuf *b, size_t extra)
{
    if (b->oom)
        return -1;
    if (extra > SIZE_MAX - b->len - 1) {
        b->oom = 1;
        return -1;
    }
    size_t need = b->len + extra + 1;
    if (need <= b->cap)
        return 0;
    size_t cap = b->cap ? b->cap : 64;
    while (cap < need)
        cap = cap > SIZE_MAX / 2 ? need : cap * 2;
    char *p = realloc(b->data, cap);
    if (!p) {
        b->oom = 1;
        return -1;
    }
    b->data = p;
    b->cap = cap;
    return 0;
}

int vbuf_append(vbuf *b, const void *p, size_t n)
{
    if (vbuf_reserve(b, n) < 0)
        return -1;
    if (n)
        memcpy(b->data + b->len, p, n);
    b->len += n;
    b->data[b->len] = '\0';
    return 0;
}

int vbuf_puts(vbuf *b, const char *s)
{
    return vbuf_append(b, s, strlen(s));
}

int vbuf_putc(vbuf *b, char c)
{
    return vbuf_append(b, &c, 1);
}

int vbuf_vprintf(vbuf *b, const char *fmt, va_list ap)
{
    if (b->oom)
        return -1;
    va_list ap2;
    va_copy(ap2, ap);
    int n = vsnprintf(NULL, 0, fmt, ap2);
    va_end(ap2);
    if (n < 0 || vbuf_reserve(b, (size_t)n) < 0) {
        b->oom = 1;
        return -1;
    }
    vsnprintf(b->data + b->len, (size_t)n + 1, fmt, ap);
    b->len += (size_t)n;
    return 0;
}

int vbuf_printf(vbuf *b, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    int rc = vbuf_vprintf(b, fmt, ap);
    va_end(ap);
    return rc;
}

const char *vbuf_cstr(const vbuf *b)
{
    return b->data ? b->data : "";
}

char *vbuf_steal(vbuf *b)
{
    char *p = b->data;
    if (!p)
        p = calloc(1, 1);
    vbuf_init(b);
    return p;
}
