# ntkrepro: `make figures` regenerates every figure, `make test` runs every check.
# Both create the virtual environment from requirements.lock when it is missing.
SHELL := /bin/bash
.DEFAULT_GOAL := help

PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV ?= .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.ntkrepro-installed
# INSTALLER=pip forces plain pip; the default uses uv (pinned) when it installs, else pip.
INSTALLER ?= uv
UV_VERSION := 0.13.8
# one target per claim folder (the registry lists the same folders; a test compares them)
CLAIMS := $(sort $(patsubst ntkrepro/claims/%/claim.py,%,$(wildcard ntkrepro/claims/*/claim.py)))
JOBS ?= 2
export PYTHONHASHSEED := 0

.PHONY: help venv figures test unit lab sync report clean lock readme benchmark print-claims $(CLAIMS)

help:  ## list the targets
	@grep -E '^[a-z_ -]+:.*## ' $(MAKEFILE_LIST) | sed -E 's/:.*## /\t/' | sort

$(STAMP): requirements.lock pyproject.toml requirements/jupyterlab-overrides.json
	@echo "==> creating $(VENV) from requirements.lock with $(PYTHON)"
	@test -x $(PY) || $(PYTHON) -m venv $(VENV)
	@$(PY) -c 'import sys; assert sys.version_info[:2] == (3, 11), "ntkrepro needs Python 3.11, got " + sys.version' 
	$(PY) -m pip install -q --upgrade pip
	@if [ "$(INSTALLER)" = uv ] && $(PY) -m pip install -q uv==$(UV_VERSION); then \
	  $(VENV)/bin/uv pip install --python $(PY) --no-deps -r requirements.lock && \
	  $(VENV)/bin/uv pip install --python $(PY) --no-deps -e . ; \
	else \
	  $(PY) -m pip install --no-deps -r requirements.lock && $(PY) -m pip install --no-deps -e . ; \
	fi
	$(PY) -m ipykernel install --sys-prefix --name ntkrepro --display-name "Python 3 (ntkrepro)"
	@# JupyterLab starts a notebook's own kernel (ntkrepro) without asking, and fetches no news
	@mkdir -p $(VENV)/share/jupyter/lab/settings
	cp requirements/jupyterlab-overrides.json $(VENV)/share/jupyter/lab/settings/overrides.json
	@touch $(STAMP)

venv: $(STAMP)  ## create the pinned environment in .venv

figures: $(STAMP)  ## run every claim notebook (full profile); only changed ones re-execute
	$(PY) -m ntkrepro run all --profile full --skip-unchanged --jobs $(JOBS)
	$(PY) -m ntkrepro readme

$(CLAIMS): $(STAMP)  ## run one claim notebook (full profile), e.g. `make finite_vs_infinite`
	$(PY) -m ntkrepro run $@ --profile full
	$(PY) -m ntkrepro readme

test: $(STAMP)  ## unit tests + every notebook re-executed with its smoke profile
	$(PY) -m pytest

unit: $(STAMP)  ## unit tests only (no notebooks)
	$(PY) -m pytest -m "not notebook"

lab: $(STAMP)  ## JupyterLab on notebooks/ with the project's kernel; jupytext keeps each .py/.ipynb pair in sync
	$(VENV)/bin/jupyter lab --notebook-dir=notebooks $(if $(filter 0,$(shell id -u)),--allow-root) $(LAB_ARGS)

sync: $(STAMP)  ## sync each notebook pair from the newer file (edit the .py, then run this), outputs stripped
	$(VENV)/bin/jupytext --sync notebooks/[0-9]*.py
	$(VENV)/bin/jupyter nbconvert --log-level=WARN --clear-output --inplace notebooks/[0-9]*.ipynb

readme: $(STAMP)  ## regenerate the README claims table from the registry and figures/*/results.json
	$(PY) -m ntkrepro readme

report: $(STAMP)  ## a static, browsable report: build/report/index.html (figures, findings, executed notebooks)
	$(PY) -m ntkrepro report

benchmark: $(STAMP)  ## print speed ratios (jit, lax.scan, NTK implementations)
	$(PY) scripts/benchmark.py

lock:  ## re-resolve requirements.lock and environment.yml from requirements/requirements.in
	$(VENV)/bin/uv pip compile --python-version 3.11 requirements/requirements.in --override requirements/overrides.txt -o requirements.lock
	$(PY) -m ntkrepro envfile > environment.yml

print-claims:  ## the claim targets (from ntkrepro/claims/*/claim.py)
	@echo $(CLAIMS)

clean:  ## remove build outputs (executed notebooks, smoke runs); keeps figures/ and .venv
	rm -rf build .pytest_cache
	find . -name __pycache__ -type d -prune -exec rm -rf {} +
