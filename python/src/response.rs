//! The upstream side: planning calls, vectors, and response bodies.

use pyo3::exceptions::{PyIndexError, PyTypeError, PyValueError};
use pyo3::prelude::*;
use pyo3::pybacked::PyBackedBytes;
use pyo3::types::{PyBytes, PyIterator, PyList, PyString, PyTuple};

use crate::convert::{body, float_array, floats, quote, run, type_name};
use crate::errors::{request_error, response_error, vector_error};
use crate::policy::{Checked, Usage};

fn encoding_format(value: Option<&str>) -> PyResult<Option<embedguard::EncodingFormat>> {
    match value {
        None => Ok(None),
        Some("float") => Ok(Some(embedguard::EncodingFormat::Float)),
        Some("base64") => Ok(Some(embedguard::EncodingFormat::Base64)),
        Some(other) => Err(PyValueError::new_err(format!(
            "encoding_format is 'float' or 'base64', not {other:?}"
        ))),
    }
}

/// Splits a checked request into upstream calls within the upstream's caps: at most
/// ``max_inputs`` inputs, ``max_tokens`` tokens and ``max_body_bytes`` bytes of body a call. Inputs keep their order and are
/// never split; each ``Part`` holds a run of consecutive inputs and the request body to
/// send (``bytes``), in the client's input form, with the request's model (or ``model``),
/// ``dimensions`` (unless the upstream does not support them: then the gateway shortens,
/// ``Plan.shorten_to``), ``user`` and allowed members as written. ``encoding_format``
/// asks the upstream for this format whatever the client asked (``None``: the client's).
///
/// An input with more tokens than one call may carry raises ``BadRequestError`` (the
/// contract's maximum context length, with ``max_tokens`` as the limit).
///
/// >>> from embedguard import Policy, plan
/// >>> checked = Policy.openai().check(b'{"model":"text-embedding-3-small","input":["a","b c","d"],"user":"u1"}')
/// >>> calls = plan(checked, max_inputs=2)
/// >>> [(part.start, len(part), part.token_counts) for part in calls]
/// [(0, 2, [1, 2]), (2, 1, [1])]
/// >>> calls[1].body
/// b'{"model":"text-embedding-3-small","input":["d"],"encoding_format":"float","user":"u1"}'
#[pyfunction]
#[pyo3(signature = (
    checked,
    *,
    max_inputs = embedguard::MAX_INPUTS,
    max_tokens = embedguard::MAX_REQUEST_TOKENS,
    max_body_bytes = None,
    model = None,
    encoding_format = None,
    dimensions = true,
))]
#[allow(clippy::too_many_arguments)] // Python keyword arguments
pub fn plan(
    py: Python<'_>,
    checked: &Bound<'_, Checked>,
    max_inputs: usize,
    max_tokens: usize,
    max_body_bytes: Option<usize>,
    model: Option<String>,
    encoding_format: Option<&str>,
    dimensions: bool,
) -> PyResult<Plan> {
    let mut upstream = embedguard::Upstream::openai()
        .with_max_inputs_per_call(max_inputs)
        .with_max_tokens_per_call(max_tokens)
        .with_max_body_bytes_per_call(max_body_bytes.unwrap_or(usize::MAX))
        .with_encoding_format(self::encoding_format(encoding_format)?)
        .with_dimensions(dimensions);
    if let Some(model) = model {
        upstream = upstream.with_model(model);
    }
    let request = checked.get().request();
    let len = checked.get().cell.borrow_owner().len();
    let planned = run(py, len, || upstream.plan(request)).map_err(|e| request_error(py, &e))?;
    let parts = planned
        .parts()
        .iter()
        .map(|p| {
            Py::new(
                py,
                Part {
                    start: p.start(),
                    token_counts: p.token_counts().to_vec(),
                    body: PyBytes::new(py, p.body().as_bytes()).unbind(),
                },
            )
        })
        .collect::<PyResult<Vec<_>>>()?;
    Ok(Plan {
        parts,
        encoding_format: planned.encoding_format().as_str(),
        shorten_to: planned.shorten_to(),
        usage: planned.usage().into(),
        checked: checked.clone().unbind(),
    })
}

