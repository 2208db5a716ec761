#!/usr/bin/env bash
# The one definition of which `temporal` CLI the project uses, where it is
# cached and how it is built. Sourced by bootstrap.sh, temporal.sh and
# dev-server.sh after lib/common.sh.
#
# The CLI (which embeds the Temporal dev server) is built from source with
# `go install`: prebuilt release binaries cannot be downloaded on the project's
# machines, only Go modules. v1.5.1 is the newest release whose go.mod has no
# `replace` directive, which `go install pkg@version` refuses.

TEMPORAL_CLI_VERSION="v1.5.1"
# A binary built by `go install` reports "temporal version 0.0.0-DEV (Server
# 1.29.1, UI 2.42.1)": the server version is what identifies the build.
TEMPORAL_CLI_EXPECT="Server 1.29.1"
# cli v1.5.1's go.mod says `go 1.25.0`; an older go refuses to build it (or,
# with GOTOOLCHAIN=auto, tries to download a newer toolchain).
GO_MIN_VERSION="1.25"

# Outside the checkout: the build takes minutes and must survive fresh clones.
AEGIS_UPGRADE_CACHE="${AEGIS_UPGRADE_CACHE:-$HOME/.cache/aegis-upgrade}"
TEMPORAL_CLI_DIR="$AEGIS_UPGRADE_CACHE/temporal-$TEMPORAL_CLI_VERSION"
TEMPORAL_CLI_BIN="$TEMPORAL_CLI_DIR/temporal"

# True when the cached binary exists and is the expected build.
temporal_cli_ok() {
  [ -x "$TEMPORAL_CLI_BIN" ] &&
    "$TEMPORAL_CLI_BIN" --version 2>/dev/null | grep -qF "$TEMPORAL_CLI_EXPECT"
}

# Prints the version of the `go` on PATH (e.g. 1.26.8); fails if there is none.
go_version() {
  command -v go >/dev/null 2>&1 || return 1
  # GOVERSION looks like go1.26.8, go1.25rc1 or "devel ...": keep the numbers.
  go env GOVERSION 2>/dev/null | sed -n 's/^go\([0-9][0-9.]*\).*/\1/p'
}

# True when a new enough go is on PATH.
go_ok() {
  local v
  v="$(go_version)" && [ -n "$v" ] && version_ge "$v" "$GO_MIN_VERSION"
}

go_help() {
  log "Go >= $GO_MIN_VERSION is needed to build the temporal CLI (found: $(go_version || echo none))."
  log "  Debian 12's golang-go (1.19) is too old. Install the official Go release for linux"
  log "  (unpack it to /usr/local/go) and put /usr/local/go/bin on PATH, then re-run."
}

# Builds the CLI into the cache. The build goes to a temporary directory beside
# the final one and is moved into place only once it works, so an interrupted
# or failed build never leaves a broken binary behind.
# Runs in a subshell so that its trap removes the temporary directory however
# the build ends (failure, Ctrl-C) without touching the caller's traps.
temporal_cli_build() (
  set -euo pipefail
  if ! go_ok; then
    go_help
    exit 1
  fi
  mkdir -p "$AEGIS_UPGRADE_CACHE"
  tmp="$(mktemp -d "$AEGIS_UPGRADE_CACHE/.temporal-build.XXXXXX")"
  trap 'rm -rf "$tmp"' EXIT
  trap 'exit 130' INT TERM
  log "building the temporal CLI $TEMPORAL_CLI_VERSION from source with go install (first time: several minutes on 2 cores)"
  log "  with go $(go_version), into $TEMPORAL_CLI_DIR"
  # -v names each package as it is compiled: progress during a long build.
  # The module and build caches live in the temporary directory: the user's own
  # Go caches are left alone, and nothing of the build stays behind but the binary.
  if ! GOBIN="$tmp" GOMODCACHE="$tmp/mod" GOCACHE="$tmp/build" GOFLAGS=-modcacherw go install -v "github.com/temporalio/cli/cmd/temporal@$TEMPORAL_CLI_VERSION" >&2; then
    log "ERROR: go install of the temporal CLI failed (output above)"
    exit 1
  fi
  if ! "$tmp/temporal" --version 2>/dev/null | grep -qF "$TEMPORAL_CLI_EXPECT"; then
    log "ERROR: the built CLI does not report '$TEMPORAL_CLI_EXPECT': $("$tmp/temporal" --version 2>&1 || true)"
    exit 1
  fi
  mkdir -p "$TEMPORAL_CLI_DIR"
  # Same filesystem as the temporary directory, so the rename is atomic.
  mv -f "$tmp/temporal" "$TEMPORAL_CLI_BIN"
  log "temporal CLI built: $TEMPORAL_CLI_BIN"
)

# Makes sure the expected CLI is cached, building it if needed.
temporal_cli_ensure() {
  if temporal_cli_ok; then
    return 0
  fi
  if [ -e "$TEMPORAL_CLI_BIN" ]; then
    log "cached temporal CLI is not the expected build ($TEMPORAL_CLI_EXPECT); rebuilding"
  fi
  temporal_cli_build
}
