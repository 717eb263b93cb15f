/* sts.c - STS AssumeRole: a RAM user trades its long-term key for temporary credentials
 * carrying a role's policies (intersected with an optional session policy). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/codec.h"
#include "common/digest.h"
#include "common/timefmt.h"
#include "server/auth/policy.h"
#include "server/auth/token.h"
#include "server/rpc/rpc.h"
#include "server/rpc/status.h"
#include "server/store/meta_vod.h"

#define STS_MIN_DURATION 900
#define STS_MAX_DURATION 3600
#define STS_MAX_POLICY 2048

static int valid_session_name(const char *s)
{
    size_t n = strlen(s);
    if (n < 2 || n > 64)
        return 0;
    for (const char *p = s; *p; p++)
        if (!((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') || (*p >= '0' && *p <= '9') || *p == '.' ||
              *p == '@' || *p == '-' || *p == '_'))
            return 0;
    return 1;
}

/* "acs:ram::<account>:role/<name>" -> account and name. 0 ok, -1 malformed. */
static int parse_role_arn(const char *arn, char *acct, size_t an, char *name, size_t nn)
{
    const char *pfx = "acs:ram::";
    if (strncmp(arn, pfx, strlen(pfx)) != 0)
        return -1;
    const char *a = arn + strlen(pfx);
    const char *colon = strchr(a, ':');
    if (!colon || colon == a || (size_t)(colon - a) >= an || strncmp(colon + 1, "role/", 5) != 0)
        return -1;
    const char *r = colon + 6;
    if (!*r || strlen(r) >= nn || strchr(r, '/'))
        return -1;
    memcpy(acct, a, (size_t)(colon - a));
    acct[colon - a] = '\0';
    memcpy(name, r, strlen(r) + 1);
    /* names compare case-insensitively in RAM ARNs; we keep them as created */
    return 0;
}

