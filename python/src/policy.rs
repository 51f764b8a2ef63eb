//! Limits, models, policies, and the request check.

use std::hash::{DefaultHasher, Hash, Hasher};
use std::sync::Arc;

use pyo3::exceptions::{PyTypeError, PyValueError};
use pyo3::prelude::*;
use pyo3::pybacked::PyBackedBytes;
use pyo3::types::{PyDict, PyList, PyString};

use crate::convert::{quote, run, type_name};
use crate::errors::{request_error, value_error};

self_cell::self_cell!(
    /// A checked request together with the body its texts borrow from.
    pub struct CheckedCell {
        owner: PyBackedBytes,
        #[covariant]
        dependent: CheckedRequest,
    }
);

type CheckedRequest<'a> = embedguard::Checked<'a>;

/// The limits a ``Policy`` enforces; every one is configurable. Immutable: ``replace``
/// makes a changed copy.
///
/// >>> from embedguard import Limits
/// >>> Limits()
/// Limits(max_inputs=2048, max_input_tokens=8192, max_request_tokens=300000, max_body_bytes=67108864, max_depth=128)
/// >>> Limits(max_inputs=96).replace(max_request_tokens=20_000).max_request_tokens
/// 20000
/// >>> Limits() == Limits.openai()
/// True
#[pyclass(module = "embedguard", frozen, eq)]
#[derive(Clone, PartialEq)]
pub struct Limits {
    pub inner: embedguard::Limits,
}

#[pymethods]
impl Limits {
    #[new]
    #[pyo3(signature = (
        *,
        max_inputs = embedguard::MAX_INPUTS,
        max_input_tokens = embedguard::MAX_INPUT_TOKENS,
        max_request_tokens = embedguard::MAX_REQUEST_TOKENS,
        max_body_bytes = embedguard::MAX_BODY_BYTES,
        max_depth = embedguard::MAX_DEPTH,
    ))]
    fn new(
        max_inputs: usize,
        max_input_tokens: usize,
        max_request_tokens: usize,
        max_body_bytes: usize,
        max_depth: usize,
    ) -> Self {
        Limits {
            inner: embedguard::Limits::openai()
                .with_max_inputs(max_inputs)
                .with_max_input_tokens(max_input_tokens)
                .with_max_request_tokens(max_request_tokens)
                .with_max_body_bytes(max_body_bytes)
                .with_max_depth(max_depth),
        }
    }

    /// OpenAI's limits: 2048 inputs, 8192 tokens per input, 300,000 per request; and
    /// embedguard's for the body (64 MiB) and JSON nesting (128).
    #[staticmethod]
    fn openai() -> Self {
        Limits {
            inner: embedguard::Limits::openai(),
        }
    }

    /// A copy with the given limits changed.
    #[pyo3(signature = (
        *,
        max_inputs = None,
        max_input_tokens = None,
        max_request_tokens = None,
        max_body_bytes = None,
        max_depth = None,
    ))]
    fn replace(
        &self,
        max_inputs: Option<usize>,
        max_input_tokens: Option<usize>,
        max_request_tokens: Option<usize>,
        max_body_bytes: Option<usize>,
        max_depth: Option<usize>,
    ) -> Self {
        Limits {
            inner: changed(
                self.inner,
                max_inputs,
                max_input_tokens,
                max_request_tokens,
                max_body_bytes,
                max_depth,
            ),
        }
    }

    /// The most inputs a request may have (array forms).
    #[getter]
    fn max_inputs(&self) -> usize {
        self.inner.max_inputs()
    }

    /// The most tokens one input may have.
    #[getter]
    fn max_input_tokens(&self) -> usize {
        self.inner.max_input_tokens()
    }

    /// The most tokens a request may have, summed over its inputs.
    #[getter]
    fn max_request_tokens(&self) -> usize {
        self.inner.max_request_tokens()
    }

    /// The largest body, in bytes.
    #[getter]
    fn max_body_bytes(&self) -> usize {
        self.inner.max_body_bytes()
    }

    /// The deepest JSON nesting allowed anywhere in the body (the top object is 1).
    #[getter]
    fn max_depth(&self) -> usize {
        self.inner.max_depth()
    }

    fn __hash__(&self) -> u64 {
        let l = &self.inner;
        let mut h = DefaultHasher::new();
        (
            l.max_inputs(),
            l.max_input_tokens(),
            l.max_request_tokens(),
            l.max_body_bytes(),
            l.max_depth(),
        )
            .hash(&mut h);
        h.finish()
    }

    pub fn __repr__(&self) -> String {
        let l = &self.inner;
        format!(
            "Limits(max_inputs={}, max_input_tokens={}, max_request_tokens={}, max_body_bytes={}, max_depth={})",
            l.max_inputs(),
            l.max_input_tokens(),
            l.max_request_tokens(),
            l.max_body_bytes(),
            l.max_depth()
        )
    }
}

