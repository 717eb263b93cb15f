/* pop_sign.h - Alibaba Cloud RPC ("POP") signatures, SignatureVersion 1.0 / HMAC-SHA1,
 * as VOD and STS use them. Compute and verify.
 *
 * The same code signs (client SDK, tests) and verifies (vodupd), so the two can never
 * disagree about the canonical form. Only the signature itself is handled here: the
 * caller checks SignatureMethod, SignatureVersion, Timestamp (vodup_time_parse_iso),
 * the nonce and the AccessKeyId against its own state.
 *
 * Parameters are vodup_param as vodup_target_parse / vodup_form_parse return them:
 * names and values already %-decoded. Values are value_len bytes long (they may hold
 * any byte); as a convenience for hand-built lists, value_len == 0 with a non-empty
 * value means strlen(value), and a NULL value is "".
 *
 * Canonical order: parameters sorted by the bytes of their *decoded* names (strcmp),
 * equal names kept in input order (stable). The official SDKs (pop-core, the Python,
 * Java and Go cores) all sort the raw names before encoding them, so that is what we
 * must reproduce; for names made of unreserved characters (every real parameter) it is
 * the same as sorting the encoded names.
 *
 * Duplicate names: the signature covers every copy, in the stable order above, so a
 * request verifies exactly when the client signed what it sent. Whether duplicates are
 * acceptable is a policy question for the server, which should refuse duplicated common
 * parameters (AccessKeyId, Timestamp, SignatureNonce, ...) before trusting any of them:
 * vodup_pop_duplicate finds them.
 */
#ifndef VODUP_COMMON_POP_SIGN_H
#define VODUP_COMMON_POP_SIGN_H

#include <stddef.h>
#include "common/buf.h"
#include "common/target.h"

/* Length of a signature: base64 of a 20-byte HMAC-SHA1 is 28 chars, plus NUL. */
#define VODUP_POP_SIG_LEN 28

/* POP percent-encoding: RFC 3986 (A-Z a-z 0-9 - _ . ~ kept, everything else %XX,
 * upper-case hex), so space -> %20, '*' -> %2A, '+' -> %2B, '~' kept. Appends to out.
 * 0, or -1 on oom. */
int vodup_pop_encode(vbuf *out, const char *s, size_t n);

/* Appends StringToSign = METHOD "&" enc("/") "&" enc(canonical query), where the
 * canonical query is enc(name) "=" enc(value) of every parameter except "Signature",
 * in canonical order, joined by '&'. method is used as given (the server passes the
 * wire method; it is case-sensitive, as for the real gateway). 0, or -1 on oom. */
int vodup_pop_string_to_sign(vbuf *out, const char *method, const vodup_param *params, size_t n);

/* out = base64(HMAC-SHA1(key = secret "&", sts[0..n))), NUL-terminated (28 chars).
 * On oom (only for secrets longer than 512 bytes) out is "", which matches nothing. */
void vodup_pop_sign(char out[VODUP_POP_SIG_LEN + 1], const char *secret, const char *sts, size_t n);

/* Verifies the "Signature" parameter (already %-decoded) against secret, in constant
 * time. sts (may be NULL) receives the string to sign (appended), for the
 * SignatureDoesNotMatch message.
 * Returns 1 match, 0 mismatch, -1 no Signature parameter, -2 more than one Signature
 * parameter (ambiguous: refuse rather than pick one), -3 oom. */
int vodup_pop_verify(const char *method, const vodup_param *params, size_t n, const char *secret,
                     vbuf *sts);

/* For clients: appends the signed query "k=v&...&Signature=s" (names and values
 * POP-encoded, parameters in canonical order, Signature last) to out. A "Signature"
 * entry in params is ignored (it is never signed and is replaced). The result is
 * usable both as a GET query string (after "/?") and as a form body. 0, or -1 on oom. */
int vodup_pop_sign_query(vbuf *out, const char *method, const vodup_param *params, size_t n,
                         const char *secret);

/* Finds a parameter name given more than once. Returns 1 and sets *name (pointing into
 * params) to the first such name in canonical order, 0 when every name is unique,
 * -1 on oom. The server uses it to refuse duplicated common parameters. */
int vodup_pop_duplicate(const vodup_param *params, size_t n, const char **name);

#endif
