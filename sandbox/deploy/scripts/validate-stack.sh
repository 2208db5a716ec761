#!/usr/bin/env bash
# Probes each service the sandbox platform runs and prints one line per service:
# a green tick when an HTTP GET answers (5 s limit), a red cross with the URL otherwise.
# Like the production script it always exits 0, and PostgreSQL and the Temporal gRPC port
# are probed over HTTP, so those two lines are crosses even on a healthy platform. Like it too,
# it probes services on their production host ports whatever the profile runs: Keycloak (no pod), and
# OpenBao and SeaweedFS, whose sandbox pods publish no host port: their lines are crosses on a healthy sandbox.
set -uo pipefail

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
if [[ -f "$root/.env" ]]; then
    set -a
    # shellcheck source=/dev/null
    . "$root/.env" >/dev/null 2>&1 || true
    set +a
fi

host=127.0.0.1
pg_port="${AEGIS_SANDBOX_POSTGRES_PORT:-15432}"
runtime_port="${AEGIS_SANDBOX_RUNTIME_PORT:-18088}"
grpc_port="${AEGIS_SANDBOX_TEMPORAL_GRPC_PORT:-18234}"
ui_port="${AEGIS_SANDBOX_TEMPORAL_UI_PORT:-18233}"
seal_port="${AEGIS_SANDBOX_SEAL_GATEWAY_PORT:-18089}"
prom_port="${AEGIS_SANDBOX_PROMETHEUS_PORT:-19090}"
# The production host ports of services no sandbox pod publishes.
keycloak_port=8180
openbao_port=8200
seaweedfs_master_port=9333
seaweedfs_filer_port=8888

red='\033[0;31m'
green='\033[0;32m'
reset='\033[0m'

probe() {
    local label="$1" url="$2"
    if curl -sf --max-time 5 "$url" >/dev/null 2>&1; then
        echo -e "  ${green}✓${reset} $label"
    else
        echo -e "  ${red}✗${reset} $label ($url)"
    fi
}

echo "Validating AEGIS platform services..."
echo ""
echo "Database:"
probe "PostgreSQL" "$host:$pg_port"
echo "Core:"
probe "AEGIS Runtime" "http://$host:$runtime_port/health"
echo "Temporal:"
probe "Temporal Server" "http://$host:$grpc_port"
probe "Temporal UI" "http://$host:$ui_port"
echo "Gateways:"
probe "SEAL Gateway" "http://$host:$seal_port"
echo "IAM & Secrets:"
probe "Keycloak" "http://$host:$keycloak_port/health/ready"
probe "OpenBao" "http://$host:$openbao_port/v1/sys/health"
echo "Observability:"
probe "Prometheus" "http://$host:$prom_port/-/ready"
echo "Storage:"
probe "SeaweedFS Master" "http://$host:$seaweedfs_master_port"
probe "SeaweedFS Filer" "http://$host:$seaweedfs_filer_port"
echo ""
echo "Run 'make status' for pod-level status."
exit 0
