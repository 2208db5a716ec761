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
PGDATA_DIR="$STATE_DIR/pgdata"
COMMAND_LOG="$STATE_DIR/commands.log"
# Every podman and make command a worker runs through the fault shim (faults/shim.sh), with its end.
COMMANDS_RUN="$STATE_DIR/commands-run.log"
PORTS_FILE="$STATE_DIR/ports.env"
SECRETS_FILE="$STATE_DIR/secrets.env"
DEPLOYED_SIG_FILE="$STATE_DIR/deployed.sig"
FAULT_BIN_DIR="$STATE_DIR/bin"
FAULT_RULES="$STATE_DIR/faults"
REGISTRIES_CONF_DIR=/etc/containers/registries.conf.d

# A deployment on its own host (sandbox/deployments.sh): podman's storage, run state, locks and network
# definitions of its own under <state>/podman, so the fixed pod names and the network `aegis-network` exist
# once per deployment, and two deployments' networks (bridge, subnet, DNS) never merge. Images and the
# registry's storage are the main sandbox's (AEGIS_SANDBOX_SHARED_DIR, remembered in <state>/podman/shared-dir).
# Each deployment serves that storage from a registry process of its own, on its own port: taking one
# deployment's registry away (`fault registry-down`) leaves the others' pulls alone.
PODMAN_DIR="$STATE_DIR/podman"
SHARED_DIR="${AEGIS_SANDBOX_SHARED_DIR:-}"
[[ -z "$SHARED_DIR" && -f "$PODMAN_DIR/shared-dir" ]] && SHARED_DIR="$(cat "$PODMAN_DIR/shared-dir")"
if [[ -n "$SHARED_DIR" ]]; then
  BUILD_DIR="$SHARED_DIR/build"
  REGISTRY_DATA="$SHARED_DIR/registry/data"
  export CONTAINERS_CONF="$PODMAN_DIR/containers.conf" CONTAINERS_STORAGE_CONF="$PODMAN_DIR/storage.conf"
fi
own_host() { [[ -n "$SHARED_DIR" ]]; }

BASELINE=1.2.0
NETWORK=aegis-network
PODS_ORDER=(database temporal seal-gateway core observability)
# name:default host port (env var AEGIS_SANDBOX_<name>_PORT)
PORT_SPECS=(REGISTRY:15000 POSTGRES:15432 RUNTIME:18088 SEAL_GATEWAY:18089 TEMPORAL_UI:18233
            TEMPORAL_GRPC:18234 PROMETHEUS:19090)

say() { printf '[sandbox] %s\n' "$*" >&2; }
die() { printf '[sandbox] ERROR: %s\n' "$*" >&2; exit 1; }

# shellcheck source=lib/images.sh
. "$SANDBOX_SRC/lib/images.sh"
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
# Registry
# ---------------------------------------------------------------------------------------------

# A zombie has ended: only its parent (this script) has not reaped it yet.
process_alive() { local state; state="$(ps -o stat= -p "$1" 2>/dev/null)" && [[ "$state" != Z* ]]; }
registry_answers() { curl -sf -o /dev/null --max-time 2 "http://$REGISTRY_HOST/v2/"; }
registry_pid() {
  local pid
  [[ -f "$REGISTRY_DIR/registry.pid" ]] || return 1
  pid="$(cat "$REGISTRY_DIR/registry.pid")"
  [[ -n "$pid" ]] && kill -0 "$pid" 2>/dev/null && grep -q docker-registry "/proc/$pid/cmdline" 2>/dev/null || return 1
  echo "$pid"
}

# One file per registry port: the main sandbox's and each deployment's registry are marked side by side.
registries_conf() { if own_host; then echo "$REGISTRIES_CONF_DIR/50-aegis-sandbox-$PORT_REGISTRY.conf"; else echo "$REGISTRIES_CONF_DIR/50-aegis-sandbox.conf"; fi; }

