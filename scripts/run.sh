#!/usr/bin/env bash
# `make run`: migrate, load reference + demo data (idempotent), then serve the platform the way a bureau deploys it:
# granian with several worker processes (gis_app/web.py, DEBUG off), the supervised job worker(s) and, with MQTT_URL,
# the MQTT subscriber.
# `make dev` (DJANGO_DEBUG=true) gives Django's development server instead.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
PY=.venv/bin/python
HOST="${HOST:-127.0.0.1}"; PORT="${PORT:-8000}"
# On this machine's loopback there is no TLS: opt out of HTTPS-only cookies and redirects explicitly. Served on any
# other address, the platform expects a TLS proxy in front (or DJANGO_INSECURE_HTTP=true for a closed intranet).
case "$HOST" in 127.*|localhost|::1) export DJANGO_INSECURE_HTTP="${DJANGO_INSECURE_HTTP:-true}" ;; esac
# Migrations (and the demo) run as the tables' owner: MIGRATE_DATABASE_URL, or DATABASE_URL for the local cluster.
# The programs below then connect as the runtime role, which writes rows but owns no table (manage.py db_roles).
RUNTIME_URL="$DATABASE_URL"
OWNER_URL="${MIGRATE_DATABASE_URL:-$DATABASE_URL}"
DATABASE_URL="$OWNER_URL" $PY manage.py migrate --noinput
[ "${LOAD_DEMO:-true}" = true ] && DATABASE_URL="$OWNER_URL" $PY manage.py load_demo
$PY manage.py collectstatic --noinput -v0
case "$DATABASE_URL" in
  postgres://postgres@127.0.0.1:*)  # the project-local cluster: create the runtime role and run as it
    DATABASE_URL="$OWNER_URL" $PY manage.py db_roles --role "${APP_DB_ROLE:-gis_web}"
    RUNTIME_URL="${DATABASE_URL/postgres@/${APP_DB_ROLE:-gis_web}@}" ;;
  *)
    if [ -n "${MIGRATE_DATABASE_URL:-}" ]; then DATABASE_URL="$OWNER_URL" $PY manage.py db_roles --role "${APP_DB_ROLE:-gis_web}"
    else echo "  Note: DATABASE_URL is used for migrations and serving alike; set MIGRATE_DATABASE_URL (the owner) so that"
         echo "        the platform runs as a role that cannot truncate or alter tables (see README, A real database)."; fi ;;
esac
export DATABASE_URL="$RUNTIME_URL"
cat <<MSG

  滨海新区养老机构消防安全平台 is running at  http://$HOST:$PORT/
MSG
if [ "${LOAD_DEMO:-true}" = true ]; then
  echo "  Demo accounts (password for all: demo12345):"
  $PY manage.py demo_accounts
fi
echo "  Ctrl-C stops the server and the workers; 'make stop' stops the database."
echo
if [ "${DJANGO_DEBUG:-false}" = true ]; then
  $PY manage.py run_worker &
  trap 'kill $! 2>/dev/null || true' EXIT INT TERM
  exec $PY manage.py runserver --noreload "$HOST:$PORT"
fi
programs=("web=$PY -m gis_app.web --host $HOST --port $PORT")
for i in $(seq 1 "${JOB_WORKERS:-1}"); do programs+=("worker$i=$PY manage.py run_worker"); done
[ -n "${MQTT_URL:-}" ] && programs+=("mqtt=$PY manage.py run_mqtt")
exec $PY scripts/supervise.py "${programs[@]}"
