/* test_token.c - temporary credentials: issue/open round trips, the derived secret,
 * tamper detection at every position, key-id binding, expiry, key rotation and
 * revocation by deleting a key file, key file permissions, and tokens from another
 * data directory. Each test works in its own mkdtemp directory under $VODUP_TEST_TMP. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <dirent.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/codec.h"
#include "common/digest.h"
#include <sys/wait.h>
#include <time.h>

#include "server/auth/auth.h"
#include "server/auth/token.h"
#include "server/server.h"
#include "server/store/meta_vod.h"
#include "store_harness.h" /* make_temp_dir, rm_rf, store_fx */

static char *scratch_dir(void)
{
    char *d = make_temp_dir("token");
    assert_non_null(d);
    return d;
}

/* What most tests start from: a key store loaded from a data directory of its own. */
typedef struct keys_fx {
    char *dir;
    token_keys *k;
} keys_fx;

static int keys_fx_setup(void **state)
{
    keys_fx *f = calloc(1, sizeof *f);
    assert_non_null(f);
    f->dir = scratch_dir();
    f->k = token_keys_load(f->dir);
    assert_non_null(f->k);
    *state = f;
    return 0;
}

/* Frees the store (a test may have done so and left NULL) and removes the directory. */
static int keys_fx_teardown(void **state)
{
    keys_fx *f = *state;
    token_keys_free(f->k);
    rm_rf(f->dir);
    free(f->dir);
    free(f);
    return 0;
}

static json_t *claims(long long iat, long long exp)
{
    json_t *c = json_pack("{s:s,s:s,s:I,s:I,s:{s:s,s:s,s:[s,s]}}", "acct", "1234567890", "prn",
                          "role/uploader/session1", "iat", (json_int_t)iat, "exp", (json_int_t)exp, "scope",
                          "bucket", "media", "key", "sv/abc/video.mp4", "ops", "PutObject", "InitiateMultipartUpload");
    assert_non_null(c);
    return c;
}

typedef struct issued {
    char *key_id, *secret, *token;
} issued;

static void issue(token_keys *k, const json_t *c, issued *out)
{
    assert_int_equal(token_issue(k, c, &out->key_id, &out->secret, &out->token), 0);
}

static void issued_free(issued *i)
{
    free(i->key_id);
    free(i->secret);
    free(i->token);
}

static void test_round_trip(void **state)
{
    keys_fx *fx = *state;
    json_t *c = claims(1700000000, 1700003600);
    issued t;
    issue(fx->k, c, &t);

    assert_int_equal(strlen(t.key_id), TOKEN_KEY_ID_LEN);
    assert_memory_equal(t.key_id, "STS.", 4);
    for (size_t i = 4; i < TOKEN_KEY_ID_LEN; i++)
        assert_non_null(strchr("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789", t.key_id[i]));
    assert_int_equal(strlen(t.secret), TOKEN_SECRET_LEN);
    assert_null(strchr(t.secret, '='));

    /* version 1, key id 1 */
    unsigned char raw[4096];
    long rl = vodup_base64_decode(raw, t.token, strlen(t.token));
    assert_true(rl > 2 + 12 + 16);
    assert_int_equal(raw[0], 1);
    assert_int_equal(raw[1], 1);

    token_claims oc;
    char secret[TOKEN_SECRET_LEN + 1];
    assert_int_equal(token_open(fx->k, t.key_id, t.token, 1700000100, &oc, secret), TOKEN_OK);
    assert_string_equal(secret, t.secret);
    assert_true(json_equal(oc.json, c)); /* claims come back exactly, nothing added */
    assert_string_equal(oc.account_id, "1234567890");
    assert_string_equal(oc.principal, "role/uploader/session1");
    assert_int_equal(oc.issued, 1700000000);
    assert_int_equal(oc.expires, 1700003600);
    token_claims_clear(&oc);
    assert_null(oc.json);

    /* exp is inclusive: valid at exp, expired one second later */
    assert_int_equal(token_open(fx->k, t.key_id, t.token, 1700003600, &oc, secret), TOKEN_OK);
    token_claims_clear(&oc);
    assert_int_equal(token_open(fx->k, t.key_id, t.token, 1700003601, &oc, secret), TOKEN_EEXPIRED);
    assert_null(oc.json);
    token_claims_clear(&oc);

    /* two issues of the same claims: different ids, secrets and tokens */
    issued t2;
    issue(fx->k, c, &t2);
    assert_string_not_equal(t.key_id, t2.key_id);
    assert_string_not_equal(t.secret, t2.secret);
    assert_string_not_equal(t.token, t2.token);

    /* the same store reloaded derives the same secret (nodes agree) */
    token_keys *k2 = token_keys_load(fx->dir);
    assert_non_null(k2);
    assert_int_equal(token_open(k2, t2.key_id, t2.token, 1700000100, &oc, secret), TOKEN_OK);
    assert_string_equal(secret, t2.secret);
    token_claims_clear(&oc);
    token_keys_free(k2);

    issued_free(&t2);
    issued_free(&t);
    json_decref(c);
}

