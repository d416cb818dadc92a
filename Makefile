# Sitrep's two set-up commands: `make run` and `make test`. Both install what they need first.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-stamp
TORCH_VERSION ?= 2.13.0

.PHONY: install run test lint format bench clean

$(STAMP): pyproject.toml scripts/install-torch
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	# The CPU build of PyTorch goes in first; a bare `torch` requirement would pull a CUDA build.
	scripts/install-torch $(BIN)/python $(TORCH_VERSION)
	$(BIN)/python -m pip install --quiet -e ".[dev]"
	# Export the sentence encoder once now, so the first `make run` starts warm (if it cannot, `run` does it).
	-$(BIN)/sitrep prepare
	touch $(STAMP)

install: $(STAMP)

run: install
	$(BIN)/sitrep run

lint: install
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy
	$(BIN)/hadolint Dockerfile

format: install
	$(BIN)/ruff check --fix .
	$(BIN)/ruff format .

test: install lint
	$(BIN)/pytest -q -n 2 --dist worksteal

bench: install
	$(BIN)/python -m bench

clean:
	rm -rf $(VENV) .pytest_cache .ruff_cache
