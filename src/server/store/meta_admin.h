/* meta_admin.h - what only the operator's commands (`vodupd key`, `vodupd backup`) ask of
 * the metadata store: AccessKeys managed one by one, and a consistent copy of the database
 * taken while vodupd serves. Same conventions as meta.h; implemented on SQLite in
 * meta_sqlite_admin.c. */
#ifndef VODUP_STORE_META_ADMIN_H
#define VODUP_STORE_META_ADMIN_H

#include <stddef.h>
#include <time.h>

#include "server/store/meta.h"

/* As vodup_meta_key_create, refused with ELIMIT when principal ("root" or a user name)
 * of account_id has max keys already (the count and the insert are one transaction, so
 * two commands at once cannot exceed it). max 0: no limit. */
int vodup_meta_key_create_max(vodup_meta *m, const char *key_id, const char *account_id, const char *principal,
                              const void *secret_sealed, size_t sealed_len, time_t now, int max);
/* Enables or disables key_id of account_id (ENOTFOUND when it has no such key). Requests
 * read the key's row each time (auth_resolve), so a disabled key is refused at once, in
 * every process serving the data directory. */
int vodup_meta_key_set_active(vodup_meta *m, const char *account_id, const char *key_id, int active);
/* Deletes key_id of account_id (ENOTFOUND when it has no such key). */
int vodup_meta_key_delete(vodup_meta *m, const char *account_id, const char *key_id);

/* Marks up to max media records that have been Uploading since before `before` (no
 * CreateUpload*, RefreshUploadVideo or completion since) as UploadFail at now: their
 * client gave up, and upload credentials can no longer write them (meta.h, "writes by
 * upload credentials"). Returns how many, or a negative error. */
int vodup_meta_media_expire_uploading(vodup_meta *m, time_t before, time_t now, int max);

/* Copies the database of data_dir to the file dest (which must not exist) with SQLite's
 * online backup API: a snapshot of one moment, taken while other connections and
 * processes write (the copy restarts when they write during it, bounded by tries). Then,
 * in the copy only, empties the blob garbage list (the backup carries no unreferenced
 * blobs). 0, or -1 with a message in err. */
int vodup_meta_backup_db(const char *data_dir, const char *dest, char *err, size_t errlen);
/* Calls cb with every blob id that the database at db_path references (object segments
 * and parts), read-only. 0, or -1 with err; cb returning non-zero stops with that value. */
int vodup_meta_backup_blobs(const char *db_path, int (*cb)(const char *blob, void *u), void *u, char *err,
                            size_t errlen);

#endif
