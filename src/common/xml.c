/* xml.c - small XML request bodies into a tree, and escaping for responses.
 *
 * expat does the parsing; this file only builds the tree and keeps hostile input in
 * check. DTDs are refused at the DOCTYPE itself (so no entity can ever be declared,
 * expanded or fetched), and the size, depth and node-count limits are enforced while
 * parsing so that a huge body is rejected before it has been turned into a huge tree.
 */
#include "common/xml.h"

#include <expat.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>

#define XML_DEFAULT_MAX_BYTES (1024 * 1024)
#define XML_DEFAULT_MAX_DEPTH 16
#define XML_DEFAULT_MAX_NODES 100000

typedef struct parse_state {
    XML_Parser parser;
    vodup_xml_limits lim;
    vodup_xml_node *root;
    vodup_xml_node *cur;      /* innermost open element */
    vodup_xml_node **tail;    /* where cur's next child goes */
    size_t depth;
    size_t nodes;
    vbuf text;                /* character data of cur, collected until it closes */
    vbuf *text_stack;         /* saved text of the enclosing elements */
    int err;
} parse_state;

static void fail(parse_state *st, int err)
{
    if (!st->err)
        st->err = err;
    XML_StopParser(st->parser, XML_FALSE);
}

static void node_free_one(vodup_xml_node *n)
{
    free(n->name);
    free(n->text);
    free(n);
}

void vodup_xml_free(vodup_xml_node *root)
{
    /* Iterative post-order walk: depth is bounded at parse time, but a tree built by
     * other code should not be able to overflow the stack either. */
    vodup_xml_node *n = root;
    while (n) {
        if (n->first_child) {
            vodup_xml_node *c = n->first_child;
            n->first_child = NULL;
            n = c;
            continue;
        }
        vodup_xml_node *next = n->next;
        vodup_xml_node *parent = n->parent;
        int last = n == root;
        node_free_one(n);
        if (last)
            break;
        n = next ? next : parent;
    }
}

static void XMLCALL on_start(void *ud, const XML_Char *name, const XML_Char **attrs)
{
    parse_state *st = ud;
    (void)attrs;
    if (st->err)
        return;
    if (st->depth + 1 > st->lim.max_depth || st->nodes + 1 > st->lim.max_nodes) {
        fail(st, VODUP_XML_ELIMIT);
        return;
    }
    vodup_xml_node *n = calloc(1, sizeof *n);
    if (!n || !(n->name = strdup(name))) {
        free(n);
        fail(st, VODUP_XML_ENOMEM);
        return;
    }
    n->parent = st->cur;
    if (st->cur) {
        *st->tail = n;
    } else {
        st->root = n;
    }
    /* Park the parent's text so far; it resumes when this child closes. */
    st->text_stack[st->depth] = st->text;
    vbuf_init(&st->text);
    st->cur = n;
    st->tail = &n->first_child;
    st->depth++;
    st->nodes++;
}

static void XMLCALL on_end(void *ud, const XML_Char *name)
{
    parse_state *st = ud;
    (void)name;
    if (st->err)
        return;
    vodup_xml_node *n = st->cur;
    vbuf_append(&st->text, "", 0);
    if (st->text.oom) {
        fail(st, VODUP_XML_ENOMEM);
        return;
    }
    n->text_len = st->text.len;
    n->text = vbuf_steal(&st->text);
    if (!n->text) {
        fail(st, VODUP_XML_ENOMEM);
        return;
    }
    st->depth--;
    st->text = st->text_stack[st->depth];
    vbuf_init(&st->text_stack[st->depth]);
    st->cur = n->parent;
    st->tail = &n->next;
}

static void XMLCALL on_text(void *ud, const XML_Char *s, int len)
{
    parse_state *st = ud;
    if (st->err || !st->cur)
        return;
    if (vbuf_append(&st->text, s, (size_t)len) < 0)
        fail(st, VODUP_XML_ENOMEM);
}

static void XMLCALL on_doctype(void *ud, const XML_Char *name, const XML_Char *sysid,
                               const XML_Char *pubid, int has_internal_subset)
{
    (void)name;
    (void)sysid;
    (void)pubid;
    (void)has_internal_subset;
    fail(ud, VODUP_XML_EMALFORMED);
}

static void XMLCALL on_entity(void *ud, const XML_Char *name, int is_param,
                              const XML_Char *value, int value_len, const XML_Char *base,
                              const XML_Char *sysid, const XML_Char *pubid,
                              const XML_Char *notation)
{
    (void)name;
    (void)is_param;
    (void)value;
    (void)value_len;
    (void)base;
    (void)sysid;
    (void)pubid;
    (void)notation;
    fail(ud, VODUP_XML_EMALFORMED);
}

