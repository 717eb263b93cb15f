/* fuzz_xml.c - the XML request-body reader and the escaping writer.
 *
 * The input is parsed twice: with small limits (so the limit paths are reached) and
 * with the defaults. A tree that comes back is walked both structurally (parent links,
 * depth and node count within the limits) and the way the handlers read it
 * (vodup_xml_child / vodup_xml_next, as CompleteMultipartUpload does). Then the input
 * is escaped, checked for length, and when it is plain printable text, wrapped in an
 * element and parsed back: the text must come back unchanged.
 */
#include "fuzz.h"

#include "common/xml.h"

static void walk(const vodup_xml_node *root, const vodup_xml_limits *lim)
{
    size_t nodes = 0, depth = 1, max_depth = 0;
    FUZZ_CHECK(root->parent == NULL && root->next == NULL);
    const vodup_xml_node *n = root;
    while (n) {
        nodes++;
        if (depth > max_depth)
            max_depth = depth;
        FUZZ_CHECK(n->name != NULL && n->name[0] != '\0');
        FUZZ_CHECK(n->text != NULL && n->text[n->text_len] == '\0');
        FUZZ_CHECK(strlen(n->text) == n->text_len); /* XML text cannot hold NUL */
        /* Lookups by name agree with the structure. */
        if (n->first_child) {
            FUZZ_CHECK(n->first_child->parent == n);
            FUZZ_CHECK(vodup_xml_child(n, n->first_child->name) == n->first_child);
        }
        const vodup_xml_node *same = vodup_xml_next(n, n->name);
        FUZZ_CHECK(same == NULL || (same->parent == n->parent && strcmp(same->name, n->name) == 0));
        /* Pre-order: child, else next sibling, else the next sibling of an ancestor. */
        if (n->first_child) {
            n = n->first_child;
            depth++;
            continue;
        }
        while (n && !n->next) {
            n = n->parent;
            depth--;
        }
        if (n) {
            FUZZ_CHECK(n->next->parent == n->parent);
            n = n->next;
        }
    }
    FUZZ_CHECK(depth == 0);
    if (lim) {
        FUZZ_CHECK(nodes <= lim->max_nodes);
        FUZZ_CHECK(max_depth <= lim->max_depth);
    }
}

/* What the CompleteMultipartUpload handler reads. */
static void read_parts(const vodup_xml_node *root)
{
    size_t count = 0;
    for (const vodup_xml_node *p = vodup_xml_child(root, "Part"); p; p = vodup_xml_next(p, "Part")) {
        const vodup_xml_node *num = vodup_xml_child(p, "PartNumber");
        const vodup_xml_node *etag = vodup_xml_child(p, "ETag");
        if (num)
            FUZZ_CHECK(num->parent == p);
        if (etag)
            FUZZ_CHECK(strlen(etag->text) == etag->text_len);
        count++;
    }
    (void)count;
    FUZZ_CHECK(vodup_xml_child(NULL, "Part") == NULL && vodup_xml_next(NULL, "Part") == NULL);
}

static void parse_and_walk(const char *p, size_t n, const vodup_xml_limits *lim)
{
    vodup_xml_node *root = (vodup_xml_node *)p; /* must be overwritten */
    int rc = vodup_xml_parse(&root, p, n, lim);
    FUZZ_CHECK(rc == VODUP_XML_OK || rc == VODUP_XML_EMALFORMED || rc == VODUP_XML_ELIMIT ||
               rc == VODUP_XML_ENOMEM);
    if (rc != VODUP_XML_OK) {
        FUZZ_CHECK(root == NULL);
        return;
    }
    FUZZ_CHECK(root != NULL);
    walk(root, lim);
    read_parts(root);
    vodup_xml_free(root);
}

static int plain_text(const char *s, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        if (!(c >= 0x20 && c < 0x7f) && c != '\t' && c != '\n')
            return 0;
    }
    return 1;
}

static void escape(const char *s, size_t n)
{
    vbuf out = VBUF_INIT;
    FUZZ_CHECK(vodup_xml_escape(&out, s, n) == 0);
    size_t extra = 0;
    for (size_t i = 0; i < n; i++) {
        switch (s[i]) {
        case '&': extra += 4; break;
        case '<': case '>': extra += 3; break;
        case '"': case '\'': extra += 5; break;
        default: break;
        }
    }
    FUZZ_CHECK(out.len == n + extra);
    FUZZ_CHECK(out.data != NULL && out.data[out.len] == '\0');
    for (size_t i = 0; i < out.len; i++)
        FUZZ_CHECK(out.data[i] != '<' && out.data[i] != '>' && out.data[i] != '"' &&
                   out.data[i] != '\'');

    if (plain_text(s, n)) {
        vbuf doc = VBUF_INIT;
        FUZZ_CHECK(vodup_xml_elem(&doc, "T", s, n) == 0);
        vodup_xml_node *root;
        FUZZ_CHECK(vodup_xml_parse(&root, doc.data, doc.len, NULL) == VODUP_XML_OK);
        FUZZ_CHECK(strcmp(root->name, "T") == 0 && root->first_child == NULL);
        FUZZ_CHECK(root->text_len == n && memcmp(root->text, s, n) == 0);
        vodup_xml_free(root);
        vbuf_free(&doc);
    }
    vbuf_free(&out);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const char *s = (const char *)data;
    static const vodup_xml_limits small = {1024, 4, 24};
    parse_and_walk(s, size, &small);
    parse_and_walk(s, size, NULL);
    escape(s, size);
    return 0;
}
