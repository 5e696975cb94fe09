#!/usr/bin/env bash
# A throwaway PostgreSQL 15 cluster on 127.0.0.1 for tests and the demo.
#
#   tools/services/postgres.sh start|stop|status|env
#
# start   initdb on first use (state in $PV_SERVICES_DIR/pg), then start and
#         wait until user `pv` can log in to database `warehouse` over TCP.
#         PV_PG_FAST=1 turns durability off (fsync, synchronous_commit,
#         full_page_writes) for test speed; the demo leaves it unset.
# stop    fast shutdown through the postmaster's PID file.
# env     prints `export NAME=value` lines: PV_PG_CONNINFO (no password in
#         it), PGPASSWORD, PGHOST, PGPORT, PGUSER, PGDATABASE.
#
# initdb refuses to run as root; as root the cluster runs as the `postgres`
# system user that Debian's postgresql package creates (or `pvpg`, created
# here when that user is missing).
PV_SERVICE_NAME=postgres
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

PG_BIN="${PV_PG_BIN:-/usr/lib/postgresql/15/bin}"
PG_PORT_FILE="$PV_SERVICES_DIR/pg.port"
PG_PASSWORD_FILE="$PV_SERVICES_DIR/pg.password"
PG_DB=warehouse
PG_USER=pv

pg_os_user() {
  if [[ $(id -u) -ne 0 ]]; then
    id -un
  elif id postgres >/dev/null 2>&1; then
    echo postgres
  else
    id pvpg >/dev/null 2>&1 ||
      useradd --system --no-create-home --shell /usr/sbin/nologin pvpg
    echo pvpg
  fi
}

# The cluster's files live under $PV_SERVICES_DIR/pg, unless the cluster's
# OS user cannot traverse that path (a checkout under /root, or a private
# umask): then under /var/tmp, in a directory named after the state dir, so
# that the same state dir always finds the same cluster.
pg_state_dir() {
  mkdir -p "$PV_SERVICES_DIR"
  if [[ $(id -u) -eq 0 ]] && ! runuser -u "$(pg_os_user)" -- test -x "$PV_SERVICES_DIR" 2>/dev/null; then
    echo "/var/tmp/pv-pg-$(printf '%s' "$PV_SERVICES_DIR" | md5sum | cut -c1-12)"
  else
    echo "$PV_SERVICES_DIR/pg"
  fi
}
PG_STATE="$(pg_state_dir)"
PG_DATA="$PG_STATE/data"
PG_SOCK="$PG_STATE/sock"
PG_LOG="$PG_STATE/postgres.log"

# Runs a command as the cluster's OS user.
as_pg() {
  if [[ $(id -u) -eq 0 ]]; then
    runuser -u "$(pg_os_user)" -- "$@"
  else
    "$@"
  fi
}

pg_running() {
  [[ -f "$PG_DATA/postmaster.pid" ]] &&
    as_pg "$PG_BIN/pg_ctl" -D "$PG_DATA" status >/dev/null 2>&1
}

# Superuser SQL over the unix socket (trust, socket dir is private).
pg_admin_sql() {
  as_pg "$PG_BIN/psql" -X -q -v ON_ERROR_STOP=1 -h "$PG_SOCK" -p "$(cat "$PG_PORT_FILE")" \
    -U postgres -d postgres "$@"
}

pg_init() {
  [[ -x "$PG_BIN/initdb" ]] || pv_die "no $PG_BIN/initdb (run tools/services/install.sh)"
  local user
  user="$(pg_os_user)"
  # The cluster user must be able to reach its directory (see pg_state_dir).
  mkdir -p "$(dirname "$PG_STATE")"
  as_pg test -x "$(dirname "$PG_STATE")" ||
    pv_die "$user cannot traverse $(dirname "$PG_STATE") (set PV_SERVICES_DIR elsewhere)"
  rm -rf "$PG_STATE"
  mkdir -p "$PG_DATA" "$PG_SOCK"
  if [[ $(id -u) -eq 0 ]]; then chown -R "$user:" "$PG_STATE"; fi
  chmod 700 "$PG_STATE" "$PG_DATA" "$PG_SOCK"

  pv_port_from "$PG_PORT_FILE" >/dev/null
  if [[ ! -s "$PG_PASSWORD_FILE" ]]; then
    (umask 077 && pv_random_secret >"$PG_PASSWORD_FILE")
  fi

  pv_log "initdb in $PG_DATA (as $user)"
  as_pg "$PG_BIN/initdb" -D "$PG_DATA" -U postgres -E UTF8 --locale=C \
    --auth-local=trust --auth-host=scram-sha-256 >"$PV_SERVICES_DIR/pg.initdb.log" 2>&1 || {
    pv_log_tail "$PV_SERVICES_DIR/pg.initdb.log"
    pv_die "initdb failed"
  }
  # Only the unix socket (private dir) and 127.0.0.1 with a password.
  as_pg tee "$PG_DATA/pg_hba.conf" >/dev/null <<EOF
local all postgres trust
host  all all 127.0.0.1/32 scram-sha-256
EOF
  as_pg tee -a "$PG_DATA/postgresql.conf" >/dev/null <<EOF

# Written by tools/services/postgres.sh
include 'pv.conf'
include_if_exists 'pv_fast.conf'
EOF
}

