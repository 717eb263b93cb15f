/* meta_shared.c - what the metadata back ends (meta_sqlite*.c, meta_pg*.c) compute alike,
 * outside any database: the key range of a listing, Complete's checks and the object it
 * makes (multipart ETag, size, CRC-64), the status set of a media listing. See
 * meta_shared.h. */
#include "server/store/meta_shared.h"
#include "server/store/meta_ops.h"

#include "common/codec.h"
#include "common/crc.h"
#include "common/digest.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

/* memcmp order, a proper prefix first: the order of SQLite's BLOB and PostgreSQL's BYTEA. */
static int bytes_cmp(const void *a, size_t an, const void *b, size_t bn)
{
    size_t n = an < bn ? an : bn;
    int r = n ? memcmp(a, b, n) : 0;
    if (r)
        return r;
    return an < bn ? -1 : an > bn;
}

/* The smallest byte string greater than every string starting with p: p without its
 * trailing 0xFF bytes, last byte incremented. Returns its length, 0 when there is none
 * (p empty or all 0xFF: no upper bound). out has room for n bytes. */
static size_t prefix_successor(unsigned char *out, const void *p, size_t n)
{
    const unsigned char *b = p;
    while (n > 0 && b[n - 1] == 0xFF)
        n--;
    if (n == 0)
        return 0;
    memcpy(out, b, n);
    out[n - 1]++;
    return n;
}


int meta__key_range_init(meta_key_range *r, const char *prefix, size_t prefix_len, const char *after,
                          size_t after_len)
{
    memset(r, 0, sizeof *r);
    if (!prefix)
        prefix_len = 0;
    if (!after)
        after_len = 0;
    if (prefix_len) {
        r->hi = malloc(prefix_len);
        if (!r->hi)
            return VODUP_META_ENOMEM;
        r->hi_len = prefix_successor(r->hi, prefix, prefix_len);
        if (!r->hi_len) {
            free(r->hi);
            r->hi = NULL;
        }
    }
    if (after_len && bytes_cmp(after, after_len, prefix, prefix_len) >= 0) {
        r->lo = after;
        r->lo_len = after_len;
        r->lo_strict = 1;
        r->marker_is_lo = 1;
    } else {
        r->lo = prefix;
        r->lo_len = prefix_len;
    }
    return VODUP_META_OK;
}

/* "HEX-N": MD5 over the parts' upper-case hex ETags, concatenated. */
int meta__multipart_etag(char out[64], const vodup_meta_part *got, size_t n)
{
    vodup_md5_ctx *md = vodup_md5_new();
    if (!md)
        return VODUP_META_ENOMEM;
    for (size_t i = 0; i < n; i++) {
        char up[33];
        size_t len = strnlen(got[i].etag, 32);
        for (size_t j = 0; j < len; j++) {
            char ch = got[i].etag[j];
            up[j] = (ch >= 'a' && ch <= 'z') ? (char)(ch - 'a' + 'A') : ch;
        }
        vodup_md5_update(md, up, len);
    }
    unsigned char d[16];
    char hex[33];
    vodup_md5_final(md, d);
    vodup_md5_free(md);
    vodup_hex_upper(hex, d, sizeof d);
    snprintf(out, 64, "%s-%zu", hex, n);
    return VODUP_META_OK;
}

int meta__complete_check(const vodup_meta_complete_part *parts, size_t nparts, uint64_t min_part_size,
                         meta_part_read_fn read, void *ctx, vodup_meta_part *got, size_t *bad_index)
{
    if (nparts == 0) {
        *bad_index = 0;
        return VODUP_META_EINVALIDPART;
    }
    for (size_t i = 1; i < nparts; i++) {
        if (parts[i].number <= parts[i - 1].number) {
            *bad_index = i;
            return VODUP_META_EPARTORDER;
        }
    }
    for (size_t i = 0; i < nparts; i++) {
        memset(&got[i], 0, sizeof got[i]);
        int rc = read(ctx, parts[i].number, &got[i]);
        int terminated = strnlen(parts[i].etag, sizeof parts[i].etag) < sizeof parts[i].etag;
        if (rc == VODUP_META_ENOTFOUND ||
            (rc == VODUP_META_OK && (!terminated || strcasecmp(parts[i].etag, got[i].etag)))) {
            *bad_index = i;
            return VODUP_META_EINVALIDPART;
        }
        if (rc != VODUP_META_OK)
            return rc;
    }
    for (size_t i = 0; i + 1 < nparts; i++) {
        if (got[i].size < min_part_size) {
            *bad_index = i;
            return VODUP_META_ETOOSMALL;
        }
    }
    return VODUP_META_OK;
}

