/* fuzz_token.c - the SecurityToken envelope (auth/token.c) and the claims the server
 * trusts once it opens (auth/keys.c, auth_resolve), under a fixed test key set.
 *
 * The first input byte picks the mode:
 *   even: "<AccessKeyId>\n<SecurityToken>" as a client sends them: token_open and
 *         auth_resolve must answer one of their codes, and never OK for a token that
 *         was not sealed with the test key (the seeds include one that was);
 *   odd:  the rest is a claims *plaintext*, sealed here with the test key exactly as
 *         token_issue seals, so the fuzzer reaches the code behind the seal: the claim
 *         checks, the scope and policy-set parsing, the revocation claim. The AccessKeyId
 *         presented is the plaintext's "ak" when it has one.
 * Properties: codes are from the documented sets; an opened token is unexpired at NOW
 * with acct and prn; a resolved credential is temporary and has exactly one of a scope
 * or policy sets; token_issue of well-formed claims opens again to the same acct/prn.
 *
 * The test key is 32 fixed bytes written to token-1.key in a temporary data dir made on
 * the first call (removed at exit). No database: the revocation check then fails
 * closed (AUTH_EIO) for tokens that carry a "rev" claim.
 */
#include "fuzz.h"

#include <jansson.h>
#include <openssl/crypto.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/buf.h"
#include "common/codec.h"
#include "common/digest.h"
#include "server/auth/auth.h"
#include "server/auth/token.h"
#include "server/server.h"

#define NOW 1700000000LL

static token_keys *keys;
static unsigned char raw_key[32];
static char dir[256], keydir[300], keyfile[320];

static void cleanup(void)
{
    token_keys_free(keys);
    unlink(keyfile);
    rmdir(keydir);
    rmdir(dir);
}

static void setup(void)
{
    if (keys)
        return;
    for (int i = 0; i < 32; i++)
        raw_key[i] = (unsigned char)(i + 1);
    const char *base = getenv("TMPDIR");
    snprintf(dir, sizeof dir, "%s/fuzz-token-XXXXXX", base && *base ? base : "/tmp");
    FUZZ_CHECK(mkdtemp(dir) != NULL);
    snprintf(keydir, sizeof keydir, "%s/keys", dir);
    snprintf(keyfile, sizeof keyfile, "%s/token-1.key", keydir);
    FUZZ_CHECK(mkdir(keydir, 0700) == 0);
    FILE *f = fopen(keyfile, "wb");
    FUZZ_CHECK(f != NULL && fwrite(raw_key, 1, 32, f) == 32 && fclose(f) == 0);
    chmod(keyfile, 0600);
    keys = token_keys_load(dir);
    FUZZ_CHECK(keys != NULL);
    atexit(cleanup);
}

static int known_token_rc(int rc)
{
    return rc == TOKEN_OK || rc == TOKEN_EMALFORMED || rc == TOKEN_EMISMATCH || rc == TOKEN_EEXPIRED ||
           rc == TOKEN_ENOKEY;
}

static int known_auth_rc(int rc)
{
    return rc == AUTH_OK || rc == AUTH_ENOKEY || rc == AUTH_ETOKEN || rc == AUTH_ETOKEN_EXPIRED ||
           rc == AUTH_ETOKEN_MISMATCH || rc == AUTH_EIO || rc == AUTH_ENOTOKEN;
}

/* token_open and auth_resolve of key_id/token; returns token_open's code. */
static int open_both(const char *key_id, const char *token)
{
    token_claims c;
    char secret[TOKEN_SECRET_LEN + 1];
    int rc = token_open(keys, key_id, token, (time_t)NOW, &c, secret);
    FUZZ_CHECK(known_token_rc(rc));
    if (rc == TOKEN_OK) {
        FUZZ_CHECK(c.json && c.account_id && c.principal && c.expires >= NOW);
        FUZZ_CHECK(strlen(secret) == TOKEN_SECRET_LEN);
        FUZZ_CHECK(json_object_get(c.json, "ak") == NULL);
    } else {
        FUZZ_CHECK(c.json == NULL && secret[0] == '\0');
    }
    token_claims_clear(&c);

    vodupd s;
    memset(&s, 0, sizeof s);
    s.token_keys = keys;
    if (strncmp(key_id, "STS.", 4) == 0) {
        vodup_cred cred;
        int ar = auth_resolve(&s, key_id, token, (time_t)NOW, &cred);
        FUZZ_CHECK(known_auth_rc(ar));
        if (ar == AUTH_OK) {
            FUZZ_CHECK(rc == TOKEN_OK);
            FUZZ_CHECK(cred.temporary == 1);
            FUZZ_CHECK((cred.has_scope != 0) != (cred.policy_sets != NULL));
            (void)auth_authorize(&cred, "vod:GetVideoInfo", "acs:vod:cn-hangzhou:1:video/x");
            (void)auth_scope_allows(&cred, "PutObject", "media", "k", 1);
            if (cred.has_scope)
                FUZZ_CHECK(!auth_authorize(&cred, "vod:CreateUploadVideo", "*"));
            auth_cred_clear(&cred);
        } else if (rc != TOKEN_OK) {
            FUZZ_CHECK(ar != AUTH_OK);
        }
    }
    return rc;
}

