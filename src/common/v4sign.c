/* v4sign.c - the V4 signature machinery shared by AWS SigV4 (sigv4.c) and OSS V4
 * (oss_sign.c). See v4sign.h for what differs between them and is a parameter here. */
#include "common/v4sign.h"

#include "common/codec.h"
#include "common/digest.h"

#include <openssl/crypto.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

const vodup_v4_algo vodup_v4_aws = {"AWS4-HMAC-SHA256", "AWS4", "aws4_request"};
const vodup_v4_algo vodup_v4_oss = {"OSS4-HMAC-SHA256", "aliyun_v4", "aliyun_v4_request"};

/* ---- canonical query ---------------------------------------------------- */

typedef vodup_v4_pair kv;

/* Byte order of the encoded name, then of the encoded value (both schemes sort so). */
static int cmp_kv(const void *a, const void *b)
{
    const kv *x = a, *y = b;
    size_t n = x->klen < y->klen ? x->klen : y->klen;
    int c = memcmp(x->k, y->k, n);
    if (c)
        return c;
    if (x->klen != y->klen)
        return x->klen < y->klen ? -1 : 1;
    n = x->vlen < y->vlen ? x->vlen : y->vlen;
    c = n ? memcmp(x->v, y->v, n) : 0;
    if (c)
        return c;
    return x->vlen < y->vlen ? -1 : x->vlen > y->vlen;
}

void vodup_v4_put_pairs(vbuf *out, vodup_v4_pair *pairs, size_t n, int flags)
{
    if (n)
        qsort(pairs, n, sizeof *pairs, cmp_kv);
    for (size_t i = 0; i < n; i++) {
        if (i)
            vbuf_putc(out, '&');
        vbuf_append(out, pairs[i].k, pairs[i].klen);
        if (pairs[i].vlen || !(flags & VODUP_V4_EMPTY_BARE))
            vbuf_putc(out, '=');
        vbuf_append(out, pairs[i].v, pairs[i].vlen);
    }
}

int vodup_v4_canonical_query(vbuf *out, const vodup_param *q, size_t n, const char *skip,
                             int flags)
{
    /* Encode every name and value once into one buffer, then sort spans into it (the
     * buffer may move while it grows, so offsets first, pointers after). */
    vbuf enc = VBUF_INIT;
    size_t (*offs)[4] = n ? calloc(n, sizeof *offs) : NULL;
    kv *pairs = n ? calloc(n, sizeof *pairs) : NULL;
    size_t np = 0;
    int rc = 0;
    if (n && (!offs || !pairs)) {
        rc = VODUP_V4_ENOMEM;
        goto done;
    }
    for (size_t i = 0; i < n; i++) {
        if (skip && strcmp(q[i].name, skip) == 0)
            continue;
        offs[np][0] = enc.len;
        vodup_uri_encode(&enc, q[i].name, strlen(q[i].name), 0);
        offs[np][1] = enc.len;
        offs[np][2] = enc.len;
        vodup_uri_encode(&enc, q[i].value, q[i].value_len, 0);
        offs[np][3] = enc.len;
        np++;
    }
    if (enc.oom) {
        rc = VODUP_V4_ENOMEM;
        goto done;
    }
    for (size_t i = 0; i < np; i++) {
        const char *base = vbuf_cstr(&enc);
        pairs[i] = (kv){base + offs[i][0], offs[i][1] - offs[i][0], base + offs[i][2],
                        offs[i][3] - offs[i][2]};
    }
    vodup_v4_put_pairs(out, pairs, np, flags);
    rc = out->oom ? VODUP_V4_ENOMEM : 0;
done:
    free(offs);
    free(pairs);
    vbuf_free(&enc);
    return rc;
}

/* ---- canonical headers -------------------------------------------------- */

typedef struct canon_hdr {
    char *name;         /* lower-cased copy */
    const char *value;  /* trimmed start */
    size_t vlen;
    size_t order;       /* wire position, to keep repeated headers in order */
} canon_hdr;

static int cmp_hdr(const void *a, const void *b)
{
    const canon_hdr *x = a, *y = b;
    int c = strcmp(x->name, y->name);
    if (c)
        return c;
    return x->order < y->order ? -1 : x->order > y->order;
}

