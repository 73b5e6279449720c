# PeerPulse: every target creates or reuses .venv and installs what it needs.
PYTHON ?= python3.11
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: install demo test test-quick run lint typecheck bench clean

$(BIN)/python:
	@command -v $(PYTHON) >/dev/null 2>&1 || { echo "Python 3.11 is needed (set PYTHON=...)"; exit 1; }
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip

$(STAMP): pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	@touch $(STAMP)

install: $(STAMP)

demo: $(STAMP)
	$(BIN)/peerpulse demo

# pytest-xdist spreads the tests over every core, a test file at a time: several modules
# share one running bot (or other costly state) between their tests through module-scoped
# fixtures, and a file stays on one worker. (--dist loadgroup would balance better, but
# pytest 9.2's structured node ids silently break its xdist_group grouping: xdist #1386.)
XDIST ?= -n auto --dist loadfile

# The import contracts (pyproject [tool.importlinter]) first, then every test; both always
# run, and the target fails when either fails.
test: $(STAMP)
	@status=0; \
	$(BIN)/lint-imports --no-cache || status=$$?; \
	$(BIN)/python -m pytest $(XDIST) || status=$$?; \
	exit $$status

# The quick loop: everything but the tests marked slow (100k-person analytics, long
# property-based runs, the bot or CLI started as a subprocess).
test-quick: $(STAMP)
	$(BIN)/python -m pytest $(XDIST) -m "not slow"

run: $(STAMP)
	$(BIN)/peerpulse run

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/lint-imports --no-cache

typecheck: $(STAMP)
	$(BIN)/mypy

bench: $(STAMP)
	$(BIN)/python bench/analytics_scale.py

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache demo-output
