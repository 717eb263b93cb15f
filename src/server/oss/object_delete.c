/* object_delete.c - DeleteObject. Deleting a missing key is a success (204), as in OSS. */
#include "server/oss/oss.h"

static int delete_begin(http_request *r)
{
    if (oss_check_key(r) != 0)
        return 0;
    vodup_meta_bucket b;
    if (oss_require_bucket(r, &b) != 0)
        return 0;
    vodup_meta_bucket_clear(&b);
    return 0;
}

static void delete_finish(http_request *r)
{
    core c;
    oss_core(r, &c);
    vodupd_detail d = {0};
    vodupd_status st = core_object_delete(&c, r->bucket, r->key, r->key_len, &d);
    if (st != VODUPD_OK) {
        oss_status_error(r, st, &d);
        return;
    }
    http_respond_empty(r, 204);
}

const http_op oss_op_delete_object = {"DeleteObject", delete_begin, NULL, delete_finish, 1};
