# The course's commands. `make lab` to study, `make test` to check everything (see README.md).
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
# The local dataset mirror: ../shared/datasets when it exists (override with COURSE_DATA_MIRROR=...).
COURSE_DATA_MIRROR ?= $(if $(wildcard ../shared/datasets),$(abspath ../shared/datasets))
export COURSE_DATA_MIRROR
# This checkout's course_utils, whatever checkout the shared venv's editable install was made from (CI, a worktree):
# pytest, the notebooks' kernels and the grader's sandbox then all import the code under test.
export PYTHONPATH := $(CURDIR)$(if $(PYTHONPATH),:$(PYTHONPATH))
STAMP := $(VENV)/.installed-$(shell cat pyproject.toml | cksum | cut -d' ' -f1)
PORT ?= 8000
NODE_ASSETS := tools/node_modules/.package-lock.json
LAB_SETTINGS := $(VENV)/share/jupyter/lab/settings/overrides.json
NBVAL := --nbval-lax --nbval-current-env --nbval-sanitize-with tests/sanitize.cfg

.PHONY: setup data lab test unit notebooks course bench clean html serve slides deck-check student grade browser lint format \
	classroom

setup: $(STAMP) $(LAB_SETTINGS)

# JupyterLab's defaults for the course (tools/jupyterlab/overrides.json): save widget state with the notebook, so a
# saved notebook reopens with its sliders instead of "Error displaying widget".
$(LAB_SETTINGS): tools/jupyterlab/overrides.json $(STAMP)
	mkdir -p $(dir $@)
	cp $< $@

# PyTorch: the CPU build (~0.3 GB with torchvision) where there is no NVIDIA GPU, pip's default where there is one (on
# Linux the CUDA build, ~3.7 GB with its NVIDIA libraries); TORCH=cpu|cuda chooses. torch_index.py prints the pip
# arguments, and falls back to the default index within seconds where PyTorch's CPU index does not answer.
TORCH ?= auto

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	@$(BIN)/python -c 'import sys; sys.exit(sys.version_info < (3, 11))' || { echo "make: $(VENV) has \
	$$($(BIN)/python -V 2>&1); the course needs Python 3.11 or newer: rm -rf $(VENV), then name one, e.g. \
	make PYTHON=python3.11 $(MAKECMDGOALS)"; exit 1; }
	$(BIN)/python -m pip install -q --upgrade pip
	$(BIN)/python -m pip install -q -e '.[dev]' $$($(BIN)/python course_utils/scripts/torch_index.py --torch='$(TORCH)')
	# Two packages alone, without their declared dependencies (README, "Why --no-deps"): d2l 1.0.3 hard-pins old
	# numpy/matplotlib/pandas/scipy/requests/jupyter (what it imports is in pyproject.toml); jupyterlab-rise 0.43.1 requires
	# jupyterlab-mathjax3, a JupyterLab 3 extension that JupyterLab 4 lists as incompatible, and bundles JupyterLab 4's
	# own MathJax. A venv made before this keeps that extension: it is removed.
	$(BIN)/python -m pip install -q --no-deps d2l==1.0.3 jupyterlab-rise==0.43.1
	$(BIN)/python -m pip uninstall -qq -y jupyterlab-mathjax3
	rm -f $(VENV)/.installed-*
	touch $@

data: setup
	$(BIN)/python -m course_utils.data fetch

# make lab opens the course even when a dataset cannot be fetched: one line names it and the notebooks that need it.
lab: setup
	$(BIN)/python -m course_utils.data fetch --keep-going
	@if [ "$$(id -u)" = 0 ]; then \
		echo "make lab: running as root, so JupyterLab starts with --allow-root"; \
		$(BIN)/jupyter lab --allow-root notebooks/; \
	else $(BIN)/jupyter lab notebooks/; fi

# make test: two streams side by side, torch on half the cores each: the tests of tests/ (which wait on browsers,
# builds and gradings much of the time), and the notebooks under nbval with the tests that run whole notebooks in a
# kernel (the live JupyterLab, the named backbones), so the whole run fits about 5 minutes on 2 cores. The second
# stream's report follows the first's; make fails when either fails.
HALF_CORES := $(shell n=$$(nproc 2>/dev/null || echo 2); echo $$(( n > 1 ? n / 2 : 1 )))
TEST_ENV := COURSE_QUICK=1 COURSE_BATCH=1 OMP_NUM_THREADS=$(HALF_CORES)
NOTEBOOK_TESTS := tests/test_lab.py tests/test_named_backbones.py

