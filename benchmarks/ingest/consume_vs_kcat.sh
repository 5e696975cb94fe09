#!/usr/bin/env bash
# Ingestion throughput, side by side on one machine and one topic:
#   1. consume (Kafka -> segment files) against kcat reading the same topic to
#      a file (`kcat -C -e -o beginning ... > file`): the floor of what any
#      consumer pays to get the bytes out of the brokers;
#   2. consume --mongo (unordered insert_many batches) against one insert per
#      message (the seed's consumer_app.py), on the first MONGO_N events.
#
#   tools/services/all.sh start && eval "$(tools/services/all.sh env)"
#   benchmarks/ingest/consume_vs_kcat.sh            # N=1000000 MONGO_N=50000 RUNS=2
#
# Workload: N events of //tools/datagen (seed 42, ~800 bytes each), produced
# into a fresh 3-partition RF 3 topic by kcat -P. Each reader runs RUNS times
# (fresh group / directory each time); the best wall time counts, startup
# included for both. Everything runs on loopback; the machine is shared, so
# figures move by +-15%.
set -euo pipefail
cd "$(dirname "$0")/../.."
N=${N:-1000000}
MONGO_N=${MONGO_N:-50000}
RUNS=${RUNS:-2}
: "${PV_KAFKA_BROKERS:?eval \"\$(tools/services/all.sh env)\" first}"
: "${PV_MONGO_URI:?eval \"\$(tools/services/all.sh env)\" first}"
PROPS="${PV_SERVICES_DIR:-.run/services}/kafka/local/client.properties"
WORK=${WORK:-$(mktemp -d /tmp/pv-ingest-bench.XXXXXX)}
trap 'rm -rf "$WORK"' EXIT
TAG=$(date +%s)-$$
TOPIC=pv-bench-consume-$TAG

bazel build //cc/ingest:consume //tools/datagen:datagen //benchmarks/ingest:mongo_insert_one >/dev/null 2>&1
BIN=$(bazel info bazel-bin 2>/dev/null)

now() { date +%s.%N; }
secs() { echo "$2 - $1" | bc -l; }

echo "generating $N events ..."
"$BIN/tools/datagen/datagen" --events="$N" --output="$WORK/events.ndjson" >/dev/null
BYTES=$(stat -c %s "$WORK/events.ndjson")
echo "producing into $TOPIC ($((BYTES / 1000000)) MB) ..."
kcat -P -F "$PROPS" -t "$TOPIC" -X linger.ms=50 -X batch.num.messages=10000 \
  -l "$WORK/events.ndjson" 2>/dev/null

best_kcat=""
best_consume=""
for run in $(seq 1 "$RUNS"); do
  t0=$(now)
  kcat -C -F "$PROPS" -t "$TOPIC" -e -o beginning -q -X fetch.wait.max.ms=10 >"$WORK/kcat.out" 2>/dev/null
  t1=$(now)
  lines=$(wc -l <"$WORK/kcat.out")
  s=$(secs "$t0" "$t1")
  echo "kcat    run $run: $lines messages in $s s"
  # kcat -P skips empty lines (datagen makes a few empty "not JSON" records).
  EXPECT=$lines
  if [ -z "$best_kcat" ] || [ "$(echo "$s < $best_kcat" | bc -l)" = 1 ]; then best_kcat=$s; fi
  rm -f "$WORK/kcat.out"

  rm -rf "$WORK/seg"
  t0=$(now)
  "$BIN/cc/ingest/consume" --topic="$TOPIC" --group="bench-$TAG-$run" --segments="$WORK/seg" \
    --exit-at-end >"$WORK/consume.out" 2>"$WORK/consume.err"
  t1=$(now)
  got=$(awk '/^  messages/ {print $2}' "$WORK/consume.out")
  s=$(secs "$t0" "$t1")
  echo "consume run $run: $got messages in $s s ($(du -sm "$WORK/seg" | cut -f1) MB of segments)"
  [ "$got" -eq "$EXPECT" ] || { echo "consume read $got, kcat $EXPECT" >&2; tail "$WORK/consume.err" >&2; exit 1; }
  if [ -z "$best_consume" ] || [ "$(echo "$s < $best_consume" | bc -l)" = 1 ]; then best_consume=$s; fi
done
MB=$(echo "$BYTES / 1000000" | bc -l)

echo
echo "MongoDB sink: first $MONGO_N events"
COLL_BATCH=bench_batch_${TAG//-/_}
COLL_ONE=bench_one_${TAG//-/_}
rm -rf "$WORK/seg"
t0=$(now)
"$BIN/cc/ingest/consume" --topic="$TOPIC" --group="bench-mongo-$TAG" --segments="$WORK/seg" \
  --max-messages="$MONGO_N" --mongo --mongo-uri="$PV_MONGO_URI" --mongo-db=pv_bench \
  --mongo-collection="$COLL_BATCH" >"$WORK/mongo.out" 2>"$WORK/mongo.err"
t1=$(now)
mongo_batch_s=$(secs "$t0" "$t1")
grep mongodb "$WORK/mongo.out" || true
t0=$(now)
head -n "$MONGO_N" "$WORK/events.ndjson" |
  "$BIN/benchmarks/ingest/mongo_insert_one" --uri="$PV_MONGO_URI" --db=pv_bench \
    --collection="$COLL_ONE" 2>/dev/null
t1=$(now)
mongo_one_s=$(secs "$t0" "$t1")

printf '\n%-34s %10s %12s %10s\n' "case" "seconds" "messages/s" "MB/s"
printf '%-34s %10.2f %12.0f %10.1f\n' "kcat -C -e > file (best of $RUNS)" "$best_kcat" \
  "$(echo "$EXPECT / $best_kcat" | bc -l)" "$(echo "$MB / $best_kcat" | bc -l)"
printf '%-34s %10.2f %12.0f %10.1f\n' "consume -> segments (best of $RUNS)" "$best_consume" \
  "$(echo "$EXPECT / $best_consume" | bc -l)" "$(echo "$MB / $best_consume" | bc -l)"
printf 'consume / kcat throughput ratio: %.2f\n' "$(echo "$best_kcat / $best_consume" | bc -l)"
printf '%-34s %10.2f %12.0f\n' "consume --mongo (insert_many)" "$mongo_batch_s" \
  "$(echo "$MONGO_N / $mongo_batch_s" | bc -l)"
printf '%-34s %10.2f %12.0f\n' "insert_one per message (seed)" "$mongo_one_s" \
  "$(echo "$MONGO_N / $mongo_one_s" | bc -l)"
printf 'insert_many / insert_one docs/s ratio: %.2f\n' "$(echo "$mongo_one_s / $mongo_batch_s" | bc -l)"
