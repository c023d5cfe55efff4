# Two commands for a newcomer: `make synth` (the main job) and `make test`. Each sets up what it needs, no more.
SHELL := /bin/bash
.SHELLFLAGS := -eu -o pipefail -c
.DEFAULT_GOAL := help

PYTHON ?= python3
LOCALSTACK_PYTHON ?= $(shell pyenv root 2>/dev/null)/versions/3.13.0/bin/python
VENV := .venv
PY := $(VENV)/bin/python
LOCALSTACK_VENV := .localstack-venv
# make deploy-local's endpoint: localstack-core with CloudFormation ([runtime] extra, about 500 MB).
LOCALSTACK_FULL_VENV := .localstack-full-venv
CHECKOV_VENV := .checkov-venv
PIP_QUIET := --quiet --disable-pip-version-check

export PYTHONDONTWRITEBYTECODE := 1

# What each target installs when it is missing. The CDK CLI and the Node it runs on (package.json) come with
# node_modules; the Python entry points put that Node first on PATH (devtools.use_project_node).
SYNTH_SETUP := $(VENV)/.installed node_modules/.installed $(CHECKOV_VENV)/.installed
LOCAL_KMS_SETUP := $(LOCALSTACK_VENV)/.installed
DEPLOY_LOCAL_SETUP := $(LOCALSTACK_FULL_VENV)/.installed

.PHONY: help setup synth test test-aws lint bench demo deploy-local deploy-local-setup clean access-matrix lock-keys deploy-guard

help:
	@echo "make synth     synthesize every environment in cdk.json into cdk.out, failing on any cdk-nag or checkov finding"
	@echo "               (sets up .venv, the CDK CLI and its Node in node_modules, checkov's .checkov-venv)"
	@echo "make test      run the whole test suite (vectors, OpenSSL, local KMS endpoint, synthesized templates,"
	@echo "               make deploy-local); also sets up the two local AWS endpoints' virtualenvs"
	@echo "make lint      ruff"
	@echo "make demo      the two-party walkthrough against the local KMS endpoint, no AWS account needed"
	@echo "make deploy-local  cdk deploy every environment to a local AWS endpoint, check, derive, destroy"
	@echo "make lock-keys [ENV=name]  record the keys' identities in keys.lock.json (only when a change is meant)"
	@echo "make deploy-guard ENV=name  before cdk deploy: refuse a change that replaces or deletes a key or alias"
	@echo "make bench     benchmarks, written to benchmarks/results.json and docs/performance.md"
	@echo "               (make bench FIGURES=first-run: a clean clone's first make synth and make test)"
	@echo "make access-matrix  who may do what, by an IAM evaluator over the synthesized policies: docs/access-matrix.md"
	@echo "make test-aws  opt-in: deploy dev to a real AWS account, derive, audit, destroy"
	@echo "make setup     install everything the targets above use"

setup: $(SYNTH_SETUP) $(LOCAL_KMS_SETUP) $(DEPLOY_LOCAL_SETUP)

$(VENV)/.installed: requirements.txt requirements-dev.txt lambda/derive/requirements.txt pyproject.toml
	@echo "setup: Python virtualenv $(VENV)"
	@$(PYTHON) -m venv $(VENV) || { echo "setup failed: could not create $(VENV) with $(PYTHON)" >&2; exit 1; }
	@$(PY) -m pip install $(PIP_QUIET) --upgrade pip || { echo "setup failed: upgrading pip in $(VENV)" >&2; exit 1; }
	@$(PY) -m pip install $(PIP_QUIET) -r requirements-dev.txt || { echo "setup failed: pip install -r requirements-dev.txt" >&2; exit 1; }
	@$(PY) -m pip install $(PIP_QUIET) --no-deps -e . || { echo "setup failed: pip install -e . (the kmsecdh package)" >&2; exit 1; }
	@touch $@

node_modules/.installed: package.json package-lock.json
	@echo "setup: CDK CLI and the Node it runs on (npm ci)"
	@npm ci --no-audit --no-fund --loglevel=error || { echo "setup failed: npm ci (the aws-cdk CLI and node)" >&2; exit 1; }
	@touch $@

