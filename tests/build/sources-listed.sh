#!/bin/sh
# Every C source under src/ and examples/app-server/ is named in CMakeLists.txt (sources are
# listed there, not globbed), so a new file cannot be silently left out of the build.
# Usage: sources-listed.sh SOURCE_DIR
set -eu
cd "${1:?usage: sources-listed.sh SOURCE_DIR}"
missing=0
for f in $(find src examples/app-server -name '*.c' | sort); do
    if ! grep -qF "$f" CMakeLists.txt; then
        echo "sources-listed: $f is not named in CMakeLists.txt" >&2
        missing=$((missing + 1))
    fi
done
[ "$missing" -eq 0 ] || exit 1
echo "sources-listed: every C source is named in CMakeLists.txt"
