#!/usr/bin/env bash
# Creates the shared pod network if it is missing (DNS on: pods resolve each other by name).
set -euo pipefail
NETWORK=aegis-network
if podman network exists "$NETWORK"; then
    echo "Network $NETWORK already exists"
else
    podman network create "$NETWORK" >/dev/null
    echo "Created network $NETWORK"
fi
