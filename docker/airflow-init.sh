#!/usr/bin/env bash
# The compose service `airflow-init`, run once before the other Airflow services start:
# creates or upgrades Airflow's metadata database, then the admin user. Both steps are
# idempotent, so `docker compose up` may run it again at every start.
#
# Needs: AIRFLOW__DATABASE__SQL_ALCHEMY_CONN (from compose), AIRFLOW_ADMIN_USERNAME and
# AIRFLOW_ADMIN_PASSWORD (from .env).
set -euo pipefail

log() { printf '[airflow-init] %s\n' "$*" >&2; }

: "${AIRFLOW_ADMIN_USERNAME:?is not set (see .env.example)}"
: "${AIRFLOW_ADMIN_PASSWORD:?is not set (see .env.example)}"

log "airflow $(airflow version)"
log "airflow db migrate"
airflow db migrate

# Prints "<name> already exist in the db" and exits 0 when the user is there: the password is
# then left as it is (change it in the UI or with `airflow users reset-password`).
log "airflow users create --username $AIRFLOW_ADMIN_USERNAME --role Admin"
airflow users create \
  --username "$AIRFLOW_ADMIN_USERNAME" \
  --password "$AIRFLOW_ADMIN_PASSWORD" \
  --firstname Admin \
  --lastname Velib \
  --email "$AIRFLOW_ADMIN_USERNAME@example.invalid" \
  --role Admin

log "done"
