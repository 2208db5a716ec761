#!/usr/bin/env bash
# The platform's user. AEGIS runs rootless: its setup script refuses root, and its pods, its `.env` and its
# FUSE daemon belong to a regular user (docs/platform.md, "Rootless, under its user"). The bootstrap makes
# that user and what rootless podman needs on this kind of machine, and its smoke test runs a pod as that user
# (lib/smoke.sh). Sourced after lib/common.sh.
#
# What rootless podman needs here, each found missing on a new Debian 12 machine of this kind:
#   uidmap (newuidmap/newgidmap) and a range in /etc/subuid and /etc/subgid: the user namespace;
#   slirp4netns, and /dev/net/tun open to the user (0600 root here): the pods' network;
#   `/` a shared mount (private here): podman's rootless network namespace is mounted under it;
#   XDG_RUNTIME_DIR, /run/user/<uid>, the user's own, 0700: no systemd-logind makes it here;
#   overlay storage (podman picks vfs, which copies every layer, when it cannot tell);
#   a way into this checkout: the sandbox's state (its deploy checkout, the fault shim's rules and journal) is in
#   <checkout>/.sandbox, and the user's commands start in the caller's directory, so a checkout in /root or in a
#   `mktemp -d` (both 0700) stops its podman at "cannot chdir to …: Permission denied".

PLATFORM_USER="${AEGIS_PLATFORM_USER:-aegis}"

platform_user_home() { getent passwd "$PLATFORM_USER" | cut -d: -f6; }
platform_user_runtime_dir() { echo "/run/user/$(id -u "$PLATFORM_USER")"; }

# as_platform_user <command...>: the command as the platform's user, in the environment its podman needs.
as_platform_user() {
  if [ "$(id -un)" = "$PLATFORM_USER" ]; then
    "$@"
    return
  fi
  runuser -u "$PLATFORM_USER" -- env XDG_RUNTIME_DIR="$(platform_user_runtime_dir)" HOME="$(platform_user_home)" \
    PATH="$PATH" "$@"
}

PLATFORM_STORAGE_CONF='# Written by aegis-upgrade scripts/bootstrap.sh: rootless podman on overlay (not vfs).
[storage]
driver = "overlay"
'

# platform_user_problems: one line per part that is not in place (nothing when all are).
platform_user_problems() {
  if ! id "$PLATFORM_USER" >/dev/null 2>&1; then
    echo "the platform's user $PLATFORM_USER does not exist"
    return 0
  fi
  grep -q "^$PLATFORM_USER:" /etc/subuid 2>/dev/null || echo "$PLATFORM_USER has no range in /etc/subuid"
  grep -q "^$PLATFORM_USER:" /etc/subgid 2>/dev/null || echo "$PLATFORM_USER has no range in /etc/subgid"
  [ "$(stat -c %a /dev/net/tun 2>/dev/null)" = 666 ] || echo "/dev/net/tun is not open to $PLATFORM_USER (slirp4netns)"
  findmnt -no PROPAGATION / | grep -q shared || echo "/ is not a shared mount"
  local run_dir home
  run_dir="$(platform_user_runtime_dir)"
  [ "$(stat -c '%U %a' "$run_dir" 2>/dev/null)" = "$PLATFORM_USER 700" ] ||
    echo "$run_dir (XDG_RUNTIME_DIR) is missing or not $PLATFORM_USER's alone"
  home="$(platform_user_home)"
  [ "$(cat "$home/.config/containers/storage.conf" 2>/dev/null)" = "${PLATFORM_STORAGE_CONF%$'\n'}" ] ||
    echo "$home/.config/containers/storage.conf does not choose overlay storage"
  platform_user_enters "$REPO_ROOT" || echo "$PLATFORM_USER cannot enter this checkout, $REPO_ROOT"
}

platform_user_enters() { runuser -u "$PLATFORM_USER" -- test -x "$1" 2>/dev/null; }

# open_checkout_to_platform_user: (as root) lets the platform's user pass through each directory on the way to this
# checkout that it cannot enter, and nothing more: an ACL entry, search only, for that one user (setfacl, package
# acl). The files in the checkout are readable already (git writes them with the umask, 022).
open_checkout_to_platform_user() {
  platform_user_enters "$REPO_ROOT" && return 0
  local dir="" part
  local -a parts
  IFS=/ read -ra parts <<<"${REPO_ROOT#/}"
  for part in "${parts[@]}"; do
    dir="$dir/$part"
    platform_user_enters "$dir" && continue
    log "letting $PLATFORM_USER pass through $dir (ACL u:$PLATFORM_USER:x, search only): its podman works in this checkout's sandbox"
    setfacl -m "u:$PLATFORM_USER:x" "$dir" ||
      die "could not give $PLATFORM_USER a way into $dir (setfacl above): chmod o+x $dir, or clone this checkout where every user may pass"
  done
}

