#!/usr/bin/env bash
# Checks the deployment files: docker/compose.yaml, docker/Dockerfile,
# docker/.env.example, tools/systemd/pv-batch.{service,timer} and
# tools/cron/pv-batch.crontab. Prints one line per check (PASS, FAIL or SKIP
# with the reason) and exits 1 if any check failed. Needs no Docker engine and
# starts nothing. The consistency checks (step 5) are tools/check_deploy.py,
# which this script runs with the environment it sets up below.
#
#   tools/check_deploy.sh
#
# Tools used when present (tools/bootstrap.sh installs them):
#   docker compose (v2 plugin) or docker-compose (Debian package docker-compose)
#   hadolint (not packaged in Debian: skipped when absent)
#   systemd-analyze (Debian package systemd)
#   python3 with PyYAML (Debian package python3-yaml)
#   readelf (binutils, with g++)
# The batch binary's flags are read from its --help when it has been built
# (bazel build //cc/etl:batch); set PV_BIN_DIR to use another bazel-bin.
set -uo pipefail
cd "$(dirname "$0")/.."
ROOT=$(pwd)

# ---------------------------------------------------------------------------
# What the stages read (environment variables; flags aside). The compose file
# may set only these on each stage's service, and must set the required ones
# ("A|B": either). Keep in step with cc/ingest/*_main.cc and cc/etl/batch_main.cc.
STAGE_ENV_mirror="SOURCE_BROKERS SOURCE_TOPIC SOURCE_SECURITY_PROTOCOL SOURCE_SASL_MECHANISM
  SOURCE_SASL_USERNAME SOURCE_SASL_PASSWORD DESTINATION_BROKERS KAFKA_BROKERS DESTINATION_TOPIC
  KAFKA_SASL_USERNAME KAFKA_SASL_PASSWORD KAFKA_SECURITY_PROTOCOL KAFKA_SASL_MECHANISM
  SOURCE_GROUP_ID MAX_MESSAGES MIRROR_DELIVERY SOURCE_PARTITIONS MIRROR_TRANSACTIONAL_ID
  PV_METRICS_ADDRESS"
STAGE_REQUIRED_mirror="SOURCE_BROKERS DESTINATION_BROKERS|KAFKA_BROKERS KAFKA_SASL_USERNAME KAFKA_SASL_PASSWORD"
STAGE_ENV_consume="KAFKA_BROKERS KAFKA_TOPIC KAFKA_GROUP_ID KAFKA_SASL_USERNAME KAFKA_SASL_PASSWORD
  PV_SEGMENTS_DIR MONGO_HOST MONGO_PORT MONGO_DB MONGO_COLLECTION MONGO_URI PV_MONGO_SINK
  PV_METRICS_ADDRESS"
STAGE_REQUIRED_consume="KAFKA_BROKERS KAFKA_SASL_USERNAME KAFKA_SASL_PASSWORD PV_SEGMENTS_DIR"
STAGE_ENV_batch="PV_SEGMENTS_DIR PV_QUARANTINE_DIR PGHOST PGPORT PGUSER PGDATABASE PGPASSWORD PGSERVICE
  POSTGRES_HOST POSTGRES_PORT POSTGRES_USER POSTGRES_PASSWORD POSTGRES_DB"
STAGE_REQUIRED_batch="PV_SEGMENTS_DIR POSTGRES_HOST|PGHOST POSTGRES_PASSWORD|PGPASSWORD"
# ---------------------------------------------------------------------------

COMPOSE=docker/compose.yaml
ENV_EXAMPLE=docker/.env.example
DOCKERFILE=docker/Dockerfile
UNITS=(tools/systemd/pv-batch.service tools/systemd/pv-batch.timer)
CRONTAB=tools/cron/pv-batch.crontab
BIN_DIR=${PV_BIN_DIR:-bazel-out/k8-opt/bin}
BATCH_BIN=$BIN_DIR/cc/etl/batch

passed=0; failed=0; skipped=0
TMP=$(mktemp -d)
trap 'rm -rf "$TMP"' EXIT

pass() { passed=$((passed + 1)); echo "PASS $*"; }
fail() { failed=$((failed + 1)); echo "FAIL $*"; }
skip() { skipped=$((skipped + 1)); echo "SKIP $*"; }
indent() { sed 's/^/     | /'; }

