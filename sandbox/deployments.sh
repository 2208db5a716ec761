#!/usr/bin/env bash
# Several AEGIS deployments on one machine, each as if on its own host, for environments and fleets.
#
#   deployments.sh up NAME...      bring up each named deployment (idempotent); first the shared images
#                                  and registry (the main sandbox's, `sandbox.sh infrastructure`)
#   deployments.sh reset NAME...   each back to the baseline (`sandbox.sh reset` on it)
#   deployments.sh down [NAME...]  remove their pods (every known deployment when none is named)
#   deployments.sh env NAME        `export KEY=value` lines for NAME's worker and tests (stdout only)
#   deployments.sh status NAME     `sandbox.sh status` of NAME
#   deployments.sh list            known deployments: name, slot, PostgreSQL and runtime ports
#   deployments.sh sandbox-env NAME  `export KEY=value` lines that make sandbox.sh, podman and the tests act on
#                                  NAME (a test lane runs with them: test/helpers/lane-setup.ts)
#
# Each deployment is `sandbox.sh` with a state directory of its own (<repo>/.sandbox/deployments/NAME) and a
# platform user of its own (aegis-dep<slot>): its own rootless podman storage, run state, network namespace and
# network definitions (so the real, fixed pod names stay the same and its `aegis-network` never merges with
# another's), PostgreSQL data, deploy checkout, secrets, host ports (the main sandbox's ports + 100 × slot) and
# registry process. The registry's storage and the built images are shared. A name is an environment name (lowercase letters, digits, '-').
# Slots 1–9: nine deployments at most, beside the main sandbox.
set -euo pipefail

SANDBOX_SRC="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
REPO_ROOT="$(dirname "$SANDBOX_SRC")"
# From a test lane (its variables set by `sandbox-env`), the main sandbox is the lane's shared directory.
SHARED_DIR="${AEGIS_SANDBOX_SHARED_DIR:-${AEGIS_SANDBOX_DIR:-$REPO_ROOT/.sandbox}}"
DEPLOYMENTS_DIR="$SHARED_DIR/deployments"
MAX_SLOT=9

# shellcheck source=lib/main-sandbox.sh
. "$SANDBOX_SRC/lib/main-sandbox.sh"

SAY_PREFIX=deployments
# shellcheck source=lib/common.sh
. "$SANDBOX_SRC/lib/common.sh"

check_name() {
  [[ "$1" =~ ^[a-z0-9]([a-z0-9-]{0,30}[a-z0-9])?$ ]] \
    || die "'$1' is not a deployment name: lowercase letters, digits and '-', 1–32 characters, not starting or ending with '-'"
}

known() { [[ -d "$DEPLOYMENTS_DIR" ]] && find "$DEPLOYMENTS_DIR" -mindepth 2 -maxdepth 2 -name slot -printf '%h\n' | xargs -rn1 basename | sort; }

# The deployment's slot (1–9), given once and remembered in its state directory; test lanes ask at once.
slot_of() {
  local name="$1" dir="$DEPLOYMENTS_DIR/$1"
  if [[ -f "$dir/slot" ]]; then cat "$dir/slot"; return; fi
  mkdir -p "$DEPLOYMENTS_DIR"
  ( flock -w 60 8 || die "another deployments.sh holds $DEPLOYMENTS_DIR/.slots.lock"; new_slot "$name" ) 8> "$DEPLOYMENTS_DIR/.slots.lock"
}
new_slot() {
  local name="$1" dir="$DEPLOYMENTS_DIR/$1" slot used
  if [[ -f "$dir/slot" ]]; then cat "$dir/slot"; return; fi
  used=" $(cat "$DEPLOYMENTS_DIR"/*/slot 2>/dev/null | tr '\n' ' ') "
  for (( slot = 1; slot <= MAX_SLOT; slot++ )); do
    [[ "$used" == *" $slot "* ]] && continue
    mkdir -p "$dir"
    echo "$slot" > "$dir/slot"
    echo "$slot"
    return
  done
  die "no free slot for '$name': $MAX_SLOT deployments exist ($(known | tr '\n' ' ')); remove one with \`deployments.sh down NAME\` and rm -rf its directory"
}

