#!/usr/bin/env bash
# tests/scale/infra.sh - the scale-out test infrastructure works (ctest scale.infra):
# PostgreSQL answers a query, radosgw takes a PUT and gives the bytes back on GET (and a
# ranged GET) and refuses a wrong key, HAProxy proxies to it. Under ctest it uses the
# cluster of the `scale` fixture (SCALE_ENV); run by hand, it starts its own and checks
# that scripts/scale/stop leaves no process and no directory. Exit 77 (skip) when the
# packages are not installed.
set -euo pipefail
# shellcheck source=tests/scale/lib.sh
. "$(dirname "$0")/lib.sh"
own=0
if [ -z "${SCALE_ENV:-}" ]; then
    scale_own_up
    own=1
fi
scale_load
work=$(mktemp -d "${VODUP_TEST_TMP:-${TMPDIR:-/tmp}}/scale-infra.XXXXXX")
trap 'rm -rf "$work"; [ $own = 0 ] || { "$scale_root/scripts/scale/stop" "$SCALE_DIR" >/dev/null 2>&1; rm -f "$SCALE_ENV"; }' EXIT

fail=0
check() { # check WHAT CMD...: runs CMD, says ok or FAIL
    local what=$1; shift
    if "$@"; then echo "ok: $what"; else echo "FAIL: $what"; fail=1; fi
}

pg_query() {
    got=$(psql "$PG_URL" -Atc "select 6 * 7, current_setting('server_version_num')::int / 10000")
    [ "$got" = "42|15" ] || { echo "  psql said: $got"; return 1; }
}
check "PostgreSQL 15 answers a query" pg_query

s3() {
    curl -sS -f --aws-sigv4 "aws:amz:$S3_REGION:s3" --user "$S3_ACCESS_KEY_ID:$S3_SECRET_ACCESS_KEY" \
        -H 'x-amz-content-sha256: UNSIGNED-PAYLOAD' "$@"
}
head -c 300000 /dev/urandom > "$work/obj"
key=infra/$(basename "$work")
rgw_put_get() {
    s3 -T "$work/obj" "$S3_ENDPOINT/$S3_BUCKET/$key" -o /dev/null &&
        s3 -o "$work/got" "$S3_ENDPOINT/$S3_BUCKET/$key" && cmp -s "$work/obj" "$work/got" &&
        s3 -r 1000-1999 -o "$work/got" "$S3_ENDPOINT/$S3_BUCKET/$key" &&
        cmp -s "$work/got" <(tail -c +1001 "$work/obj" | head -c 1000)
}
check "radosgw: PUT, then GET and a ranged GET give the same bytes" rgw_put_get

bad_key() { # radosgw really checks signatures: a wrong secret gets 403
    code=$(curl -s -o /dev/null -w '%{http_code}' --aws-sigv4 "aws:amz:$S3_REGION:s3" \
        --user "$S3_ACCESS_KEY_ID:wrong" -H 'x-amz-content-sha256: UNSIGNED-PAYLOAD' \
        "$S3_ENDPOINT/$S3_BUCKET/$key")
    [ "$code" = 403 ] || { echo "  a wrong secret got $code"; return 1; }
}
check "radosgw refuses a wrong secret" bad_key

via_haproxy() {
    # HAProxy's own port; the signature covers Host, which HAProxy passes unchanged.
    [ "$HAPROXY_URL" != "$S3_ENDPOINT" ] &&
        s3 -o "$work/got" "$HAPROXY_URL/$S3_BUCKET/$key" && cmp -s "$work/obj" "$work/got"
}
check "HAProxy proxies to the radosgw backend" via_haproxy
s3 -X DELETE -o /dev/null "$S3_ENDPOINT/$S3_BUCKET/$key" || true

if [ $own = 1 ]; then
    trap 'rm -rf "$work"' EXIT
    check "stop leaves no process and no directory" scale_down_checked "$SCALE_DIR"
    rm -f "$SCALE_ENV"
fi
exit $fail
