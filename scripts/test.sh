#!/usr/bin/env bash
# The whole test suite (sets up .venv on first use). Extra arguments go to pytest.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup-venv.sh
.venv/bin/ruff check src tests benchmarks
exec .venv/bin/python -m pytest "$@"
