#!/usr/bin/env bash
# Sandbox stand-in for the OpenBao bootstrap: the sandbox runs no OpenBao, so this only
# reports what the real script would do and changes nothing (.env is left untouched).
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
echo "OpenBao (sandbox stand-in): no secrets server runs in this sandbox."
echo "  -> skipped: init/unseal, AppRole 'aegis-platform', KV v2 engine at secret/"
echo "  -> .env left unchanged ($root/.env)"
echo "OpenBao bootstrap complete"
