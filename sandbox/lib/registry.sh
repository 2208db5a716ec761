# shellcheck shell=bash
# The sandbox's registry: a real docker-registry process, on a port of its own per deployment.
# Sourced by sandbox/sandbox.sh, whose variables (state directories, ports, registry) it uses.

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
