# Two commands do all the set-up: `make demo` (the main job) and `make test`.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-$(shell cat pyproject.toml requirements.lock | cksum | cut -d' ' -f1)
export TF_CPP_MIN_LOG_LEVEL ?= 2
export NO_MKDOCS_2_WARNING ?= 1

.PHONY: demo test docs install python-version

install: $(STAMP)

# The pinned dependency set is checked on Python 3.11.
python-version:
	@$(PYTHON) -c 'import sys; sys.exit(sys.version_info[:2] != (3, 11))' || { \
		echo "keras-drnas: make needs Python 3.11 (the pinned dependencies are checked there); got" \
			"$$($(PYTHON) --version 2>&1). Run e.g. 'make PYTHON=python3.11 $(MAKECMDGOALS)'." >&2; exit 1; }

$(STAMP): pyproject.toml requirements.lock | python-version
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -c requirements.lock -e ".[test,docs]"
	rm -f $(VENV)/.installed-* && touch $@

demo: $(STAMP)
	$(BIN)/keras-drnas demo --output-dir runs/demo

# The backend-neutral tests: the first run has them on TensorFlow, the second on JAX (where their
# TensorFlow-only cases skip). The JAX search without TensorFlow is in the first run.
NEUTRAL_TESTS := tests/search_space tests/derived_model/test_network.py \
	$(addprefix tests/search_strategy/test_,distribution.py mixed_op.py cell.py supernets.py search_model.py \
		progressive.py checkpoint.py)

# The tests include the manual's strict build, its code blocks, and the built wheel in a fresh environment.
# JAX keeps the programs it compiles in a fresh folder for the run: the tests and their processes build
# the same tiny supernets again and again, and compiling them is most of their time on JAX. Tests marked
# with one xdist_group run on one worker (so a module's costly fixture is computed once).
test: $(STAMP)
	export JAX_COMPILATION_CACHE_DIR=$$(mktemp -d) && trap 'rm -rf "$$JAX_COMPILATION_CACHE_DIR"' EXIT && \
	$(BIN)/python -m pytest -q -n auto --dist loadgroup && \
	KERAS_BACKEND=jax $(BIN)/python -m pytest -q -n auto --dist loadgroup -o addopts="-ra" $(NEUTRAL_TESTS)

docs: $(STAMP)
	$(BIN)/mkdocs build --strict
