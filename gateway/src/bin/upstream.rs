//! `embedguard-upstream --help` says what it is, what it is not, and every option.

use std::process::ExitCode;

use clap::Parser;
use embedguard_gateway::{local, logging};

fn main() -> ExitCode {
    let args = local::Args::parse();
    let _logs = logging::init();
    let runtime = match tokio::runtime::Runtime::new() {
        Ok(runtime) => runtime,
        Err(err) => {
            eprintln!("embedguard-upstream: cannot start the runtime: {err}");
            return ExitCode::FAILURE;
        }
    };
    match runtime.block_on(local::run(args)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(err) => {
            eprintln!("embedguard-upstream: {err}");
            ExitCode::from(2)
        }
    }
}
