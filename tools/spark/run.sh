#!/usr/bin/env bash
# The nightly batch with its scan as Spark tasks (tools/spark/driver.py):
#
#   tools/spark/run.sh --master=URL --segments=DIR --pg=CONNINFO [--quarantine=DIR]
#                      [--partials=DIR] [--tasks=N] [--task-threads=N]
#                      [--batch-binary=PATH] [-- more batch flags]
#
#   --master        Spark master: local[N] (tasks on this machine; retries
#                   are enabled, as local[N,4]), spark://host:7077, ...
#   --segments      the segments directory, at the same path on every
#                   executor (a shared filesystem) -- read by the tasks
#   --pg            PostgreSQL conninfo without the password (PGPASSWORD or
#                   ~/.pgpass); only the driver connects
#   --quarantine    where invalid records go (default <segments>/quarantine);
#                   every executor writes it
#   --partials      where the tasks publish their partial results: shared,
#                   writable by every executor (default
#                   <segments>/.partials/run-<UTC time>-<pid>, removed after
#                   a successful load, kept after a failure for inspection)
#   --tasks         tasks per scan step (default: 2 per core of the cluster)
#   --task-threads  scan threads per task (default 1)
#   --batch-binary  the batch binary shipped to the executors with the job
#                   (default: bazel-bin/cc/etl/batch, built if missing); the
#                   executors need its runtime libraries (the Debian packages
#                   the Docker image installs)
#   -- ...          more batch flags: --late-days, --date, --from/--to, --full,
#                   --max-invalid-ratio, --metrics-file, --threads (of the
#                   merge and load) ...
#
# pyspark (the version pinned in benchmarks/e2e/requirements.txt) is
# installed into the project's Python environment, .run/bench-venv, when
# missing (tools/spark/install.sh); Spark needs java (17) on PATH, and the
# executors a python 3: PYSPARK_PYTHON, default this venv's interpreter (fine
# for local[N]; set it to the executors' python on a cluster). Exit code:
# the batch's (0 loaded, 1 failed and nothing loaded, 3 too many invalid
# records, ...).
set -euo pipefail

REPO="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
VENV="${PV_VENV:-$REPO/.run/bench-venv}"
log() { printf '[spark/run.sh] %s\n' "$*" >&2; }
usage() { sed -n '2,36p' "${BASH_SOURCE[0]}" | sed 's/^# \{0,1\}//'; }

master="" segments="" pg="" quarantine="" partials="" tasks=0 task_threads=1 binary=""
batch_flags=()
while [[ $# -gt 0 ]]; do
  case "$1" in
    --master=*) master="${1#*=}" ;;
    --segments=*) segments="${1#*=}" ;;
    --pg=*) pg="${1#*=}" ;;
    --quarantine=*) quarantine="${1#*=}" ;;
    --partials=*) partials="${1#*=}" ;;
    --tasks=*) tasks="${1#*=}" ;;
    --task-threads=*) task_threads="${1#*=}" ;;
    --batch-binary=*) binary="${1#*=}" ;;
    -h|--help) usage; exit 0 ;;
    --) shift; batch_flags=("$@"); break ;;
    *) log "unknown argument: $1 (see --help)"; exit 2 ;;
  esac
  shift
done
[[ -n "$master" && -n "$segments" ]] || { log "--master and --segments are required (see --help)"; exit 2; }
[[ -d "$segments" ]] || { log "--segments=$segments is not a directory"; exit 2; }
segments="$(cd "$segments" && pwd)"

if [[ -z "$binary" ]]; then
  binary="$REPO/bazel-bin/cc/etl/batch"
  if [[ ! -x "$binary" ]]; then
    log "building //cc/etl:batch"
    (cd "$REPO" && bazel build //cc/etl:batch >&2)
  fi
fi
[[ -x "$binary" ]] || { log "--batch-binary=$binary is not an executable"; exit 2; }

"$REPO/tools/spark/install.sh"
java -version >/dev/null 2>&1 || { log "Spark needs java (17) on PATH"; exit 1; }

own_partials=0
if [[ -z "$partials" ]]; then
  partials="$segments/.partials/run-$(date -u +%Y%m%dT%H%M%S)-$$"
  own_partials=1
fi
mkdir -p "$partials"

args=(--master="$master" --segments="$segments" --partials="$partials" --batch-binary="$binary"
      --tasks="$tasks" --task-threads="$task_threads")
[[ -n "$pg" ]] && args+=(--pg="$pg")
[[ -n "$quarantine" ]] && args+=(--quarantine="$quarantine")
unset PYSPARK_HADOOP_VERSION
export PYSPARK_PYTHON="${PYSPARK_PYTHON:-$VENV/bin/python}"  # the executors' python
set +e
"$VENV/bin/python" "$REPO/tools/spark/driver.py" "${args[@]}" -- "${batch_flags[@]}"
code=$?
set -e
if [[ $code -eq 0 && $own_partials -eq 1 ]]; then
  rm -rf "$partials"
elif [[ $code -ne 0 ]]; then
  log "failed (exit $code); the partials are kept in $partials"
fi
exit $code
