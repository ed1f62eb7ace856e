# Every target sets itself up: a fresh machine needs only Python 3.11 (and root, or Chromium
# already installed, for the browser tests). The virtual environment lives in .venv/.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-$(shell sha1sum requirements.lock | cut -c1-12)

export NO_MKDOCS_2_WARNING := 1
export PYTHONDONTWRITEBYTECODE := 1

.PHONY: serve test build bench figures transcripts lock vendor chromium clean

## serve: set up, then serve the site with live reload at http://127.0.0.1:8000
serve: $(STAMP)
	$(BIN)/mkdocs serve --dev-addr 127.0.0.1:8000

## test: set up (Chromium included), then run the whole suite: snippets, pages, build, browser
test: $(STAMP) chromium
	$(BIN)/python -m pytest

## build: the strict build into site/
build: $(STAMP)
	$(BIN)/mkdocs build --strict

## bench: page weights, Lighthouse scores and build times against the budgets (a few minutes)
bench: $(STAMP) chromium
	$(BIN)/python bench/site_speed.py

## figures: re-run the chapters' benchmarks; they rewrite bench/results/ and the pages' plots
figures: $(STAMP)
	for script in transport_setup realtime_delivery http_connection_reuse api_styles failures_contention; do \
	  $(BIN)/python bench/$$script.py || exit 1; done

## transcripts: rewrite the shown demo outputs and inline #> outputs from a real run
transcripts: $(STAMP)
	$(BIN)/python -m pytest tests/test_transcripts.py tests/test_docs_examples.py --update-examples --no-cov

## lock: re-resolve requirements.lock from pyproject.toml (needs network access to PyPI)
lock: $(STAMP)
	$(BIN)/pip install -q uv
	$(BIN)/uv pip compile pyproject.toml --extra test --python-version 3.11 --no-header -o requirements.lock

## vendor: refresh the vendored Mermaid and tablesort at the versions pinned in the script
vendor:
	bash scripts/vendor-assets.sh

$(STAMP): requirements.lock
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --disable-pip-version-check -q -r requirements.lock
	rm -f $(VENV)/.installed-*
	touch $@

# Debian's Chromium for the browser tests (or the browser named by $CHROMIUM);
# Playwright never downloads a browser of its own.
chromium:
	@test -x "$${CHROMIUM:-/usr/bin/chromium}" || { \
	  echo "Installing Debian's chromium for the browser tests"; \
	  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null; }

clean:
	rm -rf $(VENV) site .cache .pytest_cache .coverage test-artifacts
