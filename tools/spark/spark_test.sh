#!/usr/bin/env bash
# Integration test of tools/spark/run.sh against the real PostgreSQL
# (tools/services) and pyspark in local mode (run by tools/test.sh when
# tools/spark/install.sh could install pyspark):
#
#   three nights of segments (late events: each night's events span three
#   days, so earlier days go stale and their applied segments are re-read;
#   invalid records) are loaded night after night twice -- by the batch on
#   one machine into one database, and by run.sh --master=local[2] with the
#   scan as Spark tasks into another -- and after every night the two
#   warehouses are equal row for row (members, surrogate keys, attributes,
#   facts, dates) and hold the same quarantined records. On the second
#   night two scan tasks are SIGKILLed: one at the worst moment (its partial
#   written, not yet renamed into place), one in the middle of its scan (at
#   its second block); Spark retries them and nothing changes.
#
# Needs the services' environment (eval "$(tools/services/all.sh env)").
set -euo pipefail
REPO="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
cd "$REPO"
log() { printf '[spark_test] %s\n' "$*" >&2; }
fail() { log "FAIL: $*"; exit 1; }
[[ -n "${PV_PG_CONNINFO:-}" ]] || fail "PV_PG_CONNINFO is not set: start tools/services/all.sh and eval its env"

bazel build //cc/etl:batch //tools/datagen:datagen //cc/ingest:import >&2
BIN="$(bazel info bazel-bin 2>/dev/null)"
BATCH="$BIN/cc/etl/batch"

WORK="$(mktemp -d /tmp/pv-spark-test.XXXXXX)"
ONE_DB="pv_spark_one_$$" TASKS_DB="pv_spark_tasks_$$"
admin() { psql "$PV_PG_CONNINFO" -X -q -v ON_ERROR_STOP=1 -At -c "$1"; }
cleanup() {
  admin "DROP DATABASE IF EXISTS $ONE_DB" >/dev/null 2>&1 || true
  admin "DROP DATABASE IF EXISTS $TASKS_DB" >/dev/null 2>&1 || true
  rm -rf "$WORK"
}
trap cleanup EXIT
admin "CREATE DATABASE $ONE_DB"
admin "CREATE DATABASE $TASKS_DB"
ONE="$PV_PG_CONNINFO dbname=$ONE_DB"
TASKS="$PV_PG_CONNINFO dbname=$TASKS_DB"
SEG="$WORK/segments"

# Everything a user can query, surrogate keys included: one line per row.
snapshot() {
  psql "$1" -X -q -At -v ON_ERROR_STOP=1 -c "
    SELECT x FROM (
      SELECT concat_ws('|', 'F', f.date_key, f.product_key, f.country_key, f.referrer_key,
        f.device_key, f.view_count, f.unique_visitors, f.first_view_time, f.last_view_time,
        f.view_duration_seconds, f.avg_view_timestamp) AS x FROM fact_product_views f
      UNION ALL SELECT concat_ws('|', 'P', product_key, product_id) FROM dim_product
      UNION ALL SELECT concat_ws('|', 'C', country_key, store_id, country_name, country_code,
        region, continent, store_domain, attr_time) FROM dim_country
      UNION ALL SELECT concat_ws('|', 'R', referrer_key, md5(referrer_url), referrer_domain,
        referrer_type) FROM dim_referrer
      UNION ALL SELECT concat_ws('|', 'D', device_key, device_id, device_type, browser_info,
        browser, os, attr_time, attr_code) FROM dim_device
      UNION ALL SELECT concat_ws('|', 'T', date_key, date, day_of_week, week_of_year) FROM dim_date
      UNION ALL SELECT concat_ws('|', 'S', name, records) FROM pv_applied_segment
      UNION ALL SELECT concat_ws('|', 'L', segment, day, loaded) FROM pv_applied_segment_day
    ) s ORDER BY x"
}
quarantined() { cat "$1"/quarantine-*.ndjson 2>/dev/null | sort | md5sum | cut -d' ' -f1; }

