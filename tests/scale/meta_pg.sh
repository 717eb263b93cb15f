#!/usr/bin/env bash
# tests/scale/meta_pg.sh TEST_BINARY - runs the store conformance suite
# (tests/unit/test_store_conformance.c) with its PostgreSQL back end against the PostgreSQL
# of the `scale` fixture (SCALE_ENV), or, run by hand without SCALE_ENV, against one of its
# own (scripts/scale/start --only pg: about 2 s). Exit 77 (skip) when PostgreSQL 15 is not
# installed. It works in a database of its own, which the suite empties before each test.
set -euo pipefail
# shellcheck source=tests/scale/lib.sh
. "$(dirname "$0")/lib.sh"
bin=${1:?usage: meta_pg.sh TEST_BINARY}
if [ -z "${SCALE_ENV:-}" ]; then
    scale_own_up --only pg
    trap '"$scale_root/scripts/scale/stop" "$scale_own_dir"; rm -f "$SCALE_ENV"' EXIT
fi
scale_load
db=vodup_conformance_$$
export PGOPTIONS='-c client_min_messages=warning'
psql -q "$PG_URL" -c "DROP DATABASE IF EXISTS $db" -c "CREATE DATABASE $db"
# The postgres group must run (and pass): a suite that skipped it would pass vacuously.
out=$(VODUP_TEST_PG=${PG_URL%/*}/$db "$bin" 2>&1) || { echo "$out"; exit 1; }
psql -q "$PG_URL" -c "DROP DATABASE $db"
echo "$out"
grep -q 'meta store: postgres' <<<"$out" || { echo "FAIL: the postgres back end did not run"; exit 1; }
# Every case runs on it: PostgreSQL implements the whole ops table, so a skipped case
# (an ops version the back end fell behind) is a failure here.
if sed -n '/meta store: postgres/,$p' <<<"$out" | grep -q 'SKIPPED'; then
    echo "FAIL: cases skipped on postgres"; exit 1
fi
