#!/bin/sh
# Entrypoint shared by the small stand-in images (busybox + aegis-sandbox-tool).
#   entrypoint.sh seal-gateway | temporal-worker | temporal-server | temporal-ui | prometheus
# AEGIS_VERSION is baked into the versioned images (seal-gateway, temporal-worker).
set -eu
TOOL=/usr/local/bin/aegis-sandbox-tool
WWW=/tmp/www
VERSION="${AEGIS_VERSION:-unknown}"
mkdir -p "$WWW"

health() { mkdir -p "$WWW/health"; printf '{"status":"healthy","version":"%s"}\n' "$VERSION" > "$WWW/health/index"; }

case "${1:-}" in
seal-gateway)
    health
    cp "$WWW/health/index" "$WWW/index"
    $TOOL log INFO aegis_seal_gateway "Starting SEAL gateway version=$VERSION"
    $TOOL log INFO aegis_seal_gateway "HTTP listening on ${SEAL_GATEWAY_BIND:-0.0.0.0:8089}"
    exec $TOOL serve -p 8089 -r "$WWW"
    ;;
temporal-worker)
    health
    $TOOL log INFO aegis_temporal_worker "Starting AEGIS Temporal worker version=$VERSION"
    $TOOL log INFO aegis_temporal_worker "Worker polling task_queue=${TEMPORAL_TASK_QUEUE:-aegis-agents} address=${TEMPORAL_ADDRESS:-aegis-temporal:7233}"
    exec $TOOL serve -p "${AEGIS_WORKER_HEALTH_PORT:-8090}" -r "$WWW"
    ;;
temporal-server)
    echo "sandbox temporal stand-in: frontend (gRPC, not HTTP) listening on :7233"
    exec $TOOL raw -p 7233
    ;;
temporal-ui)
    printf '<!doctype html><html><head><title>Temporal</title></head><body>Temporal UI (sandbox stand-in)</body></html>\n' > "$WWW/index"
    echo "sandbox temporal-ui stand-in: serving on :8080 (server ${TEMPORAL_ADDRESS:-aegis-temporal:7233})"
    exec $TOOL serve -p 8080 -r "$WWW"
    ;;
prometheus)
    mkdir -p "$WWW/-"
    echo "Prometheus Server is Ready." > "$WWW/-/ready"
    echo "Prometheus Server is Healthy." > "$WWW/-/healthy"
    echo '<!doctype html><html><body>Prometheus (sandbox stand-in)</body></html>' > "$WWW/index"
    echo "sandbox prometheus stand-in: serving on :9090"
    exec $TOOL serve -p 9090 -r "$WWW"
    ;;
*)
    echo "usage: $0 seal-gateway|temporal-worker|temporal-server|temporal-ui|prometheus" >&2
    exit 2
    ;;
esac
