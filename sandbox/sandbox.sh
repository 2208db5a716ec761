#!/usr/bin/env bash
# aegis-upgrade sandbox: a small AEGIS platform on real podman pods, a real registry and a real
# PostgreSQL, for testing the upgrade worker through the commands it runs in production.
#
#   sandbox.sh up       build what is missing, start registry + pods at the baseline (idempotent)
#   sandbox.sh down     remove the pods and stop the registry (built images and data are kept)
#   sandbox.sh reset    back to the baseline: pods at 1.2.0, fresh .env and deploy checkout,
#                       aegis database recreated at its 1.2.0 schema + seed rows, empty command log
#   sandbox.sh status   human-readable state
#   sandbox.sh env      `export KEY=value` lines for the worker and the tests (stdout only)
#   sandbox.sh fault …  inject faults: add a rule for podman/make commands, take the registry or
#                       PostgreSQL away, make the deploy checkout read-only; `fault clear` (and reset) undo
#   sandbox.sh images temporal <version>…  also build and publish real Temporal servers as
#                       temporalio/auto-setup:<version> (1.22.6 1.23.1 1.24.2; minutes each the first
#                       time, cached), for the component-upgrade tests. The default platform keeps
#                       its stand-in; AEGIS_SANDBOX_TEMPORAL_SERVERS="<version> …" does the same on `up`.
#   sandbox.sh infrastructure   images, registry and its content only (no pods): what deployments share
#   sandbox.sh latest <version>  the registry's `latest` of the AEGIS images names that release's (a release
#                       published); `.env` and the running pods are left as they are
#   sandbox.sh behind <image>  the pod running the third-party image <image>:latest (pgbouncer) runs an older
#                       build of it than the registry's `latest`, as after upstream published a new one
#
# Several deployments at once, each as if on its own host: sandbox/deployments.sh (it runs this script
# with AEGIS_SANDBOX_SHARED_DIR set, see "A deployment on its own host" below).
#
# See docs/sandbox.md.
set -euo pipefail

SANDBOX_SRC="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
REPO_ROOT="$(dirname "$SANDBOX_SRC")"
STATE_DIR="${AEGIS_SANDBOX_DIR:-$REPO_ROOT/.sandbox}"
BUILD_DIR="$STATE_DIR/build"
REGISTRY_DIR="$STATE_DIR/registry"
REGISTRY_DATA="$REGISTRY_DIR/data"
DEPLOY_DIR="$STATE_DIR/deploy"
# The stand-in for the platform user's podman API socket (.env's CONTAINER_SOCK; lib/pods.sh ensure_host_paths).
CONTAINER_SOCKET="$STATE_DIR/run/podman.sock"
COMMAND_LOG="$STATE_DIR/commands.log"
# Every podman and make command a worker runs through the fault shim (faults/shim.sh), with its end.
COMMANDS_RUN="$STATE_DIR/commands-run.log"
PORTS_FILE="$STATE_DIR/ports.env"
SECRETS_FILE="$STATE_DIR/secrets.env"
DEPLOYED_SIG_FILE="$STATE_DIR/deployed.sig"
FAULT_BIN_DIR="$STATE_DIR/bin"
# Stand-ins for the host's own programs the platform drives (`systemctl --user`): first on the PATH of every make,
# worker and test that acts on the platform (docs/sandbox.md, "The FUSE daemon and systemctl --user").
HOST_BIN_DIR="$SANDBOX_SRC/host/bin"
FAULT_RULES="$STATE_DIR/faults"
REGISTRIES_CONF_DIR=/etc/containers/registries.conf.d

# A deployment on its own host (sandbox/deployments.sh): a platform user of its own (AEGIS_PLATFORM_USER,
# remembered in <state>/platform-user), so its rootless podman's storage, run state, network namespace and network
# definitions are its own: the fixed pod names and the network `aegis-network` exist once per deployment, and two
# deployments' networks never merge. Images and the registry's storage are the main sandbox's
# (AEGIS_SANDBOX_SHARED_DIR, remembered in <state>/shared-dir). Each deployment serves that storage from a registry
# process of its own, on its own port: taking one deployment's registry away (`fault registry-down`) leaves the
# others' pulls alone.
SHARED_DIR="${AEGIS_SANDBOX_SHARED_DIR:-}"
[[ -z "$SHARED_DIR" && -f "$STATE_DIR/shared-dir" ]] && SHARED_DIR="$(cat "$STATE_DIR/shared-dir")"
if [[ -n "$SHARED_DIR" ]]; then
  BUILD_DIR="$SHARED_DIR/build"
  REGISTRY_DATA="$SHARED_DIR/registry/data"
