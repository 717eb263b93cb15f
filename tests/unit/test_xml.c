/* test_xml.c - the XML reader on what clients send (CompleteMultipartUpload), on hostile
 * input (DTDs, entity bombs, deep or wide trees) and the escaping writer. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/xml.h"

static int parse(vodup_xml_node **root, const char *s, const vodup_xml_limits *lim)
{
    return vodup_xml_parse(root, s, strlen(s), lim);
}

static void test_complete_multipart(void **state)
{
    (void)state;
    /* exactly as ali-oss writes it */
    const char *body = "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<CompleteMultipartUpload>\n"
                       "<Part>\n<PartNumber>1</PartNumber>\n"
                       "<ETag>\"3349DC700140D7F86A0784842780****\"</ETag>\n</Part>\n"
                       "<Part>\n<PartNumber>2</PartNumber>\n"
                       "<ETag>&quot;AB&amp;CD&quot;</ETag>\n</Part>\n"
                       "</CompleteMultipartUpload>";
    vodup_xml_node *root;
    assert_int_equal(parse(&root, body, NULL), VODUP_XML_OK);
    assert_string_equal(root->name, "CompleteMultipartUpload");
    assert_null(root->parent);
    const vodup_xml_node *p = vodup_xml_child(root, "Part");
    assert_non_null(p);
    assert_ptr_equal(p->parent, root);
    const vodup_xml_node *n = vodup_xml_child(p, "PartNumber");
    assert_string_equal(n->text, "1");
    assert_int_equal(n->text_len, 1);
    assert_string_equal(vodup_xml_child(p, "ETag")->text, "\"3349DC700140D7F86A0784842780****\"");
    p = vodup_xml_next(p, "Part");
    assert_non_null(p);
    assert_string_equal(vodup_xml_child(p, "PartNumber")->text, "2");
    assert_string_equal(vodup_xml_child(p, "ETag")->text, "\"AB&CD\"");
    assert_null(vodup_xml_next(p, "Part"));
    assert_null(vodup_xml_child(p, "Nope"));
    assert_null(vodup_xml_child(NULL, "Part"));
    vodup_xml_free(root);
    vodup_xml_free(NULL);
}

static void test_text_and_shapes(void **state)
{
    (void)state;
    vodup_xml_node *root;
    /* no XML declaration, namespaces kept as written, text split around a child */
    assert_int_equal(parse(&root, "<a:R xmlns:a=\"urn:x\">x<b/>y<![CDATA[<z>]]></a:R>", NULL),
                     VODUP_XML_OK);
    assert_string_equal(root->name, "a:R");
    assert_string_equal(root->text, "xy<z>");
    assert_string_equal(root->first_child->name, "b");
    assert_string_equal(root->first_child->text, "");
    assert_int_equal(root->first_child->text_len, 0);
    vodup_xml_free(root);
    /* character references and UTF-8 */
    assert_int_equal(parse(&root, "<r>&#65;&#x42;\xe4\xb8\xad&lt;&gt;&apos;</r>", NULL),
                     VODUP_XML_OK);
    assert_string_equal(root->text, "AB\xe4\xb8\xad<>'");
    vodup_xml_free(root);
    /* an embedded NUL character reference is not XML */
    assert_int_equal(parse(&root, "<r>&#0;</r>", NULL), VODUP_XML_EMALFORMED);
    assert_null(root);
}

static void test_malformed(void **state)
{
    (void)state;
    static const char *const bad[] = {
        "", "   ", "<a>", "<a></b>", "<a><b></a></b>", "text", "<a>&unknown;</a>",
        "<a></a><b></b>", "<a x='1' x='2'/>", "<?xml version=\"1.0\"?>",
        "<a>\x01</a>", "<a>\xff\xfe</a>",
    };
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
        vodup_xml_node *root = (vodup_xml_node *)1;
        int rc = parse(&root, bad[i], NULL);
        if (rc != VODUP_XML_EMALFORMED)
            fail_msg("'%s' gave %d", bad[i], rc);
        assert_null(root);
    }
}

static void test_dtd_refused(void **state)
{
    (void)state;
    static const char *const evil[] = {
        /* billion laughs */
        "<?xml version=\"1.0\"?><!DOCTYPE lolz [<!ENTITY lol \"lol\">"
        "<!ENTITY lol2 \"&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;\">"
        "<!ENTITY lol3 \"&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;\">"
        "]><lolz>&lol3;</lolz>",
        /* external entity */
        "<!DOCTYPE r [<!ENTITY x SYSTEM \"file:///etc/passwd\">]><r>&x;</r>",
        /* external DTD */
        "<!DOCTYPE r SYSTEM \"http://example.com/x.dtd\"><r/>",
        /* a bare DOCTYPE */
        "<!DOCTYPE r><r/>",
        /* parameter entities */
        "<!DOCTYPE r [<!ENTITY % p \"x\"> %p;]><r/>",
    };
    for (size_t i = 0; i < sizeof evil / sizeof *evil; i++) {
        vodup_xml_node *root = (vodup_xml_node *)1;
        int rc = parse(&root, evil[i], NULL);
        if (rc != VODUP_XML_EMALFORMED)
            fail_msg("DTD case %zu gave %d", i, rc);
        assert_null(root);
    }
}