$(LOCALSTACK_VENV)/.installed: localstack-constraints.txt
	@echo "setup: local KMS endpoint $(LOCALSTACK_VENV) (localstack-core on Python 3.13)"
	@test -x "$(LOCALSTACK_PYTHON)" || { echo "setup failed: Python 3.13 not found at $(LOCALSTACK_PYTHON) (set LOCALSTACK_PYTHON)" >&2; exit 1; }
	@"$(LOCALSTACK_PYTHON)" -m venv $(LOCALSTACK_VENV) || { echo "setup failed: could not create $(LOCALSTACK_VENV)" >&2; exit 1; }
	@$(LOCALSTACK_VENV)/bin/pip install $(PIP_QUIET) 'localstack-core[base-runtime]==2026.3.0' service_identity \
		-c localstack-constraints.txt || { echo "setup failed: pip install localstack-core into $(LOCALSTACK_VENV)" >&2; exit 1; }
	@touch $@

# The record of the keys' identities that synthesis checks (docs/operations.md): rewritten only on purpose.
lock-keys: $(SYNTH_SETUP)
	@$(PY) -m tools.key_lock --update $(if $(ENV),--environment $(ENV))

# What `cdk deploy '$(ENV)/*'` would do to the deployed stacks' keys and aliases, from cdk.out (make synth first).
deploy-guard: $(SYNTH_SETUP)
	@test -n "$(ENV)" || { echo "deploy-guard: name the environment, e.g. make deploy-guard ENV=prod" >&2; exit 2; }
	@$(PY) -m tools.deploy_guard --environment $(ENV)

$(LOCALSTACK_FULL_VENV)/.installed: localstack-full-constraints.txt
	@echo "setup: local AWS endpoint with CloudFormation $(LOCALSTACK_FULL_VENV) (localstack-core[runtime] on Python 3.13)"
	@test -x "$(LOCALSTACK_PYTHON)" || { echo "setup failed: Python 3.13 not found at $(LOCALSTACK_PYTHON) (set LOCALSTACK_PYTHON)" >&2; exit 1; }
	@"$(LOCALSTACK_PYTHON)" -m venv $(LOCALSTACK_FULL_VENV) || { echo "setup failed: could not create $(LOCALSTACK_FULL_VENV)" >&2; exit 1; }
	@$(LOCALSTACK_FULL_VENV)/bin/pip install $(PIP_QUIET) 'localstack-core[runtime]==2026.3.0' service_identity \
		-c localstack-full-constraints.txt || { echo "setup failed: pip install localstack-core[runtime] into $(LOCALSTACK_FULL_VENV)" >&2; exit 1; }
	@touch $@

# checkov pins boto3 and others below the project's versions: its own virtualenv, every package pinned.
$(CHECKOV_VENV)/.installed: checkov-requirements.txt
	@echo "setup: checkov virtualenv $(CHECKOV_VENV)"
	@$(PYTHON) -m venv $(CHECKOV_VENV) || { echo "setup failed: could not create $(CHECKOV_VENV) with $(PYTHON)" >&2; exit 1; }
	@$(CHECKOV_VENV)/bin/pip install $(PIP_QUIET) -r checkov-requirements.txt || { echo "setup failed: pip install -r checkov-requirements.txt into $(CHECKOV_VENV)" >&2; exit 1; }
	@touch $@

synth: $(SYNTH_SETUP)
	@$(PY) -m tools.synth

# The suite synthesizes (checkov included), starts the local KMS endpoint and runs make deploy-local's test.
test: setup
	@$(PY) -m pytest

test-aws: $(VENV)/.installed node_modules/.installed
	@KMSECDH_AWS_TESTS=1 $(PY) -m pytest -m aws tests/aws

lint: $(VENV)/.installed
	@$(VENV)/bin/ruff check .
	@$(VENV)/bin/ruff format --check .

access-matrix: $(SYNTH_SETUP)
	@$(PY) -m tools.access_matrix

# make bench FIGURES=first-run: a clean clone's first make synth and make test (long, so a group of its own).
FIGURES ?= default
bench: setup
	@$(PY) -m benchmarks.run --group $(FIGURES)

demo: $(VENV)/.installed node_modules/.installed $(LOCAL_KMS_SETUP)
	@$(PY) -m devtools.demo

# make deploy-local: the real `cdk deploy` of every environment to a local AWS endpoint (tools/deploy_local/).
deploy-local: $(VENV)/.installed node_modules/.installed $(DEPLOY_LOCAL_SETUP)
	@$(PY) -m tools.deploy_local

deploy-local-setup: $(DEPLOY_LOCAL_SETUP)

clean:
	rm -rf cdk.out .pytest_cache .ruff_cache .hypothesis