/// A request split into upstream calls, in input order (made by ``plan``): a sequence
/// of ``Part``. ``merge`` joins the upstream's answers into the client's response.
///
/// >>> from embedguard import Policy, plan
/// >>> checked = Policy.openai().check(b'{"model":"text-embedding-3-small","input":["a","b","c"],"dimensions":2}')
/// >>> calls = plan(checked, max_inputs=2, encoding_format="base64")
/// >>> answers = [
/// ...     b'{"object":"list","data":[{"object":"embedding","index":1,"embedding":"AACAPwAAAAA="},{"object":"embedding","index":0,"embedding":"AAAAAAAAgD8="}],"model":"x"}',
/// ...     b'{"object":"list","data":[{"object":"embedding","index":0,"embedding":"AACAPwAAAAA="}],"model":"x"}',
/// ... ]
/// >>> print(calls.merge(answers))
/// {"object":"list","data":[{"object":"embedding","index":0,"embedding":[0.0,1.0]},{"object":"embedding","index":1,"embedding":[1.0,0.0]},{"object":"embedding","index":2,"embedding":[1.0,0.0]}],"model":"text-embedding-3-small","usage":{"prompt_tokens":3,"total_tokens":3}}
#[pyclass(module = "embedguard", frozen, sequence)]
pub struct Plan {
    parts: Vec<Py<Part>>,
    encoding_format: &'static str,
    shorten_to: Option<usize>,
    usage: Usage,
    checked: Py<Checked>,
}

#[pymethods]
impl Plan {
    /// The calls, in input order; together they hold every input exactly once.
    #[getter]
    fn parts<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyList>> {
        PyList::new(py, self.parts.iter().map(|p| p.clone_ref(py)))
    }

    /// The format every call asks the upstream for.
    #[getter]
    fn encoding_format(&self) -> &'static str {
        self.encoding_format
    }

    /// The ``dimensions`` the gateway must shorten vectors to itself (the client asked
    /// for them and the upstream does not support them), or ``None``. ``merge`` does it.
    #[getter]
    fn shorten_to(&self) -> Option<usize> {
        self.shorten_to
    }

    /// The whole request's usage.
    #[getter]
    fn usage(&self) -> Usage {
        self.usage
    }

    /// The client's response from the upstream's answers, one body per part in order:
    /// as ``merge_responses`` with each part's start.
    fn merge(&self, py: Python<'_>, responses: &Bound<'_, PyAny>) -> PyResult<String> {
        let mut bodies = Vec::with_capacity(self.parts.len());
        for item in responses.try_iter()? {
            bodies.push(body(&item?)?);
        }
        if bodies.len() != self.parts.len() {
            return Err(PyValueError::new_err(format!(
                "{} responses for {} parts",
                bodies.len(),
                self.parts.len()
            )));
        }
        let starts: Vec<usize> = self.parts.iter().map(|p| p.get().start).collect();
        let target = embedguard::ResponseTarget::from(self.checked.get().request());
        merge(py, &starts, &bodies, &target)
    }

    fn __len__(&self) -> usize {
        self.parts.len()
    }

    fn __iter__<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyIterator>> {
        self.parts(py)?.try_iter()
    }

    fn __getitem__(&self, py: Python<'_>, index: isize) -> PyResult<Py<Part>> {
        let n = self.parts.len() as isize;
        let i = if index < 0 { index + n } else { index };
        if (0..n).contains(&i) {
            Ok(self.parts[i as usize].clone_ref(py))
        } else {
            Err(PyIndexError::new_err("plan index out of range"))
        }
    }

    fn __repr__(&self) -> String {
        format!(
            "Plan(parts={}, encoding_format={}, shorten_to={}, usage={})",
            self.parts.len(),
            quote(self.encoding_format),
            optional(self.shorten_to),
            self.usage.__repr__()
        )
    }
}

