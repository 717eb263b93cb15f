/* bucket.c - ListBuckets, CreateBucket, HeadBucket, GetBucketLocation, DeleteBucket over the core. */
#include <stdio.h>
#include <string.h>

#include "common/timefmt.h"
#include "common/xml.h"
#include "server/config.h"
#include "server/s3/s3.h"

static int ignore_body(http_request *r, const char *p, size_t n)
{
    (void)p;
    if (r->body.len + n > r->body_limit) {
        s3_error(r, S3_ERR_MalformedXML, "The request body exceeds %zu bytes.", r->body_limit);
        return 0;
    }
    r->body.len += n; /* counted, not kept: the location constraint has one answer here */
    return 0;
}

static int create_begin(http_request *r)
{
    if (!core_bucket_name_valid(r->bucket)) {
        s3_error(r, S3_ERR_InvalidBucketName, "The specified bucket is not valid.");
        return 0;
    }
    r->body_limit = VODUPD_MAX_SMALL_BODY;
    return 0;
}

static void create_finish(http_request *r)
{
    r->body.len = 0;
    core c;
    s3_core(r, &c);
    vodupd_detail d = {0};
    int created;
    vodupd_status st = core_bucket_create(&c, r->bucket, r->cred.account_id, &created, &d);
    if (st != VODUPD_OK) {
        s3_status_error(r, st, &d);
        return;
    }
    if (!created) { /* S3 (outside us-east-1) refuses a second CreateBucket by the owner */
        s3_error(r, S3_ERR_BucketAlreadyOwnedByYou,
                 "Your previous request to create the named bucket succeeded and you already own it.");
        return;
    }
    char loc[80];
    snprintf(loc, sizeof loc, "/%s", r->bucket);
    http_response *resp = http_response_empty();
    http_response_header(resp, "Location", loc);
    http_reply(r, 200, resp);
}

const http_op s3_op_create_bucket = {"CreateBucket", create_begin, ignore_body, create_finish, 1};

/* The one region every bucket is in: vodupd's --region, us-east-1 when it has none. */
static const char *bucket_region(const http_request *r)
{
    return r->srv->region[0] ? r->srv->region : "us-east-1";
}

static int head_begin(http_request *r)
{
    vodup_meta_bucket b;
    if (s3_require_bucket(r, &b) != 0)
        return 0;
    vodup_meta_bucket_clear(&b);
    http_response *resp = http_response_empty();
    http_response_header(resp, "x-amz-bucket-region", bucket_region(r));
    http_reply(r, 200, resp);
    return 0;
}

const http_op s3_op_head_bucket = {"HeadBucket", head_begin, NULL, NULL, 0};

/* GetBucketLocation: S3 answers an empty LocationConstraint for us-east-1, the region's
 * name otherwise (what the SDKs expect when they pick the endpoint for a bucket). */
static int location_begin(http_request *r)
{
    vodup_meta_bucket b;
    if (s3_require_bucket(r, &b) != 0)
        return 0;
    vodup_meta_bucket_clear(&b);
    const char *region = bucket_region(r);
    vbuf x = VBUF_INIT;
    s3_xml_start(&x, "LocationConstraint");
    if (strcmp(region, "us-east-1") != 0)
        vodup_xml_escape(&x, region, strlen(region));
    vbuf_puts(&x, "</LocationConstraint>\n");
    http_respond_buf(r, 200, "application/xml", &x);
    vbuf_free(&x);
    return 0;
}

const http_op s3_op_get_bucket_location = {"GetBucketLocation", location_begin, NULL, NULL, 0};

typedef struct bucket_lister {
    vbuf *x;
} bucket_lister;

static int list_cb(const vodup_meta_bucket *b, void *u)
{
    bucket_lister *l = u;
    char when[25];
    vodup_time_iso_ms(when, b->created);
    vbuf_puts(l->x, "<Bucket>");
    vodup_xml_elem(l->x, "Name", b->name, strlen(b->name));
    vbuf_printf(l->x, "<CreationDate>%s</CreationDate></Bucket>", when);
    return 0;
}

static int list_buckets_begin(http_request *r)
{
    vbuf x = VBUF_INIT;
    s3_xml_start(&x, "ListAllMyBucketsResult");
    const char *acct = r->cred.account_id;
    vbuf_puts(&x, "<Owner>");
    vodup_xml_elem(&x, "ID", acct, strlen(acct));
    vodup_xml_elem(&x, "DisplayName", acct, strlen(acct));
    vbuf_puts(&x, "</Owner><Buckets>");
    bucket_lister l = {&x};
    core c;
    s3_core(r, &c);
    vodupd_detail d = {0};
    vodupd_status st = core_bucket_list(&c, acct, http_query(r, "prefix"), list_cb, &l, &d);
    if (st != VODUPD_OK) {
        vbuf_free(&x);
        s3_status_error(r, st, &d);
        return 0;
    }
    vbuf_puts(&x, "</Buckets></ListAllMyBucketsResult>\n");
    http_respond_buf(r, 200, "application/xml", &x);
    vbuf_free(&x);
    return 0;
}

const http_op s3_op_list_buckets = {"ListBuckets", list_buckets_begin, NULL, NULL, 0};
