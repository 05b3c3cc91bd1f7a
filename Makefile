# HarmonieCORE Studio: `make run` opens the studio, `make test` runs the whole suite.
# Both set up everything they need on a fresh Debian/Ubuntu machine.

PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed
SUDO   := $(shell [ "$$(id -u)" = 0 ] || echo sudo)
APT_DEPS := $(shell grep -v '^\#' packaging/debian-test-deps.txt)

.PHONY: run test lint format system-deps venv node clean bench package test-package

run: $(STAMP)
	$(BIN)/harmonie-studio --profile local

test: system-deps $(STAMP) node_modules/.installed
	bash tests/run.sh

venv: $(STAMP)

# The artist's install: a PyInstaller one-folder build (dist/harmonie-studio/), the .deb and
# a .tar.gz of the folder (packaging/build_deb.py). No network past the venv. PyInstaller goes
# into the venv here only (pinned in constraints.txt), never into `make run`/`make test`'s.
PACKAGE_STAMP := $(VENV)/.package-installed
package: system-deps $(PACKAGE_STAMP)
	rm -rf dist/harmonie-studio dist/harmonie-studio_*.deb dist/harmonie-studio-*.tar.gz
	$(BIN)/python -m PyInstaller --noconfirm --log-level WARN --workpath build/pyinstaller \
	  --distpath dist packaging/harmonie-studio.spec
	$(BIN)/python packaging/build_deb.py

$(PACKAGE_STAMP): $(STAMP) constraints.txt
	$(BIN)/python -m pip install --quiet -c constraints.txt pyinstaller pyinstaller-hooks-contrib
	touch $@

# Builds the package, installs the .deb on this machine (apt-get, root), drives the installed
# studio and purges it (tests/packaging/install_check.py). Apart from `make test`: it needs
# root and changes the machine, and the build (21 min at load 6 here) with `make test` (~50)
# would leave CI's 90 minutes too little room: .ci/run does not run it yet.
test-package: package
	$(BIN)/python -m pytest -p no:cacheprovider -rs tests/packaging/install_check.py

$(STAMP): pyproject.toml constraints.txt
	@$(PYTHON) -c 'import sys; assert sys.version_info >= (3, 11), "Python 3.11 or newer is needed"'
	[ -x $(BIN)/python ] || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -c constraints.txt -e '.[dev]'
	touch $@

# Debian packages the tests drive for real (Xvfb, PulseAudio, gnome-keyring, Chromium,
# PostgreSQL, Redis...). Installed when we are root or in CI; otherwise we only check.
system-deps:
	@if [ "$$(id -u)" = 0 ] || [ -n "$$CI" ]; then \
	  missing=$$(for p in $(APT_DEPS); do dpkg -s $$p >/dev/null 2>&1 || echo $$p; done); \
	  command -v node >/dev/null || missing="$$missing nodejs npm"; \
	  if [ -n "$$missing" ]; then \
	    echo "installing Debian packages:" $$missing; \
	    $(SUDO) apt-get update -qq && \
	    DEBIAN_FRONTEND=noninteractive $(SUDO) apt-get install -y -qq --no-install-recommends $$missing; \
	  fi; \
	else \
	  missing=$$(for p in $(APT_DEPS); do dpkg -s $$p >/dev/null 2>&1 || echo $$p; done); \
	  [ -z "$$missing" ] || echo "note: tests that need these will skip, and the suite fails on a skip unless ALLOW_SKIPS=1; run as root to install:" $$missing; \
	fi

# `npm install` (not `npm ci`): one optional sub-dependency of js-ipfs points at a git tarball
# that npm skips; `npm ci` counts that as an out-of-sync lockfile. The lockfile still pins versions.
node_modules/.installed: package.json package-lock.json
	npm install --no-audit --no-fund --loglevel=error
	touch $@

node: node_modules/.installed

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

format: $(STAMP)
	$(BIN)/ruff format .
	$(BIN)/ruff check --fix .

bench: $(STAMP)
	for b in bench/*.py; do $(BIN)/python $$b; done

clean:
	rm -rf $(VENV) node_modules .pytest_cache build dist
