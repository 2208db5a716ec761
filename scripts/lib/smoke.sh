#!/usr/bin/env bash
# The bootstrap's last step: every part it set up, used for real once, so that
# a machine that lacks something fails here, naming the part and the command
# that fixes it, and not minutes later inside a test. Sourced by bootstrap.sh
# after lib/common.sh and lib/temporal-cli.sh; call smoke_test.
#
# What it proves, each in a few hundred milliseconds:
#   pod        a pod with its infra container starts (catatonit, runc, conmon)
#   dns        two containers on one network reach each other by name
#              (netavark + aardvark-dns)
#   registry   an image goes into a local docker-registry and comes back
#   rootless   the platform's user pulls that image and serves it on a host port from a pod of its own,
#              which root's podman does not see (lib/platform-user.sh)
#   postgres   the PostgreSQL 15 server and client binaries run
#   temporal   the temporal CLI answers
# Everything it creates is named bootstrap-smoke-* and removed however it ends: never aegis-*, the platform's own names,
# which the tests list (a smoke test run by one test file beside another would be taken for a pod of the platform).

SMOKE_NAME=bootstrap-smoke
SMOKE_IMAGE=localhost/bootstrap-smoke/busybox:1
SMOKE_DIR=""

smoke_fail() { # <part> <what happened> <the command that fixes it>
  log "SMOKE TEST FAILED: $1: $2"
  log "  fix: $3"
  return 1
}

smoke_cleanup() {
  podman rm -f -i -t 0 "$SMOKE_NAME-server" "$SMOKE_NAME-client" >/dev/null 2>&1 || true
  podman pod rm -f -i -t 0 "$SMOKE_NAME-pod" >/dev/null 2>&1 || true
  podman network rm -f -t 0 "$SMOKE_NAME-net" >/dev/null 2>&1 || true
  podman rmi -f "$SMOKE_IMAGE" "$SMOKE_REGISTRY_IMAGE" >/dev/null 2>&1 || true
  if id "$PLATFORM_USER" >/dev/null 2>&1; then
    as_platform_user podman pod rm -f -i -t 0 "$SMOKE_NAME-rootless" >/dev/null 2>&1 || true
    [ -z "$SMOKE_REGISTRY_IMAGE" ] || as_platform_user podman rmi -f "$SMOKE_REGISTRY_IMAGE" >/dev/null 2>&1 || true
  fi
  if [ -n "$SMOKE_DIR" ]; then
    [ -f "$SMOKE_DIR/registry.pid" ] && kill "$(cat "$SMOKE_DIR/registry.pid")" 2>/dev/null
    rm -rf "$SMOKE_DIR"
  fi
}

# A two-megabyte image of busybox-static, built here: nothing can be pulled.
smoke_image() {
  local root="$SMOKE_DIR/rootfs"
  mkdir -p "$root/bin" "$root/etc" "$root/www"
  cp "$(command -v busybox)" "$root/bin/busybox"
  ln -s busybox "$root/bin/sh"
  printf 'hosts: files dns\n' >"$root/etc/nsswitch.conf"
  echo "bootstrap-smoke ok" >"$root/www/index.html"
  tar --numeric-owner -C "$root" -cf "$SMOKE_DIR/rootfs.tar" .
  podman import --quiet --change 'ENV PATH=/bin' "$SMOKE_DIR/rootfs.tar" "$SMOKE_IMAGE" >/dev/null
}

smoke_pod() {
  local out
  if ! out="$(podman pod create --name "$SMOKE_NAME-pod" 2>&1 && podman pod start "$SMOKE_NAME-pod" 2>&1)"; then
    smoke_fail pod "a pod with an infra container does not start: $out" \
      "apt-get install -y catatonit runc conmon netavark iptables (and runtime = \"runc\" in $PODMAN_CONF_FILE)"
    return 1
  fi
  [ "$(podman pod inspect --format '{{.State}}' "$SMOKE_NAME-pod" 2>/dev/null)" = Running ] ||
    smoke_fail pod "the pod does not run: $(podman pod inspect --format '{{.State}}' "$SMOKE_NAME-pod" 2>&1)" \
      "apt-get install -y catatonit runc conmon"
}

smoke_dns() {
  local out
  if ! out="$(podman network create "$SMOKE_NAME-net" 2>&1)"; then
    smoke_fail dns "podman network create fails: $out" "apt-get install -y netavark aardvark-dns"
    return 1
  fi
  if [ "$(podman network inspect --format '{{.DNSEnabled}}' "$SMOKE_NAME-net")" != true ]; then
    smoke_fail dns "networks get no DNS (backend: $(podman info --format '{{.Host.NetworkBackend}}'))" \
      "apt-get install -y netavark aardvark-dns, network_backend = \"netavark\" in $PODMAN_CONF_FILE"
    return 1
  fi
  if ! out="$(podman run -d --name "$SMOKE_NAME-server" --network "$SMOKE_NAME-net" "$SMOKE_IMAGE" \
    /bin/busybox httpd -f -p 8080 -h /www 2>&1)"; then
    smoke_fail dns "a container does not start: $out" "apt-get install -y runc conmon"
    return 1
  fi
  # aardvark-dns may need a moment to learn the new name. (busybox-static's wget crashes in a container: nc.)
  local i
  for i in 1 2 3 4 5 6 7 8 9 10; do
    out="$(podman run --rm --name "$SMOKE_NAME-client" --network "$SMOKE_NAME-net" "$SMOKE_IMAGE" /bin/sh -c \
      "printf 'GET / HTTP/1.0\r\n\r\n' | /bin/busybox nc -w 2 $SMOKE_NAME-server 8080" 2>&1)" &&
      grep -q "bootstrap-smoke ok" <<<"$out" && return 0
    sleep 0.2
  done
  smoke_fail dns "a container does not reach another on its network by name: $out" \
    "apt-get install -y netavark aardvark-dns, network_backend = \"netavark\" in $PODMAN_CONF_FILE"
}

