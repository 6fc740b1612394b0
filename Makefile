# Continuo tasks. Each one works from a clean checkout: it creates .venv when missing.
SHELL := /bin/bash
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
# make serve PORT=… HOST=…; CONTINUO_PORT/CONTINUO_HOST in the environment work too.
PORT ?= $(or $(CONTINUO_PORT),8000)
HOST ?= $(or $(CONTINUO_HOST),0.0.0.0)
# The radio's BLAS must not fight the synth/encoder for the 2 cores (see bench/).
export OPENBLAS_NUM_THREADS ?= 1
export OMP_NUM_THREADS ?= 1

.DEFAULT_GOAL := help
.PHONY: help install install-dev system-deps serve test soak bench train clean

help: ## list every task
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  make %-12s %s\n", $$1, $$2}'

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip

$(VENV)/.runtime: pyproject.toml | $(BIN)/python
	$(BIN)/pip install -q -e .
	touch $@

$(VENV)/.dev: pyproject.toml | $(BIN)/python
	$(BIN)/pip install -q -e '.[dev,train,scrape,corpus,scale]'
	touch $(VENV)/.runtime $@

install: $(VENV)/.runtime ## create .venv with the station installed (.venv/bin/continuo)

install-dev: $(VENV)/.dev ## install the test, training, scraping and scale-out (MongoDB/S3) extras too

system-deps: ## Debian packages the tests use (chromium, icecast2)
	@missing=""; \
	[ -x /usr/bin/chromium ] || missing="$$missing chromium"; \
	command -v icecast2 >/dev/null || missing="$$missing icecast2"; \
	if [ -n "$$missing" ]; then \
	  echo "installing:$$missing"; \
	  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends $$missing >/dev/null; \
	fi

serve: install ## start the station on the bundled styles (PORT=8000 HOST=0.0.0.0)
	$(BIN)/continuo serve --host $(HOST) --port $(PORT)

test: install-dev system-deps ## run the whole test suite
	$(BIN)/python -m pytest -q -p no:cacheprovider $(PYTEST_ARGS)

soak: install-dev ## 2 station hours per channel in 24 minutes: every channel, listener churn (SOAK_ARGS=)
	$(BIN)/python -m bench.soak $(SOAK_ARGS)

bench: install-dev ## measure the figures in bench/ and print them
	$(BIN)/python -m bench.run_all

train: install-dev ## retrain every bundled style model from ../shared/corpus (TRAIN_ARGS=, e.g. --styles folk)
	$(BIN)/python -m trainer.bundle --corpus ../shared/corpus $(TRAIN_ARGS)

clean: ## remove the venv and local data
	rm -rf $(VENV) var build *.egg-info
