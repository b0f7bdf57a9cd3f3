# `make demo` runs the main job on the built-in synthetic data; `make test` runs the test suite.
# Both install what is missing first (requirements pinned in requirements.txt, this package in
# editable mode). detectron2 is not on PyPI: `make setup` says so plainly when it is missing.
PYTHON ?= python3

.PHONY: setup test test-core demo

setup:
	$(PYTHON) -m pip install -q -r requirements.txt
	$(PYTHON) -m pip install -q --no-deps --no-build-isolation -e .
	@$(PYTHON) -c "from dld_d2.environment import detectron2_import_error as e; r = e(); \
	print('detectron2: OK' if r is None else 'detectron2 is NOT installed (' + r + '). It is not on PyPI: install it from its source (README.md, Install). Tests that need it will be skipped.')"

test: setup
	$(PYTHON) -m pytest

# The core tests only (no detectron2 needed).
test-core: setup
	$(PYTHON) -m pytest -m "not detectron2"

# DEMO_OPTS passes options to tools/synthetic_demo.py (e.g. a quick-schedule config).
demo: setup
	$(PYTHON) tools/synthetic_demo.py $(DEMO_OPTS)
