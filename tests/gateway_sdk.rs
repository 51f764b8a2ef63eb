//! End to end: examples/upstream.rs (capped at 96 inputs a call) and examples/gateway.rs
//! on loopback ports, driven by the official OpenAI Python SDK (tests/sdk/test_sdk.py).
//!
//! Needs `python3` with its `venv` module: the test installs the SDK from PyPI into a
//! virtual environment under `target/` on its first run and reuses it afterwards
//! (`EMBEDGUARD_SDK_PYTHON` names another Python that has `openai`). Without them the test
//! fails, saying what is missing; it never skips.
//! The two example binaries are built by a plain `cargo test` (examples are build targets
//! of the test profile), not by `cargo test --test gateway_sdk`; the test finds them
//! beside its own executable and refuses to run binaries older than their sources.

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::Duration;

const GATEWAY_KEY: &str = "sk-gateway-sdktest0001";
const UPSTREAM_KEY: &str = "sk-gateway-upstream0001";
const MAX_BATCH: &str = "96";

/// A child process, killed when the test ends however it ends.
struct Server {
    child: Child,
    url: String,
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// `target/<profile>/examples/<name>`, built by the same `cargo test` run.
fn example(name: &str) -> PathBuf {
    let exe = std::env::current_exe().expect("the test's own path");
    // target/<profile>/deps/gateway_sdk-<hash>
    let profile_dir = exe
        .parent()
        .and_then(Path::parent)
        .expect("the test runs from target/<profile>/deps");
    let path = profile_dir
        .join("examples")
        .join(format!("{name}{}", std::env::consts::EXE_SUFFIX));
    let rebuild = "build the examples with the same profile first (`cargo build --examples`, \
                   with `--release` for `cargo test --release`; a plain `cargo test` builds them)";
    let built = std::fs::metadata(&path)
        .and_then(|m| m.modified())
        .unwrap_or_else(|_| panic!("{} is missing: {rebuild}", path.display()));
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let sources = [
        root.join("Cargo.toml"),
        root.join(format!("examples/{name}.rs")),
    ];
    let newer = sources
        .into_iter()
        .chain(rust_files(&root.join("src")))
        .find(|source| {
            std::fs::metadata(source)
                .and_then(|m| m.modified())
                .is_ok_and(|t| t > built)
        });
    if let Some(source) = newer {
        panic!(
            "{} is older than {}: {rebuild}",
            path.display(),
            source.display()
        );
    }
    path
}

/// Every file under `dir`, recursively.
fn rust_files(dir: &Path) -> Vec<PathBuf> {
    let mut files = Vec::new();
    for entry in std::fs::read_dir(dir).into_iter().flatten().flatten() {
        let path = entry.path();
        if path.is_dir() {
            files.extend(rust_files(&path));
        } else {
            files.push(path);
        }
    }
    files
}

/// Starts an example and waits for its `listening on URL` line.
fn start(name: &str, args: &[&str], envs: &[(&str, &str)]) -> Server {
    let mut child = Command::new(example(name))
        .args(args)
        .envs(envs.iter().copied())
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .unwrap_or_else(|err| panic!("cannot start the {name} example: {err}"));
    let stdout = child.stdout.take().expect("piped stdout");
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        let mut lines = BufReader::new(stdout).lines();
        let first = lines.next().and_then(Result::ok);
        let _ = tx.send(first);
        // Keep draining so the server never blocks on a full pipe.
        lines.for_each(drop);
    });
    let mut server = Server {
        child,
        url: String::new(),
    };
    let line = match rx.recv_timeout(Duration::from_secs(30)) {
        Ok(Some(line)) => line,
        Ok(None) => panic!("the {name} example exited before listening"),
        Err(_) => panic!("the {name} example did not say where it listens within 30 s"),
    };
    server.url = line
        .strip_prefix("listening on ")
        .unwrap_or_else(|| panic!("unexpected first line from {name}: {line}"))
        .to_owned();
    server
}

/// The SDK's pinned range: the major version the scenarios were written against.
const OPENAI_REQUIREMENT: &str = "openai>=1.40,<4";

