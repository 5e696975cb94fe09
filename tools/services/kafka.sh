#!/usr/bin/env bash
# Apache Kafka (KRaft, from Maven Central jars on Java 17) on 127.0.0.1.
#
#   tools/services/kafka.sh start [local|source|all]   (default: all)
#   tools/services/kafka.sh stop  [local|source|all]
#   tools/services/kafka.sh status
#   tools/services/kafka.sh env
#   tools/services/kafka.sh stop-broker N    graceful stop of local broker N (1..3)
#   tools/services/kafka.sh kill-broker N    SIGKILL of local broker N
#   tools/services/kafka.sh start-broker N   start local broker N again
#   tools/services/kafka.sh fetch            only download the jars
#
# Layouts:
#   local   3 brokers in combined broker+controller mode. Clients use
#           SASL_PLAINTEXT/PLAIN (user $PV_KAFKA_USER, default `kafka`,
#           password $PV_KAFKA_PASSWORD, default as in the seed's
#           client.properties); controller and inter-broker listeners are
#           PLAINTEXT on loopback. RF 3, min ISR 2, 3 partitions by default.
#   source  1 broker with its own SASL user `source` (random password kept in
#           the state dir), RF 1: stands in for the seed's remote Kafka.
#
# The jars come from tools/services/kafka/pom.xml through Maven into
# $PV_CACHE_DIR/kafka-<version>/libs (downloaded once, then reused).
# Passwords only ever go to files of mode 600 in the state dir (JAAS config,
# client.properties), never to argv or logs.
PV_SERVICE_NAME=kafka
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

KAFKA_SH="$PV_REPO_ROOT/tools/services/kafka.sh"
KAFKA_POM="$PV_REPO_ROOT/tools/services/kafka/pom.xml"
KAFKA_VERSION="$(sed -n 's:.*<kafka.version>\(.*\)</kafka.version>.*:\1:p' "$KAFKA_POM")"
KAFKA_LIBS="$PV_CACHE_DIR/kafka-$KAFKA_VERSION/libs"
KAFKA_STATE="$PV_SERVICES_DIR/kafka"
KAFKA_JAVA_OPTS="${PV_KAFKA_JAVA_OPTS:--Xmx384m -Xms128m -XX:+UseSerialGC -XX:TieredStopAtLevel=1 -XX:+ExitOnOutOfMemoryError -Djava.awt.headless=true}"
KAFKA_USER="${PV_KAFKA_USER:-kafka}"
KAFKA_PASSWORD="${PV_KAFKA_PASSWORD:-UnigapKafka@2024}"
SOURCE_USER=source
PROBE_TOPIC=pv-probe

umask 077

fetch_jars() {
  local recorded="$KAFKA_STATE/libs.path"
  mkdir -p "$KAFKA_STATE"
  if [[ -f "$KAFKA_LIBS/.complete" ]]; then
    echo "$KAFKA_LIBS" >"$recorded"
    return 0
  fi
  # Started from a test whose HOME differs: reuse the jars the cluster was
  # started with.
  if [[ -s "$recorded" && -f "$(cat "$recorded")/.complete" &&
        "$(cat "$recorded")" == *"/kafka-$KAFKA_VERSION/libs" ]]; then
    KAFKA_LIBS="$(cat "$recorded")"
    return 0
  fi
  command -v mvn >/dev/null || pv_die "mvn not found (run tools/services/install.sh)"
  local tmp="$KAFKA_LIBS.tmp.$$" t0=$SECONDS
  rm -rf "$tmp"
  mkdir -p "$tmp"
  pv_log "fetching Kafka $KAFKA_VERSION jars with Maven into $KAFKA_LIBS"
  if ! mvn -q -B -f "$KAFKA_POM" dependency:copy-dependencies \
      -DoutputDirectory="$tmp" >"$tmp.log" 2>&1; then
    pv_log_tail "$tmp.log"
    rm -rf "$tmp"
    pv_die "maven could not fetch the Kafka jars"
  fi
  rm -f "$tmp.log"
  touch "$tmp/.complete"
  rm -rf "$KAFKA_LIBS"
  mv "$tmp" "$KAFKA_LIBS"
  echo "$KAFKA_LIBS" >"$recorded"
  pv_log "jars fetched in $((SECONDS - t0))s"
}