ensure_insecure_registry() {
  local want REGISTRIES_CONF
  REGISTRIES_CONF="$(registries_conf)"
  want="$(printf '# Written by the aegis-upgrade sandbox (sandbox/sandbox.sh): its registry speaks plain HTTP.\n[[registry]]\nlocation = "%s"\ninsecure = true\n' "$REGISTRY_HOST")"
  if [[ ! -f "$REGISTRIES_CONF" || "$(cat "$REGISTRIES_CONF")" != "$want" ]]; then
    say "marking $REGISTRY_HOST as an insecure (HTTP) registry in $REGISTRIES_CONF"
    mkdir -p "$(dirname "$REGISTRIES_CONF")"
    printf '%s\n' "$want" > "$REGISTRIES_CONF"
  fi
}

start_registry() {
  local pid deadline
  mkdir -p "$REGISTRY_DIR" "$REGISTRY_DATA"
  cat > "$REGISTRY_DIR/config.yml.new" <<EOF
version: 0.1
log:
  level: warn
  accesslog:
    disabled: true
  fields:
    service: aegis-sandbox-registry
storage:
  filesystem:
    rootdirectory: $REGISTRY_DATA
  delete:
    enabled: true
http:
  addr: $REGISTRY_HOST
  secret: aegis-sandbox-not-secret
  headers:
    X-Content-Type-Options: [nosniff]
EOF
  if ! cmp -s "$REGISTRY_DIR/config.yml.new" "$REGISTRY_DIR/config.yml"; then
    stop_registry # its address changed (or first start)
  fi
  mv "$REGISTRY_DIR/config.yml.new" "$REGISTRY_DIR/config.yml"
  if pid="$(registry_pid)"; then
    registry_answers && return 0
  elif registry_answers; then
    die "something else already answers on $REGISTRY_HOST (not the sandbox registry); set AEGIS_SANDBOX_REGISTRY_PORT"
  fi
  if [[ -z "${pid:-}" ]]; then
    say "starting registry on $REGISTRY_HOST (storage $REGISTRY_DATA)"
    # AEGIS_SANDBOX_REGISTRY_START_DELAY (seconds, tests): the process becomes docker-registry late, as on a busy machine.
    { sleep "${AEGIS_SANDBOX_REGISTRY_START_DELAY:-0}"; exec setsid docker-registry serve "$REGISTRY_DIR/config.yml"; } \
      >> "$REGISTRY_DIR/registry.log" 2>&1 < /dev/null 9>&- &
    pid=$!
    echo "$pid" > "$REGISTRY_DIR/registry.pid"
  fi
  # Until the port answers, the process is judged alive by its pid alone: it may not have exec'd docker-registry yet.
  deadline=$((SECONDS + 60))
  until registry_answers; do
    process_alive "$pid" || registry_failed "its process $pid ended"
    (( SECONDS < deadline )) || registry_failed "no answer within 60 s, its process $pid still running"
    sleep 0.2
  done
}
registry_failed() {
  tail -n 20 "$REGISTRY_DIR/registry.log" >&2 || true
  die "the registry did not come up on $REGISTRY_HOST: $1 (its log is above, from $REGISTRY_DIR/registry.log)"
}

