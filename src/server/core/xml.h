/* xml.h - the XML the two object dialects (OSS, S3) spell alike: keys (url-encoded on
 * request), a listing's common prefixes, and the DeleteObjects request body. The core's
 * calls know no wire format (core.h); these pieces sit beside them so that neither
 * dialect keeps a copy of the other's. */
#ifndef VODUPD_CORE_XML_H
#define VODUPD_CORE_XML_H

#include <stddef.h>

#include "common/buf.h"
#include "server/core/ops.h"

/* <elem>key</elem>, the key url-encoded (encoding-type=url) when url is set. */
void core_xml_key(vbuf *b, const char *elem, const char *key, size_t n, int url);
/* <CommonPrefixes><Prefix>...</Prefix></CommonPrefixes> for a listing's prefix entry. */
void core_xml_common_prefix(vbuf *b, const core_list_entry *e, int url);
/* <NextContinuationToken> of a truncated page (core_list_token). */
void core_xml_token(vbuf *b, const core_list_result *res);
/* encoding-type: 1 for "url", 0 when absent or empty, -1 for any other value. */
int core_url_encoding(const char *value);

/* A DeleteObjects body: <Delete><Quiet>true</Quiet><Object><Key>k</Key>...</Object>...
 * </Delete>, the same in both dialects. */
typedef struct core_delete_body {
    int quiet;
    core_delete_item *items;    /* malloc'd, n of them; keys point into the parsed tree */
    size_t n;
    void *tree;                 /* the parsed document the keys live in */
} core_delete_body;
/* Parses body into out: 0; -1 not the document (*why: a static message), more than
 * CORE_DELETE_MAX_KEYS keys or none (*why says so); -2 out of memory. Release with
 * core_delete_body_clear (also after a failure). */
int core_delete_body_parse(core_delete_body *out, const char *body, size_t len, const char **why);
void core_delete_body_clear(core_delete_body *b);
/* Checks a Content-MD5 value (base64 of 16 bytes) against body: 1 matches, 0 differs,
 * -1 not a Content-MD5 value. */
int core_md5_check(const char *content_md5, const char *body, size_t len);

#endif
