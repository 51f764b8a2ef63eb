//! The house's shape, checked on the source: no two modules import each other (no circle
//! of any length), and the planner is the one bridge from a checked request to the
//! response side (issue 10: `response.rs` and `policy.rs` once imported each other).

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

/// Every module of `src/` and the modules it names with `crate::`.
fn imports() -> BTreeMap<String, BTreeSet<String>> {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut graph = BTreeMap::new();
    let mut files = vec![src.clone()];
    while let Some(path) = files.pop() {
        if path.is_dir() {
            files.extend(std::fs::read_dir(&path).unwrap().map(|e| e.unwrap().path()));
            continue;
        }
        if path.extension().is_none_or(|e| e != "rs") {
            continue;
        }
        let relative = path.strip_prefix(&src).unwrap();
        // A module's files (`tokenizer/mod.rs`, `tokenizer/bpe.rs`) are one module.
        let module = relative
            .components()
            .next()
            .unwrap()
            .as_os_str()
            .to_string_lossy()
            .trim_end_matches(".rs")
            .to_owned();
        if module == "lib" || module == "main" {
            continue;
        }
        let text = std::fs::read_to_string(&path).unwrap();
        let named: &mut BTreeSet<String> = graph.entry(module.clone()).or_default();
        for (at, _) in text.match_indices("crate::") {
            let name: String = text[at + "crate::".len()..]
                .chars()
                .take_while(|c| c.is_ascii_alphanumeric() || *c == '_')
                .collect();
            // Items re-exported at the root (`crate::Checked` in a doc link) are not modules.
            if name != module && name.chars().next().is_some_and(|c| c.is_ascii_lowercase()) {
                named.insert(name);
            }
        }
    }
    graph
}

#[test]
fn no_module_reaches_itself_through_its_imports() {
    let graph = imports();
    assert!(graph.len() > 10, "modules found: {:?}", graph.keys());
    for start in graph.keys() {
        // Depth-first over the imports, with an explicit stack, keeping the path.
        let mut stack = vec![(start.clone(), vec![start.clone()])];
        let mut seen = BTreeSet::new();
        while let Some((module, path)) = stack.pop() {
            for next in graph.get(&module).into_iter().flatten() {
                assert!(
                    next != start,
                    "a circle of imports: {} -> {next}",
                    path.join(" -> ")
                );
                if seen.insert(next.clone()) {
                    let mut longer = path.clone();
                    longer.push(next.clone());
                    stack.push((next.clone(), longer));
                }
            }
        }
    }
}

#[test]
fn the_planner_is_the_one_bridge_to_the_response_side() {
    let graph = imports();
    let response = &graph["response"];
    for request_side in ["policy", "input", "json", "profile", "plan"] {
        assert!(
            !response.contains(request_side),
            "response.rs imports {request_side}: {response:?}"
        );
    }
    assert!(graph["plan"].contains("response") && graph["plan"].contains("policy"));
    assert!(!graph["policy"].contains("response"));
}
