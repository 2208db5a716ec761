#!/usr/bin/env bash
# The operator guide's upgrade (docs/benchmark.md, "The baseline": the tag, the pulls, the backup, the rolling
# order, the migrations) typed as a plain sequential script: the baseline `npm run bench` measures us against.
# No checks, no rollback: what an operator does by hand, as fast as a script can do it.
#
#   guide-upgrade.sh <deploy checkout> <registry> <tag> <backup file>
#
# Prints "<step> <seconds>" per step on stdout, so the bench can show where the time went.
set -euo pipefail

root="$1" registry="$2" tag="$3" backup="$4"
set -a
# shellcheck source=/dev/null
. "$root/.env"
set +a

step_started=0
begin() { step_started=$EPOCHREALTIME; }
end() { awk -v step="$1" -v from="$step_started" -v to="$EPOCHREALTIME" 'BEGIN { printf "%s %.3f\n", step, to - from }'; }

# Step 1: update the image tag in .env.
begin
sed -i "s/^AEGIS_IMAGE_TAG=.*/AEGIS_IMAGE_TAG=$tag/" "$root/.env"
end set-tag

# Step 2: pull the new images.
begin
make -s -C "$root" registry-login >/dev/null
for image in aegis-runtime aegis-temporal-worker aegis-seal-gateway; do
    podman pull -q "$registry/$image:$tag" >/dev/null
done
end pull

# Database Migrations, 1: back up the database first.
begin
podman exec aegis-database-postgres pg_dumpall -U "$POSTGRES_USER" >"$backup"
end backup

# Rolling upgrade: one pod at a time, in the guide's order.
since=$(date -u +%Y-%m-%dT%H:%M:%S.%NZ)
for pod in database core temporal seal-gateway observability; do
    begin
    make -s -C "$root" redeploy POD="$pod" >/dev/null
    end "redeploy:$pod"
done

# Database Migrations, 3: the runtime logs its migrations, then reports ready.
begin
until podman logs --since "$since" aegis-core-aegis-runtime 2>&1 | grep -E 'Database migrations applied successfully|Database is up to date' >/dev/null; do
    sleep 0.1
done
until curl -sf --max-time 1 "http://127.0.0.1:${AEGIS_SANDBOX_RUNTIME_PORT:-18088}/health/ready" | grep '"ready"' >/dev/null; do
    sleep 0.1
done
end migrations

# Step 4: validate.
begin
make -s -C "$root" validate >/dev/null
end validate
