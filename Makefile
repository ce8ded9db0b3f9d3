# Two commands do all the set-up on a fresh machine: `make demo` and `make test`.
# Both create (or reuse) .venv, install torch first (a CPU build by default: an unpinned
# torch pulls a multi-GB CUDA build), then the package with every extra and the test tools.
PYTHON ?= python3
VENV ?= .venv
TORCH_SPEC ?= torch==2.13.0
PY := $(VENV)/bin/python
PIP := $(PY) -m pip
STAMP := $(VENV)/.embedkit-installed
# A second, small venv (no torch) where the Milvus suites run on the milvus-lite 2.5 engine.
LITE25 ?= .venv-lite25
LITE25_STAMP := $(LITE25)/.embedkit-installed
LITE25_TESTS := tests/integration_tests/vectorstores/test_filters_engines.py \
	tests/integration_tests/vectorstores/test_milvus_engines.py \
	tests/integration_tests/vectorstores/test_standard.py
export HF_HUB_OFFLINE ?= 1
export TRANSFORMERS_OFFLINE ?= 1
export TOKENIZERS_PARALLELISM ?= false

.PHONY: setup demo test test-lite25 lint unit integration notebooks bench clean

setup: $(STAMP)

$(STAMP): pyproject.toml
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PIP) install -q --upgrade "pip>=25.1"
	$(PY) -c "import torch" 2>/dev/null || $(PIP) install -q "$(TORCH_SPEC)"
	$(PIP) install -q -e ".[all]" --group dev
	touch $(STAMP)

$(LITE25_STAMP): pyproject.toml
	test -x $(LITE25)/bin/python || $(PYTHON) -m venv $(LITE25)
	$(LITE25)/bin/python -m pip install -q --upgrade "pip>=25.1"
	$(LITE25)/bin/python -m pip install -q -e . --group lite25
	touch $(LITE25_STAMP)

demo: setup
	$(VENV)/bin/embedkit demo

lint: setup
	$(VENV)/bin/ruff check langchain_embedkit tests benchmarks
	$(VENV)/bin/ruff format --check langchain_embedkit tests benchmarks
	$(VENV)/bin/mypy

test: lint
	$(PY) -m pytest -q -rs -p no:cacheprovider tests
	$(PY) -m pytest -q -p no:cacheprovider --doctest-modules langchain_embedkit
	$(MAKE) test-lite25
	$(PY) benchmarks/run_all.py --smoke

test-lite25: $(LITE25_STAMP)
	$(LITE25)/bin/python -m pytest -q -rs -p no:cacheprovider $(LITE25_TESTS) -k lite

bench: setup
	$(PY) benchmarks/run_all.py

clean:
	rm -rf $(VENV) $(LITE25) build *.egg-info .pytest_cache .mypy_cache .ruff_cache
