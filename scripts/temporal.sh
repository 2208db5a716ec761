#!/usr/bin/env bash
# shellcheck source-path=SCRIPTDIR
# Runs the project's cached `temporal` CLI with the given arguments:
#   npm run --silent temporal -- workflow describe -w ID -o json
# Builds it first if it is not cached yet. Only the CLI writes to stdout; this
# script's own messages go to stderr. Exit code is the CLI's.
set -euo pipefail

LOG_PREFIX=temporal
# shellcheck source=lib/common.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib/common.sh"
# shellcheck source=lib/temporal-cli.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib/temporal-cli.sh"

# Only an existence check here: `temporal --version` on every call would add
# latency to each CLI call; bootstrap.sh checks the build itself.
if [ ! -x "$TEMPORAL_CLI_BIN" ]; then
  log "temporal CLI not cached at $TEMPORAL_CLI_BIN"
  temporal_cli_ensure
fi

exec "$TEMPORAL_CLI_BIN" "$@"