fn changed(
    limits: embedguard::Limits,
    max_inputs: Option<usize>,
    max_input_tokens: Option<usize>,
    max_request_tokens: Option<usize>,
    max_body_bytes: Option<usize>,
    max_depth: Option<usize>,
) -> embedguard::Limits {
    let mut l = limits;
    if let Some(n) = max_inputs {
        l = l.with_max_inputs(n);
    }
    if let Some(n) = max_input_tokens {
        l = l.with_max_input_tokens(n);
    }
    if let Some(n) = max_request_tokens {
        l = l.with_max_request_tokens(n);
    }
    if let Some(n) = max_body_bytes {
        l = l.with_max_body_bytes(n);
    }
    if let Some(n) = max_depth {
        l = l.with_max_depth(n);
    }
    l
}

/// An embedding model a policy accepts: its name and aliases, native vector size,
/// whether ``dimensions`` may shorten it, its tokenizer (``"cl100k_base"``, exact, or
/// ``"estimate"``, an upper-bound estimate for models whose tokenizer is not built in),
/// whether token arrays are accepted, and its own limits (``None``: the policy's).
///
/// >>> from embedguard import Model
/// >>> model = Model("bge-m3", 1024, aliases=["bge"], max_input_tokens=8192)
/// >>> model.answers_to("bge"), model.native_dimensions, model.dimensions_allowed, model.exact
/// (True, 1024, False, True)
/// >>> Model("gemini-embedding-001", 3072, dimensions=True, tokenizer="estimate").exact
/// False
#[pyclass(module = "embedguard", frozen)]
#[derive(Clone)]
pub struct Model {
    pub inner: embedguard::Model,
}

