#!/usr/bin/env bash
# The main job end to end on the bundled demo data (sets up .venv on first use).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup-venv.sh
exec .venv/bin/classifier demo "$@"
