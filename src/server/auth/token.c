/* token.c - temporary credentials (STS.* key ids) that any node holding the server keys
 * verifies without a database.
 *
 * Layout, as token.h describes: base64( 0x01 | kid | nonce(12) | ciphertext | tag(16) ),
 * the seal being auth_seal's AES-256-GCM. Choices made here, beyond the header:
 *
 * - Each 32-byte key file is not used directly. Two subkeys are derived from it,
 *       seal key   = HMAC-SHA256(file key, "vodup-token-seal-v1")
 *       secret key = HMAC-SHA256(file key, "vodup-token-secret-v1")
 *   so the AES key and the HMAC key that derives secrets are never the same bytes
 *   (textbook key separation; costs nothing at load time).
 * - AccessKeySecret = the first 32 characters of standard base64(HMAC-SHA256(secret key,
 *   AccessKeyId)). 32 bytes encode to 43 characters plus one '=', so the cut never
 *   includes padding; the result is 192 bits over [A-Za-z0-9+/].
 * - The associated data is the constant "vodup-token-v1", and the AccessKeyId travels
 *   inside the sealed claims as "ak". Binding the key id through the AAD would make a
 *   token presented with the wrong key id indistinguishable from a forgery; inside the
 *   claims it is just as tamper-proof, and token_open can report TOKEN_EMISMATCH. The
 *   "ak" member is added on issue and removed again on open, so callers see their claims.
 * - GCM nonces are random (96 bits): fine for far more tokens than one key will ever
 *   seal between rotations.
 */
#include "server/auth/token.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <openssl/crypto.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/buf.h"
#include "common/codec.h"
#include "common/digest.h"
#include "server/auth/auth.h"

#define TOKEN_VERSION 1
#define TOKEN_AAD "vodup-token-v1"
#define TOKEN_KEY_BYTES 32
#define TOKEN_MAX_KID 255
#define TOKEN_MAX_ENCODED (1024 * 1024) /* bounds what a request header can make us decode */
#define SEAL_OVERHEAD (12 + 16)

static const char ALNUM[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";

struct token_keys {
    /* Readers (every request with a token) take the read lock just long enough to copy
     * 64 bytes out; only rotate writes. */
    pthread_rwlock_t lock;
    int current; /* id that seals new tokens */
    unsigned char present[TOKEN_MAX_KID + 1];
    unsigned char seal[TOKEN_MAX_KID + 1][32];
    unsigned char mac[TOKEN_MAX_KID + 1][32];
    atomic_llong miss_scan; /* when token_keys_refresh_missing last scanned (seconds) */
};

/* ---- key files -------------------------------------------------------------- */

static int keys_dir(char *buf, size_t n, const char *data_dir)
{
    int r = snprintf(buf, n, "%s/keys", data_dir);
    if (r < 0 || (size_t)r >= n) {
        errno = ENAMETOOLONG;
        return -1;
    }
    return 0;
}

/* "token-<id>.key" with id 1..255 in canonical decimal (no sign, no leading zero), so
 * that two names can never denote the same id. 0 when name is not a key file. */
static int parse_key_name(const char *name)
{
    if (strncmp(name, "token-", 6) != 0)
        return 0;
    const char *p = name + 6;
    int id = 0, digits = 0;
    while (*p >= '0' && *p <= '9' && digits < 4) {
        if (digits == 0 && *p == '0')
            return 0;
        id = id * 10 + (*p - '0');
        digits++;
        p++;
    }
    if (digits == 0 || strcmp(p, ".key") != 0 || id < 1 || id > TOKEN_MAX_KID)
        return 0;
    return id;
}

static void install_key(token_keys *k, int id, const unsigned char raw[TOKEN_KEY_BYTES])
{
    static const char SEAL_LABEL[] = "vodup-token-seal-v1";
    static const char MAC_LABEL[] = "vodup-token-secret-v1";
    vodup_hmac_sha256(k->seal[id], raw, TOKEN_KEY_BYTES, SEAL_LABEL, sizeof SEAL_LABEL - 1);
    vodup_hmac_sha256(k->mac[id], raw, TOKEN_KEY_BYTES, MAC_LABEL, sizeof MAC_LABEL - 1);
    k->present[id] = 1;
    if (id > k->current)
        k->current = id;
}

static int read_key_file(const char *path, unsigned char raw[TOKEN_KEY_BYTES])
{
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return -1;
    struct stat st;
    ssize_t n = -1;
    if (fstat(fd, &st) == 0 && S_ISREG(st.st_mode) && st.st_size == TOKEN_KEY_BYTES) {
        if (st.st_mode & 077)
            fprintf(stderr, "vodupd: warning: %s is readable by others; chmod 600 it\n", path);
        n = read(fd, raw, TOKEN_KEY_BYTES);
    }
    close(fd);
    if (n != TOKEN_KEY_BYTES) {
        /* A truncated or foreign file must not become a key of zeros or half a key;
         * refuse loudly rather than silently revoking what it sealed. */
        fprintf(stderr, "vodupd: %s is not a %d-byte token key\n", path, TOKEN_KEY_BYTES);
        errno = EINVAL;
        return -1;
    }
    return 0;
}

/* Adds every key file of dir not loaded yet. 0 ok, -1 with errno. */
static int scan_keys(token_keys *k, const char *dir)
{
    DIR *d = opendir(dir);
    if (!d)
        return -1;
    int rc = 0;
    struct dirent *e;
    while ((e = readdir(d)) != NULL) {
        int id = parse_key_name(e->d_name);
        if (id == 0 || k->present[id])
            continue;
        char path[4096];
        int r = snprintf(path, sizeof path, "%s/%s", dir, e->d_name);
        unsigned char raw[TOKEN_KEY_BYTES];
        if (r < 0 || (size_t)r >= sizeof path) {
            errno = ENAMETOOLONG;
            rc = -1;
            break;
        }
        if (read_key_file(path, raw) != 0) {
            rc = -1;
            break;
        }
        install_key(k, id, raw);
        OPENSSL_cleanse(raw, sizeof raw);
    }
    int saved = errno;
    closedir(d);
    errno = saved;
    return rc;
}

static int fsync_dir(const char *dir)
{
    int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd < 0)
        return -1;
    int r = fsync(fd);
    close(fd);
    return r;
}

