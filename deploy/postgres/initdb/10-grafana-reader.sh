#!/bin/sh
# Runs once, when the PostgreSQL volume is first initialised: a read-only role
# for Grafana's dashboards. Storage creates the tables later, as the owner, so
# default privileges give the reader SELECT on them too. Any viewer can have
# Grafana send SQL as this role, so a statement of it is cancelled after 30 s.
set -eu
: "${GRAFANA_DB_PASSWORD:?set GRAFANA_DB_PASSWORD in .env}"
psql --no-psqlrc -v ON_ERROR_STOP=1 \
    --username "$POSTGRES_USER" --dbname "$POSTGRES_DB" \
    -v reader=grafana -v password="$GRAFANA_DB_PASSWORD" -v owner="$POSTGRES_USER" \
    -v db="$POSTGRES_DB" <<'SQL'
CREATE ROLE :"reader" LOGIN PASSWORD :'password';
ALTER ROLE :"reader" SET statement_timeout = '30s';
GRANT CONNECT ON DATABASE :"db" TO :"reader";
GRANT USAGE ON SCHEMA public TO :"reader";
GRANT SELECT ON ALL TABLES IN SCHEMA public TO :"reader";
ALTER DEFAULT PRIVILEGES FOR ROLE :"owner" IN SCHEMA public GRANT SELECT ON TABLES TO :"reader";
SQL
