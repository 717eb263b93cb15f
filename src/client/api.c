/* api.c - the VOD / STS RPC client: signed form POSTs, errors mapped to vodup_error.
 * vodup_api is the public face; the upload engine uses vcl_rpc_call directly. */
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "client/internal.h"
#include "common/codec.h"
#include "common/digest.h"
#include "common/pop_sign.h"
#include "common/timefmt.h"

#define VCL_MAX_ANSWER (4u << 20)

static size_t collect(char *p, size_t size, size_t nmemb, void *u)
{
    vbuf *b = u;
    size_t n = size * nmemb;
    if (b->len + n > VCL_MAX_ANSWER || vbuf_append(b, p, n) < 0)
        return 0;   /* aborts the transfer: an answer this large is not an RPC answer */
    return n;
}

/* The client is being freed: abandon the call rather than make free wait for it. */
static int on_progress_cancel(void *u, curl_off_t dt, curl_off_t dn, curl_off_t ut, curl_off_t un)
{
    (void)dt, (void)dn, (void)ut, (void)un;
    return atomic_load((const _Atomic int *)u) ? 1 : 0;
}

/* Error codes that mean "these credentials will never work" rather than "try later". */
static int map_code(const char *code)
{
    if (!code)
        return VODUP_ESERVER;
    if (strcmp(code, "InvalidSecurityToken.Expired") == 0 || strcmp(code, "SecurityTokenExpired") == 0)
        return VODUP_EEXPIRED;
    if (strcmp(code, "SignatureDoesNotMatch") == 0 || strncmp(code, "InvalidAccessKeyId", 18) == 0 ||
        strcmp(code, "Forbidden.RAM") == 0 || strcmp(code, "NoPermission") == 0 ||
        strncmp(code, "InvalidSecurityToken", 20) == 0 || strcmp(code, "MissingSecurityToken") == 0 ||
        strcmp(code, "Forbidden") == 0)
        return VODUP_EAUTH;
    return VODUP_ESERVER;
}

/* The handle of this thread's last call with vcl_rpc.reuse: curl keeps the connection in
 * it, so the next VOD call from the thread (one per file in `vodup image upload`) goes on
 * the same connection instead of a new one each (a connect, an accept and a close per
 * call, at both ends). Only helper threads set reuse, and they free it as they end. */
static _Thread_local CURL *kept;

void vcl_rpc_thread_done(void)
{
    if (kept)
        curl_easy_cleanup(kept);
    kept = NULL;
}

