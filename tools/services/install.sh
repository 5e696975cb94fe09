#!/usr/bin/env bash
# Installs what tools/services/*.sh need, then warms their caches. Idempotent:
# a second run installs nothing and downloads nothing.
#
#   tools/services/install.sh            # packages + Kafka jars + FerretDB build
#   PV_SERVICES_PREFETCH=0 tools/services/install.sh   # packages only
#
# Debian packages: postgresql-15 (server + client), openjdk-17-jre-headless
# (Kafka brokers), maven (fetches the Kafka jars from Maven Central), kcat
# (readiness probe), python3 (free-port helper), util-linux (runuser, setsid).
# Go: FerretDB v1.24 needs Go >= 1.24, newer than Debian 12's golang-go
# (1.19); the machine image has it at /usr/local/go, which is used as is.
PV_SERVICE_NAME=install
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

packages=(postgresql-15 postgresql-client-15 openjdk-17-jre-headless maven kcat python3 util-linux)

missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if ((${#missing[@]})); then
  [[ $(id -u) -eq 0 ]] || pv_die "need root to install: ${missing[*]}"
  pv_log "installing ${missing[*]}"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
  # Debian starts a default cluster on 5432; our tests use their own
  # throwaway clusters, so leave that one alone rather than fight over it.
fi

# Go for the FerretDB build.
if ! command -v go >/dev/null; then
  pv_die "Go not found (expected /usr/local/go/bin/go, Go >= 1.24): FerretDB cannot be built"
fi
go_minor="$(go env GOVERSION | sed -n 's/^go1\.\([0-9]*\).*/\1/p')"
if [[ -z "$go_minor" || "$go_minor" -lt 24 ]]; then
  pv_die "$(go env GOVERSION) is too old for FerretDB v1.24 (needs Go >= 1.24)"
fi

if [[ "${PV_SERVICES_PREFETCH:-1}" == 1 ]]; then
  "$PV_REPO_ROOT/tools/services/kafka.sh" fetch
  "$PV_REPO_ROOT/tools/services/ferretdb.sh" build
fi
pv_log "ok"
