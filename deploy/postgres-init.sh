#!/bin/sh
# Runs once, when the PostgreSQL volume is first initialised: the patchflow role and database.
set -e
psql -v ON_ERROR_STOP=1 --username "$POSTGRES_USER" --dbname postgres <<SQL
CREATE ROLE patchflow LOGIN PASSWORD '${PATCHFLOW_DB_PASSWORD}';
CREATE DATABASE patchflow OWNER patchflow;
SQL
