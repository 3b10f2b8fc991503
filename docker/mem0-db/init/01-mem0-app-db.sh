#!/usr/bin/env bash
# Runs once, on an empty data directory (pgvector image: /docker-entrypoint-initdb.d).
# Mem0's REST server keeps its vectors in $POSTGRES_DB and its users, API keys, settings and
# request logs in a second database (APP_DB_NAME of the mem0 service = $MEM0_APP_DB here),
# which its alembic migrations (the mem0-migrate service) expect to exist already. It is owned
# by the role Mem0 connects as ($POSTGRES_USER). Safe to run again: an existing one is kept.
set -euo pipefail

: "${MEM0_APP_DB:?}" "${POSTGRES_USER:?}" "${POSTGRES_DB:?}"

psql -v ON_ERROR_STOP=1 --username "$POSTGRES_USER" --dbname "$POSTGRES_DB" --set app_db="$MEM0_APP_DB" <<'SQL'
SELECT format('CREATE DATABASE %I', :'app_db')
 WHERE NOT EXISTS (SELECT FROM pg_database WHERE datname = :'app_db')\gexec
SQL