/// One upstream call: a run of consecutive inputs and its request body.
#[pyclass(module = "embedguard", frozen)]
pub struct Part {
    start: usize,
    token_counts: Vec<usize>,
    body: Py<PyBytes>,
}

#[pymethods]
impl Part {
    /// The client's position of this call's first input (the upstream's index 0).
    #[getter]
    fn start(&self) -> usize {
        self.start
    }

    /// The client's position after this call's last input.
    #[getter]
    fn stop(&self) -> usize {
        self.start + self.token_counts.len()
    }

    /// The request body to send (JSON, ``bytes``).
    #[getter]
    fn body(&self, py: Python<'_>) -> Py<PyBytes> {
        self.body.clone_ref(py)
    }

    /// The exact token count of each input of this call.
    #[getter]
    fn token_counts(&self) -> Vec<usize> {
        self.token_counts.clone()
    }

    /// This call's usage: what the upstream should report.
    #[getter]
    fn usage(&self) -> Usage {
        embedguard::Usage::from_counts(&self.token_counts).into()
    }

    fn __len__(&self) -> usize {
        self.token_counts.len()
    }

    fn __repr__(&self) -> String {
        format!(
            "Part(start={}, inputs={}, tokens={})",
            self.start,
            self.token_counts.len(),
            self.token_counts.iter().sum::<usize>()
        )
    }
}

/// What the client asked for, which a response must follow: the model as the client named
/// it, each input's token count, the model's native vector length, the encoding, the
/// dimensions, and where usage comes from. Every vector must have the length the client
/// gets (``dimensions``, or the native length; native-length vectors are shortened to
/// ``dimensions``) and finite values. Functions that take a target also take a
/// ``Checked`` request, which is its own target.
///
/// >>> from embedguard import ResponseTarget, encode_response
/// >>> target = ResponseTarget("text-embedding-3-small", [3, 4], 2)
/// >>> print(encode_response([[0.6, 0.8], [1.0, 0.0]], target))
/// {"object":"list","data":[{"object":"embedding","index":0,"embedding":[0.6,0.8]},{"object":"embedding","index":1,"embedding":[1.0,0.0]}],"model":"text-embedding-3-small","usage":{"prompt_tokens":7,"total_tokens":7}}
#[pyclass(module = "embedguard", frozen)]
pub struct ResponseTarget {
    model: String,
    native_dimensions: usize,
    token_counts: Vec<usize>,
    format: embedguard::EncodingFormat,
    dimensions: Option<usize>,
    usage_source: embedguard::UsageSource,
}

#[pymethods]
impl ResponseTarget {
    #[new]
    #[pyo3(signature = (
        model,
        token_counts,
        native_dimensions,
        *,
        encoding_format = "float",
        dimensions = None,
        usage = "counted",
    ))]
    fn new(
        model: String,
        token_counts: Vec<usize>,
        native_dimensions: usize,
        encoding_format: &str,
        dimensions: Option<usize>,
        usage: &str,
    ) -> PyResult<Self> {
        let format = self::encoding_format(Some(encoding_format))?.unwrap_or_default();
        let usage_source = match usage {
            "counted" => embedguard::UsageSource::Counted,
            "upstream" => embedguard::UsageSource::Upstream,
            other => {
                return Err(PyValueError::new_err(format!(
                    "usage is 'counted' or 'upstream', not {}",
                    quote(other)
                )));
            }
        };
        Ok(ResponseTarget {
            model,
            native_dimensions,
            token_counts,
            format,
            dimensions,
            usage_source,
        })
    }

    /// The model's native vector length (longer vectors are an error, native ones are
    /// shortened to ``dimensions``).
    #[getter]
    fn native_dimensions(&self) -> usize {
        self.native_dimensions
    }

    /// Where the client's usage comes from: ``"counted"`` (the token counts, whatever the
    /// upstream reported) or ``"upstream"`` (for estimated counts).
    #[getter]
    fn usage(&self) -> &'static str {
        match self.usage_source {
            embedguard::UsageSource::Counted => "counted",
            embedguard::UsageSource::Upstream => "upstream",
        }
    }

    /// The model name responses carry.
    #[getter]
    fn model(&self) -> &str {
        &self.model
    }

    /// Each input's token count.
    #[getter]
    fn token_counts(&self) -> Vec<usize> {
        self.token_counts.clone()
    }

    /// ``"float"`` or ``"base64"``.
    #[getter]
    fn encoding_format(&self) -> &'static str {
        self.format.as_str()
    }

    /// The dimensions vectors are shortened to, or ``None``.
    #[getter]
    fn dimensions(&self) -> Option<usize> {
        self.dimensions
    }

    fn __repr__(&self) -> String {
        format!(
            "ResponseTarget({}, {:?}, {}, encoding_format={}, dimensions={})",
            quote(&self.model),
            self.token_counts,
            self.native_dimensions,
            quote(self.format.as_str()),
            optional(self.dimensions)
        )
    }
}

