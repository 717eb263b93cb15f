#!/usr/bin/env bash
# tests/scale/blob_s3.sh TEST_BINARY - runs the S3 byte store's tests (test_blob_s3.c) against
# the radosgw of the `scale` fixture (SCALE_ENV), or, run by hand without SCALE_ENV, against
# a one-node Ceph cluster of its own. Exit 77 (skip) when Ceph is not installed.
set -euo pipefail
# shellcheck source=tests/scale/lib.sh
. "$(dirname "$0")/lib.sh"
bin=${1:?usage: blob_s3.sh TEST_BINARY}
if [ -z "${SCALE_ENV:-}" ]; then
    scale_own_up --only ceph
    trap '"$scale_root/scripts/scale/stop" "$scale_own_dir"; rm -f "$SCALE_ENV"' EXIT
fi
scale_load
"$bin"
