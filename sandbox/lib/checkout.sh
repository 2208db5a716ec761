# shellcheck shell=bash
# The deploy checkout: written from sandbox/deploy, shaped like the real AEGIS one.
# Sourced by sandbox/sandbox.sh, whose variables (state directories, ports, registry) it uses.

render() { # <template> <destination>
  sed -e "s|@REGISTRY_HOST@|$REGISTRY_HOST|g" \
      -e "s|@REGISTRY@|$REGISTRY|g" \
      -e "s|@AEGIS_ROOT@|$DEPLOY_DIR|g" \
      -e "s|@CONTAINER_SOCK@|$CONTAINER_SOCKET|g" \
      -e "s|@PODMAN_LOG_ROOT@|$PODMAN_LOG_ROOT|g" \
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
      -e "s|@FUSE_DAEMON_PORT@|$PORT_FUSE_DAEMON|g" \
      -e "s|@FAULT_RULES@|$FAULT_RULES|g" \
      "$1" > "$2"
}

# Debian bookworm's podman 4.3 publishes on the host, on every address, each containerPort that has no hostPort
# (`play kube` did until podman 4.7; the real host's podman does not): two deployments side by side would bind the
# same port (PgBouncer's 5433, OpenBao's 8200, …) and the second fail. Each such port is given one of this
# deployment's own on 127.0.0.1 (AEGIS_SANDBOX_INTERNAL_PORT and up), in the order the pod files are written.
pin_bare_container_ports() { # <pod file>; uses and advances BARE_PORT_NEXT
  awk -v port="$BARE_PORT_NEXT" -v state="$1.next-port" '
    function pin() { print pad "hostPort: " port; print pad "hostIP: 127.0.0.1"; port++; pending = 0 }
    pending && $1 != "hostPort:" { pin() }
    { pending = 0; print }
    $1 == "-" && $2 == "containerPort:" { pending = 1; pad = substr($0, 1, index($0, "-") - 1) "  " }
    END { if (pending) pin(); print port > state }
  ' "$1" > "$1.tmp"
  mv "$1.tmp" "$1"
  BARE_PORT_NEXT="$(cat "$1.next-port")"
  rm -f "$1.next-port"
}

# Writes the deploy checkout from sandbox/deploy, emptying the directory first (same inode, so
# a shell sitting in it keeps working).
generate_deploy() {
  local src="$SANDBOX_SRC/deploy" rel
  BARE_PORT_NEXT="$PORT_INTERNAL"
  mkdir -p "$DEPLOY_DIR"
  # A test may have made the checkout immutable (a fault that makes every write to it fail).
  chattr -i "$DEPLOY_DIR" 2>/dev/null || true
  keep_openbao_files
  find "$DEPLOY_DIR" -mindepth 1 -delete
  while IFS= read -r rel; do
    rel="${rel#./}"
    [[ "$rel" == env.template ]] && continue
    mkdir -p "$DEPLOY_DIR/$(dirname "$rel")"
    render "$src/$rel" "$DEPLOY_DIR/$rel"
    [[ "$rel" == podman/pods/*/pod-*.yaml ]] && pin_bare_container_ports "$DEPLOY_DIR/$rel"
    [[ -x "$src/$rel" ]] && chmod +x "$DEPLOY_DIR/$rel"
  done < <(cd "$src" && find . -type f | sort)
  render "$src/env.template" "$DEPLOY_DIR/.env"
  # An empty backups/ (the guide's `pg_dumpall > ./backups/…` needs it): "no backup taken" is read from it.
  mkdir -m 0700 "$DEPLOY_DIR/backups"
  if [[ -n "${AEGIS_SANDBOX_ENVIRONMENT:-}" ]]; then
    printf '\n# --- Which environment this deployment is (its upgrade worker checks it) ---\nAEGIS_ENVIRONMENT=%s\n' \
      "$AEGIS_SANDBOX_ENVIRONMENT" >> "$DEPLOY_DIR/.env"
  fi
  restore_openbao_files
  # The platform user's checkout, as on a real host: its make, its worker and its operator write in it.
  give_to_platform_user -R "$DEPLOY_DIR"
}