static void state_cleanup(parse_state *st)
{
    vbuf_free(&st->text);
    if (st->text_stack)
        for (size_t i = 0; i < st->lim.max_depth; i++)
            vbuf_free(&st->text_stack[i]);
    free(st->text_stack);
    if (st->parser)
        XML_ParserFree(st->parser);
}

/* On error the partial tree (some nodes still without text) is dropped here, so
 * callers only ever see a complete tree or none. */
static int finish(parse_state *st, vodup_xml_node **root, int rc)
{
    if (rc != VODUP_XML_OK) {
        vodup_xml_free(st->root);
        st->root = NULL;
    }
    *root = st->root;
    state_cleanup(st);
    return rc;
}

int vodup_xml_parse(vodup_xml_node **root, const char *p, size_t n, const vodup_xml_limits *lim)
{
    parse_state st;
    memset(&st, 0, sizeof st);
    *root = NULL;
    st.lim.max_bytes = lim ? lim->max_bytes : XML_DEFAULT_MAX_BYTES;
    st.lim.max_depth = lim ? lim->max_depth : XML_DEFAULT_MAX_DEPTH;
    st.lim.max_nodes = lim ? lim->max_nodes : XML_DEFAULT_MAX_NODES;
    vbuf_init(&st.text);
    if (n > st.lim.max_bytes || n > INT_MAX)
        return finish(&st, root, VODUP_XML_ELIMIT);
    if (st.lim.max_depth == 0 || st.lim.max_nodes == 0)
        return finish(&st, root, VODUP_XML_ELIMIT);
    st.text_stack = calloc(st.lim.max_depth, sizeof *st.text_stack);
    st.parser = XML_ParserCreate(NULL);
    if (!st.text_stack || !st.parser)
        return finish(&st, root, VODUP_XML_ENOMEM);
    XML_SetUserData(st.parser, &st);
    XML_SetElementHandler(st.parser, on_start, on_end);
    XML_SetCharacterDataHandler(st.parser, on_text);
    XML_SetStartDoctypeDeclHandler(st.parser, on_doctype);
    XML_SetEntityDeclHandler(st.parser, on_entity);
    /* Never load external entities or DTDs, whatever the document says. */
    XML_SetParamEntityParsing(st.parser, XML_PARAM_ENTITY_PARSING_NEVER);

    enum XML_Status s = XML_Parse(st.parser, p, (int)n, XML_TRUE);
    if (st.err)
        return finish(&st, root, st.err);
    if (s != XML_STATUS_OK) {
        int rc = XML_GetErrorCode(st.parser) == XML_ERROR_NO_MEMORY ? VODUP_XML_ENOMEM
                                                                      : VODUP_XML_EMALFORMED;
        return finish(&st, root, rc);
    }
    if (!st.root)
        return finish(&st, root, VODUP_XML_EMALFORMED);
    return finish(&st, root, VODUP_XML_OK);
}

const vodup_xml_node *vodup_xml_child(const vodup_xml_node *n, const char *name)
{
    if (!n)
        return NULL;
    for (const vodup_xml_node *c = n->first_child; c; c = c->next)
        if (strcmp(c->name, name) == 0)
            return c;
    return NULL;
}

const vodup_xml_node *vodup_xml_next(const vodup_xml_node *n, const char *name)
{
    if (!n)
        return NULL;
    for (const vodup_xml_node *c = n->next; c; c = c->next)
        if (strcmp(c->name, name) == 0)
            return c;
    return NULL;
}

int vodup_xml_escape(vbuf *out, const char *s, size_t n)
{
    size_t run = 0;
    vbuf_append(out, "", 0);
    for (size_t i = 0; i < n; i++) {
        const char *rep;
        switch (s[i]) {
        case '&': rep = "&amp;"; break;
        case '<': rep = "&lt;"; break;
        case '>': rep = "&gt;"; break;
        case '"': rep = "&quot;"; break;
        case '\'': rep = "&apos;"; break;
        default: continue;
        }
        vbuf_append(out, s + run, i - run);
        vbuf_puts(out, rep);
        run = i + 1;
    }
    vbuf_append(out, s + run, n - run);
    return out->oom ? -1 : 0;
}

int vodup_xml_elem(vbuf *out, const char *name, const char *text, size_t n)
{
    vbuf_putc(out, '<');
    vbuf_puts(out, name);
    vbuf_putc(out, '>');
    vodup_xml_escape(out, text, n);
    vbuf_puts(out, "</");
    vbuf_puts(out, name);
    vbuf_putc(out, '>');
    return out->oom ? -1 : 0;
}
