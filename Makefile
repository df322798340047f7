# Two commands do all the set-up: `make run` and `make test`.
VENV ?= .venv
PY := $(VENV)/bin/python

$(VENV)/.runtime: requirements.txt setup.cfg
	test -x $(PY) || python3 -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -r requirements.txt
	$(PY) -m pip install --quiet --no-deps -e .
	touch $@

$(VENV)/.dev: $(VENV)/.runtime requirements-dev.txt
	$(PY) -m pip install --quiet -r requirements-dev.txt
	touch $@

.PHONY: run dev test lint
run: $(VENV)/.runtime  ## the whole system on the embedded default at http://127.0.0.1:8000
	$(VENV)/bin/waddlebot run

dev: $(VENV)/.dev  ## development: `make run` that restarts when apps/, shared/ or modules/ change
	$(VENV)/bin/waddlebot run --reload

test: $(VENV)/.dev  ## the whole suite: SQLite, then PostgreSQL + Redis when they answer
	command -v chromium >/dev/null || (apt-get update -qq && apt-get install -y -qq chromium)
	$(PY) scripts/run_tests.py

lint: $(VENV)/.dev
	$(VENV)/bin/ruff check .