/// Calls `f` with the library's target for a `Checked` or a `ResponseTarget`.
fn with_target<R>(
    target: &Bound<'_, PyAny>,
    f: impl FnOnce(&embedguard::ResponseTarget<'_>) -> PyResult<R>,
) -> PyResult<R> {
    if let Ok(checked) = target.cast::<Checked>() {
        return f(&embedguard::ResponseTarget::from(checked.get().request()));
    }
    if let Ok(t) = target.cast::<ResponseTarget>() {
        let t = t.get();
        return f(
            &embedguard::ResponseTarget::new(&t.model, t.native_dimensions, &t.token_counts)
                .with_encoding_format(t.format)
                .with_dimensions(t.dimensions)
                .with_usage_source(t.usage_source),
        );
    }
    Err(PyTypeError::new_err(format!(
        "a target is a Checked request or a ResponseTarget, not {}",
        type_name(target)
    )))
}

fn merge(
    py: Python<'_>,
    starts: &[usize],
    bodies: &[PyBackedBytes],
    target: &embedguard::ResponseTarget<'_>,
) -> PyResult<String> {
    let parts: Vec<embedguard::UpstreamPart<'_>> = starts
        .iter()
        .zip(bodies)
        .map(|(&start, body)| embedguard::UpstreamPart::new(start, body))
        .collect();
    let len = bodies.iter().map(|b| b.len()).sum();
    run(py, len, || embedguard::merge_responses(&parts, target)).map_err(|e| response_error(py, &e))
}

/// Merges the responses of several upstream calls, each answering a run of the client's
/// inputs, into the one response the client expects. ``responses`` is an iterable of
/// ``(start, body)``: the client's position of the part's first input, and the upstream's
/// body. Vectors are transcoded bit-exactly to the client's format and shortened to its
/// dimensions; usage is the parts' (or the exact counts where an upstream left it out).
/// Raises ``ResponseError`` for a body that does not answer what was asked.
///
/// >>> from embedguard import ResponseTarget, merge_responses
/// >>> first = b'{"object":"list","data":[{"object":"embedding","index":1,"embedding":"AAAAQA=="},{"object":"embedding","index":0,"embedding":"AACAPw=="}],"model":"m"}'
/// >>> second = b'{"object":"list","data":[{"object":"embedding","index":0,"embedding":"AABAQA=="}],"model":"m"}'
/// >>> print(merge_responses([(0, first), (2, second)], ResponseTarget("my-model", [2, 3, 4], 1)))
/// {"object":"list","data":[{"object":"embedding","index":0,"embedding":[1.0]},{"object":"embedding","index":1,"embedding":[2.0]},{"object":"embedding","index":2,"embedding":[3.0]}],"model":"my-model","usage":{"prompt_tokens":9,"total_tokens":9}}
#[pyfunction]
pub fn merge_responses(
    py: Python<'_>,
    responses: &Bound<'_, PyAny>,
    target: &Bound<'_, PyAny>,
) -> PyResult<String> {
    let mut starts = Vec::new();
    let mut bodies = Vec::new();
    for item in responses.try_iter()? {
        let item = item?;
        let Ok(pair) = item.cast::<PyTuple>() else {
            return Err(PyTypeError::new_err(format!(
                "response {} is {}, not a (start, body) tuple",
                starts.len(),
                type_name(&item)
            )));
        };
        if pair.len() != 2 {
            return Err(PyTypeError::new_err(format!(
                "response {} is a tuple of {}, not (start, body)",
                starts.len(),
                pair.len()
            )));
        }
        starts.push(pair.get_item(0)?.extract::<usize>()?);
        bodies.push(body(&pair.get_item(1)?)?);
    }
    with_target(target, |t| merge(py, &starts, &bodies, t))
}

/// Rewrites one upstream response as the client asked (the same as ``merge_responses``
/// with one part starting at input 0).
///
/// >>> from embedguard import Policy, transcode_response
/// >>> checked = Policy.openai().check(b'{"model":"text-embedding-3-small","input":"hello world","encoding_format":"base64","dimensions":2}')
/// >>> upstream = b'{"object":"list","data":[{"object":"embedding","index":0,"embedding":[1.0,-2.0]}],"model":"x"}'
/// >>> print(transcode_response(upstream, checked))
/// {"object":"list","data":[{"object":"embedding","index":0,"embedding":"AACAPwAAAMA="}],"model":"text-embedding-3-small","usage":{"prompt_tokens":2,"total_tokens":2}}
#[pyfunction]
pub fn transcode_response(
    py: Python<'_>,
    body: &Bound<'_, PyAny>,
    target: &Bound<'_, PyAny>,
) -> PyResult<String> {
    let bodies = [crate::convert::body(body)?];
    with_target(target, |t| merge(py, &[0], &bodies, t))
}

/// Writes an embeddings response body from vectors (one per input, in order; each a
/// buffer of float32 or float64, or a sequence of numbers) as the target asks.
#[pyfunction]
pub fn encode_response(
    py: Python<'_>,
    vectors: &Bound<'_, PyAny>,
    target: &Bound<'_, PyAny>,
) -> PyResult<String> {
    let mut all = Vec::new();
    for item in vectors.try_iter()? {
        all.push(floats(&item?)?);
    }
    let len = all.iter().map(|v| v.len() * 4).sum();
    with_target(target, |t| {
        run(py, len, || embedguard::encode_response(&all, t)).map_err(|e| response_error(py, &e))
    })
}

/// An upstream's embeddings response, read by ``decode_response``.
#[pyclass(module = "embedguard", frozen)]
pub struct Embeddings {
    vectors: Py<PyList>,
    model: Option<String>,
    usage: Option<Usage>,
}

#[pymethods]
impl Embeddings {
    /// The vectors in ``index`` order, each an ``array.array('f')``.
    #[getter]
    fn vectors(&self, py: Python<'_>) -> Py<PyList> {
        self.vectors.clone_ref(py)
    }

    /// The ``model`` the upstream named, or ``None``.
    #[getter]
    fn model(&self) -> Option<&str> {
        self.model.as_deref()
    }

    /// The upstream's usage; ``None`` when it left usage out or reported zero tokens.
    #[getter]
    fn usage(&self) -> Option<Usage> {
        self.usage
    }

    fn __repr__(&self, py: Python<'_>) -> String {
        format!(
            "Embeddings(vectors={}, model={}, usage={})",
            self.vectors.bind(py).len(),
            self.model
                .as_deref()
                .map_or_else(|| "None".to_owned(), quote),
            self.usage
                .map_or_else(|| "None".to_owned(), |u| u.__repr__())
        )
    }
}

/// Reads an embeddings response body (an upstream's, or one embedguard wrote): vectors
/// given as JSON numbers (each read as float32 exactly) or base64, strictly.
///
/// >>> from embedguard import decode_response
/// >>> read = decode_response(b'{"object":"list","data":[{"object":"embedding","index":1,"embedding":"AACAPwAAAMA="},{"object":"embedding","index":0,"embedding":[0.5,-2.5]}],"model":"m","usage":{"prompt_tokens":9,"total_tokens":9}}')
/// >>> [list(v) for v in read.vectors], read.model, read.usage
/// ([[0.5, -2.5], [1.0, -2.0]], 'm', Usage(prompt_tokens=9, total_tokens=9))
#[pyfunction]
pub fn decode_response(py: Python<'_>, body: &Bound<'_, PyAny>) -> PyResult<Embeddings> {
    let body = crate::convert::body(body)?;
    let read = run(py, body.len(), || embedguard::decode_response(&body))
        .map_err(|e| response_error(py, &e))?;
    let vectors = PyList::empty(py);
    for v in &read.vectors {
        vectors.append(float_array(py, v)?)?;
    }
    Ok(Embeddings {
        vectors: vectors.unbind(),
        model: read.model,
        usage: read.usage.map(Usage::from),
    })
}

/// The standard padded base64 of a vector's float32 values, little-endian: what OpenAI
/// sends for ``encoding_format="base64"``. Takes a buffer of float32 or float64 values
/// (``array.array``, numpy arrays) or a sequence of numbers.
///
/// >>> from embedguard import encode_base64
/// >>> encode_base64([1.0, -2.0])
/// 'AACAPwAAAMA='
#[pyfunction]
pub fn encode_base64(py: Python<'_>, values: &Bound<'_, PyAny>) -> PyResult<String> {
    let values = floats(values)?;
    Ok(run(py, values.len() * 4, || {
        embedguard::encode_base64(&values)
    }))
}

/// A vector's float32 values from its base64 text, strictly (standard alphabet, canonical
/// padding), as an ``array.array('f')``: ``numpy.asarray(decode_base64(text))`` is a
/// float32 array without a copy. Raises ``VectorError``.
///
/// >>> from embedguard import decode_base64
/// >>> decode_base64("AACAPwAAAMA=")
/// array('f', [1.0, -2.0])
/// >>> decode_base64("AACAPw")
/// Traceback (most recent call last):
///   ...
/// embedguard._errors.VectorError: invalid base64: padding is missing or not canonical
#[pyfunction]
pub fn decode_base64<'py>(
    py: Python<'py>,
    text: &Bound<'py, PyString>,
) -> PyResult<Bound<'py, PyAny>> {
    let text = crate::convert::text(text)?;
    let values = run(py, text.len(), || embedguard::decode_base64(&text))
        .map_err(|e| vector_error(py, &e))?;
    float_array(py, &values)
}