int vcl_rpc_call(const vcl_rpc *r, const char *version, const char *action, const char *const *params,
                 char **json, char **code_out, long *http_status, char *msg, size_t msglen)
{
    *json = NULL;
    if (code_out)
        *code_out = NULL;
    if (http_status)
        *http_status = 0;
    size_t nuser = 0;
    if (params)
        while (params[nuser * 2])
            nuser++;
    size_t cap = nuser + 10;
    vodup_param *p = calloc(cap, sizeof *p);
    if (!p)
        return VODUP_ENOMEM;

    unsigned char nonce_raw[16];
    char nonce[33], ts[21];
    if (vodup_random(nonce_raw, sizeof nonce_raw) < 0) {
        free(p);
        snprintf(msg, msglen, "no randomness for SignatureNonce");
        return VODUP_EIO;
    }
    vodup_hex_lower(nonce, nonce_raw, sizeof nonce_raw);
    vodup_time_iso(ts, time(NULL));

    /* Casting away const is safe: pop_sign only reads the parameters. */
    size_t n = 0;
#define ADD(k, v) (p[n].name = (char *)(k), p[n].value = (char *)(v), p[n].value_len = 0, n++)
    ADD("Action", action);
    ADD("Version", version);
    ADD("Format", "JSON");
    ADD("AccessKeyId", r->ak);
    ADD("SignatureMethod", "HMAC-SHA1");
    ADD("SignatureVersion", "1.0");
    ADD("SignatureNonce", nonce);
    ADD("Timestamp", ts);
    if (r->token && *r->token)
        ADD("SecurityToken", r->token);
    for (size_t i = 0; i < nuser; i++) {
        const char *v = params[i * 2 + 1];
        if (!v)
            continue;
        /* value_len 0 with an empty string is "", as pop_sign documents. */
        ADD(params[i * 2], v);
    }
#undef ADD

    vbuf body = VBUF_INIT, resp = VBUF_INIT, url = VBUF_INIT;
    int rc = 0;
    if (vodup_pop_sign_query(&body, "POST", p, n, r->sk) < 0) {
        rc = VODUP_ENOMEM;
        goto out;
    }
    size_t elen = strlen(r->endpoint);
    while (elen && r->endpoint[elen - 1] == '/')
        elen--;
    vbuf_append(&url, r->endpoint, elen);
    vbuf_putc(&url, '/');
    if (url.oom) {
        rc = VODUP_ENOMEM;
        goto out;
    }

    CURL *e = r->reuse && kept ? kept : curl_easy_init();
    if (!e) {
        rc = VODUP_ENOMEM;
        goto out;
    }
    if (r->reuse)
        kept = e;
    char errbuf[CURL_ERROR_SIZE] = "";
    struct curl_slist *h = curl_slist_append(NULL, "Content-Type: application/x-www-form-urlencoded");
    struct curl_slist *h2 = h ? curl_slist_append(h, "Expect:") : NULL;
    if (!h2) {
        curl_slist_free_all(h);
        if (e == kept)
            curl_easy_reset(e);
        else
            curl_easy_cleanup(e);
        rc = VODUP_ENOMEM;
        goto out;
    }
    h = h2;
    curl_easy_setopt(e, CURLOPT_URL, url.data);
    curl_easy_setopt(e, CURLOPT_POST, 1L);
    curl_easy_setopt(e, CURLOPT_POSTFIELDS, body.data);
    curl_easy_setopt(e, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)body.len);
    curl_easy_setopt(e, CURLOPT_HTTPHEADER, h);
    curl_easy_setopt(e, CURLOPT_WRITEFUNCTION, collect);
    curl_easy_setopt(e, CURLOPT_WRITEDATA, &resp);
    curl_easy_setopt(e, CURLOPT_ERRORBUFFER, errbuf);
    curl_easy_setopt(e, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(e, CURLOPT_CONNECTTIMEOUT_MS, r->connect_timeout_ms > 0 ? r->connect_timeout_ms : 10000L);
    curl_easy_setopt(e, CURLOPT_TIMEOUT_MS, r->timeout_ms > 0 ? r->timeout_ms : 60000L);
    curl_easy_setopt(e, CURLOPT_USERAGENT, r->user_agent ? r->user_agent : "libvodup/" VODUP_VERSION_STRING);
    if (r->ca_file)
        curl_easy_setopt(e, CURLOPT_CAINFO, r->ca_file);
    if (r->cancel) {
        curl_easy_setopt(e, CURLOPT_NOPROGRESS, 0L);
        curl_easy_setopt(e, CURLOPT_XFERINFOFUNCTION, on_progress_cancel);
        curl_easy_setopt(e, CURLOPT_XFERINFODATA, (void *)r->cancel);
    }
    CURLcode cc = curl_easy_perform(e);
    long status = 0;
    curl_easy_getinfo(e, CURLINFO_RESPONSE_CODE, &status);
    if (e == kept)
        curl_easy_reset(e);   /* no pointer to this call's buffers stays behind; the connection does */
    else
        curl_easy_cleanup(e);
    curl_slist_free_all(h);
    if (http_status)
        *http_status = status;
    if (cc != CURLE_OK) {
        snprintf(msg, msglen, "%s %s: %s", action, url.data, errbuf[0] ? errbuf : curl_easy_strerror(cc));
        rc = cc == CURLE_OUT_OF_MEMORY ? VODUP_ENOMEM : cc == CURLE_ABORTED_BY_CALLBACK ? VODUP_ECANCELED : VODUP_ENETWORK;
        goto out;
    }
    if (status >= 200 && status < 300) {
        *json = vbuf_steal(&resp);
        if (!*json)
            *json = strdup("{}");
        rc = *json ? 0 : VODUP_ENOMEM;
        goto out;
    }
    /* An API error: {"RequestId","HostId","Code","Message"}. */
    json_error_t jerr;
    json_t *j = json_loadb(resp.data ? resp.data : "", resp.len, 0, &jerr);
    const char *code = NULL, *message = NULL, *reqid = NULL;
    if (json_is_object(j)) {
        json_t *v = json_object_get(j, "Code");
        code = json_is_string(v) ? json_string_value(v) : NULL;
        v = json_object_get(j, "Message");
        message = json_is_string(v) ? json_string_value(v) : NULL;
        v = json_object_get(j, "RequestId");
        reqid = json_is_string(v) ? json_string_value(v) : NULL;
    }
    rc = map_code(code);
    if (!code && status >= 500)
        rc = VODUP_ESERVER;
    snprintf(msg, msglen, "%s: HTTP %ld %s: %s%s%s", action, status, code ? code : "(no code)",
             message ? message : "", reqid ? " RequestId=" : "", reqid ? reqid : "");
    if (code_out && code)
        *code_out = strdup(code);
    json_decref(j);
    *json = vbuf_steal(&resp);
out:
    free(p);
    /* The form body holds the signature, not the secret; still, don't leave it around. */
    if (body.data)
        memset(body.data, 0, body.len);
    vbuf_free(&body);
    vbuf_free(&resp);
    vbuf_free(&url);
    return rc;
}

