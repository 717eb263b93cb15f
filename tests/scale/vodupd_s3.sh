#!/usr/bin/env bash
# tests/scale/vodupd_s3.sh VODUPD VODUP - vodupd with its metadata in PostgreSQL
# (--metadata postgres://...) and its object bytes in radosgw (--bytes s3://...), end to end,
# on the `scale` fixture (or, run by hand, a cluster of its own: scripts/scale/start --only
# pg,ceph):
#   - init refuses, naming the endpoint and never the secret, a wrong secret, an unknown key,
#     a missing bucket, an unreachable endpoint, credentials in the URL; then sets up.
#   - serve: the CLI uploads a video in 1 MiB parts, ali-oss puts objects (one of 20 MiB,
#     longer than the store's 8 MiB parts) and parallel multipart uploads (oss_roundtrip.mjs, vodupd_s3.mjs), everything reads back whole and
#     in ranges; the video reaches UploadSucc (the probe is off, and says so).
#   - the cluster holds one object per part, whose sizes add up to exactly the bytes
#     uploaded (Complete copied nothing); the data directory holds no object bytes.
#   - a DeleteObject's blob leaves the cluster (the collector deletes there).
#   - restart: startup recovery removes this node's stray blob and leaves another node's;
#     every object and the video read back the same, also through a second node.
#   - serve with a wrong secret stops at once with the reason; serve without --bytes on
#     this data directory is refused.
# The secret appears in no log. Exit 77 (skip) when PostgreSQL or Ceph is not installed.
set -euo pipefail
# shellcheck source=tests/scale/lib.sh
. "$(dirname "$0")/lib.sh"
vodupd=${1:?usage: vodupd_s3.sh VODUPD VODUP} vodup=${2:?usage: vodupd_s3.sh VODUPD VODUP}
if [ -z "${SCALE_ENV:-}" ]; then
    scale_own_up --only pg,ceph
