/* admin.h - operator commands that work on a data directory, also while vodupd serves
 * it (SQLite takes care of the concurrency): users, roles, AccessKeys, token keys, pending
 * events. */
#ifndef VODUPD_ADMIN_H
#define VODUPD_ADMIN_H

int admin_user(int argc, char **argv);
int admin_role(int argc, char **argv);
int admin_keys(int argc, char **argv);
int admin_key(int argc, char **argv);
int admin_events(int argc, char **argv);
/* `vodupd backup --to DIR`: a consistent copy of a data directory, also while it is served. */
int admin_backup(int argc, char **argv);
/* `vodupd gc`: expiry of abandoned uploads and media now, and files when not served. */
int admin_gc(int argc, char **argv);

#endif
