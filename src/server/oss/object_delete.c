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
    int rc = vodup_meta_object_delete(r->srv->meta, r->bucket, r->key, r->key_len);
    if (rc != VODUP_META_OK && rc != VODUP_META_ENOTFOUND) {
        oss_error(r, OSS_ERR_InternalError, "Deleting the object failed.");
        return;
    }
    vodupd_gc_kick(r->srv);
    http_respond_empty(r, 204);
}

const http_op oss_op_delete_object = {"DeleteObject", delete_begin, NULL, delete_finish, 1};
