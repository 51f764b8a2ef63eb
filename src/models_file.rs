//! The models file: a gateway's models written in TOML, read into profiles (feature
//! `models`). All or nothing: the first problem is an error naming the line, the model
//! and the field, and no model of a bad file is kept.

use std::collections::HashMap;
use std::fmt;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use serde::Deserialize;
use toml::Spanned;

use crate::estimate::Estimate;
use crate::profile::{Model, cl100k_base};
use crate::tokens::Tokenizer;

/// A models file that could not be used: where, which model, which field, and why.
///
/// ```
/// let err = embedguard::Policy::from_models_toml(
///     "[[model]]\nname = \"m\"\ndimensions = 8\ncolour = \"red\"\n",
///     std::path::Path::new("."),
/// )
/// .unwrap_err();
/// assert_eq!((err.line(), err.model(), err.field()), (Some(4), Some("m"), Some("colour")));
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ModelsFileError {
    path: String,
    line: Option<usize>,
    model: Option<String>,
    field: Option<String>,
    message: String,
}

impl ModelsFileError {
    /// The file, as named when it was loaded (`<models>` for text given directly).
    pub fn path(&self) -> &str {
        &self.path
    }

    /// The line (1-based), when the problem has one.
    pub fn line(&self) -> Option<usize> {
        self.line
    }

    /// The model's name, when the problem is inside a `[[model]]` that has one.
    pub fn model(&self) -> Option<&str> {
        self.model.as_deref()
    }

    /// The field, when the problem is one field's.
    pub fn field(&self) -> Option<&str> {
        self.field.as_deref()
    }

    /// What is wrong.
    pub fn message(&self) -> &str {
        &self.message
    }
}

impl fmt::Display for ModelsFileError {
    /// `PATH:LINE: model `NAME`, field `FIELD`: MESSAGE`, leaving out what is not known.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.path)?;
        if let Some(line) = self.line {
            write!(f, ":{line}")?;
        }
        f.write_str(": ")?;
        match (&self.model, &self.field) {
            (Some(model), Some(field)) => write!(f, "model `{model}`, field `{field}`: ")?,
            (Some(model), None) => write!(f, "model `{model}`: ")?,
            (None, Some(field)) => write!(f, "field `{field}`: ")?,
            (None, None) => {}
        }
        f.write_str(&self.message)
    }
}

