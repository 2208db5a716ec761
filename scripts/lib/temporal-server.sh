#!/usr/bin/env bash
# The one definition of which real Temporal server releases the project builds
# (for the sandbox's temporal pod in the component-upgrade tests), where they
# are cached and how. Sourced after lib/common.sh and lib/temporal-cli.sh
# (go_ok, go_help, AEGIS_UPGRADE_CACHE).
#
# A release is built from the Go module proxy with `go install` (release
# binaries cannot be downloaded here): the server (`cmd/server`) and its schema
# tool (`cmd/tools/sql`, what auto-setup calls temporal-sql-tool), and the
# PostgreSQL schema files of the same module (`schema/postgresql`), which the
# tool applies. Each version is cached in its own directory:
#   $AEGIS_UPGRADE_CACHE/temporal-server-vX.Y.Z/{temporal-server,temporal-sql-tool,schema/}
# A build takes a few minutes on 2 cores; only the versions asked for are built.

# The releases the tests use: adjacent minors (1.22 -> 1.23 is allowed, 1.22 ->
# 1.24 skips one). Their go.mod files have no `replace` directive, which
# `go install pkg@version` would refuse.
TEMPORAL_SERVER_VERSIONS=(1.22.6 1.23.1 1.24.2)

# The Go module and build caches of these builds, shared by the versions (they
# share most of their dependencies), outside the checkout and apart from the
# user's own Go caches.
TEMPORAL_SERVER_GOCACHE_DIR="$AEGIS_UPGRADE_CACHE/temporal-server-go"

# How the binaries are built, recorded beside them: a cache built another way is rebuilt.
# Static (no cgo), like Temporal's own release binaries, so an image needs no C library; without
# the build machine's paths in their stack traces.
TEMPORAL_SERVER_BUILD_RECIPE="CGO_ENABLED=0 go install -trimpath"

temporal_server_dir() {
  printf '%s/temporal-server-v%s\n' "$AEGIS_UPGRADE_CACHE" "$1"
}

# True when version $1 is cached completely: both binaries and its schema files.
# The directory appears only after a build succeeded (see temporal_server_build).
temporal_server_ok() {
  local dir
  dir="$(temporal_server_dir "$1")"
  [ -x "$dir/temporal-server" ] && [ -x "$dir/temporal-sql-tool" ] &&
    [ "$(cat "$dir/build-recipe" 2>/dev/null)" = "$TEMPORAL_SERVER_BUILD_RECIPE" ] &&
    [ -d "$dir/schema/postgresql/v12/temporal/versioned" ] &&
    [ -d "$dir/schema/postgresql/v12/visibility/versioned" ]
}

# Refuses a version that is not one of TEMPORAL_SERVER_VERSIONS (a typo would
# otherwise start a long build of something nobody tests).
temporal_server_known() {
  local v
  for v in "${TEMPORAL_SERVER_VERSIONS[@]}"; do
    [ "$v" = "$1" ] && return 0
  done
  log "ERROR: unknown Temporal server version '$1' (known: ${TEMPORAL_SERVER_VERSIONS[*]})"
  return 1
}

# Builds version $1 into its cache directory. The build goes to a temporary
# directory beside it, moved into place only once complete, so an interrupted
# build never leaves a half cache behind. A subshell, so its traps stay its own.
temporal_server_build() (
  set -euo pipefail
  version="$1"
  temporal_server_known "$version" || exit 1
  if ! go_ok; then
    go_help
    exit 1
  fi
  dir="$(temporal_server_dir "$version")"
  mkdir -p "$AEGIS_UPGRADE_CACHE" "$TEMPORAL_SERVER_GOCACHE_DIR"
  tmp="$(mktemp -d "$AEGIS_UPGRADE_CACHE/.temporal-server-build.XXXXXX")"
  trap 'rm -rf "$tmp"' EXIT
  trap 'exit 130' INT TERM
  log "building Temporal server v$version and its sql tool with go install (a few minutes on 2 cores)"
  log "  with go $(go_version), into $dir"
  started=$SECONDS
  export GOBIN="$tmp" GOMODCACHE="$TEMPORAL_SERVER_GOCACHE_DIR/mod" GOCACHE="$TEMPORAL_SERVER_GOCACHE_DIR/build"
  export GOFLAGS="-modcacherw -buildvcs=false" CGO_ENABLED=0
  for pkg in cmd/server cmd/tools/sql; do
    if ! go install -trimpath "go.temporal.io/server/$pkg@v$version" >&2; then
      log "ERROR: go install go.temporal.io/server/$pkg@v$version failed (output above)"
      exit 1
    fi
  done
  mv "$tmp/server" "$tmp/temporal-server"
  mv "$tmp/sql" "$tmp/temporal-sql-tool"
  # The schema files are part of the module's source, which go install has just
  # downloaded; copied, so the cache does not depend on the module cache.
  src="$GOMODCACHE/go.temporal.io/server@v$version/schema/postgresql"
  [ -d "$src" ] || {
    log "ERROR: no PostgreSQL schema in the module source ($src)"
    exit 1
  }
  mkdir -p "$tmp/schema"
  cp -r "$src" "$tmp/schema/postgresql"
  chmod -R u+w "$tmp/schema"
  "$tmp/temporal-sql-tool" --version >/dev/null 2>&1 || {
    log "ERROR: the built sql tool does not run: $("$tmp/temporal-sql-tool" --version 2>&1 || true)"
    exit 1
  }
  echo "$TEMPORAL_SERVER_BUILD_RECIPE" >"$tmp/build-recipe"
  chmod 0755 "$tmp"
  rm -rf "$dir"
  mv "$tmp" "$dir"
  trap - EXIT
  log "Temporal server v$version built in $((SECONDS - started)) s: $dir"
)

# Makes sure each given version is cached, building the missing ones, one at a
# time (each build uses every core).
temporal_server_ensure() {
  local version
  for version in "$@"; do
    temporal_server_known "$version" || return 1
    temporal_server_ok "$version" || temporal_server_build "$version" || return 1
  done
}
