# The README's commands. Each target sets up what it needs on a fresh machine.
SHELL := /bin/bash
.SHELLFLAGS := -eu -o pipefail -c
.DEFAULT_GOAL := help

# Python 3.13, the Lambda runtime: on PATH, or pyenv's (scripts/find-python). PYTHON=... to choose.
PYTHON ?= $(shell scripts/find-python)
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed-$(shell cat requirements.txt requirements-dev.txt | sha1sum | cut -c1-12)
HOST ?= 127.0.0.1
PORT ?= 8000
STAGE ?= dev
OUT := out

.PHONY: help run test suite check lint package preflight deploy backfill clean bench screens browser asl asl-check iam faults

help:
	@echo "make run        run the whole system locally on http://$(HOST):$(PORT) (no AWS account needed)"
	@echo "make test       run the whole test suite"
	@echo "make check      the fast tier to run while working: lint, types, unit, use cases, HTTP"
	@echo "make package    build the CloudFormation template and Lambda zip in $(OUT)/ for STAGE=$(STAGE)"
	@echo "make iam        check every AWS call each function makes in the tests against its policy"
	@echo "make preflight  check your AWS account is ready for make deploy (STAGE, BUCKET, PARAMS as for it)"
	@echo "make deploy     package and deploy to your AWS account (see README)"
	@echo "make backfill   once after upgrading STAGE=$(STAGE)'s stack (see docs/DEPLOY.md)"
	@echo "make bench      measure speed, cost, scale and size; writes docs/PERFORMANCE.md"
	@echo "make screens    screenshots of each page under docs/screens/"
	@echo "make faults     the fault suite; writes its matrix to docs/FAULTS.md"

$(STAMP): requirements.txt requirements-dev.txt
	@if [ -z "$(PYTHON)" ]; then \
	  echo "ERROR: Python 3.13 is needed (it is the Lambda runtime) and none was found on PATH or" >&2; \
	  echo "under pyenv. Install it (e.g. 'pyenv install 3.13', 'apt install python3.13' or" >&2; \
	  echo "python.org), or set PYTHON=/path/to/python3.13." >&2; exit 1; fi
	@$(PYTHON) -c 'import sys; sys.exit(0 if sys.version_info[:2] == (3, 13) else "Python 3.13 is needed (it is the Lambda runtime): set PYTHON=/path/to/python3.13")'
	@# A virtual environment of another Python (an older checkout's) is made again.
	@if [ -x $(PY) ] && ! $(PY) -c 'import sys; sys.exit(sys.version_info[:2] != (3, 13))'; then \
	  rm -rf $(VENV); fi
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -r requirements-dev.txt
	rm -f $(VENV)/.installed-*
	touch $@

run: $(STAMP)
	$(PY) -m devstack.run --host $(HOST) --port $(PORT)

# Lint and types: ruff (with its complexity rule) and mypy over the code and its tools.
lint: $(STAMP)
	$(VENV)/bin/ruff check .
	$(VENV)/bin/mypy

# The whole suite: everything `check` runs, and the slower proofs (moto executing the state
# machine, generated and hostile requests, the browser journeys, the package and its deploy
# rehearsal, the ASL against Step Functions' rules, `make run`) and, last, the IAM check of
# every AWS call the functions made in it (tests/test_iam.py).
# Lint and the suite run side by side, one on each core (the suite is mostly one process's
# work): the run takes the suite's time, not the two added.
test: browser
	@$(MAKE) --no-print-directory -j2 lint suite

# The suite alone. MAKEFLAGS is dropped for it: the tests run make themselves (make run,
# make deploy, make preflight), and those should not see this make's parallel jobs.
suite: $(STAMP) asl-check
	env -u MAKEFLAGS -u MFLAGS $(PY) -m pytest

# asl-validator, pinned in package-lock.json, installed into node_modules/ by npm ci (again
# whenever the lock changes). Node.js and npm are the machine's; Debian's are installed when
# missing and we are root.
NODE_STAMP := node_modules/.installed-$(shell cat package-lock.json | sha1sum | cut -c1-12)
$(NODE_STAMP): package.json package-lock.json
	@if ! command -v npm >/dev/null; then \
	  if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null; then \
	    echo "Installing Debian's nodejs and npm for the ASL check"; \
	    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq nodejs npm >/dev/null; \
	  else echo "ERROR: the ASL check needs Node.js and npm (e.g. 'apt install nodejs npm')" >&2; exit 1; fi; \
	fi
	npm ci --no-audit --no-fund --loglevel=error
	touch $@

# The state machine against Step Functions' own rules (asl-validator); the tests also check
# the definition as deployed, its function's ARN substituted (tests/test_asl.py).
asl-check: $(NODE_STAMP)
	node_modules/.bin/asl-validator --json-path infra/pathway.asl.json

# The IAM check on its own: the integration and HTTP tests, and the IAM tests (which package
# the app, exercise the scheduled functions and show a policy short of an action failing),
# record every AWS call each Lambda function makes (devstack/calls.py); then each is checked
# against that function's policy in the packaged template. `make test` runs the same check
# last, on the recording of the whole suite.
iam: $(STAMP)
	$(PY) -m pytest tests/integration tests/http tests/test_iam.py -q
	$(PY) infra/iam_check.py $(OUT)/sam.json build/iam-calls.json

# The fast tier, to run while working (under 3 minutes): no browser, no package, no
# generated-request fuzzing, no long pathway walks.
check: lint
	$(PY) -m pytest tests/unit tests/usecases tests/contract tests/http