static void test_issue_rejects_incomplete_claims(void **state)
{
    keys_fx *fx = *state;
    const char *bad[] = {
        "{\"prn\":\"p\",\"iat\":1,\"exp\":2}",
        "{\"acct\":\"a\",\"iat\":1,\"exp\":2}",
        "{\"acct\":\"a\",\"prn\":\"p\",\"exp\":2}",
        "{\"acct\":\"a\",\"prn\":\"p\",\"iat\":1,\"exp\":\"2\"}",
        "[]",
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        json_t *c = json_loads(bad[i], 0, NULL);
        char *a = (char *)1, *b = (char *)1, *t = (char *)1;
        assert_int_equal(token_issue(fx->k, c, &a, &b, &t), -1);
        assert_null(a);
        assert_null(b);
        assert_null(t);
        json_decref(c);
    }
}

static void test_tamper(void **state)
{
    keys_fx *fx = *state;
    json_t *c = claims(100, 10000);
    issued t;
    issue(fx->k, c, &t);
    size_t n = strlen(t.token);
    char *copy = malloc(n + 1);
    token_claims oc;
    char secret[TOKEN_SECRET_LEN + 1];
    for (size_t i = 0; i < n; i++) {
        if (t.token[i] == '=')
            continue;
        memcpy(copy, t.token, n + 1);
        copy[i] = copy[i] == 'A' ? 'B' : 'A';
        int r = token_open(fx->k, t.key_id, copy, 200, &oc, secret);
        /* Characters 1-2 carry the key-id byte: changing it names a key this node does
         * not have. Anywhere else the seal (or the strict decoder) refuses. */
        if (i == 1 || i == 2)
            assert_true(r == TOKEN_EMALFORMED || r == TOKEN_ENOKEY);
        else
            assert_int_equal(r, TOKEN_EMALFORMED);
        assert_null(oc.json);
        assert_string_equal(secret, "");
    }
    /* truncation, extension, junk */
    memcpy(copy, t.token, n + 1);
    copy[n - 4] = '\0';
    assert_int_equal(token_open(fx->k, t.key_id, copy, 200, &oc, secret), TOKEN_EMALFORMED);
    assert_int_equal(token_open(fx->k, t.key_id, "", 200, &oc, secret), TOKEN_EMALFORMED);
    assert_int_equal(token_open(fx->k, t.key_id, "AQE=", 200, &oc, secret), TOKEN_EMALFORMED);
    assert_int_equal(token_open(fx->k, t.key_id, "not base64!", 200, &oc, secret), TOKEN_EMALFORMED);
    assert_int_equal(token_open(fx->k, t.key_id, NULL, 200, &oc, secret), TOKEN_EMALFORMED);
    size_t m = strlen(t.token) + 4;
    char *longer = malloc(m + 1);
    snprintf(longer, m + 1, "%sAAAA", t.token);
    assert_int_equal(token_open(fx->k, t.key_id, longer, 200, &oc, secret), TOKEN_EMALFORMED);
    free(longer);

    /* a wrong version byte */
    unsigned char raw[4096];
    long rl = vodup_base64_decode(raw, t.token, n);
    assert_true(rl > 0);
    raw[0] = 2;
    vbuf b = VBUF_INIT;
    vodup_base64_encode(&b, raw, (size_t)rl);
    assert_int_equal(token_open(fx->k, t.key_id, b.data, 200, &oc, secret), TOKEN_EMALFORMED);
    vbuf_free(&b);

    free(copy);
    issued_free(&t);
    json_decref(c);
}

