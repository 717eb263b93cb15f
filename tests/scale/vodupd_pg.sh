#!/usr/bin/env bash
# tests/scale/vodupd_pg.sh VODUPD VODUP - vodupd with its metadata in PostgreSQL
# (--metadata postgres://...), end to end: init sets up a database of its own on the `scale`
# fixture's PostgreSQL (or, run by hand, on one it starts: scripts/scale/start --only pg),
# a second init on that database is refused, serve runs on it, the CLI (libvodup) uploads a
# video and ali-oss a PutObject and a parallel multipart upload whose bytes come back whole;
# after a restart the video is still there, probed by the job queue on PostgreSQL. The database's password is in the URL and must
# appear in no log. Exit 77 (skip) when PostgreSQL 15 is not installed.
set -euo pipefail
# shellcheck source=tests/scale/lib.sh
. "$(dirname "$0")/lib.sh"
vodupd=${1:?usage: vodupd_pg.sh VODUPD VODUP} vodup=${2:?usage: vodupd_pg.sh VODUPD VODUP}
if [ -z "${SCALE_ENV:-}" ]; then
    scale_own_up --only pg
    trap '"$scale_root/scripts/scale/stop" "$scale_own_dir"; rm -f "$SCALE_ENV"' EXIT
fi
scale_load
tmp=$(mktemp -d "${VODUP_TEST_TMP:-/tmp}/vodupd-pg.XXXXXX")
pid=""
cleanup() { [ -z "$pid" ] || kill "$pid" 2>/dev/null || true; rm -rf "$tmp"; }
trap 'cleanup; if [ -n "${scale_own_dir:-}" ]; then "$scale_root/scripts/scale/stop" "$scale_own_dir"; rm -f "$SCALE_ENV"; fi' EXIT
fail() { echo "FAIL: $*"; for f in "$tmp"/*.log; do [ -f "$f" ] && { echo "--- $f"; tail -20 "$f"; }; done; exit 1; }

db=vodup_e2e_$$
export PGOPTIONS='-c client_min_messages=warning'
psql -q "$PG_URL" -c "DROP DATABASE IF EXISTS $db" -c "CREATE DATABASE $db" || fail "cannot create $db"
# Trust authentication ignores the password; it is here to be looked for in the logs.
secret=pw-$RANDOM-never-logged
url="postgres://postgres:$secret@127.0.0.1:$PG_PORT/$db"

"$vodupd" init --data-dir "$tmp/d1" --metadata "$url" > "$tmp/root.json" 2> "$tmp/init.log" || fail "init"
[ ! -e "$tmp/d1/vodup.db" ] || fail "init made a SQLite database beside --metadata"
if "$vodupd" init --data-dir "$tmp/d2" --metadata "$url" > /dev/null 2> "$tmp/init2.log"; then
    fail "a second init on the same database was accepted"
fi
grep -q "already has a root account" "$tmp/init2.log" || fail "the second init did not say why"
[ ! -e "$tmp/d2" ] || fail "the refused init left $tmp/d2"

start() {
    local log=$tmp/serve$1.log
    "$vodupd" serve --data-dir "$tmp/d1" --metadata "$url" --listen 127.0.0.1:0 > "$log" 2>&1 &
    pid=$!
    port=""
    for _ in $(seq 100); do
        port=$(grep -o 'listening on http://127.0.0.1:[0-9]*' "$log" | sed 's/.*://') || true
        [ -n "$port" ] && return 0
        kill -0 "$pid" 2>/dev/null || fail "serve exited"
        sleep 0.1
    done
    fail "serve did not start"
}
start 1
export VODUP_ENDPOINT=http://127.0.0.1:$port
VODUP_ACCESS_KEY_ID=$(sed 's/.*"AccessKeyId":"\([^"]*\)".*/\1/' "$tmp/root.json")
VODUP_ACCESS_KEY_SECRET=$(sed 's/.*"AccessKeySecret":"\([^"]*\)".*/\1/' "$tmp/root.json")
export VODUP_ACCESS_KEY_ID VODUP_ACCESS_KEY_SECRET
head -c 3000017 /dev/urandom > "$tmp/clip.mp4"
"$vodup" upload "$tmp/clip.mp4" --title on-postgres > "$tmp/upload.log" 2>&1 || fail "vodup upload"
vid=$(grep -o 'VideoId [0-9a-f]*' "$tmp/upload.log" | cut -d' ' -f2)
[ -n "$vid" ] || fail "no VideoId in the upload's output"
(cd "$scale_root" && node tests/scale/oss_roundtrip.mjs "$port" "$tmp/root.json" pg-e2e) > "$tmp/oss.log" 2>&1 ||
    fail "ali-oss round trip: $(tail -5 "$tmp/oss.log")"

# The rows are in PostgreSQL: the object store's own tables there, not a file in d1.
n=$(psql -qtA "${PG_URL%/*}/$db" -c "SELECT count(*) FROM objects")
[ "$n" = 3 ] || fail "PostgreSQL holds $n objects, want 3 (the video and two OSS objects)"

kill "$pid"; wait "$pid" || true; pid=""
start 2
export VODUP_ENDPOINT=http://127.0.0.1:$port
# The probe job queue runs on PostgreSQL too: the "video" is random bytes, so its probe (by
# the first life, or by this one after requeueing what the first held) ends TranscodeFail.
for _ in $(seq 100); do
    "$vodup" video info "$vid" > "$tmp/info.log" 2>&1 || fail "video info after a restart"
    grep -q 'Status *TranscodeFail' "$tmp/info.log" && break
    sleep 0.2
done
grep -q 'Status *TranscodeFail' "$tmp/info.log" || fail "the video was not probed (want TranscodeFail): $(grep Status "$tmp/info.log")"
grep -q 'Size *3000017' "$tmp/info.log" || fail "the video's size is wrong after a restart"
kill "$pid"; wait "$pid" || true; pid=""

if grep -l -- "$secret" "$tmp"/*.log; then fail "the database password is in a log"; fi
psql -q "$PG_URL" -c "DROP DATABASE $db" || true
echo "ok: vodupd on PostgreSQL: init, a CLI upload, ali-oss put + multipart + ranged get, restart"
