/* rpc_params.c - see rpc_params.h. */
#include "server/rpc/rpc_params.h"

#include <stdlib.h>
#include <string.h>

int rpc_params_collect(const vodup_target *query, const char *body, size_t body_len, vodup_target *form,
                       vodup_param **params, size_t *n)
{
    *params = NULL;
    *n = 0;
    memset(form, 0, sizeof *form);
    if (body_len && vodup_form_parse(form, body, body_len) != 0)
        return RPC_PARAMS_EFORM;
    /* Counted before anything is allocated for them. */
    size_t total = query->nquery + form->nquery;
    if (total > RPC_MAX_PARAMS)
        return RPC_PARAMS_ETOOMANY;
    vodup_param *p = calloc(total ? total : 1, sizeof *p);
    if (!p)
        return RPC_PARAMS_ENOMEM;
    size_t k = 0;
    for (size_t i = 0; i < query->nquery; i++)
        p[k++] = query->query[i];
    for (size_t i = 0; i < form->nquery; i++)
        p[k++] = form->query[i];
    *params = p;
    *n = k;
    return RPC_PARAMS_OK;
}
