#!/usr/bin/env bash
# Re-resolve the dependencies of pyproject.toml in a scratch venv and write requirements.lock.
set -euo pipefail
cd "$(dirname "$0")/.."
scratch=$(mktemp -d)
trap 'rm -rf "$scratch"' EXIT
"${PYTHON:-python3}" -m venv "$scratch/venv"
"$scratch/venv/bin/python" -m pip install --quiet --upgrade pip
"$scratch/venv/bin/python" -m pip install --quiet -e ".[dev,postgres]"
{
  echo "# Exact versions for reproducible installs (pip constraints: scripts/setup-venv.sh installs with -c)."
  echo "# Regenerate with: bash scripts/update-lock.sh"
  "$scratch/venv/bin/python" -m pip freeze --exclude-editable | grep -v '^classifier'
} > requirements.lock
echo "wrote requirements.lock ($(grep -vc '^#' requirements.lock) packages)"
