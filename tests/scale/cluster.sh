#!/usr/bin/env bash
# tests/scale/cluster.sh VODUPD VODUP - ctest scale.cluster: three vodupd nodes on one
# PostgreSQL database and one radosgw bucket (--bytes) behind an HAProxy of
# the test's own; uploads through it, a node SIGKILLed mid-upload, every event delivered once
# to the test's receiver, uploads per second with one node and with three
# (tests/scale/cluster.mjs does it all; docs/scale-out.md, "Running N nodes").
# Uses the `scale` fixture's PostgreSQL and radosgw (SCALE_ENV); run by hand without it, it
# starts a cluster of its own (PostgreSQL and Ceph: scripts/scale/start --only pg,ceph).
# Exit 77 (skip) with a plain message when the fixture or HAProxy is absent.
set -euo pipefail
# shellcheck source=tests/scale/lib.sh
. "$(dirname "$0")/lib.sh"
vodupd=${1:?usage: cluster.sh VODUPD VODUP} vodup=${2:?usage: cluster.sh VODUPD VODUP}
if [ -z "${SCALE_ENV:-}" ]; then
    scale_own_up --only pg,ceph
    trap '"$scale_root/scripts/scale/stop" "$scale_own_dir"; rm -f "$SCALE_ENV"' EXIT
fi
scale_load
if ! command -v haproxy >/dev/null 2>&1; then
    echo "SKIP: haproxy is not installed (scripts/install-deps --scale installs it)"
    exit 77
fi
if ! command -v node >/dev/null 2>&1; then
    echo "SKIP: node is not installed (scripts/install-deps installs it)"
    exit 77
fi
# Not exec: the EXIT trap above must still stop a cluster of our own.
cd "$scale_root"
VODUPD=$vodupd VODUP=$vodup node tests/scale/cluster.mjs
