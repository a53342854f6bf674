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

# Each benchmark interleaves devstack with its baseline and prints medians and ratios.
bench: install
	$(VPY) bench/startup.py
	$(VPY) bench/native_up.py
	$(VPY) bench/seed_postgres_copy.py
	$(VPY) bench/seed_redis.py
	$(VPY) bench/seed_reset.py
	$(VPY) bench/docker_up.py
	$(VPY) bench/pytest_overhead.py
