#!/usr/bin/env bash
# shellcheck source-path=SCRIPTDIR
# Builds real Temporal server releases (server, sql tool, PostgreSQL schema)
# into the cache outside the checkout, once; prints each version's directory.
#
#   scripts/temporal-server.sh                   every known version (1.22.6 1.23.1 1.24.2)
#   scripts/temporal-server.sh 1.22.6 1.23.1     only these
#   scripts/temporal-server.sh --check [V...]    exit 1 unless all are cached
#
# Only the component-upgrade tests need them (sandbox.sh images temporal ...);
# `npm run demo` does not. Environment: AEGIS_UPGRADE_CACHE (~/.cache/aegis-upgrade).
set -euo pipefail

LOG_PREFIX=temporal-server
# shellcheck source=lib/common.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib/common.sh"
# shellcheck source=lib/temporal-cli.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib/temporal-cli.sh"
# shellcheck source=lib/temporal-server.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib/temporal-server.sh"

check_only=0
if [ "${1:-}" = --check ]; then
  check_only=1
  shift
fi
case "${1:-}" in
  -h | --help)
    sed -n '3,/^set -euo/p' "$0" | sed '$d; s/^# \{0,1\}//' >&2
    exit 0
    ;;
esac
[ $# -gt 0 ] || set -- "${TEMPORAL_SERVER_VERSIONS[@]}"

missing=0
for version in "$@"; do
  temporal_server_known "$version" || exit 1
  if [ "$check_only" -eq 1 ]; then
    temporal_server_ok "$version" || {
      log "MISSING: Temporal server v$version at $(temporal_server_dir "$version")"
      missing=1
    }
  else
    temporal_server_ensure "$version"
    temporal_server_dir "$version"
  fi
done
exit "$missing"
