//! `embedguard-gateway --help` says what it does and every option with its default.

use std::process::ExitCode;

use clap::Parser;
use embedguard_gateway::{logging, proxy};

fn main() -> ExitCode {
    let args = proxy::Args::parse();
    let _logs = logging::init();
    let runtime = match tokio::runtime::Runtime::new() {
        Ok(runtime) => runtime,
        Err(err) => {
            eprintln!("embedguard-gateway: cannot start the runtime: {err}");
            return ExitCode::FAILURE;
        }
    };
    match runtime.block_on(proxy::run(args)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(err) => {
            eprintln!("embedguard-gateway: {err}");
            ExitCode::from(2)
        }
    }
}
