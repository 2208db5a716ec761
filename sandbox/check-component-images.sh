#!/usr/bin/env bash
# Proves the sandbox's third-party component images for real, apart from the sandbox: in a podman
# storage of its own (never the sandbox's pods, images or network), with no host port.
#
#   check-component-images.sh postgres   builds postgres:15 and postgres:16 (PostgreSQL 16.2 from
#        the pgserver wheel), fills a 15 cluster (the runtime's 1.2.0 schema, its seed rows, a bulk
#        table, a role, a table in temporal), pg_dumpall's it, restores the dump into a fresh 16
#        cluster with 16's psql, and compares every table's row count and content checksum.
#   check-component-images.sh temporal FROM TO   builds the real auto-setup images of Temporal
#        server FROM and TO (e.g. 1.22.6 1.23.1; scripts/temporal-server.sh builds the releases,
#        minutes each the first time), runs FROM on a fresh PostgreSQL 15 (namespace default, one
#        workflow), TO with SKIP_SCHEMA_SETUP=true on FROM's schema (must refuse), TO on the same
#        databases (schema migrated, workflow still there), then FROM again on TO's schema and
#        reports what it does (Temporal accepts a schema newer than its own: it comes up).
#   check-component-images.sh clean      removes its containers, network and storage.
#
# Environment: AEGIS_COMPONENT_CHECK_DIR (default <repo>/.podman) holds the storage and builds.
set -euo pipefail

SANDBOX_SRC="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
REPO_ROOT="$(dirname "$SANDBOX_SRC")"
CHECK_DIR="${AEGIS_COMPONENT_CHECK_DIR:-$REPO_ROOT/.podman}"
BUILD_DIR="$CHECK_DIR/build"
NETWORK=aegis-component-check
# Apart from podman's default range (10.88/10.89...) and so from the sandbox's network.
SUBNET=10.213.7.0/24
# Quotes, backslash, & | @ : the image's config template must carry them (a space cannot: see
# images/temporal/entrypoint.sh).
PASSWORD='check"only"pw:it'\''s\&|@'

SAY_PREFIX=check
# shellcheck source=lib/common.sh
. "$SANDBOX_SRC/lib/common.sh"

# Every podman call of this script and of images.sh goes to the check's own storage.
podman() {
  command podman --root "$CHECK_DIR/root" --runroot "$CHECK_DIR/run" --network-config-dir "$CHECK_DIR/net" "$@"
}

# shellcheck source=lib/images.sh
. "$SANDBOX_SRC/lib/images.sh"
# TEMPORAL_CLI_BIN: the project's temporal CLI (scripts/bootstrap.sh builds it)
# shellcheck source=../scripts/lib/temporal-cli.sh
. "$REPO_ROOT/scripts/lib/temporal-cli.sh"

# A bridge name of its own: podman picks podman<N> among the bridges that exist at that moment
# and the networks of its own storage, so another storage's network (the sandbox's, whose bridge
# exists only while a container uses it) could share it. podman 4.3 has no option for the name:
# it is set in the network's file before any container uses the network.
ensure_network() {
  podman network exists "$NETWORK" && return 0
  podman network create --subnet "$SUBNET" "$NETWORK" >/dev/null
  sed -i 's/"network_interface": "[^"]*"/"network_interface": "aegis-check0"/' "$CHECK_DIR/net/$NETWORK.json"
  [[ "$(podman network inspect --format '{{.NetworkInterface}}' "$NETWORK")" == aegis-check0 ]] ||
    die "could not name the bridge of network $NETWORK aegis-check0"
}

remove_container() { podman rm -f -t 5 "$1" >/dev/null 2>&1 || true; }

start_postgres() { # <container> <image>
  remove_container "$1"
  podman run -d --name "$1" --network "$NETWORK" --network-alias "$1" \
    -e POSTGRES_USER=aegis -e POSTGRES_PASSWORD="$PASSWORD" -e POSTGRES_DB=aegis "$2" >/dev/null
  wait_for 60 "PostgreSQL in $1" podman exec "$1" pg_isready -q -U aegis -d postgres || {
    podman logs --tail 20 "$1" >&2
    die "PostgreSQL in $1 did not become ready"
  }
}

psql_in() { # <container> <database> [psql args...]
  local c="$1" db="$2"
  shift 2
  podman exec -i "$c" psql -X -q -A -t -v ON_ERROR_STOP=1 -U aegis -d "$db" "$@"
}

