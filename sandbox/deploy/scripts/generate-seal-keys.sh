#!/usr/bin/env bash
# The SEAL key pair under generated/seal (made once), and AEGIS_SEAL_PRIVATE_KEY appended to .env once: the PEM
# on one line, its line ends written as \n. Run by `make generate-keys`.
set -euo pipefail

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
keys="$root/generated/seal"
env_file="$root/.env"

[[ -f "$env_file" ]] || { echo "ERROR: no .env in $root" >&2; exit 1; }
mkdir -p "$keys"
if [[ -f "$keys/private.pem" ]]; then
    echo "SEAL keys: kept those in $keys"
else
    openssl genpkey -algorithm RSA -pkeyopt rsa_keygen_bits:2048 -out "$keys/private.pem" 2>/dev/null
    openssl rsa -in "$keys/private.pem" -pubout -out "$keys/public.pem" 2>/dev/null
    chmod 0600 "$keys/private.pem"
    echo "SEAL keys: made $keys/private.pem and public.pem"
fi
if grep -q '^AEGIS_SEAL_PRIVATE_KEY=' "$env_file"; then
    echo "AEGIS_SEAL_PRIVATE_KEY: already in .env"
else
    printf 'AEGIS_SEAL_PRIVATE_KEY="%s"\n' "$(awk 'NF { printf "%s\\n", $0 }' "$keys/private.pem")" >> "$env_file"
    echo "AEGIS_SEAL_PRIVATE_KEY: appended to .env"
fi
