#!/usr/bin/env bash
# Shared helpers for the scripts in scripts/. Source it; do not run it.
#
# Sets REPO_ROOT (the checkout this file lives in) and provides log/die and a
# version comparison. Every message goes to stderr so that the stdout of the
# scripts stays clean (e.g. `npm run --silent temporal -- ... -o json`).

# shellcheck disable=SC2034  # REPO_ROOT is used by the scripts that source this file
REPO_ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"

# Prefix of every progress line; each script sets its own before logging.
LOG_PREFIX="${LOG_PREFIX:-aegis-upgrade}"

log() {
  printf '[%s] %s\n' "$LOG_PREFIX" "$*" >&2
}

die() {
  log "ERROR: $*"
  exit 1
}

# version_ge A B: true when dotted version A >= B (e.g. 20.19.0 >= 20.19).
version_ge() {
  [ "$(printf '%s\n%s\n' "$2" "$1" | sort -V | head -n 1)" = "$2" ]
}

is_root() {
  [ "$(id -u)" -eq 0 ]
}
