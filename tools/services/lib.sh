# Shared helpers for tools/services/*.sh (sourced, not run).
#
# State layout: everything a service needs between `start` and `stop` lives
# under $PV_SERVICES_DIR (default <repo>/.run/services, git-ignored): data
# dirs, logs, PID files, chosen ports and generated passwords. Processes are
# stopped through their PID files only, never by name.

set -euo pipefail

PV_REPO_ROOT="${PV_REPO_ROOT:-$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)}"
PV_SERVICES_DIR="${PV_SERVICES_DIR:-$PV_REPO_ROOT/.run/services}"
# bazel test runs without HOME: fall back to the account's home directory.
HOME="${HOME:-$(getent passwd "$(id -u)" | cut -d: -f6)}"
export HOME
PV_CACHE_DIR="${PV_CACHE_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/pv}"
export PV_REPO_ROOT PV_SERVICES_DIR PV_CACHE_DIR

# Tools installed outside the default PATH on these machines (Go), and the
# system's own python3 (bazel's strict test env has a minimal PATH).
export PATH="$PATH:/usr/local/go/bin:/usr/sbin:/usr/bin:/sbin:/bin"

pv_log() { printf '[%s] %s\n' "${PV_SERVICE_NAME:-services}" "$*" >&2; }
pv_die() { pv_log "ERROR: $*"; exit 1; }

# A TCP port on 127.0.0.1 that nothing listens on right now (the kernel
# picks it by binding port 0).
pv_free_port() {
  python3 - <<'PY'
import socket
s = socket.socket()
s.bind(("127.0.0.1", 0))
print(s.getsockname()[1])
s.close()
PY
}

# True when something accepts TCP connections on 127.0.0.1:$1.
pv_port_open() {
  (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null
}

# Reads the port remembered in file $1, or picks a free one and remembers it,
# so that connection settings stay the same across stop/start.
pv_port_from() {
  local file="$1"
  if [[ -s "$file" ]]; then
    cat "$file"
  else
    local p
    p="$(pv_free_port)"
    echo "$p" >"$file"
    echo "$p"
  fi
}

# A random alphanumeric secret (never printed to logs).
pv_random_secret() {
  head -c 32 /dev/urandom | base64 | tr -dc 'A-Za-z0-9' | head -c 24
}

# True when the PID in file $1 is a live process.
pv_pid_alive() {
  local file="$1" pid
  [[ -s "$file" ]] || return 1
  pid="$(cat "$file")"
  [[ "$pid" =~ ^[0-9]+$ ]] || return 1
  kill -0 "$pid" 2>/dev/null
}

# Stops the process whose PID is in file $1 (TERM, then KILL after $2
# seconds, default 30) and removes the file.
pv_stop_pid() {
  local file="$1" grace="${2:-30}" pid i
  if ! pv_pid_alive "$file"; then
    rm -f "$file"
    return 0
  fi
  pid="$(cat "$file")"
  kill -TERM "$pid" 2>/dev/null || true
  for ((i = 0; i < grace * 10; i++)); do
    kill -0 "$pid" 2>/dev/null || break
    sleep 0.1
  done
  if kill -0 "$pid" 2>/dev/null; then
    pv_log "PID $pid did not stop in ${grace}s; sending KILL"
    kill -KILL "$pid" 2>/dev/null || true
    for ((i = 0; i < 50; i++)); do
      kill -0 "$pid" 2>/dev/null || break
      sleep 0.1
    done
  fi
  rm -f "$file"
}

# Prints the last lines of log file $1 to stderr (for failed start-ups).
pv_log_tail() {
  local file="$1" n="${2:-40}"
  if [[ -f "$file" ]]; then
    echo "----- last $n lines of $file -----" >&2
    tail -n "$n" "$file" >&2
    echo "-----" >&2
  else
    echo "(no log at $file)" >&2
  fi
}

# Runs "$@" until it succeeds or $PV_WAIT_SECONDS (default 60) pass.
pv_wait_until() {
  local deadline=$((SECONDS + ${PV_WAIT_SECONDS:-60}))
  until "$@" >/dev/null 2>&1; do
    ((SECONDS < deadline)) || return 1
    sleep 0.2
  done
}

# Quotes a value for a shell `export NAME=value` line.
pv_export() {
  if [[ "$2" == *"'"* ]]; then
    printf 'export %s=%q\n' "$1" "$2"
  else
    printf "export %s='%s'\n" "$1" "$2"
  fi
}
