/* complete_xml.c - see complete_xml.h. */
#include "server/s3/complete_xml.h"

#include <stdlib.h>
#include <string.h>

#include "common/xml.h"
#include "server/config.h"

static int space(char c)
{
    return c == ' ' || c == '\n' || c == '\t' || c == '\r';
}

int complete_xml_parse(const char *body, size_t len, int max_part_number, vodup_meta_complete_part **out,
                       size_t *n, const char **why)
{
    *out = NULL;
    *n = 0;
    *why = "The XML you provided was not well-formed or did not validate against our published schema.";
    vodup_xml_node *root = NULL;
    vodup_xml_limits lim = {VODUPD_MAX_XML_BODY, 8, 4 * (size_t)max_part_number + 16};
    int rc = len ? vodup_xml_parse(&root, body, len, &lim) : VODUP_XML_EMALFORMED;
    if (rc != VODUP_XML_OK || strcmp(root->name, "CompleteMultipartUpload") != 0) {
        vodup_xml_free(root);
        return -1;
    }
    size_t cap = 0;
    for (const vodup_xml_node *p = vodup_xml_child(root, "Part"); p; p = vodup_xml_next(p, "Part"))
        cap++;
    if (cap == 0 || cap > (size_t)max_part_number) {
        vodup_xml_free(root);
        *why = "CompleteMultipartUpload must list at least one part, and no more than the highest part number.";
        return -1;
    }
    vodup_meta_complete_part *parts = calloc(cap, sizeof *parts);
    if (!parts) {
        vodup_xml_free(root);
        return -2;
    }
    size_t i = 0;
    for (const vodup_xml_node *p = vodup_xml_child(root, "Part"); p; p = vodup_xml_next(p, "Part"), i++) {
        const vodup_xml_node *num = vodup_xml_child(p, "PartNumber");
        const vodup_xml_node *etag = vodup_xml_child(p, "ETag");
        char *end;
        long v = num ? strtol(num->text, &end, 10) : 0;
        if (!num || !etag || !*num->text || *end || v < 1 || v > max_part_number) {
            free(parts);
            vodup_xml_free(root);
            *why = "Each Part needs a PartNumber in range and an ETag.";
            return -1;
        }
        parts[i].number = (int)v;
        const char *e = etag->text;
        size_t el = etag->text_len;
        while (el && space(*e))
            e++, el--;
        while (el && space(e[el - 1]))
            el--;
        if (el >= 2 && e[0] == '"' && e[el - 1] == '"')
            e++, el -= 2;
        if (el >= sizeof parts[i].etag) /* cannot be one of ours: InvalidPart at Complete, not malformed */
            el = 0;
        memcpy(parts[i].etag, e, el);
        parts[i].etag[el] = '\0';
    }
    vodup_xml_free(root);
    *out = parts;
    *n = cap;
    return 0;
}