/* Creates token-<id>.key with 32 fresh random bytes. The bytes go to an O_EXCL 0600
 * temporary file first and are fsync'd, then link() publishes it: the final name
 * appears complete or not at all (another node scanning the directory never reads
 * half a key), and link fails with EEXIST when someone else took the id. 0 ok,
 * -1 with errno. */
static int create_key_file(const char *dir, int id, unsigned char raw[TOKEN_KEY_BYTES])
{
    char tmp[4096], path[4096];
    int r1 = snprintf(tmp, sizeof tmp, "%s/.token-%d.key.XXXXXX", dir, id);
    int r2 = snprintf(path, sizeof path, "%s/token-%d.key", dir, id);
    if (r1 < 0 || (size_t)r1 >= sizeof tmp || r2 < 0 || (size_t)r2 >= sizeof path) {
        errno = ENAMETOOLONG;
        return -1;
    }
    if (vodup_random(raw, TOKEN_KEY_BYTES) != 0) {
        errno = EIO;
        return -1;
    }
    int fd = mkostemp(tmp, O_CLOEXEC); /* O_CREAT|O_EXCL, mode 0600 */
    if (fd < 0)
        return -1;
    int ok = fchmod(fd, 0600) == 0 && write(fd, raw, TOKEN_KEY_BYTES) == TOKEN_KEY_BYTES && fsync(fd) == 0;
    int saved = errno;
    close(fd);
    if (ok && link(tmp, path) != 0) {
        saved = errno;
        ok = 0;
    }
    unlink(tmp);
    if (ok && fsync_dir(dir) != 0) {
        saved = errno;
        ok = 0;
    }
    errno = saved;
    return ok ? 0 : -1;
}

token_keys *token_keys_load(const char *data_dir)
{
    char dir[4096];
    if (!data_dir || keys_dir(dir, sizeof dir, data_dir) != 0)
        return NULL;
    if (mkdir(dir, 0700) != 0 && errno != EEXIST)
        return NULL;
    token_keys *k = calloc(1, sizeof *k);
    if (!k)
        return NULL;
    if (pthread_rwlock_init(&k->lock, NULL) != 0) {
        free(k);
        errno = ENOMEM;
        return NULL;
    }
    if (scan_keys(k, dir) != 0)
        goto fail;
    if (k->current == 0) {
        unsigned char raw[TOKEN_KEY_BYTES];
        if (create_key_file(dir, 1, raw) == 0) {
            install_key(k, 1, raw);
        } else if (errno != EEXIST || scan_keys(k, dir) != 0 || k->current == 0) {
            /* EEXIST: a concurrent first start made key 1; the rescan picks it up. */
            OPENSSL_cleanse(raw, sizeof raw);
            goto fail;
        }
        OPENSSL_cleanse(raw, sizeof raw);
    }
    return k;
fail:;
    int saved = errno;
    token_keys_free(k);
    errno = saved ? saved : EIO;
    return NULL;
}

