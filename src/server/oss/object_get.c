/* object_get.c - GetObject and HeadObject: conditions, ranges, streaming.
 *
 * A single-blob object is answered from its file descriptor, so the kernel moves the
 * bytes (sendfile); a multipart object is streamed across its part blobs by a reader
 * callback, without ever being copied into one file.
 */
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include "common/timefmt.h"
#include "common/xml.h"
#include "server/core/cond.h"
#include "server/core/read.h"
#include "server/oss/oss.h"

/* 0 go on, 304 or 412 when a condition stops the request (the rules: core/cond.c). */
static int check_conditions(http_request *r, const vodup_meta_object *o)
{
    core_conditions c = {http_header(r, "If-Match"), http_header(r, "If-None-Match"),
                         http_header(r, "If-Modified-Since"), http_header(r, "If-Unmodified-Since")};
    return core_conditions_check(&c, o->etag, o->mtime);
}

/* The response body: the core's (core/read.h), one blob's descriptor or a reader across
 * the part blobs, pinned until the response is freed. The caller's read pin may end on
 * return. */
static http_response *body_response(http_request *r, const core *c, vodup_meta_object *o, uint64_t first,
                                    uint64_t len)
{
    if (strcmp(r->method, "HEAD") == 0)
        return http_response_head(len);
    core_body b;
    if (core_object_body(c, o, first, len, &b, NULL) != VODUPD_OK)
        return NULL;
    return http_response_core_body(&b);
}


static const char *const OVERRIDES[][2] = {
    {"response-content-type", "Content-Type"},
    {"response-content-language", "Content-Language"},
    {"response-expires", "Expires"},
    {"response-cache-control", "Cache-Control"},
    {"response-content-disposition", "Content-Disposition"},
    {"response-content-encoding", "Content-Encoding"},
};

/* Media types a browser runs or renders as a page (script, markup, plug-ins) when
 * they arrive inline from our origin: served as attachments (see get_begin). */
static const char *const ACTIVE_TYPES[] = {
    "text/html", "application/xhtml+xml", "image/svg+xml", "text/xml", "application/xml",
    "text/xsl", "application/xslt+xml", "application/javascript", "text/javascript",
    "application/x-javascript", "application/ecmascript", "text/ecmascript", "application/pdf",
    "application/x-shockwave-flash", "multipart/x-mixed-replace", "text/vnd.wap.wml", NULL,
};

/* 1 when the Content-Type value ct (parameters allowed) names an active type; any
 * "+xml" type counts, since browsers render XML documents with their scripts. */
static int active_type(const char *ct)
{
    while (*ct == ' ' || *ct == '\t')
        ct++;
    size_t n = strcspn(ct, ";");
    while (n && (ct[n - 1] == ' ' || ct[n - 1] == '\t'))
        n--;
    for (int i = 0; ACTIVE_TYPES[i]; i++)
        if (strlen(ACTIVE_TYPES[i]) == n && strncasecmp(ct, ACTIVE_TYPES[i], n) == 0)
            return 1;
    return n >= 4 && strncasecmp(ct + n - 4, "+xml", 4) == 0;
}

/* The response-* overrides become header values: a control character (CR, LF, ...)
 * could split the header or be dropped with it, so such a value is refused. 0, or -1
 * after answering. */
static int check_overrides(http_request *r)
{
    for (size_t q = 0; q < r->target.nquery; q++) {
        const vodup_param *pm = &r->target.query[q];
        if (strncmp(pm->name, "response-", 9) != 0)
            continue;
        /* every occurrence, with its whole decoded length: a %00 would cut the value */
        for (size_t i = 0; i < pm->value_len; i++) {
            unsigned char ch = (unsigned char)pm->value[i];
            if (ch < 0x20 || ch == 0x7f) {
                vbuf x = VBUF_INIT;
                vodup_xml_elem(&x, "ArgumentName", pm->name, strlen(pm->name));
                oss_error_x(r, OSS_ERR_InvalidArgument, vbuf_cstr(&x),
                            "The value of %s must not contain control characters.", pm->name);
                vbuf_free(&x);
                return -1;
            }
        }
    }
    return 0;
}