# One line per table of every database but the templates: "<db>.<schema>.<table> <rows> <md5>",
# the md5 over the rows' text sorted, so any changed value shows.
table_fingerprints() { # <container>
  local db
  for db in $(psql_in "$1" postgres -c "SELECT datname FROM pg_database WHERE NOT datistemplate ORDER BY 1"); do
    psql_in "$1" "$db" <<'EOF'
SELECT format('SELECT %L || '' '' || count(*) || '' '' || coalesce(md5(string_agg(t::text, '','' ORDER BY t::text)), ''-'') FROM %I.%I t',
              current_database() || '.' || schemaname || '.' || tablename, schemaname, tablename)
FROM pg_tables WHERE schemaname NOT IN ('pg_catalog', 'information_schema') ORDER BY schemaname, tablename
\gexec
EOF
  done
}

build_postgres() {
  mkdir -p "$BUILD_DIR"
  build_tool
  podman image exists "$PG_BASE" || build_pg_base
  podman image exists "$PG16_BASE" || build_pgserver_base 0.1.4 "$PG16_BASE"
  local ctx="$BUILD_DIR/ctx-postgres"
  rm -rf "$ctx"
  build_postgres_images "$ctx"
  rm -rf "$ctx"
}

check_postgres() {
  local started=$SECONDS v16 before after
  say "building the postgres images in $CHECK_DIR"
  build_postgres
  say "built in $((SECONDS - started)) s: $(podman images --format '{{.Repository}}:{{.Tag}} {{.Size}}' | grep '/postgres:1[56] ' | tr '\n' ' ')"
  ensure_network
  start_postgres check-pg15 "$LOCAL_NS/postgres:15"
  say "15: $(psql_in check-pg15 postgres -c 'SELECT version()')"
  say "filling the 15 cluster: the runtime's 1.2.0 schema, seed rows, a bulk table, a role, a table in temporal"
  local m
  for m in $(runtime_field "$(runtime_versions | head -n 1)" 3); do
    psql_in check-pg15 aegis <"$(echo "$SANDBOX_SRC"/images/runtime/migrations/"${m}"_*.sql)"
  done
  psql_in check-pg15 aegis <"$SANDBOX_SRC/db/seed.sql"
  psql_in check-pg15 aegis <<'EOF'
CREATE TABLE bulk_events (id bigserial PRIMARY KEY, payload jsonb NOT NULL, at timestamptz NOT NULL);
INSERT INTO bulk_events (payload, at)
  SELECT jsonb_build_object('n', g, 'text', md5(g::text)), timestamptz '2025-01-01' + g * interval '1 minute'
  FROM generate_series(1, 20000) g;
CREATE ROLE aegis_reader LOGIN PASSWORD 'reader-only';
GRANT SELECT ON ALL TABLES IN SCHEMA public TO aegis_reader;
EOF
  psql_in check-pg15 temporal -c "CREATE TABLE check_marker (k text PRIMARY KEY, v int); INSERT INTO check_marker VALUES ('a', 1), ('b', 2);"
  before="$(table_fingerprints check-pg15)"
  podman exec check-pg15 pg_dumpall -U aegis --clean --if-exists >"$CHECK_DIR/dumpall-15.sql"
  say "pg_dumpall of 15: $(wc -c <"$CHECK_DIR/dumpall-15.sql") bytes, $(grep -c . <<<"$before") tables"

  start_postgres check-pg16 "$LOCAL_NS/postgres:16"
  v16="$(psql_in check-pg16 postgres -c 'SELECT version()')"
  say "16: $v16"
  [[ "$v16" == "PostgreSQL $PGSERVER_PG_VERSION "* ]] || die "the postgres:16 image runs '$v16', expected PostgreSQL $PGSERVER_PG_VERSION"
  podman exec check-pg16 sh -c 'for t in pg_isready psql pg_dump pg_dumpall pg_restore pg_upgrade; do command -v $t; done' | tr '\n' ' ' >&2
  echo >&2
  say "restoring the dump with 16's psql (errors are printed; the role aegis already exists)"
  podman exec -i check-pg16 psql -X -q -U aegis -d postgres <"$CHECK_DIR/dumpall-15.sql" >/dev/null 2>"$CHECK_DIR/restore-16.err" || true
  sed 's/^/[check]   restore: /' "$CHECK_DIR/restore-16.err" >&2
  after="$(table_fingerprints check-pg16)"
  if [[ "$before" != "$after" ]]; then
    diff <(echo "$before") <(echo "$after") >&2 || true
    die "the tables restored into 16 differ from 15's (above)"
  fi
  psql_in check-pg16 aegis -c "SELECT 1 FROM pg_roles WHERE rolname = 'aegis_reader'" | grep -q 1 || die "role aegis_reader did not come across"
  say "every table identical after restore into $PGSERVER_PG_VERSION ($(grep -c . <<<"$after") tables, rows and md5 of content):"
  sed 's/^/[check]   /' <<<"$after" >&2

  # 15.18's dumps begin with \restrict, which 16.2's psql does not know: the alternative the
  # PostgreSQL docs advise for a major upgrade, the new major's pg_dumpall reading the old cluster.
  start_postgres check-pg16b "$LOCAL_NS/postgres:16"
  say "second way: 16's pg_dumpall reads the 15 cluster over the network, 16's psql restores it"
  podman exec -e PGPASSWORD="$PASSWORD" check-pg16b pg_dumpall -h check-pg15 -U aegis --clean --if-exists >"$CHECK_DIR/dumpall-16-of-15.sql"
  podman exec -i check-pg16b psql -X -q -U aegis -d postgres <"$CHECK_DIR/dumpall-16-of-15.sql" >/dev/null 2>"$CHECK_DIR/restore-16b.err" || true
  sed 's/^/[check]   restore: /' "$CHECK_DIR/restore-16b.err" >&2
  after="$(table_fingerprints check-pg16b)"
  [[ "$before" == "$after" ]] || die "the tables restored into 16 (16's pg_dumpall) differ from 15's"
  say "identical again (16's pg_dumpall of the 15 cluster)"
  remove_container check-pg15
  remove_container check-pg16
  remove_container check-pg16b
  say "postgres check passed in $((SECONDS - started)) s"
}

