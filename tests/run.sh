#!/usr/bin/env bash
# Runs the whole suite: lint first (cheap), then pytest. Fixtures start the real services.
set -euo pipefail
cd "$(dirname "$0")/.."
.venv/bin/ruff check .
.venv/bin/ruff format --check .
exec .venv/bin/pytest -p no:cacheprovider -rs "$@"