static int get_begin(http_request *r)
{
    if (oss_check_key(r) != 0)
        return 0;
    if (check_overrides(r) != 0)
        return 0;
    vodup_meta_bucket b;
    if (oss_require_bucket(r, &b) != 0)
        return 0;
    vodup_meta_bucket_clear(&b);
    /* Registered before the metadata is read: the blobs it names must outlive an
     * overwrite or delete that happens while they are streamed. */
    vodupd_reader *reader = vodupd_reader_begin(r->srv);
    if (!reader) {
        oss_error(r, OSS_ERR_InternalError, "Out of memory.");
        return 0;
    }
    vodup_meta_object o;
    core c;
    oss_core(r, &c);
    vodupd_detail d = {0};
    vodupd_status st = core_object_get(&c, r->bucket, r->key, r->key_len, &o, &d);
    if (st != VODUPD_OK) {
        oss_status_error(r, st, &d);
        vodupd_reader_end(r->srv, reader);
        return 0;
    }
    int cond = check_conditions(r, &o);
    if (cond == 412) {
        oss_error(r, OSS_ERR_PreconditionFailed, "At least one of the pre-conditions you specified did not hold.");
        vodup_meta_object_clear(&o);
        vodupd_reader_end(r->srv, reader);
        return 0;
    }
    http_response *resp;
    unsigned int status = 200;
    uint64_t first = 0, last = o.size ? o.size - 1 : 0, len = o.size;
    if (cond == 304) {
        status = 304;
        resp = http_response_empty();
    } else {
        const char *rb = http_header(r, "x-oss-range-behavior");
        int standard = rb && strcasecmp(rb, "standard") == 0;
        int pr = oss_parse_range(http_header(r, "Range"), o.size, standard, &first, &last);
        if (pr < 0 && standard) {
            char extra[64];
            snprintf(extra, sizeof extra, "<ObjectSize>%llu</ObjectSize>", (unsigned long long)o.size);
            oss_error_x(r, OSS_ERR_InvalidRange, extra, "The requested range cannot be satisfied.");
            vodup_meta_object_clear(&o);
            vodupd_reader_end(r->srv, reader);
        return 0;
        }
        if (pr == 1) {
            status = 206;
            len = last - first + 1;
        } else {
            first = 0;
            len = o.size;
        }
        resp = body_response(r, &c, &o, first, len);
    }
    if (!resp) {
        oss_error(r, OSS_ERR_InternalError, "The object's data could not be opened.");
        vodup_meta_object_clear(&o);
        vodupd_reader_end(r->srv, reader);
        return 0;
    }
    oss_add_object_headers(resp, &o);
    http_response_header(resp, "Accept-Ranges", "bytes");
    if (status == 206) {
        char cr[96];
        snprintf(cr, sizeof cr, "bytes %llu-%llu/%llu", (unsigned long long)first,
                 (unsigned long long)last, (unsigned long long)o.size);
        http_response_header(resp, "Content-Range", cr);
    }
    const char *type = o.content_type && *o.content_type ? o.content_type : "application/octet-stream";
    for (size_t i = 0; i < sizeof OVERRIDES / sizeof OVERRIDES[0]; i++) {
        const char *v = http_query(r, OVERRIDES[i][0]);
        if (!v)
            continue;
        if (strcmp(OVERRIDES[i][1], "Content-Type") == 0) {
            http_response_del_header(resp, "Content-Type", type);
            type = v;
        }
        http_response_header(resp, OVERRIDES[i][1], v);
    }
    /* User content comes from our origin: a browser must neither guess a type for it nor
     * run it as a page of this service (stored XSS against everyone using it). Active
     * types download as attachments, unless the signed request asked for its own
     * Content-Disposition or the operator serves such content on purpose. */
    http_response_header(resp, "X-Content-Type-Options", "nosniff");
    if (!r->srv->serve_active_content && !http_query(r, "response-content-disposition") && active_type(type))
        http_response_header(resp, "Content-Disposition", "attachment");
    r->resp_bytes = len;
    vodup_meta_object_clear(&o);
    vodupd_reader_end(r->srv, reader); /* the body holds its fd or pins its blobs now */
    http_reply(r, status, resp);
    return 0;
}

const http_op oss_op_get_object = {"GetObject", get_begin, NULL, NULL, 0};
const http_op oss_op_head_object = {"HeadObject", get_begin, NULL, NULL, 0};
