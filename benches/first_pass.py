"""Python peers of benches/first_pass.rs: gigatoken and OpenAI's tiktoken.

    python first_pass.py ENGINE INPUTS.json CL100K.tiktoken   -> prints "bytes ns tokens warm_ns"
    python first_pass.py verify INPUTS.json CL100K.tiktoken   -> exit 1 unless gigatoken's ids
                                                                 equal tiktoken's on every input

ENGINE is `gigatoken` (cl100k loaded from the vocabulary file tiktoken-rs ships, "gpt4" split)
or `tiktoken-py`. Each input is counted once, in this fresh process, after the engine is loaded.
"""

import json
import os
import sys
import time


def gigatoken(vocab):
    import gigatoken

    tok = gigatoken.Tokenizer.from_tiktoken(vocab, pretokenizer="gpt4")
    return lambda s: len(tok.encode(s)), tok


def tiktoken_py(vocab):
    import tiktoken
    import tiktoken.load
    import tiktoken_ext.openai_public as public

    # OpenAI's own definition of cl100k_base (pattern, specials), its ranks read from the
    # same local file instead of downloaded.
    public.load_tiktoken_bpe = lambda _url, expected_hash=None: tiktoken.load.load_tiktoken_bpe(
        vocab, expected_hash
    )
    enc = tiktoken.Encoding(**public.cl100k_base())
    return lambda s: len(enc.encode_ordinary(s)), enc


def main():
    engine, path, vocab = sys.argv[1:4]
    with open(path, encoding="utf-8") as f:
        data = json.load(f)
    inputs = data["inputs"]
    if engine == "verify":
        _, giga = gigatoken(vocab)
        _, enc = tiktoken_py(vocab)
        for i, s in enumerate(inputs):
            if list(giga.encode(s)) != enc.encode_ordinary(s):
                print(f"{path}: input {i} differs", file=sys.stderr)
                sys.exit(1)
        return
    count = gigatoken(vocab)[0] if engine == "gigatoken" else tiktoken_py(vocab)[0]
    # The same warm-up text as the Rust engines, outside the clock.
    count(data["warmup"])
    size = sum(len(s.encode("utf-8")) for s in inputs)
    # Thread CPU time, as the Rust side measures (FIRST_PASS_WALL set: wall time).
    clock = time.perf_counter_ns if os.environ.get("FIRST_PASS_WALL") else time.thread_time_ns
    start = clock()
    tokens = 0
    for s in inputs:
        tokens += count(s)
    elapsed = clock() - start
    # Then warm: all of them again, five times, the median.
    warm = []
    for _ in range(5):
        t = clock()
        for s in inputs:
            count(s)
        warm.append(clock() - t)
    warm.sort()
    print(size, elapsed, tokens, warm[2])


main()
