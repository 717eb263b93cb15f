/* ingest.c - a request body streamed into a new blob, digested in the same pass. */
#include <stdlib.h>
#include <string.h>

#include "common/crc.h"
#include "common/digest.h"
#include "server/core/internal.h"

struct core_ingest {
    vodup_blobstore *bs;
    vodup_blob_writer *w;
    unsigned digests;
    vodup_md5_ctx *md5;
    uint64_t crc;
    uint64_t size;
    uint64_t limit;
    int failed;                 /* a write failed: nothing will be stored */
    int finished;
    unsigned char md5sum[16];
    unsigned expect;            /* digests declared by the client */
    unsigned char want_md5[16];
    uint64_t want_crc;
    char blob[VODUP_BLOB_ID_LEN + 1];
    int committed;
};

static vodupd_status blob_status(int rc)
{
    return rc == VODUP_BLOB_ENOSPC ? VODUPD_ENOSPC : rc == VODUP_BLOB_ENOMEM ? VODUPD_ENOMEM : VODUPD_EIO;
}

vodupd_status core_ingest_open(core_ingest **out, const core *c, uint64_t limit, unsigned digests,
                               vodupd_detail *d)
{
    *out = NULL;
    core_ingest *in = calloc(1, sizeof *in);
    if (!in)
        return core__fail(d, VODUPD_ENOMEM, "Starting the body");
    /* MD5 and CRC-64 are what the store records for every object and part. */
    in->digests = digests | VODUPD_DIGEST_MD5 | VODUPD_DIGEST_CRC64;
    in->limit = limit;
    in->bs = c->blobs;
    in->md5 = vodup_md5_new();
    if (!in->md5) {
        core_ingest_free(in);
        return core__fail(d, VODUPD_ENOMEM, "Starting the body");
    }
    int rc = vodup_blob_writer_open(in->bs, &in->w);
    if (rc != VODUP_BLOB_OK) {
        in->w = NULL;
        core_ingest_free(in);
        return core__fail(d, blob_status(rc), "The object store cannot accept data now");
    }
    *out = in;
    return VODUPD_OK;
}

vodupd_status core_ingest_expect(core_ingest *in, vodupd_digest digest, const void *value, size_t n)
{
    if (!(in->digests & digest))
        return VODUPD_EIO;
    if (digest == VODUPD_DIGEST_MD5 && n == 16) {
        memcpy(in->want_md5, value, 16);
    } else if (digest == VODUPD_DIGEST_CRC64 && n == sizeof in->want_crc) {
        memcpy(&in->want_crc, value, sizeof in->want_crc);
    } else {
        return VODUPD_EIO;
    }
    in->expect |= digest;
    return VODUPD_OK;
}

vodupd_status core_ingest_write(core_ingest *in, const void *p, size_t n, vodupd_detail *d)
{
    if (in->failed || !in->w)
        return VODUPD_EINCOMPLETE;
    if (n > in->limit - in->size) {
        in->failed = 1;
        if (d)
            d->limit = in->limit;
        return VODUPD_ETOOLARGE;
    }
    vodup_md5_update(in->md5, p, n);
    in->crc = vodup_crc64(in->crc, p, n);
    in->size += n;
    int rc = vodup_blob_write(in->w, p, n);
    if (rc != VODUP_BLOB_OK) {
        in->failed = 1;
        vodup_blob_abort(in->w);
        in->w = NULL;
        return core__fail(d, blob_status(rc), "Writing the data");
    }
    return VODUPD_OK;
}

vodupd_status core_ingest_finish(core_ingest *in, vodupd_detail *d)
{
    if (in->failed || (!in->w && !in->committed))
        return VODUPD_EINCOMPLETE;
    if (!in->finished) {
        vodup_md5_final(in->md5, in->md5sum);
        in->finished = 1;
    }
    if ((in->expect & VODUPD_DIGEST_MD5) && memcmp(in->md5sum, in->want_md5, 16) != 0) {
        if (d) {
            d->digest = VODUPD_DIGEST_MD5;
            memcpy(d->expected, in->want_md5, 16);
            memcpy(d->actual, in->md5sum, 16);
            d->digest_len = 16;
        }
        return VODUPD_EBADDIGEST;
    }
    if ((in->expect & VODUPD_DIGEST_CRC64) && in->want_crc != in->crc) {
        if (d) {
            d->digest = VODUPD_DIGEST_CRC64;
            memcpy(d->expected, &in->want_crc, sizeof in->want_crc);
            memcpy(d->actual, &in->crc, sizeof in->crc);
            d->digest_len = sizeof in->crc;
        }
        return VODUPD_EBADDIGEST;
    }
    return VODUPD_OK;
}

uint64_t core_ingest_size(const core_ingest *in)
{
    return in->size;
}

const unsigned char *core_ingest_md5(const core_ingest *in)
{
    return in->md5sum;
}

uint64_t core_ingest_crc64(const core_ingest *in)
{
    return in->crc;
}

vodupd_status core__ingest_commit(core_ingest *in, char id[VODUP_BLOB_ID_LEN + 1], vodupd_detail *d)
{
    vodupd_status st = core_ingest_finish(in, d);
    if (st != VODUPD_OK)
        return st;
    if (in->committed) {
        memcpy(id, in->blob, sizeof in->blob);
        return VODUPD_OK;
    }
    vodup_blob_writer *w = in->w;
    in->w = NULL;
    if (in->size == 0) {
        /* Nothing to keep: an empty body costs no file (else 10000 empty parts per
         * upload would each hold an inode). */
        vodup_blob_abort(w);
        memcpy(in->blob, CORE_BLOB_EMPTY, sizeof CORE_BLOB_EMPTY);
    } else {
        int rc = vodup_blob_commit(w, in->blob);
        if (rc != VODUP_BLOB_OK) {
            in->failed = 1;
            return core__fail(d, blob_status(rc), "Making the data durable");
        }
    }
    in->committed = 1;
    memcpy(id, in->blob, sizeof in->blob);
    return VODUPD_OK;
}

void core__ingest_discard(core_ingest *in)
{
    if (in->committed && in->blob[0])
        vodup_blob_remove(in->bs, in->blob);
    in->committed = 0;
    in->failed = 1;
}

void core_ingest_free(core_ingest *in)
{
    if (!in)
        return;
    if (in->w)
        vodup_blob_abort(in->w);
    vodup_md5_free(in->md5);
    free(in);
}
