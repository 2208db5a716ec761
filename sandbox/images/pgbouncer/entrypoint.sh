#!/bin/sh
# Entrypoint of the sandbox's PgBouncer image (real PgBouncer, Debian's build, on a busybox rootfs), configured from
# the environment the database pod gives it, the way the edoburu/pgbouncer image it stands in for reads it:
#   DATABASE_URLS      postgresql://user:password@host:port/database, comma-separated: one pool per database, the
#                      user and password also PgBouncer's login (userlist), so clients log in as they would to PostgreSQL
#   LISTEN_PORT        5433 in the pod; POOL_MODE transaction; MAX_CLIENT_CONN, DEFAULT_POOL_SIZE; AUTH_TYPE
# PgBouncer refuses to run as root: it runs as postgres.
set -eu

CONF=/etc/pgbouncer
mkdir -p "$CONF"
: > "$CONF/userlist.txt"
{
    echo '[databases]'
    old_ifs="$IFS"
    IFS=,
    for url in ${DATABASE_URLS:?DATABASE_URLS must name at least one database}; do
        IFS="$old_ifs"
        rest="${url#*://}"
        userinfo="${rest%@*}"
        rest="${rest##*@}"
        user="${userinfo%%:*}"
        password="${userinfo#*:}"
        hostport="${rest%%/*}"
        database="${rest#*/}"
        database="${database%%\?*}"
        host="${hostport%:*}"
        port="${hostport##*:}"
        [ "$port" != "$hostport" ] || port=5432
        echo "$database = host=$host port=$port dbname=$database"
        grep -q "^\"$user\" " "$CONF/userlist.txt" || printf '"%s" "%s"\n' "$user" "$password" >> "$CONF/userlist.txt"
    done
    IFS="$old_ifs"
    echo
    echo '[pgbouncer]'
    echo 'listen_addr = 0.0.0.0'
    echo "listen_port = ${LISTEN_PORT:-5432}"
    echo 'unix_socket_dir = /tmp'
    echo "auth_type = ${AUTH_TYPE:-scram-sha-256}"
    echo "auth_file = $CONF/userlist.txt"
    echo "pool_mode = ${POOL_MODE:-session}"
    echo "max_client_conn = ${MAX_CLIENT_CONN:-100}"
    echo "default_pool_size = ${DEFAULT_POOL_SIZE:-20}"
    echo "server_reset_query = ${SERVER_RESET_QUERY:-}"
    echo 'ignore_startup_parameters = extra_float_digits,options'
    # As edoburu/pgbouncer: the console's admin is postgres unless ADMIN_USERS names others (the pod names none).
    echo "admin_users = ${ADMIN_USERS:-postgres}"
} > "$CONF/pgbouncer.ini"
chown -R postgres:postgres "$CONF"
chmod 600 "$CONF/userlist.txt"
echo "sandbox pgbouncer: $(sed -n 's/ = host=.*//p' "$CONF/pgbouncer.ini" | tr '\n' ' ')on :${LISTEN_PORT:-5432}, pool mode ${POOL_MODE:-session}"
exec su postgres -s /bin/sh -c "exec pgbouncer $CONF/pgbouncer.ini"