fi
[[ -n "${AEGIS_PLATFORM_USER:-}" || ! -f "$STATE_DIR/platform-user" ]] ||
  AEGIS_PLATFORM_USER="$(cat "$STATE_DIR/platform-user")"
own_host() { [[ -n "$SHARED_DIR" ]]; }

BASELINE=1.2.0
NETWORK=aegis-network
# The pods of the checkout's profile (development, as on a real host), in its order: read from the profile.
read -r -a PODS_ORDER <<< "$(. "$SANDBOX_SRC/deploy/profiles/development.conf" && echo "$PODS")"

SAY_PREFIX=sandbox
# The sandbox's parts, one file each.
# shellcheck source=lib/common.sh
. "$SANDBOX_SRC/lib/common.sh"
# The platform's user, whose pods these are (rootless, as the real platform runs): made by scripts/bootstrap.sh.
# shellcheck source=../scripts/lib/platform-user.sh
. "$REPO_ROOT/scripts/lib/platform-user.sh"
log() { say "$*"; } # platform-user.sh's messages
# Where the platform user's podman keeps its containers (.env's PODMAN_LOG_ROOT, mounted by the observability pod):
# under the user's home, known once ensure_infrastructure has made the user (a deployment's is new at its first up).
PODMAN_LOG_ROOT=""
# shellcheck source=lib/images.sh
. "$SANDBOX_SRC/lib/images.sh"
# shellcheck source=lib/registry.sh
. "$SANDBOX_SRC/lib/registry.sh"
# shellcheck source=lib/checkout.sh
. "$SANDBOX_SRC/lib/checkout.sh"
# shellcheck source=lib/pods.sh
. "$SANDBOX_SRC/lib/pods.sh"
# shellcheck source=lib/faults.sh
. "$SANDBOX_SRC/lib/faults.sh"
# shellcheck source=lib/host-cli.sh
. "$SANDBOX_SRC/lib/host-cli.sh"
# shellcheck source=lib/openbao.sh
. "$SANDBOX_SRC/lib/openbao.sh"
# shellcheck source=lib/older-builds.sh
. "$SANDBOX_SRC/lib/older-builds.sh"
# shellcheck source=lib/main-sandbox.sh
. "$SANDBOX_SRC/lib/main-sandbox.sh"

# ---------------------------------------------------------------------------------------------
# Ports and secrets (remembered in the state directory)
# ---------------------------------------------------------------------------------------------

# load_ports up   -> AEGIS_SANDBOX_*_PORT from the environment win, then remembered, then default
# load_ports read -> remembered, then default
load_ports() {
  local mode="$1" spec key def var val remembered
  mkdir -p "$STATE_DIR"
  for spec in "${PORT_SPECS[@]}"; do
    key="${spec%%:*}" def="${spec##*:}" var="AEGIS_SANDBOX_${key}_PORT"
    remembered=""
    [[ -f "$PORTS_FILE" ]] && remembered="$(sed -n "s/^$var=//p" "$PORTS_FILE" | tail -n 1)"
    if [[ "$mode" == up && -n "${!var:-}" ]]; then val="${!var}"
    elif [[ -n "$remembered" ]]; then val="$remembered"
    else val="$def"; fi
    if ! [[ "$val" =~ ^[0-9]+$ ]] || (( val < 1 || val > 65535 )); then die "$var=$val is not a port number"; fi
    case "$val" in 7233|8233|5432) die "$var=$val: ports 7233, 8233 and 5432 are reserved, pick another" ;; esac
    printf -v "PORT_$key" '%s' "$val"
  done
  if [[ "$mode" == up ]]; then
    {
      echo "# host ports of the aegis sandbox (written by sandbox.sh up)"
      for spec in "${PORT_SPECS[@]}"; do
        key="${spec%%:*}"
        var="PORT_$key"
        echo "AEGIS_SANDBOX_${key}_PORT=${!var}"
      done
    } > "$PORTS_FILE.tmp"
    mv "$PORTS_FILE.tmp" "$PORTS_FILE"
  fi
  REGISTRY_HOST="127.0.0.1:$PORT_REGISTRY"
  REGISTRY="$REGISTRY_HOST/100monkeys-ai"
}

