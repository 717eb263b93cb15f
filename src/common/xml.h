/* xml.h - reading small XML request bodies (expat) into a tree, and escaping for writing.
 *
 * Request bodies such as CompleteMultipartUpload come from the network: the reader
 * enforces limits on size, depth and node count, and refuses DTDs and entities outright
 * (no entity expansion, no external fetches).
 */
#ifndef VODUP_COMMON_XML_H
#define VODUP_COMMON_XML_H

#include <stddef.h>
#include "common/buf.h"

typedef struct vodup_xml_node {
    char *name;                     /* element name, namespace prefix kept as written */
    char *text;                     /* concatenated character data directly inside, NUL-terminated ("" if none) */
    size_t text_len;
    struct vodup_xml_node *parent;
    struct vodup_xml_node *first_child;
    struct vodup_xml_node *next;    /* next sibling */
} vodup_xml_node;

typedef struct vodup_xml_limits {
    size_t max_bytes;   /* whole document */
    size_t max_depth;
    size_t max_nodes;
} vodup_xml_limits;

enum {
    VODUP_XML_OK = 0,
    VODUP_XML_EMALFORMED = -1,  /* not well-formed, or has a DOCTYPE/entity declaration */
    VODUP_XML_ELIMIT = -2,      /* a limit was exceeded */
    VODUP_XML_ENOMEM = -3
};

/* Parses p[0..n) into *root (the document element). Caller frees with vodup_xml_free.
 * lim may be NULL for defaults (1 MiB, depth 16, 100000 nodes). */
int vodup_xml_parse(vodup_xml_node **root, const char *p, size_t n, const vodup_xml_limits *lim);
void vodup_xml_free(vodup_xml_node *root);

/* First child of n named name, or NULL. */
const vodup_xml_node *vodup_xml_child(const vodup_xml_node *n, const char *name);
/* Next sibling after n with the same name as name, or NULL. */
const vodup_xml_node *vodup_xml_next(const vodup_xml_node *n, const char *name);

/* Appends s[0..n) with & < > " ' escaped. */
int vodup_xml_escape(vbuf *out, const char *s, size_t n);
/* Appends <name>escaped text</name>. */
int vodup_xml_elem(vbuf *out, const char *name, const char *text, size_t n);

#endif
