# Every target sets itself up: a fresh machine needs only Python 3.11 (and root, or Chromium
# already installed, for the browser tests). The virtual environment lives in .venv/.
# requirements.lock pins what reading the site needs (building it and running its programs);
# requirements-test.lock adds the test toolchain, which only `make test` installs.
PYTHON ?= python3
PORT ?= 8000
VENV := .venv
BIN := $(VENV)/bin
SITE_STAMP := $(VENV)/.site-$(shell sha1sum requirements.lock | cut -c1-12)
TEST_STAMP := $(VENV)/.test-$(shell sha1sum requirements-test.lock | cut -c1-12)
PIP := $(BIN)/python -m pip install --disable-pip-version-check -q

export NO_MKDOCS_2_WARNING := 1
export PYTHONDONTWRITEBYTECODE := 1

.PHONY: serve test bare-copies build bench figures diagrams transcripts lock vendor chromium redis \
  clean

## serve: set up, then serve the site with live reload at http://127.0.0.1:$(PORT) (PORT=8123 for another)
serve: $(SITE_STAMP)
	@$(BIN)/python scripts/port_is_free.py $(PORT)
	SITE_URL=http://127.0.0.1:$(PORT)/ $(BIN)/mkdocs serve --dev-addr 127.0.0.1:$(PORT)

## test: set up (Chromium included), then run the whole suite: snippets, pages, build, browser
# Two passes, each on every core (pytest-xdist): the browser tests apart, so that Playwright's
# own event loop never shares a worker with the asyncio tests.
test: $(TEST_STAMP) chromium redis
	$(BIN)/python -m pytest -n auto --dist loadgroup -m "not browser"
	$(BIN)/python -m pytest -n auto -m browser --no-cov

## bare-copies: run each program alone from an empty folder with `uv run` (needs the package index)
bare-copies: $(TEST_STAMP) redis
	$(BIN)/python scripts/run_bare_copies.py

## build: the strict build into site/
build: $(SITE_STAMP)
	$(BIN)/mkdocs build --strict

## bench: page weights, Lighthouse scores and build times against the budgets (a few minutes)
bench: $(TEST_STAMP) chromium
	$(BIN)/python bench/site_speed.py

## figures: re-run the chapters' benchmarks; they rewrite bench/results/ and the pages' plots
figures: $(SITE_STAMP) redis
	for script in transport_setup realtime_delivery http_connection_reuse api_styles failures_contention \
	  load_balancing_choices backoff_timeline global_routing one_request rate_limiting \
	  load_shedding draining realtime_fanout; do \
	  $(BIN)/python bench/$$script.py || exit 1; done

## diagrams: draw the Mermaid diagrams missing from diagram-cache/ and drop the unused ones
diagrams: $(SITE_STAMP) chromium
	$(BIN)/python -m docs_tools.mermaid

## transcripts: rewrite the shown demo outputs and inline #> outputs from a real run
transcripts: $(TEST_STAMP)
	$(BIN)/python -m pytest tests/test_transcripts.py tests/test_docs_examples.py --update-examples --no-cov

## lock: re-resolve both lock files from pyproject.toml (needs network access to PyPI)
lock: $(SITE_STAMP)
	$(PIP) uv
	$(BIN)/uv pip compile pyproject.toml --extra test --python-version 3.11 --no-header \
	  -o requirements-test.lock
	$(BIN)/uv pip compile pyproject.toml --python-version 3.11 --no-header \
	  -c requirements-test.lock -o requirements.lock

## vendor: refresh the vendored Mermaid and tablesort at the versions pinned in the script
vendor:
	bash scripts/vendor-assets.sh

# The project's root on the venv's import path (a .pth file), so mkdocs.yml can name the fence
# formatters in docs_tools/ however mkdocs is started.
$(SITE_STAMP): requirements.lock
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(PIP) -r requirements.lock
	$(BIN)/python -c 'import pathlib, sysconfig; pathlib.Path(sysconfig.get_paths()["purelib"], \
	  "networking_essentials.pth").write_text("$(CURDIR)\n")'
	rm -f $(VENV)/.site-*
	touch $@

$(TEST_STAMP): requirements-test.lock $(SITE_STAMP)
	$(PIP) -r requirements-test.lock
	rm -f $(VENV)/.test-*
	touch $@

# Debian's Chromium for the browser tests and for drawing diagrams (or the browser named by
# $CHROMIUM), and Liberation Sans, the font with Arial's metrics that diagrams and plots are laid
# out with; Playwright never downloads a browser of its own.
chromium:
	@test -x "$${CHROMIUM:-/usr/bin/chromium}" || { \
	  echo "Installing Debian's chromium for the browser tests"; \
	  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null; }
	@test -f /usr/share/fonts/truetype/liberation/LiberationSans-Regular.ttf || { \
	  echo "Installing Debian's fonts-liberation (Arial's metrics) for figures"; \
	  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq fonts-liberation >/dev/null; }

# Debian's Redis, which the rate-limiting and fan-out programs use as their shared store: the
# tests and the programs start their own redis-server on 127.0.0.1 (none runs as a service).
redis:
	@command -v redis-server >/dev/null || { \
	  echo "Installing Debian's redis-server for the programs that share state through Redis"; \
	  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq redis-server \
	    >/dev/null; }

clean:
	rm -rf $(VENV) site .cache .pytest_cache .coverage test-artifacts
