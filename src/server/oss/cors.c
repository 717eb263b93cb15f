/* cors.c - CORS preflight for browser uploads.
 *
 * VOD storage is written by browsers with temporary credentials scoped to one object,
 * so vodupd allows any origin by default (the credentials, not the origin, are the
 * access control), the way the ali-oss README tells OSS users to configure a bucket.
 * Every other answer carries Access-Control-Allow-Origin and exposes ETag (front.c).
 */
#include <string.h>

#include "server/oss/oss.h"

static int options_begin(http_request *r)
{
    const char *origin = http_header(r, "Origin");
    const char *method = http_header(r, "Access-Control-Request-Method");
    if (!origin || !*origin || !method || !*method) {
        oss_error(r, OSS_ERR_BadRequest,
                  "A CORS preflight needs the Origin and Access-Control-Request-Method headers.");
        return 0;
    }
    static const char *const allowed[] = {"GET", "PUT", "POST", "DELETE", "HEAD", NULL};
    int ok = 0;
    for (int i = 0; allowed[i]; i++)
        if (strcmp(method, allowed[i]) == 0)
            ok = 1;
    if (!ok) {
        oss_error(r, OSS_ERR_AccessDenied,
                  "CORSResponse: this CORS request is not allowed: the method must be one of GET, PUT, POST, DELETE, HEAD.");
        return 0;
    }
    http_response *resp = http_response_empty();
    http_response_header(resp, "Access-Control-Allow-Methods", "GET, PUT, POST, DELETE, HEAD");
    const char *hdrs = http_header(r, "Access-Control-Request-Headers");
    if (hdrs && *hdrs)
        http_response_header(resp, "Access-Control-Allow-Headers", hdrs);
    http_response_header(resp, "Access-Control-Max-Age", "3600");
    http_reply(r, 200, resp);
    return 0;
}

const http_op oss_op_options = {"Preflight", options_begin, NULL, NULL, 0};
