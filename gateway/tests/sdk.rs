//! End to end: the local upstream (capped at 96 inputs a call) and the gateway on loopback
//! ports, driven by the official OpenAI Python SDK (tests/sdk/test_sdk.py).
//!
//! Needs `python3` with its `venv` module: the test installs the SDK from PyPI into a
//! virtual environment under `target/` on its first run and reuses it afterwards
//! (`EMBEDGUARD_SDK_PYTHON` names another Python that has `openai`). Without them the test
//! fails, saying what is missing; it never skips.

mod common;

use std::path::Path;
use std::process::{Command, Stdio};

use common::{GATEWAY, UPSTREAM, sdk_python, sdk_version, start};

const GATEWAY_KEY: &str = "sk-gateway-sdktest0001";
const UPSTREAM_KEY: &str = "sk-gateway-upstream0001";
const MAX_BATCH: &str = "96";

#[test]
fn openai_python_sdk_through_the_gateway() {
    let python = sdk_python();
    eprintln!(
        "openai SDK {} ({})",
        sdk_version(&python).unwrap_or_default(),
        python.display()
    );

    let upstream = start(
        UPSTREAM,
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
    let envs = [("EMBEDGUARD_UPSTREAM_KEY", UPSTREAM_KEY)];
    let gateway = start(GATEWAY, &gateway_args(&[]), &envs);
    let second = start(
        GATEWAY,
        &gateway_args(&["--upstream-without-dimensions", "--truncate"]),
        &envs,
    );

    let limited = start(GATEWAY, &gateway_args(&["--tpm", "6000"]), &envs);

    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/sdk/test_sdk.py");
    let status = Command::new(&python)
        .arg(&script)
        .env("EMBEDGUARD_GATEWAY_URL", &gateway.url)
        .env("EMBEDGUARD_GATEWAY_KEY", GATEWAY_KEY)
        .env("EMBEDGUARD_UPSTREAM_URL", &upstream.url)
        .env("EMBEDGUARD_UPSTREAM_KEY", UPSTREAM_KEY)
        .env("EMBEDGUARD_UPSTREAM_MAX_BATCH", MAX_BATCH)
        .env("EMBEDGUARD_SECOND_GATEWAY_URL", &second.url)
        .env("EMBEDGUARD_LIMITED_GATEWAY_URL", &limited.url)
        // The SDK would otherwise pick these up from the machine.
        .env_remove("OPENAI_BASE_URL")
        .env_remove("OPENAI_API_KEY")
        .env("NO_PROXY", "127.0.0.1,localhost")
        .stdin(Stdio::null())
        .status()
        .expect("the SDK's python runs");
    assert!(status.success(), "SDK scenarios failed (see above)");
}
