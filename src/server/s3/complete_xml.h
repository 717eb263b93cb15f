/* complete_xml.h - the part list of a CompleteMultipartUpload body, which OSS and S3 spell
 * alike (<CompleteMultipartUpload><Part><PartNumber/><ETag/></Part>...). Protocol-neutral:
 * it belongs beside the core (oss/multipart.c has its own copy to retire onto this one). */
#ifndef VODUPD_S3_COMPLETE_XML_H
#define VODUPD_S3_COMPLETE_XML_H

#include <stddef.h>

#include "server/store/meta.h"

/* Parses body into *out (malloc'd, n entries; ETags without quotes or spaces). 0, or -1
 * with *why saying what is wrong (a static message); -2 out of memory. */
int complete_xml_parse(const char *body, size_t len, int max_part_number, vodup_meta_complete_part **out,
                       size_t *n, const char **why);

#endif
