/* shared_ops.c - the handlers that are the same in OSS and S3 (route.h): one core call,
 * answered through the request's dialect, so neither dialect keeps a copy. */
#include "server/core/route.h"

#include <jansson.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "common/xml.h"
#include "server/config.h"
#include "server/core/xml.h"

int core_http_status(http_request *r, vodupd_status st, const vodupd_detail *d)
{
    if (st == VODUPD_OK)
        return 0;
    r->dialect->render_error(r, st, d);
    return -1;
}

int core_http_require_bucket(http_request *r, vodup_meta_bucket *b)
{
    core c;
    core_of_server(&c, r->srv);
    vodupd_detail d = {0};
    return core_http_status(r, core_bucket_get(&c, r->bucket, r->cred.account_id, b, &d), &d);
}

int core_http_xml_begin(http_request *r)
{
    vodup_meta_bucket b;
    if (core_http_require_bucket(r, &b) != 0)
        return -1;
    vodup_meta_bucket_clear(&b);
    uint64_t len;
    vodupd_detail d = {0};
    if (http_content_length(r, &len) == 1 && len > VODUPD_MAX_XML_BODY) {
        d.limit = VODUPD_MAX_XML_BODY;
        return core_http_status(r, VODUPD_ETOOLARGE, &d);
    }
    r->body_limit = VODUPD_MAX_XML_BODY;
    return 0;
}

int core_http_list(http_request *r, core_http_listing *l)
{
    core c;
    core_of_server(&c, r->srv);
    core_list_arg bad;
    vodupd_detail d = {0};
    memset(&l->res, 0, sizeof l->res);
    vodupd_status st = core_list_query_init(&l->q, &l->owned, &l->args, &bad);
    if (st == VODUPD_OK)
        st = (l->uploads ? core_upload_list : core_object_list)(&c, r->bucket, &l->q, l->cb, l->u, &l->res, &d);
    if (st == VODUPD_OK)
        return 0;
    l->refuse(r, st, &d, bad, l->max_name);
    return -1;
}

void core_http_listing_clear(core_http_listing *l)
{
    core_list_result_clear(&l->res);
    free(l->owned);
    l->owned = NULL;
}

void core_http_reply_xml(http_request *r, vbuf *x, const vbuf *items, const char *root)
{
    if (items)
        vbuf_append(x, items->data ? items->data : "", items->len);
    vbuf_printf(x, "</%s>\n", root);
    http_respond_buf(r, 200, "application/xml", x);
    vbuf_free(x);
}

void core_http_delete_objects(http_request *r, const char *head, int url, void (*malformed)(http_request *r, const char *why),
                              const char *(*code_of)(vodupd_status st, const vodupd_detail *d, char *msg, size_t n))
{
    core_delete_body del;
    const char *why;
    int rc = core_delete_body_parse(&del, r->body.data, r->body.len, &why);
    vodupd_detail d = {0};
    if (rc != 0) {
        if (rc == -2)
            core_http_status(r, VODUPD_ENOMEM, NULL);
        else
            malformed(r, why);
        core_delete_body_clear(&del);
        return;
    }
    core c;
    core_of_server(&c, r->srv);
    if (core_http_status(r, core_object_delete_many(&c, &r->cred, r->bucket, del.items, del.n, &d), &d) != 0) {
        core_delete_body_clear(&del);
        return;
    }
    vbuf x = VBUF_INIT;
    vbuf_puts(&x, head);
    for (size_t i = 0; i < del.n; i++) {
        const core_delete_item *it = &del.items[i];
        if (it->st == VODUPD_OK && del.quiet)
            continue;
        vbuf_puts(&x, it->st == VODUPD_OK ? "<Deleted>" : "<Error>");
        core_xml_key(&x, "Key", it->key, it->key_len, url);
        if (it->st == VODUPD_OK) {
            vbuf_puts(&x, "</Deleted>");
            continue;
        }
        char msg[512];
        const char *code = code_of(it->st, &it->d, msg, sizeof msg);
        vodup_xml_elem(&x, "Code", code, strlen(code));
        vodup_xml_elem(&x, "Message", msg, strlen(msg));
        vbuf_puts(&x, "</Error>");
    }
    core_delete_body_clear(&del);
    core_http_reply_xml(r, &x, NULL, "DeleteResult");
}

static int delete_bucket_begin(http_request *r)
{
    vodup_meta_bucket b;
    if (core_http_require_bucket(r, &b) == 0)
        vodup_meta_bucket_clear(&b);
    return 0;
}

static void delete_bucket_finish(http_request *r)
{
    core c;
    core_of_server(&c, r->srv);
    vodupd_detail d = {0};
    if (core_http_status(r, core_bucket_delete(&c, r->bucket, &d), &d) == 0)
        http_respond_empty(r, 204);
}

const http_op core_op_delete_bucket = {"DeleteBucket", delete_bucket_begin, NULL, delete_bucket_finish, 1};

int core_http_user_meta(const http_request *r, const char *prefix, size_t limit, int count_prefix, size_t max_name,
                        char **json)
{
    *json = NULL;
    size_t pl = strlen(prefix), total = 0;
    json_t *j = NULL;
    int rc = CORE_META_OK;
    for (size_t i = 0; i < r->nheaders && rc == CORE_META_OK; i++) {
        const char *n = r->headers[i].name, *v = r->headers[i].value;
        if (strncasecmp(n, prefix, pl) != 0)
            continue;
        size_t nl = strlen(n + pl);
        total += (count_prefix ? pl : 0) + nl + strlen(v);
        if (total > limit) {
            rc = CORE_META_ETOOBIG;
            break;
        }
        if (nl == 0 || nl > max_name) {
            rc = CORE_META_ENAME;
            break;
        }
        char *lower = malloc(nl + 1);
        if (!lower || (!j && !(j = json_object()))) {
            free(lower);
            rc = CORE_META_ENOMEM;
            break;
        }
        for (size_t k = 0; k <= nl; k++) {
            char ch = n[pl + k];
            lower[k] = (char)(ch >= 'A' && ch <= 'Z' ? ch + 32 : ch);
        }
        json_t *str = json_string(v);   /* NULL when v is not UTF-8: JSON cannot keep it */
        if (!str || json_object_set_new(j, lower, str) != 0)
            rc = str ? CORE_META_ENOMEM : CORE_META_EUTF8;
        free(lower);
    }
    if (rc == CORE_META_OK && j && !(*json = json_dumps(j, JSON_COMPACT | JSON_SORT_KEYS)))
        rc = CORE_META_ENOMEM;
    json_decref(j);
    return rc;
}

void core_http_user_meta_headers(http_response *resp, const char *json, const char *prefix)
{
    if (!json)
        return;
    json_t *j = json_loads(json, 0, NULL);
    const char *k;
    json_t *v;
    if (j && json_is_object(j)) {
        json_object_foreach(j, k, v) {
            if (!json_is_string(v))
                continue;
            vbuf name = VBUF_INIT;
            vbuf_printf(&name, "%s%s", prefix, k);
            http_response_header(resp, vbuf_cstr(&name), json_string_value(v));
            vbuf_free(&name);
        }
    }
    json_decref(j);
}
