# The two set-up commands of the README: `make run` and `make test`.
# Each creates .venv on first use and reinstalls when pyproject.toml changes.
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed
# torch first, pinned: where a local CPU wheel of this version exists (the project's
# build machines) pip takes it instead of a multi-GB CUDA build; pyproject keeps a range.
TORCH ?= torch==2.13.0
HOST ?= 127.0.0.1
PORT ?= 8501

.PHONY: install run test lint bench

$(STAMP): pyproject.toml
	test -x $(PY) || python3 -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q "$(TORCH)"
	$(PY) -m pip install -q -e '.[test]'
	touch $(STAMP)

install: $(STAMP)

run: $(STAMP)
	$(VENV)/bin/streamlit run streamlit_app.py --server.address $(HOST) --server.port $(PORT) \
		--server.headless true --browser.gatherUsageStats false --server.fileWatcherType none

test: $(STAMP)
	$(PY) -m ruff check .
	$(VENV)/bin/basedpyright --pythonpath $(PY)
	$(PY) -m pytest

bench: $(STAMP)
	for b in benchmarks/*.py; do $(PY) $$b || exit 1; done