test: data $(NODE_ASSETS)
	@mkdir -p _build
	@echo "make test: tests/ beside notebooks/ + $(NOTEBOOK_TESTS) ($(TEST_ENV)); the second report follows"
	@$(TEST_ENV) $(BIN)/python -m pytest notebooks $(NOTEBOOK_TESTS) $(NBVAL) > _build/test-notebooks.log 2>&1 & \
	second=$$!; $(TEST_ENV) $(BIN)/python -m pytest tests $(NOTEBOOK_TESTS:%=--ignore=%); first=$$?; \
	wait $$second; other=$$?; cat _build/test-notebooks.log; \
	echo "make test: tests/ exit $$first, notebooks/ and $(NOTEBOOK_TESTS) exit $$other"; [ $$first = 0 ] && [ $$other = 0 ]

unit: data $(NODE_ASSETS)
	$(BIN)/python -m pytest tests

notebooks: data
	COURSE_QUICK=1 COURSE_BATCH=1 $(BIN)/python -m pytest notebooks $(NBVAL)

# Execute every notebook in the full profile, in place: the only way committed outputs are made.
# One notebook: make course NB=notebooks/03_convolutions_lenet.ipynb
course: data
	$(BIN)/python -m course_utils.scripts.run_notebooks $(NB)

# ruff, configured in pyproject.toml: the package, tests, tools, benchmarks and notebooks
lint: setup
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

format: setup
	$(BIN)/ruff format .

bench: data
	$(BIN)/python benchmarks/bench_loaders.py
	$(BIN)/python benchmarks/bench_features.py
	$(BIN)/python benchmarks/bench_training_loops.py

# --- Instructors: website, slides, student edition (python -m tools.build; see tools/README.md) ---

# reveal.js and MathJax, pinned in tools/package-lock.json (served locally, never from a CDN)
$(NODE_ASSETS): tools/package.json tools/package-lock.json
	npm ci --prefix tools --no-audit --no-fund

# Chromium for the browser tests (tests/test_instructor.py, tests/test_lab.py), without root: Playwright's own build
# in ~/.cache/ms-playwright. Not needed when a Chromium or Chrome is on PATH (or named by CHROMIUM=/path); without
# any, `make test` skips the browser tests and says so.
browser: setup
	$(BIN)/python -m playwright install chromium

html: setup $(NODE_ASSETS)
	$(BIN)/python -m tools.build html

serve: html
	$(BIN)/python -m http.server $(PORT) --bind 127.0.0.1 --directory _build/html

slides: setup $(NODE_ASSETS)
	$(BIN)/python -m tools.build slides

# Does every slide fit a 1280×720 screen? The exported decks, then every notebook presented with RISE (a browser needed)
deck-check: slides
	$(BIN)/python -m tools.deckcheck decks _build/slides
	$(BIN)/python -m tools.deckcheck rise notebooks

# The student edition: nbgrader generate_assignment of every notebook (tools/student_edition.py, tools/nbgrader_config.py)
student: setup
	$(BIN)/python -m tools.build student

# Grade a class: make grade SUBMISSIONS=folder (one subfolder per student) -> _build/grades/gradebook.csv, feedback/
# Submissions run in the quick profile; GRADE_ARGS="--full" runs them in full, --timeout/--notebook-timeout set limits.
# Every kernel runs in a bubblewrap sandbox (tools/bubblewrap.py); without bwrap it refuses, and says what to install,
# unless GRADE_ARGS="--no-sandbox" (student code then runs with your rights: README, "Grading a class").
# HAND_GRADES=file.csv (student,grade_id,points,comment) gives the written answers their hand grades.
grade: data
	@test -n "$(SUBMISSIONS)" || { echo "usage: make grade SUBMISSIONS=folder (one subfolder per student)"; exit 2; }
	$(BIN)/python -m tools.grading grade "$(SUBMISSIONS)" $(if $(HAND_GRADES),--hand-grades "$(HAND_GRADES)") $(GRADE_ARGS)

# A class on one server, for a trial (README, "A class on one server"): the course's JupyterHub on 127.0.0.1:8000, each
# student a system user in the group CLASSROOM_GROUP, the instructor (CLASSROOM_INSTRUCTORS, by default whoever ran sudo)
# an admin; nbgrader's exchange in _build/classroom/exchange, the verified data/ shared read-only. As root.
CLASSROOM_INSTRUCTORS ?= $(SUDO_USER)
classroom: data $(NODE_ASSETS)
	CLASSROOM_INSTRUCTORS="$(CLASSROOM_INSTRUCTORS)" $(BIN)/python -m tools.classroom_serve

# Everything derived: builds, splits, cached features, checkpoints, TensorBoard runs (the verified datasets stay).
clean:
	rm -rf _build data/splits data/cache data/checkpoints data/runs
