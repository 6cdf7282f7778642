# The front door: `make run` and `make test` set everything up on a fresh machine.
PYTHON ?= python3.11
VENV := .venv
BIN := $(VENV)/bin
export DAGSTER_HOME := $(CURDIR)/.dagster_home
export DAGSTER_DISABLE_TELEMETRY := 1

.PHONY: setup run test dev bench clean check

setup: $(VENV)/.installed $(DAGSTER_HOME)/dagster.yaml
	@# The project's own modules compiled once, not by every command where PYTHONDONTWRITEBYTECODE
	@# is set (as in many containers): Python still reads bytecode it may not write. Up-to-date
	@# files are skipped; an edited module is compiled again here, or by Python in memory.
	$(BIN)/python -m compileall -q observatory assets benchmarks fuzz

$(VENV)/.installed: pyproject.toml
	@command -v $(PYTHON) >/dev/null || { echo "Python 3.11 is needed (set PYTHON=...)"; exit 1; }
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	touch $@

$(DAGSTER_HOME)/dagster.yaml: dagster.yaml
	mkdir -p $(DAGSTER_HOME)
	cp dagster.yaml $@

run: setup
	$(BIN)/observatory run

test: setup
	$(BIN)/python -m pytest

# For staff: `make check FILE=data/raw/<observatorio>/<archivo>.csv` reads and validates one file
# as a run would and prints its receipt, writing nothing (OBSERVATORY=<observatorio> for a file
# not yet in the raw folder).
check: setup
	@test -n "$(FILE)" || { echo "Uso / usage: make check FILE=data/raw/<observatorio>/<archivo>.csv [OBSERVATORY=<observatorio>]"; exit 2; }
	@$(BIN)/observatory check "$(FILE)" $(if $(OBSERVATORY),--observatory "$(OBSERVATORY)")

dev: setup
	$(BIN)/dagster dev -w workspace.yaml

# Speed and memory, run by hand (minutes): see benchmarks/README.md. BENCH="--sizes 5000000" for more.
bench: setup
	$(BIN)/python -m benchmarks.run $(BENCH)

clean:
	rm -rf $(VENV) $(DAGSTER_HOME) data/curated/*.duckdb data/curated/parquet data/curated/.work \
		data/curated/exports data/curated/report data/curated/.parquet-* data/curated/.exports-* data/curated/.report-*