smoke_registry() {
  local port out i
  port="$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])' 2>/dev/null ||
    echo 15999)"
  SMOKE_REGISTRY_IMAGE="127.0.0.1:$port/bootstrap-smoke/busybox:1"
  mkdir -p "$SMOKE_DIR/registry"
  cat >"$SMOKE_DIR/registry/config.yml" <<EOF
version: 0.1
storage:
  filesystem:
    rootdirectory: $SMOKE_DIR/registry/data
http:
  addr: 127.0.0.1:$port
EOF
  docker-registry serve "$SMOKE_DIR/registry/config.yml" >"$SMOKE_DIR/registry/log" 2>&1 </dev/null &
  echo $! >"$SMOKE_DIR/registry.pid"
  for i in $(seq 1 50); do
    curl -sf -o /dev/null --max-time 1 "http://127.0.0.1:$port/v2/" && break
    kill -0 "$(cat "$SMOKE_DIR/registry.pid")" 2>/dev/null || break # it died: the push below says so
    sleep 0.1
  done
  if ! out="$(podman tag "$SMOKE_IMAGE" "$SMOKE_REGISTRY_IMAGE" 2>&1 &&
    podman push --quiet --tls-verify=false "$SMOKE_REGISTRY_IMAGE" 2>&1 &&
    podman rmi "$SMOKE_REGISTRY_IMAGE" 2>&1 >/dev/null &&
    podman pull --quiet --tls-verify=false "$SMOKE_REGISTRY_IMAGE" 2>&1 >/dev/null)"; then
    smoke_fail registry "an image does not go through a local registry and back: $out $(tail -n 3 "$SMOKE_DIR/registry/log")" \
      "apt-get install -y docker-registry"
    return 1
  fi
}

smoke_rootless() {
  local port out fix="scripts/bootstrap.sh as root (it sets up rootless podman for $PLATFORM_USER)"
  port="$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])' 2>/dev/null ||
    echo 15998)"
  if ! out="$(as_platform_user podman pod create --name "$SMOKE_NAME-rootless" -p "127.0.0.1:$port:8080" 2>&1 &&
    as_platform_user podman run -d --pod "$SMOKE_NAME-rootless" --tls-verify=false "$SMOKE_REGISTRY_IMAGE" \
      /bin/busybox httpd -f -p 8080 -h /www 2>&1)"; then
    smoke_fail rootless "$PLATFORM_USER's podman does not run a pod from the local registry: $out" "$fix"
    return 1
  fi
  local i
  for i in $(seq 1 25); do
    out="$(curl -s --max-time 1 "http://127.0.0.1:$port/" 2>&1)" && grep -q "bootstrap-smoke ok" <<<"$out" && break
    sleep 0.2
  done
  grep -q "bootstrap-smoke ok" <<<"$out" ||
    smoke_fail rootless "$PLATFORM_USER's pod does not answer on 127.0.0.1:$port: $out" "$fix (slirp4netns, /dev/net/tun)" ||
    return 1
  if podman pod exists "$SMOKE_NAME-rootless" 2>/dev/null; then
    smoke_fail rootless "root's podman sees $PLATFORM_USER's pod: it is not rootless" "$fix"
    return 1
  fi
}

smoke_postgres() {
  local bin out
  for bin in /usr/lib/postgresql/15/bin/postgres /usr/lib/postgresql/15/bin/initdb psql pg_dump pg_restore; do
    if ! out="$("$bin" --version 2>&1)" || ! grep -q ' 15\.' <<<"$out"; then
      smoke_fail postgres "$bin --version: $out" "apt-get install -y postgresql-15 postgresql-client-15"
      return 1
    fi
  done
}

smoke_temporal() {
  local out
  out="$("$TEMPORAL_CLI_BIN" --version 2>&1)" && grep -qF "$TEMPORAL_CLI_EXPECT" <<<"$out" ||
    smoke_fail temporal "$TEMPORAL_CLI_BIN --version: $out" "rm -rf $TEMPORAL_CLI_DIR && scripts/bootstrap.sh"
}

smoke_test() (
  set -uo pipefail
  local t0=$SECONDS part
  SMOKE_REGISTRY_IMAGE=""
  smoke_cleanup # what an interrupted run left behind
  SMOKE_DIR="$(mktemp -d /tmp/bootstrap-smoke.XXXXXX)"
  trap smoke_cleanup EXIT
  smoke_image || {
    smoke_fail image "podman import of a busybox rootfs fails" "apt-get install -y podman busybox-static"
    exit 1
  }
  for part in pod dns registry rootless postgres temporal; do
    "smoke_$part" || exit 1
  done
  log "smoke test passed in $((SECONDS - t0))s: pod with infra container, DNS between containers, local registry push/pull, a rootless pod of $PLATFORM_USER's, PostgreSQL 15 binaries, temporal CLI"
)
