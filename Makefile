# devstack developer tasks. `make up` and `make test` are the README's two commands.
# Everything runs from a project virtualenv (.venv): Debian's own python3 is
# externally managed (PEP 668) and refuses `pip install` outside one.
# PYTHON is only the interpreter the venv is made from: `make up PYTHON=/usr/bin/python3`.
PYTHON ?= python3
VENV ?= .venv
VPY := $(VENV)/bin/python
PIP := $(VPY) -m pip
EXAMPLE ?= fixtures/railgun/devstack.yaml
# Host programs the native runtime runs (Debian names); pip brings the rest.
APT_PACKAGES = postgresql redis-server coturn
SUDO := $(shell [ "$$(id -u)" = 0 ] || echo sudo)
# pipefail: progress filters must not hide a failing apt-get or pip.
SHELL := /bin/bash
.SHELLFLAGS := -o pipefail -ec
say = @printf '[make] %s\n' "$(1)" >&2
# Installed (again) only when what it is built from changes; see `install`.
STAMP := $(VENV)/.devstack-installed

.PHONY: install install-system venv up down test test-fast lint bench

install: $(STAMP)
	@# An editable install has no bytecode, and PYTHONDONTWRITEBYTECODE (set on some
	@# machines) keeps Python from caching it: compile once (only what changed), as pip does for wheels.
	@$(VPY) -m compileall -q devstack

# editable_mode=compat: a plain path entry, where the default editable finder
# cost every Python process (devstack and each stand-in) ~20 ms to import.
# pip prints a line per package it fetches or builds; "already satisfied" lines are dropped.
$(STAMP): pyproject.toml setup.py | install-system $(VPY)
	$(call say,pip: devstack (editable) and its dependencies into $(VENV))
	@$(PIP) install --progress-bar off -e ".[test]" --config-settings editable_mode=compat 2>&1 \
	  | sed -u -e '/^Requirement already satisfied/d' -e '/is ignored: it is neither a file nor a directory/d'
	@touch $@
	$(call say,installed: $(VENV)/bin/devstack (to type just devstack: export PATH=$(abspath $(VENV))/bin:\$$PATH))

venv: $(VPY)

# Debian ships venv's pip bootstrap (ensurepip) separately, in python3-venv.
$(VPY):
	@if ! $(PYTHON) -c 'import ensurepip, venv' 2>/dev/null; then \
	  printf '[make] %s\n' "apt-get: python3-venv ($(PYTHON) has no venv/ensurepip)" >&2; \
	  $(SUDO) apt-get update -qq && DEBIAN_FRONTEND=noninteractive $(SUDO) apt-get install -y -qq python3-venv \
	    | sed -un 's/^Setting up \([^ ]*\).*/[apt] set up \1/p'; \
	fi
	$(call say,creating $(VENV) with $(PYTHON))
	@$(PYTHON) -m venv $(VENV)

# Installs the native runtime's servers only when one is missing.
install-system:
	@missing=""; \
	for bin in redis-server turnserver; do command -v $$bin >/dev/null || missing=1; done; \
	ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1 || missing=1; \
	if [ -n "$$missing" ]; then \
	  printf '[make] %s\n' "apt-get update, then install $(APT_PACKAGES)" >&2; \
	  $(SUDO) apt-get update -qq; \
	  DEBIAN_FRONTEND=noninteractive $(SUDO) apt-get install -y -qq $(APT_PACKAGES) \
	    | sed -un 's/^Setting up \([^ ]*\).*/[apt] set up \1/p'; \
	fi

up: install
	$(VPY) -m devstack -f $(EXAMPLE) up

down: install
	$(VPY) -m devstack -f $(EXAMPLE) down

test: install
	$(VPY) -m pytest -q -p no:cacheprovider

test-fast: install
	$(VPY) -m pytest -q -p no:cacheprovider -m "not docker and not install" tests/unit tests/test_cli.py

lint: install
	@$(PIP) install -q ruff
	$(VPY) -m ruff check devstack tests bench

# Each benchmark interleaves devstack with its baseline, prints medians, ratios, its
# targets and a verdict, and exits 1 on a miss: every one runs (-k), then make fails
# if any missed. Where the time and memory go: docs/performance.md. About 30 minutes
# (bench/memory.py alone runs its request loop for 10; MEMORY_ARGS=--duration 60 for less).
BENCHES = startup native_up seed_postgres_copy seed_redis seed_reset docker_up pytest_overhead doctor init_accuracy scaling memory
MEMORY_ARGS ?=
bench: install
	@failed=""; for b in $(BENCHES); do \
	  printf '[make] %s\n' "bench/$$b.py" >&2; \
	  args=""; [ "$$b" = memory ] && args="$(MEMORY_ARGS)"; \
	  $(VPY) bench/$$b.py $$args || failed="$$failed $$b"; \
	done; \
	if [ -n "$$failed" ]; then printf '[make] targets missed by:%s\n' "$$failed" >&2; exit 1; fi
