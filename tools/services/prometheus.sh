#!/usr/bin/env bash
# A throwaway Prometheus (Debian package `prometheus`) on 127.0.0.1 for tests
# and the demo: it scrapes whatever targets are listed in
# $PV_SERVICES_DIR/prometheus/targets/*.json (file_sd: tests and the demo
# drop a file there for each stage they start, and delete it after) every
# second, and evaluates docker/prometheus/alerts.yml.
#
#   tools/services/prometheus.sh start|stop|status|env
#
# A target file ([{"targets": ["127.0.0.1:PORT"], "labels": {"job": "consume"}}])
# is picked up within ~5 s (Prometheus applies target changes on a 5 s tick).
# Listens on 127.0.0.1 only; no alertmanager, remote write or discovery other
# than the files, so it connects to nothing but the listed loopback targets.
# env prints PV_PROMETHEUS_URL and PV_PROMETHEUS_TARGETS_DIR.
PV_SERVICE_NAME=prometheus
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

PROM_BIN="${PV_PROMETHEUS_BIN:-/usr/bin/prometheus}"
PROM_DIR="$PV_SERVICES_DIR/prometheus"
PROM_PORT_FILE="$PROM_DIR/port"
PROM_PID="$PROM_DIR/prometheus.pid"
PROM_LOG="$PROM_DIR/prometheus.log"
PROM_TARGETS="$PROM_DIR/targets"
PROM_RULES="$PV_REPO_ROOT/docker/prometheus/alerts.yml"

prom_url() { echo "http://127.0.0.1:$(cat "$PROM_PORT_FILE")"; }

prom_ready() { curl -fsS --max-time 2 "$(prom_url)/-/ready" >/dev/null; }

cmd_start() {
  mkdir -p "$PROM_DIR/data" "$PROM_TARGETS"
  if pv_pid_alive "$PROM_PID"; then
    pv_log "already running on $(prom_url)"
    return 0
  fi
  [[ -x "$PROM_BIN" ]] || pv_die "no $PROM_BIN (apt-get install --no-install-recommends prometheus)"
  local port
  port="$(pv_port_from "$PROM_PORT_FILE")"
  if pv_port_open "$port"; then
    pv_log "port $port is taken by another process; picking a new one"
    port="$(pv_free_port)"
    echo "$port" >"$PROM_PORT_FILE"
  fi
  cat >"$PROM_DIR/prometheus.yml" <<YAML
# Written by tools/services/prometheus.sh
global:
  scrape_interval: 1s
  scrape_timeout: 1s
  evaluation_interval: 1s
rule_files:
  - $PROM_RULES
scrape_configs:
  - job_name: pv
    file_sd_configs:
      - files: ['$PROM_TARGETS/*.json']
        refresh_interval: 1s
YAML
  local t0=$SECONDS
  # setsid: the server outlives the shell (and a bazel test) that started it.
  setsid "$PROM_BIN" --config.file="$PROM_DIR/prometheus.yml" \
    --storage.tsdb.path="$PROM_DIR/data" --storage.tsdb.retention.time=1d \
    --web.listen-address="127.0.0.1:$port" --log.level=warn \
    </dev/null >"$PROM_LOG" 2>&1 &
  echo $! >"$PROM_PID"
  if ! PV_WAIT_SECONDS=30 pv_wait_until prom_ready; then
    pv_log_tail "$PROM_LOG"
    pv_stop_pid "$PROM_PID" 5
    pv_die "not ready on 127.0.0.1:$port"
  fi
  pv_log "ready on $(prom_url) (targets in $PROM_TARGETS, $((SECONDS - t0))s)"
}

cmd_stop() {
  pv_stop_pid "$PROM_PID" 10
  pv_log "stopped"
}

cmd_status() {
  if pv_pid_alive "$PROM_PID"; then
    echo "prometheus: running on $(prom_url) pid $(cat "$PROM_PID")"
  else
    echo "prometheus: stopped"
    return 3
  fi
}

cmd_env() {
  [[ -s "$PROM_PORT_FILE" ]] || pv_die "not initialized: run tools/services/prometheus.sh start"
  pv_export PV_PROMETHEUS_URL "$(prom_url)"
  pv_export PV_PROMETHEUS_TARGETS_DIR "$PROM_TARGETS"
}

case "${1:-}" in
  start) cmd_start ;;
  stop) cmd_stop ;;
  status) cmd_status ;;
  env) cmd_env ;;
  *) echo "usage: $0 start|stop|status|env" >&2; exit 2 ;;
esac
