#!/usr/bin/env bash
# tests/scale/infra.sh - the scale-out test infrastructure works (ctest scale.infra): start
# PostgreSQL, a one-node Ceph cluster with radosgw and HAProxy with scripts/scale/start;
# PostgreSQL answers a query, radosgw takes a PUT and gives the bytes back on GET (and a
# ranged GET), HAProxy proxies to it; scripts/scale/stop leaves no process behind and no
# directory. Exit 77 (skip) when the packages are not installed.
set -euo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
tmp=${VODUP_TEST_TMP:-${TMPDIR:-/tmp}}
mkdir -p "$tmp"
dir=$(mktemp -d "$tmp/scale-infra.XXXXXX")

t0=$(date +%s.%N)
rc=0
"$root/scripts/scale/start" --dir "$dir" > "$dir.env" || rc=$?
if [ $rc = 77 ]; then rm -rf "$dir" "$dir.env"; exit 77; fi
[ $rc = 0 ] || { echo "FAIL: scripts/scale/start exited $rc"; rm -f "$dir.env"; exit 1; }
. "$dir.env"
echo "started in $(awk -v a="$t0" -v b="$(date +%s.%N)" 'BEGIN { printf "%.1f", b - a }') s:" \
     "PostgreSQL $SCALE_START_PG s, RADOS (mon + OSD) $SCALE_START_RADOS s," \
     "radosgw $SCALE_START_RADOSGW s, HAProxy $SCALE_START_HAPROXY s"

fail=0
check() { # check WHAT CMD...: runs CMD, says ok or FAIL
    local what=$1; shift
    if "$@"; then echo "ok: $what"; else echo "FAIL: $what"; fail=1; fi
}
cleanup() { "$root/scripts/scale/stop" "$dir" || true; rm -f "$dir.env" "$dir.obj" "$dir.got"; }
trap cleanup EXIT

# Every process of ours, children included (postgres forks its workers), to check after stop.
ours() {
    for f in "$dir"/pids/*; do
        p=$(cat "$f")
        echo "$p"
        ps -o pid= --ppid "$p" || true
    done | tr -d ' ' | sort -u
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
head -c 300000 /dev/urandom > "$dir.obj"
rgw_put_get() {
    s3 -T "$dir.obj" "$S3_ENDPOINT/$S3_BUCKET/infra/object" -o /dev/null &&
        s3 -o "$dir.got" "$S3_ENDPOINT/$S3_BUCKET/infra/object" && cmp -s "$dir.obj" "$dir.got" &&
        s3 -r 1000-1999 -o "$dir.got" "$S3_ENDPOINT/$S3_BUCKET/infra/object" &&
        cmp -s "$dir.got" <(tail -c +1001 "$dir.obj" | head -c 1000)
}
check "radosgw: PUT, then GET and a ranged GET give the same bytes" rgw_put_get

bad_key() { # radosgw really checks signatures: a wrong secret gets 403
    code=$(curl -s -o /dev/null -w '%{http_code}' --aws-sigv4 "aws:amz:$S3_REGION:s3" \
        --user "$S3_ACCESS_KEY_ID:wrong" -H 'x-amz-content-sha256: UNSIGNED-PAYLOAD' \
        "$S3_ENDPOINT/$S3_BUCKET/infra/object")
    [ "$code" = 403 ] || { echo "  a wrong secret got $code"; return 1; }
}
check "radosgw refuses a wrong secret" bad_key

via_haproxy() {
    # HAProxy's own port; the signature covers Host, which HAProxy passes unchanged.
    [ "$HAPROXY_URL" != "$S3_ENDPOINT" ] &&
        s3 -o "$dir.got" "$HAPROXY_URL/$S3_BUCKET/infra/object" && cmp -s "$dir.obj" "$dir.got"
}
check "HAProxy proxies to the radosgw backend" via_haproxy

procs=$(ours)
trap - EXIT
stop_rc=0
"$root/scripts/scale/stop" "$dir" || stop_rc=$?
rm -f "$dir.env" "$dir.obj" "$dir.got"
left=""
for p in $procs; do
    if kill -0 "$p" 2>/dev/null && ! grep -q '^[0-9]* ([^)]*) Z' "/proc/$p/stat" 2>/dev/null; then
        left="$left $p($(tr '\0' ' ' < "/proc/$p/cmdline" | cut -c1-60))"
    fi
done
stopped() { [ $stop_rc = 0 ] && [ -z "$left" ] && [ ! -e "$dir" ]; }
check "stop leaves no process ($(echo $procs | wc -w) were running) and no directory" stopped
[ -z "$left" ] || echo "  still running:$left"
exit $fail
