/* delete_objects.c - DeleteObjects (POST /bucket?delete) over the core
 * (core_object_delete_many: up to 1000 keys, each checked against the caller's rights).
 *
 * S3 requires the body's integrity: Content-MD5 or an x-amz-checksum-* header (what
 * current SDKs send), checked here before any key is deleted, as is the payload hash of
 * a signed body. Quiet answers list only the keys that failed.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/digest.h"
#include "common/s3_checksum.h"
#include "server/core/route.h"
#include "server/core/xml.h"
#include "server/s3/s3.h"

/* The x-amz-checksum-* headers the request carries (algorithm bits). */
static unsigned declared_checksums(const http_request *r)
{
    unsigned algs = 0;
    for (size_t i = 0; i < r->nheaders; i++)
        algs |= vodup_s3_checksum_from_header(r->headers[i].name);
    return algs;
}

static int begin(http_request *r)
{
    if (core_http_xml_begin(r) == 0 && !http_header(r, "Content-MD5") && !declared_checksums(r))
        s3_error(r, S3_ERR_InvalidRequest, "Missing required header for this request: Content-MD5 OR x-amz-checksum-*");
    return 0;
}

/* The body against what the client declared for it: 0, or -1 after answering. */
static int check_body(http_request *r)
{
    const char *body = r->body.data ? r->body.data : "";
    const s3_payload *pl = s3_request_payload(r);
    if (pl->check_sha256) {
        unsigned char got[32];
        vodup_sha256(got, body, r->body.len);
        if (memcmp(got, pl->sha256, 32) != 0) {
            s3_error(r, S3_ERR_XAmzContentSHA256Mismatch,
                     "The provided 'x-amz-content-sha256' header does not match what was computed.");
            return -1;
        }
    }
    const char *md5 = http_header(r, "Content-MD5");
    int ok = md5 ? core_md5_check(md5, body, r->body.len) : 1;
    if (ok < 0) {
        s3_error(r, S3_ERR_InvalidDigest, "The Content-MD5 you specified is not valid.");
        return -1;
    }
    if (!ok) {
        s3_status_error(r, VODUPD_EBADDIGEST, NULL);
        return -1;
    }
    unsigned algs = declared_checksums(r);
    if (!algs)
        return 0;
    vodup_s3_checksum ck;
    if (vodup_s3_checksum_init(&ck, algs) != 0) {
        s3_status_error(r, VODUPD_ENOMEM, NULL);
        return -1;
    }
    vodup_s3_checksum_update(&ck, body, r->body.len);
    vodup_s3_checksum_final(&ck);
    int rc = 0;
    for (unsigned alg = 1; alg <= VODUP_S3_CK_ALL && rc == 0; alg <<= 1) {
        const char *name = vodup_s3_checksum_header(alg);
        if ((algs & alg) && !vodup_s3_checksum_matches(&ck, alg, http_header(r, name))) {
            s3_error(r, S3_ERR_BadDigest, "The %s you specified did not match the calculated checksum.", name);
            rc = -1;
        }
    }
    vodup_s3_checksum_free(&ck);
    return rc;
}

static void malformed(http_request *r, const char *why)
{
    s3_error(r, S3_ERR_MalformedXML, "%s", why);
}

static void finish(http_request *r)
{
    if (r->body_too_large || check_body(r) != 0)
        return;
    vbuf head = VBUF_INIT;
    s3_xml_start(&head, "DeleteResult");
    core_http_delete_objects(r, vbuf_cstr(&head), 0, malformed, s3_status_code);
    vbuf_free(&head);
}

const http_op s3_op_delete_objects = {"DeleteObjects", begin, s3_collect_xml, finish, 1};
