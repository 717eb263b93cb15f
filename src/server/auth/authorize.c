/* authorize.c - what a resolved credential may do (see vodup_cred in auth.h). */
#include <openssl/crypto.h>
#include <stdlib.h>
#include <string.h>

#include "server/auth/auth.h"
#include "server/auth/policy.h"

void auth_cred_clear(vodup_cred *c)
{
    json_decref(c->policy_sets);
    json_decref(c->scope_ops);
    json_decref(c->rev);
    free(c->scope_key);
    OPENSSL_cleanse(c, sizeof *c);
}

int auth_authorize(const vodup_cred *c, const char *action, const char *resource)
{
    if (c->has_scope)
        return 0;
    if (!c->policy_sets)
        return !c->temporary; /* a root key; a temporary one always carries a limit */
    size_t i;
    json_t *set;
    if (json_array_size(c->policy_sets) == 0)
        return 0;
    json_array_foreach(c->policy_sets, i, set) {
        if (policy_eval_set(set, action, resource) != POLICY_ALLOW)
            return 0;
    }
    return 1;
}

int auth_scope_allows(const vodup_cred *c, const char *op, const char *bucket, const char *key, size_t key_len)
{
    if (!c->has_scope || strcmp(c->scope_bucket, bucket) != 0 || c->scope_key_len != key_len ||
        memcmp(c->scope_key, key, key_len) != 0)
        return 0;
    size_t i;
    json_t *v;
    json_array_foreach(c->scope_ops, i, v) {
        if (json_is_string(v) && strcmp(json_string_value(v), op) == 0)
            return 1;
    }
    return 0;
}
