#!/usr/bin/env bash
# Stops and removes the pods aegis-<pod> of a profile, last deployed first.
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
root="$(dirname "$here")"
profile="${1:-development}"

profile_file="$root/profiles/$profile.conf"
if [[ ! -f "$profile_file" ]]; then
    echo "ERROR: Profile '$profile' not found"
    exit 1
fi
# shellcheck source=/dev/null
. "$profile_file"

echo "Tearing down profile: $profile"

reversed=""
for pod in $PODS; do
    reversed="$pod $reversed"
done

for pod in $reversed; do
    name="aegis-$pod"
    if podman pod exists "$name" 2>/dev/null; then
        echo "  -> Stopping pod: $name"
        podman pod stop -t 30 "$name" || true
        podman pod rm "$name" || true
    fi
done

systemctl --user stop aegis-fuse-daemon || true

echo "Teardown complete."