for f in "$COMPOSE" "$ENV_EXAMPLE" "$DOCKERFILE" "${UNITS[@]}" "$CRONTAB"; do
  [[ -f $f ]] || fail "missing file $f"
done

# --- 1. Compose's own validation (schema, interpolation, references) --------
compose_cmd=()
if docker compose version >/dev/null 2>&1; then
  compose_cmd=(docker compose)
elif command -v docker-compose >/dev/null 2>&1; then
  compose_cmd=(docker-compose)
fi
if ((${#compose_cmd[@]})); then
  if out=$("${compose_cmd[@]}" -f "$COMPOSE" --env-file "$ROOT/$ENV_EXAMPLE" config -q 2>&1); then
    pass "compose config ($(${compose_cmd[@]} version --short 2>/dev/null || echo "${compose_cmd[*]}")): $COMPOSE is valid with $ENV_EXAMPLE"
  else
    fail "compose config: $COMPOSE"; echo "$out" | indent
  fi
  # The batch service must be runnable on demand although `up` skips it.
  if out=$("${compose_cmd[@]}" -f "$COMPOSE" --env-file "$ROOT/$ENV_EXAMPLE" --profile batch config --services 2>&1) \
      && grep -qx batch <<<"$out"; then
    pass "compose: service batch is defined behind profile 'batch' (run with: docker compose run --rm batch)"
  else
    fail "compose: batch service not found with --profile batch"; echo "$out" | indent
  fi
else
  skip "compose config: neither the docker compose plugin nor docker-compose is installed (Debian package docker-compose)"
fi

# --- 2. Dockerfile lint -----------------------------------------------------
if command -v hadolint >/dev/null 2>&1; then
  if out=$(hadolint "$DOCKERFILE" 2>&1); then pass "hadolint $DOCKERFILE"
  else fail "hadolint $DOCKERFILE"; echo "$out" | indent; fi
else
  skip "hadolint: not installed (not packaged in Debian 12)"
fi

# --- 3. systemd units -------------------------------------------------------
# `systemd-analyze verify` parses both units offline (unknown keys, bad
# calendar specs, the timer's target unit, that ExecStart's program exists:
# /bin/sh here). Warnings go to its output with exit status 0, so any output
# is a failure too. The command inside `sh -c` is checked in step 4.
if command -v systemd-analyze >/dev/null 2>&1; then
  if out=$(systemd-analyze verify "${UNITS[@]}" 2>&1) && [[ -z $out ]]; then
    pass "systemd-analyze verify ${UNITS[*]} ($(systemd-analyze --version | head -1 | cut -d' ' -f1-2))"
  else
    fail "systemd-analyze verify ${UNITS[*]}"; echo "$out" | indent
  fi
else
  skip "systemd-analyze: not installed (Debian package systemd)"
fi

# --- 4. The scheduled commands: shell syntax, the date, the batch flags -----
batch_help=""
if [[ -x $BATCH_BIN ]]; then
  batch_help=$("$BATCH_BIN" --help 2>&1)
else
  skip "batch flags: $BATCH_BIN not built (bazel build //cc/etl:batch), flag names not checked"
fi
export BATCH_HELP=$batch_help

# --- 5. Consistency (python3 + PyYAML): tools/check_deploy.py ----------------
PY=""
for p in python3 /usr/bin/python3; do
  if command -v "$p" >/dev/null 2>&1 && "$p" -c 'import yaml' 2>/dev/null; then PY=$p; break; fi
done
if [[ -z $PY ]]; then
  fail "consistency checks need python3 with PyYAML (Debian package python3-yaml)"
else
  export STAGE_ENV_mirror STAGE_ENV_consume STAGE_ENV_batch
  export STAGE_REQUIRED_mirror STAGE_REQUIRED_consume STAGE_REQUIRED_batch
  export COMPOSE ENV_EXAMPLE DOCKERFILE CRONTAB BIN_DIR TMP
  export UNIT_SERVICE=${UNITS[0]}
  # The checks themselves: tools/check_deploy.py (reads the variables exported above).
  "$PY" "$ROOT/tools/check_deploy.py" </dev/null
  rc=$?
  # Fold the Python checks into the totals: one line each above.
  if [[ $rc -eq 0 ]]; then pass "consistency checks"; else fail "consistency checks"; fi
fi

echo
echo "check_deploy: $passed checks ok, $failed failing, $skipped skipped"
[[ $failed -eq 0 ]]
