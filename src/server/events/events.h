/* events.h - delivering upload events (FileUploadComplete, ImageUploadComplete,
 * AttachedMediaUploadComplete) to the application's callback URL.
 *
 * Events are written to the outbox by the metadata store in the same transaction that
 * completes the object (meta_vod.h). A sender thread takes due events, builds each body
 * once (then it is fixed, so retries send the same bytes), POSTs them concurrently with
 * libcurl (per-destination queues and limits: events.c) and forgets each on HTTP 200.
 * Anything else is retried with exponential backoff and jitter (1 s, 2 s, 4 s ... capped
 * at 10 min), without limit unless the operator set one (--event-max-attempts). A restart
 * loses nothing: the outbox is in SQLite. Callbacks reach only public addresses unless
 * the operator allows more (--callback-allow, --callback-allow-private).
 *
 * The body follows VOD: {"EventTime","EventType","VideoId"|"ImageId"|"AttachedMediaId",
 * "Status":"success","Size","FileUrl" (videos) / "FileURL" (others),"Extend"}. When the
 * account's callback configuration has AuthSwitch "on", the request carries
 * X-VOD-TIMESTAMP (unix seconds) and X-VOD-SIGNATURE = lower-hex MD5 of
 * "<CallbackURL>|<timestamp>|<AuthKey>", with the AuthKey the account has at the time of
 * each attempt (a new key applies to pending events too).
 */
#ifndef VODUPD_EVENTS_H
#define VODUPD_EVENTS_H

#include "server/server.h"

#include <stddef.h>

typedef struct events events;

/* Policy check for one address a callback is about to connect to: 0 when s
 * allows it, 1 when refused (why gets the address and the reason). Exposed for tests. */
struct sockaddr;
int events_address_refused(const vodupd *s, const struct sockaddr *sa, char *why, size_t n);
/* "10.0.0.0/8", "2001:db8::/32", or one address: 0, or -1 when malformed. */
int events_parse_cidr(const char *text, vodupd_cidr *out);

/* Installs the store's AuthKey sealer (the master key in s) and seals keys that earlier
 * versions stored in plain text. Call once, before serving. 0, or -1 (logged). */
int events_seal_install(vodupd *s);

/* Starts the sender thread. curl_global_init must have run. NULL on failure. */
events *events_start(vodupd *s);
/* Tells the sender that new events may be due (cheap; call after completing objects). */
void events_kick(events *e);
/* Stops the thread (attempts in progress finish first, bounded by their timeout; events
 * not yet started go back to the outbox, due at once). */
void events_stop(events *e);

/* Builds the body of event e for media md and the account's callback config (JSON
 * object text, may be NULL): fills *body, *url, *auth_key (malloc'd; auth_key NULL when
 * unsigned). Returns 1 when the event should be sent, 0 when it should be dropped (no
 * callback configured, event type not subscribed, no URL), -1 on error. Exposed for tests. */
struct vodup_meta_event;
struct vodup_meta_media;
int events_build(const vodupd *s, const struct vodup_meta_event *e, const struct vodup_meta_media *md,
                 const char *config_json, char **body, char **url, char **auth_key);

/* X-VOD-SIGNATURE for url, timestamp and key: 32 lower-hex chars + NUL. */
void events_signature(char out[33], const char *url, long long timestamp, const char *auth_key);

#endif