static int is_blank(char c)
{
    return c == ' ' || c == '\t';
}

/* Appends v[0..n) trimmed; with collapse, runs of blanks inside become one space. */
static void put_value(vbuf *out, const char *v, size_t n, int collapse)
{
    while (n && is_blank(v[0])) {
        v++;
        n--;
    }
    while (n && is_blank(v[n - 1]))
        n--;
    if (!collapse) {
        vbuf_append(out, v, n);
        return;
    }
    for (size_t i = 0; i < n;) {
        if (is_blank(v[i])) {
            vbuf_putc(out, ' ');
            while (i < n && is_blank(v[i]))
                i++;
        } else {
            size_t j = i;
            while (j < n && !is_blank(v[j]))
                j++;
            vbuf_append(out, v + i, j - i);
            i = j;
        }
    }
}

int vodup_v4_canonical_headers(vbuf *out, const vodup_header *hs, size_t n,
                               int (*is_signed)(const char *lname, void *ctx), void *ctx,
                               int flags)
{
    canon_hdr *h = n ? calloc(n, sizeof *h) : NULL;
    size_t nh = 0;
    int rc = 0;
    if (n && !h)
        return VODUP_V4_ENOMEM;
    for (size_t i = 0; i < n; i++) {
        const char *name = hs[i].name;
        if (!name || !name[0])
            continue;
        /* Every name is copied whatever its length: skipping a long one would leave a
         * signed header outside the signature while the server still acts on it. */
        size_t len = strlen(name);
        char *lname = malloc(len + 1);
        if (!lname) {
            rc = VODUP_V4_ENOMEM;
            goto done;
        }
        for (size_t k = 0; k <= len; k++) {
            char c = name[k];
            lname[k] = c >= 'A' && c <= 'Z' ? (char)(c - 'A' + 'a') : c;
        }
        if (!is_signed(lname, ctx)) {
            free(lname);
            continue;
        }
        h[nh].name = lname;
        h[nh].value = hs[i].value ? hs[i].value : "";
        h[nh].vlen = strlen(h[nh].value);
        h[nh].order = i;
        nh++;
    }
    if (nh)
        qsort(h, nh, sizeof *h, cmp_hdr);
    for (size_t i = 0; i < nh; i++) {
        if (i > 0 && strcmp(h[i].name, h[i - 1].name) == 0) {
            vbuf_putc(out, ',');
        } else {
            if (i > 0)
                vbuf_putc(out, '\n');
            vbuf_puts(out, h[i].name);
            vbuf_putc(out, ':');
        }
        put_value(out, h[i].value, h[i].vlen, flags & VODUP_V4_COLLAPSE);
    }
    if (nh)
        vbuf_putc(out, '\n');
    rc = out->oom ? VODUP_V4_ENOMEM : 0;
done:
    for (size_t i = 0; i < nh; i++)
        free(h[i].name);
    free(h);
    return rc;
}

/* ---- string to sign and key chain --------------------------------------- */

int vodup_v4_string_to_sign(vbuf *out, const vodup_v4_algo *alg, const char *date,
                            size_t date_len, const char *scope_date, const char *region,
                            const char *service, const char *creq, size_t creq_len)
{
    unsigned char h[VODUP_SHA256_LEN];
    char hex[2 * VODUP_SHA256_LEN + 1];
    vodup_sha256(h, creq, creq_len);
    vodup_hex_lower(hex, h, sizeof h);
    vbuf_puts(out, alg->name);
    vbuf_putc(out, '\n');
    vbuf_append(out, date, date_len);
    vbuf_printf(out, "\n%s/%s/%s/%s\n%s", scope_date, region, service, alg->terminator, hex);
    return out->oom ? VODUP_V4_ENOMEM : 0;
}