static void test_mismatch(void **state)
{
    keys_fx *fx = *state;
    json_t *c = claims(100, 10000);
    issued a, b;
    issue(fx->k, c, &a);
    issue(fx->k, c, &b);
    token_claims oc;
    char secret[TOKEN_SECRET_LEN + 1];
    /* a valid token presented with another (valid) key id */
    assert_int_equal(token_open(fx->k, b.key_id, a.token, 200, &oc, secret), TOKEN_EMISMATCH);
    assert_null(oc.json);
    assert_string_equal(secret, "");
    assert_int_equal(token_open(fx->k, "STS.AAAAAAAAAAAAAAAAAAAAAAAA", a.token, 200, &oc, secret), TOKEN_EMISMATCH);
    assert_int_equal(token_open(fx->k, "", a.token, 200, &oc, secret), TOKEN_EMISMATCH);
    assert_int_equal(token_open(fx->k, NULL, a.token, 200, &oc, secret), TOKEN_EMISMATCH);
    /* a prefix of the right id is still another id */
    char prefix[TOKEN_KEY_ID_LEN];
    memcpy(prefix, a.key_id, TOKEN_KEY_ID_LEN - 1);
    prefix[TOKEN_KEY_ID_LEN - 1] = '\0';
    assert_int_equal(token_open(fx->k, prefix, a.token, 200, &oc, secret), TOKEN_EMISMATCH);
    /* mismatch is reported before expiry */
    assert_int_equal(token_open(fx->k, b.key_id, a.token, 20000, &oc, secret), TOKEN_EMISMATCH);
    assert_int_equal(token_open(fx->k, a.key_id, a.token, 200, &oc, secret), TOKEN_OK);
    token_claims_clear(&oc);
    issued_free(&a);
    issued_free(&b);
    json_decref(c);
}

