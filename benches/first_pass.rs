//! First-pass counting, the way a gateway sees text: each input once, in a fresh process.
//!
//! `bash benches/first_pass.sh` (installs the Python peers, then runs this), or
//! `cargo bench --bench first_pass` for the Rust peers alone (the Python ones join when
//! `target/pyvenv/bin/python` has gigatoken and tiktoken).
//!
//! - **counting**: each corpus file (`../shared/corpus/`, or `$EMBEDGUARD_CORPUS`) cut into
//!   ~4 KB inputs on character boundaries; a fresh process per engine and file counts every input
//!   once; the figure is the median over `$FIRST_PASS_RUNS` (default 5) fresh processes, engines
//!   interleaved within each run so that the noise of a shared machine falls on all of them.
//!   Every engine's token total must equal tiktoken-rs's. The same process then counts the
//!   inputs five times more: the **warm** table, the median of those passes.
//! - **held out**: the same first pass on the UDHR in 19 scripts the corpus lacks
//!   (`python3 tests/udhr.py` fetches it into `target/udhr`; `first_pass.sh` does), text none
//!   of the engines was tuned on.
//! - **requests**: one body of ~2,000 distinct paragraphs (~1 MB) taken from every corpus file
//!   in turn, checked by `Policy::check` and by serde_json + tiktoken-rs: once in a fresh
//!   process (first pass, after a ~4 KB warm-up body outside the clock) and then again in the
//!   same process (warm).
//!   `FIRST_PASS_ONLY=requests` runs this table alone.
//!
//! Engines: embedguard, tiktoken-rs, bpe-openai, goliajp `tiktoken`; gigatoken and OpenAI's
//! tiktoken (Python, `benches/first_pass.py`) when available.

mod support;
use support::corpus;

#[path = "../tests/cpu_clock/mod.rs"]
mod cpu_clock;
use cpu_clock::thread_cpu_ns;
#[path = "../tests/char_cut/mod.rs"]
mod char_cut;
use char_cut::cut;

use std::collections::{BTreeMap, HashSet};
use std::hint::black_box;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Instant;

use embedguard::{Limits, Policy};
use serde::Deserialize;

const INPUT_BYTES: usize = 4096;
const RUST_ENGINES: [&str; 4] = [
    "embedguard",
    "tiktoken-rs",
    "bpe-openai",
    "goliajp-tiktoken",
];
const PYTHON_ENGINES: [&str; 2] = ["gigatoken", "tiktoken-py"];

fn manifest() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

fn work_dir() -> PathBuf {
    let dir = manifest().join("target/first_pass");
    std::fs::create_dir_all(&dir).expect("target/first_pass can be created");
    dir
}

/// ~2,000 distinct paragraphs of ~500 bytes, one from each corpus file in turn, as the
/// `input` of one request body of ~1 MB.
fn request_body(files: &[(String, String)]) -> Vec<u8> {
    let mut per_file: Vec<std::vec::IntoIter<String>> = files
        .iter()
        .map(|(_, text)| paragraphs(text).into_iter())
        .collect();
    let mut seen = HashSet::new();
    let mut inputs = Vec::new();
    let mut bytes = 0;
    'fill: loop {
        let mut any = false;
        for it in &mut per_file {
            for p in it.by_ref() {
                if seen.insert(p.clone()) {
                    bytes += p.len();
                    inputs.push(p);
                    any = true;
                    break;
                }
            }
            if inputs.len() == 2000 || bytes >= 1 << 20 {
                break 'fill;
            }
        }
        if !any {
            break;
        }
    }
    let request = serde_json::json!({"model": "text-embedding-3-small", "input": inputs});
    serde_json::to_vec(&request).expect("serializable")
}

/// Paragraphs of `text`: cut after the first line break past 300 bytes, or on a character
/// boundary at 1,000 bytes; blank ones dropped.
fn paragraphs(text: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut start = 0;
    while start < text.len() {
        let limit = (start + 1000).min(text.len());
        let from = (start + 300).min(text.len());
        let end = match text.as_bytes()[from..limit]
            .iter()
            .position(|&b| b == b'\n')
        {
            Some(k) => from + k + 1,
            None => {
                let mut e = limit;
                while !text.is_char_boundary(e) {
                    e += 1;
                }
                e
            }
        };
        let p = &text[start..end];
        if !p.trim().is_empty() {
            out.push(p.to_owned());
        }
        start = end;
    }
    out
}

