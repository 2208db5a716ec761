# shellcheck shell=bash
# The pods: podman settings of a deployment, its network, pods, and the waits for their services.
# Sourced by sandbox/sandbox.sh, whose variables (state directories, ports, registry) it uses.

# The pods are the platform user's, as on a real AEGIS host (rootless): every podman command about them, and every
# file their commands write (the deploy checkout, PostgreSQL's data, the command logs), is that user's.
platform_podman() { as_platform_user "$SYSTEM_PODMAN" "$@"; }
give_to_platform_user() { chown "$PLATFORM_USER:$PLATFORM_USER" "$@"; }

pod_yaml() { # <pod>: the YAML after envsubst with the checkout's .env, as `make redeploy` sees it
  # shellcheck source=/dev/null
  (cd "$DEPLOY_DIR" && set -a && . ./.env && set +a && envsubst < "podman/pods/$1/pod-$1.yaml")
}

# "<container> <image>" per container of the pod YAML.
expected_containers() {
  pod_yaml "$1" | awk '/^    - name: /{n=$3} /^      image: /{gsub(/"/, "", $2); if (n != "") print n, $2; n=""}'
}

# What the platform's podman runs, read once and kept until a pod is deployed (each podman command costs tens of
# milliseconds of CPU; a reset asks about every pod): "<container> <image> <state> <pod>" per container but the pods'
# infra containers, and "<container> <mount source>" per mount.
PODS_SEEN=""
MOUNTS_SEEN=""
look_at_pods() {
  [[ -z "$PODS_SEEN" ]] || return 0
  PODS_SEEN="$(platform_podman ps -a --pod --format '{{.Names}}|{{.Image}}|{{.State}}|{{.PodName}}' 2>/dev/null \
               | awk -F'|' '$4 ~ /^aegis-/ && $1 !~ /-infra$/ { split($3, state, " ")
                                                                 print $1, $2, (state[1] == "Up" ? "running" : state[1]), $4 }' \
               || true)"
  local -a containers
  mapfile -t containers < <(awk '{ print $1 }' <<< "$PODS_SEEN" | grep -v '^$' || true)
  (( ${#containers[@]} )) || { PODS_SEEN=" "; return 0; }
  MOUNTS_SEEN="$(platform_podman inspect --format '{{$c := .Name}}{{range .Mounts}}{{$c}} {{.Source}}{{"\n"}}{{end}}' "${containers[@]}" 2>/dev/null || true)"
}
forget_pods() { PODS_SEEN="" MOUNTS_SEEN=""; }

# True when every container of the pod YAML runs, with the image the YAML names.
pod_in_place() {
  local pod="$1" want have
  look_at_pods
  want="$(expected_containers "$pod" | while read -r n i; do echo "aegis-$pod-$n $i running"; done | sort)"
  have="$(awk -v pod="aegis-$pod" '$4 == pod { print $1, $2, $3 }' <<< "$PODS_SEEN" | sort)"
  [[ -n "$want" && "$want" == "$have" ]] && pod_mounts_in_place "$pod"
}
# Each hostPath of the pod's YAML is mounted: a pod left by a sandbox in another state directory is not ours.
pod_mounts_in_place() {
  local pod="$1" wanted mounted
  mounted="$(awk -v pod="aegis-$pod" '$4 == pod { print $1 }' <<< "$PODS_SEEN" \
             | awk 'NR == FNR { mine[$1] = 1; next } ($1 in mine) { print $2 }' - <(printf '%s\n' "$MOUNTS_SEEN"))"
  [[ -n "$(awk -v pod="aegis-$pod" '$4 == pod' <<< "$PODS_SEEN")" ]] || return 1
  # A relative path (./podman/pods/…) is the checkout's: podman may record it made absolute, or as written.
  while read -r wanted; do
    grep -qxF -- "$wanted" <<< "$mounted" || { [[ "$wanted" == ./* ]] && grep -qxF -- "$DEPLOY_DIR/${wanted#./}" <<< "$mounted"; } \
      || return 1
  done < <(pod_yaml "$pod" | awk '/hostPath:/ { host = 1; next } host && /^ *path: / { print $2; host = 0 }' | tr -d '"')
}

# What the pods' host paths need on this host before `play kube` (it refuses a Socket or Directory volume that is
# missing): the podman API socket .env's CONTAINER_SOCK names, and the container storage PODMAN_LOG_ROOT names.
# On a real host the socket is the user's podman service's; here it is a socket file no service answers on (the
# stand-in images never call podman), made by the platform's user.
ensure_host_paths() {
  if [[ ! -S "$CONTAINER_SOCKET" ]]; then
    mkdir -p "$(dirname "$CONTAINER_SOCKET")"
    give_to_platform_user "$(dirname "$CONTAINER_SOCKET")"
    rm -f "$CONTAINER_SOCKET"
    as_platform_user perl -MIO::Socket::UNIX -e \
      'IO::Socket::UNIX->new(Local => $ARGV[0], Listen => 1) or die "cannot make the socket $ARGV[0]: $!\n"' \
      "$CONTAINER_SOCKET" || die "could not make the stand-in podman API socket $CONTAINER_SOCKET"
  fi
  as_platform_user mkdir -p "$PODMAN_LOG_ROOT" || die "could not make $PODMAN_LOG_ROOT as $PLATFORM_USER"
}

deploy_pod() {
  say "deploying pod aegis-$1"
  forget_pods
  # `play kube --replace` removes a running pod slowly (seconds in `pod rm -f`); a stopped one in a blink.
  platform_podman pod stop --ignore -t 10 "aegis-$1" >/dev/null 2>&1 9>&- || true
  # In the checkout, as `make redeploy` runs it: the pods' relative host paths (./podman/pods/…) are read from there.
  if ! (cd "$DEPLOY_DIR" && pod_yaml "$1" | platform_podman play kube --quiet --network "$NETWORK" --replace - >/dev/null 9>&-); then
    die "podman play kube failed for pod $1"
  fi
}

remove_pod() {
  forget_pods
  if platform_podman pod exists "aegis-$1" 2>/dev/null; then
    say "removing pod aegis-$1"
    platform_podman pod rm -f -t 10 "aegis-$1" >/dev/null
  fi
}

# A network made before netavark was selected (podman's CNI fallback) has no DNS: the pods would not find
# each other by name. It is made again, with the pods on it.
ensure_network() {
  local dns
  dns="$(platform_podman network inspect --format '{{.DNSEnabled}}' "$NETWORK" 2>/dev/null)" || dns=missing
  if [[ "$dns" != true && "$dns" != missing ]]; then
    say "network $NETWORK has no DNS (made under another network backend): removing it and its pods"
    platform_podman network rm -f -t 10 "$NETWORK" >/dev/null
    dns=missing
  fi
  [[ "$dns" == missing ]] || return 0
  say "creating network $NETWORK"
  platform_podman network create "$NETWORK" >/dev/null
}

pg_ready() { platform_podman exec aegis-database-postgres pg_isready -q -U aegis -d postgres; }
# PgBouncer answers on 5433 in the database pod (the pod's containers share its loopback), where the runtime connects.
pgbouncer_ready() { platform_podman exec aegis-database-postgres pg_isready -q -h 127.0.0.1 -p 5433 -U aegis -d aegis; }
psql_exec() { platform_podman exec -i aegis-database-postgres psql -X -q -v ON_ERROR_STOP=1 -U aegis "$@"; }
http_ok() { curl -sf -o /dev/null --max-time 2 "$1"; }
runtime_ready() { curl -sf --max-time 2 "http://127.0.0.1:$PORT_RUNTIME/health/ready" | grep -q '"status":"ready"'; }
container_state() { platform_podman inspect --format '{{.State.Status}}' "$1" 2>/dev/null || echo missing; }

wait_database() {
  wait_for 90 "PostgreSQL in aegis-database" pg_ready || {
    platform_podman logs --tail 30 aegis-database-postgres >&2 || true
    die "PostgreSQL did not become ready"
  }
  wait_for 30 "PgBouncer in aegis-database" pgbouncer_ready || {
    platform_podman logs --tail 30 aegis-database-pgbouncer >&2 || true
    die "PgBouncer did not answer on 5433"
  }
}

wait_runtime() {
  local deadline=$((SECONDS + 60)) state
  until runtime_ready; do
    state="$(container_state aegis-core-aegis-runtime)"
    if [[ "$state" != running && "$state" != created && "$state" != configured ]] || (( SECONDS >= deadline )); then
      platform_podman logs --tail 30 aegis-core-aegis-runtime >&2 || true
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
