# shellcheck shell=bash
# What every sandbox script shares: its messages, its waits, and the host ports of a deployment.
# A script sets SAY_PREFIX (sandbox, deployments, check) before sourcing this file.

# The system's podman, whatever PATH puts first: the sandbox runs it as root for what is root's (images, the
# registry's content) and as the platform's user for the pods (platform_podman). A caller's PATH may hold another
# `podman` (the integration tests' own runs as the platform's user): as root's, it would build the images in the
# platform user's storage and unpublish them under the other deployments' feet.
SYSTEM_PODMAN="$(PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin command -v podman || echo podman)"
podman() { "$SYSTEM_PODMAN" "$@"; }

say() { printf '[%s] %s\n' "$SAY_PREFIX" "$*" >&2; }
die() { printf '[%s] ERROR: %s\n' "$SAY_PREFIX" "$*" >&2; exit 1; }

# wait_for <seconds> <what> <command...>: until the command succeeds. Its exit status 99 ends the wait at once.
wait_for() {
  local limit="$1" what="$2" deadline rc
  shift 2
  deadline=$((SECONDS + limit))
  while true; do
    rc=0
    "$@" >/dev/null 2>&1 || rc=$?
    [[ $rc -ne 0 ]] || return 0
    [[ $rc -ne 99 ]] || { say "gave up waiting for $what"; return 1; }
    if (( SECONDS >= deadline )); then
      say "timed out after ${limit}s waiting for $what"
      return 1
    fi
    sleep 0.2
  done
}

# A zombie has ended: only its parent (this script) has not reaped it yet.
process_alive() { local state; state="$(ps -o stat= -p "$1" 2>/dev/null)" && [[ "$state" != Z* ]]; }

# The main sandbox's host ports, name:port (AEGIS_SANDBOX_<name>_PORT overrides one); a deployment of
# deployments.sh adds 100 × its slot to each. INTERNAL: the first of the ports the pods' bare container ports get
# (lib/checkout.sh pin_bare_container_ports).
PORT_SPECS=(REGISTRY:15000 POSTGRES:15432 RUNTIME:18088 SEAL_GATEWAY:18089 TEMPORAL_UI:18233
            TEMPORAL_GRPC:18234 PROMETHEUS:19090 FUSE_DAEMON:18050 INTERNAL:21000)