#[pymethods]
impl Model {
    #[new]
    #[pyo3(signature = (
        name,
        native_dimensions,
        *,
        dimensions = false,
        aliases = None,
        tokenizer = "cl100k_base",
        token_arrays = true,
        max_inputs = None,
        max_input_tokens = None,
        max_request_tokens = None,
        max_input_bytes = None,
    ))]
    #[allow(clippy::too_many_arguments)]
    fn new(
        name: String,
        native_dimensions: usize,
        dimensions: bool,
        aliases: Option<&Bound<'_, PyAny>>,
        tokenizer: &str,
        token_arrays: bool,
        max_inputs: Option<usize>,
        max_input_tokens: Option<usize>,
        max_request_tokens: Option<usize>,
        max_input_bytes: Option<usize>,
    ) -> PyResult<Self> {
        let mut inner = embedguard::Model::new(name, native_dimensions)
            .with_dimensions(dimensions)
            .with_token_arrays(token_arrays);
        match tokenizer {
            "cl100k_base" => {}
            "estimate" => inner = inner.with_tokenizer(Arc::new(embedguard::Estimate::new())),
            other => {
                return Err(PyValueError::new_err(format!(
                    "tokenizer is 'cl100k_base' or 'estimate', not {}",
                    quote(other)
                )));
            }
        }
        if let Some(aliases) = aliases {
            for alias in strings(aliases, "aliases")? {
                inner = inner.with_alias(alias);
            }
        }
        if let Some(n) = max_inputs {
            inner = inner.with_max_inputs(n);
        }
        if let Some(n) = max_input_tokens {
            inner = inner.with_max_input_tokens(n);
        }
        if let Some(n) = max_request_tokens {
            inner = inner.with_max_request_tokens(n);
        }
        if let Some(n) = max_input_bytes {
            inner = inner.with_max_input_bytes(n);
        }
        Ok(Model { inner })
    }

    /// OpenAI's three embedding models.
    #[staticmethod]
    fn openai() -> Vec<Model> {
        embedguard::Model::openai()
            .into_iter()
            .map(|inner| Model { inner })
            .collect()
    }

    /// The model's own name.
    #[getter]
    fn name(&self) -> &str {
        self.inner.name()
    }

    /// The other names clients may use.
    #[getter]
    fn aliases(&self) -> Vec<String> {
        self.inner.aliases().to_vec()
    }

    /// The size of the vectors it returns when ``dimensions`` is absent.
    #[getter]
    fn native_dimensions(&self) -> usize {
        self.inner.native_dimensions()
    }

    /// Whether requests may ask for shorter vectors with ``dimensions``.
    #[getter]
    fn dimensions_allowed(&self) -> bool {
        self.inner.dimensions_allowed()
    }

    /// The tokenizer's name (``"cl100k_base"``, ``"estimate"``).
    #[getter]
    fn tokenizer(&self) -> String {
        self.inner.tokenizer().name().to_owned()
    }

    /// Whether its counts are exact (not estimates).
    #[getter]
    fn exact(&self) -> bool {
        self.inner.exact()
    }

    /// Whether token-array inputs are accepted.
    #[getter]
    fn token_arrays(&self) -> bool {
        self.inner.token_arrays()
    }

    /// The model's own most inputs a request, or ``None`` (the policy's).
    #[getter]
    fn max_inputs(&self) -> Option<usize> {
        self.inner.max_inputs()
    }

    /// The model's context: most tokens an input, or ``None`` (the policy's).
    #[getter]
    fn max_input_tokens(&self) -> Option<usize> {
        self.inner.max_input_tokens()
    }

    /// The model's most tokens a request, or ``None`` (the policy's).
    #[getter]
    fn max_request_tokens(&self) -> Option<usize> {
        self.inner.max_request_tokens()
    }

    /// The longest text counted at all, in bytes, or ``None`` (derived from the limit).
    #[getter]
    fn max_input_bytes(&self) -> Option<usize> {
        self.inner.max_input_bytes()
    }

    /// Whether ``name`` is this model's name or one of its aliases.
    fn answers_to(&self, name: &str) -> bool {
        self.inner.answers_to(name)
    }

    fn __repr__(&self) -> String {
        format!(
            "Model({}, {}, dimensions={}, tokenizer={})",
            quote(self.inner.name()),
            self.inner.native_dimensions(),
            if self.inner.dimensions_allowed() {
                "True"
            } else {
                "False"
            },
            quote(self.inner.tokenizer().name())
        )
    }
}

/// The strings of an iterable of ``str`` (a lone ``str`` is refused).
fn strings(obj: &Bound<'_, PyAny>, what: &str) -> PyResult<Vec<String>> {
    if obj.is_instance_of::<PyString>() {
        return Err(PyTypeError::new_err(format!(
            "{what} is an iterable of str, not a str"
        )));
    }
    let mut out = Vec::new();
    for item in obj.try_iter()? {
        let item = item?;
        match item.cast::<PyString>() {
            Ok(s) => out.push(s.to_cow()?.into_owned()),
            Err(_) => {
                return Err(PyTypeError::new_err(format!(
                    "{what}[{}] is {}, not str",
                    out.len(),
                    type_name(&item)
                )));
            }
        }
    }
    Ok(out)
}

fn over_limit(value: &str) -> PyResult<embedguard::OverLimit> {
    match value {
        "reject" => Ok(embedguard::OverLimit::Reject),
        "truncate" => Ok(embedguard::OverLimit::Truncate),
        other => Err(PyValueError::new_err(format!(
            "over_limit is 'reject' or 'truncate', not {other:?}"
        ))),
    }
}