static void test_limits(void **state)
{
    (void)state;
    vodup_xml_node *root;
    vodup_xml_limits lim = {64, 3, 5};
    assert_int_equal(parse(&root, "<a><b><c/></b></a>", &lim), VODUP_XML_OK);
    vodup_xml_free(root);
    assert_int_equal(parse(&root, "<a><b><c><d/></c></b></a>", &lim), VODUP_XML_ELIMIT);
    assert_null(root);
    assert_int_equal(parse(&root, "<a><b/><b/><b/><b/></a>", &lim), VODUP_XML_OK);
    vodup_xml_free(root);
    assert_int_equal(parse(&root, "<a><b/><b/><b/><b/><b/></a>", &lim), VODUP_XML_ELIMIT);
    assert_null(root);
    char big[80];
    memset(big, ' ', sizeof big);
    memcpy(big, "<a>", 3);
    memcpy(big + sizeof big - 5, "</a>", 5);
    assert_int_equal(vodup_xml_parse(&root, big, sizeof big - 1, &lim), VODUP_XML_ELIMIT);
    assert_int_equal(vodup_xml_parse(&root, big, 64, &lim), VODUP_XML_EMALFORMED);

    /* defaults: depth 16 passes, 17 does not */
    char deep[17 * 7 + 1];
    for (int depth = 16; depth <= 17; depth++) {
        size_t o = 0;
        for (int i = 0; i < depth; i++)
            o += (size_t)snprintf(deep + o, sizeof deep - o, "<a>");
        for (int i = 0; i < depth; i++)
            o += (size_t)snprintf(deep + o, sizeof deep - o, "</a>");
        int rc = vodup_xml_parse(&root, deep, o, NULL);
        assert_int_equal(rc, depth == 16 ? VODUP_XML_OK : VODUP_XML_ELIMIT);
        vodup_xml_free(root);
    }
    /* defaults: more than 1 MiB is refused before parsing */
    size_t n = 1024 * 1024 + 1;
    char *huge = malloc(n);
    memset(huge, ' ', n);
    assert_int_equal(vodup_xml_parse(&root, huge, n, NULL), VODUP_XML_ELIMIT);
    free(huge);
}

static void test_many_nodes_free(void **state)
{
    (void)state;
    /* a wide tree frees without recursion trouble and without leaks */
    vbuf b = VBUF_INIT;
    vbuf_puts(&b, "<r>");
    for (int i = 0; i < 5000; i++)
        vbuf_printf(&b, "<p><n>%d</n><e>x</e></p>", i);
    vbuf_puts(&b, "</r>");
    vodup_xml_node *root;
    assert_int_equal(vodup_xml_parse(&root, b.data, b.len, NULL), VODUP_XML_OK);
    int count = 0;
    for (const vodup_xml_node *p = vodup_xml_child(root, "p"); p; p = vodup_xml_next(p, "p"))
        count++;
    assert_int_equal(count, 5000);
    vodup_xml_free(root);
    vbuf_free(&b);
}

static void test_escape(void **state)
{
    (void)state;
    vbuf b = VBUF_INIT;
    assert_int_equal(vodup_xml_escape(&b, "a<b>&\"c'd", 9), 0);
    assert_string_equal(vbuf_cstr(&b), "a&lt;b&gt;&amp;&quot;c&apos;d");
    vbuf_reset(&b);
    assert_int_equal(vodup_xml_escape(&b, "", 0), 0);
    assert_string_equal(vbuf_cstr(&b), "");
    assert_int_equal(vodup_xml_elem(&b, "Key", "dir/a&b.mp4", 11), 0);
    assert_int_equal(vodup_xml_elem(&b, "ETag", "\"x\"", 3), 0);
    assert_string_equal(vbuf_cstr(&b), "<Key>dir/a&amp;b.mp4</Key><ETag>&quot;x&quot;</ETag>");
    /* what is written reads back the same */
    vbuf doc = VBUF_INIT;
    vbuf_puts(&doc, "<R>");
    vodup_xml_elem(&doc, "K", "<&>\"'", 5);
    vbuf_puts(&doc, "</R>");
    vodup_xml_node *root;
    assert_int_equal(vodup_xml_parse(&root, doc.data, doc.len, NULL), VODUP_XML_OK);
    assert_string_equal(vodup_xml_child(root, "K")->text, "<&>\"'");
    vodup_xml_free(root);
    vbuf_free(&doc);
    vbuf_free(&b);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_complete_multipart), cmocka_unit_test(test_text_and_shapes),
        cmocka_unit_test(test_malformed),          cmocka_unit_test(test_dtd_refused),
        cmocka_unit_test(test_limits),             cmocka_unit_test(test_many_nodes_free),
        cmocka_unit_test(test_escape),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