static void test_rotation_and_revocation(void **state)
{
    keys_fx *fx = *state;
    json_t *c = claims(100, 10000);
    issued old, neu;
    issue(fx->k, c, &old);

    assert_int_equal(token_keys_rotate(fx->k, fx->dir), 2);
    issue(fx->k, c, &neu);
    unsigned char raw[4096];
    assert_true(vodup_base64_decode(raw, neu.token, strlen(neu.token)) > 2);
    assert_int_equal(raw[1], 2);

    token_claims oc;
    char secret[TOKEN_SECRET_LEN + 1];
    assert_int_equal(token_open(fx->k, old.key_id, old.token, 200, &oc, secret), TOKEN_OK);
    assert_string_equal(secret, old.secret);
    token_claims_clear(&oc);
    assert_int_equal(token_open(fx->k, neu.key_id, neu.token, 200, &oc, secret), TOKEN_OK);
    assert_string_equal(secret, neu.secret);
    token_claims_clear(&oc);

    /* a fresh load sees both keys and signs with the newest */
    token_keys *k2 = token_keys_load(fx->dir);
    assert_non_null(k2);
    assert_int_equal(token_open(k2, old.key_id, old.token, 200, &oc, secret), TOKEN_OK);
    token_claims_clear(&oc);
    issued t3;
    issue(k2, c, &t3);
    assert_true(vodup_base64_decode(raw, t3.token, strlen(t3.token)) > 2);
    assert_int_equal(raw[1], 2);
    /* a rotation seen by another loaded instance: it rescans and goes one higher */
    assert_int_equal(token_keys_rotate(fx->k, fx->dir), 3);
    assert_int_equal(token_keys_rotate(k2, fx->dir), 4);
    token_keys_free(k2);

    /* deleting key 1 revokes what it sealed, after a reload */
    char path[4096];
    snprintf(path, sizeof path, "%s/keys/token-1.key", fx->dir);
    assert_int_equal(unlink(path), 0);
    k2 = token_keys_load(fx->dir);
    assert_non_null(k2);
    assert_int_equal(token_open(k2, old.key_id, old.token, 200, &oc, secret), TOKEN_ENOKEY);
    assert_null(oc.json);
    assert_int_equal(token_open(k2, neu.key_id, neu.token, 200, &oc, secret), TOKEN_OK);
    token_claims_clear(&oc);
    token_keys_free(k2);

    issued_free(&t3);
    issued_free(&old);
    issued_free(&neu);
    json_decref(c);
}

/* A key another instance added opens at once through token_keys_refresh_missing, which
 * scans at most once per second. */
static void test_refresh_missing(void **state)
{
    keys_fx *fx = *state;
    token_keys *other = token_keys_load(fx->dir); /* another node, same key files */
    assert_non_null(other);
    json_t *c = claims(100, 10000);
    assert_int_equal(token_keys_rotate(fx->k, fx->dir), 2);
    issued t2;
    issue(fx->k, c, &t2);
    token_claims oc;
    char secret[TOKEN_SECRET_LEN + 1];
    assert_int_equal(token_open(other, t2.key_id, t2.token, 200, &oc, secret), TOKEN_ENOKEY);
    assert_int_equal(token_keys_refresh_missing(other, fx->dir, 1000), 1);
    assert_int_equal(token_open(other, t2.key_id, t2.token, 200, &oc, secret), TOKEN_OK);
    assert_string_equal(secret, t2.secret);
    token_claims_clear(&oc);

    /* within the same second: no scan, the new key stays unknown until the next one */
    assert_int_equal(token_keys_rotate(fx->k, fx->dir), 3);
    issued t3;
    issue(fx->k, c, &t3);
    assert_int_equal(token_keys_refresh_missing(other, fx->dir, 1000), 0);
    assert_int_equal(token_open(other, t3.key_id, t3.token, 200, &oc, secret), TOKEN_ENOKEY);
    assert_int_equal(token_keys_refresh_missing(other, fx->dir, 1001), 1);
    assert_int_equal(token_open(other, t3.key_id, t3.token, 200, &oc, secret), TOKEN_OK);
    token_claims_clear(&oc);
    /* nothing new: 0; the scanned key became current here too */
    assert_int_equal(token_keys_refresh_missing(other, fx->dir, 1002), 0);
    issued t4;
    issue(other, c, &t4);
    unsigned char raw[4096];
    assert_true(vodup_base64_decode(raw, t4.token, strlen(t4.token)) > 2);
    assert_int_equal(raw[1], 3);
    assert_int_equal(token_keys_refresh_missing(NULL, fx->dir, 1003), -1);

    issued_free(&t2);
    issued_free(&t3);
    issued_free(&t4);
    json_decref(c);
    token_keys_free(other);
}

