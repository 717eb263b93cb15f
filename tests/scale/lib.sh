# tests/scale/lib.sh - sourced by the scale tests (bash): the cluster they share.
# shellcheck shell=bash
#
# The ctest fixture `scale` (scale.up, scale.down in tests/tests.cmake) starts PostgreSQL,
# Ceph with radosgw and HAProxy once for every scale test; SCALE_ENV names the file that
# scripts/scale/start wrote. A test run by hand without SCALE_ENV starts its own
# (scale_own_up) and stops it at the end.

scale_root=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)

# scale_load: loads SCALE_ENV's endpoints into the environment; exit 77 (skip) if the
# fixture did not start the cluster (scale.up skipped: the packages are missing).
scale_load() {
    if [ ! -s "$SCALE_ENV" ]; then
        echo "SKIP: no scale cluster ($SCALE_ENV is missing: scale.up was skipped or failed;" \
             "scripts/install-deps --scale installs what it needs)"
        exit 77
    fi
    set -a
    # shellcheck disable=SC1090 # the endpoints scripts/scale/start wrote
    . "$SCALE_ENV"
    set +a
}

# scale_own_up [start options]: starts a cluster for this test alone in a temporary directory,
# sets SCALE_ENV; exit 77 when the packages are missing.
scale_own_up() {
    local tmp=${VODUP_TEST_TMP:-${TMPDIR:-/tmp}} rc=0
    mkdir -p "$tmp"
    scale_own_dir=$(mktemp -d "$tmp/scale.XXXXXX")
    SCALE_ENV=$scale_own_dir.env
    "$scale_root/scripts/scale/start" --dir "$scale_own_dir" "$@" > "$SCALE_ENV" || rc=$?
    if [ $rc != 0 ]; then
        rm -rf "$scale_own_dir" "$SCALE_ENV"
        [ $rc = 77 ] && exit 77
        echo "FAIL: scripts/scale/start exited $rc"
        exit 1
    fi
}

# scale_down_checked DIR: scripts/scale/stop DIR, then checks that none of the processes it
# ran (each PID in DIR/pids and their children: postgres forks workers) is left, and that
# DIR is gone. Says what is left; returns 1 if anything is.
scale_down_checked() {
    local dir=$1 procs p left="" rc=0
    procs=$(for f in "$dir"/pids/*; do
                [ -f "$f" ] || continue
                p=$(cat "$f"); echo "$p"; ps -o pid= --ppid "$p" || true
            done | tr -d ' ' | sort -u)
    "$scale_root/scripts/scale/stop" "$dir" || rc=1
    for p in $procs; do
        if kill -0 "$p" 2>/dev/null && ! grep -q '^[0-9]* ([^)]*) Z' "/proc/$p/stat" 2>/dev/null; then
            left="$left $p($(tr '\0' ' ' < "/proc/$p/cmdline" | cut -c1-60))"
        fi
    done
    if [ -n "$left" ]; then echo "  still running:$left"; rc=1; fi
    if [ -e "$dir" ]; then echo "  $dir is still there"; rc=1; fi
    echo "  $(echo $procs | wc -w) processes were running"
    return $rc
}
