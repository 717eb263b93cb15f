#!/usr/bin/env bash
# tests/scale/up.sh DIR - ctest scale.up, the setup of the `scale` fixture: starts PostgreSQL,
# Ceph with radosgw and HAProxy (scripts/scale/start) in DIR, their endpoints in DIR.env,
# for every scale test. A cluster left in DIR by an interrupted run is stopped first.
# If the ctest that runs the fixture dies without running scale.down (SIGKILLed, say), a
# watcher stops the cluster (it stands in DIR/pids as `watch`, so scale.down stops it too).
# Exit 77 (skipped, and the scale tests skip too) when the packages are missing.
set -euo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
dir=${1:?usage: up.sh DIR}
parent=$PPID   # ctest, read now: if it dies during the start, we are adopted by another
mkdir -p "$(dirname "$dir")"
# One cluster at a time on DIR: DIR.lock is held from here until the cluster is stopped (by
# the watcher below, which inherits it). A second run on the same build waits for it rather
# than removing DIR under a running start, whose later daemons would then run on unknown to
# any pids/ file.
exec 9> "$dir.lock"
flock -w 300 9 || { echo "FAIL: another run's scale cluster holds $dir.lock (waited 300 s)"; exit 1; }
[ ! -d "$dir/pids" ] || "$root/scripts/scale/stop" "$dir" || true
rm -rf "$dir" "$dir.env"
rc=0
# 9>&-: the daemons must not hold the lock.
"$root/scripts/scale/start" --dir "$dir" > "$dir.env.tmp" 9>&- || rc=$?
if [ $rc != 0 ]; then
    rm -f "$dir.env.tmp"
    [ ! -d "$dir" ] || rmdir "$dir" 2>/dev/null || true
    exit $rc
fi
mv "$dir.env.tmp" "$dir.env"
# shellcheck disable=SC2016 # expanded by the watcher's shell
# (Its sleep dies with it: scale.down checks that no child of a pids/ process is left.)
setsid bash -c 'trap "kill \$s 2>/dev/null; exit 0" TERM
                while kill -0 "$1" 2>/dev/null && [ -d "$2/pids" ]; do sleep 2 & s=$!; wait $s; done
                rm -f "$2/pids/watch" "$2.env"; [ ! -d "$2/pids" ] || "$3" "$2"' \
    scale-watch "$parent" "$dir" "$root/scripts/scale/stop" < /dev/null > /dev/null 2>&1 &
echo $! > "$dir/pids/watch"
# shellcheck disable=SC1090 # the endpoints scripts/scale/start wrote
. "$dir.env"
echo "started: PostgreSQL $SCALE_START_PG s, RADOS (mon + OSD) $SCALE_START_RADOS s," \
     "radosgw $SCALE_START_RADOSGW s, HAProxy $SCALE_START_HAPROXY s"
cat "$dir.env" | grep -v SECRET