static void test_key_files(void **state)
{
    keys_fx *fx = *state;
    assert_int_equal(token_keys_rotate(fx->k, fx->dir), 2);
    char path[4096];
    struct stat st;
    snprintf(path, sizeof path, "%s/keys", fx->dir);
    assert_int_equal(stat(path, &st), 0);
    assert_int_equal(st.st_mode & 0777, 0700);
    for (int id = 1; id <= 2; id++) {
        snprintf(path, sizeof path, "%s/keys/token-%d.key", fx->dir, id);
        assert_int_equal(stat(path, &st), 0);
        assert_int_equal(st.st_mode & 0777, 0600);
        assert_int_equal(st.st_size, 32);
    }
    /* no temporary files left behind */
    snprintf(path, sizeof path, "%s/keys", fx->dir);
    DIR *d = opendir(path);
    assert_non_null(d);
    int files = 0;
    struct dirent *e;
    while ((e = readdir(d)) != NULL)
        if (e->d_name[0] != '.')
            files++;
        else
            assert_true(strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0);
    closedir(d);
    assert_int_equal(files, 2);
    token_keys_free(fx->k);
    fx->k = NULL; /* the reloads below stand alone; teardown skips a NULL store */

    /* names that are not canonical key files are ignored; a damaged key file is an error */
    snprintf(path, sizeof path, "%s/keys/token-01.key", fx->dir);
    FILE *f = fopen(path, "w");
    fputs("short", f);
    fclose(f);
    token_keys *k = token_keys_load(fx->dir);
    assert_non_null(k);
    token_keys_free(k);
    snprintf(path, sizeof path, "%s/keys/token-7.key", fx->dir);
    f = fopen(path, "w");
    fputs("short", f);
    fclose(f);
    assert_null(token_keys_load(fx->dir));

    /* a missing data dir is an error, not a crash */
    snprintf(path, sizeof path, "%s/nonexistent/deeper", fx->dir);
    assert_null(token_keys_load(path));
}

static void test_other_data_dir(void **state)
{
    (void)state;
    char *d1 = scratch_dir(), *d2 = scratch_dir();
    token_keys *k1 = token_keys_load(d1), *k2 = token_keys_load(d2);
    assert_non_null(k1);
    assert_non_null(k2);
    json_t *c = claims(100, 10000);
    issued t;
    issue(k1, c, &t);
    token_claims oc;
    char secret[TOKEN_SECRET_LEN + 1];
    /* both stores have a key 1, but not the same one */
    assert_int_equal(token_open(k2, t.key_id, t.token, 200, &oc, secret), TOKEN_EMALFORMED);
    assert_int_equal(token_keys_rotate(k1, d1), 2);
    issued t2;
    issue(k1, c, &t2);
    assert_int_equal(token_open(k2, t2.key_id, t2.token, 200, &oc, secret), TOKEN_ENOKEY);
    assert_null(oc.json);
    issued_free(&t);
    issued_free(&t2);
    json_decref(c);
    token_keys_free(k1);
    token_keys_free(k2);
    rm_rf(d1);
    rm_rf(d2);
    free(d1);
    free(d2);
}

/* Readers on several threads while another rotates: every open must succeed. */
typedef struct race {
    token_keys *k;
    const char *key_id, *token, *secret;
    int failures;
} race;

static void *reader(void *arg)
{
    race *r = arg;
    for (int i = 0; i < 300; i++) {
        token_claims oc;
        char secret[TOKEN_SECRET_LEN + 1];
        if (token_open(r->k, r->key_id, r->token, 200, &oc, secret) != TOKEN_OK || strcmp(secret, r->secret) != 0)
            __atomic_add_fetch(&r->failures, 1, __ATOMIC_RELAXED);
        token_claims_clear(&oc);
        char *a, *b, *t;
        json_t *c = json_pack("{s:s,s:s,s:i,s:i}", "acct", "1", "prn", "p", "iat", 1, "exp", 1000);
        if (token_issue(r->k, c, &a, &b, &t) != 0) {
            __atomic_add_fetch(&r->failures, 1, __ATOMIC_RELAXED);
        } else {
            if (token_open(r->k, a, t, 200, &oc, secret) != TOKEN_OK || strcmp(secret, b) != 0)
                __atomic_add_fetch(&r->failures, 1, __ATOMIC_RELAXED);
            token_claims_clear(&oc);
            free(a);
            free(b);
            free(t);
        }
        json_decref(c);
    }
    return NULL;
}