static int assume_role(rpc_call *c)
{
    vodup_cred *cred = &c->r->cred;
    const char *arn = rpc_param(c, "RoleArn");
    const char *session = rpc_param(c, "RoleSessionName");
    if (!arn || !*arn)
        return rpc_missing(c, "RoleArn");
    if (!session || !*session)
        return rpc_missing(c, "RoleSessionName");
    if (!cred->policy_sets && !cred->temporary)
        return rpc_error(c, 403, "NoPermission", "Roles may not be assumed by root accounts.");
    if (cred->temporary)
        return rpc_error(c, 403, "NoPermission", "Temporary credentials may not assume a role.");
    char acct[33], name[129];
    if (parse_role_arn(arn, acct, sizeof acct, name, sizeof name) != 0)
        return rpc_error(c, 400, "InvalidParameter.RoleArn", "The parameter RoleArn is wrongly formed.");
    if (!valid_session_name(session))
        return rpc_error(c, 400, "InvalidParameter.RoleSessionName",
                         "The parameter RoleSessionName is wrongly formed: 2 to 64 characters of letters, digits, "
                         "'.', '@', '-' and '_'.");
    if (!auth_authorize(cred, "sts:AssumeRole", arn))
        return rpc_error(c, 403, "NoPermission", "You are not authorized to do this action. You should be authorized by RAM.");
    /* The role's generation is read before the role itself (see load_user_policies in
     * auth/keys.c): a deletion in between either hides the role or outdates what is
     * sealed here. */
    char role_prn[160];
    long long role_gen = 0;
    snprintf(role_prn, sizeof role_prn, "role/%s", name);
    if (auth_generation(c->r->srv, acct, role_prn, &role_gen) != 0)
        return rpc_error(c, 500, "InternalError", "STS Server Internal Error happened.");
    core co;
    rpc_core(c, &co);
    vodup_meta_principal role;
    vodupd_detail det = {0};
    vodupd_status st = strcmp(acct, cred->account_id) != 0
                           ? VODUPD_ENOKEY
                           : core_principal_get(&co, "role", acct, name, &role, &det);
    if (st == VODUPD_ENOKEY)
        return rpc_error(c, 404, "EntityNotExist.Role", "The specified Role not exists.");
    if (st != VODUPD_OK)
        return rpc_status_error(c, st, &det, "STS Server Internal Error happened.");

    long duration = 3600;
    const char *d = rpc_param(c, "DurationSeconds");
    long max = role.max_session > 0 ? role.max_session : STS_MAX_DURATION;
    if (max > STS_MAX_DURATION)
        max = STS_MAX_DURATION;
    if (d && *d) {
        char *end;
        duration = strtol(d, &end, 10);
        if (*end || strlen(d) > 9 || duration < STS_MIN_DURATION || duration > max) {
            vodup_meta_principal_clear(&role);
            return rpc_error(c, 400, "InvalidParameter.DurationSeconds",
                             "The Min/Max value of DurationSeconds is %d/%ld seconds.", STS_MIN_DURATION, max);
        }
    } else if (duration > max) {
        duration = max;
    }

    json_t *sets = json_array();
    json_t *role_set = json_loads(role.policies ? role.policies : "[]", 0, NULL);
    char role_arn[256];
    snprintf(role_arn, sizeof role_arn, "%s", role.arn ? role.arn : arn);
    vodup_meta_principal_clear(&role);
    if (!json_is_array(role_set)) {
        json_decref(role_set);
        json_decref(sets);
        return rpc_error(c, 500, "InternalError", "STS Server Internal Error happened.");
    }
    json_array_append_new(sets, role_set);
    const char *pol = rpc_param(c, "Policy");
    if (pol && *pol) {
        if (strlen(pol) > STS_MAX_POLICY) {
            json_decref(sets);
            return rpc_error(c, 400, "InvalidParameter.PolicySize", "The size of Policy must be smaller than %d bytes.",
                             STS_MAX_POLICY);
        }
        char err[256];
        /* Duplicate keys refused, as for operators' documents (auth/policy.c). */
        json_t *doc = json_loads(pol, JSON_REJECT_DUPLICATES, NULL);
        if (!doc || policy_validate(doc, err, sizeof err) != 0) {
            if (!doc)
                snprintf(err, sizeof err, "not valid JSON");
            json_decref(doc);
            json_decref(sets);
            return rpc_error(c, 400, "InvalidParameter.PolicyGrammar",
                             "The parameter Policy has not passed grammar check: %s.", err);
        }
        json_array_append_new(sets, json_pack("[{s:s,s:o}]", "PolicyName", "session-policy", "PolicyDocument", doc));
    }

    char prn[256];
    snprintf(prn, sizeof prn, "role/%s/%s", name, session);
    long long now = (long long)c->now, exp = now + duration;
    /* The user's chain (its own generation) plus the role's: deleting either revokes. */
    json_t *rev = cred->rev ? json_deep_copy(cred->rev) : json_object();
    if (!rev || json_object_set_new(rev, role_prn, json_integer((json_int_t)role_gen)) != 0) {
        json_decref(rev);
        json_decref(sets);
        return rpc_error(c, 500, "InternalError", "STS Server Internal Error happened.");
    }
    json_t *claims = json_pack("{s:s,s:s,s:I,s:I,s:o,s:o}", "acct", acct, "prn", prn, "iat", now, "exp", exp, "pol",
                               sets, "rev", rev);
    char *ak = NULL, *sk = NULL, *token = NULL;
    int rc = claims ? token_issue(c->r->srv->token_keys, claims, &ak, &sk, &token) : -1;
    json_decref(claims);
    if (rc != 0)
        return rpc_error(c, 500, "InternalError", "STS Server Internal Error happened.");
    char expiration[21];
    vodup_time_iso(expiration, (time_t)exp);
    /* A stable role id: digits from the hash of its ARN. */
    unsigned char h[32];
    vodup_sha256(h, role_arn, strlen(role_arn));
    char role_id[20];
    for (int i = 0; i < 19; i++)
        role_id[i] = (char)('0' + h[i] % 10);
    role_id[0] = role_id[0] == '0' ? '3' : role_id[0];
    role_id[19] = '\0';
    char assumed_arn[400], assumed_id[128];
    snprintf(assumed_arn, sizeof assumed_arn, "%s/%s", role_arn, session);
    snprintf(assumed_id, sizeof assumed_id, "%s:%s", role_id, session);
    json_t *body = json_pack("{s:{s:s,s:s,s:s,s:s},s:{s:s,s:s}}", "Credentials", "AccessKeyId", ak, "AccessKeySecret",
                             sk, "SecurityToken", token, "Expiration", expiration, "AssumedRoleUser", "Arn", assumed_arn,
                             "AssumedRoleId", assumed_id);
    memset(sk, 0, strlen(sk));
    free(ak);
    free(sk);
    free(token);
    return rpc_reply(c, body);
}

const rpc_action sts_actions[] = {
    {"AssumeRole", assume_role},
    {NULL, NULL},
};