random_hex() { head -c "$1" /dev/urandom | od -An -tx1 | tr -d ' \n'; }

load_secrets() {
  if [[ ! -f "$SECRETS_FILE" ]]; then
    mkdir -p "$STATE_DIR"
    umask 077
    printf 'GHCR_TOKEN=ghp_sandbox%s\nPOSTGRES_PASSWORD=%s\n' "$(random_hex 16)" "$(random_hex 12)" > "$SECRETS_FILE"
    umask 022
  fi
  GHCR_TOKEN="$(sed -n 's/^GHCR_TOKEN=//p' "$SECRETS_FILE")"
  POSTGRES_PASSWORD="$(sed -n 's/^POSTGRES_PASSWORD=//p' "$SECRETS_FILE")"
}

# ---------------------------------------------------------------------------------------------
# Commands
# ---------------------------------------------------------------------------------------------

# Everything that is not a pod: images, registry and its content, podman settings, network.
ensure_infrastructure() {
  command -v podman >/dev/null || die "podman is not installed"
  command -v docker-registry >/dev/null || die "docker-registry is not installed (apt-get install docker-registry)"
  command -v envsubst >/dev/null || die "envsubst is not installed (apt-get install gettext-base)"
  [[ -x /usr/lib/postgresql/15/bin/postgres ]] || die "PostgreSQL 15 binaries are missing (apt-get install postgresql-15)"
  if own_host; then
    make_platform_user
  else
    id "$PLATFORM_USER" >/dev/null 2>&1 ||
      die "the platform's user $PLATFORM_USER does not exist: run scripts/bootstrap.sh as root (npm test and npm run demo do)"
    recover_platform_podman
  fi
  PODMAN_LOG_ROOT="$(platform_user_home)/.local/share/containers/storage/overlay-containers"
  # The pods' commands (the platform user's make, podman and the fault shim) write their logs and the shim's
  # rules into the state directory.
  mkdir -p "$STATE_DIR"
  give_to_platform_user "$STATE_DIR"
  echo "$PLATFORM_USER" > "$STATE_DIR/platform-user"
  load_secrets
  if own_host; then
    [[ -f "$SHARED_DIR/registry/pushed.stamp" ]] \
      || die "the main sandbox's registry holds no images yet: sandbox/deployments.sh up builds and pushes them"
    ensure_insecure_registry
    start_registry
    printf '%s\n' "$SHARED_DIR" > "$STATE_DIR/shared-dir"
  else
    ensure_images
    ensure_insecure_registry
    start_registry
    ensure_registry_content
    if [[ -n "${AEGIS_SANDBOX_TEMPORAL_SERVERS:-}" ]]; then
      local -a versions
      read -r -a versions <<<"$AEGIS_SANDBOX_TEMPORAL_SERVERS"
      ensure_temporal_server_images "${versions[@]}"
      publish_temporal_server_images "${versions[@]}"
    fi
  fi
  install_fault_shims
}

# What a host's pods need of it: the platform user's images of the baseline and its network.
ensure_host() {
  pull_baseline
  ensure_network
}


