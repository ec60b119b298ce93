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

# The tests include the manual's strict build, its code blocks, and the built wheel in a fresh environment;
# then the backend-neutral ones again on JAX (tests/search_space; the JAX search itself is in the first run).
test: $(STAMP)
	$(BIN)/python -m pytest -q -n auto
	KERAS_BACKEND=jax $(BIN)/python -m pytest -q -n auto -o addopts="-ra" tests/search_space

docs: $(STAMP)
	$(BIN)/mkdocs build --strict