# --- Temporal --------------------------------------------------------------------------------
ip_of() { podman inspect --format "{{(index .NetworkSettings.Networks \"$NETWORK\").IPAddress}}" "$1"; }
temporal_cli() { "$TEMPORAL_CLI_BIN" "$@" --address "$(ip_of check-temporal):7233"; }
schema_versions() {
  local db
  for db in temporal temporal_visibility; do
    printf '%s=%s ' "$db" "$(psql_in check-temporal-db "$db" -c 'SELECT curr_version FROM schema_version')"
  done
}

# Runs release <version> as container check-temporal on check-temporal-db, like the temporal pod.
start_temporal() { # <version> [podman run options...]
  local v="$1"
  shift
  remove_container check-temporal
  podman run -d --name check-temporal --network "$NETWORK" "$@" \
    -e DB=postgresql -e DB_PORT=5432 -e POSTGRES_USER=aegis -e POSTGRES_PWD="$PASSWORD" \
    -e POSTGRES_SEEDS=check-temporal-db -e DYNAMIC_CONFIG_FILE_PATH=config/dynamicconfig/development-sql.yaml \
    -v "$SANDBOX_SRC/deploy/podman/pods/temporal/development-sql.yaml:/etc/temporal/config/dynamicconfig/development-sql.yaml:ro" \
    "$(temporal_server_image "$v")" >/dev/null
}

# Healthy, or fails the wait at once when the container has stopped.
temporal_healthy() {
  [[ "$(podman inspect --format '{{.State.Status}}' check-temporal)" == running ]] || return 99
  temporal_cli operator cluster health
}

# Waits for the frontend to answer `operator cluster health`; prints the seconds it took.
wait_temporal() { # <version>
  local started=$SECONDS
  wait_for 120 "Temporal $1" temporal_healthy || {
    podman logs --tail 40 check-temporal >&2
    die "Temporal $1 did not become healthy (its log above)"
  }
  echo $((SECONDS - started))
}

