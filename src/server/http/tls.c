/* tls.c - the HTTPS listener's certificate (see tls.h).
 *
 * libmicrohttpd 0.9.75 takes the certificate either once, as PEM in memory
 * (MHD_OPTION_HTTPS_MEM_CERT/KEY, fixed for the daemon's life), or per handshake
 * through GnuTLS's certificate callback (MHD_OPTION_HTTPS_CERT_CALLBACK). The callback is
 * what lets SIGHUP swap the certificate: each handshake reads the current set with one
 * atomic load, so a reload never blocks or drops a connection, and established sessions
 * keep the keys they negotiated with.
 *
 * A set once handed to GnuTLS may still be referenced by a session in its handshake, and
 * GnuTLS gives no signal when it is done with it; so replaced sets are kept until the
 * daemons stop (a few KiB per reload; reloads are operator actions).
 */
#include "server/http/tls.h"

#include <gnutls/abstract.h>
#include <gnutls/gnutls.h>
#include <gnutls/x509.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "server/config.h"

typedef struct tls_cred {
    gnutls_pcert_st pcerts[VODUPD_TLS_MAX_CHAIN];
    unsigned int npcerts;
    gnutls_privkey_t key;
    struct tls_cred *older; /* replaced sets, freed with the http_tls */
} tls_cred;

struct http_tls {
    char *cert_file, *key_file;
    _Atomic(tls_cred *) cur;
    pthread_mutex_t mu; /* serialises reloads */
};

static _Atomic(http_tls *) g_tls;

static void cred_free(tls_cred *c)
{
    while (c) {
        tls_cred *o = c->older;
        for (unsigned i = 0; i < c->npcerts; i++)
            gnutls_pcert_deinit(&c->pcerts[i]);
        if (c->key)
            gnutls_privkey_deinit(c->key);
        free(c);
        c = o;
    }
}

static tls_cred *cred_load(const char *cert_file, const char *key_file, char *err, size_t errn)
{
    /* GnuTLS's own loader first: it checks that the key belongs to the leaf certificate
     * (a mismatched pair would fail every handshake only after the swap). */
    gnutls_certificate_credentials_t check;
    if (gnutls_certificate_allocate_credentials(&check) < 0) {
        snprintf(err, errn, "out of memory");
        return NULL;
    }
    int rc = gnutls_certificate_set_x509_key_file2(check, cert_file, key_file, GNUTLS_X509_FMT_PEM, NULL, 0);
    gnutls_certificate_free_credentials(check);
    if (rc < 0) {
        snprintf(err, errn, "cannot use %s with %s: %s", cert_file, key_file, gnutls_strerror(rc));
        return NULL;
    }
    gnutls_datum_t cert = {NULL, 0}, key = {NULL, 0};
    tls_cred *c = calloc(1, sizeof *c);
    if (!c) {
        snprintf(err, errn, "out of memory");
        return NULL;
    }
    if ((rc = gnutls_load_file(cert_file, &cert)) < 0 || (rc = gnutls_load_file(key_file, &key)) < 0) {
        snprintf(err, errn, "cannot read %s or %s: %s", cert_file, key_file, gnutls_strerror(rc));
        goto fail;
    }
    c->npcerts = VODUPD_TLS_MAX_CHAIN;
    rc = gnutls_pcert_list_import_x509_raw(c->pcerts, &c->npcerts, &cert, GNUTLS_X509_FMT_PEM, 0);
    if (rc < 0) {
        c->npcerts = 0;
        snprintf(err, errn, "%s: %s (at most %d certificates in the chain)", cert_file, gnutls_strerror(rc),
                 VODUPD_TLS_MAX_CHAIN);
        goto fail;
    }
    if ((rc = gnutls_privkey_init(&c->key)) < 0 ||
        (rc = gnutls_privkey_import_x509_raw(c->key, &key, GNUTLS_X509_FMT_PEM, NULL, 0)) < 0) {
        snprintf(err, errn, "%s: %s (an unencrypted PEM private key is needed)", key_file, gnutls_strerror(rc));
        goto fail;
    }
    gnutls_memset(key.data, 0, key.size);
    gnutls_free(key.data);
    gnutls_free(cert.data);
    return c;
fail:
    if (key.data)
        gnutls_memset(key.data, 0, key.size);
    gnutls_free(key.data);
    gnutls_free(cert.data);
    cred_free(c);
    return NULL;
}

/* gnutls_certificate_retrieve_function2: the server's chain and key for one handshake. */
int http_tls_retrieve(gnutls_session_t session, const gnutls_datum_t *req_ca_dn, int nreqs,
                      const gnutls_pk_algorithm_t *pk_algos, int pk_algos_length, gnutls_pcert_st **pcert,
                      unsigned int *pcert_length, gnutls_privkey_t *pkey)
{
    (void)session, (void)req_ca_dn, (void)nreqs, (void)pk_algos, (void)pk_algos_length;
    http_tls *t = atomic_load(&g_tls);
    tls_cred *c = t ? atomic_load(&t->cur) : NULL;
    if (!c)
        return -1;
    *pcert = c->pcerts;
    *pcert_length = c->npcerts;
    *pkey = c->key;
    return 0;
}

http_tls *http_tls_new(const char *cert_file, const char *key_file, char *err, size_t errn)
{
    if (atomic_load(&g_tls)) {
        snprintf(err, errn, "a TLS certificate is already loaded");
        return NULL;
    }
    http_tls *t = calloc(1, sizeof *t);
    if (!t || !(t->cert_file = strdup(cert_file)) || !(t->key_file = strdup(key_file))) {
        snprintf(err, errn, "out of memory");
        goto fail;
    }
    tls_cred *c = cred_load(cert_file, key_file, err, errn);
    if (!c)
        goto fail;
    atomic_store(&t->cur, c);
    pthread_mutex_init(&t->mu, NULL);
    atomic_store(&g_tls, t);
    return t;
fail:
    if (t) {
        free(t->cert_file);
        free(t->key_file);
        free(t);
    }
    return NULL;
}

int http_tls_reload(http_tls *t, char *err, size_t errn)
{
    tls_cred *c = cred_load(t->cert_file, t->key_file, err, errn);
    if (!c)
        return -1;
    pthread_mutex_lock(&t->mu);
    c->older = atomic_load(&t->cur);
    atomic_store(&t->cur, c);
    pthread_mutex_unlock(&t->mu);
    return 0;
}

void http_tls_free(http_tls *t)
{
    if (!t)
        return;
    http_tls *expected = t;
    atomic_compare_exchange_strong(&g_tls, &expected, NULL);
    cred_free(atomic_load(&t->cur));
    pthread_mutex_destroy(&t->mu);
    free(t->cert_file);
    free(t->key_file);
    free(t);
}
