/* sdk.h - the web upload SDK (web/vodup-upload.js), built into vodupd and served at
 * /sdk/vodup-upload.js (classic script) and /sdk/vodup-upload.mjs (ES module). */
#ifndef VODUPD_HTTP_SDK_H
#define VODUPD_HTTP_SDK_H

#include "server/http/request.h"

/* 1 when r is an unsigned GET/HEAD of the SDK on our own address: then it is answered
 * (200, or 304 on a matching If-None-Match). 0 when r is something else. */
int http_sdk_route(http_request *r);

/* The version tag (16 hex digits of the script's SHA-256): the ETag's value, and the `v`
 * query value under which the script is served as immutable. */
const char *http_sdk_version(void);

#endif
