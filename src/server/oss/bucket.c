/* bucket.c - PutBucket, DeleteBucket, ListBuckets (GetService), GetBucketInfo/Location. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/timefmt.h"
#include "common/xml.h"
#include "server/config.h"
#include "server/oss/oss.h"

static int put_bucket_begin(http_request *r)
{
    if (!core_bucket_name_valid(r->bucket)) {
        oss_error(r, OSS_ERR_InvalidBucketName,
                  "The bucket name must be 3 to 63 characters of a-z, 0-9 and '-', starting and ending with a letter or digit.");
        return 0;
    }
    /* The optional CreateBucketConfiguration body is read and ignored (one storage class). */
    r->body_limit = VODUPD_MAX_SMALL_BODY;
    return 0;
}

static void put_bucket_finish(http_request *r)
{
    core c;
    oss_core(r, &c);
    vodupd_detail d = {0};
    int created;
    vodupd_status st = core_bucket_create(&c, r->bucket, r->cred.account_id, &created, &d);
    if (st != VODUPD_OK) {
        oss_status_error(r, st, &d);
        return;
    }
    if (!created) { /* creating your own bucket again succeeds, as in OSS */
        http_respond_empty(r, 200);
        return;
    }
    char loc[128];
    snprintf(loc, sizeof loc, "/%s", r->bucket);
    http_response *resp = http_response_empty();
    http_response_header(resp, "Location", loc);
    http_reply(r, 200, resp);
}

const http_op oss_op_put_bucket = {"PutBucket", put_bucket_begin, oss_collect_body, put_bucket_finish, 1};

typedef struct bucket_list {
    vbuf *x;
    const char *region;
} bucket_list;

static int list_bucket_cb(const vodup_meta_bucket *b, void *u)
{
    bucket_list *bl = u;
    char when[25];
    vodup_time_iso_ms(when, b->created);
    vbuf_printf(bl->x,
                "<Bucket><CreationDate>%s</CreationDate><Location>oss-%s</Location><Name>%s</Name>"
                "<Region>%s</Region><StorageClass>Standard</StorageClass></Bucket>",
                when, bl->region, b->name, bl->region);
    return 0;
}

static int list_buckets_begin(http_request *r)
{
    vbuf items = VBUF_INIT;
    bucket_list bl = {&items, r->srv->region};
    core c;
    oss_core(r, &c);
    vodupd_detail d = {0};
    vodupd_status st = core_bucket_list(&c, r->cred.account_id, http_query(r, "prefix"), list_bucket_cb, &bl, &d);
    if (st != VODUPD_OK) {
        vbuf_free(&items);
        oss_status_error(r, st, &d);
        return 0;
    }
    vbuf x = VBUF_INIT;
    oss_xml_start(&x, "ListAllMyBucketsResult");
    vbuf_printf(&x, "<Owner><ID>%s</ID><DisplayName>%s</DisplayName></Owner><Buckets>", r->cred.account_id,
                r->cred.account_id);
    vbuf_append(&x, items.data ? items.data : "", items.len);
    vbuf_puts(&x, "</Buckets></ListAllMyBucketsResult>\n");
    vbuf_free(&items);
    http_respond_buf(r, 200, "application/xml", &x);
    vbuf_free(&x);
    return 0;
}

const http_op oss_op_list_buckets = {"ListBuckets", list_buckets_begin, NULL, NULL, 0};

static int bucket_info_begin(http_request *r)
{
    vodup_meta_bucket b;
    if (oss_require_bucket(r, &b) != 0)
        return 0;
    vbuf x = VBUF_INIT;
    if (http_has_query(r, "location")) {
        oss_xml_start(&x, "LocationConstraint");
        vbuf_printf(&x, "oss-%s</LocationConstraint>\n", r->srv->region);
    } else {
        char when[25];
        vodup_time_iso_ms(when, b.created);
        oss_xml_start(&x, "BucketInfo");
        vbuf_printf(&x,
                    "<Bucket><CreationDate>%s</CreationDate><Location>oss-%s</Location><Name>%s</Name>"
                    "<Region>%s</Region><StorageClass>Standard</StorageClass>"
                    "<Owner><ID>%s</ID><DisplayName>%s</DisplayName></Owner>"
                    "<AccessControlList><Grant>private</Grant></AccessControlList></Bucket></BucketInfo>\n",
                    when, r->srv->region, b.name, r->srv->region, b.account_id, b.account_id);
    }
    vodup_meta_bucket_clear(&b);
    http_respond_buf(r, 200, "application/xml", &x);
    vbuf_free(&x);
    return 0;
}

const http_op oss_op_get_bucket_info = {"GetBucketInfo", bucket_info_begin, NULL, NULL, 0};
