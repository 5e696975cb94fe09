#!/usr/bin/env bash
# Mirror throughput by delivery mode: EVENTS datagen events loaded once into
# a source topic, then `mirror --exit-at-end` runs of that same topic into
# fresh destination topics of the local 3-broker cluster (RF 3, acks=all):
# at-least-once (idempotent producer, the peer) and exactly-once with each
# transaction interval of INTERVALS. The modes take turns, ROUNDS times, so
# a noisy neighbour hits all of them alike; the figure per mode is the
# median of its rounds, in messages/s over the copying time (start-up, i.e.
# topic creation, fencing and the checkpoint read, shown apart), and its
# ratio to at-least-once.
#
#   tools/services/all.sh start && eval "$(tools/services/all.sh env)"
#   benchmarks/ingest/mirror_bench.sh [EVENTS [ROUNDS [INTERVALS]]]
#   # defaults: 300000 events, 5 rounds, intervals "100ms 250ms 500ms 1s"
#
# The brokers share the machine with the mirror, so on a small box the
# figure is mostly the brokers' (compare the mirror's CPU with the wall time).
set -euo pipefail
cd "$(dirname "$0")/../.."
EVENTS=${1:-300000}
ROUNDS=${2:-5}
INTERVALS=${3:-"100ms 250ms 500ms 1s"}
: "${PV_KAFKA_SOURCE_BROKERS:?eval \"\$(tools/services/all.sh env)\" first}"
: "${PV_KAFKA_BROKERS:?eval \"\$(tools/services/all.sh env)\" first}"

bazel build //cc/ingest:mirror //tools/datagen //tools:kafka_count >/dev/null 2>&1 ||
  bazel build //cc/ingest:mirror //tools/datagen //tools:kafka_count
BIN=$(bazel info bazel-bin 2>/dev/null)
TMP=$(mktemp -d)
# Every topic the benchmark made goes at the end (each run's copy takes
# about EVENTS x 1 KB x 3 replicas of the local brokers' disk).
TOPICS=()
cleanup() {
  for t in "${TOPICS[@]}"; do
    "$BIN/tools/kafka_count" --topic="$t" --delete-topic >/dev/null 2>&1 || true
  done
  PV_KAFKA_PASSWORD="$PV_KAFKA_SOURCE_PASSWORD" KAFKA_SASL_PASSWORD="$PV_KAFKA_SOURCE_PASSWORD" \
    "$BIN/tools/kafka_count" --topic="$RUN" --delete-topic --brokers="$PV_KAFKA_SOURCE_BROKERS" \
    --sasl-username="$PV_KAFKA_SOURCE_USER" >/dev/null 2>&1 || true
  rm -rf "$TMP"
}
trap cleanup EXIT

RUN="pv-bench-mirror-$$-$(date +%s)"
"$BIN/tools/datagen/datagen" --events="$EVENTS" --kafka_topic="$RUN" --kafka_env=PV_KAFKA_SOURCE |
  tail -1

modes=("at-least-once")
for i in $INTERVALS; do modes+=("exactly-once/$i"); done

# One run: prints "messages rate startup cpu" or fails loudly.
run_one() {
  local mode=$1 n=$2 dst="$RUN-$n" args=()
  case $mode in
    at-least-once) args=(--delivery=at-least-once) ;;
    exactly-once/*) args=(--delivery=exactly-once "--transaction-interval=${mode#*/}"
                          "--checkpoint-topic=$dst-checkpoints") ;;
  esac
  /usr/bin/time -f "cpu %U %S" -o "$TMP/time" \
    "$BIN/cc/ingest/mirror" --source-topic="$RUN" --destination-topic="$dst" \
    --group="$dst" --exit-at-end "${args[@]}" >"$TMP/out" 2>&1 || {
    echo "mirror ($mode) failed:" >&2
    tail -20 "$TMP/out" >&2
    exit 1
  }
  local messages rate startup cpu
  messages=$(awk '/^  messages /{print $2}' "$TMP/out")
  startup=$(sed -n 's/^  time .*start-up \([0-9.]*\) s.*/\1/p' "$TMP/out")
  rate=$(sed -n 's/^  time .*then \([0-9]*\) msgs\/s.*/\1/p' "$TMP/out")
  cpu=$(awk '{print $2 + $3}' "$TMP/time")
  if [[ "$messages" != "$EVENTS" ]]; then
    echo "mirror ($mode) copied $messages of $EVENTS messages" >&2
    exit 1
  fi
  echo "$messages $rate $startup $cpu"
}

n=0
for ((r = 1; r <= ROUNDS; r++)); do
  for mode in "${modes[@]}"; do
    n=$((n + 1))
    TOPICS+=("$RUN-$n" "$RUN-$n-checkpoints")
    read -r messages rate startup cpu < <(run_one "$mode" "$n")
    printf 'round %d  %-20s %8s msgs/s  start-up %5s s  cpu %5.2f s\n' \
      "$r" "$mode" "$rate" "$startup" "$cpu"
    echo "$mode $rate $startup $cpu" >>"$TMP/results"
  done
done

echo
echo "median of $ROUNDS rounds, $EVENTS messages each (the peer: at-least-once)"
python3 - "$TMP/results" <<'EOF'
import statistics, sys
rows = {}
for line in open(sys.argv[1]):
    mode, rate, startup, cpu = line.split()
    rows.setdefault(mode, []).append((float(rate), float(startup), float(cpu)))
peer = statistics.median(r[0] for r in rows["at-least-once"])
print(f"{'mode':22} {'msgs/s':>9} {'ratio':>6} {'start-up s':>10} {'cpu s':>6}")
for mode, runs in rows.items():
    rate = statistics.median(r[0] for r in runs)
    print(f"{mode:22} {rate:9.0f} {rate / peer:6.2f} "
          f"{statistics.median(r[1] for r in runs):10.2f} {statistics.median(r[2] for r in runs):6.2f}")
EOF