pg_write_conf() {
  local port
  port="$(cat "$PG_PORT_FILE")"
  as_pg tee "$PG_DATA/pv.conf" >/dev/null <<EOF
listen_addresses = '127.0.0.1'
port = $port
unix_socket_directories = '$PG_SOCK'
password_encryption = 'scram-sha-256'
max_connections = 50
shared_buffers = 128MB
logging_collector = off
log_min_messages = warning
EOF
  if [[ "${PV_PG_FAST:-0}" == 1 ]]; then
    as_pg tee "$PG_DATA/pv_fast.conf" >/dev/null <<EOF
# Tests only (PV_PG_FAST=1): a crash may lose or corrupt this cluster.
fsync = off
synchronous_commit = off
full_page_writes = off
EOF
  else
    as_pg rm -f "$PG_DATA/pv_fast.conf"
  fi
}

# Creates role pv (password from the state dir, sent on stdin, never argv)
# and database warehouse; safe to run on every start.
pg_ensure_role_db() {
  local password
  password="$(cat "$PG_PASSWORD_FILE")"
  [[ "$password" =~ ^[A-Za-z0-9]+$ ]] || pv_die "$PG_PASSWORD_FILE: password must be alphanumeric"
  { printf "\\set pw '%s'\n" "$password"; cat <<'SQL'; } | pg_admin_sql >/dev/null
SELECT format('CREATE ROLE pv LOGIN PASSWORD %L', :'pw')
  WHERE NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'pv') \gexec
SELECT format('ALTER ROLE pv LOGIN CREATEDB PASSWORD %L', :'pw') \gexec
SELECT 'CREATE DATABASE warehouse OWNER pv'
  WHERE NOT EXISTS (SELECT 1 FROM pg_database WHERE datname = 'warehouse') \gexec
SQL
}

pg_tcp_login_ok() {
  PGPASSWORD="$(cat "$PG_PASSWORD_FILE")" "$PG_BIN/psql" -X -q -A -t \
    "host=127.0.0.1 port=$(cat "$PG_PORT_FILE") dbname=$PG_DB user=$PG_USER connect_timeout=5" \
    -c 'SELECT 1' 2>&1
}

cmd_start() {
  if pg_running; then
    pv_log "already running on 127.0.0.1:$(cat "$PG_PORT_FILE")"
    return 0
  fi
  [[ -f "$PG_DATA/PG_VERSION" && -s "$PG_PORT_FILE" && -s "$PG_PASSWORD_FILE" ]] || pg_init
  local port
  port="$(cat "$PG_PORT_FILE")"
  if pv_port_open "$port"; then
    pv_log "port $port is taken by another process; picking a new one"
    pv_free_port >"$PG_PORT_FILE"
  fi
  pg_write_conf
  local t0=$SECONDS
  if ! as_pg "$PG_BIN/pg_ctl" -D "$PG_DATA" -l "$PG_LOG" -w -t 60 start >/dev/null 2>&1; then
    pv_log_tail "$PG_LOG"
    pv_die "pg_ctl start failed"
  fi
  pg_ensure_role_db || { pv_log_tail "$PG_LOG"; pv_die "creating role/database failed"; }
  if ! PV_WAIT_SECONDS=30 pv_wait_until pg_tcp_login_ok; then
    pg_tcp_login_ok >&2 || true
    pv_log_tail "$PG_LOG"
    pv_die "user $PG_USER cannot log in over TCP"
  fi
  pv_log "ready on 127.0.0.1:$(cat "$PG_PORT_FILE") (db $PG_DB, fast=${PV_PG_FAST:-0}, $((SECONDS - t0))s)"
}

cmd_stop() {
  if [[ -f "$PG_DATA/postmaster.pid" ]]; then
    # pg_ctl signals the PID recorded in postmaster.pid and waits.
    as_pg "$PG_BIN/pg_ctl" -D "$PG_DATA" -m fast -w -t 60 stop >/dev/null 2>&1 || true
  fi
  if pg_running; then pv_die "still running after stop"; fi
  pv_log "stopped"
}

cmd_status() {
  if pg_running; then
    echo "postgres: running on 127.0.0.1:$(cat "$PG_PORT_FILE") pid $(head -1 "$PG_DATA/postmaster.pid")"
  else
    echo "postgres: stopped"
    return 3
  fi
}

cmd_env() {
  [[ -s "$PG_PORT_FILE" && -s "$PG_PASSWORD_FILE" ]] ||
    pv_die "not initialized: run tools/services/postgres.sh start"
  local port
  port="$(cat "$PG_PORT_FILE")"
  pv_export PV_PG_CONNINFO "host=127.0.0.1 port=$port dbname=$PG_DB user=$PG_USER"
  pv_export PGPASSWORD "$(cat "$PG_PASSWORD_FILE")"
  pv_export PGHOST 127.0.0.1
  pv_export PGPORT "$port"
  pv_export PGUSER "$PG_USER"
  pv_export PGDATABASE "$PG_DB"
}

case "${1:-}" in
  start) cmd_start ;;
  stop) cmd_stop ;;
  status) cmd_status ;;
  env) cmd_env ;;
  *) echo "usage: $0 start|stop|status|env" >&2; exit 2 ;;
esac