kjava() {
  java $KAFKA_JAVA_OPTS -cp "$KAFKA_LIBS/*" "$@"
}

# --- layout description ----------------------------------------------------

layout_nodes() {
  case "$1" in
    local) echo 1 2 3 ;;
    source) echo 1 ;;
    *) pv_die "unknown layout '$1' (local|source)" ;;
  esac
}

layout_dir() { echo "$KAFKA_STATE/$1"; }
node_dir() { echo "$KAFKA_STATE/$1/broker-$2"; }

layout_user() { if [[ $1 == local ]]; then echo "$KAFKA_USER"; else echo "$SOURCE_USER"; fi; }
layout_password() {
  if [[ $1 == local ]]; then
    echo "$KAFKA_PASSWORD"
  else
    local f
    f="$(layout_dir source)/password"
    if [[ -n "${PV_KAFKA_SOURCE_PASSWORD:-}" ]]; then
      echo "$PV_KAFKA_SOURCE_PASSWORD"
    elif [[ -s "$f" ]]; then
      cat "$f"
    else
      pv_random_secret | tee "$f"
    fi
  fi
}

# ports file: one line per node "N client internal controller".
layout_ports() {
  local layout="$1" f n
  f="$(layout_dir "$layout")/ports"
  if [[ ! -s "$f" ]]; then
    for n in $(layout_nodes "$layout"); do
      echo "$n $(pv_free_port) $(pv_free_port) $(pv_free_port)"
    done >"$f"
  fi
  cat "$f"
}

port_of() { # layout node field(2=client,3=internal,4=controller)
  layout_ports "$1" | awk -v n="$2" -v f="$3" '$1 == n { print $f }'
}

bootstrap_of() {
  local layout="$1" n out=()
  for n in $(layout_nodes "$layout"); do out+=("127.0.0.1:$(port_of "$layout" "$n" 2)"); done
  (IFS=,; echo "${out[*]}")
}

voters_of() {
  local layout="$1" n out=()
  for n in $(layout_nodes "$layout"); do out+=("$n@127.0.0.1:$(port_of "$layout" "$n" 4)"); done
  (IFS=,; echo "${out[*]}")
}

write_client_properties() {
  local layout="$1" user password
  user="$(layout_user "$layout")"
  password="$(layout_password "$layout")"
  cat >"$(layout_dir "$layout")/client.properties" <<EOF
# librdkafka / kcat (-F) client settings for the $layout cluster.
bootstrap.servers=$(bootstrap_of "$layout")
security.protocol=SASL_PLAINTEXT
sasl.mechanisms=PLAIN
sasl.username=$user
sasl.password=$password
EOF
}

write_log4j() {
  cat >"$(layout_dir "$1")/log4j.properties" <<'EOF'
log4j.rootLogger=INFO, stdout
log4j.appender.stdout=org.apache.log4j.ConsoleAppender
log4j.appender.stdout.layout=org.apache.log4j.PatternLayout
log4j.appender.stdout.layout.ConversionPattern=[%d] %p %m (%c)%n
log4j.logger.kafka=INFO
log4j.logger.org.apache.kafka=INFO
log4j.logger.state.change.logger=WARN
log4j.logger.kafka.request.logger=WARN
log4j.logger.kafka.log.LogCleaner=WARN
log4j.logger.org.apache.kafka.clients=WARN
EOF
}

