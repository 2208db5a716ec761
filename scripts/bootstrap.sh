#!/usr/bin/env bash
# shellcheck source-path=SCRIPTDIR
# Installs and checks everything the tests and the demo need, on a fresh
# Debian 12 machine as root: npm dependencies, Debian packages (podman, runc,
# docker-registry, busybox-static, PostgreSQL 15, ...), podman settings and the
# `temporal` CLI (built from source, cached outside the checkout), and PyPI's
# pgserver wheel (PostgreSQL 16 for the sandbox's postgres:16 image, cached
# outside the checkout).
#
# Run first by `npm test` and `npm run demo`. Idempotent: a few seconds when
# everything is in place.
#
#   scripts/bootstrap.sh          install what is missing, then check
#   scripts/bootstrap.sh --check  only report what is missing (exit 1 if any)
#
# Environment: AEGIS_UPGRADE_CACHE (default ~/.cache/aegis-upgrade) is where
# the temporal CLI is cached.
set -euo pipefail

LOG_PREFIX=bootstrap
# shellcheck source=lib/common.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib/common.sh"
# shellcheck source=lib/temporal-cli.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib/temporal-cli.sh"
# shellcheck source=lib/pgserver.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib/pgserver.sh"
# shellcheck source=lib/platform-user.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib/platform-user.sh"
# shellcheck source=lib/smoke.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib/smoke.sh"

NODE_MIN_VERSION="20.19"

# Debian packages the project needs, each with a command (or file) that proves
# it is there where dpkg is not available.
#   postgresql-15: its server binaries go into the sandbox's PostgreSQL image;
#   postgresql-client-15: psql/pg_dump of the same major version;
#   pgbouncer: its binary goes into the sandbox's PgBouncer image (the database pod's pooler, as on a real host);
#   python3-pip: fetches the pgserver wheel (PostgreSQL 16, scripts/lib/pgserver.sh);
#   uidmap, slirp4netns: rootless podman, as the platform runs (scripts/lib/platform-user.sh);
#   acl: setfacl, the platform user's way into a checkout under a directory closed to it (/root, a mktemp -d).
declare -A PACKAGE_PROVIDES=(
  [podman]=podman
  [runc]=runc
  [docker-registry]=docker-registry
  [catatonit]=catatonit
  [netavark]=/usr/lib/podman/netavark
  [aardvark-dns]=/usr/lib/podman/aardvark-dns
  [iptables]=iptables
  [busybox-static]=busybox
  [postgresql-15]=/usr/lib/postgresql/15/bin/postgres
  [postgresql-client-15]=psql
  [pgbouncer]=/usr/sbin/pgbouncer
  [python3-pip]=pip3
  [gettext-base]=envsubst
  [make]=make
  [curl]=curl
  [git]=git
  [systemd]=systemd-analyze
  [acl]=setfacl
  [uidmap]=newuidmap
  [slirp4netns]=slirp4netns
)
#   catatonit: the init of a pod's infra container (podman only recommends it:
#     without it "finding pause binary: exec: catatonit: not found");
#   netavark, aardvark-dns: networks with DNS, so pods find each other by name
#     (podman's CNI fallback creates networks with dns_enabled false);
#   iptables: netavark runs it to set up every network (without it a pod's
#     infra container fails with "netavark: No such file or directory");
#   systemd: systemd-analyze, which verifies the worker's unit (test/deploy.test.ts).
SYSTEM_PACKAGES=(podman runc catatonit netavark aardvark-dns iptables docker-registry
  busybox-static postgresql-15 postgresql-client-15 pgbouncer python3-pip gettext-base make curl git systemd
  uidmap slirp4netns acl)

# crun fails on these machines ("cgroups in hybrid mode not supported") and
# containers may not raise rlimits (setrlimit RLIMIT_NPROC: Operation not
# permitted), so pin runc and ulimits the containers can keep. netavark is
# named, not left to podman's guess: it falls back to CNI (no DNS) whenever
# netavark looks absent or CNI networks exist.
PODMAN_CONF_FILE=/etc/containers/containers.conf.d/50-aegis-upgrade.conf
PODMAN_CONF='# Written by aegis-upgrade scripts/bootstrap.sh.
[containers]
default_ulimits = ["nofile=1024:1024", "nproc=1000:1000"]

[engine]
runtime = "runc"

[network]
network_backend = "netavark"
'

# What the bootstrap installed with apt, one package a line (see new-machine.sh).
INSTALLED_RECORD=/var/lib/aegis-upgrade/installed-packages

CHECK_ONLY=0
PROBLEMS=() # what --check found missing

usage() {
  sed -n '3,/^set -euo/p' "$0" | sed '$d; s/^# \{0,1\}//' >&2
}

while [ $# -gt 0 ]; do
  case "$1" in
    --check) CHECK_ONLY=1 ;;
    -h | --help)
      usage
      exit 0
      ;;
    *) die "unknown argument: $1 (try --help)" ;;
  esac
  shift
done

