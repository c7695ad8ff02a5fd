# 254Carbon Access Layer. The two commands: `make run` and `make test`.
SHELL := /bin/bash
.DEFAULT_GOAL := help

export UV_PYTHON_DOWNLOADS := never
export UV_PYTHON := python3.11
UV := python3 -m uv
VENV := .venv
PY := $(VENV)/bin/python
BACKENDS_ENV := .local/backends/env
KEYCLOAK_ENV := .local/backends/keycloak.env
PYTEST_ARGS ?=

.PHONY: help install run dev-all smoke token lint format test test-fast test-keycloak \
        backends-up backends-down backends-status keycloak-up keycloak-down bench clean \
        prometheus dashboards observability-check

help: ## list the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  make %-16s %s\n", $$1, $$2}'

$(VENV)/.synced: pyproject.toml uv.lock shared/pyproject.toml $(wildcard service-*/pyproject.toml)
	@$(UV) --version >/dev/null 2>&1 || python3 -m pip install --quiet --root-user-action=ignore uv
	$(UV) sync --frozen --all-packages
	@touch $@

install: $(VENV)/.synced ## create .venv with every package and tool (uv, locked)

run: install ## start all five services on embedded defaults; Ctrl-C stops them
	$(PY) scripts/run.py

dev-all: run ## the seed's name for `make run`

smoke: install ## start all five, wait until healthy, stop
	$(PY) scripts/run.py --check --quiet

token: install ## print a dev token (ACCESS_ENV=local): make token SUB=alice TENANT=tenant-a ROLES=trader
	@$(PY) -m access_auth.dev --sub "$${SUB:-dev-user}" --tenant "$${TENANT:-tenant-dev}" --roles "$${ROLES:-trader}"

lint: install ## ruff (lint + import order + format check) and mypy --strict
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	$(VENV)/bin/mypy shared service-gateway service-streaming service-auth service-entitlements \
		service-metrics tests bench scripts/run.py scripts/observability

format: install ## apply ruff fixes and formatting
	$(VENV)/bin/ruff check --fix .
	$(VENV)/bin/ruff format .

backends-up: install ## start Redis, PostgreSQL, NATS JetStream, Kafka on 127.0.0.1
	scripts/backends.sh up

backends-down: ## stop the test backends and Keycloak
	-scripts/keycloak.sh down
	scripts/backends.sh down

backends-status: ## show the test backends
	-scripts/backends.sh status
	-scripts/keycloak.sh status

keycloak-up: ## start a real Keycloak on 127.0.0.1:8180 (realm `access`)
	scripts/keycloak.sh up

test: install lint prometheus backends-up keycloak-up ## lint, then every test against the real backends
	source $(BACKENDS_ENV) && source $(KEYCLOAK_ENV) && ACCESS_REQUIRE_BACKENDS=1 \
		$(VENV)/bin/pytest $(PYTEST_ARGS)

test-fast: install ## unit tests on embedded backends only (real-backend tests skip)
	$(VENV)/bin/pytest -m "not redis and not postgres and not nats and not kafka and not keycloak" $(PYTEST_ARGS)

bench: install ## benchmarks; results in docs/benchmarks.md
	$(PY) -m bench

prometheus: ## install Debian's prometheus (promtool + server) when missing
	scripts/prometheus.sh install

dashboards: install ## regenerate dashboards and alert rules; print where to import them
	$(PY) -m scripts.observability.build
	@echo "Grafana dashboards: $(CURDIR)/observability/dashboards/*.json"
	@echo "  import: Grafana > Dashboards > New > Import > upload each file, pick a Prometheus data source"
	@echo "Alert rules: $(CURDIR)/observability/alerts/ (RED/, SLO/, *.yaml); local scrape config:"
	@echo "  prometheus --config.file=observability/prometheus/prometheus.yml --web.listen-address=127.0.0.1:9090"

observability-check: install prometheus ## promtool check + unit tests of the alert rules, dashboard checks
	$(VENV)/bin/pytest tests/observability/test_alerts_and_dashboards.py $(PYTEST_ARGS)

clean: ## remove the venv and local state (stops backends first)
	-$(MAKE) backends-down
	rm -rf $(VENV) .local .mypy_cache .ruff_cache .pytest_cache
