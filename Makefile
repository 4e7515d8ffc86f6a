# stackgen: `make test` is what CI runs. Every target sets up what it needs.
SHELL := /bin/bash
.DEFAULT_GOAL := help

PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
MODEL_DIR := build/model
BUNDLE_DIR := build/bundle
PORT ?= 8000
FRAMEWORK ?= flask
DEMO_PORT ?= 8080
export PATH := $(CURDIR)/$(VENV)/bin:$(PATH)
export ANSIBLE_COLLECTIONS_PATH := $(CURDIR)/.cache/collections
export ANSIBLE_CONFIG := $(CURDIR)/ansible.cfg

.PHONY: help venv model bundle serve unit lint cluster-inventory audit-tools molecule stack-test test bench docker-ready demo demo-down clean

help: ## list targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  %-12s %s\n", $$1, $$2}'

$(STAMP): pyproject.toml constraints.txt tools/collections.txt
	@echo "==> virtual environment in $(VENV) (pinned by constraints.txt)"
	@$(PYTHON) -c "import ensurepip" 2>/dev/null || tools/apt-need.sh python3-venv
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet --progress-bar off -c constraints.txt -e '.[flask,django,onnx,dev]'
	$(BIN)/python tools/install_collections.py --constraints constraints.txt --dest $(ANSIBLE_COLLECTIONS_PATH) tools/collections.txt
	touch $@

venv: $(STAMP) ## create .venv with every pinned dependency

$(MODEL_DIR)/manifest.json: $(STAMP) src/model_core/train.py
	$(BIN)/stackgen-train --out $(MODEL_DIR)

model: $(MODEL_DIR)/manifest.json ## train the example model into build/model

bundle: $(STAMP) ## build the release bundles (wheelhouse + model + manifest): build/bundle, build/bundle-django
	$(BIN)/python tools/build_bundle.py --out $(BUNDLE_DIR) --extra flask
	$(BIN)/python tools/build_bundle.py --out $(BUNDLE_DIR)-django --extra django

serve: $(MODEL_DIR)/manifest.json ## the service under gunicorn on 127.0.0.1:$(PORT) (FRAMEWORK=flask|django)
	FRAMEWORK=$(FRAMEWORK) PORT=$(PORT) STACKGEN_MODEL_DIR=$(MODEL_DIR) tools/serve.sh

unit: $(MODEL_DIR)/manifest.json ## unit tests: Flask and Django test clients (pytest)
	$(BIN)/pytest

lint: $(STAMP) ## ruff, yamllint, ansible-lint (production profile)
	$(BIN)/ruff check src tests tools molecule
	$(BIN)/ruff format --check src tests tools molecule
	$(BIN)/yamllint --strict .
	$(BIN)/ansible-lint --profile production --strict

docker-ready: ## start a Docker engine if none answers; build base images if missing
	tools/docker-engine.sh
	docker/base/build-images.sh bookworm trixie

CLUSTER_DIR := build/cluster
cluster-inventory: $(STAMP) bundle ## render molecule/cluster/stack.yml into build/cluster, as a user would (cluster scenario)
	rm -rf $(CLUSTER_DIR)
	$(BIN)/stackgen render molecule/cluster/stack.yml --out $(CLUSTER_DIR)
	cp molecule/cluster/vault.yml $(CLUSTER_DIR)/inventory/group_vars/all/vault.yml
	cp molecule/cluster/test-vars.yml $(CLUSTER_DIR)/inventory/group_vars/all/test.yml
	ln -sfn ../bundle-django $(CLUSTER_DIR)/bundle

SSLYZE_STAMP := .cache/sslyze/.installed
$(SSLYZE_STAMP): tools/sslyze-constraints.txt
	@echo "==> sslyze in .cache/sslyze (its own venv: it needs an older cryptography than the project pins)"
	$(PYTHON) -m venv .cache/sslyze
	.cache/sslyze/bin/pip install --quiet --progress-bar off -c tools/sslyze-constraints.txt sslyze
	touch $@

audit-tools: $(SSLYZE_STAMP) ## the TLS audit (sslyze) and the browser (Chromium) the Molecule tests use
	@command -v chromium >/dev/null && command -v chromedriver >/dev/null || tools/apt-need.sh chromium chromium-driver

molecule: $(STAMP) docker-ready bundle cluster-inventory audit-tools ## molecule test (converge real systemd containers)
	$(BIN)/molecule test --all

stack-test: $(STAMP) docker-ready ## the local Docker stack: stackgen up, inference through nginx, down
	$(BIN)/pytest tests/stack

test: lint unit molecule stack-test ## everything CI runs

# make bench BENCH_ARGS="--only loopback --duration 3" (tools/bench.py --help): Docker, the bundles
# and the cluster inventory are prepared only when a Docker section (host, cluster, stack) runs.
BENCH_ARGS ?=
comma := ,
BENCH_DOCKER := $(if $(findstring --only,$(BENCH_ARGS)),$(filter host% cluster% stack% %host %cluster %stack,$(subst $(comma), ,$(BENCH_ARGS))),all)
bench: $(MODEL_DIR)/manifest.json $(if $(BENCH_DOCKER),docker-ready bundle cluster-inventory) ## measure; prints and writes build/bench.json (BENCH_ARGS=...)
	@command -v wrk >/dev/null || tools/apt-need.sh wrk
	$(BIN)/python tools/bench.py --model-dir $(MODEL_DIR) --bundle-dir $(BUNDLE_DIR) --out build/bench.json $(BENCH_ARGS)

demo: $(STAMP) docker-ready bundle ## converge a local throwaway host and serve the model on 127.0.0.1:$(DEMO_PORT)
	DEMO_PORT=$(DEMO_PORT) tools/demo.sh up

demo-down: ## remove the demo host
	tools/demo.sh down

clean: ## remove build outputs (keeps .venv)
	rm -rf build dist