int token_keys_rotate(token_keys *k, const char *data_dir)
{
    char dir[4096];
    if (!k || !data_dir || keys_dir(dir, sizeof dir, data_dir) != 0)
        return -1;
    pthread_rwlock_wrlock(&k->lock);
    int id = -1;
    /* Pick up keys other processes added since load, so the new id is above all of
     * them; a collision (EEXIST) means another node rotated at the same moment, so
     * load its key and go one higher. */
    for (int attempt = 0; attempt < 8; attempt++) {
        if (scan_keys(k, dir) != 0)
            break;
        if (k->current >= TOKEN_MAX_KID) {
            errno = ENOSPC;
            break;
        }
        unsigned char raw[TOKEN_KEY_BYTES];
        int r = create_key_file(dir, k->current + 1, raw);
        if (r == 0) {
            id = k->current + 1;
            install_key(k, id, raw);
        }
        OPENSSL_cleanse(raw, sizeof raw);
        if (r == 0 || errno != EEXIST)
            break;
    }
    pthread_rwlock_unlock(&k->lock);
    return id;
}

int token_keys_refresh(token_keys *k, const char *data_dir)
{
    char dir[4096];
    if (!k || !data_dir || keys_dir(dir, sizeof dir, data_dir) != 0)
        return -1;
    pthread_rwlock_wrlock(&k->lock);
    int before = k->current;
    int r = scan_keys(k, dir);
    int added = k->current != before;
    pthread_rwlock_unlock(&k->lock);
    return r != 0 ? -1 : added;
}

int token_keys_refresh_missing(token_keys *k, const char *data_dir, time_t now)
{
    char dir[4096];
    if (!k || !data_dir || keys_dir(dir, sizeof dir, data_dir) != 0)
        return -1;
    /* One caller per second gets to scan; the others (and tokens with made-up key ids,
     * which can arrive with every request) are answered from memory. */
    long long last = atomic_load(&k->miss_scan);
    if (last == (long long)now || !atomic_compare_exchange_strong(&k->miss_scan, &last, (long long)now))
        return 0;
    pthread_rwlock_wrlock(&k->lock);
    int before = 0, after = 0;
    for (int id = 1; id <= TOKEN_MAX_KID; id++)
        before += k->present[id];
    int r = scan_keys(k, dir);
    for (int id = 1; id <= TOKEN_MAX_KID; id++)
        after += k->present[id];
    pthread_rwlock_unlock(&k->lock);
    return r != 0 ? -1 : after > before;
}

void token_keys_free(token_keys *k)
{
    if (!k)
        return;
    pthread_rwlock_destroy(&k->lock);
    OPENSSL_cleanse(k, sizeof *k);
    free(k);
}

/* ---- issuing and opening ------------------------------------------------------ */

/* secret = first 32 characters of base64(HMAC-SHA256(mac key, key_id)). */
static int derive_secret(const unsigned char mac[32], const char *key_id, char out[TOKEN_SECRET_LEN + 1])
{
    unsigned char h[VODUP_SHA256_LEN];
    vodup_hmac_sha256(h, mac, 32, key_id, strlen(key_id));
    vbuf b = VBUF_INIT;
    int ok = vodup_base64_encode(&b, h, sizeof h) == 0 && !b.oom && b.len >= TOKEN_SECRET_LEN;
    if (ok) {
        memcpy(out, b.data, TOKEN_SECRET_LEN);
        out[TOKEN_SECRET_LEN] = '\0';
    }
    OPENSSL_cleanse(h, sizeof h);
    if (b.data)
        OPENSSL_cleanse(b.data, b.len);
    vbuf_free(&b);
    return ok ? 0 : -1;
}

/* The fields every token must carry; other members (scope, pol) are the caller's. */
static int claims_well_formed(const json_t *c)
{
    return json_is_object(c) && json_is_string(json_object_get(c, "acct")) &&
           json_is_string(json_object_get(c, "prn")) && json_is_integer(json_object_get(c, "iat")) &&
           json_is_integer(json_object_get(c, "exp"));
}

