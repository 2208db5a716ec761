#!/bin/sh
# Entrypoint shared by the small stand-in images (busybox + aegis-sandbox-tool).
#   entrypoint.sh seal-gateway | temporal-worker | temporal-server | temporal-ui | prometheus
#   entrypoint.sh postgres-exporter | openbao | caddy | jaeger | grafana | loki | promtail | otelcol
#   entrypoint.sh seaweedfs master | volume | filer | webdav
# AEGIS_VERSION is baked into the versioned images (seal-gateway, temporal-worker). The third-party stand-ins answer
# the health endpoint the real component serves, on its port, and nothing else: no upgrade reads more of them, but
# OpenBao's seal, which an upgrade meets after every restart (its `bao`).
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
postgres-exporter)
    printf '# HELP pg_up Whether the last scrape could reach PostgreSQL (sandbox stand-in: never tried).\n# TYPE pg_up gauge\npg_up 1\n' > "$WWW/metrics"
    echo "sandbox postgres-exporter stand-in: /metrics on :9187"
    exec $TOOL serve -p 9187 -r "$WWW"
    ;;
openbao)
    # As the real server: its state on the data volume, sealed at every start until `bao operator unseal` (bao).
    bao _publish
    echo "sandbox openbao stand-in: /v1/sys/health and /v1/sys/seal-status on :8200, $(bao status | sed -n 's/^Sealed *//p' | sed 's/true/sealed/; s/false/unsealed/')"
    exec $TOOL serve -p 8200 -r "$WWW"
    ;;
caddy)
    echo 'AEGIS edge (sandbox stand-in)' > "$WWW/index"
    echo "sandbox caddy stand-in: serving on :80"
    exec $TOOL serve -p 80 -r "$WWW"
    ;;
jaeger)
    echo '<!doctype html><html><body>Jaeger UI (sandbox stand-in)</body></html>' > "$WWW/index"
    echo "sandbox jaeger stand-in: UI on :16686"
    exec $TOOL serve -p 16686 -r "$WWW"
    ;;
grafana)
    mkdir -p "$WWW/api"
    printf '{"database":"ok","version":"sandbox"}\n' > "$WWW/api/health"
    echo "sandbox grafana stand-in: /api/health on :3000"
    exec $TOOL serve -p 3000 -r "$WWW"
    ;;
loki)
    echo ready > "$WWW/ready"
    echo "sandbox loki stand-in: /ready on :3100"
    exec $TOOL serve -p 3100 -r "$WWW"
    ;;
promtail)
    echo ready > "$WWW/ready"
    echo "sandbox promtail stand-in: /ready on :9080"
    exec $TOOL serve -p 9080 -r "$WWW"
    ;;
otelcol)
    printf '{"status":"Server available"}\n' > "$WWW/index"
    echo "sandbox otelcol stand-in: health check on :13133 (no OTLP receiver)"
    exec $TOOL serve -p 13133 -r "$WWW"
    ;;
seaweedfs)
    case "${2:-}" in
    master)
        mkdir -p "$WWW/cluster"
        printf '{"IsLeader":true,"Leader":"localhost:9333"}\n' > "$WWW/cluster/status"
        port=9333 ;;
    volume) printf '{"Version":"sandbox","Volumes":[]}\n' > "$WWW/status"; port=8080 ;;
    filer) echo '{}' > "$WWW/index"; port=8888 ;;
    webdav) echo 'SeaweedFS WebDAV (sandbox stand-in)' > "$WWW/index"; port=7333 ;;
    *) echo "usage: $0 seaweedfs master|volume|filer|webdav" >&2; exit 2 ;;
    esac
    echo "sandbox seaweedfs $2 stand-in: serving on :$port"
    exec $TOOL serve -p "$port" -r "$WWW"
    ;;
*)
    echo "usage: $0 seal-gateway|temporal-worker|temporal-server|temporal-ui|prometheus|postgres-exporter|openbao|caddy|jaeger|grafana|loki|promtail|otelcol|seaweedfs <role>" >&2
    exit 2
    ;;
esac