check_temporal() {
  local from="${1:-}" to="${2:-}" started=$SECONDS t system schema_before status
  [[ -n "$from" && -n "$to" ]] || die "usage: check-component-images.sh temporal FROM TO (e.g. 1.22.6 1.23.1)"
  [[ -x "$TEMPORAL_CLI_BIN" ]] || die "the temporal CLI is not at $TEMPORAL_CLI_BIN: run scripts/bootstrap.sh"
  mkdir -p "$BUILD_DIR"
  build_tool
  podman image exists "$LOCAL_NS/postgres:15" || build_postgres
  ensure_temporal_server_images "$from" "$to"
  say "images: $(podman images --format '{{.Repository}}:{{.Tag}} {{.Size}}' | grep '/temporal-server:' | tr '\n' ' ')"
  ensure_network
  start_postgres check-temporal-db "$LOCAL_NS/postgres:15"

  say "== Temporal $from on a new PostgreSQL"
  start_temporal "$from"
  t="$(wait_temporal "$from")"
  system="$(temporal_cli operator cluster system -o json)"
  say "healthy after $t s: $(temporal_cli operator cluster health | tr '\n' ' ')"
  say "cluster system: serverVersion $(sed -n 's/.*"serverVersion": *"\([^"]*\)".*/\1/p' <<<"$system")"
  [[ "$system" == *"\"serverVersion\": \"$from\""* ]] || die "the server does not report version $from: $system"
  schema_before="$(schema_versions)"
  say "schema_version: $schema_before"
  temporal_cli operator namespace create --namespace default --retention 24h >/dev/null
  wait_for 30 "namespace default" temporal_cli workflow list --namespace default
  temporal_cli workflow start --namespace default --workflow-id check-survives-upgrade --type CheckWorkflow --task-queue check >/dev/null
  say "namespace default registered, workflow check-survives-upgrade started (no worker: stays running)"
  podman logs check-temporal >"$CHECK_DIR/temporal-$from.log" 2>&1
  podman stop -t 30 check-temporal >/dev/null

  say "== Temporal $to on $from's schema, with SKIP_SCHEMA_SETUP=true (no migration)"
  start_temporal "$to" -e SKIP_SCHEMA_SETUP=true
  if (wait_temporal "$to") >/dev/null 2>&1; then # a subshell: its die ends only the wait
    die "$to started on $from's schema without migrating it"
  fi
  say "$to refused, as expected; the end of its log:"
  podman logs check-temporal 2>&1 | { grep -v '^{' || true; } | tail -n 3 | cut -c1-400 | sed 's/^/[check]   /' >&2
  podman logs check-temporal >"$CHECK_DIR/temporal-$to-on-$from-schema.log" 2>&1

  say "== Temporal $to on the same databases"
  start_temporal "$to"
  t="$(wait_temporal "$to")"
  system="$(temporal_cli operator cluster system -o json)"
  say "healthy after $t s; cluster system: serverVersion $(sed -n 's/.*"serverVersion": *"\([^"]*\)".*/\1/p' <<<"$system")"
  [[ "$system" == *"\"serverVersion\": \"$to\""* ]] || die "the server does not report version $to: $system"
  say "schema_version: $(schema_versions)"
  [[ "$(schema_versions)" != "$schema_before" ]] || die "$to did not move the schema versions ($schema_before)"
  status="$(temporal_cli workflow describe --namespace default -w check-survives-upgrade -o json | sed -n 's/.*"status": *"\([^"]*\)".*/\1/p' | head -n 1)"
  say "workflow check-survives-upgrade: $status"
  [[ "$status" == WORKFLOW_EXECUTION_STATUS_RUNNING ]] || die "the workflow started on $from is not running on $to"
  podman logs check-temporal >"$CHECK_DIR/temporal-$to.log" 2>&1
  podman stop -t 30 check-temporal >/dev/null

  say "== Temporal $from again, on the schema $to migrated"
  start_temporal "$from"
  if t="$(wait_temporal "$from" 2>/dev/null)"; then
    system="$(temporal_cli operator cluster system -o json)"
    say "$from STARTED on the migrated schema (healthy after $t s, serverVersion $(sed -n 's/.*"serverVersion": *"\([^"]*\)".*/\1/p' <<<"$system"))"
    say "schema_version: $(schema_versions)"
    say "workflow check-survives-upgrade: $(temporal_cli workflow describe --namespace default -w check-survives-upgrade -o json 2>&1 | sed -n 's/.*"status": *"\([^"]*\)".*/\1/p' | head -n 1)"
  else
    say "$from did not come up on the migrated schema; the end of its log:"
    podman logs --tail 20 check-temporal 2>&1 | sed 's/^/[check]   /' >&2
  fi
  podman logs check-temporal >"$CHECK_DIR/temporal-$from-on-$to-schema.log" 2>&1
  say "container logs kept in $CHECK_DIR/temporal-*.log"
  remove_container check-temporal
  remove_container check-temporal-db
  say "temporal check done in $((SECONDS - started)) s"
}

clean() {
  local c
  for c in $(podman ps -a --format '{{.Names}}' | grep '^check-' || true); do remove_container "$c"; done
  podman network rm -f "$NETWORK" >/dev/null 2>&1 || true
  rm -rf "$CHECK_DIR/root" "$CHECK_DIR/run" "$CHECK_DIR/net" "$BUILD_DIR"
}

case "${1:-}" in
  postgres) check_postgres ;;
  temporal) shift; check_temporal "$@" ;;
  clean) clean ;;
  *) sed -n '4,17p' "$0" | sed 's/^# \{0,1\}//' >&2; exit 2 ;;
esac
