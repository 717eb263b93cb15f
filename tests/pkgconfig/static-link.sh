#!/bin/sh
# static-link.sh BUILD_DIR SOURCE_DIR CC - links examples/upload.c against an installed
# libvodup.a the way docs/client-sdk.md says: cc upload.c $(pkg-config --static --cflags
# --libs vodup). The install goes to a scratch prefix (pkg-config is told where, as for
# any relocated install) with the shared library removed, so -lvodup can only be the
# archive. Fails if pkg-config fails, the link fails (e.g. libraries a stock Debian does
# not have), or the program still needs libvodup.so; then runs it (usage: exit 2).
set -eu
build=$1 src=$2 cc=$3 extra=${4:-}   # extra: link flags a sanitizer build needs
base=${VODUP_TEST_TMP:-${TMPDIR:-/tmp}}
mkdir -p "$base"
tmp=$(mktemp -d "$base/pc-static.XXXXXX")
trap 'rm -rf "$tmp"' EXIT
cmake --install "$build" --prefix "$tmp/prefix" >/dev/null
rm -f "$tmp"/prefix/lib*/libvodup.so* "$tmp"/prefix/lib/*/libvodup.so*
pc=$(find "$tmp/prefix" -name vodup.pc | head -n 1)
[ -n "$pc" ] || { echo "vodup.pc was not installed"; exit 1; }
flags=$(PKG_CONFIG_PATH=$(dirname "$pc") pkg-config --define-variable=prefix="$tmp/prefix" --static --cflags --libs vodup)
echo "pkg-config --static --cflags --libs vodup: $flags"
# shellcheck disable=SC2086 # the flags are words
"$cc" -o "$tmp/upload" "$src/examples/upload.c" $flags $extra
if readelf -d "$tmp/upload" | grep -q 'libvodup\.so'; then
    echo "the program needs libvodup.so: the static archive was not used"
    exit 1
fi
rc=0
"$tmp/upload" >/dev/null 2>&1 || rc=$?
[ "$rc" -eq 2 ] || { echo "upload-example without arguments exited $rc, not 2 (usage)"; exit 1; }
echo "static link OK"