/// A vector as a JSON array of numbers, each the shortest decimal that reads back to the
/// same float32; NaN and infinities raise ``VectorError`` (they have no JSON form).
///
/// >>> from embedguard import encode_float_array
/// >>> encode_float_array([1.0, -0.0, 0.1, 1e-7])
/// '[1.0,-0.0,0.1,1e-7]'
#[pyfunction]
pub fn encode_float_array(py: Python<'_>, values: &Bound<'_, PyAny>) -> PyResult<String> {
    let values = floats(values)?;
    run(py, values.len() * 4, || {
        embedguard::encode_float_array(&values)
    })
    .map_err(|e| vector_error(py, &e))
}

/// A vector shortened as OpenAI's ``dimensions`` does: its first ``dimensions`` values,
/// scaled to unit length (a zero vector stays zero), as an ``array.array('f')``.
///
/// >>> from embedguard import shorten
/// >>> shorten([3.0, 4.0, 12.0], 2)
/// array('f', [0.6000000238418579, 0.800000011920929])
#[pyfunction]
pub fn shorten<'py>(
    py: Python<'py>,
    values: &Bound<'py, PyAny>,
    dimensions: usize,
) -> PyResult<Bound<'py, PyAny>> {
    let mut values = floats(values)?;
    embedguard::shorten(&mut values, dimensions).map_err(|e| vector_error(py, &e))?;
    float_array(py, &values)
}

/// The length of the base64 text of a vector of ``dims`` float32 values.
///
/// >>> from embedguard import base64_len
/// >>> base64_len(1536)
/// 8192
#[pyfunction]
pub fn base64_len(dims: usize) -> usize {
    embedguard::base64_len(dims)
}

fn optional(n: Option<usize>) -> String {
    n.map_or_else(|| "None".to_owned(), |n| n.to_string())
}
