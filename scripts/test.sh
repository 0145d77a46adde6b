#!/usr/bin/env bash
# Lint, then the test suite on every core (pytest-xdist); sets up .venv on first use.
# Extra arguments go to pytest:  -m "not slow"  is the fast lane for development,  -n 0  one process.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup-venv.sh
.venv/bin/ruff check src tests benchmarks notebooks scripts
.venv/bin/ruff format --check src tests benchmarks notebooks scripts
exec .venv/bin/python -m pytest -n "${TEST_WORKERS:-auto}" "$@"
