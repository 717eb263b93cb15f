/* policy.h - RAM-style policy documents: parsing, built-ins, evaluation.
 *
 * A document is {"Version":"1","Statement":[{"Effect":"Allow"|"Deny","Action":A,"Resource":R}]}
 * where A and R are a string or an array of strings with '*' and '?' wildcards. Actions
 * ("vod:CreateUploadVideo", "oss:PutObject", "sts:AssumeRole") match case-insensitively,
 * resources ("acs:oss:*:<account>:<bucket>/<key>", "acs:ram::<account>:role/<name>")
 * case-sensitively. Evaluation is deny-first: any matching Deny refuses, else any
 * matching Allow grants, else the request is refused.
 *
 * A policy *set* is what a principal carries: a JSON array of {"PolicyName","PolicyDocument"}
 * (its attached policies; allowed when any of them allows and none denies). Temporary
 * credentials may carry several sets that must all allow (a role's policies intersected
 * with a session policy).
 */
#ifndef VODUPD_AUTH_POLICY_H
#define VODUPD_AUTH_POLICY_H

#include <jansson.h>

enum {
    POLICY_DENY = 0,     /* explicit or implicit */
    POLICY_ALLOW = 1
};

/* Checks a policy document's grammar (Version "1", Statement array, each with a valid
 * Effect, Action and Resource). 0 ok, -1 with a reason in err (human text). */
int policy_validate(const json_t *doc, char *err, size_t errlen);

/* The built-in document named name (AliyunVODFullAccess, AliyunVODReadOnlyAccess,
 * AliyunSTSAssumeRoleAccess, AliyunOSSFullAccess, AliyunOSSReadOnlyAccess), a new
 * reference, or NULL when there is none of that name. */
json_t *policy_builtin(const char *name);

/* Resolves a --policy argument: a built-in name, inline JSON ("{...}") or a path to a
 * JSON file (read with a size limit), into {"PolicyName","PolicyDocument"} (new ref);
 * NULL with err on failure (unknown name, unreadable file, invalid document). */
json_t *policy_resolve_arg(const char *arg, char *err, size_t errlen);

/* Evaluates one document / one set (array of {"PolicyName","PolicyDocument"}). */
int policy_eval_doc(const json_t *doc, const char *action, const char *resource);
int policy_eval_set(const json_t *set, const char *action, const char *resource);

/* 1 when pattern (with '*' any run, '?' one character) matches s. */
int policy_match(const char *pattern, const char *s, int nocase);

#endif
