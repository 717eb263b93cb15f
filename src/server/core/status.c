/* status.c - names of the core's statuses, and the one formatter of every dialect's
 * answers to them (status.h: each dialect's vodupd_answers table is data). */
#include <stdio.h>
#include <string.h>

#include "server/core/status.h"

static const char *const NAMES[VODUPD_STATUS__COUNT] = {
    [VODUPD_OK] = "OK",
    [VODUPD_ENOBUCKET] = "ENOBUCKET",
    [VODUPD_ENOKEY] = "ENOKEY",
    [VODUPD_ENOUPLOAD] = "ENOUPLOAD",
    [VODUPD_EEXISTS] = "EEXISTS",
    [VODUPD_ENOTEMPTY] = "ENOTEMPTY",
    [VODUPD_EINVALIDPART] = "EINVALIDPART",
    [VODUPD_EPARTORDER] = "EPARTORDER",
    [VODUPD_ETOOSMALL] = "ETOOSMALL",
    [VODUPD_ETOOLARGE] = "ETOOLARGE",
    [VODUPD_EBADDIGEST] = "EBADDIGEST",
    [VODUPD_EDENIED] = "EDENIED",
    [VODUPD_EREVOKED] = "EREVOKED",
    [VODUPD_ELIMIT] = "ELIMIT",
    [VODUPD_ENOSPC] = "ENOSPC",
    [VODUPD_EIO] = "EIO",
    [VODUPD_ENOMEM] = "ENOMEM",
    [VODUPD_EINCOMPLETE] = "EINCOMPLETE",
    [VODUPD_EBADREQUEST] = "EBADREQUEST",
    [VODUPD_ENOTIMPL] = "ENOTIMPL",
    [VODUPD_EBUSY] = "EBUSY",
    [VODUPD_EINTERNAL] = "EINTERNAL",
    [VODUPD_EQUOTA] = "EQUOTA",
};

const char *vodupd_status_name(vodupd_status s)
{
    return (unsigned)s < VODUPD_STATUS__COUNT && NAMES[s] ? NAMES[s] : "?";
}

/* Appends s[0..n) to msg, keeping room for the NUL. */
static void put(char *msg, size_t cap, size_t *len, const char *s, size_t n)
{
    if (*len + 1 >= cap)
        return;
    if (n > cap - 1 - *len)
        n = cap - 1 - *len;
    memcpy(msg + *len, s, n);
    *len += n;
    msg[*len] = '\0';
}

/* Expands template tpl into msg at *len; depth keeps a deny text from expanding {deny}. */
static void expand(const vodupd_answers *t, const char *tpl, const vodupd_detail *d, char *msg, size_t cap,
                   size_t *len, int depth)
{
    for (const char *p = tpl; *p;) {
        const char *lb = strchr(p, '{');
        const char *rb = lb ? strchr(lb, '}') : NULL;
        if (!lb || !rb) {
            put(msg, cap, len, p, strlen(p));
            return;
        }
        put(msg, cap, len, p, (size_t)(lb - p));
        p = rb + 1;
        const char *field = lb + 1;
        size_t flen = (size_t)(rb - field);
        const char *bar = memchr(field, '|', flen);
        size_t nlen = bar ? (size_t)(bar - field) : flen;
        char num[24];
#define FIELD(name) (nlen == sizeof name - 1 && memcmp(field, name, nlen) == 0)
        if (FIELD("part")) {
            snprintf(num, sizeof num, "%d", d->part);
            put(msg, cap, len, num, strlen(num));
        } else if (FIELD("limit") || FIELD("used")) {
            snprintf(num, sizeof num, "%llu", (unsigned long long)(FIELD("limit") ? d->limit : d->used));
            put(msg, cap, len, num, strlen(num));
        } else if (FIELD("what")) {
            if (d->what)
                put(msg, cap, len, d->what, strlen(d->what));
            else if (bar)
                put(msg, cap, len, bar + 1, (size_t)(rb - bar - 1));
        } else if (FIELD("deny") && depth == 0) {
            unsigned k = (unsigned)d->deny <= VODUPD_DENY_POLICY ? (unsigned)d->deny : VODUPD_DENY_NONE;
            expand(t, t->deny[k] ? t->deny[k] : t->deny[VODUPD_DENY_NONE], d, msg, cap, len, depth + 1);
        } else if (FIELD("digest")) {
            const char *v = d->digest == VODUPD_DIGEST_CRC64 ? t->digest_crc64 : t->digest_md5;
            put(msg, cap, len, v, strlen(v));
        }
#undef FIELD
    }
}

int vodupd_answer_format(const vodupd_answers *t, vodupd_status st, const vodupd_detail *d, char *msg,
                         size_t msg_len)
{
    static const vodupd_detail none;
    const vodupd_answer *a = (unsigned)st < VODUPD_STATUS__COUNT && t->status[st].msg ? &t->status[st]
                                                                                     : &t->status[VODUPD_OK];
    if (msg_len) {
        size_t len = 0;
        msg[0] = '\0';
        expand(t, a->msg, d ? d : &none, msg, msg_len, &len, 0);
    }
    return a->err;
}
