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
        backends-up backends-down backends-status keycloak-up keycloak-down bench clean

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
		service-metrics tests bench scripts/run.py

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

test: install lint backends-up keycloak-up ## lint, then every test against the real backends
	source $(BACKENDS_ENV) && source $(KEYCLOAK_ENV) && ACCESS_REQUIRE_BACKENDS=1 \
		$(VENV)/bin/pytest $(PYTEST_ARGS)

test-fast: install ## unit tests on embedded backends only (real-backend tests skip)
	$(VENV)/bin/pytest -m "not redis and not postgres and not nats and not kafka and not keycloak" $(PYTEST_ARGS)

bench: install ## benchmarks; results in docs/benchmarks.md
	$(PY) -m bench

.PHONY: bench-streaming
bench-streaming: install ## fan-out benchmark (server core 0, load tool core 1): QUICK=1 short steps, YARDSTICK=1 adds ../shared/yardstick
	$(PY) -m bench.streaming $(if $(QUICK),--quick) $(if $(YARDSTICK),--yardstick)

clean: ## remove the venv and local state (stops backends first)
	-$(MAKE) backends-down
	rm -rf $(VENV) .local .mypy_cache .ruff_cache .pytest_cache
