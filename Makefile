# Two commands for a newcomer: `make synth` (the main job) and `make test`. Both set up what is missing.
SHELL := /bin/bash
.SHELLFLAGS := -eu -o pipefail -c
.DEFAULT_GOAL := help

PYTHON ?= python3
LOCALSTACK_PYTHON ?= $(shell pyenv root 2>/dev/null)/versions/3.13.0/bin/python
VENV := .venv
PY := $(VENV)/bin/python
LOCALSTACK_VENV := .localstack-venv
CHECKOV_VENV := .checkov-venv
PIP_QUIET := --quiet --disable-pip-version-check

export JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION := 20
export PYTHONDONTWRITEBYTECODE := 1

.PHONY: help setup synth test test-aws lint bench demo clean lock-keys deploy-guard

help:
	@echo "make setup     install Python deps (.venv), the CDK CLI (node_modules), the local KMS endpoint and checkov"
	@echo "make synth     synthesize every environment in cdk.json into cdk.out, failing on any cdk-nag or checkov finding"
	@echo "make test      run the whole test suite (vectors, OpenSSL, local KMS endpoint, synthesized templates)"
	@echo "make lint      ruff"
	@echo "make demo      the two-party walkthrough against the local KMS endpoint, no AWS account needed"
	@echo "make deploy-local  cdk deploy every environment to a local AWS endpoint, check, derive, destroy"
	@echo "make lock-keys [ENV=name]  record the keys' identities in keys.lock.json (only when a change is meant)"
	@echo "make deploy-guard ENV=name  before cdk deploy: refuse a change that replaces or deletes a key or alias"
	@echo "make bench     benchmarks, written to benchmarks/results.json and the README's Performance table"
	@echo "make test-aws  opt-in: deploy dev to a real AWS account, derive, audit, destroy"

setup: $(VENV)/.installed node_modules/.installed $(LOCALSTACK_VENV)/.installed $(CHECKOV_VENV)/.installed

$(VENV)/.installed: requirements.txt requirements-dev.txt lambda/derive/requirements.txt pyproject.toml
	@echo "setup: Python virtualenv $(VENV)"
	@$(PYTHON) -m venv $(VENV) || { echo "setup failed: could not create $(VENV) with $(PYTHON)" >&2; exit 1; }
	@$(PY) -m pip install $(PIP_QUIET) --upgrade pip || { echo "setup failed: upgrading pip in $(VENV)" >&2; exit 1; }
	@$(PY) -m pip install $(PIP_QUIET) -r requirements-dev.txt || { echo "setup failed: pip install -r requirements-dev.txt" >&2; exit 1; }
	@$(PY) -m pip install $(PIP_QUIET) --no-deps -e . || { echo "setup failed: pip install -e . (the kmsecdh package)" >&2; exit 1; }
	@touch $@

node_modules/.installed: package.json package-lock.json
	@echo "setup: CDK CLI (npm ci)"
	@npm ci --no-audit --no-fund --loglevel=error || { echo "setup failed: npm ci (the aws-cdk CLI)" >&2; exit 1; }
	@touch $@

$(LOCALSTACK_VENV)/.installed: localstack-constraints.txt
	@echo "setup: local KMS endpoint $(LOCALSTACK_VENV) (localstack-core on Python 3.13)"
	@test -x "$(LOCALSTACK_PYTHON)" || { echo "setup failed: Python 3.13 not found at $(LOCALSTACK_PYTHON) (set LOCALSTACK_PYTHON)" >&2; exit 1; }
	@"$(LOCALSTACK_PYTHON)" -m venv $(LOCALSTACK_VENV) || { echo "setup failed: could not create $(LOCALSTACK_VENV)" >&2; exit 1; }
	@$(LOCALSTACK_VENV)/bin/pip install $(PIP_QUIET) 'localstack-core[base-runtime]==2026.3.0' service_identity \
		-c localstack-constraints.txt || { echo "setup failed: pip install localstack-core into $(LOCALSTACK_VENV)" >&2; exit 1; }
	@touch $@

# checkov pins boto3 and others below the project's versions: its own virtualenv, every package pinned.
$(CHECKOV_VENV)/.installed: checkov-requirements.txt
	@echo "setup: checkov virtualenv $(CHECKOV_VENV)"
	@$(PYTHON) -m venv $(CHECKOV_VENV) || { echo "setup failed: could not create $(CHECKOV_VENV) with $(PYTHON)" >&2; exit 1; }
	@$(CHECKOV_VENV)/bin/pip install $(PIP_QUIET) -r checkov-requirements.txt || { echo "setup failed: pip install -r checkov-requirements.txt into $(CHECKOV_VENV)" >&2; exit 1; }
	@touch $@

synth: setup
	@$(PY) -m tools.synth

test: setup
	@$(PY) -m pytest

test-aws: setup
	@KMSECDH_AWS_TESTS=1 $(PY) -m pytest -m aws tests/aws

lint: setup
	@$(VENV)/bin/ruff check .
	@$(VENV)/bin/ruff format --check .

bench: setup
	@$(PY) -m benchmarks.run

demo: setup
	@$(PY) -m devtools.demo

# The record of the keys' identities that synthesis checks (docs/operations.md): rewritten only on purpose.
lock-keys: setup
	@$(PY) -m tools.key_lock --update $(if $(ENV),--environment $(ENV))

# What `cdk deploy '$(ENV)/*'` would do to the deployed stacks' keys and aliases, from cdk.out (make synth first).
deploy-guard: setup
	@test -n "$(ENV)" || { echo "deploy-guard: name the environment, e.g. make deploy-guard ENV=prod" >&2; exit 2; }
	@$(PY) -m tools.deploy_guard --environment $(ENV)

clean:
	rm -rf cdk.out .pytest_cache .ruff_cache .hypothesis

# make deploy-local: the real `cdk deploy` of every environment to a local AWS endpoint (tools/deploy_local/).
# Its endpoint is localstack-core with CloudFormation ([runtime] extra, about 500 MB), in its own virtualenv.
LOCALSTACK_FULL_VENV := .localstack-full-venv

.PHONY: deploy-local deploy-local-setup

setup: $(LOCALSTACK_FULL_VENV)/.installed

deploy-local-setup: $(LOCALSTACK_FULL_VENV)/.installed

$(LOCALSTACK_FULL_VENV)/.installed: localstack-full-constraints.txt
	@echo "setup: local AWS endpoint with CloudFormation $(LOCALSTACK_FULL_VENV) (localstack-core[runtime] on Python 3.13)"
	@test -x "$(LOCALSTACK_PYTHON)" || { echo "setup failed: Python 3.13 not found at $(LOCALSTACK_PYTHON) (set LOCALSTACK_PYTHON)" >&2; exit 1; }
	@"$(LOCALSTACK_PYTHON)" -m venv $(LOCALSTACK_FULL_VENV) || { echo "setup failed: could not create $(LOCALSTACK_FULL_VENV)" >&2; exit 1; }
	@$(LOCALSTACK_FULL_VENV)/bin/pip install $(PIP_QUIET) 'localstack-core[runtime]==2026.3.0' service_identity \
		-c localstack-full-constraints.txt || { echo "setup failed: pip install localstack-core[runtime] into $(LOCALSTACK_FULL_VENV)" >&2; exit 1; }
	@touch $@

deploy-local: setup
	@$(PY) -m tools.deploy_local
