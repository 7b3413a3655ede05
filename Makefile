# zkop: the two commands a newcomer needs are `make demo` and `make test`.
SHELL := /bin/bash
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
PYTEST_ARGS ?=

.PHONY: setup system-packages venv lint typecheck test demo bench crds clean-local

setup: system-packages venv

# Debian packages the project runs for real: ZooKeeper (members in tests and the local control plane),
# Curator (Java-side proof), iproute2/util-linux (pod network and mount namespaces).
SYSTEM_PACKAGES := zookeeper libcurator-discovery-java libcurator-framework-java iproute2 util-linux procps
system-packages:
	@missing=""; for p in $(SYSTEM_PACKAGES); do dpkg -s $$p >/dev/null 2>&1 || missing="$$missing $$p"; done; \
	if [ -n "$$missing" ]; then \
	  echo "installing:$$missing"; \
	  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $$missing >/dev/null; \
	fi

venv: $(VENV)/.installed
$(VENV)/.installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip
	$(BIN)/pip install -q -e '.[dev]'
	touch $@

lint: venv
	$(BIN)/ruff check .
	$(BIN)/ruff format --check zkop tests/api tests/kube tests/plan tests/render tests/zookeeper

typecheck: venv
	$(BIN)/mypy

test: setup lint typecheck
	$(BIN)/pytest -q $(PYTEST_ARGS)

crds: venv
	@for name in $$($(BIN)/python -c 'from zkop.api.crd import all_crds; print(" ".join(c["metadata"]["name"] for c in all_crds()))'); do \
	  $(BIN)/python -c 'import sys, yaml; from zkop.api.crd import all_crds; print(yaml.safe_dump([c for c in all_crds() if c["metadata"]["name"] == sys.argv[1]][0], sort_keys=False), end="")' $$name > deploy/crds/$$name.yaml; \
	done

bench: setup
	$(BIN)/python -m bench

demo: setup
	$(BIN)/python -m zkop_local.demo

clean-local: venv
	$(BIN)/zkop local down
