/* pop_sign.c - Alibaba Cloud RPC ("POP") signatures: HMAC-SHA1 over
 * METHOD&%2F&enc(sorted canonical query), key secret + "&".
 *
 * Rules (shared/reference/vod-sts.md section 0, the doc's "Signature method" page and
 * what @alicloud/pop-core 1.8.0 does on the wire, see tests/vectors/pop.requests.jsonl):
 *  - every parameter but Signature is signed, from its decoded form, re-encoded with
 *    RFC 3986 rules by us, so the result does not depend on how the client escaped
 *    the request (pop-core sends '~' raw, '*' as %2A; a form body may use '+');
 *  - the canonical query is encoded a second time as a whole, which is why the
 *    string to sign shows "%253A" for a ':' in Timestamp.
 */
#include "common/pop_sign.h"

#include "common/codec.h"
#include "common/digest.h"

#include <stdlib.h>
#include <string.h>

int vodup_pop_encode(vbuf *out, const char *s, size_t n)
{
    /* POP's percent-encoding is exactly RFC 3986 with upper-case hex, which is what
     * vodup_uri_encode does without keep_slash ('/' must become %2F). */
    return vodup_uri_encode(out, s, n, 0);
}

static size_t value_len(const vodup_param *p)
{
    if (!p->value)
        return 0;
    /* Parsed parameters carry value_len; hand-built lists (client code, tests) may
     * leave it 0. A parsed empty value is "" so strlen gives 0 there as well. */
    return p->value_len ? p->value_len : strlen(p->value);
}

static int is_signature(const vodup_param *p)
{
    /* Case-sensitive: the gateway only treats "Signature" itself as the signature;
     * any other spelling is an ordinary (signed) parameter. */
    return strcmp(p->name, "Signature") == 0;
}

static int cmp_param(const void *a, const void *b)
{
    const vodup_param *pa = *(const vodup_param *const *)a;
    const vodup_param *pb = *(const vodup_param *const *)b;
    /* strcmp compares as unsigned char: byte order of the decoded (UTF-8) names, which
     * matches the SDKs' sort of the raw names. */
    int c = strcmp(pa->name, pb->name);
    if (c)
        return c;
    /* qsort is not stable; the pointers all point into one array, so comparing them
     * restores input order for equal names. */
    return (pa > pb) - (pa < pb);
}

/* Pointers to the parameters except Signature, in canonical order (*count of them).
 * NULL with *count 0 is a valid empty result; returns -1 on oom. */
static int sorted_params(const vodup_param *params, size_t n, const vodup_param ***out,
                         size_t *count)
{
    *out = NULL;
    *count = 0;
    if (n == 0)
        return 0;
    const vodup_param **v = malloc(n * sizeof *v);
    if (!v)
        return -1;
    size_t k = 0;
    for (size_t i = 0; i < n; i++)
        if (!is_signature(&params[i]))
            v[k++] = &params[i];
    qsort(v, k, sizeof *v, cmp_param);
    *out = v;
    *count = k;
    return 0;
}

/* Appends the canonical query (enc(name)=enc(value) joined by '&'). */
static int canonical_query(vbuf *out, const vodup_param *params, size_t n)
{
    const vodup_param **v;
    size_t k;
    if (sorted_params(params, n, &v, &k) < 0)
        return -1;
    for (size_t i = 0; i < k; i++) {
        if (i)
            vbuf_putc(out, '&');
        vodup_pop_encode(out, v[i]->name, strlen(v[i]->name));
        vbuf_putc(out, '=');
        vodup_pop_encode(out, v[i]->value ? v[i]->value : "", value_len(v[i]));
    }
    free(v);
    return out->oom ? -1 : 0;
}

int vodup_pop_string_to_sign(vbuf *out, const char *method, const vodup_param *params, size_t n)
{
    vbuf q = VBUF_INIT;
    if (canonical_query(&q, params, n) < 0) {
        vbuf_free(&q);
        return -1;
    }
    vbuf_puts(out, method);
    vbuf_puts(out, "&%2F&"); /* enc("/"): RPC requests always sign the root path */
    vodup_pop_encode(out, q.data ? q.data : "", q.len);
    vbuf_free(&q);
    return out->oom ? -1 : 0;
}

