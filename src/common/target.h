/* target.h - the request target (path and query) as it came on the wire, decoded.
 *
 * The server parses the raw target itself rather than trusting a framework's
 * unescaping: signatures depend on exactly which bytes were sent, sub-resources arrive
 * as `?uploads=` and must be told apart from absent ones, and keys are arbitrary bytes.
 */
#ifndef VODUP_COMMON_TARGET_H
#define VODUP_COMMON_TARGET_H

#include <stddef.h>

typedef struct vodup_param {
    char *name;     /* decoded, NUL-terminated */
    char *value;    /* decoded, NUL-terminated; "" when the parameter had no '=' or an empty value */
    size_t value_len;
} vodup_param;

typedef struct vodup_target {
    char *path;         /* decoded path, NUL-terminated; starts with '/' */
    size_t path_len;
    vodup_param *query; /* in wire order */
    size_t nquery;
    int path_has_nul;   /* the path decoded a %00 (callers refuse such keys) */
} vodup_target;

/* Parses raw[0..n) ("/a%20b?x=1&uploads="). '+' stays '+' (OSS and S3 clients encode
 * spaces as %20). Returns 0, or -1 when the target does not start with '/', has a bad
 * %-escape, or a query name that decodes to "" or contains NUL; -2 on oom. */
int vodup_target_parse(vodup_target *t, const char *raw, size_t n);
void vodup_target_free(vodup_target *t);
/* Value of the first parameter named name, or NULL when absent. */
const char *vodup_target_get(const vodup_target *t, const char *name);

/* Form bodies (application/x-www-form-urlencoded): same output, '+' is a space;
 * t->path is "" (allocated) since a body has no path. */
int vodup_form_parse(vodup_target *t, const char *body, size_t n);

/* OSS addressing. own_host says whether host (without port, lower-cased) names this
 * server itself (user data in cb_data). Virtual-host style: when host is not an IP
 * literal, not "localhost" and not own, its first label is the bucket and the whole
 * path (minus the leading '/') is the key. Path style otherwise: "/bucket/key".
 * *bucket and *key are malloc'd (key may contain any byte but NUL; *key_len given);
 * either may be "" (ListBuckets: both empty; bucket operations: key empty).
 * A host with no '.' at all (a container or machine name) is path style too: it
 * cannot be "<bucket>.<endpoint>".
 * Host syntax accepted: name[:port] with name of A-Z a-z 0-9 - . _ (lower-cased before
 * own_host sees it), or [IPv6][:port]; anything else, or an empty host, is malformed.
 * Returns 0, -1 for a host header that is malformed, -2 on oom. */
int vodup_oss_address(const char *host, const char *path, size_t path_len,
                      int (*own_host)(const char *host, void *cb_data), void *cb_data,
                      char **bucket, char **key, size_t *key_len);

#endif