/// What a gateway accepts: models, limits, what to do with an input over the per-input
/// limit, and non-OpenAI members let through. Immutable; the ``with_*`` methods make
/// changed copies. The entry point: ``check``.
///
/// >>> from embedguard import Policy
/// >>> checked = Policy.openai().check(b'{"model":"text-embedding-3-small","input":["hello world","h"]}')
/// >>> checked.token_counts, checked.usage.total_tokens
/// ([2, 1], 3)
///
/// Limits as keyword arguments (or a ``Limits``), and truncation instead of rejection:
///
/// >>> policy = Policy.openai(max_input_tokens=2, over_limit="truncate")
/// >>> checked = policy.check(b'{"model":"text-embedding-3-small","input":["hello big world","hi"]}')
/// >>> checked.token_counts, checked.truncated, checked.inputs
/// ([2, 1], [0], ['hello big', 'hi'])
///
/// Your own models:
///
/// >>> from embedguard import Model
/// >>> policy = Policy.empty().with_model(Model("bge-m3", 1024, aliases=["bge"]))
/// >>> policy.check(b'{"model":"bge","input":"a"}').model_spec
/// Model('bge-m3', 1024, dimensions=False, tokenizer='cl100k_base')
#[pyclass(module = "embedguard", frozen)]
#[derive(Clone)]
pub struct Policy {
    inner: embedguard::Policy,
    over_limit: &'static str,
}

