#!/usr/bin/env bash
# The whole pipeline end to end on generated data, with embedded defaults:
#
#   datagen -> source Kafka (1 broker, SASL) -> mirror -> local Kafka
#   (3 brokers, SASL, RF 3) -> consume -> segment files + MongoDB (FerretDB)
#   -> batch -> PostgreSQL star schema -> a summary of the warehouse
#
# It installs what is missing, builds, and starts every service on 127.0.0.1
# (tools/services, state in .run/services); they stay up afterwards so you
# can look around (tools/services/all.sh stop stops them).
#
#   tools/demo.sh                 # 200,000 events over 3 days
#   PV_DEMO_EVENTS=1000000 tools/demo.sh
#   tools/demo.sh --ci            # small, against the services tools/test.sh started
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$(pwd)
CI_MODE=0
[[ "${1:-}" == "--ci" ]] && CI_MODE=1
EVENTS=${PV_DEMO_EVENTS:-200000}
[[ $CI_MODE -eq 1 ]] && EVENTS=${PV_DEMO_EVENTS:-30000}
WORK=$ROOT/.run/demo
[[ $CI_MODE -eq 1 ]] && WORK=$ROOT/.run/demo-ci
# Fresh topics per run, so that a second demo does not count the first's events.
STAMP=$(date -u +%Y%m%d%H%M%S)
SOURCE_TOPIC=product_view_demo_$STAMP
LOCAL_TOPIC=product_views_demo_$STAMP
say() { echo; echo "### $*"; }

if [[ $CI_MODE -eq 0 ]]; then
  say "1/8 installing what is missing"
  tools/bootstrap.sh
fi

say "2/8 building"
bazel build //tools/datagen:datagen //cc/ingest:mirror //cc/ingest:consume //cc/etl:batch \
  //tools:kafka_count //tools:mongo_check 2>&1 | grep -E "ERROR|error:|Build completed" || true
BIN=$(bazel info bazel-bin 2>/dev/null)

if [[ $CI_MODE -eq 0 ]]; then
  say "3/8 starting PostgreSQL, Kafka (3 brokers + a source broker) and FerretDB on loopback"
  tools/services/all.sh start
  eval "$(tools/services/all.sh env)"
else
  say "3/8 using the services of the test run"
  : "${PV_PG_CONNINFO:?tools/test.sh exports it}" "${PV_KAFKA_SOURCE_BROKERS:?}" "${PV_MONGO_URI:?}"
fi
export MONGO_DB=demo_kafka_data_db MONGO_COLLECTION=product_views_records
# A warehouse database of the demo's own, fresh each run like its segments
# directory (a warehouse remembers the segments it applied: a new directory
# under an old warehouse would be segments gone missing).
DEMO_DB=pv_demo
[[ $CI_MODE -eq 1 ]] && DEMO_DB=pv_demo_ci
with_db() { echo "$PV_PG_CONNINFO" | sed -E "s/(^| )dbname=[^ ]*/\1dbname=$1/"; }
psql -X -q -v ON_ERROR_STOP=1 "$(with_db postgres)" -c "DROP DATABASE IF EXISTS $DEMO_DB WITH (FORCE)" \
  -c "CREATE DATABASE $DEMO_DB"
DEMO_PG=$(with_db "$DEMO_DB")

rm -rf "$WORK"
mkdir -p "$WORK"
chmod 700 "$WORK"
say "4/8 generating $EVENTS events over 3 days straight into the source topic $SOURCE_TOPIC"
"$BIN/tools/datagen/datagen" --events="$EVENTS" --days=3 --start_date=2024-06-01 \
  --kafka_topic="$SOURCE_TOPIC" --kafka_env=PV_KAFKA_SOURCE

say "5/8 mirror: source Kafka -> local Kafka ($LOCAL_TOPIC, 3 partitions, RF 3)"
"$BIN/cc/ingest/mirror" --source-topic="$SOURCE_TOPIC" --destination-topic="$LOCAL_TOPIC" \
  --group="pv-mirror-demo-$STAMP" --exit-at-end
"$BIN/tools/kafka_count" --topic="$LOCAL_TOPIC"

say "6/8 consume: local Kafka -> segment files ($WORK/segments) and MongoDB"
# consume runs as in production (no --exit-at-end), with its Prometheus
# endpoint on a free loopback port; the demo prints the per-partition lag
# from /metrics every 2 s as it falls, and stops consume (SIGTERM) once every
# partition's lag is 0: all of the topic is in published segments.
METRICS_PORT=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
"$BIN/cc/ingest/consume" --topic="$LOCAL_TOPIC" --group="pv-consume-demo-$STAMP" \
  --segments="$WORK/segments" --mongo --segment-seconds=2 \
  --metrics-address="127.0.0.1:$METRICS_PORT" -X statistics.interval.ms=1000 &
consume_pid=$!
deadline=$((SECONDS + 900))
while kill -0 "$consume_pid" 2>/dev/null; do
  sleep 2
  lag=$(curl -s --max-time 1 "http://127.0.0.1:$METRICS_PORT/metrics" 2>/dev/null |
        awk '/^pv_consume_partition_lag\{/ { match($0, /partition="[0-9]+"/); p = substr($0, RSTART + 11, RLENGTH - 12); l = l " p" p "=" $2; n++; if ($2 != 0) busy = 1 } END { if (n) print (busy ? "busy" : "done") l }' || true)
  [[ -z "$lag" ]] && continue
  echo "[metrics] curl 127.0.0.1:$METRICS_PORT/metrics: pv_consume_partition_lag ${lag#* }"
  if [[ "$lag" == done* ]]; then kill -TERM "$consume_pid"; break; fi
  if (( SECONDS > deadline )); then
    echo "consume's lag did not reach 0 in 15 minutes" >&2; kill -TERM "$consume_pid"; exit 1
  fi
done
wait "$consume_pid"
"$BIN/tools/mongo_check" --samples=1

say "7/8 batch: the three days, then a nightly run (nothing new: reads and changes nothing)"
"$BIN/cc/etl/batch" --segments="$WORK/segments" --pg="$DEMO_PG" \
  --from=2024-06-01 --to=2024-06-03 --metrics-file="$WORK/batch.prom"
"$BIN/cc/etl/batch" --segments="$WORK/segments" --pg="$DEMO_PG" \
  --metrics-file="$WORK/batch.prom"

say "8/8 the warehouse"
psql -X -q "$DEMO_PG" -f tools/warehouse_summary.sql

if [[ $CI_MODE -eq 1 ]]; then
  # Every generated record went through Kafka into the segments exactly once
  # (the first run read them all), the nightly run after it read nothing
  # again, and the three days are loaded.
  sent=$EVENTS
  runs=$(psql -X -At "$DEMO_PG" -c "SELECT string_agg((counts->>'records'), ' ' ORDER BY run_id) FROM etl_run_ledger WHERE status = 'succeeded'")
  [[ "$runs" == "$sent 0" ]] || { echo "sent $sent records; the two batch runs read: ${runs:-nothing} (expected $sent, then 0)" >&2; exit 1; }
  days=$(psql -X -At "$DEMO_PG" -c "SELECT count(DISTINCT date_key) FROM fact_product_views WHERE date_key BETWEEN 20240601 AND 20240603")
  [[ "$days" == "3" ]] || { echo "expected 3 days of facts, found $days" >&2; exit 1; }
fi
echo
echo "Demo done. The services keep running: eval \"\$(tools/services/all.sh env)\" to"
echo "connect (psql \"$DEMO_PG\", password in PGPASSWORD); metrics in $WORK/batch.prom;"
echo "stop everything with tools/services/all.sh stop."
