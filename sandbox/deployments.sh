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
#
# Each deployment is `sandbox.sh` with a state directory of its own (<repo>/.sandbox/deployments/NAME):
# its own podman storage, run state and network definitions (so the real, fixed pod names stay the same
# and its `aegis-network` never merges with another's), its own bridge and subnet (10.90.<slot>.0/24),
# PostgreSQL data, deploy checkout, secrets and host ports (the main sandbox's ports + 100 × slot). The
# registry and the built images are shared. A name is an environment name (lowercase letters, digits, '-').
# Slots 1–9: nine deployments at most, beside the main sandbox.
set -euo pipefail

SANDBOX_SRC="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
REPO_ROOT="$(dirname "$SANDBOX_SRC")"
SHARED_DIR="${AEGIS_SANDBOX_DIR:-$REPO_ROOT/.sandbox}"
DEPLOYMENTS_DIR="$SHARED_DIR/deployments"
MAX_SLOT=9
# name:default host port, as in sandbox.sh (the registry is shared, not offset)
OFFSET_PORTS=(POSTGRES:15432 RUNTIME:18088 SEAL_GATEWAY:18089 TEMPORAL_UI:18233 TEMPORAL_GRPC:18234 PROMETHEUS:19090)

say() { printf '[deployments] %s\n' "$*" >&2; }
die() { printf '[deployments] ERROR: %s\n' "$*" >&2; exit 1; }

check_name() {
  [[ "$1" =~ ^[a-z0-9]([a-z0-9-]{0,30}[a-z0-9])?$ ]] \
    || die "'$1' is not a deployment name: lowercase letters, digits and '-', 1–32 characters, not starting or ending with '-'"
}

known() { [[ -d "$DEPLOYMENTS_DIR" ]] && find "$DEPLOYMENTS_DIR" -mindepth 2 -maxdepth 2 -name slot -printf '%h\n' | xargs -rn1 basename | sort; }

# The deployment's slot (1–9), given once and remembered in its state directory.
slot_of() {
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
  local name="$1" slot spec key def registry_port
  shift
  slot="$(slot_of "$name")"
  registry_port="$(sed -n 's/^AEGIS_SANDBOX_REGISTRY_PORT=//p' "$SHARED_DIR/ports.env" 2>/dev/null | tail -n 1)"
  local -a env=(
    "AEGIS_SANDBOX_DIR=$DEPLOYMENTS_DIR/$name"
    "AEGIS_SANDBOX_SHARED_DIR=$SHARED_DIR"
    "AEGIS_SANDBOX_REGISTRY_PORT=${registry_port:-15000}"
    "AEGIS_SANDBOX_SUBNET=10.90.$slot.0/24"
    "AEGIS_SANDBOX_BRIDGE=aegis-dep$slot"
    "AEGIS_SANDBOX_ENVIRONMENT=$name"
  )
  for spec in "${OFFSET_PORTS[@]}"; do
    key="${spec%%:*}" def="${spec##*:}"
    env+=("AEGIS_SANDBOX_${key}_PORT=$((def + 100 * slot))")
  done
  env "${env[@]}" bash "$SANDBOX_SRC/sandbox.sh" "$@"
}

cmd_up() {
  local name t0=$SECONDS
  [[ $# -gt 0 ]] || die "usage: deployments.sh up NAME..."
  for name in "$@"; do check_name "$name"; done
  say "shared images and registry (the main sandbox's)"
  AEGIS_SANDBOX_DIR="$SHARED_DIR" bash "$SANDBOX_SRC/sandbox.sh" infrastructure
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
  *) echo "usage: $0 up|reset|down|env|status|list" >&2; exit 2 ;;
esac