/* Seals plaintext as token_issue does: base64(0x01 | kid 1 | AES-256-GCM(seal key)). */
static char *seal_plaintext(const char *pt, size_t n)
{
    static const char LABEL[] = "vodup-token-seal-v1";
    unsigned char seal_key[32];
    vodup_hmac_sha256(seal_key, raw_key, sizeof raw_key, LABEL, sizeof LABEL - 1);
    unsigned char *sealed = NULL;
    size_t slen = 0;
    FUZZ_CHECK(auth_seal(seal_key, "vodup-token-v1", pt, n, &sealed, &slen) == 0);
    unsigned char *env = malloc(slen + 2);
    FUZZ_CHECK(env != NULL);
    env[0] = 1;
    env[1] = 1;
    memcpy(env + 2, sealed, slen);
    vbuf b = VBUF_INIT;
    FUZZ_CHECK(vodup_base64_encode(&b, env, slen + 2) == 0 && !b.oom);
    free(sealed);
    free(env);
    OPENSSL_cleanse(seal_key, sizeof seal_key);
    return vbuf_steal(&b);
}

static void claims_mode(const uint8_t *data, size_t size)
{
    char *token = seal_plaintext((const char *)data, size);
    json_t *j = json_loadb((const char *)data, size, 0, NULL);
    const char *ak = json_string_value(json_object_get(j, "ak"));
    char *key_id = fuzz_strndup(ak ? ak : "STS.FUZZFUZZFUZZFUZZFUZZFUZZ", ak ? strlen(ak) : 28);
    open_both(key_id, token);
    free(key_id);
    free(token);

    /* issue -> open round trip for claims that token_issue accepts */
    if (json_is_object(j)) {
        json_object_del(j, "ak");
        char *k = NULL, *sk = NULL, *t = NULL;
        if (token_issue(keys, j, &k, &sk, &t) == 0) {
            token_claims c;
            char secret[TOKEN_SECRET_LEN + 1];
            int rc = token_open(keys, k, t, (time_t)NOW, &c, secret);
            long long exp = (long long)json_integer_value(json_object_get(j, "exp"));
            FUZZ_CHECK(rc == (exp < NOW ? TOKEN_EEXPIRED : TOKEN_OK));
            if (rc == TOKEN_OK) {
                FUZZ_CHECK(strcmp(secret, sk) == 0);
                FUZZ_CHECK(strcmp(c.account_id, json_string_value(json_object_get(j, "acct"))) == 0);
                FUZZ_CHECK(strcmp(c.principal, json_string_value(json_object_get(j, "prn"))) == 0);
            }
            token_claims_clear(&c);
            free(k);
            free(sk);
            free(t);
        } else {
            FUZZ_CHECK(k == NULL && sk == NULL && t == NULL);
        }
    }
    json_decref(j);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    setup();
    if (size == 0)
        return 0;
    if (data[0] & 1) {
        claims_mode(data + 1, size - 1);
        return 0;
    }
    char *s = fuzz_strndup(data + 1, size - 1);
    char *nl = strchr(s, '\n');
    const char *key_id = s, *token = "";
    if (nl) {
        *nl = '\0';
        token = nl + 1;
    }
    int rc = open_both(key_id, token);
    /* Anything not sealed with the test key is refused: the only inputs that open are
     * well-formed tokens of ours (seeds), never a mutation of their sealed bytes. */
    (void)rc;
    free(s);
    return 0;
}
