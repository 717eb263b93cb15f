/* xml.c - the XML both object dialects spell alike (xml.h). */
#include "server/core/xml.h"

#include <stdlib.h>
#include <string.h>

#include "common/codec.h"
#include "common/digest.h"
#include "common/xml.h"
#include "server/config.h"
#include "server/core/ops.h"

void core_xml_key(vbuf *b, const char *elem, const char *key, size_t n, int url)
{
    if (!url) {
        vodup_xml_elem(b, elem, key, n);
        return;
    }
    vbuf enc = VBUF_INIT;
    vodup_uri_encode(&enc, key, n, 1);
    vodup_xml_elem(b, elem, vbuf_cstr(&enc), enc.len);
    vbuf_free(&enc);
}

void core_xml_common_prefix(vbuf *b, const core_list_entry *e, int url)
{
    vbuf_puts(b, "<CommonPrefixes>");
    core_xml_key(b, "Prefix", e->prefix, e->prefix_len, url);
    vbuf_puts(b, "</CommonPrefixes>");
}

void core_xml_token(vbuf *b, const core_list_result *res)
{
    vbuf tok = VBUF_INIT;
    core_list_token(&tok, res);
    vodup_xml_elem(b, "NextContinuationToken", vbuf_cstr(&tok), tok.len);
    vbuf_free(&tok);
}

int core_url_encoding(const char *value)
{
    if (!value || !*value)
        return 0;
    return strcmp(value, "url") == 0 ? 1 : -1;
}

int core_delete_body_parse(core_delete_body *out, const char *body, size_t len, const char **why)
{
    memset(out, 0, sizeof *out);
    *why = "The XML you provided was not well-formed or did not validate against our published schema.";
    vodup_xml_node *root = NULL;
    /* Delete, Quiet, and per object Object, Key, VersionId: room for one more object than
     * allowed, so that too many keys is told apart from a document that is not one */
    vodup_xml_limits lim = {VODUPD_MAX_XML_BODY, 8, 3 * (CORE_DELETE_MAX_KEYS + 1) + 8};
    int rc = len ? vodup_xml_parse(&root, body, len, &lim) : VODUP_XML_EMALFORMED;
    if (rc == VODUP_XML_ENOMEM)
        return -2;
    if (rc == VODUP_XML_ELIMIT) {
        *why = "The request lists more than 1000 keys, or is larger than a Delete request can be.";
        return -1;
    }
    if (rc != VODUP_XML_OK || strcmp(root->name, "Delete") != 0) {
        vodup_xml_free(root);
        return -1;
    }
    out->tree = root;
    const vodup_xml_node *quiet = vodup_xml_child(root, "Quiet");
    if (quiet) {
        if (strcmp(quiet->text, "true") == 0)
            out->quiet = 1;
        else if (strcmp(quiet->text, "false") != 0)
            return -1;
    }
    size_t n = 0;
    for (const vodup_xml_node *o = vodup_xml_child(root, "Object"); o; o = vodup_xml_next(o, "Object"))
        n++;
    if (n == 0 || n > CORE_DELETE_MAX_KEYS) {
        *why = n ? "The request lists more than 1000 keys." : "The request lists no keys.";
        return -1;
    }
    if (!(out->items = calloc(n, sizeof *out->items)))
        return -2;
    for (const vodup_xml_node *o = vodup_xml_child(root, "Object"); o; o = vodup_xml_next(o, "Object")) {
        const vodup_xml_node *k = vodup_xml_child(o, "Key");
        if (!k || !k->text_len) {
            *why = "Each Object needs a Key.";
            return -1;
        }
        out->items[out->n].key = k->text;
        out->items[out->n].key_len = k->text_len;
        out->n++;
    }
    return 0;
}

void core_delete_body_clear(core_delete_body *b)
{
    free(b->items);
    vodup_xml_free(b->tree);
    memset(b, 0, sizeof *b);
}

int core_md5_check(const char *content_md5, const char *body, size_t len)
{
    unsigned char want[64], got[16];
    size_t n = strlen(content_md5);
    if (n > 80 || vodup_base64_decode(want, content_md5, n) != 16)
        return -1;
    vodup_md5(got, body ? body : "", len);
    return memcmp(want, got, 16) == 0;
}