int vodup_v4_signing_key(unsigned char key[32], const vodup_v4_algo *alg, const char *secret,
                         const char *scope_date, const char *region, const char *service)
{
    /* prefix + secret is built in a buffer that is wiped afterwards so the secret does
     * not linger in freed heap memory. */
    unsigned char k[VODUP_SHA256_LEN];
    size_t plen = strlen(alg->key_prefix), slen = strlen(secret);
    unsigned char *seed = malloc(plen + slen + 1);
    if (!seed) {
        memset(key, 0, VODUP_SHA256_LEN);
        return VODUP_V4_ENOMEM;
    }
    memcpy(seed, alg->key_prefix, plen);
    memcpy(seed + plen, secret, slen);
    vodup_hmac_sha256(key, seed, plen + slen, scope_date, strlen(scope_date));
    OPENSSL_cleanse(seed, plen + slen);
    free(seed);
    vodup_hmac_sha256(k, key, VODUP_SHA256_LEN, region, strlen(region));
    vodup_hmac_sha256(key, k, sizeof k, service, strlen(service));
    vodup_hmac_sha256(k, key, VODUP_SHA256_LEN, alg->terminator, strlen(alg->terminator));
    memcpy(key, k, sizeof k);
    OPENSSL_cleanse(k, sizeof k);
    return 0;
}

void vodup_v4_signature(char out[65], const unsigned char key[32], const void *msg, size_t n)
{
    unsigned char mac[VODUP_SHA256_LEN];
    vodup_hmac_sha256(mac, key, VODUP_SHA256_LEN, msg, n);
    vodup_hex_lower(out, mac, sizeof mac);
}

/* ---- parsing ------------------------------------------------------------- */

static int copy_field(char *dst, size_t dstsz, const char *s, size_t n)
{
    if (n == 0 || n >= dstsz)
        return -1;
    memcpy(dst, s, n);
    dst[n] = '\0';
    return 0;
}

int vodup_v4_parse_credential(const char *s, size_t n, const char *terminator, char *ak,
                              size_t ak_size, char scope_date[9], char *region,
                              size_t region_size, char *service, size_t service_size)
{
    const char *end = s + n;
    const char *part[5];
    size_t len[5];
    for (int i = 0; i < 5; i++) {
        const char *slash = i < 4 ? memchr(s, '/', (size_t)(end - s)) : NULL;
        if (i < 4 && !slash)
            return -1;
        part[i] = s;
        len[i] = (size_t)((i < 4 ? slash : end) - s);
        s = i < 4 ? slash + 1 : end;
    }
    if (copy_field(ak, ak_size, part[0], len[0]) < 0 || len[1] != 8 ||
        copy_field(scope_date, 9, part[1], len[1]) < 0 ||
        copy_field(region, region_size, part[2], len[2]) < 0 ||
        copy_field(service, service_size, part[3], len[3]) < 0 ||
        len[4] != strlen(terminator) || memcmp(part[4], terminator, len[4]) != 0)
        return -1;
    for (int i = 0; i < 8; i++)
        if (scope_date[i] < '0' || scope_date[i] > '9')
            return -1;
    return 0;
}

vodup_span vodup_trim_ows(const char *s)
{
    vodup_span r = {s ? s : "", 0};
    r.n = strlen(r.p);
    while (r.n && (r.p[0] == ' ' || r.p[0] == '\t')) {
        r.p++;
        r.n--;
    }
    while (r.n && (r.p[r.n - 1] == ' ' || r.p[r.n - 1] == '\t'))
        r.n--;
    return r;
}

const char *vodup_header_find(const vodup_header *h, size_t n, const char *name)
{
    for (size_t i = 0; i < n; i++)
        if (h[i].name && strcasecmp(h[i].name, name) == 0)
            return h[i].value ? h[i].value : "";
    return NULL;
}

const char *vodup_param_find(const vodup_param *q, size_t n, const char *name)
{
    for (size_t i = 0; i < n; i++)
        if (strcmp(q[i].name, name) == 0)
            return q[i].value;
    return NULL;
}

int vodup_v4_in_list(const char *list, const char *name)
{
    size_t n = strlen(name);
    for (const char *p = list; *p;) {
        const char *semi = strchr(p, ';');
        size_t len = semi ? (size_t)(semi - p) : strlen(p);
        if (len == n && strncasecmp(p, name, n) == 0)
            return 1;
        if (!semi)
            break;
        p = semi + 1;
    }
    return 0;
}

int vodup_v4_is_hex64(const char *s, size_t n)
{
    if (n != 64)
        return 0;
    for (size_t i = 0; i < n; i++) {
        char c = s[i];
        if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f')))
            return 0;
    }
    return 1;
}
