#!/usr/bin/env bash
# One setup path for `make run`, `make test` and `make bench`:
#   system packages -> .venv from requirements.txt -> PostGIS (project-local cluster unless DATABASE_URL is set).
# Usage: scripts/setup.sh [packages|venv|db|env|stop|restart]...   (no argument: packages venv db)
# Prints `export DATABASE_URL=...` lines on `env` so the Makefile can source them.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
PG_BIN="${PG_BIN:-/usr/lib/postgresql/15/bin}"
PGPORT="${PGPORT:-54329}"
DATA_DIR="$ROOT/.data"
PGDATA="$DATA_DIR/pg"
DB_NAME="${DB_NAME:-gis_app}"
PY="${PYTHON:-python3}"

APT_PACKAGES=(postgresql-15 postgresql-15-postgis-3 postgresql-15-pgrouting gdal-bin chromium mosquitto)
# QGIS 3.22 for generating and checking QField projects (headless, /usr/bin/python3); its recommends are the desktop.
QGIS_PACKAGES=(python3-qgis qgis-providers)
[ "${WITH_CHROMIUM:-1}" = 1 ] || APT_PACKAGES=("${APT_PACKAGES[@]/chromium}")

say() { printf '\033[1;34m==>\033[0m %s\n' "$*" >&2; }

