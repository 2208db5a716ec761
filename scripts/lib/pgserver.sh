#!/usr/bin/env bash
# The one definition of where the sandbox's second PostgreSQL major (16) comes
# from: PyPI's pgserver wheel, which carries a complete PostgreSQL 16.2 under
# pgserver/pginstall/{bin,lib,share} (Debian 12 ships only 15). Sourced by
# scripts/bootstrap.sh (which fetches it) and sandbox/lib/images.sh (which
# builds the postgres:16 image from it and fetches it itself if it is missing).
# Needs nothing else sourced; messages go to stderr.

# Releases of the wheel the sandbox uses: "<pgserver version>|<wheel file>|<sha256>|<PostgreSQL inside>".
# 0.1.4 gives the second major (16); 0.0.9 a second 15.x beside Debian's, for minor upgrades. Only their
# PostgreSQL files are used (the wheels are for CPython 3.11 on x86_64 Linux), never their Python module.
PGSERVER_RELEASES=(
  "0.1.4|pgserver-0.1.4-cp311-cp311-manylinux_2_17_x86_64.manylinux2014_x86_64.whl|d595789b47624a3d963aa9aa6359da9be31beb7e61f1a45541953242068b8813|16.2"
  "0.0.9|pgserver-0.0.9-cp311-cp311-manylinux_2_17_x86_64.manylinux2014_x86_64.whl|22fd3b19b7e190dd7ad14398c249cec6aefd2cc892d0bfeed7aa2500c085fc99|15.5"
)

# Selects one release: PGSERVER_VERSION, PGSERVER_WHEEL, PGSERVER_WHEEL_SHA256, PGSERVER_PG_VERSION and where it
# is cached (outside the checkout, beside the temporal CLI: survives fresh clones).
pgserver_release() { # <pgserver version>
  local entry
  for entry in "${PGSERVER_RELEASES[@]}"; do
    [ "${entry%%|*}" = "$1" ] || continue
    IFS='|' read -r PGSERVER_VERSION PGSERVER_WHEEL PGSERVER_WHEEL_SHA256 PGSERVER_PG_VERSION <<<"$entry"
    PGSERVER_DIR="${AEGIS_UPGRADE_CACHE:-$HOME/.cache/aegis-upgrade}/pgserver-$PGSERVER_VERSION"
    PGSERVER_WHEEL_PATH="$PGSERVER_DIR/$PGSERVER_WHEEL"
    return 0
  done
  echo "ERROR: no pgserver release $1 in scripts/lib/pgserver.sh" >&2
  return 1
}
pgserver_release 0.1.4

# True when the cached wheel is there and is the expected file.
pgserver_wheel_ok() {
  [ -f "$PGSERVER_WHEEL_PATH" ] &&
    [ "$(sha256sum "$PGSERVER_WHEEL_PATH" | cut -d' ' -f1)" = "$PGSERVER_WHEEL_SHA256" ]
}

# Downloads the wheel from PyPI with pip (python3-pip) into the cache. A subshell:
# its temporary directory goes whatever happens.
pgserver_fetch() (
  set -euo pipefail
  echo "fetching PostgreSQL $PGSERVER_PG_VERSION: pip download pgserver==$PGSERVER_VERSION into $PGSERVER_DIR" >&2
  python3 -m pip --version >/dev/null 2>&1 || {
    echo "ERROR: python3 -m pip is not available (apt-get install python3-pip), needed to fetch pgserver" >&2
    exit 1
  }
  mkdir -p "$PGSERVER_DIR"
  tmp="$(mktemp -d "$PGSERVER_DIR/.download.XXXXXX")"
  trap 'rm -rf "$tmp"' EXIT
  if ! python3 -m pip download --quiet --no-deps --only-binary=:all: --platform manylinux2014_x86_64 \
    --python-version 3.11 --implementation cp --abi cp311 -d "$tmp" "pgserver==$PGSERVER_VERSION" >&2; then
    echo "ERROR: pip download pgserver==$PGSERVER_VERSION failed (output above)" >&2
    exit 1
  fi
  got="$(sha256sum "$tmp/$PGSERVER_WHEEL" 2>/dev/null | cut -d' ' -f1 || true)"
  if [ "$got" != "$PGSERVER_WHEEL_SHA256" ]; then
    echo "ERROR: the downloaded $PGSERVER_WHEEL is not the expected file (sha256 ${got:-missing}, expected $PGSERVER_WHEEL_SHA256)" >&2
    exit 1
  fi
  mv -f "$tmp/$PGSERVER_WHEEL" "$PGSERVER_WHEEL_PATH"
)

pgserver_ensure() {
  pgserver_wheel_ok || pgserver_fetch
}
