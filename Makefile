# The README's commands. Each target sets up what it needs on a fresh machine.
SHELL := /bin/bash
.SHELLFLAGS := -eu -o pipefail -c
.DEFAULT_GOAL := help

PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed-$(shell cat requirements.txt requirements-dev.txt | sha1sum | cut -c1-12)
HOST ?= 127.0.0.1
PORT ?= 8000
STAGE ?= dev
OUT := out

.PHONY: help run test package deploy clean

help:
	@echo "make run      run the whole system locally on http://$(HOST):$(PORT) (no AWS account needed)"
	@echo "make test     run the whole test suite"
	@echo "make package  build the CloudFormation template and Lambda zip in $(OUT)/ for STAGE=$(STAGE)"
	@echo "make deploy   package and deploy to your AWS account (see README)"

$(STAMP): requirements.txt requirements-dev.txt
	@$(PYTHON) -c 'import sys; sys.exit(0 if sys.version_info[:2] == (3, 11) else "Python 3.11 is needed (it is the Lambda runtime): set PYTHON=/path/to/python3.11")'
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -r requirements-dev.txt
	rm -f $(VENV)/.installed-*
	touch $@

run: $(STAMP)
	$(PY) -m devstack.run --host $(HOST) --port $(PORT)

test: $(STAMP)
	$(PY) -m pytest

clean:
	rm -rf $(OUT) build .chalice/deployments
