#!/usr/bin/env bash
# Puts the aegis binary of the runtime image that .env's AEGIS_IMAGE_TAG names into bin/aegis: the image pulled if
# missing, a container created from it (never started), the binary copied out beside the old one and renamed over
# it in one step, so a running bin/aegis is never half written. Run by `make install-cli` and `make deploy`.
# Stands in for the rest of a real install-cli, which the sandbox cannot do: the symlink /usr/local/bin/aegis (it
# needs sudo) and restarting the FUSE daemon (`systemctl --user`; no FUSE daemon runs in the sandbox).
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
echo "[install-cli] not done in the sandbox: the /usr/local/bin/aegis symlink, restarting aegis-fuse-daemon"