write_server_properties() {
  local layout="$1" n="$2" dir user password rf minisr
  dir="$(node_dir "$layout" "$n")"
  user="$(layout_user "$layout")"
  password="$(layout_password "$layout")"
  [[ "$password" != *'"'* && "$password" != *'\'* ]] ||
    pv_die "the $layout password may not contain '\"' or '\\'"
  if [[ $layout == local ]]; then rf=3 minisr=2; else rf=1 minisr=1; fi
  local client internal controller
  client="$(port_of "$layout" "$n" 2)"
  internal="$(port_of "$layout" "$n" 3)"
  controller="$(port_of "$layout" "$n" 4)"
  mkdir -p "$dir/data"
  cat >"$dir/server.properties" <<EOF
# Written by tools/services/kafka.sh ($layout layout, node $n); rewritten on
# every start.
process.roles=broker,controller
node.id=$n
controller.quorum.voters=$(voters_of "$layout")
listeners=CLIENT://127.0.0.1:$client,INTERNAL://127.0.0.1:$internal,CONTROLLER://127.0.0.1:$controller
advertised.listeners=CLIENT://127.0.0.1:$client,INTERNAL://127.0.0.1:$internal
listener.security.protocol.map=CLIENT:SASL_PLAINTEXT,INTERNAL:PLAINTEXT,CONTROLLER:PLAINTEXT
inter.broker.listener.name=INTERNAL
controller.listener.names=CONTROLLER
sasl.enabled.mechanisms=PLAIN
listener.name.client.sasl.enabled.mechanisms=PLAIN
listener.name.client.plain.sasl.jaas.config=org.apache.kafka.common.security.plain.PlainLoginModule required user_$user="$password";
log.dirs=$dir/data
num.partitions=3
default.replication.factor=$rf
min.insync.replicas=$minisr
offsets.topic.replication.factor=$rf
offsets.topic.num.partitions=10
transaction.state.log.replication.factor=$rf
transaction.state.log.min.isr=$minisr
transaction.state.log.num.partitions=10
auto.create.topics.enable=true
unclean.leader.election.enable=false
group.initial.rebalance.delay.ms=0
num.network.threads=2
num.io.threads=4
num.recovery.threads.per.data.dir=1
log.retention.hours=168
EOF
}

format_storage() {
  local layout="$1" n="$2" dir cid
  dir="$(node_dir "$layout" "$n")"
  [[ -f "$dir/data/meta.properties" ]] && return 0
  cid="$(layout_dir "$layout")/cluster.id"
  if [[ ! -s "$cid" ]]; then
    if ! kjava kafka.tools.StorageTool random-uuid >"$cid.out" 2>&1; then
      pv_log_tail "$cid.out"
      rm -f "$cid"
      pv_die "StorageTool random-uuid failed"
    fi
    tail -1 "$cid.out" >"$cid"
    rm -f "$cid.out"
  fi
  if ! kjava -Dlog4j.configuration="file:$(layout_dir "$layout")/log4j.properties" \
      kafka.tools.StorageTool format -t "$(cat "$cid")" -c "$dir/server.properties" \
      --ignore-formatted >"$dir/format.log" 2>&1; then
    pv_log_tail "$dir/format.log"
    pv_die "formatting storage of $layout broker $n failed"
  fi
}

# --- processes ---------------------------------------------------------------

broker_running() { pv_pid_alive "$(node_dir "$1" "$2")/pid"; }
keeper_running() { pv_pid_alive "$(node_dir "$1" "$2")/keeper.pid"; }

# Each broker JVM runs under a small "keeper" shell (started with setsid by
# `start`) that relaunches it after `stop-broker N`/`kill-broker N` once
# `start-broker N` lifts the hold. So the restarted JVM is never a child of
# whoever called start-broker: a test run by bazel may call it, and bazel
# kills every descendant of a test when the test ends. A broker that exits
# without a hold (crash, `stop`) is not restarted, and its keeper exits.
keep_broker() {
  local layout="$1" n="$2" dir
  dir="$(node_dir "$layout" "$n")"
  trap 'exit 0' TERM INT
  fetch_jars
  while :; do
    if [[ -f "$dir/hold" ]]; then
      sleep 0.2
      continue
    fi
    write_server_properties "$layout" "$n"
    java $KAFKA_JAVA_OPTS \
      -Dlog4j.configuration="file:$(layout_dir "$layout")/log4j.properties" \
      -Dkafka.logs.dir="$dir" \
      -cp "$KAFKA_LIBS/*" kafka.Kafka "$dir/server.properties" \
      >>"$dir/broker.log" 2>&1 </dev/null &
    echo $! >"$dir/pid"
    wait $! || true
    echo "[keeper] broker $n exited" >>"$dir/broker.log"
    [[ -f "$dir/hold" ]] || exit 0
  done
}

launch_broker() {
  local layout="$1" n="$2" dir
  dir="$(node_dir "$layout" "$n")"
  if broker_running "$layout" "$n"; then return 0; fi
  local p
  for p in 2 3 4; do
    if pv_port_open "$(port_of "$layout" "$n" "$p")"; then
      pv_die "port $(port_of "$layout" "$n" "$p") of $layout broker $n is taken by another process (delete $(layout_dir "$layout") to pick new ports)"
    fi
  done
  write_server_properties "$layout" "$n"
  format_storage "$layout" "$n"
  rm -f "$dir/hold" "$dir/pid"
  if keeper_running "$layout" "$n"; then return 0; fi  # it relaunches now
  # setsid: the keeper (and broker) outlive the shell that started them.
  setsid "$KAFKA_SH" _keep "$layout" "$n" >>"$dir/broker.log" 2>&1 </dev/null &
  echo $! >"$dir/keeper.pid"
}

# Stops broker N's JVM but keeps its keeper waiting for start-broker.
hold_broker() {
  local layout="$1" n="$2" signal="$3" dir f
  dir="$(node_dir "$layout" "$n")"
  touch "$dir/hold"
  f="$dir/pid"
  if [[ "$signal" == KILL ]]; then
    if pv_pid_alive "$f"; then kill -KILL "$(cat "$f")" 2>/dev/null || true; fi
    PV_WAIT_SECONDS=10 pv_wait_until bash -c "! kill -0 $(cat "$f" 2>/dev/null || echo 0)" || true
    rm -f "$f"
  else
    pv_stop_pid "$f" 60
  fi
}

# kcat with the layout's client.properties (-F: no password in argv).
kcat_layout() {
  local layout="$1"
  shift
  kcat -q -F "$(layout_dir "$layout")/client.properties" "$@"
}

# Metadata lists broker N as up.
broker_in_metadata() {
  kcat_layout "$1" -L -m 5 -X socket.timeout.ms=3000 -X metadata.request.timeout.ms=3000 2>/dev/null |
    grep -q "broker $2 at "
}

# kcat -q exits 0 and prints nothing when the message was acknowledged.
probe_produce() {
  local out
  out="$(echo "probe $(date +%s.%N)" |
    kcat_layout "$1" -P -t "$PROBE_TOPIC" -X acks=all -X message.timeout.ms=8000 2>&1)" &&
    [[ -z "$out" ]] || { echo "$out"; return 1; }
}

broker_failure() {
  local layout="$1" n
  for n in "${@:2}"; do pv_log_tail "$(node_dir "$layout" "$n")/broker.log" 30; done
}

wait_brokers() {
  local layout="$1" n
  shift
  for n in "$@"; do
    local deadline=$((SECONDS + 90))
    until check_broker_up "$layout" "$n"; do
      # The keeper exits when the JVM dies on its own: no point waiting.
      if ! keeper_running "$layout" "$n" && ! broker_running "$layout" "$n"; then
        broker_failure "$layout" "$n"
        pv_die "$layout broker $n exited during start-up"
      fi
      if ((SECONDS >= deadline)); then
        broker_failure "$layout" "$n"
        pv_die "$layout broker $n did not come up within 90s"
      fi
      sleep 0.3
    done
  done
}

check_broker_up() {
  broker_running "$1" "$2" || return 1
  pv_port_open "$(port_of "$1" "$2" 2)" || return 1
  broker_in_metadata "$1" "$2"
}

start_layout() {
  local layout="$1" n nodes t0=$SECONDS
  nodes=($(layout_nodes "$layout"))
  mkdir -p "$(layout_dir "$layout")"
  local all_up=1
  for n in "${nodes[@]}"; do broker_running "$layout" "$n" || all_up=0; done
  if ((all_up)); then
    pv_log "$layout: already running ($(bootstrap_of "$layout"))"
    return 0
  fi
  fetch_jars
  layout_ports "$layout" >/dev/null
  write_log4j "$layout"
  write_client_properties "$layout"
  for n in "${nodes[@]}"; do launch_broker "$layout" "$n"; done
  wait_brokers "$layout" "${nodes[@]}"
  if ! PV_WAIT_SECONDS=60 pv_wait_until probe_produce "$layout"; then
    probe_produce "$layout" || true
    broker_failure "$layout" "${nodes[@]}"
    pv_die "$layout: a produce with acks=all to $PROBE_TOPIC did not succeed"
  fi
  pv_log "$layout: ready at $(bootstrap_of "$layout") in $((SECONDS - t0))s"
}

stop_layout() {
  local layout="$1" n pids=() dir
  [[ -d "$(layout_dir "$layout")" ]] || return 0
  for n in $(layout_nodes "$layout"); do
    dir="$(node_dir "$layout" "$n")"
    pv_stop_pid "$dir/keeper.pid" 5
    rm -f "$dir/hold"
  done
  # Stop in parallel: a lone remaining controller cannot finish a controlled
  # shutdown without a quorum, so sequential stops would wait on timeouts.
  for n in $(layout_nodes "$layout"); do
    pv_stop_pid "$(node_dir "$layout" "$n")/pid" 30 &
    pids+=($!)
  done
  for n in "${pids[@]}"; do wait "$n"; done
  pv_log "$layout: stopped"
}

check_local_node() {
  [[ "$1" =~ ^[123]$ ]] || pv_die "broker number must be 1, 2 or 3 (got '${1:-}')"
  [[ -s "$(layout_dir local)/ports" ]] || pv_die "local layout not initialized: run '$0 start local'"
}

layouts_of() {
  case "${1:-all}" in
    all) echo local source ;;
    local | source) echo "$1" ;;
    *) pv_die "unknown layout '$1' (local|source|all)" ;;
  esac
}