#[pymethods]
impl Policy {
    /// OpenAI's three embedding models (``text-embedding-3-small``, ``-3-large``,
    /// ``text-embedding-ada-002``) and OpenAI's limits, changed by the keyword arguments.
    #[staticmethod]
    #[pyo3(signature = (
        *,
        limits = None,
        max_inputs = None,
        max_input_tokens = None,
        max_request_tokens = None,
        max_body_bytes = None,
        max_depth = None,
        over_limit = "reject",
        allow_members = None,
    ))]
    #[allow(clippy::too_many_arguments)]
    fn openai(
        limits: Option<&Limits>,
        max_inputs: Option<usize>,
        max_input_tokens: Option<usize>,
        max_request_tokens: Option<usize>,
        max_body_bytes: Option<usize>,
        max_depth: Option<usize>,
        over_limit: &str,
        allow_members: Option<&Bound<'_, PyAny>>,
    ) -> PyResult<Self> {
        Policy::configured(
            embedguard::Policy::openai(),
            limits,
            [
                max_inputs,
                max_input_tokens,
                max_request_tokens,
                max_body_bytes,
                max_depth,
            ],
            over_limit,
            allow_members,
        )
    }

    /// A policy with no models yet (add them with ``with_model``), otherwise as ``openai``.
    #[staticmethod]
    #[pyo3(signature = (
        *,
        limits = None,
        max_inputs = None,
        max_input_tokens = None,
        max_request_tokens = None,
        max_body_bytes = None,
        max_depth = None,
        over_limit = "reject",
        allow_members = None,
    ))]
    #[allow(clippy::too_many_arguments)]
    fn empty(
        limits: Option<&Limits>,
        max_inputs: Option<usize>,
        max_input_tokens: Option<usize>,
        max_request_tokens: Option<usize>,
        max_body_bytes: Option<usize>,
        max_depth: Option<usize>,
        over_limit: &str,
        allow_members: Option<&Bound<'_, PyAny>>,
    ) -> PyResult<Self> {
        Policy::configured(
            embedguard::Policy::empty(),
            limits,
            [
                max_inputs,
                max_input_tokens,
                max_request_tokens,
                max_body_bytes,
                max_depth,
            ],
            over_limit,
            allow_members,
        )
    }

    /// The models of a models file (TOML: one ``[[model]]`` table a model, with its
    /// ``name``, ``dimensions``, ``tokenizer`` — ``"cl100k_base"``, ``"estimate"`` or a
    /// HuggingFace ``tokenizer.json`` path, relative to the file — and its limits), and the
    /// policy-wide settings as in ``openai``. Raises ``ModelsFileError`` naming the line, the
    /// model and the field; ``OSError`` is not raised, an unreadable file is a
    /// ``ModelsFileError`` too.
    #[staticmethod]
    #[pyo3(signature = (
        path,
        *,
        limits = None,
        max_inputs = None,
        max_input_tokens = None,
        max_request_tokens = None,
        max_body_bytes = None,
        max_depth = None,
        over_limit = "reject",
        allow_members = None,
    ))]
    #[allow(clippy::too_many_arguments)]
    fn from_models_file(
        py: Python<'_>,
        path: std::path::PathBuf,
        limits: Option<&Limits>,
        max_inputs: Option<usize>,
        max_input_tokens: Option<usize>,
        max_request_tokens: Option<usize>,
        max_body_bytes: Option<usize>,
        max_depth: Option<usize>,
        over_limit: &str,
        allow_members: Option<&Bound<'_, PyAny>>,
    ) -> PyResult<Self> {
        let base = py
            .detach(|| embedguard::Policy::from_models_file(&path))
            .map_err(|e| value_error(py, "ModelsFileError", e.to_string()))?;
        Policy::configured(
            base,
            limits,
            [
                max_inputs,
                max_input_tokens,
                max_request_tokens,
                max_body_bytes,
                max_depth,
            ],
            over_limit,
            allow_members,
        )
    }

    /// ``from_models_file`` for text in hand; tokenizer paths are relative to ``dir``.
    ///
    /// >>> from embedguard import Policy
    /// >>> policy = Policy.from_models_toml('''
    /// ... [[model]]
    /// ... name = "gemini-embedding-001"
    /// ... dimensions = 3072
    /// ... shorten = true
    /// ... tokenizer = "estimate"
    /// ... max_input_tokens = 2048
    /// ... ''')
    /// >>> checked = policy.check(b'{"model":"gemini-embedding-001","input":"hello world"}')
    /// >>> checked.token_counts, checked.exact
    /// ([3], False)
    #[staticmethod]
    #[pyo3(signature = (text, dir = None, *, limits = None, over_limit = "reject", allow_members = None))]
    fn from_models_toml(
        py: Python<'_>,
        text: &str,
        dir: Option<std::path::PathBuf>,
        limits: Option<&Limits>,
        over_limit: &str,
        allow_members: Option<&Bound<'_, PyAny>>,
    ) -> PyResult<Self> {
        let dir = dir.unwrap_or_else(|| std::path::PathBuf::from("."));
        let base = embedguard::Policy::from_models_toml(text, &dir)
            .map_err(|e| value_error(py, "ModelsFileError", e.to_string()))?;
        Policy::configured(base, limits, [None; 5], over_limit, allow_members)
    }

    /// A copy with this model added, replacing any model of the same name.
    fn with_model(&self, model: &Model) -> Self {
        Policy {
            inner: self.inner.clone().with_model(model.inner.clone()),
            over_limit: self.over_limit,
        }
    }

    /// A copy with these limits.
    fn with_limits(&self, limits: &Limits) -> Self {
        Policy {
            inner: self.inner.clone().with_limits(limits.inner),
            over_limit: self.over_limit,
        }
    }

    /// A copy that does this with an input over the per-input limit: ``"reject"`` the
    /// request (OpenAI's behaviour, the default) or ``"truncate"`` the input.
    fn with_over_limit(&self, over_limit: &str) -> PyResult<Self> {
        let value = self::over_limit(over_limit)?;
        Ok(Policy {
            inner: self.inner.clone().with_over_limit(value),
            over_limit: name_of(value),
        })
    }

    /// A copy that lets this member through instead of rejecting it (its value is kept
    /// as written: ``Checked.extra_members``).
    fn allow_member(&self, name: String) -> Self {
        Policy {
            inner: self.inner.clone().allow_member(name),
            over_limit: self.over_limit,
        }
    }

    /// The limits enforced.
    #[getter]
    fn limits(&self) -> Limits {
        Limits {
            inner: *self.inner.limits(),
        }
    }

    /// ``"reject"`` or ``"truncate"``.
    #[getter]
    fn over_limit(&self) -> &'static str {
        self.over_limit
    }

    /// The models accepted.
    #[getter]
    fn models(&self) -> Vec<Model> {
        self.inner
            .models()
            .map(|m| Model { inner: m.clone() })
            .collect()
    }

    /// The model answering to ``name``, or ``None``.
    fn model(&self, name: &str) -> Option<Model> {
        self.inner.model(name).map(|m| Model { inner: m.clone() })
    }

    /// Checks a request body (``bytes``; also ``bytearray``, ``memoryview`` or ``str``)
    /// against the contract: returns the ``Checked`` request with every input's exact
    /// token count, or raises ``RequestError`` (the subclass for its status) carrying
    /// OpenAI's exact answer.
    ///
    /// Never anything else, whatever the body: time is linear in it, memory a small
    /// multiple of it, and the GIL is released while it runs.
    ///
    /// >>> from embedguard import Policy, BadRequestError
    /// >>> try:
    /// ...     Policy.openai().check(b'{"model": "text-embedding-3-small", "input": ""}')
    /// ... except BadRequestError as err:
    /// ...     print(err.status, err.body)
    /// 400 {"error":{"message":"'$.input' is invalid. Please check the API reference: https://platform.openai.com/docs/api-reference.","type":"invalid_request_error","param":null,"code":null}}
    fn check(&self, py: Python<'_>, body: &Bound<'_, PyAny>) -> PyResult<Checked> {
        let body = crate::convert::body(body)?;
        let policy = &self.inner;
        let checked = run(py, body.len(), move || {
            CheckedCell::try_new_or_recover(body, |body| policy.check(body))
        });
        match checked {
            Ok(cell) => Ok(Checked { cell }),
            Err((_body, err)) => Err(request_error(py, &err)),
        }
    }

    fn __repr__(&self) -> String {
        format!(
            "Policy(limits={}, over_limit={})",
            self.limits().__repr__(),
            quote(self.over_limit)
        )
    }
}

