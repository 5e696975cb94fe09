#!/usr/bin/env bash
# The whole pipeline end to end on generated data, with embedded defaults:
# installs what is missing, builds, starts a local PostgreSQL, generates
# Glamira-like events (with the usual share of messy and invalid records),
# imports them into segment files, runs the nightly batch job, and prints a
# summary of the warehouse.
#
#   tools/demo.sh                 # 500,000 events over 3 days
#   PV_DEMO_EVENTS=4000000 tools/demo.sh
#   tools/demo.sh --ci            # small, against services already started
#                                 # by tools/test.sh (used by the test suite)
#
# The Kafka stages (mirror, consume) are not in the demo yet: events enter
# through the file importer (see README, "Status").
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$(pwd)
CI_MODE=0
[[ "${1:-}" == "--ci" ]] && CI_MODE=1
EVENTS=${PV_DEMO_EVENTS:-500000}
[[ $CI_MODE -eq 1 ]] && EVENTS=${PV_DEMO_EVENTS:-50000}
WORK=$ROOT/.run/demo
[[ $CI_MODE -eq 1 ]] && WORK=$ROOT/.run/demo-ci
say() { echo; echo "### $*"; }

if [[ $CI_MODE -eq 0 ]]; then
  say "1/6 installing what is missing"
  tools/bootstrap.sh
fi

say "2/6 building"
bazel build //cc/ingest:import //cc/etl:batch //tools/datagen:datagen 2>&1 | grep -E "ERROR|error:|Build completed" || true
BIN=$(bazel info bazel-bin 2>/dev/null)

if [[ $CI_MODE -eq 0 ]]; then
  say "3/6 starting PostgreSQL on loopback (state in .run/services)"
  tools/services/postgres.sh start
  eval "$(tools/services/postgres.sh env)"
else
  say "3/6 using the services of the test run"
  : "${PV_PG_CONNINFO:?tools/test.sh exports it}"
fi

rm -rf "$WORK"
mkdir -p "$WORK"
say "4/6 generating $EVENTS events over 3 days -> $WORK/events.ndjson"
"$BIN/tools/datagen/datagen" --events="$EVENTS" --days=3 --start_date=2024-06-01 \
  --output="$WORK/events.ndjson"

say "5/6 importing into segment files -> $WORK/segments"
"$BIN/cc/ingest/import" --input="$WORK/events.ndjson" --segments="$WORK/segments"

say "6/6 nightly batch: all three days, then a rerun of the latest (idempotent)"
"$BIN/cc/etl/batch" --segments="$WORK/segments" --pg="$PV_PG_CONNINFO" \
  --from=2024-06-01 --to=2024-06-03 --metrics-file="$WORK/batch.prom"
"$BIN/cc/etl/batch" --segments="$WORK/segments" --pg="$PV_PG_CONNINFO" \
  --metrics-file="$WORK/batch.prom"

psql -X -q "$PV_PG_CONNINFO" -f tools/warehouse_summary.sql

if [[ $CI_MODE -eq 1 ]]; then
  # The three days are in the warehouse, and the rerun left the latest one
  # with the same fact rows as the range run.
  days=$(psql -X -At "$PV_PG_CONNINFO" -c "SELECT count(DISTINCT date_key) FROM fact_product_views WHERE date_key BETWEEN 20240601 AND 20240603")
  [[ "$days" == "3" ]] || { echo "expected 3 days of facts, found $days" >&2; exit 1; }
fi
echo
echo "Demo done. Warehouse: psql \"$PV_PG_CONNINFO\" (password in PGPASSWORD:"
echo "  eval \"\$(tools/services/postgres.sh env)\"). Metrics: $WORK/batch.prom."
echo "Stop PostgreSQL with: tools/services/postgres.sh stop"
