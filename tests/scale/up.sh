#!/usr/bin/env bash
# tests/scale/up.sh DIR - ctest scale.up, the setup of the `scale` fixture: starts PostgreSQL,
# Ceph with radosgw and HAProxy (scripts/scale/start) in DIR, their endpoints in DIR.env,
# for every scale test. A cluster left in DIR by an interrupted run is stopped first.
# Exit 77 (skipped, and the scale tests skip too) when the packages are missing.
set -euo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
dir=${1:?usage: up.sh DIR}
[ ! -d "$dir/pids" ] || "$root/scripts/scale/stop" "$dir" || true
rm -rf "$dir" "$dir.env"
mkdir -p "$(dirname "$dir")"
rc=0
"$root/scripts/scale/start" --dir "$dir" > "$dir.env.tmp" || rc=$?
if [ $rc != 0 ]; then
    rm -f "$dir.env.tmp"
    [ ! -d "$dir" ] || rmdir "$dir" 2>/dev/null || true
    exit $rc
fi
mv "$dir.env.tmp" "$dir.env"
# shellcheck disable=SC1090 # the endpoints scripts/scale/start wrote
. "$dir.env"
echo "started: PostgreSQL $SCALE_START_PG s, RADOS (mon + OSD) $SCALE_START_RADOS s," \
     "radosgw $SCALE_START_RADOSGW s, HAProxy $SCALE_START_HAPROXY s"
cat "$dir.env" | grep -v SECRET
