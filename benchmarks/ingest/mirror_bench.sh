#!/usr/bin/env bash
# Mirror throughput: EVENTS datagen events loaded into the source cluster,
# then one `mirror --exit-at-end` run into the local 3-broker cluster
# (RF 3, acks=all, idempotent). Prints the mirror's summary and its CPU time.
#
#   tools/services/all.sh start && eval "$(tools/services/all.sh env)"
#   benchmarks/ingest/mirror_bench.sh [EVENTS]          # default 200000
#
# The brokers share the machine with the mirror, so on a small box the
# figure is the brokers' (compare the mirror's CPU seconds with the wall time).
set -euo pipefail
cd "$(dirname "$0")/../.."
EVENTS=${1:-200000}
: "${PV_SERVICES_DIR:?eval \"\$(tools/services/all.sh env)\" first}"
: "${PV_KAFKA_SOURCE_BROKERS:?eval \"\$(tools/services/all.sh env)\" first}"
SOURCE_PROPS="$PV_SERVICES_DIR/kafka/source/client.properties"

bazel build //cc/ingest:mirror //tools/datagen >/dev/null 2>&1 || bazel build //cc/ingest:mirror //tools/datagen
BIN=$(bazel info bazel-bin 2>/dev/null)
TMP=$(mktemp -d)
trap 'rm -rf "$TMP"' EXIT

TOPIC="pv-bench-mirror-$$-$(date +%s)"
"$BIN/tools/datagen/datagen" --events="$EVENTS" --output="$TMP/events.ndjson"
echo "events: $EVENTS ($(du -h "$TMP/events.ndjson" | cut -f1)) -> source topic $TOPIC (3 partitions, auto-created)"
kcat -F "$SOURCE_PROPS" -q -P -t "$TOPIC" -X linger.ms=20 <"$TMP/events.ndjson" 2>/dev/null

/usr/bin/time -f "mirror cpu: user %U s, sys %S s, max RSS %M KB" \
  "$BIN/cc/ingest/mirror" --source-topic="$TOPIC" --destination-topic="$TOPIC" \
  --group="$TOPIC" --exit-at-end 2>&1 | grep -v " [IW] mirror: \|^ \{0,1\}[a-z_-]* *= \|^$" || true
