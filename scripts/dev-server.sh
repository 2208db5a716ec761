#!/usr/bin/env bash
# shellcheck source-path=SCRIPTDIR
# Runs a Temporal dev server in the foreground (`npm run dev-server`):
#   gRPC on 127.0.0.1:${TEMPORAL_PORT:-7233}, Web UI on 127.0.0.1:${TEMPORAL_UI_PORT:-8233},
#   state in <repo>/.sandbox/temporal-dev.db (survives a restart).
# It has the upgrades' search attributes (AegisEnvironment, ...): no `aegis-upgrade setup` needed.
# TEMPORAL_HEADLESS=1 runs it without the Web UI. Extra arguments are passed to
# `temporal server start-dev` (e.g. --namespace NAME, --log-level info).
set -euo pipefail

LOG_PREFIX=dev-server
# shellcheck source=lib/common.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib/common.sh"
# shellcheck source=lib/temporal-cli.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib/temporal-cli.sh"

PORT="${TEMPORAL_PORT:-7233}"
UI_PORT="${TEMPORAL_UI_PORT:-8233}"
DB_FILE="$REPO_ROOT/.sandbox/temporal-dev.db"

[ -x "$TEMPORAL_CLI_BIN" ] || temporal_cli_ensure
mkdir -p "$(dirname "$DB_FILE")"

args=(server start-dev --ip 127.0.0.1 --port "$PORT" --db-filename "$DB_FILE")
# The upgrades' search attributes (src/core/search-attributes.ts; `aegis-upgrade setup` registers them elsewhere).
for attribute in AegisEnvironment AegisFromVersion AegisToVersion AegisPhase; do
  args+=(--search-attribute "$attribute=Keyword")
done
# --headless disables the Web UI altogether (then --ui-port means nothing), so
# the UI port is given only when the UI runs.
if [ "${TEMPORAL_HEADLESS:-0}" = 1 ]; then
  args+=(--headless)
  log "Temporal dev server on 127.0.0.1:$PORT (no Web UI), state in $DB_FILE"
else
  args+=(--ui-port "$UI_PORT")
  log "Temporal dev server on 127.0.0.1:$PORT, Web UI on http://127.0.0.1:$UI_PORT, state in $DB_FILE"
fi

exec "$TEMPORAL_CLI_BIN" "${args[@]}" "$@"
