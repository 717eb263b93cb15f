/* error.c - error codes, their names, and the per-thread "last error" messages. */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "client/internal.h"
#include "common/digest.h"

const char *vodup_strerror(int code)
{
    switch (code) {
    case VODUP_OK: return "VODUP_OK: success";
    case VODUP_EINVAL: return "VODUP_EINVAL: invalid argument";
    case VODUP_ENOMEM: return "VODUP_ENOMEM: out of memory";
    case VODUP_ENOENT: return "VODUP_ENOENT: no such file or item";
    case VODUP_ESTATE: return "VODUP_ESTATE: not allowed in the current state";
    case VODUP_EIO: return "VODUP_EIO: input/output error";
    case VODUP_ENETWORK: return "VODUP_ENETWORK: the server could not be reached";
    case VODUP_EAUTH: return "VODUP_EAUTH: credentials refused";
    case VODUP_EEXPIRED: return "VODUP_EEXPIRED: credentials expired";
    case VODUP_ESERVER: return "VODUP_ESERVER: the server refused the request";
    case VODUP_ECANCELED: return "VODUP_ECANCELED: canceled";
    case VODUP_ECHANGED: return "VODUP_ECHANGED: the source file changed";
    case VODUP_ECHECKSUM: return "VODUP_ECHECKSUM: CRC-64 mismatch";
    case VODUP_ENOAUTH: return "VODUP_ENOAUTH: no authorization mode set";
    case VODUP_EEXIST: return "VODUP_EEXIST: the file is already in the list";
    case VODUP_ETIMEDOUT: return "VODUP_ETIMEDOUT: timed out";
    default: return "VODUP_E?: unknown error";
    }
}

const char *vodup_status_name(vodup_status s)
{
    switch (s) {
    case VODUP_STATUS_INIT: return "INIT";
    case VODUP_STATUS_UPLOADING: return "UPLOADING";
    case VODUP_STATUS_PAUSING: return "PAUSING";
    case VODUP_STATUS_PAUSED: return "PAUSED";
    case VODUP_STATUS_SUCCESS: return "SUCCESS";
    case VODUP_STATUS_FAIL: return "FAIL";
    case VODUP_STATUS_CANCELED: return "CANCELED";
    }
    return "UNKNOWN";
}

int64_t vcl_now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* A random serial tells a handle apart from a later one allocated at the same address,
 * so a stale thread-local message is never shown for a new handle. */
uint64_t vcl_new_serial(void)
{
    uint64_t s = 0;
    if (vodup_random(&s, sizeof s) < 0 || s == 0)
        s = (uint64_t)vcl_now_ms() | 1;
    return s;
}

/* Last-error messages live in thread-local storage keyed by handle: each thread sees
 * only what its own calls produced, no lock is needed, and the pointer handed out stays
 * valid until this thread's next failing call on the same handle. A thread working with
 * more handles than slots loses the oldest messages, which is harmless. */
#define VCL_ERR_SLOTS 16
typedef struct errslot {
    const void *key;
    uint64_t serial;
    uint64_t used;
    char msg[512];
} errslot;
static _Thread_local errslot err_slots[VCL_ERR_SLOTS];
static _Thread_local uint64_t err_clock;

static errslot *find_slot(const void *key, uint64_t serial, int create)
{
    errslot *oldest = &err_slots[0];
    for (int i = 0; i < VCL_ERR_SLOTS; i++) {
        errslot *s = &err_slots[i];
        if (s->key == key && s->serial == serial)
            return s;
        if (s->used < oldest->used)
            oldest = s;
    }
    if (!create)
        return NULL;
    oldest->key = key;
    oldest->serial = serial;
    oldest->msg[0] = '\0';
    return oldest;
}

int vcl_error_set(const void *key, uint64_t serial, int code, const char *fmt, ...)
{
    errslot *s = find_slot(key, serial, 1);
    s->used = ++err_clock;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(s->msg, sizeof s->msg, fmt, ap);
    va_end(ap);
    return code;
}

int vcl_error_clear(const void *key, uint64_t serial)
{
    errslot *s = find_slot(key, serial, 0);
    if (s)
        s->msg[0] = '\0';
    return 0;
}

const char *vcl_error_get(const void *key, uint64_t serial)
{
    errslot *s = find_slot(key, serial, 0);
    return s ? s->msg : "";
}

/* libcurl's one-time initialisation, the only process-wide state. */
static pthread_mutex_t global_mu = PTHREAD_MUTEX_INITIALIZER;
static int global_inited;

int vodup_global_init(void)
{
    int rc = VODUP_OK;
    pthread_mutex_lock(&global_mu);
    if (!global_inited) {
        if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK)
            rc = VODUP_ENOMEM;
        else
            global_inited = 1;
    }
    pthread_mutex_unlock(&global_mu);
    return rc;
}

void vodup_global_cleanup(void)
{
    pthread_mutex_lock(&global_mu);
    if (global_inited) {
        curl_global_cleanup();
        global_inited = 0;
    }
    pthread_mutex_unlock(&global_mu);
}

void vodup_free(void *p)
{
    free(p);
}
