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
        tools run-check spec-sync contract-check manifest-validate k8s-render k8s-validate \
        build buildx push buildx-push docker-up docker-down \
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

smoke: install ## check a running stack (`make run` elsewhere): health, token, REST, WS, SSE, webhook
	scripts/smoke.sh

run-check: install ## start all five, wait until healthy, stop
	$(PY) scripts/run.py --check --quiet

token: install ## print a dev token (ACCESS_ENV=local): make token SUB=alice TENANT=tenant-a ROLES=trader
	@$(PY) -m access_auth.dev --sub "$${SUB:-dev-user}" --tenant "$${TENANT:-tenant-dev}" --roles "$${ROLES:-trader}"

lint: install ## ruff (lint + import order + format check) and mypy --strict
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	$(VENV)/bin/mypy shared service-gateway service-streaming service-auth tests bench \
		scripts/run.py scripts/contracts.py scripts/manifests.py scripts/smoke.py scripts/observability
	@# Separate runs: each of these test folders has a conftest.py, and one mypy run cannot
	@# hold two top-level modules of one name.
	$(VENV)/bin/mypy service-entitlements
	$(VENV)/bin/mypy service-metrics
	$(VENV)/bin/hadolint Dockerfile

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

test: install tools lint prometheus backends-up keycloak-up ## lint, then every test against the real backends
	source $(BACKENDS_ENV) && source $(KEYCLOAK_ENV) && ACCESS_REQUIRE_BACKENDS=1 \
		$(VENV)/bin/pytest $(PYTEST_ARGS)

test-fast: install ## unit tests on embedded backends only (real-backend tests skip)
	$(VENV)/bin/pytest -m "not redis and not postgres and not nats and not kafka and not keycloak" $(PYTEST_ARGS)

bench: install ## benchmarks -> docs/benchmarks.md (~13 min); QUICK=1: ~2 min smoke -> .local/
	$(PY) -m bench $(if $(QUICK),--quick --output .local/benchmarks-quick.md)

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

.PHONY: bench-streaming
bench-streaming: install ## fan-out benchmark (server core 0, load tool core 1): QUICK=1 short steps, YARDSTICK=1 adds ../shared/yardstick
	$(PY) -m bench.streaming $(if $(QUICK),--quick) $(if $(YARDSTICK),--yardstick)

clean: ## remove the venv and local state (stops backends first)
	-$(MAKE) backends-down
	rm -rf $(VENV) .local .mypy_cache .ruff_cache .pytest_cache

# --- shipping: contracts, manifests, Kubernetes, images (docs/development-setup.md) -------

SERVICES := gateway streaming auth entitlements metrics
PORT_gateway := 8000
PORT_streaming := 8001
PORT_auth := 8010
PORT_entitlements := 8011
PORT_metrics := 8012
REGISTRY ?= ghcr.io/254carbon
PLATFORMS ?= linux/amd64,linux/arm64
OVERLAY ?= local
COMMIT := $(shell git rev-parse --short HEAD 2>/dev/null || echo unknown)
IMAGE = $(REGISTRY)/$(SERVICE):$(VERSION)
BUILD_ARGS = --build-arg SERVICE=$(SERVICE) --build-arg PORT=$(PORT_$(SERVICE)) \
	--build-arg ACCESS_VERSION=$(VERSION) --build-arg ACCESS_COMMIT=$(COMMIT) \
	--label org.opencontainers.image.source=https://github.com/254carbon/254carbon-access

# Checked when make expands the recipe, before its first line runs: a target that cannot
# run says so in one line and exits 2, never half-runs.
docker-ok = $(shell docker info >/dev/null 2>&1 && echo yes)
need-service = $(if $(filter $(SERVICE),$(SERVICES)),,$(error make $@: SERVICE=<$(subst $() ,|,$(SERVICES))> is required))
need-version = $(if $(VERSION),,$(error make $@: VERSION=<x.y.z> is required))
need-docker = $(if $(docker-ok),,$(error make $@: needs a Docker engine$(if $(1), with $(1)); there is none on this machine))
need-plugin = $(if $(shell docker $(1) version >/dev/null 2>&1 && echo yes),,$(error make $@: needs 'docker $(1)', which this Docker does not have))

tools: ## build kustomize v5.7.1 + oasdiff v1.39.0 into .local/bin, fetch the AsyncAPI schemas (once)
	scripts/tools.sh

spec-sync: install tools ## regenerate every service-*/openapi/ contract from the code
	$(PY) scripts/contracts.py sync

contract-check: install tools ## live OpenAPI vs committed (oasdiff); breaking needs a version bump
	$(PY) scripts/contracts.py check

manifest-validate: install ## validate service-*/service-manifest.yaml; write dist/services-index.json
	$(PY) scripts/manifests.py

k8s-render: tools ## print an overlay's objects: make k8s-render OVERLAY=production
	.local/bin/kustomize build k8s/overlays/$(OVERLAY)

k8s-validate: install tools ## render all four overlays, validate offline, check env variables
	$(VENV)/bin/pytest -q tests/shipit/test_k8s.py tests/shipit/test_env_vars.py

build: ## docker image: make build SERVICE=gateway [VERSION=dev]
	@: $(need-service)
	@: $(call need-docker)
	docker build $(BUILD_ARGS) -t $(REGISTRY)/$(SERVICE):$(or $(VERSION),dev) .

buildx: ## multi-arch image to dist/: make buildx SERVICE=gateway VERSION=1.0.0
	@: $(need-service)
	@: $(need-version)
	@: $(call need-docker,buildx)
	@: $(call need-plugin,buildx)
	mkdir -p dist
	docker buildx build --platform $(PLATFORMS) $(BUILD_ARGS) -t $(IMAGE) \
		--output type=oci,dest=dist/$(SERVICE)-$(VERSION).oci.tar .

push: ## push an image made by `make build`: make push SERVICE=gateway VERSION=1.0.0
	@: $(need-service)
	@: $(need-version)
	@: $(call need-docker)
	docker push $(IMAGE)

buildx-push: ## multi-arch build and push to GHCR: make buildx-push SERVICE=gateway VERSION=1.0.0
	@: $(need-service)
	@: $(need-version)
	@: $(call need-docker,buildx)
	@: $(call need-plugin,buildx)
	docker buildx build --platform $(PLATFORMS) $(BUILD_ARGS) -t $(IMAGE) --push .

docker-up: ## the whole stack with its backends in Docker (compose.yaml)
	@: $(call need-docker,compose)
	@: $(call need-plugin,compose)
	VERSION=$(or $(VERSION),dev) COMMIT=$(COMMIT) docker compose up -d --build

docker-down: ## stop the compose stack
	@: $(call need-docker,compose)
	@: $(call need-plugin,compose)
	docker compose down
