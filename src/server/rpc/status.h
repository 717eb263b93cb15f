/* status.h - the RPC dialect's answers to the core's statuses (core/status.h). */
#ifndef VODUPD_RPC_STATUS_H
#define VODUPD_RPC_STATUS_H

#include "server/core/media.h"
#include "server/rpc/rpc.h"

/* The core of the server c runs on. */
void rpc_core(const rpc_call *c, core *out);

/* Answers st (not OK) as the gateway does, and returns -1. Statuses whose answer
 * depends on the action (ENOKEY: which resource is missing, EEXISTS) are the action's to
 * answer before calling this; they fall to the InternalError here. EIO / ENOMEM / the
 * rest: 500 InternalError with fail_msg (the gateway's wording differs per action), or
 * detail.what when fail_msg is NULL. ENOSPC: 507 InsufficientStorage. */
int rpc_status_error(rpc_call *c, vodupd_status st, const vodupd_detail *d, const char *fail_msg);

#endif