/// What the parent writes for a counting child.
#[derive(serde::Serialize, Deserialize)]
struct InputsFile {
    warmup: String,
    inputs: Vec<String>,
}

/// ~4 KB of pseudo-random lowercase words, in no corpus file: what every engine counts before
/// its clock starts.
fn warmup_text() -> String {
    let mut x = 0x2545_F491_4F6C_DD1Du64;
    let mut s = String::new();
    while s.len() < INPUT_BYTES {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        let len = 2 + (x % 9) as usize;
        for k in 0..len {
            s.push((b'a' + ((x >> (8 + 5 * k)) % 26) as u8) as char);
        }
        s.push(if x % 13 == 0 { '.' } else { ' ' });
    }
    s
}

/// The request as a typical hand-written gateway parses it.
#[derive(Deserialize)]
struct NaiveRequest {
    #[allow(dead_code)]
    model: String,
    input: Vec<String>,
}

fn naive_check(body: &[u8]) -> usize {
    let request: NaiveRequest = serde_json::from_slice(body).expect("valid body");
    let bpe = tiktoken_rs::cl100k_base_singleton();
    request
        .input
        .iter()
        .map(|s| bpe.encode_ordinary(s).len())
        .sum()
}

fn policy() -> Policy {
    // A gateway that allows more tokens per request than OpenAI's 300,000, so that a ~1 MB
    // body of dense scripts passes.
    Policy::openai().with_limits(Limits::openai().with_max_request_tokens(10_000_000))
}

/// In a child process: count every input of `inputs_file` once with `engine`, then five
/// more times; prints `bytes first_ns tokens warm_median_ns`.
fn child_count(engine: &str, inputs_file: &Path) {
    let file: InputsFile =
        serde_json::from_slice(&std::fs::read(inputs_file).expect("inputs written by the parent"))
            .expect("inputs and a warm-up text");
    let inputs = &file.inputs;
    let bytes: usize = inputs.iter().map(String::len).sum();
    // Each engine counts the same warm-up text first, outside the clock: the process has
    // served other traffic (lazy set-up, first-use buffers, code pages), not this text.
    // Then every input once (the first pass), then all of them again five times (warm).
    let run = |count: &dyn Fn(&str) -> usize| {
        black_box(count(black_box(&file.warmup)));
        let (first, tokens) = time(|| inputs.iter().map(|s| count(black_box(s))).sum());
        let mut warm: Vec<u128> = (0..5)
            .map(|_| time(|| inputs.iter().map(|s| count(black_box(s))).sum()).0)
            .collect();
        warm.sort_unstable();
        println!("{bytes} {first} {tokens} {}", warm[2]);
    };
    match engine {
        "embedguard" => {
            let e = embedguard::cl100k();
            run(&|s| e.count(s));
        }
        "tiktoken-rs" => {
            let e = tiktoken_rs::cl100k_base().unwrap();
            run(&|s| e.count_ordinary(s));
        }
        "bpe-openai" => {
            let e = bpe_openai::cl100k_base();
            run(&|s| e.count(s));
        }
        "goliajp-tiktoken" => {
            let e = tiktoken::get_encoding("cl100k_base").unwrap();
            run(&|s| e.count(s));
        }
        _ => panic!("unknown engine {engine}"),
    }
}

/// In a child process: check the body in `body_file` once, then `warm` more times; prints
/// `bytes first_ns warm_median_ns tokens`.
fn child_request(engine: &str, body_file: &Path, warm: usize) {
    let body = std::fs::read(body_file).expect("body written by the parent");
    let policy = policy();
    let run = |body: &[u8]| -> usize {
        match engine {
            "embedguard" => policy.check(body).expect("valid body").usage().total_tokens,
            "serde_json+tiktoken-rs" => naive_check(body),
            _ => panic!("unknown engine {engine}"),
        }
    };
    // Both sides check a small other body before the clock starts, as in the counting
    // protocol: the process has loaded its tokenizer (tiktoken-rs builds its tables, embedguard
    // copies its own onto huge pages) and served other traffic, not these paragraphs.
    let warmup = serde_json::json!({"model": "text-embedding-3-small", "input": [warmup_text()]});
    black_box(run(warmup.to_string().as_bytes()));
    let (first, tokens) = time(|| run(black_box(&body)));
    let mut times: Vec<u128> = (0..warm)
        .map(|_| time(|| run(black_box(&body))).0)
        .collect();
    times.sort_unstable();
    let warm_ns = times.get(times.len() / 2).copied().unwrap_or(first);
    println!("{} {first} {warm_ns} {tokens}", body.len());
}