static void test_concurrent(void **state)
{
    keys_fx *fx = *state;
    json_t *c = claims(100, 10000);
    issued t;
    issue(fx->k, c, &t);
    race r = {fx->k, t.key_id, t.token, t.secret, 0};
    pthread_t th[4];
    for (int i = 0; i < 4; i++)
        assert_int_equal(pthread_create(&th[i], NULL, reader, &r), 0);
    for (int i = 0; i < 5; i++)
        assert_true(token_keys_rotate(fx->k, fx->dir) > 1);
    for (int i = 0; i < 4; i++)
        pthread_join(th[i], NULL);
    assert_int_equal(r.failures, 0);
    issued_free(&t);
    json_decref(c);
}

/* ---- revocation: deleting the principal a token derives from -------------------- */

/* A role-session token of role/<role> in acc1, sealing generation gen (rev NULL: none). */
static void issue_session(token_keys *k, const char *role, json_t *rev, issued *out)
{
    long long now = (long long)time(NULL);
    char prn[128];
    snprintf(prn, sizeof prn, "role/%s/s1", role);
    json_t *c = json_pack("{s:s,s:s,s:I,s:I,s:[[{s:s,s:{s:s,s:[{s:s,s:s,s:s}]}}]]}", "acct", "acc1", "prn", prn, "iat",
                          (json_int_t)now, "exp", (json_int_t)(now + 3600), "pol", "PolicyName", "p",
                          "PolicyDocument", "Version", "1", "Statement", "Effect", "Allow", "Action", "vod:*",
                          "Resource", "*");
    assert_non_null(c);
    if (rev)
        assert_int_equal(json_object_set_new(c, "rev", rev), 0);
    issue(k, c, out);
    json_decref(c);
}

static int resolve(vodupd *s, const issued *t)
{
    vodup_cred cred;
    int rc = auth_resolve(s, t->key_id, t->token, time(NULL), &cred);
    if (rc == AUTH_OK)
        auth_cred_clear(&cred);
    return rc;
}

/* What `vodupd role delete` does, in another process with its own connections. */
static void delete_role_in_child(const char *dir, const char *role)
{
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        vodup_meta *m;
        int ok = vodup_meta_open(&m, dir, 1) == VODUP_META_OK &&
                 vodup_meta_principal_delete_revoking(m, "role", "acc1", role) == VODUP_META_OK;
        if (ok)
            vodup_meta_close(m);
        _exit(ok ? 0 : 1);
    }
    int st = 0;
    assert_int_equal(waitpid(pid, &st, 0), pid);
    assert_true(WIFEXITED(st) && WEXITSTATUS(st) == 0);
}

