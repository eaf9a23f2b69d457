# Two commands for a fresh machine (see README):  make demo   and   make test
# Both create the virtual environment on first use (torch 2.14.1 / torchvision 0.29.1, pinned).
VENV ?= .venv
BIN := $(VENV)/bin
PYTHON ?= python3
# The offline dataset mirrors sit beside the clone on development and CI machines.
MIRROR_DEFAULT := $(abspath ../shared/datasets)
STARSSL_DATA_MIRROR ?= $(if $(wildcard $(MIRROR_DEFAULT)/SHA256SUMS),$(MIRROR_DEFAULT),)
export STARSSL_DATA_MIRROR
export DVC_NO_ANALYTICS := 1
# Pipeline stages call `python` and `starssl`: take them from the project's environment.
export PATH := $(abspath $(BIN)):$(PATH)
CORES ?= 2

.PHONY: setup demo test lint bench clean-results

setup: $(VENV)/.installed

$(VENV)/.installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e ".[dev]"
	touch $@

demo: setup
	$(BIN)/snakemake --cores $(CORES)

test: setup
	$(BIN)/pytest -n $(CORES) --dist loadgroup

lint: setup
	$(BIN)/ruff check src tests bench
	$(BIN)/ruff format --check src tests bench
