#!/usr/bin/env bash
# Puts the aegis binary of the runtime image that .env's AEGIS_IMAGE_TAG names into bin/aegis: the image pulled if
# missing, a container created from it (never started), the binary copied out beside the old one and renamed over
# it in one step, so a running bin/aegis is never half written. Run by `make install-cli` and `make deploy`.
# Then it restarts the FUSE daemon, which runs bin/aegis (`systemctl --user`: the sandbox's stand-in, sandbox/host/bin).
# Not done in the sandbox: the symlink /usr/local/bin/aegis (the real script makes it with sudo; the platform's user
# has no sudo here).
set -euo pipefail

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
bin="$root/bin/aegis"
if [[ -f "$root/.env" ]]; then
    set -a
    # shellcheck source=/dev/null
    . "$root/.env"
    set +a
fi
image="@REGISTRY@/aegis-runtime:${AEGIS_IMAGE_TAG:-latest}"

echo "[install-cli] the aegis binary of $image"
podman image exists "$image" || podman pull --quiet "$image" >/dev/null
container="aegis-cli-extract-$$"
podman create --name "$container" "$image" >/dev/null
trap 'podman rm -f "$container" >/dev/null 2>&1 || true' EXIT
mkdir -p "$root/bin"
podman cp "$container:/usr/local/bin/aegis-runtime" "$bin.new"
chmod 0755 "$bin.new"
mv "$bin.new" "$bin"
echo "[install-cli] installed $bin ($("$bin" --version 2>/dev/null || echo 'version unknown'))"
echo "[install-cli] restarting aegis-fuse-daemon..."
systemctl --user restart aegis-fuse-daemon
echo "[install-cli] aegis-fuse-daemon restarted"
echo "[install-cli] not done in the sandbox: the /usr/local/bin/aegis symlink"
