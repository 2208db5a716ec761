#!/bin/sh
# Run once by the PostgreSQL image on a new cluster (mounted in /docker-entrypoint-initdb.d, as on a real host):
# the platform's other databases, each made only if missing. psql reaches the cluster the entrypoint started.
set -eu
for db in temporal temporal_visibility seal_gateway; do
    echo "init-multiple-dbs: database $db"
    psql -X -v ON_ERROR_STOP=1 -U "$POSTGRES_USER" -d postgres <<SQL
SELECT 'CREATE DATABASE $db OWNER "$POSTGRES_USER"' WHERE NOT EXISTS (SELECT FROM pg_database WHERE datname = '$db') \gexec
SQL
done
