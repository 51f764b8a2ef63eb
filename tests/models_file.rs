//! The models file: models read from TOML, and every bad file a clear error naming the
//! line, the model and the field, word for word.
#![cfg(feature = "models")]

use std::path::{Path, PathBuf};

use embedguard::Policy;

const QWEN_LIKE: &str = r#"
# A gateway's models.
[[model]]
name = "text-embedding-3-small"
dimensions = 1536
shorten = true

[[model]]
name = "gemini-embedding-001"
aliases = ["gemini-embedding"]
dimensions = 3072
shorten = true
tokenizer = "estimate"
max_input_tokens = 2048
max_inputs = 100

[[model]]
name = "cohere-embed-v3"
dimensions = 1024
tokenizer = "cl100k_base"
max_input_tokens = 512
max_inputs = 96
max_request_tokens = 20000
max_input_bytes = 4096
token_arrays = false
"#;

fn load(text: &str) -> Result<Policy, String> {
    Policy::from_models_toml(text, Path::new(".")).map_err(|e| e.to_string())
}

#[test]
fn a_models_file_defines_every_profile() {
    let policy = load(QWEN_LIKE).unwrap();
    let names: Vec<&str> = policy.models().map(|m| m.name()).collect();
    assert_eq!(
        names,
        [
            "text-embedding-3-small",
            "gemini-embedding-001",
            "cohere-embed-v3"
        ]
    );
    // Only the file's models: no other OpenAI model.
    assert!(policy.model("text-embedding-3-large").is_none());

    let gemini = policy.model("gemini-embedding").unwrap();
    assert_eq!(gemini.name(), "gemini-embedding-001");
    assert_eq!(gemini.native_dimensions(), 3072);
    assert!(gemini.dimensions_allowed());
    assert!(!gemini.exact());
    assert!(!gemini.token_arrays(), "an estimate refuses token arrays");
    let limits = policy.model_limits("gemini-embedding-001").unwrap();
    assert_eq!((limits.max_input_tokens, limits.max_inputs), (2048, 100));
    assert_eq!(limits.max_request_tokens, 300_000);
    assert_eq!(limits.max_input_bytes, 2048 * 32);

    let cohere = policy.model_limits("cohere-embed-v3").unwrap();
    assert_eq!(
        (
            cohere.max_input_tokens,
            cohere.max_inputs,
            cohere.max_request_tokens,
            cohere.max_input_bytes
        ),
        (512, 96, 20_000, 4096)
    );
    assert!(!policy.model("cohere-embed-v3").unwrap().token_arrays());
    let small = policy.model_limits("text-embedding-3-small").unwrap();
    assert_eq!(small.max_input_bytes, 8192 * 128);

    let checked = policy
        .check(br#"{"model":"gemini-embedding","input":["hello world"],"dimensions":768}"#)
        .unwrap();
    assert_eq!((checked.token_counts(), checked.exact()), (&[3][..], false));
    let err = policy
        .check(br#"{"model":"cohere-embed-v3","input":[1,2]}"#)
        .unwrap_err();
    assert_eq!(err.status(), 400);
}

#[test]
fn a_models_file_is_read_from_disk_with_paths_relative_to_it() {
    let dir = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("models_file_disk");
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("models.toml");
    std::fs::write(&path, QWEN_LIKE).unwrap();
    let policy = Policy::from_models_file(&path).unwrap();
    assert_eq!(policy.models().count(), 3);

    // A tokenizer file is looked for beside the models file.
    std::fs::write(
        &path,
        "[[model]]\nname = \"m\"\ndimensions = 8\ntokenizer = \"no/such/tokenizer.json\"\n",
    )
    .unwrap();
    let err = Policy::from_models_file(&path).unwrap_err();
    assert_eq!(err.line(), Some(4));
    assert_eq!(err.field(), Some("tokenizer"));
    assert!(
        err.message()
            .starts_with(&dir.join("no/such/tokenizer.json").display().to_string()),
        "{err}"
    );

    let missing = dir.join("absent.toml");
    let err = Policy::from_models_file(&missing).unwrap_err();
    assert_eq!(err.line(), None);
    assert!(
        err.to_string()
            .starts_with(&format!("{}: ", missing.display())),
        "{err}"
    );
}

#[test]
fn bad_files_are_errors_naming_line_model_and_field() {
    let cases = [
        (
            "[[model]]\nname = \"m\"\ndimensions = 8\ncolour = \"red\"\n",
            "<models>:4: model `m`, field `colour`: unknown field `colour`, expected one of `name`, `aliases`, `dimensions`, `shorten`, `tokenizer`, `max_input_tokens`, `max_inputs`, `max_request_tokens`, `max_input_bytes`, `token_arrays`, `special_tokens`",
        ),
        (
            "[[model]]\nname = \"a\"\ndimensions = 8\n\n[[model]]\nname = \"qwen3\"\ndimensions = 8\nmax_input_tokens = \"lots\"\n",
            "<models>:8: model `qwen3`, field `max_input_tokens`: invalid type: string \"lots\", expected a non-negative integer",
        ),
        (
            "[[model]]\nname = \"m\"\ndimensions = 8\nmax_inputs = -1\n",
            "<models>:4: model `m`, field `max_inputs`: invalid value: integer `-1`, expected a non-negative integer",
        ),
        (
            "[[model]]\nname = \"m\"\ndimensions = 8\nshorten = \"yes\"\n",
            "<models>:4: model `m`, field `shorten`: invalid type: string \"yes\", expected a boolean",
        ),
        (
            "[[model]]\ndimensions = 8\n",
            "<models>:1: field `name`: missing field `name`",
        ),
        (
            "[[model]]\nname = \"m\"\n",
            "<models>:1: model `m`, field `dimensions`: missing field `dimensions`",
        ),
        (
            "[[model]]\nname = \"m\"\ndimensions = 0\n",
            "<models>:3: model `m`, field `dimensions`: must be at least 1",
        ),
        (
            "[[model]]\nname = \"\"\ndimensions = 8\n",
            "<models>:2: field `name`: must not be empty",
        ),
        (
            "[[model]]\nname = \"m\"\ndimensions = 8\ntokenizer = \"estimate\"\ntoken_arrays = true\n",
            "<models>:5: model `m`, field `token_arrays`: an estimate cannot accept token arrays: its ids mean nothing",
        ),
        (
            "[[model]]\nname = \"m\"\ndimensions = 8\nspecial_tokens = false\n",
            "<models>:4: model `m`, field `special_tokens`: applies only to a tokenizer.json tokenizer",
        ),
        (
            "[[model]]\nname = \"m\"\ndimensions = 8\n[[model]]\nname = \"n\"\naliases = [\"m\"]\ndimensions = 8\n",
            "<models>:6: model `n`, field `aliases`: `m` is already a name of model `m`",
        ),
        (
            "[[model]]\nname = \"m\"\ndimensions = 8\n\n[[model]]\nname = \"m\"\ndimensions = 4\n",
            "<models>:6: model `m`, field `name`: `m` is already a name of model `m`",
        ),
        (
            "[[model]]\nname = \"m\"\ndimensions = 8 8\n",
            "<models>:3: model `m`, field `dimensions`: string values must be quoted, expected literal string",
        ),
        (
            "models = 3\n",
            "<models>:1: field `models`: unknown field `models`, expected `model`",
        ),
        ("", "<models>: no model: write each as a [[model]] table"),
        (
            "model = []\n",
            "<models>: no model: write each as a [[model]] table",
        ),
    ];
    for (text, expected) in cases {
        assert_eq!(load(text).err().as_deref(), Some(expected), "{text}");
    }
}

#[test]
fn nothing_of_a_bad_file_is_kept() {
    // The first model is fine, the second is not: the whole file is refused.
    let text = format!("{QWEN_LIKE}\n[[model]]\nname = \"late\"\ndimensions = -3\n");
    let err = Policy::from_models_toml(&text, Path::new(".")).unwrap_err();
    assert_eq!(err.model(), Some("late"));
    assert_eq!(err.field(), Some("dimensions"));
}
