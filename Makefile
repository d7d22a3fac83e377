# ntkrepro: `make figures` regenerates every figure, `make test` runs every check.
# Both create the virtual environment from requirements.lock when it is missing.
SHELL := /bin/bash
.DEFAULT_GOAL := help

# STACK=pinned (default; the reference for the committed figures): Python 3.11, requirements.lock, .venv.
# STACK=modern: Python 3.12 or 3.13, requirements-modern.lock (jax 0.9, numpy 2), .venv-modern.
STACK ?= pinned
# a Python that runs, from PATH or pyenv's versions (pyenv shims can exist without a working version)
find_python = $(firstword $(foreach p,$(1),$(shell $(p) -c 'import sys; print(sys.executable)' 2>/dev/null)))
ifeq ($(STACK),modern)
PYTHON ?= $(call find_python,python3.12 python3.13 $(wildcard $(HOME)/.pyenv/versions/3.12*/bin/python3.12 $(HOME)/.pyenv/versions/3.13*/bin/python3.13))
VENV ?= .venv-modern
LOCK := requirements-modern.lock
PY_VERSIONS := 3.12 3.13
else ifeq ($(STACK),pinned)
PYTHON ?= $(call find_python,python3.11 $(wildcard $(HOME)/.pyenv/versions/3.11*/bin/python3.11) python3)
VENV ?= .venv
LOCK := requirements.lock
PY_VERSIONS := 3.11
else
$(error STACK must be pinned or modern, got '$(STACK)')
endif
PY := $(VENV)/bin/python
STAMP := $(VENV)/.ntkrepro-installed
# INSTALLER=pip forces plain pip; the default uses uv (pinned) when it installs, else pip.
INSTALLER ?= uv
UV_VERSION := 0.13.8
# one target per claim folder (the registry lists the same folders; a test compares them)
CLAIMS := $(sort $(patsubst ntkrepro/claims/%/claim.py,%,$(wildcard ntkrepro/claims/[!_]*/claim.py)))
JOBS ?= 2
export PYTHONHASHSEED := 0

# FORCE=1: `make figures` re-runs every claim even when its committed record is up to date
FORCE ?=
# PROFILE for `make verify`: smoke (minutes) or full (about 30 minutes on 2 cores)
PROFILE ?= smoke

.PHONY: help venv figures test unit lab sync report maps clean lock readme benchmark print-claims status verify smoke-records $(CLAIMS)

help:  ## list the targets
	@grep -E '^[a-z_ -]+:.*## ' $(MAKEFILE_LIST) | sed -E 's/:.*## /\t/' | sort

$(STAMP): $(LOCK) pyproject.toml requirements/jupyterlab-overrides.json
	@test -n "$(PYTHON)" || { echo "no Python $(PY_VERSIONS) found for STACK=$(STACK) (set PYTHON=...)"; exit 1; }
	@echo "==> creating $(VENV) from $(LOCK) with $(PYTHON)"
	@test -x $(PY) || $(PYTHON) -m venv $(VENV)
	@$(PY) -c 'import sys; v = "%d.%d" % sys.version_info[:2]; assert v in "$(PY_VERSIONS)".split(), f"STACK=$(STACK) needs Python $(PY_VERSIONS), got {v}"' 
	$(PY) -m pip install -q --upgrade pip
	@if [ "$(INSTALLER)" = uv ] && $(PY) -m pip install -q uv==$(UV_VERSION); then \
	  $(VENV)/bin/uv pip install --python $(PY) --no-deps -r $(LOCK) && \
	  $(VENV)/bin/uv pip install --python $(PY) --no-deps -e . ; \
	else \
	  $(PY) -m pip install --no-deps -r $(LOCK) && $(PY) -m pip install --no-deps -e . ; \
	fi
	@# neural_tangents imports on its own (without tensorflow, without `import ntkrepro` first): a start-up
	@# hook in site-packages applies ntkrepro/compat.py when neural_tangents is first imported
	$(PY) -c 'from ntkrepro.compat import write_startup_hook; print("written", write_startup_hook())'
	$(PY) -m ipykernel install --sys-prefix --name ntkrepro --display-name "Python 3 (ntkrepro)"
	@# JupyterLab starts a notebook's own kernel (ntkrepro) without asking, and fetches no news
	@mkdir -p $(VENV)/share/jupyter/lab/settings
	cp requirements/jupyterlab-overrides.json $(VENV)/share/jupyter/lab/settings/overrides.json
	@touch $(STAMP)

venv: $(STAMP)  ## create the environment (.venv; STACK=modern: .venv-modern)

figures: $(STAMP)  ## run every claim (full profile) whose committed record is stale; FORCE=1 re-runs all (~30 min on 2 cores)
	$(PY) -m ntkrepro run all --profile full $(if $(FORCE),,--skip-unchanged) --jobs $(JOBS)
	$(PY) -m ntkrepro readme

smoke-records: $(STAMP)  ## re-make the committed smoke records figures/<claim>/smoke/results.json (a few minutes)
	$(PY) -m ntkrepro run all --profile smoke --no-html $(if $(FORCE),,--skip-unchanged) --jobs $(JOBS)
	@for c in $(CLAIMS); do mkdir -p figures/$$c/smoke && cp build/smoke/$$c/results.json figures/$$c/smoke/results.json; done
	@echo "smoke records copied to figures/<claim>/smoke/results.json"

status: $(STAMP)  ## each committed record (full, smoke, claim map): up to date, or stale naming the changed inputs
	$(PY) -m ntkrepro status

verify: $(STAMP)  ## re-run into build/verify/ and compare with the committed record (PROFILE=smoke|full)
	$(PY) -m ntkrepro verify all --profile $(PROFILE) --jobs $(JOBS)

$(CLAIMS): $(STAMP)  ## run one claim notebook (full profile), e.g. `make finite_vs_infinite`
	$(PY) -m ntkrepro run $@ --profile full
	$(PY) -m ntkrepro readme

test: $(STAMP)  ## unit tests + every notebook re-executed with its smoke profile (STACK=modern: on .venv-modern, compared with .venv)
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

maps: $(STAMP)  ## claim maps: each claim's declared sweep on Dask -> figures/maps/ (not part of make figures)
	$(PY) -m ntkrepro maps all
	$(PY) -m ntkrepro readme

report: $(STAMP)  ## a static, browsable report: build/report/index.html (figures, findings, executed notebooks)
	$(PY) -m ntkrepro report

benchmark: $(STAMP)  ## print speed ratios (jit, lax.scan, NTK implementations)
	$(PY) scripts/benchmark.py

lock:  ## re-resolve both locks (requirements/*.in) and environment.yml
	$(VENV)/bin/uv pip compile --python-version 3.11 requirements/requirements.in --override requirements/overrides.txt -o requirements.lock
	$(VENV)/bin/uv pip compile --python-version 3.12 requirements/requirements-modern.in --override requirements/overrides.txt -o requirements-modern.lock
	$(PY) -m ntkrepro envfile > environment.yml

print-claims:  ## the claim targets (from ntkrepro/claims/*/claim.py)
	@echo $(CLAIMS)

clean:  ## remove build outputs (executed notebooks, smoke runs); keeps figures/ and .venv
	rm -rf build .pytest_cache
	find . -name __pycache__ -type d -prune -exec rm -rf {} +
