#!/usr/bin/env bash
# tests/scale/blob_s3.sh TEST_BINARY - runs the S3 byte store's tests (test_blob_s3.c)
# against a one-node Ceph cluster that it starts (scripts/scale/start --only ceph) and stops.
# Exit 77 (skip) when Ceph is not installed.
set -euo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
bin=${1:?usage: blob_s3.sh TEST_BINARY}
tmp=${VODUP_TEST_TMP:-${TMPDIR:-/tmp}}
mkdir -p "$tmp"
dir=$(mktemp -d "$tmp/scale-blob.XXXXXX")
rc=0
"$root/scripts/scale/start" --only ceph --dir "$dir" > "$dir.env" || rc=$?
if [ $rc = 77 ]; then rm -rf "$dir" "$dir.env"; exit 77; fi
[ $rc = 0 ] || { echo "FAIL: scripts/scale/start exited $rc"; rm -f "$dir.env"; exit 1; }
trap '"$root/scripts/scale/stop" "$dir"; rm -f "$dir.env"' EXIT
set -a
. "$dir.env"
set +a
echo "Ceph up: RADOS $SCALE_START_RADOS s, radosgw $SCALE_START_RADOSGW s"
"$bin"