# Runs sandbox.sh for one deployment, with its state directory, ports, subnet and bridge.
on_deployment() { # <name> <sandbox.sh arguments...>
  local name="$1"
  shift
  local -a env
  mapfile -t env < <(deployment_variables "$name")
  env "${env[@]}" bash "$SANDBOX_SRC/sandbox.sh" "$@"
}

# The platform's user of the deployment in a slot: its host's, as if on a host of its own (a user name is short: the
# slot, not the deployment's name). sandbox.sh makes it.
deployment_user() { echo "${AEGIS_PLATFORM_USER_BASE:-aegis}-dep$1"; }

# KEY=value lines: what sandbox.sh acts on for NAME (see DEPLOYMENT_VARIABLES).
deployment_variables() { # <name>
  local name="$1" slot spec key def
  slot="$(slot_of "$name")"
  local -a env=(
    "AEGIS_SANDBOX_DIR=$DEPLOYMENTS_DIR/$name"
    "AEGIS_SANDBOX_SHARED_DIR=$SHARED_DIR"
    "AEGIS_SANDBOX_ENVIRONMENT=$name"
    "AEGIS_PLATFORM_USER=$(deployment_user "$slot")"
  )
  for spec in "${PORT_SPECS[@]}"; do
    key="${spec%%:*}" def="${spec##*:}"
    env+=("AEGIS_SANDBOX_${key}_PORT=$((def + 100 * slot))")
  done
  printf '%s\n' "${env[@]}"
}

cmd_up() {
  local name t0=$SECONDS
  [[ $# -gt 0 ]] || die "usage: deployments.sh up NAME..."
  for name in "$@"; do check_name "$name"; done
  say "shared images and registry (the main sandbox's)"
  run_main_sandbox "$SHARED_DIR" infrastructure
  for name in "$@"; do
    say "deployment $name (slot $(slot_of "$name"))"
    on_deployment "$name" up
  done
  say "$# deployment(s) up in $((SECONDS - t0))s: $*"
}

cmd_each() { # <sandbox.sh command> NAME...
  local command="$1" name
  shift
  for name in "$@"; do
    check_name "$name"
    [[ -f "$DEPLOYMENTS_DIR/$name/slot" ]] || die "no deployment '$name' (known: $(known | tr '\n' ' '))"
    on_deployment "$name" "$command"
  done
}

cmd_list() {
  local name ports
  printf '%-20s %-5s %-9s %s\n' NAME SLOT POSTGRES RUNTIME
  while IFS= read -r name; do
    [[ -n "$name" ]] || continue
    ports="$DEPLOYMENTS_DIR/$name/ports.env"
    printf '%-20s %-5s %-9s %s\n' "$name" "$(cat "$DEPLOYMENTS_DIR/$name/slot")" \
      "$(sed -n 's/^AEGIS_SANDBOX_POSTGRES_PORT=//p' "$ports" 2>/dev/null || true)" \
      "$(sed -n 's/^AEGIS_SANDBOX_RUNTIME_PORT=//p' "$ports" 2>/dev/null || true)"
  done < <(known)
}

case "${1:-}" in
  up) shift; cmd_up "$@" ;;
  reset) shift; [[ $# -gt 0 ]] || die "usage: deployments.sh reset NAME..."; cmd_each reset "$@" ;;
  down)
    shift
    if [[ $# -eq 0 ]]; then mapfile -t names < <(known); set -- "${names[@]}"; fi
    [[ $# -eq 0 ]] || cmd_each down "$@"
    ;;
  env)
    shift
    [[ $# -eq 1 ]] || die "usage: deployments.sh env NAME"
    cmd_each env "$1"
    echo "export AEGIS_ENVIRONMENT=$1"
    ;;
  status) shift; [[ $# -eq 1 ]] || die "usage: deployments.sh status NAME"; cmd_each status "$1" ;;
  list) cmd_list ;;
  sandbox-env)
    shift
    [[ $# -eq 1 ]] || die "usage: deployments.sh sandbox-env NAME"
    check_name "$1"
    deployment_variables "$1" | sed 's/^/export /'
    ;;
  *) echo "usage: $0 up|reset|down|env|status|list|sandbox-env" >&2; exit 2 ;;
esac