impl std::error::Error for ModelsFileError {}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawFile {
    model: Vec<RawModel>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawModel {
    name: Spanned<String>,
    #[serde(default)]
    aliases: Vec<Spanned<String>>,
    dimensions: Spanned<usize>,
    #[serde(default)]
    shorten: bool,
    tokenizer: Option<Spanned<String>>,
    max_input_tokens: Option<usize>,
    max_inputs: Option<usize>,
    max_request_tokens: Option<usize>,
    max_input_bytes: Option<usize>,
    token_arrays: Option<Spanned<bool>>,
    special_tokens: Option<Spanned<bool>>,
}

/// Reads the models of a models file; tokenizer paths are relative to the file.
pub(crate) fn load(path: &Path) -> Result<Vec<Model>, ModelsFileError> {
    let shown = path.display().to_string();
    let text = std::fs::read_to_string(path).map_err(|e| ModelsFileError {
        path: shown.clone(),
        line: None,
        model: None,
        field: None,
        message: e.to_string(),
    })?;
    let dir = path.parent().unwrap_or(Path::new("."));
    parse(&text, &shown, dir)
}

/// Reads the models of models-file text; tokenizer paths are relative to `dir`.
pub(crate) fn parse(text: &str, path: &str, dir: &Path) -> Result<Vec<Model>, ModelsFileError> {
    let at = |span: std::ops::Range<usize>, field: Option<&str>, message: String| {
        let offset = span.start.min(text.len());
        ModelsFileError {
            path: path.to_owned(),
            line: Some(line_of(text, offset)),
            model: model_around(text, offset),
            field: field.map(str::to_owned).or_else(|| key_at(text, offset)),
            message,
        }
    };
    let file: RawFile = toml::from_str(text).map_err(|e| {
        if e.message().starts_with("missing field `model`") {
            return no_model(path);
        }
        // serde names Rust types; a file's author reads TOML.
        let message = e
            .message()
            .trim_end()
            .replace("expected usize", "expected a non-negative integer");
        let field = message
            .strip_prefix("missing field `")
            .and_then(|rest| rest.split('`').next())
            .map(str::to_owned);
        match e.span() {
            Some(span) => {
                let mut err = at(span, field.as_deref(), message);
                if err.field.as_deref() == Some("model") && err.model.is_none() {
                    err.field = None;
                }
                err
            }
            None => ModelsFileError {
                path: path.to_owned(),
                line: None,
                model: None,
                field,
                message,
            },
        }
    })?;
    if file.model.is_empty() {
        return Err(no_model(path));
    }
    let mut tokenizers: HashMap<PathBuf, Arc<dyn Tokenizer>> = HashMap::new();
    let mut names: HashMap<String, String> = HashMap::new();
    let mut models = Vec::with_capacity(file.model.len());
    for raw in file.model {
        let name = raw.name.get_ref().clone();
        let fail = |span: std::ops::Range<usize>, field: &str, message: String| ModelsFileError {
            path: path.to_owned(),
            line: Some(line_of(text, span.start.min(text.len()))),
            model: Some(name.clone()).filter(|n| !n.is_empty()),
            field: Some(field.to_owned()),
            message,
        };
        if name.is_empty() {
            return Err(fail(
                raw.name.span(),
                "name",
                "must not be empty".to_owned(),
            ));
        }
        for (label, span, field) in std::iter::once((&name, raw.name.span(), "name")).chain(
            raw.aliases
                .iter()
                .map(|alias| (alias.get_ref(), alias.span(), "aliases")),
        ) {
            if let Some(owner) = names.get(label) {
                return Err(fail(
                    span,
                    field,
                    format!("`{label}` is already a name of model `{owner}`"),
                ));
            }
            names.insert(label.clone(), name.clone());
        }
        if *raw.dimensions.get_ref() == 0 {
            return Err(fail(
                raw.dimensions.span(),
                "dimensions",
                "must be at least 1".to_owned(),
            ));
        }
        let special_tokens = raw.special_tokens.as_ref().map(|s| *s.get_ref());
        let tokenizer = match &raw.tokenizer {
            None => cl100k_base(),
            Some(spec) => match spec.get_ref().as_str() {
                "cl100k_base" => cl100k_base(),
                "estimate" => Arc::new(Estimate::new()),
                file => {
                    let file = dir.join(file);
                    match tokenizers.get(&file) {
                        Some(shared) if special_tokens.is_none() => shared.clone(),
                        _ => {
                            let loaded = load_tokenizer_file(&file, special_tokens.unwrap_or(true))
                                .map_err(|message| fail(spec.span(), "tokenizer", message))?;
                            if special_tokens.is_none() {
                                tokenizers.insert(file, loaded.clone());
                            }
                            loaded
                        }
                    }
                }
            },
        };
        let is_file = raw
            .tokenizer
            .as_ref()
            .is_some_and(|t| !matches!(t.get_ref().as_str(), "cl100k_base" | "estimate"));
        if let Some(special) = &raw.special_tokens {
            if !is_file {
                return Err(fail(
                    special.span(),
                    "special_tokens",
                    "applies only to a tokenizer.json tokenizer".to_owned(),
                ));
            }
        }
        let token_arrays = match &raw.token_arrays {
            Some(flag) if *flag.get_ref() && !tokenizer.exact() => {
                return Err(fail(
                    flag.span(),
                    "token_arrays",
                    "an estimate cannot accept token arrays: its ids mean nothing".to_owned(),
                ));
            }
            Some(flag) => *flag.get_ref(),
            None => tokenizer.exact(),
        };
        let mut model = Model::new(name.clone(), *raw.dimensions.get_ref())
            .with_dimensions(raw.shorten)
            .with_tokenizer(tokenizer)
            .with_token_arrays(token_arrays);
        for alias in raw.aliases {
            model = model.with_alias(alias.into_inner());
        }
        if let Some(n) = raw.max_input_tokens {
            model = model.with_max_input_tokens(n);
        }
        if let Some(n) = raw.max_inputs {
            model = model.with_max_inputs(n);
        }
        if let Some(n) = raw.max_request_tokens {
            model = model.with_max_request_tokens(n);
        }
        if let Some(n) = raw.max_input_bytes {
            model = model.with_max_input_bytes(n);
        }
        models.push(model);
    }
    Ok(models)
}

/// A `tokenizer.json`, counted with or without the special tokens its post-processor adds.
#[cfg(feature = "hf")]
fn load_tokenizer_file(path: &Path, special_tokens: bool) -> Result<Arc<dyn Tokenizer>, String> {
    match crate::hf::HfTokenizer::from_file(path) {
        Ok(tokenizer) if special_tokens => Ok(Arc::new(tokenizer)),
        Ok(tokenizer) => Ok(Arc::new(tokenizer.without_special_tokens())),
        // The message starts with the path, as every message of this file does.
        Err(crate::hf::HfError::Read { source, .. }) => {
            Err(format!("{}: {source}", path.display()))
        }
        Err(err) => Err(format!("{}: {err}", path.display())),
    }
}

/// A `tokenizer.json`, counted with or without the special tokens its post-processor adds.
#[cfg(not(feature = "hf"))]
#[allow(clippy::unnecessary_wraps)]
fn load_tokenizer_file(path: &Path, _special_tokens: bool) -> Result<Arc<dyn Tokenizer>, String> {
    Err(format!(
        "{}: tokenizer files need the `hf` feature, and this build has none",
        path.display()
    ))
}

fn no_model(path: &str) -> ModelsFileError {
    ModelsFileError {
        path: path.to_owned(),
        line: None,
        model: None,
        field: None,
        message: "no model: write each as a [[model]] table".to_owned(),
    }
}

/// The 1-based line of `offset`.
fn line_of(text: &str, offset: usize) -> usize {
    1 + text.as_bytes()[..offset]
        .iter()
        .filter(|&&b| b == b'\n')
        .count()
}

/// The name of the `[[model]]` whose block holds `offset`, when it has a `name = "..."`
/// line.
fn model_around(text: &str, offset: usize) -> Option<String> {
    let header = |line: &str| {
        let line = line.trim();
        line.starts_with("[[")
            && line
                .trim_start_matches('[')
                .trim_start()
                .starts_with("model")
    };
    let mut start = None;
    let mut pos = 0;
    for line in text.split_inclusive('\n') {
        if pos > offset {
            break;
        }
        if header(line) {
            start = Some(pos);
        }
        pos += line.len();
    }
    let block = &text[start?..];
    for (i, line) in block.split_inclusive('\n').enumerate() {
        if i > 0 && header(line) {
            break;
        }
        let Some(rest) = line.trim().strip_prefix("name") else {
            continue;
        };
        let Some(value) = rest.trim_start().strip_prefix('=') else {
            continue;
        };
        let value = value.trim();
        if let Some(quoted) = value.strip_prefix('"') {
            return quoted.split('"').next().map(str::to_owned);
        }
    }
    None
}

/// The key of the `key = value` line holding `offset`, when there is one.
fn key_at(text: &str, offset: usize) -> Option<String> {
    let line_start = text[..offset].rfind('\n').map_or(0, |i| i + 1);
    let line = &text[line_start..];
    let line = line.split('\n').next().unwrap_or_default();
    let (key, _) = line.split_once('=')?;
    let key = key.trim().rsplit('.').next()?.trim().trim_matches('"');
    (!key.is_empty() && !key.contains(['[', ']', '{', '}'])).then(|| key.to_owned())
}