cmd_status() {
  local layout n rc=0
  for layout in local source; do
    if [[ ! -s "$(layout_dir "$layout")/ports" ]]; then
      echo "kafka $layout: not initialized"
      rc=3
      continue
    fi
    for n in $(layout_nodes "$layout"); do
      if broker_running "$layout" "$n"; then
        echo "kafka $layout broker $n: running on 127.0.0.1:$(port_of "$layout" "$n" 2) pid $(cat "$(node_dir "$layout" "$n")/pid")"
      else
        echo "kafka $layout broker $n: stopped"
        rc=3
      fi
    done
  done
  return $rc
}

cmd_env() {
  local any=0
  if [[ -s "$(layout_dir local)/ports" ]]; then
    pv_export PV_KAFKA_BROKERS "$(bootstrap_of local)"
    pv_export PV_KAFKA_USER "$KAFKA_USER"
    pv_export PV_KAFKA_PASSWORD "$KAFKA_PASSWORD"
    pv_export PV_KAFKA_SECURITY_PROTOCOL SASL_PLAINTEXT
    pv_export PV_KAFKA_SASL_MECHANISM PLAIN
    any=1
  fi
  if [[ -s "$(layout_dir source)/ports" ]]; then
    pv_export PV_KAFKA_SOURCE_BROKERS "$(bootstrap_of source)"
    pv_export PV_KAFKA_SOURCE_USER "$SOURCE_USER"
    pv_export PV_KAFKA_SOURCE_PASSWORD "$(layout_password source)"
    any=1
  fi
  ((any)) || pv_die "not initialized: run tools/services/kafka.sh start"
}

case "${1:-}" in
  fetch) fetch_jars ;;
  start) for l in $(layouts_of "${2:-all}"); do start_layout "$l"; done ;;
  stop) for l in $(layouts_of "${2:-all}"); do stop_layout "$l"; done ;;
  status) cmd_status ;;
  env) cmd_env ;;
  stop-broker)
    check_local_node "${2:-}"
    hold_broker local "$2" TERM
    pv_log "local broker $2 stopped"
    ;;
  kill-broker)
    check_local_node "${2:-}"
    hold_broker local "$2" KILL
    pv_log "local broker $2 killed"
    ;;
  start-broker)
    check_local_node "${2:-}"
    fetch_jars
    launch_broker local "$2"
    wait_brokers local "$2"
    pv_log "local broker $2 up"
    ;;
  _keep) keep_broker "$2" "$3" ;;
  *)
    echo "usage: $0 start|stop [local|source|all] | status | env | stop-broker N | kill-broker N | start-broker N | fetch" >&2
    exit 2
    ;;
esac