stop_registry() {
  local pid i
  if pid="$(registry_pid)"; then
    say "stopping registry (pid $pid)"
    kill "$pid"
    for i in $(seq 1 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.2; done
    kill -0 "$pid" 2>/dev/null && kill -9 "$pid"
  fi
  rm -f "$REGISTRY_DIR/registry.pid"
}

# ---------------------------------------------------------------------------------------------
# Deploy checkout
# ---------------------------------------------------------------------------------------------

render() { # <template> <destination>
  sed -e "s|@REGISTRY_HOST@|$REGISTRY_HOST|g" \
      -e "s|@REGISTRY@|$REGISTRY|g" \
      -e "s|@AEGIS_ROOT@|$DEPLOY_DIR|g" \
      -e "s|@PGDATA_DIR@|$PGDATA_DIR|g" \
      -e "s|@BASELINE@|$BASELINE|g" \
      -e "s|@GHCR_TOKEN@|$GHCR_TOKEN|g" \
      -e "s|@POSTGRES_PASSWORD@|$POSTGRES_PASSWORD|g" \
      -e "s|@REGISTRY_PORT@|$PORT_REGISTRY|g" \
      -e "s|@POSTGRES_PORT@|$PORT_POSTGRES|g" \
      -e "s|@RUNTIME_PORT@|$PORT_RUNTIME|g" \
      -e "s|@SEAL_GATEWAY_PORT@|$PORT_SEAL_GATEWAY|g" \
      -e "s|@TEMPORAL_UI_PORT@|$PORT_TEMPORAL_UI|g" \
      -e "s|@TEMPORAL_GRPC_PORT@|$PORT_TEMPORAL_GRPC|g" \
      -e "s|@PROMETHEUS_PORT@|$PORT_PROMETHEUS|g" \
      "$1" > "$2"
}

# Writes the deploy checkout from sandbox/deploy, emptying the directory first (same inode, so
# a shell sitting in it keeps working).
generate_deploy() {
  local src="$SANDBOX_SRC/deploy" rel
  mkdir -p "$DEPLOY_DIR"
  # A test may have made the checkout immutable (a fault that makes every write to it fail).
  chattr -i "$DEPLOY_DIR" 2>/dev/null || true
  find "$DEPLOY_DIR" -mindepth 1 -delete
  while IFS= read -r rel; do
    rel="${rel#./}"
    [[ "$rel" == env.template ]] && continue
    mkdir -p "$DEPLOY_DIR/$(dirname "$rel")"
    render "$src/$rel" "$DEPLOY_DIR/$rel"
    [[ -x "$src/$rel" ]] && chmod +x "$DEPLOY_DIR/$rel"
  done < <(cd "$src" && find . -type f | sort)
  render "$src/env.template" "$DEPLOY_DIR/.env"
  # An empty backups/ (the guide's `pg_dumpall > ./backups/…` needs it): "no backup taken" is read from it.
  mkdir -m 0700 "$DEPLOY_DIR/backups"
  if [[ -n "${AEGIS_SANDBOX_ENVIRONMENT:-}" ]]; then
    printf '\n# --- Which environment this deployment is (its upgrade worker checks it) ---\nAEGIS_ENVIRONMENT=%s\n' \
      "$AEGIS_SANDBOX_ENVIRONMENT" >> "$DEPLOY_DIR/.env"
  fi
}

# ---------------------------------------------------------------------------------------------
# Pods
# ---------------------------------------------------------------------------------------------

pod_yaml() { # <pod>: the YAML after envsubst with the checkout's .env, as `make redeploy` sees it
  # shellcheck source=/dev/null
  (cd "$DEPLOY_DIR" && set -a && . ./.env && set +a && envsubst < "podman/pods/$1/pod-$1.yaml")
}

# "<container> <image>" per container of the pod YAML.
expected_containers() {
  pod_yaml "$1" | awk '/^    - name: /{n=$3} /^      image: /{gsub(/"/, "", $2); if (n != "") print n, $2; n=""}'
}

# True when every container of the pod YAML runs, with the image the YAML names.
pod_in_place() {
  local pod="$1" want have
  want="$(expected_containers "$pod" | while read -r n i; do echo "aegis-$pod-$n $i running"; done | sort)"
  have="$(podman ps -a --filter "pod=aegis-$pod" --format '{{.Names}} {{.Image}} {{.State}}' 2>/dev/null \
          | awk '$1 !~ /-infra$/ { print $1, $2, ($3 == "Up" ? "running" : $3) }' | sort || true)"
  [[ -n "$want" && "$want" == "$have" ]] && pod_mounts_in_place "$pod"
}
# Each hostPath of the pod's YAML is mounted: a pod left by a sandbox in another state directory is not ours.
pod_mounts_in_place() {
  local pod="$1" wanted mounted
  mounted="$(podman ps -a --filter "pod=aegis-$pod" --format '{{.Names}}' | grep -v -- '-infra$' \
             | xargs -r podman inspect --format '{{range .Mounts}}{{.Source}}{{"\n"}}{{end}}' 2>/dev/null || true)"
  while read -r wanted; do
    grep -qxF -- "$wanted" <<< "$mounted" || return 1
  done < <(pod_yaml "$pod" | awk '/hostPath:/ { host = 1; next } host && /^ *path: / { print $2; host = 0 }' | tr -d '"')
}

deploy_pod() {
  say "deploying pod aegis-$1"
  # `play kube --replace` removes a running pod slowly (seconds in `pod rm -f`); a stopped one in a blink.
  podman pod stop --ignore -t 10 "aegis-$1" >/dev/null 2>&1 9>&- || true
  if ! pod_yaml "$1" | podman play kube --quiet --network "$NETWORK" --replace - >/dev/null 9>&-; then
    die "podman play kube failed for pod $1"
  fi
}

remove_pod() {
  if podman pod exists "aegis-$1" 2>/dev/null; then
    say "removing pod aegis-$1"
    podman pod rm -f -t 10 "aegis-$1" >/dev/null
  fi
}

# A network made before netavark was selected (podman's CNI fallback) has no DNS: the pods would not find
# each other by name. It is made again, with the pods on it.
ensure_network() {
  if podman network exists "$NETWORK" && [[ "$(podman network inspect --format '{{.DNSEnabled}}' "$NETWORK")" != true ]]; then
    say "network $NETWORK has no DNS (made under another network backend): removing it and its pods"
    podman network rm -f -t 10 "$NETWORK" >/dev/null
  fi
  podman network exists "$NETWORK" && return 0
  if own_host; then
    # Its own bridge and subnet: a network configuration directory of its own does not know the others'.
    [[ -n "${AEGIS_SANDBOX_SUBNET:-}" && -n "${AEGIS_SANDBOX_BRIDGE:-}" ]] \
      || die "network $NETWORK is missing: create it with sandbox/deployments.sh up (it names the subnet and bridge)"
    say "creating network $NETWORK (subnet $AEGIS_SANDBOX_SUBNET, bridge $AEGIS_SANDBOX_BRIDGE)"
    podman network create --subnet "$AEGIS_SANDBOX_SUBNET" "$NETWORK" >/dev/null
    # podman 4.3 has no --interface-name: its bridge name (podman1, ...) is set in the definition before any
    # container uses the network, or each deployment would take podman1 and share one bridge.
    sed -i -E "s/(\"network_interface\": *\")[^\"]*\"/\1$AEGIS_SANDBOX_BRIDGE\"/" "$PODMAN_DIR/networks/$NETWORK.json"
    grep -q "\"network_interface\": *\"$AEGIS_SANDBOX_BRIDGE\"" "$PODMAN_DIR/networks/$NETWORK.json" \
      || die "could not name the bridge of $NETWORK in $PODMAN_DIR/networks/$NETWORK.json"
  else
    say "creating network $NETWORK"
    podman network create "$NETWORK" >/dev/null
  fi
}

# The podman settings of a deployment on its own host: the bootstrap's (runc, ulimits, netavark) with its own
# storage, run directory, lock files and network definitions. Rootful podman 4.3 also keeps every network's
# run state in one directory, /run/containers/networks, whatever the settings say: aardvark-dns's names are
# kept there per network *name*, so two deployments' `aegis-network` would answer each other's pod names.
# podman finds netavark in helper_binaries_dir first: there, a netavark that keeps this deployment's network
# run state (and so its own aardvark-dns, answering on its own bridge) in <state>/podman/network-run.
write_own_podman_settings() {
  local real_netavark
  mkdir -p "$PODMAN_DIR/helpers" "$PODMAN_DIR/network-run"
  printf '%s\n' "$SHARED_DIR" > "$PODMAN_DIR/shared-dir"
  real_netavark="$(command -v netavark || echo /usr/lib/podman/netavark)"
  [[ -x "$real_netavark" ]] || die "netavark is not installed (apt-get install netavark aardvark-dns)"
  cat > "$PODMAN_DIR/helpers/netavark" <<EOF
#!/usr/bin/env bash
# Written by sandbox.sh: netavark for the deployment in $STATE_DIR, with its own network run state.
args=()
while [[ \$# -gt 0 ]]; do
  case "\$1" in
    --config) args+=(--config "$PODMAN_DIR/network-run"); shift 2 ;;
    --config=*) args+=(--config="$PODMAN_DIR/network-run"); shift ;;
    *) args+=("\$1"); shift ;;
  esac
done
exec $real_netavark "\${args[@]}"
EOF
  chmod +x "$PODMAN_DIR/helpers/netavark"
  cat > "$PODMAN_DIR/containers.conf" <<EOF
# Written by sandbox.sh for the deployment in $STATE_DIR: podman as on a host of its own.
[containers]
default_ulimits = ["nofile=1024:1024", "nproc=1000:1000"]
[engine]
runtime = "runc"
tmp_dir = "$PODMAN_DIR/tmp"
lock_type = "file"
helper_binaries_dir = ["$PODMAN_DIR/helpers", "/usr/local/libexec/podman", "/usr/local/lib/podman", "/usr/libexec/podman", "/usr/lib/podman"]
[network]
network_backend = "netavark"
network_config_dir = "$PODMAN_DIR/networks"
EOF
  cat > "$PODMAN_DIR/storage.conf" <<EOF
# Written by sandbox.sh for the deployment in $STATE_DIR.
[storage]
driver = "overlay"
graphroot = "$PODMAN_DIR/storage"
runroot = "$PODMAN_DIR/run"
EOF
}

