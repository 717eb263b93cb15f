/* object_put.c - PutObject: the body streams into the core's ingest, then the core
 * records the object (core_object_put, on the worker pool: the blob's flush and the
 * commit block). The answer comes only after both.
 */
#include <stdlib.h>
#include <string.h>

#include "server/config.h"
#include "server/oss/oss.h"
#include "server/oss/upload.h"

static int put_begin(http_request *r)
{
    if (oss_check_key(r) != 0)
        return 0;
    vodup_meta_bucket b;
    if (oss_require_bucket(r, &b) != 0)
        return 0;
    vodup_meta_bucket_clear(&b);
    char *user_meta;
    if (oss_collect_user_meta(r, &user_meta) != 0)
        return 0;
    oss_upload *u = oss_upload_begin(r, oss_rules.max_put_size);
    if (!u) {
        free(user_meta);
        return 0;
    }
    u->user_meta = user_meta;
    const char *ct = http_header(r, "Content-Type");
    u->content_type = strdup(ct && *ct ? ct : "application/octet-stream");
    if (!u->content_type)
        oss_status_error(r, VODUPD_ENOMEM, NULL);
    return 0;
}

static void put_finish(http_request *r)
{
    oss_upload *u = r->op_state;
    if (!u || u->failed || !u->content_type)
        return;
    core c;
    oss_core(r, &c);
    vodupd_detail d = {0};
    vodupd_status st;
    if (r->replay_only) { /* see core_scope_check */
        st = core_object_replay(&c, r->bucket, r->key, r->key_len, u->in, &d);
    } else {
        vodup_meta_guard g;
        core_put p = {r->bucket, r->key, r->key_len, u->content_type, u->user_meta, core_write_guard(&r->cred, &g)};
        st = core_object_put(&c, &p, u->in, &d);
    }
    if (st != VODUPD_OK) {
        oss_status_error(r, st, &d);
        return;
    }
    oss_reply_written(r, u);
}

const http_op oss_op_put_object = {"PutObject", put_begin, oss_upload_body, put_finish, 1};