# The fault suite (part of `make test` too), writing what each fault led to: docs/FAULTS.md.
faults: $(STAMP)
	PHB_WRITE_FAULT_MATRIX=1 $(PY) -m pytest tests/faults -q

# Write infra/pathway.asl.json again from its builder, infra/pathway.py.
asl: $(STAMP)
	$(PY) infra/pathway.py

# The browser tests drive Debian's Chromium (never a downloaded browser). Installed here when
# missing and we are root; otherwise the browser tests fail saying how to install it.
CHROMIUM ?= $(shell command -v chromium || command -v chromium-browser || echo /usr/bin/chromium)
browser:
	@if [ ! -x "$(CHROMIUM)" ] && [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null; then \
	  echo "Installing Debian's chromium for the browser tests"; \
	  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null; \
	fi

# Speed, cost, scale and size figures, printed and written to docs/PERFORMANCE.md.
bench: $(STAMP)
	$(PY) -m bench

# Screenshots of what people see, for the README, under docs/screens/.
screens: $(STAMP) browser
	$(PY) -m bench.screens

clean:
	rm -rf $(OUT) build .chalice/deployments

# Region for chalice, cfn-lint and the aws CLI; override with AWS_DEFAULT_REGION=... .
package preflight deploy backfill: export AWS_DEFAULT_REGION ?= eu-west-2

package: $(STAMP)
	rm -rf $(OUT) build .chalice/deployments  # a cached zip would hide a missing-wheel warning
	$(PY) infra/build_template.py infra/resources.json infra/pathway.asl.json build/resources.json
	$(PY) infra/compile_templates.py vendor/compiled_templates
	$(VENV)/bin/chalice package --stage $(STAGE) --merge-template build/resources.json $(OUT)/ 2>&1 | tee build/package.log
	@if grep -q "Could not install dependencies" build/package.log; then \
	  echo "ERROR: chalice could not get Lambda-compatible (manylinux) wheels, see above" >&2; exit 1; fi
	$(PY) infra/check_package.py $(OUT)/deployment.zip $(OUT)/sam.json requirements.txt
	$(VENV)/bin/cfn-lint $(OUT)/sam.json --regions $(AWS_DEFAULT_REGION)
	$(PY) infra/rehearsal.py $(OUT)/sam.json build/translated.json

# Before a deploy: the region, the SES sender and production access, the certificate, the bucket
# and the stack's state, each with what to do when it is not ready (infra/preflight.py). It
# reads PARAMS from the environment as deploy does, and only reads the account.
preflight: export PARAMS ?=
preflight: $(STAMP)
	@$(PY) infra/preflight.py '$(STAGE)' '$(BUCKET)'

# PARAMS (the stack's parameters, SessionSecret among them) reaches the recipe only through the
# environment, never its text: make echoes a recipe's lines and `ps` shows its shell's. The aws
# CLI reads the values from a file only this user can read, removed afterwards;
# infra/deploy_parameters.py writes it and prints the parameters with SessionSecret hidden.
deploy: export PARAMS ?=
deploy: $(STAMP)
	@aws --version >/dev/null 2>&1 || { echo "ERROR: make deploy needs the AWS CLI v2 (aws): see docs/DEPLOY.md" >&2; exit 1; }
	@[ -n "$(BUCKET)" ] || { echo "ERROR: set BUCKET=<an S3 bucket in $(AWS_DEFAULT_REGION) for the deployment artefacts>, see docs/DEPLOY.md" >&2; exit 1; }
	@$(PY) infra/deploy_parameters.py --check
	$(MAKE) --no-print-directory package
	aws cloudformation package --region $(AWS_DEFAULT_REGION) --template-file $(OUT)/sam.json --s3-bucket $(BUCKET) --output-template-file $(OUT)/packaged.json --use-json
	@parameters=$$(mktemp) && trap 'rm -f "$$parameters"' EXIT && \
	  $(PY) infra/deploy_parameters.py "$$parameters" >/dev/null && \
	  overrides=() && if [ -s "$$parameters" ]; then overrides=(--parameter-overrides "file://$$parameters"); fi && \
	  echo "aws cloudformation deploy --stack-name phb-pathway-$(STAGE) ...$${overrides:+ --parameter-overrides (the parameters above)}" && \
	  aws cloudformation deploy --region $(AWS_DEFAULT_REGION) --template-file $(OUT)/packaged.json --s3-bucket $(BUCKET) \
	    --stack-name phb-pathway-$(STAGE) --capabilities CAPABILITY_IAM --no-fail-on-empty-changeset \
	    "$${overrides[@]}"
	aws cloudformation describe-stacks --region $(AWS_DEFAULT_REGION) --stack-name phb-pathway-$(STAGE) \
	  --query "Stacks[0].Outputs[].[OutputKey,OutputValue]" --output table

# Once after upgrading a stack deployed by an earlier version (docs/DEPLOY.md, "Upgrading a
# stack"): its older referrals are given their referrer index keys, ACTIVITY and SURNAME items
# where missing. Safe to run again, and alongside live traffic. The table is the stack's
# TableName output; AFTER=<token> resumes after the page a stopped run last printed.
backfill: $(STAMP)
	$(PY) -m infra.backfill --stack phb-pathway-$(STAGE) --region $(AWS_DEFAULT_REGION) \
	  $(if $(AFTER),--after $(AFTER))
