#!/usr/bin/env bash
# Sandbox stand-in for the host setup of a real install (packages, rootless podman, the FUSE daemon's user unit).
# The sandbox's host is set up by aegis-upgrade's scripts/bootstrap.sh; this only checks what the real setup
# insists on: it runs as the platform's regular user, whose rootless podman works.
set -euo pipefail
if [[ "$(id -u)" == 0 ]]; then
    echo "ERROR: run the setup as the platform's user, not root (the platform runs rootless)." >&2
    exit 1
fi
if ! podman info --format '{{.Host.Security.Rootless}}' 2>/dev/null | grep -qx true; then
    echo "ERROR: rootless podman does not work for $(id -un): run aegis-upgrade's scripts/bootstrap.sh as root." >&2
    exit 1
fi
# The FUSE daemon's user unit, installed and enabled as the real setup does.
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
mkdir -p ~/.config/systemd/user
cp "$root/systemd/aegis-fuse-daemon.service" ~/.config/systemd/user/
systemctl --user daemon-reload
systemctl --user enable aegis-fuse-daemon
echo "Host ready for AEGIS (sandbox): rootless podman works for $(id -un); aegis-fuse-daemon installed."
echo "  -> stands in for: package installation, subuid/subgid ranges, lingering"
