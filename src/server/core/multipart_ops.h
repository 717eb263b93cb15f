/* multipart_ops.h - the multipart handlers of both object dialects (OSS, S3): reading
 * the arguments, the core call, and the answer's shape live here once; a dialect brings
 * only its words (core_mp_words: element spellings, the ETag's case, its extra headers,
 * how it says InvalidArgument and MalformedXML) and its own begin (key and bucket checks,
 * how the body is read). Errors of the core calls go through r's dialect
 * (core_http_status). */
#ifndef VODUPD_CORE_MULTIPART_OPS_H
#define VODUPD_CORE_MULTIPART_OPS_H

#include "server/core/route.h"

typedef struct core_mp_words {
    const core_rules *rules;
    int (*check_key)(http_request *r);             /* the key's name: 0, or -1 after answering */
    void (*xml_start)(vbuf *x, const char *root);   /* the XML declaration, root opened */
    const char *storage_class;                      /* ListParts' <StorageClass> */
    int etag_lower;                                 /* ETags in lower-case hex (S3) */
    int part_crc64;                                 /* ListParts' parts carry <HashCrc64ecma> (OSS) */
    /* uploadId absent or empty: said with invalid(r, id_missing); NULL: the core's
     * ENOUPLOAD (S3) */
    const char *id_missing;
    void (*invalid)(http_request *r, const char *msg);      /* InvalidArgument */
    void (*malformed)(http_request *r, const char *msg);    /* MalformedXML */
    /* Complete's extra headers (NULL: none) */
    void (*complete_headers)(http_response *resp, const vodup_meta_object *o);
} core_mp_words;

/* An operation on r's key: the key's name (w->check_key) and r's bucket, owned by the
 * caller. 0, or -1 after answering. */
int core_http_object_scope(http_request *r, const core_mp_words *w);
/* core_http_object_scope, then the upload ?uploadId names is this key's. 0, or -1 after
 * answering. */
int core_http_upload_scope(http_request *r, const core_mp_words *w);
/* The upload ?uploadId names, of r's bucket and key: 0 with *u filled (the caller clears
 * it), or -1 after answering. */
int core_http_upload_get(http_request *r, const core_mp_words *w, vodup_meta_upload *u);

/* ?partNumber: 1 to max (no sign, 6 digits at most); 0 when absent or empty; -1 when not
 * such a number. */
long core_part_number(const char *pn, int max);

/* Initiate: records the upload (content type, user metadata JSON) and answers
 * <InitiateMultipartUploadResult> (the key url-encoded when url is set). */
void core_http_initiate(http_request *r, const core_mp_words *w, const char *content_type, const char *user_meta,
                        int url);
/* UploadPart once its body is whole: 0 when recorded (the dialect answers), or -1 after
 * answering. */
int core_http_part_put(http_request *r, const char *upload_id, int number, core_ingest *in);
/* Complete once its body is collected: parses it (core_complete_parse; malformed), completes
 * and answers <CompleteMultipartUploadResult>. */
void core_http_complete(http_request *r, const core_mp_words *w, int url);
/* Abort's finish: the upload goes (204). The same in both dialects. */
void core_http_abort_finish(http_request *r);
/* ListParts after the dialect's key and bucket checks: max-parts, part-number-marker, the
 * upload, its parts, answered as <ListPartsResult>. */
void core_http_list_parts(http_request *r, const core_mp_words *w, int url);

/* A CompleteMultipartUpload body, which OSS and S3 spell alike:
 * <CompleteMultipartUpload><Part><PartNumber/><ETag/></Part>...</CompleteMultipartUpload>.
 * Parses body into *out (malloc'd, n entries; ETags without quotes or spaces, an ETag too
 * long to be one of ours left empty so that Complete says InvalidPart). 0; -1 with why
 * (cut at why_len) saying what is wrong; -2 out of memory. */
int core_complete_parse(const char *body, size_t len, int max_part_number, vodup_meta_complete_part **out, size_t *n,
                        char *why, size_t why_len);

#endif