int meta__complete_fields(vodup_meta_object *o, const vodup_meta_part *got, size_t n, time_t now)
{
    int rc = meta__multipart_etag(o->etag, got, n);
    if (rc != VODUP_META_OK)
        return rc;
    snprintf(o->type, sizeof o->type, "Multipart");
    o->mtime = now;
    o->size = 0;
    o->crc64 = n ? got[0].crc64 : 0;
    for (size_t i = 0; i < n; i++) {
        if (i)
            o->crc64 = vodup_crc64_combine(o->crc64, got[i].crc64, got[i].size);
        o->size += got[i].size;
    }
    return VODUP_META_OK;
}

int meta__commit_check(const vodup_meta_part *parts, size_t nparts, meta_part_read_fn read, void *ctx,
                       size_t *bad_index)
{
    for (size_t i = 0; i < nparts; i++) {
        vodup_meta_part now;
        memset(&now, 0, sizeof now);
        int r = read(ctx, parts[i].number, &now);
        if (r == VODUP_META_ENOTFOUND ||
            (r == VODUP_META_OK && (strcmp(now.blob, parts[i].blob) != 0 || now.size != parts[i].size))) {
            *bad_index = i;
            return VODUP_META_EINVALIDPART;
        }
        if (r != VODUP_META_OK)
            return r;
    }
    return VODUP_META_OK;
}

void meta__complete_object(vodup_meta_object *o, const vodup_meta_upload *up, const vodup_meta_part *got,
                           size_t n, const char **blobs, uint64_t *sizes)
{
    o->bucket = up->bucket;
    o->key = up->key;
    o->key_len = up->key_len;
    o->content_type = up->content_type;
    o->user_meta = up->user_meta;
    for (size_t i = 0; i < n; i++) {
        blobs[i] = got[i].blob;
        sizes[i] = got[i].size;
    }
}

/* ",a,b," from "A, b": lower case, blanks dropped, so that one instr() tests membership
 * case-insensitively whatever the number of statuses. NULL (and *empty) when the list
 * names none, which means any status. */
int meta__status_set(const char *list, char **out)
{
    *out = NULL;
    if (!list)
        return VODUP_META_OK;
    size_t n = strlen(list);
    char *r = malloc(n + 3);
    if (!r)
        return VODUP_META_ENOMEM;
    size_t j = 0;
    int any = 0;
    r[j++] = ',';
    for (size_t i = 0; i < n; i++) {
        unsigned char ch = (unsigned char)list[i];
        if (isspace(ch))
            continue;
        if (ch != ',')
            any = 1;
        /* No empty entries: ",," would match a (never stored) empty status. */
        if (ch == ',' && r[j - 1] == ',')
            continue;
        r[j++] = (char)tolower(ch);
    }
    if (r[j - 1] != ',')
        r[j++] = ',';
    r[j] = '\0';
    if (!any) {
        free(r);
        return VODUP_META_OK;
    }
    *out = r;
    return VODUP_META_OK;
}

int meta__callback_unseal(vodup_meta *m, const char *account_id, int rc, char **config_json)
{
    const vodup_meta_sealer *sl = vodup_meta_sealer_of(m);
    if (rc != VODUP_META_OK || !sl || !*config_json)
        return rc;
    char *plain = NULL;
    rc = vodup_meta_auth_key_rewrite(sl, account_id, *config_json, 0, &plain);
    if (rc != VODUP_META_OK) {
        free(*config_json);
        *config_json = NULL;
        return rc;
    }
    if (plain) { /* NULL: nothing was sealed, the text stays as stored */
        free(*config_json);
        *config_json = plain;
    }
    return VODUP_META_OK;
}