wait_for() { # <seconds> <what> <command...>
  local limit="$1" what="$2" deadline
  shift 2
  deadline=$((SECONDS + limit))
  until "$@" >/dev/null 2>&1; do
    if (( SECONDS >= deadline )); then
      say "timed out after ${limit}s waiting for $what"
      return 1
    fi
    sleep 0.2
  done
}

pg_ready() { podman exec aegis-database-postgres pg_isready -q -U aegis -d postgres; }
psql_exec() { podman exec -i aegis-database-postgres psql -X -q -v ON_ERROR_STOP=1 -U aegis "$@"; }
http_ok() { curl -sf -o /dev/null --max-time 2 "$1"; }
runtime_ready() { curl -sf --max-time 2 "http://127.0.0.1:$PORT_RUNTIME/health/ready" | grep -q '"status":"ready"'; }
container_state() { podman inspect --format '{{.State.Status}}' "$1" 2>/dev/null || echo missing; }

wait_database() {
  wait_for 90 "PostgreSQL in aegis-database" pg_ready || {
    podman logs --tail 30 aegis-database-postgres >&2 || true
    die "PostgreSQL did not become ready"
  }
}

wait_runtime() {
  local deadline=$((SECONDS + 60)) state
  until runtime_ready; do
    state="$(container_state aegis-core-aegis-runtime)"
    if [[ "$state" != running && "$state" != created && "$state" != configured ]] || (( SECONDS >= deadline )); then
      podman logs --tail 30 aegis-core-aegis-runtime >&2 || true
      die "the runtime did not become ready (container $state, $(grep '^AEGIS_IMAGE_TAG=' "$DEPLOY_DIR/.env" 2>/dev/null | tail -n 1) in .env); see its log above. \`sandbox.sh reset\` returns to $BASELINE"
    fi
    sleep 0.2
  done
}