cmd_up() {
  local t0=$SECONDS force=0 pod sig
  load_ports up
  ensure_infrastructure
  ensure_host
  [[ -f "$DEPLOY_DIR/.env" ]] || { say "writing the deploy checkout $DEPLOY_DIR"; generate_deploy; }
  touch "$COMMAND_LOG" "$COMMANDS_RUN"
  give_to_platform_user "$COMMAND_LOG" "$COMMANDS_RUN"
  ensure_host_paths
  sig="$(deployed_signature)"
  if [[ -f "$DEPLOYED_SIG_FILE" && "$(cat "$DEPLOYED_SIG_FILE")" != "$sig" ]]; then
    say "ports or images changed since the last deployment: redeploying every pod"
    force=1
    generate_deploy
  fi
  for pod in "${PODS_ORDER[@]}"; do
    if (( force )) || ! pod_in_place "$pod"; then
      deploy_pod "$pod"
    fi
    case "$pod" in
      database) wait_database ;;
      secrets) bootstrap_secrets ;;
      core) wait_runtime ;;
    esac
  done
  seed_if_needed
  wait_services
  ensure_fuse_daemon
  echo "$sig" > "$DEPLOYED_SIG_FILE"
  say "sandbox up in $((SECONDS - t0))s: registry $REGISTRY_HOST, deploy checkout $DEPLOY_DIR"
}

cmd_reset() {
  local start pod
  start=$(date +%s.%N)
  load_ports read
  [[ -f "$PORTS_FILE" ]] || load_ports up
  ensure_infrastructure
  ensure_host
  clear_faults
  generate_deploy
  : > "$COMMAND_LOG"
  : > "$COMMANDS_RUN"
  ensure_host_paths
  if ! pod_in_place database; then deploy_pod database; fi
  wait_database
  # Before the runtime's start: OpenBao unsealed, and .env's AppRole credentials those it takes.
  pod_in_place secrets || deploy_pod secrets
  bootstrap_secrets
  recreate_aegis_database
  deploy_pod core
  wait_runtime
  seed_if_needed
  for pod in "${PODS_ORDER[@]}"; do
    [[ "$pod" == database || "$pod" == secrets || "$pod" == core ]] || pod_in_place "$pod" || deploy_pod "$pod"
  done
  wait_services
  ensure_fuse_daemon
  untag_pulled_releases
  deployed_signature > "$DEPLOYED_SIG_FILE"
  say "reset to $BASELINE in $(awk -v s="$start" -v e="$(date +%s.%N)" 'BEGIN { printf "%.1f", e - s }')s"
}

