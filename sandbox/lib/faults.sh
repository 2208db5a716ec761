# shellcheck shell=bash
# Fault injection: the podman/make shim's rules and the faults on the registry, database and checkout (faults/shim.sh).
# Sourced by sandbox/sandbox.sh, whose variables (state directories, ports, registry) it uses.

install_fault_shims() {
  local program
  mkdir -p "$FAULT_BIN_DIR"
  for program in podman make systemctl; do ln -sfn "$SANDBOX_SRC/faults/shim.sh" "$FAULT_BIN_DIR/$program"; done
  touch "$FAULT_RULES"
  give_to_platform_user "$FAULT_RULES"
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
    database-down) platform_podman pod stop -t 0 aegis-database >/dev/null; say "pod aegis-database stopped" ;;
    database-up) platform_podman pod start aegis-database >/dev/null; wait_database; say "pod aegis-database started" ;;
    read-only) chattr +i "$DEPLOY_DIR"; say "$DEPLOY_DIR is immutable: no file in it can be created, renamed or removed" ;;
    openbao-revoke)
      platform_podman exec aegis-secrets-openbao bao _revoke-secret-ids
      say "OpenBao's AppRole secret IDs revoked: the next make bootstrap-secrets makes new ones and rewrites .env's"
      ;;
    *) die "usage: sandbox.sh fault add|list|clear|registry-down|registry-up|database-down|database-up|read-only|openbao-revoke" ;;
  esac
}
