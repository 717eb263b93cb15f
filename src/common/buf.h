/* buf.h - a growable byte buffer, always NUL-terminated.
 *
 * Every writer appends; on allocation failure the buffer turns "failed" (b->oom = 1),
 * later appends do nothing, and the caller checks once at the end. This keeps the many
 * small appends of XML and canonical-string builders free of error plumbing.
 */
#ifndef VODUP_COMMON_BUF_H
#define VODUP_COMMON_BUF_H

#include <stdarg.h>
#include <stddef.h>

typedef struct vbuf {
    char *data;   /* NUL-terminated when len > 0 or after any append; may be NULL when empty */
    size_t len;
    size_t cap;
    int oom;      /* sticky: an allocation failed */
} vbuf;

#define VBUF_INIT {NULL, 0, 0, 0}

void vbuf_init(vbuf *b);
void vbuf_free(vbuf *b);
void vbuf_reset(vbuf *b);                                /* len = 0, keeps memory */
int vbuf_append(vbuf *b, const void *p, size_t n);       /* 0 ok, -1 oom */
int vbuf_puts(vbuf *b, const char *s);
int vbuf_putc(vbuf *b, char c);
int vbuf_printf(vbuf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
int vbuf_vprintf(vbuf *b, const char *fmt, va_list ap) __attribute__((format(printf, 2, 0)));
const char *vbuf_cstr(const vbuf *b);                    /* "" when empty */
char *vbuf_steal(vbuf *b);                               /* caller frees; buffer becomes empty */

#endif
