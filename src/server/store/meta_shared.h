/* meta_shared.h - pure helpers every metadata back end uses the same way (meta_shared.c),
 * so that SQLite and PostgreSQL list, name and filter alike. Back ends only. */
#ifndef VODUP_STORE_META_SHARED_H
#define VODUP_STORE_META_SHARED_H

#include "server/store/meta.h"

#include <stddef.h>
#include <stdint.h>
#include <time.h>

/* Range over keys of one bucket shared by the two listings: the tighter of the prefix
 * and the marker becomes the single lower bound so that SQLite seeks straight to it in
 * the (bucket, key) index instead of scanning from the prefix. */
typedef struct meta_key_range {
    const void *lo;
    size_t lo_len;
    int lo_strict;      /* key > lo rather than key >= lo */
    int marker_is_lo;   /* lo is the marker (uploads then compare (key, id)) */
    unsigned char *hi;  /* exclusive, NULL for none */
    size_t hi_len;
} meta_key_range;

/* Fills r for keys starting with prefix and after `after` (either may be NULL/empty);
 * r->hi is malloc'd (the caller frees it). ENOMEM or OK. */
int meta__key_range_init(meta_key_range *r, const char *prefix, size_t prefix_len, const char *after,
                         size_t after_len);
/* "HEX-N": MD5 over the n parts' upper-case hex ETags, concatenated. */
int meta__multipart_etag(char out[64], const vodup_meta_part *got, size_t n);
/* ---- Complete (upload_complete*, upload_commit) --------------------------------------
 * What is the same in every back end's Complete; each calls these inside its transaction
 * with its own way of reading one stored part of the upload: read(ctx, number, out) fills
 * out and answers OK, ENOTFOUND for no such part, or another code. */
typedef int (*meta_part_read_fn)(void *ctx, int number, vodup_meta_part *out);

/* Complete's checks of the requested list (docs/internals/store-contract.md): not empty,
 * numbers ascending (EPARTORDER), each part stored under its ETag, compared ignoring case
 * (EINVALIDPART), every part but the last at least min_part_size (ETOOSMALL); *bad_index
 * names the offending entry. got[] (nparts) receives the stored parts. */
int meta__complete_check(const vodup_meta_complete_part *parts, size_t nparts, uint64_t min_part_size,
                         meta_part_read_fn read, void *ctx, vodup_meta_part *got, size_t *bad_index);
/* The object a Complete makes of got[]: multipart ETag, type Multipart, mtime now, the
 * size and the CRC-64 of the parts together. */
int meta__complete_fields(vodup_meta_object *o, const vodup_meta_part *got, size_t n, time_t now);
/* upload_commit's check that each of the caller's parts is still the stored one (the same
 * blob and size): one uploaded again since, or gone, makes the caller's checks stale
 * (EINVALIDPART with *bad_index). */
int meta__commit_check(const vodup_meta_part *parts, size_t nparts, meta_part_read_fn read, void *ctx,
                       size_t *bad_index);
/* Points o's bucket, key, content type and user metadata at up's and fills blobs[] and
 * sizes[] (n each) with got's, in order: the segments of the object to store. */
void meta__complete_object(vodup_meta_object *o, const vodup_meta_upload *up, const vodup_meta_part *got,
                           size_t n, const char **blobs, uint64_t *sizes);

/* ",a,b," from "A, b": lower case, blanks dropped; *out NULL when the list names none (any
 * status). */
int meta__status_set(const char *list, char **out);
/* The end of callback_get in every back end: rc is the read's result and *config_json the
 * stored text; a sealed AuthKey in it is opened (meta_ops.h, the sealer). On failure
 * *config_json is freed and NULL. Returns the final status. */
int meta__callback_unseal(vodup_meta *m, const char *account_id, int rc, char **config_json);

#endif