wait_services() {
  wait_for 30 "SEAL gateway" http_ok "http://127.0.0.1:$PORT_SEAL_GATEWAY/health" || die "SEAL gateway not answering"
  wait_for 30 "Temporal UI" http_ok "http://127.0.0.1:$PORT_TEMPORAL_UI/" || die "Temporal UI not answering"
  wait_for 30 "Prometheus" http_ok "http://127.0.0.1:$PORT_PROMETHEUS/-/ready" || die "Prometheus not answering"
}

# Seed rows once the 1.2.0 schema exists and the agents table is empty.
seed_if_needed() {
  local n
  n="$(psql_exec -d aegis -A -t -c "SELECT CASE WHEN to_regclass('public.agents') IS NULL THEN -1 ELSE (SELECT count(*) FROM agents) END")"
  case "$n" in
    -1) die "the aegis database has no agents table: the runtime did not migrate it" ;;
    0) say "loading seed rows"; psql_exec -d aegis < "$SANDBOX_SRC/db/seed.sql" ;;
  esac
}

recreate_aegis_database() {
  say "recreating database aegis"
  psql_exec -d postgres <<EOF
DROP DATABASE IF EXISTS aegis WITH (FORCE);
CREATE DATABASE aegis;
ALTER ROLE aegis WITH PASSWORD '$POSTGRES_PASSWORD';
SELECT 'CREATE DATABASE temporal' WHERE NOT EXISTS (SELECT FROM pg_database WHERE datname = 'temporal') \gexec
SELECT 'CREATE DATABASE temporal_visibility' WHERE NOT EXISTS (SELECT FROM pg_database WHERE datname = 'temporal_visibility') \gexec
EOF
}

