#!/usr/bin/env bash
# Runs once, on an empty data directory (postgres image: /docker-entrypoint-initdb.d).
# Creates the two roles of the audit database:
#   mem0gov_owner   owns the database and schema `public`; runs audit/migrations
#                   (the `audit-migrate` one-shot service). Never used by the running service.
#   mem0gov_writer  the service's runtime role: CONNECT + USAGE, and on tables only INSERT and
#                   SELECT (default privileges below, so every table the owner's migrations
#                   create is covered). No UPDATE, DELETE or TRUNCATE: together with the
#                   migrations' triggers, append-only is enforced by the database.
# Passwords come from Docker secret files and are read by psql itself (\set with backticks),
# so they never appear in a process argument list.
set -euo pipefail

: "${MEM0GOV_OWNER_PASSWORD_FILE:?}" "${MEM0GOV_WRITER_PASSWORD_FILE:?}"

psql -v ON_ERROR_STOP=1 --username "$POSTGRES_USER" --dbname "$POSTGRES_DB" <<SQL
\set owner_pw \`cat "$MEM0GOV_OWNER_PASSWORD_FILE"\`
\set writer_pw \`cat "$MEM0GOV_WRITER_PASSWORD_FILE"\`
\set db $POSTGRES_DB

CREATE ROLE mem0gov_owner LOGIN PASSWORD :'owner_pw';
CREATE ROLE mem0gov_writer LOGIN NOINHERIT PASSWORD :'writer_pw';

ALTER DATABASE :"db" OWNER TO mem0gov_owner;
ALTER SCHEMA public OWNER TO mem0gov_owner;
REVOKE ALL ON DATABASE :"db" FROM PUBLIC;
REVOKE ALL ON SCHEMA public FROM PUBLIC;
GRANT CONNECT ON DATABASE :"db" TO mem0gov_owner, mem0gov_writer;
GRANT USAGE ON SCHEMA public TO mem0gov_writer;

ALTER DEFAULT PRIVILEGES FOR ROLE mem0gov_owner IN SCHEMA public
  GRANT SELECT, INSERT ON TABLES TO mem0gov_writer;
ALTER DEFAULT PRIVILEGES FOR ROLE mem0gov_owner IN SCHEMA public
  GRANT USAGE, SELECT ON SEQUENCES TO mem0gov_writer;
ALTER DEFAULT PRIVILEGES FOR ROLE mem0gov_owner IN SCHEMA public
  REVOKE UPDATE, DELETE, TRUNCATE ON TABLES FROM mem0gov_writer;
SQL
