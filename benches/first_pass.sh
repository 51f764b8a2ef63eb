#!/usr/bin/env bash
# First-pass counting and request checks, every engine in one table (benches/first_pass.rs).
# Installs the Python peers (gigatoken, OpenAI's tiktoken) into target/pyvenv from PyPI the
# first time, fetches the held-out texts (tests/udhr.py), then runs the bench.
# FIRST_PASS_RUNS=N sets the number of fresh runs (default 5); FIRST_PASS_ONLY=requests runs
# the request table alone.
set -euo pipefail
cd "$(dirname "$0")/.."
if ! target/pyvenv/bin/python -c "import gigatoken, tiktoken" 2>/dev/null; then
    python3 -m venv target/pyvenv
    target/pyvenv/bin/pip install --quiet gigatoken tiktoken
fi
# The held-out texts (the UDHR in scripts the corpus lacks); the bench runs without them.
python3 tests/udhr.py target/udhr || echo "note: no UDHR texts: no held-out table" >&2
cargo bench --bench first_pass -- "$@"