deployed_signature() { cat "$PORTS_FILE" "$BUILD_DIR/images.stamp" 2>/dev/null | sha256sum | cut -c1-16; }

# ---------------------------------------------------------------------------------------------
# Commands
# ---------------------------------------------------------------------------------------------

# Everything that is not a pod: images, registry and its content, podman settings, network.
ensure_infrastructure() {
  command -v podman >/dev/null || die "podman is not installed"
  command -v docker-registry >/dev/null || die "docker-registry is not installed (apt-get install docker-registry)"
  command -v envsubst >/dev/null || die "envsubst is not installed (apt-get install gettext-base)"
  [[ -x /usr/lib/postgresql/15/bin/postgres ]] || die "PostgreSQL 15 binaries are missing (apt-get install postgresql-15)"
  load_secrets
  if own_host; then
    [[ -f "$SHARED_DIR/registry/pushed.stamp" ]] \
      || die "the main sandbox's registry holds no images yet: sandbox/deployments.sh up builds and pushes them"
    ensure_insecure_registry
    start_registry
    write_own_podman_settings
    pull_baseline
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
  ensure_network
  install_fault_shims
}

# ---------------------------------------------------------------------------------------------
# Fault injection (see faults/shim.sh and docs/sandbox.md)
# ---------------------------------------------------------------------------------------------

install_fault_shims() {
  local program
  mkdir -p "$FAULT_BIN_DIR"
  for program in podman make; do ln -sfn "$SANDBOX_SRC/faults/shim.sh" "$FAULT_BIN_DIR/$program"; done
  touch "$FAULT_RULES"
}

clear_faults() {
  : > "$FAULT_RULES"
  rm -f "$FAULT_RULES.paused"
  chattr -i "$DEPLOY_DIR" 2>/dev/null || true
}

