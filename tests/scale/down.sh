#!/usr/bin/env bash
# tests/scale/down.sh DIR - ctest scale.down, the cleanup of the `scale` fixture: stops what
# scale.up started (scripts/scale/stop, by PID) and fails if any of its processes, or DIR,
# is left. Nothing to do when scale.up was skipped.
set -uo pipefail
# shellcheck source=tests/scale/lib.sh
. "$(dirname "$0")/lib.sh"
dir=${1:?usage: down.sh DIR}
rm -f "$dir.env"
if [ ! -d "$dir/pids" ]; then
    echo "nothing to stop: no cluster in $dir"
    exit 0
fi
if scale_down_checked "$dir"; then
    echo "ok: stop left no process and no directory"
else
    echo "FAIL: stop left something behind"
    exit 1
fi