packages() {
  local missing=() missing_qgis=()
  for p in "${APT_PACKAGES[@]}"; do
    [ -n "$p" ] || continue
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
  done
  for p in "${QGIS_PACKAGES[@]}"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing_qgis+=("$p")
  done
  if ! "$PY" -c 'import venv, ensurepip' 2>/dev/null; then missing+=(python3-venv); fi
  [ ${#missing[@]} -eq 0 ] && [ ${#missing_qgis[@]} -eq 0 ] && return 0
  if [ "$(id -u)" -ne 0 ]; then
    echo "Missing Debian packages. Please run once:" >&2
    echo "  sudo apt-get update && sudo apt-get install -y ${missing[*]}" >&2
    [ ${#missing_qgis[@]} -eq 0 ] || echo "  sudo apt-get install -y --no-install-recommends ${missing_qgis[*]}" >&2
    exit 1
  fi
  say "installing Debian packages: ${missing[*]} ${missing_qgis[*]}"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -q >&2
  [ ${#missing[@]} -eq 0 ] || apt-get install -y -q "${missing[@]}" >&2
  [ ${#missing_qgis[@]} -eq 0 ] || apt-get install -y -q --no-install-recommends "${missing_qgis[@]}" >&2
}

venv() {
  local stamp=.venv/.requirements.sha
  local want
  want="$(cat requirements.txt requirements-nodeps.txt | sha256sum | cut -d' ' -f1)"
  if [ -f "$stamp" ] && [ "$(cat "$stamp")" = "$want" ]; then return 0; fi
  say "creating .venv from requirements.txt"
  [ -x .venv/bin/python ] || "$PY" -m venv .venv
  .venv/bin/pip install -q --disable-pip-version-check -r requirements.txt >&2
  .venv/bin/pip install -q --disable-pip-version-check --no-deps -r requirements-nodeps.txt >&2
  echo "$want" > "$stamp"
}

# The cluster runs as a non-root user (initdb refuses root). As root we use the `postgres`
# system user; if it cannot reach the project folder (e.g. a checkout under /root), the data
# lives under /var/lib/gis_app-pg/<hash> and .data/pg links to it.
pg_user() { if [ "$(id -u)" -eq 0 ]; then echo postgres; else id -un; fi; }
as_pg() {
  if [ "$(id -u)" -eq 0 ]; then (cd / && runuser -u postgres -- "$@"); else "$@"; fi
}
# The cluster's real directory (the postgres user may not be able to traverse the link in .data/).
pg_dir() { readlink -f "$PGDATA"; }

db() {
  if [ -n "${DATABASE_URL:-}" ]; then
    say "using DATABASE_URL (no local cluster)"
    local url="${DATABASE_URL/#postgis:/postgres:}"
    if ! "$PG_BIN/psql" "$url" -qAt -c "select 1" >/dev/null 2>&1; then
      echo "Cannot connect to DATABASE_URL (…@${url#*@}): is the server up, does the database exist, is the password right?" >&2
      exit 1
    fi
    env PGOPTIONS=--client-min-messages=warning "$PG_BIN/psql" "$url" -qAt -c "create extension if not exists postgis" >/dev/null 2>&1 ||
      echo "Note: could not create the postgis extension (needs a superuser once): CREATE EXTENSION postgis;" >&2
    return 0
  fi
  mkdir -p "$DATA_DIR"
  if [ ! -e "$PGDATA/PG_VERSION" ]; then
    say "creating the project PostGIS cluster in .data/pg (port $PGPORT)"
    local target="$PGDATA"
    if [ -L "$PGDATA" ]; then
      target="$(pg_dir)"
    elif [ "$(id -u)" -eq 0 ] && ! runuser -u postgres -- test -x "$DATA_DIR" 2>/dev/null; then
      target="/var/lib/gis_app-pg/$(echo -n "$ROOT" | sha256sum | cut -c1-12)"
      mkdir -p "$target"; ln -sfn "$target" "$PGDATA"
    fi
    mkdir -p "$target"
    find "$target" -mindepth 1 -delete  # leftovers of an interrupted initdb; never a cluster (no PG_VERSION)
    [ "$(id -u)" -eq 0 ] && chown postgres:postgres "$target"
    chmod 700 "$target"
    as_pg "$PG_BIN/initdb" -D "$target" -U postgres -A trust -E UTF8 --locale=C.UTF-8 >/dev/null
    cat >> "$target/postgresql.conf" <<CONF
listen_addresses = '127.0.0.1'
unix_socket_directories = ''
max_connections = 100
shared_buffers = 256MB
fsync = on
CONF
  fi
  if ! as_pg "$PG_BIN/pg_ctl" -D "$(pg_dir)" status >/dev/null 2>&1; then
    say "starting PostGIS on 127.0.0.1:$PGPORT"
    as_pg "$PG_BIN/pg_ctl" -D "$(pg_dir)" -l "$(pg_dir)/server.log" -o "-p $PGPORT" -w -t 60 start >/dev/null
  fi
  local psql=(env PGOPTIONS=--client-min-messages=warning "$PG_BIN/psql" -h 127.0.0.1 -p "$PGPORT" -U postgres -v ON_ERROR_STOP=1 -qAt)
  if [ "$("${psql[@]}" -d postgres -c "select 1 from pg_database where datname='$DB_NAME'")" != 1 ]; then
    "${psql[@]}" -d postgres -c "create database $DB_NAME" >/dev/null
  fi
  "${psql[@]}" -d "$DB_NAME" -c "create extension if not exists postgis; create extension if not exists pgrouting" >/dev/null
}

env_lines() {
  if [ -z "${DATABASE_URL:-}" ]; then
    echo "export DATABASE_URL=postgres://postgres@127.0.0.1:$PGPORT/$DB_NAME"
  fi
}

# The fault tests restart PostgreSQL under a running platform (what a crash or an upgrade does to it).
restart() {
  as_pg "$PG_BIN/pg_ctl" -D "$(pg_dir)" -l "$(pg_dir)/server.log" -o "-p $PGPORT" -m fast -w -t 60 restart >/dev/null
}

stop() {
  if [ -e "$PGDATA/PG_VERSION" ]; then
    as_pg "$PG_BIN/pg_ctl" -D "$(pg_dir)" -m fast stop 2>/dev/null || true
    say "PostGIS stopped"
  fi
}

[ $# -eq 0 ] && set -- packages venv db
for step in "$@"; do
  case "$step" in
    packages) packages ;; venv) venv ;; db) db ;; env) env_lines ;; stop) stop ;; restart) restart ;;
    *) echo "unknown step $step" >&2; exit 2 ;;
  esac
done
