/* meta_shared.h - pure helpers every metadata back end uses the same way (meta_shared.c),
 * so that SQLite and PostgreSQL list, name and filter alike. Back ends only. */
#ifndef VODUP_STORE_META_SHARED_H
#define VODUP_STORE_META_SHARED_H

#include "server/store/meta.h"

#include <stddef.h>

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
/* ",a,b," from "A, b": lower case, blanks dropped; *out NULL when the list names none (any
 * status). */
int meta__status_set(const char *list, char **out);

#endif
