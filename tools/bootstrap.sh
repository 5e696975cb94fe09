#!/usr/bin/env bash
# Installs everything the project needs on a fresh Debian 12 machine:
# Debian packages (Bazel 4.2.3, the C/C++ libraries, clang for fuzzing,
# PostgreSQL 15, Java 17 + Maven for Kafka, kcat, Prometheus) and, through
# tools/services/install.sh, the Kafka jars (Maven Central) and FerretDB (Go
# module proxy). Idempotent, and quick when everything is present.
#
#   tools/bootstrap.sh            # install what is missing
#   tools/bootstrap.sh --check    # only report what is missing (exit 1 if any)
set -euo pipefail
cd "$(dirname "$0")/.."

PACKAGES=(
  # build
  bazel-bootstrap g++ pkg-config
  # libraries (third_party/*.BUILD)
  librdkafka-dev libmongoc-dev libbson-dev libpq-dev libsimdjson-dev libbenchmark-tools
  libabsl-dev libtbb-dev libgtest-dev libgmock-dev libbenchmark-dev
  libhwy-dev libzstd-dev liblz4-dev libssl-dev
  # metrics endpoint of mirror/consume (third_party/prometheus_cpp.BUILD)
  prometheus-cpp-dev libcivetweb-dev
  # fuzzing (--config=fuzz)
  clang-14 libclang-rt-14-dev
  # services (tools/services)
  postgresql-15 postgresql-client-15 openjdk-17-jre-headless maven kcat
  # Prometheus + promtool: alert rule tests, the scrape test (tools/services/prometheus.sh)
  prometheus
  # scripts and deployment checks (tools/check_deploy.sh)
  python3 python3-yaml curl ca-certificates procps time binutils
  docker-compose systemd
)

missing=()
for p in "${PACKAGES[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed"; then
    missing+=("$p")
  fi
done

if [[ "${1:-}" == "--check" ]]; then
  if ((${#missing[@]})); then echo "missing: ${missing[*]}"; exit 1; fi
  echo "all Debian packages present"; exit 0
fi

if ((${#missing[@]})); then
  echo "bootstrap: installing ${#missing[@]} Debian package(s): ${missing[*]}"
  SUDO=""
  [[ $(id -u) -eq 0 ]] || SUDO="sudo"
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
else
  echo "bootstrap: Debian packages present"
fi

# Kafka jars and the FerretDB binary (cached under ~/.cache/pv).
if [[ -x tools/services/install.sh ]]; then
  tools/services/install.sh
fi
echo "bootstrap: done"
