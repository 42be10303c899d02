# The two set-up commands of the README. Each creates .venv (pinned versions) on first use.
PY ?= python3
VENV := .venv
BIN := $(VENV)/bin

.PHONY: demo test docs browser bench-w1 clean

$(BIN)/neuroplastic: pyproject.toml requirements-ci.txt
	$(PY) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip
	$(BIN)/pip install -q torch==2.13.0
	$(BIN)/pip install -q -r requirements-ci.txt
	$(BIN)/pip install -q --no-deps -e .
	touch $@

demo: $(BIN)/neuroplastic
	$(BIN)/neuroplastic run $(or $(EXPERIMENT),stdp-digits) --out results/demo --force

# The report test opens report.html in Debian's headless Chromium (skipped if unavailable).
browser:
	@command -v chromium >/dev/null 2>&1 || { command -v apt-get >/dev/null 2>&1 && [ "$$(id -u)" = 0 ] && \
	  (apt-get update -qq && apt-get install -y -qq chromium >/dev/null) || \
	  echo "chromium not installed: the browser test of report.html will be skipped"; }

test: $(BIN)/neuroplastic browser
	$(BIN)/ruff check src tests benchmarks docs
	$(BIN)/python -m pytest -n 2 -q

# HTML documentation (API reference + executed tutorials) into docs/_build/html
docs: $(BIN)/neuroplastic
	$(BIN)/python -m sphinx -W --keep-going -b html docs docs/_build/html

bench-w1: $(BIN)/neuroplastic
	$(BIN)/python benchmarks/w1_cuba.py

clean:
	rm -rf $(VENV) results docs/_build
