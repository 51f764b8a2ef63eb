//! A Python virtual environment under `target/` with one requirement from PyPI, built on the
//! first run and reused afterwards. Shared by the gateway's OpenAI SDK test and the Redis
//! tests (`tests/redis_server/`), which include this file by path.

#![allow(dead_code)] // Each test binary uses its own part of this module.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

/// The interpreter of the virtual environment at `venv`.
pub fn python(venv: &Path) -> PathBuf {
    if cfg!(windows) {
        venv.join("Scripts").join("python.exe")
    } else {
        venv.join("bin").join("python")
    }
}

/// The interpreter of the virtual environment at `venv`, with `requirement` installed unless
/// `ready` already holds for it. Built beside its final place, then renamed: two test runs at
/// once never see half a venv (its interpreter finds its packages relative to itself, so it
/// can move). Panics with the failing step's output and `how` when it cannot be built.
pub fn ensure(venv: &Path, requirement: &str, how: &str, ready: impl Fn(&Path) -> bool) -> PathBuf {
    if ready(&python(venv)) {
        return python(venv);
    }
    let name = venv.file_name().and_then(|n| n.to_str()).unwrap_or("venv");
    let building = venv.with_file_name(format!("{name}.building-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&building);
    run_setup(
        Command::new("python3").arg("-m").arg("venv").arg(&building),
        "python3 -m venv",
        how,
    );
    run_setup(
        Command::new(python(&building)).args([
            "-m",
            "pip",
            "install",
            "--quiet",
            "--disable-pip-version-check",
            requirement,
        ]),
        &format!("pip install {requirement}"),
        how,
    );
    let _ = std::fs::remove_dir_all(venv);
    if std::fs::rename(&building, venv).is_err() {
        // Another run finished first: use its venv.
        let _ = std::fs::remove_dir_all(&building);
    }
    python(venv)
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