impl Policy {
    fn configured(
        mut inner: embedguard::Policy,
        limits: Option<&Limits>,
        [
            max_inputs,
            max_input_tokens,
            max_request_tokens,
            max_body_bytes,
            max_depth,
        ]: [Option<usize>; 5],
        over_limit: &str,
        allow_members: Option<&Bound<'_, PyAny>>,
    ) -> PyResult<Self> {
        let base = limits.map_or_else(embedguard::Limits::openai, |l| l.inner);
        inner = inner.with_limits(changed(
            base,
            max_inputs,
            max_input_tokens,
            max_request_tokens,
            max_body_bytes,
            max_depth,
        ));
        let over = self::over_limit(over_limit)?;
        inner = inner.with_over_limit(over);
        if let Some(members) = allow_members {
            for name in strings(members, "allow_members")? {
                inner = inner.allow_member(name);
            }
        }
        Ok(Policy {
            inner,
            over_limit: name_of(over),
        })
    }
}

fn name_of(over_limit: embedguard::OverLimit) -> &'static str {
    match over_limit {
        embedguard::OverLimit::Reject => "reject",
        embedguard::OverLimit::Truncate => "truncate",
    }
}

/// A request's token usage, as OpenAI reports it: for embeddings both numbers are the
/// sum of the inputs' counts.
///
/// >>> from embedguard import Usage
/// >>> Usage(7, 7)
/// Usage(prompt_tokens=7, total_tokens=7)
/// >>> Usage(7, 7).to_dict()
/// {'prompt_tokens': 7, 'total_tokens': 7}
#[pyclass(module = "embedguard", frozen, eq, hash)]
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct Usage {
    /// Tokens in the inputs.
    #[pyo3(get)]
    prompt_tokens: usize,
    /// Same as ``prompt_tokens`` for embeddings.
    #[pyo3(get)]
    total_tokens: usize,
}

impl From<embedguard::Usage> for Usage {
    fn from(u: embedguard::Usage) -> Self {
        Usage {
            prompt_tokens: u.prompt_tokens,
            total_tokens: u.total_tokens,
        }
    }
}

#[pymethods]
impl Usage {
    #[new]
    fn new(prompt_tokens: usize, total_tokens: usize) -> Self {
        Usage {
            prompt_tokens,
            total_tokens,
        }
    }

    /// ``{"prompt_tokens": …, "total_tokens": …}``, as in a response body.
    #[allow(clippy::wrong_self_convention)] // Python's name, on a Python object
    fn to_dict<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyDict>> {
        let d = PyDict::new(py);
        d.set_item("prompt_tokens", self.prompt_tokens)?;
        d.set_item("total_tokens", self.total_tokens)?;
        Ok(d)
    }

    pub fn __repr__(&self) -> String {
        format!(
            "Usage(prompt_tokens={}, total_tokens={})",
            self.prompt_tokens, self.total_tokens
        )
    }
}

