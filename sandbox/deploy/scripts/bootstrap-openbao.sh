#!/usr/bin/env bash
# `make bootstrap-secrets` in the sandbox: what the real script does that an upgrade can notice, against the OpenBao
# stand-in (sandbox/images/components/bao). Run after `make deploy`, whose restart leaves OpenBao sealed.
#   1. OpenBao not initialised: initialise it, keeping its unseal key and root token in generated/openbao-init.json.
#   2. Sealed: unseal it with that key.
#   3. The AppRole credentials of generated/openbao-approle.env still log in: nothing more. Otherwise new ones are
#      made, written there, and into .env the way the real script writes them: an existing OPENBAO_ROLE_ID or
#      OPENBAO_SECRET_ID line rewritten in place with `sed -i`, a missing one appended with `>>`. No lock is taken.
# The real script runs `bao` and curl on the host against OpenBao's published port 8200; the sandbox's host has no
# `bao` and its secrets pod publishes no port, so each command runs in the container (`podman exec`). Not imitated:
# policies, the OIDC auth method and the tenants' KV engines, which no upgrade reads.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
env_file="$root/.env"
init_file="$root/generated/openbao-init.json"
approle_file="$root/generated/openbao-approle.env"
container=aegis-secrets-openbao

bao() { podman exec "$container" bao "$@" </dev/null; }

echo "Waiting for OpenBao to start..."
for _ in $(seq 1 150); do
  state="$(bao status -format=json 2>/dev/null || true)"
  [[ -n "$state" ]] && break
  sleep 0.2
done
[[ -n "$state" ]] || { echo "Error: OpenBao ($container) does not answer" >&2; exit 1; }

mkdir -p "$root/generated"
if [[ "$state" == *'"initialized":false'* ]]; then
  echo "Initializing OpenBao..."
  (umask 077; bao operator init -key-shares=1 -key-threshold=1 -format=json > "$init_file")
  echo "OpenBao initialized. Init data saved to generated/openbao-init.json"
  state="$(bao status -format=json 2>/dev/null || true)"
fi

if [[ "$state" == *'"sealed":true'* ]]; then
  [[ -s "$init_file" ]] || { echo "Error: OpenBao is sealed and there is no $init_file to unseal it with" >&2; exit 1; }
  echo "Unsealing OpenBao..."
  key="$(sed -n 's/.*"unseal_keys_b64":\["\([^"]*\)".*/\1/p' "$init_file")"
  # The key on stdin: in the arguments, it would be in every process list and in the sandbox's journal of commands.
  podman exec -i "$container" bao operator unseal - <<<"$key" >/dev/null
  echo "OpenBao unsealed"
fi

valid=false
if [[ -f "$approle_file" ]]; then
  role_id="$(sed -n 's/^OPENBAO_ROLE_ID=//p' "$approle_file")"
  secret_id="$(sed -n 's/^OPENBAO_SECRET_ID=//p' "$approle_file")"
  if bao write -field=client_token auth/approle/login role_id="$role_id" secret_id="$secret_id" >/dev/null 2>&1; then
    valid=true
    echo "AppRole credentials are valid, skipping generation"
  fi
fi
if [[ "$valid" == false ]]; then
  role_id="$(bao read -field=role_id auth/approle/role/aegis-platform/role-id)"
  secret_id="$(bao write -field=secret_id -f auth/approle/role/aegis-platform/secret-id)"
  (umask 077; printf 'OPENBAO_ROLE_ID=%s\nOPENBAO_SECRET_ID=%s\n' "$role_id" "$secret_id" > "$approle_file")
  echo "AppRole credentials generated. Written to generated/openbao-approle.env"
  for line in "OPENBAO_ROLE_ID=$role_id" "OPENBAO_SECRET_ID=$secret_id"; do
    if grep -q "^${line%%=*}=" "$env_file"; then
      sed -i "s|^${line%%=*}=.*|$line|" "$env_file"
    else
      echo "$line" >> "$env_file"
    fi
  done
  echo "Updated .env with AppRole credentials"
fi
echo "OpenBao bootstrap complete"