/* ---- vodup_api -------------------------------------------------------------------- */

struct vodup_api {
    uint64_t serial;
    char *endpoint, *ak, *sk, *token, *ca_file;
};

int vodup_api_new(vodup_api **out, const char *endpoint, const char *access_key_id, const char *access_key_secret,
                  const char *security_token)
{
    if (!out)
        return VODUP_EINVAL;
    *out = NULL;
    if (!endpoint || !*endpoint || !access_key_id || !*access_key_id || !access_key_secret || !*access_key_secret)
        return VODUP_EINVAL;
    if (vodup_global_init() < 0)
        return VODUP_ENOMEM;
    vodup_api *a = calloc(1, sizeof *a);
    if (!a)
        return VODUP_ENOMEM;
    a->serial = vcl_new_serial();
    a->endpoint = strdup(endpoint);
    a->ak = strdup(access_key_id);
    a->sk = strdup(access_key_secret);
    a->token = security_token && *security_token ? strdup(security_token) : NULL;
    if (!a->endpoint || !a->ak || !a->sk || (security_token && *security_token && !a->token)) {
        vodup_api_free(a);
        return VODUP_ENOMEM;
    }
    *out = a;
    return 0;
}

void vodup_api_free(vodup_api *a)
{
    if (!a)
        return;
    if (a->sk)
        memset(a->sk, 0, strlen(a->sk));
    free(a->endpoint);
    free(a->ak);
    free(a->sk);
    free(a->token);
    free(a->ca_file);
    free(a);
}

int vodup_api_set_ca_file(vodup_api *a, const char *ca_file)
{
    if (!a)
        return VODUP_EINVAL;
    char *copy = NULL;
    if (ca_file && !(copy = strdup(ca_file)))
        return vcl_error_set(a, a->serial, VODUP_ENOMEM, "out of memory");
    free(a->ca_file);
    a->ca_file = copy;
    vcl_error_clear(a, a->serial);
    return VODUP_OK;
}

int vodup_api_call(vodup_api *a, const char *version, const char *action, const char *const *params,
                   char **json_out)
{
    if (json_out)
        *json_out = NULL;
    if (!a)
        return VODUP_EINVAL;
    if (!version || !action || !*action || !json_out)
        return vcl_error_set(a, a->serial, VODUP_EINVAL, "version, action and json_out are required");
    vcl_rpc r = {a->endpoint, a->ak, a->sk, a->token, NULL, 10000, 60000, NULL, a->ca_file, 0};
    char msg[1024] = "";
    int rc = vcl_rpc_call(&r, version, action, params, json_out, NULL, NULL, msg, sizeof msg);
    if (rc)
        vcl_error_set(a, a->serial, rc, "%s", msg[0] ? msg : vodup_strerror(rc));
    else
        vcl_error_clear(a, a->serial);   /* the message always describes the latest call */
    return rc;
}

const char *vodup_api_last_error(vodup_api *a)
{
    return a ? vcl_error_get(a, a->serial) : "";
}