cmd_fault() {
  load_ports read
  case "${1:-}" in
    add)
      [[ $# -ge 3 ]] || die "usage: sandbox.sh fault add fail|hang|pause|stop-after:<pod> '<glob>'"
      install_fault_shims
      printf '%s %s\n' "$2" "${*:3}" >> "$FAULT_RULES"
      say "fault added: $2 ${*:3}"
      ;;
    list) cat "$FAULT_RULES" 2>/dev/null || true ;;
    clear) clear_faults; say "faults cleared" ;;
    registry-down) stop_registry ;;
    registry-up) start_registry ;;
    database-down) podman pod stop -t 0 aegis-database >/dev/null; say "pod aegis-database stopped" ;;
    database-up) podman pod start aegis-database >/dev/null; wait_database; say "pod aegis-database started" ;;
    read-only) chattr +i "$DEPLOY_DIR"; say "$DEPLOY_DIR is immutable: no file in it can be created, renamed or removed" ;;
    *) die "usage: sandbox.sh fault add|list|clear|registry-down|registry-up|database-down|database-up|read-only" ;;
  esac
}

cmd_up() {
  local t0=$SECONDS force=0 pod sig
  load_ports up
  ensure_infrastructure
  [[ -f "$DEPLOY_DIR/.env" ]] || { say "writing the deploy checkout $DEPLOY_DIR"; generate_deploy; }
  touch "$COMMAND_LOG" "$COMMANDS_RUN"
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
      core) wait_runtime ;;
    esac
  done
  seed_if_needed
  wait_services
  echo "$sig" > "$DEPLOYED_SIG_FILE"
  say "sandbox up in $((SECONDS - t0))s: registry $REGISTRY_HOST, deploy checkout $DEPLOY_DIR"
}

cmd_reset() {
  local start pod
  start=$(date +%s.%N)
  load_ports read
  [[ -f "$PORTS_FILE" ]] || load_ports up
  ensure_infrastructure
  clear_faults
  generate_deploy
  : > "$COMMAND_LOG"
  : > "$COMMANDS_RUN"
  if ! pod_in_place database; then deploy_pod database; fi
  wait_database
  recreate_aegis_database
  deploy_pod core
  wait_runtime
  seed_if_needed
  for pod in temporal seal-gateway observability; do
    pod_in_place "$pod" || deploy_pod "$pod"
  done
  wait_services
  untag_pulled_releases
  deployed_signature > "$DEPLOYED_SIG_FILE"
  say "reset to $BASELINE in $(awk -v s="$start" -v e="$(date +%s.%N)" 'BEGIN { printf "%.1f", e - s }')s"
}

cmd_down() {
  local i
  load_ports read
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
  if podman network exists "$NETWORK" 2>/dev/null; then echo "Network:       $NETWORK"; else echo "Network:       $NETWORK missing"; fi
  tag="(no deploy checkout)"
  [[ -f "$DEPLOY_DIR/.env" ]] && tag="$(sed -n 's/^AEGIS_IMAGE_TAG=//p' "$DEPLOY_DIR/.env" | tail -n 1)"
  image="$(podman inspect --format '{{.ImageName}} ({{.State.Status}})' aegis-core-aegis-runtime 2>/dev/null || echo 'not deployed')"
  health="$(curl -s --max-time 2 "http://127.0.0.1:$PORT_RUNTIME/health/ready" 2>/dev/null || true)"
  echo "Deployed tag:  AEGIS_IMAGE_TAG=$tag in $DEPLOY_DIR/.env"
  echo "Runtime:       $image"
  echo "Runtime ready: ${health:-no answer on 127.0.0.1:$PORT_RUNTIME}"
  if [[ -f "$COMMAND_LOG" ]]; then echo "Command log:   $COMMAND_LOG ($(wc -l < "$COMMAND_LOG") lines)"; fi
  echo "Pods:"
  podman pod ps --filter name=aegis- --format "table {{.Name}}\t{{.Status}}\t{{.NumberOfContainers}}" | sed 's/^/  /'
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
  if own_host; then
    echo "export CONTAINERS_CONF=$CONTAINERS_CONF"
    echo "export CONTAINERS_STORAGE_CONF=$CONTAINERS_STORAGE_CONF"
  fi
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
  *) echo "usage: $0 up|down|reset|status|env|fault|infrastructure|images" >&2; exit 2 ;;
esac
