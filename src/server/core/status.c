/* status.c - names of the core's statuses (status.h). */
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
