# The two commands of the README: `make run` starts the operator (against a local control plane when no
# cluster is configured), `make test` runs lint, type checks and the whole test suite. Both set up all
# they need: the virtual environment, the Python packages and the Go-built control plane.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
export PATH := $(CURDIR)/$(BIN):$(PATH)

.PHONY: run test lint unit integration controlplane prometheus alertmanager tools bench chaos constraints clean

$(STAMP): pyproject.toml constraints.txt
	@$(PYTHON) -c 'import sys; sys.exit(sys.version_info < (3, 11))' || { echo "Python >= 3.11 is required"; exit 1; }
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -c constraints.txt -e '.[dev]'
	touch $@

controlplane:
	hack/build-controlplane.sh >/dev/null

prometheus:
	hack/build-prometheus.sh >/dev/null

# The alert-intake tests' webhook sender (tests/integration/test_alert_intake.py).
alertmanager:
	hack/build-alertmanager.sh >/dev/null

# helm and the prometheus-operator CRDs (controller-gen) for the deploy tests, built from Go modules.
tools:
	hack/build-tools.sh helm >/dev/null
	hack/build-tools.sh monitoring-crds >/dev/null
	hack/build-tools.sh imap-server >/dev/null

run: $(STAMP) controlplane
	-hack/build-tools.sh imap-server >/dev/null  # the dev mailbox; without it intake uses a drop folder
	$(BIN)/support-operator dev

lint: $(STAMP)
	$(BIN)/ruff check operator tests hack
	$(BIN)/ruff format --check operator tests hack
	$(BIN)/mypy
	$(BIN)/lint-imports  # the layers: [tool.importlinter] in pyproject.toml

unit: $(STAMP)
	$(BIN)/pytest tests/unit

integration: $(STAMP) controlplane
	$(BIN)/pytest tests/integration

test: $(STAMP) controlplane prometheus alertmanager tools lint
	$(BIN)/pytest

# The scale benchmark (bench_scale.py, issue 16) runs 10,000 cases and a cold start with 50,000 by default;
# `make bench BENCH_SCALE_ARGS=--quick` runs it small, in a few minutes.
BENCH_SCALE_ARGS ?=
bench: $(STAMP) controlplane
	$(BIN)/python tests/bench/bench_sla.py
	$(BIN)/python tests/bench/bench_metrics.py
	$(BIN)/python tests/bench/bench_startup.py
	$(BIN)/python tests/bench/bench_scale.py $(BENCH_SCALE_ARGS)

# The long chaos run (tests/chaos/chaos.py): SIGKILLs, API server and etcd restarts, a leader kill, then the
# invariants; prints the figures the README quotes. A two-minute run is part of `make test`.
chaos: $(STAMP) controlplane
	$(BIN)/python tests/chaos/chaos.py --duration 600 --cases 200 --kills 50 --apiserver-restarts 3 --etcd-restarts 1

constraints: $(STAMP)
	{ echo "# Every transitive Python dependency, pinned (pip install -c). Regenerate: make constraints"; \
	  $(BIN)/pip freeze --exclude-editable; } > constraints.txt

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache .hypothesis
