#!/usr/bin/env bash
# Installs pyspark (the version pinned in benchmarks/e2e/requirements.txt)
# into the project's Python environment, .run/bench-venv (beside the
# benchmark peers; benchmarks/e2e/install_peers.sh installs the rest), when
# it is missing. Idempotent; Spark also needs java (17), which
# tools/bootstrap.sh installs. Exit 0 when pyspark imports afterwards.
set -euo pipefail
REPO="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
VENV="${PV_VENV:-$REPO/.run/bench-venv}"
if "$VENV/bin/python" -c 'import pyspark' 2>/dev/null; then exit 0; fi
want="$(grep -E '^pyspark==' "$REPO/benchmarks/e2e/requirements.txt")"
printf '[spark/install.sh] installing %s into %s\n' "$want" "$VENV" >&2
[[ -x "$VENV/bin/python" ]] || python3 -m venv "$VENV"
"$VENV/bin/pip" install --quiet --disable-pip-version-check "$want"
"$VENV/bin/python" -c 'import pyspark'