int token_issue(token_keys *k, const json_t *claims, char **key_id, char **secret, char **token)
{
    if (!key_id || !secret || !token)
        return -1;
    *key_id = *secret = *token = NULL;
    if (!k || !claims_well_formed(claims))
        return -1;

    char kid_str[TOKEN_KEY_ID_LEN + 1];
    memcpy(kid_str, "STS.", 4);
    if (auth_random_id(kid_str + 4, TOKEN_KEY_ID_LEN - 4, ALNUM) != 0)
        return -1;

    unsigned char seal_key[32], mac_key[32];
    int kid;
    pthread_rwlock_rdlock(&k->lock);
    kid = k->current;
    memcpy(seal_key, k->seal[kid], 32);
    memcpy(mac_key, k->mac[kid], 32);
    pthread_rwlock_unlock(&k->lock);

    int rc = -1;
    char *pt = NULL, *sec = NULL;
    unsigned char *sealed = NULL;
    size_t slen = 0;
    vbuf out = VBUF_INIT;
    unsigned char *raw = NULL;
    json_t *c = json_deep_copy(claims);
    if (!c || json_object_set_new(c, "ak", json_string(kid_str)) != 0)
        goto done;
    pt = json_dumps(c, JSON_COMPACT);
    if (!pt)
        goto done;
    if (auth_seal(seal_key, TOKEN_AAD, pt, strlen(pt), &sealed, &slen) != 0)
        goto done;
    raw = malloc(2 + slen);
    if (!raw)
        goto done;
    raw[0] = TOKEN_VERSION;
    raw[1] = (unsigned char)kid;
    memcpy(raw + 2, sealed, slen);
    if (vodup_base64_encode(&out, raw, 2 + slen) != 0 || out.oom)
        goto done;
    sec = malloc(TOKEN_SECRET_LEN + 1);
    if (!sec || derive_secret(mac_key, kid_str, sec) != 0)
        goto done;
    *key_id = strdup(kid_str);
    if (!*key_id)
        goto done;
    *token = vbuf_steal(&out);
    *secret = sec;
    sec = NULL;
    rc = 0;
done:
    if (pt) {
        OPENSSL_cleanse(pt, strlen(pt));
        free(pt);
    }
    if (sec) {
        OPENSSL_cleanse(sec, TOKEN_SECRET_LEN + 1);
        free(sec);
    }
    free(sealed);
    free(raw);
    vbuf_free(&out);
    json_decref(c);
    OPENSSL_cleanse(seal_key, sizeof seal_key);
    OPENSSL_cleanse(mac_key, sizeof mac_key);
    if (rc != 0) {
        free(*key_id);
        *key_id = NULL;
    }
    return rc;
}

int token_open(token_keys *k, const char *key_id, const char *token, time_t now, token_claims *out,
               char secret[TOKEN_SECRET_LEN + 1])
{
    memset(out, 0, sizeof *out);
    memset(secret, 0, TOKEN_SECRET_LEN + 1);
    if (!k || !token)
        return TOKEN_EMALFORMED;
    if (!key_id)
        return TOKEN_EMISMATCH;
    size_t n = strlen(token);
    if (n < 4 || n > TOKEN_MAX_ENCODED)
        return TOKEN_EMALFORMED;

    unsigned char *raw = malloc(n / 4 * 3);
    if (!raw)
        return TOKEN_EMALFORMED;
    long rl = vodup_base64_decode(raw, token, n);
    if (rl < 2 + SEAL_OVERHEAD || raw[0] != TOKEN_VERSION || raw[1] == 0) {
        free(raw);
        return TOKEN_EMALFORMED;
    }
    int kid = raw[1];
    unsigned char seal_key[32], mac_key[32];
    pthread_rwlock_rdlock(&k->lock);
    int have = k->present[kid];
    if (have) {
        memcpy(seal_key, k->seal[kid], 32);
        memcpy(mac_key, k->mac[kid], 32);
    }
    pthread_rwlock_unlock(&k->lock);
    if (!have) {
        free(raw);
        return TOKEN_ENOKEY;
    }

    int rc = TOKEN_EMALFORMED;
    char *pt = NULL;
    size_t ptlen = 0;
    json_t *c = NULL;
    if (auth_unseal(seal_key, TOKEN_AAD, raw + 2, (size_t)rl - 2, &pt, &ptlen) != 0)
        goto done;
    /* Only we can seal, so a bad payload here means a bug or a leaked key; either way
     * it is not a token to honour. */
    c = json_loadb(pt, ptlen, JSON_REJECT_DUPLICATES, NULL);
    const json_t *ak = json_object_get(c, "ak");
    if (!claims_well_formed(c) || !json_is_string(ak))
        goto done;
    if (!vodup_ct_equal(json_string_value(ak), json_string_length(ak), key_id, strlen(key_id))) {
        rc = TOKEN_EMISMATCH;
        goto done;
    }
    long long exp = (long long)json_integer_value(json_object_get(c, "exp"));
    if (exp < (long long)now) {
        rc = TOKEN_EEXPIRED;
        goto done;
    }
    if (derive_secret(mac_key, key_id, secret) != 0)
        goto done;
    json_object_del(c, "ak");
    out->json = c;
    c = NULL;
    out->account_id = json_string_value(json_object_get(out->json, "acct"));
    out->principal = json_string_value(json_object_get(out->json, "prn"));
    out->issued = (long long)json_integer_value(json_object_get(out->json, "iat"));
    out->expires = exp;
    rc = TOKEN_OK;
done:
    if (pt) {
        OPENSSL_cleanse(pt, ptlen);
        free(pt);
    }
    json_decref(c);
    free(raw);
    OPENSSL_cleanse(seal_key, sizeof seal_key);
    OPENSSL_cleanse(mac_key, sizeof mac_key);
    return rc;
}

void token_claims_clear(token_claims *c)
{
    if (!c)
        return;
    json_decref(c->json);
    memset(c, 0, sizeof *c);
}
