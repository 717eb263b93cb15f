/* api.c - VOD/STS API calls for the CLI, with failures turned into sentences that
 * name the problem: the URL that could not be reached, or the server's own Code and
 * Message when it refused. */
#include <stdlib.h>
#include <string.h>

#include "cli.h"

vodup_api *cli_api_open(const cli_config *cfg, const char *cmd)
{
    vodup_api *a = NULL;
    int rc = vodup_api_new(&a, cfg->endpoint, cfg->access_key_id, cfg->access_key_secret, cfg->security_token);
    if (rc != VODUP_OK) {
        fprintf(stderr, "%s: cannot use endpoint %s: %s\n", cmd, cfg->endpoint, vodup_strerror(rc));
        return NULL;
    }
    return a;
}

const char *cli_error_hint(int code)
{
    switch (code) {
    case VODUP_EAUTH:
        return "check the AccessKey (VODUP_ACCESS_KEY_ID / VODUP_ACCESS_KEY_SECRET) and its permissions";
    case VODUP_EEXPIRED:
        return "the temporary credentials expired: get new ones (vodup sts assume-role)";
    case VODUP_ENETWORK:
        return "is the server running, and is the endpoint right?";
    default:
        return NULL;
    }
}

int cli_api_call(vodup_api *a, const cli_config *cfg, const char *cmd, const char *version, const char *action,
                 const char *const *params, json_t **out)
{
    char *body = NULL;
    *out = NULL;
    int rc = vodup_api_call(a, version, action, params, &body);
    if (rc == VODUP_OK) {
        json_error_t jerr;
        json_t *j = body ? json_loads(body, 0, &jerr) : NULL;
        vodup_free(body);
        if (!json_is_object(j)) {
            json_decref(j);
            fprintf(stderr, "%s: %s at %s answered something that is not a JSON object\n", cmd, action, cfg->endpoint);
            return -1;
        }
        *out = j;
        return 0;
    }
    const char *msg = vodup_api_last_error(a);
    json_t *err = body ? json_loads(body, 0, NULL) : NULL;
    vodup_free(body);
    const char *ecode = json_string_value(json_object_get(err, "Code"));
    const char *emsg = json_string_value(json_object_get(err, "Message"));
    if (rc == VODUP_ENETWORK) {
        fprintf(stderr, "%s: cannot reach the VOD endpoint %s (from %s): %s\n", cmd, cfg->endpoint,
                cfg->endpoint_from ? cfg->endpoint_from : "?", msg && *msg ? msg : vodup_strerror(rc));
    } else if (ecode) {
        const char *what = rc == VODUP_EAUTH      ? "credentials refused by"
                           : rc == VODUP_EEXPIRED ? "credentials expired, says"
                                                  : "request refused by";
        fprintf(stderr, "%s: %s %s: %s: %s\n", cmd, what, cfg->endpoint, ecode, emsg ? emsg : "(no message)");
    } else {
        fprintf(stderr, "%s: %s failed at %s: %s\n", cmd, action, cfg->endpoint,
                msg && *msg ? msg : vodup_strerror(rc));
    }
    const char *hint = cli_error_hint(rc);
    if (hint)
        fprintf(stderr, "%s: %s\n", cmd, hint);
    json_decref(err);
    return -1;
}