static void test_revocation_by_delete(void **state)
{
    store_fx *f = *state;
    vodupd s;
    memset(&s, 0, sizeof s);
    s.meta = f->m;
    s.token_keys = token_keys_load(f->dir);
    assert_non_null(s.token_keys);
    s.revocations = vodup_meta_revocations_open(f->dir);
    assert_non_null(s.revocations);
    vodup_meta_principal role = {"acc1", "uploader", "acs:ram::acc1:role/uploader", "[]", 3600, 1000};
    assert_int_equal(vodup_meta_principal_create(f->m, "role", &role), VODUP_META_OK);

    long long gen = -1;
    assert_int_equal(auth_generation(&s, "acc1", "role/uploader", &gen), 0);
    assert_int_equal(gen, 0);
    issued t, legacy, other;
    issue_session(s.token_keys, "uploader", json_pack("{s:I,s:I}", "role/uploader", (json_int_t)0, "user/app",
                                                      (json_int_t)0), &t);
    issue_session(s.token_keys, "uploader", NULL, &legacy);
    issue_session(s.token_keys, "other", json_pack("{s:I}", "role/other", (json_int_t)0), &other);
    /* valid, repeatedly (the cache is loaded and then answers from memory) */
    for (int i = 0; i < 3; i++)
        assert_int_equal(resolve(&s, &t), AUTH_OK);

    delete_role_in_child(f->dir, "uploader");
    /* seen at once by the cache, and by the uncached path */
    assert_int_equal(resolve(&s, &t), AUTH_ENOKEY);
    vodup_meta_revocations *saved = s.revocations;
    s.revocations = NULL;
    assert_int_equal(resolve(&s, &t), AUTH_ENOKEY);
    s.revocations = saved;
    /* other principals' tokens are unaffected; tokens without the claim predate it */
    assert_int_equal(resolve(&s, &other), AUTH_OK);
    assert_int_equal(resolve(&s, &legacy), AUTH_OK);

    /* the role again, under the same name: new tokens seal generation 1 and pass; the old
     * one stays revoked */
    assert_int_equal(vodup_meta_principal_create(f->m, "role", &role), VODUP_META_OK);
    assert_int_equal(auth_generation(&s, "acc1", "role/uploader", &gen), 0);
    assert_int_equal(gen, 1);
    issued t2;
    issue_session(s.token_keys, "uploader", json_pack("{s:I}", "role/uploader", (json_int_t)1), &t2);
    assert_int_equal(resolve(&s, &t2), AUTH_OK);
    assert_int_equal(resolve(&s, &t), AUTH_ENOKEY);
    /* deleted again (generation 2): the new session goes too; an absent role is not found */
    delete_role_in_child(f->dir, "uploader");
    assert_int_equal(resolve(&s, &t2), AUTH_ENOKEY);
    assert_int_equal(vodup_meta_principal_delete_revoking(f->m, "role", "acc1", "uploader"), VODUP_META_ENOTFOUND);

    /* a malformed claim is a malformed token, not a pass */
    issued bad;
    issue_session(s.token_keys, "other", json_pack("{s:s}", "role/other", "0"), &bad);
    assert_int_equal(resolve(&s, &bad), AUTH_ETOKEN);
    issued_free(&bad);
    issue_session(s.token_keys, "other", json_pack("[i]", 0), &bad);
    assert_int_equal(resolve(&s, &bad), AUTH_ETOKEN);

    issued_free(&bad);
    issued_free(&t);
    issued_free(&t2);
    issued_free(&legacy);
    issued_free(&other);
    vodup_meta_revocations_close(s.revocations);
    token_keys_free(s.token_keys);
}

static int store_setup(void **state)
{
    return store_fx_setup(state, "token-rev", 2, "media");
}

static int store_teardown(void **state)
{
    return store_fx_teardown(state);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_round_trip, keys_fx_setup, keys_fx_teardown),
        cmocka_unit_test_setup_teardown(test_issue_rejects_incomplete_claims, keys_fx_setup, keys_fx_teardown),
        cmocka_unit_test_setup_teardown(test_tamper, keys_fx_setup, keys_fx_teardown),
        cmocka_unit_test_setup_teardown(test_mismatch, keys_fx_setup, keys_fx_teardown),
        cmocka_unit_test_setup_teardown(test_rotation_and_revocation, keys_fx_setup, keys_fx_teardown),
        cmocka_unit_test_setup_teardown(test_refresh_missing, keys_fx_setup, keys_fx_teardown),
        cmocka_unit_test_setup_teardown(test_key_files, keys_fx_setup, keys_fx_teardown),
        cmocka_unit_test(test_other_data_dir),
        cmocka_unit_test_setup_teardown(test_concurrent, keys_fx_setup, keys_fx_teardown),
        cmocka_unit_test_setup_teardown(test_revocation_by_delete, store_setup, store_teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
