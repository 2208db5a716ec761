#!/usr/bin/env bash
# Deploys every pod listed in profiles/<profile>.conf, in order.
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
root="$(dirname "$here")"
profile="${1:-development}"

if [[ -f "$root/.env" ]]; then
    set -a
    # shellcheck source=/dev/null
    . "$root/.env"
    set +a
fi

profile_file="$root/profiles/$profile.conf"
if [[ ! -f "$profile_file" ]]; then
    echo "ERROR: Profile '$profile' not found at $profile_file"
    exit 1
fi
# shellcheck source=/dev/null
. "$profile_file"

echo "Deploying profile: $profile"
echo "Pods: $PODS"

bash "$root/podman/networks/create-networks.sh"

for pod in $PODS; do
    pod_file=$(find "$root/podman/pods/$pod" -name 'pod-*.yaml' -type f 2>/dev/null | head -n 1)
    if [[ -z "$pod_file" ]]; then
        echo "WARNING: No pod YAML found in $root/podman/pods/$pod, skipping."
        continue
    fi
    echo "  -> Deploying pod: $pod ($pod_file)"
    envsubst < "$pod_file" | podman play kube --network aegis-network --replace -
    echo "  -> Pod $pod deployed."
done

# The FUSE daemon's mount prefix (the real one's is /tmp/aegis-fuse-mounts; here under the user's runtime
# directory), and the daemon restarted onto the binary install-cli just put in place.
mkdir -p "$XDG_RUNTIME_DIR/aegis-fuse-mounts"
echo "  -> Restarting FUSE daemon..."
systemctl --user restart aegis-fuse-daemon || true
echo "  -> FUSE daemon started"

echo ""
echo "Deployment complete. Run 'make status' to verify."
