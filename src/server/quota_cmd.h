/* quota_cmd.h - `vodupd quota show|set`: an account's storage usage and its own quota
 * (core.h "storage quotas", store/meta_quota.h), and the size parser the options that
 * take a size share. */
#ifndef VODUPD_QUOTA_CMD_H
#define VODUPD_QUOTA_CMD_H

#include <stdint.h>

/* "123", "64K", "500M", "10G", "1T" (also "10GiB", "10GB": powers of 1024) into *bytes,
 * *pct 0; with allow_pct, "1%".."50%" into *pct (and *bytes 0). 0, or -1 when s is none
 * of these or does not fit 64 bits. */
int vodupd_parse_size(const char *s, uint64_t *bytes, unsigned *pct, int allow_pct);

int admin_quota(int argc, char **argv);

#endif
