# syncjobs — every target builds its own virtual environment first.
PYTHON ?= python3
VENV   ?= .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed

.PHONY: demo test lint format typecheck bench worker worker-dev scheduler example services screenshots clean

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[redis,rabbitmq,postgres,google,web,dev]'
	touch $(STAMP)

venv: $(STAMP)

demo: $(STAMP)
	$(BIN)/syncjobs demo

services:
	bash scripts/ensure-services.sh

# The unit and contract suites run twice: with the real clock, then with the wall clock
# moved CLOCK_AHEAD_DAYS ahead, so a test bound to today's date fails the day it is written.
CLOCK_AHEAD_DAYS ?= 400
LINTED := src tests bench scripts $(wildcard examples/*.py examples/*/)

test: $(STAMP) services
	$(BIN)/ruff check $(LINTED)
	$(BIN)/ruff format --check $(LINTED)
	$(BIN)/mypy
	$(BIN)/lint-imports
	$(BIN)/pytest
	$(BIN)/pytest tests/unit tests/contract --clock-ahead $(CLOCK_AHEAD_DAYS) -q

lint: $(STAMP)
	$(BIN)/ruff check $(LINTED)
	$(BIN)/ruff format --check $(LINTED)

format: $(STAMP)
	$(BIN)/ruff format $(LINTED)

typecheck: $(STAMP)
	$(BIN)/mypy

bench: $(STAMP) services
	$(BIN)/pip install --quiet -e '.[bench]'
	$(BIN)/python bench/run.py $(BENCH_ARGS)

worker: $(STAMP)
	$(BIN)/dramatiq syncjobs.actors --processes 2 --threads 8

# A worker that restarts when a file under src/ changes (development only).
worker-dev: $(STAMP)
	$(BIN)/dramatiq syncjobs.actors --processes 1 --threads 4 --watch src

scheduler: $(STAMP)
	$(BIN)/periodiq syncjobs.actors

# The FastAPI example app (examples/fastapi_app) on http://127.0.0.1:$(EXAMPLE_PORT).
EXAMPLE_PORT ?= 8000
example: $(STAMP)
	$(BIN)/syncjobs db upgrade
	SYNCJOBS_IMPORTS='["examples.host_jobs"]' $(BIN)/uvicorn examples.fastapi_app.app:app \
		--port $(EXAMPLE_PORT) --reload --reload-dir examples --reload-dir src \
		--timeout-graceful-shutdown 5

# The dashboard's screenshots in docs/img (a realistic data set, Debian's headless Chromium).
screenshots: $(STAMP) services
	$(BIN)/python scripts/screenshots.py --out docs/img

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache syncjobs.db