# In --check mode record a problem and go on; otherwise fail at once.
problem() {
  if [ "$CHECK_ONLY" -eq 1 ]; then
    log "MISSING: $*"
    PROBLEMS+=("$*")
  else
    die "$*"
  fi
}

is_debian() {
  [ -f /etc/debian_version ] && command -v dpkg-query >/dev/null 2>&1
}

# --- Node ---------------------------------------------------------------------
check_node() {
  command -v node >/dev/null 2>&1 || die "node is not on PATH; Node.js >= $NODE_MIN_VERSION is required"
  NODE_VERSION="$(node -p 'process.versions.node')"
  version_ge "$NODE_VERSION" "$NODE_MIN_VERSION" ||
    die "Node.js >= $NODE_MIN_VERSION is required, found $NODE_VERSION"
}

# --- npm dependencies -----------------------------------------------------------
# npm ci writes node_modules/.package-lock.json last: a lock file newer than it
# means the dependencies changed since the last install.
ensure_npm_deps() {
  cd "$REPO_ROOT"
  [ -f package-lock.json ] || die "package-lock.json is missing in $REPO_ROOT"
  local why=""
  if [ ! -d node_modules ]; then
    why="node_modules is missing"
  elif [ ! -f node_modules/.package-lock.json ]; then
    why="node_modules was not installed by npm ci/install"
  elif [ package-lock.json -nt node_modules/.package-lock.json ]; then
    why="package-lock.json changed since the last install"
  fi
  [ -z "$why" ] && return 0
  if [ "$CHECK_ONLY" -eq 1 ]; then
    problem "npm dependencies ($why): run npm ci"
    return 0
  fi
  log "$why: running npm ci"
  npm ci >&2
}

# --- Debian packages --------------------------------------------------------------
missing_packages() {
  local pkg
  for pkg in "${SYSTEM_PACKAGES[@]}"; do
    if is_debian; then
      [ "$(dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null || true)" = "install ok installed" ] ||
        echo "$pkg"
    else
      command -v "${PACKAGE_PROVIDES[$pkg]}" >/dev/null 2>&1 || echo "$pkg"
    fi
  done
}

installed_packages() {
  dpkg-query -W -f='${db:Status-Abbrev} ${Package}\n' | awk '$1 == "ii" { print $2 }' | sort
}

# Remembers every package this install added (those named and what they pulled
# in), so that scripts/new-machine.sh can take the machine back to new.
record_installed() {
  local before="$1"
  mkdir -p "$(dirname "$INSTALLED_RECORD")"
  { cat "$INSTALLED_RECORD" 2>/dev/null || true; comm -13 <(echo "$before") <(installed_packages); } |
    sort -u >"$INSTALLED_RECORD.tmp"
  mv -f "$INSTALLED_RECORD.tmp" "$INSTALLED_RECORD"
  log "recorded $(wc -l <"$INSTALLED_RECORD") package(s) installed by the bootstrap in $INSTALLED_RECORD"
}

ensure_system_packages() {
  local missing=()
  mapfile -t missing < <(missing_packages)
  [ "${#missing[@]}" -eq 0 ] && return 0

  local install_cmd="apt-get install -y --no-install-recommends ${missing[*]}"
  if [ "$CHECK_ONLY" -eq 0 ] && is_root && is_debian; then
    log "installing Debian packages: ${missing[*]}"
    log "apt-get update"
    apt-get update >&2 || die "apt-get update failed (output above)"
    log "$install_cmd"
    local before
    before="$(installed_packages)"
    DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends "${missing[@]}" >&2 ||
      die "apt-get install failed (output above)"
    record_installed "$before"
    mapfile -t missing < <(missing_packages)
    [ "${#missing[@]}" -eq 0 ] || die "still missing after apt-get install: ${missing[*]}"
    return 0
  fi

  log "missing system packages: ${missing[*]}"
  if is_debian; then
    if is_root; then
      log "install them with: $install_cmd"
    else
      log "install them with: sudo $install_cmd"
    fi
  else
    log "this is not Debian: install the equivalents of these Debian packages"
  fi
  [ "$CHECK_ONLY" -eq 1 ] || exit 1
  PROBLEMS+=("system packages: ${missing[*]}")
}

# --- podman ----------------------------------------------------------------------
ensure_podman_conf() {
  if [ -f "$PODMAN_CONF_FILE" ] && [ "$(cat "$PODMAN_CONF_FILE")" = "${PODMAN_CONF%$'\n'}" ]; then
    return 0
  fi
  if [ "$CHECK_ONLY" -eq 1 ] || ! is_root; then
    problem "podman settings $PODMAN_CONF_FILE (runc, default_ulimits) are not in place; run scripts/bootstrap.sh as root"
    return 0
  fi
  log "writing podman settings $PODMAN_CONF_FILE (runtime runc, default_ulimits)"
  mkdir -p "$(dirname "$PODMAN_CONF_FILE")"
  # Write then rename, so podman never reads a half-written file.
  printf '%s' "$PODMAN_CONF" >"$PODMAN_CONF_FILE.tmp"
  mv -f "$PODMAN_CONF_FILE.tmp" "$PODMAN_CONF_FILE"
}

