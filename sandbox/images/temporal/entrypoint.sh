#!/bin/sh
# Entrypoint of the sandbox's real Temporal images (temporalio/auto-setup:<version>, built by
# sandbox/lib/images.sh from a real server release): does on PostgreSQL what auto-setup does.
#   1. waits for PostgreSQL at $POSTGRES_SEEDS:$DB_PORT;
#   2. creates the databases $DBNAME and $VISIBILITY_DBNAME if missing, then brings each schema
#      to this release's version with the release's own sql tool (setup-schema -v 0.0, then
#      update-schema over the versioned schema files); SKIP_SCHEMA_SETUP=true skips this step;
#   3. writes the server configuration and runs `temporal-server start` as PID 1.
# Environment as the pod YAML gives it: DB (postgres12, postgres12_pgx, or postgresql as a
# synonym of postgres12), DB_PORT, POSTGRES_SEEDS, POSTGRES_USER, POSTGRES_PWD,
# DYNAMIC_CONFIG_FILE_PATH (relative to /etc/temporal); optional DBNAME (temporal),
# VISIBILITY_DBNAME (temporal_visibility), LOG_LEVEL (info). 4 history shards, as auto-setup.
# The password never appears on a command line or in a log.
set -eu

cd /etc/temporal
VERSION="${TEMPORAL_VERSION:?the image sets TEMPORAL_VERSION}"
DB="${DB:-postgres12}"
DB_PORT="${DB_PORT:-5432}"
POSTGRES_SEEDS="${POSTGRES_SEEDS:?POSTGRES_SEEDS (the PostgreSQL host) must be set}"
POSTGRES_USER="${POSTGRES_USER:?POSTGRES_USER must be set}"
POSTGRES_PWD="${POSTGRES_PWD:?POSTGRES_PWD must be set}"
DBNAME="${DBNAME:-temporal}"
VISIBILITY_DBNAME="${VISIBILITY_DBNAME:-temporal_visibility}"
LOG_LEVEL="${LOG_LEVEL:-info}"
DYNAMIC_CONFIG_FILE_PATH="${DYNAMIC_CONFIG_FILE_PATH:-config/dynamicconfig/development-sql.yaml}"
SCHEMA_DIR=/etc/temporal/schema/postgresql/v12

say() { echo "temporal auto-setup ($VERSION): $*"; }

# Temporal's PostgreSQL plugin (server and sql tool) puts the password unquoted into a key=value
# connection string: a space in it fails as "password authentication failed" (checked with 1.22.6).
case "$POSTGRES_PWD" in
*" "*)
    echo "temporal auto-setup ($VERSION): POSTGRES_PWD contains a space, which Temporal's PostgreSQL plugin cannot pass on; use a password without spaces" >&2
    exit 2
    ;;
esac

case "$DB" in
postgresql | postgres12) SQL_PLUGIN=postgres12 ;;
postgres12_pgx) SQL_PLUGIN=postgres12_pgx ;;
*)
    echo "temporal auto-setup ($VERSION): DB=$DB is not supported by this image (postgres12, postgres12_pgx or postgresql)" >&2
    exit 2
    ;;
esac

# The sql tool reads these; the password stays out of its arguments.
export SQL_PLUGIN SQL_HOST="$POSTGRES_SEEDS" SQL_PORT="$DB_PORT" SQL_USER="$POSTGRES_USER" SQL_PASSWORD="$POSTGRES_PWD"

say "waiting for PostgreSQL at $POSTGRES_SEEDS:$DB_PORT"
tries=0
# create-database connects first and leaves an existing database alone.
until temporal-sql-tool --db "$DBNAME" create-database >/tmp/create-database.log 2>&1; do
    tries=$((tries + 1))
    if [ "$tries" -ge 120 ]; then
        cat /tmp/create-database.log >&2
        say "PostgreSQL at $POSTGRES_SEEDS:$DB_PORT did not answer in 120 s" >&2
        exit 1
    fi
    sleep 1
done
say "PostgreSQL started"

if [ "${SKIP_SCHEMA_SETUP:-false}" != true ]; then
    for spec in "$DBNAME|temporal" "$VISIBILITY_DBNAME|visibility"; do
        db="${spec%%|*}" dir="$SCHEMA_DIR/${spec##*|}/versioned"
        say "setting up schema of database $db (release schema $(cat "$SCHEMA_DIR/${spec##*|}/VERSION"))"
        temporal-sql-tool --db "$db" create-database
        temporal-sql-tool --db "$db" setup-schema -v 0.0
        temporal-sql-tool --db "$db" update-schema -d "$dir"
    done
    say "schema setup complete"
else
    say "SKIP_SCHEMA_SETUP=true: schemas left as they are"
fi

# Fills the @NAME@ fields of the template: each value goes inside YAML single quotes (where only
# a quote is escaped, by doubling it), through a sed replacement (where \ | & are escaped).
fill() { printf '%s\n' "$2" | sed "s/'/''/g" | sed 's/[\\|&]/\\&/g' | sed "s/^/s|@$1@|/; s/\$/|g/"; }
unset SQL_PASSWORD
umask 077
{
    fill LOG_LEVEL "$LOG_LEVEL"
    fill SQL_PLUGIN "$SQL_PLUGIN"
    fill DBNAME "$DBNAME"
    fill VISIBILITY_DBNAME "$VISIBILITY_DBNAME"
    fill DB_ADDRESS "$POSTGRES_SEEDS:$DB_PORT"
    fill DB_USER "$POSTGRES_USER"
    fill DB_PASSWORD "$POSTGRES_PWD"
    fill DYNAMIC_CONFIG_FILE_PATH "$DYNAMIC_CONFIG_FILE_PATH"
} >/tmp/config.sed
sed -f /tmp/config.sed /etc/temporal/config-template.yaml >/etc/temporal/config/docker.yaml
rm -f /tmp/config.sed
[ -f "$DYNAMIC_CONFIG_FILE_PATH" ] || {
    mkdir -p "$(dirname "$DYNAMIC_CONFIG_FILE_PATH")"
    : >"$DYNAMIC_CONFIG_FILE_PATH"
}

say "starting Temporal server $VERSION (frontend gRPC on :7233)"
exec temporal-server --root /etc/temporal --config config --env docker --allow-no-auth start
