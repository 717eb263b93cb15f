/* fuzz_rpc.c - the parameters of an RPC request (VOD/STS), as vodupd collects and signs
 * them before anything else looks at them: the request target's query and the form body
 * merged by rpc_params_collect (server/rpc/rpc_params.c, what rpc.c runs), duplicate
 * detection, and the POP signature's canonical string.
 *
 * Input format: "METHOD\n<request target>\n<form body>" (missing parts are empty).
 * Properties:
 *   - collect answers one of its codes; on OK there are exactly query + form parameters
 *     (at most RPC_MAX_PARAMS), each NUL-terminated at value_len;
 *   - vodup_pop_duplicate and vodup_pop_verify answer their documented codes, and the
 *     string to sign starts with the method and "&%2F&";
 *   - re-signing what was parsed with a test secret (vodup_pop_sign_query), then parsing
 *     that as a form body again, verifies (1): signer and verifier agree on every input.
 */
#include "fuzz.h"

#include "common/buf.h"
#include "common/pop_sign.h"
#include "common/target.h"
#include "server/rpc/rpc_params.h"

#define SECRET "fuzzRpcSecret0123456789abcdef"

static void check_params(const vodup_param *p, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        FUZZ_CHECK(p[i].name != NULL && p[i].value != NULL);
        FUZZ_CHECK(p[i].value[p[i].value_len] == '\0');
    }
}

static void resign(const char *method, const vodup_param *p, size_t n)
{
    vbuf q = VBUF_INIT;
    if (vodup_pop_sign_query(&q, method, p, n, SECRET) != 0 || q.oom) {
        vbuf_free(&q);
        return;
    }
    vodup_target empty, form;
    memset(&empty, 0, sizeof empty);
    vodup_param *p2 = NULL;
    size_t n2 = 0;
    int rc = rpc_params_collect(&empty, q.data, q.len, &form, &p2, &n2);
    FUZZ_CHECK(rc == RPC_PARAMS_OK || rc == RPC_PARAMS_ETOOMANY || rc == RPC_PARAMS_ENOMEM);
    if (rc == RPC_PARAMS_OK) {
        check_params(p2, n2);
        vbuf sts = VBUF_INIT;
        int v = vodup_pop_verify(method, p2, n2, SECRET, &sts);
        if (v != -3)
            FUZZ_CHECK(v == 1);
        vbuf_free(&sts);
    }
    free(p2);
    vodup_target_free(&form);
    vbuf_free(&q);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const char *s = (const char *)data, *end = s + size;
    const char *nl1 = memchr(s, '\n', size);
    const char *tgt = nl1 ? nl1 + 1 : end;
    const char *nl2 = memchr(tgt, '\n', (size_t)(end - tgt));
    const char *body = nl2 ? nl2 + 1 : end;
    char *method = fuzz_strndup(s, (size_t)((nl1 ? nl1 : end) - s));
    /* exact-size copies, so a read past either end is caught */
    size_t tlen = (size_t)((nl2 ? nl2 : end) - tgt), blen = (size_t)(end - body);
    char *t = malloc(tlen ? tlen : 1), *b = malloc(blen ? blen : 1);
    FUZZ_CHECK(t && b);
    memcpy(t, tgt, tlen);
    memcpy(b, body, blen);

    vodup_target target;
    if (vodup_target_parse(&target, t, tlen) != 0) {
        free(method);
        free(t);
        free(b);
        return 0;
    }
    vodup_target form;
    vodup_param *p = NULL;
    size_t n = 12345;
    int rc = rpc_params_collect(&target, b, blen, &form, &p, &n);
    FUZZ_CHECK(rc == RPC_PARAMS_OK || rc == RPC_PARAMS_EFORM || rc == RPC_PARAMS_ETOOMANY ||
               rc == RPC_PARAMS_ENOMEM);
    if (rc != RPC_PARAMS_OK) {
        FUZZ_CHECK(p == NULL && n == 0);
    } else {
        FUZZ_CHECK(n == target.nquery + form.nquery && n <= RPC_MAX_PARAMS);
        check_params(p, n);
        const char *dup = NULL;
        int d = vodup_pop_duplicate(p, n, &dup);
        FUZZ_CHECK(d == 0 || d == 1 || d == -1);
        if (d == 1)
            FUZZ_CHECK(dup != NULL);
        vbuf sts = VBUF_INIT;
        int v = vodup_pop_verify(method, p, n, SECRET, &sts);
        FUZZ_CHECK(v >= -3 && v <= 1);
        if ((v == 0 || v == 1) && !sts.oom) {
            size_t ml = strlen(method);
            FUZZ_CHECK(sts.len >= ml + 5 && memcmp(sts.data, method, ml) == 0 &&
                       memcmp(sts.data + ml, "&%2F&", 5) == 0);
        }
        vbuf_free(&sts);
        resign(method, p, n);
    }
    free(p);
    vodup_target_free(&form);
    vodup_target_free(&target);
    free(method);
    free(t);
    free(b);
    return 0;
}
