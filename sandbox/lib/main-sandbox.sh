# shellcheck shell=bash
# The variables that make sandbox.sh act on one deployment of sandbox/deployments.sh rather than on the main
# sandbox. A test lane runs with them set (`deployments.sh sandbox-env NAME`); what belongs to the main sandbox
# (images, the registry's content) is then run with them cleared.
DEPLOYMENT_VARIABLES=(AEGIS_SANDBOX_DIR AEGIS_SANDBOX_SHARED_DIR AEGIS_SANDBOX_SUBNET AEGIS_SANDBOX_BRIDGE
  AEGIS_SANDBOX_ENVIRONMENT AEGIS_SANDBOX_REGISTRY_PORT AEGIS_SANDBOX_POSTGRES_PORT AEGIS_SANDBOX_RUNTIME_PORT
  AEGIS_SANDBOX_SEAL_GATEWAY_PORT AEGIS_SANDBOX_TEMPORAL_UI_PORT AEGIS_SANDBOX_TEMPORAL_GRPC_PORT
  AEGIS_SANDBOX_PROMETHEUS_PORT AEGIS_PLATFORM_USER)

# run_main_sandbox <main state dir> <sandbox.sh arguments...>
run_main_sandbox() {
  local dir="$1" var
  shift
  local -a unset=()
  for var in "${DEPLOYMENT_VARIABLES[@]}"; do unset+=(-u "$var"); done
  env "${unset[@]}" AEGIS_SANDBOX_DIR="$dir" bash "$(dirname "${BASH_SOURCE[0]}")/../sandbox.sh" "$@"
}
