# The README's commands. Each one installs and starts what it needs by itself.
SHELL := /bin/bash
ENV = eval "$$(scripts/setup.sh env)"

.PHONY: run dev test bench stop lint setup backup restore

setup:
	scripts/setup.sh packages venv db

run: setup
	@$(ENV) && scripts/run.sh

# For people changing code: Django's development server with DEBUG on (auto-reload off) and one worker.
dev: setup
	@$(ENV) && DJANGO_DEBUG=true scripts/run.sh

test: setup
	@$(ENV) && DJANGO_ALLOW_ASYNC_UNSAFE=true .venv/bin/python -m pytest $(PYTEST_ARGS)

bench: setup
	@.venv/bin/pip install -q --disable-pip-version-check -r requirements-bench.txt
	@$(ENV) && .venv/bin/python -m bench $(BENCH_ARGS)

# One file with the database, the uploaded files and a manifest (see README, Backups).
backup: setup
	@$(ENV) && .venv/bin/python manage.py backup

# Into an empty database: make restore FILE=.data/backups/gis_app-<time>.tar (a fresh machine's `make setup` gives one).
restore: setup
	@test -n "$(FILE)" || { echo "usage: make restore FILE=<backup .tar>"; exit 2; }
	@$(ENV) && .venv/bin/python manage.py restore "$(FILE)"

stop:
	scripts/setup.sh stop

lint: setup
	.venv/bin/ruff check . && .venv/bin/ruff format --check .
