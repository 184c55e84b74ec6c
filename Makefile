# The course's commands. `make lab` to study, `make test` to check everything (see README.md).
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
# The local dataset mirror: ../shared/datasets when it exists (override with COURSE_DATA_MIRROR=...).
COURSE_DATA_MIRROR ?= $(if $(wildcard ../shared/datasets),$(abspath ../shared/datasets))
export COURSE_DATA_MIRROR
STAMP := $(VENV)/.installed-$(shell cat pyproject.toml | cksum | cut -d' ' -f1)
NBVAL := --nbval-lax --nbval-current-env --nbval-sanitize-with tests/sanitize.cfg

.PHONY: setup data lab test unit notebooks course bench clean

setup: $(STAMP)

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip
	$(BIN)/python -m pip install -q -e '.[dev]'
	# d2l 1.0.3 hard-pins old numpy/matplotlib/pandas/scipy/torch: install it alone; what it imports is above.
	$(BIN)/python -m pip install -q --no-deps d2l==1.0.3
	rm -f $(VENV)/.installed-*
	touch $@

data: setup
	$(BIN)/python -m course_utils.data fetch

lab: data
	$(BIN)/jupyter lab notebooks/

test: data
	COURSE_QUICK=1 COURSE_BATCH=1 $(BIN)/python -m pytest tests notebooks $(NBVAL)

unit: setup
	$(BIN)/python -m pytest tests

notebooks: data
	COURSE_QUICK=1 COURSE_BATCH=1 $(BIN)/python -m pytest notebooks $(NBVAL)

# Execute every notebook in the full profile, in place: the only way committed outputs are made.
# One notebook: make course NB=notebooks/03_convolutions_lenet.ipynb
course: data
	$(BIN)/python scripts/run_notebooks.py $(NB)

bench: data
	$(BIN)/python benchmarks/bench_loaders.py

clean:
	rm -rf _build data/splits data/cache
