/* rpc_params.h - the parameters of one RPC request: the query's and the form body's.
 *
 * Factored out of rpc.c's request handling (unchanged in behaviour) so that the fuzz
 * target tests/fuzz/fuzz_rpc.c runs exactly what the server runs before it looks at any
 * parameter's meaning.
 */
#ifndef VODUPD_RPC_PARAMS_H
#define VODUPD_RPC_PARAMS_H

#include <stddef.h>

#include "common/target.h"

#define RPC_MAX_PARAMS 200

enum {
    RPC_PARAMS_OK = 0,
    RPC_PARAMS_EFORM = -1,     /* the form body is malformed */
    RPC_PARAMS_ETOOMANY = -2,  /* more than RPC_MAX_PARAMS in query and body together */
    RPC_PARAMS_ENOMEM = -3
};

/* Parses body (an application/x-www-form-urlencoded form, body_len bytes, may be empty)
 * into *form, and collects query's parameters then form's into *params (malloc'd array of
 * *n entries borrowing query's and form's strings; free it, then vodup_target_free(form)).
 * On failure *params is NULL and form holds nothing to free beyond vodup_target_free. */
int rpc_params_collect(const vodup_target *query, const char *body, size_t body_len, vodup_target *form,
                       vodup_param **params, size_t *n);

#endif
