/* keys.c - long-term access keys: creation, sealed storage and lookup.
 *
 * The master key lives in <data_dir>/keys/master.key, written once by `vodupd init`
 * with mode 0600, beside the first token key (token.c). Every secret in the database is sealed under it with the key id as
 * associated data, so a row copied onto another key id does not open.
 */
#include "server/auth/auth.h"

#include <errno.h>
#include <fcntl.h>
#include <openssl/evp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/digest.h"
#include "server/auth/token.h"
#include "server/store/meta_admin.h"
#include "server/store/meta_vod.h"

#define SEAL_NONCE 12
#define SEAL_TAG 16

static const char ALNUM[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";

int auth_random_id(char *out, size_t len, const char *alphabet)
{
    size_t alen = strlen(alphabet);
    /* Rejection sampling keeps every character equally likely. */
    size_t limit = 256 - (256 % alen);
    size_t i = 0;
    unsigned char rnd[64];
    while (i < len) {
        if (vodup_random(rnd, sizeof rnd) != 0)
            return -1;
        for (size_t j = 0; j < sizeof rnd && i < len; j++)
            if (rnd[j] < limit)
                out[i++] = alphabet[rnd[j] % alen];
    }
    out[len] = '\0';
    return 0;
}

static int key_path(char *buf, size_t n, const char *data_dir)
{
    int r = snprintf(buf, n, "%s/keys/master.key", data_dir);
    return (r < 0 || (size_t)r >= n) ? -1 : 0;
}

int auth_master_key_create(const char *data_dir, unsigned char key[32])
{
    char dir[4096], path[4096];
    int r = snprintf(dir, sizeof dir, "%s/keys", data_dir);
    if (r < 0 || (size_t)r >= sizeof dir || key_path(path, sizeof path, data_dir) != 0)
        return -1;
    if (mkdir(dir, 0700) != 0 && errno != EEXIST)
        return -1;
    if (vodup_random(key, 32) != 0)
        return -1;
    int fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
    if (fd < 0)
        return -1;
    ssize_t w = write(fd, key, 32);
    int ok = w == 32 && fsync(fd) == 0;
    close(fd);
    if (!ok)
        return -1;
    /* The first token key too, so that keys/ is the whole key set from init on: copied to
     * other nodes right after init, they all verify each other's temporary credentials
     * (docs/scale-out.md, "Running N nodes"). Left to the first serve, each node would
     * make a token key of its own. */
    token_keys *tk = token_keys_load(data_dir);
    if (!tk)
        return -1;
    token_keys_free(tk);
    return 0;
}

int auth_master_key_load(const char *data_dir, unsigned char key[32])
{
    char path[4096];
    if (key_path(path, sizeof path, data_dir) != 0)
        return -1;
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return -1;
    struct stat st;
    ssize_t n = -1;
    if (fstat(fd, &st) == 0 && st.st_size == 32) {
        if (st.st_mode & 077)
            fprintf(stderr, "vodupd: warning: %s is readable by others; chmod 600 it\n", path);
        n = read(fd, key, 32);
    }
    close(fd);
    return n == 32 ? 0 : -1;
}

int auth_seal(const unsigned char key[32], const char *aad, const void *pt, size_t n,
              unsigned char **out, size_t *outlen)
{
    unsigned char *buf = malloc(SEAL_NONCE + n + SEAL_TAG);
    if (!buf)
        return -1;
    EVP_CIPHER_CTX *c = EVP_CIPHER_CTX_new();
    int len = 0, ok = c && vodup_random(buf, SEAL_NONCE) == 0 &&
                      EVP_EncryptInit_ex(c, EVP_aes_256_gcm(), NULL, key, buf) == 1 &&
                      EVP_EncryptUpdate(c, NULL, &len, (const unsigned char *)aad, (int)strlen(aad)) == 1 &&
                      EVP_EncryptUpdate(c, buf + SEAL_NONCE, &len, pt, (int)n) == 1 &&
                      EVP_EncryptFinal_ex(c, buf + SEAL_NONCE + len, &len) == 1 &&
                      EVP_CIPHER_CTX_ctrl(c, EVP_CTRL_GCM_GET_TAG, SEAL_TAG, buf + SEAL_NONCE + n) == 1;
    EVP_CIPHER_CTX_free(c);
    if (!ok) {
        free(buf);
        return -1;
    }
    *out = buf;
    *outlen = SEAL_NONCE + n + SEAL_TAG;
    return 0;
}

int auth_unseal(const unsigned char key[32], const char *aad, const unsigned char *in, size_t n,
                char **out, size_t *outlen)
{
    if (n < SEAL_NONCE + SEAL_TAG)
        return -1;
    size_t ctlen = n - SEAL_NONCE - SEAL_TAG;
    char *buf = malloc(ctlen + 1);
    if (!buf)
        return -1;
    EVP_CIPHER_CTX *c = EVP_CIPHER_CTX_new();
    int len = 0, ok = c && EVP_DecryptInit_ex(c, EVP_aes_256_gcm(), NULL, key, in) == 1 &&
                      EVP_DecryptUpdate(c, NULL, &len, (const unsigned char *)aad, (int)strlen(aad)) == 1 &&
                      EVP_DecryptUpdate(c, (unsigned char *)buf, &len, in + SEAL_NONCE, (int)ctlen) == 1 &&
                      EVP_CIPHER_CTX_ctrl(c, EVP_CTRL_GCM_SET_TAG, SEAL_TAG,
                                          (void *)(in + SEAL_NONCE + ctlen)) == 1 &&
                      EVP_DecryptFinal_ex(c, (unsigned char *)buf + len, &len) == 1;
    EVP_CIPHER_CTX_free(c);
    if (!ok) {
        free(buf);
        return -1;
    }
    buf[ctlen] = '\0';
    *out = buf;
    if (outlen)
        *outlen = ctlen;
    return 0;
}

int auth_key_create_max(vodupd *s, const char *account_id, const char *principal, int max, char key_id[25],
                        char secret[31])
{
    memcpy(key_id, "LTAI", 4);
    if (auth_random_id(key_id + 4, 20, ALNUM) != 0 || auth_random_id(secret, 30, ALNUM) != 0)
        return -1;
    unsigned char *sealed;
    size_t slen;
    if (auth_seal(s->master_key, key_id, secret, 30, &sealed, &slen) != 0)
        return -1;
    int r = max > 0 ? vodup_meta_key_create_max(s->meta, key_id, account_id, principal, sealed, slen, time(NULL), max)
                    : vodup_meta_key_create(s->meta, key_id, account_id, principal, sealed, slen, time(NULL));
    free(sealed);
    return r == VODUP_META_OK ? 0 : r == VODUP_META_ELIMIT ? -2 : -1;
}

int auth_key_create(vodupd *s, const char *account_id, const char *principal,
                    char key_id[25], char secret[31])
{
    return auth_key_create_max(s, account_id, principal, 0, key_id, secret);
}

int auth_generation(vodupd *s, const char *account_id, const char *principal, long long *gen)
{
    int rc = s->revocations ? vodup_meta_revocations_get(s->revocations, account_id, principal, gen)
             : s->meta      ? vodup_meta_revocation_get(s->meta, account_id, principal, gen)
                            : VODUP_META_EIO;
    return rc == VODUP_META_OK ? 0 : -1;
}

/* At most this many principals in one credential's chain (we issue at most two). */
#define REV_MAX 8

/* Checks a token's "rev" claim against the current generations. AUTH_OK, AUTH_ENOKEY
 * when a principal it derives from was revoked after it was issued, AUTH_ETOKEN when the
 * claim is malformed, AUTH_EIO when the generations cannot be read. */
static int check_revocation(vodupd *s, const char *account_id, const json_t *rev)
{
    if (!rev)
        return AUTH_OK; /* issued before revocation existed: lives until its expiry */
    if (!json_is_object(rev) || json_object_size(rev) > REV_MAX)
        return AUTH_ETOKEN;
    const char *principal;
    json_t *g;
    json_object_foreach((json_t *)rev, principal, g) {
        if (!json_is_integer(g) || json_integer_value(g) < 0)
            return AUTH_ETOKEN;
        long long now_gen;
        if (auth_generation(s, account_id, principal, &now_gen) != 0)
            return AUTH_EIO;
        if (now_gen > (long long)json_integer_value(g))
            return AUTH_ENOKEY;
    }
    return AUTH_OK;
}

/* Temporary credentials carry everything in their token (auth/token.h): no lookup but
 * the revocation check. */
static int resolve_temporary(vodupd *s, const char *key_id, const char *token, time_t now,
                             vodup_cred *out)
{
    if (!token || !*token)
        return AUTH_ENOTOKEN;
    if (!s->token_keys)
        return AUTH_ENOKEY;
    token_claims c;
    char secret[TOKEN_SECRET_LEN + 1];
    int opened = token_open(s->token_keys, key_id, token, now, &c, secret);
    /* Sealed with a key not loaded here: another node may have started sealing with a key
     * just added to keys/; look once more before refusing. */
    if (opened == TOKEN_ENOKEY && token_keys_refresh_missing(s->token_keys, s->data_dir, now) > 0)
        opened = token_open(s->token_keys, key_id, token, now, &c, secret);
    switch (opened) {
    case TOKEN_OK:
        break;
    case TOKEN_EEXPIRED:
        return AUTH_ETOKEN_EXPIRED;
    case TOKEN_EMISMATCH:
        return AUTH_ETOKEN_MISMATCH;
    default:
        return AUTH_ETOKEN;
    }
    json_t *rev = json_object_get(c.json, "rev");
    int rc = check_revocation(s, c.account_id, rev);
    if (rc != AUTH_OK) {
        OPENSSL_cleanse(secret, sizeof secret);
        token_claims_clear(&c);
        return rc;
    }
    out->rev = json_incref(rev);
    snprintf(out->key_id, sizeof out->key_id, "%s", key_id);
    memcpy(out->secret, secret, sizeof secret);
    OPENSSL_cleanse(secret, sizeof secret);
    snprintf(out->account_id, sizeof out->account_id, "%s", c.account_id);
    snprintf(out->principal, sizeof out->principal, "%s", c.principal);
    out->temporary = 1;
    out->expires = (time_t)c.expires;
    json_t *ms = json_object_get(c.json, "iatms");
    out->issued_ms = json_is_integer(ms) ? (long long)json_integer_value(ms) : c.issued * 1000LL;
    json_t *scope = json_object_get(c.json, "scope");
    json_t *pol = json_object_get(c.json, "pol");
    if (json_is_object(scope)) {
        const char *b = json_string_value(json_object_get(scope, "bucket"));
        json_t *k = json_object_get(scope, "key");
        json_t *ops = json_object_get(scope, "ops");
        if (!b || strlen(b) >= sizeof out->scope_bucket || !json_is_string(k) || !json_is_array(ops)) {
            rc = AUTH_ETOKEN;
        } else {
            out->has_scope = 1;
            snprintf(out->scope_bucket, sizeof out->scope_bucket, "%s", b);
            out->scope_key_len = json_string_length(k);
            out->scope_key = malloc(out->scope_key_len + 1);
            if (out->scope_key)
                memcpy(out->scope_key, json_string_value(k), out->scope_key_len + 1);
            else
                rc = AUTH_EIO;
            out->scope_ops = json_incref(ops);
        }
    } else if (json_is_array(pol)) {
        out->policy_sets = json_incref(pol);
    } else {
        rc = AUTH_ETOKEN; /* a temporary key always carries a limit */
    }
    token_claims_clear(&c);
    if (rc != AUTH_OK)
        auth_cred_clear(out);
    return rc;
}

/* A RAM user's attached policies become the credential's one policy set. */
static int load_user_policies(vodupd *s, vodup_cred *out)
{
    /* The user's generation is read before its row: if the user is deleted in between,
     * either the row is gone (refused here) or the generation read is the old one and
     * whatever this request issues is revoked by the deletion's new one. */
    char prn[160];
    long long gen;
    snprintf(prn, sizeof prn, "user/%s", out->principal);
    if (auth_generation(s, out->account_id, prn, &gen) != 0)
        return AUTH_EIO;
    out->rev = json_object();
    if (!out->rev || json_object_set_new(out->rev, prn, json_integer((json_int_t)gen)) != 0)
        return AUTH_EIO;
    vodup_meta_principal p;
    int r = vodup_meta_principal_get(s->meta, "user", out->account_id, out->principal, &p);
    if (r == VODUP_META_ENOTFOUND)
        return AUTH_ENOKEY; /* the user is gone: its keys are too */
    if (r != VODUP_META_OK)
        return AUTH_EIO;
    json_t *set = json_loads(p.policies ? p.policies : "[]", 0, NULL);
    vodup_meta_principal_clear(&p);
    if (!json_is_array(set)) {
        json_decref(set);
        return AUTH_EIO;
    }
    out->policy_sets = json_array();
    if (!out->policy_sets || json_array_append_new(out->policy_sets, set) != 0) {
        json_decref(set);
        return AUTH_EIO;
    }
    return AUTH_OK;
}

int auth_resolve(vodupd *s, const char *key_id, const char *token, time_t now, vodup_cred *out)
{
    memset(out, 0, sizeof *out);
    if (strncmp(key_id, "STS.", 4) == 0)
        return resolve_temporary(s, key_id, token, now, out);

    vodup_meta_key k;
    int r = vodup_meta_key_get(s->meta, key_id, &k);
    if (r == VODUP_META_ENOTFOUND)
        return AUTH_ENOKEY;
    if (r != VODUP_META_OK)
        return AUTH_EIO;
    int rc = AUTH_OK;
    char *secret = NULL;
    size_t slen = 0;
    if (!k.active) {
        rc = AUTH_EINACTIVE;
    } else if (token && *token) {
        rc = AUTH_ETOKEN_MISMATCH;
    } else if (auth_unseal(s->master_key, key_id, k.sealed, k.sealed_len, &secret, &slen) != 0 ||
               slen >= sizeof out->secret) {
        fprintf(stderr, "vodupd: the stored secret of key %s does not open with this data dir's master key\n",
                key_id);
        rc = AUTH_EIO;
    } else {
        snprintf(out->key_id, sizeof out->key_id, "%s", key_id);
        memcpy(out->secret, secret, slen + 1);
        snprintf(out->account_id, sizeof out->account_id, "%s", k.account_id);
        snprintf(out->principal, sizeof out->principal, "%s", k.principal ? k.principal : "root");
        if (strcmp(out->principal, "root") != 0)
            rc = load_user_policies(s, out);
    }
    if (secret) {
        OPENSSL_cleanse(secret, slen);
        free(secret);
    }
    vodup_meta_key_clear(&k);
    if (rc != AUTH_OK)
        auth_cred_clear(out);
    return rc;
}
