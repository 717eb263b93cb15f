/* auth.h - who signed a request: access keys, their secrets, and their scope.
 *
 * Long-term secrets must be recoverable (HMAC verification needs them), so they are
 * stored sealed with AES-256-GCM under a server key kept in the data directory (0600).
 * Temporary keys ("STS." ids with a SecurityToken) carry their claims inside the token
 * and are resolved here too, without a database lookup beyond the (cached) check that the
 * principals they derive from were not deleted since: a revoked temporary key answers
 * AUTH_ENOKEY, as the key of a deleted user does.
 */
#ifndef VODUPD_AUTH_H
#define VODUPD_AUTH_H

#include <jansson.h>
#include <stddef.h>
#include <time.h>

#include "server/server.h"

typedef struct vodup_cred {
    char key_id[129];
    char secret[129];       /* never logged */
    char account_id[33];
    char principal[129];    /* "root", a user name, or a role session */
    int temporary;
    time_t expires;         /* temporary keys only */
    long long issued_ms;    /* temporary keys only: when they were issued (Unix ms) */

    /* What the credential may do. A root key may do anything in its account
     * (policy_sets NULL, no scope). A RAM user carries its attached policies as one set;
     * an assumed role carries the role's set and the session policy's, all of which must
     * allow. Upload credentials from CreateUploadVideo & co. carry a scope instead: one
     * object and the operations that write it. */
    json_t *policy_sets;    /* array of policy sets, owned; NULL when unrestricted */
    int has_scope;
    char scope_bucket[64];
    char *scope_key;        /* owned */
    size_t scope_key_len;
    json_t *scope_ops;      /* array of operation names, owned */

    /* The principals this credential derives from, with their generations when it was
     * issued (store/meta.h, "revocation"): {"user/<name>": g} for a RAM user's key,
     * {"user/<name>": g, "role/<name>": g} for a role session, whatever the creating
     * credential carried for upload credentials. Owned; NULL for root keys. Copied into
     * every temporary credential issued on behalf of this one, so deleting the user or
     * role refuses all of them. */
    json_t *rev;
} vodup_cred;

/* Releases what a resolved credential owns and wipes its secret. */
void auth_cred_clear(vodup_cred *c);

/* 1 when c may perform action ("vod:CreateUploadVideo", "oss:PutObject", "sts:AssumeRole")
 * on resource ("acs:..."), 0 when not. Scoped credentials answer 0 here: their checks are
 * auth_scope_allows. */
int auth_authorize(const vodup_cred *c, const char *action, const char *resource);
/* For scoped credentials: 1 when operation op on bucket/key is inside the scope. */
int auth_scope_allows(const vodup_cred *c, const char *op, const char *bucket, const char *key, size_t key_len);

enum {
    AUTH_OK = 0,
    AUTH_ENOKEY = -1,           /* no such access key (or a temporary one revoked) */
    AUTH_EINACTIVE = -2,        /* key disabled */
    AUTH_ETOKEN = -3,           /* security token malformed or forged */
    AUTH_ETOKEN_EXPIRED = -4,
    AUTH_ETOKEN_MISMATCH = -5,  /* token present for a long-term key, or absent for a temporary one */
    AUTH_EIO = -6,
    AUTH_ENOTOKEN = -7          /* a temporary key came without its SecurityToken */
};

/* Data-directory key material. */
int auth_master_key_create(const char *data_dir, unsigned char key[32]);
int auth_master_key_load(const char *data_dir, unsigned char key[32]);

/* Creates a long-term key for account_id/principal, storing the secret sealed.
 * key_id gets "LTAI" + 20 characters, secret 30 characters. */
int auth_key_create(vodupd *s, const char *account_id, const char *principal,
                    char key_id[25], char secret[31]);
/* As auth_key_create, refused (-2) when principal has max keys already (0: no limit). */
int auth_key_create_max(vodupd *s, const char *account_id, const char *principal, int max, char key_id[25],
                        char secret[31]);

/* The current generation of principal ("user/<name>", "role/<name>") of account_id:
 * from s->revocations when the server has the cache, else read from s->meta. 0 ok,
 * -1 when it cannot be read (callers then refuse: fail closed). */
int auth_generation(vodupd *s, const char *account_id, const char *principal, long long *gen);

/* Finds the credential behind key_id (and token, NULL when none) at time now. */
int auth_resolve(vodupd *s, const char *key_id, const char *token, time_t now, vodup_cred *out);

/* AES-256-GCM with a random nonce; aad binds the sealed bytes to their owner (key id).
 * *out is malloc'd nonce || ciphertext || tag. */
int auth_seal(const unsigned char key[32], const char *aad, const void *pt, size_t n,
              unsigned char **out, size_t *outlen);
/* Opens what auth_seal made; *out is malloc'd and NUL-terminated. -1 when forged. */
int auth_unseal(const unsigned char key[32], const char *aad, const unsigned char *in, size_t n,
                char **out, size_t *outlen);

/* Random identifiers from an alphabet of upper-case letters and digits. */
int auth_random_id(char *out, size_t len, const char *alphabet);

#endif