fi
scale_load
tmp=$(mktemp -d "${VODUP_TEST_TMP:-/tmp}/vodupd-s3.XXXXXX")
pid="" pid2=""
cleanup() {
    [ -z "$pid" ] || kill "$pid" 2>/dev/null || true
    [ -z "$pid2" ] || kill "$pid2" 2>/dev/null || true
    rm -rf "$tmp"
}
trap 'cleanup; if [ -n "${scale_own_dir:-}" ]; then "$scale_root/scripts/scale/stop" "$scale_own_dir"; rm -f "$SCALE_ENV"; fi' EXIT
fail() { echo "FAIL: $*"; for f in "$tmp"/*.log; do [ -f "$f" ] && { echo "--- $f"; tail -20 "$f"; }; done; exit 1; }

db=vodup_s3_$$
export PGOPTIONS='-c client_min_messages=warning'
psql -q "$PG_URL" -c "DROP DATABASE IF EXISTS $db" -c "CREATE DATABASE $db" || fail "cannot create $db"
meta="postgres://postgres@127.0.0.1:$PG_PORT/$db"
# A prefix of its own in the fixture's bucket: other tests and earlier runs stay apart.
prefix=vodupd-s3-$$-$RANDOM
bytes="s3://$S3_BUCKET/$prefix?endpoint=$S3_ENDPOINT&region=$S3_REGION"
export AWS_ACCESS_KEY_ID=$S3_ACCESS_KEY_ID AWS_SECRET_ACCESS_KEY=$S3_SECRET_ACCESS_KEY
unset AWS_SESSION_TOKEN AWS_PROFILE AWS_SHARED_CREDENTIALS_FILE

# The test's own S3 client (curl's SigV4): the blobs vodupd keeps under the prefix, as
# "COUNT TOTAL_BYTES" (one page of up to 1000 is plenty here).
s3() {
    curl -sS -f --aws-sigv4 "aws:amz:$S3_REGION:s3" --user "$S3_ACCESS_KEY_ID:$S3_SECRET_ACCESS_KEY" \
        -H 'x-amz-content-sha256: UNSIGNED-PAYLOAD' "$@"
}
blobs() {
    s3 "$S3_ENDPOINT/$S3_BUCKET?list-type=2&prefix=$prefix%2Fblobs%2F" |
        grep -o '<Size>[0-9]*</Size>' | tr -dc '0-9\n' | awk '{n++; s+=$1} END {print n+0, s+0}'
}

# ---- init: every way of getting the cluster wrong is refused plainly, before anything exists
refused() { # refused NAME WANT [env...] -- init arguments: exit 1, WANT in the message, no secret
    local name=$1 want=$2
    shift 2
    local envs=()
    while [ "$1" != -- ]; do envs+=("$1"); shift; done
    shift
    if env "${envs[@]}" "$vodupd" init --data-dir "$tmp/bad" --metadata "$meta" "$@" > /dev/null 2> "$tmp/$name.log"; then
        fail "init accepted $name"
    fi
    grep -q -- "$want" "$tmp/$name.log" || fail "init with $name did not say '$want': $(cat "$tmp/$name.log")"
    [ ! -e "$tmp/bad" ] || fail "init with $name left $tmp/bad"
}
refused wrong-secret "the secret does not match the access key" AWS_SECRET_ACCESS_KEY=wrong-$RANDOM-secret -- --bytes "$bytes"
grep -q "$S3_ENDPOINT, bucket $S3_BUCKET" "$tmp/wrong-secret.log" || fail "the wrong secret's message names no endpoint"
refused unknown-key "does not know the access key" AWS_ACCESS_KEY_ID=NOSUCHKEY$RANDOM -- --bytes "$bytes"
refused no-bucket "the bucket does not exist" -- --bytes "s3://no-such-bucket-$$?endpoint=$S3_ENDPOINT"
refused unreachable "cannot reach the S3 byte store at http://127.0.0.1:1" -- --bytes "s3://$S3_BUCKET?endpoint=http://127.0.0.1:1"
refused no-creds "no credentials for the S3 byte store" -u AWS_ACCESS_KEY_ID -u AWS_SECRET_ACCESS_KEY \
    AWS_SHARED_CREDENTIALS_FILE="$tmp/none" -- --bytes "$bytes"
refused creds-in-url "takes no credentials" -- --bytes "s3://AK:SECRET@$S3_BUCKET?endpoint=$S3_ENDPOINT"
refused bad-url "wants the cluster's address" -- --bytes "s3://$S3_BUCKET"
if grep -l -- "wrong-.*-secret\|SECRET@" "$tmp"/*.log; then fail "a secret is in init's messages"; fi
# The AWS credentials file is the other source.
printf '[other]\naws_access_key_id = %s\naws_secret_access_key = %s\n' "$S3_ACCESS_KEY_ID" \
    "$S3_SECRET_ACCESS_KEY" > "$tmp/credentials"
env -u AWS_ACCESS_KEY_ID -u AWS_SECRET_ACCESS_KEY AWS_SHARED_CREDENTIALS_FILE="$tmp/credentials" AWS_PROFILE=other \
    "$vodupd" init --data-dir "$tmp/d1" --metadata "$meta" --bytes "$bytes" > "$tmp/root.json" 2> "$tmp/init.log" ||
    fail "init (credentials file)"
rm "$tmp/credentials"

start() { # start LOG [serve options]: serve on $dir (d1), sets pid and port
    local log=$tmp/$1.log
    shift
    "$vodupd" serve --data-dir "${dir:-$tmp/d1}" --metadata "$meta" --listen 127.0.0.1:0 "$@" > "$log" 2>&1 &
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
# SIGTERM stops serve gracefully with status 0 (a sanitizer's report at exit would not).
stop() {
    local rc=0
    kill "$pid"
    wait "$pid" || rc=$?
    pid=""
    [ $rc = 0 ] || fail "serve exited with status $rc after SIGTERM"
}

start serve1 --bytes "$bytes"
grep -q "media probe off: the S3 byte store" "$tmp/serve1.log" || fail "serve did not say that the probe is off"
export VODUP_ENDPOINT=http://127.0.0.1:$port
VODUP_ACCESS_KEY_ID=$(sed 's/.*"AccessKeyId":"\([^"]*\)".*/\1/' "$tmp/root.json")
VODUP_ACCESS_KEY_SECRET=$(sed 's/.*"AccessKeySecret":"\([^"]*\)".*/\1/' "$tmp/root.json")
export VODUP_ACCESS_KEY_ID VODUP_ACCESS_KEY_SECRET
head -c 3000017 /dev/urandom > "$tmp/clip.mp4"
"$vodup" upload "$tmp/clip.mp4" --title on-s3 --part-size 1M > "$tmp/upload.log" 2>&1 || fail "vodup upload"
vid=$(grep -o 'VideoId [0-9a-f]*' "$tmp/upload.log" | cut -d' ' -f2)
[ -n "$vid" ] || fail "no VideoId in the upload's output"
"$vodup" video info "$vid" > "$tmp/info.log" 2>&1 || fail "video info"
grep -q 'Status *UploadSucc' "$tmp/info.log" || fail "the video is not UploadSucc"
(cd "$scale_root" && node tests/scale/oss_roundtrip.mjs "$port" "$tmp/root.json" s3-e2e) > "$tmp/oss.log" 2>&1 ||
    fail "ali-oss round trip: $(tail -5 "$tmp/oss.log")"
mkdir "$tmp/keep"
client() { (cd "$scale_root" && node tests/scale/vodupd_s3.mjs "$@") >> "$tmp/client.log" 2>&1 || fail "vodupd_s3.mjs $1"; }
client put "$port" "$tmp/root.json" "$tmp/keep"
client check "$port" "$tmp/root.json" "$tmp/keep" "$vid" "$tmp/clip.mp4"

# One blob per part (the CLI's 3, oss_roundtrip's 1 + 14, vodupd_s3.mjs's 1 + 1 + 8), adding
# up to exactly the bytes uploaded: nothing was copied or left over.
mib=1048576
want_n=28 want_bytes=$((3000017 + 1000 + 13 * mib + 17 + 4321 + 20 * mib + 5 + 7 * mib + 3))
read -r n total < <(blobs)
[ "$n $total" = "$want_n $want_bytes" ] ||
    fail "the cluster holds $n blobs of $total bytes under $prefix/, want $want_n of $want_bytes"
# The data directory holds keys and ids only: no objects/, no tmp/, nothing big.
if [ -e "$tmp/d1/objects" ] || [ -e "$tmp/d1/tmp" ]; then fail "serve made object directories in the data dir"; fi
du=$(du -sk "$tmp/d1" | cut -f1)
[ "$du" -lt 64 ] || fail "the data directory holds $du KiB: $(find "$tmp/d1" -type f -size +1k)"

client delete "$port" "$tmp/root.json" "$tmp/keep"
rm "$tmp/keep/small.bin"   # check wants it gone from now on
for _ in $(seq 100); do
    read -r n total < <(blobs)
    [ "$n $total" = "$((want_n - 1)) $((want_bytes - 4321))" ] && break
    sleep 0.2
done
[ "$n $total" = "$((want_n - 1)) $((want_bytes - 4321))" ] ||
    fail "after DeleteObject the cluster holds $n blobs of $total bytes, want $((want_n - 1))"
stop

# Recovery is per node: a blob of this node that the metadata does not know (a crash between
# the write and the commit) goes at start; one under another node's tag stays.
tag=$(tr -d '\n' < "$tmp/d1/node-id" | sha256sum | cut -c1-8)
other=$(printf other-node | sha256sum | cut -c1-8)
[ "$tag" != "$other" ] || fail "the tags collide"
echo stray > "$tmp/stray"
s3 -T "$tmp/stray" "$S3_ENDPOINT/$S3_BUCKET/$prefix/blobs/${tag}0123456789abcdef01234567" -o /dev/null
s3 -T "$tmp/stray" "$S3_ENDPOINT/$S3_BUCKET/$prefix/blobs/${other}0123456789abcdef01234567" -o /dev/null
start serve2 --bytes "$bytes"
grep -q "recovery removed 1 unreferenced blob" "$tmp/serve2.log" || fail "recovery did not remove this node's stray blob"
s3 -o /dev/null "$S3_ENDPOINT/$S3_BUCKET/$prefix/blobs/${other}0123456789abcdef01234567" ||
    fail "recovery removed another node's blob"
export VODUP_ENDPOINT=http://127.0.0.1:$port
"$vodup" video info "$vid" > "$tmp/info2.log" 2>&1 || fail "video info after a restart"
grep -q 'Status *UploadSucc' "$tmp/info2.log" || fail "the video is not UploadSucc after a restart"
client check "$port" "$tmp/root.json" "$tmp/keep" "$vid" "$tmp/clip.mp4"

# A second node beside it, made as docs/scale-out.md says (the keys copied, never node-id):
# a node id and tag of its own, and every object reads back through it too.
mkdir -m 700 "$tmp/d2"
cp -a "$tmp/d1/keys" "$tmp/d2/"
pid1=$pid port1=$port
dir=$tmp/d2 start node2 --bytes "$bytes"
pid2=$pid pid=$pid1
tag2=$(tr -d '\n' < "$tmp/d2/node-id" | sha256sum | cut -c1-8)
[ "$tag2" != "$tag" ] || fail "the second node has the first one's tag"
grep -q "node tag $tag2" "$tmp/node2.log" || fail "node 2 did not log its tag $tag2"
client check "$port" "$tmp/root.json" "$tmp/keep" "$vid" "$tmp/clip.mp4"
port=$port1
kill "$pid2"; wait "$pid2" || fail "node 2 exited with status $? after SIGTERM"; pid2=""
stop
s3 -X DELETE -o /dev/null "$S3_ENDPOINT/$S3_BUCKET/$prefix/blobs/${other}0123456789abcdef01234567"

# A wrong secret at start: serve stops at once, saying why, naming the endpoint, not the secret.
wrong=wrong-$RANDOM-secret
if AWS_SECRET_ACCESS_KEY=$wrong timeout 30 "$vodupd" serve --data-dir "$tmp/d1" --metadata "$meta" \
    --listen 127.0.0.1:0 --bytes "$bytes" > "$tmp/serve-wrong.log" 2>&1; then
    fail "serve started with a wrong secret"
fi
grep -q "vodupd serve: --bytes: the S3 byte store $S3_ENDPOINT, bucket $S3_BUCKET: the secret does not match" \
    "$tmp/serve-wrong.log" || fail "serve with a wrong secret did not say so"
if grep -q -- "$wrong" "$tmp/serve-wrong.log"; then fail "serve logged the wrong secret"; fi
# Without --bytes, this data directory's objects would seem lost: refused.
if timeout 30 "$vodupd" serve --data-dir "$tmp/d1" --metadata "$meta" --listen 127.0.0.1:0 \
    > "$tmp/serve-nobytes.log" 2>&1; then
    fail "serve started without --bytes on a data directory set up with it"
fi
grep -q "the metadata says the object bytes are in s3://$S3_BUCKET/$prefix/" "$tmp/serve-nobytes.log" ||
    fail "serve without --bytes did not say why it stopped"

if grep -l -- "$S3_SECRET_ACCESS_KEY" "$tmp"/*.log; then fail "the S3 secret is in a log"; fi
if grep -l "Sanitizer" "$tmp"/*.log; then fail "a sanitizer reported"; fi
psql -q "$PG_URL" -c "DROP DATABASE $db" || true
echo "ok: vodupd on PostgreSQL + radosgw: init refusals, CLI and ali-oss uploads, ranges, one blob per part," \
     "GC in the cluster, per-node recovery, restart, a wrong secret"
