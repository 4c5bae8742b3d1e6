# Quire's two entry points: `make run` (embedded, one process) and `make test` (the whole suite).
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMPS := .make
FRONTEND_SOURCES := $(shell find frontend/src -type f 2>/dev/null) frontend/vite.config.ts frontend/tsconfig.json

# The test suite runs in production mode against real PostgreSQL and Redis. Two suites running at once on
# one machine each need their own database name and Redis database number.
TEST_DATABASE_URL ?= postgres://postgres:postgres@127.0.0.1:5432/quire
TEST_REDIS_URL ?= redis://127.0.0.1:6379/0
TEST_ENV := DATABASE_URL=$(TEST_DATABASE_URL) \
	REDIS_URL=$(TEST_REDIS_URL) \
	SECRET_KEY=test-only-secret-key-0123456789 \
	QUIRE_SECURE_COOKIES=false

.PHONY: run test install serve-deps frontend services system-packages lint pytest frontend-test clean

run: serve-deps frontend
	$(BIN)/python manage.py migrate --noinput
	$(BIN)/python manage.py ensure_demo_admin
	@echo "Quire is serving on http://127.0.0.1:8000 (embedded mode)"
	exec $(BIN)/python -m quire.serve -b 127.0.0.1 -p 8000 quire.asgi:application

test: install frontend system-packages services lint pytest frontend-test

install: $(STAMPS)/python-deps

# Serving needs the project's own dependencies only; the dev extras (test runners, linters, browsers) are for `make test`.
serve-deps: $(STAMPS)/serve-deps

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip setuptools wheel

$(STAMPS)/python-deps: pyproject.toml | $(BIN)/python
	$(BIN)/pip install --quiet --editable ".[dev,display]"
	@mkdir -p $(STAMPS) && touch $@

$(STAMPS)/serve-deps: pyproject.toml | $(BIN)/python
	$(BIN)/pip install --quiet --editable .
	@mkdir -p $(STAMPS) && touch $@

$(STAMPS)/npm-deps: frontend/package.json frontend/package-lock.json
	cd frontend && npm ci --no-audit --no-fund --loglevel=error
	@mkdir -p $(STAMPS) && touch $@

frontend: frontend/dist/assets/app.js

frontend/dist/assets/app.js: $(STAMPS)/npm-deps $(FRONTEND_SOURCES)
	cd frontend && npm run build

system-packages:
	@bash deploy/local/system-packages.sh

services:
	@bash deploy/local/ensure-services.sh

lint: install
	$(BIN)/ruff check .
	$(BIN)/mypy
	$(BIN)/python -m kernels.protocol_codegen --check

pytest: install
	$(TEST_ENV) $(BIN)/pytest

frontend-test: $(STAMPS)/npm-deps
	cd frontend && npm test

clean:
	rm -rf $(VENV) $(STAMPS) frontend/node_modules frontend/dist var
