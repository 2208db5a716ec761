#!/usr/bin/env bash
# shellcheck source-path=SCRIPTDIR
# Takes this machine back to the state of a new one for everything that
# scripts/bootstrap.sh installs or writes, so that the next `npm test` or
# `npm run demo` goes down the path a new user's first run takes. CI runs it
# first (.ci/run): a green CI then cannot hide a missing install step.
#
#   scripts/new-machine.sh --yes
#
# What it removes (as root, on Debian):
#   - every podman pod, container, image, network and volume (podman system
#     reset), the sandbox registry process, podman's storage and network
#     configuration directories;
#   - the bootstrap's podman settings and the sandbox's registry setting;
#   - the platform's user (its pods, podman storage and home, its way into this checkout), and /dev/net/tun and
#     `/` as a new machine has them (0600, a private mount);
#   - the Debian packages the bootstrap installed and those they pulled in (as
#     recorded by the bootstrap, plus any of its packages a new machine of this
#     kind does not come with), purged;
#   - the cache AEGIS_UPGRADE_CACHE (temporal CLI, Temporal server releases, pgserver wheel)
#     and npm's download cache;
#   - this checkout's node_modules, dist and sandbox state (.sandbox).
# What it leaves: packages a new machine already has (PostgreSQL 15, make,
# curl, git, gettext-base), and packages apt upgraded rather than installed
# (login, passwd: downgrading them would leave the machine older than new).
set -euo pipefail

LOG_PREFIX=new-machine
# shellcheck source=lib/common.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib/common.sh"
# shellcheck source=lib/temporal-cli.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib/temporal-cli.sh"
# shellcheck source=lib/platform-user.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib/platform-user.sh"

INSTALLED_RECORD=/var/lib/aegis-upgrade/installed-packages
# The bootstrap's packages that a new machine of this project's kind lacks.
NOT_ON_A_NEW_MACHINE=(podman runc catatonit netavark aardvark-dns iptables docker-registry busybox-static pgbouncer uidmap slirp4netns
  acl)

[ "${1:-}" = --yes ] || die "this removes podman, its storage and every container on this machine; run with --yes"
is_root || die "run as root"
[ -f /etc/debian_version ] || die "this is not Debian"

t0=$SECONDS

if command -v podman >/dev/null 2>&1; then
  log "podman system reset: every pod, container, image, network and volume"
  podman system reset --force >/dev/null 2>&1 || log "podman system reset failed; removing its directories below"
fi
# The platform's users (scripts/lib/platform-user.sh): the main sandbox's and each deployment's (sandbox/deployments.sh,
# aegis-dep<slot>), their pods and podman storage, the users themselves; then the settings rootless podman needed,
# back to a new machine's.
for user in $(getent passwd | cut -d: -f1 | grep -E "^$PLATFORM_USER(-dep[0-9]+)?\$" || true); do
  log "removing the platform's user $user, its pods and its home"
  PLATFORM_USER="$user" as_platform_user podman system reset --force >/dev/null 2>&1 ||
    log "its podman system reset failed; its home goes below"
  pkill -KILL -u "$user" 2>/dev/null || true
  PLATFORM_USER="$user" close_checkout_to_platform_user
  rm -rf "/run/user/$(id -u "$user")"
  userdel --remove "$user" 2>/dev/null || log "userdel $user failed"
done
chmod 600 /dev/net/tun 2>/dev/null || true
mount --make-rprivate / 2>/dev/null || true
if pkill -f 'docker-registry serve' 2>/dev/null; then
  log "stopped running docker-registry processes"
fi

log "removing the bootstrap's podman settings and the sandbox's registry setting"
rm -f /etc/containers/containers.conf.d/50-aegis-upgrade.conf \
  /etc/containers/registries.conf.d/50-aegis-sandbox.conf /etc/containers/registries.conf.d/50-aegis-sandbox-*.conf

installed() { [ "$(dpkg-query -W -f='${Status}' "$1" 2>/dev/null || true)" = "install ok installed" ]; }
purge=()
for pkg in $(cat "$INSTALLED_RECORD" 2>/dev/null || true) "${NOT_ON_A_NEW_MACHINE[@]}"; do
  installed "$pkg" && purge+=("$pkg")
done
if [ "${#purge[@]}" -gt 0 ]; then
  mapfile -t purge < <(printf '%s\n' "${purge[@]}" | sort -u)
  log "purging ${#purge[@]} Debian package(s): ${purge[*]}"
  DEBIAN_FRONTEND=noninteractive apt-get purge -y -q "${purge[@]}" >/dev/null
  log "purging what they pulled in (apt-get autoremove --purge)"
  DEBIAN_FRONTEND=noninteractive apt-get autoremove --purge -y -q >/dev/null
fi
rm -f "$INSTALLED_RECORD"

log "removing podman's storage and network state"
rm -rf /var/lib/containers /run/containers /etc/containers/networks /var/lib/cni /etc/cni /run/libpod
rmdir -p /etc/containers/containers.conf.d /etc/containers/registries.conf.d 2>/dev/null || true

log "removing the cache $AEGIS_UPGRADE_CACHE (temporal CLI, Temporal servers, pgserver wheel) and npm's download cache"
rm -rf "$AEGIS_UPGRADE_CACHE"
npm cache clean --force >/dev/null 2>&1 || true

log "removing this checkout's node_modules, dist and sandbox state"
rm -rf "$REPO_ROOT/node_modules" "$REPO_ROOT/dist" "$REPO_ROOT/.sandbox"

left=()
for pkg in "${NOT_ON_A_NEW_MACHINE[@]}"; do installed "$pkg" && left+=("$pkg"); done
[ "${#left[@]}" -eq 0 ] || die "still installed: ${left[*]}"
log "done in $((SECONDS - t0))s: the next bootstrap starts as on a new machine"
