# devstack developer tasks. `make up` and `make test` are the README's two commands.
PYTHON ?= python3
PIP ?= $(PYTHON) -m pip
EXAMPLE ?= fixtures/railgun/devstack.yaml
# Host programs the native runtime runs (Debian names); pip brings the rest.
APT_PACKAGES = postgresql redis-server coturn
SUDO := $(shell [ "$$(id -u)" = 0 ] || echo sudo)

.PHONY: install install-system up down test test-fast lint bench

# editable_mode=compat: a plain path entry, where the default editable finder
# cost every Python process (devstack and each stand-in) ~20 ms to import.
install: install-system
	$(PIP) install -q -e ".[test]" --config-settings editable_mode=compat
	@# An editable install has no bytecode, and PYTHONDONTWRITEBYTECODE (set on some
	@# machines) keeps Python from caching it: compile once, as pip does for wheels.
	$(PYTHON) -m compileall -q devstack

# Installs the native runtime's servers only when one is missing.
install-system:
	@missing=""; \
	for bin in redis-server turnserver; do command -v $$bin >/dev/null || missing=1; done; \
	ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1 || missing=1; \
	if [ -n "$$missing" ]; then \
	  echo "installing $(APT_PACKAGES) with apt-get" >&2; \
	  $(SUDO) apt-get update -qq && DEBIAN_FRONTEND=noninteractive $(SUDO) apt-get install -y -qq $(APT_PACKAGES) >/dev/null; \
	fi

up: install
	$(PYTHON) -m devstack -f $(EXAMPLE) up

down:
	$(PYTHON) -m devstack -f $(EXAMPLE) down

test: install
	$(PYTHON) -m pytest -q -p no:cacheprovider

test-fast:
	$(PYTHON) -m pytest -q -m "not docker" tests/unit tests/test_cli.py

lint:
	$(PIP) install -q ruff
	$(PYTHON) -m ruff check devstack tests bench

# Each benchmark interleaves devstack with its baseline and prints medians and ratios.
bench: install
	$(PYTHON) bench/startup.py
	$(PYTHON) bench/native_up.py
	$(PYTHON) bench/seed_postgres_copy.py
	$(PYTHON) bench/seed_redis.py
	$(PYTHON) bench/seed_reset.py
	$(PYTHON) bench/docker_up.py
	$(PYTHON) bench/pytest_overhead.py
