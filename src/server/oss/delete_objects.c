/* delete_objects.c - DeleteMultipleObjects (POST /?delete) over the core
 * (core_object_delete_many: up to 1000 keys, each checked against the caller's rights).
 *
 * OSS requires Content-MD5 on this request and checks it before any key is deleted.
 * encoding-type=url encodes the keys of the answer. Quiet answers list only the keys
 * that failed; a key the caller may not delete is one <Error> (the shape S3 gives it),
 * the others are deleted.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "server/core/route.h"
#include "server/core/xml.h"
#include "server/oss/oss.h"

static int begin(http_request *r)
{
    if (core_http_xml_begin(r) != 0 || oss_url_encoding(r) < 0)
        return 0;
    if (!http_header(r, "Content-MD5"))
        oss_error(r, OSS_ERR_MissingArgument, "Missing Some Required Arguments: Content-MD5.");
    return 0;
}

static void malformed(http_request *r, const char *why)
{
    oss_error(r, OSS_ERR_MalformedXML, "%s", why);
}

static void finish(http_request *r)
{
    if (r->body_too_large)
        return;
    int ok = core_md5_check(http_header(r, "Content-MD5"), r->body.data, r->body.len);
    if (ok < 0) {
        oss_error(r, OSS_ERR_InvalidDigest, "The Content-MD5 you specified is not valid.");
        return;
    }
    if (!ok) {
        oss_status_error(r, VODUPD_EBADDIGEST, NULL);
        return;
    }
    int url = oss_url_encoding(r) > 0;
    vbuf head = VBUF_INIT;
    oss_xml_start(&head, "DeleteResult");
    if (url)
        vbuf_puts(&head, "<EncodingType>url</EncodingType>");
    core_http_delete_objects(r, vbuf_cstr(&head), url, malformed, oss_status_code);
    vbuf_free(&head);
}

const http_op oss_op_delete_objects = {"DeleteMultipleObjects", begin, oss_collect_body, finish, 1};
