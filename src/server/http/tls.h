/* tls.h - the HTTPS listener's certificate: loaded from PEM files, handed to GnuTLS per
 * handshake, reloaded in place (SIGHUP) without touching established connections. */
#ifndef VODUPD_HTTP_TLS_H
#define VODUPD_HTTP_TLS_H

#include <gnutls/abstract.h>
#include <stddef.h>

typedef struct http_tls http_tls;

/* Loads the certificate chain (PEM, leaf first) and its private key (PEM). NULL on error,
 * with the reason in err. Only one http_tls may be live per process (GnuTLS's certificate
 * callback carries no user pointer). */
http_tls *http_tls_new(const char *cert_file, const char *key_file, char *err, size_t errn);
/* Reads the same files again; new handshakes use them, connections already established
 * keep theirs. On error (err says why) the previous certificate stays in force. 0 ok. */
int http_tls_reload(http_tls *t, char *err, size_t errn);
/* After every daemon that used t has stopped. */
void http_tls_free(http_tls *t);
/* The GnuTLS certificate callback (MHD_OPTION_HTTPS_CERT_CALLBACK): the current set. */
int http_tls_retrieve(gnutls_session_t session, const gnutls_datum_t *req_ca_dn, int nreqs,
                      const gnutls_pk_algorithm_t *pk_algos, int pk_algos_length, gnutls_pcert_st **pcert,
                      unsigned int *pcert_length, gnutls_privkey_t *pkey);

#endif
