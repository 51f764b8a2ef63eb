//! Every case of the contract's conformance file, through `Policy::openai().check`.
//!
//! `tests/data/cases.jsonl` is a copy of `shared/spec/cases.jsonl`: one JSON object a line,
//! `{"name", "body", "expect"}`, where `expect` is either
//! `{"status":200,"token_counts":[..],"usage":{..}}` or `{"status":4xx,"error":{..}}`.

use embedguard::Policy;
use serde_json::Value;

#[test]
fn every_conformance_case_passes() {
    let cases = include_str!("data/cases.jsonl");
    let policy = Policy::openai();
    let mut failures = Vec::new();
    let mut seen = 0;
    for line in cases.lines().filter(|l| !l.trim().is_empty()) {
        let case: Value = serde_json::from_str(line).expect("case line is JSON");
        let name = case["name"].as_str().expect("name");
        let body = case["body"].as_str().expect("body");
        let expect = &case["expect"];
        seen += 1;
        let got = match policy.check(body.as_bytes()) {
            Ok(checked) => serde_json::json!({
                "status": 200,
                "token_counts": checked.token_counts(),
                "usage": checked.usage(),
            }),
            Err(err) => {
                let envelope: Value =
                    serde_json::from_str(&err.to_json()).expect("envelope is JSON");
                serde_json::json!({ "status": err.status(), "error": envelope["error"] })
            }
        };
        if &got != expect {
            let show = |v: &Value| v.to_string().chars().take(400).collect::<String>();
            failures.push(format!(
                "{name}:\n  expected {}\n  got      {}",
                show(expect),
                show(&got)
            ));
        }
    }
    assert!(seen >= 70, "only {seen} cases read");
    assert!(
        failures.is_empty(),
        "{} of {seen} cases fail:\n{}",
        failures.len(),
        failures.join("\n")
    );
}