/// A Python that can import `openai`: `EMBEDGUARD_SDK_PYTHON` if set, otherwise a virtual
/// environment under `target/` (`target/tmp/sdk-venv`), created on the first run with the
/// SDK installed from PyPI and reused afterwards. Fails, saying what is missing, only when
/// that cannot be done (no `python3`, no `venv` module, no network).
fn sdk_python() -> PathBuf {
    if let Some(python) = std::env::var_os("EMBEDGUARD_SDK_PYTHON") {
        let python = PathBuf::from(python);
        if let Err(reason) = sdk_version(&python) {
            panic!("EMBEDGUARD_SDK_PYTHON={}: {reason}", python.display());
        }
        return python;
    }
    let venv = Path::new(env!("CARGO_TARGET_TMPDIR")).join("sdk-venv");
    let python = venv_python(&venv);
    if sdk_version(&python).is_ok() {
        return python;
    }
    // Built beside its final place, then renamed: two test runs at once never see half a
    // venv (a venv's interpreter finds its packages relative to itself, so it can move).
    let building = venv.with_file_name(format!("sdk-venv.building-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&building);
    let how = "This test drives the gateway with the official OpenAI Python SDK, installed \
               into a virtual environment under target/ on its first run; it needs python3 \
               with the venv module (Debian: `apt-get install python3-venv`) and access to \
               PyPI once (or set EMBEDGUARD_SDK_PYTHON to a Python that has `openai`).";
    run_setup(
        Command::new("python3").arg("-m").arg("venv").arg(&building),
        "python3 -m venv",
        how,
    );
    run_setup(
        Command::new(venv_python(&building)).args([
            "-m",
            "pip",
            "install",
            "--quiet",
            "--disable-pip-version-check",
            OPENAI_REQUIREMENT,
        ]),
        "pip install openai",
        how,
    );
    let _ = std::fs::remove_dir_all(&venv);
    if std::fs::rename(&building, &venv).is_err() {
        // Another run finished first: use its venv.
        let _ = std::fs::remove_dir_all(&building);
    }
    if let Err(reason) = sdk_version(&python) {
        panic!(
            "the new virtual environment {}: {reason}\n{how}",
            venv.display()
        );
    }
    python
}

fn venv_python(venv: &Path) -> PathBuf {
    if cfg!(windows) {
        venv.join("Scripts").join("python.exe")
    } else {
        venv.join("bin").join("python")
    }
}

/// Runs one setup step, panicking with its output and `how` if it fails.
fn run_setup(command: &mut Command, what: &str, how: &str) {
    match command.stdin(Stdio::null()).output() {
        Ok(output) if output.status.success() => {}
        Ok(output) => panic!(
            "`{what}` failed ({}):\n{}{}\n{how}",
            output.status,
            String::from_utf8_lossy(&output.stdout),
            String::from_utf8_lossy(&output.stderr)
        ),
        Err(err) => panic!("`{what}` cannot be run: {err}\n{how}"),
    }
}

/// The `openai` version `python` imports, or why it cannot.
fn sdk_version(python: &Path) -> Result<String, String> {
    let output = Command::new(python)
        .args(["-c", "import openai; print(openai.__version__)"])
        .stdin(Stdio::null())
        .output()
        .map_err(|err| format!("{} cannot be run: {err}", python.display()))?;
    if output.status.success() {
        Ok(String::from_utf8_lossy(&output.stdout).trim().to_owned())
    } else {
        Err(format!(
            "{} cannot import openai: {}",
            python.display(),
            String::from_utf8_lossy(&output.stderr).trim()
        ))
    }
}

#[test]
fn openai_python_sdk_through_the_gateway() {
    let python = sdk_python();
    eprintln!(
        "openai SDK {} ({})",
        sdk_version(&python).unwrap_or_default(),
        python.display()
    );

    let upstream = start(
        "upstream",
        &[
            "--listen",
            "127.0.0.1:0",
            "--max-batch",
            MAX_BATCH,
            "--key",
            UPSTREAM_KEY,
        ],
        &[],
    );
    let gateway_args = |extra: &'static [&'static str]| {
        let mut args = vec![
            "--listen",
            "127.0.0.1:0",
            "--upstream",
            &upstream.url,
            "--key",
            "sk-gateway-otherteam01",
            "--key",
            GATEWAY_KEY,
            "--max-batch",
            MAX_BATCH,
            "--concurrency",
            "4",
        ];
        args.extend_from_slice(extra);
        args
    };
    let envs = [
        ("EMBEDGUARD_UPSTREAM_KEY", UPSTREAM_KEY),
        ("NO_PROXY", "127.0.0.1,localhost"),
    ];
    let gateway = start("gateway", &gateway_args(&[]), &envs);
    let second = start(
        "gateway",
        &gateway_args(&["--upstream-without-dimensions", "--truncate"]),
        &envs,
    );

    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/sdk/test_sdk.py");
    let status = Command::new(&python)
        .arg(&script)
        .env("EMBEDGUARD_GATEWAY_URL", &gateway.url)
        .env("EMBEDGUARD_GATEWAY_KEY", GATEWAY_KEY)
        .env("EMBEDGUARD_UPSTREAM_URL", &upstream.url)
        .env("EMBEDGUARD_UPSTREAM_KEY", UPSTREAM_KEY)
        .env("EMBEDGUARD_UPSTREAM_MAX_BATCH", MAX_BATCH)
        .env("EMBEDGUARD_SECOND_GATEWAY_URL", &second.url)
        // The SDK would otherwise pick these up from the machine.
        .env_remove("OPENAI_BASE_URL")
        .env_remove("OPENAI_API_KEY")
        .env("NO_PROXY", "127.0.0.1,localhost")
        .stdin(Stdio::null())
        .status()
        .expect("the SDK's python runs");
    assert!(status.success(), "SDK scenarios failed (see above)");
}
