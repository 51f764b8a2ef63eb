"""Counts and ids against tiktoken's (encode_ordinary), on the corpus and on generated
strings; count_up_to, count_many and lone surrogates."""

from __future__ import annotations

import random

import pytest

import embedguard
from conftest import corpus_files, tiktoken_cl100k

enc = embedguard.cl100k()


def corpus_pieces(size: int = 4096):
    """Every corpus file cut in pieces of about `size` bytes, on character boundaries."""
    for path in corpus_files():
        text = path.read_text(encoding="utf-8")
        step = max(1, size // max(1, len(text.encode("utf-8")) // max(1, len(text))))
        for i in range(0, len(text), step):
            yield path.name, text[i : i + step]


def test_corpus_counts_and_ids_are_tiktokens():
    oracle = tiktoken_cl100k()
    pieces = 0
    for name, piece in corpus_pieces():
        want = oracle.encode_ordinary(piece)
        assert enc.encode(piece) == want, name
        assert enc.count(piece) == len(want), name
        pieces += 1
    assert pieces > 200


def test_whole_corpus_files_count_as_tiktoken():
    oracle = tiktoken_cl100k()
    for path in corpus_files():
        text = path.read_text(encoding="utf-8")
        assert enc.count(text) == len(oracle.encode_ordinary(text)), path.name


ALPHABETS = [
    "abcdefghijklmnopqrstuvwxyz",
    "ABC xyz 0123456789",
    " \t\n\r\u00a0\u3000\u2028",
    "'sdmtllvere",
    "日本語の文章、中文。한국어",
    "Привет мир ёЁ",
    "🙂👨‍👩‍👧\u200d\ufe0f",
    "<|endoftext|><|fim_prefix|>",
    "\u0301\u0308e",
    "!@#$%^&*()[]{};:,./?\\|`~-_=+\"",
    "\x00\x01\x7f\x85",
]


def generated(seed: int, n: int):
    rng = random.Random(seed)
    for _ in range(n):
        mix = "".join(rng.sample(ALPHABETS, rng.randint(1, 4)))
        yield "".join(rng.choice(mix) for _ in range(rng.randint(0, 300)))


def test_generated_strings_count_as_tiktoken():
    oracle = tiktoken_cl100k()
    for text in generated(1, 3000):
        want = oracle.encode_ordinary(text)
        assert enc.encode(text) == want, repr(text)
        assert enc.count(text) == len(want), repr(text)


def test_count_many_is_count_of_each():
    texts = list(generated(2, 500))
    assert enc.count_many(texts) == [enc.count(t) for t in texts]
    assert enc.count_many(iter(texts[:3])) == [enc.count(t) for t in texts[:3]]
    assert enc.count_many([]) == []


def test_count_many_refuses_a_lone_str_and_non_str_items():
    with pytest.raises(TypeError, match="not a str"):
        enc.count_many("hello")
    with pytest.raises(TypeError, match="text 1 is int, not str"):
        enc.count_many(["a", 1])
    with pytest.raises(TypeError):
        enc.count_many(5)


def test_count_up_to_is_the_count_or_none():
    for text in generated(3, 300):
        n = enc.count(text)
        assert enc.count_up_to(text, n) == n
        assert enc.count_up_to(text, n + 5) == n
        if n > 0:
            assert enc.count_up_to(text, n - 1) is None
    # Stops early: a megabyte of letters in one piece, far over the limit.
    assert enc.count_up_to("a" * (1 << 20), 8192) is None
    with pytest.raises(OverflowError):
        enc.count_up_to("a", -1)


def test_lone_surrogates_count_as_tiktoken_counts_them():
    oracle = tiktoken_cl100k()
    for text in ["\ud800", "a\udfffb", "\ud83d\ude42", "x\ud83d", "\udc00" * 50 + "z"]:
        assert enc.encode(text) == oracle.encode_ordinary(text), repr(text)
        assert enc.count(text) == len(oracle.encode_ordinary(text)), repr(text)
    assert enc.count_many(["\ud800", "ok"]) == [1, 1]


def test_token_ids_and_bytes():
    assert enc.name == "cl100k_base"
    assert repr(enc) == "embedguard.cl100k()"
    assert enc.is_token_id(100276) and not enc.is_token_id(100275)
    assert not enc.is_token_id(2**40) and not enc.is_token_id(-5)
    assert enc.token_bytes(-1) is None and enc.token_bytes(2**40) is None
    oracle = tiktoken_cl100k()
    for i in range(0, 100256, 997):
        assert enc.token_bytes(i) == oracle.decode_single_token_bytes(i)
    with pytest.raises(TypeError):
        enc.count(b"bytes are not text")
