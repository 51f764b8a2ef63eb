#!/usr/bin/env bash
# The Python package's CI: builds the wheel from the repository with pip, the way a user
# installs it (`pip install ./python`, maturin as the build backend), in a fresh virtual
# environment, and runs the pytest suite against the installed package.
#
# Needs python3 with venv and a Rust toolchain; everything else comes from PyPI.
# Usage: bash python/ci.sh [pytest args...]
set -euo pipefail
cd "$(dirname "$0")/.."

VENV=target/py-venv
rm -rf "$VENV"
python3 -m venv "$VENV"
PY="$VENV/bin/python"
"$PY" -m pip install --quiet --disable-pip-version-check --upgrade pip
"$PY" -m pip install --quiet --disable-pip-version-check ./python
# The suite's own needs: tiktoken as the counting oracle, numpy for the buffer tests,
# LiteLLM's proxy for the hook example, mypy for the stubs.
"$PY" -m pip install --quiet --disable-pip-version-check pytest mypy tiktoken numpy 'litellm[proxy]'

# Tested as installed: pytest runs from the tests folder, never importing python/embedguard.
cd python/tests
"../../$PY" -m pytest -q -rs -p no:cacheprovider "$@"
