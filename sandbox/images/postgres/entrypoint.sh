#!/bin/sh
# Entrypoint of the sandbox PostgreSQL images 15 and 16 (stand-ins for postgres:15-alpine, 16-alpine).
# First start on an empty data directory: initdb with superuser $POSTGRES_USER and its password
# (password auth over TCP, trust on the local socket so `podman exec ... psql -U aegis` works),
# then create $POSTGRES_DB plus the Temporal databases, then run each /docker-entrypoint-initdb.d/*.sh (as the
# postgres image does: the deploy checkout's scripts/init-multiple-dbs.sh), psql reaching the new cluster.
# Every start: run postgres as PID 1.
set -eu

PGDATA="${PGDATA:-/var/lib/postgresql/data}"
POSTGRES_USER="${POSTGRES_USER:-postgres}"
POSTGRES_DB="${POSTGRES_DB:-$POSTGRES_USER}"
EXTRA_DBS="${AEGIS_EXTRA_DATABASES:-temporal temporal_visibility}"
export PGDATA

mkdir -p "$PGDATA" /var/run/postgresql
chown postgres:postgres "$PGDATA" /var/run/postgresql
chmod 700 "$PGDATA"
chmod 2775 /var/run/postgresql

as_pg() { su postgres -s /bin/sh -c "$1"; }

if [ ! -s "$PGDATA/PG_VERSION" ]; then
    echo "sandbox-postgres: initialising a new cluster in $PGDATA"
    chown -R postgres:postgres "$PGDATA"
    pwfile=/tmp/.pgpass-init
    printf '%s\n' "${POSTGRES_PASSWORD:?POSTGRES_PASSWORD must be set}" > "$pwfile"
    chown postgres "$pwfile"
    chmod 600 "$pwfile"
    as_pg "initdb -D '$PGDATA' -U '$POSTGRES_USER' --pwfile='$pwfile' -E UTF8 --no-locale \
        --auth-local=trust --auth-host=scram-sha-256 >/dev/null"
    rm -f "$pwfile"
    {
        echo "listen_addresses = '*'"
        echo "password_encryption = 'scram-sha-256'"
        echo "timezone = 'UTC'"
        echo "log_timezone = 'UTC'"
        echo "jit = off"
    } >> "$PGDATA/postgresql.conf"
    echo "host all all all scram-sha-256" >> "$PGDATA/pg_hba.conf"
    # Temporary server on a private socket directory: nobody sees it as "ready" before the end.
    mkdir -p /tmp/pg-init && chown postgres:postgres /tmp/pg-init
    as_pg "pg_ctl -D '$PGDATA' -o \"-c listen_addresses='' -c unix_socket_directories=/tmp/pg-init\" -w start >/dev/null"
    for db in $POSTGRES_DB $EXTRA_DBS; do
        if [ "$db" != postgres ]; then
            echo "sandbox-postgres: creating database $db"
            as_pg "psql -X -q -h /tmp/pg-init -U '$POSTGRES_USER' -d postgres -c 'CREATE DATABASE \"$db\"'"
        fi
    done
    for script in /docker-entrypoint-initdb.d/*.sh; do
        [ -f "$script" ] || continue
        echo "sandbox-postgres: running $script"
        as_pg "PGHOST=/tmp/pg-init POSTGRES_USER='$POSTGRES_USER' sh '$script'"
    done
    as_pg "pg_ctl -D '$PGDATA' -m fast -w stop >/dev/null"
    echo "sandbox-postgres: init complete"
fi

exec su postgres -s /bin/sh -c "exec postgres -D '$PGDATA'"
