#!/usr/bin/env bash
# FerretDB v1 (MongoDB wire protocol, SQLite storage) on 127.0.0.1.
#
#   tools/services/ferretdb.sh start|stop|status|env|build
#
# The server is our own small Go main (tools/services/ferretdb/) around the
# embeddable github.com/FerretDB/FerretDB/ferretdb package, built once into
# $PV_CACHE_DIR/ferretdb/ (keyed by a hash of its sources) and reused.
# env prints PV_MONGO_URI, MONGO_HOST, MONGO_PORT.
#
# Why SQLite: measured 2026-12-01 (100,000 datagen events, consume --mongo
# --exit-at-end): SQLite backend 5,092 messages/s, PostgreSQL backend
# (pv-ferretdb --postgresql-url, same server) 5,089 messages/s, consume
# without MongoDB 81,851 messages/s; FerretDB's own BSON work is the bound
# (113 % CPU) either way, and mongo_check took 38 s and 35 s. SQLite needs
# no database of its own and no start order.
PV_SERVICE_NAME=ferretdb
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

FERRET_SRC="$PV_REPO_ROOT/tools/services/ferretdb"
FERRET_STATE="$PV_SERVICES_DIR/ferretdb"
FERRET_PORT_FILE="$PV_SERVICES_DIR/ferretdb.port"
FERRET_PID="$FERRET_STATE/pid"
FERRET_LOG="$FERRET_STATE/ferretdb.log"

ferret_binary() {
  local key
  key="$(cat "$FERRET_SRC/go.mod" "$FERRET_SRC/go.sum" "$FERRET_SRC/main.go" | sha256sum | cut -c1-12)"
  echo "$PV_CACHE_DIR/ferretdb/pv-ferretdb-$key"
}

cmd_build() {
  local bin t0=$SECONDS
  bin="$(ferret_binary)"
  [[ -x "$bin" ]] && return 0
  command -v go >/dev/null || pv_die "go not found (run tools/services/install.sh)"
  mkdir -p "$(dirname "$bin")"
  pv_log "building $bin (first time only)"
  if ! (cd "$FERRET_SRC" && CGO_ENABLED=0 go build -trimpath -o "$bin.tmp.$$" .) \
      >"$bin.build.log" 2>&1; then
    pv_log_tail "$bin.build.log"
    rm -f "$bin.tmp.$$"
    pv_die "go build failed"
  fi
  mv "$bin.tmp.$$" "$bin"
  rm -f "$bin.build.log"
  pv_log "built in $((SECONDS - t0))s"
}

cmd_start() {
  mkdir -p "$FERRET_STATE/data"
  if pv_pid_alive "$FERRET_PID"; then
    pv_log "already running on 127.0.0.1:$(cat "$FERRET_PORT_FILE")"
    return 0
  fi
  cmd_build
  local port t0=$SECONDS
  port="$(pv_port_from "$FERRET_PORT_FILE")"
  if pv_port_open "$port"; then
    pv_log "port $port is taken by another process; picking a new one"
    port="$(pv_free_port)"
    echo "$port" >"$FERRET_PORT_FILE"
  fi
  setsid "$(ferret_binary)" --listen-addr="127.0.0.1:$port" \
    --sqlite-dir="$FERRET_STATE/data/" --log-level=warn \
    >>"$FERRET_LOG" 2>&1 </dev/null &
  echo $! >"$FERRET_PID"
  if ! PV_WAIT_SECONDS=30 pv_wait_until pv_port_open "$port" || ! pv_pid_alive "$FERRET_PID"; then
    pv_log_tail "$FERRET_LOG"
    pv_stop_pid "$FERRET_PID" 5
    pv_die "FerretDB did not start"
  fi
  pv_log "ready on 127.0.0.1:$port ($((SECONDS - t0))s)"
}

cmd_stop() {
  pv_stop_pid "$FERRET_PID" 20
  pv_log "stopped"
}

cmd_status() {
  if pv_pid_alive "$FERRET_PID"; then
    echo "ferretdb: running on 127.0.0.1:$(cat "$FERRET_PORT_FILE") pid $(cat "$FERRET_PID")"
  else
    echo "ferretdb: stopped"
    return 3
  fi
}

cmd_env() {
  [[ -s "$FERRET_PORT_FILE" ]] || pv_die "not initialized: run tools/services/ferretdb.sh start"
  local port
  port="$(cat "$FERRET_PORT_FILE")"
  pv_export PV_MONGO_URI "mongodb://127.0.0.1:$port/"
  pv_export MONGO_HOST 127.0.0.1
  pv_export MONGO_PORT "$port"
}

case "${1:-}" in
  build) cmd_build ;;
  start) cmd_start ;;
  stop) cmd_stop ;;
  status) cmd_status ;;
  env) cmd_env ;;
  *) echo "usage: $0 start|stop|status|env|build" >&2; exit 2 ;;
esac