cmd_down() {
  local i
  load_ports read
  stop_fuse_daemon
  for (( i=${#PODS_ORDER[@]}-1; i>=0; i-- )); do remove_pod "${PODS_ORDER[$i]}"; done
  rm -f "$DEPLOYED_SIG_FILE"
  if own_host; then
    stop_registry
    say "deployment down (its images and database files kept in $STATE_DIR; the main sandbox's registry left running)"
    return 0
  fi
  stop_registry
  say "sandbox down (images, registry storage and database files kept in $STATE_DIR)"
}

cmd_status() {
  local pid tag image health
  load_ports read
  echo "AEGIS sandbox — state in $STATE_DIR"
  if pid="$(registry_pid)" && registry_answers; then
    echo "Registry:      running (pid $pid) at http://$REGISTRY_HOST"
  elif registry_answers; then
    echo "Registry:      something answers at http://$REGISTRY_HOST but it was not started by the sandbox"
  else
    echo "Registry:      stopped ($REGISTRY_HOST)"
  fi
  if platform_podman network exists "$NETWORK" 2>/dev/null; then echo "Network:       $NETWORK"; else echo "Network:       $NETWORK missing"; fi
  tag="(no deploy checkout)"
  [[ -f "$DEPLOY_DIR/.env" ]] && tag="$(sed -n 's/^AEGIS_IMAGE_TAG=//p' "$DEPLOY_DIR/.env" | tail -n 1)"
  image="$(platform_podman inspect --format '{{.ImageName}} ({{.State.Status}})' aegis-core-aegis-runtime 2>/dev/null || echo 'not deployed')"
  health="$(curl -s --max-time 2 "http://127.0.0.1:$PORT_RUNTIME/health/ready" 2>/dev/null || true)"
  echo "Deployed tag:  AEGIS_IMAGE_TAG=$tag in $DEPLOY_DIR/.env"
  echo "Runtime:       $image"
  echo "Runtime ready: ${health:-no answer on 127.0.0.1:$PORT_RUNTIME}"
  if [[ -f "$COMMAND_LOG" ]]; then echo "Command log:   $COMMAND_LOG ($(wc -l < "$COMMAND_LOG") lines)"; fi
  echo "Pods:"
  platform_podman pod ps --filter name=aegis- --format "table {{.Name}}\t{{.Status}}\t{{.NumberOfContainers}}" | sed 's/^/  /'
}

cmd_env() {
  load_ports read
  cat <<EOF
export AEGIS_ROOT=$DEPLOY_DIR
export AEGIS_REGISTRY=$REGISTRY
export AEGIS_PROFILE=development
export AEGIS_POSTGRES_HOST=127.0.0.1
export AEGIS_POSTGRES_PORT=$PORT_POSTGRES
export AEGIS_RUNTIME_URL=http://127.0.0.1:$PORT_RUNTIME
export AEGIS_SEAL_GATEWAY_URL=http://127.0.0.1:$PORT_SEAL_GATEWAY
export AEGIS_SANDBOX_COMMAND_LOG=$COMMAND_LOG
export AEGIS_SANDBOX_COMMANDS_RUN=$COMMANDS_RUN
export AEGIS_SANDBOX_BIN=$FAULT_BIN_DIR
export AEGIS_SANDBOX_FAULTS=$FAULT_RULES
EOF
  echo "export AEGIS_PLATFORM_USER=$PLATFORM_USER"
}

cmd_infrastructure() {
  own_host && die "infrastructure is the main sandbox's: run it without AEGIS_SANDBOX_SHARED_DIR"
  load_ports up
  ensure_infrastructure
}

cmd_images() {
  [[ "${1:-}" == temporal && $# -ge 2 ]] || die "usage: sandbox.sh images temporal <version>... (e.g. 1.22.6 1.23.1 1.24.2)"
  shift
  # Images are built once, into the main sandbox's registry, whose storage every deployment's registry serves.
  if own_host; then run_main_sandbox "$SHARED_DIR" images temporal "$@"; return; fi
  load_ports up
  ensure_infrastructure
  ensure_temporal_server_images "$@"
  publish_temporal_server_images "$@"
  local v
  for v in "$@"; do say "real Temporal server in the registry: $REGISTRY_HOST/temporalio/auto-setup:$v"; done
}

cmd_latest() {
  [[ $# -eq 1 ]] || die "usage: sandbox.sh latest <version> (e.g. 1.2.0): the registry's latest names that release"
  load_ports read
  registry_answers || die "the registry at $REGISTRY_HOST does not answer: sandbox.sh up first"
  move_latest "$1"
  say "latest in $REGISTRY now names $1's images"
}

cmd_behind() {
  [[ $# -eq 1 ]] || die "usage: sandbox.sh behind <image> (e.g. pgbouncer): its pod runs an older build than the registry's latest"
  load_ports read
  registry_answers || die "the registry at $REGISTRY_HOST does not answer: sandbox.sh up first"
  run_older_build "$1"
  say "$1 runs an older build than $REGISTRY_HOST's latest"
}

# up/reset/down never overlap (several test runs may share one sandbox).
take_lock() {
  mkdir -p "$STATE_DIR"
  exec 9> "$STATE_DIR/.sandbox.lock"
  if ! flock -n 9; then
    say "waiting for another sandbox command to finish"
    flock -w 600 9 || die "another sandbox command still holds $STATE_DIR/.sandbox.lock"
  fi
}

case "${1:-}" in
  up) take_lock; cmd_up ;;
  down) take_lock; cmd_down ;;
  reset) take_lock; cmd_reset ;;
  infrastructure) take_lock; cmd_infrastructure ;;
  status) cmd_status ;;
  env) cmd_env ;;
  fault) shift; cmd_fault "$@" ;;
  images) shift; take_lock; cmd_images "$@" ;;
  latest) shift; cmd_latest "$@" ;;
  behind) shift; take_lock; cmd_behind "$@" ;;
  *) echo "usage: $0 up|down|reset|status|env|fault|infrastructure|images|latest|behind" >&2; exit 2 ;;
esac
