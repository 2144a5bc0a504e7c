# syncjobs — every target builds its own virtual environment first.
PYTHON ?= python3
VENV   ?= .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed

.PHONY: demo test lint typecheck bench worker worker-dev scheduler services clean

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[redis,postgres,google,dev]'
	touch $(STAMP)

venv: $(STAMP)

demo: $(STAMP)
	$(BIN)/syncjobs demo

services:
	bash scripts/ensure-services.sh

test: $(STAMP) services
	$(BIN)/ruff check src tests bench $(wildcard examples/*.py examples/*/)
	$(BIN)/mypy
	$(BIN)/pytest

lint: $(STAMP)
	$(BIN)/ruff check src tests bench $(wildcard examples/*.py examples/*/)

typecheck: $(STAMP)
	$(BIN)/mypy

bench: $(STAMP) services
	$(BIN)/pip install --quiet -e '.[bench]'
	$(BIN)/python bench/run.py $(BENCH_ARGS)

worker: $(STAMP)
	$(BIN)/dramatiq syncjobs.actors --processes 2 --threads 8

scheduler: $(STAMP)
	$(BIN)/periodiq syncjobs.actors

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache syncjobs.db