/// Runs `f`, returning the CPU time this thread spent in it (ns) and its result.
///
/// CPU time, not wall time: on a machine shared with other work, wall time also counts the
/// time this process waited for a core. `$FIRST_PASS_WALL` set: wall time instead.
fn time(f: impl FnOnce() -> usize) -> (u128, usize) {
    if std::env::var_os("FIRST_PASS_WALL").is_some() {
        let start = Instant::now();
        let n = black_box(f());
        return (start.elapsed().as_nanos(), n);
    }
    let start = thread_cpu_ns();
    let n = black_box(f());
    (thread_cpu_ns() - start, n)
}

fn python() -> Option<PathBuf> {
    let py = manifest().join("target/pyvenv/bin/python");
    let ok = Command::new(&py)
        .args(["-c", "import gigatoken, tiktoken"])
        .output()
        .is_ok_and(|o| o.status.success());
    if ok {
        Some(py)
    } else {
        eprintln!(
            "note: {} lacks gigatoken or tiktoken (run `bash benches/first_pass.sh`): \
             measuring the Rust engines only",
            py.display()
        );
        None
    }
}

/// Runs one child and returns the numbers it printed.
fn spawn(cmd: &mut Command) -> Vec<u128> {
    let out = cmd.output().expect("child starts");
    assert!(
        out.status.success(),
        "child failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout)
        .split_whitespace()
        .map(|w| w.parse().expect("numbers"))
        .collect()
}

fn median(v: &mut [f64]) -> f64 {
    v.sort_by(f64::total_cmp);
    v[v.len() / 2]
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    if let Ok(engine) = std::env::var("EMBEDGUARD_FIRST_PASS") {
        return child_count(&engine, Path::new(&args[1]));
    }
    if let Ok(engine) = std::env::var("EMBEDGUARD_FIRST_PASS_REQUEST") {
        return child_request(&engine, Path::new(&args[1]), 10);
    }
    // `cargo bench --no-run` builds this; `cargo test` runs benches with `--bench` absent.
    if !args.iter().any(|a| a == "--bench") {
        return;
    }
    let runs: usize = std::env::var("FIRST_PASS_RUNS")
        .ok()
        .and_then(|r| r.parse().ok())
        .unwrap_or(5);
    let files = corpus();
    let dir = work_dir();
    let exe = std::env::current_exe().unwrap();
    let py = python();
    let mut engines: Vec<&str> = RUST_ENGINES.to_vec();
    if py.is_some() {
        engines.extend(PYTHON_ENGINES);
    }

    // `FIRST_PASS_ONLY=requests`: the request table alone (a minute, where all of them take
    // a quarter of an hour).
    if std::env::var("FIRST_PASS_ONLY").is_ok_and(|only| only == "requests") {
        return requests(&files, &dir, runs, &exe);
    }
    counting(&files, &dir, runs, &exe, &py, &engines);
    requests(&files, &dir, runs, &exe);
}

/// The first-pass, warm and held-out tables.
fn counting(
    files: &[(String, String)],
    dir: &Path,
    runs: usize,
    exe: &Path,
    py: &Option<PathBuf>,
    engines: &[&str],
) {
    let inputs_files = prepare(files, dir, py);
    let (mut speeds, mut warm_speeds) = measure(engines, &inputs_files, runs, exe, py);
    print_table(
        &format!(
            "First pass: each file cut into ~4 KB inputs, each counted once in a fresh process; \
             MB/s of thread CPU time, median of {runs} runs"
        ),
        engines,
        &inputs_files,
        &mut speeds,
    );
    print_table(
        &format!(
            "Warm: the same inputs counted again in the same process (median of 5 passes); \
             MB/s of thread CPU time, median of {runs} runs"
        ),
        engines,
        &inputs_files,
        &mut warm_speeds,
    );

    // Held out: scripts the corpus lacks.
    let held_out = held_out();
    if held_out.is_empty() {
        eprintln!(
            "note: no UDHR texts in target/udhr (`bash benches/first_pass.sh` fetches them): \
             no held-out table"
        );
    } else {
        let held_out_files = prepare(&held_out, dir, py);
        let (mut speeds, _) = measure(engines, &held_out_files, runs, exe, py);
        print_table(
            &format!(
                "Held out, first pass: the UDHR in scripts the corpus lacks (tests/udhr.py), \
                 cut and counted as above; MB/s of thread CPU time, median of {runs} runs"
            ),
            engines,
            &held_out_files,
            &mut speeds,
        );
    }
}

/// The request table.
fn requests(files: &[(String, String)], dir: &Path, runs: usize, exe: &Path) {
    let body = request_body(files);
    let body_path = dir.join("request.json");
    std::fs::write(&body_path, &body).unwrap();
    let inputs = serde_json::from_slice::<NaiveRequest>(&body).unwrap().input;
    let mut first: BTreeMap<&str, Vec<f64>> = BTreeMap::new();
    let mut warm: BTreeMap<&str, Vec<f64>> = BTreeMap::new();
    let request_engines = ["embedguard", "serde_json+tiktoken-rs"];
    let mut tokens = None;
    for _ in 0..runs {
        for engine in request_engines {
            let v = spawn(
                Command::new(exe)
                    .env("EMBEDGUARD_FIRST_PASS_REQUEST", engine)
                    .arg(&body_path),
            );
            assert_eq!(*tokens.get_or_insert(v[3]), v[3], "{engine} miscounts");
            first
                .entry(engine)
                .or_default()
                .push(v[0] as f64 / v[1] as f64 * 1e3);
            warm.entry(engine)
                .or_default()
                .push(v[0] as f64 / v[2] as f64 * 1e3);
        }
    }
    println!(
        "\nRequest: one body of {} bytes, {} distinct inputs from every corpus file in turn, \
         {} tokens; MB/s of thread CPU time, median of {runs} fresh processes",
        body.len(),
        inputs.len(),
        tokens.unwrap_or(0)
    );
    println!("| pass  | embedguard | serde_json+tiktoken-rs | ratio |");
    println!("|-------|-----------:|-----------------------:|------:|");
    for (label, table) in [("first", &mut first), ("warm", &mut warm)] {
        let ours = median(table.get_mut("embedguard").unwrap());
        let naive = median(table.get_mut("serde_json+tiktoken-rs").unwrap());
        println!(
            "| {label:<5} | {ours:>10.1} | {naive:>22.1} | {:>4.1}x |",
            ours / naive
        );
    }
}

/// Cuts each text into ~4 KB inputs, writes them for the children (`<name>.json` in `dir`)
/// with the reference total, and has gigatoken's ids checked against tiktoken's first.
fn prepare(
    files: &[(String, String)],
    dir: &Path,
    py: &Option<PathBuf>,
) -> Vec<(String, PathBuf, usize, usize)> {
    let script = manifest().join("benches/first_pass.py");
    let vocab = tiktoken_vocab();
    let oracle = tiktoken_rs::cl100k_base().unwrap();
    let mut inputs_files = Vec::new();
    for (name, text) in files {
        let inputs: Vec<String> = cut(text, INPUT_BYTES)
            .into_iter()
            .map(str::to_owned)
            .collect();
        let expected: usize = inputs.iter().map(|s| oracle.count_ordinary(s)).sum();
        let path = dir.join(format!("{name}.json"));
        let file = InputsFile {
            warmup: warmup_text(),
            inputs,
        };
        std::fs::write(&path, serde_json::to_vec(&file).unwrap()).unwrap();
        if let Some(py) = &py {
            // gigatoken must give tiktoken's ids, input by input, before it is timed.
            let status = Command::new(py)
                .arg(&script)
                .args(["verify", path.to_str().unwrap(), vocab.to_str().unwrap()])
                .status()
                .expect("python starts");
            assert!(status.success(), "{name}: gigatoken differs from tiktoken");
        }
        inputs_files.push((name.clone(), path, expected, file.inputs.len()));
    }
    inputs_files
}

/// The UDHR translations in scripts the corpus lacks, one a script, from `target/udhr`
/// (`python3 tests/udhr.py`); none when they are not there.
fn held_out() -> Vec<(String, String)> {
    let dir = manifest().join("target/udhr");
    HELD_OUT
        .iter()
        .filter_map(|code| {
            let text = std::fs::read_to_string(dir.join(format!("{code}.txt"))).ok()?;
            let name = code.split('_').next().unwrap_or(code);
            Some((format!("udhr-{name}"), text))
        })
        .collect()
}

/// Devanagari, Bengali, Tamil, Telugu, Sinhala, Thai, Lao, Khmer, Myanmar, Ethiopic,
/// Georgian, Armenian, Hebrew, Arabic, Hangul, Greek, Cherokee, Yi, Vietnamese.
const HELD_OUT: [&str; 19] = [
    "hin",
    "ben",
    "tam",
    "tel",
    "sin",
    "tha",
    "lao",
    "khm",
    "mya",
    "amh",
    "kat",
    "hye",
    "heb",
    "arb",
    "kor",
    "ell_monotonic",
    "chr_cased",
    "iii",
    "vie",
];

/// MB/s of each fresh run, first pass and warm, by (file, engine).
type Speeds = BTreeMap<(String, String), Vec<f64>>;

/// Runs every engine on every inputs file `runs` times, a fresh process each, engines
/// interleaved within a run; checks every total against tiktoken-rs's.
fn measure(
    engines: &[&str],
    inputs_files: &[(String, PathBuf, usize, usize)],
    runs: usize,
    exe: &Path,
    py: &Option<PathBuf>,
) -> (Speeds, Speeds) {
    let script = manifest().join("benches/first_pass.py");
    let vocab = tiktoken_vocab();
    let mut speeds: BTreeMap<(String, String), Vec<f64>> = BTreeMap::new();
    let mut warm_speeds: BTreeMap<(String, String), Vec<f64>> = BTreeMap::new();
    for run in 0..runs {
        for (name, path, expected, _) in inputs_files {
            // Rotate the order of engines from run to run.
            let mut order = engines.to_vec();
            let shift = run % order.len();
            order.rotate_left(shift);
            for engine in order {
                let mut cmd = if RUST_ENGINES.contains(&engine) {
                    let mut c = Command::new(exe);
                    c.env("EMBEDGUARD_FIRST_PASS", engine).arg(path);
                    c
                } else {
                    let mut c = Command::new(py.as_ref().unwrap());
                    c.arg(&script)
                        .args([engine, path.to_str().unwrap(), vocab.to_str().unwrap()]);
                    c
                };
                let v = spawn(&mut cmd);
                assert_eq!(v[2] as usize, *expected, "{name}: {engine} miscounts");
                let mbs = v[0] as f64 / v[1] as f64 * 1e3;
                speeds
                    .entry((name.clone(), engine.to_owned()))
                    .or_default()
                    .push(mbs);
                warm_speeds
                    .entry((name.clone(), engine.to_owned()))
                    .or_default()
                    .push(v[0] as f64 / v[3] as f64 * 1e3);
            }
        }
    }
    (speeds, warm_speeds)
}

/// Prints one table: a row per corpus file, a column per engine, and ours over the best peer.
fn print_table(
    title: &str,
    engines: &[&str],
    files: &[(String, PathBuf, usize, usize)],
    speeds: &mut BTreeMap<(String, String), Vec<f64>>,
) {
    println!("\n{title}");
    let mut header = format!("| {:<14} | {:>6} |", "corpus file", "inputs");
    for e in engines {
        header += &format!(" {e:>16} |");
    }
    header += " embedguard / best peer |";
    println!("{header}");
    println!(
        "|{}|",
        header
            .split('|')
            .skip(1)
            .filter(|s| !s.is_empty())
            .map(|s| "-".repeat(s.len()))
            .collect::<Vec<_>>()
            .join("|")
    );
    for (name, _, _, n) in files {
        let mut row = format!("| {name:<14} | {n:>6} |");
        let mut ours = 0.0;
        let mut best_peer: f64 = 0.0;
        for e in engines {
            let m = median(speeds.get_mut(&(name.clone(), e.to_string())).unwrap());
            row += &format!(" {m:>16.1} |");
            if *e == "embedguard" {
                ours = m;
            } else {
                best_peer = best_peer.max(m);
            }
        }
        row += &format!(" {:>21.2}x |", ours / best_peer);
        println!("{row}");
    }
}

/// The cl100k vocabulary file tiktoken-rs ships, for gigatoken.
fn tiktoken_vocab() -> PathBuf {
    if let Some(p) = std::env::var_os("EMBEDGUARD_CL100K_TIKTOKEN") {
        return p.into();
    }
    let home = std::env::var_os("CARGO_HOME").map_or_else(
        || PathBuf::from(std::env::var_os("HOME").unwrap_or_default()).join(".cargo"),
        Into::into,
    );
    let src = home.join("registry/src");
    for index in std::fs::read_dir(&src).into_iter().flatten().flatten() {
        let p = index
            .path()
            .join("tiktoken-rs-0.12.1/assets/cl100k_base.tiktoken");
        if p.exists() {
            return p;
        }
    }
    PathBuf::from("cl100k_base.tiktoken")
}
