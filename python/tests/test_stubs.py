"""The type stubs match the native module (mypy's stubtest), and typed code using the
package checks under mypy --strict."""

from __future__ import annotations

import subprocess
import sys
import textwrap

from conftest import skip_loudly


def mypy_or_skip():
    try:
        import mypy  # noqa: F401
    except ImportError:
        skip_loudly("mypy is not installed (pip install mypy)")


def test_stubs_match_the_native_module(tmp_path):
    mypy_or_skip()
    run = subprocess.run(
        [sys.executable, "-m", "mypy.stubtest", "embedguard._native"],
        capture_output=True, text=True, cwd=tmp_path,
    )
    assert run.returncode == 0, run.stdout + run.stderr


def test_typed_code_checks_strictly(tmp_path):
    mypy_or_skip()
    program = tmp_path / "use.py"
    program.write_text(textwrap.dedent('''
        import array
        import embedguard

        def tokens(body: bytes) -> int:
            policy = embedguard.Policy.openai(max_inputs=96, over_limit="truncate")
            try:
                checked = policy.check(body)
            except embedguard.RequestError as err:
                status: int = err.status
                envelope: str = err.body
                return -status - len(envelope)
            counts: list[int] = checked.token_counts
            calls = embedguard.plan(checked, max_inputs=10)
            bodies: list[bytes] = [part.body for part in calls]
            vector: array.array[float] = embedguard.decode_base64(embedguard.encode_base64([1.0]))
            key = embedguard.KeySet({"a": "sk-gateway-abcd1234"}).check_header(None)
            return sum(counts) + embedguard.cl100k().count("x") + len(bodies) + len(vector) + key.index
    '''))
    run = subprocess.run(
        [sys.executable, "-m", "mypy", "--strict", "--no-incremental", str(program)],
        capture_output=True, text=True, cwd=tmp_path,
    )
    assert run.returncode == 0, run.stdout + run.stderr
