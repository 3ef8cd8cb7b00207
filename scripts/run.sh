#!/usr/bin/env bash
# `make run`: migrate, load reference + demo data (idempotent), start one job worker, serve on :8000.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
PY=.venv/bin/python
HOST="${HOST:-127.0.0.1}"; PORT="${PORT:-8000}"
$PY manage.py migrate --noinput
$PY manage.py load_demo
$PY manage.py collectstatic --noinput -v0
$PY manage.py run_worker &
WORKER=$!
MQTT=""
if [ -n "${MQTT_URL:-}" ]; then $PY manage.py run_mqtt & MQTT=$!; fi
trap 'kill $WORKER $MQTT 2>/dev/null || true' EXIT INT TERM
cat <<MSG

  滨海新区养老机构消防安全平台 is running at  http://$HOST:$PORT/
  Demo accounts (password for all: demo12345):
MSG
$PY manage.py demo_accounts
echo "  Ctrl-C stops the server and the worker; 'make stop' stops the database."
echo
$PY manage.py runserver --noreload "$HOST:$PORT"
