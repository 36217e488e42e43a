# Two commands do all set-up on a fresh machine: `make run` and `make test`.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-$(shell cksum < pyproject.toml | cut -d' ' -f1)

.PHONY: run test fuzz lint format browser bench clean

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	# torch first and pinned: a bare `torch` would pull gigabytes of CUDA wheels.
	$(BIN)/python -m pip install --quiet torch==2.13.0
	$(BIN)/python -m pip install --quiet -e '.[test]'
	rm -f $(VENV)/.installed-*
	touch $@

## run: serve paperroute on http://127.0.0.1:8000 with the bundled demo corpus (SQLite, offline)
run: $(STAMP)
	HF_HUB_OFFLINE=1 $(BIN)/paperroute serve

## browser: Debian's chromium for the end-to-end tests (needs root or sudo; skipped when present)
browser:
	@command -v chromium >/dev/null 2>&1 || test -x /usr/bin/chromium || \
	  { if [ "$$(id -u)" = 0 ]; then apt-get update -qq && apt-get install -y -qq chromium; \
	    else echo "install Debian's chromium (apt-get install chromium) for the browser tests"; fi; }

## test: lint, then the whole suite on SQLite and the embedded PostgreSQL
test: $(STAMP) browser
	$(BIN)/ruff check src tests bench scripts
	$(BIN)/ruff format --check src tests bench scripts
	$(BIN)/lint-imports  # the layer contracts in pyproject.toml
	HF_HUB_OFFLINE=1 $(BIN)/pytest

## fuzz: the property-based parser tests with 2,000 examples each (make test runs 50)
fuzz: $(STAMP)
	HF_HUB_OFFLINE=1 HYPOTHESIS_PROFILE=fuzz $(BIN)/pytest tests/test_fuzz_parsers.py -q \
	  --hypothesis-show-statistics

lint: $(STAMP)
	$(BIN)/ruff check src tests bench scripts

format: $(STAMP)
	$(BIN)/ruff format src tests bench scripts
	$(BIN)/ruff check --fix src tests bench scripts

clean:
	rm -rf $(VENV) data .pytest_cache
