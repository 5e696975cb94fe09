#!/usr/bin/env bash
# All local services at once: PostgreSQL, Kafka (local 3 brokers + source),
# FerretDB, Prometheus.
#
#   tools/services/all.sh start|stop|status|env
#
#   eval "$(tools/services/all.sh env)"   # connection settings for tests
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"

case "${1:-}" in
  start)
    "$here/postgres.sh" start
    "$here/kafka.sh" start all
    "$here/ferretdb.sh" start
    "$here/prometheus.sh" start
    ;;
  stop)
    rc=0
    "$here/prometheus.sh" stop || rc=1
    "$here/ferretdb.sh" stop || rc=1
    "$here/kafka.sh" stop all || rc=1
    "$here/postgres.sh" stop || rc=1
    exit $rc
    ;;
  status)
    rc=0
    "$here/postgres.sh" status || rc=$?
    "$here/kafka.sh" status || rc=$?
    "$here/ferretdb.sh" status || rc=$?
    "$here/prometheus.sh" status || rc=$?
    exit $rc
    ;;
  env)
    "$here/postgres.sh" env
    "$here/kafka.sh" env
    "$here/ferretdb.sh" env
    "$here/prometheus.sh" env
    source "$here/lib.sh"
    pv_export PV_REPO_ROOT "$PV_REPO_ROOT"
    pv_export PV_SERVICES_DIR "$PV_SERVICES_DIR"
    ;;
  *) echo "usage: $0 start|stop|status|env" >&2; exit 2 ;;
esac
