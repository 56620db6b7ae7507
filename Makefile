# oceanlake — `make demo` then `make test` on a fresh machine (Python 3.11).
PYTHON ?= python3.11
VENV   ?= .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed
PLANEMO_VENV  ?= .venv-planemo
PLANEMO_STAMP := $(PLANEMO_VENV)/.installed
export PREFECT_SERVER_ANALYTICS_ENABLED ?= false
export GX_ANALYTICS_ENABLED ?= false
export DO_NOT_TRACK ?= 1
export PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS ?= 180

.PHONY: install sysdeps demo test lint bench clean help planemo

help:  ## Show the targets
	@grep -E '^[a-z]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  make %-8s %s\n", $$1, $$2}'

$(STAMP): pyproject.toml
	@command -v $(PYTHON) >/dev/null || { echo "need $(PYTHON) (Python 3.11)"; exit 1; }
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[test,bench]'
	touch $(STAMP)

install: $(STAMP)  ## Create .venv and install oceanlake with test and benchmark extras

# Galaxy developer tools (planemo lint, gxformat2, Cheetah) in their own venv: their pins (cwltool,
# schema-salad, galaxy-tool-util, ...) stay out of .venv. tests/galaxy runs them from there.
$(PLANEMO_STAMP): galaxy/requirements-planemo.txt
	@command -v $(PYTHON) >/dev/null || { echo "need $(PYTHON) (Python 3.11)"; exit 1; }
	test -x $(PLANEMO_VENV)/bin/python || $(PYTHON) -m venv $(PLANEMO_VENV)
	printf '*\n' > $(PLANEMO_VENV)/.gitignore
	$(PLANEMO_VENV)/bin/python -m pip install --quiet --upgrade pip
	$(PLANEMO_VENV)/bin/python -m pip install --quiet -r galaxy/requirements-planemo.txt
	touch $(PLANEMO_STAMP)

planemo: $(PLANEMO_STAMP)  ## Create .venv-planemo (planemo, gxformat2) for the Galaxy wrappers and their tests

demo: $(STAMP)  ## Generate sample data in the real formats and ingest it into ./lake (embedded, no server)
	PREFECT_HOME=$(CURDIR)/.prefect $(BIN)/oceanlake demo --data sample-data --lake lake

sysdeps:  ## System packages for some tests (PostgreSQL, Chromium), via apt when root
	@infra/install-system-packages.sh

test: sysdeps $(STAMP) $(PLANEMO_STAMP)  ## Run the test suite (installs everything first)
	$(BIN)/ruff check .
	$(BIN)/python -m pytest -q -p no:cacheprovider $(PYTEST_ARGS)

lint: $(STAMP)  ## ruff
	$(BIN)/ruff check .

bench: $(STAMP)  ## Benchmarks against peers (see benchmarks/README.md)
	$(BIN)/python benchmarks/bench_argo_ingest.py
	$(BIN)/python benchmarks/bench_satellite_ingest.py
	$(BIN)/python benchmarks/bench_matchup_candidates.py
	$(BIN)/python benchmarks/bench_matchup_grid.py
	$(BIN)/python benchmarks/bench_matchup_swath.py

clean:  ## Remove the venvs, demo data and lake
	rm -rf $(VENV) $(PLANEMO_VENV) lake sample-data .prefect
