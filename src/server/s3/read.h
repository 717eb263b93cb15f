/* read.h - an object's bytes as a response body (read.c; belongs in the core). */
#ifndef VODUPD_S3_READ_H
#define VODUPD_S3_READ_H

#include <stdint.h>

#include "server/http/response.h"
#include "server/server.h"
#include "server/store/meta.h"

/* len bytes of o from offset first. Takes o's segments over when it streams across parts
 * (o is still cleared by the caller). The caller holds a vodupd_reader (server.h) from
 * before o was read until this returns. NULL on failure. */
http_response *s3_object_body(vodupd *srv, vodup_meta_object *o, uint64_t first, uint64_t len);

#endif
