#!/bin/sh
# Stand-in for the AEGIS runtime (pod core). Behaves like the real orchestrator at start-up:
# connects to PostgreSQL, runs its sqlx-style migrations, logs the same lines, then serves
# the health endpoints on 8088. Baked-in environment: AEGIS_VERSION, AEGIS_READINESS.
set -u

TOOL=/usr/local/bin/aegis-sandbox-tool
TARGET=aegis_orchestrator
MIGRATIONS_DIR=/app/migrations
WWW=/tmp/www
VERSION="${AEGIS_VERSION:-unknown}"
DB_URL="${AEGIS_DATABASE_URL:-}"
export PGCONNECT_TIMEOUT="${AEGIS_DB_CONNECT_TIMEOUT:-3}"

# DEBUG lines only when RUST_LOG asks for them (e.g. "info,aegis_orchestrator=debug").
case "${RUST_LOG:-info}" in *debug*|*trace*) DEBUG=1 ;; *) DEBUG=0 ;; esac
log() {
    lvl="$1"; shift
    [ "$lvl" = DEBUG ] && [ "$DEBUG" = 0 ] && return 0
    "$TOOL" log "$lvl" "$TARGET" "$@"
}

q() { psql "$DB_URL" -X -q -A -t -v ON_ERROR_STOP=1 "$@"; }

serve() {
    db="$1" status="$2" temporal="true"
    [ "${AEGIS_READINESS:-ready}" = degraded ] && { status=degraded; temporal=false; }
    [ "$db" = false ] && status=degraded
    mkdir -p "$WWW/health"
    body="{\"status\":\"healthy\",\"version\":\"$VERSION\"}"
    echo "$body" > "$WWW/health/index"
    echo "$body" > "$WWW/health/live"
    echo "$body" > "$WWW/index"
    printf '{"status":"%s","uptime_seconds":@UPTIME@,"dependencies":{"database":%s,"temporal":%s}}\n' \
        "$status" "$db" "$temporal" > "$WWW/health/ready"
    log INFO "HTTP API listening on 0.0.0.0:8088"
    [ "$status" = degraded ] && log WARN "Readiness degraded: one or more dependencies unavailable"
    exec "$TOOL" serve -p 8088 -r "$WWW"
}

log INFO "Starting AEGIS orchestrator version=$VERSION"

# --- connect (a few quick attempts, like a pool with a short acquire timeout) ---
connected=false
err=""
if [ -n "$DB_URL" ]; then
    attempts="${AEGIS_DB_CONNECT_ATTEMPTS:-5}"
    i=0
    while [ "$i" -lt "$attempts" ]; do
        if info=$(q -c '\conninfo' 2>&1); then
            connected=true
            # A pool keeps the connection it opened: the later statements reach the address this one reached,
            # without asking the DNS again (podman 4.3's aardvark-dns drops queries while it reloads for a pod that
            # starts, and a lookup then fails after seconds with "Temporary failure in name resolution").
            addr=$(printf '%s' "$info" | sed -n 's/.*(address "\([^"]*\)").*/\1/p')
            if [ -n "$addr" ]; then
                case "$DB_URL" in *\?*) DB_URL="$DB_URL&hostaddr=$addr" ;; *) DB_URL="$DB_URL?hostaddr=$addr" ;; esac
            fi
            break
        fi
        err="$info"
        i=$((i + 1))
        [ "$i" -lt "$attempts" ] && sleep 1
    done
else
    err="AEGIS_DATABASE_URL is not set"
fi

if [ "$connected" != true ]; then
    err=$(printf '%s' "$err" | tr '\n' ' ' | sed 's/  */ /g; s/ $//')
    log WARN "Failed to connect to PostgreSQL, falling back to InMemory error=\"$err\""
    serve false degraded
fi

log INFO "Connected to PostgreSQL"

# --- migrations (sqlx bookkeeping) ---
if ! err=$(q 2>&1 >/dev/null <<'SQL'
CREATE TABLE IF NOT EXISTS _sqlx_migrations (
    version BIGINT PRIMARY KEY,
    description TEXT NOT NULL,
    installed_on TIMESTAMPTZ NOT NULL DEFAULT now(),
    success BOOLEAN NOT NULL,
    checksum BYTEA NOT NULL,
    execution_time BIGINT NOT NULL
);
SQL
); then
    # The server's ERROR line; a connection that failed or broke says so in psql's own words instead.
    reason=$(printf '%s' "$err" | sed -n 's/.*ERROR: *//p' | head -1)
    [ -n "$reason" ] || reason="error communicating with database: $(printf '%s' "$err" | tr '\n' ' ' | sed 's/  */ /g; s/ $//')"
    log ERROR "Failed to apply migrations: $reason"
    exit 1
fi

applied_versions=$(q -c 'SELECT version FROM _sqlx_migrations WHERE success ORDER BY version')
applied=$(printf '%s\n' "$applied_versions" | grep -c '[0-9]')
total=0
pending=""
for f in "$MIGRATIONS_DIR"/*.sql; do
    [ -e "$f" ] || continue
    total=$((total + 1))
    name=$(basename "$f" .sql)
    v="${name%%_*}"
    if ! printf '%s\n' "$applied_versions" | grep -qx "$v"; then
        pending="$pending $f"
    fi
done

log INFO "Database migration status applied=$applied total=$total"

if [ -z "$pending" ]; then
    log INFO "Database is up to date"
else
    log INFO "Applying pending migrations..."
    for f in $pending; do
        name=$(basename "$f" .sql)
        v="${name%%_*}"
        desc=$(printf '%s' "${name#*_}" | tr '_' ' ')
        # The migration and its bookkeeping row commit together, or not at all.
        if ! err=$(q -v v="$v" -v desc="$desc" -v sql="$(cat "$f")" 2>&1 >/dev/null <<SQL
BEGIN;
\i $f
INSERT INTO _sqlx_migrations (version, description, success, checksum, execution_time)
VALUES (:v, :'desc', TRUE, sha384(convert_to(:'sql', 'UTF8')),
        (extract(epoch FROM clock_timestamp() - now()) * 1000000000)::bigint);
COMMIT;
SQL
        ); then
            reason=$(printf '%s\n' "$err" | sed -n 's/.*ERROR: *//p' | head -1)
            [ -n "$reason" ] || reason=$(printf '%s' "$err" | tr '\n' ' ')
            log ERROR "Failed to apply migrations: while executing migration $v: error returned from database: $reason"
            exit 1
        fi
        log DEBUG "Applied migration version=$v description=\"$desc\""
    done
    log INFO "Database migrations applied successfully"
fi

serve true ready
