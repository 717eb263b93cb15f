/* upload.c - see upload.h. */
#include "server/oss/upload.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "common/codec.h"
#include "common/crc.h"
#include "server/oss/oss.h"

int oss_content_length(http_request *r, uint64_t *len)
{
    const char *cl = http_header(r, "Content-Length");
    if (!cl)
        return 0;
    if (!*cl || strlen(cl) > 19)
        return -1;
    uint64_t v = 0;
    for (const char *p = cl; *p; p++) {
        if (*p < '0' || *p > '9')
            return -1;
        v = v * 10 + (uint64_t)(*p - '0');
    }
    *len = v;
    return 1;
}

static void upload_free(void *p)
{
    oss_upload *u = p;
    if (!u)
        return;
    if (u->w)
        u->bs->ops->writer_abort(u->w);
    vodup_md5_free(u->md5);
    free(u->content_type);
    free(u->user_meta);
    free(u);
}

oss_upload *oss_upload_begin(http_request *r, uint64_t max_size, const char *what)
{
    uint64_t len = 0;
    int has_len = oss_content_length(r, &len);
    if (has_len < 0) {
        oss_error(r, OSS_ERR_InvalidArgument, "Content-Length is malformed.");
        return NULL;
    }
    if (has_len && len > max_size) {
        oss_error(r, OSS_ERR_EntityTooLarge, "%s bodies may be at most %llu bytes.", what,
                  (unsigned long long)max_size);
        return NULL;
    }
    oss_upload *u = calloc(1, sizeof *u);
    if (!u) {
        oss_error(r, OSS_ERR_InternalError, "Out of memory.");
        return NULL;
    }
    r->op_state = u;
    r->op_free = upload_free;
    u->limit = max_size;

    const char *md5 = http_header(r, "Content-MD5");
    if (md5) {
        unsigned char raw[64];
        size_t n = strlen(md5);
        if (n > 80 || vodup_base64_decode(raw, md5, n) != 16) {
            oss_error(r, OSS_ERR_InvalidDigest, "The Content-MD5 you specified was invalid.");
            return NULL;
        }
        memcpy(u->want_md5, raw, 16);
        u->has_want_md5 = 1;
    }
    u->md5 = vodup_md5_new();
    if (!u->md5) {
        oss_error(r, OSS_ERR_InternalError, "Out of memory.");
        return NULL;
    }
    vodup_blobstore *bs = r->srv->blobs;
    u->bs = bs;
    int rc = bs->ops->writer_open(bs, &u->w);
    if (rc != VODUP_BLOB_OK) {
        u->w = NULL;
        oss_error(r, rc == VODUP_BLOB_ENOSPC ? OSS_ERR_StorageFull : OSS_ERR_InternalError,
                  rc == VODUP_BLOB_ENOSPC ? VODUP_STORAGE_FULL_MSG : "The object store cannot accept data now.");
        return NULL;
    }
    return u;
}

int oss_upload_body(http_request *r, const char *p, size_t n)
{
    oss_upload *u = r->op_state;
    if (!u || u->failed)
        return 0;
    if (u->size + n > u->limit) {
        /* Only a chunked body gets here (a declared length was checked up front): we
         * cannot answer mid-body, so the connection is dropped. */
        u->failed = 1;
        oss_error(r, OSS_ERR_EntityTooLarge, "The body exceeds %llu bytes.", (unsigned long long)u->limit);
        return -1;
    }
    vodup_md5_update(u->md5, p, n);
    u->crc = vodup_crc64(u->crc, p, n);
    u->size += n;
    int rc = u->bs->ops->writer_write(u->w, p, n);
    if (rc != VODUP_BLOB_OK) {
        u->failed = 1;
        u->bs->ops->writer_abort(u->w);
        u->w = NULL;
        oss_error(r, rc == VODUP_BLOB_ENOSPC ? OSS_ERR_StorageFull : OSS_ERR_InternalError,
                  rc == VODUP_BLOB_ENOSPC ? VODUP_STORAGE_FULL_MSG
                                          : "Writing the data failed; nothing was stored.");
    }
    return 0;
}

int oss_upload_digest(http_request *r, oss_upload *u)
{
    (void)r;
    if (u->failed || !u->w)
        return -1;
    if (!u->digested) {
        vodup_md5_final(u->md5, u->md5sum);
        u->digested = 1;
    }
    return 0;
}

int oss_upload_commit(http_request *r, oss_upload *u)
{
    if (oss_upload_digest(r, u) != 0)
        return -1;
    if (u->has_want_md5 && memcmp(u->md5sum, u->want_md5, 16) != 0) {
        oss_error(r, OSS_ERR_InvalidDigest, "The Content-MD5 you specified did not match what was received.");
        return -1;
    }
    vodup_blob_writer *w = u->w;
    u->w = NULL;
    if (u->size == 0) {
        /* Nothing to keep: an empty body costs no file (else 10000 empty parts per
         * upload would each hold an inode). Readers never open a zero-size segment. */
        u->bs->ops->writer_abort(w);
        memcpy(u->blob, OSS_BLOB_EMPTY, sizeof OSS_BLOB_EMPTY);
        return 0;
    }
    int rc = u->bs->ops->writer_commit(w, u->blob);
    if (rc != VODUP_BLOB_OK) {
        oss_error(r, rc == VODUP_BLOB_ENOSPC ? OSS_ERR_StorageFull : OSS_ERR_InternalError,
                  "Making the data durable failed; nothing was stored.");
        return -1;
    }
    u->committed = 1;
    return 0;
}

void oss_upload_discard(http_request *r, oss_upload *u)
{
    if (u->committed)
        r->srv->blobs->ops->remove(r->srv->blobs, u->blob);
    u->committed = 0;
}
