#!/usr/bin/env bash
# tests/scale/meta_pg.sh TEST_BINARY - runs the store conformance suite
# (tests/unit/test_store_conformance.c) with its PostgreSQL back end against the PostgreSQL
# of the `scale` fixture (SCALE_ENV), or, run by hand without SCALE_ENV, against one of its
# own (scripts/scale/start --only pg: about 2 s). Exit 77 (skip) when PostgreSQL 15 is not
# installed. The suite empties the database's public schema before each test.
set -euo pipefail
# shellcheck source=tests/scale/lib.sh
. "$(dirname "$0")/lib.sh"
bin=${1:?usage: meta_pg.sh TEST_BINARY}
if [ -z "${SCALE_ENV:-}" ]; then
    scale_own_up --only pg
    trap '"$scale_root/scripts/scale/stop" "$scale_own_dir"; rm -f "$SCALE_ENV"' EXIT
fi
scale_load
# The postgres group must run (and pass): a suite that skipped it would pass vacuously.
out=$(VODUP_TEST_PG=$PG_URL "$bin" 2>&1) || { echo "$out"; exit 1; }
echo "$out"
grep -q 'meta store: postgres' <<<"$out" || { echo "FAIL: the postgres back end did not run"; exit 1; }
