#!/usr/bin/env bash
# Installs the benchmark peers (Spark, DuckDB) and their PostgreSQL clients,
# outside the build and the tests (nothing in //... needs them):
#
#   .run/bench-venv/   python venv: pyspark, duckdb, duckdb-ext-postgres, psycopg
#   .run/bench-jars/   PostgreSQL JDBC driver for Spark (from Maven Central)
#
# Idempotent: a second run only checks. Versions are pinned in
# benchmarks/e2e/requirements.txt and below; the README lists them.
set -euo pipefail

REPO="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
VENV="$REPO/.run/bench-venv"
JARS="$REPO/.run/bench-jars"
PG_JDBC_VERSION=42.7.4   # the seed's driver version

log() { printf '[install_peers] %s\n' "$*" >&2; }

# Spark's launcher must not try to fetch a Hadoop build at install time.
unset PYSPARK_HADOOP_VERSION

if [[ ! -x "$VENV/bin/python" ]]; then
  log "creating $VENV"
  python3 -m venv "$VENV"
fi
if ! "$VENV/bin/python" - "$REPO/benchmarks/e2e/requirements.txt" <<'PY' 2>/dev/null; then
import sys
from importlib.metadata import version
for line in open(sys.argv[1]):
    line = line.split('#')[0].strip()
    if not line:
        continue
    name, want = line.split('==')
    name = name.split('[')[0]
    if version(name) != want:
        sys.exit(1)
PY
  log "pip install -r benchmarks/e2e/requirements.txt"
  "$VENV/bin/pip" install --quiet --disable-pip-version-check \
    -r "$REPO/benchmarks/e2e/requirements.txt"
fi

mkdir -p "$JARS"
JAR="$JARS/postgresql-$PG_JDBC_VERSION.jar"
if [[ ! -s "$JAR" ]]; then
  if command -v mvn >/dev/null; then
    log "mvn dependency:copy org.postgresql:postgresql:$PG_JDBC_VERSION"
    mvn -q -B dependency:copy \
      -Dartifact="org.postgresql:postgresql:$PG_JDBC_VERSION:jar" \
      -DoutputDirectory="$JARS" >"$JARS/mvn.log" 2>&1 || {
      tail -20 "$JARS/mvn.log" >&2
      exit 1
    }
  elif [[ -s /usr/share/java/postgresql.jar ]]; then
    log "no mvn: using Debian's /usr/share/java/postgresql.jar"
    cp /usr/share/java/postgresql.jar "$JAR"
  else
    log "ERROR: need mvn (or apt-get install libpostgresql-jdbc-java)"
    exit 1
  fi
fi

# GNU time reports each measured command's own peak RSS.
if [[ ! -x /usr/bin/time ]]; then
  log "apt-get install time"
  apt-get install -y -q time >/dev/null || { apt-get update -q && apt-get install -y -q time; }
fi

java -version >/dev/null 2>&1 || { log "ERROR: Spark needs java (17) on PATH"; exit 1; }
log "ready: $("$VENV/bin/python" -c 'import pyspark, duckdb, psycopg; print("pyspark", pyspark.__version__, "duckdb", duckdb.__version__, "psycopg", psycopg.__version__)'), $(basename "$JAR")"