void vodup_pop_sign(char out[VODUP_POP_SIG_LEN + 1], const char *secret, const char *sts, size_t n)
{
    /* The key is secret + "&" (the "&" would separate a token secret in OAuth-style
     * schemes; POP always leaves that part empty). Real secrets are ~30 bytes, so a
     * stack buffer avoids allocation in the common case. */
    char small[512];
    size_t slen = strlen(secret);
    char *key = slen + 1 <= sizeof small ? small : malloc(slen + 1);
    out[0] = '\0';
    if (!key)
        return;
    memcpy(key, secret, slen);
    key[slen] = '&';

    unsigned char mac[VODUP_SHA1_LEN];
    vodup_hmac_sha1(mac, key, slen + 1, sts, n);
    if (key != small)
        free(key);

    vbuf b = VBUF_INIT;
    if (vodup_base64_encode(&b, mac, sizeof mac) == 0 && b.len == VODUP_POP_SIG_LEN)
        memcpy(out, b.data, VODUP_POP_SIG_LEN + 1);
    vbuf_free(&b);
}

int vodup_pop_verify(const char *method, const vodup_param *params, size_t n, const char *secret,
                     vbuf *sts)
{
    const vodup_param *sig = NULL;
    for (size_t i = 0; i < n; i++) {
        if (!is_signature(&params[i]))
            continue;
        /* Two Signatures: whichever one we chose, a proxy or the client might have
         * chosen the other. Refuse instead of guessing. */
        if (sig)
            return -2;
        sig = &params[i];
    }
    if (!sig)
        return -1;

    vbuf s = VBUF_INIT;
    if (vodup_pop_string_to_sign(&s, method, params, n) < 0) {
        vbuf_free(&s);
        return -3;
    }
    char want[VODUP_POP_SIG_LEN + 1];
    vodup_pop_sign(want, secret, s.data ? s.data : "", s.len);
    if (sts)
        vbuf_append(sts, s.data ? s.data : "", s.len);
    vbuf_free(&s);
    if (want[0] == '\0' || (sts && sts->oom))
        return -3;

    /* Constant time, so response timing does not reveal how many leading characters
     * of a forged signature were right. */
    const char *got = sig->value ? sig->value : "";
    return vodup_ct_equal(got, value_len(sig), want, VODUP_POP_SIG_LEN) ? 1 : 0;
}

int vodup_pop_sign_query(vbuf *out, const char *method, const vodup_param *params, size_t n,
                         const char *secret)
{
    vbuf q = VBUF_INIT, s = VBUF_INIT;
    int rc = -1;
    /* The canonical query is built once and serves both as the signed text and as the
     * query sent: the server re-canonicalises anyway, so sending it sorted costs
     * nothing and matches what pop-core puts on the wire. */
    if (canonical_query(&q, params, n) < 0)
        goto done;
    vbuf_puts(&s, method);
    vbuf_puts(&s, "&%2F&");
    if (vodup_pop_encode(&s, q.data ? q.data : "", q.len) < 0)
        goto done;

    char sig[VODUP_POP_SIG_LEN + 1];
    vodup_pop_sign(sig, secret, s.data, s.len);
    if (sig[0] == '\0')
        goto done;

    vbuf_append(out, q.data ? q.data : "", q.len);
    vbuf_puts(out, q.len ? "&Signature=" : "Signature=");
    vodup_pop_encode(out, sig, VODUP_POP_SIG_LEN);
    rc = out->oom ? -1 : 0;
done:
    vbuf_free(&q);
    vbuf_free(&s);
    return rc;
}

int vodup_pop_duplicate(const vodup_param *params, size_t n, const char **name)
{
    *name = NULL;
    if (n < 2)
        return 0;
    /* Sorting makes this O(n log n): n is attacker-controlled (a long query), so a
     * pairwise scan would be a cheap way to burn CPU. Signature is included here, since
     * a repeated Signature is a duplicate too. */
    const vodup_param **v = malloc(n * sizeof *v);
    if (!v)
        return -1;
    for (size_t i = 0; i < n; i++)
        v[i] = &params[i];
    qsort(v, n, sizeof *v, cmp_param);
    int found = 0;
    for (size_t i = 1; i < n && !found; i++) {
        if (strcmp(v[i - 1]->name, v[i]->name) == 0) {
            *name = v[i]->name;
            found = 1;
        }
    }
    free(v);
    return found;
}