/// A request that passed every check, with its inputs and their exact token counts.
/// Made by ``Policy.check``; ``len(checked)`` is the number of inputs. It holds on to the
/// body it was checked from (its texts are read from it, never copied), and ``inputs``
/// makes Python strings only when asked for.
///
/// >>> from embedguard import Policy
/// >>> body = b'{"model":"text-embedding-3-small","input":["This is an embedding test.","h"],"dimensions":256,"user":"u1"}'
/// >>> checked = Policy.openai().check(body)
/// >>> checked.token_counts, checked.usage
/// ([6, 1], Usage(prompt_tokens=7, total_tokens=7))
/// >>> checked.model, checked.encoding_format, checked.dimensions, checked.user, checked.input_form
/// ('text-embedding-3-small', 'float', 256, 'u1', 'strings')
/// >>> checked.inputs, checked.exact, len(checked)
/// (['This is an embedding test.', 'h'], True, 2)
#[pyclass(module = "embedguard", frozen)]
pub struct Checked {
    pub cell: CheckedCell,
}

impl Checked {
    pub fn request(&self) -> &embedguard::Checked<'_> {
        self.cell.borrow_dependent()
    }
}

#[pymethods]
impl Checked {
    /// Each input's exact token count, in order.
    #[getter]
    fn token_counts(&self) -> Vec<usize> {
        self.request().token_counts().to_vec()
    }

    /// The request's usage: the sum of the counts.
    #[getter]
    fn usage(&self) -> Usage {
        self.request().usage().into()
    }

    /// The model as the client named it (possibly an alias).
    #[getter]
    fn model(&self) -> &str {
        self.request().model()
    }

    /// The policy's model it resolved to.
    #[getter]
    fn model_spec(&self) -> Model {
        Model {
            inner: self.request().model_spec().clone(),
        }
    }

    /// ``"float"`` or ``"base64"``: how the client wants its vectors.
    #[getter]
    fn encoding_format(&self) -> &'static str {
        self.request().encoding_format().as_str()
    }

    /// The vector size asked for, or ``None``.
    #[getter]
    fn dimensions(&self) -> Option<usize> {
        self.request().dimensions()
    }

    /// The ``user`` member, or ``None``.
    #[getter]
    fn user(&self) -> Option<&str> {
        self.request().user()
    }

    /// Which form ``input`` was written in: ``"string"``, ``"strings"``,
    /// ``"token_array"`` or ``"token_arrays"``.
    #[getter]
    fn input_form(&self) -> &'static str {
        match self.request().input_form() {
            embedguard::InputForm::Text => "string",
            embedguard::InputForm::Texts => "strings",
            embedguard::InputForm::TokenArray => "token_array",
            embedguard::InputForm::TokenArrays => "token_arrays",
        }
    }

    /// The inputs, in order: a ``str`` for a text, a ``list[int]`` for token ids (after
    /// truncation, if the policy truncates).
    #[getter]
    fn inputs<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyList>> {
        let list = PyList::empty(py);
        for input in self.request().inputs() {
            match input {
                embedguard::Input::Text(text) => list.append(PyString::new(py, text))?,
                embedguard::Input::Tokens(ids) => list.append(PyList::new(py, ids)?)?,
            }
        }
        Ok(list)
    }

    /// Positions of the inputs cut to the per-input limit (``over_limit="truncate"``).
    #[getter]
    fn truncated(&self) -> Vec<usize> {
        self.request().truncated().to_vec()
    }

    /// Whether the counts are the model's own exact counts (``False`` for a model whose
    /// tokenizer is an estimate).
    #[getter]
    fn exact(&self) -> bool {
        self.request().exact()
    }

    /// Members the policy let through (``Policy.allow_member``): name to value as
    /// written (JSON text), in body order.
    #[getter]
    fn extra_members<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyDict>> {
        let d = PyDict::new(py);
        for (name, value) in self.request().extra_members() {
            d.set_item(name.as_ref(), value.as_ref())?;
        }
        Ok(d)
    }

    fn __len__(&self) -> usize {
        self.request().token_counts().len()
    }

    fn __repr__(&self) -> String {
        let r = self.request();
        format!(
            "Checked(model={}, inputs={}, usage={})",
            quote(r.model()),
            r.token_counts().len(),
            Usage::from(r.usage()).__repr__()
        )
    }
}
