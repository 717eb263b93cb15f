/* status.c - see status.h: the RPC dialect's mapping of the core's statuses. */
#include "server/rpc/status.h"


void rpc_core(const rpc_call *c, core *out)
{
    core_of_server(out, c->r->srv);
}

int rpc_status_error(rpc_call *c, vodupd_status st, const vodupd_detail *d, const char *fail_msg)
{
    static const char UNKNOWN[] = "The request processing has failed due to some unknown error.";
    const char *what = d && d->what ? d->what : NULL;
    switch (st) {
    case VODUPD_ENOSPC:
        return rpc_error(c, 507, "InsufficientStorage", "%s", VODUP_STORAGE_FULL_MSG);
    case VODUPD_EQUOTA:
        return rpc_error(c, 403, "QuotaExceeded",
                         "The account's storage quota of %llu bytes would be exceeded (%llu in use); delete media "
                         "or ask the operator for more.",
                         (unsigned long long)(d ? d->limit : 0), (unsigned long long)(d ? d->used : 0));
    case VODUPD_EIO:
    case VODUPD_ENOMEM:
    default:
        return rpc_error(c, 500, "InternalError", "%s", fail_msg ? fail_msg : what ? what : UNKNOWN);
    }
}