# close_checkout_to_platform_user: (as root) takes back what open_checkout_to_platform_user gave.
close_checkout_to_platform_user() {
  command -v setfacl >/dev/null || return 0
  local dir="$REPO_ROOT"
  while [ "$dir" != / ]; do
    setfacl -x "u:$PLATFORM_USER" "$dir" 2>/dev/null || true
    dir="$(dirname "$dir")"
  done
}

# ensure_platform_user: makes the user and each part rootless podman needs; reports (or, with CHECK_ONLY=1,
# only reports) through `problem` what it could not.
ensure_platform_user() {
  local missing
  missing="$(platform_user_problems)"
  [ -n "$missing" ] || return 0
  if [ "$CHECK_ONLY" -eq 1 ] || ! is_root; then
    while IFS= read -r line; do problem "rootless podman: $line; run scripts/bootstrap.sh as root"; done <<<"$missing"
    return 0
  fi
  id "$PLATFORM_USER" >/dev/null 2>&1 ||
    log "creating the platform's user $PLATFORM_USER (AEGIS runs rootless, under a regular user)"
  if [ "$(stat -c %a /dev/net/tun)" != 666 ]; then
    log "opening /dev/net/tun to users (slirp4netns, the rootless pods' network, opens it as $PLATFORM_USER)"
    chmod 666 /dev/net/tun
  fi
  if ! findmnt -no PROPAGATION / | grep -q shared; then
    log "making / a shared mount (rootless podman mounts its network namespace under it)"
    mount --make-rshared /
  fi
  make_platform_user
}

# make_platform_user: (as root) the user's own parts: the user, its way into this checkout, its XDG_RUNTIME_DIR,
# overlay storage for its podman.
# The machine's parts (/dev/net/tun, a shared /) are ensure_platform_user's. Idempotent: nothing when all are there.
make_platform_user() {
  if ! id "$PLATFORM_USER" >/dev/null 2>&1; then
    useradd --create-home --shell /bin/bash --user-group "$PLATFORM_USER"
    grep -q "^$PLATFORM_USER:" /etc/subuid /etc/subgid 2>/dev/null ||
      die "useradd gave $PLATFORM_USER no range in /etc/subuid and /etc/subgid: add one (usermod --add-subuids … --add-subgids … $PLATFORM_USER)"
  fi
  open_checkout_to_platform_user
  local run_dir home
  run_dir="$(platform_user_runtime_dir)"
  if [ "$(stat -c '%U %a' "$run_dir" 2>/dev/null)" != "$PLATFORM_USER 700" ]; then
    log "making $run_dir, $PLATFORM_USER's XDG_RUNTIME_DIR (no systemd-logind here makes it)"
    install -d -m 0700 -o "$PLATFORM_USER" -g "$PLATFORM_USER" "$run_dir"
  fi
  home="$(platform_user_home)"
  if [ "$(cat "$home/.config/containers/storage.conf" 2>/dev/null)" != "${PLATFORM_STORAGE_CONF%$'\n'}" ]; then
    log "choosing overlay storage for $PLATFORM_USER's podman ($home/.config/containers/storage.conf)"
    as_platform_user mkdir -p "$home/.config/containers"
    printf '%s' "$PLATFORM_STORAGE_CONF" | as_platform_user tee "$home/.config/containers/storage.conf.tmp" >/dev/null
    as_platform_user mv -f "$home/.config/containers/storage.conf.tmp" "$home/.config/containers/storage.conf"
    # Storage made before under another driver would keep it: start podman's state again (the user has no pods yet).
    as_platform_user podman system reset --force >/dev/null 2>&1 || true
    as_platform_user podman system migrate >/dev/null 2>&1 || true
  fi
  recover_platform_podman
}

# recover_platform_podman: a user whose podman processes ended while its XDG_RUNTIME_DIR stayed (a machine whose /run
# is no tmpfs, processes killed at a session's end) finds podman refusing its commands with "invalid internal status,
# try resetting the pause process with \"podman system migrate\"" (not every command: `podman info` may pass). With
# none of the user's processes running, nothing of podman's runs: that command, as podman says, is safe and cheap.
recover_platform_podman() {
  if pgrep -u "$PLATFORM_USER" >/dev/null &&
    ! as_platform_user podman ps -a --format '{{.ID}}' 2>&1 >/dev/null | grep -q 'system migrate'; then
    return 0
  fi
  as_platform_user podman system migrate >/dev/null ||
    die "podman system migrate failed as $PLATFORM_USER: its podman cannot start"
}

# check_platform_podman: the platform user's podman is rootless, on overlay.
check_platform_podman() {
  id "$PLATFORM_USER" >/dev/null 2>&1 || return 0 # already reported
  local info
  if ! info="$(as_platform_user podman info --format '{{.Host.Security.Rootless}} {{.Store.GraphDriverName}}' 2>&1)"; then
    log "$info"
    problem "podman info fails as $PLATFORM_USER (output above)"
    return 0
  fi
  [ "$info" = "true overlay" ] ||
    problem "$PLATFORM_USER's podman says rootless/storage '$info', expected 'true overlay'"
}
