/* token.h - temporary credentials that verify anywhere without a database.
 *
 * AccessKeyId = "STS." + 24 random characters. Its secret is derived, never stored:
 * base64(HMAC-SHA256(server key, AccessKeyId)) cut to 32 characters, so any vodupd node
 * holding the server keys recomputes it. The SecurityToken carries the claims sealed
 * with AES-256-GCM under the server key (associated data: the AccessKeyId):
 *
 *     base64( version(1) | key id(1) | nonce(12) | ciphertext | tag(16) )
 *
 * Server keys live in <data_dir>/keys/token-<id>.key (0600, 32 bytes, id 1..255). The
 * newest signs; every key still on disk verifies, so rotation (`vodupd keys rotate`)
 * keeps tokens already issued valid until their expiry, and deleting an old key file
 * revokes everything it sealed.
 */
#ifndef VODUPD_AUTH_TOKEN_H
#define VODUPD_AUTH_TOKEN_H

#include <jansson.h>
#include <time.h>

#define TOKEN_KEY_ID_LEN 28      /* "STS." + 24 */
#define TOKEN_SECRET_LEN 32

typedef struct token_keys token_keys;

/* Loads every token key of data_dir, creating key 1 when there is none. NULL with errno. */
token_keys *token_keys_load(const char *data_dir);
/* Writes a new key (the highest id + 1) and makes it current. Returns its id or -1. */
int token_keys_rotate(token_keys *k, const char *data_dir);
/* Loads key files added since (another process's `vodupd keys rotate`): the newest
 * becomes current. 1 when the current key changed, 0 when not, -1 with errno. */
int token_keys_refresh(token_keys *k, const char *data_dir);
/* For a token sealed with a key id this set lacks: loads key files added since, as
 * token_keys_refresh does, so that a key another node has just started sealing with opens
 * here at once rather than at the next periodic refresh (rotation on several nodes:
 * docs/scale-out.md). Scans at most once per second of now; 1 when a key was added, 0 when
 * none was (or the scan was skipped), -1 with errno. */
int token_keys_refresh_missing(token_keys *k, const char *data_dir, time_t now);
void token_keys_free(token_keys *k);

/* The claims, as JSON (compact, small):
 *   {"acct": account id, "prn": principal (e.g. "role/uploader/session1" or "vod/<VideoId>"),
 *    "iat": issued (unix), "exp": expiry (unix),
 *    and either "scope": {"bucket":..,"key":..,"ops":[..operation names..]}
 *    or "pol": [policy set, ...] (every set must allow)} */
typedef struct token_claims {
    json_t *json;           /* owned */
    const char *account_id; /* borrowed from json */
    const char *principal;
    long long issued;
    long long expires;
} token_claims;

/* Issues credentials for claims (the caller builds claims->json with at least acct, prn,
 * iat, exp). Outputs are malloc'd NUL-terminated strings. 0 ok, -1 failure. */
int token_issue(token_keys *k, const json_t *claims, char **key_id, char **secret, char **token);

enum {
    TOKEN_OK = 0,
    TOKEN_EMALFORMED = -1,   /* not one of ours, or forged (the seal does not open) */
    TOKEN_EMISMATCH = -2,    /* sealed for another AccessKeyId */
    TOKEN_EEXPIRED = -3,     /* exp is before now */
    TOKEN_ENOKEY = -4        /* sealed with a key this node does not have (revoked) */
};

/* Opens token, checks it belongs to key_id and is not expired at now; fills out and the
 * derived secret (TOKEN_SECRET_LEN + 1 bytes). */
int token_open(token_keys *k, const char *key_id, const char *token, time_t now, token_claims *out,
               char secret[TOKEN_SECRET_LEN + 1]);
void token_claims_clear(token_claims *c);

#endif
