/* engine.h - what the files of libvodup's worker (the "engine") share.
 *
 * The worker thread runs one libcurl multi loop per client (loop.c). Each active file
 * goes through a state machine (file_state.c): its source is identified (source.c), its
 * address and credentials obtained (credentials.c), its requests built (parts.c) through
 * the item's dialect (dialect.h: OSS today) and their answers applied (answers.c), on
 * easy handles managed by transfers.c; callbacks are queued (events.c) and resume
 * records kept (resume.c). Everything declared here runs on the worker thread, unless
 * its comment says otherwise; the ownership rules are internal.h's.
 */
#ifndef VODUP_CLIENT_ENGINE_H
#define VODUP_CLIENT_ENGINE_H

#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "client/internal.h"

#define KIB 1024ull
#define MIB (1024ull * 1024ull)

/* The callbacks events.c queues (vcl_emit's type). */
enum { EV_STARTED = 1, EV_PROGRESS, EV_SUCCEED, EV_FAILED, EV_EXPIRED, EV_RETRY, EV_RETRY_RESUME, EV_LIST_DONE };

static inline void lk(vodup_client *c) { pthread_mutex_lock(&c->mu); }
static inline void ulk(vodup_client *c) { pthread_mutex_unlock(&c->mu); }

static inline char *xdup(const char *s) { return s ? strdup(s) : NULL; }

static inline int replace_str(char **dst, const char *src)
{
    char *n = NULL;
    if (src && !(n = strdup(src)))
        return VODUP_ENOMEM;
    free(*dst);
    *dst = n;
    return 0;
}

static inline const char *base_name(const char *p)
{
    const char *s = strrchr(p, '/');
    return s ? s + 1 : p;
}


/* events.c */
void vcl_emit(vodup_client *c, vcl_item *it, int type, int code, const char *msg, uint64_t done, uint64_t total);
void vcl_dispatch(vodup_client *c);
void vcl_report_progress(vodup_client *c, vcl_item *it, int64_t now, int64_t *wake);
void vcl_check_list_done(vodup_client *c);

/* transfers.c */
void vcl_resplit_rate(vodup_client *c);
vcl_xfer *vcl_xfer_new(vodup_client *c, vcl_item *it, int kind);
int vcl_xfer_start(vodup_client *c, vcl_xfer *x);
void vcl_xfer_unlink(vodup_client *c, vcl_xfer *x);
void vcl_drop_xfers(vodup_client *c, vcl_item *it);
void vcl_body_from_file(vcl_xfer *x, int fd, uint64_t off, uint64_t len);
void vcl_body_from_mem(vcl_xfer *x);
/* Sets x up for rq through the dialect of rq->addr (x->dialect). */
int vcl_request_prepare(vcl_xfer *x, const vodup_client *c, const vcl_request *rq);
void vcl_abort_detached(vodup_client *c, const vcl_addr *a, const vcl_creds *k, const char *upload_id);

/* file_state.c */
void vcl_free_parts(vcl_engine *e);
void vcl_reset_upload(vcl_engine *e);
void vcl_reset_all(vcl_engine *e);
void vcl_close_fd(vcl_engine *e);
void vcl_publish(vodup_client *c, vcl_item *it);
void vcl_fail_item(vodup_client *c, vcl_item *it, int code, const char *msg);
void vcl_succeed_item(vodup_client *c, vcl_item *it);
void vcl_retry_later(vodup_client *c, vcl_item *it, int *attempts, int64_t *not_before, int code,
                        const char *msg);
void vcl_request_ok(vodup_client *c, vcl_item *it);
int64_t vcl_step(vodup_client *c, vcl_item *it);

/* source.c */
int vcl_source_changed(vcl_item *it, char *why, size_t whylen);
void vcl_file_changed(vodup_client *c, vcl_item *it, const char *why);
void vcl_start_verify(vcl_item *it, uint64_t expect);
void vcl_verify_step(vodup_client *c, vcl_item *it);
int vcl_reread_part(vodup_client *c, vcl_item *it, size_t i);
void vcl_identify(vodup_client *c, vcl_item *it);

/* parts.c */
int vcl_plan_parts(vcl_engine *e, uint64_t part_size);
int vcl_plan(vodup_client *c, vcl_engine *e);
int vcl_start_op(vodup_client *c, vcl_item *it, int kind, int marker);
int64_t vcl_pump(vodup_client *c, vcl_item *it);

/* answers.c */
void vcl_on_done(vodup_client *c, vcl_xfer *x, CURLcode cc);

/* credentials.c */
int vcl_take_result(vodup_client *c, vcl_item *it, vcl_result *out);
void vcl_sts_begin(vodup_client *c, vcl_item *it, int refresh);
void vcl_sts_end(vodup_client *c, vcl_item *it, vcl_result *r);
void vcl_provider_begin(vodup_client *c, vcl_item *it, vodup_auth_kind kind);
void vcl_provider_end(vodup_client *c, vcl_item *it, vcl_result *r);
int vcl_take_pending(vodup_client *c, vcl_item *it);
int vcl_expiring(const vodup_client *c, const vcl_engine *e);

/* resume.c */
void vcl_save_record(vodup_client *c, vcl_item *it);
void vcl_record_part(vodup_client *c, vcl_item *it, size_t i);
void vcl_remove_record(vodup_client *c, vcl_item *it);
int vcl_adopt_record(vodup_client *c, vcl_item *it, vcl_record *r);

#endif