# The task-killing wrapper: the binary shipped to the executors on night 2.
MARKS="$WORK/marks"
mkdir -p "$MARKS"
WRAP="$WORK/batch-killing-tasks"
cat >"$WRAP" <<WRAPPER
#!/usr/bin/env bash
case " \$* " in
  *" --scan-step "*)
    if mkdir "$MARKS/crash-before-rename" 2>/dev/null; then
      PV_CRASH_AT=partial.before_rename exec "$BATCH" "\$@"
    fi
    if mkdir "$MARKS/mid-scan" 2>/dev/null; then
      PV_CRASH_AT=scan.block:2 exec "$BATCH" "\$@"   # SIGKILLed at its second block
    fi ;;
esac
exec "$BATCH" "\$@"
WRAPPER
chmod +x "$WRAP"

for night in 0 1 2; do
  start=$(date -u -d "2020-06-01 + $((night * 2)) days" +%F)
  "$BIN/tools/datagen/datagen" --events=24000 --days=3 --start_date="$start" --seed=$((11 + night)) \
    --rate_not_json=0.004 --output="$WORK/night$night.ndjson"
  "$BIN/cc/ingest/import" --input="$WORK/night$night.ndjson" --segments="$SEG" --segment_mb=2 >&2
  log "night $night: $(ls "$SEG"/*.pvseg | wc -l) segments in all"
  "$BATCH" --segments="$SEG" --pg="$ONE" --threads=2 --quarantine="$WORK/q-one" >"$WORK/one$night.out" \
    || fail "night $night: the single-machine batch failed: $(tail -5 "$WORK/one$night.out")"
  binary="$BATCH"
  [[ $night -eq 1 ]] && binary="$WRAP"
  tools/spark/run.sh --master='local[2]' --segments="$SEG" --pg="$TASKS" --quarantine="$WORK/q-tasks" \
    --tasks=4 --batch-binary="$binary" >"$WORK/tasks$night.out" 2>"$WORK/tasks$night.err" \
    || fail "night $night: run.sh failed: $(tail -20 "$WORK/tasks$night.err")"
  grep -q "scan step 1: .* as 4 task(s)" "$WORK/tasks$night.err" \
    || fail "night $night: the scan did not run as 4 Spark tasks: $(grep spark-driver "$WORK/tasks$night.err")"
  if [[ $night -gt 0 ]]; then
    grep -q "scan step 2: " "$WORK/tasks$night.err" \
      || fail "night $night: no re-read step for the stale days"
  fi
  snapshot "$ONE" >"$WORK/one$night.rows"
  snapshot "$TASKS" >"$WORK/tasks$night.rows"
  rows=$(wc -l <"$WORK/one$night.rows")
  [[ $rows -gt 1000 ]] || fail "night $night: only $rows rows in the warehouse"
  if ! cmp -s "$WORK/one$night.rows" "$WORK/tasks$night.rows"; then
    diff "$WORK/one$night.rows" "$WORK/tasks$night.rows" | head -20 >&2 || true
    fail "night $night: the warehouse built with Spark tasks differs from the single-machine one"
  fi
  [[ "$(quarantined "$WORK/q-one")" == "$(quarantined "$WORK/q-tasks")" ]] \
    || fail "night $night: the quarantined records differ"
  log "night $night: equal, $rows rows; $(grep -c . <(cat "$WORK"/q-one/quarantine-*.ndjson)) quarantined"
done
[[ -d "$MARKS/crash-before-rename" && -d "$MARKS/mid-scan" ]] \
  || fail "the kills did not happen (marks: $(ls "$MARKS" 2>&1))"
# Spark saw both tasks fail (its WARN "Lost task ... scan step ... exited")
# and ran them again.
lost=$(grep -c "Lost task" "$WORK/tasks1.err" || true)
ours=$(grep -c "RuntimeError: scan step on .* exited" "$WORK/tasks1.err" || true)
[[ $lost -ge 2 && $ours -ge 2 ]] \
  || fail "Spark did not report the 2 failed task attempts (lost $lost, ours $ours): $(grep -i "lost task" "$WORK/tasks1.err" | head -5)"
[[ -z "$(ls -A "$SEG/.partials" 2>/dev/null)" ]] || fail "partials left behind: $(ls "$SEG/.partials")"
log "PASS: 3 nights, Spark tasks (2 killed and retried) = one machine, row for row"
