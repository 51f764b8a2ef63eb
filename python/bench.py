"""Benchmarks of the Python package, side by side with what Python gateways use today.

    python python/bench.py            (from the repository root, embedguard installed)

1. The whole check of ../shared/requests/*.json: ``Policy.openai().check(body)`` against
   ``json.loads`` + tiktoken's ``encode_ordinary`` per input + OpenAI's limits (and the
   same with ``encode_ordinary_batch``, tiktoken's thread pool).
2. Counting the corpus (../shared/corpus, each file cut in ~4 KB inputs) through the
   binding, tiktoken and gigatoken (if installed): first pass, in a fresh process that
   counts each input once, and warm, the same inputs again.
3. The cost of one call on a short input.

tiktoken's and gigatoken's cl100k_base are built from the vocabulary file the Rust crate
tiktoken-rs ships (no network); counts are compared, and any difference is printed.
Times are medians of CPU time (time.process_time: all the process's threads), as wall
time on a shared machine counts others' work; the machine's load is printed with them.
"""

from __future__ import annotations

import glob
import json
import os
import pathlib
import statistics
import subprocess
import sys
import time

HERE = pathlib.Path(__file__).resolve().parent
# Measure the installed package, never the sources beside this script.
sys.path[:] = [p for p in sys.path if pathlib.Path(p or ".").resolve() != HERE]
REPO = HERE.parent
SHARED = REPO.parent / "shared"
PATTERN = r"""'(?i:[sdmt]|ll|ve|re)|[^\r\n\p{L}\p{N}]?+\p{L}++|\p{N}{1,3}+| ?[^\s\p{L}\p{N}]++[\r\n]*+|\s++$|\s*[\r\n]|\s+(?!\S)|\s"""
SPECIALS = {"<|endoftext|>": 100257, "<|fim_prefix|>": 100258, "<|fim_middle|>": 100259, "<|fim_suffix|>": 100260, "<|endofprompt|>": 100276}
MODELS = {"text-embedding-3-small", "text-embedding-3-large", "text-embedding-ada-002"}


def vocabulary() -> str:
    given = os.environ.get("EMBEDGUARD_CL100K_FILE")
    found = [given] if given else sorted(glob.glob(os.path.expanduser("~/.cargo/registry/src/*/tiktoken-rs-*/assets/cl100k_base.tiktoken")))
    if not found:
        sys.exit("no cl100k_base.tiktoken: build the repository once, or set EMBEDGUARD_CL100K_FILE")
    return found[-1]


def tiktoken_encoding():
    import tiktoken
    from tiktoken.load import load_tiktoken_bpe

    return tiktoken.Encoding(name="cl100k_base", pat_str=PATTERN, mergeable_ranks=load_tiktoken_bpe(vocabulary()), special_tokens=SPECIALS)


def gigatoken_tokenizer():
    try:
        import gigatoken
    except ImportError:
        return None
    return gigatoken.Tokenizer.from_tiktoken(vocabulary(), pretokenizer="gpt4")


def engines():
    """name -> count function, each on one text."""
    import embedguard

    out = {"embedguard": embedguard.cl100k().count}
    enc = tiktoken_encoding()
    out["tiktoken"] = lambda text: len(enc.encode_ordinary(text))
    giga = gigatoken_tokenizer()
    if giga is not None:
        out["gigatoken"] = lambda text: len(giga.encode(text))
    return out


def median_time(f, runs: int) -> float:
    """Median CPU time of the process (all its threads) over `runs` calls: on a shared
    machine wall time counts other processes' work too."""
    times = []
    for _ in range(runs):
        start = time.process_time()
        f()
        times.append(time.process_time() - start)
    return statistics.median(times)


# ----------------------------------------------------------------- 1. the whole check


def gateway_today(body: bytes, enc, batch: bool = False):
    """What a Python gateway does: parse, count every input with tiktoken, apply limits."""
    request = json.loads(body)
    if request.get("model") not in MODELS:
        return "404"
    given = request["input"]
    inputs = [given] if isinstance(given, str) or (given and isinstance(given[0], int)) else given
    if len(inputs) > 2048:
        return "400"
    texts = [x for x in inputs if isinstance(x, str)]
    counted = enc.encode_ordinary_batch(texts) if batch else [enc.encode_ordinary(t) for t in texts]
    counts = iter(len(ids) for ids in counted)
    counts = [next(counts) if isinstance(x, str) else len(x) for x in inputs]
    if any(n > 8192 for n in counts) or sum(counts) > 300_000:
        return "400"
    return counts


def embedguard_check(body: bytes, policy):
    import embedguard

    try:
        return policy.check(body).token_counts
    except embedguard.RequestError as err:
        return str(err.status)