check_podman() {
  command -v podman >/dev/null 2>&1 || return 0 # already reported as a missing package
  local runtime
  if ! runtime="$(podman info --format '{{.Host.OCIRuntime.Name}}' 2>&1)"; then
    log "$runtime"
    problem "podman info fails (output above)"
    return 0
  fi
  [ "$runtime" = runc ] || problem "podman uses the OCI runtime '$runtime', expected runc ($PODMAN_CONF_FILE)"
  local backend
  backend="$(podman info --format '{{.Host.NetworkBackend}}' 2>&1 || true)"
  [ "$backend" = netavark ] ||
    problem "podman uses the network backend '$backend', expected netavark ($PODMAN_CONF_FILE; apt-get install netavark aardvark-dns)"
  PODMAN_VERSION="$(podman version --format '{{.Client.Version}}' 2>/dev/null || echo '?')"
}

# --- temporal CLI --------------------------------------------------------------------
ensure_temporal_cli() {
  if temporal_cli_ok; then
    return 0
  fi
  if [ "$CHECK_ONLY" -eq 1 ]; then
    problem "temporal CLI $TEMPORAL_CLI_VERSION ($TEMPORAL_CLI_EXPECT) at $TEMPORAL_CLI_BIN"
    # Go is only needed to build the CLI: report it here, not when cached.
    go_ok || {
      go_help
      PROBLEMS+=("go >= $GO_MIN_VERSION")
    }
    return 0
  fi
  temporal_cli_ensure || exit 1
}

# --- PostgreSQL 16 and a second 15.x (pgserver wheels) -----------------------------------
ensure_pgserver_wheels() {
  local entry
  for entry in "${PGSERVER_RELEASES[@]}"; do
    pgserver_release "${entry%%|*}"
    pgserver_wheel_ok && continue
    if [ "$CHECK_ONLY" -eq 1 ]; then
      problem "pgserver $PGSERVER_VERSION wheel (PostgreSQL $PGSERVER_PG_VERSION) at $PGSERVER_WHEEL_PATH"
      continue
    fi
    pgserver_fetch || die "could not fetch the pgserver wheel (above)"
  done
}

# --- main ---------------------------------------------------------------------------
NODE_VERSION="?"
PODMAN_VERSION="?"

# The temporal CLI's first build is minutes of compiling, npm ci and apt-get mostly downloads: on a new machine the
# build runs beside them, in the background, and the bootstrap waits for it before the smoke test.
temporal_cli_in_background() {
  [ "$CHECK_ONLY" -eq 0 ] && ! temporal_cli_ok && go_ok || return 1
  mkdir -p "$AEGIS_UPGRADE_CACHE"
  TEMPORAL_CLI_BUILD_LOG="$AEGIS_UPGRADE_CACHE/temporal-cli-build.log"
  log "building the temporal CLI in the background while the rest installs (its output: $TEMPORAL_CLI_BUILD_LOG)"
  temporal_cli_ensure >"$TEMPORAL_CLI_BUILD_LOG" 2>&1 &
  TEMPORAL_CLI_BUILD_PID=$!
}

wait_for_temporal_cli() {
  local waited=$SECONDS
  log "waiting for the temporal CLI's build"
  if ! wait "$TEMPORAL_CLI_BUILD_PID"; then
    tail -n 40 "$TEMPORAL_CLI_BUILD_LOG" >&2
    die "the temporal CLI's build failed (the end of its output is above, all of it in $TEMPORAL_CLI_BUILD_LOG)"
  fi
  log "temporal CLI built: $TEMPORAL_CLI_BIN ($((SECONDS - waited)) s waited for it after the rest was in place)"
}

# timed <step...>: runs one step of the bootstrap, and says how long it took when that was long enough to notice.
timed() {
  local started=$SECONDS
  "$@"
  [ $((SECONDS - started)) -lt 5 ] || log "$1: $((SECONDS - started)) s"
}

check_node
TEMPORAL_CLI_BUILD_PID=""
temporal_cli_in_background || true
timed ensure_npm_deps
timed ensure_system_packages
ensure_podman_conf
check_podman
ensure_platform_user
check_platform_podman
if [ -n "$TEMPORAL_CLI_BUILD_PID" ]; then
  wait_for_temporal_cli
else
  timed ensure_temporal_cli
fi
timed ensure_pgserver_wheels

if [ "${#PROBLEMS[@]}" -gt 0 ]; then
  log "bootstrap --check: ${#PROBLEMS[@]} thing(s) missing; run scripts/bootstrap.sh (as root) to install them"
  exit 1
fi
smoke_test || die "the smoke test failed (above): the tests and the demo would fail the same way"
if [ "$CHECK_ONLY" -eq 1 ]; then
  log "bootstrap --check: all in place (node $NODE_VERSION, podman $PODMAN_VERSION, temporal CLI at $TEMPORAL_CLI_BIN)"
else
  log "bootstrap: ready (node $NODE_VERSION, podman $PODMAN_VERSION, temporal CLI at $TEMPORAL_CLI_BIN)"
fi
