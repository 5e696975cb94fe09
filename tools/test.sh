#!/usr/bin/env bash
# The full test suite (what CI runs, through .ci/run):
#   1. installs what is missing (tools/bootstrap.sh);
#   2. builds everything (bazel build //...);
#   3. runs the unit tests;
#   4. starts the real services on loopback (PostgreSQL, 3+1 Kafka brokers,
#      FerretDB) and runs the integration tests against them, the demo, and
#      the Spark test (tools/spark/spark_test.sh, when tools/spark/install.sh
#      can install pyspark), stopping the services on exit whatever happens;
#   5. runs the unit tests again under ASan+UBSan, and the parallel code under
#      TSan;
#   6. builds the libFuzzer targets with clang and fuzzes each briefly;
#   7. checks docker/compose.yaml and the systemd units where the tools exist,
#      and the Prometheus alert rules (promtool check rules / test rules).
# Exits non-zero if anything fails, and ends with "N passed, M failed".
#
#   tools/test.sh            # everything
#   tools/test.sh --quick    # build + unit + integration tests only
#   PV_FUZZ_SECONDS=300 tools/test.sh   # longer fuzzing
set -uo pipefail
cd "$(dirname "$0")/.."
ROOT=$(pwd)
QUICK=0
[[ "${1:-}" == "--quick" ]] && QUICK=1
FUZZ_SECONDS=${PV_FUZZ_SECONDS:-30}
export PV_SERVICES_DIR=${PV_SERVICES_DIR:-$ROOT/.run/services}
export PV_REPO_ROOT=$ROOT
export PV_PG_FAST=1
LOG_DIR=$ROOT/.run/test-logs
mkdir -p "$LOG_DIR"

passed=0
failed=0
failures=()
started=$(date +%s)

phase() { echo; echo "=== $* ($(( $(date +%s) - started ))s)"; }

# Runs a bazel test command, counts its targets, remembers failures.
run_bazel_tests() {
  local name=$1; shift
  local log="$LOG_DIR/$name.log"
  bazel test "$@" 2>&1 | tee "$log" | grep -E "^//|^Executed|FAILED|ERROR" || true
  local rc=${PIPESTATUS[0]}
  local p f
  p=$(grep -cE "^//\S+\s+(\(cached\) )?PASSED" "$log" || true)
  f=$(grep -cE "^//\S+\s+.*(FAILED|TIMEOUT|NO STATUS|INCOMPLETE)" "$log" || true)
  passed=$((passed + p))
  failed=$((failed + f))
  if [[ $rc -ne 0 && $rc -ne 4 ]] || [[ $f -ne 0 ]]; then
    # 4: no test targets matched, not a failure of ours.
    [[ $f -eq 0 ]] && failed=$((failed + 1))
    failures+=("$name (see $log)")
  fi
}

check() {  # check NAME COMMAND...: a non-bazel check, counted as one test
  local name=$1; shift
  local log="$LOG_DIR/$name.log"
  if "$@" >"$log" 2>&1; then
    passed=$((passed + 1)); echo "PASS $name"
  else
    failed=$((failed + 1)); failures+=("$name (see $log)"); echo "FAIL $name"; tail -20 "$log"
  fi
}

phase "bootstrap"
tools/bootstrap.sh || { echo "bootstrap failed"; echo "0 passed, 1 failed"; exit 1; }

phase "build //..."
if ! bazel build //... 2>&1 | tee "$LOG_DIR/build.log" | grep -E "ERROR|error:|Build completed|FAILED"; then :; fi
if [[ ${PIPESTATUS[0]} -ne 0 ]]; then
  failures+=("build (see $LOG_DIR/build.log)"); failed=$((failed + 1))
fi

phase "unit tests"
run_bazel_tests unit --test_tag_filters=-integration,-benchmark //...

phase "services"
stop_services() { tools/services/all.sh stop >/dev/null 2>&1 || true; }
trap stop_services EXIT
if tools/services/all.sh start; then
  eval "$(tools/services/all.sh env)"
  phase "integration tests"
  run_bazel_tests integration --test_tag_filters=integration //...
  check demo_pipeline tools/demo.sh --ci
  # The scan as Spark tasks: when the project's install step can install
  # pyspark (from PyPI, into .run/bench-venv).
  if tools/spark/install.sh >"$LOG_DIR/spark-install.log" 2>&1; then
    check spark_scan_tasks tools/spark/spark_test.sh
  else
    echo "SKIP spark_scan_tasks: pyspark could not be installed (see $LOG_DIR/spark-install.log)"
  fi
else
  failures+=("services failed to start"); failed=$((failed + 1))
fi
stop_services
trap - EXIT

if [[ $QUICK -eq 0 ]]; then
  phase "ASan + UBSan (unit tests)"
  run_bazel_tests asan-ubsan --config=asan-ubsan --build_tests_only --test_tag_filters=-integration,-benchmark //cc/... //tools/...
  phase "TSan (parallel code)"
  run_bazel_tests tsan --config=tsan --build_tests_only --test_tag_filters=tsan //cc/...

  phase "fuzz (${FUZZ_SECONDS}s each)"
  fuzz_targets=(cc/segment:segment_reader_fuzz cc/event:event_parser_fuzz cc/etl:partial_fuzz)
  if bazel build --config=fuzz "${fuzz_targets[@]/#/\/\/}" >"$LOG_DIR/fuzz-build.log" 2>&1; then
    fuzz_bin=$(bazel info --config=fuzz bazel-bin 2>/dev/null)
    for target in "${fuzz_targets[@]}"; do
      bin=$fuzz_bin/${target/://}
      corpus=$ROOT/.run/fuzz-corpus/${target##*:}
      mkdir -p "$corpus"
      seed_dirs=()
      for d in "$ROOT/${target%%:*}/testdata/fuzz_seeds" "$ROOT/${target%%:*}/testdata/${target##*:}_seeds"; do
        [[ -d "$d" ]] && seed_dirs+=("$d")
      done
      check "fuzz-${target##*:}" "$bin" -max_total_time="$FUZZ_SECONDS" -print_final_stats=1 \
        "$corpus" "${seed_dirs[@]}"
      grep -h "stat::number_of_executed_units" "$LOG_DIR/fuzz-${target##*:}.log" || true
    done
  else
    failures+=("fuzz build (see $LOG_DIR/fuzz-build.log)"); failed=$((failed + 1))
  fi
fi

phase "deployment files"
if [[ -x tools/check_deploy.sh ]]; then
  check deploy tools/check_deploy.sh
fi
check docs_links python3 tools/check_docs.py

phase "alert rules (promtool)"
check alert_rules_check promtool check rules docker/prometheus/alerts.yml
check alert_rules_test promtool test rules docker/prometheus/alerts_test.yml

echo
echo "=== done in $(( $(date +%s) - started ))s"
for f in "${failures[@]}"; do echo "FAILED: $f"; done
echo "tests: $passed passed, $failed failed"
[[ $failed -eq 0 ]]
