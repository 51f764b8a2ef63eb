"""Shared helpers: where the repository's data is, and tiktoken as the oracle.

tiktoken downloads its vocabulary from the network, which tests may not use: the oracle
is built from the same file that the Rust crate tiktoken-rs ships (cargo has it in its
registry after any build of the repository), with tiktoken's own cl100k_base pattern
and special tokens. Tests that need it skip, saying why, when it cannot be found.
"""

from __future__ import annotations

import glob
import json
import os
import pathlib
import sys

import pytest

PYTHON_DIR = pathlib.Path(__file__).resolve().parent.parent
REPO = PYTHON_DIR.parent
SHARED = REPO.parent / "shared"
CASES = REPO / "tests" / "data" / "cases.jsonl"

CL100K_PATTERN = r"""'(?i:[sdmt]|ll|ve|re)|[^\r\n\p{L}\p{N}]?+\p{L}++|\p{N}{1,3}+| ?[^\s\p{L}\p{N}]++[\r\n]*+|\s++$|\s*[\r\n]|\s+(?!\S)|\s"""
CL100K_SHA256 = "223921b76ee99bde995b7ff738513eef100fb51d18c93597a113bcffe865b2a7"
CL100K_SPECIALS = {
    "<|endoftext|>": 100257,
    "<|fim_prefix|>": 100258,
    "<|fim_middle|>": 100259,
    "<|fim_suffix|>": 100260,
    "<|endofprompt|>": 100276,
}


def skip_loudly(reason: str):
    """Skips the test and says so on stderr too, so a skip is never silent."""
    print(f"SKIPPED: {reason}", file=sys.stderr)
    pytest.skip(reason)


def cl100k_file() -> str | None:
    """tiktoken-rs's cl100k_base.tiktoken: $EMBEDGUARD_CL100K_FILE, else cargo's registry."""
    given = os.environ.get("EMBEDGUARD_CL100K_FILE")
    if given:
        return given
    home = pathlib.Path(os.environ.get("CARGO_HOME", pathlib.Path.home() / ".cargo"))
    found = sorted(glob.glob(str(home / "registry/src/*/tiktoken-rs-*/assets/cl100k_base.tiktoken")))
    return found[-1] if found else None


_TIKTOKEN = None


def tiktoken_cl100k():
    """tiktoken's cl100k_base Encoding, built offline; skips the test if it cannot be."""
    global _TIKTOKEN
    if _TIKTOKEN is None:
        try:
            import tiktoken
            from tiktoken.load import load_tiktoken_bpe
        except ImportError:
            skip_loudly("tiktoken is not installed (pip install tiktoken)")
        path = cl100k_file()
        if path is None:
            skip_loudly(
                "no cl100k_base.tiktoken: build the repository once (cargo fetches tiktoken-rs) "
                "or set EMBEDGUARD_CL100K_FILE"
            )
        ranks = load_tiktoken_bpe(path, expected_hash=CL100K_SHA256)
        _TIKTOKEN = tiktoken.Encoding(
            name="cl100k_base",
            pat_str=CL100K_PATTERN,
            mergeable_ranks=ranks,
            special_tokens=CL100K_SPECIALS,
        )
    return _TIKTOKEN


@pytest.fixture
def tiktoken_enc():
    return tiktoken_cl100k()


def corpus_files() -> list[pathlib.Path]:
    files = sorted((SHARED / "corpus").glob("*.txt"))
    if not files:
        skip_loudly(f"no corpus at {SHARED / 'corpus'} (../shared beside the repository)")
    return files


def load_cases() -> list[dict]:
    with open(CASES, encoding="utf-8") as f:
        return [json.loads(line) for line in f if line.strip()]


def envelope_text(error: dict) -> str:
    """An envelope as embedguard writes it: compact, keys in OpenAI's order, UTF-8."""
    return json.dumps({"error": error}, separators=(",", ":"), ensure_ascii=False)