def bench_check(runs: int) -> list[str]:
    import embedguard

    files = sorted((SHARED / "requests").glob("*.json"))
    if not files:
        return [f"(no request bodies at {SHARED / 'requests'}: skipped)"]
    enc = tiktoken_encoding()
    policy = embedguard.Policy.openai()
    rows = ["| body | size | embedguard `check` | json.loads + tiktoken per input + limits | speed-up | json.loads + `encode_ordinary_batch` + limits | speed-up |", "|---|---:|---:|---:|---:|---:|---:|"]
    for path in files:
        body = path.read_bytes()
        ours = embedguard_check(body, policy)
        theirs = gateway_today(body, enc)
        same = "" if ours == theirs else f" (answers differ: {ours} vs {theirs})"
        t_ours = median_time(lambda: embedguard_check(body, policy), runs)
        t_theirs = median_time(lambda: gateway_today(body, enc), max(3, runs // 3))
        t_batch = median_time(lambda: gateway_today(body, enc, batch=True), max(3, runs // 3))
        rows.append(
            f"| {path.name}{same} | {len(body) / 1e6:.2f} MB | {t_ours * 1e3:.2f} ms | {t_theirs * 1e3:.1f} ms | "
            f"{t_theirs / t_ours:.1f}x | {t_batch * 1e3:.1f} ms | {t_batch / t_ours:.1f}x |"
        )
    return rows


# ----------------------------------------------------------------- 2. counting the corpus


def corpus_inputs(size: int = 4096) -> list[str]:
    """Every corpus file cut in ~`size`-byte inputs on character boundaries."""
    out = []
    for path in sorted((SHARED / "corpus").glob("*.txt")):
        raw = path.read_bytes()
        i = 0
        while i < len(raw):
            j = min(len(raw), i + size)
            while j < len(raw) and (raw[j] & 0xC0) == 0x80:
                j += 1
            out.append(raw[i:j].decode("utf-8"))
            i = j
    return out


def first_pass_child(name: str) -> None:
    """In a fresh process: load the engine, count every input once, print the seconds."""
    count = engines()[name]
    inputs = corpus_inputs()
    count("warm up the code, not the caches")
    start = time.process_time()
    total = sum(count(t) for t in inputs)
    print(json.dumps({"seconds": time.process_time() - start, "tokens": total}))


def bench_corpus(runs: int) -> list[str]:
    inputs = corpus_inputs()
    if not inputs:
        return [f"(no corpus at {SHARED / 'corpus'}: skipped)"]
    mb = sum(len(t.encode()) for t in inputs) / 1e6
    counts = {}
    rows = [f"{len(inputs)} inputs of ~4 KB, {mb:.2f} MB in all.", "", "| engine | first pass (fresh process) | warm | tokens |", "|---|---:|---:|---:|"]
    for name, count in engines().items():
        firsts = []
        for _ in range(max(3, runs // 4)):
            out = subprocess.run([sys.executable, __file__, "--first-pass", name], capture_output=True, text=True, check=True)
            firsts.append(json.loads(out.stdout.strip().splitlines()[-1])["seconds"])
        first = statistics.median(firsts)
        for t in inputs:
            count(t)
        warm = median_time(lambda: [count(t) for t in inputs], runs)
        counts[name] = [count(t) for t in inputs]
        rows.append(f"| {name} | {mb / first:.1f} MB/s ({first * 1e3:.0f} ms) | {mb / warm:.1f} MB/s ({warm * 1e3:.0f} ms) | {sum(counts[name])} |")
    for name, c in counts.items():
        diff = sum(1 for a, b in zip(c, counts["tiktoken"]) if a != b)
        if diff:
            rows.append(f"{name}: {diff} inputs counted differently from tiktoken!")
    return rows


# ----------------------------------------------------------------- 3. per-call overhead


def bench_overhead(runs: int) -> list[str]:
    rows = ["| engine | `\"hello world\"` | 100-byte text |", "|---|---:|---:|"]
    short, hundred = "hello world", "The quick brown fox jumps over the lazy dog. " * 2 + "Pack my box."
    n = 100_000
    for name, count in engines().items():
        cells = []
        for text in (short, hundred):
            count(text)
            t = median_time(lambda: [count(text) for _ in range(n)], max(3, runs // 3))
            cells.append(f"{t / n * 1e9:.0f} ns")
        rows.append(f"| {name} | {cells[0]} | {cells[1]} |")
    return rows


def main() -> None:
    if len(sys.argv) == 3 and sys.argv[1] == "--first-pass":
        first_pass_child(sys.argv[2])
        return
    runs = int(os.environ.get("BENCH_RUNS", "15"))
    import embedguard

    print(f"embedguard {embedguard.__version__}, Python {sys.version.split()[0]}, {os.cpu_count()} cores, load {os.getloadavg()[0]:.1f}, medians of {runs} runs of CPU time")
    print("\n## The whole check of the bench request bodies\n")
    print("\n".join(bench_check(runs)))
    print("\n## Counting the corpus\n")
    print("\n".join(bench_corpus(runs)))
    print("\n## One call on a short input\n")
    print("\n".join(bench_overhead(runs)))
    print(f"\n(load at the end: {os.getloadavg()[0]:.1f})")


if __name__ == "__main__":
    main()
